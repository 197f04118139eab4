package userspace

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/probox/probox/kernel"
)

// hx decodes hex with spaces.
func hx(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

// ip4 is a minimal IPv4 packet from 10.0.0.2 to 10.0.0.1 (or the given addresses) with
// payload.
func ip4(src, dst string, payload string) []byte {
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	p := []byte(payload)
	h := []byte{0x45, 0, 0, byte(20 + len(p)), 0, 0, 0, 0, 64, 17, 0, 0}
	h = append(h, s[:]...)
	h = append(h, d[:]...)
	return append(h, p...)
}

// ip6 is a minimal IPv6 packet.
func ip6(src, dst string, payload string) []byte {
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	p := []byte(payload)
	h := []byte{0x60, 0, 0, 0, 0, byte(len(p)), 17, 64}
	h = append(h, s[:]...)
	h = append(h, d[:]...)
	return append(h, p...)
}

var (
	pingIn  = ip4("10.0.0.2", "10.0.0.1", "from the peer")
	pingOut = ip4("10.0.0.1", "10.0.0.2", "to the peer")
	lcpReq  = hx("c021 01 07 0008 01 04 05dc")
)

// rig is one tunnel with one session, its channel and a dedicated unit that passes IPv4.
type rig struct {
	d    *Dataplane
	fs   *fakeSys
	tun  kernel.Tunnel
	conn *fakeConn // the tunnel's socket (UDP) or the raw socket (IP)
	sess kernel.Session
	ch   kernel.Channel
	unit kernel.Unit
	dev  *fakeDev
}

type rigConfig struct {
	tunnel  kernel.TunnelConfig
	session kernel.SessionConfig
	noUnit  bool
}

func newRig(t *testing.T, rc rigConfig) *rig {
	t.Helper()
	d, fs := newTestDP(t)
	r := &rig{d: d, fs: fs}
	tc := rc.tunnel
	if tc.Version == 0 {
		tc.Version = 2
	}
	if tc.TunnelID == 0 {
		tc.TunnelID = 10
	}
	if !tc.Peer.IsValid() {
		tc.Local, tc.Peer = localAP, peerAP
	}
	var err error
	r.tun, err = d.OpenTunnel(tc)
	if err != nil {
		t.Fatalf("OpenTunnel: %v", err)
	}
	if tc.Encap == kernel.EncapIP {
		kind := "ip4"
		if tc.Peer.Addr().Is6() {
			kind = "ip6"
		}
		r.conn = fs.conn(t, kind)
	} else {
		r.conn = fs.conn(t, "dial")
	}
	if err := r.tun.Establish(20, tc.Peer); err != nil {
		t.Fatalf("Establish: %v", err)
	}
	sc := rc.session
	if sc.SessionID == 0 {
		sc.SessionID, sc.PeerSessionID = 1, 2
	}
	r.sess, err = r.tun.EnsureSession(sc)
	if err != nil {
		t.Fatalf("EnsureSession: %v", err)
	}
	if sc.PWType != kernel.PWPPP {
		return r
	}
	r.ch, err = r.sess.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if rc.noUnit {
		return r
	}
	r.unit, err = d.NewUnit(r.ch, kernel.UnitConfig{})
	if err != nil {
		t.Fatalf("NewUnit: %v", err)
	}
	if err := r.unit.Set(kernel.UnitState{IPv4Local: netip.MustParseAddr("10.0.0.1"), IPv4Peer: netip.MustParseAddr("10.0.0.2")}); err != nil {
		t.Fatalf("Set: %v", err)
	}
	r.dev = fs.dev(t, r.unit.Name())
	return r
}

func TestL2TPv2Receive(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      []byte
		wantIP  []byte // on the TUN device
		wantCtl []byte // on ReadFrame
	}{
		{name: "plain", in: cat(hx("0002 000a 0001 ff03 0021"), pingIn), wantIP: pingIn},
		{name: "length", in: cat(hx("4002"), []byte{0, byte(12 + len(pingIn))}, hx("000a 0001 ff03 0021"), pingIn, hx("eeee")), wantIP: pingIn},
		{name: "sequence", in: cat(hx("0802 000a 0001 0005 0000 ff03 0021"), pingIn), wantIP: pingIn},
		{name: "offset", in: cat(hx("0202 000a 0001 0003 aabbcc ff03 0021"), pingIn), wantIP: pingIn},
		{name: "length sequence offset priority", in: cat(hx("4b02"), []byte{0, byte(20 + len(pingIn))}, hx("000a 0001 0000 0000 0002 0000 ff03 0021"), pingIn), wantIP: pingIn},
		{name: "no address and control", in: cat(hx("0002 000a 0001 0021"), pingIn), wantIP: pingIn},
		{name: "compressed protocol", in: cat(hx("0002 000a 0001 ff03 21"), pingIn), wantIP: pingIn},
		{name: "lcp to the channel", in: cat(hx("0002 000a 0001 ff03"), lcpReq), wantCtl: lcpReq},
		{name: "ipcp to the channel", in: hx("0002 000a 0001 ff03 8021 01 01 000a 03 06 00000000"), wantCtl: hx("8021 01 01 000a 03 06 00000000")},
		{name: "compressed unknown protocol", in: hx("0002 000a 0001 3d 1234"), wantCtl: hx("003d 1234")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, rigConfig{})
			r.conn.inject(tc.in, peerAP)
			if tc.wantIP != nil {
				if diff := cmp.Diff(tc.wantIP, r.dev.next(t)); diff != "" {
					t.Errorf("TUN packet (-want +got):\n%s", diff)
				}
				waitFor(t, func() bool {
					st := r.unit.Stats()
					return st.RxPackets == 1 && st.RxBytes == uint64(len(tc.wantIP))
				}, "unit counters: 1 packet in")
			}
			if tc.wantCtl != nil {
				b := make([]byte, 1500)
				n, err := r.ch.ReadFrame(b)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tc.wantCtl, b[:n]); diff != "" {
					t.Errorf("control frame (-want +got):\n%s", diff)
				}
			}
			if got := r.tun.Stats(); got.RxPackets != 1 || got.Dropped() != 0 {
				t.Errorf("tunnel counters %+v", got)
			}
		})
	}
}

// TestL2TPReceiveDrops feeds bad packets, each followed by a good one: once the good one
// arrives, the reader has counted the bad one.
func TestL2TPv2ReceiveDrops(t *testing.T) {
	good := cat(hx("0002 000a 0001 ff03 0021"), pingIn)
	for _, tc := range []struct {
		name     string
		in       []byte
		tunnel   kernel.DropReason
		channel  kernel.DropReason // counted on the channel, if not tunnel
		onChan   bool
		passIPv6 bool
	}{
		{name: "truncated", in: hx("0002 000a"), tunnel: kernel.DropMalformed},
		{name: "one byte", in: hx("00"), tunnel: kernel.DropMalformed},
		{name: "version 3 on a v2 tunnel", in: hx("0003 0000 0000 0001"), tunnel: kernel.DropMalformed},
		{name: "L2F", in: hx("0001 000a 0001 0000"), tunnel: kernel.DropMalformed},
		{name: "length beyond the packet", in: hx("4002 00ff 000a 0001 ff03 0021"), tunnel: kernel.DropMalformed},
		{name: "length inside the header", in: hx("4002 0004 000a 0001 ff03 0021"), tunnel: kernel.DropMalformed},
		{name: "offset beyond the packet", in: hx("0202 000a 0001 00ff 00"), tunnel: kernel.DropMalformed},
		{name: "sequence truncated", in: hx("0802 000a 0001 00"), tunnel: kernel.DropMalformed},
		{name: "unknown session", in: cat(hx("0002 000a 0009 ff03 0021"), pingIn), tunnel: kernel.DropNoSession},
		{name: "other tunnel ID", in: cat(hx("0002 000b 0001 ff03 0021"), pingIn), tunnel: kernel.DropNoSession},
		{name: "ipv6 not passing", in: cat(hx("0002 000a 0001 ff03 0057"), ip6("fe80::2", "fe80::1", "x")), onChan: true, channel: kernel.DropNotPassing},
		{name: "empty ppp frame", in: hx("0002 000a 0001 ff03"), onChan: true, channel: kernel.DropMalformed},
		{name: "half a protocol field", in: hx("0002 000a 0001 ff03 00"), onChan: true, channel: kernel.DropMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, rigConfig{})
			r.conn.inject(tc.in, peerAP)
			r.conn.inject(good, peerAP)
			r.dev.next(t)
			var c kernel.Counters
			var reason kernel.DropReason
			if tc.onChan {
				c, reason = r.ch.Stats(), tc.channel
			} else {
				c, reason = r.tun.Stats(), tc.tunnel
			}
			if c.Drops[reason] != 1 || c.Dropped() != 1 {
				t.Errorf("drops %v, want one %v", c.Drops, reason)
			}
		})
	}
}

func TestL2TPv2Send(t *testing.T) {
	for _, tc := range []struct {
		name    string
		sendSeq bool
		want    [][]byte
	}{
		{name: "plain", want: [][]byte{cat(hx("0002 0014 0002 ff03 0021"), pingOut), cat(hx("0002 0014 0002 ff03 0021"), pingOut)}},
		{name: "sequence", sendSeq: true, want: [][]byte{
			cat(hx("0802 0014 0002 0000 0000 ff03 0021"), pingOut),
			cat(hx("0802 0014 0002 0001 0000 ff03 0021"), pingOut),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, rigConfig{session: kernel.SessionConfig{SessionID: 1, PeerSessionID: 2, SendSeq: tc.sendSeq}})
			for _, want := range tc.want {
				r.dev.in <- pingOut
				got := r.conn.next(t)
				if diff := cmp.Diff(want, got.b); diff != "" {
					t.Errorf("datagram (-want +got):\n%s", diff)
				}
			}
			// The counters count a packet after it was sent.
			waitFor(t, func() bool {
				st := r.unit.Stats()
				return st.TxPackets == 2 && st.TxBytes == uint64(2*len(pingOut))
			}, "unit counters: 2 packets out")
			if st := r.sess.Stats(); st.TxPackets != 2 {
				t.Errorf("session counters %+v", st)
			}
			if st := r.tun.Stats(); st.TxPackets != 2 || st.TxBytes != uint64(2*len(tc.want[0])) {
				t.Errorf("tunnel counters %+v", st)
			}
		})
	}
}

func TestL2TPv3(t *testing.T) {
	cookie4, cookie8 := hx("01020304"), hx("1112131415161718")
	for _, tc := range []struct {
		name             string
		encap            kernel.Encap
		v6               bool
		cookie, peerCook []byte
		sublayer         bool
		sendSeq          bool
		// the header before the PPP frame (ff03 0021 ...), received and sent
		rxHeader, txHeader []byte
	}{
		{name: "udp no cookie", encap: kernel.EncapUDP, rxHeader: hx("0003 0000 00000001"), txHeader: hx("0003 0000 00000002")},
		{name: "udp cookie 4", encap: kernel.EncapUDP, cookie: cookie4, peerCook: cookie8,
			rxHeader: hx("0003 0000 00000001 01020304"), txHeader: hx("0003 0000 00000002 1112131415161718")},
		{name: "udp cookie 8 sublayer", encap: kernel.EncapUDP, cookie: cookie8, peerCook: cookie4, sublayer: true,
			rxHeader: hx("0003 0000 00000001 1112131415161718 40000007"), txHeader: hx("0003 0000 00000002 01020304 00000000")},
		{name: "udp sublayer sequence", encap: kernel.EncapUDP, sublayer: true, sendSeq: true,
			rxHeader: hx("0003 0000 00000001 00000000"), txHeader: hx("0003 0000 00000002 40000000")},
		{name: "udp6 cookie 4", encap: kernel.EncapUDP, v6: true, cookie: cookie4, peerCook: cookie4,
			rxHeader: hx("0003 0000 00000001 01020304"), txHeader: hx("0003 0000 00000002 01020304")},
		{name: "ip no cookie", encap: kernel.EncapIP, rxHeader: hx("00000001"), txHeader: hx("00000002")},
		{name: "ip cookie 4", encap: kernel.EncapIP, cookie: cookie4, rxHeader: hx("00000001 01020304"), txHeader: hx("00000002")},
		{name: "ip cookie 8 sublayer sequence", encap: kernel.EncapIP, cookie: cookie8, peerCook: cookie8, sublayer: true, sendSeq: true,
			rxHeader: hx("00000001 1112131415161718 40ffffff"), txHeader: hx("00000002 1112131415161718 40000000")},
		{name: "ip6 cookie 8", encap: kernel.EncapIP, v6: true, cookie: cookie8, peerCook: cookie4,
			rxHeader: hx("00000001 1112131415161718"), txHeader: hx("00000002 01020304")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l2 := kernel.L2SpecNone
			if tc.sublayer {
				l2 = kernel.L2SpecDefault
			}
			local, peer := localAP, peerAP
			if tc.v6 {
				local, peer = local6, peer6
			}
			r := newRig(t, rigConfig{
				tunnel:  kernel.TunnelConfig{Version: 3, Encap: tc.encap, TunnelID: 10, Local: local, Peer: peer},
				session: kernel.SessionConfig{SessionID: 1, PeerSessionID: 2, Cookie: tc.cookie, PeerCookie: tc.peerCook, L2Spec: l2, SendSeq: tc.sendSeq},
			})
			r.conn.inject(cat(tc.rxHeader, hx("ff03 0021"), pingIn), peer)
			if diff := cmp.Diff(pingIn, r.dev.next(t)); diff != "" {
				t.Errorf("received (-want +got):\n%s", diff)
			}
			r.dev.in <- pingOut
			got := r.conn.next(t)
			if diff := cmp.Diff(cat(tc.txHeader, hx("ff03 0021"), pingOut), got.b); diff != "" {
				t.Errorf("sent (-want +got):\n%s", diff)
			}
			if tc.encap == kernel.EncapIP {
				if want := netip.AddrPortFrom(peer.Addr(), 0); got.to != want {
					t.Errorf("sent to %v, want %v", got.to, want)
				}
				if got.from != local.Addr() {
					t.Errorf("sent from %v, want %v", got.from, local.Addr())
				}
			}

			// A wrong cookie is dropped (RFC 3931 §4.1); so is a header cut short.
			if len(tc.cookie) > 0 {
				bad := bytes.Clone(tc.rxHeader)
				off := 8
				if tc.encap == kernel.EncapIP {
					off = 4
				}
				bad[off] ^= 0xff
				r.conn.inject(cat(bad, hx("ff03 0021"), pingIn), peer)
				r.conn.inject(tc.rxHeader[:len(tc.rxHeader)-1], peer)
				r.conn.inject(cat(tc.rxHeader, hx("ff03 0021"), pingIn), peer)
				r.dev.next(t)
				st := r.tun.Stats()
				if st.Drops[kernel.DropCookie] != 1 || st.Drops[kernel.DropMalformed] != 1 {
					t.Errorf("tunnel drops %v, want 1 cookie and 1 malformed", st.Drops)
				}
				if st := r.sess.Stats(); st.Drops[kernel.DropCookie] != 1 {
					t.Errorf("session drops %v, want 1 cookie", st.Drops)
				}
			}
		})
	}
}

func TestRecvSeq(t *testing.T) {
	v2 := func(ns uint16) []byte {
		return cat(hx("0802 000a 0001"), []byte{byte(ns >> 8), byte(ns), 0, 0}, hx("ff03 0021"), ip4("10.0.0.2", "10.0.0.1", string(rune('a'+ns%26))))
	}
	v3 := func(seq uint32) []byte {
		return cat(hx("0003 0000 00000001"), []byte{0x40, byte(seq >> 16), byte(seq >> 8), byte(seq)}, hx("ff03 0021"), ip4("10.0.0.2", "10.0.0.1", string(rune('a'+seq%26))))
	}
	for _, tc := range []struct {
		name   string
		v3     bool
		seqs   []uint32
		accept []bool
		noSeq  bool
	}{
		{name: "v2 in order with a gap", seqs: []uint32{0, 1, 3, 4}, accept: []bool{true, true, true, true}},
		{name: "v2 late and duplicate", seqs: []uint32{5, 6, 5, 6, 7}, accept: []bool{true, true, false, false, true}},
		{name: "v2 wrap", seqs: []uint32{0xfffe, 0xffff, 0, 1, 0xffff, 2}, accept: []bool{true, true, true, true, false, true}},
		{name: "v2 far jump ahead", seqs: []uint32{10, 10 + 0x7fff}, accept: []bool{true, true}},
		{name: "v2 without sequence numbers", noSeq: true},
		{name: "v3 wrap at 24 bits", v3: true, seqs: []uint32{0xfffffe, 0xffffff, 0, 0xfffffe, 1}, accept: []bool{true, true, true, false, true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := rigConfig{session: kernel.SessionConfig{SessionID: 1, PeerSessionID: 2, RecvSeq: true}}
			if tc.v3 {
				rc.tunnel = kernel.TunnelConfig{Version: 3, TunnelID: 10, Local: localAP, Peer: peerAP}
				rc.session.L2Spec = kernel.L2SpecDefault
			}
			r := newRig(t, rc)
			if tc.noSeq {
				r.conn.inject(cat(hx("0002 000a 0001 ff03 0021"), pingIn), peerAP)
				r.conn.inject(v2(0), peerAP)
				r.dev.next(t)
				if got := r.tun.Stats().Drops[kernel.DropSequence]; got != 1 {
					t.Errorf("sequence drops %d, want 1", got)
				}
				return
			}
			wantDrops := 0
			for i, s := range tc.seqs {
				if tc.v3 {
					r.conn.inject(v3(s), peerAP)
				} else {
					r.conn.inject(v2(uint16(s)), peerAP)
				}
				if tc.accept[i] {
					got := r.dev.next(t)
					if want := byte('a' + s%26); got[len(got)-1] != want {
						t.Errorf("packet %d: got payload %q, want %q", i, got[len(got)-1], want)
					}
				} else {
					wantDrops++
				}
			}
			// The drops are counted before the last accepted packet arrived.
			if got := r.sess.Stats().Drops[kernel.DropSequence]; got != uint64(wantDrops) {
				t.Errorf("sequence drops %d, want %d", got, wantDrops)
			}
		})
	}
}

func TestControlMessages(t *testing.T) {
	r := newRig(t, rigConfig{noUnit: true})
	sccrp := hx("c802 0014 000a 0000 0000 0001 8008 0000 0000 0002")
	r.conn.inject(sccrp, peerAP)
	b := make([]byte, 1500)
	n, _, err := r.tun.ReadControl(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sccrp, b[:n]); diff != "" {
		t.Errorf("ReadControl (-want +got):\n%s", diff)
	}
	if err := r.tun.WriteControl(sccrp); err != nil {
		t.Fatal(err)
	}
	if got := r.conn.next(t); !bytes.Equal(got.b, sccrp) {
		t.Errorf("WriteControl sent %x", got.b)
	}

	// The engine does not read: the queue fills, and further messages are dropped.
	for range tunnelQueueDepth + 5 {
		r.conn.inject(sccrp, peerAP)
	}
	waitFor(t, func() bool { return r.tun.Stats().Drops[kernel.DropQueueFull] == 5 }, "5 queue-full drops")
	for range tunnelQueueDepth {
		if _, _, err := r.tun.ReadControl(b); err != nil {
			t.Fatal(err)
		}
	}

	r.tun.Close()
	if _, _, err := r.tun.ReadControl(b); !errors.Is(err, net.ErrClosed) {
		t.Errorf("ReadControl after Close: %v, want net.ErrClosed", err)
	}
	if err := r.tun.WriteControl(sccrp); !errors.Is(err, net.ErrClosed) {
		t.Errorf("WriteControl after Close: %v, want net.ErrClosed", err)
	}
}

func TestIPEncapDemux(t *testing.T) {
	d, fs := newTestDP(t)
	l, err := d.Listen(kernel.ListenConfig{Encap: kernel.EncapIP, Addr: netip.MustParseAddrPort("0.0.0.0:0")})
	if err != nil {
		t.Fatal(err)
	}
	raw := fs.conn(t, "ip4")
	t1, err := d.OpenTunnel(kernel.TunnelConfig{Version: 3, Encap: kernel.EncapIP, TunnelID: 100, Local: localAP, Peer: peerAP})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.OpenTunnel(kernel.TunnelConfig{Version: 3, Encap: kernel.EncapIP, TunnelID: 100, Peer: netip.MustParseAddrPort("192.0.2.9:0")}); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("second tunnel with ID 100: %v, want EEXIST", err)
	}
	sccrq := hx("c803 0014 00000000 0000 0000 0008 0000 0000 0001")
	scccn := hx("c803 0014 00000064 0001 0001 0008 0000 0000 0003")
	peer := peerAP.Addr()
	stranger := netip.MustParseAddr("198.51.100.7")
	for _, tc := range []struct {
		name     string
		in       []byte
		src      netip.Addr
		listener bool // else tunnel
		want     []byte
	}{
		{name: "new tunnel", in: cat(hx("00000000"), sccrq), src: stranger, listener: true, want: sccrq},
		{name: "tunnel's own", in: cat(hx("00000000"), scccn), src: peer, want: scccn},
		{name: "tunnel ID from another address", in: cat(hx("00000000"), scccn), src: stranger, listener: true, want: scccn},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw.in <- fakePkt{b: tc.in, src: netip.AddrPortFrom(tc.src, 0), dst: localAP.Addr()}
			b := make([]byte, 1500)
			var n int
			if tc.listener {
				var src netip.AddrPort
				var dst netip.Addr
				n, src, dst, err = l.ReadFrom(b)
				if src.Addr() != tc.src || dst != localAP.Addr() {
					t.Errorf("ReadFrom: src %v dst %v, want %v %v", src, dst, tc.src, localAP.Addr())
				}
			} else {
				n, _, err = t1.ReadControl(b)
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, b[:n]); diff != "" {
				t.Errorf("control message (-want +got):\n%s", diff)
			}
		})
	}

	// Control messages written get the zero session ID.
	if err := t1.WriteControl(scccn); err != nil {
		t.Fatal(err)
	}
	got := raw.next(t)
	if diff := cmp.Diff(cat(hx("00000000"), scccn), got.b); diff != "" {
		t.Errorf("WriteControl (-want +got):\n%s", diff)
	}
	if err := l.WriteTo(sccrq, netip.AddrPortFrom(stranger, 0)); err != nil {
		t.Fatal(err)
	}
	if got := raw.next(t); got.to.Addr() != stranger || !bytes.Equal(got.b, cat(hx("00000000"), sccrq)) {
		t.Errorf("listener WriteTo sent %x to %v", got.b, got.to)
	}

	// Session IDs are unique across IP tunnels (RFC 3931 §4.1).
	t2, err := d.OpenTunnel(kernel.TunnelConfig{Version: 3, Encap: kernel.EncapIP, TunnelID: 200, Peer: netip.MustParseAddrPort("192.0.2.9:0")})
	if err != nil {
		t.Fatal(err)
	}
	t1.Establish(1, netip.AddrPort{})
	t2.Establish(1, netip.AddrPort{})
	if _, err := t1.EnsureSession(kernel.SessionConfig{SessionID: 5, PeerSessionID: 5}); err != nil {
		t.Fatal(err)
	}
	if _, err := t2.EnsureSession(kernel.SessionConfig{SessionID: 5, PeerSessionID: 5}); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("session 5 in a second IP tunnel: %v, want EEXIST", err)
	}

	// Data for no session, and runts.
	raw.in <- fakePkt{b: hx("00000063 ff03 0021"), src: netip.AddrPortFrom(peer, 0)}
	raw.in <- fakePkt{b: hx("0000"), src: netip.AddrPortFrom(peer, 0)}
	raw.in <- fakePkt{b: hx("00000000 c803"), src: netip.AddrPortFrom(peer, 0)}
	raw.in <- fakePkt{b: cat(hx("00000000"), scccn), src: netip.AddrPortFrom(peer, 0)}
	if _, _, err := t1.ReadControl(make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	d.mu.Lock()
	dm := d.demux[0]
	d.mu.Unlock()
	st := dm.ctr.snapshot()
	if st.Drops[kernel.DropNoSession] != 1 || st.Drops[kernel.DropMalformed] != 2 {
		t.Errorf("raw socket drops %v, want 1 no_session and 2 malformed", st.Drops)
	}

	// The raw socket closes with its last user.
	l.Close()
	t1.Close()
	t2.Close()
	select {
	case <-raw.done:
	default:
		t.Error("raw socket still open after its last user closed")
	}
}

func TestUDPListener(t *testing.T) {
	d, fs := newTestDP(t)
	l, err := d.Listen(kernel.ListenConfig{Encap: kernel.EncapUDP, Addr: netip.MustParseAddrPort("0.0.0.0:1701")})
	if err != nil {
		t.Fatal(err)
	}
	c := fs.conn(t, "listen")
	sccrq := hx("c802 0014 0000 0000 0000 0000 8008 0000 0000 0001")
	c.in <- fakePkt{b: cat(hx("0002 000a 0001 ff03 0021"), pingIn), src: peerAP, dst: localAP.Addr()} // data: dropped
	c.in <- fakePkt{b: hx("0001 0000"), src: peerAP, dst: localAP.Addr()}                             // L2F: dropped
	c.in <- fakePkt{b: sccrq, src: peerAP, dst: localAP.Addr()}
	b := make([]byte, 1500)
	n, src, dst, err := l.ReadFrom(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sccrq, b[:n]); diff != "" {
		t.Errorf("ReadFrom (-want +got):\n%s", diff)
	}
	if src != peerAP || dst != localAP.Addr() {
		t.Errorf("ReadFrom: src %v dst %v", src, dst)
	}
	if err := l.WriteTo(sccrq, peerAP); err != nil {
		t.Fatal(err)
	}
	if got := c.next(t); got.to != peerAP {
		t.Errorf("WriteTo sent to %v", got.to)
	}
	l.Close()
	if _, _, _, err := l.ReadFrom(b); !errors.Is(err, net.ErrClosed) {
		t.Errorf("ReadFrom after Close: %v, want net.ErrClosed", err)
	}
}

func TestEnsureSession(t *testing.T) {
	d, _ := newTestDP(t)
	tun, err := d.OpenTunnel(kernel.TunnelConfig{Version: 2, TunnelID: 10, Local: localAP, Peer: peerAP})
	if err != nil {
		t.Fatal(err)
	}
	cfg := kernel.SessionConfig{SessionID: 1, PeerSessionID: 2}
	if _, err := tun.EnsureSession(cfg); !errors.Is(err, ErrNotEstablished) {
		t.Errorf("EnsureSession before Establish: %v, want ErrNotEstablished", err)
	}
	if err := tun.Establish(20, peerAP); err != nil {
		t.Fatal(err)
	}
	if err := tun.Establish(20, peerAP); err != nil {
		t.Errorf("Establish again: %v", err)
	}
	s1, err := tun.EnsureSession(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := tun.EnsureSession(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s1 != s2 {
		t.Error("EnsureSession with the same parameters returned a new session")
	}
	ch1, _ := s1.Channel()
	ch2, _ := s2.Channel()
	if ch1 != ch2 {
		t.Error("Channel returned a different channel")
	}
	if s1.Interface() != "" {
		t.Errorf("PPP session Interface() = %q", s1.Interface())
	}
	cfg.SendSeq = true
	s3, err := tun.EnsureSession(cfg)
	if err != nil || s3 != s1 {
		t.Errorf("EnsureSession with SendSeq: %v (same session: %v)", err, s3 == s1)
	}
	if !s1.(*session).params.Load().sendSeq {
		t.Error("SendSeq not applied in place")
	}
	for _, tc := range []struct {
		name string
		cfg  kernel.SessionConfig
		want error
	}{
		{name: "zero ID", cfg: kernel.SessionConfig{PeerSessionID: 1}, want: syscall.EINVAL},
		{name: "zero peer ID", cfg: kernel.SessionConfig{SessionID: 3}, want: syscall.EINVAL},
		{name: "v2 ID too big", cfg: kernel.SessionConfig{SessionID: 0x10000, PeerSessionID: 1}, want: syscall.EINVAL},
		{name: "v2 ethernet", cfg: kernel.SessionConfig{SessionID: 3, PeerSessionID: 1, PWType: kernel.PWEthernet}, want: syscall.EINVAL},
		{name: "v2 cookie", cfg: kernel.SessionConfig{SessionID: 3, PeerSessionID: 1, Cookie: []byte{1, 2, 3, 4}}, want: syscall.EINVAL},
		{name: "change of pseudowire type", cfg: kernel.SessionConfig{SessionID: 1, PeerSessionID: 2, PWType: 7}, want: syscall.EINVAL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tun.EnsureSession(tc.cfg)
			if !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
			var oe *kernel.OpError
			if !errors.As(err, &oe) {
				t.Errorf("%v is not a *kernel.OpError", err)
			}
		})
	}
	if err := tun.DeleteSession(99); err != nil {
		t.Errorf("DeleteSession of an absent session: %v", err)
	}
	if err := tun.DeleteSession(1); err != nil {
		t.Fatal(err)
	}
	if _, err := ch1.ReadFrame(make([]byte, 10)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("ReadFrame of a deleted session: %v, want net.ErrClosed", err)
	}
	if err := s1.Close(); err != nil {
		t.Errorf("Close after DeleteSession: %v", err)
	}

	// v3 cookies must be 0, 4 or 8 bytes.
	tun3, err := d.OpenTunnel(kernel.TunnelConfig{Version: 3, TunnelID: 11, Local: netip.MustParseAddrPort("192.0.2.1:0"), Peer: peerAP})
	if err != nil {
		t.Fatal(err)
	}
	tun3.Establish(21, netip.AddrPort{})
	if _, err := tun3.EnsureSession(kernel.SessionConfig{SessionID: 1, PeerSessionID: 2, Cookie: []byte{1, 2}}); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("2-byte cookie: %v, want EINVAL", err)
	}
	s, err := tun3.EnsureSession(kernel.SessionConfig{SessionID: 1, PeerSessionID: 2, Cookie: hx("01020304")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tun3.EnsureSession(kernel.SessionConfig{SessionID: 1, PeerSessionID: 2, PWType: kernel.PWEthernet}); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("PPP session ensured as Ethernet: %v, want EEXIST", err)
	}
	// The cookie changes in place.
	if _, err := tun3.EnsureSession(kernel.SessionConfig{SessionID: 1, PeerSessionID: 2, Cookie: hx("0102030405060708")}); err != nil {
		t.Fatal(err)
	}
	if p := s.(*session).params.Load(); p.cookieLen != 8 {
		t.Errorf("cookie length %d after the change, want 8", p.cookieLen)
	}
}

func TestOpenTunnelErrors(t *testing.T) {
	d, _ := newTestDP(t)
	for _, tc := range []struct {
		name string
		cfg  kernel.TunnelConfig
	}{
		{name: "version 1", cfg: kernel.TunnelConfig{Version: 1, TunnelID: 1, Peer: peerAP}},
		{name: "v2 over IP", cfg: kernel.TunnelConfig{Version: 2, Encap: kernel.EncapIP, TunnelID: 1, Peer: peerAP}},
		{name: "zero ID", cfg: kernel.TunnelConfig{Version: 2, Peer: peerAP}},
		{name: "v2 ID too big", cfg: kernel.TunnelConfig{Version: 2, TunnelID: 0x10000, Peer: peerAP}},
		{name: "no peer", cfg: kernel.TunnelConfig{Version: 2, TunnelID: 1}},
		{name: "no peer port", cfg: kernel.TunnelConfig{Version: 2, TunnelID: 1, Peer: netip.MustParseAddrPort("192.0.2.2:0")}},
		{name: "families differ", cfg: kernel.TunnelConfig{Version: 2, TunnelID: 1, Local: local6, Peer: peerAP}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := d.OpenTunnel(tc.cfg)
			if !errors.Is(err, syscall.EINVAL) {
				t.Errorf("got %v, want EINVAL", err)
			}
		})
	}
}

func TestEstablishReconnects(t *testing.T) {
	r := newRig(t, rigConfig{noUnit: true})
	moved := netip.MustParseAddrPort("192.0.2.2:40001")
	if err := r.tun.Establish(20, moved); err != nil {
		t.Fatal(err)
	}
	r.conn.mu.Lock()
	connects := r.conn.connects
	r.conn.mu.Unlock()
	if diff := cmp.Diff([]netip.AddrPort{moved}, connects, cmpopts.EquateComparable(netip.AddrPort{})); diff != "" {
		t.Errorf("connects (-want +got):\n%s", diff)
	}
	// The new peer tunnel ID goes into the data headers.
	if err := r.tun.Establish(33, moved); err != nil {
		t.Fatal(err)
	}
	if err := r.ch.WriteFrame(lcpReq); err != nil {
		t.Fatal(err)
	}
	if got, want := r.conn.next(t).b, cat(hx("0002 0021 0002 ff03"), lcpReq); !bytes.Equal(got, want) {
		t.Errorf("sent %x, want %x", got, want)
	}
	if err := r.tun.Establish(0, moved); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("Establish with peer tunnel ID 0: %v, want EINVAL", err)
	}
}

// TestAnyPeerPort checks TunnelConfig.AnyPeerPort: until Establish the socket is not
// connected, writes name the configured peer, control messages from any port of the
// peer's address are read with their source, and others are dropped; Establish connects
// the socket to the port the peer answered from.
func TestAnyPeerPort(t *testing.T) {
	d, fs := newTestDP(t)
	tun, err := d.OpenTunnel(kernel.TunnelConfig{Version: 2, Encap: kernel.EncapUDP, Local: localAP, Peer: peerAP, TunnelID: 10, AnyPeerPort: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tun.Close()
	conn := fs.conn(t, "dial-unconnected")
	sccrq := hx("c802 000c 0000 0000 0000 0000")
	if err := tun.WriteControl(sccrq); err != nil {
		t.Fatal(err)
	}
	if p := conn.next(t); p.to != peerAP {
		t.Errorf("SCCRQ written to %v, want %v", p.to, peerAP)
	}
	answer := netip.MustParseAddrPort("192.0.2.2:40000")
	sccrp := hx("c802 000c 000a 0000 0000 0001")
	conn.inject(sccrp, netip.MustParseAddrPort("192.0.2.99:1701")) // a stranger
	conn.inject(sccrp, answer)
	b := make([]byte, 100)
	n, src, err := tun.ReadControl(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b[:n], sccrp) || src != answer {
		t.Errorf("read %x from %v, want %x from %v", b[:n], src, sccrp, answer)
	}
	if got := tun.Stats().Drops[kernel.DropUnknownPeer]; got != 1 {
		t.Errorf("%d drops from unknown peers, want 1", got)
	}
	if err := tun.Establish(20, answer); err != nil {
		t.Fatal(err)
	}
	conn.mu.Lock()
	connects := slices.Clone(conn.connects)
	conn.mu.Unlock()
	if !slices.Equal(connects, []netip.AddrPort{answer}) {
		t.Errorf("connects %v, want [%v]", connects, answer)
	}
	if err := tun.WriteControl(sccrq); err != nil {
		t.Fatal(err)
	}
	if p := conn.next(t); p.to != answer {
		t.Errorf("after Establish written to %v, want %v", p.to, answer)
	}
}
