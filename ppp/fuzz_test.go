package ppp

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Golden option lists used as fuzz seeds (see the golden tables in lcp_test.go,
// ipcp_test.go and ipv6cp_test.go).
var lcpSeeds = []string{
	"",
	"01 04 05 dc",
	"01 04 05 d4 03 05 c2 23 05 05 06 10 00 00 01",
	"01 04 05 78 02 06 00 00 00 00 03 05 c2 23 05 05 06 aa bb cc dd 07 02 08 02",
	"01 04 05 78 05 06 01 02 03 04 07 02 08 02 0d 03 06",
	"03 04 c0 23",
	"03 05 c2 23 81",
	"03 04 c2 27",
	"04 08 c0 25 00 00 00 0a",
	"05 06 00 00 00 00",
	"09 03 02 11 04 05 dc 12 02 13 03 00",
	"01 04 05 dc 01 04 05 78",
	"01 03 05",
	"01",
	"05 01",
}

var ipcpSeeds = []string{
	"03 06 00 00 00 00",
	"03 06 0a 00 00 02 81 06 00 00 00 00 83 06 00 00 00 00",
	"03 06 0a 00 00 02 82 06 0a 01 01 01 84 06 00 00 00 00",
	"02 06 00 2d 0f 01 01 0a 0a 00 00 02 0a 00 00 01",
	"81 04 00 00",
	"03 06 0a",
}

var ipv6cpSeeds = []string{
	"01 0a 11 22 33 44 55 66 77 88",
	"01 0a 00 00 00 00 00 00 00 00",
	"01 0a 00 00 00 00 10 00 00 01 02 04 00 4f",
	"01 06 00 00 00 01",
}

func addSeeds(f *testing.F, seeds []string, extra ...any) {
	for _, s := range seeds {
		f.Add(append(extra, ohex(s))...)
	}
}

// FuzzOptions round-trips option lists through OptionDecoder and OptionEncoder.
func FuzzOptions(f *testing.F) {
	addSeeds(f, lcpSeeds)
	addSeeds(f, ipcpSeeds)
	addSeeds(f, ipv6cpSeeds)
	f.Fuzz(func(t *testing.T, b []byte) {
		raw := NewOptionEncoder(nil)
		typed := NewOptionEncoder(nil)
		d := NewOptionDecoder(b)
		var opts []optTLV
		for d.Next() {
			opts = append(opts, optTLV{d.Type(), d.Bytes()})
			raw.Raw(d.Raw())
			typed.Bytes(d.Type(), d.Bytes())
			// Typed getters must not panic whatever the size; they may set Err.
			probe := *d
			probe.Uint8()
			probe.Uint16()
			probe.Uint32()
			probe.Uint64()
			probe.Addr()
		}
		if d.Err() != nil {
			return
		}
		for _, e := range []*OptionEncoder{raw, typed} {
			out, err := e.Encode()
			if err != nil {
				t.Fatalf("re-encoding a decoded list: %v", err)
			}
			if !bytes.Equal(out, b) {
				t.Fatalf("round trip %x -> %x", b, out)
			}
			again, err := decodeOptions(out)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(opts, again); diff != "" {
				t.Fatalf("(-first +second):\n%s", diff)
			}
		}
	})
}

// checkReply asserts the invariants of a Configure-Request verdict.
func checkReply(t *testing.T, req []byte, code Code, reply []byte, err error) {
	t.Helper()
	if err != nil {
		if CheckOptions(req) == nil && !fatal(err) {
			t.Fatalf("well-formed request %x: non-fatal error %v", req, err)
		}
		return
	}
	if CheckOptions(req) != nil {
		t.Fatalf("malformed request %x judged", req)
	}
	switch code {
	case CodeConfigureAck:
		if !bytes.Equal(reply, req) {
			t.Fatalf("Ack %x differs from request %x", reply, req)
		}
	case CodeConfigureNak:
		if len(reply) == 0 || CheckOptions(reply) != nil {
			t.Fatalf("bad Nak %x for %x", reply, req)
		}
	case CodeConfigureReject:
		if len(reply) == 0 || !isSubsequence(reply, req) {
			t.Fatalf("Reject %x is not a subsequence of %x", reply, req)
		}
	default:
		t.Fatalf("code %d", code)
	}
}

func lcpFuzzConfig(flags uint8) LCPConfig {
	cfg := LCPConfig{
		AcceptACCM: flags&1 != 0, AcceptPFC: flags&2 != 0, AcceptACFC: flags&4 != 0,
		NoMagic: flags&8 != 0, Rand: &countRand{},
	}
	if flags&16 != 0 {
		cfg.MaxMRU = 1492
	}
	if flags&32 != 0 {
		cfg.Auth = []AuthMethod{AuthMSCHAPv2, AuthCHAPMD5, AuthPAP}
	}
	if flags&64 != 0 {
		cfg.AllowAuth = []AuthMethod{AuthPAP, AuthCHAPMD5}
	}
	return cfg
}

// FuzzLCPConfigureRequest judges arbitrary LCP Configure-Requests and applies arbitrary
// Naks and Rejects; replies and the next request must parse.
func FuzzLCPConfigureRequest(f *testing.F) {
	for i, s := range lcpSeeds {
		f.Add(uint8(i*37), false, ohex(s))
	}
	f.Fuzz(func(t *testing.T, flags uint8, rejectNaks bool, req []byte) {
		l := newLCP(lcpFuzzConfig(flags))
		code, reply, err := l.judgeRequest(nil, req, rejectNaks)
		checkReply(t, req, code, reply, err)
		if err == nil && rejectNaks && code == CodeConfigureNak {
			t.Fatal("Nak despite Max-Failure")
		}
		if err := l.gotNak(req, rejectNaks); err == nil {
			if CheckOptions(l.appendRequest(nil)) != nil {
				t.Fatal("request after Nak does not parse")
			}
		}
		if err := l.gotReject(req); err == nil {
			if CheckOptions(l.appendRequest(nil)) != nil {
				t.Fatal("request after Reject does not parse")
			}
		}
		if r := l.result(); r.PeerMRU > l.cfg.MaxMRU || r.PeerMRU < minMRU {
			t.Fatalf("peer MRU %d outside [%d, %d]", r.PeerMRU, minMRU, l.cfg.MaxMRU)
		}
	})
}

// FuzzIPCPConfigureRequest does the same for IPCP in the server and client roles.
func FuzzIPCPConfigureRequest(f *testing.F) {
	for i, s := range ipcpSeeds {
		f.Add(i%2 == 0, false, ohex(s))
	}
	f.Fuzz(func(t *testing.T, server, rejectNaks bool, req []byte) {
		cfg := IPCPConfig{RequestDNS: true, RequestNBNS: true}
		if server {
			cfg = IPCPConfig{
				Local: netip.MustParseAddr("10.0.0.1"), Peer: netip.MustParseAddr("10.0.0.2"),
				DNS: [2]netip.Addr{netip.MustParseAddr("8.8.8.8")},
			}
		}
		n := newIPCP(cfg)
		code, reply, err := n.judgeRequest(nil, req, rejectNaks)
		checkReply(t, req, code, reply, err)
		if err == nil && code == CodeConfigureAck && server && n.result().Peer != cfg.Peer {
			t.Fatalf("server acked peer address %v", n.result().Peer)
		}
		if err := n.gotNak(req, rejectNaks); err == nil {
			if CheckOptions(n.appendRequest(nil)) != nil {
				t.Fatal("request after Nak does not parse")
			}
		}
		if err := n.gotReject(req); err == nil {
			if CheckOptions(n.appendRequest(nil)) != nil {
				t.Fatal("request after Reject does not parse")
			}
		}
	})
}

// FuzzIPv6CPConfigureRequest does the same for IPv6CP.
func FuzzIPv6CPConfigureRequest(f *testing.F) {
	addSeeds(f, ipv6cpSeeds, false)
	f.Fuzz(func(t *testing.T, rejectNaks bool, req []byte) {
		n := newIPv6CP(IPv6CPConfig{Rand: &countRand{}})
		code, reply, err := n.judgeRequest(nil, req, rejectNaks)
		checkReply(t, req, code, reply, err)
		if err == nil && code == CodeConfigureAck && n.result().PeerID == n.result().LocalID {
			t.Fatal("acked our own identifier")
		}
		if err := n.gotNak(req, rejectNaks); err == nil {
			if r := n.appendRequest(nil); CheckOptions(r) != nil || n.result().LocalID == 0 {
				t.Fatal("bad request after Nak")
			}
		}
		if err := n.gotReject(req); err == nil && CheckOptions(n.appendRequest(nil)) != nil {
			t.Fatal("request after Reject does not parse")
		}
	})
}

// FuzzFSM feeds an LCP automaton a script of events and packets decoded from the input:
// it must not panic, stay in a valid state, and only send packets that parse.
func FuzzFSM(f *testing.F) {
	// Script: op, then for op 0 (packet) code, id, length n, n data octets.
	f.Add(ohex("02 04 00 01 07 06 05 06 aa bb cc dd 00 02 01 06 05 06 10 00 00 02 05"))
	f.Add(ohex("02 04 00 01 01 06 05 06 10 00 00 01 00 09 03 08 00 00 00 00 00 0e 01 00 03"))
	f.Add(ohex("02 04 05 05 05 00 05 02 00 00 06"))
	f.Add(ohex("02 04 00 07 01 01 01 00 08 01 02 c0 21"))
	f.Fuzz(func(t *testing.T, script []byte) {
		var sent []sentPacket
		o := &fuzzOwner{sent: &sent}
		l := newLCP(LCPConfig{Rand: &countRand{}, Auth: []AuthMethod{AuthCHAPMD5}, AllowAuth: []AuthMethod{AuthPAP}, AcceptACCM: true})
		fsm := newFSM(FSMConfig{MaxConfigure: 3, MaxFailure: 2}, l, o)
		for i := 0; i < len(script); {
			op := script[i] % 8
			i++
			switch op {
			case 0:
				if i+3 > len(script) {
					return
				}
				code, id, n := Code(script[i]), script[i+1], int(script[i+2])
				i += 3
				n = min(n, len(script)-i)
				fsm.Input(code, id, script[i:i+n])
				i += n
			case 1:
				fsm.Timeout()
			case 2:
				fsm.Open()
			case 3:
				fsm.Close("fuzz")
			case 4:
				fsm.Up()
			case 5:
				fsm.Down()
			case 6:
				fsm.ProtocolRejected()
			case 7:
				fsm.openByProxy()
			}
			if fsm.State() >= numStates {
				t.Fatalf("state %d", fsm.State())
			}
		}
		for _, p := range sent {
			switch p.code {
			case CodeConfigureRequest, CodeConfigureNak, CodeConfigureReject:
				if CheckOptions(p.data) != nil {
					t.Fatalf("sent code %d with bad options %x", p.code, p.data)
				}
			}
			if len(p.data)+ControlHeaderLen > defaultMRU {
				t.Fatalf("sent %d octets, above the peer's MRU", len(p.data)+ControlHeaderLen)
			}
		}
	})
}

type fuzzOwner struct{ sent *[]sentPacket }

func (o *fuzzOwner) send(_ Protocol, code Code, id uint8, data []byte) {
	*o.sent = append(*o.sent, sentPacket{code, id, bytes.Clone(data)})
}
func (o *fuzzOwner) startTimer(Protocol, time.Duration)     {}
func (o *fuzzOwner) stopTimer(Protocol)                     {}
func (o *fuzzOwner) thisLayerUp(Protocol)                   {}
func (o *fuzzOwner) thisLayerDown(Protocol)                 {}
func (o *fuzzOwner) thisLayerStarted(Protocol)              {}
func (o *fuzzOwner) thisLayerFinished(Protocol)             {}
func (o *fuzzOwner) received(Protocol, Code, uint8, []byte) {}

// FuzzLCPPacketData round-trips the data fields of the LCP-only packets.
func FuzzLCPPacketData(f *testing.F) {
	f.Add(ohex("11 22 33 44 68 69"))
	f.Add(ohex("11 22 33 44 00 00 0e 10 78"))
	f.Add(ohex("80 21 01 02"))
	f.Add(ohex("0e"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, d, err := ParseMagicData(b); err == nil {
			if out := AppendMagicData(nil, m, d); !bytes.Equal(out, b) {
				t.Fatalf("magic data %x -> %x", b, out)
			}
		}
		if m, s, msg, err := ParseTimeRemaining(b); err == nil {
			if out := AppendTimeRemaining(nil, m, s, msg); !bytes.Equal(out, b) {
				t.Fatalf("time remaining %x -> %x", b, out)
			}
		}
		if p, info, err := ParseProtocolReject(b); err == nil {
			if out := AppendProtocolReject(nil, p, info, len(b)+ControlHeaderLen); !bytes.Equal(out, b) {
				t.Fatalf("protocol reject %x -> %x", b, out)
			}
			if out := AppendProtocolReject(nil, p, info, 0); len(out) != 2 {
				t.Fatalf("protocol reject truncated to %d octets", len(out))
			}
		}
		ParseCodeReject(b)
	})
}

// FuzzProxyLCP checks LCPConfig.ProxyLCP on arbitrary AVP contents.
func FuzzProxyLCP(f *testing.F) {
	f.Add(ohex("01 04 05 b4 05 06 55 66 77 88"), ohex("01 04 05 b4 03 05 c2 23 05 05 06 11 22 33 44"), ohex("01 04 05 b4 02 06 00 00 00 00 05 06 55 66 77 88 07 02 08 02"))
	f.Add([]byte{}, ohex("03 04 c0 23"), ohex("05 06 11 22 33 44"))
	f.Fuzz(func(t *testing.T, initial, sent, received []byte) {
		cfg := LCPConfig{MaxMRU: 1460, AcceptACCM: true, Auth: []AuthMethod{AuthCHAPMD5, AuthPAP}}
		res, err := cfg.ProxyLCP(initial, sent, received)
		if err != nil {
			return
		}
		if res.LocalMRU > 1460 || res.PeerMRU > 1460 || res.PeerAuth == AuthNone {
			t.Fatalf("accepted %+v", res)
		}
		if res.LocalMagic != 0 && res.LocalMagic == res.PeerMagic {
			t.Fatalf("accepted equal magic numbers %+v", res)
		}
	})
}
