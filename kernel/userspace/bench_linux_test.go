//go:build linux

package userspace

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/probox/probox/kernel"
)

// benchSys is the Linux system with real sockets (on loopback) and in-memory devices, so
// that the forwarding path runs without root: the benchmark plays the sending TUN device
// and counts what the receiving one gets.
type benchSys struct {
	system
	mu   sync.Mutex
	devs []*benchDev
}

func (s *benchSys) openTun(name string, tap bool, mtu int) (device, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := &benchDev{nm: name, done: make(chan struct{}), wake: make(chan struct{}, 1)}
	d.target.Store(^uint64(0))
	s.devs = append(s.devs, d)
	return d, nil
}

func (s *benchSys) setMTU(dev, mtu int) error                                  { return nil }
func (s *benchSys) addAddr(dev int, local netip.Prefix, peer netip.Addr) error { return nil }
func (s *benchSys) delAddr(dev int, local netip.Prefix, peer netip.Addr) error { return nil }
func (s *benchSys) replaceRoute(dst netip.Prefix, dev int, src netip.Addr, mtu int) error {
	return nil
}
func (s *benchSys) delRoute(dst netip.Prefix, dev int) error { return nil }

// benchDev counts the packets written to it and wakes a waiting sender when the count
// reaches target; reads block until it is closed.
type benchDev struct {
	nm      string
	packets atomic.Uint64
	bytes   atomic.Uint64
	target  atomic.Uint64
	wake    chan struct{}
	done    chan struct{}
	once    sync.Once
}

// waitFor blocks until n packets arrived, or fails after a timeout.
func (d *benchDev) waitFor(b *testing.B, n uint64) {
	d.target.Store(n)
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for d.packets.Load() < n {
		select {
		case <-d.wake:
		case <-deadline.C:
			b.Fatalf("%d of %d packets arrived", d.packets.Load(), n)
		}
	}
}

func (d *benchDev) name() string { return d.nm }
func (d *benchDev) index() int   { return 0 }
func (d *benchDev) read(b []byte) (int, error) {
	<-d.done
	return 0, errClosed
}

func (d *benchDev) write(b []byte) error {
	d.bytes.Add(uint64(len(b)))
	if d.packets.Add(1) >= d.target.Load() {
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

func (d *benchDev) close() error {
	d.once.Do(func() { close(d.done) })
	return nil
}

// BenchmarkForward measures the userspace forwarding path through one L2TP session on
// loopback: IP packet from the sending unit -> PPP -> L2TP -> UDP socket (sendmsg) ->
// UDP socket of the other tunnel (recvmmsg) -> L2TP -> PPP -> receiving unit. One op is
// one packet; allocs/op counts every goroutine of the path.
func BenchmarkForward(b *testing.B) {
	for _, bc := range []struct {
		name string
		ver  int
		size int
		sc   kernel.SessionConfig
	}{
		{name: "v2/64B", ver: 2, size: 64},
		{name: "v2/1400B", ver: 2, size: 1400},
		{name: "v2-seq/1400B", ver: 2, size: 1400, sc: kernel.SessionConfig{SendSeq: true, RecvSeq: true}},
		{name: "v3-cookie8-sublayer/1400B", ver: 3, size: 1400, sc: kernel.SessionConfig{Cookie: make([]byte, 8), PeerCookie: make([]byte, 8), L2Spec: kernel.L2SpecDefault, SendSeq: true, RecvSeq: true}},
	} {
		b.Run(bc.name, func(b *testing.B) { benchForward(b, bc.ver, bc.size, bc.sc) })
	}
}

func benchForward(b *testing.B, ver, size int, sc kernel.SessionConfig) {
	real, err := newOSSystem(Config{})
	if err != nil {
		b.Skipf("no system: %v", err)
	}
	sys := &benchSys{system: real}
	d := newDataplane(Config{}, sys)
	defer d.Close()

	lo := netip.MustParseAddrPort("127.0.0.1:0")
	tb, err := d.OpenTunnel(kernel.TunnelConfig{Version: ver, TunnelID: 2, Local: lo, Peer: netip.MustParseAddrPort("127.0.0.1:9")})
	if err != nil {
		b.Fatal(err)
	}
	ta, err := d.OpenTunnel(kernel.TunnelConfig{Version: ver, TunnelID: 1, Local: lo, Peer: tb.LocalAddr()})
	if err != nil {
		b.Fatal(err)
	}
	if err := ta.Establish(2, tb.LocalAddr()); err != nil {
		b.Fatal(err)
	}
	if err := tb.Establish(1, ta.LocalAddr()); err != nil {
		b.Fatal(err)
	}
	sc.SessionID, sc.PeerSessionID = 10, 20
	sa, err := ta.EnsureSession(sc)
	if err != nil {
		b.Fatal(err)
	}
	sc.SessionID, sc.PeerSessionID = 20, 10
	sb, err := tb.EnsureSession(sc)
	if err != nil {
		b.Fatal(err)
	}
	cha, _ := sa.Channel()
	chb, _ := sb.Channel()
	st := kernel.UnitState{IPv4Local: netip.MustParseAddr("10.0.0.1"), IPv4Peer: netip.MustParseAddr("10.0.0.2")}
	ua, err := d.NewUnit(cha, kernel.UnitConfig{MTU: 1500})
	if err != nil {
		b.Fatal(err)
	}
	ub, err := d.NewUnit(chb, kernel.UnitConfig{MTU: 1500})
	if err != nil {
		b.Fatal(err)
	}
	if err := ua.Set(st); err != nil {
		b.Fatal(err)
	}
	if err := ub.Set(st); err != nil {
		b.Fatal(err)
	}
	recv := sys.devs[1]
	u := ua.(*unit)

	buf := make([]byte, headroom+size)
	pkt := buf[headroom:]
	pkt[0] = 0x45
	pkt[2], pkt[3] = byte(size>>8), byte(size)

	// At most window packets in flight, so that the receiving socket's buffer never
	// overflows: when the window is full the sender sleeps until half of it arrived.
	const window = 256
	send := func(n int) {
		sent := recv.packets.Load()
		for range n {
			if sent-recv.packets.Load() >= window {
				recv.waitFor(b, sent-window/2)
			}
			u.toPeer(buf, headroom, protoIPv4)
			sent++
		}
		recv.waitFor(b, sent)
	}
	send(1000) // warm up: buffers, pools, sockets
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	send(b.N)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
	if drops := ua.Stats().Dropped() + ub.Stats().Dropped() + ta.Stats().Dropped() + tb.Stats().Dropped(); drops != 0 {
		b.Errorf("%d drops", drops)
	}
}
