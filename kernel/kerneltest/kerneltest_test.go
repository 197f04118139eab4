package kerneltest

import (
	"errors"
	"net"
	"net/netip"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/probox/probox/kernel"
)

// TestRender checks the State line of every kind of object.
func TestRender(t *testing.T) {
	tests := []struct {
		name  string
		build func(t *testing.T, f *Fake)
		want  string
	}{
		{
			name:  "nothing",
			build: func(*testing.T, *Fake) {},
			want:  "",
		},
		{
			name: "listeners",
			build: func(t *testing.T, f *Fake) {
				must(f.Listen(kernel.ListenConfig{Encap: kernel.EncapUDP, Addr: ap("0.0.0.0:1701")}))
				must(f.Listen(kernel.ListenConfig{Encap: kernel.EncapIP, Addr: ap("192.0.2.1:99")}))
				must(f.Listen(kernel.ListenConfig{Encap: kernel.EncapUDP, Addr: ap("[2001:db8::1]:0")}))
			},
			want: "listener ip 192.0.2.1\n" +
				"listener udp 0.0.0.0:1701\n" +
				"listener udp [2001:db8::1]:49152\n",
		},
		{
			name: "tunnels",
			build: func(t *testing.T, f *Fake) {
				must(f.OpenTunnel(kernel.TunnelConfig{Version: 2, Peer: ap("198.51.100.1:1701"), TunnelID: 1234}))
				t2 := must(f.OpenTunnel(kernel.TunnelConfig{Version: 2, Local: ap("192.0.2.1:1701"),
					Peer: ap("198.51.100.2:1701"), TunnelID: 99, UDPChecksums: true}))
				if err := t2.Establish(5678, ap("198.51.100.2:40000")); err != nil {
					t.Fatal(err)
				}
				must(f.OpenTunnel(kernel.TunnelConfig{Version: 3, Encap: kernel.EncapIP, Peer: ap("[2001:db8::9]:0"), TunnelID: 70000}))
			},
			want: "tunnel 1234 v2 udp 192.0.2.1:49152 -> 198.51.100.1:1701 peer_tunnel -\n" +
				"tunnel 70000 v3 ip 2001:db8::1 -> 2001:db8::9 peer_tunnel -\n" +
				"tunnel 99 v2 udp 192.0.2.1:1701 -> 198.51.100.2:40000 peer_tunnel 5678 csum\n",
		},
		{
			name: "sessions and channels",
			build: func(t *testing.T, f *Fake) {
				t2 := must(f.OpenTunnel(kernel.TunnelConfig{Version: 2, Peer: ap("198.51.100.1:1701"), TunnelID: 1234}))
				noErr(t, t2.Establish(5678, ap("198.51.100.1:1701")))
				s := must(t2.EnsureSession(kernel.SessionConfig{SessionID: 77, PeerSessionID: 88}))
				must(s.Channel())
				t3 := must(f.OpenTunnel(kernel.TunnelConfig{Version: 3, Peer: ap("198.51.100.1:1701"), TunnelID: 9}))
				noErr(t, t3.Establish(8, ap("198.51.100.1:1701")))
				must(t3.EnsureSession(kernel.SessionConfig{SessionID: 10, PeerSessionID: 11, PWType: kernel.PWEthernet,
					Cookie: []byte{10, 11, 12, 13}, PeerCookie: []byte{1, 2, 3, 4}, L2Spec: kernel.L2SpecDefault,
					SendSeq: true, RecvSeq: true}))
				must(t3.EnsureSession(kernel.SessionConfig{SessionID: 12, PeerSessionID: 13, PWType: kernel.PWEthernet,
					IfName: "pw%d", MTU: 1400}))
				s3 := must(t3.EnsureSession(kernel.SessionConfig{SessionID: 14, PeerSessionID: 15,
					PeerCookie: []byte{1, 2, 3, 4, 5, 6, 7, 8}}))
				must(s3.Channel())
			},
			// v2 over UDP/IPv4: 1500 - 20 - 8 - 6 - 4 = 1462.
			// v3 over UDP/IPv4 with a 4-byte cookie and sublayer: 1500 - 20 - 8 - 8 - 4 - 4 - 14 = 1442.
			// v3 with an 8-byte cookie: 1500 - 20 - 8 - 8 - 8 - 4 = 1452.
			want: "channel l2tp 1234/77 mtu 1462\n" +
				"channel l2tp 9/14 mtu 1452\n" +
				"session 1234/77 peer 88 pw ppp cookie - peer_cookie - l2spec none seq send=false recv=false\n" +
				"session 9/10 peer 11 pw ethernet if l2tpeth0 mtu 1442 cookie 0a0b0c0d peer_cookie 01020304 l2spec default seq send=true recv=true\n" +
				"session 9/12 peer 13 pw ethernet if pw0 mtu 1400 cookie - peer_cookie - l2spec none seq send=false recv=false\n" +
				"session 9/14 peer 15 pw ppp cookie - peer_cookie 0102030405060708 l2spec none seq send=false recv=false\n" +
				"tunnel 1234 v2 udp 192.0.2.1:49152 -> 198.51.100.1:1701 peer_tunnel 5678\n" +
				"tunnel 9 v3 udp 192.0.2.1:49153 -> 198.51.100.1:1701 peer_tunnel 8\n",
		},
		{
			name: "pppoe ports, channels and units",
			build: func(t *testing.T, f *Fake) {
				must(f.OpenPPPoE(kernel.PPPoEConfig{Interface: "eth0"}))
				p := must(f.OpenPPPoE(kernel.PPPoEConfig{Interface: "eth1", VLANs: []uint16{200, 100, 200}, QinQ: []kernel.QinQ{{Outer: 10, InnerFirst: 200, InnerLast: 299}}}))
				peer := net.HardwareAddr{2, 0, 0, 0, 9, 9}
				c := must(p.OpenSession(5, kernel.FrameInfo{Dst: peer, VLAN: 100}, 0))
				c2 := must(p.OpenSession(6, kernel.FrameInfo{Dst: peer, VLAN: 200, OuterVLAN: 10}, 1480))
				u := must(f.NewUnit(c, kernel.UnitConfig{Shared: true, MTU: 1492}))
				noErr(t, u.Set(kernel.UnitState{
					IPv4Local: netip.MustParseAddr("100.64.0.1"), IPv4Peer: netip.MustParseAddr("100.64.0.5"),
					IPv6Local: netip.MustParseAddr("fe80::1"), IPv6Peer: netip.MustParseAddr("fe80::2"),
					Routes: []netip.Prefix{netip.MustParsePrefix("::/0"), netip.MustParsePrefix("0.0.0.0/0")},
				}))
				must(f.NewUnit(c2, kernel.UnitConfig{}))
			},
			want: "channel pppoe eth1/5 vlan 100 peer 02:00:00:00:09:09 mtu 1492\n" +
				"channel pppoe eth1/6 vlan 10.200 peer 02:00:00:00:09:09 mtu 1480\n" +
				"pppoe eth0 vlans untagged\n" +
				"pppoe eth1 vlans 100,200,10.200-299\n" +
				"unit ppp0 dedicated on pppoe eth1/6 mtu 1500 ipv4 - ipv6 - routes -\n" +
				"unit probox0 shared on pppoe eth1/5 mtu 1492 ipv4 100.64.0.1 -> 100.64.0.5 ipv6 fe80::1 -> fe80::2 routes 0.0.0.0/0,::/0\n",
		},
		{
			name: "bridge",
			build: func(t *testing.T, f *Fake) {
				tn := must(f.OpenTunnel(kernel.TunnelConfig{Version: 2, Peer: ap("198.51.100.1:1701"), TunnelID: 1234}))
				noErr(t, tn.Establish(5678, ap("198.51.100.1:1701")))
				s := must(tn.EnsureSession(kernel.SessionConfig{SessionID: 77, PeerSessionID: 88}))
				lc := must(s.Channel())
				p := must(f.OpenPPPoE(kernel.PPPoEConfig{Interface: "eth1"}))
				pc := must(p.OpenSession(5, kernel.FrameInfo{Dst: net.HardwareAddr{2, 0, 0, 0, 9, 9}}, 0))
				must(f.Bridge(pc, lc))
			},
			want: "bridge l2tp 1234/77 <-> pppoe eth1/5\n" +
				"channel l2tp 1234/77 mtu 1462\n" +
				"channel pppoe eth1/5 peer 02:00:00:00:09:09 mtu 1492\n" +
				"pppoe eth1 vlans untagged\n" +
				"session 1234/77 peer 88 pw ppp cookie - peer_cookie - l2spec none seq send=false recv=false\n" +
				"tunnel 1234 v2 udp 192.0.2.1:49152 -> 198.51.100.1:1701 peer_tunnel 5678\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := New(lacAddr, lacAddr6)
			tt.build(t, f)
			wantState(t, f, tt.want)
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			wantState(t, f, "")
		})
	}
}

// TestLeaks checks that closing a tunnel removes its sessions, channels and bridges,
// that units stay (marked closed) until closed, and that closing a port removes its
// channels.
func TestLeaks(t *testing.T) {
	f := New(lacAddr)
	tn := must(f.OpenTunnel(kernel.TunnelConfig{Version: 2, Peer: ap("198.51.100.1:1701"), TunnelID: 1}))
	noErr(t, tn.Establish(2, ap("198.51.100.1:1701")))
	for id := uint32(1); id <= 2; id++ {
		s := must(tn.EnsureSession(kernel.SessionConfig{SessionID: id, PeerSessionID: id + 10}))
		c := must(s.Channel())
		if id == 1 {
			must(f.NewUnit(c, kernel.UnitConfig{}))
		}
	}
	p := must(f.OpenPPPoE(kernel.PPPoEConfig{Interface: "eth1"}))
	pc := must(p.OpenSession(5, kernel.FrameInfo{Dst: net.HardwareAddr{2, 0, 0, 0, 9, 9}}, 0))
	lc := must(must(tn.EnsureSession(kernel.SessionConfig{SessionID: 2, PeerSessionID: 12})).Channel())
	br := must(f.Bridge(lc, pc))

	noErr(t, tn.Close())
	wantState(t, f, "channel pppoe eth1/5 peer 02:00:00:00:09:09 mtu 1492\n"+
		"pppoe eth1 vlans untagged\n"+
		"unit ppp0 dedicated on l2tp 1/1 (closed) mtu 1500 ipv4 - ipv6 - routes -\n")
	if err := br.Close(); err != nil {
		t.Errorf("closing a dissolved bridge: %v", err)
	}
	noErr(t, p.Close())
	wantState(t, f, "unit ppp0 dedicated on l2tp 1/1 (closed) mtu 1500 ipv4 - ipv6 - routes -\n")
	if _, err := lc.ReadFrame(make([]byte, 10)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("ReadFrame on a channel of a closed tunnel: %v, want net.ErrClosed", err)
	}
	if _, err := pc.ReadFrame(make([]byte, 10)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("ReadFrame on a channel of a closed port: %v, want net.ErrClosed", err)
	}
	noErr(t, f.Close())
	wantState(t, f, "")
}

// TestIdempotence checks the Ensure/Delete/Close contract of kernel.Dataplane.
func TestIdempotence(t *testing.T) {
	f := New(lacAddr)
	tn := must(f.OpenTunnel(kernel.TunnelConfig{Version: 3, Peer: ap("198.51.100.1:1701"), TunnelID: 1}))
	noErr(t, tn.Establish(2, ap("198.51.100.1:1701")))
	noErr(t, tn.Establish(2, ap("198.51.100.1:1701")))
	if err := tn.Establish(3, ap("198.51.100.1:1701")); !errors.Is(err, syscall.EISCONN) {
		t.Errorf("Establish with another peer tunnel: %v, want EISCONN", err)
	}
	cfg := kernel.SessionConfig{SessionID: 7, PeerSessionID: 8, Cookie: []byte{1, 2, 3, 4}}
	s1 := must(tn.EnsureSession(cfg))
	s2 := must(tn.EnsureSession(cfg))
	if s1 != s2 {
		t.Error("EnsureSession with identical config returned another session")
	}
	cfg.SendSeq = true
	if s3 := must(tn.EnsureSession(cfg)); s3 != s1 {
		t.Error("EnsureSession changing sequencing returned another session")
	}
	cfg.Cookie = []byte{9, 9, 9, 9}
	if _, err := tn.EnsureSession(cfg); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("EnsureSession changing the cookie: %v, want EEXIST", err)
	}
	c1 := must(s1.Channel())
	if c2 := must(s1.Channel()); c1 != c2 {
		t.Error("Channel returned another channel")
	}
	wantState(t, f, "channel l2tp 1/7 mtu 1460\n"+
		"session 1/7 peer 8 pw ppp cookie 01020304 peer_cookie - l2spec none seq send=true recv=false\n"+
		"tunnel 1 v3 udp 192.0.2.1:49152 -> 198.51.100.1:1701 peer_tunnel 2\n")
	for i := range 2 {
		if err := c1.Close(); err != nil {
			t.Errorf("channel Close #%d: %v", i, err)
		}
		if err := s1.Close(); err != nil {
			t.Errorf("session Close #%d: %v", i, err)
		}
		if err := tn.DeleteSession(7); err != nil {
			t.Errorf("DeleteSession #%d: %v", i, err)
		}
		if err := tn.Close(); err != nil {
			t.Errorf("tunnel Close #%d: %v", i, err)
		}
		if err := f.Close(); err != nil {
			t.Errorf("Fake Close #%d: %v", i, err)
		}
	}
	if _, err := f.OpenTunnel(kernel.TunnelConfig{Version: 2, Peer: ap("198.51.100.1:1701"), TunnelID: 5}); !errors.Is(err, net.ErrClosed) {
		t.Errorf("OpenTunnel after Close: %v, want net.ErrClosed", err)
	}
}

// TestErrors checks the errors of bad calls.
func TestErrors(t *testing.T) {
	peer := ap("198.51.100.1:1701")
	tests := []struct {
		name string
		call func(f *Fake) error
		want error
	}{
		{"listen on a foreign address", func(f *Fake) error {
			_, err := f.Listen(kernel.ListenConfig{Addr: ap("198.51.100.7:1701")})
			return err
		}, syscall.EADDRNOTAVAIL},
		{"listen twice", func(f *Fake) error {
			f.Listen(kernel.ListenConfig{Addr: ap("0.0.0.0:1701")})
			_, err := f.Listen(kernel.ListenConfig{Addr: ap("0.0.0.0:1701")})
			return err
		}, syscall.EADDRINUSE},
		{"QinQ range empty", func(f *Fake) error {
			_, err := f.OpenPPPoE(kernel.PPPoEConfig{Interface: "eth0", QinQ: []kernel.QinQ{{Outer: 10, InnerFirst: 5, InnerLast: 4}}})
			return err
		}, syscall.EINVAL},
		{"SetVLANs VLAN 0", func(f *Fake) error {
			p := must(f.OpenPPPoE(kernel.PPPoEConfig{Interface: "eth0"}))
			return p.SetVLANs(kernel.PPPoEConfig{VLANs: []uint16{0}})
		}, syscall.EINVAL},
		{"SetVLANs after Close", func(f *Fake) error {
			p := must(f.OpenPPPoE(kernel.PPPoEConfig{Interface: "eth0"}))
			p.Close()
			return p.SetVLANs(kernel.PPPoEConfig{VLANs: []uint16{10}})
		}, net.ErrClosed},
		{"tunnel version 4", func(f *Fake) error {
			_, err := f.OpenTunnel(kernel.TunnelConfig{Version: 4, Peer: peer, TunnelID: 1})
			return err
		}, syscall.EINVAL},
		{"L2TPv2 over IP", func(f *Fake) error {
			_, err := f.OpenTunnel(kernel.TunnelConfig{Version: 2, Encap: kernel.EncapIP, Peer: peer, TunnelID: 1})
			return err
		}, syscall.EINVAL},
		{"L2TPv2 tunnel ID too big", func(f *Fake) error {
			_, err := f.OpenTunnel(kernel.TunnelConfig{Version: 2, Peer: peer, TunnelID: 70000})
			return err
		}, syscall.EINVAL},
		{"tunnel ID 0", func(f *Fake) error {
			_, err := f.OpenTunnel(kernel.TunnelConfig{Version: 3, Peer: peer})
			return err
		}, syscall.EINVAL},
		{"no IPv6 address", func(f *Fake) error {
			_, err := f.OpenTunnel(kernel.TunnelConfig{Version: 2, Peer: ap("[2001:db8::9]:1701"), TunnelID: 1})
			return err
		}, syscall.EADDRNOTAVAIL},
		{"tunnel ID in use", func(f *Fake) error {
			f.OpenTunnel(kernel.TunnelConfig{Version: 2, Peer: peer, TunnelID: 1})
			_, err := f.OpenTunnel(kernel.TunnelConfig{Version: 2, Peer: ap("198.51.100.2:1701"), TunnelID: 1})
			return err
		}, syscall.EEXIST},
		{"same 4-tuple", func(f *Fake) error {
			f.OpenTunnel(kernel.TunnelConfig{Version: 2, Local: ap("192.0.2.1:1701"), Peer: peer, TunnelID: 1})
			_, err := f.OpenTunnel(kernel.TunnelConfig{Version: 2, Local: ap("192.0.2.1:1701"), Peer: peer, TunnelID: 2})
			return err
		}, syscall.EADDRINUSE},
		{"session before Establish", func(f *Fake) error {
			tn, _ := f.OpenTunnel(kernel.TunnelConfig{Version: 2, Peer: peer, TunnelID: 1})
			_, err := tn.EnsureSession(kernel.SessionConfig{SessionID: 1})
			return err
		}, syscall.ENOTCONN},
		{"L2TPv2 cookie", func(f *Fake) error {
			tn, _ := f.OpenTunnel(kernel.TunnelConfig{Version: 2, Peer: peer, TunnelID: 1})
			tn.Establish(1, peer)
			_, err := tn.EnsureSession(kernel.SessionConfig{SessionID: 1, Cookie: []byte{1, 2, 3, 4}})
			return err
		}, syscall.EINVAL},
		{"cookie of 3 bytes", func(f *Fake) error {
			tn, _ := f.OpenTunnel(kernel.TunnelConfig{Version: 3, Peer: peer, TunnelID: 1})
			tn.Establish(1, peer)
			_, err := tn.EnsureSession(kernel.SessionConfig{SessionID: 1, PeerCookie: []byte{1, 2, 3}})
			return err
		}, syscall.EINVAL},
		{"L2TPv3 session ID in another tunnel", func(f *Fake) error {
			for id := uint32(1); id <= 2; id++ {
				tn, _ := f.OpenTunnel(kernel.TunnelConfig{Version: 3, Peer: peer, TunnelID: id})
				tn.Establish(1, peer)
				if _, err := tn.EnsureSession(kernel.SessionConfig{SessionID: 9}); err != nil {
					return err
				}
			}
			return nil
		}, syscall.EEXIST},
		{"Ethernet pseudowire has no channel", func(f *Fake) error {
			tn, _ := f.OpenTunnel(kernel.TunnelConfig{Version: 3, Peer: peer, TunnelID: 1})
			tn.Establish(1, peer)
			s, _ := tn.EnsureSession(kernel.SessionConfig{SessionID: 1, PWType: kernel.PWEthernet})
			_, err := s.Channel()
			return err
		}, kernel.ErrNotPPP},
		{"two units on a channel", func(f *Fake) error {
			p, _ := f.OpenPPPoE(kernel.PPPoEConfig{Interface: "eth0"})
			c, _ := p.OpenSession(1, kernel.FrameInfo{Dst: net.HardwareAddr{2, 0, 0, 0, 0, 1}}, 0)
			f.NewUnit(c, kernel.UnitConfig{})
			_, err := f.NewUnit(c, kernel.UnitConfig{})
			return err
		}, syscall.EEXIST},
		{"bridge a bridged channel", func(f *Fake) error {
			p, _ := f.OpenPPPoE(kernel.PPPoEConfig{Interface: "eth0"})
			var cs []kernel.Channel
			for id := uint16(1); id <= 3; id++ {
				c, _ := p.OpenSession(id, kernel.FrameInfo{Dst: net.HardwareAddr{2, 0, 0, 0, 0, 1}}, 0)
				cs = append(cs, c)
			}
			f.Bridge(cs[0], cs[1])
			_, err := f.Bridge(cs[2], cs[1])
			return err
		}, syscall.EBUSY},
		{"PPPoE session on an unserved VLAN", func(f *Fake) error {
			p, _ := f.OpenPPPoE(kernel.PPPoEConfig{Interface: "eth0", VLANs: []uint16{100}})
			_, err := p.OpenSession(1, kernel.FrameInfo{Dst: net.HardwareAddr{2, 0, 0, 0, 0, 1}, VLAN: 200}, 0)
			return err
		}, syscall.EINVAL},
		{"PPPoE port opened twice", func(f *Fake) error {
			f.OpenPPPoE(kernel.PPPoEConfig{Interface: "eth0"})
			_, err := f.OpenPPPoE(kernel.PPPoEConfig{Interface: "eth0"})
			return err
		}, syscall.EBUSY},
		{"frame over the MTU", func(f *Fake) error {
			p, _ := f.OpenPPPoE(kernel.PPPoEConfig{Interface: "eth0"})
			c, _ := p.OpenSession(1, kernel.FrameInfo{Dst: net.HardwareAddr{2, 0, 0, 0, 0, 1}}, 100)
			return c.WriteFrame(make([]byte, 103))
		}, syscall.EMSGSIZE},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := New(lacAddr)
			defer f.Close()
			err := tt.call(f)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if op := new(kernel.OpError); tt.want != kernel.ErrNotPPP && !errors.As(err, &op) {
				t.Errorf("%v is not a *kernel.OpError", err)
			}
		})
	}
}

// TestCallsAndFailNext checks the call log and error injection.
func TestCallsAndFailNext(t *testing.T) {
	f := New(lacAddr)
	injected := errors.New("injected")
	f.FailNext("EnsureSession 1/8", injected)
	f.FailNext("WriteControl", injected)
	tn := must(f.OpenTunnel(kernel.TunnelConfig{Version: 2, Peer: ap("198.51.100.1:1701"), TunnelID: 1}))
	noErr(t, tn.Establish(2, ap("198.51.100.1:1701")))
	must(tn.EnsureSession(kernel.SessionConfig{SessionID: 7, PeerSessionID: 1}))
	if _, err := tn.EnsureSession(kernel.SessionConfig{SessionID: 8, PeerSessionID: 2}); err != injected {
		t.Errorf("EnsureSession 8: %v, want the injected error", err)
	}
	must(tn.EnsureSession(kernel.SessionConfig{SessionID: 8, PeerSessionID: 2}))
	if err := tn.WriteControl([]byte("x")); err != injected {
		t.Errorf("WriteControl: %v, want the injected error", err)
	}
	noErr(t, tn.WriteControl([]byte("x")))
	noErr(t, tn.DeleteSession(7))
	noErr(t, tn.Close())
	want := []string{
		"OpenTunnel 1 v2 udp - -> 198.51.100.1:1701",
		"Establish 1 peer_tunnel 2 198.51.100.1:1701",
		"EnsureSession 1/7 peer 1 pw ppp cookie - peer_cookie - l2spec none seq send=false recv=false",
		"EnsureSession 1/8 peer 2 pw ppp cookie - peer_cookie - l2spec none seq send=false recv=false: injected",
		"EnsureSession 1/8 peer 2 pw ppp cookie - peer_cookie - l2spec none seq send=false recv=false",
		"DeleteSession 1/7",
		"Close tunnel 1",
	}
	if diff := cmp.Diff(want, f.Calls()); diff != "" {
		t.Errorf("Calls (-want +got):\n%s", diff)
	}
}

// TestCloseTwice checks that every handle's Close is idempotent and removes its line.
func TestCloseTwice(t *testing.T) {
	tests := []struct {
		name string
		make func(f *Fake) interface{ Close() error }
	}{
		{"listener", func(f *Fake) interface{ Close() error } {
			return must(f.Listen(kernel.ListenConfig{Addr: ap("0.0.0.0:1701")}))
		}},
		{"tunnel", func(f *Fake) interface{ Close() error } {
			return must(f.OpenTunnel(kernel.TunnelConfig{Version: 2, Peer: ap("198.51.100.1:1701"), TunnelID: 1}))
		}},
		{"session", func(f *Fake) interface{ Close() error } {
			tn := must(f.OpenTunnel(kernel.TunnelConfig{Version: 2, Peer: ap("198.51.100.1:1701"), TunnelID: 1}))
			noErr(t, tn.Establish(2, ap("198.51.100.1:1701")))
			s := must(tn.EnsureSession(kernel.SessionConfig{SessionID: 1, PeerSessionID: 1}))
			noErr(t, tn.Close())
			return s
		}},
		{"port", func(f *Fake) interface{ Close() error } {
			return must(f.OpenPPPoE(kernel.PPPoEConfig{Interface: "eth0"}))
		}},
		{"channel and unit", func(f *Fake) interface{ Close() error } {
			p := must(f.OpenPPPoE(kernel.PPPoEConfig{Interface: "eth0"}))
			c := must(p.OpenSession(1, kernel.FrameInfo{Dst: net.HardwareAddr{2, 0, 0, 0, 0, 1}}, 0))
			u := must(f.NewUnit(c, kernel.UnitConfig{}))
			noErr(t, c.Close())
			noErr(t, p.Close())
			return u
		}},
		{"bridge", func(f *Fake) interface{ Close() error } {
			p := must(f.OpenPPPoE(kernel.PPPoEConfig{Interface: "eth0"}))
			a := must(p.OpenSession(1, kernel.FrameInfo{Dst: net.HardwareAddr{2, 0, 0, 0, 0, 1}}, 0))
			b := must(p.OpenSession(2, kernel.FrameInfo{Dst: net.HardwareAddr{2, 0, 0, 0, 0, 1}}, 0))
			br := must(f.Bridge(a, b))
			noErr(t, p.Close())
			return br
		}},
		{"end", func(f *Fake) interface{ Close() error } { return f.ChannelPeer("l2tp 1/1") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := New(lacAddr)
			c := tt.make(f)
			for i := range 2 {
				if err := c.Close(); err != nil {
					t.Errorf("Close #%d: %v", i+1, err)
				}
			}
			wantState(t, f, "")
		})
	}
}
