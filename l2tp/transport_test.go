package l2tp

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// t0 is the manual clock's origin; steps give times as offsets from it.
var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// plainMarshal encodes with the real codec, nothing hidden or signed.
var plainMarshal = controlMarshaler(nil, false, nil)

// tout is a transportOutput in a form tests can spell: packets as "TYPE Ns/Nr", deliveries
// as "TYPE Ns", the deadline as an offset from t0 (0 for none).
type tout struct {
	Packets   []string
	Delivered []string
	Deadline  time.Duration
	HelloDue  bool
	Err       error
	Closed    bool
}

func describe(t testing.TB, out transportOutput) tout {
	t.Helper()
	var got tout
	for _, b := range out.Packets {
		m, err := Parse(b, nil)
		if err != nil {
			t.Fatalf("transport sent an unparsable packet %x: %v", b, err)
		}
		got.Packets = append(got.Packets, fmt.Sprintf("%v %d/%d", m.Type, m.Ns, m.Nr))
	}
	for _, m := range out.Delivered {
		got.Delivered = append(got.Delivered, fmt.Sprintf("%v %d", m.Type, m.Ns))
	}
	if !out.Deadline.IsZero() {
		got.Deadline = out.Deadline.Sub(t0)
	}
	got.HelloDue, got.Err, got.Closed = out.HelloDue, out.Err, out.Closed
	return got
}

// tstep is one call into the transport at time t0+at.
type tstep struct {
	at   time.Duration
	do   func(tr *transport, now time.Time) (transportOutput, error)
	desc string
	want tout
	// wantErr is the error the call itself returns (Send only).
	wantErr error
}

func send(at time.Duration, typ MessageType, want tout) tstep {
	return tstep{at: at, desc: "send " + typ.String(), want: want,
		do: func(tr *transport, now time.Time) (transportOutput, error) {
			return tr.Send(now, &Message{Header: Header{Version: tr.cfg.Version, TunnelID: 7}, Type: typ})
		}}
}

func sendErr(at time.Duration, typ MessageType, err error, want tout) tstep {
	s := send(at, typ, want)
	s.wantErr = err
	return s
}

// recv delivers a message from the peer; typ 0 is a ZLB.
func recv(at time.Duration, typ MessageType, ns, nr uint16, want tout) tstep {
	return tstep{at: at, desc: fmt.Sprintf("recv %v %d/%d", typ, ns, nr), want: want,
		do: func(tr *transport, now time.Time) (transportOutput, error) {
			m := &Message{Header: Header{Version: tr.cfg.Version, TunnelID: 9, Ns: ns, Nr: nr}, Type: typ}
			return tr.Receive(now, m), nil
		}}
}

func tick(at time.Duration, want tout) tstep {
	return tstep{at: at, desc: "tick", want: want,
		do: func(tr *transport, now time.Time) (transportOutput, error) { return tr.Tick(now), nil }}
}

func stop(at time.Duration, want tout) tstep {
	return tstep{at: at, desc: "stop", want: want,
		do: func(tr *transport, now time.Time) (transportOutput, error) { return tr.Stop(now), nil }}
}

func window(at time.Duration, n uint16, want tout) tstep {
	return tstep{at: at, desc: fmt.Sprintf("window %d", n), want: want,
		do: func(tr *transport, now time.Time) (transportOutput, error) { return tr.SetPeerWindow(now, n), nil }}
}

func activity(at time.Duration) tstep {
	return tstep{at: at, desc: "activity",
		do: func(tr *transport, now time.Time) (transportOutput, error) {
			tr.NoteActivity(now)
			return transportOutput{}, nil
		}}
}

// seqAt moves a fresh transport's sequence numbers, to test wrap-around.
func seqAt(ns, nr uint16) tstep {
	return tstep{desc: fmt.Sprintf("seq at %d/%d", ns, nr),
		do: func(tr *transport, _ time.Time) (transportOutput, error) {
			tr.una, tr.nxt, tr.max, tr.rxNr = ns, ns, ns, nr
			return transportOutput{}, nil
		}}
}

const ms = time.Millisecond

func pk(p ...string) []string { return p }

func runSteps(t *testing.T, cfg TransportConfig, steps []tstep) *transport {
	t.Helper()
	if cfg.Version == 0 {
		cfg.Version = Version2
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	tr := newTransport(cfg, plainMarshal)
	tr.SetPeerTunnelID(9)
	for i, s := range steps {
		out, err := s.do(tr, t0.Add(s.at))
		if !errors.Is(err, s.wantErr) {
			t.Fatalf("step %d (%s at %v): error %v, want %v", i, s.desc, s.at, err, s.wantErr)
		}
		if diff := cmp.Diff(s.want, describe(t, out), cmpopts.EquateErrors()); diff != "" {
			t.Fatalf("step %d (%s at %v) (-want +got):\n%s", i, s.desc, s.at, diff)
		}
	}
	return tr
}

func TestTransport(t *testing.T) {
	s := time.Second
	tests := []struct {
		name  string
		cfg   TransportConfig
		steps []tstep
	}{
		{
			name: "in-order exchange with immediate acks",
			steps: []tstep{
				send(0, MsgSCCRQ, tout{Packets: pk("SCCRQ 0/0"), Deadline: s}),
				recv(100*ms, MsgSCCRP, 0, 1, tout{Packets: pk("ZLB 1/1"), Delivered: pk("SCCRP 0")}),
				send(100*ms, MsgSCCCN, tout{Packets: pk("SCCCN 1/1"), Deadline: 1100 * ms}),
				recv(200*ms, 0, 1, 2, tout{}),
				recv(300*ms, MsgICRQ, 1, 2, tout{Packets: pk("ZLB 2/2"), Delivered: pk("ICRQ 1")}),
				send(300*ms, MsgICRP, tout{Packets: pk("ICRP 2/2"), Deadline: 1300 * ms}),
				recv(400*ms, MsgICCN, 2, 3, tout{Packets: pk("ZLB 3/3"), Delivered: pk("ICCN 2")}),
			},
		},
		{
			name: "delayed ack rides on the next message",
			cfg:  TransportConfig{AckDelay: 100 * ms},
			steps: []tstep{
				recv(0, MsgSCCRQ, 0, 0, tout{Delivered: pk("SCCRQ 0"), Deadline: 100 * ms}),
				send(50*ms, MsgSCCRP, tout{Packets: pk("SCCRP 0/1"), Deadline: 1050 * ms}),
				tick(100*ms, tout{Deadline: 1050 * ms}), // nothing owed any more
				recv(200*ms, MsgSCCCN, 1, 1, tout{Delivered: pk("SCCCN 1"), Deadline: 300 * ms}),
				tick(300*ms, tout{Packets: pk("ZLB 1/2")}),
			},
		},
		{
			name: "delayed acks coalesce into one ZLB",
			cfg:  TransportConfig{AckDelay: 100 * ms, RxWindow: 8},
			steps: []tstep{
				recv(0, MsgICRQ, 0, 0, tout{Delivered: pk("ICRQ 0"), Deadline: 100 * ms}),
				recv(40*ms, MsgICRQ, 1, 0, tout{Delivered: pk("ICRQ 1"), Deadline: 100 * ms}),
				recv(80*ms, MsgICRQ, 2, 0, tout{Delivered: pk("ICRQ 2"), Deadline: 100 * ms}),
				tick(99*ms, tout{Deadline: 100 * ms}), // early timer: harmless
				tick(100*ms, tout{Packets: pk("ZLB 0/3")}),
			},
		},
		{
			// The peer may have only RxWindow messages unacknowledged: once half of that
			// is owed the acknowledgement is due at once rather than after AckDelay, but
			// still at the next Tick, so a reply sent first carries it.
			name: "half the receive window owed: acknowledgement due now",
			cfg:  TransportConfig{AckDelay: 100 * ms, RxWindow: 4},
			steps: []tstep{
				recv(0, MsgICRQ, 0, 0, tout{Delivered: pk("ICRQ 0"), Deadline: 100 * ms}),
				recv(10*ms, MsgICRQ, 1, 0, tout{Delivered: pk("ICRQ 1"), Deadline: 10 * ms}),
				tick(10*ms, tout{Packets: pk("ZLB 0/2")}),
				recv(20*ms, MsgICRQ, 2, 0, tout{Delivered: pk("ICRQ 2"), Deadline: 120 * ms}),
				recv(30*ms, MsgICRQ, 3, 0, tout{Delivered: pk("ICRQ 3"), Deadline: 30 * ms}),
				send(30*ms, MsgICRP, tout{Packets: pk("ICRP 0/4"), Deadline: 1030 * ms}),
				tick(30*ms, tout{Deadline: 1030 * ms}), // the ICRP carried it
			},
		},
		{
			name: "queued message waiting for the window does not carry the ack",
			cfg:  TransportConfig{AckDelay: 100 * ms, PeerRxWindow: 1},
			steps: []tstep{
				send(0, MsgICRQ, tout{Packets: pk("ICRQ 0/0"), Deadline: s}),
				recv(10*ms, MsgICRQ, 0, 0, tout{Delivered: pk("ICRQ 0"), Deadline: 110 * ms}),
				send(20*ms, MsgICRP, tout{Deadline: 110 * ms}), // window full: not transmitted
				tick(110*ms, tout{Packets: pk("ZLB 1/1"), Deadline: s}),
			},
		},
		{
			name: "lost message: retransmitted after 1, 2, 4, 8, 8 s, then the peer is dead at 31 s",
			steps: []tstep{
				send(0, MsgSCCRQ, tout{Packets: pk("SCCRQ 0/0"), Deadline: 1 * s}),
				tick(500*ms, tout{Deadline: 1 * s}),
				tick(1*s, tout{Packets: pk("SCCRQ 0/0"), Deadline: 3 * s}),
				tick(3*s, tout{Packets: pk("SCCRQ 0/0"), Deadline: 7 * s}),
				tick(7*s, tout{Packets: pk("SCCRQ 0/0"), Deadline: 15 * s}),
				tick(15*s, tout{Packets: pk("SCCRQ 0/0"), Deadline: 23 * s}),
				tick(23*s, tout{Packets: pk("SCCRQ 0/0"), Deadline: 31 * s}),
				tick(31*s-1, tout{Deadline: 31 * s}),
				tick(31*s, tout{Err: errPeerUnresponsive}),
				tick(40*s, tout{Err: errPeerUnresponsive}),
				recv(41*s, 0, 0, 1, tout{Err: errPeerUnresponsive}),
				sendErr(42*s, MsgHELLO, errTransportStopped, tout{Err: errPeerUnresponsive}),
			},
		},
		{
			name: "custom timers: 500 ms doubling to a 10 s cap, 7 retries",
			cfg:  TransportConfig{RetryTimeout: 500 * ms, MaxRetryTimeout: 10 * s, MaxRetries: 7},
			steps: []tstep{
				send(0, MsgSCCRQ, tout{Packets: pk("SCCRQ 0/0"), Deadline: 500 * ms}),
				tick(500*ms, tout{Packets: pk("SCCRQ 0/0"), Deadline: 1500 * ms}),  // +1
				tick(1500*ms, tout{Packets: pk("SCCRQ 0/0"), Deadline: 3500 * ms}), // +2
				tick(3500*ms, tout{Packets: pk("SCCRQ 0/0"), Deadline: 7500 * ms}), // +4
				tick(7500*ms, tout{Packets: pk("SCCRQ 0/0"), Deadline: 15500 * ms}),
				tick(15500*ms, tout{Packets: pk("SCCRQ 0/0"), Deadline: 25500 * ms}), // capped at 10
				tick(25500*ms, tout{Packets: pk("SCCRQ 0/0"), Deadline: 35500 * ms}),
				tick(35500*ms, tout{Packets: pk("SCCRQ 0/0"), Deadline: 45500 * ms}),
				tick(45500*ms, tout{Err: errPeerUnresponsive}),
			},
		},
		{
			name: "late timer: one retransmission per tick, backoff from the tick",
			steps: []tstep{
				send(0, MsgSCCRQ, tout{Packets: pk("SCCRQ 0/0"), Deadline: s}),
				tick(5*s, tout{Packets: pk("SCCRQ 0/0"), Deadline: 7 * s}),
			},
		},
		{
			name: "retransmission carries the current Nr; an ack resets the backoff",
			cfg:  TransportConfig{AckDelay: 100 * ms},
			steps: []tstep{
				send(0, MsgICRQ, tout{Packets: pk("ICRQ 0/0"), Deadline: s}),
				tick(s, tout{Packets: pk("ICRQ 0/0"), Deadline: 3 * s}),
				recv(1500*ms, MsgHELLO, 0, 0, tout{Delivered: pk("HELLO 0"), Deadline: 1600 * ms}),
				tick(1600*ms, tout{Packets: pk("ZLB 1/1"), Deadline: 3 * s}),
				tick(3*s, tout{Packets: pk("ICRQ 0/1"), Deadline: 7 * s}),
				recv(3500*ms, 0, 0, 1, tout{}),
				send(4*s, MsgICCN, tout{Packets: pk("ICCN 1/1"), Deadline: 5 * s}), // back to 1 s
			},
		},
		{
			name: "lost ack: the duplicate is acknowledged at once",
			cfg:  TransportConfig{AckDelay: 100 * ms},
			steps: []tstep{
				recv(0, MsgSCCRQ, 0, 0, tout{Delivered: pk("SCCRQ 0"), Deadline: 100 * ms}),
				send(10*ms, MsgSCCRP, tout{Packets: pk("SCCRP 0/1"), Deadline: 1010 * ms}),
				// the SCCRP is lost; the peer retransmits its SCCRQ
				recv(s, MsgSCCRQ, 0, 0, tout{Packets: pk("ZLB 1/1"), Deadline: 1010 * ms}),
				tick(1010*ms, tout{Packets: pk("SCCRP 0/1"), Deadline: 3010 * ms}),
				recv(1100*ms, MsgSCCCN, 1, 1, tout{Delivered: pk("SCCCN 1"), Deadline: 1200 * ms}),
				tick(1200*ms, tout{Packets: pk("ZLB 1/2")}),
				// that ZLB is lost too
				recv(2200*ms, MsgSCCCN, 1, 1, tout{Packets: pk("ZLB 1/2")}),
			},
		},
		{
			name: "duplicate ack rides on a message released by the same packet's Nr",
			cfg:  TransportConfig{AckDelay: 100 * ms, PeerRxWindow: 1},
			steps: []tstep{
				recv(0, MsgICRQ, 0, 0, tout{Delivered: pk("ICRQ 0"), Deadline: 100 * ms}),
				send(10*ms, MsgICRP, tout{Packets: pk("ICRP 0/1"), Deadline: 1010 * ms}),
				send(20*ms, MsgCDN, tout{Deadline: 1010 * ms}),
				// duplicate ICRQ that also acknowledges the ICRP: the CDN carries the ack
				recv(30*ms, MsgICRQ, 0, 1, tout{Packets: pk("CDN 1/1"), Deadline: 1030 * ms}),
			},
		},
		{
			name: "reordering: held and delivered in order when the gap fills",
			cfg:  TransportConfig{RxWindow: 4},
			steps: []tstep{
				recv(0, MsgICRQ, 2, 0, tout{}),
				recv(10*ms, MsgICRQ, 1, 0, tout{}),
				recv(20*ms, MsgICRQ, 2, 0, tout{}), // duplicate of a held one: not acknowledged
				recv(30*ms, MsgSCCRQ, 0, 0, tout{Packets: pk("ZLB 0/3"), Delivered: pk("SCCRQ 0", "ICRQ 1", "ICRQ 2")}),
				recv(40*ms, MsgICRQ, 4, 0, tout{}),
				recv(50*ms, MsgICRQ, 3, 0, tout{Packets: pk("ZLB 0/5"), Delivered: pk("ICRQ 3", "ICRQ 4")}),
			},
		},
		{
			name: "receive window bound: beyond it dropped and not acknowledged",
			cfg:  TransportConfig{RxWindow: 4},
			steps: []tstep{
				recv(0, MsgICRQ, 4, 0, tout{}), // offset 4, window 4
				recv(10*ms, MsgICRQ, 3, 0, tout{}),
				recv(20*ms, MsgICRQ, 0, 0, tout{Packets: pk("ZLB 0/1"), Delivered: pk("ICRQ 0")}),
				recv(30*ms, MsgICRQ, 1, 0, tout{Packets: pk("ZLB 0/2"), Delivered: pk("ICRQ 1")}),
				recv(40*ms, MsgICRQ, 2, 0, tout{Packets: pk("ZLB 0/4"), Delivered: pk("ICRQ 2", "ICRQ 3")}),
				recv(50*ms, MsgICRQ, 4, 0, tout{Packets: pk("ZLB 0/5"), Delivered: pk("ICRQ 4")}),
				recv(60*ms, MsgICRQ, 5+32767, 0, tout{}),                       // the far edge of "new"
				recv(70*ms, MsgICRQ, 5+32768, 0, tout{Packets: pk("ZLB 0/5")}), // a duplicate
			},
		},
		{
			name: "receive window 1 holds nothing out of order",
			cfg:  TransportConfig{RxWindow: 1},
			steps: []tstep{
				recv(0, MsgICRQ, 1, 0, tout{}),
				recv(10*ms, MsgICRQ, 0, 0, tout{Packets: pk("ZLB 0/1"), Delivered: pk("ICRQ 0")}),
				recv(20*ms, MsgICRQ, 1, 0, tout{Packets: pk("ZLB 0/2"), Delivered: pk("ICRQ 1")}),
			},
		},
		{
			name: "peer window 1: one message in flight at a time",
			cfg:  TransportConfig{PeerRxWindow: 1},
			steps: []tstep{
				send(0, MsgICRQ, tout{Packets: pk("ICRQ 0/0"), Deadline: s}),
				send(0, MsgICRQ, tout{Deadline: s}),
				send(0, MsgICRQ, tout{Deadline: s}),
				recv(100*ms, 0, 0, 3, tout{Deadline: s}), // acknowledges what was never sent: ignored
				recv(200*ms, 0, 0, 1, tout{Packets: pk("ICRQ 1/0"), Deadline: 1200 * ms}),
				recv(300*ms, 0, 0, 2, tout{Packets: pk("ICRQ 2/0"), Deadline: 1300 * ms}),
				recv(400*ms, 0, 0, 1, tout{Deadline: 1300 * ms}), // stale
				recv(500*ms, 0, 0, 3, tout{}),
			},
		},
		{
			name: "peer window 4: the fifth waits",
			steps: []tstep{
				send(0, MsgICRQ, tout{Packets: pk("ICRQ 0/0"), Deadline: s}),
				send(0, MsgICRQ, tout{Packets: pk("ICRQ 1/0"), Deadline: s}),
				send(0, MsgICRQ, tout{Packets: pk("ICRQ 2/0"), Deadline: s}),
				send(0, MsgICRQ, tout{Packets: pk("ICRQ 3/0"), Deadline: s}),
				send(0, MsgICRQ, tout{Deadline: s}),
				send(0, MsgICRQ, tout{Deadline: s}),
				recv(100*ms, MsgICRP, 0, 1, tout{Packets: pk("ICRQ 4/1"), Delivered: pk("ICRP 0"), Deadline: 1100 * ms}),
				recv(200*ms, 0, 1, 6, tout{Deadline: 1100 * ms}), // 6 was never sent: ignored
				recv(300*ms, 0, 1, 5, tout{Packets: pk("ICRQ 5/1"), Deadline: 1300 * ms}),
				recv(400*ms, 0, 1, 6, tout{}),
			},
		},
		{
			name: "SetPeerWindow releases queued messages",
			cfg:  TransportConfig{PeerRxWindow: 1},
			steps: []tstep{
				send(0, MsgSCCRQ, tout{Packets: pk("SCCRQ 0/0"), Deadline: s}),
				send(0, MsgICRQ, tout{Deadline: s}),
				send(0, MsgICRQ, tout{Deadline: s}),
				window(10*ms, 3, tout{Packets: pk("ICRQ 1/0", "ICRQ 2/0"), Deadline: s}),
				window(20*ms, 0, tout{Deadline: s}), // absent AVP: 4
			},
		},
		{
			name: "timeout goes back to the oldest; its ack releases the rest",
			steps: []tstep{
				send(0, MsgICRQ, tout{Packets: pk("ICRQ 0/0"), Deadline: s}),
				send(0, MsgICRQ, tout{Packets: pk("ICRQ 1/0"), Deadline: s}),
				send(0, MsgICRQ, tout{Packets: pk("ICRQ 2/0"), Deadline: s}),
				tick(s, tout{Packets: pk("ICRQ 0/0"), Deadline: 3 * s}),
				send(1100*ms, MsgICRQ, tout{Deadline: 3 * s}), // one in flight after a timeout
				recv(1200*ms, 0, 0, 1, tout{Packets: pk("ICRQ 1/0", "ICRQ 2/0", "ICRQ 3/0"), Deadline: 2200 * ms}),
			},
		},
		{
			name: "timeout goes back; an ack of all in flight resends nothing",
			steps: []tstep{
				send(0, MsgICRQ, tout{Packets: pk("ICRQ 0/0"), Deadline: s}),
				send(0, MsgICRQ, tout{Packets: pk("ICRQ 1/0"), Deadline: s}),
				send(0, MsgICRQ, tout{Packets: pk("ICRQ 2/0"), Deadline: s}),
				tick(s, tout{Packets: pk("ICRQ 0/0"), Deadline: 3 * s}),
				recv(1200*ms, 0, 0, 2, tout{Packets: pk("ICRQ 2/0"), Deadline: 2200 * ms}),
				recv(1300*ms, 0, 0, 3, tout{}),
			},
		},
		{
			name: "hello after idle, not while busy",
			cfg:  TransportConfig{HelloInterval: 60 * s},
			steps: []tstep{
				send(0, MsgSCCRQ, tout{Packets: pk("SCCRQ 0/0"), Deadline: s}),
				recv(500*ms, MsgSCCRP, 0, 1, tout{Packets: pk("ZLB 1/1"), Delivered: pk("SCCRP 0"), Deadline: 60500 * ms}),
				send(500*ms, MsgSCCCN, tout{Packets: pk("SCCCN 1/1"), Deadline: 1500 * ms}),
				// the SCCCN is lost: busy, so no hello while it is retransmitted
				tick(1500*ms, tout{Packets: pk("SCCCN 1/1"), Deadline: 3500 * ms}),
				tick(3500*ms, tout{Packets: pk("SCCCN 1/1"), Deadline: 7500 * ms}),
				recv(4*s, 0, 1, 2, tout{Deadline: 64 * s}),
				tick(64*s-1, tout{Deadline: 64 * s}),
				tick(64*s, tout{HelloDue: true, Deadline: 124 * s}),
				send(64*s, MsgHELLO, tout{Packets: pk("HELLO 2/1"), Deadline: 65 * s}),
				recv(64*s+100*ms, 0, 1, 3, tout{Deadline: 124*s + 100*ms}),
				activity(100 * s),
				tick(124*s+100*ms, tout{Deadline: 160 * s}), // data arrived: no hello yet
				recv(150*s, MsgHELLO, 1, 3, tout{Packets: pk("ZLB 3/2"), Delivered: pk("HELLO 1"), Deadline: 210 * s}),
				// an ignored HelloDue is repeated an interval later
				tick(210*s, tout{HelloDue: true, Deadline: 270 * s}),
				tick(270*s, tout{HelloDue: true, Deadline: 330 * s}),
			},
		},
		{
			name: "sequence numbers wrap from 65535 to 0",
			cfg:  TransportConfig{AckDelay: 100 * ms},
			steps: []tstep{
				seqAt(65534, 65535),
				send(0, MsgICRQ, tout{Packets: pk("ICRQ 65534/65535"), Deadline: s}),
				send(0, MsgICRQ, tout{Packets: pk("ICRQ 65535/65535"), Deadline: s}),
				send(0, MsgICRQ, tout{Packets: pk("ICRQ 0/65535"), Deadline: s}),
				// out of order across the wrap; acknowledges 65534
				recv(10*ms, MsgICRP, 0, 65535, tout{Deadline: 1010 * ms}),
				// acknowledges 65535
				recv(20*ms, MsgICRP, 65535, 0, tout{Delivered: pk("ICRP 65535", "ICRP 0"), Deadline: 20 * ms}), // half the window owed
				send(30*ms, MsgICRQ, tout{Packets: pk("ICRQ 1/1"), Deadline: 1020 * ms}),
				recv(40*ms, MsgICRP, 65535, 0, tout{Packets: pk("ZLB 2/1"), Deadline: 1020 * ms}), // duplicate
				recv(50*ms, 0, 65535, 2, tout{}),
			},
		},
		{
			name: "received StopCCN is acknowledged at once; the receiver holds state a full cycle",
			cfg:  TransportConfig{AckDelay: 100 * ms},
			steps: []tstep{
				recv(0, MsgStopCCN, 0, 0, tout{Packets: pk("ZLB 0/1"), Delivered: pk("StopCCN 0")}),
				stop(0, tout{Deadline: 31 * s}),
				recv(s, MsgStopCCN, 0, 0, tout{Packets: pk("ZLB 0/1"), Deadline: 31 * s}),
				sendErr(2*s, MsgHELLO, errTransportStopped, tout{Deadline: 31 * s}),
				tick(31*s, tout{Closed: true}),
				tick(32*s, tout{Closed: true}),
				recv(33*s, MsgStopCCN, 0, 0, tout{Closed: true}),
			},
		},
		{
			name: "sender of StopCCN waits for its ack, then a full cycle",
			cfg:  TransportConfig{HelloInterval: 60 * s},
			steps: []tstep{
				send(0, MsgStopCCN, tout{Packets: pk("StopCCN 0/0"), Deadline: s}),
				stop(0, tout{Deadline: s}),
				stop(0, tout{Deadline: s}),
				tick(s, tout{Packets: pk("StopCCN 0/0"), Deadline: 3 * s}),
				recv(2*s, 0, 0, 1, tout{Deadline: 33 * s}), // no hello while stopping
				tick(33*s, tout{Closed: true}),
			},
		},
		{
			name: "stopped sender whose StopCCN is never acknowledged",
			steps: []tstep{
				send(0, MsgStopCCN, tout{Packets: pk("StopCCN 0/0"), Deadline: s}),
				stop(0, tout{Deadline: s}),
				tick(1*s, tout{Packets: pk("StopCCN 0/0"), Deadline: 3 * s}),
				tick(3*s, tout{Packets: pk("StopCCN 0/0"), Deadline: 7 * s}),
				tick(7*s, tout{Packets: pk("StopCCN 0/0"), Deadline: 15 * s}),
				tick(15*s, tout{Packets: pk("StopCCN 0/0"), Deadline: 23 * s}),
				tick(23*s, tout{Packets: pk("StopCCN 0/0"), Deadline: 31 * s}),
				tick(31*s, tout{Err: errPeerUnresponsive}),
			},
		},
		{
			name: "L2TPv3 explicit ACK messages acknowledge and take no sequence number",
			cfg:  TransportConfig{Version: Version3, ExplicitAck: true},
			steps: []tstep{
				send(0, MsgSCCRQ, tout{Packets: pk("SCCRQ 0/0"), Deadline: s}),
				recv(10*ms, MsgSCCRP, 0, 1, tout{Packets: pk("ACK 1/1"), Delivered: pk("SCCRP 0")}),
				send(20*ms, MsgSCCCN, tout{Packets: pk("SCCCN 1/1"), Deadline: 1020 * ms}),
				recv(30*ms, MsgACK, 1, 2, tout{}),
				recv(40*ms, MsgHELLO, 1, 2, tout{Packets: pk("ACK 2/2"), Delivered: pk("HELLO 1")}),
			},
		},
		{
			name: "L2TPv2 has no ACK message: type 20 is sequenced like any other",
			steps: []tstep{
				recv(0, MsgACK, 0, 0, tout{Packets: pk("ZLB 0/1"), Delivered: pk("ACK 0")}),
			},
		},
		{
			name: "send queue bound",
			cfg:  TransportConfig{PeerRxWindow: 1, SendQueueLen: 2},
			steps: []tstep{
				send(0, MsgICRQ, tout{Packets: pk("ICRQ 0/0"), Deadline: s}),
				send(0, MsgICRQ, tout{Deadline: s}),
				sendErr(0, MsgICRQ, errSendQueueFull, tout{Deadline: s}),
				recv(10*ms, 0, 0, 1, tout{Packets: pk("ICRQ 1/0"), Deadline: 1010 * ms}),
				send(20*ms, MsgICRQ, tout{Deadline: 1010 * ms}),
			},
		},
		{
			// A StopCCN makes the messages still waiting for the window moot: they are
			// dropped, and the StopCCN follows those already transmitted.
			name: "discard unsent before a StopCCN",
			cfg:  TransportConfig{PeerRxWindow: 2},
			steps: []tstep{
				send(0, MsgICRQ, tout{Packets: pk("ICRQ 0/0"), Deadline: s}),
				send(0, MsgICRQ, tout{Packets: pk("ICRQ 1/0"), Deadline: s}),
				send(0, MsgICRQ, tout{Deadline: s}),
				send(0, MsgICRQ, tout{Deadline: s}),
				{desc: "discard unsent", do: func(tr *transport, _ time.Time) (transportOutput, error) {
					if n := tr.DiscardUnsent(); n != 2 {
						return transportOutput{}, fmt.Errorf("discarded %d, want 2", n)
					}
					return transportOutput{}, nil
				}},
				send(0, MsgStopCCN, tout{Deadline: s}),
				recv(10*ms, 0, 0, 2, tout{Packets: pk("StopCCN 2/0"), Deadline: 1010 * ms}),
			},
		},
		{
			name: "ZLBs are not for Send",
			steps: []tstep{
				sendErr(0, 0, errSendZLB, tout{}),
				send(0, MsgHELLO, tout{Packets: pk("HELLO 0/0"), Deadline: s}),
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { runSteps(t, tc.cfg, tc.steps) })
	}
}

// TestTransportRetryCounts checks the exact retransmission count and the time the peer is
// declared dead for several retry settings.
func TestTransportRetryCounts(t *testing.T) {
	tests := []struct {
		name      string
		cfg       TransportConfig
		wantSends int
		wantDead  time.Duration
	}{
		{name: "defaults", cfg: TransportConfig{}, wantSends: 6, wantDead: 31 * time.Second},
		{name: "1 retry", cfg: TransportConfig{MaxRetries: 1}, wantSends: 2, wantDead: 3 * time.Second},
		{name: "10 retries", cfg: TransportConfig{MaxRetries: 10}, wantSends: 11, wantDead: 71 * time.Second},
		{name: "2 s doubling to 16 s, 4 retries", cfg: TransportConfig{RetryTimeout: 2 * time.Second,
			MaxRetryTimeout: 16 * time.Second, MaxRetries: 4}, wantSends: 5, wantDead: 46 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Version = Version2
			tr := newTransport(tc.cfg, plainMarshal)
			out, err := tr.Send(t0, &Message{Header: Header{Version: Version2}, Type: MsgSCCRQ})
			if err != nil {
				t.Fatal(err)
			}
			sends := len(out.Packets)
			for out.Err == nil {
				if out.Deadline.IsZero() {
					t.Fatal("no deadline while a message is unacknowledged")
				}
				now := out.Deadline
				out = tr.Tick(now)
				sends += len(out.Packets)
				if out.Err != nil {
					if got := now.Sub(t0); got != tc.wantDead {
						t.Errorf("peer declared dead at %v, want %v", got, tc.wantDead)
					}
				}
			}
			if !errors.Is(out.Err, errPeerUnresponsive) {
				t.Errorf("Err = %v, want errPeerUnresponsive", out.Err)
			}
			if sends != tc.wantSends {
				t.Errorf("%d transmissions, want %d", sends, tc.wantSends)
			}
			if got := tc.cfg.RetransmitCycle(); got != tc.wantDead {
				t.Errorf("RetransmitCycle() = %v, want %v", got, tc.wantDead)
			}
			if got, want := tr.Stats().Retransmitted, uint64(tc.wantSends-1); got != want {
				t.Errorf("Stats().Retransmitted = %d, want %d", got, want)
			}
		})
	}
}

func TestTransportConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  TransportConfig
		ok   bool
	}{
		{name: "defaults v2", cfg: TransportConfig{Version: Version2}, ok: true},
		{name: "defaults v3 explicit ack", cfg: TransportConfig{Version: Version3, ExplicitAck: true}, ok: true},
		{name: "all set", cfg: TransportConfig{Version: Version2, RxWindow: 16, PeerRxWindow: 8,
			RetryTimeout: 2 * time.Second, MaxRetryTimeout: 30 * time.Second, MaxRetries: 8,
			AckDelay: DefaultAckDelay, HelloInterval: DefaultHelloInterval, SendQueueLen: 100}, ok: true},
		{name: "retry timeout above 8 s raises the default cap", cfg: TransportConfig{Version: Version2,
			RetryTimeout: 10 * time.Second}, ok: true},
		{name: "no version", cfg: TransportConfig{}},
		{name: "version 1", cfg: TransportConfig{Version: 1}},
		{name: "cap below 8 s", cfg: TransportConfig{Version: Version2, MaxRetryTimeout: 4 * time.Second}},
		{name: "cap below first timeout", cfg: TransportConfig{Version: Version2, RetryTimeout: 20 * time.Second,
			MaxRetryTimeout: 10 * time.Second}},
		{name: "negative retry timeout", cfg: TransportConfig{Version: Version2, RetryTimeout: -1}},
		{name: "negative retries", cfg: TransportConfig{Version: Version2, MaxRetries: -1}},
		{name: "negative ack delay", cfg: TransportConfig{Version: Version2, AckDelay: -1}},
		{name: "ack delay not below retry timeout", cfg: TransportConfig{Version: Version2, AckDelay: time.Second}},
		{name: "negative hello", cfg: TransportConfig{Version: Version2, HelloInterval: -1}},
		{name: "huge window", cfg: TransportConfig{Version: Version2, RxWindow: 40000}},
		{name: "huge queue", cfg: TransportConfig{Version: Version2, SendQueueLen: 40000}},
		{name: "explicit ack on v2", cfg: TransportConfig{Version: Version2, ExplicitAck: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.ok && err != nil {
				t.Errorf("Validate() = %v, want nil", err)
			}
			if !tc.ok && !errors.Is(err, ErrTransportConfig) {
				t.Errorf("Validate() = %v, want ErrTransportConfig", err)
			}
		})
	}
}

// TestTransportMarshalErrors checks that an encoding failure at Send is returned with
// nothing queued, and that one at retransmission time is terminal.
func TestTransportMarshalErrors(t *testing.T) {
	errBoom := errors.New("boom")
	failNr := -1 // fail when stamping this Nr
	marshal := func(m *Message) ([]byte, error) {
		if m.Type == MsgWEN || int(m.Nr) == failNr {
			return nil, errBoom
		}
		return plainMarshal(m)
	}
	tr := newTransport(TransportConfig{Version: Version2}, marshal)
	if _, err := tr.Send(t0, &Message{Header: Header{Version: Version2}, Type: MsgWEN}); !errors.Is(err, errBoom) {
		t.Fatalf("Send of an unencodable message: %v, want errBoom", err)
	}
	if !tr.Idle() || tr.NextNs() != 0 {
		t.Fatalf("failed Send left state behind: idle %v, next Ns %d", tr.Idle(), tr.NextNs())
	}
	out, err := tr.Send(t0, &Message{Header: Header{Version: Version2}, Type: MsgICRQ})
	if err != nil || len(out.Packets) != 1 {
		t.Fatalf("Send: %v, %d packets", err, len(out.Packets))
	}
	out = tr.Receive(t0, &Message{Header: Header{Version: Version2, Ns: 0, Nr: 0}, Type: MsgHELLO})
	if len(out.Delivered) != 1 {
		t.Fatalf("HELLO not delivered: %+v", out)
	}
	failNr = 1
	out = tr.Tick(t0.Add(time.Second))
	if !errors.Is(out.Err, errBoom) {
		t.Fatalf("retransmission with a failing marshal: Err = %v, want errBoom", out.Err)
	}
}

// TestTransportDigestRecomputed checks, with the real digest code, that every
// retransmission is signed over the Nr it carries (RFC 3931 §5.4.1) and that acknowledgements
// are signed ACK messages.
func TestTransportDigestRecomputed(t *testing.T) {
	key := DigestKey([]byte("secret"))
	local, remote := []byte("local-nonce-0123"), []byte("remote-nonce-012")
	dig := &controlDigest{Type: DigestHMACMD5, Keys: [][]byte{key}, LocalNonce: local, RemoteNonce: remote}
	for _, ip := range []bool{false, true} {
		t.Run(fmt.Sprintf("ip=%v", ip), func(t *testing.T) {
			tr := newTransport(TransportConfig{Version: Version3, ExplicitAck: true, AckDelay: 100 * time.Millisecond},
				controlMarshaler(&MarshalOptions{Secret: []byte("secret"), Rand: &countingReader{},
					Hide: []AVPType{AVPAssignedSessionID}}, ip, dig))
			check := func(out transportOutput, want ...string) {
				t.Helper()
				var got []string
				for _, b := range out.Packets {
					if ip {
						var err error
						if b, err = StripIPSessionID(b); err != nil {
							t.Fatal(err)
						}
					}
					// The peer verifies with the nonces swapped.
					if err := VerifyMessage(b, remote, local, key); err != nil {
						t.Errorf("packet %x: %v", b, err)
					}
					m, err := Parse(b, &ParseOptions{Secret: []byte("secret")})
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, fmt.Sprintf("%v %d/%d", m.Type, m.Ns, m.Nr))
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("packets (-want +got):\n%s", diff)
				}
			}
			m := &Message{Header: Header{Version: Version3, TunnelID: 5}, Type: MsgICRQ,
				AVPs: []AVP{NewUint32(AVPLocalSessionID, 1), NewUint16(AVPAssignedSessionID, 3)}}
			out, err := tr.Send(t0, m)
			if err != nil {
				t.Fatal(err)
			}
			check(out, "ICRQ 0/0")
			check(tr.Receive(t0.Add(500*time.Millisecond),
				&Message{Header: Header{Version: Version3, Ns: 0, Nr: 0}, Type: MsgHELLO}))
			check(tr.Tick(t0.Add(600*time.Millisecond)), "ACK 1/1")
			check(tr.Tick(t0.Add(time.Second)), "ICRQ 0/1") // new Nr, new digest
			check(tr.Tick(t0.Add(3*time.Second)), "ICRQ 0/1")
			if len(m.AVPs) != 2 {
				t.Errorf("marshal changed the caller's AVPs: %v", m.AVPs)
			}
		})
	}
}
