package userspace

import (
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"github.com/probox/probox/kernel"
)

// PPP protocol numbers the data plane passes to units (RFC 1332, RFC 5072).
const (
	protoIPv4 = 0x0021
	protoIPv6 = 0x0057
)

// carrier sends the frames of a PPP channel: an L2TP session or a PPPoE session.
type carrier interface {
	// xmitPPP sends the PPP frame buf[off:] (protocol and information field); it writes
	// its headers into the headroom buf[:off].
	xmitPPP(buf []byte, off int) error
}

// channel is a PPP channel over a carrier. Received frames go, in this order, to the
// bridged channel if there is one, to the unit if they are IPv4 or IPv6 and the unit
// passes that protocol (else they are dropped), and otherwise to the control queue that
// ReadFrame reads.
type channel struct {
	d       *Dataplane
	obj     string
	car     carrier
	mtu     atomic.Int32
	ctrl    *ctrlQueue
	ctr     counters
	onClose func() // run once by Close (a PPPoE channel leaves its port)

	unit   atomic.Pointer[unit]    // the unit attached by NewUnit
	peer   atomic.Pointer[channel] // the bridged channel
	closed atomic.Bool

	wmu  sync.Mutex // guards wbuf
	wbuf []byte     // WriteFrame's frame, with headroom

	once sync.Once
}

func newChannel(d *Dataplane, obj string, car carrier, mtu int, onClose func()) *channel {
	c := &channel{d: d, obj: obj, car: car, ctrl: newCtrlQueue(channelQueueDepth), onClose: onClose}
	c.mtu.Store(int32(max(mtu, 0)))
	return c
}

// input handles the received PPP frame buf[off:], which may start with the HDLC address
// and control fields (FF 03) and may have a compressed (1-byte) protocol field (RFC 1661
// §6.5).
func (c *channel) input(buf []byte, off int) {
	if c.closed.Load() {
		c.ctr.drop(kernel.DropNoSession)
		return
	}
	f := buf[off:]
	c.ctr.rx(len(f))
	if len(f) >= 2 && f[0] == 0xff && f[1] == 0x03 {
		off += 2
		f = f[2:]
	}
	if p := c.peer.Load(); p != nil {
		p.xmit(buf, off)
		return
	}
	if len(f) == 0 {
		c.ctr.drop(kernel.DropMalformed)
		return
	}
	var proto uint16
	plen := 1
	if f[0]&1 != 0 {
		proto = uint16(f[0])
	} else {
		if len(f) < 2 {
			c.ctr.drop(kernel.DropMalformed)
			return
		}
		proto = binary.BigEndian.Uint16(f)
		plen = 2
	}
	switch proto {
	case protoIPv4, protoIPv6:
		u := c.unit.Load()
		if u == nil || !u.passes(proto) {
			c.ctr.drop(kernel.DropNotPassing)
			return
		}
		u.fromPeer(buf, off+plen)
	default:
		var hdr [2]byte
		binary.BigEndian.PutUint16(hdr[:], proto)
		if !c.ctrl.push(hdr[:], f[plen:], queued{}) {
			c.ctr.drop(kernel.DropQueueFull)
		}
	}
}

// xmit sends the PPP frame buf[off:] (protocol and information) on the carrier.
func (c *channel) xmit(buf []byte, off int) error {
	if c.closed.Load() {
		c.ctr.drop(kernel.DropWrite)
		return net.ErrClosed
	}
	n := len(buf) - off
	// The MTU bounds the information field (RFC 1661 §6.1); the protocol field is 2
	// bytes on every frame the data plane builds.
	if n-2 > int(c.mtu.Load()) {
		c.ctr.drop(kernel.DropTooBig)
		return fmt.Errorf("%w: frame of %d bytes, MTU %d", errTooBig, n, c.mtu.Load())
	}
	if err := c.car.xmitPPP(buf, off); err != nil {
		c.ctr.drop(kernel.DropWrite)
		return err
	}
	c.ctr.tx(n)
	return nil
}

// ReadFrame reads the next control frame; see kernel.Channel. A frame longer than b is
// truncated.
func (c *channel) ReadFrame(b []byte) (int, error) {
	n, _, err := c.ctrl.read(b)
	return n, err
}

// WriteFrame sends one frame (protocol field and information).
func (c *channel) WriteFrame(b []byte) error {
	if len(b) < 2 {
		return opErr("write frame", c.obj, fmt.Errorf("%w: frame of %d bytes", errInval, len(b)))
	}
	if c.closed.Load() {
		return net.ErrClosed
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if cap(c.wbuf) < headroom+len(b) {
		c.wbuf = make([]byte, headroom+max(len(b), 1600))
	}
	buf := c.wbuf[:headroom+len(b)]
	copy(buf[headroom:], b)
	if err := c.xmit(buf, headroom); err != nil {
		if isClosed(err) {
			return net.ErrClosed
		}
		return opErr("write frame", c.obj, err)
	}
	return nil
}

// MTU is the largest information field the carrier takes.
func (c *channel) MTU() int { return int(c.mtu.Load()) }

func (c *channel) Stats() kernel.Counters { return c.ctr.snapshot() }

// Close detaches the channel: frames are no longer sent or received, ReadFrame returns
// net.ErrClosed. A bridge or unit that uses it stays until it is closed itself but passes
// nothing.
func (c *channel) Close() error {
	c.once.Do(func() {
		c.closed.Store(true)
		c.ctrl.close()
		if c.onClose != nil {
			c.onClose()
		}
	})
	return nil
}

// asChannel returns ch as a channel of the data plane d.
func (d *Dataplane) asChannel(ch kernel.Channel) (*channel, error) {
	c, ok := ch.(*channel)
	if !ok || c == nil || c.d != d {
		return nil, fmt.Errorf("%w: %T is not a channel of this data plane", errInval, ch)
	}
	return c, nil
}
