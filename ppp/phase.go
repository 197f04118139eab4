package ppp

import "fmt"

// Phase is a phase of a PPP link (RFC 1661 §3.2), with Running added for a link whose
// network layer is up.
type Phase uint8

// Phases of a session, in the order a successful session goes through them.
const (
	PhaseDead         Phase = iota // no link (before the start and after the end)
	PhaseEstablish                 // LCP negotiating (RFC 1661 §3.3)
	PhaseAuthenticate              // authentication (RFC 1661 §3.5)
	PhaseNetwork                   // NCPs negotiating (RFC 1661 §3.6)
	PhaseRunning                   // at least one NCP opened: the network layer is up
	PhaseTerminate                 // LCP terminating the link (RFC 1661 §3.7)
	numPhases
)

var phaseNames = [numPhases]string{"dead", "establish", "authenticate", "network", "running", "terminate"}

// String returns the phase's name as events and metrics spell it.
func (p Phase) String() string {
	if p < numPhases {
		return phaseNames[p]
	}
	return fmt.Sprintf("phase-%d", uint8(p))
}

// Role is what a session does on its link.
type Role uint8

// Roles.
const (
	// RoleServer is the authenticator side (LNS, PPPoE access concentrator): it
	// authenticates the peer and gives it addresses.
	RoleServer Role = iota
	// RoleClient authenticates with the profile's credentials, accepts the addresses and
	// DNS servers the server gives, and optionally routes the default route through the
	// link (L2TP client, PPPoE client).
	RoleClient
	// RoleLACProxy is an L2TP LAC in front of a PPPoE subscriber: it negotiates LCP and
	// takes the peer's authentication (the PAP request or the CHAP response to its
	// challenge) without verifying it, hands both over through Handle.Proxy for the L2TP
	// proxy AVPs (RFC 2661 §4.4.5), and stops without terminating the link, which the LNS
	// then takes over.
	RoleLACProxy
	numRoles
)

var roleNames = [numRoles]string{"server", "client", "lac-proxy"}

func (r Role) String() string {
	if r < numRoles {
		return roleNames[r]
	}
	return fmt.Sprintf("role-%d", uint8(r))
}

// Carrier is what carries a session's frames. It decides the framing options LCP accepts
// (see LCPConfig).
type Carrier uint8

// Carriers.
const (
	CarrierL2TP Carrier = iota
	CarrierPPPoE
	numCarriers
)

func (c Carrier) String() string {
	switch c {
	case CarrierL2TP:
		return "l2tp"
	case CarrierPPPoE:
		return "pppoe"
	}
	return fmt.Sprintf("carrier-%d", uint8(c))
}

// EndCause classifies why a session ended; it is the result label of the
// probox_ppp_sessions_total metric.
type EndCause uint8

// Causes of a session's end.
const (
	CauseNone           EndCause = iota // the session has not ended
	CauseAdmin                          // Handle.Stop (API, carrier engine)
	CauseShutdown                       // the engine stopped
	CausePeerTerminated                 // the peer sent an LCP Terminate-Request
	CauseCarrierLost                    // the channel closed under the session
	CauseNoResponse                     // the peer never answered LCP (Max-Configure)
	CauseEchoTimeout                    // the peer stopped answering LCP Echo-Requests
	CauseLoopback                       // the link is looped back (Magic-Number)
	CauseNegotiation                    // LCP options did not converge, or a required protocol was rejected
	CauseAuthFailed                     // authentication refused (either direction)
	CauseAuthTimeout                    // authentication did not finish in time
	CausePoolExhausted                  // no address left in the pool
	CauseAddress                        // no usable address (static address in use, unknown pool)
	CauseNoNetwork                      // every NCP failed or closed
	CauseSessionTimeout                 // the backend's session timeout expired
	CauseProxyDone                      // RoleLACProxy: proxy data handed over
	CauseError                          // a local error (data plane)
	numCauses
)

var causeNames = [numCauses]string{
	"none", "admin", "shutdown", "peer_terminated", "carrier_lost", "no_response",
	"echo_timeout", "loopback", "negotiation_failed", "auth_failed", "auth_timeout",
	"pool_exhausted", "address", "no_network", "session_timeout", "proxy_done", "error",
}

func (c EndCause) String() string {
	if c < numCauses {
		return causeNames[c]
	}
	return fmt.Sprintf("cause-%d", uint8(c))
}

// MarshalText encodes c by name.
func (c EndCause) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText decodes a name written by MarshalText.
func (c *EndCause) UnmarshalText(b []byte) error {
	for i, n := range causeNames {
		if n == string(b) {
			*c = EndCause(i)
			return nil
		}
	}
	return fmt.Errorf("ppp: unknown end cause %q", b)
}
