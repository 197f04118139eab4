package ppp

import (
	"bytes"
	"errors"
	"fmt"
	"time"
)

// State is a state of the option negotiation automaton (RFC 1661 §4.2).
type State uint8

// The ten states of RFC 1661 §4.1, numbered as in the RFC's transition table.
const (
	StateInitial  State = iota // 0: lower layer Down, no Open
	StateStarting              // 1: Open, lower layer still Down
	StateClosed                // 2: lower layer Up, no Open
	StateStopped               // 3: Open, waiting for Down (after tlf) or a Configure-Request
	StateClosing               // 4: Terminate-Request sent, Close
	StateStopping              // 5: Terminate-Request sent (or Terminate-Ack, zrc), Open
	StateReqSent               // 6: Configure-Request sent
	StateAckRcvd               // 7: Configure-Request sent, Configure-Ack received
	StateAckSent               // 8: Configure-Request and Configure-Ack sent
	StateOpened                // 9: both Configure-Acks exchanged
	numStates
)

var stateNames = [numStates]string{
	"Initial", "Starting", "Closed", "Stopped", "Closing", "Stopping",
	"Req-Sent", "Ack-Rcvd", "Ack-Sent", "Opened",
}

// String returns the state's name as RFC 1661 spells it.
func (s State) String() string {
	if s < numStates {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// negotiating reports whether a Configure-Request of ours is outstanding or answered
// without the automaton being Opened yet (RFC 1661 §4.2 Req-Sent, Ack-Rcvd, Ack-Sent).
func (s State) negotiating() bool {
	return s == StateReqSent || s == StateAckRcvd || s == StateAckSent
}

// timed reports whether the Restart timer runs in state s (RFC 1661 §4.2).
func (s State) timed() bool {
	return s == StateClosing || s == StateStopping || s.negotiating()
}

// Codes shared by LCP, IPCP and IPv6CP (RFC 1661 §5). LCP adds codes 8 to 13 (lcp.go).
const (
	CodeConfigureRequest Code = 1
	CodeConfigureAck     Code = 2
	CodeConfigureNak     Code = 3
	CodeConfigureReject  Code = 4
	CodeTerminateRequest Code = 5
	CodeTerminateAck     Code = 6
	CodeCodeReject       Code = 7
)

// Errors the automaton reports through its Err method, and that negotiators return to end
// a negotiation.
var (
	// ErrNoResponse means the Restart counter ran out while negotiating (the TO- event in
	// Req-Sent, Ack-Rcvd or Ack-Sent): the peer is silent.
	ErrNoResponse = errors.New("ppp: no response from peer")
	// ErrPeerTerminated means the peer sent a Terminate-Request; the error text carries the
	// request's data, which peers often fill with a reason.
	ErrPeerTerminated = errors.New("ppp: peer terminated the link")
	// ErrRejected means the peer rejected a code or protocol this layer cannot do without
	// (the RXJ- event, RFC 1661 §4.3).
	ErrRejected = errors.New("ppp: peer rejected a required code or protocol")
	// ErrNotConverging means the option negotiation cannot reach agreement, e.g. the peer
	// refuses every authentication protocol we require, or keeps sending Configure-Naks.
	ErrNotConverging = errors.New("ppp: option negotiation does not converge")
	// ErrLoopback means the link looks looped back: our own Magic-Number keeps coming back
	// (RFC 1661 §6.4).
	ErrLoopback = errors.New("ppp: link appears to be looped back")
)

// fatal reports whether a negotiator error ends the negotiation (the automaton closes the
// layer) rather than invalidating one packet (which is silently discarded).
func fatal(err error) bool {
	return errors.Is(err, ErrNotConverging) || errors.Is(err, ErrLoopback)
}

// FSMConfig holds the restart timer and counters of RFC 1661 §4.6 and the implementation
// options of §4.1. The zero value means the RFC defaults.
type FSMConfig struct {
	// RestartTimer is the Restart timer period; zero means 3 seconds.
	RestartTimer time.Duration
	// MaxTerminate is the number of Terminate-Requests sent without a Terminate-Ack before
	// the peer is assumed gone; zero means 2.
	MaxTerminate int
	// MaxConfigure is the number of Configure-Requests sent without a valid reply before
	// the peer is assumed silent; zero means 10.
	MaxConfigure int
	// MaxFailure is the number of Configure-Naks sent without a Configure-Ack before Naks
	// turn into Configure-Rejects; zero means 5. The same bound makes the negotiators treat
	// Configure-Naks received past it as Configure-Rejects, and twice it plus MaxConfigure
	// Naks and Rejects received in one negotiation end it with ErrNotConverging.
	MaxFailure int
	// Passive selects the RFC 1661 §4.2 passive option ([p] in §4.1): after the Restart
	// counter expires while negotiating, wait in Stopped for the peer without signalling
	// This-Layer-Finished. Meant for dedicated circuits; keep it off for switched ones.
	Passive bool
	// RestartOnOpen selects the RFC 1661 §4.3 restart option ([r] in §4.1): an Open in
	// Stopped, Closing, Stopping or Opened is followed by Down and Up, renegotiating.
	RestartOnOpen bool
}

// Defaults of RFC 1661 §4.6.
const (
	DefaultRestartTimer = 3 * time.Second
	DefaultMaxTerminate = 2
	DefaultMaxConfigure = 10
	DefaultMaxFailure   = 5
)

// Validate reports a negative counter or timer.
func (c FSMConfig) Validate() error {
	switch {
	case c.RestartTimer < 0:
		return fmt.Errorf("ppp: restart timer %v: must not be negative", c.RestartTimer)
	case c.MaxTerminate < 0:
		return fmt.Errorf("ppp: max-terminate %d: must not be negative", c.MaxTerminate)
	case c.MaxConfigure < 0:
		return fmt.Errorf("ppp: max-configure %d: must not be negative", c.MaxConfigure)
	case c.MaxFailure < 0:
		return fmt.Errorf("ppp: max-failure %d: must not be negative", c.MaxFailure)
	}
	return nil
}

func (c FSMConfig) withDefaults() FSMConfig {
	if c.RestartTimer <= 0 {
		c.RestartTimer = DefaultRestartTimer
	}
	if c.MaxTerminate <= 0 {
		c.MaxTerminate = DefaultMaxTerminate
	}
	if c.MaxConfigure <= 0 {
		c.MaxConfigure = DefaultMaxConfigure
	}
	if c.MaxFailure <= 0 {
		c.MaxFailure = DefaultMaxFailure
	}
	return c
}

// event is an event of RFC 1661 §4.3.
type event uint8

const (
	evUp       event = iota // lower layer is Up
	evDown                  // lower layer is Down
	evOpen                  // administrative Open
	evClose                 // administrative Close
	evTOPlus                // Timeout with counter > 0
	evTOMinus               // Timeout with counter expired
	evRCRPlus               // Receive-Configure-Request (Good)
	evRCRMinus              // Receive-Configure-Request (Bad)
	evRCA                   // Receive-Configure-Ack
	evRCN                   // Receive-Configure-Nak/Rej
	evRTR                   // Receive-Terminate-Request
	evRTA                   // Receive-Terminate-Ack
	evRUC                   // Receive-Unknown-Code
	evRXJPlus               // Receive-Code-Reject (permitted) or Receive-Protocol-Reject
	evRXJMinus              // Receive-Code-Reject (catastrophic) or Receive-Protocol-Reject
	evRXR                   // Receive-Echo-Request, Receive-Echo-Reply or Receive-Discard-Request
	numEvents
)

var eventNames = [numEvents]string{
	"Up", "Down", "Open", "Close", "TO+", "TO-", "RCR+", "RCR-", "RCA", "RCN",
	"RTR", "RTA", "RUC", "RXJ+", "RXJ-", "RXR",
}

func (e event) String() string {
	if e < numEvents {
		return eventNames[e]
	}
	return fmt.Sprintf("event(%d)", uint8(e))
}

// action is an action of RFC 1661 §4.4.
type action uint8

const (
	actTLU action = iota + 1 // This-Layer-Up
	actTLD                   // This-Layer-Down
	actTLS                   // This-Layer-Started
	actTLF                   // This-Layer-Finished
	actIRC                   // Initialize-Restart-Count
	actZRC                   // Zero-Restart-Count
	actSCR                   // Send-Configure-Request
	actSCA                   // Send-Configure-Ack
	actSCN                   // Send-Configure-Nak/Rej
	actSTR                   // Send-Terminate-Request
	actSTA                   // Send-Terminate-Ack
	actSCJ                   // Send-Code-Reject
	actSER                   // Send-Echo-Reply
)

var actionNames = [...]string{
	actTLU: "tlu", actTLD: "tld", actTLS: "tls", actTLF: "tlf", actIRC: "irc", actZRC: "zrc",
	actSCR: "scr", actSCA: "sca", actSCN: "scn", actSTR: "str", actSTA: "sta", actSCJ: "scj",
	actSER: "ser",
}

func (a action) String() string {
	if int(a) < len(actionNames) && actionNames[a] != "" {
		return actionNames[a]
	}
	return fmt.Sprintf("action(%d)", uint8(a))
}

// cell is one entry of the RFC 1661 §4.1 table: the actions, in the order the RFC lists
// them, and the next state. The zero cell is the RFC's "-" (illegal event, ignored).
type cell struct {
	legal bool
	next  State
	note  byte // the RFC's footnote: 'p' passive, 'r' restart, 'x' crossed connection
	n     uint8
	acts  [4]action
}

func to(next State, acts ...action) cell {
	c := cell{legal: true, next: next, n: uint8(len(acts))}
	copy(c.acts[:], acts)
	return c
}

func (c cell) with(note byte) cell { c.note = note; return c }

func (c cell) has(a action) bool {
	for _, x := range c.acts[:c.n] {
		if x == a {
			return true
		}
	}
	return false
}

// Shorthands for the table below.
const (
	s0 = StateInitial
	s1 = StateStarting
	s2 = StateClosed
	s3 = StateStopped
	s4 = StateClosing
	s5 = StateStopping
	s6 = StateReqSent
	s7 = StateAckRcvd
	s8 = StateAckSent
	s9 = StateOpened
)

var bad cell // "-"

// transitions is RFC 1661 §4.1 cell by cell: transitions[event][state], in the RFC's two
// halves: states 0 to 5 (Initial, Starting, Closed, Stopped, Closing, Stopping), then 6 to
// 9 (Req-Sent, Ack-Rcvd, Ack-Sent, Opened). to(next, actions...) is the RFC's
// "actions/next", bad its "-", with(note) its footnote letter.
var transitions = [numEvents][numStates]cell{
	evUp: {
		/* 0-5 */ to(s2), to(s6, actIRC, actSCR), bad, bad, bad, bad,
		/* 6-9 */ bad, bad, bad, bad,
	},
	evDown: {
		/* 0-5 */ bad, bad, to(s0), to(s1, actTLS), to(s0), to(s1),
		/* 6-9 */ to(s1), to(s1), to(s1), to(s1, actTLD),
	},
	evOpen: {
		/* 0-5 */ to(s1, actTLS), to(s1), to(s6, actIRC, actSCR), to(s3).with('r'), to(s5).with('r'), to(s5).with('r'),
		/* 6-9 */ to(s6), to(s7), to(s8), to(s9).with('r'),
	},
	evClose: {
		/* 0-5 */ to(s0), to(s0, actTLF), to(s2), to(s2), to(s4), to(s4),
		/* 6-9 */ to(s4, actIRC, actSTR), to(s4, actIRC, actSTR), to(s4, actIRC, actSTR), to(s4, actTLD, actIRC, actSTR),
	},
	evTOPlus: {
		/* 0-5 */ bad, bad, bad, bad, to(s4, actSTR), to(s5, actSTR),
		/* 6-9 */ to(s6, actSCR), to(s6, actSCR), to(s8, actSCR), bad,
	},
	evTOMinus: {
		/* 0-5 */ bad, bad, bad, bad, to(s2, actTLF), to(s3, actTLF),
		/* 6-9 */ to(s3, actTLF).with('p'), to(s3, actTLF).with('p'), to(s3, actTLF).with('p'), bad,
	},
	evRCRPlus: {
		/* 0-5 */ bad, bad, to(s2, actSTA), to(s8, actIRC, actSCR, actSCA), to(s4), to(s5),
		/* 6-9 */ to(s8, actSCA), to(s9, actSCA, actTLU), to(s8, actSCA), to(s8, actTLD, actSCR, actSCA),
	},
	evRCRMinus: {
		/* 0-5 */ bad, bad, to(s2, actSTA), to(s6, actIRC, actSCR, actSCN), to(s4), to(s5),
		/* 6-9 */ to(s6, actSCN), to(s7, actSCN), to(s6, actSCN), to(s6, actTLD, actSCR, actSCN),
	},
	evRCA: {
		/* 0-5 */ bad, bad, to(s2, actSTA), to(s3, actSTA), to(s4), to(s5),
		/* 6-9 */ to(s7, actIRC), to(s6, actSCR).with('x'), to(s9, actIRC, actTLU), to(s6, actTLD, actSCR).with('x'),
	},
	evRCN: {
		/* 0-5 */ bad, bad, to(s2, actSTA), to(s3, actSTA), to(s4), to(s5),
		/* 6-9 */ to(s6, actIRC, actSCR), to(s6, actSCR).with('x'), to(s8, actIRC, actSCR), to(s6, actTLD, actSCR).with('x'),
	},
	evRTR: {
		/* 0-5 */ bad, bad, to(s2, actSTA), to(s3, actSTA), to(s4, actSTA), to(s5, actSTA),
		/* 6-9 */ to(s6, actSTA), to(s6, actSTA), to(s6, actSTA), to(s5, actTLD, actZRC, actSTA),
	},
	evRTA: {
		/* 0-5 */ bad, bad, to(s2), to(s3), to(s2, actTLF), to(s3, actTLF),
		/* 6-9 */ to(s6), to(s6), to(s8), to(s6, actTLD, actSCR),
	},
	evRUC: {
		/* 0-5 */ bad, bad, to(s2, actSCJ), to(s3, actSCJ), to(s4, actSCJ), to(s5, actSCJ),
		/* 6-9 */ to(s6, actSCJ), to(s7, actSCJ), to(s8, actSCJ), to(s9, actSCJ),
	},
	evRXJPlus: {
		/* 0-5 */ bad, bad, to(s2), to(s3), to(s4), to(s5),
		/* 6-9 */ to(s6), to(s6), to(s8), to(s9),
	},
	evRXJMinus: {
		/* 0-5 */ bad, bad, to(s2, actTLF), to(s3, actTLF), to(s2, actTLF), to(s3, actTLF),
		/* 6-9 */ to(s3, actTLF), to(s3, actTLF), to(s3, actTLF), to(s5, actTLD, actIRC, actSTR),
	},
	evRXR: {
		/* 0-5 */ bad, bad, to(s2), to(s3), to(s4), to(s5),
		/* 6-9 */ to(s6), to(s7), to(s8), to(s9, actSER),
	},
}

// fsmOwner is what the automaton calls out to. The session actor implements it once for
// all of its protocols; p tells which automaton is calling. The automaton is pure: it
// never sleeps, reads a clock or does I/O, and only calls these methods from within one of
// its own methods (Up, Down, Open, Close, Timeout, Input, ProtocolRejected), on the caller's
// goroutine.
//
// An owner may call back into the same automaton from these methods (e.g. Close from
// thisLayerUp): the call is queued and runs once the current event is complete.
type fsmOwner interface {
	// send transmits a control packet of protocol p: Code, Identifier and Data (the owner
	// adds the Length and the PPP protocol field, e.g. AppendFrame(AppendControl(...))).
	// data is only valid during the call.
	send(p Protocol, code Code, id uint8, data []byte)
	// startTimer (re)arms p's Restart timer to fire once after d, replacing any pending
	// expiry; when it fires the owner calls Timeout. stopTimer disarms it. The automaton
	// ignores a Timeout while it believes the timer stopped, but cannot tell the expiry of
	// an earlier arming from the current one: the owner must drop expiries of a timer it
	// has since re-armed (a time.Timer's Reset and Stop do this since Go 1.23).
	startTimer(p Protocol, d time.Duration)
	stopTimer(p Protocol)
	// thisLayerUp (tlu) signals that p reached Opened: LCP up starts authentication, an
	// NCP up configures the unit. The negotiator's result is final at this point.
	thisLayerUp(p Protocol)
	// thisLayerDown (tld) signals that p leaves Opened: LCP down takes the NCPs down, an
	// NCP down deconfigures the unit.
	thisLayerDown(p Protocol)
	// thisLayerStarted (tls) asks for the lower layer to come up (LCP: the carrier; an
	// NCP: LCP must reach the network phase). The owner answers with Up when it is.
	thisLayerStarted(p Protocol)
	// thisLayerFinished (tlf) says the lower layer is no longer needed (LCP: the carrier
	// can hang up). Err tells why when the automaton or the peer decided it.
	thisLayerFinished(p Protocol)
	// received hands over a packet the automaton has accepted and that matters to the
	// owner beyond the state table: for LCP an Echo-Request or Echo-Reply in Opened (for
	// keepalive and loopback checks; the Echo-Reply to a request has already been sent),
	// an Identification or a Time-Remaining (RFC 1570), a Protocol-Reject in Opened of a
	// protocol other than LCP (the owner then calls ProtocolRejected on that protocol's
	// automaton), and for every protocol a Code-Reject that caused RXJ+ (e.g. the peer
	// does not do Echo). data is only valid during the call.
	received(p Protocol, code Code, id uint8, data []byte)
}

// codeKind tells the automaton how a protocol treats a code above Code-Reject.
type codeKind uint8

const (
	codeUnknown        codeKind = iota // RUC: answer with Code-Reject
	codeRXR                            // RXR: Echo-Request/Reply, Discard-Request, Identification, Time-Remaining
	codeProtocolReject                 // LCP Protocol-Reject: RXJ+ or RXJ- depending on the protocol
)

// negotiator is the protocol-specific half of an automaton (LCP, IPCP, IPv6CP). All
// methods are called from within the automaton's methods; option slices alias packets and
// are only valid during the call.
type negotiator interface {
	// protocol returns the PPP protocol this negotiator runs.
	protocol() Protocol
	// reset starts a new negotiation: forget what the last one agreed, choose fresh
	// values for our request (e.g. a new Magic-Number). Called before the first
	// Configure-Request of a negotiation and before judging a Configure-Request received
	// in Stopped or Opened.
	reset()
	// appendRequest appends the options of our next Configure-Request to dst, reflecting
	// every Nak and Reject applied since reset.
	appendRequest(dst []byte) []byte
	// judgeRequest decides on the options of a received Configure-Request and appends the
	// reply's options to dst: CodeConfigureAck (RCR+; the reply is the options unchanged),
	// CodeConfigureNak (RCR-; only the unacceptable options, with values we would accept,
	// plus options we want the peer to request) or CodeConfigureReject (RCR-; only the
	// unrecognised or unacceptable options, unmodified, in their order). When rejectNaks
	// is set (Max-Failure reached, RFC 1661 §4.6) it must not answer Nak: options it would
	// Nak are rejected instead. The values of an Acked request become the peer's side of
	// the result. An error wrapping ErrNotConverging or ErrLoopback ends the negotiation;
	// any other error (a malformed option list) discards the packet.
	judgeRequest(dst, opts []byte, rejectNaks bool) (Code, []byte, error)
	// gotAck records that the peer acknowledged our last request; opts is byte for byte
	// that request (the automaton checked it, RFC 1661 §5.2).
	gotAck(opts []byte)
	// gotNak applies a Configure-Nak to our next request. With treatAsReject set (too many
	// Naks received) it stops requesting the Nak'd options instead of adopting the values.
	// Errors as for judgeRequest.
	gotNak(opts []byte, treatAsReject bool) error
	// gotReject stops requesting the rejected options; the automaton checked that they
	// are a subsequence of our last request (RFC 1661 §5.4). Errors as for judgeRequest.
	gotReject(opts []byte) error
	// classify tells how a code above Code-Reject is handled.
	classify(code Code) codeKind
	// appendEchoReply appends the data of the Echo-Reply to an Echo-Request whose data is
	// req (the ser action), or reports false to send nothing (malformed request, or our
	// own Magic-Number: loopback).
	appendEchoReply(dst, req []byte) ([]byte, bool)
}

// fsmItem is a queued call into the automaton.
type fsmItem struct {
	kind   uint8
	ev     event
	code   Code
	id     uint8
	data   []byte
	reason string
}

const (
	itemEvent uint8 = iota
	itemClose
	itemTimeout
	itemInput
	itemRejected
	itemProxy
)

// fsm is the RFC 1661 §4 option negotiation automaton, shared by LCP, IPCP and IPv6CP.
// It is not safe for concurrent use: one session actor owns it.
type fsm struct {
	cfg   FSMConfig
	neg   negotiator
	owner fsmOwner
	proto Protocol

	state    State
	restart  int  // the Restart counter
	timer    bool // the Restart timer is armed, as far as this automaton asked
	failures int  // Configure-Naks sent since the last Configure-Ack (Max-Failure)
	replies  int  // Configure-Naks and -Rejects received in this negotiation
	err      error
	peerMRU  int // truncation limit for packets carrying peer data (Code-Reject)

	nextID   uint8
	reqID    uint8
	reqSent  bool // lastReq holds a request sent in this negotiation
	reqSeen  bool // a valid reply to reqID has been processed
	lastReq  []byte
	termData []byte

	// The packet being processed and the reply judged for it.
	rxCode    Code
	rxID      uint8
	rxData    []byte
	replyCode Code
	reply     []byte
	fresh     bool // reset already called while handling the current item

	busy  bool
	queue []fsmItem

	reqBuf, replyBuf, outBuf []byte
	done                     [4]action

	// trace, when set, is called after every event with the transition taken (legal
	// false for the table's "-"). Tests use it; the engine may log with it.
	trace func(from State, ev event, to State, acts []action, legal bool)
}

// newFSM returns an automaton in the Initial state.
func newFSM(cfg FSMConfig, neg negotiator, owner fsmOwner) *fsm {
	return &fsm{
		cfg:     cfg.withDefaults(),
		neg:     neg,
		owner:   owner,
		proto:   neg.protocol(),
		peerMRU: defaultMRU,
	}
}

// State returns the current state.
func (f *fsm) State() State { return f.state }

// Err returns why the automaton last left the negotiation or Opened state on its own or
// the peer's initiative: ErrNoResponse, ErrPeerTerminated, ErrRejected, or a negotiator's
// ErrNotConverging or ErrLoopback. It is nil after an administrative Close and is cleared
// when a new negotiation starts. Read it in thisLayerFinished or thisLayerDown.
func (f *fsm) Err() error { return f.err }

// setPeerMRU sets the largest packet the peer accepts (its negotiated MRU), to which the
// automaton truncates Code-Rejects (RFC 1661 §5.6) and Terminate-Request data.
func (f *fsm) setPeerMRU(n int) {
	if n < minMRU {
		n = minMRU
	}
	f.peerMRU = n
}

// Up signals that the lower layer is ready to carry packets.
func (f *fsm) Up() { f.post(fsmItem{kind: itemEvent, ev: evUp}) }

// Down signals that the lower layer is no longer available.
func (f *fsm) Down() { f.post(fsmItem{kind: itemEvent, ev: evDown}) }

// Open administratively allows the link to open.
func (f *fsm) Open() { f.post(fsmItem{kind: itemEvent, ev: evOpen}) }

// Close administratively closes the link; reason travels in the Terminate-Request's data.
func (f *fsm) Close(reason string) { f.post(fsmItem{kind: itemClose, reason: reason}) }

// Timeout signals the expiry of the Restart timer (TO+ or TO- by the Restart counter).
func (f *fsm) Timeout() { f.post(fsmItem{kind: itemTimeout}) }

// ProtocolRejected signals that the peer sent a Protocol-Reject for this automaton's
// protocol (the RXJ- event; LCP's Protocol-Reject handling calls the owner, who routes it
// here).
func (f *fsm) ProtocolRejected() { f.post(fsmItem{kind: itemRejected}) }

// openByProxy moves an automaton still in Initial straight to Opened, as if Open and Up
// had happened and a negotiation succeeded: for LCP when an L2TP LAC negotiated on our
// behalf (RFC 2661 §4.4.5, LCPConfig.ProxyLCP; install the result with lcp.applyProxy
// first). It calls thisLayerUp. In any other state it does nothing.
func (f *fsm) openByProxy() { f.post(fsmItem{kind: itemProxy}) }

// Input processes a received control packet of this protocol: its Code, Identifier and
// Data (after ParseControl). Packets the state does not allow are silently discarded.
func (f *fsm) Input(code Code, id uint8, data []byte) {
	f.post(fsmItem{kind: itemInput, code: code, id: id, data: data})
}

// post runs it now, or queues it when called from one of the owner's callbacks.
func (f *fsm) post(it fsmItem) {
	if f.busy {
		if it.data != nil {
			it.data = bytes.Clone(it.data)
		}
		f.queue = append(f.queue, it)
		return
	}
	f.busy = true
	f.handle(it)
	for i := 0; i < len(f.queue); i++ {
		f.handle(f.queue[i])
	}
	clear(f.queue)
	f.queue = f.queue[:0]
	f.busy = false
}

func (f *fsm) handle(it fsmItem) {
	defer func() { f.fresh = false }()
	switch it.kind {
	case itemEvent:
		f.dispatch(it.ev)
	case itemClose:
		f.setTermData(it.reason)
		f.dispatch(evClose)
	case itemTimeout:
		if !f.timer {
			return // stale: the timer was stopped
		}
		f.timer = false
		if f.restart > 0 {
			f.dispatch(evTOPlus)
			return
		}
		if f.state.negotiating() {
			f.err = ErrNoResponse
		}
		f.dispatch(evTOMinus)
	case itemRejected:
		if f.state.negotiating() || f.state == StateOpened {
			f.err = fmt.Errorf("%w: Protocol-Reject of %v", ErrRejected, f.proto)
		}
		f.dispatch(evRXJMinus)
	case itemInput:
		f.input(it.code, it.id, it.data)
	case itemProxy:
		if f.state != StateInitial {
			return
		}
		f.state = StateOpened
		f.owner.thisLayerUp(f.proto)
	}
}

func (f *fsm) setTermData(reason string) {
	if limit := max(0, f.peerMRU-ControlHeaderLen); len(reason) > limit {
		reason = reason[:limit]
	}
	f.termData = append(f.termData[:0], reason...)
}

// input turns a received packet into an event (RFC 1661 §4.3 and §5).
func (f *fsm) input(code Code, id uint8, data []byte) {
	if f.state == StateInitial || f.state == StateStarting {
		return // lower layer not up: the table's "-"
	}
	f.rxCode, f.rxID, f.rxData = code, id, data
	defer func() { f.rxData = nil }()

	switch code {
	case CodeConfigureRequest:
		switch f.state {
		case StateClosed, StateClosing, StateStopping:
			// RCR+ and RCR- are the same cell here: no judgement needed.
			f.dispatch(evRCRPlus)
			return
		case StateStopped, StateOpened:
			f.beginNegotiation()
		}
		rc, reply, err := f.neg.judgeRequest(f.replyBuf[:0], data, f.failures >= f.cfg.MaxFailure)
		if err != nil {
			if fatal(err) {
				f.fail(err)
			}
			return
		}
		f.replyBuf = reply[:0]
		f.replyCode, f.reply = rc, reply
		switch rc {
		case CodeConfigureAck:
			f.dispatch(evRCRPlus)
		case CodeConfigureNak, CodeConfigureReject:
			f.dispatch(evRCRMinus)
		}

	case CodeConfigureAck, CodeConfigureNak, CodeConfigureReject:
		if !f.state.negotiating() && f.state != StateOpened {
			// Closed, Stopped: answer with Terminate-Ack; Closing, Stopping: ignore.
			if code == CodeConfigureAck {
				f.dispatch(evRCA)
			} else {
				f.dispatch(evRCN)
			}
			return
		}
		// RFC 1661 §5.2–5.4: a reply whose Identifier does not match our last request is
		// invalid and silently discarded. So is a second reply to the same request
		// ("out of sequence"), which keeps a delayed duplicate from resetting the link.
		if !f.reqSent || id != f.reqID || f.reqSeen {
			return
		}
		switch code {
		case CodeConfigureAck:
			if !bytes.Equal(data, f.lastReq) {
				return // §5.2: the options MUST exactly match the request
			}
			f.reqSeen = true
			f.neg.gotAck(data)
			f.dispatch(evRCA)
			return
		case CodeConfigureNak:
			if len(data) == 0 || CheckOptions(data) != nil {
				return
			}
			f.replies++
			f.reqSeen = true
			if err := f.neg.gotNak(data, f.replies > f.cfg.MaxFailure); err != nil {
				if fatal(err) {
					f.fail(err)
				}
				return
			}
		case CodeConfigureReject:
			if len(data) == 0 || !isSubsequence(data, f.lastReq) {
				return // §5.4: rejected options must appear, unmodified, in the request
			}
			f.replies++
			f.reqSeen = true
			if err := f.neg.gotReject(data); err != nil {
				if fatal(err) {
					f.fail(err)
				}
				return
			}
		}
		if f.replies > 2*f.cfg.MaxFailure+f.cfg.MaxConfigure {
			f.fail(fmt.Errorf("%w: %d Configure-Naks and -Rejects received", ErrNotConverging, f.replies))
			return
		}
		f.dispatch(evRCN)

	case CodeTerminateRequest:
		if f.state == StateOpened || f.state.negotiating() {
			f.err = fmt.Errorf("%w: %q", ErrPeerTerminated, data)
		}
		f.dispatch(evRTR)

	case CodeTerminateAck:
		f.dispatch(evRTA)

	case CodeCodeReject:
		if len(data) < 1 {
			return
		}
		rejected := Code(data[0])
		if rejected >= CodeConfigureRequest && rejected <= CodeCodeReject {
			// A code without which the automaton cannot work: RFC 1661 §5.6.
			if f.state != StateClosed && f.state != StateStopped {
				f.err = fmt.Errorf("%w: Code-Reject of code %d", ErrRejected, rejected)
			}
			f.dispatch(evRXJMinus)
			return
		}
		f.dispatch(evRXJPlus)
		f.owner.received(f.proto, code, id, data)

	default:
		switch f.neg.classify(code) {
		case codeRXR:
			f.dispatch(evRXR)
			switch code {
			case CodeEchoRequest, CodeEchoReply:
				// RFC 1661 §5.8: only meaningful in Opened.
				if f.state == StateOpened {
					f.owner.received(f.proto, code, id, data)
				}
			case CodeIdentification, CodeTimeRemaining:
				f.owner.received(f.proto, code, id, data) // RFC 1570 §1: any state
			}
		case codeProtocolReject:
			// RFC 1661 §5.7: silently discarded outside Opened.
			if f.state != StateOpened {
				return
			}
			p, _, err := ParseProtocolReject(data)
			if err != nil {
				return
			}
			if p == f.proto {
				f.err = fmt.Errorf("%w: Protocol-Reject of %v", ErrRejected, p)
				f.dispatch(evRXJMinus)
				return
			}
			f.dispatch(evRXJPlus)
			f.owner.received(f.proto, code, id, data)
		default:
			f.dispatch(evRUC)
		}
	}
}

// fail ends the negotiation on a negotiator's verdict: the Close event, with the reason in
// the Terminate-Request.
func (f *fsm) fail(err error) {
	f.err = err
	f.setTermData(err.Error())
	f.dispatch(evClose)
}

// beginNegotiation starts a negotiation afresh (once per handled item).
func (f *fsm) beginNegotiation() {
	if f.fresh {
		return
	}
	f.fresh = true
	f.neg.reset()
	f.failures = 0
	f.replies = 0
	f.reqSent = false
	f.reqSeen = false
	f.err = nil
}

// dispatch applies one event: the table's actions, in the RFC's order, then the new state.
// The state is updated before the actions run, so the owner's callbacks see it.
func (f *fsm) dispatch(ev event) {
	from := f.state
	c := transitions[ev][from]
	if !c.legal {
		if f.trace != nil {
			f.trace(from, ev, from, nil, false)
		}
		return
	}
	f.state = c.next
	done := f.done[:0]
	for _, a := range c.acts[:c.n] {
		if a == actTLF && c.note == 'p' && f.cfg.Passive {
			continue // RFC 1661 §4.2 Stopped, passive option
		}
		f.act(a, from, c)
		done = append(done, a)
	}
	if !f.state.timed() && f.timer {
		f.timer = false
		f.owner.stopTimer(f.proto)
	}
	if f.trace != nil {
		f.trace(from, ev, c.next, done, true)
	}
	if c.note == 'r' && ev == evOpen && f.cfg.RestartOnOpen {
		// RFC 1661 §4.3 Open: "the implementation issue a Down event, immediately followed
		// by an Up event".
		f.dispatch(evDown)
		f.dispatch(evUp)
	}
}

func (f *fsm) act(a action, from State, c cell) {
	switch a {
	case actTLU:
		f.owner.thisLayerUp(f.proto)
	case actTLD:
		f.owner.thisLayerDown(f.proto)
	case actTLS:
		f.owner.thisLayerStarted(f.proto)
	case actTLF:
		f.owner.thisLayerFinished(f.proto)
	case actIRC:
		// RFC 1661 §4.4: Max-Terminate before a Terminate-Request, else Max-Configure.
		if c.has(actSTR) {
			f.restart = f.cfg.MaxTerminate
		} else {
			f.restart = f.cfg.MaxConfigure
		}
	case actZRC:
		f.restart = 0
		f.startTimer()
	case actSCR:
		f.scr(from)
	case actSCA:
		f.failures = 0
		f.owner.send(f.proto, CodeConfigureAck, f.rxID, f.reply)
	case actSCN:
		if f.replyCode == CodeConfigureNak {
			f.failures++
		}
		f.owner.send(f.proto, f.replyCode, f.rxID, f.reply)
	case actSTR:
		f.restart--
		f.owner.send(f.proto, CodeTerminateRequest, f.newID(), f.termData)
		f.startTimer()
	case actSTA:
		f.owner.send(f.proto, CodeTerminateAck, f.rxID, nil)
	case actSCJ:
		// RFC 1661 §5.6: the rejected packet from its Code field on, truncated to the
		// peer's MRU.
		pkt := AppendControl(f.outBuf[:0], f.rxCode, f.rxID, f.rxData)
		if limit := max(0, f.peerMRU-ControlHeaderLen); len(pkt) > limit {
			pkt = pkt[:limit]
		}
		f.outBuf = pkt[:0]
		f.owner.send(f.proto, CodeCodeReject, f.newID(), pkt)
	case actSER:
		if f.rxCode != CodeEchoRequest {
			return // Echo-Reply, Discard-Request, Identification, Time-Remaining: no reply
		}
		if reply, ok := f.neg.appendEchoReply(f.outBuf[:0], f.rxData); ok {
			f.outBuf = reply[:0]
			f.owner.send(f.proto, CodeEchoReply, f.rxID, reply)
		}
	}
}

// scr sends a Configure-Request. The Identifier changes when the options change or when
// the previous request was answered; a retransmission keeps it (RFC 1661 §5.1).
func (f *fsm) scr(from State) {
	if !from.negotiating() {
		f.beginNegotiation()
	}
	opts := f.neg.appendRequest(f.reqBuf[:0])
	f.reqBuf = opts[:0]
	if !f.reqSent || f.reqSeen || !bytes.Equal(opts, f.lastReq) {
		f.reqID = f.newID()
		f.reqSeen = false
		f.lastReq = append(f.lastReq[:0], opts...)
	}
	f.reqSent = true
	f.restart--
	f.owner.send(f.proto, CodeConfigureRequest, f.reqID, f.lastReq)
	f.startTimer()
}

func (f *fsm) startTimer() {
	f.timer = true
	f.owner.startTimer(f.proto, f.cfg.RestartTimer)
}

func (f *fsm) newID() uint8 {
	f.nextID++
	return f.nextID
}

// sendNew sends a packet of this protocol with a fresh Identifier and returns it: for the
// packets the engine originates (LCP Echo-Request, Discard-Request, Identification,
// Time-Remaining, Protocol-Reject).
func (f *fsm) sendNew(code Code, data []byte) uint8 {
	id := f.newID()
	f.owner.send(f.proto, code, id, data)
	return id
}

// isSubsequence reports whether the options of sub appear, byte for byte and in order,
// among the options of list.
func isSubsequence(sub, list []byte) bool {
	s, l := NewOptionDecoder(sub), NewOptionDecoder(list)
	for s.Next() {
		found := false
		for l.Next() {
			if bytes.Equal(s.Raw(), l.Raw()) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return s.Err() == nil
}
