package l2tp

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Expected values in this file were computed independently with Python's hashlib and hmac
// modules from the RFC formulas, with the shared secret "secret".

func TestChallengeResponse(t *testing.T) {
	// RFC 2661 §4.2: MD5(ID + secret + challenge) with ID 2 for a response in the SCCRP.
	want := h("a19d780352dab682f2884533035c4b07")
	got := ChallengeResponse(MsgSCCRP, []byte("secret"), h("deadbeef"))
	if diff := cmp.Diff(want, got[:]); diff != "" {
		t.Errorf("ChallengeResponse (-want +got):\n%s", diff)
	}
	if !VerifyChallengeResponse(MsgSCCRP, []byte("secret"), h("deadbeef"), want) {
		t.Errorf("VerifyChallengeResponse rejected the right response")
	}
	for _, tc := range []struct {
		name                 string
		carrier              MessageType
		secret, chal, answer []byte
	}{
		{"wrong carrier type", MsgSCCCN, []byte("secret"), h("deadbeef"), want},
		{"wrong secret", MsgSCCRP, []byte("Secret"), h("deadbeef"), want},
		{"wrong challenge", MsgSCCRP, []byte("secret"), h("deadbeee"), want},
		{"truncated response", MsgSCCRP, []byte("secret"), h("deadbeef"), want[:15]},
	} {
		if VerifyChallengeResponse(tc.carrier, tc.secret, tc.chal, tc.answer) {
			t.Errorf("%s: VerifyChallengeResponse accepted", tc.name)
		}
	}
}

func TestDigestKey(t *testing.T) {
	// RFC 3931 §5.4.1: shared_key = HMAC_MD5(shared_secret, 2).
	if diff := cmp.Diff(h("21dc457145ad58f4b1497ae27d2a87b4"), DigestKey([]byte("secret"))); diff != "" {
		t.Errorf("DigestKey (-want +got):\n%s", diff)
	}
}

var (
	nonceA = h("000102030405060708090a0b0c0d0e0f") // sent by LCCE A in its SCCRQ
	nonceB = h("a1a2a3a4")                         // sent by LCCE B in its SCCRP
)

// TestSignMessage signs the golden SCCCN that A sends to B: HMAC-MD5(key, A's nonce + B's
// nonce + message with a zero digest).
func TestSignMessage(t *testing.T) {
	key := DigestKey([]byte("secret"))
	msg := Message{Header: v3hdr(0x55667788, 1, 1), Type: MsgSCCCN, AVPs: []AVP{NewMessageDigest(DigestHMACMD5)}}
	b, err := msg.Marshal(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := SignMessage(b, nonceA, nonceB, key); err != nil {
		t.Fatalf("SignMessage: %v", err)
	}
	want := unhex(t, `
		c803 002b 55667788 0001 0001     # Length 43
		8008 0000 0000 0003              # Message Type SCCCN
		8017 0000 003b 00                # Message Digest, HMAC-MD5
		fa1bc1ccfc184cde6f67306980ab4023 # the digest`)
	if diff := cmp.Diff(want, b); diff != "" {
		t.Fatalf("signed message (-want +got):\n%s", diff)
	}

	// B checks it from its own point of view: its local nonce is nonceB.
	if err := VerifyMessage(b, nonceB, nonceA, key); err != nil {
		t.Errorf("VerifyMessage: %v", err)
	}

	tests := []struct {
		name          string
		mutate        func(b []byte)
		local, remote []byte
		keys          [][]byte
	}{
		{"tampered Nr", func(b []byte) { b[11] ^= 1 }, nonceB, nonceA, [][]byte{key}},
		{"tampered digest", func(b []byte) { b[len(b)-1] ^= 1 }, nonceB, nonceA, [][]byte{key}},
		{"nonces not swapped", func([]byte) {}, nonceA, nonceB, [][]byte{key}},
		{"wrong secret", func([]byte) {}, nonceB, nonceA, [][]byte{DigestKey([]byte("other"))}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := append([]byte{}, b...)
			tc.mutate(c)
			if err := VerifyMessage(c, tc.local, tc.remote, tc.keys...); !errors.Is(err, ErrDigestMismatch) {
				t.Errorf("VerifyMessage error = %v, want ErrDigestMismatch", err)
			}
		})
	}
}

// TestSignSCCRQ checks the SCCRQ rule of RFC 3931 §5.4.1: no nonces in the calculation.
func TestSignSCCRQ(t *testing.T) {
	key := DigestKey([]byte("secret"))
	msg := Message{Header: v3hdr(0, 0, 0), Type: MsgSCCRQ, AVPs: []AVP{
		NewMessageDigest(DigestHMACSHA1),
		NewNonce(h("00010203")),
	}}
	b, err := msg.Marshal(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := SignMessage(b, []byte("ignored"), []byte("ignored too"), key); err != nil {
		t.Fatal(err)
	}
	want := unhex(t, `
		c803 0039 00000000 0000 0000     # Length 57
		8008 0000 0000 0001              # Message Type SCCRQ
		801b 0000 003b 01                # Message Digest, HMAC-SHA-1
		61deb908b740e18e183e55ec906e299e26cd2e9f
		800a 0000 0049 00010203          # Control Message Authentication Nonce`)
	if diff := cmp.Diff(want, b); diff != "" {
		t.Fatalf("signed SCCRQ (-want +got):\n%s", diff)
	}
	if err := VerifyMessage(b, nil, nil, key); err != nil {
		t.Errorf("VerifyMessage: %v", err)
	}
}

// TestTwoDigests checks the secret roll-over of RFC 3931 §5.4.1: two digests, both zeroed
// while computing either, and a receiver that knows only one of the secrets.
func TestTwoDigests(t *testing.T) {
	oldKey, newKey := DigestKey([]byte("old")), DigestKey([]byte("new"))
	msg := Message{Header: v3hdr(7, 1, 2), Type: MsgHELLO, AVPs: []AVP{
		NewMessageDigest(DigestHMACMD5),
		NewMessageDigest(DigestHMACSHA1),
	}}
	b, err := msg.Marshal(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := SignMessage(b, nonceA, nonceB, oldKey, newKey); err != nil {
		t.Fatal(err)
	}
	for _, keys := range [][][]byte{{oldKey}, {newKey}, {DigestKey([]byte("x")), newKey}} {
		if err := VerifyMessage(b, nonceB, nonceA, keys...); err != nil {
			t.Errorf("VerifyMessage with %d keys: %v", len(keys), err)
		}
	}
	if err := VerifyMessage(b, nonceB, nonceA, DigestKey([]byte("x"))); !errors.Is(err, ErrDigestMismatch) {
		t.Errorf("VerifyMessage with an unknown key: %v", err)
	}
	m, err := Parse(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestDigestErrors(t *testing.T) {
	key := DigestKey(nil)
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"no digest", `c803 0014 00000007 0001 0002  8008 0000 0000 0006`, ErrNoDigest},
		{"ZLB", `c803 000c 00000007 0001 0002`, ErrNoMessageType},
		{"digest not right after Message Type", `
			c803 0033 00000007 0001 0002
			8008 0000 0000 0006
			8008 0000 000a 0004
			8017 0000 003b 00 00000000000000000000000000000000`, ErrNoDigest},
		{"digest length does not match its type", `
			c803 002b 00000007 0001 0002
			8008 0000 0000 0006
			8017 0000 003b 01 00000000000000000000000000000000`, ErrNoDigest},
		{"truncated", `c803 002b 00000007`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := unhex(t, tc.in)
			errSign := SignMessage(b, nil, nil, key)
			errVerify := VerifyMessage(b, nil, nil, key)
			if tc.want == nil {
				if errSign == nil || errVerify == nil {
					t.Errorf("no error: sign %v, verify %v", errSign, errVerify)
				}
				return
			}
			if !errors.Is(errSign, tc.want) || !errors.Is(errVerify, tc.want) {
				t.Errorf("errors = %v, %v; want %v", errSign, errVerify, tc.want)
			}
		})
	}
	if err := SignMessage(nil, nil, nil); err == nil {
		t.Errorf("SignMessage without keys succeeded")
	}
}
