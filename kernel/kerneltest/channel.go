package kerneltest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"syscall"

	"github.com/probox/probox/kernel"
)

// PPP protocol numbers that a unit carries (RFC 1332, RFC 5072).
const (
	protoIPv4 = 0x0021
	protoIPv6 = 0x0057
)

// channel is a fake kernel.Channel: the PPP channel of an L2TP session or of a PPPoE
// session. Frames flow through it in two directions:
//
//   - transmit (WriteFrame, a unit's outgoing IP, a bridge): to the channel's tap if the
//     test holds one (ChannelPeer), else onto the carrier (an L2TP data message to the
//     peer host, or a PPPoE session frame on the Ethernet segment);
//   - receive (from the carrier or the tap): to the bridged channel if bridged, else
//     IPv4/IPv6 to the unit if one is attached, else to ReadFrame.
type channel struct {
	f   *Fake
	key string // "l2tp T/S" or "pppoe IF/SID"
	rx  *queue[[]byte]

	// Exactly one carrier: an L2TP session or a PPPoE session on a port.
	sess  *session
	port  *port
	sid   uint16
	local [6]byte          // PPPoE: our address, the interface's or an extra one
	peer  kernel.FrameInfo // PPPoE peer MAC (Dst) and VLAN tags
	mtu   int              // PPPoE

	// The Network's mutex guards the fields below.
	unit   *unit
	bridge *bridge
	tap    *End
	stats  kernel.Counters
	closed bool
}

func newChannel(f *Fake, key string) *channel {
	c := &channel{f: f, key: key, rx: newQueue[[]byte]()}
	f.channels[key] = c
	if e := f.taps["channel "+key]; e != nil {
		c.tap, e.ch = e, c
	}
	return c
}

func (c *channel) ReadFrame(b []byte) (int, error) {
	m, err := c.rx.pop(&c.f.n.mu)
	if err != nil {
		return 0, err
	}
	return copy(b, m), nil
}

func (c *channel) WriteFrame(b []byte) error {
	var out []Packet
	err := c.f.do("WriteFrame "+c.key, false, func() error {
		switch {
		case c.closed:
			return opError("write", "channel "+c.key, net.ErrClosed)
		case len(b) < 2:
			c.stats.Drops[kernel.DropMalformed]++
			return opError("write", "channel "+c.key, syscall.EINVAL)
		case len(b)-2 > c.mtuLocked():
			c.stats.Drops[kernel.DropTooBig]++
			return opError("write", "channel "+c.key, syscall.EMSGSIZE)
		}
		out = c.transmitLocked(bytes.Clone(b))
		return nil
	})
	if err != nil {
		return err
	}
	c.f.n.send(out...)
	return nil
}

// MTU is, for L2TP, the path MTU less IP, UDP (if any), the L2TP data header with cookie
// and sublayer, and 4 bytes of PPP address, control and protocol fields; for PPPoE the
// mtu given to OpenSession, or the port's MTU less 8 (RFC 2516 §7).
func (c *channel) MTU() int {
	c.f.n.mu.Lock()
	defer c.f.n.mu.Unlock()
	return c.mtuLocked()
}

func (c *channel) mtuLocked() int {
	if c.sess != nil {
		return c.f.n.pathMTU - c.sess.overhead() - 4
	}
	return c.mtu
}

func (c *channel) Stats() kernel.Counters {
	c.f.n.mu.Lock()
	defer c.f.n.mu.Unlock()
	return c.stats
}

func (c *channel) Close() error {
	return c.f.do("Close channel "+c.key, true, func() error {
		c.closeLocked()
		return nil
	})
}

// closeLocked detaches the channel: ReadFrame returns net.ErrClosed, a bridge through it
// is dissolved, its unit is left detached (and still rendered, so that a leaked unit
// shows), and its tap reads what is queued and then net.ErrClosed.
func (c *channel) closeLocked() {
	if c.closed {
		return
	}
	c.closed = true
	c.rx.closeLocked()
	if c.bridge != nil {
		c.bridge.closeLocked()
	}
	if c.unit != nil {
		c.unit.ch = nil
		c.unit = nil
	}
	if c.tap != nil {
		c.tap.endLocked()
	}
	if c.sess != nil && c.sess.ch == c {
		c.sess.ch = nil
	}
	if k := (sessKey{c.local, c.sid}); c.port != nil && c.port.sessions[k] == c {
		delete(c.port.sessions, k)
	}
	if c.f.channels[c.key] == c {
		delete(c.f.channels, c.key)
	}
}

// transmitLocked sends frame (owned by the callee from now on) towards the peer.
func (c *channel) transmitLocked(frame []byte) []Packet {
	c.stats.TxPackets++
	c.stats.TxBytes += uint64(len(frame))
	switch {
	case c.tap != nil:
		c.tap.pushLocked(frame)
		return nil
	case c.sess != nil:
		return c.sess.transmitLocked(frame)
	case c.port != nil:
		return []Packet{c.port.sessionFrame(c, frame)}
	}
	return nil
}

// receiveLocked takes a frame that arrived from the peer.
func (c *channel) receiveLocked(frame []byte) []Packet {
	if c.closed {
		return nil
	}
	c.stats.RxPackets++
	c.stats.RxBytes += uint64(len(frame))
	if len(frame) < 2 {
		c.stats.Drops[kernel.DropMalformed]++
		return nil
	}
	if c.bridge != nil {
		return c.bridge.other(c).transmitLocked(frame)
	}
	if proto := binary.BigEndian.Uint16(frame); c.unit != nil && (proto == protoIPv4 || proto == protoIPv6) {
		c.unit.receiveLocked(proto, frame)
		return nil
	}
	if !c.rx.pushLocked(frame) {
		c.stats.Drops[kernel.DropQueueFull]++
	}
	return nil
}

// unit is a fake kernel.Unit.
type unit struct {
	f      *Fake
	name   string
	shared bool
	cfg    kernel.UnitConfig
	chKey  string // key of the channel it was made on

	// The Network's mutex guards the fields below.
	ch     *channel // nil once the channel is closed
	st     kernel.UnitState
	tap    *End
	stats  kernel.Counters
	closed bool
}

func (f *Fake) newUnitLocked(c *channel, cfg kernel.UnitConfig) (*unit, error) {
	obj := "unit on " + chanKey(c)
	switch {
	case f.closed:
		return nil, opError("create unit", obj, errFakeClosed)
	case c == nil || c.f != f:
		return nil, opError("create unit", obj, syscall.EINVAL)
	case c.closed:
		return nil, opError("create unit", obj, net.ErrClosed)
	case c.unit != nil:
		return nil, opError("create unit", obj, syscall.EEXIST)
	}
	name := cfg.Name
	switch {
	case cfg.Shared && name == "":
		name = "probox0"
	case cfg.Shared && containsVerb(name):
		name = fmt.Sprintf(name, 0)
	case name == "":
		name = "ppp%d"
	}
	if !cfg.Shared {
		if containsVerb(name) {
			tmpl := name
			for i := 0; ; i++ {
				if name = fmt.Sprintf(tmpl, i); !f.unitNames[name] {
					break
				}
			}
		} else if f.unitNames[name] {
			return nil, opError("create unit", name, syscall.EEXIST)
		}
	}
	u := &unit{f: f, name: name, shared: cfg.Shared, cfg: cfg, chKey: c.key, ch: c}
	c.unit = u
	f.units = append(f.units, u)
	if !u.shared {
		f.unitNames[name] = true
	}
	if e := f.taps["unit "+c.key]; e != nil {
		u.tap, e.unit = e, u
	}
	return u, nil
}

func containsVerb(s string) bool { return strings.Contains(s, "%d") }

func (u *unit) Name() string { return u.name }

// Set records s as the unit's configuration. IPv4 passes when both IPv4 addresses are
// valid, IPv6 when both IPv6 addresses are; until then IP frames arriving on the channel
// are dropped (kernel.DropNotPassing), as a real unit drops them before its network
// protocol is up.
func (u *unit) Set(s kernel.UnitState) error {
	s.Routes = slices.Clone(s.Routes)
	return u.f.do("Set "+u.name+" "+unitStateString(u.mtu(s), s), true, func() error {
		switch {
		case u.closed:
			return opError("set unit", u.name, net.ErrClosed)
		case s.MTU < 0,
			s.IPv4Local.IsValid() && !s.IPv4Local.Is4(), s.IPv4Peer.IsValid() && !s.IPv4Peer.Is4(),
			s.IPv6Local.IsValid() && !s.IPv6Local.Is6(), s.IPv6Peer.IsValid() && !s.IPv6Peer.Is6():
			return opError("set unit", u.name, syscall.EINVAL)
		}
		u.st = s
		return nil
	})
}

// mtu is the unit's MTU under s: s.MTU, else UnitConfig.MTU, else 1500.
func (u *unit) mtu(s kernel.UnitState) int {
	switch {
	case s.MTU > 0:
		return s.MTU
	case u.cfg.MTU > 0:
		return u.cfg.MTU
	}
	return 1500
}

func passes(local, peer netip.Addr) bool { return local.IsValid() && peer.IsValid() }

func (u *unit) passingLocked(proto uint16) bool {
	if proto == protoIPv4 {
		return passes(u.st.IPv4Local, u.st.IPv4Peer)
	}
	return proto == protoIPv6 && passes(u.st.IPv6Local, u.st.IPv6Peer)
}

func (u *unit) Stats() kernel.Counters {
	u.f.n.mu.Lock()
	defer u.f.n.mu.Unlock()
	return u.stats
}

func (u *unit) Close() error {
	return u.f.do("Close unit "+u.name+" on "+u.chKey, true, func() error {
		u.closeLocked()
		return nil
	})
}

func (u *unit) closeLocked() {
	if u.closed {
		return
	}
	u.closed = true
	if u.ch != nil {
		u.ch.unit = nil
		u.ch = nil
	}
	if u.tap != nil {
		u.tap.endLocked()
	}
	u.f.units = slices.DeleteFunc(u.f.units, func(o *unit) bool { return o == u })
	if !u.shared {
		delete(u.f.unitNames, u.name)
	}
}

// receiveLocked takes an IP frame that arrived on the unit's channel.
func (u *unit) receiveLocked(proto uint16, frame []byte) {
	if !u.passingLocked(proto) {
		u.stats.Drops[kernel.DropNotPassing]++
		return
	}
	u.stats.RxPackets++
	u.stats.RxBytes += uint64(len(frame) - 2)
	if u.tap != nil {
		u.tap.pushLocked(frame)
	}
}

// sendLocked sends an IP frame (protocol field first) from the unit's host side.
func (u *unit) sendLocked(frame []byte) ([]Packet, error) {
	if len(frame) < 2 {
		return nil, syscall.EINVAL
	}
	if u.ch == nil {
		return nil, syscall.ENOTCONN
	}
	if !u.passingLocked(binary.BigEndian.Uint16(frame)) {
		u.stats.Drops[kernel.DropNotPassing]++
		return nil, syscall.EPROTONOSUPPORT
	}
	u.stats.TxPackets++
	u.stats.TxBytes += uint64(len(frame) - 2)
	return u.ch.transmitLocked(frame), nil
}

// bridge is the io.Closer of a fake bridge.
type bridge struct {
	f    *Fake
	a, b *channel // a.key < b.key
	// The Network's mutex guards closed.
	closed bool
}

func (f *Fake) bridgeLocked(a, b *channel) (*bridge, error) {
	obj := chanKey(a) + " <-> " + chanKey(b)
	switch {
	case f.closed:
		return nil, opError("bridge", obj, errFakeClosed)
	case a == nil || b == nil || a.f != f || b.f != f || a == b:
		return nil, opError("bridge", obj, syscall.EINVAL)
	case a.closed || b.closed:
		return nil, opError("bridge", obj, net.ErrClosed)
	case a.bridge != nil || b.bridge != nil:
		return nil, opError("bridge", obj, syscall.EBUSY)
	}
	if b.key < a.key {
		a, b = b, a
	}
	br := &bridge{f: f, a: a, b: b}
	a.bridge, b.bridge = br, br
	f.bridges = append(f.bridges, br)
	return br, nil
}

func (br *bridge) name() string { return br.a.key + " <-> " + br.b.key }

func (br *bridge) other(c *channel) *channel {
	if c == br.a {
		return br.b
	}
	return br.a
}

// Close separates the channels; it is idempotent.
func (br *bridge) Close() error {
	return br.f.do("Close bridge "+br.name(), true, func() error {
		br.closeLocked()
		return nil
	})
}

func (br *bridge) closeLocked() {
	if br.closed {
		return
	}
	br.closed = true
	br.a.bridge, br.b.bridge = nil, nil
	br.f.bridges = slices.DeleteFunc(br.f.bridges, func(o *bridge) bool { return o == br })
}
