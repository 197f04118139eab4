package ppp

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// testIPv6CP returns a negotiator whose random identifiers are 0x10000001, 0x10000002, ...
func testIPv6CP(cfg IPv6CPConfig) *ipv6cp {
	cfg.Rand = &countRand{}
	return newIPv6CP(cfg)
}

func TestLinkLocal(t *testing.T) {
	tests := []struct {
		id   uint64
		want string
	}{
		{0x0200000000000001, "fe80::200:0:0:1"},
		{0x1122334455667788, "fe80::1122:3344:5566:7788"},
		{0, "fe80::"},
	}
	for _, tt := range tests {
		if got := LinkLocal(tt.id); got != netip.MustParseAddr(tt.want) {
			t.Errorf("LinkLocal(%#x) = %v, want %v", tt.id, got, tt.want)
		}
	}
}

func TestIPv6CPRandomIdentifier(t *testing.T) {
	n := newIPv6CP(IPv6CPConfig{Rand: bytes.NewReader(bytes.Repeat([]byte{0xff}, 64))})
	if got, want := n.result().LocalID, uint64(0xfdffffffffffffff); got != want {
		t.Errorf("identifier %#x, want %#x (u bit clear, RFC 5072 Appendix A)", got, want)
	}
	if got := newIPv6CP(IPv6CPConfig{InterfaceID: 0x42}).appendRequest(nil); !bytes.Equal(got, ohex("01 0a 00 00 00 00 00 00 00 42")) {
		t.Errorf("configured identifier request %x", got)
	}
}

func TestIPv6CPJudge(t *testing.T) {
	tests := []struct {
		name       string
		cfg        IPv6CPConfig
		req        string
		rejectNaks bool
		wantCode   Code
		wantReply  string
		wantPeer   uint64
	}{
		{name: "distinct identifier ack", req: "01 0a 11 22 33 44 55 66 77 88", wantCode: CodeConfigureAck, wantPeer: 0x1122334455667788},
		{name: "zero identifier nak", req: "01 0a 00 00 00 00 00 00 00 00", wantCode: CodeConfigureNak, wantReply: "01 0a 00 00 00 00 10 00 00 02"},
		{name: "collision nak", req: "01 0a 00 00 00 00 10 00 00 01", wantCode: CodeConfigureNak, wantReply: "01 0a 00 00 00 00 10 00 00 02"},
		{name: "configured suggestion", cfg: IPv6CPConfig{PeerInterfaceID: 0xabc}, req: "01 0a 00 00 00 00 00 00 00 00", wantCode: CodeConfigureNak, wantReply: "01 0a 00 00 00 00 00 00 0a bc"},
		{name: "configured suggestion equal to ours is not used", cfg: IPv6CPConfig{InterfaceID: 0xabc, PeerInterfaceID: 0xabc}, req: "01 0a 00 00 00 00 00 00 00 00", wantCode: CodeConfigureNak, wantReply: "01 0a 00 00 00 00 10 00 00 01"},
		{name: "zero at Max-Failure reject", req: "01 0a 00 00 00 00 00 00 00 00", rejectNaks: true, wantCode: CodeConfigureReject, wantReply: "01 0a 00 00 00 00 00 00 00 00"},
		{name: "compression reject", req: "01 0a 11 22 33 44 55 66 77 88 02 04 00 4f", wantCode: CodeConfigureReject, wantReply: "02 04 00 4f"},
		{name: "bad length reject", req: "01 06 00 00 00 01", wantCode: CodeConfigureReject, wantReply: "01 06 00 00 00 01"},
		{name: "repeated reject", req: "01 0a 11 22 33 44 55 66 77 88 01 0a 11 22 33 44 55 66 77 89", wantCode: CodeConfigureReject, wantReply: "01 0a 11 22 33 44 55 66 77 89"},
		{name: "unknown reject", req: "7e 03 00", wantCode: CodeConfigureReject, wantReply: "7e 03 00"},
		{name: "no identifier ack", req: "", wantCode: CodeConfigureAck},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := testIPv6CP(tt.cfg)
			req := ohex(tt.req)
			code, reply, err := n.judgeRequest(nil, req, tt.rejectNaks)
			if err != nil {
				t.Fatal(err)
			}
			wantReply := ohex(tt.wantReply)
			if tt.wantCode == CodeConfigureAck {
				wantReply = req
			}
			if code != tt.wantCode {
				t.Errorf("code = %d, want %d", code, tt.wantCode)
			}
			if diff := cmp.Diff(wantReply, reply, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("reply (-want +got):\n%s", diff)
			}
			res := n.result()
			if res.PeerID != tt.wantPeer {
				t.Errorf("peer identifier %#x, want %#x", res.PeerID, tt.wantPeer)
			}
			wantLL := netip.Addr{}
			if tt.wantPeer != 0 {
				wantLL = LinkLocal(tt.wantPeer)
			}
			if res.PeerLinkLocal != wantLL {
				t.Errorf("peer link-local %v, want %v", res.PeerLinkLocal, wantLL)
			}
		})
	}
	if _, _, err := testIPv6CP(IPv6CPConfig{}).judgeRequest(nil, ohex("01 0a 00"), false); err == nil {
		t.Error("malformed request accepted")
	}
}

func TestIPv6CPReplies(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(*ipv6cp)
		code   Code
		opts   string
		reject bool
		want   string
	}{
		{name: "adopt suggestion", code: CodeConfigureNak, opts: "01 0a 00 00 00 00 00 00 0a bc", want: "01 0a 00 00 00 00 00 00 0a bc"},
		{name: "zero suggestion draws anew", code: CodeConfigureNak, opts: "01 0a 00 00 00 00 00 00 00 00", want: "01 0a 00 00 00 00 10 00 00 02"},
		{
			name:  "our own suggestion back draws anew",
			setup: func(n *ipv6cp) { n.judgeRequest(nil, ohex("01 0a 00 00 00 00 00 00 00 00"), false) }, // we suggest 0x10000002
			code:  CodeConfigureNak, opts: "01 0a 00 00 00 00 10 00 00 02", want: "01 0a 00 00 00 00 10 00 00 03",
		},
		{name: "nak treated as reject", code: CodeConfigureNak, opts: "01 0a 00 00 00 00 00 00 0a bc", reject: true, want: ""},
		{name: "reject", code: CodeConfigureReject, opts: "01 0a 00 00 00 00 10 00 00 01", want: ""},
		{name: "other options ignored", code: CodeConfigureNak, opts: "02 04 00 4f", want: "01 0a 00 00 00 00 10 00 00 01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := testIPv6CP(IPv6CPConfig{})
			if tt.setup != nil {
				tt.setup(n)
			}
			var err error
			if tt.code == CodeConfigureNak {
				err = n.gotNak(ohex(tt.opts), tt.reject)
			} else {
				err = n.gotReject(ohex(tt.opts))
			}
			if err != nil {
				t.Fatal(err)
			}
			got := n.appendRequest(nil)
			if diff := cmp.Diff(ohex(tt.want), got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("next request (-want +got):\n%s", diff)
			}
			n.gotAck(got)
			if res := n.result(); res.LocalID == 0 || res.LocalLinkLocal != LinkLocal(res.LocalID) {
				t.Errorf("result %+v", res)
			}
		})
	}
}

// TestIPv6CPBackToBack negotiates identifiers, including an RFC 5072 §4.1 collision.
func TestIPv6CPBackToBack(t *testing.T) {
	tests := []struct {
		name  string
		a, b  IPv6CPConfig
		wantA uint64 // a's final identifier, 0: any
		wantB uint64
	}{
		{name: "distinct", a: IPv6CPConfig{InterfaceID: 0xa}, b: IPv6CPConfig{InterfaceID: 0xb}, wantA: 0xa, wantB: 0xb},
		{name: "collision", a: IPv6CPConfig{InterfaceID: 0x1111}, b: IPv6CPConfig{InterfaceID: 0x1111}},
		{name: "collision with suggestions", a: IPv6CPConfig{InterfaceID: 0x1111, PeerInterfaceID: 0xb}, b: IPv6CPConfig{InterfaceID: 0x1111, PeerInterfaceID: 0xa}, wantA: 0xa, wantB: 0xb},
		{name: "random", a: IPv6CPConfig{}, b: IPv6CPConfig{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, ea, eb := memPair(t)
			tt.a.Rand, tt.b.Rand = &countRand{n: 0x100}, &countRand{n: 0x200}
			na, nb := newIPv6CP(tt.a), newIPv6CP(tt.b)
			fa, fb := ea.add(FSMConfig{}, na), eb.add(FSMConfig{}, nb)
			fa.Open()
			fb.Open()
			fa.Up()
			fb.Up()
			l.run(ea, eb)
			if fa.State() != StateOpened || fb.State() != StateOpened {
				t.Fatalf("states %v/%v", fa.State(), fb.State())
			}
			ra, rb := na.result(), nb.result()
			if ra.LocalID == rb.LocalID || ra.LocalID == 0 || rb.LocalID == 0 {
				t.Errorf("identifiers %#x/%#x, want distinct non-zero", ra.LocalID, rb.LocalID)
			}
			if ra.PeerID != rb.LocalID || rb.PeerID != ra.LocalID {
				t.Errorf("results disagree: %+v / %+v", ra, rb)
			}
			if ra.LocalLinkLocal != rb.PeerLinkLocal || ra.PeerLinkLocal != LinkLocal(rb.LocalID) {
				t.Errorf("link-local addresses disagree: %+v / %+v", ra, rb)
			}
			if (tt.wantA != 0 && ra.LocalID != tt.wantA) || (tt.wantB != 0 && rb.LocalID != tt.wantB) {
				t.Errorf("identifiers %#x/%#x, want %#x/%#x", ra.LocalID, rb.LocalID, tt.wantA, tt.wantB)
			}
		})
	}
}

// TestIPv6CPProtocolRejected: the peer does not do IPv6 (RFC 1661 §5.7 via the engine).
func TestIPv6CPProtocolRejected(t *testing.T) {
	o := &recOwner{}
	f := newFSM(FSMConfig{}, testIPv6CP(IPv6CPConfig{}), o)
	f.Open()
	f.Up()
	f.ProtocolRejected()
	if f.State() != StateStopped || !errors.Is(f.Err(), ErrRejected) {
		t.Errorf("state %v err %v", f.State(), f.Err())
	}
	if diff := cmp.Diff([]string{"tls", "send Configure-Request", "tlf"}, o.calls); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestIPv6CPConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     IPv6CPConfig
		wantErr bool
	}{
		{"zero", IPv6CPConfig{}, false},
		{"both set", IPv6CPConfig{InterfaceID: 1, PeerInterfaceID: 2}, false},
		{"equal", IPv6CPConfig{InterfaceID: 1, PeerInterfaceID: 1}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.cfg.Validate(); (err != nil) != tt.wantErr {
				t.Errorf("Validate() = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}
