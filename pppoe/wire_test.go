package pppoe

import (
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// unhex decodes hex written with spaces, newlines and "|" separators for readability.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	s = strings.NewReplacer(" ", "", "\n", "", "\t", "", "|", "").Replace(s)
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

var hostUniq8 = []byte{1, 2, 3, 4, 5, 6, 7, 8}

// goldenPackets are discovery packets written by hand from the layouts of RFC 2516 §4, §5 and
// Appendix A: VER/TYPE 0x11, CODE, SESSION_ID, LENGTH, then TAG_TYPE, TAG_LENGTH, TAG_VALUE.
// Their tags are in the encoder's order, so each packet also round-trips byte for byte.
var goldenPackets = []struct {
	name string
	hex  string
	want Packet
}{
	{
		name: "PADI any service with Host-Uniq",
		hex: `11 09 0000 0010
		      0101 0000
		      0103 0008 0102030405060708`,
		want: Packet{Code: CodePADI, Tags: Tags{ServiceNames: []string{""}, HostUniq: hostUniq8}},
	},
	{
		name: "PADI from relay with PPP-Max-Payload and DSL Forum tag",
		hex: `11 09 0000 002c
		      0101 0000
		      0110 0004 aabbccdd
		      0120 0002 05dc
		      0105 0016 00000de9 | 01 05 706f727431 | 02 03 637065 | 81 04 000f4240`,
		want: Packet{Code: CodePADI, Tags: Tags{
			ServiceNames:   []string{""},
			RelaySessionID: []byte{0xaa, 0xbb, 0xcc, 0xdd},
			PPPMaxPayload:  1500,
			Vendor: []VendorTag{{VendorID: VendorBBF, Data: []byte{
				0x01, 5, 'p', 'o', 'r', 't', '1', 0x02, 3, 'c', 'p', 'e', 0x81, 4, 0x00, 0x0f, 0x42, 0x40,
			}}},
		}},
	},
	{
		name: "PADO",
		hex: `11 07 0000 002e
		      0101 0000
		      0101 0008 696e7465726e6574
		      0102 0006 627261732d31
		      0103 0008 0102030405060708
		      0104 0004 c0c0c0c0`,
		want: Packet{Code: CodePADO, Tags: Tags{
			ServiceNames: []string{"", "internet"},
			ACName:       "bras-1",
			HasACName:    true,
			HostUniq:     hostUniq8,
			ACCookie:     []byte{0xc0, 0xc0, 0xc0, 0xc0},
		}},
	},
	{
		name: "PADR",
		hex: `11 19 0000 0020
		      0101 0008 696e7465726e6574
		      0103 0008 0102030405060708
		      0104 0004 c0c0c0c0`,
		want: Packet{Code: CodePADR, Tags: Tags{
			ServiceNames: []string{"internet"},
			HostUniq:     hostUniq8,
			ACCookie:     []byte{0xc0, 0xc0, 0xc0, 0xc0},
		}},
	},
	{
		name: "PADS",
		hex: `11 65 1234 0018
		      0101 0008 696e7465726e6574
		      0103 0008 0102030405060708`,
		want: Packet{Code: CodePADS, SessionID: 0x1234, Tags: Tags{
			ServiceNames: []string{"internet"},
			HostUniq:     hostUniq8,
		}},
	},
	{
		name: "PADS refusal with Service-Name-Error",
		hex: `11 65 0000 000c
		      0101 0004 69707476
		      0201 0000`,
		want: Packet{Code: CodePADS, Tags: Tags{
			ServiceNames: []string{"iptv"},
			Errors:       []ErrorTag{{Type: TagServiceNameError}},
		}},
	},
	{
		name: "PADT",
		hex:  `11 a7 1234 0000`,
		want: Packet{Code: CodePADT, SessionID: 0x1234},
	},
	{
		name: "PADT with Generic-Error",
		hex: `11 a7 1234 0007
		      0203 0003 627965`,
		want: Packet{Code: CodePADT, SessionID: 0x1234, Tags: Tags{
			Errors: []ErrorTag{{Type: TagGenericError, Message: "bye"}},
		}},
	},
}

func TestGoldenPackets(t *testing.T) {
	for _, tt := range goldenPackets {
		t.Run(tt.name, func(t *testing.T) {
			b := unhex(t, tt.hex)
			got, err := ParsePacket(b)
			if err != nil {
				t.Fatalf("ParsePacket: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParsePacket (-want +got):\n%s", diff)
			}
			enc, err := tt.want.MarshalBinary()
			if err != nil {
				t.Fatalf("MarshalBinary: %v", err)
			}
			if diff := cmp.Diff(b, enc); diff != "" {
				t.Errorf("MarshalBinary (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParsePacketTolerates(t *testing.T) {
	tests := []struct {
		name string
		hex  string
		want Packet
	}{
		{
			name: "Ethernet padding after LENGTH",
			hex:  `11 a7 1234 0000` + strings.Repeat("00", 40),
			want: Packet{Code: CodePADT, SessionID: 0x1234},
		},
		{
			name: "tags in another order",
			hex: `11 07 0000 0014
			      0102 0006 627261732d31
			      0103 0002 abcd
			      0101 0000`,
			want: Packet{Code: CodePADO, Tags: Tags{
				ServiceNames: []string{""}, ACName: "bras-1", HasACName: true, HostUniq: []byte{0xab, 0xcd},
			}},
		},
		{
			name: "End-Of-List ends the tags, garbage after it ignored",
			hex: `11 09 0000 000c
			      0101 0000
			      0000 0000
			      0103 00ff`,
			want: Packet{Code: CodePADI, Tags: Tags{ServiceNames: []string{""}}},
		},
		{
			name: "unknown and RFC 5578 tags kept",
			hex: `11 09 0000 0012
			      0101 0000
			      0106 0004 00010002
			      7777 0002 beef`,
			want: Packet{Code: CodePADI, Tags: Tags{
				ServiceNames: []string{""},
				Other: []Tag{
					{Type: TagCredits, Value: []byte{0, 1, 0, 2}},
					{Type: 0x7777, Value: []byte{0xbe, 0xef}},
				},
			}},
		},
		{
			name: "AC-Name present but empty",
			hex: `11 07 0000 0008
			      0101 0000
			      0102 0000`,
			want: Packet{Code: CodePADO, Tags: Tags{ServiceNames: []string{""}, HasACName: true}},
		},
		{
			name: "empty Host-Uniq kept as present",
			hex: `11 09 0000 0008
			      0101 0000
			      0103 0000`,
			want: Packet{Code: CodePADI, Tags: Tags{ServiceNames: []string{""}, HostUniq: []byte{}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePacket(unhex(t, tt.hex))
			if err != nil {
				t.Fatalf("ParsePacket: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParsePacket (-want +got):\n%s", diff)
			}
		})
	}
}

// badErrors names the sentinels the files under testdata/bad may expect.
var badErrors = map[string]error{
	"ErrShortHeader":      ErrShortHeader,
	"ErrLengthOverrun":    ErrLengthOverrun,
	"ErrTagOverrun":       ErrTagOverrun,
	"ErrVersion":          ErrVersion,
	"ErrType":             ErrType,
	"ErrCode":             ErrCode,
	"ErrSessionID":        ErrSessionID,
	"ErrServiceNameCount": ErrServiceNameCount,
	"ErrMissingTag":       ErrMissingTag,
	"ErrDuplicateTag":     ErrDuplicateTag,
	"ErrTagLength":        ErrTagLength,
	"ErrEndOfListLength":  ErrEndOfListLength,
}

type badPacket struct {
	name string
	want error
	data []byte
}

// readBadCorpus reads testdata/bad: one malformed packet per file, as hex after comment lines
// that name the RFC clause it breaks and, on a "# want: ErrX" line, the error expected.
func readBadCorpus(t testing.TB) []badPacket {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "bad", "*.hex"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad corpus: %v", err)
	}
	var out []badPacket
	for _, f := range files {
		text, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		bp := badPacket{name: strings.TrimSuffix(filepath.Base(f), ".hex")}
		var hexText strings.Builder
		for line := range strings.Lines(string(text)) {
			if want, ok := strings.CutPrefix(line, "# want: "); ok {
				bp.want = badErrors[strings.TrimSpace(want)]
				if bp.want == nil {
					t.Fatalf("%s: unknown error %q", f, want)
				}
			} else if !strings.HasPrefix(line, "#") {
				hexText.WriteString(line)
			}
		}
		if bp.want == nil {
			t.Fatalf("%s: no want line", f)
		}
		bp.data = unhex(t, hexText.String())
		out = append(out, bp)
	}
	return out
}

func TestParsePacketErrors(t *testing.T) {
	for _, bp := range readBadCorpus(t) {
		t.Run(bp.name, func(t *testing.T) {
			_, err := ParsePacket(bp.data)
			if !errors.Is(err, bp.want) {
				t.Fatalf("ParsePacket error = %v, want %v", err, bp.want)
			}
			var trunc *truncError
			wantEOF := errors.As(bp.want, &trunc)
			if got := errors.Is(err, io.ErrUnexpectedEOF); got != wantEOF {
				t.Errorf("errors.Is(err, io.ErrUnexpectedEOF) = %v, want %v", got, wantEOF)
			}
		})
	}
}

func TestMarshalTooLong(t *testing.T) {
	big := make([]byte, 0x10000)
	tests := []struct {
		name string
		p    Packet
	}{
		{name: "tag value over 65535", p: Packet{Code: CodePADI, Tags: Tags{ServiceNames: []string{""}, HostUniq: big}}},
		{name: "string tag over 65535", p: Packet{Code: CodePADI, Tags: Tags{ServiceNames: []string{string(big)}}}},
		{name: "vendor data over 65531", p: Packet{Code: CodePADI, Tags: Tags{Vendor: []VendorTag{{Data: big[:0xfffc]}}}}},
		{name: "payload over 65535", p: Packet{Code: CodePADI, Tags: Tags{HostUniq: big[:0xfff0], ACCookie: big[:0xfff0]}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := []byte{0xee}
			got, err := tt.p.AppendBinary(prefix)
			if !errors.Is(err, ErrTooLong) {
				t.Fatalf("AppendBinary error = %v, want ErrTooLong", err)
			}
			if diff := cmp.Diff(prefix, got); diff != "" {
				t.Errorf("AppendBinary left the buffer changed (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCodeString(t *testing.T) {
	tests := []struct {
		code Code
		want string
	}{
		{CodeSession, "Session"}, {CodePADI, "PADI"}, {CodePADO, "PADO"}, {CodePADR, "PADR"},
		{CodePADS, "PADS"}, {CodePADT, "PADT"}, {CodePADG, "PADG"}, {CodePADC, "PADC"},
		{CodePADQ, "PADQ"}, {CodePADM, "PADM"}, {CodePADN, "PADN"}, {0x42, "0x42"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.code.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMACAndVLANs(t *testing.T) {
	tests := []struct {
		name        string
		mac         MAC
		wantString  string
		wantUnicast bool
	}{
		{"unicast", MAC{0x02, 0, 0x5e, 0x10, 0xab, 0xff}, "02:00:5e:10:ab:ff", true},
		{"zero", MAC{}, "00:00:00:00:00:00", false},
		{"broadcast", BroadcastMAC, "ff:ff:ff:ff:ff:ff", false},
		{"multicast", MAC{0x01, 0, 0x5e, 0, 0, 1}, "01:00:5e:00:00:01", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.mac.String(); got != tt.wantString {
				t.Errorf("String() = %q, want %q", got, tt.wantString)
			}
			if got := tt.mac.IsUnicast(); got != tt.wantUnicast {
				t.Errorf("IsUnicast() = %v, want %v", got, tt.wantUnicast)
			}
		})
	}
	for _, tt := range []struct {
		v    VLANs
		want string
	}{{VLANs{}, "untagged"}, {VLANs{Outer: 10}, "vlan 10"}, {VLANs{100, 10}, "vlan 100.10"}} {
		if got := tt.v.String(); got != tt.want {
			t.Errorf("VLANs%+v.String() = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestParseSession(t *testing.T) {
	tests := []struct {
		name    string
		hex     string
		wantSID uint16
		wantPPP string // hex
		wantErr error
	}{
		{name: "LCP frame", hex: `11 00 1234 0006 c021 0101 0004`, wantSID: 0x1234, wantPPP: `c021 0101 0004`},
		{name: "padding trimmed", hex: `11 00 0001 0004 0021 4500 0000 0000`, wantSID: 1, wantPPP: `0021 4500`},
		{name: "empty PPP frame", hex: `11 00 0001 0000`, wantSID: 1, wantPPP: ``},
		{name: "short", hex: `11 00 0001 00`, wantErr: ErrShortHeader},
		{name: "bad VER", hex: `21 00 0001 0000`, wantErr: ErrVersion},
		{name: "bad TYPE", hex: `10 00 0001 0000`, wantErr: ErrType},
		{name: "discovery code", hex: `11 a7 0001 0000`, wantErr: ErrCode},
		{name: "session id 0", hex: `11 00 0000 0000`, wantErr: ErrSessionID},
		{name: "session id 0xffff", hex: `11 00 ffff 0000`, wantErr: ErrSessionID},
		{name: "LENGTH beyond frame", hex: `11 00 0001 0004 c021`, wantErr: ErrLengthOverrun},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := unhex(t, tt.hex)
			sid, ppp, err := ParseSession(b)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ParseSession error = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if sid != tt.wantSID {
				t.Errorf("sid = %#04x, want %#04x", sid, tt.wantSID)
			}
			if diff := cmp.Diff(unhex(t, tt.wantPPP), ppp, cmp.Comparer(func(a, b []byte) bool { return string(a) == string(b) })); diff != "" {
				t.Errorf("ppp (-want +got):\n%s", diff)
			}
			h := SessionHeader(b)
			if h.Code() != CodeSession || h.SessionID() != sid || h.Length() != len(ppp) {
				t.Errorf("SessionHeader = code %v sid %#04x len %d, want Session %#04x %d", h.Code(), h.SessionID(), h.Length(), sid, len(ppp))
			}
		})
	}
}

func TestPutSessionHeader(t *testing.T) {
	b := make([]byte, 8)
	if err := PutSessionHeader(b, 0xbeef, 2); err != nil {
		t.Fatalf("PutSessionHeader: %v", err)
	}
	if diff := cmp.Diff(unhex(t, `11 00 beef 0002 0000`), b); diff != "" {
		t.Errorf("PutSessionHeader (-want +got):\n%s", diff)
	}
	if err := PutSessionHeader(b[:5], 1, 0); !errors.Is(err, ErrShortBuffer) {
		t.Errorf("PutSessionHeader short buffer error = %v, want ErrShortBuffer", err)
	}
	if err := PutSessionHeader(b, 1, 0x10000); !errors.Is(err, ErrTooLong) {
		t.Errorf("PutSessionHeader long frame error = %v, want ErrTooLong", err)
	}
	got, err := AppendSessionHeader([]byte{0xaa}, 0x0102, 0x0304)
	if err != nil {
		t.Fatalf("AppendSessionHeader: %v", err)
	}
	if diff := cmp.Diff(unhex(t, `aa 11 00 0102 0304`), got); diff != "" {
		t.Errorf("AppendSessionHeader (-want +got):\n%s", diff)
	}
	if _, err := AppendSessionHeader(nil, 1, -1); !errors.Is(err, ErrTooLong) {
		t.Errorf("AppendSessionHeader negative length error = %v, want ErrTooLong", err)
	}
}

func TestSessionPathDoesNotAllocate(t *testing.T) {
	frame := unhex(t, `11 00 1234 0006 c021 0101 0004`)
	bad := unhex(t, `11 00 0000 0000`)
	out := make([]byte, 0, 64)
	allocs := testing.AllocsPerRun(100, func() {
		sid, ppp, err := ParseSession(frame)
		if err != nil {
			panic(err)
		}
		if _, _, err := ParseSession(bad); err == nil {
			panic("bad frame parsed")
		}
		if err := PutSessionHeader(frame, sid, len(ppp)); err != nil {
			panic(err)
		}
		out, _ = AppendSessionHeader(out[:0], sid, len(ppp))
		_ = SessionHeader(frame).SessionID()
	})
	if allocs != 0 {
		t.Errorf("session path allocates %v times per run, want 0", allocs)
	}
}

func BenchmarkSessionHeader(b *testing.B) {
	frame := unhex(b, `11 00 1234 0006 c021 0101 0004`)
	out := make([]byte, 0, 1514)
	b.ReportAllocs()
	for b.Loop() {
		sid, ppp, err := ParseSession(frame)
		if err != nil {
			b.Fatal(err)
		}
		out, _ = AppendSessionHeader(out[:0], sid, len(ppp))
		out = append(out, ppp...)
	}
}

func FuzzParsePacket(f *testing.F) {
	for _, g := range goldenPackets {
		f.Add(unhex(f, g.hex))
	}
	for _, bp := range readBadCorpus(f) {
		f.Add(bp.data)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePacket(b)
		if err != nil {
			return
		}
		enc, err := p.MarshalBinary()
		if err != nil {
			t.Fatalf("MarshalBinary of a parsed packet: %v", err)
		}
		p2, err := ParsePacket(enc)
		if err != nil {
			t.Fatalf("ParsePacket of re-encoded packet %x: %v", enc, err)
		}
		if diff := cmp.Diff(p, p2); diff != "" {
			t.Errorf("round trip (-first +second):\n%s", diff)
		}
	})
}

func FuzzSessionHeader(f *testing.F) {
	f.Add(unhex(f, `11 00 1234 0006 c021 0101 0004`))
	f.Add(unhex(f, `11 00 0001 0004 0021 4500 0000 0000`))
	f.Add(unhex(f, `11 00 0000 0000`))
	f.Fuzz(func(t *testing.T, b []byte) {
		sid, ppp, err := ParseSession(b)
		if err != nil {
			return
		}
		enc, err := AppendSessionHeader(nil, sid, len(ppp))
		if err != nil {
			t.Fatalf("AppendSessionHeader: %v", err)
		}
		enc = append(enc, ppp...)
		sid2, ppp2, err := ParseSession(enc)
		if err != nil {
			t.Fatalf("ParseSession of re-encoded %x: %v", enc, err)
		}
		if sid2 != sid || string(ppp2) != string(ppp) {
			t.Errorf("round trip: sid %#04x %x, then %#04x %x", sid, ppp, sid2, ppp2)
		}
	})
}
