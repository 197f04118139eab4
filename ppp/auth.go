package ppp

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Authentication (RFC 1661 §3.5 Authentication phase).
//
// Each method has two pure exchange objects, one per role: PAPAuthenticator and PAPPeer
// (pap.go), CHAPAuthenticator and CHAPPeer (chap.go; they run CHAP-MD5 or MS-CHAPv2). They do
// no I/O, hold no timers and never block: the session actor feeds them events and carries
// out the AuthStep each call returns. The authenticator objects never see a secret: they turn
// the peer's packet into an AuthRequest, the actor asks its AuthBackend (local secrets file
// or RADIUS) and hands the AuthResult back with Decide.

// AuthMethod is an authentication method of a PPP session.
type AuthMethod uint8

// Authentication methods.
const (
	AuthNone     AuthMethod = iota // no authentication
	AuthPAP                        // PAP, RFC 1334 §2
	AuthCHAPMD5                    // CHAP with MD5, RFC 1994
	AuthMSCHAPv2                   // MS-CHAPv2, RFC 2759
	// AuthProxy marks a session whose authentication an L2TP LAC performed and relayed
	// (RFC 2661 §18) and for which the LNS has no proof to check (Proxy Authen Type "No
	// Authentication"), for events and metrics. A relayed PAP or CHAP proof is checked as
	// an AuthPAP or AuthCHAPMD5 request with AuthRequest.Proxy set.
	AuthProxy
)

func (m AuthMethod) String() string {
	switch m {
	case AuthNone:
		return "none"
	case AuthPAP:
		return "PAP"
	case AuthCHAPMD5:
		return "CHAP-MD5"
	case AuthMSCHAPv2:
		return "MS-CHAPv2"
	case AuthProxy:
		return "proxy"
	}
	return fmt.Sprintf("AuthMethod(%d)", uint8(m))
}

// Protocol returns the PPP protocol that carries m (ProtoPAP or ProtoCHAP), or 0 when m is
// not exchanged over PPP. With CHAPAlgorithm it gives the data of the LCP
// Authentication-Protocol option (RFC 1661 §6.2, RFC 1994 §3).
func (m AuthMethod) Protocol() Protocol {
	switch m {
	case AuthPAP:
		return ProtoPAP
	case AuthCHAPMD5, AuthMSCHAPv2:
		return ProtoCHAP
	}
	return 0
}

// CHAPAlgorithm returns the CHAP Algorithm octet for m, and false when m is not a CHAP
// method.
func (m AuthMethod) CHAPAlgorithm() (CHAPAlgorithm, bool) {
	switch m {
	case AuthCHAPMD5:
		return CHAPAlgorithmMD5, true
	case AuthMSCHAPv2:
		return CHAPAlgorithmMSCHAPv2, true
	}
	return 0, false
}

// AuthCarrier is what the carrier (PPPoE or L2TP) knows about the subscriber line, passed
// to the backend with every request (RADIUS maps it to Calling-Station-Id, NAS-Port-Id and
// the DSL Forum attributes).
type AuthCarrier struct {
	// CallingStationID is the PPPoE client's MAC address or the L2TP Calling Number AVP.
	CallingStationID string
	// CalledStationID is the PPPoE service name or the L2TP Called Number AVP.
	CalledStationID string
	// CircuitID is the PPPoE Agent-Circuit-Id (RFC 4679 §3.3.1) from an intermediate agent.
	CircuitID string
	// RemoteID is the PPPoE Agent-Remote-Id (RFC 4679 §3.3.2).
	RemoteID string
	// NASPortID names the port: access interface and VLANs, or L2TP tunnel and session.
	NASPortID string
}

// AuthRequest is a decision request for an AuthBackend: the peer's identity and the
// method's proof. String and GoString print no password and no response value.
type AuthRequest struct {
	Method AuthMethod
	// Username is the name as the peer presented it (PAP Peer-ID, CHAP Name), domain
	// included. MS-CHAPv2 hashes it without the domain (MSCHAPv2UserName).
	Username string
	// Proxy is set when an L2TP LAC relayed the proof (RFC 2661 §18) instead of the peer
	// exchanging it with this engine.
	Proxy bool

	// Password is the PAP password.
	Password string

	// CHAPID is the CHAP Identifier of the exchange (CHAP-MD5 and MS-CHAPv2).
	CHAPID uint8
	// CHAPChallenge is the challenge the authenticator sent: any length for CHAP-MD5,
	// the 16-octet Authenticator Challenge for MS-CHAPv2.
	CHAPChallenge []byte
	// CHAPResponse is the CHAP-MD5 response value (16 octets).
	CHAPResponse []byte
	// MSCHAPv2 is the MS-CHAPv2 response (Peer-Challenge, NT-Response, Flags).
	MSCHAPv2 MSCHAPv2Response

	// Carrier describes the line the session arrived on.
	Carrier AuthCarrier
}

func (r AuthRequest) String() string {
	return fmt.Sprintf("AuthRequest{method=%v user=%q proxy=%t chap_id=%d carrier=%+v}",
		r.Method, r.Username, r.Proxy, r.CHAPID, r.Carrier)
}

// GoString keeps %#v from printing the proof.
func (r AuthRequest) GoString() string { return "ppp." + r.String() }

// AuthResult is a backend's decision, with what it knows about the user. String and
// GoString print neither the MPPE keys nor the authenticator response.
type AuthResult struct {
	// Accept is true when the user is authenticated.
	Accept bool
	// Message is the text for the peer (PAP Ack/Nak message, CHAP Success/Failure text,
	// MS-CHAPv2 M= field). Empty means the exchange object's default.
	Message string
	// MSCHAPv2AuthResponse is the 20-octet authenticator response of RFC 2759 §8.7, which
	// an MS-CHAPv2 accept must carry (RADIUS: MS-CHAP2-Success, RFC 2548 §2.3.3).
	MSCHAPv2AuthResponse []byte
	// MPPE holds the MPPE start keys when the backend computed them (MS-CHAPv2), from the
	// point of view of the side that receives this result.
	MPPE *MPPEKeys

	// IPv4Address is a static address for the peer; the zero Addr means none.
	IPv4Address netip.Addr
	// Pool names the address pool to draw the peer's address from; empty means the
	// profile's default.
	Pool string
	// DNS are DNS servers to offer the peer (RFC 1877) instead of the profile's.
	DNS []netip.Addr
	// SessionTimeout limits the session's lifetime; zero means no limit.
	SessionTimeout time.Duration
}

func (r AuthResult) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "AuthResult{accept=%t message=%q", r.Accept, r.Message)
	if r.IPv4Address.IsValid() {
		fmt.Fprintf(&b, " ipv4=%v", r.IPv4Address)
	}
	if r.Pool != "" {
		fmt.Fprintf(&b, " pool=%q", r.Pool)
	}
	if len(r.DNS) > 0 {
		fmt.Fprintf(&b, " dns=%v", r.DNS)
	}
	if r.SessionTimeout != 0 {
		fmt.Fprintf(&b, " session_timeout=%v", r.SessionTimeout)
	}
	if r.MPPE != nil {
		b.WriteString(" mppe=[redacted]")
	}
	b.WriteString("}")
	return b.String()
}

// GoString keeps %#v from printing the keys.
func (r AuthResult) GoString() string { return "ppp." + r.String() }

// AuthBackend decides authentication requests: the local secrets file, RADIUS, or a test
// double. Authenticate may block (RADIUS round trips), so the session actor calls it outside
// its event loop and returns the result to the exchange object's Decide. A reject is a
// result with Accept false and a nil error; an error means no decision could be made
// (backend unreachable, ctx done), which the actor treats as a reject. Implementations must
// be safe for concurrent use and must not retain req's slices.
type AuthBackend interface {
	Authenticate(ctx context.Context, req AuthRequest) (AuthResult, error)
}

// SecretStore looks up a user's cleartext secret; the local secrets file implements it.
// Implementations must be safe for concurrent use.
type SecretStore interface {
	Lookup(user string) (secret string, ok bool)
}

// AddressStore is implemented by a SecretStore that also holds per-user static IPv4
// addresses, as the local secrets file does (Secrets).
type AddressStore interface {
	Address(user string) (netip.Addr, bool)
}

// LocalBackend is an AuthBackend that checks every request against a SecretStore with
// VerifyLocal. An unknown user gets the same reject as a wrong password. When the store is
// also an AddressStore, an accepted user's static address is put in the result's
// IPv4Address.
type LocalBackend struct {
	Secrets SecretStore
}

var _ AuthBackend = LocalBackend{}

// Authenticate implements AuthBackend.
func (b LocalBackend) Authenticate(ctx context.Context, req AuthRequest) (AuthResult, error) {
	if err := ctx.Err(); err != nil {
		return AuthResult{}, err
	}
	if b.Secrets == nil {
		return AuthResult{}, nil
	}
	secret, ok := b.Secrets.Lookup(req.Username)
	if !ok {
		return AuthResult{}, nil
	}
	res := VerifyLocal(req, secret)
	if as, ok := b.Secrets.(AddressStore); ok && res.Accept {
		if a, ok := as.Address(req.Username); ok {
			res.IPv4Address = a
		}
	}
	return res, nil
}

// VerifyLocal checks req against the user's cleartext password: PAP compares in constant
// time, CHAP-MD5 recomputes MD5(Identifier || secret || Challenge) (RFC 1994 §2), MS-CHAPv2
// recomputes the NT-Response and on success fills in the authenticator response and the
// authenticator's MPPE keys. Other methods are rejected. The result's Message is empty, so
// the exchange object's default text is sent.
func VerifyLocal(req AuthRequest, password string) AuthResult {
	switch req.Method {
	case AuthPAP:
		// Hash both sides so the comparison's time does not depend on the lengths either.
		a, b := sha256.Sum256([]byte(req.Password)), sha256.Sum256([]byte(password))
		return AuthResult{Accept: subtle.ConstantTimeCompare(a[:], b[:]) == 1}
	case AuthCHAPMD5:
		want := CHAPMD5Response(req.CHAPID, password, req.CHAPChallenge)
		return AuthResult{Accept: subtle.ConstantTimeCompare(want[:], req.CHAPResponse) == 1}
	case AuthMSCHAPv2:
		return verifyMSCHAPv2(req, MSCHAPNTPasswordHash(password))
	}
	return AuthResult{}
}

// VerifyLocalNTHash is VerifyLocal for a user whose store holds only the NT hash of the
// password (MSCHAPNTPasswordHash): MS-CHAPv2 and PAP can be checked, CHAP-MD5 cannot and is
// rejected.
func VerifyLocalNTHash(req AuthRequest, ntHash [MD4Size]byte) AuthResult {
	switch req.Method {
	case AuthPAP:
		got := MSCHAPNTPasswordHash(req.Password)
		return AuthResult{Accept: subtle.ConstantTimeCompare(got[:], ntHash[:]) == 1}
	case AuthMSCHAPv2:
		return verifyMSCHAPv2(req, ntHash)
	}
	return AuthResult{}
}

func verifyMSCHAPv2(req AuthRequest, ntHash [MD4Size]byte) AuthResult {
	if len(req.CHAPChallenge) != MSCHAPv2ChallengeLen {
		return AuthResult{}
	}
	auth := [MSCHAPv2ChallengeLen]byte(req.CHAPChallenge)
	r := req.MSCHAPv2
	want := MSCHAPv2NTResponse(auth, r.PeerChallenge, req.Username, ntHash)
	if subtle.ConstantTimeCompare(want[:], r.NTResponse[:]) != 1 {
		return AuthResult{}
	}
	ar := MSCHAPv2AuthenticatorResponse(ntHash, r.NTResponse, r.PeerChallenge, auth, req.Username)
	keys := MPPEKeysFromNTHash(ntHash, r.NTResponse, true)
	return AuthResult{Accept: true, MSCHAPv2AuthResponse: ar[:], MPPE: &keys}
}

// CHAPMD5Response returns the CHAP-MD5 response value MD5(Identifier || secret ||
// challenge) (RFC 1994 §2).
func CHAPMD5Response(id uint8, secret string, challenge []byte) [md5.Size]byte {
	h := md5.New()
	h.Write([]byte{id})
	h.Write([]byte(secret))
	h.Write(challenge)
	var out [md5.Size]byte
	copy(out[:], h.Sum(nil))
	return out
}

// Errors reported in AuthStep.Err by the exchange objects.
var (
	// ErrAuthTimeout: the exchange gave up after its configured number of timeouts.
	ErrAuthTimeout = errors.New("ppp: authentication timed out")
	// ErrAuthRejected: the credentials were refused (by the backend, or by the remote
	// authenticator in the peer role).
	ErrAuthRejected = errors.New("ppp: authentication rejected")
	// ErrAuthUnexpected: an input was discarded because its code, identifier or timing does
	// not fit the exchange's state (RFC 1994 §4: "silently discarded").
	ErrAuthUnexpected = errors.New("ppp: unexpected authentication packet")
	// ErrAuthRand: the random source failed while making a challenge.
	ErrAuthRand = errors.New("ppp: reading random challenge")
)

// AuthOutcome tells whether a step finished an authentication exchange.
type AuthOutcome uint8

// Authentication outcomes.
const (
	// AuthPending: the exchange has not finished (or finished earlier).
	AuthPending AuthOutcome = iota
	// AuthSuccess: this step authenticated the peer (authenticator role) or us (peer role).
	AuthSuccess
	// AuthFailure: this step ended the exchange in failure; the owner terminates the link
	// (RFC 1661 §3.5, RFC 1994 §4.4).
	AuthFailure
)

func (o AuthOutcome) String() string {
	switch o {
	case AuthPending:
		return "pending"
	case AuthSuccess:
		return "success"
	case AuthFailure:
		return "failure"
	}
	return fmt.Sprintf("AuthOutcome(%d)", uint8(o))
}

// AuthTimer tells the owner what to do with the exchange's restart timer.
type AuthTimer uint8

// Timer actions.
const (
	// AuthTimerKeep leaves the timer as it is.
	AuthTimerKeep AuthTimer = iota
	// AuthTimerStart (re)starts the timer; when it expires the owner calls Timeout.
	AuthTimerStart
	// AuthTimerStop stops the timer.
	AuthTimerStop
)

func (t AuthTimer) String() string {
	switch t {
	case AuthTimerKeep:
		return "keep"
	case AuthTimerStart:
		return "start"
	case AuthTimerStop:
		return "stop"
	}
	return fmt.Sprintf("AuthTimer(%d)", uint8(t))
}

// AuthStep is what an exchange object asks its owner to do after one call. The owner acts
// on every field, in this order: send Send, apply Timer, start the backend call for Request,
// then handle Outcome.
type AuthStep struct {
	// Send, when not nil, is a packet to transmit: the information field of a PPP frame
	// whose protocol is the exchange's Method().Protocol(). The owner must not modify it.
	Send []byte
	// Timer says what to do with the restart timer.
	Timer AuthTimer
	// Request, authenticator role only, asks the owner to call its AuthBackend and pass the
	// result to Decide. The request shares no memory with the exchange object.
	Request *AuthRequest
	// Outcome is AuthSuccess or AuthFailure on the step that finished an exchange (for
	// CHAP, each challenge's exchange, re-challenges included) and AuthPending otherwise.
	Outcome AuthOutcome
	// Result accompanies an Outcome when there is one: in the authenticator role the
	// backend's result as passed to Decide, with Message set to the text sent to the peer;
	// in the peer role the remote authenticator's verdict and message (and, for MS-CHAPv2,
	// our MPPE keys). Nil for timeouts.
	Result *AuthResult
	// Err tells why an input was discarded (Outcome AuthPending, nothing else to do) or
	// why the exchange failed (Outcome AuthFailure). It never contains a secret.
	Err error
}

// AuthExchange is what the exchange objects of both roles share, so that the owner drives
// every method with one code path:
//
//   - Start once when the Authentication phase begins;
//   - Input for every received packet of protocol Method().Protocol() (the information
//     field, as ParseFrame returns it);
//   - Timeout when the restart timer that a step started expires (a call when nothing is
//     outstanding is harmless and returns a zero step).
//
// Exchange objects are not safe for concurrent use: one goroutine, the session's, owns each.
type AuthExchange interface {
	Method() AuthMethod
	Start() AuthStep
	Input(pkt []byte) AuthStep
	Timeout() AuthStep
}

// AuthenticatorExchange is the authenticator role: after a step with a Request, the owner
// passes the backend's result to Decide (a reject when the backend failed). A Decide without
// an outstanding request returns a step with ErrAuthUnexpected and changes nothing.
type AuthenticatorExchange interface {
	AuthExchange
	Decide(res AuthResult) AuthStep
}
