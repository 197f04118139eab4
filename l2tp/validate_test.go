package l2tp

import (
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestValidateMissingRequired drops, one at a time, each AVP that RFC 2661 §6 or
// RFC 3931 §6 requires from every golden message, and expects a *MissingAVPError naming it.
func TestValidateMissingRequired(t *testing.T) {
	for _, set := range []struct {
		name  string
		cases []goldenCase
	}{{"v2", goldenV2}, {"v3", goldenV3}} {
		for _, tc := range set.cases {
			spec, ok := LookupSpec(tc.msg.Version, tc.msg.Type)
			if !ok {
				continue // ZLB
			}
			for _, req := range spec.Required {
				t.Run(set.name+"/"+tc.name+"/without "+req.String(), func(t *testing.T) {
					m := tc.msg
					m.AVPs = slices.DeleteFunc(slices.Clone(tc.msg.AVPs), func(a AVP) bool { return a.Is(req) })
					if len(m.AVPs) == len(tc.msg.AVPs) {
						t.Fatalf("golden message lacks required %v", req)
					}
					var missing *MissingAVPError
					if err := m.Validate(); !errors.As(err, &missing) {
						t.Fatalf("Validate error = %v, want *MissingAVPError", err)
					}
					want := &MissingAVPError{Message: tc.msg.Type, Type: req}
					if diff := cmp.Diff(want, missing); diff != "" {
						t.Errorf("error (-want +got):\n%s", diff)
					}
				})
			}
		}
	}
}

func icrpV2(extra ...AVP) Message {
	return Message{Header: v2hdr(1, 2, 0, 0), Type: MsgICRP,
		AVPs: append([]AVP{NewUint16(AVPAssignedSessionID, 4)}, extra...)}
}

func TestValidate(t *testing.T) {
	vendorM := AVP{Vendor: 9, Type: 1, Mandatory: true, Value: h("00")}
	tests := []struct {
		name string
		msg  Message
		want error // nil, or a value of the expected error type and content
	}{
		{"ZLB", Message{Header: v2hdr(1, 0, 0, 0)}, nil},
		{"unknown vendor AVP without M bit is ignored", icrpV2(AVP{Vendor: 9, Type: 1}), nil},
		{"unknown IETF AVP without M bit is ignored", icrpV2(AVP{Type: 200, Value: h("01")}), nil},
		{"known AVP not listed for the message is tolerated", icrpV2(NewString(AVPVendorName, "x")), nil},
		{"Random Vector may repeat", icrpV2(NewBytes(AVPRandomVector, h("01")), NewBytes(AVPRandomVector, h("02"))), nil},
		{"malformed AVP without M bit counts as absent",
			Message{Header: v2hdr(1, 2, 0, 0), Type: MsgICRP, AVPs: []AVP{withM(NewBytes(AVPAssignedSessionID, h("000400")), false)}},
			&MissingAVPError{Message: MsgICRP, Type: AVPAssignedSessionID}},
		{"unknown vendor AVP with M bit", icrpV2(vendorM), &UnknownAVPError{Message: MsgICRP, AVP: vendorM}},
		{"unknown IETF AVP with M bit",
			icrpV2(AVP{Type: 200, Mandatory: true}), &UnknownAVPError{Message: MsgICRP, AVP: AVP{Type: 200, Mandatory: true}}},
		{"unknown M-bit AVP outranks a missing AVP",
			Message{Header: v2hdr(1, 2, 0, 0), Type: MsgICRP, AVPs: []AVP{vendorM}}, &UnknownAVPError{Message: MsgICRP, AVP: vendorM}},
		{"duplicate", icrpV2(NewUint16(AVPAssignedSessionID, 5)), &DuplicateAVPError{Message: MsgICRP, Type: AVPAssignedSessionID}},
		{"second Message Type", icrpV2(NewUint16(AVPMessageType, 11)), &DuplicateAVPError{Message: MsgICRP, Type: AVPMessageType}},
		{"unknown message type, M bit set", Message{Header: v2hdr(1, 0, 0, 0), Type: 99},
			&UnknownMessageError{Type: 99, Mandatory: true}},
		{"unknown message type, M bit clear", Message{Header: v2hdr(1, 0, 0, 0), Type: 99, TypeOptional: true},
			&UnknownMessageError{Type: 99}},
		{"ACK is not an L2TPv2 message", Message{Header: v2hdr(1, 0, 0, 0), Type: MsgACK},
			&UnknownMessageError{Type: MsgACK, Mandatory: true}},
		{"vendor-specific message", Message{Header: v2hdr(1, 0, 0, 0), Type: MsgHELLO, Vendor: 9},
			&UnknownMessageError{Type: MsgHELLO, Vendor: 9, Mandatory: true}},
		{"two Message Digests are allowed (RFC 3931 §5.4.1)",
			Message{Header: v3hdr(1, 0, 0), Type: MsgHELLO, AVPs: []AVP{NewMessageDigest(DigestHMACMD5), NewMessageDigest(DigestHMACSHA1)}}, nil},
		{"three Message Digests are not",
			Message{Header: v3hdr(1, 0, 0), Type: MsgHELLO, AVPs: []AVP{NewMessageDigest(0), NewMessageDigest(0), NewMessageDigest(0)}},
			&DuplicateAVPError{Message: MsgHELLO, Type: AVPMessageDigest}},
		{"malformed M-bit Message Digest",
			Message{Header: v3hdr(1, 0, 0), Type: MsgHELLO, AVPs: []AVP{NewBytes(AVPMessageDigest, h("00 01"))}},
			&MalformedAVPError{Message: MsgHELLO, AVP: NewBytes(AVPMessageDigest, h("00 01"))}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.msg.Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if diff := cmp.Diff(tc.want, err); diff != "" {
				t.Errorf("Validate error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUnknownAVPErrorResult(t *testing.T) {
	e := &UnknownAVPError{Message: MsgICRQ, AVP: AVP{Vendor: 9, Type: 100, Mandatory: true}}
	want := ResultError{Result: 2, ErrorCode: 8, Message: "unknown mandatory AVP vendor 9 type 100"}
	if diff := cmp.Diff(want, e.Result()); diff != "" {
		t.Errorf("Result (-want +got):\n%s", diff)
	}
	if !e.Message.IsSession() {
		t.Errorf("ICRQ is not a session message")
	}
	if MsgHELLO.IsSession() || MsgSCCRQ.IsSession() {
		t.Errorf("tunnel messages reported as session messages")
	}
}

// TestParseSkipsReservedBitAVP checks RFC 2661 §4.1: an AVP with a reserved bit set is
// unrecognised, so without the M bit it is ignored.
func TestParseSkipsReservedBitAVP(t *testing.T) {
	wire := unhex(t, `
		c802 001a 5678 0000 0001 0001    # Length 26
		8008 0000 0000 0003              # Message Type SCCCN
		2006 0000 0027                   # M=0, reserved bit 0x2000, Sequencing Required`)
	m, err := Parse(wire, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.AVPs) != 0 {
		t.Errorf("AVPs = %v, want none", m.AVPs)
	}
	// RFC 3931 §5.1: reserved bits are ignored on receipt in L2TPv3.
	wire3 := unhex(t, `
		c803 001a 55667788 0001 0001     # Length 26
		8008 0000 0000 0003              # Message Type SCCCN
		a006 0000 0027                   # M=1, reserved bit 0x2000, Sequencing Required`)
	m, err = Parse(wire3, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]AVP{NewEmpty(AVPSequencingRequired)}, m.AVPs, cmpMsg); diff != "" {
		t.Errorf("AVPs (-want +got):\n%s", diff)
	}
}
