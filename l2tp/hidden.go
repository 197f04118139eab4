package l2tp

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
)

// Errors about hidden AVPs (RFC 2661 §4.3, RFC 3931 §5.3).
var (
	// ErrHidden reports a malformed hidden AVP: a hidden Random Vector, or a Hidden AVP
	// Subformat whose original length does not fit.
	ErrHidden = errors.New("l2tp: malformed hidden AVP")
	// ErrNoRandomVector reports a hidden AVP with no Random Vector AVP before it in the
	// message.
	ErrNoRandomVector = errors.New("l2tp: hidden AVP not preceded by a Random Vector AVP")
	// ErrNoSecret reports a hidden AVP met (or requested) without a shared secret.
	ErrNoSecret = errors.New("l2tp: hidden AVP needs a shared secret")
)

// HidingKey returns the key used to hide and reveal AVP values for a tunnel with the given
// shared secret. L2TPv2 uses the secret itself (RFC 2661 §4.3); L2TPv3 derives
// HMAC-MD5(secret, 0x01) (RFC 3931 §5.3). A nil secret gives a nil key.
func HidingKey(v Version, secret []byte) []byte {
	if secret == nil {
		return nil
	}
	if v != Version3 {
		return append([]byte{}, secret...)
	}
	return derivedKey(secret, 1)
}

// derivedKey returns HMAC-MD5(secret, b), the RFC 3931 key derivation.
func derivedKey(secret []byte, b byte) []byte {
	m := hmac.New(md5.New, secret)
	m.Write([]byte{b})
	return m.Sum(nil)
}

// HideValue returns the hidden form of value for an AVP of type t: the Hidden AVP
// Subformat (2-octet original length, value, pad) XORed with the MD5 key stream of
// RFC 2661 §4.3:
//
//	b1 = MD5(type + key + rv)   c1 = p1 xor b1
//	bi = MD5(key + c(i-1))      ci = pi xor bi
//
// key comes from HidingKey and rv is the value of the Random Vector AVP that precedes the
// hidden AVP. pad may be nil.
func HideValue(t AVPType, key, rv, value, pad []byte) []byte {
	return appendHidden(nil, t, key, rv, value, pad)
}

func appendHidden(dst []byte, t AVPType, key, rv, value, pad []byte) []byte {
	start := len(dst)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(value)))
	dst = append(dst, value...)
	dst = append(dst, pad...)
	sub := dst[start:]

	var tb [2]byte
	binary.BigEndian.PutUint16(tb[:], uint16(t))
	h := md5.New()
	h.Write(tb[:])
	h.Write(key)
	h.Write(rv)
	var stream [md5.Size]byte
	h.Sum(stream[:0])
	for i := 0; i < len(sub); i += md5.Size {
		block := sub[i:min(i+md5.Size, len(sub))]
		for j := range block {
			block[j] ^= stream[j]
		}
		if len(block) == md5.Size {
			h.Reset()
			h.Write(key)
			h.Write(block) // the ciphertext block c(i)
			h.Sum(stream[:0])
		}
	}
	return dst
}

// RevealValue undoes HideValue: it decrypts hidden, checks the Hidden AVP Subformat and
// returns the original value (in a new slice), dropping the padding.
func RevealValue(t AVPType, key, rv, hidden []byte) ([]byte, error) {
	if len(hidden) < 2 {
		return nil, fmt.Errorf("%w: %v value is %d octets, below the 2-octet subformat", ErrHidden, t, len(hidden))
	}
	out := make([]byte, len(hidden))
	var tb [2]byte
	binary.BigEndian.PutUint16(tb[:], uint16(t))
	h := md5.New()
	h.Write(tb[:])
	h.Write(key)
	h.Write(rv)
	var stream [md5.Size]byte
	h.Sum(stream[:0])
	for i := 0; i < len(hidden); i += md5.Size {
		end := min(i+md5.Size, len(hidden))
		for j := i; j < end; j++ {
			out[j] = hidden[j] ^ stream[j-i]
		}
		if end-i == md5.Size {
			h.Reset()
			h.Write(key)
			h.Write(hidden[i:end])
			h.Sum(stream[:0])
		}
	}
	n := int(binary.BigEndian.Uint16(out))
	if n > len(out)-2 {
		return nil, fmt.Errorf("%w: %v original length %d exceeds the %d octets hidden (wrong secret?)",
			ErrHidden, t, n, len(out)-2)
	}
	return out[2 : 2+n : 2+n], nil
}
