package l2tp

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"
)

// fuzzMarshal is a cheap stand-in for the codec: type, Ns and Nr in 5 octets.
func fuzzMarshal(m *Message) ([]byte, error) {
	b := []byte{byte(m.Type), 0, 0, 0, 0}
	binary.BigEndian.PutUint16(b[1:], m.Ns)
	binary.BigEndian.PutUint16(b[3:], m.Nr)
	return b, nil
}

// FuzzTransport drives one transport with random sends, receipts (any Ns and Nr, ZLBs,
// ACKs, StopCCNs), timer ticks, window changes and Stop, and checks its invariants after
// every call: no panic; deliveries in strict Ns order without gaps or duplicates; every
// packet stamped with the current Nr; new transmissions only within the peer's window; the
// send queue bounded; a deadline whenever a timer is needed, never in the past; and the
// terminal states sticky.
func FuzzTransport(f *testing.F) {
	f.Add(byte(0), []byte{})
	f.Add(byte(0x2a), []byte{0, 1, 0, 0, 2, 0, 0, 0, 5, 50, 0, 0, 3, 1, 1, 0})
	f.Add(byte(0xe5), []byte{0, 6, 0, 0, 0, 6, 0, 0, 2, 1, 0, 0, 2, 0, 3, 0, 5, 255, 0, 0, 5, 255, 0, 0})
	f.Add(byte(0x91), []byte{1, 4, 0, 0, 2, 0, 1, 2, 6, 3, 0, 0, 5, 200, 0, 0, 5, 200, 0, 0, 4, 0, 0, 1})
	f.Add(byte(0x13), []byte{7, 2, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 7, 6, 0, 0, 3, 2, 1, 0, 6, 0, 0, 0, 5, 100, 0, 0})
	f.Fuzz(func(t *testing.T, cfgb byte, ops []byte) {
		cfg := TransportConfig{
			Version:      Version2,
			RxWindow:     uint16(1 + cfgb%5),
			PeerRxWindow: uint16(1 + (cfgb>>3)%4),
			SendQueueLen: 8,
			MaxRetries:   1 + int(cfgb>>6),
		}
		if cfgb&0x20 != 0 {
			cfg.AckDelay = 100 * time.Millisecond
		}
		if cfgb&0x04 != 0 {
			cfg.HelloInterval = 10 * time.Second
		}
		if cfgb&0x80 != 0 {
			cfg.Version, cfg.ExplicitAck = Version3, cfgb&0x01 != 0
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("fuzz config invalid: %v", err)
		}
		tr := newTransport(cfg, fuzzMarshal)
		now := t0
		var (
			wantNs  uint16 // Ns of the next delivery
			stopped bool
			final   transportOutput // the first terminal output
		)
		check := func(op string, out transportOutput, sentWindow int) {
			t.Helper()
			if final.Err != nil || final.Closed {
				if out.Err != final.Err || out.Closed != final.Closed || len(out.Packets)+len(out.Delivered) > 0 {
					t.Fatalf("%s after the end: %+v", op, out)
				}
				return
			}
			if out.Err != nil && !errors.Is(out.Err, errPeerUnresponsive) {
				t.Fatalf("%s: unexpected error %v", op, out.Err)
			}
			if out.Closed && !stopped {
				t.Fatalf("%s: closed without Stop", op)
			}
			seqPackets := 0
			for _, b := range out.Packets {
				typ := MessageType(b[0])
				if nr := binary.BigEndian.Uint16(b[3:]); nr != tr.ExpectedNr() {
					t.Fatalf("%s: packet %v carries Nr %d, expected %d", op, typ, nr, tr.ExpectedNr())
				}
				if typ != 0 && !(typ == MsgACK && cfg.ExplicitAck) {
					seqPackets++
				}
			}
			if seqPackets > 0 && tr.InFlight() > sentWindow {
				t.Fatalf("%s: %d in flight after sending, window %d", op, tr.InFlight(), sentWindow)
			}
			for _, m := range out.Delivered {
				if m.IsZLB() || tr.isAck(m) || m.Ns != wantNs {
					t.Fatalf("%s: delivered %v Ns %d, want Ns %d", op, m.Type, m.Ns, wantNs)
				}
				wantNs++
			}
			if len(tr.queue) > cfg.SendQueueLen {
				t.Fatalf("%s: %d queued, bound %d", op, len(tr.queue), cfg.SendQueueLen)
			}
			if int(tr.max-tr.una) > len(tr.queue) || tr.InFlight() > int(tr.max-tr.una) {
				t.Fatalf("%s: una %d nxt %d max %d with %d queued", op, tr.una, tr.nxt, tr.max, len(tr.queue))
			}
			if out.Err != nil || out.Closed {
				final = out
				return
			}
			// A deadline of now is allowed only for an acknowledgement made due by half the
			// receive window being owed; the Tick at now sends it and so cannot repeat it.
			ackDue := tr.ackOwed && tr.owed >= max(1, int(tr.cfg.RxWindow)/2)
			if !out.Deadline.IsZero() && (out.Deadline.Before(now) || out.Deadline.Equal(now) && !ackDue) {
				t.Fatalf("%s: deadline %v not after now %v", op, out.Deadline.Sub(t0), now.Sub(t0))
			}
			needTimer := tr.InFlight() > 0 || tr.ackOwed || (stopped && tr.Idle())
			if needTimer && out.Deadline.IsZero() {
				t.Fatalf("%s: no deadline with %d in flight, ack owed %v", op, tr.InFlight(), tr.ackOwed)
			}
		}
		for len(ops) >= 4 {
			op, a, b, c := ops[0], ops[1], ops[2], ops[3]
			ops = ops[4:]
			switch op % 8 {
			case 0, 1: // send
				typ := MessageType(1 + a%16)
				out, err := tr.Send(now, &Message{Header: Header{Version: cfg.Version}, Type: typ})
				switch {
				case err == nil:
				case errors.Is(err, errSendZLB) && tr.isAck(&Message{Type: typ}):
				case errors.Is(err, errSendQueueFull) && len(tr.queue) == cfg.SendQueueLen:
				case errors.Is(err, errTransportStopped) && (stopped || final.Err != nil || final.Closed):
				default:
					t.Fatalf("Send %v: %v", typ, err)
				}
				check("send", out, tr.PeerWindow())
			case 2, 3, 4: // receive, with Ns and Nr near the interesting values
				m := &Message{Header: Header{Version: cfg.Version,
					Ns: tr.ExpectedNr() + uint16(int8(a)), Nr: tr.una + uint16(int8(b))}}
				switch {
				case c&1 != 0: // ZLB
				case c&2 != 0:
					m.Type = MsgStopCCN
				case c&4 != 0:
					m.Type = MsgACK
				default:
					m.Type = MsgHELLO
				}
				if c&8 != 0 {
					m.Ns = binary.BigEndian.Uint16([]byte{a, b}) // anywhere
				}
				check("receive", tr.Receive(now, m), tr.PeerWindow())
			case 5: // the timer fires after some time
				now = now.Add(time.Duration(a)*20*time.Millisecond + time.Duration(b)*time.Second)
				check("tick", tr.Tick(now), tr.PeerWindow())
			case 6:
				if a < 32 {
					stopped = true
					check("stop", tr.Stop(now), tr.PeerWindow())
				} else if a < 64 {
					inFlight := tr.InFlight()
					tr.DiscardUnsent()
					if tr.InFlight() != inFlight || len(tr.queue) != int(tr.max-tr.una) {
						t.Fatalf("DiscardUnsent: in flight %d -> %d, %d queued, max-una %d", inFlight, tr.InFlight(), len(tr.queue), tr.max-tr.una)
					}
				} else {
					tr.NoteActivity(now)
				}
			case 7:
				n := uint16(a % 8)
				out := tr.SetPeerWindow(now, n)
				check("window", out, tr.PeerWindow())
			}
		}
	})
}
