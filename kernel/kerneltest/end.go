package kerneltest

import (
	"bytes"
	"errors"
	"net"
)

// ErrNotAttached is returned by End.Write while the object the End was asked for does
// not exist yet.
var ErrNotAttached = errors.New("kerneltest: end not attached to an object yet")

// End is a test's handle on one end of a frame path (a tap):
//
//   - ChannelPeer: the carrier side of a PPP channel. Frames the channel transmits
//     (WriteFrame, bridge, unit) are read here instead of going to the peer host, and
//     frames written here arrive on the channel as if from the peer (frames from the
//     peer host keep arriving too).
//   - UnitPeer: the host side of a unit, the IP stack behind the interface. Read returns
//     the IP frames the unit received; Write sends an IP frame through the unit.
//   - InterfacePeer: the host side of an Ethernet pseudowire interface. Read returns the
//     Ethernet frames received from the tunnel; Write sends one into the pseudowire.
//
// Frames are PPP frames with the protocol field first (channel and unit ends) or Ethernet
// frames (interface ends). An End can be asked for before its object exists; it attaches
// when the object is made. When the object goes away, Read returns what is queued and
// then net.ErrClosed. All methods are safe for concurrent use.
type End struct {
	f   *Fake
	key string // "channel KEY", "unit KEY" or "interface NAME"
	q   *queue[[]byte]

	// The Network's mutex guards the fields below; at most one is set.
	ch   *channel
	unit *unit
	sess *session
}

// ChannelPeer returns the carrier end of the channel whose key is key: "l2tp T/S" (our
// tunnel and session IDs) or "pppoe IF/SID" (interface and PPPoE session ID), as State
// shows them. While the End is open the channel exchanges frames with the test instead
// of with the peer host. Asking twice for the same key returns the same End.
func (f *Fake) ChannelPeer(key string) *End {
	return f.tap("channel "+key, func(e *End) {
		if c := f.channels[key]; c != nil && c.tap == nil {
			c.tap, e.ch = e, c
		}
	})
}

// UnitPeer returns the host end of the unit on the channel whose key is key (see
// ChannelPeer). IP frames the unit receives are queued for the End only while it is
// open; without it they are only counted.
func (f *Fake) UnitPeer(key string) *End {
	return f.tap("unit "+key, func(e *End) {
		if c := f.channels[key]; c != nil && c.unit != nil && c.unit.tap == nil {
			c.unit.tap, e.unit = e, c.unit
		}
	})
}

// InterfacePeer returns the host end of the Ethernet pseudowire interface name (as
// Session.Interface reports it).
func (f *Fake) InterfacePeer(name string) *End {
	return f.tap("interface "+name, func(e *End) {
		for _, t := range f.tunnels {
			for _, s := range t.sessions {
				if s.ifname == name && s.ifTap == nil {
					s.ifTap, e.sess = e, s
				}
			}
		}
	})
}

func (f *Fake) tap(key string, attach func(*End)) *End {
	f.n.mu.Lock()
	defer f.n.mu.Unlock()
	if e := f.taps[key]; e != nil {
		return e
	}
	e := &End{f: f, key: key, q: newQueue[[]byte]()}
	if f.closed {
		e.q.eofLocked()
		return e
	}
	f.taps[key] = e
	attach(e)
	return e
}

// attachTapLocked attaches a waiting InterfacePeer End to a new Ethernet pseudowire.
func (s *session) attachTapLocked() {
	if e := s.t.f.taps["interface "+s.ifname]; e != nil && e.sess == nil {
		s.ifTap, e.sess = e, s
	}
}

// Read reads the next frame into b (truncating it to len(b)). It blocks until a frame
// arrives or the End is closed or its object goes away.
func (e *End) Read(b []byte) (int, error) {
	m, err := e.q.pop(&e.f.n.mu)
	if err != nil {
		return 0, err
	}
	return copy(b, m), nil
}

// Write sends one frame from the End into its object (see End). It returns
// ErrNotAttached before the object exists and net.ErrClosed after it is gone or the End
// is closed.
func (e *End) Write(b []byte) error {
	frame := bytes.Clone(b)
	var (
		out []Packet
		err error
	)
	e.f.n.mu.Lock()
	switch {
	case e.q.closed || e.q.eof:
		err = net.ErrClosed
	case e.ch != nil:
		out = e.ch.receiveLocked(frame)
	case e.unit != nil:
		out, err = e.unit.sendLocked(frame)
	case e.sess != nil:
		out = e.sess.transmitLocked(frame)
	default:
		err = ErrNotAttached
	}
	e.f.n.mu.Unlock()
	e.f.n.send(out...)
	return err
}

// Close detaches the End (a channel goes back to its peer host) and makes Read return
// net.ErrClosed. It is idempotent.
func (e *End) Close() error {
	e.f.n.mu.Lock()
	defer e.f.n.mu.Unlock()
	e.detachLocked()
	e.q.closeLocked()
	return nil
}

func (e *End) pushLocked(frame []byte) {
	e.q.pushLocked(frame)
}

// endLocked is called when the End's object goes away.
func (e *End) endLocked() {
	e.detachLocked()
	e.q.eofLocked()
}

func (e *End) detachLocked() {
	switch {
	case e.ch != nil && e.ch.tap == e:
		e.ch.tap = nil
	case e.unit != nil && e.unit.tap == e:
		e.unit.tap = nil
	case e.sess != nil && e.sess.ifTap == e:
		e.sess.ifTap = nil
	}
	e.ch, e.unit, e.sess = nil, nil, nil
	if e.f.taps[e.key] == e {
		delete(e.f.taps, e.key)
	}
}
