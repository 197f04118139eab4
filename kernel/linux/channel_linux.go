//go:build linux

package linux

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/probox/probox/kernel"
)

// channelQueueDepth bounds the control frames waiting for ReadFrame; more are dropped
// (kernel.DropQueueFull) rather than stall the readers.
const channelQueueDepth = 64

// channel is a kernel PPP channel (of a PPPoL2TP or PPPoE socket) with /dev/ppp attached
// to it. The engine's control frames arrive from two files: the channel file (everything
// before a unit is connected; afterwards the protocols ≥ 0xc000: LCP, authentication) and,
// once a unit is connected, the unit file (the NCPs, which ppp_generic hands to the unit:
// ppp_receive_nonmp_frame). A reader goroutine per file puts them on one queue that
// ReadFrame takes from. Frames are written to the channel file, whatever their protocol.
type channel struct {
	d     *Dataplane
	obj   string
	index int     // the kernel's channel index
	fd    *pollFD // /dev/ppp attached to the channel
	px    *pollFD // the PPPoX socket, closed with the channel if ownPX
	ownPX bool
	mtu   int
	// stats returns the carrier's counters (an L2TP session's), or nil.
	stats   func() (kernel.Counters, bool)
	onClose func()

	q    chan []byte
	done chan struct{} // closed by Close
	dead chan struct{} // closed when the kernel channel went away
	wg   sync.WaitGroup

	rxFrames, rxBytes, txFrames, txBytes atomic.Uint64
	notPassing, queueFull, malformed     atomic.Uint64
	closed                               atomic.Bool

	mu     sync.Mutex // guards the fields below and the ioctls that change them
	unit   *unit
	bridge *bridge
}

// newChannel attaches /dev/ppp to the channel of the connected PPPoX socket px and starts
// its reader. On error px is left open for the caller.
func (d *Dataplane) newChannel(obj string, px *pollFD, ownPX bool, mtu int, stats func() (kernel.Counters, bool), onClose func()) (*channel, error) {
	idx, err := channelIndex(px)
	if err != nil {
		return nil, err
	}
	fd, err := d.attachChannel(idx)
	if err != nil {
		return nil, err
	}
	c := &channel{
		d: d, obj: obj, index: idx, fd: fd, px: px, ownPX: ownPX, mtu: max(mtu, 0),
		stats: stats, onClose: onClose,
		q: make(chan []byte, channelQueueDepth), done: make(chan struct{}), dead: make(chan struct{}),
	}
	c.wg.Add(1)
	go c.run()
	return c, nil
}

// run reads the channel file until it is closed or the kernel channel goes away.
func (c *channel) run() {
	defer c.wg.Done()
	for {
		f, err := readFrame(c.fd)
		if err != nil {
			if err == net.ErrClosed {
				return
			}
			if transient(err) {
				continue
			}
			c.d.log.Warn("PPP channel read failed", zap.String("channel", c.obj), zap.Error(err))
			close(c.dead)
			return
		}
		if f == nil {
			// End of file: the channel was unregistered (its PPPoX socket closed or
			// unbound, e.g. by a PADT the kernel handled).
			close(c.dead)
			return
		}
		c.input(f)
	}
}

// input queues a received frame for ReadFrame. Network-layer frames (which reach the
// channel file only while no unit passes them) are dropped, as a unit that does not pass
// a protocol drops it.
func (c *channel) input(f []byte) {
	c.rxFrames.Add(1)
	c.rxBytes.Add(uint64(len(f)))
	f = normalizeFrame(f)
	if len(f) < 2 {
		c.malformed.Add(1)
		return
	}
	switch binary.BigEndian.Uint16(f) {
	case pppIPv4, pppIPv6:
		c.notPassing.Add(1)
		return
	}
	select {
	case c.q <- f:
	default:
		c.queueFull.Add(1)
	}
}

// ReadFrame reads the next control frame; see kernel.Channel. A frame longer than b is
// truncated. When the kernel channel went away it returns, after the queued frames, an
// error wrapping io.EOF.
func (c *channel) ReadFrame(b []byte) (int, error) {
	select {
	case f := <-c.q:
		return copy(b, f), nil
	case <-c.done:
		return 0, net.ErrClosed
	case <-c.dead:
		select {
		case f := <-c.q:
			return copy(b, f), nil
		case <-c.done:
			return 0, net.ErrClosed
		default:
			return 0, &kernel.OpError{Op: "read frame", Object: c.obj, Err: io.EOF}
		}
	}
}

// WriteFrame sends one frame (protocol field and information) on the channel.
func (c *channel) WriteFrame(b []byte) error {
	if len(b) < 2 {
		return opErr("write frame", c.obj, fmt.Errorf("%w: frame of %d bytes", unix.EINVAL, len(b)))
	}
	if c.closed.Load() {
		return net.ErrClosed
	}
	// The MTU bounds the information field (RFC 1661 §6.1).
	if len(b)-2 > c.mtu {
		return opErr("write frame", c.obj, fmt.Errorf("%w: frame of %d bytes, MTU %d", unix.EMSGSIZE, len(b), c.mtu))
	}
	if err := c.fd.write(b); err != nil {
		if err == net.ErrClosed {
			return net.ErrClosed
		}
		return opErr("write frame", c.obj, err)
	}
	c.txFrames.Add(1)
	c.txBytes.Add(uint64(len(b)))
	return nil
}

// MTU is the largest information field the carrier takes.
func (c *channel) MTU() int { return c.mtu }

// Stats returns the carrier's counters where the kernel keeps them (an L2TP session's:
// every frame, data and control); for PPPoE, which keeps none per session, the control
// frames of the channel plus the IP packets of its unit.
func (c *channel) Stats() kernel.Counters {
	var ctr kernel.Counters
	ok := false
	if c.stats != nil {
		ctr, ok = c.stats()
	}
	if !ok {
		ctr.RxPackets, ctr.RxBytes = c.rxFrames.Load(), c.rxBytes.Load()
		ctr.TxPackets, ctr.TxBytes = c.txFrames.Load(), c.txBytes.Load()
		c.mu.Lock()
		u := c.unit
		c.mu.Unlock()
		if u != nil {
			us := u.Stats()
			ctr.RxPackets += us.RxPackets
			ctr.RxBytes += us.RxBytes
			ctr.TxPackets += us.TxPackets
			ctr.TxBytes += us.TxBytes
		}
	}
	ctr.Drops[kernel.DropNotPassing] += c.notPassing.Load()
	ctr.Drops[kernel.DropQueueFull] += c.queueFull.Load()
	ctr.Drops[kernel.DropMalformed] += c.malformed.Load()
	return ctr
}

// Close detaches the channel: it leaves its bridge and unit and closes /dev/ppp (and the
// PPPoE socket, which ends the session's data path). A unit or bridge that used it stays
// until it is closed itself, passing nothing.
func (c *channel) Close() error {
	c.mu.Lock()
	if c.closed.Swap(true) {
		c.mu.Unlock()
		return nil
	}
	var errs []error
	if c.bridge != nil {
		if err := unbridgeChannel(c.fd); err != nil {
			errs = append(errs, err)
		}
	}
	if c.unit != nil {
		if err := disconnectChannel(c.fd); err != nil {
			errs = append(errs, err)
		}
	}
	c.mu.Unlock()
	close(c.done)
	errs = append(errs, c.fd.close())
	if c.ownPX {
		errs = append(errs, c.px.close())
	}
	c.wg.Wait()
	if c.onClose != nil {
		c.onClose()
	}
	return opErr("close", c.obj, errors.Join(errs...))
}

// asChannel returns ch as a channel of the data plane d.
func (d *Dataplane) asChannel(ch kernel.Channel) (*channel, error) {
	c, ok := ch.(*channel)
	if !ok || c == nil || c.d != d {
		return nil, fmt.Errorf("%w: %T is not a channel of this data plane", unix.EINVAL, ch)
	}
	return c, nil
}

// connectUnitLocked connects the channel to PPP unit number num (PPPIOCCONNECT); the caller
// holds c.mu.
func (c *channel) connectUnitLocked(num int) error {
	if _, err := c.fd.ioctlInt(pppIocConnect, int32(num)); err != nil {
		return fmt.Errorf("connect channel %d to unit %d: %w", c.index, num, err)
	}
	return nil
}

// disconnectChannel disconnects a channel file from its unit (PPPIOCDISCONN); a channel
// that is not connected is not an error.
func disconnectChannel(f *pollFD) error {
	err := f.control(func(fd int) error { return ioctlPtr(fd, pppIocDisconn, nil) })
	if err == unix.EINVAL || err == net.ErrClosed {
		return nil
	}
	return err
}

// unbridgeChannel takes a channel file and its peer out of their bridge
// (PPPIOCUNBRIDGECHAN unbridges both); a channel that is not bridged is not an error.
func unbridgeChannel(f *pollFD) error {
	err := f.control(func(fd int) error { return ioctlPtr(fd, pppIocUnbridgeChan, nil) })
	if err == unix.EINVAL || err == net.ErrClosed {
		return nil
	}
	return err
}
