package ppp

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The fuzz targets decode, encode and decode again, and compare the two decodings.

func FuzzPAPPacket(f *testing.F) {
	for _, g := range papGolden {
		f.Add(mustHex(f, g.hex))
	}
	f.Add(mustHex(f, "02010004"))
	f.Add(mustHex(f, "01010007"+"05"+"6162"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var p1 PAPPacket
		if err := p1.UnmarshalBinary(b); err != nil {
			return
		}
		enc, err := p1.MarshalBinary()
		if err != nil {
			t.Fatalf("MarshalBinary of a decoded packet: %v", err)
		}
		var p2 PAPPacket
		if err := p2.UnmarshalBinary(enc); err != nil {
			t.Fatalf("UnmarshalBinary of an encoded packet: %v", err)
		}
		if diff := cmp.Diff(p1, p2); diff != "" {
			t.Errorf("round trip mismatch (-first +second):\n%s", diff)
		}
	})
}

func FuzzCHAPPacket(f *testing.F) {
	for _, g := range chapGolden {
		f.Add(mustHex(f, g.hex))
	}
	f.Add(mustHex(f, "01010005"+"00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var p1 CHAPPacket
		if err := p1.UnmarshalBinary(b); err != nil {
			return
		}
		enc, err := p1.MarshalBinary()
		if err != nil {
			t.Fatalf("MarshalBinary of a decoded packet: %v", err)
		}
		var p2 CHAPPacket
		if err := p2.UnmarshalBinary(enc); err != nil {
			t.Fatalf("UnmarshalBinary of an encoded packet: %v", err)
		}
		if diff := cmp.Diff(p1, p2); diff != "" {
			t.Errorf("round trip mismatch (-first +second):\n%s", diff)
		}
	})
}

func FuzzMSCHAPv2Response(f *testing.F) {
	f.Add(mustHex(f, rfcPeerChal+"0000000000000000"+rfcNTResponse+"00"))
	f.Add(mustHex(f, rfcPeerChal+"ffffffffffffffff"+rfcNTResponse+"01"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var r1 MSCHAPv2Response
		if err := r1.UnmarshalBinary(b); err != nil {
			return
		}
		enc, err := r1.MarshalBinary()
		if err != nil {
			t.Fatalf("MarshalBinary: %v", err)
		}
		var r2 MSCHAPv2Response
		if err := r2.UnmarshalBinary(enc); err != nil {
			t.Fatalf("UnmarshalBinary of an encoded value: %v", err)
		}
		if diff := cmp.Diff(r1, r2); diff != "" {
			t.Errorf("round trip mismatch (-first +second):\n%s", diff)
		}
	})
}

func FuzzMSCHAPv2Success(f *testing.F) {
	f.Add([]byte(rfcAuthResponse + " M=Access granted"))
	f.Add([]byte(rfcAuthResponse))
	f.Add([]byte(rfcAuthResponse + "  M= x"))
	f.Add([]byte("S=" + "407a5589115fd0d6209f510fe9c04566932cda56" + " hello"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var s1 MSCHAPv2Success
		if err := s1.UnmarshalBinary(b); err != nil {
			return
		}
		enc, err := s1.MarshalBinary()
		if err != nil {
			t.Fatalf("MarshalBinary: %v", err)
		}
		var s2 MSCHAPv2Success
		if err := s2.UnmarshalBinary(enc); err != nil {
			t.Fatalf("UnmarshalBinary of %q: %v", enc, err)
		}
		if diff := cmp.Diff(s1, s2); diff != "" {
			t.Errorf("round trip mismatch (-first +second):\n%s", diff)
		}
	})
}

func FuzzMSCHAPv2Failure(f *testing.F) {
	f.Add([]byte("E=691 R=0 C=" + rfcAuthChal + " V=3 M=Authentication failed"))
	f.Add([]byte("E=648 R=1 C=" + rfcAuthChal + " V=3 M=Password expired"))
	f.Add([]byte("E=691"))
	f.Add([]byte("E=691  X=1 M="))
	f.Fuzz(func(t *testing.T, b []byte) {
		var f1 MSCHAPv2Failure
		if err := f1.UnmarshalBinary(b); err != nil {
			return
		}
		enc, err := f1.MarshalBinary()
		if err != nil {
			t.Fatalf("MarshalBinary: %v", err)
		}
		var f2 MSCHAPv2Failure
		if err := f2.UnmarshalBinary(enc); err != nil {
			t.Fatalf("UnmarshalBinary of %q: %v", enc, err)
		}
		if diff := cmp.Diff(f1, f2); diff != "" {
			t.Errorf("round trip mismatch (-first +second):\n%s", diff)
		}
	})
}

// FuzzAuthExchanges feeds arbitrary packets, timeouts and decisions to every exchange
// object. Each op is one octet: 0-3 Timeout, 4-7 Decide (accept when odd), else a packet
// of (op-8)%64 octets taken from the rest of the input. Every packet an object sends must
// decode with its protocol's codec, and no step may carry both a request and an outcome.
func FuzzAuthExchanges(f *testing.F) {
	for _, g := range papGolden {
		b := mustHex(f, g.hex)
		f.Add(append([]byte{byte(8 + len(b))}, b...))
	}
	for _, g := range chapGolden {
		b := mustHex(f, g.hex)
		f.Add(append(append([]byte{byte(8 + len(b))}, b...), 5, 0))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		newAll := func() []AuthExchange {
			pp, _ := NewPAPPeer(PAPPeerConfig{PeerID: "alice", Password: "pw", MaxRequests: 3})
			pa, _ := NewPAPAuthenticator(PAPAuthenticatorConfig{MaxWaits: 3})
			ca, _ := NewCHAPAuthenticator(CHAPAuthenticatorConfig{ChallengeLen: 1, MaxChallenges: 3, Rand: &counterReader{}})
			cp, _ := NewCHAPPeer(CHAPPeerConfig{Name: "alice", Secret: "pw", MaxWaits: 3, Rand: &counterReader{}})
			ma, _ := NewCHAPAuthenticator(CHAPAuthenticatorConfig{Algorithm: CHAPAlgorithmMSCHAPv2, MaxChallenges: 3, Rand: &counterReader{}})
			mp, _ := NewCHAPPeer(CHAPPeerConfig{Algorithm: CHAPAlgorithmMSCHAPv2, Name: "alice", Secret: "pw", MaxWaits: 3, Rand: &counterReader{}})
			return []AuthExchange{pp, pa, ca, cp, ma, mp}
		}
		all := newAll()
		check := func(x AuthExchange, st AuthStep) {
			if st.Request != nil && st.Outcome != AuthPending {
				t.Fatalf("%T: step with a request and an outcome", x)
			}
			if st.Send == nil {
				return
			}
			var err error
			if x.Method() == AuthPAP {
				var p PAPPacket
				err = p.UnmarshalBinary(st.Send)
			} else {
				var p CHAPPacket
				err = p.UnmarshalBinary(st.Send)
			}
			if err != nil {
				t.Fatalf("%T sent an undecodable packet %x: %v", x, st.Send, err)
			}
		}
		for _, x := range all {
			check(x, x.Start())
		}
		for len(in) > 0 {
			op := in[0]
			in = in[1:]
			for _, x := range all {
				switch {
				case op < 4:
					check(x, x.Timeout())
				case op < 8:
					if a, ok := x.(AuthenticatorExchange); ok {
						res := AuthResult{Accept: op%2 == 1}
						if op == 7 {
							res.MSCHAPv2AuthResponse = make([]byte, 20)
						}
						st := a.Decide(res)
						if st.Send == nil && !errors.Is(st.Err, ErrAuthUnexpected) {
							t.Fatalf("%T: Decide sent nothing: %+v", x, st)
						}
						check(x, st)
					}
				default:
					n := min(int(op-8)%64, len(in))
					check(x, x.Input(in[:n]))
					if ca, ok := x.(*CHAPAuthenticator); ok && op%16 == 0 {
						check(x, ca.Rechallenge())
					}
				}
			}
			if op >= 8 {
				in = in[min(int(op-8)%64, len(in)):]
			}
		}
	})
}
