package userspace

import (
	"net"
	"net/netip"
	"testing"

	"github.com/probox/probox/kernel"
)

// TestNoAllocs checks that each data path allocates nothing per packet, on fakes that
// count what they are given. (BenchmarkForward checks the L2TP path over real sockets.)
func TestNoAllocs(t *testing.T) {
	d, fs := newTestDP(t)
	fs.discard = true
	st := kernel.UnitState{IPv4Local: a1, IPv4Peer: a2}

	// L2TPv2 over UDP with a dedicated unit.
	kt, err := d.OpenTunnel(kernel.TunnelConfig{Version: 2, TunnelID: 10, Local: localAP, Peer: peerAP})
	if err != nil {
		t.Fatal(err)
	}
	kt.Establish(20, netip.AddrPort{})
	s, _ := kt.EnsureSession(kernel.SessionConfig{SessionID: 1, PeerSessionID: 2, SendSeq: true, RecvSeq: true})
	ch, _ := s.Channel()
	ku, _ := d.NewUnit(ch, kernel.UnitConfig{})
	ku.Set(st)
	tun, u := kt.(*tunnel), ku.(*unit)

	// L2TPv3 over IP with a shared unit.
	kt3, err := d.OpenTunnel(kernel.TunnelConfig{Version: 3, Encap: kernel.EncapIP, TunnelID: 11, Local: localAP, Peer: peerAP})
	if err != nil {
		t.Fatal(err)
	}
	kt3.Establish(21, netip.AddrPort{})
	s3, _ := kt3.EnsureSession(kernel.SessionConfig{SessionID: 3, PeerSessionID: 4, Cookie: hx("0102030405060708"), PeerCookie: hx("01020304"), L2Spec: kernel.L2SpecDefault})
	ch3, _ := s3.Channel()
	ku3, _ := d.NewUnit(ch3, kernel.UnitConfig{Shared: true})
	ku3.Set(kernel.UnitState{IPv4Local: a1, IPv4Peer: a3})
	u3 := ku3.(*unit)
	dm := kt3.(*tunnel).dm

	// PPPoE with a dedicated unit, and a second PPPoE session bridged to a v2 session.
	kp, _ := d.OpenPPPoE(kernel.PPPoEConfig{Interface: "eth1"})
	p := kp.(*pppoePort)
	pch, _ := p.OpenSession(7, kernel.FrameInfo{Dst: net.HardwareAddr(clientMAC[:])}, 0)
	kpu, _ := d.NewUnit(pch, kernel.UnitConfig{})
	kpu.Set(st)
	pu := kpu.(*unit)
	bch, _ := p.OpenSession(8, kernel.FrameInfo{Dst: net.HardwareAddr(clientMAC[:])}, 0)
	s2, _ := kt.EnsureSession(kernel.SessionConfig{SessionID: 2, PeerSessionID: 3})
	ch2, _ := s2.Channel()
	if _, err := d.Bridge(bch, ch2); err != nil {
		t.Fatal(err)
	}

	buf := make([]byte, headroom+2048)
	load := func(b []byte) msg {
		n := copy(buf[headroom:], b)
		return msg{buf: buf, off: headroom, n: n, src: netip.AddrPortFrom(peerAP.Addr(), 0)}
	}
	// The packets, built once: the runs must allocate nothing themselves.
	v2in := cat(hx("0802 000a 0001 0000 0000 ff03 0021"), pingIn)
	v3in := cat(hx("00000003 0102030405060708 00000000 ff03 0021"), pingIn)
	toA3 := ip4("10.0.0.1", "10.0.0.3", "x")
	pppoeIn := sessFrame(7, cat(hx("0021"), pingIn))
	pppoeLCP := sessFrame(8, lcpReq)
	l2tpLCP := cat(hx("0002 000a 0002 ff03"), lcpReq)
	var ns uint16
	frame := func(b []byte) ethFrame {
		n := copy(buf[headroom+14:], b)
		return ethFrame{dst: p.mac, src: clientMAC, etherType: etherTypeSession, payload: buf[headroom+14 : headroom+14+n]}
	}
	for _, tc := range []struct {
		name string
		run  func()
	}{
		{name: "l2tpv2 receive", run: func() {
			ns++
			v2in[6], v2in[7] = byte(ns>>8), byte(ns)
			m := load(v2in)
			tun.handleUDP(&m)
		}},
		{name: "l2tpv2 send", run: func() {
			copy(buf[headroom:], pingOut)
			u.toPeer(buf[:headroom+len(pingOut)], headroom, protoIPv4)
		}},
		{name: "l2tpv3 ip receive", run: func() {
			m := load(v3in)
			dm.handle(&m)
		}},
		{name: "shared unit send", run: func() {
			copy(buf[headroom:], toA3)
			if x := u3.shared.lookup(a3); x != u3 {
				t.Fatal("lookup failed")
			}
			u3.toPeer(buf[:headroom+len(toA3)], headroom, protoIPv4)
		}},
		{name: "pppoe receive", run: func() { p.handle(buf, frame(pppoeIn)) }},
		{name: "pppoe send", run: func() {
			copy(buf[headroom:], pingOut)
			pu.toPeer(buf[:headroom+len(pingOut)], headroom, protoIPv4)
		}},
		{name: "bridge pppoe to l2tp", run: func() { p.handle(buf, frame(pppoeLCP)) }},
		{name: "bridge l2tp to pppoe", run: func() {
			m := load(l2tpLCP)
			tun.handleUDP(&m)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := testing.AllocsPerRun(100, tc.run); got != 0 {
				t.Errorf("%v allocations per packet", got)
			}
		})
	}
	// Everything went where it should, and nothing was dropped.
	for name, c := range map[string]kernel.Counters{"tunnel": tun.Stats(), "unit": u.Stats(), "ip unit": u3.Stats(), "pppoe unit": pu.Stats(), "bridged": bch.Stats(), "port": p.ctr.snapshot(), "ip socket": dm.ctr.snapshot()} {
		if c.Dropped() != 0 {
			t.Errorf("%s drops: %v", name, c.Drops)
		}
	}
	if got := fs.eths["eth1"].written.Load(); got < 200 {
		t.Errorf("%d frames written to the port, want at least 200", got)
	}
}
