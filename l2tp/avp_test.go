package l2tp

import (
	"errors"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAVPGetters(t *testing.T) {
	a16 := AVP{Type: AVPAssignedTunnelID, Value: h("1234")}
	a32 := AVP{Type: AVPRouterID, Value: h("0a000001")}
	a64 := AVP{Type: AVPTieBreaker, Value: h("0102030405060708")}
	tests := []struct {
		name string
		get  func() (any, error)
		want any
	}{
		{"Uint16", func() (any, error) { return a16.Uint16() }, uint16(0x1234)},
		{"Uint32", func() (any, error) { return a32.Uint32() }, uint32(0x0a000001)},
		{"Uint64", func() (any, error) { return a64.Uint64() }, uint64(0x0102030405060708)},
		{"MessageType", func() (any, error) { return AVP{Value: h("000a")}.MessageType() }, MsgICRQ},
		{"ProtocolVersion", func() (any, error) {
			v, r, err := NewProtocolVersion(1, 0).ProtocolVersion()
			return [2]uint8{v, r}, err
		}, [2]uint8{1, 0}},
		{"ProxyAuthenID", func() (any, error) { return NewProxyAuthenID(7).ProxyAuthenID() }, uint8(7)},
		{"Cookie 8", func() (any, error) { return AVP{Value: h("0102030405060708")}.Cookie() }, h("0102030405060708")},
		{"Cookie 0", func() (any, error) { return AVP{Value: []byte{}}.Cookie() }, []byte{}},
		{"PseudowireCapabilities", func() (any, error) {
			return NewPseudowireCapabilities(PWPPP, PWEthernet).PseudowireCapabilities()
		}, []PseudowireType{PWPPP, PWEthernet}},
		{"ExtendedVendor", func() (any, error) {
			v, typ, val, err := NewExtendedVendor(70000, 3, h("abcd")).ExtendedVendor()
			return []any{v, typ, val}, err
		}, []any{uint32(70000), uint16(3), h("abcd")}},
		{"ResultCode short", func() (any, error) { return AVP{Value: h("0001")}.ResultCode() }, ResultError{Result: 1}},
		{"ResultCode full", func() (any, error) { return AVP{Value: h("0002 0006 6869")}.ResultCode() },
			ResultError{Result: 2, ErrorCode: 6, Message: "hi"}},
		{"Q931Cause", func() (any, error) { return AVP{Value: h("0011 05")}.Q931Cause() }, Q931Cause{Cause: 17, Msg: 5}},
		{"CallErrors RFC 3931 layout", func() (any, error) {
			return AVP{Value: h("0000 00000001 00000002 00000003 00000004")}.CallErrors()
		}, CallErrors{HardwareOverruns: 1, BufferOverruns: 2, TimeoutErrors: 3, AlignmentErrors: 4}},
		{"ACCM", func() (any, error) { return ACCM{Send: 1, Receive: 2}.AVP().ACCM() }, ACCM{Send: 1, Receive: 2}},
		{"PPPDisconnectCause", func() (any, error) {
			return PPPDisconnectCause{Code: 1, Protocol: 0xc021, Direction: 1, Message: "m"}.AVP().PPPDisconnectCause()
		}, PPPDisconnectCause{Code: 1, Protocol: 0xc021, Direction: 1, Message: "m"}},
		{"MessageDigest", func() (any, error) {
			typ, d, err := NewMessageDigest(DigestHMACSHA1).MessageDigest()
			return []any{typ, len(d)}, err
		}, []any{DigestHMACSHA1, 20}},
		{"ChallengeResponse", func() (any, error) {
			return AVP{Value: h("000102030405060708090a0b0c0d0e0f")}.ChallengeResponse()
		}, [16]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.get()
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAVPGetterLengthErrors(t *testing.T) {
	tests := []struct {
		name string
		err  func() error
	}{
		{"Uint16 of 3 octets", func() error { _, err := AVP{Value: h("000102")}.Uint16(); return err }},
		{"Uint16 of 0 octets", func() error { _, err := AVP{}.Uint16(); return err }},
		{"Uint32 of 2 octets", func() error { _, err := AVP{Value: h("0001")}.Uint32(); return err }},
		{"Uint64 of 4 octets", func() error { _, err := AVP{Value: h("00010203")}.Uint64(); return err }},
		{"Empty with a value", func() error { return AVP{Value: h("00")}.Empty() }},
		{"ProtocolVersion of 1 octet", func() error { _, _, err := AVP{Value: h("01")}.ProtocolVersion(); return err }},
		{"ChallengeResponse of 15 octets", func() error {
			_, err := AVP{Value: make([]byte, 15)}.ChallengeResponse()
			return err
		}},
		{"ProxyAuthenID of 1 octet", func() error { _, err := AVP{Value: h("05")}.ProxyAuthenID(); return err }},
		{"Cookie of 6 octets", func() error { _, err := AVP{Value: make([]byte, 6)}.Cookie(); return err }},
		{"PseudowireCapabilities odd", func() error { _, err := AVP{Value: h("000500")}.PseudowireCapabilities(); return err }},
		{"PseudowireCapabilities empty", func() error { _, err := AVP{}.PseudowireCapabilities(); return err }},
		{"ExtendedVendor short", func() error { _, _, _, err := AVP{Value: h("0000")}.ExtendedVendor(); return err }},
		{"ResultCode of 1 octet", func() error { _, err := AVP{Value: h("00")}.ResultCode(); return err }},
		{"ResultCode of 3 octets", func() error { _, err := AVP{Value: h("000200")}.ResultCode(); return err }},
		{"Q931Cause of 2 octets", func() error { _, err := AVP{Value: h("0010")}.Q931Cause(); return err }},
		{"CallErrors of 10 octets", func() error { _, err := AVP{Value: make([]byte, 10)}.CallErrors(); return err }},
		{"ACCM of 8 octets", func() error { _, err := AVP{Value: make([]byte, 8)}.ACCM(); return err }},
		{"PPPDisconnectCause of 4 octets", func() error {
			_, err := AVP{Value: make([]byte, 4)}.PPPDisconnectCause()
			return err
		}},
		{"MessageDigest empty", func() error { _, _, err := AVP{}.MessageDigest(); return err }},
		{"MessageDigest MD5 with 20 octets", func() error {
			_, _, err := AVP{Value: make([]byte, 21)}.MessageDigest()
			return err
		}},
		{"MessageDigest unknown type", func() error { _, _, err := AVP{Value: h("07 00")}.MessageDigest(); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.err(); !errors.Is(err, ErrValueLength) {
				t.Errorf("error = %v, want ErrValueLength", err)
			}
		})
	}
}

func TestResultCodeEncoding(t *testing.T) {
	tests := []struct {
		name string
		in   ResultError
		want []byte
	}{
		{"result only", ResultError{Result: 1}, h("0001")},
		{"with error code", ResultError{Result: 2, ErrorCode: 4}, h("0002 0004")},
		{"with message", ResultError{Result: 2, ErrorCode: 6, Message: "hi"}, h("0002 0006 6869")},
		{"message without error code keeps the zero error code", ResultError{Result: 3, Message: "x"}, h("0003 0000 78")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.in.AVP()
			if diff := cmp.Diff(AVP{Type: AVPResultCode, Mandatory: true, Value: tc.want}, a); diff != "" {
				t.Errorf("AVP mismatch (-want +got):\n%s", diff)
			}
			back, err := a.ResultCode()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.in, back); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAVPDecoder(t *testing.T) {
	b := unhex(t, `
		8008 0000 0009 1234              # Assigned Tunnel ID
		000a 0000 0019 00000007          # Physical Channel ID
		000e 0000 0005 0102030405060708  # Tie Breaker
		8009 0000 0007 6c6e73            # Host Name
		8806 0009 0064                   # M, reserved bit, vendor 9 type 100, empty`)
	d := NewAVPDecoder(b)
	type rec struct {
		Vendor         uint16
		Type           AVPType
		M, H           bool
		Reserved       uint8
		Value          any
		ValueFromBytes []byte
	}
	var got []rec
	for d.Next() {
		r := rec{Vendor: d.Vendor(), Type: d.Type(), M: d.Mandatory(), H: d.Hidden(), Reserved: d.Reserved(),
			ValueFromBytes: d.Bytes()}
		switch {
		case d.Vendor() != 0:
		case d.Type() == AVPAssignedTunnelID:
			r.Value = d.Uint16()
		case d.Type() == AVPPhysicalChannelID:
			r.Value = d.Uint32()
		case d.Type() == AVPTieBreaker:
			r.Value = d.Uint64()
		case d.Type() == AVPHostName:
			r.Value = d.String()
		}
		got = append(got, r)
	}
	if err := d.Err(); err != nil {
		t.Fatal(err)
	}
	want := []rec{
		{Type: AVPAssignedTunnelID, M: true, Value: uint16(0x1234), ValueFromBytes: h("1234")},
		{Type: AVPPhysicalChannelID, Value: uint32(7), ValueFromBytes: h("00000007")},
		{Type: AVPTieBreaker, Value: uint64(0x0102030405060708), ValueFromBytes: h("0102030405060708")},
		{Type: AVPHostName, M: true, Value: "lns", ValueFromBytes: []byte("lns")},
		{Vendor: 9, Type: 100, M: true, Reserved: 2, ValueFromBytes: []byte{}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decoded AVPs (-want +got):\n%s", diff)
	}
}

func TestAVPDecoderErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		key  []byte
		want error
	}{
		// RFC 2661 §4.1: the minimum Length of an AVP is 6.
		{"length below 6", "8005 0000 0009", nil, ErrAVPLength},
		{"length zero", "0000 0000 0009", nil, ErrAVPLength},
		{"overruns the message", "800a 0000 0009 1234", nil, io.ErrUnexpectedEOF},
		{"trailing octets after last AVP", "8008 0000 0009 1234 80", nil, io.ErrUnexpectedEOF},
		// RFC 2661 §4.3: a Random Vector AVP must precede the first hidden AVP.
		{"hidden without random vector", "c00a 0000 0009 be6a0ff3", []byte("secret"), ErrNoRandomVector},
		{"hidden without secret", "8016 0000 0024 000102030405060708090a0b0c0d0e0f c00a 0000 0009 be6a0ff3", nil, ErrNoSecret},
		{"hidden random vector", "c008 0000 0024 0102", []byte("secret"), ErrHidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := NewAVPDecoder(h(tc.in))
			d.Key = tc.key
			for d.Next() {
			}
			if !errors.Is(d.Err(), tc.want) {
				t.Errorf("Err() = %v, want %v", d.Err(), tc.want)
			}
			if d.Next() {
				t.Errorf("Next() after an error = true")
			}
		})
	}
}

func TestAVPDecoderStickyGetterError(t *testing.T) {
	d := NewAVPDecoder(h("8009 0000 0009 123456 8008 0000 000a 0004"))
	if !d.Next() {
		t.Fatal(d.Err())
	}
	_ = d.Uint16() // 3-octet value
	if !errors.Is(d.Err(), ErrValueLength) {
		t.Fatalf("Err() = %v, want ErrValueLength", d.Err())
	}
	if d.Next() {
		t.Errorf("Next() after a getter error = true")
	}
}

func TestAVPEncoder(t *testing.T) {
	e := NewAVPEncoder([]byte{0xff})
	e.Uint16(AVPAssignedTunnelID, 0x1234)
	e.Uint32(AVPPhysicalChannelID, 7)
	e.Uint64(AVPTieBreaker, 0x0102030405060708)
	e.String(AVPHostName, "lns")
	e.Raw(AVPChallenge, h("cafe"))
	e.AVP(AVP{Vendor: 9, Type: 100, Mandatory: true})
	got, err := e.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	want := unhex(t, `
		ff                               # existing content kept
		8008 0000 0009 1234              # Assigned Tunnel ID, M by default
		000a 0000 0019 00000007          # Physical Channel ID, M=0 by default
		000e 0000 0005 0102030405060708  # Tie Breaker, M=0 by default (RFC 2661)
		8009 0000 0007 6c6e73            # Host Name
		8008 0000 000b cafe              # Challenge
		8006 0009 0064                   # vendor 9 type 100`)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("encoded (-want +got):\n%s", diff)
	}
}

func TestAVPEncoderTooLong(t *testing.T) {
	e := NewAVPEncoder(nil)
	e.Raw(AVPVendorName, make([]byte, MaxAVPValueLen))
	if _, err := e.Bytes(); err != nil {
		t.Fatalf("max length value: %v", err)
	}
	e.Raw(AVPVendorName, make([]byte, MaxAVPValueLen+1))
	e.Uint16(AVPAssignedTunnelID, 1) // ignored after the sticky error
	if _, err := e.Bytes(); !errors.Is(err, ErrAVPTooLong) {
		t.Errorf("error = %v, want ErrAVPTooLong", err)
	}
}

func TestAVPTypeCatalogue(t *testing.T) {
	// Every attribute type the RFCs define must be known: RFC 2661 0-39 (20 is unused),
	// RFC 3145 46, RFC 3931 58-75 (67 is unassigned).
	var want []AVPType
	for i := AVPType(0); i <= 75; i++ {
		switch {
		case i == 20 || i == 67:
		case i <= 39, i == 46, i >= 58:
			want = append(want, i)
		}
	}
	for _, typ := range want {
		if !typ.Known() {
			t.Errorf("%d is not known", uint16(typ))
		}
		if typ.String() == "" {
			t.Errorf("%d has no name", uint16(typ))
		}
	}
	if len(avpCatalogue) != len(want) {
		t.Errorf("catalogue has %d entries, want %d", len(avpCatalogue), len(want))
	}
	for _, typ := range []AVPType{AVPMessageType, AVPRandomVector, AVPMessageDigest, AVPHostName, AVPTieBreaker,
		AVPResultCode, AVPControlMessageAuthNonce, AVPRouterID} {
		if typ.Hideable() {
			t.Errorf("%v is hideable, but its RFC says MUST NOT be hidden", typ)
		}
	}
	if AVPType(20).String() != "AVP(20)" {
		t.Errorf("String of unknown type = %q", AVPType(20).String())
	}
}
