package l2tp

import (
	"errors"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type v2DataCase struct {
	name    string
	hex     string
	hdr     V2DataHeader
	payload []byte
}

// v2DataGolden are L2TPv2 data headers written from RFC 2661 §3.1.
var v2DataGolden = []v2DataCase{
	{
		name:    "no optional fields",
		hex:     `0002 5678 0001  ff03 c021`, // Ver 2; Tunnel, Session; PPP LCP
		hdr:     V2DataHeader{TunnelID: 0x5678, SessionID: 1},
		payload: h("ff03c021"),
	},
	{
		name:    "length",
		hex:     `4002 0010 5678 0001  ff03 0021 4500 0000`, // L, Length 16
		hdr:     V2DataHeader{TunnelID: 0x5678, SessionID: 1, HasLength: true},
		payload: h("ff03002145000000"),
	},
	{
		name:    "sequence numbers",
		hex:     `0802 5678 0001 0005 0000  c021`, // S, Ns 5, Nr 0
		hdr:     V2DataHeader{TunnelID: 0x5678, SessionID: 1, HasSequence: true, Ns: 5},
		payload: h("c021"),
	},
	{
		name: "every optional field and priority",
		hex: `4b02 0013 5678 0001 0005 0007  # L,S,O,P; Length 19; Ns 5, Nr 7
		      0002 0000                      # Offset Size 2, two pad octets
		      c021 01                        # payload`,
		hdr: V2DataHeader{TunnelID: 0x5678, SessionID: 1, HasLength: true, HasSequence: true, Ns: 5, Nr: 7,
			HasOffset: true, OffsetSize: 2, Priority: true},
		payload: h("c02101"),
	},
}

func TestV2DataGolden(t *testing.T) {
	for _, tc := range v2DataGolden {
		t.Run(tc.name, func(t *testing.T) {
			wire := unhex(t, tc.hex)
			hdr, payload, err := ParseV2Data(wire)
			if err != nil {
				t.Fatalf("ParseV2Data: %v", err)
			}
			if diff := cmp.Diff(tc.hdr, hdr); diff != "" {
				t.Errorf("header (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.payload, payload); diff != "" {
				t.Errorf("payload (-want +got):\n%s", diff)
			}
			b, err := tc.hdr.Append(nil, len(tc.payload))
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
			if diff := cmp.Diff(wire, append(b, tc.payload...)); diff != "" {
				t.Errorf("Append (-want +got):\n%s", diff)
			}
			if tc.hdr.Len() != len(wire)-len(tc.payload) {
				t.Errorf("Len = %d, want %d", tc.hdr.Len(), len(wire)-len(tc.payload))
			}
		})
	}
}

func TestV2DataTrailingAfterLength(t *testing.T) {
	_, payload, err := ParseV2Data(h("4002 000a 5678 0001 c021 eeee"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(h("c021"), payload); diff != "" {
		t.Errorf("payload (-want +got):\n%s", diff)
	}
}

func TestV2DataErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"truncated", "0002 5678 00", io.ErrUnexpectedEOF},
		{"truncated after length", "4002 000a 5678", io.ErrUnexpectedEOF},
		{"control message", "c802 000c 5678 0000 0000 0000", ErrNotData},
		{"version 3", "0003 0000 0000 0001", ErrVersion},
		{"sequence truncated", "0802 5678 0001 0005", io.ErrUnexpectedEOF},
		{"offset size truncated", "0202 5678 0001 00", io.ErrUnexpectedEOF},
		{"offset pad beyond packet", "0202 5678 0001 0004 00", io.ErrUnexpectedEOF},
		{"length beyond packet", "4002 0020 5678 0001 c021", ErrBadLength},
		{"length inside header", "4002 0004 5678 0001 c021", ErrBadLength},
		{"offset pad beyond length", "4202 000c 5678 0001 0004 0000 0000", ErrBadLength},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := ParseV2Data(h(tc.in)); !errors.Is(err, tc.want) {
				t.Errorf("error = %v, want %v", err, tc.want)
			}
		})
	}
	hdr := V2DataHeader{HasLength: true}
	if _, err := hdr.Append(nil, 0xffff); !errors.Is(err, ErrMessageTooLong) {
		t.Errorf("Append of an oversized message: %v", err)
	}
	if _, err := hdr.Append(nil, -1); !errors.Is(err, ErrFieldRange) {
		t.Errorf("Append with a negative payload length: %v", err)
	}
}

type v3DataCase struct {
	name      string
	ip        bool
	hex       string
	cookieLen int
	sublayer  bool
	hdr       V3DataHeader
	payload   []byte
}

// v3DataGolden are L2TPv3 session headers written from RFC 3931 §4.1.1.1, §4.1.2.1, §4.6.
var v3DataGolden = []v3DataCase{
	{
		name: "UDP, 64-bit cookie, sublayer with sequence",
		hex: `0003 0000                  # T=0, Ver 3, Reserved
		      0001e240                   # Session ID 123456
		      0102030405060708           # Cookie
		      40 000005                  # S bit, sequence 5
		      0011 2233`,
		cookieLen: 8, sublayer: true,
		hdr: V3DataHeader{SessionID: 123456, Cookie: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}, CookieLen: 8,
			Sublayer: true, Sequenced: true, Seq: 5},
		payload: h("00112233"),
	},
	{
		name: "UDP, no cookie, no sublayer",
		hex:  `0003 0000 0000002a  ffff`, cookieLen: 0,
		hdr:     V3DataHeader{SessionID: 42},
		payload: h("ffff"),
	},
	{
		name: "IP, 32-bit cookie, sublayer without sequence",
		ip:   true,
		hex: `0000002a                   # Session ID 42
		      c0c1c2c3                   # Cookie
		      00 ffffff                  # S clear; the number is ignored but kept
		      aa`,
		cookieLen: 4, sublayer: true,
		hdr:     V3DataHeader{SessionID: 42, Cookie: [8]byte{0xc0, 0xc1, 0xc2, 0xc3}, CookieLen: 4, Sublayer: true, Seq: 0xffffff},
		payload: h("aa"),
	},
	{
		name: "IP, no cookie, empty payload",
		ip:   true,
		hex:  `ffffffff`,
		hdr:  V3DataHeader{SessionID: 0xffffffff},
	},
}

func TestV3DataGolden(t *testing.T) {
	for _, tc := range v3DataGolden {
		t.Run(tc.name, func(t *testing.T) {
			wire := unhex(t, tc.hex)
			parse, appendHdr, sid := ParseV3DataUDP, (*V3DataHeader).AppendUDP, V3SessionIDUDP
			extra := 4
			if tc.ip {
				parse, appendHdr, sid, extra = ParseV3DataIP, (*V3DataHeader).AppendIP, V3SessionIDIP, 0
			}
			id, err := sid(wire)
			if err != nil || id != tc.hdr.SessionID {
				t.Errorf("session ID = %d, %v; want %d", id, err, tc.hdr.SessionID)
			}
			hdr, payload, err := parse(wire, tc.cookieLen, tc.sublayer)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if diff := cmp.Diff(tc.hdr, hdr); diff != "" {
				t.Errorf("header (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.payload, payload, cmpMsg); diff != "" {
				t.Errorf("payload (-want +got):\n%s", diff)
			}
			b, err := appendHdr(&tc.hdr, nil)
			if err != nil {
				t.Fatalf("append: %v", err)
			}
			if diff := cmp.Diff(wire, append(b, tc.payload...)); diff != "" {
				t.Errorf("append (-want +got):\n%s", diff)
			}
			if tc.hdr.Len()+extra != len(wire)-len(tc.payload) {
				t.Errorf("Len = %d (+%d), want %d", tc.hdr.Len(), extra, len(wire)-len(tc.payload))
			}
		})
	}
}

func TestV3DataErrors(t *testing.T) {
	tests := []struct {
		name      string
		ip        bool
		in        string
		cookieLen int
		sublayer  bool
		want      error
	}{
		{"UDP truncated", false, "0003 0000 0000", 0, false, io.ErrUnexpectedEOF},
		{"UDP control message", false, "c803 0014 0000 0001", 0, false, ErrNotData},
		{"UDP version 2", false, "0002 0000 0000 0001", 0, false, ErrVersion},
		{"UDP zero session", false, "0003 0000 0000 0000 ff", 0, false, ErrNotData},
		{"UDP cookie truncated", false, "0003 0000 0000 0001 0102", 4, false, io.ErrUnexpectedEOF},
		{"UDP sublayer truncated", false, "0003 0000 0000 0001 40", 0, true, io.ErrUnexpectedEOF},
		{"bad cookie length", false, "0003 0000 0000 0001 0102 0304 0506", 6, false, ErrCookieLength},
		{"IP truncated", true, "0000", 0, false, io.ErrUnexpectedEOF},
		{"IP control message", true, "0000 0000 c803", 0, false, ErrNotData},
		{"IP cookie truncated", true, "0000 0001 0102 0304", 8, false, io.ErrUnexpectedEOF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			parse := ParseV3DataUDP
			if tc.ip {
				parse = ParseV3DataIP
			}
			if _, _, err := parse(h(tc.in), tc.cookieLen, tc.sublayer); !errors.Is(err, tc.want) {
				t.Errorf("error = %v, want %v", err, tc.want)
			}
		})
	}

	var hdr V3DataHeader
	if err := hdr.SetCookie(make([]byte, 5)); !errors.Is(err, ErrCookieLength) {
		t.Errorf("SetCookie(5 octets) = %v", err)
	}
	if _, err := hdr.AppendIP(nil); !errors.Is(err, ErrFieldRange) {
		t.Errorf("AppendIP with session 0 = %v", err)
	}
	hdr = V3DataHeader{SessionID: 1, CookieLen: 3}
	if _, err := hdr.AppendUDP(nil); !errors.Is(err, ErrCookieLength) {
		t.Errorf("AppendUDP with a 3-octet cookie = %v", err)
	}
	if err := hdr.SetCookie(h("0a0b0c0d")); err != nil || string(hdr.CookieBytes()) != string(h("0a0b0c0d")) {
		t.Errorf("SetCookie: %v, cookie %x", err, hdr.CookieBytes())
	}
}

// TestDataZeroAllocs pins the hot-path promise: no allocation per packet.
func TestDataZeroAllocs(t *testing.T) {
	v2 := unhex(t, v2DataGolden[3].hex)
	v3u := unhex(t, v3DataGolden[0].hex)
	v3i := unhex(t, v3DataGolden[2].hex)
	buf := make([]byte, 0, 64)
	v2h, v3h := v2DataGolden[3].hdr, v3DataGolden[0].hdr
	cookie := h("0102030405060708")
	tests := []struct {
		name string
		f    func()
	}{
		{"ParseV2Data", func() { _, _, _ = ParseV2Data(v2) }},
		{"V2DataHeader.Append", func() { _, _ = v2h.Append(buf[:0], 3) }},
		{"ParseV3DataUDP", func() {
			hdr, _, _ := ParseV3DataUDP(v3u, 8, true)
			_ = string(hdr.CookieBytes()) == string(cookie)
		}},
		{"ParseV3DataIP", func() { _, _, _ = ParseV3DataIP(v3i, 4, true) }},
		{"V3DataHeader.AppendUDP", func() { _, _ = v3h.AppendUDP(buf[:0]) }},
		{"V3DataHeader.AppendIP", func() { _, _ = v3h.AppendIP(buf[:0]) }},
		{"ClassifyUDP", func() { _, _, _ = ClassifyUDP(v3u) }},
		{"V3SessionIDIP", func() { _, _ = V3SessionIDIP(v3i) }},
	}
	for _, tc := range tests {
		if n := testing.AllocsPerRun(100, tc.f); n != 0 {
			t.Errorf("%s: %v allocs per run, want 0", tc.name, n)
		}
	}
}

func BenchmarkV2DataParse(b *testing.B) {
	pkt := append(unhex(b, `4802 0000 5678 0001 0005 0007`), make([]byte, 1400)...)
	pkt[2], pkt[3] = byte(len(pkt)>>8), byte(len(pkt))
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		if _, _, err := ParseV2Data(pkt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkV2DataAppend(b *testing.B) {
	hdr := V2DataHeader{TunnelID: 0x5678, SessionID: 1, HasLength: true, HasSequence: true}
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := hdr.Append(buf[:0], 1400); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkV3DataParseUDP(b *testing.B) {
	pkt := append(unhex(b, `0003 0000 0001e240 0102030405060708 40000005`), make([]byte, 1400)...)
	cookie := h("0102030405060708")
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		hdr, _, err := ParseV3DataUDP(pkt, 8, true)
		if err != nil || string(hdr.CookieBytes()) != string(cookie) {
			b.Fatal(err)
		}
	}
}

func BenchmarkV3DataParseIP(b *testing.B) {
	pkt := append(unhex(b, `0001e240 0102030405060708 40000005`), make([]byte, 1400)...)
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		if _, _, err := ParseV3DataIP(pkt, 8, true); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkV3DataAppendUDP(b *testing.B) {
	hdr := V3DataHeader{SessionID: 123456, Cookie: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}, CookieLen: 8, Sublayer: true, Sequenced: true}
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		hdr.Seq++
		if _, err := hdr.AppendUDP(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseMessage measures a control message parse (allocates: the message owns a
// copy of its AVPs).
func BenchmarkParseMessage(b *testing.B) {
	wire := unhex(b, goldenV2[10].hex) // ICCN with 13 AVPs
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(wire, nil); err != nil {
			b.Fatal(err)
		}
	}
}
