package pppoe

import (
	"errors"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestEveryTag decodes one of each tag type into Tags and encodes it back.
func TestEveryTag(t *testing.T) {
	tests := []struct {
		name string
		hex  string
		want Tags
	}{
		{name: "Service-Name", hex: `0101 0003 766f64`, want: Tags{ServiceNames: []string{"vod"}}},
		{name: "Service-Name empty", hex: `0101 0000`, want: Tags{ServiceNames: []string{""}}},
		{name: "several Service-Names", hex: `0101 0001 61 0101 0001 62`, want: Tags{ServiceNames: []string{"a", "b"}}},
		{name: "AC-Name", hex: `0102 0002 6163`, want: Tags{ACName: "ac", HasACName: true}},
		{name: "Host-Uniq", hex: `0103 0002 0102`, want: Tags{HostUniq: []byte{1, 2}}},
		{name: "AC-Cookie", hex: `0104 0003 010203`, want: Tags{ACCookie: []byte{1, 2, 3}}},
		{name: "Vendor-Specific", hex: `0105 0006 00000009 abcd`, want: Tags{Vendor: []VendorTag{{VendorID: 9, Data: []byte{0xab, 0xcd}}}}},
		{name: "Vendor-Specific without data", hex: `0105 0004 00000de9`, want: Tags{Vendor: []VendorTag{{VendorID: VendorBBF, Data: []byte{}}}}},
		{name: "Relay-Session-Id", hex: `0110 000c 000102030405060708090a0b`, want: Tags{RelaySessionID: []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}}},
		{name: "PPP-Max-Payload", hex: `0120 0002 05dc`, want: Tags{PPPMaxPayload: 1500}},
		{name: "Service-Name-Error", hex: `0201 0000`, want: Tags{Errors: []ErrorTag{{Type: TagServiceNameError}}}},
		{name: "AC-System-Error", hex: `0202 0004 66756c6c`, want: Tags{Errors: []ErrorTag{{Type: TagACSystemError, Message: "full"}}}},
		{name: "Generic-Error", hex: `0203 0002 6e6f`, want: Tags{Errors: []ErrorTag{{Type: TagGenericError, Message: "no"}}}},
		{name: "Credits (RFC 5578) kept raw", hex: `0106 0004 00010002`, want: Tags{Other: []Tag{{Type: TagCredits, Value: []byte{0, 1, 0, 2}}}}},
		{name: "HURL kept raw", hex: `0111 0001 68`, want: Tags{Other: []Tag{{Type: TagHURL, Value: []byte("h")}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := unhex(t, tt.hex)
			got, err := ParseTags(b)
			if err != nil {
				t.Fatalf("ParseTags: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseTags (-want +got):\n%s", diff)
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

func TestEndOfList(t *testing.T) {
	got, err := ParseTags(unhex(t, `0101 0000 0000 0000 0103 0002 0102`))
	if err != nil {
		t.Fatalf("ParseTags: %v", err)
	}
	if diff := cmp.Diff(Tags{ServiceNames: []string{""}}, got); diff != "" {
		t.Errorf("tags after End-Of-List were not ignored (-want +got):\n%s", diff)
	}
}

func TestTagDecoder(t *testing.T) {
	d := NewTagDecoder(unhex(t, `0101 0003 766f64 0120 0002 05d4 0120 0001 05`))
	type got struct {
		Type  TagType
		Value string
		U16   uint16
	}
	var tags []got
	for d.Next() {
		g := got{Type: d.Type(), Value: d.String()}
		if d.Type() == TagPPPMaxPayload {
			g.U16 = d.Uint16()
		}
		tags = append(tags, g)
	}
	want := []got{
		{Type: TagServiceName, Value: "vod"},
		{Type: TagPPPMaxPayload, Value: "\x05\xd4", U16: 1492},
		{Type: TagPPPMaxPayload, Value: "\x05"},
	}
	if diff := cmp.Diff(want, tags); diff != "" {
		t.Errorf("decoded tags (-want +got):\n%s", diff)
	}
	if !errors.Is(d.Err(), ErrTagLength) {
		t.Errorf("Err() = %v, want ErrTagLength", d.Err())
	}
	if d.Next() {
		t.Error("Next() after an error = true, want false (sticky error)")
	}

	d = NewTagDecoder(unhex(t, `0101 0005 76`))
	if d.Next() {
		t.Error("Next() on an overrunning tag = true")
	}
	if !errors.Is(d.Err(), ErrTagOverrun) || !errors.Is(d.Err(), io.ErrUnexpectedEOF) {
		t.Errorf("Err() = %v, want ErrTagOverrun matching io.ErrUnexpectedEOF", d.Err())
	}
}

func TestTagEncoder(t *testing.T) {
	var e TagEncoder
	e.String(TagServiceName, "vod")
	e.Bytes(TagHostUniq, []byte{1, 2})
	e.Uint16(TagPPPMaxPayload, 1500)
	got, err := e.Encode()
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	if diff := cmp.Diff(unhex(t, `0101 0003 766f64 0103 0002 0102 0120 0002 05dc`), got); diff != "" {
		t.Errorf("Encode (-want +got):\n%s", diff)
	}

	var bad TagEncoder
	bad.Bytes(TagHostUniq, make([]byte, 0x10000))
	bad.String(TagServiceName, "ignored after the error")
	if _, err := bad.Encode(); !errors.Is(err, ErrTooLong) {
		t.Errorf("Encode error = %v, want ErrTooLong", err)
	}
	var badStr TagEncoder
	badStr.String(TagACName, string(make([]byte, 0x10000)))
	badStr.Uint16(TagPPPMaxPayload, 1)
	if _, err := badStr.Encode(); !errors.Is(err, ErrTooLong) {
		t.Errorf("Encode error = %v, want ErrTooLong", err)
	}
}

func TestTagsHelpers(t *testing.T) {
	tags := Tags{
		ServiceNames: []string{"", "vod"},
		Errors:       []ErrorTag{{Type: TagACSystemError, Message: "full"}, {Type: TagGenericError}},
	}
	if e, ok := tags.FirstError(); !ok || e.String() != "AC-System-Error: full" {
		t.Errorf("FirstError() = %v, %v, want AC-System-Error: full, true", e, ok)
	}
	if _, ok := (&Tags{}).FirstError(); ok {
		t.Error("FirstError() on no errors reported true")
	}
	if got := (ErrorTag{Type: TagGenericError}).String(); got != "Generic-Error" {
		t.Errorf("ErrorTag.String() = %q, want Generic-Error", got)
	}
	for name, want := range map[string]bool{"": true, "vod": true, "iptv": false} {
		if got := tags.HasServiceName(name); got != want {
			t.Errorf("HasServiceName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestTagTypeString(t *testing.T) {
	tests := []struct {
		typ     TagType
		want    string
		isError bool
	}{
		{TagEndOfList, "End-Of-List", false},
		{TagServiceName, "Service-Name", false},
		{TagACName, "AC-Name", false},
		{TagHostUniq, "Host-Uniq", false},
		{TagACCookie, "AC-Cookie", false},
		{TagVendorSpecific, "Vendor-Specific", false},
		{TagCredits, "Credits", false},
		{TagMetrics, "Metrics", false},
		{TagSequenceNumber, "Sequence-Number", false},
		{TagCreditScaleFactor, "Credit-Scale-Factor", false},
		{TagRelaySessionID, "Relay-Session-Id", false},
		{TagHURL, "HURL", false},
		{TagMOTM, "MOTM", false},
		{TagPPPMaxPayload, "PPP-Max-Payload", false},
		{TagIPRouteAdd, "IP-Route-Add", false},
		{TagServiceNameError, "Service-Name-Error", true},
		{TagACSystemError, "AC-System-Error", true},
		{TagGenericError, "Generic-Error", true},
		{0x7777, "0x7777", false},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.typ.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			if got := tt.typ.IsError(); got != tt.isError {
				t.Errorf("IsError() = %v, want %v", got, tt.isError)
			}
		})
	}
}

func FuzzTags(f *testing.F) {
	for _, g := range goldenPackets {
		f.Add(unhex(f, g.hex)[HeaderLen:])
	}
	f.Add(unhex(f, `0101 0000 0000 0000 0103 0002 0102`))
	f.Add(unhex(f, `0105 0004 00000de9 0106 0000 0203 0001 78`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tags, err := ParseTags(b)
		if err != nil {
			return
		}
		enc, err := tags.MarshalBinary()
		if err != nil {
			t.Fatalf("MarshalBinary of parsed tags: %v", err)
		}
		tags2, err := ParseTags(enc)
		if err != nil {
			t.Fatalf("ParseTags of re-encoded %x: %v", enc, err)
		}
		if diff := cmp.Diff(tags, tags2); diff != "" {
			t.Errorf("round trip (-first +second):\n%s", diff)
		}
	})
}
