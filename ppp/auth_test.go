package ppp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// mapStore is a SecretStore backed by a map.
type mapStore map[string]string

func (m mapStore) Lookup(user string) (string, bool) { s, ok := m[user]; return s, ok }

// backendFunc adapts a function to AuthBackend.
type backendFunc func(context.Context, AuthRequest) (AuthResult, error)

func (f backendFunc) Authenticate(ctx context.Context, req AuthRequest) (AuthResult, error) {
	return f(ctx, req)
}

// sim connects an authenticator and a peer in memory, the way a session actor would drive
// them: it sends what steps ask to send, keeps one restart timer per side on a virtual
// clock, and asks the backend synchronously. Packets are delivered before any timer fires;
// of two timers due at the same time the peer's fires first.
type sim struct {
	t       *testing.T
	auth    AuthenticatorExchange
	peer    AuthExchange
	backend AuthBackend
	// drop, when set, loses packets: toPeer tells the direction, n counts the packets
	// sent so far in that direction (1 for the first).
	drop func(toPeer bool, n int, pkt []byte) bool
	// dup, when set, delivers a packet twice.
	dup func(toPeer bool, n int, pkt []byte) bool
	// authInterval and peerInterval are the restart timer periods; 0 means 3.
	authInterval, peerInterval int

	now                        int
	authDue, peerDue           int // deadline of the armed timer, -1 when stopped
	toPeer, toAuth             [][]byte
	sentToPeer, sentToAuth     int
	authOutcomes, peerOutcomes []AuthStep
	requests                   []AuthRequest
	errs                       []error // every Err of every step
}

func (s *sim) send(toPeer bool, pkt []byte) {
	if pkt == nil {
		return
	}
	n := &s.sentToAuth
	q := &s.toAuth
	if toPeer {
		n, q = &s.sentToPeer, &s.toPeer
	}
	*n++
	if s.drop != nil && s.drop(toPeer, *n, pkt) {
		return
	}
	*q = append(*q, bytes.Clone(pkt))
	if s.dup != nil && s.dup(toPeer, *n, pkt) {
		*q = append(*q, bytes.Clone(pkt))
	}
}

func (s *sim) timer(due *int, interval int, t AuthTimer) {
	if interval == 0 {
		interval = 3
	}
	switch t {
	case AuthTimerStart:
		*due = s.now + interval
	case AuthTimerStop:
		*due = -1
	}
}

func (s *sim) authStep(st AuthStep) {
	s.send(true, st.Send)
	s.timer(&s.authDue, s.authInterval, st.Timer)
	if st.Err != nil {
		s.errs = append(s.errs, st.Err)
	}
	if st.Request != nil {
		if st.Outcome != AuthPending {
			s.t.Errorf("step has both a request and an outcome: %+v", st)
		}
		s.requests = append(s.requests, *st.Request)
		res, err := s.backend.Authenticate(context.Background(), *st.Request)
		if err != nil {
			res = AuthResult{}
		}
		s.authStep(s.auth.Decide(res))
	}
	if st.Outcome != AuthPending {
		s.authOutcomes = append(s.authOutcomes, st)
	}
}

func (s *sim) peerStep(st AuthStep) {
	s.send(false, st.Send)
	s.timer(&s.peerDue, s.peerInterval, st.Timer)
	if st.Err != nil {
		s.errs = append(s.errs, st.Err)
	}
	if st.Request != nil {
		s.t.Errorf("peer step has a request: %v", st.Request)
	}
	if st.Outcome != AuthPending {
		s.peerOutcomes = append(s.peerOutcomes, st)
	}
}

// run delivers packets and fires timers until nothing is left to do.
func (s *sim) run() {
	for range 10000 {
		switch {
		case len(s.toAuth) > 0:
			p := s.toAuth[0]
			s.toAuth = s.toAuth[1:]
			s.authStep(s.auth.Input(p))
		case len(s.toPeer) > 0:
			p := s.toPeer[0]
			s.toPeer = s.toPeer[1:]
			s.peerStep(s.peer.Input(p))
		case s.peerDue >= 0 && (s.authDue < 0 || s.peerDue <= s.authDue):
			s.now, s.peerDue = s.peerDue, -1
			s.peerStep(s.peer.Timeout())
		case s.authDue >= 0:
			s.now, s.authDue = s.authDue, -1
			s.authStep(s.auth.Timeout())
		default:
			return
		}
	}
	s.t.Fatal("exchange did not settle")
}

func (s *sim) start() {
	s.authDue, s.peerDue = -1, -1
	s.authStep(s.auth.Start())
	s.peerStep(s.peer.Start())
	s.run()
}

// timersRunning reports whether either side left its timer armed.
func (s *sim) timersRunning() bool { return s.authDue >= 0 || s.peerDue >= 0 }

// outcome summarises one side's outcomes for comparison.
type outcome struct {
	Outcome AuthOutcome
	Err     error
	Message string
}

func outcomes(steps []AuthStep) []outcome {
	var out []outcome
	for _, st := range steps {
		o := outcome{Outcome: st.Outcome, Err: st.Err}
		if st.Result != nil {
			o.Message = st.Result.Message
		}
		out = append(out, o)
	}
	return out
}

// cmpErrors compares errors with errors.Is against the wanted sentinel, and addresses
// with ==.
var cmpErrors = cmp.Options{
	cmp.Comparer(func(a, b error) bool {
		if a == nil || b == nil {
			return a == nil && b == nil
		}
		return errors.Is(a, b) || errors.Is(b, a)
	}),
	cmpopts.EquateComparable(netip.Addr{}),
}

// checkNoSecret fails if any error or formatted value contains secret.
func checkNoSecret(t *testing.T, secret string, errs []error, values ...any) {
	t.Helper()
	for _, err := range errs {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q contains the secret", err)
		}
	}
	for _, v := range values {
		for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
			if out := fmt.Sprintf(f, v); strings.Contains(out, secret) {
				t.Errorf("%s of %T contains the secret: %s", f, v, out)
			}
		}
	}
}

func TestAuthMethodString(t *testing.T) {
	tests := []struct {
		name string
		m    AuthMethod
		want string
		p    Protocol
	}{
		{name: "none", m: AuthNone, want: "none"},
		{name: "PAP", m: AuthPAP, want: "PAP", p: ProtoPAP},
		{name: "CHAP-MD5", m: AuthCHAPMD5, want: "CHAP-MD5", p: ProtoCHAP},
		{name: "MS-CHAPv2", m: AuthMSCHAPv2, want: "MS-CHAPv2", p: ProtoCHAP},
		{name: "proxy", m: AuthProxy, want: "proxy"},
		{name: "unknown", m: 42, want: "AuthMethod(42)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.m.String()); diff != "" {
				t.Errorf("String mismatch (-want +got):\n%s", diff)
			}
			if got := tt.m.Protocol(); got != tt.p {
				t.Errorf("Protocol: got %v, want %v", got, tt.p)
			}
		})
	}
	for _, a := range []CHAPAlgorithm{CHAPAlgorithmMD5, CHAPAlgorithmMSCHAPv2} {
		if got, ok := a.Method().CHAPAlgorithm(); !ok || got != a {
			t.Errorf("%v: round trip through AuthMethod gave %v, %t", a, got, ok)
		}
	}
	if _, ok := AuthPAP.CHAPAlgorithm(); ok {
		t.Errorf("PAP has a CHAP algorithm")
	}
}

func TestVerifyLocal(t *testing.T) {
	auth := mustHex(t, rfcAuthChal)
	msResp := MSCHAPv2Response{PeerChallenge: [16]byte(mustHex(t, rfcPeerChal)), NTResponse: [24]byte(mustHex(t, rfcNTResponse))}
	chapChal := []byte("0123456789abcdef")
	chapResp := CHAPMD5Response(7, "s3cret", chapChal)
	wantAR := mustHex(t, rfcAuthResponse[2:])
	wantKeys := MPPEKeysFromNTHash(MSCHAPNTPasswordHash(rfcPassword), msResp.NTResponse, true)

	tests := []struct {
		name     string
		req      AuthRequest
		password string
		want     AuthResult
	}{
		{name: "PAP ok", req: AuthRequest{Method: AuthPAP, Username: "u", Password: "s3cret"}, password: "s3cret", want: AuthResult{Accept: true}},
		{name: "PAP wrong", req: AuthRequest{Method: AuthPAP, Username: "u", Password: "s3creT"}, password: "s3cret"},
		{name: "PAP prefix", req: AuthRequest{Method: AuthPAP, Username: "u", Password: "s3cre"}, password: "s3cret"},
		{name: "PAP empty", req: AuthRequest{Method: AuthPAP, Username: "u"}, password: "s3cret"},
		{name: "CHAP-MD5 ok", req: AuthRequest{Method: AuthCHAPMD5, CHAPID: 7, CHAPChallenge: chapChal, CHAPResponse: chapResp[:]}, password: "s3cret", want: AuthResult{Accept: true}},
		{name: "CHAP-MD5 wrong password", req: AuthRequest{Method: AuthCHAPMD5, CHAPID: 7, CHAPChallenge: chapChal, CHAPResponse: chapResp[:]}, password: "other"},
		{name: "CHAP-MD5 wrong id", req: AuthRequest{Method: AuthCHAPMD5, CHAPID: 8, CHAPChallenge: chapChal, CHAPResponse: chapResp[:]}, password: "s3cret"},
		{name: "CHAP-MD5 short response", req: AuthRequest{Method: AuthCHAPMD5, CHAPID: 7, CHAPChallenge: chapChal, CHAPResponse: chapResp[:15]}, password: "s3cret"},
		{
			name:     "MS-CHAPv2 RFC 2759 vector",
			req:      AuthRequest{Method: AuthMSCHAPv2, Username: rfcUser, CHAPChallenge: auth, MSCHAPv2: msResp},
			password: rfcPassword,
			want:     AuthResult{Accept: true, MSCHAPv2AuthResponse: wantAR, MPPE: &wantKeys},
		},
		{
			name:     "MS-CHAPv2 domain user",
			req:      AuthRequest{Method: AuthMSCHAPv2, Username: `CORP\` + rfcUser, CHAPChallenge: auth, MSCHAPv2: msResp},
			password: rfcPassword,
			want:     AuthResult{Accept: true, MSCHAPv2AuthResponse: wantAR, MPPE: &wantKeys},
		},
		{name: "MS-CHAPv2 wrong password", req: AuthRequest{Method: AuthMSCHAPv2, Username: rfcUser, CHAPChallenge: auth, MSCHAPv2: msResp}, password: "clientpass"},
		{name: "MS-CHAPv2 other user name", req: AuthRequest{Method: AuthMSCHAPv2, Username: "user", CHAPChallenge: auth, MSCHAPv2: msResp}, password: rfcPassword},
		{name: "MS-CHAPv2 short challenge", req: AuthRequest{Method: AuthMSCHAPv2, Username: rfcUser, CHAPChallenge: auth[:15], MSCHAPv2: msResp}, password: rfcPassword},
		{name: "proxy without proof", req: AuthRequest{Method: AuthProxy, Username: "u"}, password: "s3cret"},
		{name: "none", req: AuthRequest{Username: "u"}, password: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := VerifyLocal(tt.req, tt.password)
			if diff := cmp.Diff(tt.want, got, cmpErrors); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVerifyLocalNTHash(t *testing.T) {
	hash := MSCHAPNTPasswordHash(rfcPassword)
	msReq := AuthRequest{
		Method:        AuthMSCHAPv2,
		Username:      rfcUser,
		CHAPChallenge: mustHex(t, rfcAuthChal),
		MSCHAPv2:      MSCHAPv2Response{PeerChallenge: [16]byte(mustHex(t, rfcPeerChal)), NTResponse: [24]byte(mustHex(t, rfcNTResponse))},
	}
	chal := []byte("challenge")
	md5 := CHAPMD5Response(1, rfcPassword, chal)
	tests := []struct {
		name string
		req  AuthRequest
		want bool
	}{
		{name: "MS-CHAPv2", req: msReq, want: true},
		{name: "PAP", req: AuthRequest{Method: AuthPAP, Password: rfcPassword}, want: true},
		{name: "PAP wrong", req: AuthRequest{Method: AuthPAP, Password: "nope"}},
		{name: "CHAP-MD5 cannot be checked", req: AuthRequest{Method: AuthCHAPMD5, CHAPID: 1, CHAPChallenge: chal, CHAPResponse: md5[:]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := VerifyLocalNTHash(tt.req, hash)
			if got.Accept != tt.want {
				t.Errorf("Accept: got %t, want %t", got.Accept, tt.want)
			}
		})
	}
	if got := VerifyLocalNTHash(msReq, hash); !bytes.Equal(got.MSCHAPv2AuthResponse, mustHex(t, rfcAuthResponse[2:])) {
		t.Errorf("authenticator response: got %X", got.MSCHAPv2AuthResponse)
	}
}

func TestLocalBackend(t *testing.T) {
	b := LocalBackend{Secrets: mapStore{"alice": "wonderland"}}
	tests := []struct {
		name    string
		ctx     func() context.Context
		req     AuthRequest
		want    bool
		wantErr error
	}{
		{name: "known user", req: AuthRequest{Method: AuthPAP, Username: "alice", Password: "wonderland"}, want: true},
		{name: "wrong password", req: AuthRequest{Method: AuthPAP, Username: "alice", Password: "x"}},
		{name: "unknown user", req: AuthRequest{Method: AuthPAP, Username: "bob", Password: "wonderland"}},
		{name: "cancelled", ctx: func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}, req: AuthRequest{Method: AuthPAP, Username: "alice", Password: "wonderland"}, wantErr: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.ctx != nil {
				ctx = tt.ctx()
			}
			got, err := b.Authenticate(ctx, tt.req)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error: got %v, want %v", err, tt.wantErr)
			}
			if got.Accept != tt.want {
				t.Errorf("Accept: got %t, want %t", got.Accept, tt.want)
			}
		})
	}
	if res, err := (LocalBackend{}).Authenticate(context.Background(), AuthRequest{Method: AuthPAP}); err != nil || res.Accept {
		t.Errorf("backend without store: got %v, %v; want a reject", res, err)
	}
}

// TestNoSecretInOutput checks that the String and GoString forms of every value that can
// hold a secret keep it out.
func TestNoSecretInOutput(t *testing.T) {
	const secret = "Sup3rS3cret"
	keys := MPPEKeys{Send: [16]byte{0xde, 0xad, 0xbe, 0xef}}
	req := AuthRequest{
		Method:        AuthPAP,
		Username:      "alice",
		Password:      secret,
		CHAPChallenge: []byte(secret),
		CHAPResponse:  []byte(secret),
		Carrier:       AuthCarrier{CallingStationID: "00:11:22:33:44:55", CircuitID: "eth0:100"},
	}
	res := AuthResult{
		Accept:               true,
		Message:              "welcome",
		MSCHAPv2AuthResponse: []byte(secret),
		MPPE:                 &keys,
		IPv4Address:          netip.MustParseAddr("192.0.2.7"),
		Pool:                 "main",
		DNS:                  []netip.Addr{netip.MustParseAddr("192.0.2.53")},
		SessionTimeout:       time.Hour,
	}
	pap := PAPPacket{Code: PAPCodeRequest, Identifier: 1, PeerID: "alice", Password: secret}
	chap := CHAPPacket{Code: CHAPCodeResponse, Identifier: 1, Value: []byte(secret), Name: "alice"}
	checkNoSecret(t, secret, nil, req, &req, res, &res, pap, &pap, chap, &chap)
	checkNoSecret(t, "deadbeef", nil, res, keys)
	checkNoSecret(t, "222173190239", nil, res, keys) // decimal octets of the key
	checkNoSecret(t, secret, []error{
		PAPPeerConfig{PeerID: "a", Password: strings.Repeat(secret, 30)}.Validate(),
	})

	// The useful fields are still there.
	for _, want := range []string{"alice", "PAP", "00:11:22:33:44:55", "eth0:100"} {
		if !strings.Contains(req.String(), want) {
			t.Errorf("AuthRequest.String() = %q lacks %q", req.String(), want)
		}
	}
	for _, want := range []string{"accept=true", "192.0.2.7", "main", "192.0.2.53", "1h0m0s", "mppe=[redacted]"} {
		if !strings.Contains(res.String(), want) {
			t.Errorf("AuthResult.String() = %q lacks %q", res.String(), want)
		}
	}
}

func TestAuthEnumStrings(t *testing.T) {
	tests := []struct {
		name string
		got  fmt.Stringer
		want string
	}{
		{name: "outcome pending", got: AuthPending, want: "pending"},
		{name: "outcome success", got: AuthSuccess, want: "success"},
		{name: "outcome failure", got: AuthFailure, want: "failure"},
		{name: "outcome unknown", got: AuthOutcome(9), want: "AuthOutcome(9)"},
		{name: "timer keep", got: AuthTimerKeep, want: "keep"},
		{name: "timer start", got: AuthTimerStart, want: "start"},
		{name: "timer stop", got: AuthTimerStop, want: "stop"},
		{name: "timer unknown", got: AuthTimer(9), want: "AuthTimer(9)"},
		{name: "CHAP MD5", got: CHAPAlgorithmMD5, want: "MD5"},
		{name: "CHAP MS-CHAPv1", got: CHAPAlgorithmMSCHAPv1, want: "MS-CHAPv1"},
		{name: "CHAP MS-CHAPv2", got: CHAPAlgorithmMSCHAPv2, want: "MS-CHAPv2"},
		{name: "CHAP unknown", got: CHAPAlgorithm(1), want: "CHAPAlgorithm(0x01)"},
		{name: "MPPE 40", got: MPPE40, want: "40-bit"},
		{name: "MPPE 56", got: MPPE56, want: "56-bit"},
		{name: "MPPE 128", got: MPPE128, want: "128-bit"},
		{name: "MPPE unknown", got: MPPEStrength(0), want: "MPPEStrength(0)"},
		{name: "PAP Nak", got: PAPPacket{Code: PAPCodeNak, Identifier: 3, Message: "no"}, want: `PAP Authenticate-Nak id=3 message="no"`},
		{name: "CHAP Challenge", got: CHAPPacket{Code: CHAPCodeChallenge, Identifier: 3, Value: []byte{1, 2}, Name: "lns"}, want: `CHAP Challenge id=3 value=[2 octets] name="lns"`},
		{name: "CHAP Failure", got: CHAPPacket{Code: CHAPCodeFailure, Identifier: 3, Message: "no"}, want: `CHAP Failure id=3 message="no"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.got.String()); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
	if CHAPAlgorithmMSCHAPv1.Method() != AuthNone {
		t.Errorf("MS-CHAPv1 maps to an implemented method")
	}
}
