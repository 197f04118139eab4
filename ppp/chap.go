package ppp

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
)

// CHAP packet codes (RFC 1994 §4).
const (
	CHAPCodeChallenge Code = 1
	CHAPCodeResponse  Code = 2
	CHAPCodeSuccess   Code = 3
	CHAPCodeFailure   Code = 4
)

// CHAPAlgorithm is the Algorithm octet of the LCP Authentication-Protocol option for CHAP
// (RFC 1994 §3).
type CHAPAlgorithm uint8

// CHAP algorithms.
const (
	CHAPAlgorithmMD5      CHAPAlgorithm = 0x05 // RFC 1994
	CHAPAlgorithmMSCHAPv1 CHAPAlgorithm = 0x80 // RFC 2433, not implemented
	CHAPAlgorithmMSCHAPv2 CHAPAlgorithm = 0x81 // RFC 2759
)

func (a CHAPAlgorithm) String() string {
	switch a {
	case CHAPAlgorithmMD5:
		return "MD5"
	case CHAPAlgorithmMSCHAPv1:
		return "MS-CHAPv1"
	case CHAPAlgorithmMSCHAPv2:
		return "MS-CHAPv2"
	}
	return fmt.Sprintf("CHAPAlgorithm(0x%02x)", uint8(a))
}

// Method returns the AuthMethod of a, or AuthNone for an algorithm probox does not
// implement.
func (a CHAPAlgorithm) Method() AuthMethod {
	switch a {
	case CHAPAlgorithmMD5:
		return AuthCHAPMD5
	case CHAPAlgorithmMSCHAPv2:
		return AuthMSCHAPv2
	}
	return AuthNone
}

// Errors returned by the CHAP codec.
var (
	// ErrCHAPBadCode is returned for a CHAP packet whose Code is not 1 to 4.
	ErrCHAPBadCode = errors.New("ppp: unknown CHAP code")
	// ErrCHAPValueSize is returned when a Value-Size is zero or runs past the end of the
	// packet, or when a value to encode is empty or longer than 255 octets.
	ErrCHAPValueSize = errors.New("ppp: bad CHAP Value-Size")
)

// CHAPPacket is a CHAP packet (RFC 1994 §4). A Challenge or Response carries Value and
// Name; a Success or Failure carries Message. For MS-CHAPv2 the Response Value is an
// MSCHAPv2Response and the Message an MSCHAPv2Success or MSCHAPv2Failure. String and
// GoString print the value's length, not its octets.
type CHAPPacket struct {
	Code       Code
	Identifier uint8
	Value      []byte
	Name       string
	Message    string
}

func (p CHAPPacket) String() string {
	switch p.Code {
	case CHAPCodeChallenge:
		return fmt.Sprintf("CHAP Challenge id=%d value=[%d octets] name=%q", p.Identifier, len(p.Value), p.Name)
	case CHAPCodeResponse:
		return fmt.Sprintf("CHAP Response id=%d value=[%d octets] name=%q", p.Identifier, len(p.Value), p.Name)
	case CHAPCodeSuccess:
		return fmt.Sprintf("CHAP Success id=%d message=%q", p.Identifier, p.Message)
	case CHAPCodeFailure:
		return fmt.Sprintf("CHAP Failure id=%d message=%q", p.Identifier, p.Message)
	}
	return fmt.Sprintf("CHAP code=%d id=%d", uint8(p.Code), p.Identifier)
}

// GoString keeps %#v from printing a response value.
func (p CHAPPacket) GoString() string { return "ppp.CHAPPacket{" + p.String() + "}" }

// UnmarshalBinary decodes a CHAP packet. Octets past the Length field are ignored. Value
// is a copy; it is never empty for a Challenge or Response.
func (p *CHAPPacket) UnmarshalBinary(b []byte) error {
	h, data, err := ParseControl(b)
	if err != nil {
		return err
	}
	*p = CHAPPacket{Code: h.Code, Identifier: h.Identifier}
	switch h.Code {
	case CHAPCodeChallenge, CHAPCodeResponse:
		if len(data) < 1 {
			return io.ErrUnexpectedEOF
		}
		n := int(data[0])
		if n == 0 || 1+n > len(data) {
			return ErrCHAPValueSize
		}
		p.Value = bytes.Clone(data[1 : 1+n])
		p.Name = string(data[1+n:])
	case CHAPCodeSuccess, CHAPCodeFailure:
		p.Message = string(data)
	default:
		return ErrCHAPBadCode
	}
	return nil
}

// AppendBinary appends the encoded packet to dst.
func (p CHAPPacket) AppendBinary(dst []byte) ([]byte, error) {
	var data []byte
	switch p.Code {
	case CHAPCodeChallenge, CHAPCodeResponse:
		if len(p.Value) == 0 || len(p.Value) > 255 {
			return dst, ErrCHAPValueSize
		}
		data = make([]byte, 0, 1+len(p.Value)+len(p.Name))
		data = append(data, byte(len(p.Value)))
		data = append(data, p.Value...)
		data = append(data, p.Name...)
	case CHAPCodeSuccess, CHAPCodeFailure:
		data = []byte(p.Message)
	default:
		return dst, ErrCHAPBadCode
	}
	if ControlHeaderLen+len(data) > 0xffff {
		return dst, ErrBadLength
	}
	return AppendControl(dst, p.Code, p.Identifier, data), nil
}

// MarshalBinary returns the encoded packet.
func (p CHAPPacket) MarshalBinary() ([]byte, error) { return p.AppendBinary(nil) }

// Defaults of the CHAP exchanges.
const (
	// CHAPDefaultChallengeLen is the default CHAP-MD5 challenge length.
	CHAPDefaultChallengeLen = 16
	// CHAPDefaultMaxChallenges is the default number of transmissions of one Challenge
	// (pppd's chap-max-challenge).
	CHAPDefaultMaxChallenges = 10
	// CHAPDefaultMaxWaits is the default number of restart-timer expiries a peer waits for
	// the authenticator before giving up.
	CHAPDefaultMaxWaits = 10
	// CHAPDefaultSuccessMessage and CHAPDefaultFailureMessage are sent when the backend
	// gives no message.
	CHAPDefaultSuccessMessage = "Access granted"
	CHAPDefaultFailureMessage = "Access denied"
	// CHAPMaxMessageLen bounds the Success and Failure texts taken from a backend.
	CHAPMaxMessageLen = 1000
)

// CHAPAuthenticatorConfig configures the authenticator side of CHAP.
type CHAPAuthenticatorConfig struct {
	// Algorithm is CHAPAlgorithmMD5 or CHAPAlgorithmMSCHAPv2; 0 means MD5.
	Algorithm CHAPAlgorithm
	// Name is our name, sent in every Challenge (RFC 1994 §4.1).
	Name string
	// ChallengeLen is the CHAP-MD5 challenge length, 1 to 255; 0 means
	// CHAPDefaultChallengeLen. MS-CHAPv2 challenges are always 16 octets.
	ChallengeLen int
	// MaxChallenges is how many times one Challenge is sent before giving up; 0 means
	// CHAPDefaultMaxChallenges.
	MaxChallenges int
	// Rand supplies the challenges and the first Identifier; nil means crypto/rand.
	Rand io.Reader
	// SuccessMessage and FailureMessage are sent when the backend's result has no
	// Message; empty means CHAPDefaultSuccessMessage and CHAPDefaultFailureMessage.
	SuccessMessage string
	FailureMessage string
	// Carrier is copied into every AuthRequest.
	Carrier AuthCarrier
}

// Validate reports whether the configuration can be used.
func (c CHAPAuthenticatorConfig) Validate() error {
	switch c.Algorithm {
	case 0, CHAPAlgorithmMD5, CHAPAlgorithmMSCHAPv2:
	default:
		return fmt.Errorf("ppp: CHAP algorithm %v is not supported", c.Algorithm)
	}
	if c.ChallengeLen < 0 || c.ChallengeLen > 255 {
		return errors.New("ppp: CHAP challenge length must be between 1 and 255")
	}
	if c.MaxChallenges < 0 {
		return errors.New("ppp: CHAP max challenges must not be negative")
	}
	if ControlHeaderLen+1+255+len(c.Name) > 0xffff {
		return errors.New("ppp: CHAP name too long")
	}
	return nil
}

type chapAuthState uint8

const (
	chapAuthIdle       chapAuthState = iota
	chapAuthChallenged               // waiting for the Response
	chapAuthDeciding                 // the backend has the request
	chapAuthSucceeded
	chapAuthFailed
)

// CHAPAuthenticator is the authenticator side of CHAP-MD5 (RFC 1994) and MS-CHAPv2
// (RFC 2759).
//
//   - Start sends a Challenge (random value, new Identifier) and starts the timer.
//   - Timeout resends the same Challenge and restarts the timer, until MaxChallenges
//     transmissions; then it fails with ErrAuthTimeout (no Failure is sent).
//   - Input of a Response with the Challenge's Identifier stops the timer and returns a
//     Request for the backend. Responses with another Identifier, and repeats while the
//     backend decides, are discarded (RFC 1994 §4.2). A response value of the wrong size
//     for the algorithm (not 16 octets for MD5, not 49 for MS-CHAPv2) fails at once.
//   - Decide sends Success or Failure and reports the outcome. For MS-CHAPv2 the Success
//     message is "S=<authenticator response> M=<message>", built from the result's
//     MSCHAPv2AuthResponse (an accept without it fails with ErrMSCHAPv2NoAuthResponse), and
//     the Failure message "E=691 R=0 C=<challenge> V=3 M=<message>".
//   - A Response repeating the Identifier of a finished exchange gets the same Success or
//     Failure again (RFC 1994 §4.2: the Success may be lost), without asking the backend.
//   - Rechallenge, allowed only after a success, starts a new exchange as Start does
//     (RFC 1994 §2: "at random intervals"); the owner calls it from its own timer. A
//     re-challenge that fails or times out reports AuthFailure and the owner ends the link.
type CHAPAuthenticator struct {
	cfg       CHAPAuthenticatorConfig
	state     chapAuthState
	started   bool
	id        uint8
	challenge []byte
	pkt       []byte // the Challenge, or the Success/Failure once decided
	sent      int
}

var _ AuthenticatorExchange = (*CHAPAuthenticator)(nil)

// NewCHAPAuthenticator returns a CHAP authenticator, or an error if cfg is invalid.
func NewCHAPAuthenticator(cfg CHAPAuthenticatorConfig) (*CHAPAuthenticator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Algorithm == 0 {
		cfg.Algorithm = CHAPAlgorithmMD5
	}
	if cfg.ChallengeLen == 0 {
		cfg.ChallengeLen = CHAPDefaultChallengeLen
	}
	if cfg.Algorithm == CHAPAlgorithmMSCHAPv2 {
		cfg.ChallengeLen = MSCHAPv2ChallengeLen
	}
	if cfg.MaxChallenges == 0 {
		cfg.MaxChallenges = CHAPDefaultMaxChallenges
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.SuccessMessage == "" {
		cfg.SuccessMessage = CHAPDefaultSuccessMessage
	}
	if cfg.FailureMessage == "" {
		cfg.FailureMessage = CHAPDefaultFailureMessage
	}
	return &CHAPAuthenticator{cfg: cfg}, nil
}

// Method returns AuthCHAPMD5 or AuthMSCHAPv2.
func (a *CHAPAuthenticator) Method() AuthMethod { return a.cfg.Algorithm.Method() }

// Start sends the first Challenge. Calls after the first do nothing.
func (a *CHAPAuthenticator) Start() AuthStep {
	if a.state != chapAuthIdle {
		return AuthStep{}
	}
	return a.newChallenge()
}

// Rechallenge starts a new Challenge after a successful exchange; in any other state it
// returns ErrAuthUnexpected and changes nothing.
func (a *CHAPAuthenticator) Rechallenge() AuthStep {
	if a.state != chapAuthSucceeded {
		return AuthStep{Err: ErrAuthUnexpected}
	}
	return a.newChallenge()
}

func (a *CHAPAuthenticator) newChallenge() AuthStep {
	buf := make([]byte, a.cfg.ChallengeLen+1)
	if _, err := io.ReadFull(a.cfg.Rand, buf); err != nil {
		a.state = chapAuthFailed
		a.pkt = nil
		return AuthStep{Timer: AuthTimerStop, Outcome: AuthFailure, Err: fmt.Errorf("%w: %w", ErrAuthRand, err)}
	}
	// RFC 1994 §4.1: the Identifier MUST be changed each time a Challenge is sent; the
	// first is random so that a new link does not start where an old one left off.
	if a.started {
		a.id++
	} else {
		a.id, a.started = buf[0], true
	}
	a.challenge = buf[1:]
	// The value length is 1 to 255 and Validate bounded the name: encoding cannot fail.
	a.pkt, _ = CHAPPacket{Code: CHAPCodeChallenge, Identifier: a.id, Value: a.challenge, Name: a.cfg.Name}.MarshalBinary()
	a.state = chapAuthChallenged
	a.sent = 1
	return AuthStep{Send: a.pkt, Timer: AuthTimerStart}
}

// Timeout resends the Challenge or gives up.
func (a *CHAPAuthenticator) Timeout() AuthStep {
	if a.state != chapAuthChallenged {
		return AuthStep{}
	}
	if a.sent >= a.cfg.MaxChallenges {
		a.state = chapAuthFailed
		a.pkt = nil
		return AuthStep{Timer: AuthTimerStop, Outcome: AuthFailure, Err: ErrAuthTimeout}
	}
	a.sent++
	return AuthStep{Send: a.pkt, Timer: AuthTimerStart}
}

// Input handles a packet from the peer.
func (a *CHAPAuthenticator) Input(pkt []byte) AuthStep {
	var in CHAPPacket
	if err := in.UnmarshalBinary(pkt); err != nil {
		return AuthStep{Err: err}
	}
	if in.Code != CHAPCodeResponse || in.Identifier != a.id {
		return AuthStep{Err: ErrAuthUnexpected}
	}
	switch a.state {
	case chapAuthChallenged:
	case chapAuthDeciding:
		return AuthStep{} // a repeat; the decision will answer it
	case chapAuthSucceeded, chapAuthFailed:
		if a.pkt == nil { // failed without sending a Failure
			return AuthStep{Err: ErrAuthUnexpected}
		}
		return AuthStep{Send: a.pkt}
	default:
		return AuthStep{Err: ErrAuthUnexpected}
	}

	req := &AuthRequest{
		Method:        a.Method(),
		Username:      in.Name,
		CHAPID:        in.Identifier,
		CHAPChallenge: bytes.Clone(a.challenge),
		Carrier:       a.cfg.Carrier,
	}
	var err error
	switch a.cfg.Algorithm {
	case CHAPAlgorithmMSCHAPv2:
		if err = req.MSCHAPv2.UnmarshalBinary(in.Value); err != nil {
			err = fmt.Errorf("%w: %w", ErrMSCHAPv2ValueSize, err)
		}
	default:
		if len(in.Value) != 16 {
			err = ErrCHAPValueSize
		}
		req.CHAPResponse = in.Value
	}
	if err != nil {
		// pppd fails the exchange on a malformed response too.
		step := a.reject(AuthResult{})
		step.Err = fmt.Errorf("%w: %w", ErrAuthRejected, err)
		return step
	}
	a.state = chapAuthDeciding
	return AuthStep{Timer: AuthTimerStop, Request: req}
}

// Decide answers the pending Response with the backend's result. A backend message longer
// than CHAPMaxMessageLen octets is truncated.
func (a *CHAPAuthenticator) Decide(res AuthResult) AuthStep {
	if a.state != chapAuthDeciding {
		return AuthStep{Err: ErrAuthUnexpected}
	}
	if !res.Accept {
		step := a.reject(res)
		step.Err = ErrAuthRejected
		return step
	}
	if a.cfg.Algorithm == CHAPAlgorithmMSCHAPv2 && len(res.MSCHAPv2AuthResponse) != MSCHAPv2AuthResponseLen {
		step := a.reject(AuthResult{})
		step.Err = ErrMSCHAPv2NoAuthResponse
		return step
	}
	res.Message = a.message(res.Message, a.cfg.SuccessMessage)
	text := res.Message
	if a.cfg.Algorithm == CHAPAlgorithmMSCHAPv2 {
		b, _ := MSCHAPv2Success{AuthResponse: [MSCHAPv2AuthResponseLen]byte(res.MSCHAPv2AuthResponse), Message: text}.MarshalBinary()
		text = string(b)
	}
	a.pkt, _ = CHAPPacket{Code: CHAPCodeSuccess, Identifier: a.id, Message: text}.MarshalBinary()
	a.state = chapAuthSucceeded
	return AuthStep{Send: a.pkt, Timer: AuthTimerStop, Outcome: AuthSuccess, Result: &res}
}

// reject ends the current exchange with a Failure and records it for repeated Responses.
func (a *CHAPAuthenticator) reject(res AuthResult) AuthStep {
	res.Message = a.message(res.Message, a.cfg.FailureMessage)
	text := res.Message
	if a.cfg.Algorithm == CHAPAlgorithmMSCHAPv2 {
		// RFC 2759 §6. R=0: probox does not offer retries or password changes.
		b, _ := MSCHAPv2Failure{
			Error:     MSCHAPErrAuthenticationFailed,
			Challenge: [MSCHAPv2ChallengeLen]byte(a.challenge),
			Version:   MSCHAPv2PasswordChangeVersion,
			Message:   text,
		}.MarshalBinary()
		text = string(b)
	}
	a.pkt, _ = CHAPPacket{Code: CHAPCodeFailure, Identifier: a.id, Message: text}.MarshalBinary()
	a.state = chapAuthFailed
	return AuthStep{Send: a.pkt, Timer: AuthTimerStop, Outcome: AuthFailure, Result: &res}
}

// message returns msg, or def when msg is empty, bounded to CHAPMaxMessageLen.
func (a *CHAPAuthenticator) message(msg, def string) string {
	if msg == "" {
		msg = def
	}
	if len(msg) > CHAPMaxMessageLen {
		msg = msg[:CHAPMaxMessageLen]
	}
	return msg
}

// CHAPPeerConfig configures the peer (client) side of CHAP.
type CHAPPeerConfig struct {
	// Algorithm is CHAPAlgorithmMD5 or CHAPAlgorithmMSCHAPv2; 0 means MD5.
	Algorithm CHAPAlgorithm
	// Name is our user name, sent in every Response; for MS-CHAPv2 it may carry a
	// "DOMAIN\" prefix.
	Name string
	// Secret is our password.
	Secret string
	// Rand supplies the MS-CHAPv2 Peer-Challenge; nil means crypto/rand.
	Rand io.Reader
	// MaxWaits is how many restart-timer expiries the peer waits, until its first
	// success, for a Challenge or for the verdict on its Response; 0 means
	// CHAPDefaultMaxWaits.
	MaxWaits int
}

// Validate reports whether the configuration can be used.
func (c CHAPPeerConfig) Validate() error {
	switch c.Algorithm {
	case 0, CHAPAlgorithmMD5, CHAPAlgorithmMSCHAPv2:
	default:
		return fmt.Errorf("ppp: CHAP algorithm %v is not supported", c.Algorithm)
	}
	if c.MaxWaits < 0 {
		return errors.New("ppp: CHAP max waits must not be negative")
	}
	if ControlHeaderLen+1+255+len(c.Name) > 0xffff {
		return errors.New("ppp: CHAP name too long")
	}
	return nil
}

type chapPeerState uint8

const (
	chapPeerWaiting   chapPeerState = iota // for a Challenge
	chapPeerResponded                      // for Success or Failure
	chapPeerSucceeded
	chapPeerFailed
)

// CHAPPeer is the peer side of CHAP-MD5 (RFC 1994) and MS-CHAPv2 (RFC 2759). The
// authenticator drives the exchange: the peer answers every Challenge, re-challenges
// included, and never retransmits on its own.
//
//   - Start starts the timer (the wait for a Challenge).
//   - Input of a Challenge sends a Response. A repeated Challenge (same Identifier and
//     value) gets the same Response again.
//   - Input of a Success with the Response's Identifier succeeds; for MS-CHAPv2 the
//     authenticator response in it must match the one computed from our password, or the
//     exchange fails with ErrMSCHAPv2MutualAuth (RFC 2759 §5), and on success Result.MPPE
//     holds our MPPE keys.
//   - Input of a Failure with the Response's Identifier fails with ErrAuthRejected (for
//     MS-CHAPv2 the error wraps the E= code). MS-CHAPv2 retries (R=1) and password changes
//     are not attempted.
//   - Until the first success, each step that leaves the peer waiting starts the timer, and
//     Timeout fails with ErrAuthTimeout after MaxWaits expiries. After a success the timer
//     is stopped and re-challenges run without it: the authenticator times them out.
type CHAPPeer struct {
	cfg       CHAPPeerConfig
	state     chapPeerState
	succeeded bool // at least once
	waits     int
	id        uint8
	challenge []byte
	pkt       []byte // the last Response sent
	authResp  [MSCHAPv2AuthResponseLen]byte
	mppe      MPPEKeys
}

var _ AuthExchange = (*CHAPPeer)(nil)

// NewCHAPPeer returns a CHAP peer, or an error if cfg is invalid.
func NewCHAPPeer(cfg CHAPPeerConfig) (*CHAPPeer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Algorithm == 0 {
		cfg.Algorithm = CHAPAlgorithmMD5
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.MaxWaits == 0 {
		cfg.MaxWaits = CHAPDefaultMaxWaits
	}
	return &CHAPPeer{cfg: cfg}, nil
}

// Method returns AuthCHAPMD5 or AuthMSCHAPv2.
func (p *CHAPPeer) Method() AuthMethod { return p.cfg.Algorithm.Method() }

// Start starts the wait for a Challenge.
func (p *CHAPPeer) Start() AuthStep {
	if p.state != chapPeerWaiting || p.succeeded {
		return AuthStep{}
	}
	return AuthStep{Timer: AuthTimerStart}
}

// Timeout counts an expiry of the wait for the authenticator.
func (p *CHAPPeer) Timeout() AuthStep {
	if p.succeeded || (p.state != chapPeerWaiting && p.state != chapPeerResponded) {
		return AuthStep{}
	}
	p.waits++
	if p.waits >= p.cfg.MaxWaits {
		p.state = chapPeerFailed
		return AuthStep{Timer: AuthTimerStop, Outcome: AuthFailure, Err: ErrAuthTimeout}
	}
	return AuthStep{Timer: AuthTimerStart}
}

// waitTimer is the timer action while the peer waits for the authenticator.
func (p *CHAPPeer) waitTimer() AuthTimer {
	if p.succeeded {
		return AuthTimerKeep
	}
	return AuthTimerStart
}

// Input handles a packet from the authenticator.
func (p *CHAPPeer) Input(pkt []byte) AuthStep {
	var in CHAPPacket
	if err := in.UnmarshalBinary(pkt); err != nil {
		return AuthStep{Err: err}
	}
	switch in.Code {
	case CHAPCodeChallenge:
		return p.challengeIn(in)
	case CHAPCodeSuccess, CHAPCodeFailure:
		if p.state != chapPeerResponded || in.Identifier != p.id {
			return AuthStep{Err: ErrAuthUnexpected}
		}
		if in.Code == CHAPCodeSuccess {
			return p.successIn(in)
		}
		return p.failureIn(in)
	}
	return AuthStep{Err: ErrAuthUnexpected}
}

func (p *CHAPPeer) challengeIn(in CHAPPacket) AuthStep {
	switch p.state {
	case chapPeerFailed:
		return AuthStep{Err: ErrAuthUnexpected}
	case chapPeerResponded:
		if in.Identifier == p.id && bytes.Equal(in.Value, p.challenge) {
			return AuthStep{Send: p.pkt, Timer: p.waitTimer()}
		}
	}
	var value []byte
	switch p.cfg.Algorithm {
	case CHAPAlgorithmMSCHAPv2:
		if len(in.Value) != MSCHAPv2ChallengeLen {
			return AuthStep{Err: ErrMSCHAPv2ValueSize}
		}
		auth := [MSCHAPv2ChallengeLen]byte(in.Value)
		var r MSCHAPv2Response
		if _, err := io.ReadFull(p.cfg.Rand, r.PeerChallenge[:]); err != nil {
			return AuthStep{Err: fmt.Errorf("%w: %w", ErrAuthRand, err)}
		}
		hash := MSCHAPNTPasswordHash(p.cfg.Secret)
		r.NTResponse = MSCHAPv2NTResponse(auth, r.PeerChallenge, p.cfg.Name, hash)
		p.authResp = MSCHAPv2AuthenticatorResponse(hash, r.NTResponse, r.PeerChallenge, auth, p.cfg.Name)
		p.mppe = MPPEKeysFromNTHash(hash, r.NTResponse, false)
		value, _ = r.MarshalBinary()
	default:
		v := CHAPMD5Response(in.Identifier, p.cfg.Secret, in.Value)
		value = v[:]
	}
	p.state = chapPeerResponded
	p.id = in.Identifier
	p.challenge = in.Value // UnmarshalBinary made a copy
	// The value is 16 or 49 octets and Validate bounded the name: encoding cannot fail.
	p.pkt, _ = CHAPPacket{Code: CHAPCodeResponse, Identifier: in.Identifier, Value: value, Name: p.cfg.Name}.MarshalBinary()
	return AuthStep{Send: p.pkt, Timer: p.waitTimer()}
}

func (p *CHAPPeer) successIn(in CHAPPacket) AuthStep {
	res := &AuthResult{Accept: true, Message: in.Message}
	if p.cfg.Algorithm == CHAPAlgorithmMSCHAPv2 {
		var s MSCHAPv2Success
		err := s.UnmarshalBinary([]byte(in.Message))
		if err == nil && subtle.ConstantTimeCompare(s.AuthResponse[:], p.authResp[:]) != 1 {
			err = errors.New("authenticator response does not match")
		}
		if err != nil {
			p.state = chapPeerFailed
			return AuthStep{Timer: AuthTimerStop, Outcome: AuthFailure,
				Result: &AuthResult{Message: s.Message}, Err: fmt.Errorf("%w: %w", ErrMSCHAPv2MutualAuth, err)}
		}
		keys := p.mppe
		res.Message, res.MSCHAPv2AuthResponse, res.MPPE = s.Message, bytes.Clone(p.authResp[:]), &keys
	}
	p.state, p.succeeded = chapPeerSucceeded, true
	return AuthStep{Timer: AuthTimerStop, Outcome: AuthSuccess, Result: res}
}

func (p *CHAPPeer) failureIn(in CHAPPacket) AuthStep {
	p.state = chapPeerFailed
	res := &AuthResult{Message: in.Message}
	err := ErrAuthRejected
	if p.cfg.Algorithm == CHAPAlgorithmMSCHAPv2 {
		var f MSCHAPv2Failure
		if f.UnmarshalBinary([]byte(in.Message)) == nil {
			res.Message = f.Message
			err = fmt.Errorf("%w: MS-CHAPv2 error %d", ErrAuthRejected, f.Error)
		}
	}
	return AuthStep{Timer: AuthTimerStop, Outcome: AuthFailure, Result: res, Err: err}
}
