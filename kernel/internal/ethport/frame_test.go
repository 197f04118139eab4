package ethport

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		panic(err)
	}
	return b
}

var (
	dstMAC = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	srcMAC = [6]byte{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}

	// A PPPoE PADI (RFC 2516 §5.1) with a Service-Name tag, untagged and padded.
	goldenPADI = unhex("ffffffffffff 020000000001 8863" +
		"1109 0000 0004 0101 0000" + // ver/type, PADI, session 0, length 4, Service-Name ""
		strings.Repeat("00", 36))
	// The same on VLAN 7.
	goldenPADIVLAN = unhex("ffffffffffff 020000000001 8100 0007 8863" +
		"1109 0000 0004 0101 0000" +
		strings.Repeat("00", 32))
	// The same with service tag 100 and customer tag 7 (QinQ).
	goldenPADIQinQ = unhex("ffffffffffff 020000000001 88a8 0064 8100 0007 8863" +
		"1109 0000 0004 0101 0000" +
		strings.Repeat("00", 28))
	padiPayload = unhex("1109 0000 0004 0101 0000")
)

func padded(p []byte, n int) []byte {
	return append(bytes.Clone(p), make([]byte, n)...)
}

func TestParseFrame(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		aux     tag
		want    Frame
		wantErr error
	}{
		{name: "untagged", in: goldenPADI,
			want: Frame{Dst: dstMAC, Src: srcMAC, EtherType: 0x8863, Payload: padded(padiPayload, 36)}},
		{name: "802.1Q in data", in: goldenPADIVLAN,
			want: Frame{Dst: dstMAC, Src: srcMAC, VLAN: 7, EtherType: 0x8863, Payload: padded(padiPayload, 32)}},
		{name: "QinQ in data", in: goldenPADIQinQ,
			want: Frame{Dst: dstMAC, Src: srcMAC, OuterVLAN: 100, VLAN: 7, EtherType: 0x8863, Payload: padded(padiPayload, 28)}},
		{name: "802.1Q stripped", in: goldenPADI, aux: tag{present: true, tci: 0x2007}, // priority 1 ignored
			want: Frame{Dst: dstMAC, Src: srcMAC, VLAN: 7, EtherType: 0x8863, Payload: padded(padiPayload, 36)}},
		{name: "QinQ outer stripped", in: goldenPADIVLAN, aux: tag{present: true, tci: 100},
			want: Frame{Dst: dstMAC, Src: srcMAC, OuterVLAN: 100, VLAN: 7, EtherType: 0x8863, Payload: padded(padiPayload, 32)}},
		{name: "double 0x8100", in: unhex("ffffffffffff 020000000001 8100 0005 8100 0006 8864 ab"),
			want: Frame{Dst: dstMAC, Src: srcMAC, OuterVLAN: 5, VLAN: 6, EtherType: 0x8864, Payload: []byte{0xab}}},
		{name: "priority tag", in: unhex("ffffffffffff 020000000001 8100 e000 0800"),
			want: Frame{Dst: dstMAC, Src: srcMAC, EtherType: 0x0800, Payload: []byte{}}},
		{name: "reserved VID", in: unhex("ffffffffffff 020000000001 8100 0fff 8863"), wantErr: ErrInvalidVLAN},
		{name: "reserved VID stripped", in: goldenPADI, aux: tag{present: true, tci: 0xffff}, wantErr: ErrInvalidVLAN},
		{name: "three tags", in: unhex("ffffffffffff 020000000001 88a8 0001 8100 0002 8100 0003 0800"),
			wantErr: ErrTooManyTags},
		{name: "stripped plus two", in: goldenPADIQinQ, aux: tag{present: true, tci: 1}, wantErr: ErrTooManyTags},
		{name: "short header", in: goldenPADI[:13], wantErr: io.ErrUnexpectedEOF},
		{name: "tag without ethertype", in: unhex("ffffffffffff 020000000001 8100 0007"), wantErr: io.ErrUnexpectedEOF},
		{name: "half a tag", in: unhex("ffffffffffff 020000000001 8100 00"), wantErr: io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseFrame(tt.in, tt.aux)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestAppendFrame(t *testing.T) {
	long := bytes.Repeat([]byte{0x5a}, 100)
	tests := []struct {
		name    string
		f       Frame
		want    []byte
		wantErr error
	}{
		{name: "untagged padded", f: Frame{Dst: dstMAC, Src: srcMAC, EtherType: 0x8863, Payload: padiPayload}, want: goldenPADI},
		{name: "802.1Q padded", f: Frame{Dst: dstMAC, Src: srcMAC, VLAN: 7, EtherType: 0x8863, Payload: padiPayload}, want: goldenPADIVLAN},
		{name: "QinQ padded", f: Frame{Dst: dstMAC, Src: srcMAC, OuterVLAN: 100, VLAN: 7, EtherType: 0x8863, Payload: padiPayload},
			want: goldenPADIQinQ},
		{name: "long not padded", f: Frame{Dst: dstMAC, Src: srcMAC, VLAN: 4094, EtherType: 0x8864, Payload: long},
			want: append(unhex("ffffffffffff 020000000001 8100 0ffe 8864"), long...)},
		{name: "VLAN 4095", f: Frame{VLAN: 4095}, wantErr: ErrInvalidVLAN},
		{name: "outer VLAN 4095", f: Frame{OuterVLAN: 4095, VLAN: 1}, wantErr: ErrInvalidVLAN},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AppendFrame(nil, tt.f)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if diff := cmp.Diff(hex.EncodeToString(tt.want), hex.EncodeToString(got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	t.Run("appends after existing bytes", func(t *testing.T) {
		got, err := AppendFrame([]byte{1, 2}, Frame{Dst: dstMAC, Src: srcMAC, EtherType: 0x8863, Payload: padiPayload})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(append([]byte{1, 2}, goldenPADI...), got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("no allocation with room", func(t *testing.T) {
		scratch := make([]byte, 0, 256)
		f := Frame{Dst: dstMAC, Src: srcMAC, OuterVLAN: 3, VLAN: 4, EtherType: 0x8864, Payload: long}
		if n := testing.AllocsPerRun(100, func() { AppendFrame(scratch, f) }); n != 0 {
			t.Errorf("AppendFrame allocates %v times", n)
		}
	})
}

// runFilter interprets the classic BPF instructions filterProgram emits (loads of
// half-words and of the packet-type ancillary word, jeq, ret) on data as the kernel hands
// it to packet sockets.
func runFilter(t *testing.T, prog []sockFilter, data []byte, pkttype uint32) uint32 {
	t.Helper()
	var a uint32
	for pc := 0; pc < len(prog); pc++ {
		ins := prog[pc]
		switch ins.Code {
		case bpfLdWAbs:
			if ins.K != skfAdPkttyp {
				t.Fatalf("pc %d: unexpected word load %#x", pc, ins.K)
			}
			a = pkttype
		case bpfLdHAbs:
			if int(ins.K)+2 > len(data) {
				return 0 // out of bounds: the kernel drops the packet
			}
			a = uint32(binary.BigEndian.Uint16(data[ins.K:]))
		case bpfJeqK:
			if a == ins.K {
				pc += int(ins.Jt)
			} else {
				pc += int(ins.Jf)
			}
		case bpfRetK:
			return ins.K
		default:
			t.Fatalf("pc %d: unexpected opcode %#x", pc, ins.Code)
		}
	}
	t.Fatal("program ran off its end")
	return 0
}

func TestFilterProgram(t *testing.T) {
	const host, outgoing = 0, 4
	pppoe := []uint16{0x8863, 0x8864}
	tests := []struct {
		name    string
		types   []uint16
		data    []byte
		pkttype uint32
		want    bool
	}{
		{name: "untagged discovery", types: pppoe, data: goldenPADI, want: true},
		{name: "802.1Q in data", types: pppoe, data: goldenPADIVLAN, want: true},
		{name: "QinQ in data", types: pppoe, data: goldenPADIQinQ, want: true},
		{name: "session frame", types: pppoe, data: unhex("ffffffffffff 020000000001 8864 1100 0001 0002 c021"), want: true},
		{name: "IPv4", types: pppoe, data: unhex("ffffffffffff 020000000001 0800 4500"), want: false},
		{name: "IPv4 on VLAN", types: pppoe, data: unhex("ffffffffffff 020000000001 8100 0007 0800 4500"), want: false},
		{name: "IPv4 on QinQ", types: pppoe, data: unhex("ffffffffffff 020000000001 88a8 0001 8100 0007 0800"), want: false},
		{name: "three tags in data", types: pppoe,
			data: unhex("ffffffffffff 020000000001 8100 0001 8100 0002 8100 0003 8863"), want: false},
		{name: "outgoing", types: pppoe, data: goldenPADI, pkttype: outgoing, want: false},
		{name: "truncated", types: pppoe, data: goldenPADI[:13], want: false},
		{name: "any type", data: unhex("ffffffffffff 020000000001 0800 4500"), want: true},
		{name: "any type but not outgoing", data: goldenPADI, pkttype: outgoing, want: false},
		{name: "one type", types: []uint16{0x88cc}, data: unhex("0180c200000e 020000000001 88cc 0000"), want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prog, err := filterProgram(tt.types)
			if err != nil {
				t.Fatal(err)
			}
			pkttype := uint32(host)
			if tt.pkttype != 0 {
				pkttype = tt.pkttype
			}
			if got := runFilter(t, prog, tt.data, pkttype) != 0; got != tt.want {
				t.Errorf("accepted = %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("many types", func(t *testing.T) {
		var types []uint16
		for i := range maxEtherTypes {
			types = append(types, 0x9000+uint16(i))
		}
		prog, err := filterProgram(types)
		if err != nil {
			t.Fatal(err)
		}
		frame := unhex("ffffffffffff 020000000001 88a8 0001 8100 0007 900f")
		if runFilter(t, prog, frame, host) == 0 {
			t.Error("last type after two tags not accepted")
		}
	})
	for _, bad := range [][]uint16{{0x8100}, {0x88a8}, {0x05dc}, make([]uint16, maxEtherTypes+1)} {
		if _, err := filterProgram(bad); err == nil {
			t.Errorf("filterProgram(%#x) accepted", bad)
		}
	}
}

func FuzzParseFrame(f *testing.F) {
	for _, b := range [][]byte{goldenPADI, goldenPADIVLAN, goldenPADIQinQ} {
		f.Add(b, false, uint16(0))
		f.Add(b, true, uint16(42))
	}
	f.Fuzz(func(t *testing.T, b []byte, stripped bool, tci uint16) {
		f1, err := parseFrame(b, tag{present: stripped, tci: tci})
		if err != nil {
			return
		}
		wire, err := AppendFrame(nil, f1)
		if err != nil {
			t.Fatalf("AppendFrame(%+v): %v", f1, err)
		}
		f2, err := ParseFrame(wire)
		if err != nil {
			t.Fatalf("ParseFrame of %x: %v", wire, err)
		}
		// AppendFrame pads short frames with zeros.
		if len(f2.Payload) < len(f1.Payload) || !bytes.Equal(f2.Payload[:len(f1.Payload)], f1.Payload) ||
			bytes.Count(f2.Payload[len(f1.Payload):], []byte{0}) != len(f2.Payload)-len(f1.Payload) {
			t.Fatalf("payload %x became %x", f1.Payload, f2.Payload)
		}
		f2.Payload = f1.Payload
		if diff := cmp.Diff(f1, f2); diff != "" {
			t.Errorf("round trip (-first +second):\n%s", diff)
		}
	})
}
