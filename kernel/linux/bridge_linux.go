//go:build linux

package linux

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/probox/probox/kernel/internal/closeset"

	"golang.org/x/sys/unix"

	"github.com/probox/probox/kernel"
)

// bridge is a kernel bridge of two PPP channels (PPPIOCBRIDGECHAN, Linux 5.11): ppp_input
// on either channel hands every frame to the other's start_xmit, so the LAC's data (and
// its control frames) never enter user space, and neither channel delivers frames to its
// /dev/ppp file while bridged.
type bridge struct {
	a, b *channel
	once sync.Once
}

// Bridge joins two PPP channels of this data plane; see kernel.Dataplane. The kernel
// refuses channels that are connected to a unit or already bridged (EBUSY here).
func (d *Dataplane) Bridge(a, b kernel.Channel) (io.Closer, error) {
	ca, err := d.asChannel(a)
	if err != nil {
		return nil, opErr("bridge", "", err)
	}
	cb, err := d.asChannel(b)
	if err != nil {
		return nil, opErr("bridge", "", err)
	}
	obj := ca.obj + " and " + cb.obj
	if ca == cb {
		return nil, opErr("bridge", obj, fmt.Errorf("%w: a channel cannot be bridged to itself", unix.EINVAL))
	}
	if d.bridgeErr != nil {
		return nil, opErr("bridge", obj, d.bridgeErr)
	}
	// Lock the two channels in index order, so that concurrent bridges of the same pair
	// cannot deadlock.
	first, second := ca, cb
	if first.index > second.index {
		first, second = second, first
	}
	first.mu.Lock()
	defer first.mu.Unlock()
	second.mu.Lock()
	defer second.mu.Unlock()
	for _, c := range []*channel{ca, cb} {
		switch {
		case c.closed.Load():
			return nil, opErr("bridge", obj, fmt.Errorf("%w: %s is closed", unix.EBADF, c.obj))
		case c.bridge != nil:
			return nil, opErr("bridge", obj, fmt.Errorf("%w: %s is bridged", unix.EBUSY, c.obj))
		case c.unit != nil:
			return nil, opErr("bridge", obj, fmt.Errorf("%w: %s has a unit", unix.EBUSY, c.obj))
		}
	}
	err = d.inNS(func() error {
		_, err := ca.fd.ioctlInt(pppIocBridgeChan, int32(cb.index))
		return err
	})
	if errors.Is(err, unix.ENOTTY) {
		err = fmt.Errorf("%w: %w", ErrBridgeUnsupported, err)
	}
	if err != nil {
		return nil, opErr("bridge", obj, err)
	}
	br := &bridge{a: ca, b: cb}
	ca.bridge, cb.bridge = br, br
	if err := d.register(br, closeset.Bridge); err != nil {
		ca.bridge, cb.bridge = nil, nil
		unbridgeChannel(ca.fd)
		return nil, opErr("bridge", obj, err)
	}
	return br, nil
}

// Close separates the channels (PPPIOCUNBRIDGECHAN on either unbridges both); frames go
// to their /dev/ppp files again.
func (br *bridge) Close() error {
	var err error
	br.once.Do(func() {
		first, second := br.a, br.b
		if first.index > second.index {
			first, second = second, first
		}
		first.mu.Lock()
		second.mu.Lock()
		bridged := br.a.bridge == br && br.b.bridge == br
		if br.a.bridge == br {
			br.a.bridge = nil
		}
		if br.b.bridge == br {
			br.b.bridge = nil
		}
		if bridged {
			// A closed channel has unbridged both already (channel.Close).
			switch {
			case !br.a.closed.Load():
				err = unbridgeChannel(br.a.fd)
			case !br.b.closed.Load():
				err = unbridgeChannel(br.b.fd)
			}
		}
		second.mu.Unlock()
		first.mu.Unlock()
		br.a.d.forget(br)
		err = opErr("unbridge", br.a.obj+" and "+br.b.obj, err)
	})
	return err
}
