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
	clientMAC = [6]byte{0x02, 0xaa, 0, 0, 0, 1}
	otherMAC  = [6]byte{0x02, 0xaa, 0, 0, 0, 2}
	padi      = hx("1109 0000 0004 0101 0000")
)

// pppoeRig is a PPPoE port with one session channel and a unit that passes IPv4.
type pppoeRig struct {
	d    *Dataplane
	fs   *fakeSys
	port kernel.PPPoEPort
	eth  *fakeEth
	ch   kernel.Channel
	unit kernel.Unit
	dev  *fakeDev
}

func newPPPoERig(t *testing.T, cfg kernel.PPPoEConfig, outer, vlan uint16) *pppoeRig {
	t.Helper()
	d, fs := newTestDP(t)
	r := &pppoeRig{d: d, fs: fs}
	var err error
	cfg.Interface = "eth1"
	r.port, err = d.OpenPPPoE(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.eth = fs.eths["eth1"]
	r.ch, err = r.port.OpenSession(7, kernel.FrameInfo{Dst: net.HardwareAddr(clientMAC[:]), VLAN: vlan, OuterVLAN: outer}, 0)
	if err != nil {
		t.Fatal(err)
	}
	r.unit, err = d.NewUnit(r.ch, kernel.UnitConfig{Name: "ppp%d"})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.unit.Set(kernel.UnitState{IPv4Local: netip.MustParseAddr("10.0.0.1"), IPv4Peer: netip.MustParseAddr("10.0.0.2")}); err != nil {
		t.Fatal(err)
	}
	r.dev = fs.dev(t, r.unit.Name())
	return r
}

// sessFrame is a session frame payload: PPPoE header (RFC 2516 §4) and the PPP frame.
func sessFrame(sid uint16, ppp []byte) []byte {
	return cat([]byte{0x11, 0, byte(sid >> 8), byte(sid), byte(len(ppp) >> 8), byte(len(ppp))}, ppp)
}

func TestPPPoESession(t *testing.T) {
	for _, tc := range []struct {
		name        string
		cfg         kernel.PPPoEConfig
		outer, vlan uint16
	}{
		{name: "untagged"},
		{name: "vlan", cfg: kernel.PPPoEConfig{VLANs: []uint16{100, 200}}, vlan: 200},
		{name: "qinq", cfg: kernel.PPPoEConfig{VLANs: []uint16{10}, QinQ: []kernel.QinQ{{Outer: 10, InnerFirst: 100, InnerLast: 200}}}, outer: 10, vlan: 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newPPPoERig(t, tc.cfg, tc.outer, tc.vlan)
			if r.ch.MTU() != 1492 {
				t.Errorf("MTU %d, want 1492 (RFC 2516 §7)", r.ch.MTU())
			}
			in := func(src [6]byte, vlan uint16, payload []byte) {
				r.eth.in <- ethFrame{dst: r.eth.mac, src: src, vlan: vlan, outerVLAN: tc.outer, etherType: etherTypeSession, payload: payload}
			}
			// IPv4 to the unit, with Ethernet padding after the PPPoE payload.
			in(clientMAC, tc.vlan, cat(sessFrame(7, cat(hx("0021"), pingIn)), make([]byte, 10)))
			if diff := cmp.Diff(pingIn, r.dev.next(t)); diff != "" {
				t.Errorf("TUN packet (-want +got):\n%s", diff)
			}
			// LCP to the channel.
			in(clientMAC, tc.vlan, sessFrame(7, lcpReq))
			b := make([]byte, 1500)
			n, err := r.ch.ReadFrame(b)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(lcpReq, b[:n]); diff != "" {
				t.Errorf("control frame (-want +got):\n%s", diff)
			}

			// Sending: the unit's packets and WriteFrame's frames.
			r.dev.in <- pingOut
			f := r.eth.next(t)
			want := ethFrame{dst: clientMAC, src: r.eth.mac, vlan: tc.vlan, outerVLAN: tc.outer, etherType: etherTypeSession, payload: sessFrame(7, cat(hx("0021"), pingOut))}
			if diff := cmp.Diff(want, f, cmp.AllowUnexported(ethFrame{})); diff != "" {
				t.Errorf("sent frame (-want +got):\n%s", diff)
			}
			if err := r.ch.WriteFrame(lcpReq); err != nil {
				t.Fatal(err)
			}
			if f := r.eth.next(t); !bytes.Equal(f.payload, sessFrame(7, lcpReq)) {
				t.Errorf("WriteFrame sent %x", f.payload)
			}

			// Bad frames, then a good one that shows they were handled.
			in(clientMAC, tc.vlan, sessFrame(8, cat(hx("0021"), pingIn)))                                                                                                        // other session
			in(otherMAC, tc.vlan, sessFrame(7, cat(hx("0021"), pingIn)))                                                                                                         // other peer
			in(clientMAC, tc.vlan, hx("1100 0007 00ff 0021"))                                                                                                                    // length beyond the frame
			in(clientMAC, tc.vlan, hx("2100 0007 0002 0021"))                                                                                                                    // version 2
			in(clientMAC, tc.vlan, hx("1107 0007 0002 0021"))                                                                                                                    // not session data
			in(clientMAC, tc.vlan+1, sessFrame(7, cat(hx("0021"), pingIn)))                                                                                                      // not a served VLAN: ignored
			r.eth.in <- ethFrame{dst: otherMAC, src: clientMAC, vlan: tc.vlan, outerVLAN: tc.outer, etherType: etherTypeSession, payload: sessFrame(7, cat(hx("0021"), pingIn))} // for another host: ignored
			in(clientMAC, tc.vlan, sessFrame(7, cat(hx("0021"), pingIn)))
			r.dev.next(t)
			st := r.port.(*pppoePort).ctr.snapshot()
			if st.Drops[kernel.DropNoSession] != 2 || st.Drops[kernel.DropMalformed] != 3 || st.Dropped() != 5 {
				t.Errorf("port drops %v, want 2 no_session and 3 malformed", st.Drops)
			}
			select {
			case p := <-r.dev.out:
				t.Errorf("unexpected packet on the TUN: %x", p)
			default:
			}
		})
	}
}

func TestPPPoEDiscovery(t *testing.T) {
	d, fs := newTestDP(t)
	port, err := d.OpenPPPoE(kernel.PPPoEConfig{Interface: "eth1", VLANs: []uint16{10}, QinQ: []kernel.QinQ{{Outer: 5, InnerFirst: 10, InnerLast: 10}}})
	if err != nil {
		t.Fatal(err)
	}
	eth := fs.eths["eth1"]
	bcast := [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	eth.in <- ethFrame{dst: bcast, src: otherMAC, vlan: 11, outerVLAN: 5, etherType: etherTypeDiscovery, payload: padi} // QinQ 5.11: not served
	eth.in <- ethFrame{dst: bcast, src: otherMAC, vlan: 10, outerVLAN: 6, etherType: etherTypeDiscovery, payload: padi} // QinQ 6.10: not served
	eth.in <- ethFrame{dst: bcast, src: otherMAC, etherType: etherTypeDiscovery, payload: padi}                         // untagged: not served
	eth.in <- ethFrame{dst: bcast, src: otherMAC, vlan: 11, etherType: etherTypeDiscovery, payload: padi}               // VLAN 11: not served
	eth.in <- ethFrame{dst: otherMAC, src: clientMAC, vlan: 10, etherType: etherTypeDiscovery, payload: padi}           // for another host
	// Ethernet pads short frames; the padding is cut by the PPPoE LENGTH.
	eth.in <- ethFrame{dst: bcast, src: clientMAC, vlan: 10, outerVLAN: 5, etherType: etherTypeDiscovery, payload: cat(padi, make([]byte, 36))}
	b := make([]byte, 1500)
	n, info, err := port.ReadDiscovery(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(padi, b[:n]); diff != "" {
		t.Errorf("ReadDiscovery (-want +got):\n%s", diff)
	}
	wantInfo := kernel.FrameInfo{Src: net.HardwareAddr(clientMAC[:]), Dst: net.HardwareAddr(bcast[:]), VLAN: 10, OuterVLAN: 5}
	if diff := cmp.Diff(wantInfo, info); diff != "" {
		t.Errorf("FrameInfo (-want +got):\n%s", diff)
	}
	pado := hx("1107 0000 0000")
	if err := port.WriteDiscovery(pado, kernel.FrameInfo{Dst: net.HardwareAddr(clientMAC[:]), VLAN: 10, OuterVLAN: 5}); err != nil {
		t.Fatal(err)
	}
	want := ethFrame{dst: clientMAC, src: eth.mac, vlan: 10, outerVLAN: 5, etherType: etherTypeDiscovery, payload: pado}
	if diff := cmp.Diff(want, eth.next(t), cmp.AllowUnexported(ethFrame{})); diff != "" {
		t.Errorf("sent (-want +got):\n%s", diff)
	}
	if got := port.HardwareAddr(); !bytes.Equal(got, eth.mac[:]) {
		t.Errorf("HardwareAddr %v", got)
	}
	if port.MTU() != 1500 {
		t.Errorf("MTU %d", port.MTU())
	}
	if err := port.WriteDiscovery(pado, kernel.FrameInfo{}); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("WriteDiscovery without a destination: %v, want EINVAL", err)
	}

	// Sessions: one per (VLAN, MAC, ID); a PPP-Max-Payload above what the interface takes
	// is cut to it.
	peer := kernel.FrameInfo{Dst: net.HardwareAddr(clientMAC[:]), VLAN: 10}
	ch, err := port.OpenSession(1, peer, 1500)
	if err != nil {
		t.Fatal(err)
	}
	if ch.MTU() != 1492 {
		t.Errorf("MTU %d, want 1492", ch.MTU())
	}
	if _, err := port.OpenSession(1, peer, 0); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("second OpenSession: %v, want EEXIST", err)
	}
	if _, err := port.OpenSession(0xffff, peer, 0); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("OpenSession 0xffff: %v, want EINVAL", err)
	}
	ch.Close()
	if _, err := port.OpenSession(1, peer, 0); err != nil {
		t.Errorf("OpenSession after the channel closed: %v", err)
	}

	// SetVLANs: a bad ID changes nothing; then VLAN 20 is served instead of 10.
	if err := port.SetVLANs(kernel.PPPoEConfig{VLANs: []uint16{4095}}); !errors.Is(err, syscall.EINVAL) || !errors.Is(err, kernel.ErrVLAN) {
		t.Errorf("SetVLANs with VLAN 4095: %v, want EINVAL and ErrVLAN", err)
	}
	if err := port.SetVLANs(kernel.PPPoEConfig{VLANs: []uint16{20}}); err != nil {
		t.Fatal(err)
	}
	eth.in <- ethFrame{dst: bcast, src: otherMAC, vlan: 10, etherType: etherTypeDiscovery, payload: padi} // no longer served
	eth.in <- ethFrame{dst: bcast, src: clientMAC, vlan: 20, etherType: etherTypeDiscovery, payload: padi}
	if _, info, err := port.ReadDiscovery(b); err != nil || info.VLAN != 20 || !bytes.Equal(info.Src, clientMAC[:]) {
		t.Errorf("ReadDiscovery after SetVLANs: %+v, %v, want the frame on VLAN 20", info, err)
	}

	if err := port.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := port.ReadDiscovery(b); !errors.Is(err, net.ErrClosed) {
		t.Errorf("ReadDiscovery after Close: %v, want net.ErrClosed", err)
	}
	if err := port.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestEthernetPseudowire(t *testing.T) {
	r := newRig(t, rigConfig{
		tunnel:  kernel.TunnelConfig{Version: 3, TunnelID: 10, Local: localAP, Peer: peerAP},
		session: kernel.SessionConfig{SessionID: 1, PeerSessionID: 2, PWType: kernel.PWEthernet, IfName: "l2tpeth%d", Cookie: hx("aabbccdd"), PeerCookie: hx("11223344")},
	})
	if _, err := r.sess.Channel(); !errors.Is(err, kernel.ErrNotPPP) {
		t.Errorf("Channel of an Ethernet session: %v, want ErrNotPPP", err)
	}
	name := r.sess.Interface()
	if name != "l2tpeth0" {
		t.Errorf("Interface() = %q", name)
	}
	tap := r.fs.dev(t, name)
	if !tap.tap {
		t.Error("the pseudowire device is not a TAP")
	}
	// 1500 - IPv4 (20) - UDP (8) - L2TPv3 over UDP with a 4-byte cookie (12) - Ethernet (14).
	if tap.mtu != 1446 {
		t.Errorf("TAP MTU %d, want 1446", tap.mtu)
	}
	frame := cat(hx("020000000001 020000000002 0800"), pingIn)
	r.conn.inject(cat(hx("0003 0000 00000001 aabbccdd"), frame), peerAP)
	if diff := cmp.Diff(frame, tap.next(t)); diff != "" {
		t.Errorf("TAP frame (-want +got):\n%s", diff)
	}
	tap.in <- frame
	if diff := cmp.Diff(cat(hx("0003 0000 00000002 11223344"), frame), r.conn.next(t).b); diff != "" {
		t.Errorf("sent (-want +got):\n%s", diff)
	}
	// A runt from the TAP is dropped.
	tap.in <- hx("0102")
	tap.in <- frame
	r.conn.next(t)
	if got := r.sess.Stats().Drops[kernel.DropMalformed]; got != 1 {
		t.Errorf("malformed drops %d, want 1", got)
	}
	if err := r.sess.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-tap.done:
	default:
		t.Error("TAP device still open after the session closed")
	}
}

func TestBridge(t *testing.T) {
	// One data plane with a PPPoE session and an L2TP session: a LAC.
	r := newRig(t, rigConfig{noUnit: true})
	port, err := r.d.OpenPPPoE(kernel.PPPoEConfig{Interface: "eth1"})
	if err != nil {
		t.Fatal(err)
	}
	eth := r.fs.eths["eth1"]
	pch, err := port.OpenSession(7, kernel.FrameInfo{Dst: net.HardwareAddr(clientMAC[:])}, 0)
	if err != nil {
		t.Fatal(err)
	}
	br, err := r.d.Bridge(pch, r.ch)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.d.Bridge(r.ch, pch); !errors.Is(err, syscall.EBUSY) {
		t.Errorf("bridging bridged channels: %v, want EBUSY", err)
	}
	if _, err := r.d.Bridge(pch, pch); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("bridging a channel to itself: %v, want EINVAL", err)
	}

	// PPPoE -> L2TP: LCP and IP alike, with the HDLC address and control fields added.
	for _, ppp := range [][]byte{lcpReq, cat(hx("0021"), pingIn)} {
		eth.in <- ethFrame{dst: eth.mac, src: clientMAC, etherType: etherTypeSession, payload: sessFrame(7, ppp)}
		if diff := cmp.Diff(cat(hx("0002 0014 0002 ff03"), ppp), r.conn.next(t).b); diff != "" {
			t.Errorf("L2TP datagram (-want +got):\n%s", diff)
		}
	}
	// L2TP -> PPPoE, without them.
	r.conn.inject(cat(hx("0002 000a 0001 ff03"), lcpReq), peerAP)
	if diff := cmp.Diff(sessFrame(7, lcpReq), eth.next(t).payload); diff != "" {
		t.Errorf("PPPoE payload (-want +got):\n%s", diff)
	}
	// The counters count a frame after it was sent.
	waitFor(t, func() bool {
		p, l := pch.Stats(), r.ch.Stats()
		return p.RxPackets == 2 && p.TxPackets == 1 && l.RxPackets == 1 && l.TxPackets == 2
	}, "channel counters: PPPoE 2 in 1 out, L2TP 1 in 2 out")

	// Closing the bridge restores delivery to ReadFrame.
	if err := br.Close(); err != nil {
		t.Fatal(err)
	}
	r.conn.inject(cat(hx("0002 000a 0001 ff03"), lcpReq), peerAP)
	b := make([]byte, 1500)
	n, err := r.ch.ReadFrame(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b[:n], lcpReq) {
		t.Errorf("ReadFrame after the bridge closed: %x", b[:n])
	}
	// And the channels can be bridged again.
	br2, err := r.d.Bridge(r.ch, pch)
	if err != nil {
		t.Fatal(err)
	}
	br2.Close()
}
