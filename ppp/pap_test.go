package ppp

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Golden PAP packets (RFC 1334 §2.2).
var papGolden = []struct {
	name string
	hex  string
	pkt  PAPPacket
}{
	{
		name: "Authenticate-Request",
		hex:  "01010011" + "05" + "616c696365" + "06" + "736563726574", // alice / secret
		pkt:  PAPPacket{Code: PAPCodeRequest, Identifier: 1, PeerID: "alice", Password: "secret"},
	},
	{
		name: "Authenticate-Request with empty fields",
		hex:  "01ff0006" + "00" + "00",
		pkt:  PAPPacket{Code: PAPCodeRequest, Identifier: 255},
	},
	{
		name: "Authenticate-Ack",
		hex:  "0201000d" + "08" + "4c6f67696e206f6b", // "Login ok"
		pkt:  PAPPacket{Code: PAPCodeAck, Identifier: 1, Message: "Login ok"},
	},
	{
		name: "Authenticate-Nak with empty message",
		hex:  "03070005" + "00",
		pkt:  PAPPacket{Code: PAPCodeNak, Identifier: 7},
	},
}

func TestPAPCodecGolden(t *testing.T) {
	for _, tt := range papGolden {
		t.Run(tt.name, func(t *testing.T) {
			b := mustHex(t, tt.hex)
			var got PAPPacket
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
}

func TestPAPCodecLenient(t *testing.T) {
	tests := []struct {
		name string
		hex  string
		want PAPPacket
	}{
		{name: "padding after Length", hex: "03070005" + "00" + "ffff", want: PAPPacket{Code: PAPCodeNak, Identifier: 7}},
		{name: "Ack without Msg-Length", hex: "02010004", want: PAPPacket{Code: PAPCodeAck, Identifier: 1}},
		{name: "octets after the password", hex: "01010008" + "01" + "61" + "01" + "62" + "ee", want: PAPPacket{Code: PAPCodeRequest, Identifier: 1, PeerID: "a", Password: "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got PAPPacket
			if err := got.UnmarshalBinary(mustHex(t, tt.hex)); err != nil {
				t.Fatalf("UnmarshalBinary: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPAPCodecMalformed(t *testing.T) {
	tests := []struct {
		name string
		hex  string
		want error
	}{
		{name: "short header", hex: "010100", want: io.ErrUnexpectedEOF},
		{name: "Length past the frame", hex: "01010010" + "00" + "00", want: ErrBadLength},
		{name: "Length below the header", hex: "01010003" + "0000", want: ErrBadLength},
		{name: "request without Peer-ID Length", hex: "01010004", want: io.ErrUnexpectedEOF},
		{name: "Peer-ID Length past Length", hex: "01010007" + "05" + "6162", want: ErrPAPFieldLength},
		{name: "Peer-ID Length past Length, octets in padding", hex: "01010007" + "05" + "6162" + "636465", want: ErrPAPFieldLength},
		{name: "request without Passwd-Length", hex: "01010006" + "01" + "61", want: io.ErrUnexpectedEOF},
		{name: "Passwd-Length past Length", hex: "01010008" + "01" + "61" + "02" + "62", want: ErrPAPFieldLength},
		{name: "Msg-Length past Length", hex: "02010006" + "05" + "61", want: ErrPAPFieldLength},
		{name: "unknown code", hex: "04010004", want: ErrPAPBadCode},
		{name: "code zero", hex: "00010004", want: ErrPAPBadCode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p PAPPacket
			if err := p.UnmarshalBinary(mustHex(t, tt.hex)); !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestPAPMarshalErrors(t *testing.T) {
	long := strings.Repeat("x", 256)
	tests := []struct {
		name string
		pkt  PAPPacket
		want error
	}{
		{name: "long peer-id", pkt: PAPPacket{Code: PAPCodeRequest, PeerID: long}, want: ErrPAPFieldLength},
		{name: "long password", pkt: PAPPacket{Code: PAPCodeRequest, Password: long}, want: ErrPAPFieldLength},
		{name: "long message", pkt: PAPPacket{Code: PAPCodeAck, Message: long}, want: ErrPAPFieldLength},
		{name: "unknown code", pkt: PAPPacket{Code: 9}, want: ErrPAPBadCode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.pkt.MarshalBinary(); !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func newPAPSim(t *testing.T, peerCfg PAPPeerConfig, authCfg PAPAuthenticatorConfig, store mapStore) *sim {
	t.Helper()
	peer, err := NewPAPPeer(peerCfg)
	if err != nil {
		t.Fatal(err)
	}
	auth, err := NewPAPAuthenticator(authCfg)
	if err != nil {
		t.Fatal(err)
	}
	return &sim{t: t, auth: auth, peer: peer, backend: LocalBackend{Secrets: store}}
}

func TestPAPExchange(t *testing.T) {
	store := mapStore{"alice": "wonderland"}
	success := []outcome{{Outcome: AuthSuccess, Message: PAPDefaultAckMessage}}
	nak := []outcome{{Outcome: AuthFailure, Err: ErrAuthRejected, Message: PAPDefaultNakMessage}}
	tests := []struct {
		name             string
		peer             PAPPeerConfig
		auth             PAPAuthenticatorConfig
		drop             func(toPeer bool, n int, pkt []byte) bool
		wantAuth         []outcome
		wantPeer         []outcome
		wantToAuth       int // Authenticate-Requests sent
		wantToPeer       int // Acks and Naks sent
		wantBackendCalls int
	}{
		{
			name:     "success",
			peer:     PAPPeerConfig{PeerID: "alice", Password: "wonderland"},
			wantAuth: success, wantPeer: success,
			wantToAuth: 1, wantToPeer: 1, wantBackendCalls: 1,
		},
		{
			name:     "wrong password",
			peer:     PAPPeerConfig{PeerID: "alice", Password: "looking-glass"},
			wantAuth: nak, wantPeer: nak,
			wantToAuth: 1, wantToPeer: 1, wantBackendCalls: 1,
		},
		{
			name:       "wrong username",
			peer:       PAPPeerConfig{PeerID: "bob", Password: "wonderland"},
			auth:       PAPAuthenticatorConfig{NakMessage: "go away"},
			wantAuth:   []outcome{{Outcome: AuthFailure, Err: ErrAuthRejected, Message: "go away"}},
			wantPeer:   []outcome{{Outcome: AuthFailure, Err: ErrAuthRejected, Message: "go away"}},
			wantToAuth: 1, wantToPeer: 1, wantBackendCalls: 1,
		},
		{
			name:     "first two requests lost",
			peer:     PAPPeerConfig{PeerID: "alice", Password: "wonderland"},
			drop:     func(toPeer bool, n int, _ []byte) bool { return !toPeer && n <= 2 },
			wantAuth: success, wantPeer: success,
			wantToAuth: 3, wantToPeer: 1, wantBackendCalls: 1,
		},
		{
			name:     "Ack lost: the repeated request is acked again without the backend",
			peer:     PAPPeerConfig{PeerID: "alice", Password: "wonderland"},
			drop:     func(toPeer bool, n int, _ []byte) bool { return toPeer && n == 1 },
			wantAuth: success, wantPeer: success,
			wantToAuth: 2, wantToPeer: 2, wantBackendCalls: 1,
		},
		{
			name:     "Nak lost: the repeated request is naked again",
			peer:     PAPPeerConfig{PeerID: "alice", Password: "xyzzy-wrong"},
			drop:     func(toPeer bool, n int, _ []byte) bool { return toPeer && n == 1 },
			wantAuth: nak, wantPeer: nak,
			wantToAuth: 2, wantToPeer: 2, wantBackendCalls: 1,
		},
		{
			name:       "authenticator unreachable: both give up",
			peer:       PAPPeerConfig{PeerID: "alice", Password: "wonderland", MaxRequests: 4},
			auth:       PAPAuthenticatorConfig{MaxWaits: 6},
			drop:       func(toPeer bool, _ int, _ []byte) bool { return !toPeer },
			wantAuth:   []outcome{{Outcome: AuthFailure, Err: ErrAuthTimeout}},
			wantPeer:   []outcome{{Outcome: AuthFailure, Err: ErrAuthTimeout}},
			wantToAuth: 4, wantToPeer: 0, wantBackendCalls: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newPAPSim(t, tt.peer, tt.auth, store)
			s.drop = tt.drop
			s.start()
			if diff := cmp.Diff(tt.wantAuth, outcomes(s.authOutcomes), cmpErrors); diff != "" {
				t.Errorf("authenticator outcomes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantPeer, outcomes(s.peerOutcomes), cmpErrors); diff != "" {
				t.Errorf("peer outcomes (-want +got):\n%s", diff)
			}
			if s.sentToAuth != tt.wantToAuth || s.sentToPeer != tt.wantToPeer {
				t.Errorf("packets sent: %d to authenticator, %d to peer; want %d, %d", s.sentToAuth, s.sentToPeer, tt.wantToAuth, tt.wantToPeer)
			}
			if len(s.requests) != tt.wantBackendCalls {
				t.Errorf("backend calls: got %d, want %d", len(s.requests), tt.wantBackendCalls)
			}
			if s.timersRunning() {
				t.Errorf("timers left running")
			}
			checkNoSecret(t, tt.peer.Password, s.errs, s.requests)
		})
	}
}

// TestPAPAuthenticatorSteps drives the authenticator by hand, checking every field of
// every step.
func TestPAPAuthenticatorSteps(t *testing.T) {
	carrier := AuthCarrier{CallingStationID: "02:00:00:00:00:01", CircuitID: "dslam1 atm 1/1:8.35"}
	a, err := NewPAPAuthenticator(PAPAuthenticatorConfig{Carrier: carrier})
	if err != nil {
		t.Fatal(err)
	}
	req := func(id uint8, user, pw string) []byte {
		b, err := PAPPacket{Code: PAPCodeRequest, Identifier: id, PeerID: user, Password: pw}.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	reply := func(code Code, id uint8, msg string) []byte {
		b, _ := PAPPacket{Code: code, Identifier: id, Message: msg}.MarshalBinary()
		return b
	}
	accept := AuthResult{Accept: true, Pool: "gold"}
	steps := []struct {
		name string
		do   func() AuthStep
		want AuthStep
	}{
		{name: "Start", do: a.Start, want: AuthStep{Timer: AuthTimerStart}},
		{name: "Decide before a request", do: func() AuthStep { return a.Decide(accept) }, want: AuthStep{Err: ErrAuthUnexpected}},
		{name: "Ack from the peer is discarded", do: func() AuthStep { return a.Input(reply(PAPCodeAck, 1, "")) }, want: AuthStep{Err: ErrAuthUnexpected}},
		{name: "garbage", do: func() AuthStep { return a.Input([]byte{1}) }, want: AuthStep{Err: io.ErrUnexpectedEOF}},
		{name: "Timeout while waiting", do: a.Timeout, want: AuthStep{Timer: AuthTimerStart}},
		{name: "request", do: func() AuthStep { return a.Input(req(5, "alice", "pw")) }, want: AuthStep{
			Timer:   AuthTimerStop,
			Request: &AuthRequest{Method: AuthPAP, Username: "alice", Password: "pw", Carrier: carrier},
		}},
		{name: "Timeout while deciding", do: a.Timeout, want: AuthStep{}},
		{name: "repeat with a new id is absorbed", do: func() AuthStep { return a.Input(req(6, "alice", "pw")) }, want: AuthStep{}},
		{name: "different request is discarded", do: func() AuthStep { return a.Input(req(7, "mallory", "pw")) }, want: AuthStep{Err: ErrAuthUnexpected}},
		{name: "Decide acks the newest identical request", do: func() AuthStep { return a.Decide(accept) }, want: AuthStep{
			Send: reply(PAPCodeAck, 6, PAPDefaultAckMessage), Timer: AuthTimerStop, Outcome: AuthSuccess,
			Result: &AuthResult{Accept: true, Pool: "gold", Message: PAPDefaultAckMessage},
		}},
		{name: "second Decide", do: func() AuthStep { return a.Decide(accept) }, want: AuthStep{Err: ErrAuthUnexpected}},
		{name: "repeated request after Ack is acked again", do: func() AuthStep { return a.Input(req(9, "alice", "pw")) }, want: AuthStep{
			Send: reply(PAPCodeAck, 9, PAPDefaultAckMessage),
		}},
		{name: "Timeout after the outcome", do: a.Timeout, want: AuthStep{}},
	}
	for _, st := range steps {
		got := st.do()
		if diff := cmp.Diff(st.want, got, cmpErrors); diff != "" {
			t.Fatalf("%s: step mismatch (-want +got):\n%s", st.name, diff)
		}
	}
}

func TestPAPPeerSteps(t *testing.T) {
	p, err := NewPAPPeer(PAPPeerConfig{PeerID: "alice", Password: "pw", MaxRequests: 2})
	if err != nil {
		t.Fatal(err)
	}
	reqPkt, _ := PAPPacket{Code: PAPCodeRequest, Identifier: 1, PeerID: "alice", Password: "pw"}.MarshalBinary()
	ack := func(id uint8) []byte {
		b, _ := PAPPacket{Code: PAPCodeAck, Identifier: id, Message: "hi"}.MarshalBinary()
		return b
	}
	steps := []struct {
		name string
		do   func() AuthStep
		want AuthStep
	}{
		{name: "Timeout before Start", do: p.Timeout, want: AuthStep{}},
		{name: "Start", do: p.Start, want: AuthStep{Send: reqPkt, Timer: AuthTimerStart}},
		{name: "second Start", do: p.Start, want: AuthStep{}},
		{name: "Ack with another id", do: func() AuthStep { return p.Input(ack(2)) }, want: AuthStep{Err: ErrAuthUnexpected}},
		{name: "request from the other side", do: func() AuthStep { return p.Input(reqPkt) }, want: AuthStep{Err: ErrAuthUnexpected}},
		{name: "Timeout resends", do: p.Timeout, want: AuthStep{Send: reqPkt, Timer: AuthTimerStart}},
		{name: "Ack", do: func() AuthStep { return p.Input(ack(1)) }, want: AuthStep{
			Timer: AuthTimerStop, Outcome: AuthSuccess, Result: &AuthResult{Accept: true, Message: "hi"},
		}},
		{name: "duplicate Ack", do: func() AuthStep { return p.Input(ack(1)) }, want: AuthStep{Err: ErrAuthUnexpected}},
		{name: "Timeout after success", do: p.Timeout, want: AuthStep{}},
	}
	for _, st := range steps {
		got := st.do()
		if diff := cmp.Diff(st.want, got, cmpErrors); diff != "" {
			t.Fatalf("%s: step mismatch (-want +got):\n%s", st.name, diff)
		}
	}
}

func TestPAPConfigValidate(t *testing.T) {
	long := strings.Repeat("x", 256)
	tests := []struct {
		name string
		err  error
		bad  bool
	}{
		{name: "peer ok", err: PAPPeerConfig{PeerID: "a", Password: "b"}.Validate()},
		{name: "peer long id", err: PAPPeerConfig{PeerID: long}.Validate(), bad: true},
		{name: "peer long password", err: PAPPeerConfig{Password: long}.Validate(), bad: true},
		{name: "peer negative max", err: PAPPeerConfig{MaxRequests: -1}.Validate(), bad: true},
		{name: "authenticator ok", err: PAPAuthenticatorConfig{}.Validate()},
		{name: "authenticator negative waits", err: PAPAuthenticatorConfig{MaxWaits: -1}.Validate(), bad: true},
		{name: "authenticator long message", err: PAPAuthenticatorConfig{AckMessage: long}.Validate(), bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if (tt.err != nil) != tt.bad {
				t.Errorf("got %v, want error %t", tt.err, tt.bad)
			}
		})
	}
	if _, err := NewPAPPeer(PAPPeerConfig{Password: long}); err == nil {
		t.Errorf("NewPAPPeer accepted an invalid config")
	}
	if _, err := NewPAPAuthenticator(PAPAuthenticatorConfig{MaxWaits: -1}); err == nil {
		t.Errorf("NewPAPAuthenticator accepted an invalid config")
	}
}
