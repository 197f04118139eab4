package ppp

import (
	"crypto/sha1"
	"fmt"
)

// MPPE key derivation from MS-CHAPv2 credentials (RFC 3079 §3). The keys are computed at
// authentication time, carried in AuthResult, and used later by CCP/MPPE (RFC 3078), which
// is not implemented yet.

// MPPEStrength is an MPPE session key strength (RFC 3079 §3.1-3.3).
type MPPEStrength uint8

// MPPE key strengths.
const (
	MPPE40  MPPEStrength = iota + 1 // 40-bit: 8-octet key, first 3 octets fixed
	MPPE56                          // 56-bit: 8-octet key, first octet fixed
	MPPE128                         // 128-bit: 16-octet key
)

func (s MPPEStrength) String() string {
	switch s {
	case MPPE40:
		return "40-bit"
	case MPPE56:
		return "56-bit"
	case MPPE128:
		return "128-bit"
	}
	return fmt.Sprintf("MPPEStrength(%d)", uint8(s))
}

// KeyLen returns the length in octets of the start and session keys for s: 8 for 40 and
// 56 bits, 16 for 128 bits, 0 for an unknown strength.
func (s MPPEStrength) KeyLen() int {
	switch s {
	case MPPE40, MPPE56:
		return 8
	case MPPE128:
		return 16
	}
	return 0
}

// MPPEKeys are the two 16-octet MPPE start keys (MasterSendKey and MasterReceiveKey of
// RFC 3079 §3.3) from the point of view of their holder: Send encrypts what the holder sends.
// The authenticator's Send is the peer's Recv. RADIUS carries the authenticator's keys as
// MS-MPPE-Send-Key and MS-MPPE-Recv-Key (RFC 2548 §2.4.2, §2.4.3). For 40- and 56-bit MPPE
// the start key is the first 8 octets. String and GoString never print the keys.
type MPPEKeys struct {
	Send [16]byte
	Recv [16]byte
}

func (MPPEKeys) String() string   { return "MPPEKeys{[redacted]}" }
func (MPPEKeys) GoString() string { return "ppp.MPPEKeys{[redacted]}" }

// RFC 3079 §3.4 constants.
var (
	mppeMagic1 = []byte("This is the MPPE Master Key")
	mppeMagic2 = []byte("On the client side, this is the send key; on the server side, it is the receive key.")
	mppeMagic3 = []byte("On the client side, this is the receive key; on the server side, it is the send key.")
	mppePad1   = make([]byte, 40)
	mppePad2   = []byte{
		0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2,
		0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2,
		0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2,
		0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2, 0xf2,
	}
)

// MPPEMasterKey returns GetMasterKey (RFC 3079 §3.4): the first 16 octets of
// SHA1(PasswordHashHash || NT-Response || Magic1), where PasswordHashHash is
// MSCHAPHashNTPasswordHash of the NT hash.
func MPPEMasterKey(passwordHashHash [MD4Size]byte, ntResponse [MSCHAPv2NTResponseLen]byte) [16]byte {
	h := sha1.New()
	h.Write(passwordHashHash[:])
	h.Write(ntResponse[:])
	h.Write(mppeMagic1)
	var out [16]byte
	copy(out[:], h.Sum(nil))
	return out
}

// MPPEAsymmetricStartKey returns GetAsymmetricStartKey (RFC 3079 §3.4): the first keyLen
// octets of SHA1(MasterKey || SHSpad1 || Magic || SHSpad2), where Magic is chosen by the
// direction (isSend) and the role (isServer; the authenticator is the server). keyLen is 8
// for 40- and 56-bit keys and 16 for 128-bit keys; it is clamped to [0, 16].
func MPPEAsymmetricStartKey(masterKey [16]byte, keyLen int, isSend, isServer bool) []byte {
	keyLen = min(max(keyLen, 0), 16)
	magic := mppeMagic3 // client receive key == server send key
	if isSend != isServer {
		magic = mppeMagic2 // client send key == server receive key
	}
	h := sha1.New()
	h.Write(masterKey[:])
	h.Write(mppePad1)
	h.Write(magic)
	h.Write(mppePad2)
	return h.Sum(nil)[:keyLen]
}

// MPPENewKeyFromSHA returns GetNewKeyFromSHA (RFC 3078 §7.3): the first len(sessionKey)
// octets of SHA1(StartKey || SHApad1 || SessionKey || SHApad2), where StartKey is the first
// len(sessionKey) octets of startKey. len(sessionKey) is clamped to [0, min(len(startKey), 16)].
func MPPENewKeyFromSHA(startKey, sessionKey []byte) []byte {
	n := min(len(sessionKey), len(startKey), 16)
	h := sha1.New()
	h.Write(startKey[:n])
	h.Write(mppePad1)
	h.Write(sessionKey[:n])
	h.Write(mppePad2)
	return h.Sum(nil)[:n]
}

// MPPEInitialSessionKey returns the first session key for a direction from its start key
// (RFC 3079 §3.1-3.3, §3.5): GetNewKeyFromSHA(StartKey, StartKey), then for 40-bit keys the
// first three octets are set to 0xd1 0x26 0x9e and for 56-bit keys the first octet to 0xd1.
// startKey must hold at least s.KeyLen() octets; otherwise, or for an unknown strength, the
// result is nil.
func MPPEInitialSessionKey(startKey []byte, s MPPEStrength) []byte {
	n := s.KeyLen()
	if n == 0 || len(startKey) < n {
		return nil
	}
	k := MPPENewKeyFromSHA(startKey[:n], startKey[:n])
	switch s {
	case MPPE40:
		k[0], k[1], k[2] = 0xd1, 0x26, 0x9e
	case MPPE56:
		k[0] = 0xd1
	}
	return k
}

// MPPEKeysFromNTHash derives the MPPE start keys of RFC 3079 §3.3 for one side of an
// MS-CHAPv2 exchange from the NT hash of the password and the peer's NT-Response. isServer
// is true on the authenticator.
func MPPEKeysFromNTHash(ntHash [MD4Size]byte, ntResponse [MSCHAPv2NTResponseLen]byte, isServer bool) MPPEKeys {
	mk := MPPEMasterKey(MSCHAPHashNTPasswordHash(ntHash), ntResponse)
	var k MPPEKeys
	copy(k.Send[:], MPPEAsymmetricStartKey(mk, 16, true, isServer))
	copy(k.Recv[:], MPPEAsymmetricStartKey(mk, 16, false, isServer))
	return k
}
