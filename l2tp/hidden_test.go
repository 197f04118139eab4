package l2tp

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The expected ciphertexts below were computed independently of this package from the
// RFC 2661 §4.3 formula (b1 = MD5(type + key + RV), bi = MD5(key + c(i-1))) with Python's
// hashlib, secret "secret" and RV 00 01 .. 0f.
var rv16 = h("000102030405060708090a0b0c0d0e0f")

func TestHideValueVectors(t *testing.T) {
	v3key := h("6f9f790a8110719177da100287dae7b8") // HMAC-MD5("secret", 0x01), RFC 3931 §5.3
	tests := []struct {
		name  string
		typ   AVPType
		key   []byte
		value []byte
		pad   []byte
		want  []byte
	}{
		{
			name: "v2 Assigned Tunnel ID, one partial block",
			typ:  AVPAssignedTunnelID, key: []byte("secret"), value: h("1234"),
			want: h("be6a0ff3"),
		},
		{
			name: "v2 Proxy Authen Name, three blocks",
			typ:  AVPProxyAuthenName, key: []byte("secret"), value: []byte("a-rather-long-user-name@example.net"),
			want: h("b004c63777d09b887c24ea9d1a28cad46d18b4a985870b6e029a45e909e85bc92bd8fbfab1"),
		},
		{
			name: "v2 Proxy Authen Name with 5 octets of padding",
			typ:  AVPProxyAuthenName, key: []byte("secret"), value: []byte("a-rather-long-user-name@example.net"),
			pad:  h("aaaaaaaaaa"),
			want: h("b004c63777d09b887c24ea9d1a28cad46d18b4a985870b6e029a45e909e85bc92bd8fbfab1c958020825"),
		},
		{
			name: "v3 Local Session ID with derived key",
			typ:  AVPLocalSessionID, key: v3key, value: h("aabbccdd"),
			want: h("5428e4b3a419"),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := HideValue(tc.typ, tc.key, rv16, tc.value, tc.pad)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("HideValue mismatch (-want +got):\n%s", diff)
			}
			back, err := RevealValue(tc.typ, tc.key, rv16, got)
			if err != nil {
				t.Fatalf("RevealValue: %v", err)
			}
			if diff := cmp.Diff(tc.value, back); diff != "" {
				t.Errorf("RevealValue mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHidingKey(t *testing.T) {
	if diff := cmp.Diff([]byte("secret"), HidingKey(Version2, []byte("secret"))); diff != "" {
		t.Errorf("v2 key (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(h("6f9f790a8110719177da100287dae7b8"), HidingKey(Version3, []byte("secret"))); diff != "" {
		t.Errorf("v3 key (-want +got):\n%s", diff)
	}
	if HidingKey(Version2, nil) != nil {
		t.Errorf("HidingKey(nil secret) != nil")
	}
}

func TestRevealValueErrors(t *testing.T) {
	tests := []struct {
		name   string
		hidden []byte
	}{
		{"shorter than the length field", h("be")},
		// 0000 decrypts to the first keystream octets, an original length of 0xbe68 with
		// only 2 octets after it.
		{"original length exceeds value", h("0000ffff")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := RevealValue(AVPAssignedTunnelID, []byte("secret"), rv16, tc.hidden); !errors.Is(err, ErrHidden) {
				t.Errorf("RevealValue error = %v, want ErrHidden", err)
			}
		})
	}
}

// hiddenSCCRQ is an SCCRQ whose Assigned Tunnel ID is hidden (RFC 2661 §4.3): the Random
// Vector AVP precedes the hidden AVP.
const hiddenSCCRQ = `
	c802 004f 0000 0000 0000 0000     # Length 79
	8008 0000 0000 0001               # Message Type SCCRQ
	8008 0000 0002 0100               # Protocol Version 1.0
	8009 0000 0007 6c6163             # Host Name "lac"
	800a 0000 0003 00000003           # Framing Capabilities
	8016 0000 0024 000102030405060708090a0b0c0d0e0f  # Random Vector
	c00a 0000 0009 be6a0ff3           # M,H, Length 10: Assigned Tunnel ID 0x1234 hidden`

func TestHiddenMessage(t *testing.T) {
	secret := []byte("secret")
	wire := unhex(t, hiddenSCCRQ)
	want := Message{Header: v2hdr(0, 0, 0, 0), Type: MsgSCCRQ, AVPs: []AVP{
		NewProtocolVersion(1, 0),
		NewString(AVPHostName, "lac"),
		NewUint32(AVPFramingCapabilities, FramingSync|FramingAsync),
		{Type: AVPAssignedTunnelID, Mandatory: true, Hidden: true, Value: h("1234")},
	}}

	t.Run("marshal with Hide list", func(t *testing.T) {
		m := want
		m.AVPs = append([]AVP{}, want.AVPs...)
		m.AVPs[3].Hidden = false
		b, err := m.Marshal(&MarshalOptions{Secret: secret, Rand: &countingReader{},
			Hide: []AVPType{AVPAssignedTunnelID, AVPHostName}}) // Host Name may not be hidden: stays clear
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		if diff := cmp.Diff(wire, b); diff != "" {
			t.Errorf("Marshal mismatch (-want +got):\n%s", diff)
		}
	})
	t.Run("marshal with Hidden set", func(t *testing.T) {
		b, err := want.Marshal(&MarshalOptions{Secret: secret, Rand: &countingReader{}})
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		if diff := cmp.Diff(wire, b); diff != "" {
			t.Errorf("Marshal mismatch (-want +got):\n%s", diff)
		}
	})
	t.Run("parse reveals", func(t *testing.T) {
		got, err := Parse(wire, &ParseOptions{Secret: secret})
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		if diff := cmp.Diff(want, got, cmpMsg); diff != "" {
			t.Errorf("Parse mismatch (-want +got):\n%s", diff)
		}
	})
	t.Run("default random source", func(t *testing.T) {
		b, err := want.Marshal(&MarshalOptions{Secret: secret})
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		got, err := Parse(b, &ParseOptions{Secret: secret})
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		if diff := cmp.Diff(want, got, cmpMsg); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	})
	t.Run("parse without secret", func(t *testing.T) {
		if _, err := Parse(wire, nil); !errors.Is(err, ErrNoSecret) {
			t.Errorf("Parse error = %v, want ErrNoSecret", err)
		}
	})
	t.Run("marshal without secret", func(t *testing.T) {
		if _, err := want.Marshal(nil); !errors.Is(err, ErrNoSecret) {
			t.Errorf("Marshal error = %v, want ErrNoSecret", err)
		}
	})
	t.Run("parse with wrong secret", func(t *testing.T) {
		got, err := Parse(wire, &ParseOptions{Secret: []byte("other")})
		if err == nil && cmp.Equal(want, got, cmpMsg) {
			t.Errorf("Parse with the wrong secret revealed the right value")
		}
	})
}

// TestHiddenUsesLatestRandomVector checks RFC 2661 §4.3: a hidden AVP is revealed with the
// Random Vector AVP most closely preceding it.
func TestHiddenUsesLatestRandomVector(t *testing.T) {
	key := []byte("k")
	e := NewAVPEncoder(nil)
	e.Key = key
	e.RandomVector(h("01"))
	e.AVP(AVP{Type: AVPCalledNumber, Hidden: true, Value: []byte("first")})
	e.RandomVector(h("02"))
	e.AVP(AVP{Type: AVPCalledNumber, Hidden: true, Value: []byte("second")})
	b, err := e.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	d := NewAVPDecoder(b)
	d.Key = key
	var got []string
	for d.Next() {
		if d.Type() == AVPCalledNumber {
			if !d.Hidden() {
				t.Errorf("AVP not marked hidden")
			}
			got = append(got, d.String())
		}
	}
	if err := d.Err(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"first", "second"}, got); diff != "" {
		t.Errorf("revealed values (-want +got):\n%s", diff)
	}
}

func TestEncoderHiddenErrors(t *testing.T) {
	tests := []struct {
		name string
		run  func(e *AVPEncoder)
		want error
	}{
		{"no key", func(e *AVPEncoder) {
			e.RandomVector(rv16)
			e.AVP(AVP{Type: AVPCalledNumber, Hidden: true})
		}, ErrNoSecret},
		{"no random vector", func(e *AVPEncoder) {
			e.Key = []byte("k")
			e.AVP(AVP{Type: AVPCalledNumber, Hidden: true})
		}, ErrNoRandomVector},
		{"hidden random vector", func(e *AVPEncoder) {
			e.Key = []byte("k")
			e.AVP(AVP{Type: AVPRandomVector, Hidden: true, Value: rv16})
		}, ErrHidden},
		{"value too long to hide", func(e *AVPEncoder) {
			e.Key = []byte("k")
			e.RandomVector(rv16)
			e.AVP(AVP{Type: AVPCalledNumber, Hidden: true, Value: make([]byte, MaxAVPValueLen)})
		}, ErrAVPTooLong},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := NewAVPEncoder(nil)
			tc.run(e)
			if _, err := e.Bytes(); !errors.Is(err, tc.want) {
				t.Errorf("error = %v, want %v", err, tc.want)
			}
		})
	}
}
