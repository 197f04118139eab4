package userspace

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/probox/probox/kernel"
)

var (
	a1  = netip.MustParseAddr("10.0.0.1")
	a2  = netip.MustParseAddr("10.0.0.2")
	a3  = netip.MustParseAddr("10.0.0.3")
	ll1 = netip.MustParseAddr("fe80::1")
	ll2 = netip.MustParseAddr("fe80::2")
)

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// TestUnitSetDedicated drives a dedicated unit through a sequence of states and checks
// the device changes after each step.
func TestUnitSetDedicated(t *testing.T) {
	r := newRig(t, rigConfig{noUnit: true})
	u, err := r.d.NewUnit(r.ch, kernel.UnitConfig{Name: "cli%d", MTU: 1400})
	if err != nil {
		t.Fatal(err)
	}
	if u.Name() != "cli0" {
		t.Errorf("Name() = %q", u.Name())
	}
	if diff := cmp.Diff([]string{"tun cli0 11 mtu 1400"}, r.fs.takeOps()); diff != "" {
		t.Errorf("create (-want +got):\n%s", diff)
	}
	for _, step := range []struct {
		name  string
		state kernel.UnitState
		want  []string
	}{
		{name: "nothing"},
		{name: "ipcp", state: kernel.UnitState{IPv4Local: a1, IPv4Peer: a2},
			want: []string{"addr add 11 10.0.0.1/32 peer 10.0.0.2"}},
		{name: "same again", state: kernel.UnitState{IPv4Local: a1, IPv4Peer: a2}},
		{name: "default route and ipv6cp", state: kernel.UnitState{MTU: 1380, IPv4Local: a1, IPv4Peer: a2, IPv6Local: ll1, IPv6Peer: ll2, Routes: []netip.Prefix{pfx("0.0.0.0/0"), pfx("2001:db8::/32")}},
			want: []string{"mtu set 11 1380", "addr add 11 fe80::1/128 peer fe80::2", "route replace 0.0.0.0/0 dev 11 src 10.0.0.1", "route replace 2001:db8::/32 dev 11"}},
		{name: "new local address", state: kernel.UnitState{MTU: 1380, IPv4Local: a3, IPv4Peer: a2, IPv6Local: ll1, IPv6Peer: ll2, Routes: []netip.Prefix{pfx("0.0.0.0/0"), pfx("2001:db8::/32")}},
			want: []string{"addr del 11 10.0.0.1/32 peer 10.0.0.2", "addr add 11 10.0.0.3/32 peer 10.0.0.2", "route replace 0.0.0.0/0 dev 11 src 10.0.0.3"}},
		{name: "ipv6 down, route gone", state: kernel.UnitState{IPv4Local: a3, IPv4Peer: a2, Routes: []netip.Prefix{pfx("0.0.0.0/0")}},
			want: []string{"addr del 11 fe80::1/128 peer fe80::2", "route del 2001:db8::/32 dev 11"}},
		{name: "all down", state: kernel.UnitState{},
			want: []string{"addr del 11 10.0.0.3/32 peer 10.0.0.2", "route del 0.0.0.0/0 dev 11"}},
	} {
		if err := u.Set(step.state); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if diff := cmp.Diff(step.want, r.fs.takeOps()); diff != "" {
			t.Errorf("%s (-want +got):\n%s", step.name, diff)
		}
	}
	if err := u.Set(kernel.UnitState{IPv4Local: ll1, IPv4Peer: a2}); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("IPv6 address as IPv4Local: %v, want EINVAL", err)
	}

	// A failed step leaves what it could not do for the next Set.
	r.fs.mu.Lock()
	r.fs.failOp["route replace"] = syscall.ENETUNREACH
	r.fs.mu.Unlock()
	st := kernel.UnitState{IPv4Local: a1, IPv4Peer: a2, Routes: []netip.Prefix{pfx("198.51.100.0/24")}}
	if err := u.Set(st); !errors.Is(err, syscall.ENETUNREACH) {
		t.Errorf("Set with a failing route: %v", err)
	}
	r.fs.mu.Lock()
	delete(r.fs.failOp, "route replace")
	r.fs.mu.Unlock()
	if err := u.Set(st); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"addr add 11 10.0.0.1/32 peer 10.0.0.2", "route replace 198.51.100.0/24 dev 11 src 10.0.0.1"}, r.fs.takeOps()); diff != "" {
		t.Errorf("retry (-want +got):\n%s", diff)
	}

	if _, err := r.d.NewUnit(r.ch, kernel.UnitConfig{}); !errors.Is(err, syscall.EBUSY) {
		t.Errorf("second unit on a channel: %v, want EBUSY", err)
	}
	if err := u.Close(); err != nil {
		t.Fatal(err)
	}
	if err := u.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := u.Set(st); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Set after Close: %v, want net.ErrClosed", err)
	}
	// The channel is free for a new unit.
	u2, err := r.d.NewUnit(r.ch, kernel.UnitConfig{})
	if err != nil {
		t.Fatal(err)
	}
	u2.Close()
}

// TestUnitPassing checks that IP passes only once configured, and that control frames
// never reach the device.
func TestUnitPassing(t *testing.T) {
	r := newRig(t, rigConfig{noUnit: true})
	u, err := r.d.NewUnit(r.ch, kernel.UnitConfig{})
	if err != nil {
		t.Fatal(err)
	}
	dev := r.fs.dev(t, u.Name())
	v6in := ip6("fe80::2", "fe80::1", "six")
	r.conn.inject(cat(hx("0002 000a 0001 ff03 0021"), pingIn), peerAP) // not passing yet
	dev.in <- pingOut                                                  // not passing yet
	dev.in <- []byte{0x45, 0}                                          // a runt
	r.conn.inject(cat(hx("0002 000a 0001 ff03"), lcpReq), peerAP)
	if _, err := r.ch.ReadFrame(make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	if err := u.Set(kernel.UnitState{IPv6Local: ll1, IPv6Peer: ll2}); err != nil {
		t.Fatal(err)
	}
	r.conn.inject(cat(hx("0002 000a 0001 ff03 0057"), v6in), peerAP)
	if diff := cmp.Diff(v6in, dev.next(t)); diff != "" {
		t.Errorf("IPv6 (-want +got):\n%s", diff)
	}
	dev.in <- ip6("fe80::1", "fe80::2", "out")
	if got := r.conn.next(t).b; !bytes.HasPrefix(got, hx("0002 0014 0002 ff03 0057 60")) {
		t.Errorf("sent %x", got)
	}
	if st := r.ch.Stats(); st.Drops[kernel.DropNotPassing] != 1 {
		t.Errorf("channel drops %v, want 1 not_passing", st.Drops)
	}
	if st := u.Stats(); st.Drops[kernel.DropNotPassing] != 1 || st.Drops[kernel.DropMalformed] != 1 {
		t.Errorf("unit drops %v, want 1 not_passing and 1 malformed", st.Drops)
	}
	select {
	case p := <-dev.out:
		t.Errorf("unexpected packet on the TUN: %x", p)
	default:
	}
}

func TestSharedUnit(t *testing.T) {
	d, fs := newTestDP(t)
	tun, err := d.OpenTunnel(kernel.TunnelConfig{Version: 2, TunnelID: 10, Local: localAP, Peer: peerAP})
	if err != nil {
		t.Fatal(err)
	}
	if err := tun.Establish(20, peerAP); err != nil {
		t.Fatal(err)
	}
	conn := fs.conn(t, "dial")
	var units []kernel.Unit
	for i, peer := range []netip.Addr{a2, a3} {
		s, err := tun.EnsureSession(kernel.SessionConfig{SessionID: uint32(i + 1), PeerSessionID: uint32(100 + i)})
		if err != nil {
			t.Fatal(err)
		}
		ch, _ := s.Channel()
		u, err := d.NewUnit(ch, kernel.UnitConfig{Shared: true})
		if err != nil {
			t.Fatal(err)
		}
		if u.Name() != DefaultSharedUnit {
			t.Errorf("shared unit name %q", u.Name())
		}
		if err := u.Set(kernel.UnitState{IPv4Local: a1, IPv4Peer: peer}); err != nil {
			t.Fatal(err)
		}
		units = append(units, u)
	}
	if diff := cmp.Diff([]string{
		"tun probox0 11 mtu 1500",
		"addr add 11 10.0.0.1/32",
		// The sessions' MTU (1464) is below the device's: the kernel answers larger
		// packets with ICMP (or fragments them) by the route's locked MTU.
		"route replace 10.0.0.2/32 dev 11 src 10.0.0.1 mtu lock 1464",
		"route replace 10.0.0.3/32 dev 11 src 10.0.0.1 mtu lock 1464",
	}, fs.takeOps()); diff != "" {
		t.Errorf("setup (-want +got):\n%s", diff)
	}
	// A new MTU (the peer's MRU) changes the route's.
	if err := units[0].Set(kernel.UnitState{IPv4Local: a1, IPv4Peer: a2, MTU: 1400}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"route replace 10.0.0.2/32 dev 11 src 10.0.0.1 mtu lock 1400"}, fs.takeOps()); diff != "" {
		t.Errorf("MTU change (-want +got):\n%s", diff)
	}
	dev := fs.dev(t, DefaultSharedUnit)

	// Packets go to the session of their destination.
	for i, dst := range []string{"10.0.0.2", "10.0.0.3"} {
		dev.in <- ip4("10.0.0.1", dst, "x")
		got := conn.next(t).b
		if sid := got[5]; sid != byte(100+i) {
			t.Errorf("packet to %s went to peer session %d", dst, sid)
		}
	}
	// Received packets come out of the shared device.
	conn.inject(cat(hx("0002 000a 0002 ff03 0021"), ip4("10.0.0.3", "10.0.0.1", "y")), peerAP)
	if got := dev.next(t); !bytes.Equal(got, ip4("10.0.0.3", "10.0.0.1", "y")) {
		t.Errorf("shared device got %x", got)
	}
	// An unknown destination is dropped.
	dev.in <- ip4("10.0.0.1", "10.0.0.9", "z")
	dev.in <- ip4("10.0.0.1", "10.0.0.2", "x")
	conn.next(t)
	if st := d.SharedUnitStats(); st.Drops[kernel.DropNoRoute] != 1 || st.TxPackets != 3 || st.RxPackets != 1 {
		t.Errorf("shared counters %+v", st)
	}

	// A peer address belongs to one session.
	if err := units[1].Set(kernel.UnitState{IPv4Local: a1, IPv4Peer: a2}); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("taking another session's peer address: %v, want EEXIST", err)
	}
	fs.takeOps() // unit 1 lost its mapping trying
	if err := units[1].Set(kernel.UnitState{IPv4Local: a1, IPv4Peer: a3, IPv6Local: ll1, IPv6Peer: ll2, Routes: []netip.Prefix{pfx("198.51.100.0/24"), pfx("198.51.100.128/25")}}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{
		"route replace 10.0.0.3/32 dev 11 src 10.0.0.1 mtu lock 1464",
		"addr add 11 fe80::1/128",
		"route replace fe80::2/128 dev 11 mtu lock 1464",
		"route replace 198.51.100.0/24 dev 11 src 10.0.0.1 mtu lock 1464",
		"route replace 198.51.100.128/25 dev 11 src 10.0.0.1 mtu lock 1464",
	}, fs.takeOps()); diff != "" {
		t.Errorf("routes (-want +got):\n%s", diff)
	}
	// IPv6 by link-local address, framed routes by longest prefix.
	dev.in <- ip6("fe80::1", "fe80::2", "v6")
	if got := conn.next(t).b; got[5] != 101 {
		t.Errorf("IPv6 packet went to peer session %d", got[5])
	}
	dev.in <- ip4("10.0.0.1", "198.51.100.200", "framed")
	if got := conn.next(t).b; got[5] != 101 {
		t.Errorf("framed route packet went to peer session %d", got[5])
	}

	// Closing a unit removes its routes; the local address stays while unit 0 uses it.
	if err := units[1].Close(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{
		"route del 10.0.0.3/32 dev 11",
		"route del fe80::2/128 dev 11",
		"addr del 11 fe80::1/128",
		"route del 198.51.100.0/24 dev 11",
		"route del 198.51.100.128/25 dev 11",
	}, fs.takeOps()); diff != "" {
		t.Errorf("close (-want +got):\n%s", diff)
	}
	if err := units[0].Close(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"route del 10.0.0.2/32 dev 11", "addr del 11 10.0.0.1/32"}, fs.takeOps()); diff != "" {
		t.Errorf("close last (-want +got):\n%s", diff)
	}
	// The shared device lives until the data plane closes.
	select {
	case <-dev.done:
		t.Error("shared device closed with its last unit")
	default:
	}
	d.Close()
	select {
	case <-dev.done:
	default:
		t.Error("shared device open after Dataplane.Close")
	}
}

func TestChannelMTU(t *testing.T) {
	r := newRig(t, rigConfig{noUnit: true})
	// 1500 - IPv4 20 - UDP 8 - L2TPv2 6 - FF03 2.
	if got := r.ch.MTU(); got != 1464 {
		t.Errorf("MTU %d, want 1464", got)
	}
	big := make([]byte, 2+1465)
	big[0], big[1] = 0xc0, 0x21
	if err := r.ch.WriteFrame(big); !errors.Is(err, syscall.EMSGSIZE) {
		t.Errorf("WriteFrame over the MTU: %v, want EMSGSIZE", err)
	}
	if got := r.ch.Stats().Drops[kernel.DropTooBig]; got != 1 {
		t.Errorf("too-big drops %d", got)
	}
	if err := r.ch.WriteFrame(big[:2+1464]); err != nil {
		t.Errorf("WriteFrame at the MTU: %v", err)
	}
	if err := r.ch.WriteFrame([]byte{1}); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("WriteFrame of 1 byte: %v, want EINVAL", err)
	}
	r.conn.mu.Lock()
	r.conn.writeErr = syscall.ENOBUFS
	r.conn.mu.Unlock()
	if err := r.ch.WriteFrame(lcpReq); !errors.Is(err, syscall.ENOBUFS) {
		t.Errorf("WriteFrame on a failing socket: %v, want ENOBUFS", err)
	}
	if got := r.sess.Stats().Drops[kernel.DropWrite]; got != 1 {
		t.Errorf("session write drops %d, want 1", got)
	}
	r.ch.Close()
	if err := r.ch.WriteFrame(lcpReq); !errors.Is(err, net.ErrClosed) {
		t.Errorf("WriteFrame after Close: %v, want net.ErrClosed", err)
	}
}

func TestDataplaneClose(t *testing.T) {
	d, fs := newTestDP(t)
	if d.Name() != "userspace" {
		t.Errorf("Name() = %q", d.Name())
	}
	l, _ := d.Listen(kernel.ListenConfig{Addr: netip.MustParseAddrPort("0.0.0.0:1701")})
	lip, _ := d.Listen(kernel.ListenConfig{Encap: kernel.EncapIP, Addr: netip.MustParseAddrPort("[::]:0")})
	tun, _ := d.OpenTunnel(kernel.TunnelConfig{Version: 3, TunnelID: 1, Local: localAP, Peer: peerAP})
	tun.Establish(2, netip.AddrPort{})
	s, _ := tun.EnsureSession(kernel.SessionConfig{SessionID: 1, PeerSessionID: 1})
	eth, _ := tun.EnsureSession(kernel.SessionConfig{SessionID: 2, PeerSessionID: 2, PWType: kernel.PWEthernet})
	ch, _ := s.Channel()
	u, _ := d.NewUnit(ch, kernel.UnitConfig{Shared: true})
	port, _ := d.OpenPPPoE(kernel.PPPoEConfig{Interface: "eth1"})
	pch, _ := port.OpenSession(1, kernel.FrameInfo{Dst: net.HardwareAddr(clientMAC[:])}, 0)
	pu, _ := d.NewUnit(pch, kernel.UnitConfig{})
	br, err := d.Bridge(pch, ch)
	if err != nil {
		t.Fatal(err)
	}
	_ = eth
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	checkNoReaders(t)
	fs.mu.Lock()
	for _, c := range fs.conns {
		select {
		case <-c.done:
		default:
			t.Errorf("%s conn %v left open", c.kind, c.local)
		}
	}
	if len(fs.devs) != 0 {
		t.Errorf("devices left: %v", fs.devs)
	}
	if !fs.closed {
		t.Error("system not closed")
	}
	fs.mu.Unlock()
	// Everything is closed, and closing again is fine.
	b := make([]byte, 10)
	if _, _, _, err := l.ReadFrom(b); !errors.Is(err, net.ErrClosed) {
		t.Errorf("listener: %v", err)
	}
	if _, _, _, err := lip.ReadFrom(b); !errors.Is(err, net.ErrClosed) {
		t.Errorf("IP listener: %v", err)
	}
	if _, err := ch.ReadFrame(b); !errors.Is(err, net.ErrClosed) {
		t.Errorf("channel: %v", err)
	}
	if _, err := pch.ReadFrame(b); !errors.Is(err, net.ErrClosed) {
		t.Errorf("PPPoE channel: %v", err)
	}
	for _, c := range []interface{ Close() error }{l, lip, tun, s, u, port, pu, br, d} {
		if err := c.Close(); err != nil {
			t.Errorf("second Close of %T: %v", c, err)
		}
	}
	if _, err := d.OpenTunnel(kernel.TunnelConfig{Version: 2, TunnelID: 5, Peer: peerAP}); !errors.Is(err, net.ErrClosed) {
		t.Errorf("OpenTunnel after Close: %v, want net.ErrClosed", err)
	}
	if _, err := d.Listen(kernel.ListenConfig{Encap: kernel.EncapIP, Addr: netip.MustParseAddrPort("0.0.0.0:0")}); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Listen after Close: %v, want net.ErrClosed", err)
	}
}
