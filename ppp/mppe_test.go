package ppp

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// RFC 3079 §3.5 sample key derivations (the server sending, from RFC 2759 §9.2's data).
func TestMPPERFC3079Vectors(t *testing.T) {
	hash := MSCHAPNTPasswordHash(rfcPassword)
	hh := MSCHAPHashNTPasswordHash(hash)
	nt := [24]byte(mustHex(t, rfcNTResponse))
	mk := MPPEMasterKey(hh, nt)

	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{name: "PasswordHashHash", got: hh[:], want: rfcHashHash},
		{name: "MasterKey", got: mk[:], want: "FDECE3717A8C838CB388E527AE3CDD31"},
		// §3.5.1, 40-bit.
		{name: "SendStartKey40", got: MPPEAsymmetricStartKey(mk, 8, true, true), want: "8B7CDC149B993A1B"},
		{name: "SendSessionKey40", got: MPPEInitialSessionKey(MPPEAsymmetricStartKey(mk, 8, true, true), MPPE40), want: "D1269EC49FA62E3E"},
		// §3.5.2, 56-bit.
		{name: "SendStartKey56", got: MPPEAsymmetricStartKey(mk, 8, true, true), want: "8B7CDC149B993A1B"},
		{name: "SendSessionKey56", got: MPPEInitialSessionKey(MPPEAsymmetricStartKey(mk, 8, true, true), MPPE56), want: "D15C00C49FA62E3E"},
		// §3.5.3, 128-bit.
		{name: "SendStartKey128", got: MPPEAsymmetricStartKey(mk, 16, true, true), want: "8B7CDC149B993A1BA118CB153F56DCCB"},
		{name: "SendSessionKey128", got: MPPEInitialSessionKey(MPPEAsymmetricStartKey(mk, 16, true, true), MPPE128), want: "405CB2247A7956E6E211007AE27B22D4"},
		// The same keys from a 16-octet start key truncated by the strength.
		{name: "SendSessionKey40 from 16-octet start key", got: MPPEInitialSessionKey(MPPEAsymmetricStartKey(mk, 16, true, true), MPPE40), want: "D1269EC49FA62E3E"},
		{name: "server keys Send", got: func() []byte { k := MPPEKeysFromNTHash(hash, nt, true); return k.Send[:] }(), want: "8B7CDC149B993A1BA118CB153F56DCCB"},
		{name: "client keys Recv", got: func() []byte { k := MPPEKeysFromNTHash(hash, nt, false); return k.Recv[:] }(), want: "8B7CDC149B993A1BA118CB153F56DCCB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, hexUpper(tt.got)); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMPPEKeyRoles checks RFC 3079 §3.4's role symmetry: what one side sends with, the
// other receives with, and the two directions differ.
func TestMPPEKeyRoles(t *testing.T) {
	hash := MSCHAPNTPasswordHash(rfcPassword)
	nt := [24]byte(mustHex(t, rfcNTResponse))
	server := MPPEKeysFromNTHash(hash, nt, true)
	client := MPPEKeysFromNTHash(hash, nt, false)
	if server.Send != client.Recv || server.Recv != client.Send {
		t.Errorf("server and client keys are not mirrored")
	}
	if server.Send == server.Recv {
		t.Errorf("send and receive keys are equal")
	}
	mk := MPPEMasterKey(MSCHAPHashNTPasswordHash(hash), nt)
	for _, isServer := range []bool{false, true} {
		for _, isSend := range []bool{false, true} {
			k8 := MPPEAsymmetricStartKey(mk, 8, isSend, isServer)
			k16 := MPPEAsymmetricStartKey(mk, 16, isSend, isServer)
			if diff := cmp.Diff(k16[:8], k8); diff != "" {
				t.Errorf("send=%t server=%t: 8-octet key is not a prefix (-want +got):\n%s", isSend, isServer, diff)
			}
		}
	}
}

func TestMPPEEdgeCases(t *testing.T) {
	var mk [16]byte
	tests := []struct {
		name string
		got  int
		want int
	}{
		{name: "negative key length clamps to 0", got: len(MPPEAsymmetricStartKey(mk, -1, true, true)), want: 0},
		{name: "key length over 16 clamps to 16", got: len(MPPEAsymmetricStartKey(mk, 40, true, true)), want: 16},
		{name: "short start key", got: len(MPPEInitialSessionKey(make([]byte, 7), MPPE40)), want: 0},
		{name: "unknown strength", got: len(MPPEInitialSessionKey(make([]byte, 16), 0)), want: 0},
		{name: "new key from SHA follows session key length", got: len(MPPENewKeyFromSHA(make([]byte, 16), make([]byte, 8))), want: 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %d, want %d", tt.got, tt.want)
			}
		})
	}
}

func TestMPPEKeysNotPrinted(t *testing.T) {
	k := MPPEKeys{Send: [16]byte{0xab, 0xcd, 0xef}, Recv: [16]byte{0x12, 0x34}}
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(f, k) + fmt.Sprintf(f, &k)
		if strings.Contains(strings.ToLower(out), "abcdef") || strings.Contains(out, "171") {
			t.Errorf("%s prints the key: %s", f, out)
		}
	}
}
