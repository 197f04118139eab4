package ppp

import (
	"crypto/des"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf16"
)

// MS-CHAPv2 (RFC 2759) runs inside CHAP (protocol 0xc223, algorithm 0x81): the Challenge
// carries a 16-octet Authenticator Challenge, the Response a 49-octet value (below), and the
// Success and Failure packets carry the text messages MSCHAPv2Success and MSCHAPv2Failure.
// The exchange objects in chap.go drive it; this file holds the cryptography of RFC 2759 §8
// and the codecs of its messages.

// Sizes of the MS-CHAPv2 fields (RFC 2759 §4, §5, §8).
const (
	// MSCHAPv2ChallengeLen is the size of the Authenticator and Peer Challenges.
	MSCHAPv2ChallengeLen = 16
	// MSCHAPv2ResponseLen is the Value-Size of an MS-CHAPv2 Response packet.
	MSCHAPv2ResponseLen = 49
	// MSCHAPv2NTResponseLen is the size of the NT-Response.
	MSCHAPv2NTResponseLen = 24
	// MSCHAPv2AuthResponseLen is the size of the authenticator response carried, as 40 hex
	// digits after "S=", in the Success message.
	MSCHAPv2AuthResponseLen = 20
)

// MS-CHAP error codes carried in the E= field of a Failure message (RFC 2759 §6).
const (
	MSCHAPErrRestrictedLogonHours = 646
	MSCHAPErrAccountDisabled      = 647
	MSCHAPErrPasswordExpired      = 648
	MSCHAPErrNoDialinPermission   = 649
	MSCHAPErrAuthenticationFailed = 691
	MSCHAPErrChangingPassword     = 709
)

// MSCHAPv2PasswordChangeVersion is the V= value of a Failure message: the version of the
// password-change protocol the authenticator speaks (RFC 2759 §6: "Currently, this is 3").
const MSCHAPv2PasswordChangeVersion = 3

// Errors returned by the MS-CHAPv2 decoders and exchange code.
var (
	// ErrMSCHAPv2ValueSize is returned for a Response value that is not 49 octets or a
	// Challenge value that is not 16 octets.
	ErrMSCHAPv2ValueSize = errors.New("ppp: MS-CHAPv2 value has the wrong size")
	// ErrMSCHAPv2BadSuccess is returned for a Success message that does not start with
	// "S=" and 40 hex digits.
	ErrMSCHAPv2BadSuccess = errors.New("ppp: malformed MS-CHAPv2 success message")
	// ErrMSCHAPv2BadFailure is returned for a Failure message without a valid E= field or
	// with a malformed R=, C= or V= field.
	ErrMSCHAPv2BadFailure = errors.New("ppp: malformed MS-CHAPv2 failure message")
	// ErrMSCHAPv2MutualAuth is reported by the peer when the authenticator response in a
	// Success message does not match the one it computed (RFC 2759 §5): the authenticator
	// does not know the password, and the peer must not bring the link up.
	ErrMSCHAPv2MutualAuth = errors.New("ppp: MS-CHAPv2 mutual authentication failed")
	// ErrMSCHAPv2NoAuthResponse is reported by the authenticator when the backend accepted
	// an MS-CHAPv2 user without providing the 20-octet authenticator response the Success
	// message must carry; the exchange then fails.
	ErrMSCHAPv2NoAuthResponse = errors.New("ppp: MS-CHAPv2 backend result lacks the authenticator response")
)

// MSCHAPv2Response is the Value field of an MS-CHAPv2 Response packet (RFC 2759 §4):
// Peer-Challenge (16), Reserved (8, zero), NT-Response (24), Flags (1, zero).
type MSCHAPv2Response struct {
	PeerChallenge [MSCHAPv2ChallengeLen]byte
	NTResponse    [MSCHAPv2NTResponseLen]byte
	Flags         uint8
}

// UnmarshalBinary decodes a 49-octet Response value. The Reserved octets are not checked
// (RFC 2759 §4 says they MUST be zero, which binds the sender).
func (r *MSCHAPv2Response) UnmarshalBinary(b []byte) error {
	if len(b) < MSCHAPv2ResponseLen {
		return io.ErrUnexpectedEOF
	}
	if len(b) > MSCHAPv2ResponseLen {
		return ErrMSCHAPv2ValueSize
	}
	copy(r.PeerChallenge[:], b[0:16])
	copy(r.NTResponse[:], b[24:48])
	r.Flags = b[48]
	return nil
}

// AppendBinary appends the 49-octet Response value to dst.
func (r MSCHAPv2Response) AppendBinary(dst []byte) ([]byte, error) {
	dst = append(dst, r.PeerChallenge[:]...)
	dst = append(dst, make([]byte, 8)...)
	dst = append(dst, r.NTResponse[:]...)
	return append(dst, r.Flags), nil
}

// MarshalBinary returns the 49-octet Response value.
func (r MSCHAPv2Response) MarshalBinary() ([]byte, error) {
	return r.AppendBinary(make([]byte, 0, MSCHAPv2ResponseLen))
}

// MSCHAPv2Success is the Message of an MS-CHAPv2 Success packet (RFC 2759 §5):
// "S=<auth_string> M=<message>", where auth_string is the authenticator response as 40
// upper-case hex digits.
type MSCHAPv2Success struct {
	AuthResponse [MSCHAPv2AuthResponseLen]byte
	Message      string
}

// UnmarshalBinary decodes a Success message. The hex digits may be of either case. After
// them it accepts nothing, or a space and then the message with or without its "M=" prefix
// (some authenticators omit M=).
func (s *MSCHAPv2Success) UnmarshalBinary(b []byte) error {
	const n = 2 + 2*MSCHAPv2AuthResponseLen
	if len(b) < n {
		return io.ErrUnexpectedEOF
	}
	if b[0] != 'S' || b[1] != '=' {
		return ErrMSCHAPv2BadSuccess
	}
	var auth [MSCHAPv2AuthResponseLen]byte
	if _, err := hex.Decode(auth[:], b[2:n]); err != nil {
		return ErrMSCHAPv2BadSuccess
	}
	rest := string(b[n:])
	if rest != "" && rest[0] != ' ' {
		return ErrMSCHAPv2BadSuccess
	}
	s.AuthResponse = auth
	s.Message = strings.TrimPrefix(strings.TrimLeft(rest, " "), "M=")
	return nil
}

// AppendBinary appends "S=<40 hex digits> M=<message>" to dst.
func (s MSCHAPv2Success) AppendBinary(dst []byte) ([]byte, error) {
	dst = append(dst, "S="...)
	dst = append(dst, strings.ToUpper(hex.EncodeToString(s.AuthResponse[:]))...)
	dst = append(dst, " M="...)
	return append(dst, s.Message...), nil
}

// MarshalBinary returns "S=<40 hex digits> M=<message>".
func (s MSCHAPv2Success) MarshalBinary() ([]byte, error) { return s.AppendBinary(nil) }

// MSCHAPv2Failure is the Message of an MS-CHAPv2 Failure packet (RFC 2759 §6):
// "E=eeeeeeeeee R=r C=cccccccccccccccccccccccccccccccc V=vvvvvvvvvv M=<msg>".
type MSCHAPv2Failure struct {
	// Error is the decimal E= code, e.g. MSCHAPErrAuthenticationFailed.
	Error uint32
	// Retry is R=1: the authenticator allows the peer to retry with new credentials.
	Retry bool
	// Challenge is the C= field: 16 octets as 32 hex digits.
	Challenge [MSCHAPv2ChallengeLen]byte
	// Version is the V= field, the password-change protocol version.
	Version uint32
	// Message is the M= text; it runs to the end of the packet.
	Message string
}

// UnmarshalBinary decodes a Failure message. E= is required; R=, C= and V= are checked
// when present (RFC 2759 §6 requires C=, but authenticators that omit it exist); unknown
// fields are skipped; M= takes the rest of the message.
func (f *MSCHAPv2Failure) UnmarshalBinary(b []byte) error {
	var out MSCHAPv2Failure
	haveE := false
	s := string(b)
	for s != "" {
		if strings.HasPrefix(s, "M=") {
			out.Message = s[2:]
			break
		}
		tok, rest, _ := strings.Cut(s, " ")
		s = rest
		switch {
		case tok == "":
		case strings.HasPrefix(tok, "E="):
			v, err := strconv.ParseUint(tok[2:], 10, 32)
			if err != nil {
				return ErrMSCHAPv2BadFailure
			}
			out.Error, haveE = uint32(v), true
		case strings.HasPrefix(tok, "R="):
			switch tok[2:] {
			case "0":
				out.Retry = false
			case "1":
				out.Retry = true
			default:
				return ErrMSCHAPv2BadFailure
			}
		case strings.HasPrefix(tok, "C="):
			if len(tok) != 2+2*MSCHAPv2ChallengeLen {
				return ErrMSCHAPv2BadFailure
			}
			if _, err := hex.Decode(out.Challenge[:], []byte(tok[2:])); err != nil {
				return ErrMSCHAPv2BadFailure
			}
		case strings.HasPrefix(tok, "V="):
			v, err := strconv.ParseUint(tok[2:], 10, 32)
			if err != nil {
				return ErrMSCHAPv2BadFailure
			}
			out.Version = uint32(v)
		}
	}
	if !haveE {
		return ErrMSCHAPv2BadFailure
	}
	*f = out
	return nil
}

// AppendBinary appends "E=<code> R=<0|1> C=<32 hex digits> V=<version> M=<message>" to dst.
func (f MSCHAPv2Failure) AppendBinary(dst []byte) ([]byte, error) {
	r := 0
	if f.Retry {
		r = 1
	}
	dst = fmt.Appendf(dst, "E=%d R=%d C=%s V=%d M=", f.Error, r,
		strings.ToUpper(hex.EncodeToString(f.Challenge[:])), f.Version)
	return append(dst, f.Message...), nil
}

// MarshalBinary returns "E=<code> R=<0|1> C=<32 hex digits> V=<version> M=<message>".
func (f MSCHAPv2Failure) MarshalBinary() ([]byte, error) { return f.AppendBinary(nil) }

// MSCHAPNTPasswordHash returns NtPasswordHash(password) (RFC 2759 §8.3): the MD4 digest of
// the password in UTF-16 little-endian, the "NT hash" that directories store. Invalid UTF-8
// in password is encoded as U+FFFD.
func MSCHAPNTPasswordHash(password string) [MD4Size]byte {
	u := utf16.Encode([]rune(password))
	b := make([]byte, 0, 2*len(u))
	for _, c := range u {
		b = append(b, byte(c), byte(c>>8))
	}
	return MD4Sum(b)
}

// MSCHAPHashNTPasswordHash returns HashNtPasswordHash(hash) (RFC 2759 §8.4): MD4 of the
// NT hash.
func MSCHAPHashNTPasswordHash(hash [MD4Size]byte) [MD4Size]byte { return MD4Sum(hash[:]) }

// MSCHAPv2UserName returns the part of name that enters the MS-CHAPv2 challenge hash:
// RFC 2759 §8.2 uses the user name "excluding any prepended domain name", so a
// "DOMAIN\user" name contributes only "user".
func MSCHAPv2UserName(name string) string {
	if i := strings.LastIndexByte(name, '\\'); i >= 0 {
		return name[i+1:]
	}
	return name
}

// MSCHAPv2ChallengeHash returns ChallengeHash (RFC 2759 §8.2): the first 8 octets of
// SHA1(PeerChallenge || AuthenticatorChallenge || UserName), with any domain prefix removed
// from userName.
func MSCHAPv2ChallengeHash(peerChallenge, authChallenge [MSCHAPv2ChallengeLen]byte, userName string) [8]byte {
	h := sha1.New()
	h.Write(peerChallenge[:])
	h.Write(authChallenge[:])
	h.Write([]byte(MSCHAPv2UserName(userName)))
	var out [8]byte
	copy(out[:], h.Sum(nil))
	return out
}

// MSCHAPChallengeResponse returns ChallengeResponse (RFC 2759 §8.5): the 8-octet challenge
// DES-encrypted with the three 7-octet thirds of the NT hash padded to 21 octets.
func MSCHAPChallengeResponse(challenge [8]byte, passwordHash [MD4Size]byte) [MSCHAPv2NTResponseLen]byte {
	var z [21]byte
	copy(z[:], passwordHash[:])
	var out [MSCHAPv2NTResponseLen]byte
	for i := range 3 {
		blk := mschapDESEncrypt(challenge, [7]byte(z[7*i:7*i+7]))
		copy(out[8*i:], blk[:])
	}
	return out
}

// mschapDESEncrypt is DesEncrypt (RFC 2759 §8.6): DES-ECB of one block under a 56-bit key
// spread over 8 octets, 7 key bits per octet in the high bits (the parity bit, ignored by
// DES, is left zero).
func mschapDESEncrypt(clear [8]byte, key7 [7]byte) [8]byte {
	var v uint64
	for _, c := range key7 {
		v = v<<8 | uint64(c)
	}
	var key [8]byte
	for i := range key {
		key[i] = byte(v>>(49-7*i)) << 1
	}
	var out [8]byte
	c, err := des.NewCipher(key[:])
	if err != nil { // unreachable: the key is always 8 octets
		return out
	}
	c.Encrypt(out[:], clear[:])
	return out
}

// MSCHAPv2NTResponse returns GenerateNTResponse (RFC 2759 §8.1) computed from the NT hash
// of the password: ChallengeResponse(ChallengeHash(...), passwordHash).
func MSCHAPv2NTResponse(authChallenge, peerChallenge [MSCHAPv2ChallengeLen]byte, userName string, passwordHash [MD4Size]byte) [MSCHAPv2NTResponseLen]byte {
	return MSCHAPChallengeResponse(MSCHAPv2ChallengeHash(peerChallenge, authChallenge, userName), passwordHash)
}

// RFC 2759 §8.7 magic constants.
var (
	mschapMagic1 = []byte("Magic server to client signing constant")
	mschapMagic2 = []byte("Pad to make it do more than one iteration")
)

// MSCHAPv2AuthenticatorResponse returns the 20 octets of GenerateAuthenticatorResponse
// (RFC 2759 §8.7), computed from the NT hash of the password. The Success message carries
// them as "S=" and 40 hex digits (MSCHAPv2Success).
func MSCHAPv2AuthenticatorResponse(passwordHash [MD4Size]byte, ntResponse [MSCHAPv2NTResponseLen]byte, peerChallenge, authChallenge [MSCHAPv2ChallengeLen]byte, userName string) [MSCHAPv2AuthResponseLen]byte {
	hh := MSCHAPHashNTPasswordHash(passwordHash)
	h := sha1.New()
	h.Write(hh[:])
	h.Write(ntResponse[:])
	h.Write(mschapMagic1)
	digest := h.Sum(nil)

	ch := MSCHAPv2ChallengeHash(peerChallenge, authChallenge, userName)
	h.Reset()
	h.Write(digest)
	h.Write(ch[:])
	h.Write(mschapMagic2)
	var out [MSCHAPv2AuthResponseLen]byte
	copy(out[:], h.Sum(nil))
	return out
}
