package l2tp

import "fmt"

// The call (session) state machines of RFC 2661 §7.4.1 (LAC incoming), §7.4.2 (LNS
// incoming), §7.5.1 (LAC outgoing) and §7.5.2 (LNS outgoing), which RFC 3931 §7.3 and §7.4
// keep for L2TPv3 under the names ICRQ/OCRQ sender and recipient. Pure code: the tunnel
// actor (session.go) decides whether a message is acceptable and carries out the actions.
// The RFC's "clean up → idle" is "clean up → closed": a new call is a new session.

// callRole is which of the four machines a session runs.
type callRole uint8

// Call roles.
const (
	roleICRQSender    callRole = iota // LAC, incoming call (RFC 2661 §7.4.1)
	roleICRQRecipient                 // LNS, incoming call (§7.4.2)
	roleOCRQRecipient                 // LAC, outgoing call (§7.5.1)
	roleOCRQSender                    // LNS, outgoing call (§7.5.2)
)

var callRoleNames = [...]string{"lac-incoming", "lns-incoming", "lac-outgoing", "lns-outgoing"}

// String names the role as ProL2TP shows it.
func (r callRole) String() string {
	if int(r) < len(callRoleNames) {
		return callRoleNames[r]
	}
	return fmt.Sprintf("callRole(%d)", uint8(r))
}

// sessionState is a call state.
type sessionState uint8

// Call states.
const (
	sessIdle         sessionState = iota
	sessWaitTunnel                // ICRQ/OCRQ sender: waiting for the tunnel to come up
	sessWaitReply                 // ICRQ/OCRQ sent
	sessWaitConnect               // ICRP sent (LNS incoming), or OCRP received (LNS outgoing)
	sessWaitCSAnswer              // LAC outgoing: OCRP sent, answering the call
	sessEstablished
	sessClosed
)

var sessionStateNames = [...]string{"idle", "wait-tunnel", "wait-reply", "wait-connect", "wait-cs-answer", "established", "closed"}

// String returns the RFC name of the state.
func (s sessionState) String() string {
	if int(s) < len(sessionStateNames) {
		return sessionStateNames[s]
	}
	return fmt.Sprintf("sessionState(%d)", uint8(s))
}

// sessionEvent is an input of a call state machine.
type sessionEvent uint8

// Call events. "Bad" variants are received messages that are not acceptable.
const (
	sevOpen       sessionEvent = iota + 1 // local open request
	sevTunnelUp                           // the tunnel is established ("tunnel-open")
	sevRxICRQ                             //
	sevRxICRQBad                          //
	sevRxICRP                             //
	sevRxICRPBad                          //
	sevRxICCN                             //
	sevRxICCNBad                          //
	sevRxOCRQ                             //
	sevRxOCRQBad                          //
	sevRxOCRP                             //
	sevRxOCRPBad                          //
	sevRxOCCN                             //
	sevRxOCCNBad                          //
	sevRxCDN                              //
	sevAnswer                             // LAC outgoing: the local end of the call is ready
	sevAnswerFail                         // LAC outgoing: the call cannot be completed
	sevClose                              // local close request (administrative, PPP ended, timeout, ...)
)

var sessionEventNames = [...]string{"", "open", "tunnel-up", "rx-icrq", "rx-icrq-bad", "rx-icrp", "rx-icrp-bad",
	"rx-iccn", "rx-iccn-bad", "rx-ocrq", "rx-ocrq-bad", "rx-ocrp", "rx-ocrp-bad", "rx-occn", "rx-occn-bad",
	"rx-cdn", "answer", "answer-fail", "close"}

// String names the event.
func (e sessionEvent) String() string {
	if int(e) < len(sessionEventNames) && e != 0 {
		return sessionEventNames[e]
	}
	return fmt.Sprintf("sessionEvent(%d)", uint8(e))
}

// received reports whether e is the receipt of a session message.
func (e sessionEvent) received() bool { return e >= sevRxICRQ && e <= sevRxCDN }

// sessionAction is something a call transition asks the actor to do, in order.
type sessionAction uint8

// Call actions.
const (
	sactSendICRQ sessionAction = iota + 1
	sactSendICRP
	sactSendICCN
	sactSendOCRQ
	sactSendOCRP
	sactSendOCCN
	sactSendCDN
	sactAnswer  // LAC outgoing: set up the local end, then feed sevAnswer or sevAnswerFail
	sactConnect // set up the data plane and hand the session over (PPP, Ethernet)
	sactCleanup // tear the session down
)

var sessionActionNames = [...]string{"", "send-icrq", "send-icrp", "send-iccn", "send-ocrq", "send-ocrp",
	"send-occn", "send-cdn", "answer", "connect", "cleanup"}

// String names the action.
func (a sessionAction) String() string {
	if int(a) < len(sessionActionNames) && a != 0 {
		return sessionActionNames[a]
	}
	return fmt.Sprintf("sessionAction(%d)", uint8(a))
}

var (
	sactsCDN     = []sessionAction{sactSendCDN, sactCleanup}
	sactsCleanup = []sessionAction{sactCleanup}
)

// sessionFSM is the state of one call: its role and state.
type sessionFSM struct {
	role  callRole
	state sessionState
}

// on returns the state after ev and the actions to carry out (the receiver is not
// changed). Rows common to every role: a CDN cleans up (RFC 2661 §7.4.1 "idle, wait-reply,
// established: Receive CDN → Clean up"); a local close sends a CDN once the peer knows the
// call, and only cleans up before that; a received session message that the table does
// not name for the state is answered with a CDN (the RFC's "Receive ICRQ, ICRP, ICCN →
// Send CDN, Clean up" rows).
func (f sessionFSM) on(ev sessionEvent) (sessionState, []sessionAction) {
	s := f.state
	if s == sessClosed {
		return s, nil
	}
	switch ev {
	case sevRxCDN:
		return sessClosed, sactsCleanup
	case sevClose:
		if s == sessIdle || s == sessWaitTunnel {
			return sessClosed, sactsCleanup
		}
		return sessClosed, sactsCDN
	}
	next, acts, ok := f.row(ev)
	if ok {
		return next, acts
	}
	if ev.received() {
		return sessClosed, sactsCDN
	}
	return s, nil // sevTunnelUp or sevAnswer where they mean nothing
}

// row is the role-specific part of the tables.
func (f sessionFSM) row(ev sessionEvent) (sessionState, []sessionAction, bool) {
	s := f.state
	switch f.role {
	case roleICRQSender: // RFC 2661 §7.4.1, RFC 3931 §7.3.1
		switch {
		case s == sessIdle && ev == sevOpen:
			return sessWaitTunnel, nil, true
		case s == sessWaitTunnel && ev == sevTunnelUp:
			return sessWaitReply, []sessionAction{sactSendICRQ}, true
		case s == sessWaitReply && ev == sevRxICRP:
			return sessEstablished, []sessionAction{sactSendICCN, sactConnect}, true
		}
	case roleICRQRecipient: // RFC 2661 §7.4.2, RFC 3931 §7.3.2
		switch {
		case s == sessIdle && ev == sevRxICRQ:
			return sessWaitConnect, []sessionAction{sactSendICRP}, true
		case s == sessIdle && ev == sevRxICCN, s == sessIdle && ev == sevRxICCNBad:
			return sessClosed, sactsCleanup, true
		case s == sessWaitConnect && ev == sevRxICCN:
			return sessEstablished, []sessionAction{sactConnect}, true
		}
	case roleOCRQRecipient: // RFC 2661 §7.5.1, RFC 3931 §7.4.2
		switch {
		case s == sessIdle && ev == sevRxOCRQ:
			return sessWaitCSAnswer, []sessionAction{sactSendOCRP, sactAnswer}, true
		case s == sessIdle && ev == sevRxOCCN, s == sessIdle && ev == sevRxOCCNBad:
			return sessClosed, sactsCleanup, true
		case s == sessWaitCSAnswer && ev == sevAnswer:
			return sessEstablished, []sessionAction{sactSendOCCN, sactConnect}, true
		case s == sessWaitCSAnswer && ev == sevAnswerFail:
			return sessClosed, sactsCDN, true
		}
	case roleOCRQSender: // RFC 2661 §7.5.2, RFC 3931 §7.4.1
		switch {
		case s == sessIdle && ev == sevOpen:
			return sessWaitTunnel, nil, true
		case s == sessIdle && (ev == sevRxOCCN || ev == sevRxOCRP):
			return sessClosed, sactsCleanup, true
		case s == sessWaitTunnel && ev == sevTunnelUp:
			return sessWaitReply, []sessionAction{sactSendOCRQ}, true
		case s == sessWaitReply && ev == sevRxOCRP:
			return sessWaitConnect, nil, true
		case s == sessWaitConnect && ev == sevRxOCCN:
			return sessEstablished, []sessionAction{sactConnect}, true
		}
	}
	return s, nil, false
}
