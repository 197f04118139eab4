package l2tp

import "fmt"

// The control connection state machine of RFC 2661 §7.2.1 (and RFC 3931 §7.2, which is
// the same machine), in pure code: typed states, typed events and the actions each
// transition asks for. The tunnel actor (tunnel.go) decides whether a received message is
// "acceptable" (authentication, limits, AVP checks) and feeds the matching event; it
// carries out the actions.
//
// Two states extend the RFC's four: closing, in which a StopCCN has been sent or received
// and the reliable transport keeps acknowledging for a full retransmission cycle (RFC 2661
// §5.7), and closed, the end of the actor. The RFC's "clean up → idle" is "clean up →
// closing" (or closed when no StopCCN is involved): an actor never returns to idle, a new
// control connection is a new actor.

// tunnelState is the state of a control connection.
type tunnelState uint8

// Control connection states.
const (
	tunnelIdle         tunnelState = iota // nothing sent or received yet
	tunnelWaitCtlReply                    // initiator: SCCRQ sent, waiting for SCCRP
	tunnelWaitCtlConn                     // responder: SCCRP sent, waiting for SCCCN
	tunnelEstablished                     // SCCCN sent (initiator) or received (responder)
	tunnelClosing                         // StopCCN sent or received; draining (RFC 2661 §5.7)
	tunnelClosed                          // finished
)

var tunnelStateNames = [...]string{"idle", "wait-ctl-reply", "wait-ctl-conn", "established", "closing", "closed"}

// String returns the RFC name of the state.
func (s tunnelState) String() string {
	if int(s) < len(tunnelStateNames) {
		return tunnelStateNames[s]
	}
	return fmt.Sprintf("tunnelState(%d)", uint8(s))
}

// tunnelEvent is an input of the control connection state machine.
type tunnelEvent uint8

// Control connection events. "Bad" variants are received messages that are not
// acceptable: failed authentication, a refused peer, a missing AVP.
const (
	tevOpen           tunnelEvent = iota + 1 // local open request (initiator)
	tevRxSCCRQ                               // acceptable SCCRQ
	tevRxSCCRQBad                            // SCCRQ not acceptable
	tevRxSCCRQTieLost                        // the peer's SCCRQ won the tie breaker (RFC 2661 §4.4.3)
	tevRxSCCRP                               // acceptable SCCRP
	tevRxSCCRPBad                            // SCCRP not acceptable
	tevRxSCCCN                               // acceptable SCCCN
	tevRxSCCCNBad                            // SCCCN not acceptable
	tevRxStopCCN                             // StopCCN received
	tevClose                                 // local close: administrative, shutdown, timeout, protocol error
	tevPeerDead                              // the transport gave up on the peer (RFC 2661 §5.8)
	tevDrained                               // the closing transport held its state long enough
)

var tunnelEventNames = [...]string{"", "open", "rx-sccrq", "rx-sccrq-bad", "rx-sccrq-tie-lost", "rx-sccrp",
	"rx-sccrp-bad", "rx-scccn", "rx-scccn-bad", "rx-stopccn", "close", "peer-dead", "drained"}

// String names the event.
func (e tunnelEvent) String() string {
	if int(e) < len(tunnelEventNames) && e != 0 {
		return tunnelEventNames[e]
	}
	return fmt.Sprintf("tunnelEvent(%d)", uint8(e))
}

// tunnelAction is something a transition asks the actor to do, in the order given.
type tunnelAction uint8

// Control connection actions.
const (
	tactSendSCCRQ   tunnelAction = iota + 1
	tactSendSCCRP                // with the Challenge Response if challenged (RFC 2661 §5.1.1)
	tactSendSCCCN                // likewise
	tactSendStopCCN              // then stop the transport: it drains and lingers (RFC 2661 §5.7)
	tactUp                       // "tunnel-open": establish the data plane, start the waiting sessions
	tactCleanup                  // clear every session of the tunnel (without CDN: RFC 2661 §5.7)
	tactDrain                    // stop the transport after a received StopCCN
)

var tunnelActionNames = [...]string{"", "send-sccrq", "send-sccrp", "send-scccn", "send-stopccn", "up", "cleanup", "drain"}

// String names the action.
func (a tunnelAction) String() string {
	if int(a) < len(tunnelActionNames) && a != 0 {
		return tunnelActionNames[a]
	}
	return fmt.Sprintf("tunnelAction(%d)", uint8(a))
}

// Common action lists (never modified).
var (
	tactsStop    = []tunnelAction{tactSendStopCCN, tactCleanup}
	tactsCleanup = []tunnelAction{tactCleanup}
)

// on returns the state after event ev in state s and the actions to carry out. An event
// that the RFC table does not name for s is a protocol (FSM) error when it is a received
// control connection message (StopCCN, RFC 2661 §7.2.1 "established" row), and otherwise
// changes nothing.
func (s tunnelState) on(ev tunnelEvent) (tunnelState, []tunnelAction) {
	switch s {
	case tunnelClosed:
		return s, nil
	case tunnelClosing:
		switch ev {
		case tevDrained, tevPeerDead:
			return tunnelClosed, nil
		}
		return s, nil // everything else (a crossing StopCCN included) is only acknowledged
	}
	// Rows shared by idle, wait-ctl-reply, wait-ctl-conn and established.
	switch ev {
	case tevRxStopCCN:
		return tunnelClosing, []tunnelAction{tactCleanup, tactDrain}
	case tevClose:
		if s == tunnelIdle {
			return tunnelClosed, tactsCleanup // nothing was sent: nobody to tell
		}
		return tunnelClosing, tactsStop
	case tevPeerDead:
		return tunnelClosed, tactsCleanup
	case tevDrained, tevOpen:
		if s == tunnelIdle && ev == tevOpen {
			return tunnelWaitCtlReply, []tunnelAction{tactSendSCCRQ}
		}
		return s, nil
	}
	switch s {
	case tunnelIdle:
		switch ev {
		case tevRxSCCRQ:
			return tunnelWaitCtlConn, []tunnelAction{tactSendSCCRP}
		case tevRxSCCRQBad, tevRxSCCRQTieLost, tevRxSCCRP, tevRxSCCRPBad:
			return tunnelClosing, tactsStop
		case tevRxSCCCN, tevRxSCCCNBad:
			return tunnelClosed, tactsCleanup
		}
	case tunnelWaitCtlReply:
		switch ev {
		case tevRxSCCRP:
			return tunnelEstablished, []tunnelAction{tactSendSCCCN, tactUp}
		case tevRxSCCRQTieLost:
			return tunnelClosed, tactsCleanup // the loser discards its tunnel silently (RFC 2661 §4.4.3)
		}
		return tunnelClosing, tactsStop // SCCRP not acceptable, SCCCN, an SCCRQ that is no tie
	case tunnelWaitCtlConn:
		if ev == tevRxSCCCN {
			return tunnelEstablished, []tunnelAction{tactUp}
		}
		return tunnelClosing, tactsStop // SCCCN not acceptable, SCCRQ, SCCRP
	case tunnelEstablished:
		return tunnelClosing, tactsStop // SCCRQ, SCCRP, SCCCN
	}
	return s, nil
}
