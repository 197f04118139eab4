package l2tp

import (
	"encoding/binary"
	"testing"
	"testing/synctest"
	"time"

	"github.com/probox/probox/kernel"
)

// FuzzEngineInput sends arbitrary control packets to an LNS: to its listener (mode 0) or,
// addressed to the tunnel and in sequence, into an established tunnel (mode 1). The engine
// must not panic, must keep serving, and must shut down cleanly.
func FuzzEngineInput(f *testing.F) {
	seed := func(m Message) []byte {
		b, err := m.Marshal(nil)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	f.Add(byte(0), seed(Message{Header: Header{Version: Version2}, Type: MsgSCCRQ, AVPs: sccrq(Version2)}))
	f.Add(byte(0), seed(Message{Header: Header{Version: Version2}, Type: MsgSCCRQ, AVPs: sccrq(Version2, unknownM)}))
	f.Add(byte(1), seed(Message{Header: Header{Version: Version2}, Type: MsgICRQ, AVPs: v2ICRQ(5)}))
	f.Add(byte(1), seed(Message{Header: Header{Version: Version2}, Type: MsgCDN, AVPs: []AVP{ResultError{Result: 3}.AVP(), NewUint16(AVPAssignedSessionID, 5)}}))
	f.Add(byte(1), seed(Message{Header: Header{Version: Version2}, Type: MsgStopCCN, AVPs: []AVP{NewUint16(AVPAssignedTunnelID, rawTID), ResultError{Result: 1}.AVP()}}))
	f.Add(byte(1), seed(Message{Header: Header{Version: Version2}, Type: MsgHELLO}))
	f.Fuzz(func(t *testing.T, mode byte, b []byte) {
		synctest.Test(t, func(t *testing.T) {
			_, lns, r := rawLNS(t, Version2, kernel.EncapUDP, "")
			if mode%2 == 1 {
				r.establish(t)
				if len(b) >= ControlHeaderLen {
					b = append([]byte(nil), b...)
					binary.BigEndian.PutUint16(b[4:], uint16(r.peerTID))
					binary.BigEndian.PutUint16(b[8:], r.ns)
					binary.BigEndian.PutUint16(b[10:], r.nr)
				}
			}
			if err := r.tn.WriteControl(b); err != nil {
				t.Fatal(err)
			}
			r.recv()
			time.Sleep(time.Minute)
			synctest.Wait()
			if _, err := lns.e.Tunnels(t.Context()); err != nil {
				t.Fatalf("engine stopped serving: %v", err)
			}
			lns.stop()
		})
	})
}
