package ppp

import (
	"encoding/binary"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// lockedRand is a deterministic random source safe for the engine's concurrent sessions.
type lockedRand struct {
	mu sync.Mutex
	r  *rand.ChaCha8
}

func newLockedRand(seed byte) *lockedRand {
	var s [32]byte
	s[0] = seed
	return &lockedRand{r: rand.NewChaCha8(s)}
}

func (l *lockedRand) Read(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(b)
}

// fuzzFrames encodes a fuzz input: a mode octet, then frames, each a length octet (the high
// bit asks for 2 s of time to pass after the frame) and the frame.
func fuzzFrames(mode byte, frames ...[]byte) []byte {
	out := []byte{mode}
	for _, f := range frames {
		out = append(out, byte(len(f)))
		out = append(out, f...)
	}
	return out
}

func lcpFrame(code Code, id uint8, data []byte) []byte {
	return AppendFrame(nil, ProtoLCP, AppendControl(nil, code, id, data))
}

// FuzzSessionInput feeds arbitrary frames to a server session, alone or while a real client
// negotiates with it, and checks that the session never panics and always ends cleanly.
// The mode octet picks the profile (bits 0-1), whether a client runs (bit 2), and the
// carrier (bit 3).
func FuzzSessionInput(f *testing.F) {
	opts := NewOptionEncoder(nil)
	opts.Uint16(LCPOptMRU, 1400)
	opts.Uint32(LCPOptMagicNumber, 0x01020304)
	opts.Bytes(LCPOptAuthProtocol, []byte{0xc0, 0x23})
	confreq, _ := opts.Encode()
	ipcpOpts := NewOptionEncoder(nil)
	ipcpOpts.Addr(IPCPOptAddress, mustAddr("0.0.0.0"))
	ipcpOpts.Addr(IPCPOptPrimaryDNS, mustAddr("0.0.0.0"))
	ipcpReq, _ := ipcpOpts.Encode()
	papReq, _ := PAPPacket{Code: PAPCodeRequest, Identifier: 1, PeerID: "alice", Password: "alice-secret"}.MarshalBinary()
	chapResp, _ := CHAPPacket{Code: CHAPCodeResponse, Identifier: 7, Value: make([]byte, 16), Name: "alice"}.MarshalBinary()
	protoRej := binary.BigEndian.AppendUint16(nil, uint16(ProtoIPCP))

	f.Add(fuzzFrames(0x01, lcpFrame(CodeConfigureRequest, 1, confreq), AppendFrame(nil, ProtoPAP, papReq),
		lcpFrame(CodeConfigureAck, 1, nil), AppendFrame(nil, ProtoIPCP, AppendControl(nil, CodeConfigureRequest, 1, ipcpReq))))
	f.Add(fuzzFrames(0x04, lcpFrame(CodeEchoRequest, 9, []byte{0, 0, 0, 0, 1}), []byte{0x80, 0xfd, 1, 1, 0, 4},
		AppendFrame(nil, ProtoCHAP, chapResp), lcpFrame(CodeProtocolReject, 3, protoRej)))
	f.Add(fuzzFrames(0x06, AppendFrame(nil, ProtoIPCP, AppendControl(nil, CodeTerminateRequest, 2, nil)),
		lcpFrame(CodeCodeReject, 4, []byte{9, 1, 0, 4}), lcpFrame(CodeTerminateRequest, 5, []byte("bye"))))
	f.Add(fuzzFrames(0x0b, []byte{0xff, 0x03, 0xc0, 0x21, 1, 1, 0, 4}, []byte{0x21, 0x45}, []byte{0xc0}))
	f.Add(fuzzFrames(0x07, lcpFrame(CodeConfigureRequest, 1, confreq), lcpFrame(CodeConfigureRequest, 2, []byte{5, 6, 0, 0, 0, 0})))

	cfg := testConfig(f)
	profiles := []string{"default", "pap", "mschap", "noauth"}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		mode, data := data[0], data[1:]
		synctest.Test(t, func(t *testing.T) {
			srv := startEngineWith(t, cfg, Deps{Rand: newLockedRand(1)})
			cli := startEngineWith(t, cfg, Deps{Rand: newLockedRand(2)})
			carrier := CarrierL2TP
			if mode&8 != 0 {
				carrier = CarrierPPPoE
			}
			a, b := newPipe(1500)
			hs := mustStart(t, srv, StartRequest{Channel: a, Role: RoleServer, Carrier: carrier, Profile: profiles[mode&3]})
			var hc *Handle
			if mode&4 != 0 {
				hc = mustStart(t, cli, StartRequest{Channel: b, Role: RoleClient, Carrier: carrier, Profile: "client"})
			}
			for len(data) > 0 {
				n := int(data[0] & 0x7f)
				wait := data[0]&0x80 != 0
				data = data[1:]
				n = min(n, len(data))
				a.inject(append([]byte(nil), data[:n]...))
				data = data[n:]
				synctest.Wait()
				if wait {
					time.Sleep(2 * time.Second)
				}
			}
			hs.Stop("fuzz")
			select {
			case <-hs.Done():
			case <-time.After(time.Minute):
				t.Fatalf("server session still running a minute after Stop: %+v", info(t, hs))
			}
			b.Close()
			if hc != nil {
				<-hc.Done()
			}
			if r := hs.Result(); r.Cause == CauseNone || r.Ended.IsZero() {
				t.Errorf("session ended without a result: %+v", r)
			}
			srv.stop(t)
			cli.stop(t)
		})
	})
}
