package userspace

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// This file holds an in-memory system for the framing tests: sockets, devices and
// AF_PACKET ports are channels, and address and route changes are recorded as text.

// fakePkt is a datagram read from or written to a fakeConn.
type fakePkt struct {
	b    []byte
	src  netip.AddrPort // read: the sender
	dst  netip.Addr     // read: the local address
	to   netip.AddrPort // written: the destination (writeTo)
	from netip.Addr     // written: the source address asked for
}

type fakeConn struct {
	kind  string // "listen", "dial", "ip4", "ip6"
	local netip.AddrPort
	in    chan fakePkt
	out   chan fakePkt
	done  chan struct{}
	once  sync.Once

	mu       sync.Mutex // guards peer, connects
	peer     netip.AddrPort
	connects []netip.AddrPort
	writeErr error

	discard bool          // count writes instead of recording them (allocation tests)
	written atomic.Uint64 // writes discarded
}

func newFakeConn(kind string, local, peer netip.AddrPort) *fakeConn {
	return &fakeConn{kind: kind, local: local, peer: peer, in: make(chan fakePkt, 1024), out: make(chan fakePkt, 1024), done: make(chan struct{})}
}

func (c *fakeConn) readBatch(ms []msg) (int, error) {
	var p fakePkt
	select {
	case p = <-c.in:
	case <-c.done:
		return 0, net.ErrClosed
	}
	n := 0
	for {
		m := &ms[n]
		room := m.buf[m.off:]
		m.n = copy(room, p.b)
		m.trunc = len(p.b) > len(room)
		m.src, m.dst = p.src, p.dst
		n++
		if n == len(ms) {
			return n, nil
		}
		select {
		case p = <-c.in:
		default:
			return n, nil
		}
	}
}

func (c *fakeConn) write(b []byte) error { return c.writeTo(b, netip.AddrPort{}, netip.Addr{}) }

func (c *fakeConn) writeTo(b []byte, to netip.AddrPort, from netip.Addr) error {
	if c.discard {
		c.written.Add(1)
		return nil
	}
	select {
	case <-c.done:
		return net.ErrClosed
	default:
	}
	c.mu.Lock()
	err := c.writeErr
	if !to.IsValid() {
		to = c.peer
	}
	c.mu.Unlock()
	if err != nil {
		return err
	}
	c.out <- fakePkt{b: bytes.Clone(b), to: to, from: from}
	return nil
}

func (c *fakeConn) connect(peer netip.AddrPort) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.peer = peer
	c.connects = append(c.connects, peer)
	return nil
}

func (c *fakeConn) localAddr() netip.AddrPort { return c.local }
func (c *fakeConn) pathMTU() int              { return 0 }
func (c *fakeConn) close() error {
	c.once.Do(func() { close(c.done) })
	return nil
}

// inject queues a datagram for the data plane to read.
func (c *fakeConn) inject(b []byte, src netip.AddrPort) { c.in <- fakePkt{b: b, src: src} }

// next returns the next datagram the data plane wrote.
func (c *fakeConn) next(t *testing.T) fakePkt {
	t.Helper()
	select {
	case p := <-c.out:
		return p
	case <-time.After(5 * time.Second):
		t.Fatalf("%s conn %v: nothing written", c.kind, c.local)
		return fakePkt{}
	}
}

// fakeDev is a TUN or TAP device.
type fakeDev struct {
	nm   string
	idx  int
	tap  bool
	mtu  int
	in   chan []byte
	out  chan []byte
	done chan struct{}
	once sync.Once
	gone func() // removes the device from the system

	discard bool
	written atomic.Uint64
}

func (d *fakeDev) name() string { return d.nm }
func (d *fakeDev) index() int   { return d.idx }
func (d *fakeDev) read(b []byte) (int, error) {
	select {
	case p := <-d.in:
		return copy(b, p), nil
	case <-d.done:
		return 0, net.ErrClosed
	}
}

func (d *fakeDev) write(b []byte) error {
	if d.discard {
		d.written.Add(1)
		return nil
	}
	select {
	case <-d.done:
		return net.ErrClosed
	default:
	}
	d.out <- bytes.Clone(b)
	return nil
}

func (d *fakeDev) close() error {
	d.once.Do(func() {
		close(d.done)
		d.gone()
	})
	return nil
}

func (d *fakeDev) next(t *testing.T) []byte {
	t.Helper()
	select {
	case p := <-d.out:
		return p
	case <-time.After(5 * time.Second):
		t.Fatalf("device %s: nothing written", d.nm)
		return nil
	}
}

// fakeEth is an AF_PACKET port; readFrame returns payloads that alias the buffer, as
// ethport does.
type fakeEth struct {
	mac  [6]byte
	mtu_ int
	in   chan ethFrame
	out  chan ethFrame
	done chan struct{}
	once sync.Once

	discard bool
	written atomic.Uint64

	umu      sync.Mutex // guards unicast
	unicast  [][6]byte  // addUnicast calls, in order
	failUcst error      // returned by addUnicast when set
}

func (e *fakeEth) readFrame(b []byte) (ethFrame, error) {
	select {
	case f := <-e.in:
		// Place the payload after a 14-byte Ethernet header, as a real frame would be.
		n := copy(b[14:], f.payload)
		f.payload = b[14 : 14+n]
		return f, nil
	case <-e.done:
		return ethFrame{}, net.ErrClosed
	}
}

func (e *fakeEth) writeFrame(f ethFrame) error {
	if e.discard {
		e.written.Add(1)
		return nil
	}
	select {
	case <-e.done:
		return net.ErrClosed
	default:
	}
	f.payload = bytes.Clone(f.payload)
	e.out <- f
	return nil
}

func (e *fakeEth) addUnicast(mac [6]byte) error {
	e.umu.Lock()
	defer e.umu.Unlock()
	if e.failUcst != nil {
		return e.failUcst
	}
	e.unicast = append(e.unicast, mac)
	return nil
}

func (e *fakeEth) unicastAddrs() [][6]byte {
	e.umu.Lock()
	defer e.umu.Unlock()
	return slices.Clone(e.unicast)
}

func (e *fakeEth) hardwareAddr() [6]byte { return e.mac }
func (e *fakeEth) mtu() int              { return e.mtu_ }
func (e *fakeEth) close() error {
	e.once.Do(func() { close(e.done) })
	return nil
}

func (e *fakeEth) next(t *testing.T) ethFrame {
	t.Helper()
	select {
	case f := <-e.out:
		return f
	case <-time.After(5 * time.Second):
		t.Fatalf("eth port: nothing written")
		return ethFrame{}
	}
}

// fakeSys records what the data plane creates and configures.
type fakeSys struct {
	mu      sync.Mutex // guards the fields below
	ops     []string   // address, route and MTU changes
	conns   []*fakeConn
	devs    map[string]*fakeDev
	eths    map[string]*fakeEth
	nextIdx int
	closed  bool
	failOp  map[string]error // op name -> error to return
	discard bool             // sockets and devices count writes instead of recording them
}

func newFakeSys() *fakeSys {
	return &fakeSys{devs: map[string]*fakeDev{}, eths: map[string]*fakeEth{}, nextIdx: 10, failOp: map[string]error{}}
}

func (s *fakeSys) fail(op string) error {
	if err, ok := s.failOp[op]; ok {
		return err
	}
	return nil
}

func (s *fakeSys) listenUDP(addr netip.AddrPort) (packetConn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fail("listen"); err != nil {
		return nil, err
	}
	c := newFakeConn("listen", addr, netip.AddrPort{})
	c.discard = s.discard
	s.conns = append(s.conns, c)
	return c, nil
}

func (s *fakeSys) dialUDP(local, peer netip.AddrPort, checksums, unconnected bool) (packetConn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fail("dial"); err != nil {
		return nil, err
	}
	if local.Port() == 0 {
		local = netip.AddrPortFrom(local.Addr(), 40000+uint16(len(s.conns)))
	}
	c := newFakeConn("dial", local, peer)
	if unconnected {
		c.kind, c.peer = "dial-unconnected", netip.AddrPort{}
	}
	c.discard = s.discard
	s.conns = append(s.conns, c)
	return c, nil
}

func (s *fakeSys) openIPEncap(v6 bool) (packetConn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kind := "ip4"
	if v6 {
		kind = "ip6"
	}
	c := newFakeConn(kind, netip.AddrPort{}, netip.AddrPort{})
	c.discard = s.discard
	s.conns = append(s.conns, c)
	return c, nil
}

// conn returns the last conn of kind.
func (s *fakeSys) conn(t testing.TB, kind string) *fakeConn {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.conns) - 1; i >= 0; i-- {
		if s.conns[i].kind == kind {
			return s.conns[i]
		}
	}
	t.Fatalf("no %s conn", kind)
	return nil
}

func (s *fakeSys) openTun(name string, tap bool, mtu int) (device, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fail("tun"); err != nil {
		return nil, err
	}
	if strings.Contains(name, "%d") {
		for i := 0; ; i++ {
			n := strings.Replace(name, "%d", fmt.Sprint(i), 1)
			if _, ok := s.devs[n]; !ok {
				name = n
				break
			}
		}
	}
	if _, ok := s.devs[name]; ok {
		return nil, errExist
	}
	s.nextIdx++
	d := &fakeDev{nm: name, idx: s.nextIdx, tap: tap, mtu: mtu, in: make(chan []byte, 1024), out: make(chan []byte, 1024), done: make(chan struct{}), discard: s.discard}
	s.devs[name] = d
	kind := "tun"
	if tap {
		kind = "tap"
	}
	s.ops = append(s.ops, fmt.Sprintf("%s %s %d mtu %d", kind, name, d.idx, mtu))
	d.gone = func() {
		s.mu.Lock()
		if s.devs[name] == d {
			delete(s.devs, name)
		}
		s.mu.Unlock()
	}
	return d, nil
}

// dev returns the device named name.
func (s *fakeSys) dev(t testing.TB, name string) *fakeDev {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.devs[name]
	if !ok {
		t.Fatalf("no device %s", name)
	}
	return d
}

func (s *fakeSys) openEth(ifname string) (ethPort, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := &fakeEth{mac: [6]byte{2, 0, 0, 0, 0, byte(len(s.eths) + 1)}, mtu_: 1500, in: make(chan ethFrame, 1024), out: make(chan ethFrame, 1024), done: make(chan struct{}), discard: s.discard}
	s.eths[ifname] = e
	return e, nil
}

func (s *fakeSys) op(format string, args ...any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	op := fmt.Sprintf(format, args...)
	if err := s.fail(strings.Fields(op)[0] + " " + strings.Fields(op)[1]); err != nil {
		return err
	}
	s.ops = append(s.ops, op)
	return nil
}

func (s *fakeSys) setMTU(dev, mtu int) error { return s.op("mtu set %d %d", dev, mtu) }
func (s *fakeSys) addAddr(dev int, local netip.Prefix, peer netip.Addr) error {
	if peer.IsValid() {
		return s.op("addr add %d %v peer %v", dev, local, peer)
	}
	return s.op("addr add %d %v", dev, local)
}

func (s *fakeSys) delAddr(dev int, local netip.Prefix, peer netip.Addr) error {
	if peer.IsValid() {
		return s.op("addr del %d %v peer %v", dev, local, peer)
	}
	return s.op("addr del %d %v", dev, local)
}

func (s *fakeSys) replaceRoute(dst netip.Prefix, dev int, src netip.Addr, mtu int) error {
	op := fmt.Sprintf("route replace %v dev %d", dst, dev)
	if src.IsValid() {
		op += fmt.Sprintf(" src %v", src)
	}
	if mtu != 0 {
		op += fmt.Sprintf(" mtu lock %d", mtu)
	}
	return s.op("%s", op)
}

func (s *fakeSys) delRoute(dst netip.Prefix, dev int) error {
	return s.op("route del %v dev %d", dst, dev)
}

func (s *fakeSys) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

// takeOps returns and forgets the recorded operations.
func (s *fakeSys) takeOps() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ops := s.ops
	s.ops = nil
	return ops
}

// newTestDP returns a data plane on a fake system; cleanup closes it and checks that no
// data-plane goroutine is left.
func newTestDP(t testing.TB) (*Dataplane, *fakeSys) {
	t.Helper()
	// The first data plane of a test registers the goroutine check, which then runs
	// after every data plane of the test was closed.
	if _, loaded := readerChecks.LoadOrStore(t, true); !loaded {
		t.Cleanup(func() {
			readerChecks.Delete(t)
			checkNoReaders(t)
		})
	}
	fs := newFakeSys()
	d := newDataplane(Config{}, fs)
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return d, fs
}

var readerChecks sync.Map // testing.TB -> true

// checkNoReaders fails the test if a reader goroutine of this package is still running.
func checkNoReaders(t testing.TB) {
	t.Helper()
	var leaked string
	for range 200 {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		leaked = ""
		for _, g := range strings.Split(stacks, "\n\n") {
			if strings.Contains(g, "kernel/userspace.(*") && strings.Contains(g, ").run(") {
				leaked = g
				break
			}
		}
		if leaked == "" {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Errorf("reader goroutine left running:\n%s", leaked)
}

// Addresses used throughout the tests.
var (
	localAP = netip.MustParseAddrPort("192.0.2.1:1701")
	peerAP  = netip.MustParseAddrPort("192.0.2.2:1701")
	local6  = netip.MustParseAddrPort("[2001:db8::1]:1701")
	peer6   = netip.MustParseAddrPort("[2001:db8::2]:1701")
)

// mustStats is a helper for comparing one drop counter.
// waitFor polls cond until it holds, for effects of a reader goroutine that no later
// packet can reveal (a full queue drops silently).
func waitFor(t testing.TB, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
