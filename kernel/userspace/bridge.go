package userspace

import (
	"fmt"
	"io"
	"sync"

	"github.com/probox/probox/kernel/internal/closeset"

	"github.com/probox/probox/kernel"
)

// bridge joins two channels: each channel's received frames are sent on the other
// (channel.input checks the peer first), so neither delivers to its unit or ReadFrame.
type bridge struct {
	d    *Dataplane
	a, b *channel
	once sync.Once
}

// Bridge joins two PPP channels of this data plane (LAC: a PPPoE session and an L2TP
// session, in either order). A channel can be in one bridge at a time.
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
		return nil, opErr("bridge", obj, fmt.Errorf("%w: a channel cannot be bridged to itself", errInval))
	}
	if !ca.peer.CompareAndSwap(nil, cb) {
		return nil, opErr("bridge", obj, fmt.Errorf("%w: %s is bridged", errBusy, ca.obj))
	}
	if !cb.peer.CompareAndSwap(nil, ca) {
		ca.peer.CompareAndSwap(cb, nil)
		return nil, opErr("bridge", obj, fmt.Errorf("%w: %s is bridged", errBusy, cb.obj))
	}
	br := &bridge{d: d, a: ca, b: cb}
	if err := d.register(br, closeset.Bridge); err != nil {
		br.Close()
		return nil, opErr("bridge", obj, err)
	}
	return br, nil
}

// Close separates the channels; frames go to their units and ReadFrame again.
func (br *bridge) Close() error {
	br.once.Do(func() {
		br.a.peer.CompareAndSwap(br.b, nil)
		br.b.peer.CompareAndSwap(br.a, nil)
		br.d.forget(br)
	})
	return nil
}
