package l2tp

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
)

// ChallengeResponse computes the L2TPv2 tunnel authentication response (RFC 2661 §4.2,
// §5.1.1): the CHAP-style MD5 of the one-octet message type of the message carrying the
// response (MsgSCCRP or MsgSCCCN), the shared secret and the peer's Challenge AVP value.
func ChallengeResponse(carrier MessageType, secret, challenge []byte) [16]byte {
	h := md5.New()
	h.Write([]byte{byte(carrier)})
	h.Write(secret)
	h.Write(challenge)
	var r [16]byte
	h.Sum(r[:0])
	return r
}

// VerifyChallengeResponse reports, in constant time, whether resp is the response to
// challenge for the given carrier message type and secret.
func VerifyChallengeResponse(carrier MessageType, secret, challenge, resp []byte) bool {
	want := ChallengeResponse(carrier, secret, challenge)
	return subtle.ConstantTimeCompare(want[:], resp) == 1
}

// DigestType is the algorithm of a Message Digest AVP (RFC 3931 §5.4.1).
type DigestType uint8

// Digest types.
const (
	DigestHMACMD5  DigestType = 0
	DigestHMACSHA1 DigestType = 1
)

// Size returns the digest length in octets, or 0 for an unknown type.
func (t DigestType) Size() int {
	switch t {
	case DigestHMACMD5:
		return md5.Size
	case DigestHMACSHA1:
		return sha1.Size
	}
	return 0
}

// String returns the RFC name of the algorithm.
func (t DigestType) String() string {
	switch t {
	case DigestHMACMD5:
		return "HMAC-MD5"
	case DigestHMACSHA1:
		return "HMAC-SHA-1"
	}
	return fmt.Sprintf("DigestType(%d)", uint8(t))
}

func (t DigestType) hash() func() hash.Hash {
	if t == DigestHMACSHA1 {
		return sha1.New
	}
	return md5.New
}

// Errors about control message authentication.
var (
	// ErrNoDigest reports a message without a Message Digest AVP right after its Message
	// Type AVP (RFC 3931 §5.4.1).
	ErrNoDigest = errors.New("l2tp: no Message Digest AVP after Message Type")
	// ErrDigestMismatch reports a Message Digest that does not match: the message must be
	// dropped (RFC 3931 §5.4.1).
	ErrDigestMismatch = errors.New("l2tp: Message Digest mismatch")
)

// DigestKey derives the control message authentication key from the shared secret:
// HMAC-MD5(secret, 0x02) (RFC 3931 §5.4.1). With authentication disabled, a digest used as a
// plain integrity check is keyed with DigestKey(nil) (RFC 3931 §4.3).
func DigestKey(secret []byte) []byte { return derivedKey(secret, 2) }

// NewMessageDigest returns a Message Digest AVP of type t with a zero digest, to be placed
// first in Message.AVPs and filled in by SignMessage after marshalling.
func NewMessageDigest(t DigestType) AVP {
	return newAVP(AVPMessageDigest, append([]byte{byte(t)}, make([]byte, t.Size())...))
}

// NewNonce returns a Control Message Authentication Nonce AVP (RFC 3931 §5.4.1).
func NewNonce(nonce []byte) AVP { return NewBytes(AVPControlMessageAuthNonce, nonce) }

// MessageDigest splits a Message Digest AVP into its type and digest.
func (a AVP) MessageDigest() (DigestType, []byte, error) {
	if len(a.Value) < 1 {
		return 0, nil, a.lenErr("17 or 21")
	}
	t := DigestType(a.Value[0])
	if t.Size() == 0 || len(a.Value) != 1+t.Size() {
		return t, nil, a.lenErr(fmt.Sprintf("1+%d for %v", t.Size(), t))
	}
	return t, a.Value[1:], nil
}

// digestField locates one Message Digest AVP in a marshalled control message.
type digestField struct {
	typ      DigestType
	from, to int // the digest octets, after the Digest Type octet
}

// findDigests locates the one or two Message Digest AVPs that RFC 3931 §5.4.1 places right
// after the Message Type AVP, and returns the message (cut at its Length) and its type.
func findDigests(b []byte) (msg []byte, mt MessageType, fields []digestField, err error) {
	_, off, n, err := parseControlHeader(b)
	if err != nil {
		return nil, 0, nil, err
	}
	msg = b[:n]
	// Message Type AVP: 6-octet header and a 2-octet value.
	if n < off+avpHeaderLen+2 || binary.BigEndian.Uint16(msg[off+4:]) != uint16(AVPMessageType) ||
		int(binary.BigEndian.Uint16(msg[off:])&avpLengthMask) != avpHeaderLen+2 {
		return nil, 0, nil, ErrNoMessageType
	}
	mt = MessageType(binary.BigEndian.Uint16(msg[off+avpHeaderLen:]))
	off += avpHeaderLen + 2
	for len(fields) < 2 && off+avpHeaderLen+1 <= n {
		flags := binary.BigEndian.Uint16(msg[off:])
		l := int(flags & avpLengthMask)
		if binary.BigEndian.Uint16(msg[off+2:]) != 0 ||
			binary.BigEndian.Uint16(msg[off+4:]) != uint16(AVPMessageDigest) || flags&avpFlagH != 0 {
			break
		}
		t := DigestType(msg[off+avpHeaderLen])
		if t.Size() == 0 || l != avpHeaderLen+1+t.Size() || off+l > n {
			return nil, 0, nil, fmt.Errorf("%w: bad Message Digest AVP (type %d, length %d)", ErrNoDigest, t, l)
		}
		fields = append(fields, digestField{typ: t, from: off + avpHeaderLen + 1, to: off + l})
		off += l
	}
	if len(fields) == 0 {
		return nil, 0, nil, ErrNoDigest
	}
	return msg, mt, fields, nil
}

// computeDigest returns HMAC(key, first + second + msg) with every digest field read as
// zeros. For an SCCRQ the nonces are left out (RFC 3931 §5.4.1).
func computeDigest(t DigestType, key, first, second, msg []byte, mt MessageType, fields []digestField) []byte {
	m := hmac.New(t.hash(), key)
	if mt != MsgSCCRQ {
		m.Write(first)
		m.Write(second)
	}
	var zeros [sha1.Size]byte
	prev := 0
	for _, f := range fields {
		m.Write(msg[prev:f.from])
		m.Write(zeros[:f.to-f.from])
		prev = f.to
	}
	m.Write(msg[prev:])
	return m.Sum(nil)
}

// SignMessage fills in the Message Digest AVP(s) of b, a marshalled control message that
// starts with the control header (for L2TPv3 over IP, after the zero Session ID). The
// digest is HMAC(key, localNonce + remoteNonce + message) with the digest octets zeroed;
// for an SCCRQ it is HMAC(key, message) and the nonces are ignored (RFC 3931 §5.4.1).
// localNonce is the nonce this side sent, remoteNonce the peer's. keys come from DigestKey;
// with two digest AVPs, keys[1] (or keys[0] if there is only one key) signs the second.
func SignMessage(b []byte, localNonce, remoteNonce []byte, keys ...[]byte) error {
	if len(keys) == 0 {
		return errors.New("l2tp: SignMessage needs a key")
	}
	msg, mt, fields, err := findDigests(b)
	if err != nil {
		return err
	}
	sums := make([][]byte, len(fields))
	for i, f := range fields {
		key := keys[min(i, len(keys)-1)]
		sums[i] = computeDigest(f.typ, key, localNonce, remoteNonce, msg, mt, fields)
	}
	for i, f := range fields {
		copy(msg[f.from:f.to], sums[i])
	}
	return nil
}

// VerifyMessage checks the Message Digest AVP(s) of a received control message b. It must
// run before anything in the message is used (RFC 3931 §5.4.1). localNonce and remoteNonce
// are from this side's point of view, as for SignMessage; the sender computed the digest
// with them swapped. The message is accepted if any digest matches under any key (two
// secrets may be configured during a change of secret).
func VerifyMessage(b []byte, localNonce, remoteNonce []byte, keys ...[]byte) error {
	msg, mt, fields, err := findDigests(b)
	if err != nil {
		return err
	}
	for _, f := range fields {
		for _, key := range keys {
			want := computeDigest(f.typ, key, remoteNonce, localNonce, msg, mt, fields)
			if hmac.Equal(want, msg[f.from:f.to]) {
				return nil
			}
		}
	}
	return ErrDigestMismatch
}
