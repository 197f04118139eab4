package ppp

import (
	"errors"
	"fmt"
	"io"
)

// PAP packet codes (RFC 1334 §2.2).
const (
	PAPCodeRequest Code = 1 // Authenticate-Request
	PAPCodeAck     Code = 2 // Authenticate-Ack
	PAPCodeNak     Code = 3 // Authenticate-Nak
)

// Errors returned by the PAP codec.
var (
	// ErrPAPBadCode is returned for a PAP packet whose Code is not 1, 2 or 3.
	ErrPAPBadCode = errors.New("ppp: unknown PAP code")
	// ErrPAPFieldLength is returned when a Peer-ID, Passwd or Msg length field runs past the
	// end of the packet, or when a field is too long (over 255 octets) to encode.
	ErrPAPFieldLength = errors.New("ppp: PAP field length exceeds packet")
)

// PAPPacket is a PAP packet (RFC 1334 §2.2). An Authenticate-Request carries PeerID and
// Password; an Authenticate-Ack or -Nak carries Message. String and GoString never print the
// password.
type PAPPacket struct {
	Code       Code
	Identifier uint8
	PeerID     string
	Password   string
	Message    string
}

func (p PAPPacket) String() string {
	switch p.Code {
	case PAPCodeRequest:
		return fmt.Sprintf("PAP Authenticate-Request id=%d peer-id=%q password=[redacted]", p.Identifier, p.PeerID)
	case PAPCodeAck:
		return fmt.Sprintf("PAP Authenticate-Ack id=%d message=%q", p.Identifier, p.Message)
	case PAPCodeNak:
		return fmt.Sprintf("PAP Authenticate-Nak id=%d message=%q", p.Identifier, p.Message)
	}
	return fmt.Sprintf("PAP code=%d id=%d", uint8(p.Code), p.Identifier)
}

// GoString keeps %#v from printing the password.
func (p PAPPacket) GoString() string { return "ppp.PAPPacket{" + p.String() + "}" }

// UnmarshalBinary decodes a PAP packet. Octets past the Length field, and past the last
// field inside it, are ignored. An Ack or Nak without a Msg-Length octet is accepted with an
// empty message (some peers send one).
func (p *PAPPacket) UnmarshalBinary(b []byte) error {
	h, data, err := ParseControl(b)
	if err != nil {
		return err
	}
	*p = PAPPacket{Code: h.Code, Identifier: h.Identifier}
	switch h.Code {
	case PAPCodeRequest:
		id, rest, err := papField(data)
		if err != nil {
			return err
		}
		pw, _, err := papField(rest)
		if err != nil {
			return err
		}
		p.PeerID, p.Password = string(id), string(pw)
	case PAPCodeAck, PAPCodeNak:
		if len(data) == 0 {
			return nil
		}
		msg, _, err := papField(data)
		if err != nil {
			return err
		}
		p.Message = string(msg)
	default:
		return ErrPAPBadCode
	}
	return nil
}

// papField splits a length-prefixed field off b.
func papField(b []byte) (field, rest []byte, err error) {
	if len(b) < 1 {
		return nil, nil, io.ErrUnexpectedEOF
	}
	n := int(b[0])
	if 1+n > len(b) {
		return nil, nil, ErrPAPFieldLength
	}
	return b[1 : 1+n], b[1+n:], nil
}

// AppendBinary appends the encoded packet to dst.
func (p PAPPacket) AppendBinary(dst []byte) ([]byte, error) {
	var data []byte
	switch p.Code {
	case PAPCodeRequest:
		if len(p.PeerID) > 255 || len(p.Password) > 255 {
			return dst, ErrPAPFieldLength
		}
		data = make([]byte, 0, 2+len(p.PeerID)+len(p.Password))
		data = append(data, byte(len(p.PeerID)))
		data = append(data, p.PeerID...)
		data = append(data, byte(len(p.Password)))
		data = append(data, p.Password...)
	case PAPCodeAck, PAPCodeNak:
		if len(p.Message) > 255 {
			return dst, ErrPAPFieldLength
		}
		data = append(append(make([]byte, 0, 1+len(p.Message)), byte(len(p.Message))), p.Message...)
	default:
		return dst, ErrPAPBadCode
	}
	return AppendControl(dst, p.Code, p.Identifier, data), nil
}

// MarshalBinary returns the encoded packet.
func (p PAPPacket) MarshalBinary() ([]byte, error) { return p.AppendBinary(nil) }

// Defaults of the PAP exchanges.
const (
	// PAPDefaultMaxRequests is the default number of Authenticate-Request transmissions
	// before the peer gives up (pppd's pap-max-authreq).
	PAPDefaultMaxRequests = 10
	// PAPDefaultMaxWaits is the default number of restart-timer expiries the authenticator
	// waits for an Authenticate-Request.
	PAPDefaultMaxWaits = 10
	// PAPDefaultAckMessage and PAPDefaultNakMessage are sent when the backend gives no
	// message.
	PAPDefaultAckMessage = "Login ok"
	PAPDefaultNakMessage = "Login incorrect"
)

// PAPPeerConfig configures the peer (client) side of PAP.
type PAPPeerConfig struct {
	// PeerID and Password are our credentials, each at most 255 octets.
	PeerID   string
	Password string
	// MaxRequests is how many times an Authenticate-Request is sent before giving up;
	// 0 means PAPDefaultMaxRequests.
	MaxRequests int
}

// Validate reports whether the configuration can be used.
func (c PAPPeerConfig) Validate() error {
	if len(c.PeerID) > 255 || len(c.Password) > 255 {
		return fmt.Errorf("ppp: PAP peer-id and password must be at most 255 octets: %w", ErrPAPFieldLength)
	}
	if c.MaxRequests < 0 {
		return errors.New("ppp: PAP max requests must not be negative")
	}
	return nil
}

type papPeerState uint8

const (
	papPeerIdle papPeerState = iota
	papPeerWaiting
	papPeerDone
)

// PAPPeer is the peer side of PAP (RFC 1334 §2.1): it sends Authenticate-Requests until
// the authenticator answers. All requests of an exchange carry the same Identifier (the
// first is 1), so one Ack or Nak answers them all.
//
//   - Start sends the first request and starts the timer.
//   - Timeout resends it and restarts the timer, until MaxRequests requests have gone out;
//     then it fails with ErrAuthTimeout.
//   - Input of an Ack with our Identifier succeeds, of a Nak fails with ErrAuthRejected;
//     both stop the timer, and Result.Message holds the authenticator's message.
type PAPPeer struct {
	cfg   PAPPeerConfig
	state papPeerState
	id    uint8
	sent  int
	pkt   []byte
}

var _ AuthExchange = (*PAPPeer)(nil)

// NewPAPPeer returns a PAP peer, or an error if cfg is invalid.
func NewPAPPeer(cfg PAPPeerConfig) (*PAPPeer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxRequests == 0 {
		cfg.MaxRequests = PAPDefaultMaxRequests
	}
	return &PAPPeer{cfg: cfg, id: 1}, nil
}

// Method returns AuthPAP.
func (p *PAPPeer) Method() AuthMethod { return AuthPAP }

// Start sends the first Authenticate-Request. Calls after the first do nothing.
func (p *PAPPeer) Start() AuthStep {
	if p.state != papPeerIdle {
		return AuthStep{}
	}
	// Validate bounded the field lengths, so encoding cannot fail.
	p.pkt, _ = PAPPacket{Code: PAPCodeRequest, Identifier: p.id, PeerID: p.cfg.PeerID, Password: p.cfg.Password}.MarshalBinary()
	p.state = papPeerWaiting
	p.sent = 1
	return AuthStep{Send: p.pkt, Timer: AuthTimerStart}
}

// Timeout resends the request, or fails after MaxRequests transmissions (RFC 1334 §2.1:
// "repeated until a valid reply packet is received, or an optional retry counter expires").
func (p *PAPPeer) Timeout() AuthStep {
	if p.state != papPeerWaiting {
		return AuthStep{}
	}
	if p.sent >= p.cfg.MaxRequests {
		p.state = papPeerDone
		return AuthStep{Timer: AuthTimerStop, Outcome: AuthFailure, Err: ErrAuthTimeout}
	}
	p.sent++
	return AuthStep{Send: p.pkt, Timer: AuthTimerStart}
}

// Input handles a packet from the authenticator.
func (p *PAPPeer) Input(pkt []byte) AuthStep {
	var in PAPPacket
	if err := in.UnmarshalBinary(pkt); err != nil {
		return AuthStep{Err: err}
	}
	if p.state != papPeerWaiting || in.Identifier != p.id {
		return AuthStep{Err: ErrAuthUnexpected}
	}
	switch in.Code {
	case PAPCodeAck:
		p.state = papPeerDone
		return AuthStep{Timer: AuthTimerStop, Outcome: AuthSuccess, Result: &AuthResult{Accept: true, Message: in.Message}}
	case PAPCodeNak:
		p.state = papPeerDone
		return AuthStep{Timer: AuthTimerStop, Outcome: AuthFailure, Result: &AuthResult{Message: in.Message}, Err: ErrAuthRejected}
	}
	return AuthStep{Err: ErrAuthUnexpected}
}

// PAPAuthenticatorConfig configures the authenticator side of PAP.
type PAPAuthenticatorConfig struct {
	// Carrier is copied into every AuthRequest.
	Carrier AuthCarrier
	// MaxWaits is how many restart-timer expiries the authenticator waits for an
	// Authenticate-Request before failing; 0 means PAPDefaultMaxWaits.
	MaxWaits int
	// AckMessage and NakMessage are sent when the backend's result has no Message; empty
	// means PAPDefaultAckMessage and PAPDefaultNakMessage.
	AckMessage string
	NakMessage string
}

// Validate reports whether the configuration can be used.
func (c PAPAuthenticatorConfig) Validate() error {
	if c.MaxWaits < 0 {
		return errors.New("ppp: PAP max waits must not be negative")
	}
	if len(c.AckMessage) > 255 || len(c.NakMessage) > 255 {
		return fmt.Errorf("ppp: PAP messages must be at most 255 octets: %w", ErrPAPFieldLength)
	}
	return nil
}

type papAuthState uint8

const (
	papAuthWaiting  papAuthState = iota // for an Authenticate-Request
	papAuthDeciding                     // the backend has the request
	papAuthAcked
	papAuthNaked
	papAuthTimedOut
)

// PAPAuthenticator is the authenticator side of PAP (RFC 1334 §2.1). The peer drives the
// exchange; the authenticator answers.
//
//   - Start starts the timer (the wait for the peer's request); each Timeout restarts it
//     until MaxWaits have expired, then fails with ErrAuthTimeout.
//   - Input of an Authenticate-Request stops the timer and returns a Request for the
//     backend. While the decision is pending, repeats of the same request are absorbed (the
//     reply then carries the newest Identifier) and different requests are discarded.
//   - Decide sends the Ack or Nak and reports the outcome with the backend's result.
//   - After the outcome, every further Authenticate-Request gets the same reply code and
//     message again with its own Identifier, without asking the backend (RFC 1334 §2.1:
//     the Ack may be lost, and repeated requests "MUST return the same reply Code").
type PAPAuthenticator struct {
	cfg     PAPAuthenticatorConfig
	state   papAuthState
	waits   int
	replyID uint8
	peerID  string
	passwd  string
	reply   PAPPacket // the Ack or Nak sent, Identifier aside
}

var _ AuthenticatorExchange = (*PAPAuthenticator)(nil)

// NewPAPAuthenticator returns a PAP authenticator, or an error if cfg is invalid.
func NewPAPAuthenticator(cfg PAPAuthenticatorConfig) (*PAPAuthenticator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxWaits == 0 {
		cfg.MaxWaits = PAPDefaultMaxWaits
	}
	if cfg.AckMessage == "" {
		cfg.AckMessage = PAPDefaultAckMessage
	}
	if cfg.NakMessage == "" {
		cfg.NakMessage = PAPDefaultNakMessage
	}
	return &PAPAuthenticator{cfg: cfg}, nil
}

// Method returns AuthPAP.
func (a *PAPAuthenticator) Method() AuthMethod { return AuthPAP }

// Start starts the wait for the peer's request.
func (a *PAPAuthenticator) Start() AuthStep {
	if a.state != papAuthWaiting {
		return AuthStep{}
	}
	return AuthStep{Timer: AuthTimerStart}
}

// Timeout counts an expiry of the wait for a request.
func (a *PAPAuthenticator) Timeout() AuthStep {
	if a.state != papAuthWaiting {
		return AuthStep{}
	}
	a.waits++
	if a.waits >= a.cfg.MaxWaits {
		a.state = papAuthTimedOut
		return AuthStep{Timer: AuthTimerStop, Outcome: AuthFailure, Err: ErrAuthTimeout}
	}
	return AuthStep{Timer: AuthTimerStart}
}

// Input handles a packet from the peer.
func (a *PAPAuthenticator) Input(pkt []byte) AuthStep {
	var in PAPPacket
	if err := in.UnmarshalBinary(pkt); err != nil {
		return AuthStep{Err: err}
	}
	if in.Code != PAPCodeRequest {
		return AuthStep{Err: ErrAuthUnexpected}
	}
	switch a.state {
	case papAuthWaiting:
		a.state = papAuthDeciding
		a.replyID, a.peerID, a.passwd = in.Identifier, in.PeerID, in.Password
		return AuthStep{Timer: AuthTimerStop, Request: &AuthRequest{
			Method:   AuthPAP,
			Username: in.PeerID,
			Password: in.Password,
			Carrier:  a.cfg.Carrier,
		}}
	case papAuthDeciding:
		if in.PeerID != a.peerID || in.Password != a.passwd {
			return AuthStep{Err: ErrAuthUnexpected}
		}
		a.replyID = in.Identifier
		return AuthStep{}
	case papAuthAcked, papAuthNaked:
		r := a.reply
		r.Identifier = in.Identifier
		out, _ := r.MarshalBinary() // the message was checked in Decide
		return AuthStep{Send: out}
	}
	return AuthStep{Err: ErrAuthUnexpected}
}

// Decide answers the pending request with the backend's result. A backend message longer
// than 255 octets (the Msg-Length limit) is truncated.
func (a *PAPAuthenticator) Decide(res AuthResult) AuthStep {
	if a.state != papAuthDeciding {
		return AuthStep{Err: ErrAuthUnexpected}
	}
	a.passwd = ""
	msg := res.Message
	if len(msg) > 255 {
		msg = msg[:255]
	}
	step := AuthStep{Timer: AuthTimerStop, Result: &res}
	if res.Accept {
		if msg == "" {
			msg = a.cfg.AckMessage
		}
		a.state, a.reply = papAuthAcked, PAPPacket{Code: PAPCodeAck, Message: msg}
		step.Outcome = AuthSuccess
	} else {
		if msg == "" {
			msg = a.cfg.NakMessage
		}
		a.state, a.reply = papAuthNaked, PAPPacket{Code: PAPCodeNak, Message: msg}
		step.Outcome, step.Err = AuthFailure, ErrAuthRejected
	}
	res.Message = msg
	r := a.reply
	r.Identifier = a.replyID
	step.Send, _ = r.MarshalBinary()
	return step
}
