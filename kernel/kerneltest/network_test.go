package kerneltest

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/probox/probox/kernel"
)

// TestControlExchange runs the first packets of a tunnel between two hosts: LAC tunnel
// to the LNS listener, LNS tunnel back to the LAC tunnel, and then tunnel to tunnel.
func TestControlExchange(t *testing.T) {
	tests := []struct {
		name     string
		version  int
		encap    kernel.Encap
		lac, lns netip.Addr
		listen   netip.AddrPort
		lnsTun   string // the LNS's tunnel line
	}{
		{"v2 udp ipv4", 2, kernel.EncapUDP, lacAddr, lnsAddr, ap("0.0.0.0:1701"),
			"tunnel 2 v2 udp 192.0.2.2:1701 -> 192.0.2.1:49152 peer_tunnel -"},
		{"v3 udp ipv6", 3, kernel.EncapUDP, lacAddr6, lnsAddr6, ap("[2001:db8::2]:1701"),
			"tunnel 2 v3 udp [2001:db8::2]:1701 -> [2001:db8::1]:49152 peer_tunnel -"},
		{"v3 ip ipv4", 3, kernel.EncapIP, lacAddr, lnsAddr, ap("0.0.0.0:0"),
			"tunnel 2 v3 ip 192.0.2.2 -> 192.0.2.1 peer_tunnel -"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := NewNetwork()
			lac := n.Dataplane("lac", tt.lac)
			lns := n.Dataplane("lns", tt.lns)
			msg := func(connID uint32, body string) []byte {
				if tt.encap == kernel.EncapIP {
					return v3ctl(connID, body)
				}
				return []byte(body)
			}
			l := must(lns.Listen(kernel.ListenConfig{Encap: tt.encap, Addr: tt.listen}))
			lacT := must(lac.OpenTunnel(kernel.TunnelConfig{Version: tt.version, Encap: tt.encap,
				Peer: netip.AddrPortFrom(tt.lns, 1701), TunnelID: 1}))

			noErr(t, lacT.WriteControl(msg(0, "SCCRQ")))
			b := make([]byte, 100)
			k, src, dst, err := l.ReadFrom(b)
			noErr(t, err)
			if got, want := string(b[:k]), string(msg(0, "SCCRQ")); got != want {
				t.Errorf("listener got %q, want %q", got, want)
			}
			if src != lacT.LocalAddr() || dst != tt.lns {
				t.Errorf("listener got it from %v to %v, want from %v to %v", src, dst, lacT.LocalAddr(), tt.lns)
			}

			lnsT := must(lns.OpenTunnel(kernel.TunnelConfig{Version: tt.version, Encap: tt.encap,
				Local: netip.AddrPortFrom(dst, l.Addr().Port()), Peer: src, TunnelID: 2}))
			if got := lns.State(); got != "listener "+tt.encap.String()+" "+addrString(tt.encap, l.Addr())+"\n"+tt.lnsTun+"\n" {
				t.Errorf("LNS state:\n%s", got)
			}
			noErr(t, lnsT.WriteControl(msg(1, "SCCRP")))
			if got, want := read(t, ctl(lacT.ReadControl)), string(msg(1, "SCCRP")); got != want {
				t.Errorf("LAC tunnel got %q, want %q", got, want)
			}
			// Now the LAC's tunnel's packets reach the LNS's tunnel, not the listener.
			noErr(t, lacT.WriteControl(msg(2, "SCCCN")))
			if got, want := read(t, ctl(lnsT.ReadControl)), string(msg(2, "SCCCN")); got != want {
				t.Errorf("LNS tunnel got %q, want %q", got, want)
			}
			// The listener can answer a stranger from its own address.
			noErr(t, l.WriteTo(msg(1, "StopCCN"), src))
			if got, want := read(t, ctl(lacT.ReadControl)), string(msg(1, "StopCCN")); got != want {
				t.Errorf("LAC tunnel got %q from the listener, want %q", got, want)
			}
			if diff := cmp.Diff(NetCounters{Sent: 4, Delivered: 4}, n.Counters()); diff != "" {
				t.Errorf("counters (-want +got):\n%s", diff)
			}
		})
	}
}

// TestIPEncapDemux checks that L2TP over IP control messages go by Control Connection
// ID: to the tunnel bound to it, ID 0 to the listener, an unknown ID nowhere.
func TestIPEncapDemux(t *testing.T) {
	n := NewNetwork()
	a := n.Dataplane("a", lacAddr)
	b := n.Dataplane("b", lnsAddr)
	l := must(b.Listen(kernel.ListenConfig{Encap: kernel.EncapIP, Addr: ap("192.0.2.2:0")}))
	t7 := must(b.OpenTunnel(kernel.TunnelConfig{Version: 3, Encap: kernel.EncapIP, Peer: ap("192.0.2.1:0"), TunnelID: 7}))
	t8 := must(b.OpenTunnel(kernel.TunnelConfig{Version: 3, Encap: kernel.EncapIP, Peer: ap("192.0.2.1:0"), TunnelID: 8}))
	from := must(a.OpenTunnel(kernel.TunnelConfig{Version: 3, Encap: kernel.EncapIP, Peer: ap("192.0.2.2:0"), TunnelID: 1}))
	for _, m := range [][]byte{v3ctl(8, "to 8"), v3ctl(0, "to 0"), v3ctl(7, "to 7"), v3ctl(9, "to 9"), []byte("short")} {
		noErr(t, from.WriteControl(m))
	}
	if got := read(t, ctl(t7.ReadControl)); got != string(v3ctl(7, "to 7")) {
		t.Errorf("tunnel 7 got %q", got)
	}
	if got := read(t, ctl(t8.ReadControl)); got != string(v3ctl(8, "to 8")) {
		t.Errorf("tunnel 8 got %q", got)
	}
	buf := make([]byte, 100)
	k, _, _, err := l.ReadFrom(buf)
	noErr(t, err)
	if got := string(buf[:k]); got != string(v3ctl(0, "to 0")) {
		t.Errorf("listener got %q", got)
	}
	if c := n.Counters(); c.Unreachable != 2 {
		t.Errorf("unreachable %d, want 2 (unknown ID, short header)", c.Unreachable)
	}
}

// TestUnreachable checks that packets nobody takes are counted.
func TestUnreachable(t *testing.T) {
	n := NewNetwork()
	a := n.Dataplane("a", lacAddr)
	n.Dataplane("b", lnsAddr)
	tn := must(a.OpenTunnel(kernel.TunnelConfig{Version: 2, Peer: ap("192.0.2.2:1701"), TunnelID: 1}))
	noErr(t, tn.WriteControl([]byte("no listener")))
	tn2 := must(a.OpenTunnel(kernel.TunnelConfig{Version: 2, Peer: ap("203.0.113.1:1701"), TunnelID: 2}))
	noErr(t, tn2.WriteControl([]byte("no host")))
	if diff := cmp.Diff(NetCounters{Sent: 2, Unreachable: 2}, n.Counters()); diff != "" {
		t.Errorf("counters (-want +got):\n%s", diff)
	}
}

// TestFaults checks loss, duplication, and holding with release out of order.
func TestFaults(t *testing.T) {
	send := func(t *testing.T, p *lacLNS, msgs ...string) {
		t.Helper()
		for _, m := range msgs {
			noErr(t, p.lacT.WriteControl([]byte(m)))
		}
	}
	readAll := func(t *testing.T, p *lacLNS, k int) []string {
		t.Helper()
		var got []string
		for range k {
			got = append(got, read(t, ctl(p.lnsT.ReadControl)))
		}
		return got
	}
	tests := []struct {
		name  string
		setup func(n *Network)
		step  func(t *testing.T, n *Network) // after sending "1" "2" "3"
		want  []string
		cnt   NetCounters
	}{
		{
			name: "loss",
			setup: func(n *Network) {
				n.SetLoss(func(p Packet) bool { return string(p.Data) == "2" })
			},
			want: []string{"1", "3"},
			cnt:  NetCounters{Sent: 3, Delivered: 2, Lost: 1},
		},
		{
			name: "duplicate",
			setup: func(n *Network) {
				n.SetDuplicate(func(p Packet) bool { return string(p.Data) == "1" })
			},
			want: []string{"1", "1", "2", "3"},
			cnt:  NetCounters{Sent: 3, Delivered: 4, Duplicated: 1},
		},
		{
			name:  "hold, release out of order, drop",
			setup: func(n *Network) { n.Hold(All) },
			step: func(t *testing.T, n *Network) {
				var got []string
				for _, p := range n.Pending() {
					got = append(got, string(p.Data))
				}
				if diff := cmp.Diff([]string{"1", "2", "3"}, got); diff != "" {
					t.Errorf("pending (-want +got):\n%s", diff)
				}
				if !n.Release(2) || !n.Release(0) || !n.Drop(0) || n.Release(0) {
					t.Error("Release/Drop reported the wrong packets")
				}
			},
			want: []string{"3", "1"},
			cnt:  NetCounters{Sent: 3, Delivered: 2, Lost: 1},
		},
		{
			name:  "hold then release all",
			setup: func(n *Network) { n.Hold(func(p Packet) bool { return p.Kind == L2TPControl }) },
			step: func(t *testing.T, n *Network) {
				n.Hold(nil)
				if got := n.ReleaseAll(); got != 3 {
					t.Errorf("ReleaseAll released %d, want 3", got)
				}
			},
			want: []string{"1", "2", "3"},
			cnt:  NetCounters{Sent: 3, Delivered: 3},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPair(t, 2, kernel.EncapUDP)
			base := p.n.Counters()
			tt.setup(p.n)
			send(t, p, "1", "2", "3")
			if tt.step != nil {
				tt.step(t, p.n)
			}
			if diff := cmp.Diff(tt.want, readAll(t, p, len(tt.want))); diff != "" {
				t.Errorf("received (-want +got):\n%s", diff)
			}
			got := p.n.Counters()
			got.Sent -= base.Sent
			got.Delivered -= base.Delivered
			if diff := cmp.Diff(tt.cnt, got); diff != "" {
				t.Errorf("counters (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPacketString checks the rendering of packets that tests print.
func TestPacketString(t *testing.T) {
	tests := []struct {
		name string
		p    Packet
		want string
	}{
		{"control", Packet{Kind: L2TPControl, Host: "lac", From: ap("192.0.2.1:49152"), To: ap("192.0.2.2:1701"), Data: []byte("abc")},
			"control lac udp 192.0.2.1:49152 -> 192.0.2.2:1701 len 3"},
		{"data ip", Packet{Kind: L2TPData, Host: "lac", Encap: kernel.EncapIP, From: ap("192.0.2.1:0"), To: ap("192.0.2.2:0"), Session: 9},
			"data lac ip 192.0.2.1 -> 192.0.2.2 session 0/9 len 0"},
		{"discovery", Packet{Kind: PPPoEDiscovery, Host: "client", Segment: "lan",
			Eth: kernel.FrameInfo{Src: []byte{2, 0, 0, 0, 1, 1}, Dst: []byte{255, 255, 255, 255, 255, 255}, VLAN: 100}, Data: []byte{1}},
			"discovery client lan 02:00:00:00:01:01 -> ff:ff:ff:ff:ff:ff vlan 100 len 1"},
		{"session", Packet{Kind: PPPoESession, Host: "ac", Segment: "lan", Session: 5,
			Eth: kernel.FrameInfo{Src: []byte{2, 0, 0, 0, 2, 1}, Dst: []byte{2, 0, 0, 0, 1, 1}}},
			"session ac lan 02:00:00:00:02:01 -> 02:00:00:00:01:01 sid 5 len 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.String(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestAnyPeerPort checks TunnelConfig.AnyPeerPort: the LNS answers the SCCRQ from another
// port (RFC 2661 §8.1), which reaches the LAC's tunnel only with AnyPeerPort, with that
// port as its source; after Establish to it the tunnel takes that port only.
func TestAnyPeerPort(t *testing.T) {
	for _, anyPort := range []bool{false, true} {
		t.Run(fmt.Sprintf("AnyPeerPort=%v", anyPort), func(t *testing.T) {
			n := NewNetwork()
			lac := n.Dataplane("lac", lacAddr)
			lns := n.Dataplane("lns", lnsAddr)
			lacT := must(lac.OpenTunnel(kernel.TunnelConfig{Version: 2, Encap: kernel.EncapUDP,
				Peer: ap("192.0.2.2:1701"), TunnelID: 1, AnyPeerPort: anyPort}))
			other := ap("192.0.2.2:40000")
			lnsT := must(lns.OpenTunnel(kernel.TunnelConfig{Version: 2, Encap: kernel.EncapUDP,
				Local: other, Peer: lacT.LocalAddr(), TunnelID: 2}))
			noErr(t, lnsT.WriteControl([]byte("SCCRP")))
			if !anyPort {
				if c := n.Counters(); c.Unreachable != 1 {
					t.Errorf("counters %+v: want the SCCRP unreachable", c)
				}
				return
			}
			b := make([]byte, 100)
			k, src, err := lacT.ReadControl(b)
			noErr(t, err)
			if string(b[:k]) != "SCCRP" || src != other {
				t.Errorf("read %q from %v, want SCCRP from %v", b[:k], src, other)
			}
			noErr(t, lacT.Establish(2, other))
			noErr(t, lacT.WriteControl([]byte("SCCCN")))
			if got := read(t, ctl(lnsT.ReadControl)); got != "SCCCN" {
				t.Errorf("LNS tunnel got %q, want SCCCN", got)
			}
			// Established: another port of the peer no longer reaches the tunnel.
			stray := must(lns.OpenTunnel(kernel.TunnelConfig{Version: 2, Encap: kernel.EncapUDP,
				Local: ap("192.0.2.2:40001"), Peer: lacT.LocalAddr(), TunnelID: 3}))
			noErr(t, stray.WriteControl([]byte("HELLO")))
			if c := n.Counters(); c.Unreachable != 1 {
				t.Errorf("counters %+v: want the stray HELLO unreachable", c)
			}
		})
	}
}
