package userspace

import (
	"net"
	"net/netip"
	"testing"

	"github.com/probox/probox/kernel"
)

// The fuzz targets feed arbitrary datagrams and frames to the receive paths, which parse
// what peers send, and check that each input is accounted for exactly once: delivered,
// queued for the engine, or dropped with a reason.

// drain discards what the fakes receive, so that they never block a fuzz run.
func drain(t testing.TB, devs []*fakeDev, conns []*fakeConn, eths []*fakeEth) {
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	for _, d := range devs {
		go func() {
			for {
				select {
				case <-d.out:
				case <-done:
					return
				}
			}
		}()
	}
	for _, c := range conns {
		go func() {
			for {
				select {
				case <-c.out:
				case <-done:
					return
				}
			}
		}()
	}
	for _, e := range eths {
		go func() {
			for {
				select {
				case <-e.out:
				case <-done:
					return
				}
			}
		}()
	}
}

// fuzzTunnelT sets up a tunnel with a session passing IPv4 and IPv6, on its own data
// plane, and returns it.
func fuzzTunnelT(f *testing.F, cfg kernel.TunnelConfig, sc kernel.SessionConfig) (*tunnel, *fakeSys) {
	d, fs := newTestDP(f)
	kt, err := d.OpenTunnel(cfg)
	if err != nil {
		f.Fatal(err)
	}
	kt.Establish(20, netip.AddrPort{})
	s, err := kt.EnsureSession(sc)
	if err != nil {
		f.Fatal(err)
	}
	ch, _ := s.Channel()
	u, err := d.NewUnit(ch, kernel.UnitConfig{})
	if err != nil {
		f.Fatal(err)
	}
	if err := u.Set(kernel.UnitState{IPv4Local: a1, IPv4Peer: a2, IPv6Local: ll1, IPv6Peer: ll2}); err != nil {
		f.Fatal(err)
	}
	drain(f, []*fakeDev{fs.dev(f, u.Name())}, fs.conns, nil)
	return kt.(*tunnel), fs
}

// accounted runs one input through handle and checks the counters of t.
func accounted(t *testing.T, tun *tunnel, handle func()) {
	before := tun.ctr.snapshot()
	handle()
	queued := 0
	select {
	case m := <-tun.ctrl.q:
		tun.ctrl.release(m.buf)
		queued = 1
	default:
	}
	after := tun.ctr.snapshot()
	if d := int(after.RxPackets-before.RxPackets) + int(after.Dropped()-before.Dropped()) + queued; d != 1 {
		t.Errorf("input accounted %d times (counters %+v -> %+v, queued %d)", d, before, after, queued)
	}
}

func FuzzL2TPv2Input(f *testing.F) {
	for _, s := range [][]byte{
		cat(hx("0002 000a 0001 ff03 0021"), pingIn),
		cat(hx("4b02 0020 000a 0001 0000 0000 0002 0000 ff03 0021"), pingIn),
		cat(hx("0202 000a 0001 0003 aabbcc ff03 c021"), lcpReq[2:]),
		hx("0002 000a 0001 21 4500"),
		hx("c802 0014 000a 0000 0000 0001 8008 0000 0000 0002"),
		hx("0001 000a 0001"),
	} {
		f.Add(s)
	}
	tun, _ := fuzzTunnelT(f, kernel.TunnelConfig{Version: 2, TunnelID: 10, Local: localAP, Peer: peerAP},
		kernel.SessionConfig{SessionID: 1, PeerSessionID: 2, RecvSeq: true})
	buf := make([]byte, headroom+sockBufSize)
	f.Fuzz(func(t *testing.T, in []byte) {
		m := msg{buf: buf, off: headroom}
		m.n = copy(buf[headroom:], in)
		m.trunc = len(in) > sockBufSize
		accounted(t, tun, func() { tun.handleUDP(&m) })
	})
}

func FuzzL2TPv3Input(f *testing.F) {
	for _, s := range [][]byte{
		cat(hx("0003 0000 00000001 01020304 40000007 ff03 0021"), pingIn),
		cat(hx("00000001 01020304 40000007 0021"), pingIn),
		hx("00000000 c803 0014 0000000a 0000 0000"),
		hx("0003 0000 00000001 0102"),
	} {
		f.Add(s, true)
		f.Add(s, false)
	}
	sc := kernel.SessionConfig{SessionID: 1, PeerSessionID: 2, Cookie: hx("01020304"), PeerCookie: hx("05060708"), L2Spec: kernel.L2SpecDefault, RecvSeq: true}
	udp, _ := fuzzTunnelT(f, kernel.TunnelConfig{Version: 3, TunnelID: 10, Local: localAP, Peer: peerAP}, sc)
	sc.SessionID = 3
	ip, _ := fuzzTunnelT(f, kernel.TunnelConfig{Version: 3, Encap: kernel.EncapIP, TunnelID: 10, Local: localAP, Peer: peerAP}, sc)
	buf := make([]byte, headroom+sockBufSize)
	f.Fuzz(func(t *testing.T, in []byte, overUDP bool) {
		m := msg{buf: buf, off: headroom, src: netip.AddrPortFrom(peerAP.Addr(), 0)}
		m.n = copy(buf[headroom:], in)
		m.trunc = len(in) > sockBufSize
		if overUDP {
			accounted(t, udp, func() { udp.handleUDP(&m) })
			return
		}
		// Over IP the raw socket's demultiplexer runs first; it may hand the packet to
		// the tunnel, to a listener (none here) or drop it on its own counters.
		dm := ip.dm
		before := dm.ctr.snapshot()
		tb := ip.ctr.snapshot()
		dm.handle(&m)
		queued := 0
		select {
		case q := <-ip.ctrl.q:
			ip.ctrl.release(q.buf)
			queued = 1
		default:
		}
		after, ta := dm.ctr.snapshot(), ip.ctr.snapshot()
		n := int(after.Dropped()-before.Dropped()) + int(ta.RxPackets-tb.RxPackets) + int(ta.Dropped()-tb.Dropped()) + queued
		if n != 1 {
			t.Errorf("input accounted %d times", n)
		}
	})
}

func FuzzPPPoEInput(f *testing.F) {
	for _, s := range [][]byte{
		sessFrame(7, cat(hx("0021"), pingIn)),
		sessFrame(7, lcpReq),
		cat(sessFrame(7, hx("0057")), make([]byte, 20)),
		hx("1100 0007 00ff 0021"),
		padi,
	} {
		f.Add(s, uint16(etherTypeSession))
		f.Add(s, uint16(etherTypeDiscovery))
	}
	d, fs := newTestDP(f)
	kp, err := d.OpenPPPoE(kernel.PPPoEConfig{Interface: "eth1"})
	if err != nil {
		f.Fatal(err)
	}
	p := kp.(*pppoePort)
	ch, err := p.OpenSession(7, kernel.FrameInfo{Dst: net.HardwareAddr(clientMAC[:])}, 0)
	if err != nil {
		f.Fatal(err)
	}
	u, err := d.NewUnit(ch, kernel.UnitConfig{})
	if err != nil {
		f.Fatal(err)
	}
	if err := u.Set(kernel.UnitState{IPv4Local: a1, IPv4Peer: a2}); err != nil {
		f.Fatal(err)
	}
	fs.mu.Lock()
	devs := []*fakeDev{fs.devs[u.Name()]}
	fs.mu.Unlock()
	drain(f, devs, nil, []*fakeEth{fs.eths["eth1"]})
	buf := make([]byte, headroom+1600)
	f.Fuzz(func(t *testing.T, in []byte, etherType uint16) {
		if len(in) > 1500 {
			in = in[:1500]
		}
		n := copy(buf[headroom+14:], in)
		fr := ethFrame{dst: fs.eths["eth1"].mac, src: clientMAC, etherType: etherType, payload: buf[headroom+14 : headroom+14+n]}
		before := p.ctr.snapshot()
		p.handle(buf, fr)
		queued := 0
		select {
		case m := <-p.disc.q:
			p.disc.release(m.buf)
			queued = 1
		default:
		}
		// Drain the channel's control queue too.
		c := ch.(*channel)
		select {
		case m := <-c.ctrl.q:
			c.ctrl.release(m.buf)
		default:
		}
		after := p.ctr.snapshot()
		if etherType != etherTypeSession && etherType != etherTypeDiscovery {
			if after != before {
				t.Errorf("ether type %#04x counted", etherType)
			}
			return
		}
		if got := int(after.RxPackets-before.RxPackets) + int(after.Dropped()-before.Dropped()); got != 1 {
			t.Errorf("input accounted %d times (queued %d)", got, queued)
		}
	})
}
