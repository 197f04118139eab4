package linux

import (
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/genetlink/genltest"
	"github.com/mdlayher/netlink"

	"github.com/probox/probox/kernel"
)

var testFamily = genetlink.Family{ID: 0x1d, Version: 1, Name: l2tpFamily}

// request is one generic netlink request as the fake kernel saw it.
type request struct {
	Cmd   uint8
	Ver   uint8
	Flags netlink.HeaderFlags
	Attrs []netlink.Attribute
}

// fakeKernel returns a genl client on a message-level fake of the l2tp family: every
// request is recorded and answered by reply.
func fakeKernel(t *testing.T, reply func(request) ([]genetlink.Message, error)) (*genl, *[]request) {
	t.Helper()
	var reqs []request
	fn := func(greq genetlink.Message, nreq netlink.Message) ([]genetlink.Message, error) {
		if nreq.Header.Type == 0 {
			// The fake socket asks for multicast messages after an acknowledged
			// request without replies: there are none.
			return nil, io.EOF
		}
		if nreq.Header.Type != netlink.HeaderType(testFamily.ID) {
			t.Errorf("request to family %d, want %d", nreq.Header.Type, testFamily.ID)
		}
		attrs, err := netlink.UnmarshalAttributes(greq.Data)
		if err != nil {
			t.Errorf("request attributes: %v", err)
		}
		r := request{Cmd: greq.Header.Command, Ver: greq.Header.Version, Flags: nreq.Header.Flags, Attrs: attrs}
		reqs = append(reqs, r)
		if reply == nil {
			return nil, io.EOF
		}
		return reply(r)
	}
	g, err := newGenl(genltest.Dial(genltest.ServeFamily(testFamily, fn)))
	if err != nil {
		t.Fatalf("newGenl: %v", err)
	}
	t.Cleanup(func() { g.close() })
	return g, &reqs
}

func a8(typ uint16, v uint8) netlink.Attribute { return netlink.Attribute{Type: typ, Data: []byte{v}} }

func a16(typ uint16, v uint16) netlink.Attribute {
	return netlink.Attribute{Type: typ, Data: binary.NativeEndian.AppendUint16(nil, v)}
}

func a32(typ uint16, v uint32) netlink.Attribute {
	return netlink.Attribute{Type: typ, Data: binary.NativeEndian.AppendUint32(nil, v)}
}

func abytes(typ uint16, b []byte) netlink.Attribute { return netlink.Attribute{Type: typ, Data: b} }

func astr(typ uint16, s string) netlink.Attribute {
	return netlink.Attribute{Type: typ, Data: append([]byte(s), 0)}
}

var (
	ignoreLength = cmpopts.IgnoreFields(netlink.Attribute{}, "Length")
	addrPortCmp  = cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })
)

const (
	reqAck  = netlink.Request | netlink.Acknowledge
	reqDump = netlink.Request | netlink.Dump
)

func TestGenlRequests(t *testing.T) {
	tests := []struct {
		name string
		do   func(g *genl) error
		want request
	}{
		{
			name: "create tunnel v2 udp",
			do: func(g *genl) error {
				return g.createTunnel(tunnelSpec{ID: 12, PeerID: 34, Version: 2, Encap: encapUDP, FD: 7})
			},
			want: request{Cmd: cmdTunnelCreate, Ver: 1, Flags: reqAck, Attrs: []netlink.Attribute{
				a32(attrConnID, 12), a32(attrPeerConnID, 34), a8(attrProtoVersion, 2), a16(attrEncapType, 0), a32(attrFD, 7),
			}},
		},
		{
			name: "create tunnel v3 ip",
			do: func(g *genl) error {
				return g.createTunnel(tunnelSpec{ID: 0x01020304, PeerID: 0xa0b0c0d0, Version: 3, Encap: encapIP, FD: 1023})
			},
			want: request{Cmd: cmdTunnelCreate, Ver: 1, Flags: reqAck, Attrs: []netlink.Attribute{
				a32(attrConnID, 0x01020304), a32(attrPeerConnID, 0xa0b0c0d0), a8(attrProtoVersion, 3), a16(attrEncapType, 1), a32(attrFD, 1023),
			}},
		},
		{
			name: "delete tunnel",
			do:   func(g *genl) error { return g.deleteTunnel(12) },
			want: request{Cmd: cmdTunnelDelete, Ver: 1, Flags: reqAck, Attrs: []netlink.Attribute{a32(attrConnID, 12)}},
		},
		{
			name: "create session v2 ppp",
			do: func(g *genl) error {
				return g.createSession(sessionSpec{Version: 2, TunnelID: 12, ID: 1, PeerID: 9, PWType: pwTypePPP, LNSMode: true})
			},
			want: request{Cmd: cmdSessionCreate, Ver: 1, Flags: reqAck, Attrs: []netlink.Attribute{
				a32(attrConnID, 12), a32(attrSessionID, 1), a32(attrPeerSessionID, 9), a16(attrPWType, 7),
				a8(attrRecvSeq, 0), a8(attrSendSeq, 0), a8(attrLNSMode, 1),
			}},
		},
		{
			name: "create session v3 ppp with cookies and sequencing",
			do: func(g *genl) error {
				return g.createSession(sessionSpec{
					Version: 3, TunnelID: 100, ID: 0x11223344, PeerID: 0x55667788, PWType: pwTypePPP,
					L2Spec: l2specDefault, Cookie: []byte{1, 2, 3, 4}, PeerCookie: []byte{1, 2, 3, 4, 5, 6, 7, 8},
					RecvSeq: true, SendSeq: true, LNSMode: true,
				})
			},
			want: request{Cmd: cmdSessionCreate, Ver: 1, Flags: reqAck, Attrs: []netlink.Attribute{
				a32(attrConnID, 100), a32(attrSessionID, 0x11223344), a32(attrPeerSessionID, 0x55667788), a16(attrPWType, 7),
				a8(attrL2SpecType, 1), a8(attrL2SpecLen, 4),
				// The kernel sends L2TP_ATTR_COOKIE (our PeerCookie) and checks L2TP_ATTR_PEER_COOKIE.
				abytes(attrCookie, []byte{1, 2, 3, 4, 5, 6, 7, 8}), abytes(attrPeerCookie, []byte{1, 2, 3, 4}),
				a8(attrRecvSeq, 1), a8(attrSendSeq, 1), a8(attrLNSMode, 1),
			}},
		},
		{
			name: "create session v3 ethernet with interface name",
			do: func(g *genl) error {
				return g.createSession(sessionSpec{
					Version: 3, TunnelID: 100, ID: 5, PeerID: 6, PWType: pwTypeEth, L2Spec: l2specNone,
					IfName: "pw%d", SendSeq: true,
				})
			},
			want: request{Cmd: cmdSessionCreate, Ver: 1, Flags: reqAck, Attrs: []netlink.Attribute{
				a32(attrConnID, 100), a32(attrSessionID, 5), a32(attrPeerSessionID, 6), a16(attrPWType, 5),
				a8(attrL2SpecType, 0), a8(attrL2SpecLen, 0), astr(attrIfname, "pw%d"),
				a8(attrRecvSeq, 0), a8(attrSendSeq, 1), a8(attrLNSMode, 0),
			}},
		},
		{
			name: "modify session",
			do: func(g *genl) error {
				return g.modifySession(sessionModify{TunnelID: 12, ID: 1, RecvSeq: true, SendSeq: false, LNSMode: true})
			},
			want: request{Cmd: cmdSessionModify, Ver: 1, Flags: reqAck, Attrs: []netlink.Attribute{
				a32(attrConnID, 12), a32(attrSessionID, 1), a8(attrRecvSeq, 1), a8(attrSendSeq, 0), a8(attrLNSMode, 1),
			}},
		},
		{
			name: "delete session",
			do:   func(g *genl) error { return g.deleteSession(12, 1) },
			want: request{Cmd: cmdSessionDelete, Ver: 1, Flags: reqAck, Attrs: []netlink.Attribute{a32(attrConnID, 12), a32(attrSessionID, 1)}},
		},
		{
			name: "dump tunnels",
			do:   func(g *genl) error { _, err := g.tunnels(); return err },
			want: request{Cmd: cmdTunnelGet, Ver: 1, Flags: reqDump},
		},
		{
			name: "dump sessions",
			do:   func(g *genl) error { _, err := g.sessions(); return err },
			want: request{Cmd: cmdSessionGet, Ver: 1, Flags: reqDump},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, reqs := fakeKernel(t, nil)
			if err := tt.do(g); err != nil {
				t.Fatalf("request failed: %v", err)
			}
			if len(*reqs) != 1 {
				t.Fatalf("sent %d requests, want 1", len(*reqs))
			}
			if diff := cmp.Diff(tt.want, (*reqs)[0], ignoreLength, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGenlErrors(t *testing.T) {
	tests := []struct {
		name    string
		errno   syscall.Errno
		do      func(g *genl) error
		wantErr error // nil: success
		wantOp  string
	}{
		{"delete absent tunnel", syscall.ENODEV, func(g *genl) error { return g.deleteTunnel(1) }, nil, ""},
		{"delete absent session", syscall.ENODEV, func(g *genl) error { return g.deleteSession(1, 2) }, nil, ""},
		{"create existing tunnel", syscall.EEXIST, func(g *genl) error {
			return g.createTunnel(tunnelSpec{ID: 1, PeerID: 2, Version: 2, FD: 3})
		}, syscall.EEXIST, "create kernel tunnel"},
		{"create session in absent tunnel", syscall.ENODEV, func(g *genl) error {
			return g.createSession(sessionSpec{Version: 3, TunnelID: 1, ID: 2, PeerID: 3, PWType: pwTypeEth})
		}, syscall.ENODEV, "create kernel session"},
		{"delete tunnel without permission", syscall.EPERM, func(g *genl) error { return g.deleteTunnel(1) }, syscall.EPERM, "delete kernel tunnel"},
		{"get absent session", syscall.ENODEV, func(g *genl) error { _, err := g.getSession(1, 2); return err }, syscall.ENODEV, "get kernel session"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, _ := fakeKernel(t, func(request) ([]genetlink.Message, error) { return nil, genltest.Error(int(tt.errno)) })
			err := tt.do(g)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got %v, want an error wrapping %v", err, tt.wantErr)
			}
			var oe *kernel.OpError
			if !errors.As(err, &oe) || oe.Op != tt.wantOp {
				t.Fatalf("got %#v, want a *kernel.OpError with Op %q", err, tt.wantOp)
			}
		})
	}
}

// encodeTunnelReply encodes t as l2tp_nl_tunnel_send does.
func encodeTunnelReply(t tunnelInfo) []byte {
	ae := netlink.NewAttributeEncoder()
	ae.Uint8(attrProtoVersion, t.Version)
	ae.Uint32(attrConnID, t.ID)
	ae.Uint32(attrPeerConnID, t.PeerID)
	ae.Uint32(17, 0) // L2TP_ATTR_DEBUG
	ae.Uint16(attrEncapType, t.Encap)
	ae.Nested(attrStats, encodeStats(t.Stats))
	if t.UDPCsum {
		ae.Uint8(attrUDPCsum, 1)
	}
	for _, a := range []struct {
		ap          netip.AddrPort
		v4, v6, prt uint16
	}{{t.Local, attrIPSaddr, attrIP6Saddr, attrUDPSport}, {t.Peer, attrIPDaddr, attrIP6Daddr, attrUDPDport}} {
		if !a.ap.Addr().IsValid() {
			continue
		}
		ae.Uint16(a.prt, a.ap.Port())
		if a.ap.Addr().Is4() {
			b := a.ap.Addr().As4()
			ae.Bytes(a.v4, b[:])
		} else {
			b := a.ap.Addr().As16()
			ae.Bytes(a.v6, b[:])
		}
	}
	b, err := ae.Encode()
	if err != nil {
		panic(err)
	}
	return b
}

// encodeSessionReply encodes s as l2tp_nl_session_send does.
func encodeSessionReply(s sessionInfo) []byte {
	ae := netlink.NewAttributeEncoder()
	ae.Uint32(attrConnID, s.TunnelID)
	ae.Uint32(attrSessionID, s.ID)
	ae.Uint32(attrPeerConnID, s.PeerTunnelID)
	ae.Uint32(attrPeerSessionID, s.PeerID)
	ae.Uint32(17, 0) // L2TP_ATTR_DEBUG
	ae.Uint16(attrPWType, s.PWType)
	if s.IfName != "" {
		ae.String(attrIfname, s.IfName)
	}
	if len(s.PeerCookie) > 0 {
		ae.Bytes(attrCookie, s.PeerCookie)
	}
	if len(s.Cookie) > 0 {
		ae.Bytes(attrPeerCookie, s.Cookie)
	}
	ae.Uint8(attrRecvSeq, boolU8(s.RecvSeq))
	ae.Uint8(attrSendSeq, boolU8(s.SendSeq))
	ae.Uint8(attrLNSMode, boolU8(s.LNSMode))
	ae.Nested(attrStats, encodeStats(s.Stats))
	b, err := ae.Encode()
	if err != nil {
		panic(err)
	}
	return b
}

// encodeStats encodes the counters with the padding attribute nla_put_u64_64bit adds on
// architectures that need it, which parsers must skip.
func encodeStats(s l2tpStats) func(*netlink.AttributeEncoder) error {
	return func(ae *netlink.AttributeEncoder) error {
		for _, c := range []struct {
			typ uint16
			v   uint64
		}{
			{statTxPackets, s.TxPackets}, {statTxBytes, s.TxBytes}, {statTxErrors, s.TxErrors},
			{statRxPackets, s.RxPackets}, {statRxBytes, s.RxBytes}, {statRxSeqDiscards, s.RxSeqDiscards},
			{statRxOOSPackets, s.RxOOSPackets}, {statRxErrors, s.RxErrors},
			{statRxCookieDiscards, s.RxCookieDiscards}, {statRxInvalid, s.RxInvalid},
		} {
			ae.Bytes(9, nil) // L2TP_ATTR_STATS_PAD
			ae.Uint64(c.typ, c.v)
		}
		return nil
	}
}

var (
	goldenTunnel = tunnelInfo{
		ID: 12, PeerID: 34, Version: 2, Encap: encapUDP, UDPCsum: true,
		Local: netip.MustParseAddrPort("192.0.2.1:1701"), Peer: netip.MustParseAddrPort("192.0.2.2:1702"),
		Stats: l2tpStats{TxPackets: 10, TxBytes: 1000, RxPackets: 20, RxBytes: 2000, RxErrors: 1},
	}
	goldenTunnel6 = tunnelInfo{
		ID: 0x01020304, PeerID: 0x05060708, Version: 3, Encap: encapIP,
		Local: netip.MustParseAddrPort("[2001:db8::1]:0"), Peer: netip.MustParseAddrPort("[2001:db8::2]:0"),
	}
	goldenSession = sessionInfo{
		TunnelID: 100, ID: 0x11223344, PeerTunnelID: 200, PeerID: 0x55667788, PWType: pwTypeEth,
		IfName: "l2tpeth3", Cookie: []byte{1, 2, 3, 4}, PeerCookie: []byte{1, 2, 3, 4, 5, 6, 7, 8},
		RecvSeq: true, SendSeq: true, LNSMode: true,
		Stats: l2tpStats{
			TxPackets: 1, TxBytes: 2, TxErrors: 3, RxPackets: 4, RxBytes: 5, RxSeqDiscards: 6,
			RxOOSPackets: 7, RxErrors: 8, RxCookieDiscards: 9, RxInvalid: 10,
		},
	}
)

func TestGenlReplies(t *testing.T) {
	reply := func(r request) ([]genetlink.Message, error) {
		h := genetlink.Header{Command: r.Cmd, Version: 1}
		switch r.Cmd {
		case cmdTunnelGet:
			if r.Flags&netlink.Dump != 0 {
				return []genetlink.Message{
					{Header: h, Data: encodeTunnelReply(goldenTunnel)},
					{Header: h, Data: encodeTunnelReply(goldenTunnel6)},
				}, nil
			}
			return []genetlink.Message{{Header: h, Data: encodeTunnelReply(goldenTunnel)}}, nil
		case cmdSessionGet:
			return []genetlink.Message{{Header: h, Data: encodeSessionReply(goldenSession)}}, nil
		}
		return nil, io.EOF
	}
	g, reqs := fakeKernel(t, reply)

	tun, err := g.getTunnel(12)
	if err != nil {
		t.Fatalf("getTunnel: %v", err)
	}
	if diff := cmp.Diff(goldenTunnel, tun, addrPortCmp); diff != "" {
		t.Errorf("getTunnel (-want +got):\n%s", diff)
	}
	tuns, err := g.tunnels()
	if err != nil {
		t.Fatalf("tunnels: %v", err)
	}
	if diff := cmp.Diff([]tunnelInfo{goldenTunnel, goldenTunnel6}, tuns, addrPortCmp); diff != "" {
		t.Errorf("tunnels (-want +got):\n%s", diff)
	}
	s, err := g.getSession(100, 0x11223344)
	if err != nil {
		t.Fatalf("getSession: %v", err)
	}
	if diff := cmp.Diff(goldenSession, s); diff != "" {
		t.Errorf("getSession (-want +got):\n%s", diff)
	}
	// A reply about another session is not an answer.
	if _, err := g.getSession(100, 1); !errors.Is(err, syscall.ENODEV) {
		t.Errorf("getSession of another session: got %v, want ENODEV", err)
	}
	wantGet := request{Cmd: cmdSessionGet, Ver: 1, Flags: netlink.Request, Attrs: []netlink.Attribute{a32(attrConnID, 100), a32(attrSessionID, 0x11223344)}}
	if diff := cmp.Diff(wantGet, (*reqs)[2], ignoreLength); diff != "" {
		t.Errorf("session get request (-want +got):\n%s", diff)
	}
}

func TestStatsCounters(t *testing.T) {
	got := goldenSession.Stats.counters()
	want := kernel.Counters{RxPackets: 4, RxBytes: 5, TxPackets: 1, TxBytes: 2}
	want.Drops[kernel.DropSequence] = 6
	want.Drops[kernel.DropCookie] = 9
	want.Drops[kernel.DropMalformed] = 8 + 10
	want.Drops[kernel.DropWrite] = 3
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("counters (-want +got):\n%s", diff)
	}
}

func TestParseTruncated(t *testing.T) {
	b := encodeSessionReply(goldenSession)
	for n := range len(b) {
		// Cuts inside an attribute header or value are errors; cuts at attribute
		// boundaries parse as fewer attributes. Neither may panic.
		parseSession(b[:n])
	}
	bad := append(append([]byte(nil), b[:8]...), 0x06, 0x00, 0x0b, 0x00, 0xff, 0xff) // SESSION_ID of 2 bytes
	if _, err := parseSession(bad); err == nil {
		t.Errorf("parseSession accepted a 2-byte u32 attribute")
	}
}

func FuzzParseSession(f *testing.F) {
	f.Add(encodeSessionReply(goldenSession))
	f.Add(encodeSessionReply(sessionInfo{TunnelID: 1, ID: 2, PWType: pwTypePPP}))
	f.Fuzz(func(t *testing.T, b []byte) {
		s1, err := parseSession(b)
		if err != nil {
			return
		}
		s2, err := parseSession(encodeSessionReply(s1))
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if diff := cmp.Diff(s1, s2); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}

func FuzzParseTunnel(f *testing.F) {
	f.Add(encodeTunnelReply(goldenTunnel))
	f.Add(encodeTunnelReply(goldenTunnel6))
	f.Fuzz(func(t *testing.T, b []byte) {
		t1, err := parseTunnel(b)
		if err != nil {
			return
		}
		t2, err := parseTunnel(encodeTunnelReply(t1))
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if diff := cmp.Diff(t1, t2, addrPortCmp); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}
