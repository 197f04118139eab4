package ppp

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// counterReader is a deterministic random source: 1, 2, 3, ...
type counterReader struct{ n byte }

func (r *counterReader) Read(p []byte) (int, error) {
	for i := range p {
		r.n++
		p[i] = r.n
	}
	return len(p), nil
}

type failReader struct{}

func (failReader) Read([]byte) (int, error) { return 0, errors.New("entropy exhausted") }

// Golden CHAP packets (RFC 1994 §4, RFC 2759 §4).
var chapGolden = []struct {
	name string
	hex  string
	pkt  CHAPPacket
}{
	{
		name: "Challenge",
		hex:  "012a0018" + "10" + "000102030405060708090a0b0c0d0e0f" + "6c6e73",
		pkt:  CHAPPacket{Code: CHAPCodeChallenge, Identifier: 0x2a, Value: []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, Name: "lns"},
	},
	{
		name: "Challenge without name",
		hex:  "01000006" + "01" + "ff",
		pkt:  CHAPPacket{Code: CHAPCodeChallenge, Value: []byte{0xff}},
	},
	{
		name: "MD5 Response",
		hex:  "022a001a" + "10" + strings.Repeat("aa", 16) + "616c696365",
		pkt:  CHAPPacket{Code: CHAPCodeResponse, Identifier: 0x2a, Value: bytes.Repeat([]byte{0xaa}, 16), Name: "alice"},
	},
	{
		name: "MS-CHAPv2 Response",
		hex:  "0242003a" + "31" + rfcPeerChal + "0000000000000000" + rfcNTResponse + "00" + "55736572",
		pkt: CHAPPacket{Code: CHAPCodeResponse, Identifier: 0x42, Name: "User",
			Value: unhex(rfcPeerChal + "0000000000000000" + rfcNTResponse + "00")},
	},
	{
		name: "Success",
		hex:  "032a0012" + "416363657373206772616e746564",
		pkt:  CHAPPacket{Code: CHAPCodeSuccess, Identifier: 0x2a, Message: "Access granted"},
	},
	{
		name: "Failure without message",
		hex:  "042a0004",
		pkt:  CHAPPacket{Code: CHAPCodeFailure, Identifier: 0x2a},
	},
}

// unhex decodes a constant hex string for package-level tables.
func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func TestCHAPCodecGolden(t *testing.T) {
	for _, tt := range chapGolden {
		t.Run(tt.name, func(t *testing.T) {
			b := mustHex(t, tt.hex)
			var got CHAPPacket
			if err := got.UnmarshalBinary(b); err != nil {
				t.Fatalf("UnmarshalBinary: %v", err)
			}
			if diff := cmp.Diff(tt.pkt, got); diff != "" {
				t.Errorf("unmarshal mismatch (-want +got):\n%s", diff)
			}
			enc, err := tt.pkt.MarshalBinary()
			if err != nil {
				t.Fatalf("MarshalBinary: %v", err)
			}
			if diff := cmp.Diff(b, enc); diff != "" {
				t.Errorf("marshal mismatch (-want +got):\n%s", diff)
			}
		})
	}
	// Padding past Length is dropped, and Value does not alias the input.
	in := mustHex(t, "01010006"+"01"+"77"+"eeee")
	var p CHAPPacket
	if err := p.UnmarshalBinary(in); err != nil {
		t.Fatal(err)
	}
	in[5] = 0
	if diff := cmp.Diff(CHAPPacket{Code: CHAPCodeChallenge, Identifier: 1, Value: []byte{0x77}}, p); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
}

func TestCHAPCodecMalformed(t *testing.T) {
	tests := []struct {
		name string
		hex  string
		want error
	}{
		{name: "short header", hex: "0101", want: io.ErrUnexpectedEOF},
		{name: "Length past the frame", hex: "01010020" + "01" + "00", want: ErrBadLength},
		{name: "Length below the header", hex: "01010002", want: ErrBadLength},
		{name: "Challenge without Value-Size", hex: "01010004", want: io.ErrUnexpectedEOF},
		{name: "Response without Value-Size", hex: "02010004", want: io.ErrUnexpectedEOF},
		{name: "Value-Size zero", hex: "01010005" + "00", want: ErrCHAPValueSize},
		{name: "Value-Size past Length", hex: "01010007" + "10" + "0102", want: ErrCHAPValueSize},
		{name: "Value-Size past Length, octets in padding", hex: "02010007" + "04" + "0102" + "0304", want: ErrCHAPValueSize},
		{name: "unknown code", hex: "05010004", want: ErrCHAPBadCode},
		{name: "MS-CHAP change password code", hex: "07010004", want: ErrCHAPBadCode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p CHAPPacket
			if err := p.UnmarshalBinary(mustHex(t, tt.hex)); !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestCHAPMarshalErrors(t *testing.T) {
	tests := []struct {
		name string
		pkt  CHAPPacket
		want error
	}{
		{name: "empty value", pkt: CHAPPacket{Code: CHAPCodeChallenge}, want: ErrCHAPValueSize},
		{name: "long value", pkt: CHAPPacket{Code: CHAPCodeResponse, Value: make([]byte, 256)}, want: ErrCHAPValueSize},
		{name: "packet over 65535 octets", pkt: CHAPPacket{Code: CHAPCodeSuccess, Message: strings.Repeat("x", 0xffff)}, want: ErrBadLength},
		{name: "unknown code", pkt: CHAPPacket{Code: 9}, want: ErrCHAPBadCode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.pkt.MarshalBinary(); !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestCHAPMD5Response(t *testing.T) {
	chal := []byte("some challenge")
	want := md5.Sum(append(append([]byte{0x17}, "wonderland"...), chal...))
	if got := CHAPMD5Response(0x17, "wonderland", chal); got != want {
		t.Errorf("got %x, want %x", got, want)
	}
}

// chapSetup describes both sides of a CHAP exchange.
type chapSetup struct {
	alg        CHAPAlgorithm
	user, pass string
	auth       CHAPAuthenticatorConfig
	peer       CHAPPeerConfig
	backend    AuthBackend
}

func newCHAPSim(t *testing.T, c chapSetup) (*sim, *CHAPAuthenticator, *CHAPPeer) {
	t.Helper()
	c.auth.Algorithm, c.peer.Algorithm = c.alg, c.alg
	if c.auth.Rand == nil {
		c.auth.Rand = &counterReader{}
	}
	if c.peer.Rand == nil {
		c.peer.Rand = &counterReader{n: 100}
	}
	c.peer.Name, c.peer.Secret = c.user, c.pass
	if c.auth.Name == "" {
		c.auth.Name = "lns"
	}
	a, err := NewCHAPAuthenticator(c.auth)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewCHAPPeer(c.peer)
	if err != nil {
		t.Fatal(err)
	}
	if c.backend == nil {
		c.backend = LocalBackend{Secrets: mapStore{"alice": "wonderland", `CORP\bob`: "builder"}}
	}
	return &sim{t: t, auth: a, peer: p, backend: c.backend}, a, p
}

func TestCHAPExchange(t *testing.T) {
	for _, alg := range []CHAPAlgorithm{CHAPAlgorithmMD5, CHAPAlgorithmMSCHAPv2} {
		ok := []outcome{{Outcome: AuthSuccess, Message: CHAPDefaultSuccessMessage}}
		rejected := []outcome{{Outcome: AuthFailure, Err: ErrAuthRejected, Message: CHAPDefaultFailureMessage}}
		tests := []struct {
			name                                     string
			user, pass                               string
			auth                                     CHAPAuthenticatorConfig
			peer                                     CHAPPeerConfig
			drop, dup                                func(toPeer bool, n int, pkt []byte) bool
			wantAuth, wantPeer                       []outcome
			wantToPeer, wantToAuth, wantBackendCalls int
		}{
			{
				name: "success", user: "alice", pass: "wonderland",
				wantAuth: ok, wantPeer: ok, wantToPeer: 2, wantToAuth: 1, wantBackendCalls: 1,
			},
			{
				name: "user with domain", user: `CORP\bob`, pass: "builder",
				wantAuth: ok, wantPeer: ok, wantToPeer: 2, wantToAuth: 1, wantBackendCalls: 1,
			},
			{
				name: "wrong password", user: "alice", pass: "looking-glass",
				wantAuth: rejected, wantPeer: rejected, wantToPeer: 2, wantToAuth: 1, wantBackendCalls: 1,
			},
			{
				name: "wrong username", user: "mallory", pass: "wonderland",
				auth:       CHAPAuthenticatorConfig{FailureMessage: "no such luck"},
				wantAuth:   []outcome{{Outcome: AuthFailure, Err: ErrAuthRejected, Message: "no such luck"}},
				wantPeer:   []outcome{{Outcome: AuthFailure, Err: ErrAuthRejected, Message: "no such luck"}},
				wantToPeer: 2, wantToAuth: 1, wantBackendCalls: 1,
			},
			{
				name: "first Challenge lost", user: "alice", pass: "wonderland",
				drop:     func(toPeer bool, n int, _ []byte) bool { return toPeer && n == 1 },
				wantAuth: ok, wantPeer: ok, wantToPeer: 3, wantToAuth: 1, wantBackendCalls: 1,
			},
			{
				name: "Response lost: the retransmitted Challenge gets the same Response", user: "alice", pass: "wonderland",
				drop:     func(toPeer bool, n int, _ []byte) bool { return !toPeer && n == 1 },
				wantAuth: ok, wantPeer: ok, wantToPeer: 3, wantToAuth: 2, wantBackendCalls: 1,
			},
			{
				name: "Response repeated after Success: Success is sent again", user: "alice", pass: "wonderland",
				dup:      func(toPeer bool, n int, _ []byte) bool { return !toPeer && n == 1 },
				wantAuth: ok, wantPeer: ok, wantToPeer: 3, wantToAuth: 1, wantBackendCalls: 1,
			},
			{
				name: "Failure repeated for a repeated Response", user: "alice", pass: "looking-glass",
				dup:      func(toPeer bool, n int, _ []byte) bool { return !toPeer && n == 1 },
				wantAuth: rejected, wantPeer: rejected, wantToPeer: 3, wantToAuth: 1, wantBackendCalls: 1,
			},
			{
				name: "peer silent: the authenticator gives up", user: "alice", pass: "wonderland",
				auth:     CHAPAuthenticatorConfig{MaxChallenges: 3},
				peer:     CHAPPeerConfig{MaxWaits: 100},
				drop:     func(toPeer bool, _ int, _ []byte) bool { return !toPeer },
				wantAuth: []outcome{{Outcome: AuthFailure, Err: ErrAuthTimeout}},
				// The peer waits 100 periods, long after the authenticator gave up.
				wantPeer:   []outcome{{Outcome: AuthFailure, Err: ErrAuthTimeout}},
				wantToPeer: 3, wantToAuth: 3,
			},
			{
				name: "Success lost: the peer gives up", user: "alice", pass: "wonderland",
				peer:     CHAPPeerConfig{MaxWaits: 2},
				drop:     func(toPeer bool, n int, _ []byte) bool { return toPeer && n == 2 },
				wantAuth: ok, wantPeer: []outcome{{Outcome: AuthFailure, Err: ErrAuthTimeout}},
				wantToPeer: 2, wantToAuth: 1, wantBackendCalls: 1,
			},
		}
		for _, tt := range tests {
			t.Run(alg.String()+"/"+tt.name, func(t *testing.T) {
				s, _, _ := newCHAPSim(t, chapSetup{alg: alg, user: tt.user, pass: tt.pass, auth: tt.auth, peer: tt.peer})
				s.drop, s.dup = tt.drop, tt.dup
				s.start()
				if diff := cmp.Diff(tt.wantAuth, outcomes(s.authOutcomes), cmpErrors); diff != "" {
					t.Errorf("authenticator outcomes (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(tt.wantPeer, outcomes(s.peerOutcomes), cmpErrors); diff != "" {
					t.Errorf("peer outcomes (-want +got):\n%s", diff)
				}
				if s.sentToPeer != tt.wantToPeer || s.sentToAuth != tt.wantToAuth {
					t.Errorf("packets sent: %d to peer, %d to authenticator; want %d, %d", s.sentToPeer, s.sentToAuth, tt.wantToPeer, tt.wantToAuth)
				}
				if len(s.requests) != tt.wantBackendCalls {
					t.Errorf("backend calls: got %d, want %d", len(s.requests), tt.wantBackendCalls)
				}
				for _, r := range s.requests {
					if r.Method != alg.Method() || r.Username != tt.user {
						t.Errorf("request %v: want method %v, user %q", r, alg.Method(), tt.user)
					}
				}
				if s.timersRunning() {
					t.Errorf("timers left running")
				}
				checkNoSecret(t, tt.pass, s.errs, s.requests)
				// Both sides agree on the MS-CHAPv2 MPPE keys, mirrored.
				if alg == CHAPAlgorithmMSCHAPv2 && len(s.authOutcomes) == 1 && len(s.peerOutcomes) == 1 &&
					s.authOutcomes[0].Outcome == AuthSuccess && s.peerOutcomes[0].Outcome == AuthSuccess {
					ak, pk := s.authOutcomes[0].Result.MPPE, s.peerOutcomes[0].Result.MPPE
					if ak == nil || pk == nil || ak.Send != pk.Recv || ak.Recv != pk.Send {
						t.Errorf("MPPE keys do not mirror: authenticator %v, peer %v", ak != nil, pk != nil)
					}
				}
			})
		}
	}
}

// TestMSCHAPv2ExchangeRFC2759 runs an exchange with the challenges of RFC 2759 §9.2 and
// checks the packets on the wire and the keys of RFC 3079 §3.5.
func TestMSCHAPv2ExchangeRFC2759(t *testing.T) {
	authRand := bytes.NewReader(append([]byte{0x42}, mustHex(t, rfcAuthChal)...))
	peerRand := bytes.NewReader(mustHex(t, rfcPeerChal))
	for _, backend := range []struct {
		name string
		b    AuthBackend
	}{
		{name: "password", b: LocalBackend{Secrets: mapStore{rfcUser: rfcPassword}}},
		{name: "NT hash", b: backendFunc(func(_ context.Context, req AuthRequest) (AuthResult, error) {
			return VerifyLocalNTHash(req, [16]byte(mustHex(t, rfcPasswordHash))), nil
		})},
	} {
		t.Run(backend.name, func(t *testing.T) {
			authRand.Seek(0, io.SeekStart)
			peerRand.Seek(0, io.SeekStart)
			s, _, _ := newCHAPSim(t, chapSetup{
				alg: CHAPAlgorithmMSCHAPv2, user: rfcUser, pass: rfcPassword,
				auth: CHAPAuthenticatorConfig{Rand: authRand, Name: "lns", SuccessMessage: "Welcome"},
				peer: CHAPPeerConfig{Rand: peerRand}, backend: backend.b,
			})
			var wire [][]byte
			s.drop = func(_ bool, _ int, pkt []byte) bool { wire = append(wire, bytes.Clone(pkt)); return false }
			s.start()

			want := []string{
				"01420018" + "10" + rfcAuthChal + "6c6e73",
				"0242003a" + "31" + rfcPeerChal + "0000000000000000" + rfcNTResponse + "00" + "55736572",
				"0342" + "0038" + hexUpper([]byte(rfcAuthResponse+" M=Welcome")),
			}
			var got []string
			for _, p := range wire {
				got = append(got, hexUpper(p))
			}
			for i := range want {
				want[i] = strings.ToUpper(want[i])
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("wire mismatch (-want +got):\n%s", diff)
			}
			if len(s.authOutcomes) != 1 || len(s.peerOutcomes) != 1 {
				t.Fatalf("outcomes: %d authenticator, %d peer", len(s.authOutcomes), len(s.peerOutcomes))
			}
			ar, pr := s.authOutcomes[0].Result, s.peerOutcomes[0].Result
			if ar.MPPE == nil || pr.MPPE == nil {
				t.Fatal("missing MPPE keys")
			}
			if diff := cmp.Diff("8B7CDC149B993A1BA118CB153F56DCCB", hexUpper(ar.MPPE.Send[:])); diff != "" {
				t.Errorf("authenticator send key (RFC 3079 §3.5.3) mismatch (-want +got):\n%s", diff)
			}
			if ar.MPPE.Send != pr.MPPE.Recv || ar.MPPE.Recv != pr.MPPE.Send {
				t.Errorf("MPPE keys do not mirror")
			}
			if pr.Message != "Welcome" || !bytes.Equal(pr.MSCHAPv2AuthResponse, mustHex(t, rfcAuthResponse[2:])) {
				t.Errorf("peer result: message %q, authenticator response %X", pr.Message, pr.MSCHAPv2AuthResponse)
			}
			if len(s.requests) != 1 {
				t.Fatalf("backend calls: %d", len(s.requests))
			}
			r := s.requests[0]
			if r.CHAPID != 0x42 || hexUpper(r.CHAPChallenge) != rfcAuthChal || hexUpper(r.MSCHAPv2.NTResponse[:]) != rfcNTResponse {
				t.Errorf("request: %v challenge %X nt-response %X", r, r.CHAPChallenge, r.MSCHAPv2.NTResponse)
			}
		})
	}
}

func TestMSCHAPv2FailureMessage(t *testing.T) {
	s, _, _ := newCHAPSim(t, chapSetup{
		alg: CHAPAlgorithmMSCHAPv2, user: "alice", pass: "wrong-password",
		auth: CHAPAuthenticatorConfig{Rand: bytes.NewReader(append([]byte{9}, mustHex(t, rfcAuthChal)...))},
	})
	var fail []byte
	s.drop = func(toPeer bool, n int, pkt []byte) bool {
		if toPeer && n == 2 {
			fail = bytes.Clone(pkt)
		}
		return false
	}
	s.start()
	var p CHAPPacket
	if err := p.UnmarshalBinary(fail); err != nil {
		t.Fatal(err)
	}
	want := CHAPPacket{Code: CHAPCodeFailure, Identifier: 9, Message: "E=691 R=0 C=" + rfcAuthChal + " V=3 M=" + CHAPDefaultFailureMessage}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("Failure mismatch (-want +got):\n%s", diff)
	}
	if len(s.peerOutcomes) != 1 || !strings.Contains(s.peerOutcomes[0].Err.Error(), "691") {
		t.Errorf("peer outcome: %+v", s.peerOutcomes)
	}
}

func TestMSCHAPv2MutualAuthentication(t *testing.T) {
	tests := []struct {
		name     string
		backend  AuthBackend
		wantAuth []outcome
		wantPeer []outcome
	}{
		{
			name: "authenticator does not know the password",
			backend: backendFunc(func(context.Context, AuthRequest) (AuthResult, error) {
				return AuthResult{Accept: true, MSCHAPv2AuthResponse: make([]byte, 20)}, nil
			}),
			wantAuth: []outcome{{Outcome: AuthSuccess, Message: CHAPDefaultSuccessMessage}},
			wantPeer: []outcome{{Outcome: AuthFailure, Err: ErrMSCHAPv2MutualAuth, Message: CHAPDefaultSuccessMessage}},
		},
		{
			name: "backend accepts without an authenticator response",
			backend: backendFunc(func(context.Context, AuthRequest) (AuthResult, error) {
				return AuthResult{Accept: true, Message: "hello"}, nil
			}),
			wantAuth: []outcome{{Outcome: AuthFailure, Err: ErrMSCHAPv2NoAuthResponse, Message: CHAPDefaultFailureMessage}},
			wantPeer: []outcome{{Outcome: AuthFailure, Err: ErrAuthRejected, Message: CHAPDefaultFailureMessage}},
		},
		{
			name: "backend error is a reject",
			backend: backendFunc(func(context.Context, AuthRequest) (AuthResult, error) {
				return AuthResult{Accept: true}, errors.New("radius timeout")
			}),
			wantAuth: []outcome{{Outcome: AuthFailure, Err: ErrAuthRejected, Message: CHAPDefaultFailureMessage}},
			wantPeer: []outcome{{Outcome: AuthFailure, Err: ErrAuthRejected, Message: CHAPDefaultFailureMessage}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, _ := newCHAPSim(t, chapSetup{alg: CHAPAlgorithmMSCHAPv2, user: "alice", pass: "wonderland", backend: tt.backend})
			s.start()
			if diff := cmp.Diff(tt.wantAuth, outcomes(s.authOutcomes), cmpErrors); diff != "" {
				t.Errorf("authenticator outcomes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantPeer, outcomes(s.peerOutcomes), cmpErrors); diff != "" {
				t.Errorf("peer outcomes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCHAPRechallenge(t *testing.T) {
	for _, alg := range []CHAPAlgorithm{CHAPAlgorithmMD5, CHAPAlgorithmMSCHAPv2} {
		t.Run(alg.String(), func(t *testing.T) {
			store := mapStore{"alice": "wonderland"}
			s, a, _ := newCHAPSim(t, chapSetup{alg: alg, user: "alice", pass: "wonderland", backend: LocalBackend{Secrets: store}})
			if st := a.Rechallenge(); !errors.Is(st.Err, ErrAuthUnexpected) || st.Send != nil {
				t.Errorf("Rechallenge before Start: %+v", st)
			}
			s.start()
			firstID := s.requests[0].CHAPID

			// A re-challenge after success succeeds again, with a new identifier and value.
			s.authStep(a.Rechallenge())
			s.run()
			if got := len(s.requests); got != 2 {
				t.Fatalf("backend calls: %d", got)
			}
			if s.requests[1].CHAPID != firstID+1 || bytes.Equal(s.requests[1].CHAPChallenge, s.requests[0].CHAPChallenge) {
				t.Errorf("re-challenge reused id %d or value", s.requests[1].CHAPID)
			}
			// A lost re-challenge (the fifth packet to the peer) is retransmitted.
			s.drop = func(toPeer bool, n int, _ []byte) bool { return toPeer && n == 5 }
			s.authStep(a.Rechallenge())
			s.run()
			s.drop = nil
			if s.sentToPeer != 7 {
				t.Errorf("packets to peer: got %d, want 7", s.sentToPeer)
			}

			// The password changes: the next re-challenge fails.
			store["alice"] = "changed"
			s.authStep(a.Rechallenge())
			s.run()
			if st := a.Rechallenge(); !errors.Is(st.Err, ErrAuthUnexpected) {
				t.Errorf("Rechallenge after failure: %+v", st)
			}
			ok := outcome{Outcome: AuthSuccess, Message: CHAPDefaultSuccessMessage}
			fail := outcome{Outcome: AuthFailure, Err: ErrAuthRejected, Message: CHAPDefaultFailureMessage}
			want := []outcome{ok, ok, ok, fail}
			if diff := cmp.Diff(want, outcomes(s.authOutcomes), cmpErrors); diff != "" {
				t.Errorf("authenticator outcomes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(want, outcomes(s.peerOutcomes), cmpErrors); diff != "" {
				t.Errorf("peer outcomes (-want +got):\n%s", diff)
			}
			if s.timersRunning() {
				t.Errorf("timers left running")
			}
		})
	}
}

func TestCHAPRechallengeTimeout(t *testing.T) {
	s, a, _ := newCHAPSim(t, chapSetup{alg: CHAPAlgorithmMD5, user: "alice", pass: "wonderland", auth: CHAPAuthenticatorConfig{MaxChallenges: 2}})
	s.start()
	s.drop = func(bool, int, []byte) bool { return true }
	s.authStep(a.Rechallenge())
	s.run()
	want := []outcome{{Outcome: AuthSuccess, Message: CHAPDefaultSuccessMessage}, {Outcome: AuthFailure, Err: ErrAuthTimeout}}
	if diff := cmp.Diff(want, outcomes(s.authOutcomes), cmpErrors); diff != "" {
		t.Errorf("authenticator outcomes (-want +got):\n%s", diff)
	}
	if s.sentToPeer != 4 { // Challenge, Success, two re-challenges
		t.Errorf("packets to peer: %d", s.sentToPeer)
	}
}

// TestCHAPAuthenticatorSteps drives the authenticator by hand.
func TestCHAPAuthenticatorSteps(t *testing.T) {
	carrier := AuthCarrier{RemoteID: "subscriber-7"}
	a, err := NewCHAPAuthenticator(CHAPAuthenticatorConfig{Name: "lns", ChallengeLen: 4, MaxChallenges: 2, Rand: &counterReader{}, Carrier: carrier})
	if err != nil {
		t.Fatal(err)
	}
	enc := func(p CHAPPacket) []byte {
		b, err := p.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// counterReader: Identifier 1, challenge 2 3 4 5.
	chal := enc(CHAPPacket{Code: CHAPCodeChallenge, Identifier: 1, Value: []byte{2, 3, 4, 5}, Name: "lns"})
	resp := func(id uint8, v []byte) []byte {
		return enc(CHAPPacket{Code: CHAPCodeResponse, Identifier: id, Value: v, Name: "alice"})
	}
	good := CHAPMD5Response(1, "pw", []byte{2, 3, 4, 5})
	accept := AuthResult{Accept: true}
	steps := []struct {
		name string
		do   func() AuthStep
		want AuthStep
	}{
		{name: "Response before Start", do: func() AuthStep { return a.Input(resp(0, good[:])) }, want: AuthStep{Err: ErrAuthUnexpected}},
		{name: "Timeout before Start", do: a.Timeout, want: AuthStep{}},
		{name: "Start", do: a.Start, want: AuthStep{Send: chal, Timer: AuthTimerStart}},
		{name: "second Start", do: a.Start, want: AuthStep{}},
		{name: "Timeout resends", do: a.Timeout, want: AuthStep{Send: chal, Timer: AuthTimerStart}},
		{name: "Response with another id", do: func() AuthStep { return a.Input(resp(2, good[:])) }, want: AuthStep{Err: ErrAuthUnexpected}},
		{name: "Challenge from the peer", do: func() AuthStep { return a.Input(chal) }, want: AuthStep{Err: ErrAuthUnexpected}},
		{name: "malformed", do: func() AuthStep { return a.Input(mustHex(t, "02010005"+"00")) }, want: AuthStep{Err: ErrCHAPValueSize}},
		{name: "Response", do: func() AuthStep { return a.Input(resp(1, good[:])) }, want: AuthStep{
			Timer: AuthTimerStop,
			Request: &AuthRequest{Method: AuthCHAPMD5, Username: "alice", CHAPID: 1, CHAPChallenge: []byte{2, 3, 4, 5},
				CHAPResponse: good[:], Carrier: carrier},
		}},
		{name: "repeat while deciding", do: func() AuthStep { return a.Input(resp(1, good[:])) }, want: AuthStep{}},
		{name: "Timeout while deciding", do: a.Timeout, want: AuthStep{}},
		{name: "Decide", do: func() AuthStep { return a.Decide(accept) }, want: AuthStep{
			Send:  enc(CHAPPacket{Code: CHAPCodeSuccess, Identifier: 1, Message: CHAPDefaultSuccessMessage}),
			Timer: AuthTimerStop, Outcome: AuthSuccess,
			Result: &AuthResult{Accept: true, Message: CHAPDefaultSuccessMessage},
		}},
		{name: "second Decide", do: func() AuthStep { return a.Decide(accept) }, want: AuthStep{Err: ErrAuthUnexpected}},
		{name: "repeat after Success", do: func() AuthStep { return a.Input(resp(1, good[:])) }, want: AuthStep{
			Send: enc(CHAPPacket{Code: CHAPCodeSuccess, Identifier: 1, Message: CHAPDefaultSuccessMessage}),
		}},
		{name: "Rechallenge", do: a.Rechallenge, want: AuthStep{
			Send: enc(CHAPPacket{Code: CHAPCodeChallenge, Identifier: 2, Value: []byte{7, 8, 9, 10}, Name: "lns"}), Timer: AuthTimerStart,
		}},
		{name: "old Response during the re-challenge", do: func() AuthStep { return a.Input(resp(1, good[:])) }, want: AuthStep{Err: ErrAuthUnexpected}},
		{name: "short MD5 response fails at once", do: func() AuthStep { return a.Input(resp(2, good[:8])) }, want: AuthStep{
			Send:  enc(CHAPPacket{Code: CHAPCodeFailure, Identifier: 2, Message: CHAPDefaultFailureMessage}),
			Timer: AuthTimerStop, Outcome: AuthFailure, Err: ErrCHAPValueSize,
			Result: &AuthResult{Message: CHAPDefaultFailureMessage},
		}},
		{name: "Rechallenge after failure", do: a.Rechallenge, want: AuthStep{Err: ErrAuthUnexpected}},
	}
	for _, st := range steps {
		got := st.do()
		if diff := cmp.Diff(st.want, got, cmpErrors); diff != "" {
			t.Fatalf("%s: step mismatch (-want +got):\n%s", st.name, diff)
		}
	}
}

func TestMSCHAPv2AuthenticatorMalformedResponse(t *testing.T) {
	a, err := NewCHAPAuthenticator(CHAPAuthenticatorConfig{Algorithm: CHAPAlgorithmMSCHAPv2, Rand: &counterReader{}})
	if err != nil {
		t.Fatal(err)
	}
	a.Start()
	resp, _ := CHAPPacket{Code: CHAPCodeResponse, Identifier: 1, Value: make([]byte, 48), Name: "alice"}.MarshalBinary()
	st := a.Input(resp)
	if st.Outcome != AuthFailure || !errors.Is(st.Err, ErrMSCHAPv2ValueSize) || !errors.Is(st.Err, ErrAuthRejected) {
		t.Fatalf("got %+v", st)
	}
	var p CHAPPacket
	var f MSCHAPv2Failure
	if err := p.UnmarshalBinary(st.Send); err != nil || p.Code != CHAPCodeFailure {
		t.Fatalf("sent %v, %v", p, err)
	}
	if err := f.UnmarshalBinary([]byte(p.Message)); err != nil || f.Error != MSCHAPErrAuthenticationFailed {
		t.Errorf("failure message %q: %v", p.Message, err)
	}
}

func TestCHAPRandFailure(t *testing.T) {
	a, err := NewCHAPAuthenticator(CHAPAuthenticatorConfig{Rand: failReader{}})
	if err != nil {
		t.Fatal(err)
	}
	if st := a.Start(); st.Outcome != AuthFailure || !errors.Is(st.Err, ErrAuthRand) || st.Send != nil {
		t.Errorf("Start: %+v", st)
	}
	p, err := NewCHAPPeer(CHAPPeerConfig{Algorithm: CHAPAlgorithmMSCHAPv2, Rand: failReader{}})
	if err != nil {
		t.Fatal(err)
	}
	chal, _ := CHAPPacket{Code: CHAPCodeChallenge, Identifier: 1, Value: make([]byte, 16)}.MarshalBinary()
	if st := p.Input(chal); !errors.Is(st.Err, ErrAuthRand) || st.Send != nil {
		t.Errorf("peer Input: %+v", st)
	}
}

// TestCHAPPeerSteps drives the peer by hand.
func TestCHAPPeerSteps(t *testing.T) {
	p, err := NewCHAPPeer(CHAPPeerConfig{Name: "alice", Secret: "pw", MaxWaits: 3})
	if err != nil {
		t.Fatal(err)
	}
	enc := func(c CHAPPacket) []byte { b, _ := c.MarshalBinary(); return b }
	chal := func(id uint8, v ...byte) []byte {
		return enc(CHAPPacket{Code: CHAPCodeChallenge, Identifier: id, Value: v, Name: "lns"})
	}
	respTo := func(id uint8, v ...byte) []byte {
		r := CHAPMD5Response(id, "pw", v)
		return enc(CHAPPacket{Code: CHAPCodeResponse, Identifier: id, Value: r[:], Name: "alice"})
	}
	success := func(id uint8) []byte { return enc(CHAPPacket{Code: CHAPCodeSuccess, Identifier: id, Message: "ok"}) }
	steps := []struct {
		name string
		do   func() AuthStep
		want AuthStep
	}{
		{name: "Start", do: p.Start, want: AuthStep{Timer: AuthTimerStart}},
		{name: "Success before any Challenge", do: func() AuthStep { return p.Input(success(0)) }, want: AuthStep{Err: ErrAuthUnexpected}},
		{name: "Timeout waiting", do: p.Timeout, want: AuthStep{Timer: AuthTimerStart}},
		{name: "Challenge", do: func() AuthStep { return p.Input(chal(5, 1, 2, 3)) }, want: AuthStep{Send: respTo(5, 1, 2, 3), Timer: AuthTimerStart}},
		{name: "same Challenge again", do: func() AuthStep { return p.Input(chal(5, 1, 2, 3)) }, want: AuthStep{Send: respTo(5, 1, 2, 3), Timer: AuthTimerStart}},
		{name: "new Challenge replaces it", do: func() AuthStep { return p.Input(chal(6, 4)) }, want: AuthStep{Send: respTo(6, 4), Timer: AuthTimerStart}},
		{name: "Success for the old id", do: func() AuthStep { return p.Input(success(5)) }, want: AuthStep{Err: ErrAuthUnexpected}},
		{name: "Response from the other side", do: func() AuthStep { return p.Input(respTo(6, 4)) }, want: AuthStep{Err: ErrAuthUnexpected}},
		{name: "Success", do: func() AuthStep { return p.Input(success(6)) }, want: AuthStep{
			Timer: AuthTimerStop, Outcome: AuthSuccess, Result: &AuthResult{Accept: true, Message: "ok"},
		}},
		{name: "duplicate Success", do: func() AuthStep { return p.Input(success(6)) }, want: AuthStep{Err: ErrAuthUnexpected}},
		{name: "Timeout after success", do: p.Timeout, want: AuthStep{}},
		{name: "re-challenge, no timer", do: func() AuthStep { return p.Input(chal(7, 9)) }, want: AuthStep{Send: respTo(7, 9)}},
		{name: "Failure", do: func() AuthStep {
			return p.Input(enc(CHAPPacket{Code: CHAPCodeFailure, Identifier: 7, Message: "bye"}))
		}, want: AuthStep{Timer: AuthTimerStop, Outcome: AuthFailure, Err: ErrAuthRejected, Result: &AuthResult{Message: "bye"}}},
		{name: "Challenge after failure", do: func() AuthStep { return p.Input(chal(8, 1)) }, want: AuthStep{Err: ErrAuthUnexpected}},
	}
	for _, st := range steps {
		got := st.do()
		if diff := cmp.Diff(st.want, got, cmpErrors); diff != "" {
			t.Fatalf("%s: step mismatch (-want +got):\n%s", st.name, diff)
		}
	}

	// MS-CHAPv2 needs a 16-octet challenge.
	ms, err := NewCHAPPeer(CHAPPeerConfig{Algorithm: CHAPAlgorithmMSCHAPv2, Name: "alice", Secret: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	if st := ms.Input(chal(1, 1, 2, 3)); !errors.Is(st.Err, ErrMSCHAPv2ValueSize) || st.Send != nil {
		t.Errorf("short MS-CHAPv2 challenge: %+v", st)
	}
	// The wait for a challenge times out.
	w, _ := NewCHAPPeer(CHAPPeerConfig{MaxWaits: 2})
	w.Start()
	w.Timeout()
	if st := w.Timeout(); st.Outcome != AuthFailure || !errors.Is(st.Err, ErrAuthTimeout) {
		t.Errorf("second timeout: %+v", st)
	}
}

func TestCHAPConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		err  error
		bad  bool
	}{
		{name: "authenticator default", err: CHAPAuthenticatorConfig{}.Validate()},
		{name: "authenticator MS-CHAPv2", err: CHAPAuthenticatorConfig{Algorithm: CHAPAlgorithmMSCHAPv2}.Validate()},
		{name: "authenticator MS-CHAPv1", err: CHAPAuthenticatorConfig{Algorithm: CHAPAlgorithmMSCHAPv1}.Validate(), bad: true},
		{name: "authenticator challenge too long", err: CHAPAuthenticatorConfig{ChallengeLen: 256}.Validate(), bad: true},
		{name: "authenticator negative challenge length", err: CHAPAuthenticatorConfig{ChallengeLen: -1}.Validate(), bad: true},
		{name: "authenticator negative max", err: CHAPAuthenticatorConfig{MaxChallenges: -1}.Validate(), bad: true},
		{name: "authenticator name too long", err: CHAPAuthenticatorConfig{Name: strings.Repeat("n", 0xffff)}.Validate(), bad: true},
		{name: "peer default", err: CHAPPeerConfig{}.Validate()},
		{name: "peer unknown algorithm", err: CHAPPeerConfig{Algorithm: 7}.Validate(), bad: true},
		{name: "peer negative waits", err: CHAPPeerConfig{MaxWaits: -1}.Validate(), bad: true},
		{name: "peer name too long", err: CHAPPeerConfig{Name: strings.Repeat("n", 0xffff)}.Validate(), bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if (tt.err != nil) != tt.bad {
				t.Errorf("got %v, want error %t", tt.err, tt.bad)
			}
		})
	}
	if _, err := NewCHAPAuthenticator(CHAPAuthenticatorConfig{Algorithm: 1}); err == nil {
		t.Errorf("NewCHAPAuthenticator accepted an invalid config")
	}
	if _, err := NewCHAPPeer(CHAPPeerConfig{Algorithm: 1}); err == nil {
		t.Errorf("NewCHAPPeer accepted an invalid config")
	}
	a, _ := NewCHAPAuthenticator(CHAPAuthenticatorConfig{Algorithm: CHAPAlgorithmMSCHAPv2, ChallengeLen: 8})
	if st := a.Start(); len(st.Send) != ControlHeaderLen+1+16 {
		t.Errorf("MS-CHAPv2 challenge of %d octets sent, want 16", len(st.Send)-ControlHeaderLen-1)
	}
}
