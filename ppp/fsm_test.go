package ppp

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// rfc1661Table is the state transition table of RFC 1661 §4.1 as printed in the RFC. The
// table test parses it and drives every cell through the automaton, so the automaton is
// checked against the RFC's own text rather than against a second transcription.
const rfc1661Table = `
      | State
      |    0         1         2         3         4         5
Events| Initial   Starting  Closed    Stopped   Closing   Stopping
------+-----------------------------------------------------------
 Up   |    2     irc,scr/6     -         -         -         -
 Down |    -         -         0       tls/1       0         1
 Open |  tls/1       1     irc,scr/6     3r        5r        5r
 Close|    0       tlf/0       2         2         4         4
      |
  TO+ |    -         -         -         -       str/4     str/5
  TO- |    -         -         -         -       tlf/2     tlf/3
      |
 RCR+ |    -         -       sta/2 irc,scr,sca/8   4         5
 RCR- |    -         -       sta/2 irc,scr,scn/6   4         5
 RCA  |    -         -       sta/2     sta/3       4         5
 RCN  |    -         -       sta/2     sta/3       4         5
      |
 RTR  |    -         -       sta/2     sta/3     sta/4     sta/5
 RTA  |    -         -         2         3       tlf/2     tlf/3
      |
 RUC  |    -         -       scj/2     scj/3     scj/4     scj/5
 RXJ+ |    -         -         2         3         4         5
 RXJ- |    -         -       tlf/2     tlf/3     tlf/2     tlf/3
      |
 RXR  |    -         -         2         3         4         5

      | State
      |    6         7         8           9
Events| Req-Sent  Ack-Rcvd  Ack-Sent    Opened
------+-----------------------------------------
 Up   |    -         -         -           -
 Down |    1         1         1         tld/1
 Open |    6         7         8           9r
 Close|irc,str/4 irc,str/4 irc,str/4 tld,irc,str/4
      |
  TO+ |  scr/6     scr/6     scr/8         -
  TO- |  tlf/3p    tlf/3p    tlf/3p        -
      |
 RCR+ |  sca/8   sca,tlu/9   sca/8   tld,scr,sca/8
 RCR- |  scn/6     scn/7     scn/6   tld,scr,scn/6
 RCA  |  irc/7     scr/6x  irc,tlu/9   tld,scr/6x
 RCN  |irc,scr/6   scr/6x  irc,scr/8   tld,scr/6x
      |
 RTR  |  sta/6     sta/6     sta/6   tld,zrc,sta/5
 RTA  |    6         6         8       tld,scr/6
      |
 RUC  |  scj/6     scj/7     scj/8       scj/9
 RXJ+ |    6         6         8           9
 RXJ- |  tlf/3     tlf/3     tlf/3   tld,irc,str/5
      |
 RXR  |    6         7         8         ser/9
`

// rfcCell is one parsed cell: the RFC's text, the actions and next state, or illegal.
type rfcCell struct {
	state, next State
	ev          event
	text        string
	illegal     bool
	acts        []string
	note        byte
}

// parseRFCTable reads rfc1661Table into cells, failing the test on anything unexpected.
func parseRFCTable(t *testing.T) []rfcCell {
	t.Helper()
	events := map[string]event{
		"Up": evUp, "Down": evDown, "Open": evOpen, "Close": evClose, "TO+": evTOPlus,
		"TO-": evTOMinus, "RCR+": evRCRPlus, "RCR-": evRCRMinus, "RCA": evRCA, "RCN": evRCN,
		"RTR": evRTR, "RTA": evRTA, "RUC": evRUC, "RXJ+": evRXJPlus, "RXJ-": evRXJMinus,
		"RXR": evRXR,
	}
	var cells []rfcCell
	first := State(0)
	for line := range strings.SplitSeq(rfc1661Table, "\n") {
		label, rest, ok := strings.Cut(line, "|")
		if !ok {
			continue
		}
		label = strings.TrimSpace(label)
		if label == "" {
			if f := strings.Fields(rest); len(f) > 0 && f[0] == "6" {
				first = 6 // header of the second half
			}
			continue
		}
		ev, ok := events[label]
		if !ok {
			continue // "Events" and the ruler
		}
		for i, text := range strings.Fields(rest) {
			c := rfcCell{state: first + State(i), ev: ev, text: text}
			if text == "-" {
				c.illegal = true
				cells = append(cells, c)
				continue
			}
			acts, next, hasActs := strings.Cut(text, "/")
			if !hasActs {
				next, acts = acts, ""
			}
			if n := next[len(next)-1]; n == 'p' || n == 'r' || n == 'x' {
				c.note, next = n, next[:len(next)-1]
			}
			var s int
			if _, err := fmt.Sscanf(next, "%d", &s); err != nil || s > 9 {
				t.Fatalf("cell %q: bad next state", text)
			}
			c.next = State(s)
			if acts != "" {
				c.acts = strings.Split(acts, ",")
			}
			cells = append(cells, c)
		}
	}
	if len(cells) != int(numStates)*int(numEvents) {
		t.Fatalf("parsed %d cells, want %d", len(cells), int(numStates)*int(numEvents))
	}
	return cells
}

// recOwner is a recording fsmOwner.
type recOwner struct {
	calls  []string // tlu, tld, tls, tlf, "send <code>" in order
	sent   []sentPacket
	recv   []sentPacket
	timer  bool
	starts int
	onUp   func()
}

type sentPacket struct {
	code Code
	id   uint8
	data []byte
}

var codeNames = map[Code]string{
	CodeConfigureRequest: "Configure-Request", CodeConfigureAck: "Configure-Ack",
	CodeConfigureNak: "Configure-Nak", CodeConfigureReject: "Configure-Reject",
	CodeTerminateRequest: "Terminate-Request", CodeTerminateAck: "Terminate-Ack",
	CodeCodeReject: "Code-Reject", CodeProtocolReject: "Protocol-Reject",
	CodeEchoRequest: "Echo-Request", CodeEchoReply: "Echo-Reply",
	CodeDiscardRequest: "Discard-Request", CodeIdentification: "Identification",
	CodeTimeRemaining: "Time-Remaining",
}

func (o *recOwner) send(_ Protocol, code Code, id uint8, data []byte) {
	o.calls = append(o.calls, "send "+codeNames[code])
	o.sent = append(o.sent, sentPacket{code, id, bytes.Clone(data)})
}
func (o *recOwner) startTimer(Protocol, time.Duration) { o.timer = true; o.starts++ }
func (o *recOwner) stopTimer(Protocol)                 { o.timer = false }
func (o *recOwner) thisLayerUp(Protocol) {
	o.calls = append(o.calls, "tlu")
	if o.onUp != nil {
		o.onUp()
	}
}
func (o *recOwner) thisLayerDown(Protocol)     { o.calls = append(o.calls, "tld") }
func (o *recOwner) thisLayerStarted(Protocol)  { o.calls = append(o.calls, "tls") }
func (o *recOwner) thisLayerFinished(Protocol) { o.calls = append(o.calls, "tlf") }
func (o *recOwner) received(_ Protocol, code Code, id uint8, data []byte) {
	o.recv = append(o.recv, sentPacket{code, id, bytes.Clone(data)})
}

func (o *recOwner) last() sentPacket {
	if len(o.sent) == 0 {
		return sentPacket{}
	}
	return o.sent[len(o.sent)-1]
}

// stubNeg is a negotiator whose verdicts the test sets.
type stubNeg struct {
	req     []byte
	verdict Code
	resets  int
}

func (n *stubNeg) protocol() Protocol              { return ProtoLCP }
func (n *stubNeg) reset()                          { n.resets++ }
func (n *stubNeg) appendRequest(dst []byte) []byte { return append(dst, n.req...) }
func (n *stubNeg) judgeRequest(dst, opts []byte, rejectNaks bool) (Code, []byte, error) {
	v := n.verdict
	if v == 0 {
		v = CodeConfigureAck
	}
	if v == CodeConfigureNak && rejectNaks {
		v = CodeConfigureReject
	}
	return v, append(dst, opts...), nil
}
func (n *stubNeg) gotAck([]byte)             {}
func (n *stubNeg) gotNak([]byte, bool) error { return nil }
func (n *stubNeg) gotReject([]byte) error    { return nil }
func (n *stubNeg) classify(c Code) codeKind  { return (&lcp{}).classify(c) }
func (n *stubNeg) appendEchoReply(dst, req []byte) ([]byte, bool) {
	return append(dst, req...), true
}

// actionEffects maps RFC actions to what the owner must observe.
var actionEffects = map[string]string{
	"tlu": "tlu", "tld": "tld", "tls": "tls", "tlf": "tlf",
	"scr": "send Configure-Request", "sca": "send Configure-Ack", "scn": "send Configure-Nak",
	"str": "send Terminate-Request", "sta": "send Terminate-Ack", "scj": "send Code-Reject",
	"ser": "send Echo-Reply",
}

// TestFSMTransitionTable drives every cell of RFC 1661 §4.1 (10 states × 16 events) and
// checks the actions taken, their order, what the owner saw, the next state, the Restart
// counter and the Restart timer.
func TestFSMTransitionTable(t *testing.T) {
	const cfgMaxConf, cfgMaxTerm, startCount = 7, 3, 4
	for _, c := range parseRFCTable(t) {
		name := fmt.Sprintf("%v,%v=%s", c.state, c.ev, strings.ReplaceAll(c.text, "/", "→"))
		t.Run(name, func(t *testing.T) {
			if got := transitions[c.ev][c.state].note; got != c.note {
				t.Errorf("footnote %q, want %q", got, c.note)
			}
			o := &recOwner{}
			f := newFSM(FSMConfig{MaxConfigure: cfgMaxConf, MaxTerminate: cfgMaxTerm}, &stubNeg{req: []byte{5, 6, 1, 2, 3, 4}}, o)
			f.state = c.state
			f.restart = startCount
			if c.state.timed() {
				f.timer, o.timer = true, true
			}
			f.reqSent, f.reqID, f.lastReq = true, 9, []byte{5, 6, 1, 2, 3, 4}
			f.rxID, f.rxCode, f.rxData = 42, CodeEchoRequest, []byte{0, 0, 0, 0, 'x'}
			switch c.ev {
			case evRCRPlus:
				f.replyCode, f.reply = CodeConfigureAck, []byte{1, 4, 5, 0xdc}
			case evRCRMinus:
				f.replyCode, f.reply = CodeConfigureNak, []byte{1, 4, 5, 0xd4}
			case evRUC:
				f.rxCode = 0x42
			}
			var gotActs []string
			gotLegal := true
			f.trace = func(from State, ev event, to State, acts []action, legal bool) {
				gotLegal = legal
				for _, a := range acts {
					gotActs = append(gotActs, a.String())
				}
			}

			f.dispatch(c.ev)

			if c.illegal {
				if gotLegal {
					t.Errorf("event accepted, want the RFC's \"-\" (ignored)")
				}
				if f.state != c.state || len(o.calls) != 0 || f.timer != c.state.timed() {
					t.Errorf("illegal event changed something: state %v, calls %q", f.state, o.calls)
				}
				return
			}
			if diff := cmp.Diff(c.acts, gotActs); diff != "" {
				t.Errorf("actions (-want +got):\n%s", diff)
			}
			if f.state != c.next {
				t.Errorf("next state = %v, want %v", f.state, c.next)
			}
			var wantCalls []string
			wantCount := startCount
			for _, a := range c.acts {
				if e, ok := actionEffects[a]; ok {
					wantCalls = append(wantCalls, e)
				}
				switch a {
				case "irc":
					wantCount = cfgMaxConf
					if strings.Contains(c.text, "str") {
						wantCount = cfgMaxTerm
					}
				case "zrc":
					wantCount = 0
				case "scr", "str":
					wantCount--
				}
			}
			if diff := cmp.Diff(wantCalls, o.calls); diff != "" {
				t.Errorf("owner calls (-want +got):\n%s", diff)
			}
			if f.restart != wantCount {
				t.Errorf("restart counter = %d, want %d", f.restart, wantCount)
			}
			if o.timer != c.next.timed() || f.timer != c.next.timed() {
				t.Errorf("restart timer running = %v (owner %v), want %v", f.timer, o.timer, c.next.timed())
			}
		})
	}
}

// TestFSMFootnotes checks the RFC's implementation options: [p] passive and [r] restart.
func TestFSMFootnotes(t *testing.T) {
	tests := []struct {
		name      string
		cfg       FSMConfig
		state     State
		ev        event
		wantState State
		wantCalls []string
	}{
		{"TO- Req-Sent default", FSMConfig{}, StateReqSent, evTOMinus, StateStopped, []string{"tlf"}},
		{"TO- Req-Sent passive", FSMConfig{Passive: true}, StateReqSent, evTOMinus, StateStopped, nil},
		{"TO- Ack-Rcvd passive", FSMConfig{Passive: true}, StateAckRcvd, evTOMinus, StateStopped, nil},
		{"TO- Ack-Sent passive", FSMConfig{Passive: true}, StateAckSent, evTOMinus, StateStopped, nil},
		{"TO- Closing passive unaffected", FSMConfig{Passive: true}, StateClosing, evTOMinus, StateClosed, []string{"tlf"}},
		{"Open Opened default", FSMConfig{}, StateOpened, evOpen, StateOpened, nil},
		{"Open Opened restart", FSMConfig{RestartOnOpen: true}, StateOpened, evOpen, StateReqSent, []string{"tld", "send Configure-Request"}},
		{"Open Stopped restart", FSMConfig{RestartOnOpen: true}, StateStopped, evOpen, StateReqSent, []string{"tls", "send Configure-Request"}},
		{"Open Closing restart", FSMConfig{RestartOnOpen: true}, StateClosing, evOpen, StateReqSent, []string{"send Configure-Request"}},
		{"Open Stopping restart", FSMConfig{RestartOnOpen: true}, StateStopping, evOpen, StateReqSent, []string{"send Configure-Request"}},
		{"Open Req-Sent restart unaffected", FSMConfig{RestartOnOpen: true}, StateReqSent, evOpen, StateReqSent, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &recOwner{}
			f := newFSM(tt.cfg, &stubNeg{}, o)
			f.state = tt.state
			f.timer, o.timer = tt.state.timed(), tt.state.timed()
			f.dispatch(tt.ev)
			if f.state != tt.wantState {
				t.Errorf("state = %v, want %v", f.state, tt.wantState)
			}
			if diff := cmp.Diff(tt.wantCalls, o.calls); diff != "" {
				t.Errorf("owner calls (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFSMConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     FSMConfig
		wantErr bool
	}{
		{"zero", FSMConfig{}, false},
		{"set", FSMConfig{RestartTimer: time.Second, MaxTerminate: 1, MaxConfigure: 3, MaxFailure: 2}, false},
		{"negative timer", FSMConfig{RestartTimer: -1}, true},
		{"negative terminate", FSMConfig{MaxTerminate: -1}, true},
		{"negative configure", FSMConfig{MaxConfigure: -1}, true},
		{"negative failure", FSMConfig{MaxFailure: -1}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.cfg.Validate(); (err != nil) != tt.wantErr {
				t.Errorf("Validate() = %v, want error %v", err, tt.wantErr)
			}
		})
	}
	got := FSMConfig{}.withDefaults()
	want := FSMConfig{RestartTimer: 3 * time.Second, MaxTerminate: 2, MaxConfigure: 10, MaxFailure: 5}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

func TestStateString(t *testing.T) {
	var got []string
	for s := range numStates + 1 {
		got = append(got, s.String())
	}
	want := []string{"Initial", "Starting", "Closed", "Stopped", "Closing", "Stopping", "Req-Sent", "Ack-Rcvd", "Ack-Sent", "Opened", "State(10)"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// openedLCP returns an LCP automaton driven to Opened against a scripted peer, with a
// deterministic Magic-Number.
func openedLCP(t *testing.T, cfg LCPConfig) (*fsm, *lcp, *recOwner) {
	t.Helper()
	if cfg.Rand == nil {
		cfg.Rand = rand.NewChaCha8([32]byte{1})
	}
	o := &recOwner{}
	l := newLCP(cfg)
	f := newFSM(FSMConfig{}, l, o)
	f.Open()
	f.Up()
	req := o.last()
	f.Input(CodeConfigureAck, req.id, req.data)
	f.Input(CodeConfigureRequest, 77, []byte{5, 6, 0xaa, 0xbb, 0xcc, 0xdd})
	if f.State() != StateOpened {
		t.Fatalf("state %v, want Opened", f.State())
	}
	o.calls, o.sent = nil, nil
	return f, l, o
}

// TestFSMInput checks how received packets become events (RFC 1661 §4.3, §5).
func TestFSMInput(t *testing.T) {
	type step struct {
		code Code
		id   uint8  // 0: the id of our last Configure-Request
		data []byte // nil with code Configure-Ack: our last request
		raw  bool   // use data even when nil
	}
	tests := []struct {
		name      string
		opened    bool // start Opened (else Req-Sent after Open+Up)
		steps     []step
		wantState State
		wantCalls []string
		wantRecv  []Code
		wantErr   error
	}{
		{
			name:      "ack with wrong identifier is discarded",
			steps:     []step{{code: CodeConfigureAck, id: 200}},
			wantState: StateReqSent,
		},
		{
			name:      "ack with other options is discarded",
			steps:     []step{{code: CodeConfigureAck, data: []byte{1, 4, 5, 0xdc}}},
			wantState: StateReqSent,
		},
		{
			name:      "ack moves to Ack-Rcvd, duplicate discarded",
			steps:     []step{{code: CodeConfigureAck}, {code: CodeConfigureAck}},
			wantState: StateAckRcvd,
		},
		{
			name:      "nak resends with new identifier",
			steps:     []step{{code: CodeConfigureNak, data: []byte{5, 6, 1, 2, 3, 4}}},
			wantState: StateReqSent,
			wantCalls: []string{"send Configure-Request"},
		},
		{
			name:      "malformed nak is discarded",
			steps:     []step{{code: CodeConfigureNak, data: []byte{5, 1}}},
			wantState: StateReqSent,
		},
		{
			name:      "reject of an option we did not send is discarded",
			steps:     []step{{code: CodeConfigureReject, data: []byte{1, 4, 5, 0xdc}}},
			wantState: StateReqSent,
		},
		{
			name:      "empty reject is discarded",
			steps:     []step{{code: CodeConfigureReject, data: nil, raw: true}},
			wantState: StateReqSent,
		},
		{
			name:      "code-reject of Configure-Request is catastrophic",
			opened:    true,
			steps:     []step{{code: CodeCodeReject, id: 3, data: []byte{1, 9, 0, 4}}},
			wantState: StateStopping,
			wantCalls: []string{"tld", "send Terminate-Request"},
			wantErr:   ErrRejected,
		},
		{
			name:      "code-reject of Echo-Request is permitted",
			opened:    true,
			steps:     []step{{code: CodeCodeReject, id: 3, data: []byte{9, 9, 0, 8, 0, 0, 0, 0}}},
			wantState: StateOpened,
			wantRecv:  []Code{CodeCodeReject},
		},
		{
			name:      "empty code-reject is discarded",
			opened:    true,
			steps:     []step{{code: CodeCodeReject, id: 3, data: nil, raw: true}},
			wantState: StateOpened,
		},
		{
			name:      "unknown code is code-rejected",
			opened:    true,
			steps:     []step{{code: 0x30, id: 3, data: []byte{1, 2}}},
			wantState: StateOpened,
			wantCalls: []string{"send Code-Reject"},
		},
		{
			name:      "terminate-request in Opened",
			opened:    true,
			steps:     []step{{code: CodeTerminateRequest, id: 3, data: []byte("bye")}},
			wantState: StateStopping,
			wantCalls: []string{"tld", "send Terminate-Ack"},
			wantErr:   ErrPeerTerminated,
		},
		{
			name:      "terminate-ack in Opened renegotiates",
			opened:    true,
			steps:     []step{{code: CodeTerminateAck, id: 3}},
			wantState: StateReqSent,
			wantCalls: []string{"tld", "send Configure-Request"},
		},
		{
			name:      "echo-request answered in Opened",
			opened:    true,
			steps:     []step{{code: CodeEchoRequest, id: 3, data: []byte{0xaa, 0xbb, 0xcc, 0xdd, 'h', 'i'}}},
			wantState: StateOpened,
			wantCalls: []string{"send Echo-Reply"},
			wantRecv:  []Code{CodeEchoRequest},
		},
		{
			name:      "echo-request ignored before Opened",
			steps:     []step{{code: CodeEchoRequest, id: 3, data: []byte{0, 0, 0, 0}}},
			wantState: StateReqSent,
		},
		{
			name:      "echo-reply handed to owner in Opened",
			opened:    true,
			steps:     []step{{code: CodeEchoReply, id: 3, data: []byte{0xaa, 0xbb, 0xcc, 0xdd}}},
			wantState: StateOpened,
			wantRecv:  []Code{CodeEchoReply},
		},
		{
			name:      "discard-request dropped",
			opened:    true,
			steps:     []step{{code: CodeDiscardRequest, id: 3, data: []byte{0xaa, 0xbb, 0xcc, 0xdd}}},
			wantState: StateOpened,
		},
		{
			name:      "identification accepted before Opened",
			steps:     []step{{code: CodeIdentification, id: 3, data: []byte{0, 0, 0, 0, 'x'}}},
			wantState: StateReqSent,
			wantRecv:  []Code{CodeIdentification},
		},
		{
			name:      "time-remaining accepted",
			opened:    true,
			steps:     []step{{code: CodeTimeRemaining, id: 3, data: []byte{0, 0, 0, 0, 0, 0, 0, 60}}},
			wantState: StateOpened,
			wantRecv:  []Code{CodeTimeRemaining},
		},
		{
			name:      "protocol-reject of IPCP handed to owner",
			opened:    true,
			steps:     []step{{code: CodeProtocolReject, id: 3, data: []byte{0x80, 0x21, 1, 1, 0, 4}}},
			wantState: StateOpened,
			wantRecv:  []Code{CodeProtocolReject},
		},
		{
			name:      "protocol-reject of LCP is catastrophic",
			opened:    true,
			steps:     []step{{code: CodeProtocolReject, id: 3, data: []byte{0xc0, 0x21}}},
			wantState: StateStopping,
			wantCalls: []string{"tld", "send Terminate-Request"},
			wantErr:   ErrRejected,
		},
		{
			name:      "protocol-reject ignored before Opened",
			steps:     []step{{code: CodeProtocolReject, id: 3, data: []byte{0xc0, 0x21}}},
			wantState: StateReqSent,
		},
		{
			name:      "truncated protocol-reject ignored",
			opened:    true,
			steps:     []step{{code: CodeProtocolReject, id: 3, data: []byte{0xc0}}},
			wantState: StateOpened,
		},
		{
			name:      "configure-request in Opened renegotiates",
			opened:    true,
			steps:     []step{{code: CodeConfigureRequest, id: 3, data: []byte{5, 6, 1, 2, 3, 4}}},
			wantState: StateAckSent,
			wantCalls: []string{"tld", "send Configure-Request", "send Configure-Ack"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f *fsm
			var o *recOwner
			if tt.opened {
				f, _, o = openedLCP(t, LCPConfig{})
			} else {
				o = &recOwner{}
				f = newFSM(FSMConfig{}, newLCP(LCPConfig{Rand: rand.NewChaCha8([32]byte{2})}), o)
				f.Open()
				f.Up()
				o.calls = nil
			}
			req := o.last()
			for _, s := range tt.steps {
				id, data := s.id, s.data
				if id == 0 {
					id = req.id
				}
				if data == nil && !s.raw && s.code == CodeConfigureAck {
					data = req.data
				}
				f.Input(s.code, id, data)
			}
			if f.State() != tt.wantState {
				t.Errorf("state = %v, want %v", f.State(), tt.wantState)
			}
			if diff := cmp.Diff(tt.wantCalls, o.calls); diff != "" {
				t.Errorf("owner calls (-want +got):\n%s", diff)
			}
			var recv []Code
			for _, p := range o.recv {
				recv = append(recv, p.code)
			}
			if diff := cmp.Diff(tt.wantRecv, recv); diff != "" {
				t.Errorf("received (-want +got):\n%s", diff)
			}
			if !errors.Is(f.Err(), tt.wantErr) || (tt.wantErr == nil && f.Err() != nil) {
				t.Errorf("Err() = %v, want %v", f.Err(), tt.wantErr)
			}
		})
	}
}

func TestFSMPacketContents(t *testing.T) {
	t.Run("code-reject carries the rejected packet truncated to the peer MRU", func(t *testing.T) {
		f, _, o := openedLCP(t, LCPConfig{})
		f.setPeerMRU(128)
		big := bytes.Repeat([]byte{0xee}, 300)
		f.Input(0x30, 0x55, big)
		got := o.last()
		want := append([]byte{0x30, 0x55, 0x01, 0x30}, big[:128-4-4]...)
		if got.code != CodeCodeReject || !bytes.Equal(got.data, want) {
			t.Errorf("sent code %d data %x, want Code-Reject %x", got.code, got.data, want)
		}
	})
	t.Run("echo-reply carries our magic and the data", func(t *testing.T) {
		f, l, o := openedLCP(t, LCPConfig{})
		f.Input(CodeEchoRequest, 0x21, []byte{0xaa, 0xbb, 0xcc, 0xdd, 1, 2, 3})
		got := o.last()
		want := sentPacket{CodeEchoReply, 0x21, AppendMagicData(nil, l.result().LocalMagic, []byte{1, 2, 3})}
		if diff := cmp.Diff(want, got, cmp.AllowUnexported(sentPacket{})); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("echo-request with our own magic is not answered", func(t *testing.T) {
		f, l, o := openedLCP(t, LCPConfig{})
		f.Input(CodeEchoRequest, 0x21, AppendMagicData(nil, l.result().LocalMagic, nil))
		if len(o.sent) != 0 {
			t.Errorf("sent %v, want nothing (looped back)", o.sent)
		}
	})
	t.Run("terminate-request carries the reason and retransmits Max-Terminate times", func(t *testing.T) {
		f, _, o := openedLCP(t, LCPConfig{})
		f.Close("admin down")
		f.Timeout()
		f.Timeout()
		var reqs int
		for _, p := range o.sent {
			if p.code == CodeTerminateRequest {
				reqs++
				if string(p.data) != "admin down" {
					t.Errorf("Terminate-Request data %q", p.data)
				}
			}
		}
		if reqs != DefaultMaxTerminate {
			t.Errorf("%d Terminate-Requests, want %d", reqs, DefaultMaxTerminate)
		}
		if f.State() != StateClosed || o.calls[len(o.calls)-1] != "tlf" {
			t.Errorf("state %v calls %q, want Closed after tlf", f.State(), o.calls)
		}
		if f.Err() != nil {
			t.Errorf("Err() = %v after an administrative close", f.Err())
		}
	})
	t.Run("stale timeout is ignored", func(t *testing.T) {
		f, _, o := openedLCP(t, LCPConfig{})
		f.Timeout()
		if f.State() != StateOpened || len(o.calls) != 0 {
			t.Errorf("state %v calls %q", f.State(), o.calls)
		}
	})
	t.Run("protocol rejected by the peer", func(t *testing.T) {
		f, _, o := openedLCP(t, LCPConfig{})
		f.ProtocolRejected()
		if f.State() != StateStopping || !errors.Is(f.Err(), ErrRejected) {
			t.Errorf("state %v err %v", f.State(), f.Err())
		}
		if diff := cmp.Diff([]string{"tld", "send Terminate-Request"}, o.calls); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("retransmission keeps the identifier, a new request changes it", func(t *testing.T) {
		o := &recOwner{}
		f := newFSM(FSMConfig{}, newLCP(LCPConfig{Rand: rand.NewChaCha8([32]byte{3})}), o)
		f.Open()
		f.Up()
		f.Timeout()
		if o.sent[0].id != o.sent[1].id || !bytes.Equal(o.sent[0].data, o.sent[1].data) {
			t.Errorf("retransmission differs: %v", o.sent)
		}
		f.Input(CodeConfigureNak, o.sent[1].id, []byte{5, 6, 9, 9, 9, 9})
		if o.sent[2].id == o.sent[1].id {
			t.Errorf("request after a Nak kept identifier %d", o.sent[2].id)
		}
	})
	t.Run("sendNew uses fresh identifiers", func(t *testing.T) {
		f, _, o := openedLCP(t, LCPConfig{})
		a := f.sendNew(CodeEchoRequest, []byte{0, 0, 0, 0})
		b := f.sendNew(CodeEchoRequest, []byte{0, 0, 0, 0})
		if a == b || o.sent[0].id != a || o.sent[1].id != b {
			t.Errorf("ids %d %d, sent %v", a, b, o.sent)
		}
	})
}

// TestFSMReentrantOwner checks that an owner calling back into the automaton from a
// callback is served after the current event.
func TestFSMReentrantOwner(t *testing.T) {
	o := &recOwner{}
	f := newFSM(FSMConfig{}, newLCP(LCPConfig{Rand: rand.NewChaCha8([32]byte{4})}), o)
	o.onUp = func() {
		f.Close("auth failed")
		if f.State() != StateOpened {
			t.Errorf("state %v inside thisLayerUp, want Opened", f.State())
		}
	}
	f.Open()
	f.Up()
	req := o.last()
	f.Input(CodeConfigureAck, req.id, req.data)
	f.Input(CodeConfigureRequest, 1, []byte{5, 6, 1, 2, 3, 4})
	want := []string{"tls", "send Configure-Request", "send Configure-Ack", "tlu", "tld", "send Terminate-Request"}
	if diff := cmp.Diff(want, o.calls); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if f.State() != StateClosing {
		t.Errorf("state %v, want Closing", f.State())
	}
}

// TestFSMMaxFailure checks RFC 1661 §4.6: after Max-Failure Configure-Naks without an
// Ack, Naks become Rejects.
func TestFSMMaxFailure(t *testing.T) {
	o := &recOwner{}
	neg := &stubNeg{verdict: CodeConfigureNak}
	f := newFSM(FSMConfig{MaxFailure: 3}, neg, o)
	f.Open()
	f.Up()
	var codes []Code
	for i := range 5 {
		f.Input(CodeConfigureRequest, uint8(i), []byte{1, 4, 0, 1})
		codes = append(codes, o.last().code)
	}
	want := []Code{CodeConfigureNak, CodeConfigureNak, CodeConfigureNak, CodeConfigureReject, CodeConfigureReject}
	if diff := cmp.Diff(want, codes); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	neg.verdict = CodeConfigureAck
	f.Input(CodeConfigureRequest, 9, []byte{1, 4, 0, 1})
	neg.verdict = CodeConfigureNak
	f.Input(CodeConfigureRequest, 10, []byte{1, 4, 0, 1})
	if o.last().code != CodeConfigureNak {
		t.Errorf("after an Ack the Nak count restarts: got code %d", o.last().code)
	}
}

// TestFSMRestartExhaustion checks that a silent peer gets Max-Configure requests, then
// This-Layer-Finished with ErrNoResponse.
func TestFSMRestartExhaustion(t *testing.T) {
	tests := []struct {
		name     string
		cfg      FSMConfig
		wantReqs int
	}{
		{"default", FSMConfig{}, DefaultMaxConfigure},
		{"configured", FSMConfig{MaxConfigure: 3}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &recOwner{}
			f := newFSM(tt.cfg, newLCP(LCPConfig{Rand: rand.NewChaCha8([32]byte{5})}), o)
			f.Open()
			f.Up()
			for i := 0; o.timer; i++ {
				if i > 100 {
					t.Fatal("timer never stops")
				}
				o.timer = false // it fired
				f.Timeout()
			}
			if len(o.sent) != tt.wantReqs {
				t.Errorf("%d Configure-Requests, want %d", len(o.sent), tt.wantReqs)
			}
			if f.State() != StateStopped || o.calls[len(o.calls)-1] != "tlf" {
				t.Errorf("state %v calls %q", f.State(), o.calls)
			}
			if !errors.Is(f.Err(), ErrNoResponse) {
				t.Errorf("Err() = %v, want ErrNoResponse", f.Err())
			}
		})
	}
}

// link connects automata back to back in memory. Packets queue and are delivered in
// order, instantly; drop decides which are lost. Timers run on a virtual clock that only
// advances when no packet is in flight.
type memLink struct {
	t     *testing.T
	q     []memDelivery
	drop  func(from *memEnd, p sentPacket) bool
	now   time.Duration
	steps int
}

type memDelivery struct {
	to    *memEnd
	proto Protocol
	p     sentPacket
}

// memEnd is one side: it owns one automaton per protocol and records what happened.
type memEnd struct {
	name  string
	link  *memLink
	peer  *memEnd
	fsms  map[Protocol]*fsm
	timer map[Protocol]time.Duration // deadline of an armed timer
	log   []string
	sent  []sentPacket
}

func newMemEnd(name string, l *memLink) *memEnd {
	return &memEnd{name: name, link: l, fsms: map[Protocol]*fsm{}, timer: map[Protocol]time.Duration{}}
}

func (e *memEnd) add(cfg FSMConfig, n negotiator) *fsm {
	f := newFSM(cfg, n, e)
	e.fsms[n.protocol()] = f
	return f
}

func (e *memEnd) send(p Protocol, code Code, id uint8, data []byte) {
	pkt := sentPacket{code, id, bytes.Clone(data)}
	e.sent = append(e.sent, pkt)
	if e.link.drop != nil && e.link.drop(e, pkt) {
		return
	}
	e.link.q = append(e.link.q, memDelivery{e.peer, p, pkt})
}
func (e *memEnd) startTimer(p Protocol, d time.Duration) { e.timer[p] = e.link.now + d }
func (e *memEnd) stopTimer(p Protocol)                   { delete(e.timer, p) }
func (e *memEnd) thisLayerUp(p Protocol)                 { e.log = append(e.log, p.String()+" up") }
func (e *memEnd) thisLayerDown(p Protocol)               { e.log = append(e.log, p.String()+" down") }
func (e *memEnd) thisLayerStarted(p Protocol)            { e.log = append(e.log, p.String()+" started") }
func (e *memEnd) thisLayerFinished(p Protocol)           { e.log = append(e.log, p.String()+" finished") }
func (e *memEnd) received(p Protocol, code Code, _ uint8, _ []byte) {
	e.log = append(e.log, fmt.Sprintf("%v received %s", p, codeNames[code]))
}

// run delivers packets until none are in flight, then fires the earliest timer, until
// nothing is left to do.
func (l *memLink) run(eps ...*memEnd) {
	l.t.Helper()
	for {
		for len(l.q) > 0 {
			d := l.q[0]
			l.q = l.q[1:]
			if l.steps++; l.steps > 10000 {
				l.t.Fatal("negotiation does not settle")
			}
			if f := d.to.fsms[d.proto]; f != nil {
				f.Input(d.p.code, d.p.id, d.p.data)
			}
		}
		var next *memEnd
		var proto Protocol
		for _, e := range eps {
			for p, at := range e.timer {
				if next == nil || at < next.timer[proto] || (at == next.timer[proto] && p < proto) {
					next, proto = e, p
				}
			}
		}
		if next == nil {
			return
		}
		if l.steps++; l.steps > 10000 {
			l.t.Fatal("negotiation does not settle")
		}
		l.now = next.timer[proto]
		delete(next.timer, proto)
		next.fsms[proto].Timeout()
	}
}

func memPair(t *testing.T) (*memLink, *memEnd, *memEnd) {
	l := &memLink{t: t}
	a, b := newMemEnd("a", l), newMemEnd("b", l)
	a.peer, b.peer = b, a
	return l, a, b
}

// TestFSMBackToBack runs two automata against each other over an in-memory link.
func TestFSMBackToBack(t *testing.T) {
	tests := []struct {
		name         string
		drop         func(from *memEnd, p sentPacket) bool
		wantA, wantB State
		wantLogA     []string
		wantLogB     []string
		wantErrA     error
	}{
		{
			name:  "clean",
			wantA: StateOpened, wantB: StateOpened,
			wantLogA: []string{"LCP started", "LCP up"},
			wantLogB: []string{"LCP started", "LCP up"},
		},
		{
			name: "first three packets lost",
			drop: func() func(*memEnd, sentPacket) bool {
				n := 0
				return func(*memEnd, sentPacket) bool { n++; return n <= 3 }
			}(),
			wantA: StateOpened, wantB: StateOpened,
			wantLogA: []string{"LCP started", "LCP up"},
			wantLogB: []string{"LCP started", "LCP up"},
		},
		{
			name:  "b silent",
			drop:  func(from *memEnd, _ sentPacket) bool { return from.name == "b" },
			wantA: StateStopped, wantB: StateStopped,
			wantLogA: []string{"LCP started", "LCP finished"},
			wantLogB: []string{"LCP started", "LCP finished"},
			wantErrA: ErrNoResponse,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, a, b := memPair(t)
			l.drop = tt.drop
			fa := a.add(FSMConfig{}, newLCP(LCPConfig{Rand: rand.NewChaCha8([32]byte{'a'})}))
			fb := b.add(FSMConfig{}, newLCP(LCPConfig{Rand: rand.NewChaCha8([32]byte{'b'})}))
			fa.Open()
			fb.Open()
			fa.Up()
			fb.Up()
			l.run(a, b)
			if fa.State() != tt.wantA || fb.State() != tt.wantB {
				t.Errorf("states %v/%v, want %v/%v", fa.State(), fb.State(), tt.wantA, tt.wantB)
			}
			if diff := cmp.Diff(tt.wantLogA, a.log); diff != "" {
				t.Errorf("a (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantLogB, b.log); diff != "" {
				t.Errorf("b (-want +got):\n%s", diff)
			}
			if !errors.Is(fa.Err(), tt.wantErrA) || (tt.wantErrA == nil && fa.Err() != nil) {
				t.Errorf("a Err() = %v, want %v", fa.Err(), tt.wantErrA)
			}
		})
	}
}

// TestFSMBackToBackTerminate closes one side of an open link.
func TestFSMBackToBackTerminate(t *testing.T) {
	l, a, b := memPair(t)
	fa := a.add(FSMConfig{}, newLCP(LCPConfig{Rand: rand.NewChaCha8([32]byte{'a'})}))
	fb := b.add(FSMConfig{}, newLCP(LCPConfig{Rand: rand.NewChaCha8([32]byte{'b'})}))
	fa.Open()
	fb.Open()
	fa.Up()
	fb.Up()
	l.run(a, b)
	a.log, b.log = nil, nil
	fa.Close("bye")
	l.run(a, b)
	if fa.State() != StateClosed || fb.State() != StateStopped {
		t.Errorf("states %v/%v, want Closed/Stopped", fa.State(), fb.State())
	}
	if diff := cmp.Diff([]string{"LCP down", "LCP finished"}, a.log); diff != "" {
		t.Errorf("a (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"LCP down", "LCP finished"}, b.log); diff != "" {
		t.Errorf("b (-want +got):\n%s", diff)
	}
	if !errors.Is(fb.Err(), ErrPeerTerminated) || !strings.Contains(fb.Err().Error(), "bye") {
		t.Errorf("b Err() = %v", fb.Err())
	}
	// The closed side answers further requests with Terminate-Ack (Closed state).
	fb.Open()
	l.run(a, b)
	if fa.State() != StateClosed {
		t.Errorf("a state %v, want Closed", fa.State())
	}
}
