package l2tp

import (
	"errors"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestClassifyUDP(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		control bool
		version Version
		err     error
	}{
		{"v2 control", "c802", true, Version2, nil},
		{"v2 data", "4002", false, Version2, nil},
		{"v2 data, no flags", "0002", false, Version2, nil},
		{"v3 control", "c803", true, Version3, nil},
		{"v3 data", "0003", false, Version3, nil},
		{"L2F", "c801", false, 1, ErrVersion},
		{"one octet", "c8", false, 0, io.ErrUnexpectedEOF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			control, v, err := ClassifyUDP(h(tc.in))
			if !errors.Is(err, tc.err) {
				t.Fatalf("error = %v, want %v", err, tc.err)
			}
			if err == nil && (control != tc.control || v != tc.version) {
				t.Errorf("ClassifyUDP = %v, %v; want %v, %v", control, v, tc.control, tc.version)
			}
		})
	}
}

func TestClassifyIP(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		control bool
		err     error
	}{
		{"control", "00000000 c803", true, nil},
		{"data", "00000001 aabb", false, nil},
		{"truncated", "000000", false, io.ErrUnexpectedEOF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			control, err := ClassifyIP(h(tc.in))
			if !errors.Is(err, tc.err) || control != tc.control {
				t.Errorf("ClassifyIP = %v, %v; want %v, %v", control, err, tc.control, tc.err)
			}
		})
	}
}

func TestParseLenientHeader(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Message
	}{
		{
			// RFC 2661 §3.1 forbids the O bit on control messages; the offset is skipped.
			name: "v2 control with an Offset field",
			in: `
				ca02 0018 5678 0000 0003 0002    # T,L,S,O Ver=2, Length 24
				0002 abcd                        # Offset Size 2, two pad octets
				8008 0000 0000 0006              # Message Type HELLO`,
			want: Message{Header: v2hdr(0x5678, 0, 3, 2), Type: MsgHELLO},
		},
		{
			name: "octets after Length are ignored",
			in: `
				c802 0014 5678 0000 0003 0002    # Length 20
				8008 0000 0000 0006              # Message Type HELLO
				00000000                         # trailing padding`,
			want: Message{Header: v2hdr(0x5678, 0, 3, 2), Type: MsgHELLO},
		},
		{
			name: "v3 reserved header bits are ignored",
			in: `
				f8f3 0014 55667788 0003 0001     # T,L,S plus all reserved x bits, Ver=3
				8008 0000 0000 0006              # Message Type HELLO`,
			want: Message{Header: v3hdr(0x55667788, 3, 1), Type: MsgHELLO},
		},
		{
			name: "Message Type without M bit",
			in: `
				c802 0014 5678 0000 0003 0002
				0008 0000 0000 0063              # M=0, Message Type 99 (unknown)`,
			want: Message{Header: v2hdr(0x5678, 0, 3, 2), Type: 99, TypeOptional: true},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(unhex(t, tc.in), nil)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tc.want, got, cmpMsg); diff != "" {
				t.Errorf("Parse mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseDoesNotAlias(t *testing.T) {
	wire := unhex(t, goldenV2[0].hex)
	m, err := Parse(wire, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range wire {
		wire[i] = 0xff
	}
	if diff := cmp.Diff(goldenV2[0].msg, m, cmpMsg); diff != "" {
		t.Errorf("message changed with its input buffer (-want +got):\n%s", diff)
	}
}

func TestMarshalErrors(t *testing.T) {
	tests := []struct {
		name string
		msg  Message
		opts *MarshalOptions
		want error
	}{
		{"v2 tunnel ID above 16 bits", Message{Header: Header{Version: Version2, TunnelID: 0x10000}, Type: MsgHELLO}, nil, ErrFieldRange},
		{"v3 with a session ID", Message{Header: Header{Version: Version3, SessionID: 1}, Type: MsgHELLO}, nil, ErrFieldRange},
		{"no version", Message{Type: MsgHELLO}, nil, ErrVersion},
		{"type 0 with AVPs", Message{Header: v2hdr(1, 0, 0, 0), AVPs: []AVP{NewUint16(AVPAssignedTunnelID, 1)}}, nil, ErrBadMessageType},
		{"AVP too long", Message{Header: v2hdr(1, 0, 0, 0), Type: MsgHELLO, AVPs: []AVP{NewBytes(AVPVendorName, make([]byte, 1018))}}, nil, ErrAVPTooLong},
		{"message too long", Message{Header: v2hdr(1, 0, 0, 0), Type: MsgHELLO, AVPs: manyAVPs(70)}, nil, ErrMessageTooLong},
		{"random source fails", Message{Header: v2hdr(1, 0, 0, 0), Type: MsgHELLO, AVPs: []AVP{{Type: AVPCalledNumber, Hidden: true}}},
			&MarshalOptions{Secret: []byte("s"), Rand: eofReader{}}, io.EOF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := []byte{1, 2, 3}
			got, err := tc.msg.Append(dst, tc.opts)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Append error = %v, want %v", err, tc.want)
			}
			if diff := cmp.Diff([]byte{1, 2, 3}, got); diff != "" {
				t.Errorf("Append left partial output (-want +got):\n%s", diff)
			}
		})
	}
}

func manyAVPs(n int) []AVP {
	out := make([]AVP, n)
	for i := range out {
		out[i] = NewBytes(AVPVendorName, make([]byte, 1000))
	}
	return out
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

func TestNames(t *testing.T) {
	tests := []struct{ got, want string }{
		{MsgSCCRQ.String(), "SCCRQ"},
		{MsgACK.String(), "ACK"},
		{MessageType(0).String(), "ZLB"},
		{MessageType(99).String(), "MessageType(99)"},
		{Version2.String(), "L2TPv2"},
		{Version(7).String(), "Version(7)"},
		{AVPHostName.String(), "Host Name"},
		{AVPPPPDisconnectCauseCode.String(), "PPP Disconnect Cause Code"},
		{PWPPP.String(), "PPP"},
		{PseudowireType(0x11).String(), "PW(0x0011)"},
		{DigestHMACSHA1.String(), "HMAC-SHA-1"},
		{StopCCNAlreadyExists.String(), "control connection already exists"},
		{StopCCNResult(8).String(), "StopCCN result 8"},
		{CDNLostTieBreaker.String(), "lost tie breaker"},
		{CDNResult(12).String(), "CDN result 12"},
		{ErrorUnknownMandatoryAVP.String(), "unknown mandatory AVP"},
		{ErrorCode(10).String(), "error code 10"},
		{ResultError{Result: 2, ErrorCode: 8, Message: "vendor 9"}.Error(), "l2tp: result code 2, error code 8 (unknown mandatory AVP): vendor 9"},
		{ResultError{Result: 1}.Error(), "l2tp: result code 1"},
		{AVP{Vendor: 9, Type: 3, Mandatory: true, Hidden: true, Value: h("01")}.String(), "vendor 9 type 3[MH] len=1"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	if !MsgACK.Known(Version3) || MsgACK.Known(Version2) || !MsgSLI.Known(Version2) || MessageType(5).Known(Version2) {
		t.Errorf("MessageType.Known is wrong")
	}
}
