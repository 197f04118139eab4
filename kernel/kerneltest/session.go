package kerneltest

import (
	"bytes"
	"fmt"
	"net"

	"github.com/probox/probox/kernel"
)

// session is a fake kernel.Session.
type session struct {
	t *tunnel
	// The Network's mutex guards the fields below.
	cfg    kernel.SessionConfig
	ifname string   // Ethernet pseudowire interface
	ch     *channel // PPP channel, once asked for
	ifTap  *End     // host end of the Ethernet pseudowire interface
	stats  kernel.Counters
	closed bool
}

func (s *session) key() string { return fmt.Sprintf("%d/%d", s.t.cfg.TunnelID, s.cfg.SessionID) }

func (s *session) ID() uint32 { return s.cfg.SessionID }

func (s *session) Channel() (kernel.Channel, error) {
	var c *channel
	err := s.t.f.do("Channel l2tp "+s.key(), true, func() error {
		switch {
		case s.closed:
			return opError("open channel", "l2tp "+s.key(), net.ErrClosed)
		case s.cfg.PWType != kernel.PWPPP:
			return kernel.ErrNotPPP
		}
		if s.ch == nil {
			s.ch = newChannel(s.t.f, "l2tp "+s.key())
			s.ch.sess = s
		}
		c = s.ch
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (s *session) Interface() string {
	s.t.f.n.mu.Lock()
	defer s.t.f.n.mu.Unlock()
	return s.ifname
}

func (s *session) Stats() kernel.Counters {
	s.t.f.n.mu.Lock()
	defer s.t.f.n.mu.Unlock()
	return s.stats
}

func (s *session) Close() error {
	return s.t.f.do("Close session "+s.key(), true, func() error {
		s.closeLocked()
		return nil
	})
}

func (s *session) closeLocked() {
	if s.closed {
		return
	}
	s.closed = true
	if s.ch != nil {
		s.ch.closeLocked()
	}
	if s.ifTap != nil {
		s.ifTap.endLocked()
	}
	delete(s.t.sessions, s.cfg.SessionID)
	if s.t.f.v3[s.cfg.SessionID] == s {
		delete(s.t.f.v3, s.cfg.SessionID)
	}
}

// overhead is the bytes that IP, UDP and the L2TP data header add to a frame of s
// (cookie and L2-Specific Sublayer included; sequence numbers counted for L2TPv2 only
// when SendSeq is set).
func (s *session) overhead() int {
	n := 20
	if s.t.local.Addr().Is6() {
		n = 40
	}
	if s.t.encap == kernel.EncapUDP {
		n += 8
	}
	switch {
	case s.t.cfg.Version == 2:
		n += 6 // flags, tunnel ID, session ID (RFC 2661 §3.1)
		if s.cfg.SendSeq {
			n += 4
		}
	case s.t.encap == kernel.EncapUDP:
		n += 8 // flags and reserved, session ID (RFC 3931 §4.1.2.1)
	default:
		n += 4 // session ID (RFC 3931 §4.1.1.1)
	}
	n += len(s.cfg.PeerCookie)
	if s.cfg.L2Spec == kernel.L2SpecDefault {
		n += 4 // RFC 3931 §4.6
	}
	return n
}

// ethMTU is the MTU of an Ethernet pseudowire interface.
func (s *session) ethMTU() int {
	if s.cfg.MTU > 0 {
		return s.cfg.MTU
	}
	return s.t.f.n.pathMTU - s.overhead() - 14
}

// transmitLocked sends one frame of the session to the peer as an L2TP data message.
func (s *session) transmitLocked(frame []byte) []Packet {
	n := uint64(len(frame))
	s.stats.TxPackets++
	s.stats.TxBytes += n
	s.t.stats.TxPackets++
	s.t.stats.TxBytes += n
	tid := uint32(0)
	if s.t.cfg.Version == 2 {
		tid = s.t.peerID
	}
	return []Packet{{Kind: L2TPData, Host: s.t.f.host, Encap: s.t.encap, From: s.t.local, To: s.t.peer,
		Tunnel: tid, Session: s.cfg.PeerSessionID, Cookie: s.cfg.PeerCookie, Data: frame}}
}

// receiveLocked takes one data message for the session.
func (s *session) receiveLocked(p Packet) []Packet {
	if !bytes.Equal(p.Cookie, s.cfg.Cookie) {
		s.drop(kernel.DropCookie) // RFC 3931 §4.1: a cookie mismatch is discarded
		return nil
	}
	n := uint64(len(p.Data))
	s.stats.RxPackets++
	s.stats.RxBytes += n
	s.t.stats.RxPackets++
	s.t.stats.RxBytes += n
	switch {
	case s.cfg.PWType == kernel.PWEthernet:
		if s.ifTap != nil {
			s.ifTap.pushLocked(p.Data)
		}
		return nil
	case s.ch != nil:
		return s.ch.receiveLocked(p.Data)
	}
	s.drop(kernel.DropNoSession) // no channel attached to the session
	return nil
}

func (s *session) drop(r kernel.DropReason) {
	s.stats.Drops[r]++
	s.t.stats.Drops[r]++
}
