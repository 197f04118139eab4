package ppp

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"

	"github.com/probox/probox/kernel"
)

// This file holds in-memory fakes of the data plane for the engine's tests: a PPP channel
// pair joined like a wire (fakeChan), and a data plane whose units record their states
// (fakeDP). They only use channels and mutexes, so testing/synctest can run the engine's
// goroutines over them.

// fakeChan is one end of a channel pair. Frames written on one end are read on the other;
// a full queue drops them, as a network would.
type fakeChan struct {
	mtu       int
	in        chan []byte
	closed    chan struct{}
	closeOnce sync.Once

	mu       sync.Mutex // guards the fields below
	peer     *fakeChan
	mute     bool // drop what this end writes
	loop     bool // what this end writes comes back to it
	noRecord bool // do not keep what this end writes (benchmarks)
	sent     [][]byte
	stats    kernel.Counters
}

var _ kernel.Channel = (*fakeChan)(nil)

func newFakeChan(mtu int) *fakeChan {
	return &fakeChan{mtu: mtu, in: make(chan []byte, 64), closed: make(chan struct{})}
}

// newPipe returns two joined ends.
func newPipe(mtu int) (*fakeChan, *fakeChan) {
	a, b := newFakeChan(mtu), newFakeChan(mtu)
	a.peer, b.peer = b, a
	return a, b
}

// connect joins a and b (a LAC handing its subscriber over to an LNS: the bridge).
func connect(a, b *fakeChan) {
	a.mu.Lock()
	a.peer = b
	a.mu.Unlock()
	b.mu.Lock()
	b.peer = a
	b.mu.Unlock()
}

func (c *fakeChan) ReadFrame(b []byte) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
	}
	select {
	case f := <-c.in:
		c.mu.Lock()
		c.stats.RxPackets++
		c.stats.RxBytes += uint64(len(f))
		c.mu.Unlock()
		return copy(b, f), nil
	case <-c.closed:
		return 0, net.ErrClosed
	}
}

func (c *fakeChan) WriteFrame(b []byte) error {
	select {
	case <-c.closed:
		return net.ErrClosed
	default:
	}
	f := append([]byte(nil), b...)
	c.mu.Lock()
	if !c.noRecord {
		c.sent = append(c.sent, f)
	}
	c.stats.TxPackets++
	c.stats.TxBytes += uint64(len(f))
	dst := c.peer
	if c.loop {
		dst = c
	}
	mute := c.mute
	c.mu.Unlock()
	if mute || dst == nil {
		return nil
	}
	select {
	case <-dst.closed:
	case dst.in <- f:
	default:
	}
	return nil
}

// inject delivers a frame to this end as if its peer had sent it.
func (c *fakeChan) inject(f []byte) {
	select {
	case c.in <- f:
	default:
	}
}

func (c *fakeChan) setMute(m bool) {
	c.mu.Lock()
	c.mute = m
	c.mu.Unlock()
}

func (c *fakeChan) MTU() int { return c.mtu }

func (c *fakeChan) Stats() kernel.Counters {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

func (c *fakeChan) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return nil
}

func (c *fakeChan) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// sentPackets lists what this end wrote as "PROTO code" strings (e.g. "LCP 1").
func (c *fakeChan) sentPackets() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, f := range c.sent {
		p, info, err := ParseFrame(f)
		if err != nil || len(info) < 1 {
			out = append(out, "bad")
			continue
		}
		out = append(out, fmt.Sprintf("%v %d", p, info[0]))
	}
	return out
}

func countOf(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// fakeDP is a data plane that only makes units.
type fakeDP struct {
	mu       sync.Mutex // guards the fields below
	units    []*fakeUnit
	n        int
	failUnit error
}

var _ kernel.Dataplane = (*fakeDP)(nil)

var errFake = errors.New("not in the fake")

func (d *fakeDP) Name() string                                          { return "fake" }
func (d *fakeDP) Listen(kernel.ListenConfig) (kernel.Listener, error)   { return nil, errFake }
func (d *fakeDP) OpenTunnel(kernel.TunnelConfig) (kernel.Tunnel, error) { return nil, errFake }
func (d *fakeDP) OpenPPPoE(kernel.PPPoEConfig) (kernel.PPPoEPort, error) {
	return nil, errFake
}
func (d *fakeDP) Bridge(a, b kernel.Channel) (io.Closer, error) { return nil, errFake }
func (d *fakeDP) Close() error                                  { return nil }

func (d *fakeDP) NewUnit(ch kernel.Channel, cfg kernel.UnitConfig) (kernel.Unit, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.failUnit != nil {
		return nil, d.failUnit
	}
	name := "shared0"
	if !cfg.Shared {
		name = strings.Replace(cfg.Name, "%d", fmt.Sprint(d.n), 1)
		d.n++
	}
	u := &fakeUnit{name: name, cfg: cfg}
	d.units = append(d.units, u)
	return u, nil
}

func (d *fakeDP) allUnits() []*fakeUnit {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]*fakeUnit(nil), d.units...)
}

// fakeUnit records every state it is set to.
type fakeUnit struct {
	name string
	cfg  kernel.UnitConfig

	mu     sync.Mutex // guards the fields below
	states []kernel.UnitState
	closed bool
}

func (u *fakeUnit) Name() string { return u.name }

func (u *fakeUnit) Set(s kernel.UnitState) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return net.ErrClosed
	}
	u.states = append(u.states, s)
	return nil
}

func (u *fakeUnit) Stats() kernel.Counters {
	return kernel.Counters{RxPackets: 7, RxBytes: 700, TxPackets: 5, TxBytes: 500}
}

func (u *fakeUnit) Close() error {
	u.mu.Lock()
	u.closed = true
	u.mu.Unlock()
	return nil
}

func (u *fakeUnit) last() (kernel.UnitState, bool, int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.states) == 0 {
		return kernel.UnitState{}, u.closed, 0
	}
	return u.states[len(u.states)-1], u.closed, len(u.states)
}
