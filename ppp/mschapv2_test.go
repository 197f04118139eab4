package ppp

import (
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// RFC 2759 §9.2 sample data (also the input of RFC 3079 §3.5).
const (
	rfcUser         = "User"
	rfcPassword     = "clientPass"
	rfcAuthChal     = "5B5D7C7D7B3F2F3E3C2C602132262628"
	rfcPeerChal     = "21402324255E262A28295F2B3A337C7E"
	rfcChallenge    = "D02E4386BCE91226"
	rfcPasswordHash = "44EBBA8D5312B8D611474411F56989AE"
	rfcNTResponse   = "82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF"
	rfcHashHash     = "41C00C584BD2D91C4017A2A12FA59F3F"
	rfcAuthResponse = "S=407A5589115FD0D6209F510FE9C04566932CDA56"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func hexUpper(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }

func TestMSCHAPv2RFC2759Vectors(t *testing.T) {
	auth := [16]byte(mustHex(t, rfcAuthChal))
	peer := [16]byte(mustHex(t, rfcPeerChal))

	// The password as UTF-16LE is given in §9.2 too.
	hash := MSCHAPNTPasswordHash(rfcPassword)
	uni := MD4Sum(mustHex(t, "63006C00690065006E0074005000610073007300"))
	ch := MSCHAPv2ChallengeHash(peer, auth, rfcUser)
	nt := MSCHAPv2NTResponse(auth, peer, rfcUser, hash)
	hh := MSCHAPHashNTPasswordHash(hash)
	ar := MSCHAPv2AuthenticatorResponse(hash, nt, peer, auth, rfcUser)
	success, err := MSCHAPv2Success{AuthResponse: ar}.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		got  string
		want string
	}{
		{name: "PasswordHash", got: hexUpper(hash[:]), want: rfcPasswordHash},
		{name: "PasswordHash from UTF-16LE octets", got: hexUpper(uni[:]), want: rfcPasswordHash},
		{name: "ChallengeHash", got: hexUpper(ch[:]), want: rfcChallenge},
		{name: "NT-Response", got: hexUpper(nt[:]), want: rfcNTResponse},
		{name: "ChallengeResponse", got: func() string {
			r := MSCHAPChallengeResponse([8]byte(mustHex(t, rfcChallenge)), hash)
			return hexUpper(r[:])
		}(), want: rfcNTResponse},
		{name: "PasswordHashHash", got: hexUpper(hh[:]), want: rfcHashHash},
		{name: "AuthenticatorResponse", got: string(success[:42]), want: rfcAuthResponse},
		{name: "domain is not hashed", got: func() string {
			r := MSCHAPv2NTResponse(auth, peer, `EXAMPLE\User`, hash)
			return hexUpper(r[:])
		}(), want: rfcNTResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.got); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMSCHAPDESKeyExpansion(t *testing.T) {
	// DES of a zero block under an all-zero key is 8CA64DE9C1B123A7 (classic DES test
	// vector); 7 zero octets expand to that key.
	got := mschapDESEncrypt([8]byte{}, [7]byte{})
	if diff := cmp.Diff("8CA64DE9C1B123A7", hexUpper(got[:])); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
	// 7 0xff octets expand to the all-ones key (parity bits aside), which the DES
	// complementation property ties to the zero key: E_~k(~p) = ~E_k(p).
	all := mschapDESEncrypt([8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, [7]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	for i := range all {
		all[i] ^= 0xff
	}
	if all != got {
		t.Errorf("complement property: got %X, want %X", all, got)
	}
}

func TestMSCHAPv2ResponseCodec(t *testing.T) {
	golden := mustHex(t, rfcPeerChal+"0000000000000000"+rfcNTResponse+"00")
	want := MSCHAPv2Response{
		PeerChallenge: [16]byte(mustHex(t, rfcPeerChal)),
		NTResponse:    [24]byte(mustHex(t, rfcNTResponse)),
	}
	var got MSCHAPv2Response
	if err := got.UnmarshalBinary(golden); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("unmarshal mismatch (-want +got):\n%s", diff)
	}
	enc, err := want.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(golden, enc); diff != "" {
		t.Errorf("marshal mismatch (-want +got):\n%s", diff)
	}

	bad := []struct {
		name string
		in   []byte
		want error
	}{
		{name: "empty", in: nil, want: io.ErrUnexpectedEOF},
		{name: "48 octets", in: golden[:48], want: io.ErrUnexpectedEOF},
		{name: "50 octets", in: append(golden[:49:49], 0), want: ErrMSCHAPv2ValueSize},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			var r MSCHAPv2Response
			if err := r.UnmarshalBinary(tt.in); !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestMSCHAPv2SuccessCodec(t *testing.T) {
	ar := [20]byte(mustHex(t, rfcAuthResponse[2:]))
	tests := []struct {
		name    string
		in      string
		want    MSCHAPv2Success
		wantErr error
	}{
		{name: "with message", in: rfcAuthResponse + " M=Welcome", want: MSCHAPv2Success{AuthResponse: ar, Message: "Welcome"}},
		{name: "no S= prefix", in: rfcAuthResponse[2:] + "  ", wantErr: ErrMSCHAPv2BadSuccess},
		{name: "lower-case digits", in: "S=" + strings.ToLower(rfcAuthResponse[2:]) + " M=x", want: MSCHAPv2Success{AuthResponse: ar, Message: "x"}},
		{name: "no message", in: rfcAuthResponse, want: MSCHAPv2Success{AuthResponse: ar}},
		{name: "message without M=", in: rfcAuthResponse + " Welcome", want: MSCHAPv2Success{AuthResponse: ar, Message: "Welcome"}},
		{name: "message with spaces", in: rfcAuthResponse + " M=Access granted here", want: MSCHAPv2Success{AuthResponse: ar, Message: "Access granted here"}},
		{name: "truncated", in: rfcAuthResponse[:41], wantErr: io.ErrUnexpectedEOF},
		{name: "not S=", in: "X" + rfcAuthResponse[1:], wantErr: ErrMSCHAPv2BadSuccess},
		{name: "not hex", in: "S=" + strings.Repeat("G", 40), wantErr: ErrMSCHAPv2BadSuccess},
		{name: "garbage after digits", in: rfcAuthResponse + "M=x", wantErr: ErrMSCHAPv2BadSuccess},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got MSCHAPv2Success
			err := got.UnmarshalBinary([]byte(tt.in))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}

	enc, _ := MSCHAPv2Success{AuthResponse: ar, Message: "Welcome"}.MarshalBinary()
	if diff := cmp.Diff(rfcAuthResponse+" M=Welcome", string(enc)); diff != "" {
		t.Errorf("marshal mismatch (-want +got):\n%s", diff)
	}
}

func TestMSCHAPv2FailureCodec(t *testing.T) {
	chal := [16]byte(mustHex(t, rfcAuthChal))
	tests := []struct {
		name    string
		in      string
		want    MSCHAPv2Failure
		wantErr error
	}{
		{
			name: "RFC 2759 form",
			in:   "E=691 R=0 C=" + rfcAuthChal + " V=3 M=Authentication failed",
			want: MSCHAPv2Failure{Error: 691, Challenge: chal, Version: 3, Message: "Authentication failed"},
		},
		{
			name: "retry, lower-case challenge",
			in:   "E=648 R=1 C=" + strings.ToLower(rfcAuthChal) + " V=3 M=Password expired",
			want: MSCHAPv2Failure{Error: 648, Retry: true, Challenge: chal, Version: 3, Message: "Password expired"},
		},
		{name: "E only", in: "E=691", want: MSCHAPv2Failure{Error: 691}},
		{name: "extra spaces and unknown field", in: "E=691  X=9 R=0 M=a b  c", want: MSCHAPv2Failure{Error: 691, Message: "a b  c"}},
		{name: "no E=", in: "R=0 C=" + rfcAuthChal + " V=3 M=x", wantErr: ErrMSCHAPv2BadFailure},
		{name: "E= not decimal", in: "E=abc R=0", wantErr: ErrMSCHAPv2BadFailure},
		{name: "R=2", in: "E=691 R=2", wantErr: ErrMSCHAPv2BadFailure},
		{name: "short C=", in: "E=691 C=0011", wantErr: ErrMSCHAPv2BadFailure},
		{name: "C= not hex", in: "E=691 C=" + strings.Repeat("Z", 32), wantErr: ErrMSCHAPv2BadFailure},
		{name: "V= not decimal", in: "E=691 V=x", wantErr: ErrMSCHAPv2BadFailure},
		{name: "empty", in: "", wantErr: ErrMSCHAPv2BadFailure},
		{name: "M= hides E=", in: "M=E=691", wantErr: ErrMSCHAPv2BadFailure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got MSCHAPv2Failure
			err := got.UnmarshalBinary([]byte(tt.in))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}

	enc, _ := MSCHAPv2Failure{Error: 691, Challenge: chal, Version: 3, Message: "Authentication failed"}.MarshalBinary()
	if diff := cmp.Diff("E=691 R=0 C="+rfcAuthChal+" V=3 M=Authentication failed", string(enc)); diff != "" {
		t.Errorf("marshal mismatch (-want +got):\n%s", diff)
	}
}
