//go:build linux

package userspace

import (
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/probox/probox/e2e/netns"
	"github.com/probox/probox/kernel"
)

// The end-to-end tests run real data planes in network namespaces joined by veth pairs,
// configured by the test as the engines would configure them, and ping across. They need
// root (netns skips them otherwise) and are skipped with -short.

// e2eEnv checks at the end of a test that the data planes left no goroutine, descriptor
// or interface behind.
type e2eEnv struct {
	t   *testing.T
	bed *netns.Bed
	nss []*netns.NS
	dps []*Dataplane
}

func newE2E(t *testing.T) *e2eEnv {
	t.Helper()
	netns.CheckFDs(t) // first, so that its check runs after every other cleanup
	goroutines := runtime.NumGoroutine()
	e := &e2eEnv{t: t, bed: netns.New(t)}
	t.Cleanup(func() {
		// Runs before the bed's cleanup: the data planes must be gone by now.
		e.closeAll()
		checkNoReaders(t)
		deadline := time.Now().Add(2 * time.Second)
		for runtime.NumGoroutine() > goroutines && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > goroutines {
			buf := make([]byte, 1<<20)
			t.Errorf("%d goroutines after the test, %d before:\n%s", n, goroutines, buf[:runtime.Stack(buf, true)])
		}
	})
	return e
}

// ns creates a namespace and records it for the interface check.
func (e *e2eEnv) ns(name string) *netns.NS {
	n := e.bed.NS(name)
	e.nss = append(e.nss, n)
	return n
}

// dataplane opens a data plane inside ns; it stays bound to ns.
func (e *e2eEnv) dataplane(ns *netns.NS, cfg Config) *Dataplane {
	e.t.Helper()
	cfg.Log = zaptest.NewLogger(e.t, zaptest.Level(zap.InfoLevel)).Named(ns.Name())
	var d *Dataplane
	if err := ns.Do(func() (err error) {
		d, err = New(cfg)
		return err
	}); err != nil {
		e.t.Fatalf("New in %s: %v", ns, err)
	}
	e.dps = append(e.dps, d)
	return d
}

// closeAll closes every data plane and checks that only the veth interfaces are left.
func (e *e2eEnv) closeAll() {
	for _, d := range e.dps {
		if err := d.Close(); err != nil {
			e.t.Errorf("Close: %v", err)
		}
	}
	e.dps = nil
	for _, n := range e.nss {
		e.bed.AssertNoLinks(n, "eth0", "eth1")
	}
}

func (e *e2eEnv) must(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

// side is one end of an L2TP session in the tests.
type side struct {
	d            *Dataplane
	local, peer  netip.AddrPort
	tid, peerTID uint32
	sid, peerSID uint32
}

// l2tpSession opens a tunnel and a session on one side.
func (e *e2eEnv) l2tpSession(s side, ver int, encap kernel.Encap, sc kernel.SessionConfig) kernel.Session {
	e.t.Helper()
	tun, err := s.d.OpenTunnel(kernel.TunnelConfig{Version: ver, Encap: encap, Local: s.local, Peer: s.peer, TunnelID: s.tid, UDPChecksums: true})
	e.must(err)
	e.must(tun.Establish(s.peerTID, s.peer))
	sc.SessionID, sc.PeerSessionID = s.sid, s.peerSID
	sess, err := tun.EnsureSession(sc)
	e.must(err)
	return sess
}

// pppUnit creates a unit on the channel and configures it as IPCP would.
func (e *e2eEnv) pppUnit(d *Dataplane, ch kernel.Channel, shared bool, local, peer string) kernel.Unit {
	e.t.Helper()
	return e.pppUnit6(d, ch, shared, kernel.UnitState{IPv4Local: netip.MustParseAddr(local), IPv4Peer: netip.MustParseAddr(peer)})
}

// pppUnit6 creates a unit on the channel and configures it with st.
func (e *e2eEnv) pppUnit6(d *Dataplane, ch kernel.Channel, shared bool, st kernel.UnitState) kernel.Unit {
	e.t.Helper()
	u, err := d.NewUnit(ch, kernel.UnitConfig{Shared: shared, Name: "ppp%d"})
	e.must(err)
	e.must(u.Set(st))
	return u
}

// pair returns two namespaces joined by a veth pair eth0–eth0, with addresses.
func (e *e2eEnv) pair() (a, z *netns.NS) {
	a, z = e.ns("a"), e.ns("z")
	e.bed.Link(a, "eth0", z, "eth0")
	a.AddAddr("eth0", "192.0.2.1/24", "2001:db8::1/64")
	z.AddAddr("eth0", "192.0.2.2/24", "2001:db8::2/64")
	return a, z
}

func TestE2EL2TP(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ver     int
		encap   kernel.Encap
		v6      bool
		session kernel.SessionConfig
		shared  bool // z's unit is on the shared device
	}{
		{name: "v2 udp4", ver: 2},
		{name: "v2 udp4 sequencing", ver: 2, session: kernel.SessionConfig{SendSeq: true, RecvSeq: true}},
		{name: "v2 udp6", ver: 2, v6: true},
		{name: "v3 udp4 cookies", ver: 3, session: kernel.SessionConfig{Cookie: []byte{1, 2, 3, 4}, PeerCookie: []byte{1, 2, 3, 4}, L2Spec: kernel.L2SpecDefault, SendSeq: true, RecvSeq: true}},
		{name: "v3 ip4", ver: 3, encap: kernel.EncapIP, session: kernel.SessionConfig{Cookie: []byte{1, 2, 3, 4, 5, 6, 7, 8}, PeerCookie: []byte{1, 2, 3, 4, 5, 6, 7, 8}}},
		{name: "v3 ip6", ver: 3, encap: kernel.EncapIP, v6: true},
		{name: "v2 udp4 shared unit", ver: 2, shared: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newE2E(t)
			a, z := e.pair()
			da, dz := e.dataplane(a, Config{}), e.dataplane(z, Config{})
			la, lz := netip.MustParseAddrPort("192.0.2.1:1701"), netip.MustParseAddrPort("192.0.2.2:1701")
			if tc.v6 {
				la, lz = netip.MustParseAddrPort("[2001:db8::1]:1701"), netip.MustParseAddrPort("[2001:db8::2]:1701")
			}
			sa := e.l2tpSession(side{d: da, local: la, peer: lz, tid: 1, peerTID: 2, sid: 10, peerSID: 20}, tc.ver, tc.encap, tc.session)
			sz := e.l2tpSession(side{d: dz, local: lz, peer: la, tid: 2, peerTID: 1, sid: 20, peerSID: 10}, tc.ver, tc.encap, tc.session)
			cha, _ := sa.Channel()
			chz, _ := sz.Channel()
			// IPv4 in one /30, and IPv6 link-local addresses as IPv6CP gives them.
			ll1, ll2 := netip.MustParseAddr("fe80::1"), netip.MustParseAddr("fe80::2")
			ua := e.pppUnit6(da, cha, false, kernel.UnitState{IPv4Local: netip.MustParseAddr("10.9.0.1"), IPv4Peer: netip.MustParseAddr("10.9.0.2"), IPv6Local: ll1, IPv6Peer: ll2})
			uz := e.pppUnit6(dz, chz, tc.shared, kernel.UnitState{IPv4Local: netip.MustParseAddr("10.9.0.2"), IPv4Peer: netip.MustParseAddr("10.9.0.1"), IPv6Local: ll2, IPv6Peer: ll1})
			a.Ping(t, "10.9.0.2", 3)
			z.Ping(t, "10.9.0.1", 3)
			a.Ping(t, "fe80::2%"+ua.Name(), 3)
			z.Ping(t, "fe80::1%"+uz.Name(), 3)
			// PPP control frames pass too.
			e.must(cha.WriteFrame(lcpReq))
			b := make([]byte, 100)
			n, err := chz.ReadFrame(b)
			e.must(err)
			if string(b[:n]) != string(lcpReq) {
				t.Errorf("LCP frame %x, want %x", b[:n], lcpReq)
			}
			if st := sa.Stats(); st.RxPackets < 6 || st.TxPackets < 6 {
				t.Errorf("session counters %+v", st)
			}
		})
	}
}

func TestE2EEthernetPseudowire(t *testing.T) {
	e := newE2E(t)
	a, z := e.pair()
	da, dz := e.dataplane(a, Config{}), e.dataplane(z, Config{})
	la, lz := netip.MustParseAddrPort("192.0.2.1:1701"), netip.MustParseAddrPort("192.0.2.2:1701")
	sc := kernel.SessionConfig{PWType: kernel.PWEthernet, IfName: "pw0", Cookie: []byte{9, 9, 9, 9}, PeerCookie: []byte{9, 9, 9, 9}}
	e.l2tpSession(side{d: da, local: la, peer: lz, tid: 1, peerTID: 2, sid: 10, peerSID: 20}, 3, kernel.EncapUDP, sc)
	e.l2tpSession(side{d: dz, local: lz, peer: la, tid: 2, peerTID: 1, sid: 20, peerSID: 10}, 3, kernel.EncapUDP, sc)
	a.AddAddr("pw0", "10.8.0.1/24")
	z.AddAddr("pw0", "10.8.0.2/24")
	a.Ping(t, "10.8.0.2", 3)
	z.Ping(t, "10.8.0.1", 3)
}

// pppoePair opens PPPoE session 7 between a and z over their eth0, on the tags of tags
// (which both ports serve by cfg).
func (e *e2eEnv) pppoePair(da, dz *Dataplane, cfg kernel.PPPoEConfig, tags kernel.FrameInfo) (cha, chz kernel.Channel) {
	e.t.Helper()
	cfg.Interface = "eth0"
	pa, err := da.OpenPPPoE(cfg)
	e.must(err)
	pz, err := dz.OpenPPPoE(cfg)
	e.must(err)
	cha, err = pa.OpenSession(7, kernel.FrameInfo{Dst: pz.HardwareAddr(), VLAN: tags.VLAN, OuterVLAN: tags.OuterVLAN}, 0)
	e.must(err)
	chz, err = pz.OpenSession(7, kernel.FrameInfo{Dst: pa.HardwareAddr(), VLAN: tags.VLAN, OuterVLAN: tags.OuterVLAN}, 0)
	e.must(err)

	// Discovery frames reach the other side with their envelope (the veth may strip the
	// outer tag into the packet's auxiliary data: the data plane reads it there).
	e.must(pa.WriteDiscovery(padi, kernel.FrameInfo{Dst: net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, VLAN: tags.VLAN, OuterVLAN: tags.OuterVLAN}))
	b := make([]byte, 1500)
	n, info, err := pz.ReadDiscovery(b)
	e.must(err)
	if string(b[:n]) != string(padi) || info.Src.String() != pa.HardwareAddr().String() || info.VLAN != tags.VLAN || info.OuterVLAN != tags.OuterVLAN {
		e.t.Errorf("discovery frame %x from %v on VLAN %d.%d, want %d.%d", b[:n], info.Src, info.OuterVLAN, info.VLAN, tags.OuterVLAN, tags.VLAN)
	}
	return cha, chz
}

func TestE2EPPPoE(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  kernel.PPPoEConfig
		tags kernel.FrameInfo
	}{
		{name: "untagged"},
		{name: "vlan", cfg: kernel.PPPoEConfig{VLANs: []uint16{100}}, tags: kernel.FrameInfo{VLAN: 100}},
		{name: "qinq", cfg: kernel.PPPoEConfig{QinQ: []kernel.QinQ{{Outer: 10, InnerFirst: 100, InnerLast: 199}}}, tags: kernel.FrameInfo{OuterVLAN: 10, VLAN: 150}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newE2E(t)
			a, z := e.pair()
			da, dz := e.dataplane(a, Config{}), e.dataplane(z, Config{})
			cha, chz := e.pppoePair(da, dz, tc.cfg, tc.tags)
			if cha.MTU() != 1492 {
				t.Errorf("channel MTU %d, want 1492", cha.MTU())
			}
			e.pppUnit(da, cha, false, "10.7.0.2", "10.7.0.1")
			e.pppUnit(dz, chz, true, "10.7.0.1", "10.7.0.2")
			a.Ping(t, "10.7.0.1", 3)
			z.Ping(t, "10.7.0.2", 3)
			e.must(chz.WriteFrame(lcpReq))
			b := make([]byte, 100)
			n, err := cha.ReadFrame(b)
			e.must(err)
			if string(b[:n]) != string(lcpReq) {
				t.Errorf("LCP frame %x, want %x", b[:n], lcpReq)
			}
		})
	}
}

// TestE2EBridge is a LAC: a PPPoE client in c, the LAC in l bridging the PPPoE session to
// an L2TP session, and the LNS in n.
func TestE2EBridge(t *testing.T) {
	e := newE2E(t)
	c, l, n := e.ns("c"), e.ns("l"), e.ns("n")
	e.bed.Link(c, "eth0", l, "eth0")
	e.bed.Link(l, "eth1", n, "eth0")
	l.AddAddr("eth1", "192.0.2.1/24")
	n.AddAddr("eth0", "192.0.2.2/24")
	dc, dl, dn := e.dataplane(c, Config{}), e.dataplane(l, Config{}), e.dataplane(n, Config{})

	chc, chl := e.pppoePair(dc, dl, kernel.PPPoEConfig{}, kernel.FrameInfo{})
	la, ln := netip.MustParseAddrPort("192.0.2.1:1701"), netip.MustParseAddrPort("192.0.2.2:1701")
	sl := e.l2tpSession(side{d: dl, local: la, peer: ln, tid: 1, peerTID: 2, sid: 10, peerSID: 20}, 2, kernel.EncapUDP, kernel.SessionConfig{})
	sn := e.l2tpSession(side{d: dn, local: ln, peer: la, tid: 2, peerTID: 1, sid: 20, peerSID: 10}, 2, kernel.EncapUDP, kernel.SessionConfig{})
	l2l, _ := sl.Channel()
	chn, _ := sn.Channel()
	br, err := dl.Bridge(chl, l2l)
	e.must(err)
	e.pppUnit(dc, chc, false, "10.6.0.2", "10.6.0.1")
	e.pppUnit(dn, chn, true, "10.6.0.1", "10.6.0.2")
	c.Ping(t, "10.6.0.1", 3)
	n.Ping(t, "10.6.0.2", 3)

	// LCP from the client reaches the LNS through the bridge, not the LAC.
	e.must(chc.WriteFrame(lcpReq))
	b := make([]byte, 100)
	k, err := chn.ReadFrame(b)
	e.must(err)
	if string(b[:k]) != string(lcpReq) {
		t.Errorf("LCP frame at the LNS %x, want %x", b[:k], lcpReq)
	}
	e.must(br.Close())
	e.must(chc.WriteFrame(lcpReq))
	k, err = chl.ReadFrame(b)
	e.must(err)
	if string(b[:k]) != string(lcpReq) {
		t.Errorf("LCP frame at the LAC after the bridge closed %x", b[:k])
	}
	if st := dn.SharedUnitStats(); st.RxPackets < 6 || st.TxPackets < 6 {
		t.Errorf("shared unit counters at the LNS %+v", st)
	}
}

// TestE2EListen checks the listeners: the first control packet of a peer without a tunnel
// reaches the listener with the local address it was sent to, and once the tunnel is
// open its packets go to the tunnel.
func TestE2EListen(t *testing.T) {
	for _, tc := range []struct {
		name   string
		encap  kernel.Encap
		listen string
	}{
		{name: "udp4", listen: "0.0.0.0:1701"},
		{name: "udp dual stack", listen: "[::]:1701"},
		{name: "ip4", encap: kernel.EncapIP, listen: "0.0.0.0:0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newE2E(t)
			a, z := e.pair()
			a.AddAddr("eth0", "192.0.2.11/24") // the client uses another address
			da, dz := e.dataplane(a, Config{}), e.dataplane(z, Config{})
			l, err := dz.Listen(kernel.ListenConfig{Encap: tc.encap, Addr: netip.MustParseAddrPort(tc.listen)})
			e.must(err)
			ver, port := 2, uint16(1701)
			if tc.encap == kernel.EncapIP {
				ver, port = 3, 0
			}
			// v2: SCCRQ to tunnel 0; v3: SCCRQ with Control Connection ID 0.
			sccrq := hx("c802 000c 0000 0000 0000 0000")
			reply := hx("c802 000c 0005 0000 0000 0001")
			next := hx("c802 000c 0006 0000 0001 0001")
			if ver == 3 {
				sccrq = hx("c803 000c 00000000 0000 0000")
				reply = hx("c803 000c 00000005 0000 0001")
				next = hx("c803 000c 00000006 0001 0001")
			}
			server := netip.AddrPortFrom(netip.MustParseAddr("192.0.2.2"), port)
			ta, err := da.OpenTunnel(kernel.TunnelConfig{Version: ver, Encap: tc.encap, TunnelID: 5,
				Local: netip.MustParseAddrPort("192.0.2.11:0"), Peer: server})
			e.must(err)
			e.must(ta.WriteControl(sccrq))

			b := make([]byte, 1500)
			n, src, dst, err := l.ReadFrom(b)
			e.must(err)
			if string(b[:n]) != string(sccrq) {
				t.Errorf("listener read %x, want %x", b[:n], sccrq)
			}
			if src.Addr() != netip.MustParseAddr("192.0.2.11") || dst != server.Addr() {
				t.Errorf("listener: from %v to %v, want from 192.0.2.11 to %v", src, dst, server.Addr())
			}
			if tc.encap == kernel.EncapUDP && src != ta.LocalAddr() {
				t.Errorf("listener: from %v, want %v", src, ta.LocalAddr())
			}

			// The server's tunnel: bound to the address the packet arrived on and the
			// listener's port.
			tz, err := dz.OpenTunnel(kernel.TunnelConfig{Version: ver, Encap: tc.encap, TunnelID: 6,
				Local: netip.AddrPortFrom(dst, l.Addr().Port()), Peer: src})
			e.must(err)
			e.must(tz.WriteControl(reply))
			n, _, err = ta.ReadControl(b)
			e.must(err)
			if string(b[:n]) != string(reply) {
				t.Errorf("client read %x, want %x", b[:n], reply)
			}
			e.must(ta.WriteControl(next))
			n, _, err = tz.ReadControl(b)
			e.must(err)
			if string(b[:n]) != string(next) {
				t.Errorf("server tunnel read %x, want %x", b[:n], next)
			}
			// The listener answers peers it does not accept.
			e.must(l.WriteTo(reply, src))
			n, _, err = ta.ReadControl(b)
			e.must(err)
			if string(b[:n]) != string(reply) {
				t.Errorf("client read %x from the listener, want %x", b[:n], reply)
			}
		})
	}
}
