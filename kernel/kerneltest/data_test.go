package kerneltest

import (
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/probox/probox/kernel"
)

// Frames with the PPP protocol field first.
var (
	lcpFrame  = "\xc0\x21\x01\x01\x00\x04"
	ipv4Frame = "\x00\x21\x45\x00\x00\x14ipv4 packet"
	ipv6Frame = "\x00\x57\x60\x00\x00\x00ipv6 packet"
)

func counters(rxp, rxb, txp, txb uint64) kernel.Counters {
	return kernel.Counters{RxPackets: rxp, RxBytes: rxb, TxPackets: txp, TxBytes: txb}
}

// sessions makes session 10 (LAC) <-> 20 (LNS) in an established pair.
func sessions(t *testing.T, p *lacLNS, lacCfg, lnsCfg kernel.SessionConfig) (lacS, lnsS kernel.Session) {
	t.Helper()
	lacCfg.SessionID, lacCfg.PeerSessionID = 10, 20
	lnsCfg.SessionID, lnsCfg.PeerSessionID = 20, 10
	return must(p.lacT.EnsureSession(lacCfg)), must(p.lnsT.EnsureSession(lnsCfg))
}

// TestWiredSessions sends PPP frames both ways between the channels of two sessions.
func TestWiredSessions(t *testing.T) {
	cookie := []byte{1, 2, 3, 4}
	tests := []struct {
		name    string
		version int
		encap   kernel.Encap
		lac     kernel.SessionConfig
		lns     kernel.SessionConfig
	}{
		{"v2 udp", 2, kernel.EncapUDP, kernel.SessionConfig{}, kernel.SessionConfig{}},
		{"v3 udp", 3, kernel.EncapUDP, kernel.SessionConfig{}, kernel.SessionConfig{}},
		{"v3 ip with cookies", 3, kernel.EncapIP,
			kernel.SessionConfig{PeerCookie: cookie, Cookie: []byte{5, 6, 7, 8, 9, 10, 11, 12}},
			kernel.SessionConfig{Cookie: cookie, PeerCookie: []byte{5, 6, 7, 8, 9, 10, 11, 12}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPair(t, tt.version, tt.encap)
			lacS, lnsS := sessions(t, p, tt.lac, tt.lns)
			lacC, lnsC := must(lacS.Channel()), must(lnsS.Channel())
			noErr(t, lacC.WriteFrame([]byte(lcpFrame)))
			if got := read(t, lnsC.ReadFrame); got != lcpFrame {
				t.Errorf("LNS got %q, want %q", got, lcpFrame)
			}
			noErr(t, lnsC.WriteFrame([]byte(ipv4Frame)))
			if got := read(t, lacC.ReadFrame); got != ipv4Frame {
				t.Errorf("LAC got %q, want %q (no unit: IP goes to ReadFrame)", got, ipv4Frame)
			}
			l, i := uint64(len(lcpFrame)), uint64(len(ipv4Frame))
			for _, c := range []struct {
				name      string
				got, want kernel.Counters
			}{
				{"LAC channel", lacC.Stats(), counters(1, i, 1, l)},
				{"LAC session", lacS.Stats(), counters(1, i, 1, l)},
				{"LAC tunnel", p.lacT.Stats(), counters(1, i, 1, l)},
				{"LNS channel", lnsC.Stats(), counters(1, l, 1, i)},
			} {
				if diff := cmp.Diff(c.want, c.got); diff != "" {
					t.Errorf("%s counters (-want +got):\n%s", c.name, diff)
				}
			}
		})
	}
}

// TestDataDrops checks cookie mismatches and frames for sessions without a channel.
func TestDataDrops(t *testing.T) {
	p := newPair(t, 3, kernel.EncapUDP)
	lacS, lnsS := sessions(t, p,
		kernel.SessionConfig{PeerCookie: []byte{1, 2, 3, 4}},
		kernel.SessionConfig{Cookie: []byte{9, 9, 9, 9}})
	lacC := must(lacS.Channel())
	noErr(t, lacC.WriteFrame([]byte(lcpFrame)))
	if got := lnsS.Stats().Drops[kernel.DropCookie]; got != 1 {
		t.Errorf("cookie drops %d, want 1", got)
	}
	s2 := must(p.lacT.EnsureSession(kernel.SessionConfig{SessionID: 11, PeerSessionID: 21}))
	must(p.lnsT.EnsureSession(kernel.SessionConfig{SessionID: 21, PeerSessionID: 11}))
	noErr(t, must(s2.Channel()).WriteFrame([]byte(lcpFrame)))
	if got := p.lnsT.Stats().Drops[kernel.DropNoSession]; got != 1 {
		t.Errorf("LNS tunnel no-session drops %d, want 1 (session without channel)", got)
	}
}

// TestUnit checks that a unit swallows IP frames once Set, drops them before, and leaves
// other frames to ReadFrame; and that UnitPeer sees and sends the IP traffic.
func TestUnit(t *testing.T) {
	p := newPair(t, 2, kernel.EncapUDP)
	lacS, lnsS := sessions(t, p, kernel.SessionConfig{}, kernel.SessionConfig{})
	lacC, lnsC := must(lacS.Channel()), must(lnsS.Channel())
	u := must(p.lns.NewUnit(lnsC, kernel.UnitConfig{Shared: true}))
	ip := p.lns.UnitPeer("l2tp 2/20")

	// Before Set: IP is dropped, LCP passes.
	noErr(t, lacC.WriteFrame([]byte(ipv4Frame)))
	noErr(t, lacC.WriteFrame([]byte(lcpFrame)))
	if got := read(t, lnsC.ReadFrame); got != lcpFrame {
		t.Errorf("ReadFrame got %q, want the LCP frame", got)
	}
	if got := u.Stats().Drops[kernel.DropNotPassing]; got != 1 {
		t.Errorf("not-passing drops %d, want 1", got)
	}

	noErr(t, u.Set(kernel.UnitState{IPv4Local: netip.MustParseAddr("100.64.0.1"), IPv4Peer: netip.MustParseAddr("100.64.0.5")}))
	noErr(t, lacC.WriteFrame([]byte(ipv4Frame)))
	noErr(t, lacC.WriteFrame([]byte(ipv6Frame))) // IPv6 not enabled: dropped
	noErr(t, lacC.WriteFrame([]byte(lcpFrame)))
	if got := read(t, lnsC.ReadFrame); got != lcpFrame {
		t.Errorf("ReadFrame got %q, want the LCP frame (IP goes to the unit)", got)
	}
	if got := read(t, ip.Read); got != ipv4Frame {
		t.Errorf("unit peer got %q, want the IPv4 frame", got)
	}
	want := kernel.Counters{RxPackets: 1, RxBytes: uint64(len(ipv4Frame) - 2)}
	want.Drops[kernel.DropNotPassing] = 2
	if diff := cmp.Diff(want, u.Stats()); diff != "" {
		t.Errorf("unit counters (-want +got):\n%s", diff)
	}

	// The host side sends IP through the unit to the peer.
	noErr(t, ip.Write([]byte(ipv4Frame)))
	if got := read(t, lacC.ReadFrame); got != ipv4Frame {
		t.Errorf("LAC got %q, want the IPv4 frame from the unit", got)
	}
	if err := ip.Write([]byte(ipv6Frame)); err == nil {
		t.Error("sending IPv6 through a unit without IPv6 succeeded")
	}

	noErr(t, u.Close())
	if _, err := ip.Read(make([]byte, 10)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("unit peer Read after the unit closed: %v, want net.ErrClosed", err)
	}
}

// TestChannelPeer checks tap mode: asked for before the channel exists, it receives what
// the engine writes and injects what the engine reads; closing it rewires the channel.
func TestChannelPeer(t *testing.T) {
	p := newPair(t, 2, kernel.EncapUDP)
	tap := p.lns.ChannelPeer("l2tp 2/20")
	if err := tap.Write([]byte(lcpFrame)); !errors.Is(err, ErrNotAttached) {
		t.Errorf("Write before the channel exists: %v, want ErrNotAttached", err)
	}
	lacS, lnsS := sessions(t, p, kernel.SessionConfig{}, kernel.SessionConfig{})
	lacC, lnsC := must(lacS.Channel()), must(lnsS.Channel())
	if p.lns.ChannelPeer("l2tp 2/20") != tap {
		t.Error("ChannelPeer returned another End for the same key")
	}

	noErr(t, lnsC.WriteFrame([]byte("\xc0\x21engine")))
	if got := read(t, tap.Read); got != "\xc0\x21engine" {
		t.Errorf("tap got %q", got)
	}
	noErr(t, tap.Write([]byte("\xc0\x21test")))
	if got := read(t, lnsC.ReadFrame); got != "\xc0\x21test" {
		t.Errorf("engine got %q", got)
	}
	// Frames from the peer host still arrive while tapped; only what the channel
	// transmits goes to the tap until it is closed.
	noErr(t, lacC.WriteFrame([]byte("\xc0\x21from lac")))
	noErr(t, tap.Close())
	noErr(t, lacC.WriteFrame([]byte("\xc0\x21wired again")))
	if got := read(t, lnsC.ReadFrame); got != "\xc0\x21from lac" {
		t.Errorf("engine got %q", got)
	}
	if got := read(t, lnsC.ReadFrame); got != "\xc0\x21wired again" {
		t.Errorf("engine got %q", got)
	}
	noErr(t, lnsC.WriteFrame([]byte("\xc0\x21to lac")))
	if got := read(t, lacC.ReadFrame); got != "\xc0\x21to lac" {
		t.Errorf("LAC got %q", got)
	}

	// Closing the channel ends a tap after what it holds.
	tap2 := p.lns.ChannelPeer("l2tp 2/20")
	noErr(t, lnsC.WriteFrame([]byte("\xc0\x21last")))
	noErr(t, lnsC.Close())
	if got := read(t, tap2.Read); got != "\xc0\x21last" {
		t.Errorf("tap got %q", got)
	}
	if _, err := tap2.Read(make([]byte, 10)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("tap Read after the channel closed: %v, want net.ErrClosed", err)
	}
}

// TestEthernetPseudowire sends Ethernet frames between the interfaces of two Ethernet
// pseudowires.
func TestEthernetPseudowire(t *testing.T) {
	p := newPair(t, 3, kernel.EncapIP)
	lacEnd := p.lac.InterfacePeer("pw0")
	lacS, lnsS := sessions(t, p,
		kernel.SessionConfig{PWType: kernel.PWEthernet, IfName: "pw0"},
		kernel.SessionConfig{PWType: kernel.PWEthernet})
	if got := lnsS.Interface(); got != "l2tpeth0" {
		t.Errorf("LNS interface %q, want l2tpeth0", got)
	}
	lnsEnd := p.lns.InterfacePeer(lnsS.Interface())
	frame := "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x08\x00payload"
	noErr(t, lacEnd.Write([]byte(frame)))
	if got := read(t, lnsEnd.Read); got != frame {
		t.Errorf("LNS interface got %q", got)
	}
	noErr(t, lnsEnd.Write([]byte("back")))
	if got := read(t, lacEnd.Read); got != "back" {
		t.Errorf("LAC interface got %q", got)
	}
	if diff := cmp.Diff(counters(1, 4, 1, uint64(len(frame))), lacS.Stats()); diff != "" {
		t.Errorf("LAC session counters (-want +got):\n%s", diff)
	}
}

// TestCloseUnblocksReads checks that Close makes every blocked read return
// net.ErrClosed.
func TestCloseUnblocksReads(t *testing.T) {
	p := newPair(t, 2, kernel.EncapUDP)
	lacS, _ := sessions(t, p, kernel.SessionConfig{}, kernel.SessionConfig{})
	ch := must(lacS.Channel())
	l := must(p.lns.Listen(kernel.ListenConfig{Addr: ap("0.0.0.0:1701")}))
	port := must(p.lac.OpenPPPoE(kernel.PPPoEConfig{Interface: "eth0"}))
	tap := p.lns.ChannelPeer("l2tp 2/99")
	buf := func() []byte { return make([]byte, 100) }
	reads := []struct {
		name  string
		read  func() error
		close func() error
	}{
		{"ReadControl", func() error { _, _, err := p.lacT.ReadControl(buf()); return err }, p.lacT.Close},
		{"ReadFrame", func() error { _, err := ch.ReadFrame(buf()); return err }, ch.Close},
		{"ReadFrom", func() error { _, _, _, err := l.ReadFrom(buf()); return err }, l.Close},
		{"ReadDiscovery", func() error { _, _, err := port.ReadDiscovery(buf()); return err }, port.Close},
		{"End.Read", func() error { _, err := tap.Read(buf()); return err }, tap.Close},
	}
	for _, r := range reads {
		t.Run(r.name, func(t *testing.T) {
			done := make(chan error)
			go func() { done <- r.read() }()
			noErr(t, r.close())
			if err := <-done; !errors.Is(err, net.ErrClosed) {
				t.Errorf("got %v, want net.ErrClosed", err)
			}
			if err := r.read(); !errors.Is(err, net.ErrClosed) {
				t.Errorf("read after close: %v, want net.ErrClosed", err)
			}
		})
	}
}
