package pppoe

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var clientMAC = MAC{0x02, 0xc1, 0, 0, 0, 1}

func newTestClient(t testing.TB, cfg ClientConfig) *Client {
	t.Helper()
	c, err := NewClient(cfg, testRand(9))
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

// wire connects a Client and an AC in memory, as the two data planes would.
type wire struct {
	t     *testing.T
	ac    *AC
	c     *Client
	host  MAC
	now   time.Time
	trace []string     // codes of the frames exchanged, in order
	acRes []ACResult   // every AC decision
	last  ClientResult // the client's last result
}

// run delivers the client's frame to the AC and the AC's reply back, until a side sends
// nothing, and returns the client's last result.
func (w *wire) run(res ClientResult) ClientResult {
	w.t.Helper()
	w.last = res
	for res.Send != nil {
		w.record(res.Send.Payload)
		if p, _ := ParsePacket(res.Send.Payload); p.Code == CodePADI && res.Send.Dst != BroadcastMAC {
			w.t.Fatalf("PADI sent to %v, want broadcast", res.Send.Dst)
		} else if p.Code != CodePADI && res.Send.Dst != acMAC {
			w.t.Fatalf("%v sent to %v, want the AC %v", p.Code, res.Send.Dst, acMAC)
		}
		ar := w.ac.Handle(w.now, Inbound{Interface: "eth1", Src: w.host, VLANs: res.Send.VLANs, Payload: res.Send.Payload})
		w.acRes = append(w.acRes, ar)
		if ar.Reply == nil {
			break
		}
		w.record(ar.Reply.Payload)
		res = w.c.Handle(Inbound{Interface: "eth0", Src: acMAC, VLANs: ar.Reply.VLANs, Payload: ar.Reply.Payload})
		w.last = res
	}
	return w.last
}

func (w *wire) record(b []byte) {
	p, err := ParsePacket(b)
	if err != nil {
		w.t.Fatalf("frame on the wire does not parse: %v", err)
	}
	w.trace = append(w.trace, p.Code.String())
}

func TestClientACBackToBack(t *testing.T) {
	tests := []struct {
		name        string
		acCfg       func(*ACConfig)
		cfg         ClientConfig
		wantSession ClientSession // ID and AC filled in by the test
	}{
		{
			name:        "any service",
			wantSession: ClientSession{ACName: "bras-1", ServiceName: ""},
		},
		{
			name:        "named service and AC",
			cfg:         ClientConfig{ServiceName: "iptv", ACName: "bras-1"},
			wantSession: ClientSession{ACName: "bras-1", ServiceName: "iptv"},
		},
		{
			name:        "QinQ",
			cfg:         ClientConfig{VLANs: VLANs{Outer: 100, Inner: 10}},
			wantSession: ClientSession{ACName: "bras-1"},
		},
		{
			name:        "PPP-Max-Payload agreed on a jumbo interface",
			acCfg:       func(c *ACConfig) { c.Interfaces = map[string]ACInterface{"eth1": {MTU: 9000}} },
			cfg:         ClientConfig{PPPMaxPayload: 1500},
			wantSession: ClientSession{ACName: "bras-1", PPPMaxPayload: 1500},
		},
		{
			name:        "PPP-Max-Payload refused on a 1500 MTU",
			cfg:         ClientConfig{PPPMaxPayload: 1500},
			wantSession: ClientSession{ACName: "bras-1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			acCfg := baseACConfig()
			if tt.acCfg != nil {
				tt.acCfg(&acCfg)
			}
			w := &wire{t: t, ac: newTestAC(t, acCfg), c: newTestClient(t, tt.cfg), host: clientMAC, now: t0}
			res := w.run(w.c.Start())
			if res.Event != EventEstablished || res.Timer != TimerStop {
				t.Fatalf("after discovery: event %v timer %v err %v, want established/stop", res.Event, res.Timer, res.Err)
			}
			if diff := cmp.Diff([]string{"PADI", "PADO", "PADR", "PADS"}, w.trace); diff != "" {
				t.Errorf("frames (-want +got):\n%s", diff)
			}
			acSession := w.acRes[len(w.acRes)-1].Session
			got, ok := w.c.Session()
			if !ok || w.c.State() != ClientEstablished {
				t.Fatalf("client state %v, session %v", w.c.State(), ok)
			}
			want := tt.wantSession
			want.ID, want.AC = acSession.ID, acMAC
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("client session (-want +got):\n%s", diff)
			}
			if acSession.Peer != clientMAC || acSession.VLANs != tt.cfg.VLANs || acSession.ServiceName != tt.cfg.ServiceName ||
				acSession.PPPMaxPayload != want.PPPMaxPayload || string(acSession.HostUniq) != string(w.c.HostUniq()) {
				t.Errorf("AC session %+v does not match the client", acSession)
			}

			// The client hangs up; the AC forgets the session.
			w.trace = nil
			res = w.run(w.c.Close("user request"))
			if res.Event != EventTerminated || w.c.State() != ClientTerminated {
				t.Errorf("after Close: event %v state %v", res.Event, w.c.State())
			}
			last := w.acRes[len(w.acRes)-1]
			if last.Outcome != OutcomeTerminated || last.Message != "user request" || last.Session.ID != acSession.ID {
				t.Errorf("AC on the PADT: %v %q session %#04x", last.Outcome, last.Message, last.Session.ID)
			}
			if w.ac.Len() != 0 {
				t.Errorf("AC keeps %d sessions", w.ac.Len())
			}
		})
	}
}

func TestClientTerminatedByAC(t *testing.T) {
	w := &wire{t: t, ac: newTestAC(t, baseACConfig()), c: newTestClient(t, ClientConfig{}), host: clientMAC, now: t0}
	if res := w.run(w.c.Start()); res.Event != EventEstablished {
		t.Fatalf("discovery: %v %v", res.Event, res.Err)
	}
	s, _ := w.c.Session()
	out, _, err := w.ac.Terminate("eth1", s.ID, "idle timeout")
	if err != nil {
		t.Fatalf("Terminate: %v", err)
	}
	// PADTs not from the AC or for another session are ignored.
	other := Inbound{Src: hostB, Payload: out.Payload}
	if res := w.c.Handle(other); !errors.Is(res.Err, ErrWrongAC) || res.Event != EventNone {
		t.Errorf("PADT from another MAC: %v %v", res.Event, res.Err)
	}
	wrongID := mustEncode(t, Packet{Code: CodePADT, SessionID: s.ID ^ 1})
	if res := w.c.Handle(Inbound{Src: acMAC, Payload: wrongID}); !errors.Is(res.Err, ErrWrongAC) || res.Event != EventNone {
		t.Errorf("PADT for another session: %v %v", res.Event, res.Err)
	}
	if w.c.State() != ClientEstablished {
		t.Fatalf("state %v after ignored PADTs", w.c.State())
	}
	res := w.c.Handle(Inbound{Src: acMAC, Payload: out.Payload})
	if res.Event != EventTerminated || res.Timer != TimerStop || w.c.State() != ClientTerminated {
		t.Fatalf("PADT: event %v timer %v state %v", res.Event, res.Timer, w.c.State())
	}
	var pe *PeerError
	if !errors.As(res.Err, &pe) || pe.Code != CodePADT || pe.Tag != (ErrorTag{TagGenericError, "idle timeout"}) {
		t.Errorf("Err = %v, want the AC's Generic-Error", res.Err)
	}
	if res := w.c.Close(""); !errors.Is(res.Err, ErrClientState) || res.Send != nil {
		t.Errorf("Close after termination: %+v", res)
	}
}

func TestClientRefusedByAC(t *testing.T) {
	cfg := baseACConfig()
	cfg.MaxSessions = 1
	ac := newTestAC(t, cfg)
	c := newTestClient(t, ClientConfig{})
	padi := c.Start()
	pado := ac.Handle(t0, Inbound{Interface: "eth1", Src: clientMAC, Payload: padi.Send.Payload})
	padr := c.Handle(Inbound{Src: acMAC, Payload: pado.Reply.Payload})
	establish(t, ac, t0, hostB, vlan, "") // takes the last session
	pads := ac.Handle(t0, Inbound{Interface: "eth1", Src: clientMAC, Payload: padr.Send.Payload})
	if pads.Outcome != OutcomeRefused {
		t.Fatalf("AC outcome %v, want refused", pads.Outcome)
	}
	res := c.Handle(Inbound{Src: acMAC, Payload: pads.Reply.Payload})
	if res.Event != EventFailed || res.Timer != TimerStop || c.State() != ClientFailed {
		t.Fatalf("event %v timer %v state %v, want failed/stop", res.Event, res.Timer, c.State())
	}
	want := &PeerError{Code: CodePADS, Tag: ErrorTag{Type: TagACSystemError, Message: "session limit reached"}}
	if diff := cmp.Diff(want, res.Err); diff != "" {
		t.Errorf("Err (-want +got):\n%s", diff)
	}
	if !strings.Contains(res.Err.Error(), "AC-System-Error: session limit reached") {
		t.Errorf("Err text %q lacks the AC's message", res.Err)
	}
	if _, ok := c.Session(); ok {
		t.Error("a refused client reports a session")
	}
}

type clientStep struct {
	do          string // "start", "timeout", "pado"
	wantSend    Code   // 0: nothing sent
	wantTimer   TimerAction
	wantTimeout time.Duration
	wantState   ClientState
	wantEvent   ClientEvent
	wantErr     error
}

func runClientSteps(t *testing.T, c *Client, pado []byte, steps []clientStep) {
	t.Helper()
	for i, s := range steps {
		var res ClientResult
		switch s.do {
		case "start":
			res = c.Start()
		case "timeout":
			res = c.Timeout()
		case "pado":
			res = c.Handle(Inbound{Src: acMAC, Payload: pado})
		}
		var sent Code
		if res.Send != nil {
			p, err := ParsePacket(res.Send.Payload)
			if err != nil {
				t.Fatalf("step %d: sent frame does not parse: %v", i, err)
			}
			sent = p.Code
			if string(p.Tags.HostUniq) != string(c.HostUniq()) {
				t.Errorf("step %d: %v without our Host-Uniq", i, p.Code)
			}
		}
		if sent != s.wantSend || res.Timer != s.wantTimer || res.Timeout != s.wantTimeout ||
			c.State() != s.wantState || res.Event != s.wantEvent || !errors.Is(res.Err, s.wantErr) {
			t.Fatalf("step %d (%s): sent %v timer %v %v state %v event %v err %v;\nwant sent %v timer %v %v state %v event %v err %v",
				i, s.do, sent, res.Timer, res.Timeout, c.State(), res.Event, res.Err,
				s.wantSend, s.wantTimer, s.wantTimeout, s.wantState, s.wantEvent, s.wantErr)
		}
	}
}

// testPADO returns a PADO from acMAC answering c.
func testPADO(t *testing.T, c *Client, mutate func(*Tags)) []byte {
	tags := Tags{ServiceNames: []string{""}, ACName: "bras-1", HasACName: true, HostUniq: c.HostUniq(), ACCookie: []byte{1, 2, 3}}
	if mutate != nil {
		mutate(&tags)
	}
	return mustEncode(t, Packet{Code: CodePADO, Tags: tags})
}

func TestClientPADIBackoffAndGiveUp(t *testing.T) {
	c := newTestClient(t, ClientConfig{Timeout: time.Second, MaxTimeout: 4 * time.Second, PADIAttempts: 5})
	runClientSteps(t, c, nil, []clientStep{
		{do: "start", wantSend: CodePADI, wantTimer: TimerStart, wantTimeout: time.Second, wantState: ClientDiscovering},
		{do: "timeout", wantSend: CodePADI, wantTimer: TimerStart, wantTimeout: 2 * time.Second, wantState: ClientDiscovering},
		{do: "timeout", wantSend: CodePADI, wantTimer: TimerStart, wantTimeout: 4 * time.Second, wantState: ClientDiscovering},
		{do: "timeout", wantSend: CodePADI, wantTimer: TimerStart, wantTimeout: 4 * time.Second, wantState: ClientDiscovering},
		{do: "timeout", wantSend: CodePADI, wantTimer: TimerStart, wantTimeout: 4 * time.Second, wantState: ClientDiscovering},
		{do: "timeout", wantTimer: TimerStop, wantState: ClientFailed, wantEvent: EventFailed, wantErr: ErrDiscoveryTimeout},
		{do: "timeout", wantState: ClientFailed}, // a late timer does nothing
	})
}

func TestClientPADRRetransmit(t *testing.T) {
	t.Run("restarts discovery, then gives up waiting for a PADO", func(t *testing.T) {
		c := newTestClient(t, ClientConfig{Timeout: time.Second, MaxTimeout: 8 * time.Second, PADIAttempts: 3, PADRAttempts: 2})
		runClientSteps(t, c, testPADO(t, c, nil), []clientStep{
			{do: "start", wantSend: CodePADI, wantTimer: TimerStart, wantTimeout: time.Second, wantState: ClientDiscovering},
			{do: "pado", wantSend: CodePADR, wantTimer: TimerStart, wantTimeout: time.Second, wantState: ClientRequesting},
			{do: "timeout", wantSend: CodePADR, wantTimer: TimerStart, wantTimeout: 2 * time.Second, wantState: ClientRequesting},
			// Two PADRs unanswered: back to PADI, whose backoff continues (second PADI).
			{do: "timeout", wantSend: CodePADI, wantTimer: TimerStart, wantTimeout: 2 * time.Second, wantState: ClientDiscovering},
			{do: "pado", wantSend: CodePADR, wantTimer: TimerStart, wantTimeout: time.Second, wantState: ClientRequesting},
			{do: "timeout", wantSend: CodePADR, wantTimer: TimerStart, wantTimeout: 2 * time.Second, wantState: ClientRequesting},
			{do: "timeout", wantSend: CodePADI, wantTimer: TimerStart, wantTimeout: 4 * time.Second, wantState: ClientDiscovering},
			{do: "timeout", wantTimer: TimerStop, wantState: ClientFailed, wantEvent: EventFailed, wantErr: ErrDiscoveryTimeout},
		})
	})
	t.Run("gives up waiting for a PADS", func(t *testing.T) {
		c := newTestClient(t, ClientConfig{Timeout: time.Second, PADIAttempts: 1, PADRAttempts: 2})
		runClientSteps(t, c, testPADO(t, c, nil), []clientStep{
			{do: "start", wantSend: CodePADI, wantTimer: TimerStart, wantTimeout: time.Second, wantState: ClientDiscovering},
			{do: "pado", wantSend: CodePADR, wantTimer: TimerStart, wantTimeout: time.Second, wantState: ClientRequesting},
			{do: "timeout", wantSend: CodePADR, wantTimer: TimerStart, wantTimeout: 2 * time.Second, wantState: ClientRequesting},
			{do: "timeout", wantTimer: TimerStop, wantState: ClientFailed, wantEvent: EventFailed, wantErr: ErrDiscoveryTimeout},
		})
	})
	t.Run("PADR echoes cookie and relay id", func(t *testing.T) {
		c := newTestClient(t, ClientConfig{ServiceName: "internet", PPPMaxPayload: 1500})
		c.Start()
		res := c.Handle(Inbound{Src: acMAC, Payload: testPADO(t, c, func(tg *Tags) {
			tg.ServiceNames = []string{"internet", "iptv"}
			tg.RelaySessionID = []byte{4, 4}
		})})
		got, err := ParsePacket(res.Send.Payload)
		if err != nil {
			t.Fatalf("PADR does not parse: %v", err)
		}
		want := Packet{Code: CodePADR, Tags: Tags{
			ServiceNames: []string{"internet"}, HostUniq: c.HostUniq(), ACCookie: []byte{1, 2, 3},
			RelaySessionID: []byte{4, 4}, PPPMaxPayload: 1500,
		}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("PADR (-want +got):\n%s", diff)
		}
	})
}

func TestClientIgnores(t *testing.T) {
	tests := []struct {
		name    string
		cfg     ClientConfig
		setup   func(t *testing.T, c *Client) // brings c into the state under test
		in      func(t *testing.T, c *Client) Inbound
		wantErr error
	}{
		{
			name: "PADO with another Host-Uniq",
			in: func(t *testing.T, c *Client) Inbound {
				return Inbound{Src: acMAC, Payload: testPADO(t, c, func(tg *Tags) { tg.HostUniq = []byte{9} })}
			},
			wantErr: ErrHostUniq,
		},
		{
			name: "PADO without Host-Uniq",
			in: func(t *testing.T, c *Client) Inbound {
				return Inbound{Src: acMAC, Payload: testPADO(t, c, func(tg *Tags) { tg.HostUniq = nil })}
			},
			wantErr: ErrHostUniq,
		},
		{
			name:    "PADO from another AC name",
			cfg:     ClientConfig{ACName: "bras-2"},
			in:      func(t *testing.T, c *Client) Inbound { return Inbound{Src: acMAC, Payload: testPADO(t, c, nil)} },
			wantErr: ErrOfferMismatch,
		},
		{
			name:    "PADO without the wanted service",
			cfg:     ClientConfig{ServiceName: "vod"},
			in:      func(t *testing.T, c *Client) Inbound { return Inbound{Src: acMAC, Payload: testPADO(t, c, nil)} },
			wantErr: ErrOfferMismatch,
		},
		{
			name: "PADO with an error tag",
			in: func(t *testing.T, c *Client) Inbound {
				return Inbound{Src: acMAC, Payload: testPADO(t, c, func(tg *Tags) { tg.Errors = []ErrorTag{{Type: TagGenericError}} })}
			},
			wantErr: &PeerError{},
		},
		{
			name:    "malformed",
			in:      func(t *testing.T, c *Client) Inbound { return Inbound{Src: acMAC, Payload: []byte{0x11, 0x07}} },
			wantErr: ErrShortHeader,
		},
		{
			name: "PADS while discovering",
			in: func(t *testing.T, c *Client) Inbound {
				return Inbound{Src: acMAC, Payload: mustEncode(t, Packet{Code: CodePADS, SessionID: 1, Tags: Tags{ServiceNames: []string{""}, HostUniq: c.HostUniq()}})}
			},
			wantErr: ErrClientState,
		},
		{
			name:  "PADS from another AC",
			setup: func(t *testing.T, c *Client) { c.Handle(Inbound{Src: acMAC, Payload: testPADO(t, c, nil)}) },
			in: func(t *testing.T, c *Client) Inbound {
				return Inbound{Src: hostB, Payload: mustEncode(t, Packet{Code: CodePADS, SessionID: 1, Tags: Tags{ServiceNames: []string{""}, HostUniq: c.HostUniq()}})}
			},
			wantErr: ErrWrongAC,
		},
		{
			name:  "PADS with another Host-Uniq",
			setup: func(t *testing.T, c *Client) { c.Handle(Inbound{Src: acMAC, Payload: testPADO(t, c, nil)}) },
			in: func(t *testing.T, c *Client) Inbound {
				return Inbound{Src: acMAC, Payload: mustEncode(t, Packet{Code: CodePADS, SessionID: 1, Tags: Tags{ServiceNames: []string{""}, HostUniq: []byte{1}}})}
			},
			wantErr: ErrHostUniq,
		},
		{
			name:  "late PADO while requesting",
			setup: func(t *testing.T, c *Client) { c.Handle(Inbound{Src: acMAC, Payload: testPADO(t, c, nil)}) },
			in: func(t *testing.T, c *Client) Inbound {
				return Inbound{Src: hostB, Payload: testPADO(t, c, nil)}
			},
			wantErr: ErrClientState,
		},
		{
			name: "group source address",
			in: func(t *testing.T, c *Client) Inbound {
				return Inbound{Src: BroadcastMAC, Payload: testPADO(t, c, nil)}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestClient(t, tt.cfg)
			c.Start()
			if tt.setup != nil {
				tt.setup(t, c)
			}
			state := c.State()
			res := c.Handle(tt.in(t, c))
			if res.Send != nil || res.Timer != TimerKeep || res.Event != EventNone || res.Err == nil {
				t.Errorf("result %+v, want nothing but an error", res)
			}
			if tt.wantErr != nil {
				var pe *PeerError
				if _, isPeer := tt.wantErr.(*PeerError); isPeer && !errors.As(res.Err, &pe) {
					t.Errorf("Err = %v, want a *PeerError", res.Err)
				} else if !isPeer && !errors.Is(res.Err, tt.wantErr) {
					t.Errorf("Err = %v, want %v", res.Err, tt.wantErr)
				}
			}
			if c.State() != state {
				t.Errorf("state %v -> %v on an ignored frame", state, c.State())
			}
		})
	}
}

func TestClientChoosesFirstMatchingOffer(t *testing.T) {
	c := newTestClient(t, ClientConfig{ACName: "bras-1"})
	c.Start()
	other := MAC{0x02, 0xac, 0, 0, 0, 2}
	c.Handle(Inbound{Src: other, Payload: testPADO(t, c, func(tg *Tags) { tg.ACName = "bras-2" })})
	res := c.Handle(Inbound{Src: acMAC, Payload: testPADO(t, c, nil)})
	if res.Send == nil || res.Send.Dst != acMAC {
		t.Fatalf("PADR not sent to the matching AC: %+v", res)
	}
	want := []Offer{
		{AC: other, ACName: "bras-2", ServiceNames: []string{""}},
		{AC: acMAC, ACName: "bras-1", ServiceNames: []string{""}, Chosen: true},
	}
	if diff := cmp.Diff(want, c.Offers()); diff != "" {
		t.Errorf("Offers (-want +got):\n%s", diff)
	}
	// A PADS agreeing a larger payload than asked is clamped; none was asked here, so 0.
	pads := mustEncode(t, Packet{Code: CodePADS, SessionID: 7, Tags: Tags{ServiceNames: []string{"x"}, HostUniq: c.HostUniq(), PPPMaxPayload: 2000}})
	if res := c.Handle(Inbound{Src: acMAC, Payload: pads}); res.Event != EventEstablished {
		t.Fatalf("PADS: %+v", res)
	}
	s, _ := c.Session()
	if diff := cmp.Diff(ClientSession{ID: 7, AC: acMAC, ACName: "bras-1", ServiceName: "x"}, s); diff != "" {
		t.Errorf("session (-want +got):\n%s", diff)
	}
}

func TestClientPPPMaxPayloadClamped(t *testing.T) {
	c := newTestClient(t, ClientConfig{PPPMaxPayload: 1500})
	c.Start()
	c.Handle(Inbound{Src: acMAC, Payload: testPADO(t, c, nil)})
	pads := mustEncode(t, Packet{Code: CodePADS, SessionID: 7, Tags: Tags{ServiceNames: []string{""}, HostUniq: c.HostUniq(), PPPMaxPayload: 2000}})
	c.Handle(Inbound{Src: acMAC, Payload: pads})
	if s, _ := c.Session(); s.PPPMaxPayload != 1500 {
		t.Errorf("PPPMaxPayload = %d, want the 1500 asked for", s.PPPMaxPayload)
	}
}

func TestClientStates(t *testing.T) {
	c := newTestClient(t, ClientConfig{})
	if res := c.Timeout(); res != (ClientResult{}) {
		t.Errorf("Timeout while idle = %+v, want nothing", res)
	}
	c.Start()
	if res := c.Start(); !errors.Is(res.Err, ErrClientState) || res.Send != nil {
		t.Errorf("second Start = %+v, want ErrClientState", res)
	}
	if res := c.Close(""); res.Timer != TimerStop || res.Send != nil || res.Event != EventNone || c.State() != ClientTerminated {
		t.Errorf("Close while discovering = %+v state %v, want the timer stopped and nothing sent", res, c.State())
	}
	if res := c.Close(""); !errors.Is(res.Err, ErrClientState) {
		t.Errorf("second Close = %+v, want ErrClientState", res)
	}

	c = newTestClient(t, ClientConfig{})
	if res := c.Close(""); res.Timer != TimerStop || c.State() != ClientTerminated {
		t.Errorf("Close while idle = %+v state %v", res, c.State())
	}

	for s := ClientIdle; s <= ClientTerminated; s++ {
		if strings.HasPrefix(s.String(), "state(") {
			t.Errorf("state %d has no name", s)
		}
	}
	for e := EventNone; e <= EventTerminated; e++ {
		if strings.HasPrefix(e.String(), "event(") {
			t.Errorf("event %d has no name", e)
		}
	}
	for a := TimerKeep; a <= TimerStop; a++ {
		if strings.HasPrefix(a.String(), "timer(") {
			t.Errorf("timer action %d has no name", a)
		}
	}
	if ClientState(99).String() != "state(99)" || ClientEvent(99).String() != "event(99)" || TimerAction(99).String() != "timer(99)" {
		t.Error("unknown values are not formatted as numbers")
	}
}

func TestNewClientErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  ClientConfig
		want string
	}{
		{name: "PADI beyond 1484 bytes", cfg: ClientConfig{ServiceName: strings.Repeat("s", 1463)}, want: "ClientConfig.ServiceName"},
		{name: "PADI with PPP-Max-Payload beyond 1484 bytes", cfg: ClientConfig{ServiceName: strings.Repeat("s", 1460), PPPMaxPayload: 1500}, want: "ClientConfig.ServiceName"},
		{name: "negative timeout", cfg: ClientConfig{Timeout: -1}, want: "ClientConfig.Timeout"},
		{name: "negative max timeout", cfg: ClientConfig{MaxTimeout: -1}, want: "ClientConfig.MaxTimeout"},
		{name: "negative PADI attempts", cfg: ClientConfig{PADIAttempts: -1}, want: "ClientConfig.PADIAttempts"},
		{name: "negative PADR attempts", cfg: ClientConfig{PADRAttempts: -1}, want: "ClientConfig.PADRAttempts"},
		{name: "max timeout below timeout", cfg: ClientConfig{Timeout: 2 * time.Second, MaxTimeout: time.Second}, want: "ClientConfig.MaxTimeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewClient(tt.cfg, testRand(1))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewClient error = %v, want one naming %s", err, tt.want)
			}
		})
	}
	if _, err := NewClient(ClientConfig{}, &scriptedReader{[]byte{1, 2}}); err == nil {
		t.Error("NewClient with a failing random source succeeded")
	}
	// The largest service name that fits is accepted.
	c, err := NewClient(ClientConfig{ServiceName: strings.Repeat("s", MaxPADILen-HeaderLen-4-4-hostUniqLen)}, testRand(1))
	if err != nil {
		t.Fatalf("NewClient with a PADI of exactly %d bytes: %v", MaxPADILen, err)
	}
	if got := len(c.Start().Send.Payload); got != MaxPADILen {
		t.Errorf("PADI of %d bytes, want %d", got, MaxPADILen)
	}
}

// TestManyClientsOneAC runs 200 clients with distinct MACs through one AC, then hangs them all
// up, checking that every session is distinct and that the AC ends with no state.
func TestManyClientsOneAC(t *testing.T) {
	ac := newTestAC(t, baseACConfig())
	var clients []*wire
	ids := make(map[uint16]bool)
	for i := range 200 {
		host := MAC{0x02, 0xc1, 0, 0, byte(i >> 8), byte(i)}
		c, err := NewClient(ClientConfig{ServiceName: "internet"}, testRand(byte(i)))
		if err != nil {
			t.Fatal(err)
		}
		w := &wire{t: t, ac: ac, c: c, host: host, now: t0.Add(time.Duration(i) * time.Millisecond)}
		if res := w.run(c.Start()); res.Event != EventEstablished {
			t.Fatalf("client %d: %v %v", i, res.Event, res.Err)
		}
		s, _ := c.Session()
		if ids[s.ID] {
			t.Fatalf("client %d got the live session ID %#04x", i, s.ID)
		}
		ids[s.ID] = true
		clients = append(clients, w)
	}
	if ac.Len() != 200 {
		t.Fatalf("AC has %d sessions, want 200", ac.Len())
	}
	for i, w := range clients {
		if res := w.run(w.c.Close("")); res.Event != EventTerminated {
			t.Fatalf("client %d Close: %+v", i, res)
		}
	}
	if ac.Len() != 0 || len(ac.byPeer) != 0 || len(ac.perIface) != 0 {
		t.Errorf("AC state left: %d sessions, %d peers, %d interfaces", ac.Len(), len(ac.byPeer), len(ac.perIface))
	}
}
