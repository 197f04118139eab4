package ppp

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// hx decodes hex written with spaces for readability.
func ohex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// countRand is a deterministic random source: each 8-octet read returns 0x10000000+n for
// n = 1, 2, ... so that 32-bit draws read 0x10000001, 0x10000002 and so on.
type countRand struct{ n uint64 }

func (c *countRand) Read(p []byte) (int, error) {
	for i := 0; i < len(p); i += 8 {
		c.n++
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], 0x10000000+c.n)
		copy(p[i:], b[:])
	}
	return len(p), nil
}

type optTLV struct {
	Type uint8
	Data []byte
}

func decodeOptions(b []byte) ([]optTLV, error) {
	var got []optTLV
	d := NewOptionDecoder(b)
	for d.Next() {
		got = append(got, optTLV{d.Type(), d.Bytes()})
	}
	return got, d.Err()
}

func TestOptionDecoder(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		want    []optTLV
		wantErr error
	}{
		{"empty", nil, nil, nil},
		{"LCP request", ohex("01 04 05 d4 03 05 c2 23 05 05 06 11 22 33 44 07 02"), []optTLV{
			{1, ohex("05 d4")}, {3, ohex("c2 23 05")}, {5, ohex("11 22 33 44")}, {7, []byte{}},
		}, nil},
		{"lone type octet", ohex("01"), nil, io.ErrUnexpectedEOF},
		{"length below 2", ohex("01 01"), nil, ErrBadOption},
		{"length zero", ohex("07 00"), nil, ErrBadOption},
		{"length past end", ohex("01 04 05"), nil, io.ErrUnexpectedEOF},
		{"good then truncated", ohex("07 02 05 06 00"), []optTLV{{7, []byte{}}}, io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeOptions(tt.in)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if err := CheckOptions(tt.in); !errors.Is(err, tt.wantErr) {
				t.Errorf("CheckOptions = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestOptionDecoderGetters(t *testing.T) {
	d := NewOptionDecoder(ohex("00 03 7f 01 04 05 dc 05 06 11 22 33 44 01 0a 00 11 22 33 44 55 66 77 03 06 0a 00 00 01"))
	var got []any
	for d.Next() {
		switch d.Type() {
		case 0:
			got = append(got, d.Uint8())
		case 1:
			if d.Len() == 2 {
				got = append(got, d.Uint16())
			} else {
				got = append(got, d.Uint64())
			}
		case 5:
			got = append(got, d.Uint32())
		case 3:
			got = append(got, d.Addr())
		}
	}
	if err := d.Err(); err != nil {
		t.Fatal(err)
	}
	want := []any{uint8(0x7f), uint16(1500), uint32(0x11223344), uint64(0x0011223344556677), netip.MustParseAddr("10.0.0.1")}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}

	tests := []struct {
		name string
		get  func(*OptionDecoder)
	}{
		{"Uint8", func(d *OptionDecoder) { d.Uint8() }},
		{"Uint16", func(d *OptionDecoder) { d.Uint16() }},
		{"Uint32", func(d *OptionDecoder) { d.Uint32() }},
		{"Uint64", func(d *OptionDecoder) { d.Uint64() }},
		{"Addr", func(d *OptionDecoder) { d.Addr() }},
	}
	for _, tt := range tests {
		t.Run("wrong size "+tt.name, func(t *testing.T) {
			d := NewOptionDecoder(ohex("01 05 00 00 00 07 02"))
			if !d.Next() {
				t.Fatal("no option")
			}
			tt.get(d)
			if !errors.Is(d.Err(), ErrBadOption) {
				t.Errorf("Err() = %v, want ErrBadOption", d.Err())
			}
			if d.Next() {
				t.Error("Next continued after an error")
			}
		})
	}
}

func TestOptionEncoder(t *testing.T) {
	e := NewOptionEncoder(ohex("aa"))
	e.Uint16(1, 1492)
	e.Bytes(3, ohex("c2 23 05"))
	e.Uint32(5, 0x11223344)
	e.Empty(7)
	e.Uint8(9, 2)
	e.Uint64(1, 0x0011223344556677)
	e.Addr(3, netip.MustParseAddr("10.0.0.1"))
	e.Addr(129, netip.Addr{})
	e.Raw(ohex("08 02"))
	got, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := ohex("aa 01 04 05 d4 03 05 c2 23 05 05 06 11 22 33 44 07 02 09 03 02 01 0a 00 11 22 33 44 55 66 77 03 06 0a 00 00 01 81 06 00 00 00 00 08 02")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if e.Len() != len(want) {
		t.Errorf("Len() = %d, want %d", e.Len(), len(want))
	}

	tests := []struct {
		name string
		put  func(*OptionEncoder)
	}{
		{"data too long", func(e *OptionEncoder) { e.Bytes(1, make([]byte, MaxOptionData+1)) }},
		{"IPv6 address", func(e *OptionEncoder) { e.Addr(3, netip.IPv6Loopback()) }},
		{"raw with wrong length", func(e *OptionEncoder) { e.Raw(ohex("01 05 00")) }},
		{"raw too short", func(e *OptionEncoder) { e.Raw(ohex("01")) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewOptionEncoder(nil)
			tt.put(e)
			e.Empty(7)
			if _, err := e.Encode(); !errors.Is(err, ErrBadOption) {
				t.Errorf("Encode() error = %v, want ErrBadOption", err)
			}
		})
	}
	e = NewOptionEncoder(nil)
	e.Bytes(1, make([]byte, MaxOptionData))
	if b, err := e.Encode(); err != nil || len(b) != 255 || b[1] != 255 {
		t.Errorf("largest option: len %d err %v", len(b), err)
	}
}
