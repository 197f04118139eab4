package l2tp

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// linkPacket is a packet travelling through the simulated link.
type linkPacket struct {
	at time.Time
	to int
	b  []byte
}

// linkSim connects two transports through an in-memory link that loses, duplicates and
// reorders packets on a deterministic random schedule, with a manual clock.
type linkSim struct {
	t        *testing.T
	rng      *rand.Rand
	now      time.Time
	tr       [2]*transport
	deadline [2]time.Time
	inFlight []linkPacket
	sent     [2]uint32 // serial of the next message each side sends
	got      [2]uint32 // serial each side expects to receive next
	closed   [2]bool
	loss     float64
	dup      float64
	maxDelay time.Duration
}

func (s *linkSim) handle(side int, out transportOutput) {
	s.t.Helper()
	if out.Err != nil {
		s.t.Fatalf("side %d at %v: %v", side, s.now.Sub(t0), out.Err)
	}
	tr := s.tr[side]
	if tr.InFlight() > tr.PeerWindow() || int(tr.max-tr.una) > tr.PeerWindow() {
		s.t.Fatalf("side %d: %d in flight (%d ever sent unacknowledged), peer window %d",
			side, tr.InFlight(), int(tr.max-tr.una), tr.PeerWindow())
	}
	for _, b := range out.Packets {
		copies := 1
		if s.rng.Float64() < s.dup {
			copies = 2
		}
		for range copies {
			if s.rng.Float64() < s.loss {
				continue
			}
			delay := time.Duration(s.rng.Int64N(int64(s.maxDelay))) + time.Millisecond
			s.inFlight = append(s.inFlight, linkPacket{at: s.now.Add(delay), to: 1 - side, b: b})
		}
	}
	for _, m := range out.Delivered {
		a, ok := m.Find(AVPCallSerialNumber)
		if !ok {
			s.t.Fatalf("side %d delivered %v without a serial", side, m.Type)
		}
		serial, err := a.Uint32()
		if err != nil {
			s.t.Fatal(err)
		}
		if serial != s.got[side] {
			s.t.Fatalf("side %d delivered serial %d, want %d", side, serial, s.got[side])
		}
		s.got[side]++
	}
	if out.Closed {
		s.closed[side] = true
	}
	s.deadline[side] = out.Deadline
}

// run exchanges n messages each way, then stops both sides and waits until both are closed.
func (s *linkSim) run(n uint32) {
	const maxSteps = 2_000_000
	stopped := false
	for step := 0; step < maxSteps; step++ {
		for side, tr := range s.tr {
			for !stopped && s.sent[side] < n && len(tr.queue) < 3*tr.PeerWindow() {
				m := &Message{Header: Header{Version: tr.cfg.Version, TunnelID: uint32(side + 1)}, Type: MsgHELLO,
					AVPs: []AVP{NewUint32(AVPCallSerialNumber, s.sent[side])}}
				out, err := tr.Send(s.now, m)
				if err != nil {
					s.t.Fatalf("side %d Send: %v", side, err)
				}
				s.sent[side]++
				s.handle(side, out)
			}
		}
		if !stopped && s.got[0] == n && s.got[1] == n && s.tr[0].Idle() && s.tr[1].Idle() {
			stopped = true
			for side, tr := range s.tr {
				s.handle(side, tr.Stop(s.now))
			}
		}
		if s.closed[0] && s.closed[1] {
			return
		}
		// The next event: a packet arriving or a timer firing.
		next, pkt, timer := time.Time{}, -1, -1
		for i, p := range s.inFlight {
			if next.IsZero() || p.at.Before(next) {
				next, pkt = p.at, i
			}
		}
		for side, d := range s.deadline {
			if !d.IsZero() && !s.closed[side] && (next.IsZero() || d.Before(next)) {
				next, pkt, timer = d, -1, side
			}
		}
		if next.IsZero() {
			s.t.Fatalf("stalled at %v: delivered %v of %d, sent %v; idle %v %v",
				s.now.Sub(t0), s.got, n, s.sent, s.tr[0].Idle(), s.tr[1].Idle())
		}
		if next.After(s.now) {
			s.now = next
		}
		if timer >= 0 {
			s.handle(timer, s.tr[timer].Tick(s.now))
			continue
		}
		p := s.inFlight[pkt]
		s.inFlight = append(s.inFlight[:pkt], s.inFlight[pkt+1:]...)
		if s.closed[p.to] {
			continue
		}
		m, err := Parse(p.b, nil)
		if err != nil {
			s.t.Fatalf("unparsable packet %x: %v", p.b, err)
		}
		s.handle(p.to, s.tr[p.to].Receive(s.now, &m))
	}
	s.t.Fatalf("no end after %d steps: delivered %v of %d", maxSteps, s.got, n)
}

// TestTransportLossyLink is a property test: two transports back to back through a link
// that loses, duplicates and reorders packets deliver 1000 messages each way, in order and
// exactly once, never exceed the peer's window, and close cleanly afterwards.
func TestTransportLossyLink(t *testing.T) {
	tests := []struct {
		name           string
		seed           uint64
		winA, winB     uint16
		ackDelay       time.Duration
		startA, startB uint16 // initial Ns of each side
		loss, dup      float64
		maxDelay       time.Duration
	}{
		{name: "clean link", seed: 1, winA: 4, winB: 4, loss: 0, dup: 0, maxDelay: 5 * time.Millisecond},
		{name: "lossy, windows 4", seed: 2, winA: 4, winB: 4, loss: 0.15, dup: 0.1, maxDelay: 300 * time.Millisecond},
		{name: "lossy, windows 1 and 8, delayed acks", seed: 3, winA: 1, winB: 8, ackDelay: 100 * time.Millisecond,
			loss: 0.15, dup: 0.1, maxDelay: 300 * time.Millisecond},
		{name: "wrap-around, heavy reordering", seed: 4, winA: 16, winB: 3, ackDelay: 50 * time.Millisecond,
			startA: 65000, startB: 64900, loss: 0.1, dup: 0.2, maxDelay: 2 * time.Second},
		{name: "v3 explicit acks, 25% loss", seed: 5, winA: 4, winB: 6, ackDelay: 20 * time.Millisecond,
			loss: 0.25, dup: 0.05, maxDelay: 100 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, explicit := Version2, false
			if tc.seed == 5 {
				v, explicit = Version3, true
			}
			cfg := func(rx, peer uint16) TransportConfig {
				return TransportConfig{Version: v, RxWindow: rx, PeerRxWindow: peer, AckDelay: tc.ackDelay,
					MaxRetries: 20, ExplicitAck: explicit, HelloInterval: 30 * time.Second}
			}
			s := &linkSim{t: t, rng: rand.New(rand.NewPCG(tc.seed, 0x6c327470)), now: t0,
				loss: tc.loss, dup: tc.dup, maxDelay: tc.maxDelay}
			s.tr[0] = newTransport(cfg(tc.winA, tc.winB), plainMarshal)
			s.tr[1] = newTransport(cfg(tc.winB, tc.winA), plainMarshal)
			s.tr[0].una, s.tr[0].nxt, s.tr[0].max, s.tr[0].rxNr = tc.startA, tc.startA, tc.startA, tc.startB
			s.tr[1].una, s.tr[1].nxt, s.tr[1].max, s.tr[1].rxNr = tc.startB, tc.startB, tc.startB, tc.startA
			s.run(1000)
			for side, tr := range s.tr {
				st := tr.Stats()
				if st.Delivered != 1000 || st.Transmitted != 1000 {
					t.Errorf("side %d: delivered %d, transmitted %d, want 1000 each", side, st.Delivered, st.Transmitted)
				}
				t.Logf("side %d: %+v", side, st)
			}
			if tc.loss == 0 && tc.dup == 0 {
				for side, tr := range s.tr {
					if st := tr.Stats(); st.Retransmitted != 0 || st.Duplicates != 0 {
						t.Errorf("side %d on a clean link: %+v", side, st)
					}
				}
			}
		})
	}
}

// ExampleTransportConfig_RetransmitCycle shows the default retransmission schedule.
func ExampleTransportConfig_RetransmitCycle() {
	fmt.Println(TransportConfig{Version: Version2}.RetransmitCycle())
	// Output: 31s
}
