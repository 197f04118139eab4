package kerneltest

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/probox/probox/kernel"
)

var broadcast = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// queued is the number of discovery frames waiting at a port.
func queued(p kernel.PPPoEPort) int {
	pp := p.(*port)
	pp.f.n.mu.Lock()
	defer pp.f.n.mu.Unlock()
	return pp.disc.lenLocked()
}

type discovery struct {
	Data string
	Info kernel.FrameInfo
}

func readDiscovery(t *testing.T, p kernel.PPPoEPort) discovery {
	t.Helper()
	b := make([]byte, 100)
	n, info, err := p.ReadDiscovery(b)
	noErr(t, err)
	return discovery{Data: string(b[:n]), Info: info}
}

// TestPPPoEDiscovery checks broadcast and unicast delivery of discovery frames on a
// segment, VLAN filtering, and the deterministic MAC addresses.
func TestPPPoEDiscovery(t *testing.T) {
	n := NewNetwork()
	client := n.Dataplane("client")
	ac1 := n.Dataplane("ac1")
	ac2 := n.Dataplane("ac2")
	vclient := n.Dataplane("vclient")
	closed := n.Dataplane("closed") // on the segment, port not open
	n.Ethernet("lan").Join(client, "eth0").Join(ac1, "eth1").Join(ac2, "eth1").Join(vclient, "eth0").Join(closed, "eth0")

	cp := must(client.OpenPPPoE(kernel.PPPoEConfig{Interface: "eth0"}))
	a1 := must(ac1.OpenPPPoE(kernel.PPPoEConfig{Interface: "eth1"}))
	a2 := must(ac2.OpenPPPoE(kernel.PPPoEConfig{Interface: "eth1", VLANs: []uint16{100, 200}}))
	vp := must(vclient.OpenPPPoE(kernel.PPPoEConfig{Interface: "eth0", VLANs: []uint16{100}}))

	clientMAC := net.HardwareAddr{2, 0, 0, 0, 1, 1}
	vclientMAC := net.HardwareAddr{2, 0, 0, 0, 4, 1}
	if got := cp.HardwareAddr(); got.String() != clientMAC.String() {
		t.Errorf("client MAC %v, want %v", got, clientMAC)
	}
	if got := a2.HardwareAddr().String(); got != "02:00:00:00:03:01" {
		t.Errorf("ac2 MAC %v, want 02:00:00:00:03:01", got)
	}

	noErr(t, cp.WriteDiscovery([]byte("PADI untagged"), kernel.FrameInfo{Dst: broadcast}))
	noErr(t, vp.WriteDiscovery([]byte("PADI 100"), kernel.FrameInfo{Dst: broadcast, VLAN: 100}))
	if diff := cmp.Diff(discovery{"PADI untagged", kernel.FrameInfo{Src: clientMAC, Dst: broadcast}}, readDiscovery(t, a1)); diff != "" {
		t.Errorf("ac1 (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(discovery{"PADI 100", kernel.FrameInfo{Src: vclientMAC, Dst: broadcast, VLAN: 100}}, readDiscovery(t, a2)); diff != "" {
		t.Errorf("ac2 (-want +got):\n%s", diff)
	}
	for _, q := range []struct {
		name string
		p    kernel.PPPoEPort
	}{{"ac1", a1}, {"ac2", a2}, {"client", cp}, {"vclient", vp}} {
		if k := queued(q.p); k != 0 {
			t.Errorf("%s has %d more frames, want 0 (no echo, VLANs filtered)", q.name, k)
		}
	}

	noErr(t, a1.WriteDiscovery([]byte("PADO"), kernel.FrameInfo{Dst: clientMAC}))
	if diff := cmp.Diff(discovery{"PADO", kernel.FrameInfo{Src: a1.HardwareAddr(), Dst: clientMAC}}, readDiscovery(t, cp)); diff != "" {
		t.Errorf("client (-want +got):\n%s", diff)
	}
	if k := queued(vp); k != 0 {
		t.Errorf("vclient got a unicast frame for the client")
	}

	before := n.Counters().Unreachable
	noErr(t, a1.WriteDiscovery([]byte("PADO"), kernel.FrameInfo{Dst: net.HardwareAddr{2, 9, 9, 9, 9, 9}}))
	noErr(t, a1.WriteDiscovery([]byte("PADO"), kernel.FrameInfo{Dst: closed.HardwareAddr("eth0")}))
	if got := n.Counters().Unreachable - before; got != 2 {
		t.Errorf("unreachable %d, want 2", got)
	}
}

// TestPPPoESession sends PPP frames both ways over a PPPoE session.
func TestPPPoESession(t *testing.T) {
	n := NewNetwork()
	client := n.Dataplane("client")
	ac := n.Dataplane("ac")
	n.Ethernet("lan").Join(client, "eth0").Join(ac, "eth1")
	cp := must(client.OpenPPPoE(kernel.PPPoEConfig{Interface: "eth0", VLANs: []uint16{7}}))
	ap := must(ac.OpenPPPoE(kernel.PPPoEConfig{Interface: "eth1", VLANs: []uint16{7}}))
	cc := must(cp.OpenSession(5, kernel.FrameInfo{Dst: ap.HardwareAddr(), VLAN: 7}, 0))
	ac5 := must(ap.OpenSession(5, kernel.FrameInfo{Dst: cp.HardwareAddr(), VLAN: 7}, 0))

	noErr(t, cc.WriteFrame([]byte(lcpFrame)))
	if got := read(t, ac5.ReadFrame); got != lcpFrame {
		t.Errorf("AC got %q", got)
	}
	noErr(t, ac5.WriteFrame([]byte(ipv4Frame)))
	if got := read(t, cc.ReadFrame); got != ipv4Frame {
		t.Errorf("client got %q", got)
	}
	if got, want := cc.MTU(), 1492; got != want {
		t.Errorf("MTU %d, want %d", got, want)
	}
	// A session the AC does not have is not delivered.
	c6 := must(cp.OpenSession(6, kernel.FrameInfo{Dst: ap.HardwareAddr(), VLAN: 7}, 0))
	before := n.Counters().Unreachable
	noErr(t, c6.WriteFrame([]byte(lcpFrame)))
	if got := n.Counters().Unreachable - before; got != 1 {
		t.Errorf("unreachable %d, want 1", got)
	}
	wantState(t, ac, "channel pppoe eth1/5 vlan 7 peer 02:00:00:00:01:01 mtu 1492\npppoe eth1 vlans 7\n")
}

// TestBridge runs the LAC data path: a PPPoE client's frames cross a LAC's bridge into
// an L2TP session to the LNS and back, and the LAC's channels read nothing while bridged.
func TestBridge(t *testing.T) {
	p := newPair(t, 2, kernel.EncapUDP)
	client := p.n.Dataplane("client")
	p.n.Ethernet("lan").Join(client, "eth0").Join(p.lac, "eth1")
	cp := must(client.OpenPPPoE(kernel.PPPoEConfig{Interface: "eth0"}))
	lp := must(p.lac.OpenPPPoE(kernel.PPPoEConfig{Interface: "eth1"}))
	clientC := must(cp.OpenSession(5, kernel.FrameInfo{Dst: lp.HardwareAddr()}, 0))
	lacPC := must(lp.OpenSession(5, kernel.FrameInfo{Dst: cp.HardwareAddr()}, 0))
	lacS, lnsS := sessions(t, p, kernel.SessionConfig{}, kernel.SessionConfig{})
	lacLC, lnsC := must(lacS.Channel()), must(lnsS.Channel())
	br := must(p.lac.Bridge(lacPC, lacLC))
	wantState(t, p.lac, "bridge l2tp 1/10 <-> pppoe eth1/5\n"+
		"channel l2tp 1/10 mtu 1462\n"+
		"channel pppoe eth1/5 peer 02:00:00:00:03:01 mtu 1492\n"+
		"pppoe eth1 vlans untagged\n"+
		"session 1/10 peer 20 pw ppp cookie - peer_cookie - l2spec none seq send=false recv=false\n"+
		"tunnel 1 v2 udp 192.0.2.1:49152 -> 192.0.2.2:1701 peer_tunnel 2\n")

	noErr(t, clientC.WriteFrame([]byte("\xc0\x21up")))
	if got := read(t, lnsC.ReadFrame); got != "\xc0\x21up" {
		t.Errorf("LNS got %q", got)
	}
	noErr(t, lnsC.WriteFrame([]byte("\xc0\x21down")))
	if got := read(t, clientC.ReadFrame); got != "\xc0\x21down" {
		t.Errorf("client got %q", got)
	}

	noErr(t, br.Close())
	wantState(t, p.lac, "channel l2tp 1/10 mtu 1462\n"+
		"channel pppoe eth1/5 peer 02:00:00:00:03:01 mtu 1492\n"+
		"pppoe eth1 vlans untagged\n"+
		"session 1/10 peer 20 pw ppp cookie - peer_cookie - l2spec none seq send=false recv=false\n"+
		"tunnel 1 v2 udp 192.0.2.1:49152 -> 192.0.2.2:1701 peer_tunnel 2\n")
	noErr(t, clientC.WriteFrame([]byte("\xc0\x21after")))
	noErr(t, lnsC.WriteFrame([]byte("\xc0\x21after lns")))
	if got := read(t, lacPC.ReadFrame); got != "\xc0\x21after" {
		t.Errorf("LAC PPPoE channel got %q, want the first frame after the bridge closed", got)
	}
	if got := read(t, lacLC.ReadFrame); got != "\xc0\x21after lns" {
		t.Errorf("LAC L2TP channel got %q, want the first frame after the bridge closed", got)
	}
	// In: "up" (4 bytes) and "after" (7); out: "down" (6), forwarded from the LNS.
	if diff := cmp.Diff(counters(2, 11, 1, 6), lacPC.Stats()); diff != "" {
		t.Errorf("LAC PPPoE channel counters (-want +got):\n%s", diff)
	}
}

// TestPPPoEExtraMAC: a client port acting for extra addresses sends from them, receives
// for them once they are in use, keeps same-ID sessions of two addresses apart, and shows
// the addresses on its state line.
func TestPPPoEExtraMAC(t *testing.T) {
	n := NewNetwork()
	client := n.Dataplane("client")
	ac1, ac2 := n.Dataplane("ac1"), n.Dataplane("ac2")
	n.Ethernet("lan").Join(client, "eth0").Join(ac1, "eth1").Join(ac2, "eth1")
	cp := must(client.OpenPPPoE(kernel.PPPoEConfig{Interface: "eth0"}))
	ap1 := must(ac1.OpenPPPoE(kernel.PPPoEConfig{Interface: "eth1"}))
	ap2 := must(ac2.OpenPPPoE(kernel.PPPoEConfig{Interface: "eth1"}))
	hostA := net.HardwareAddr{2, 0, 0, 0, 0xa, 1}
	hostB := net.HardwareAddr{2, 0, 0, 0, 0xa, 2}

	// Not yet in use: a frame to hostA reaches no one.
	before := n.Counters().Unreachable
	noErr(t, ap1.WriteDiscovery([]byte("PADO early"), kernel.FrameInfo{Dst: hostA}))
	if got := n.Counters().Unreachable - before; got != 1 {
		t.Errorf("unreachable %d, want 1", got)
	}
	noErr(t, cp.WriteDiscovery([]byte("PADI"), kernel.FrameInfo{Src: hostA, Dst: broadcast}))
	if diff := cmp.Diff(discovery{"PADI", kernel.FrameInfo{Src: hostA, Dst: broadcast}}, readDiscovery(t, ap1)); diff != "" {
		t.Errorf("AC (-want +got):\n%s", diff)
	}
	noErr(t, ap1.WriteDiscovery([]byte("PADO"), kernel.FrameInfo{Dst: hostA}))
	if diff := cmp.Diff(discovery{"PADO", kernel.FrameInfo{Src: ap1.HardwareAddr(), Dst: hostA}}, readDiscovery(t, cp)); diff != "" {
		t.Errorf("client (-want +got):\n%s", diff)
	}

	// Session 5 from hostA with ac1 and from hostB with ac2; session 6 from the
	// interface with ac1.
	sessions := []struct {
		id  uint16
		src net.HardwareAddr
		ap  kernel.PPPoEPort
	}{{5, hostA, ap1}, {5, hostB, ap2}, {6, nil, ap1}}
	var cc, acc []kernel.Channel
	for _, s := range sessions {
		cc = append(cc, must(cp.OpenSession(s.id, kernel.FrameInfo{Src: s.src, Dst: s.ap.HardwareAddr()}, 0)))
		peer := s.src
		if peer == nil {
			peer = cp.HardwareAddr()
		}
		acc = append(acc, must(s.ap.OpenSession(s.id, kernel.FrameInfo{Dst: peer}, 0)))
	}
	if _, err := cp.OpenSession(5, kernel.FrameInfo{Src: hostA, Dst: ap1.HardwareAddr()}, 0); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("OpenSession 5 from hostA again: %v, want EEXIST", err)
	}
	for i := range cc {
		msg := fmt.Sprintf("\xc0\x21to %d", i)
		noErr(t, acc[i].WriteFrame([]byte(msg)))
		if got := read(t, cc[i].ReadFrame); got != msg {
			t.Errorf("client channel %d got %q, want %q", i, got, msg)
		}
		msg = fmt.Sprintf("\xc0\x21from %d", i)
		noErr(t, cc[i].WriteFrame([]byte(msg)))
		if got := read(t, acc[i].ReadFrame); got != msg {
			t.Errorf("AC channel %d got %q, want %q", i, got, msg)
		}
	}
	for _, bad := range []net.HardwareAddr{broadcast, make(net.HardwareAddr, 6), {2, 0}} {
		if err := cp.WriteDiscovery([]byte("PADI"), kernel.FrameInfo{Src: bad, Dst: broadcast}); !errors.Is(err, kernel.ErrSourceMAC) {
			t.Errorf("WriteDiscovery from %v: %v, want ErrSourceMAC", bad, err)
		}
		if _, err := cp.OpenSession(7, kernel.FrameInfo{Src: bad, Dst: ap1.HardwareAddr()}, 0); !errors.Is(err, kernel.ErrSourceMAC) {
			t.Errorf("OpenSession from %v: %v, want ErrSourceMAC", bad, err)
		}
	}
	wantState(t, client, "channel pppoe eth0/5 from 02:00:00:00:0a:01 peer 02:00:00:00:02:01 mtu 1492\n"+
		"channel pppoe eth0/5 from 02:00:00:00:0a:02 peer 02:00:00:00:03:01 mtu 1492\n"+
		"channel pppoe eth0/6 peer 02:00:00:00:02:01 mtu 1492\n"+
		"pppoe eth0 vlans untagged extra 02:00:00:00:0a:01,02:00:00:00:0a:02\n")
	noErr(t, cc[0].Close())
	noErr(t, cp.Close())
	wantState(t, client, "")
}
