package pppoe

import (
	"errors"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAccessLineEverySubOption(t *testing.T) {
	// Agent-Circuit-Id "ge-1/0/3:100" (12 bytes) and Agent-Remote-Id "cpe-42" (6 bytes), then
	// the fourteen 32-bit sub-options 0x81..0x8e holding 1..14, Access-Loop-Encapsulation and
	// IWF-Session.
	b := unhex(t, `
		01 0c 67652d312f302f333a313030
		02 06 6370652d3432
		81 04 00000001  82 04 00000002  83 04 00000003  84 04 00000004
		85 04 00000005  86 04 00000006  87 04 00000007  88 04 00000008
		89 04 00000009  8a 04 0000000a  8b 04 0000000b  8c 04 0000000c
		8d 04 0000000d  8e 04 0000000e
		90 03 020102
		fe 00
		c0 02 abcd`)
	want := AccessLine{
		CircuitID:                   "ge-1/0/3:100",
		RemoteID:                    "cpe-42",
		ActualDataRateUp:            1,
		ActualDataRateDown:          2,
		MinDataRateUp:               3,
		MinDataRateDown:             4,
		AttainableDataRateUp:        5,
		AttainableDataRateDown:      6,
		MaxDataRateUp:               7,
		MaxDataRateDown:             8,
		MinDataRateUpLowPower:       9,
		MinDataRateDownLowPower:     10,
		MaxInterleavingDelayUp:      11,
		ActualInterleavingDelayUp:   12,
		MaxInterleavingDelayDown:    13,
		ActualInterleavingDelayDown: 14,
		LoopEncap:                   LoopEncap{DataLink: 2, Encaps1: 1, Encaps2: 2},
		HasLoopEncap:                true,
		IWFSession:                  true,
		Other:                       []DSLSubOption{{Type: 0xc0, Value: []byte{0xab, 0xcd}}},
	}
	got, err := ParseAccessLine(b)
	if err != nil {
		t.Fatalf("ParseAccessLine: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseAccessLine (-want +got):\n%s", diff)
	}
	enc, err := want.AppendBinary(nil)
	if err != nil {
		t.Fatalf("AppendBinary: %v", err)
	}
	if diff := cmp.Diff(b, enc); diff != "" {
		t.Errorf("AppendBinary (-want +got):\n%s", diff)
	}
}

func TestAccessLineFromPacket(t *testing.T) {
	p, err := ParsePacket(unhex(t, goldenPackets[1].hex))
	if err != nil {
		t.Fatalf("ParsePacket: %v", err)
	}
	got, ok, err := p.Tags.AccessLine()
	if err != nil || !ok {
		t.Fatalf("AccessLine() = _, %v, %v, want true, nil", ok, err)
	}
	want := AccessLine{CircuitID: "port1", RemoteID: "cpe", ActualDataRateUp: 1000000}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("AccessLine (-want +got):\n%s", diff)
	}
	vt, err := want.VendorTag()
	if err != nil {
		t.Fatalf("VendorTag: %v", err)
	}
	if diff := cmp.Diff(p.Tags.Vendor[0], vt); diff != "" {
		t.Errorf("VendorTag (-want +got):\n%s", diff)
	}

	none := Tags{Vendor: []VendorTag{{VendorID: 9, Data: []byte{1, 0}}}}
	if _, ok, err := none.AccessLine(); ok || err != nil {
		t.Errorf("AccessLine() without a BBF tag = _, %v, %v, want false, nil", ok, err)
	}
	empty, err := (&AccessLine{}).VendorTag()
	if err != nil || empty.VendorID != VendorBBF || empty.Data == nil || len(empty.Data) != 0 {
		t.Errorf("VendorTag() of an empty AccessLine = %+v, %v", empty, err)
	}
}

func TestAccessLineErrors(t *testing.T) {
	tests := []struct {
		name    string
		hex     string
		want    error
		wantEOF bool
	}{
		{name: "sub-option header cut", hex: `01 01 61 02`, want: ErrSubOptionOverrun, wantEOF: true},
		{name: "sub-option value overrun", hex: `01 05 6162`, want: ErrSubOptionOverrun, wantEOF: true},
		{name: "rate of 3 bytes", hex: `81 03 000001`, want: ErrTagLength},
		{name: "rate of 6 bytes", hex: `8e 06 000000000001`, want: ErrTagLength},
		{name: "loop encapsulation of 2 bytes", hex: `90 02 0201`, want: ErrTagLength},
		{name: "IWF-Session with a value", hex: `fe 01 01`, want: ErrTagLength},
		{name: "duplicate circuit id", hex: `01 01 61 01 01 62`, want: ErrDuplicateTag},
		{name: "duplicate rate", hex: `82 04 00000001 82 04 00000002`, want: ErrDuplicateTag},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseAccessLine(unhex(t, tt.hex))
			if !errors.Is(err, tt.want) {
				t.Fatalf("ParseAccessLine error = %v, want %v", err, tt.want)
			}
			if got := errors.Is(err, io.ErrUnexpectedEOF); got != tt.wantEOF {
				t.Errorf("errors.Is(err, io.ErrUnexpectedEOF) = %v, want %v", got, tt.wantEOF)
			}
		})
	}
	// Unknown sub-options may repeat.
	got, err := ParseAccessLine(unhex(t, `c0 00 c0 01 01`))
	if err != nil {
		t.Fatalf("ParseAccessLine of repeated unknown sub-options: %v", err)
	}
	if len(got.Other) != 2 {
		t.Errorf("Other = %v, want 2 entries", got.Other)
	}
}

func TestAccessLineEncodeTooLong(t *testing.T) {
	long := string(make([]byte, 256))
	for _, a := range []AccessLine{
		{CircuitID: long},
		{RemoteID: long},
		{Other: []DSLSubOption{{Type: 0xc0, Value: []byte(long)}}},
	} {
		got, err := a.AppendBinary([]byte{0xee})
		if !errors.Is(err, ErrTooLong) {
			t.Errorf("AppendBinary(%.20q...) error = %v, want ErrTooLong", a.CircuitID+a.RemoteID, err)
		}
		if len(got) != 1 {
			t.Errorf("AppendBinary left %d bytes, want the 1-byte prefix", len(got))
		}
		if _, err := a.VendorTag(); !errors.Is(err, ErrTooLong) {
			t.Errorf("VendorTag error = %v, want ErrTooLong", err)
		}
	}
}

func TestDSLOptionString(t *testing.T) {
	tests := []struct {
		o    DSLOption
		want string
	}{
		{DSLAgentCircuitID, "Agent-Circuit-Id"},
		{DSLAgentRemoteID, "Agent-Remote-Id"},
		{DSLActualDataRateUpstream, "Actual-Data-Rate-Upstream"},
		{DSLActualInterleavingDelayDownstream, "Actual-Interleaving-Delay-Downstream"},
		{DSLAccessLoopEncapsulation, "Access-Loop-Encapsulation"},
		{DSLIWFSession, "IWF-Session"},
		{0xc0, "0xc0"},
	}
	for _, tt := range tests {
		if got := tt.o.String(); got != tt.want {
			t.Errorf("DSLOption(%#02x).String() = %q, want %q", uint8(tt.o), got, tt.want)
		}
	}
	for _, o := range dslIntOrder {
		if _, ok := dslIntNames[o]; !ok {
			t.Errorf("no name for %#02x", uint8(o))
		}
	}
}

func FuzzDSLForum(f *testing.F) {
	f.Add(unhex(f, `01 05 706f727431 02 03 637065 81 04 000f4240`))
	f.Add(unhex(f, `90 03 020102 fe 00 c0 02 abcd 8e 04 00000001`))
	f.Add(unhex(f, `01 05 6162`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseAccessLine(b)
		if err != nil {
			return
		}
		enc, err := a.AppendBinary(nil)
		if err != nil {
			t.Fatalf("AppendBinary of a parsed access line: %v", err)
		}
		a2, err := ParseAccessLine(enc)
		if err != nil {
			t.Fatalf("ParseAccessLine of re-encoded %x: %v", enc, err)
		}
		if diff := cmp.Diff(a, a2); diff != "" {
			t.Errorf("round trip (-first +second):\n%s", diff)
		}
	})
}
