package pppoe

import (
	"fmt"
	"time"

	"github.com/probox/probox/ppp"
)

// EndCause classifies why a PPPoE session ended; its String is the result label of
// probox_pppoe_sessions_total and the Message of the session-deleted event's Result.
type EndCause uint8

// End causes.
const (
	EndNone      EndCause = iota // not ended
	EndPeerPADT                  // the peer sent a PADT (the host at the AC, the AC at a client)
	EndPPP                       // the PPP session ended (locally terminated, or the AC's LCP/authentication phase)
	EndLNS                       // the LNS or the tunnel ended the LAC call
	EndAdmin                     // disconnected by the operator
	EndShutdown                  // the engine stopped
	EndInterface                 // the access interface was removed or reconfigured
	EndNoRoute                   // the username's realm matches no pppoe.route
	EndLACFailed                 // no LNS took the call (refused, unreachable, timed out)
	EndError                     // a local error (data plane, PPP engine)
	numEndCauses
)

var endCauseNames = [numEndCauses]string{
	"none", "peer_padt", "ppp_ended", "lns_ended", "admin", "shutdown", "interface_removed",
	"no_route", "lac_failed", "error",
}

// String returns the cause's label.
func (c EndCause) String() string {
	if c < numEndCauses {
		return endCauseNames[c]
	}
	return fmt.Sprintf("cause-%d", uint8(c))
}

// MarshalText encodes c by its label.
func (c EndCause) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// SessionState is where a PPPoE session at the AC stands.
type SessionState uint8

// Session states.
const (
	// StateNegotiating: PPP runs (local termination), or the AC negotiates LCP and takes
	// the authentication before carrying the session to an LNS.
	StateNegotiating SessionState = iota
	// StateCalling: the AC is placing the LAC call.
	StateCalling
	// StateUp: the session is bridged into an L2TP session (LAC), or its local PPP is
	// running.
	StateUp
	// StateTerminating: the session is being torn down.
	StateTerminating
	numStates
)

var stateNames = [numStates]string{"negotiating", "calling", "up", "terminating"}

// String returns the state's name.
func (s SessionState) String() string {
	if s < numStates {
		return stateNames[s]
	}
	return fmt.Sprintf("state-%d", uint8(s))
}

// SessionInfo is a snapshot of a PPPoE session at the AC, for the management API.
type SessionInfo struct {
	SessionID uint16 `json:"session_id"`
	Interface string `json:"interface"`
	// VLANs is "" untagged, "100" single-tagged, "10.100" QinQ (outer.inner).
	VLANs string `json:"vlans,omitempty"`
	MAC   string `json:"mac"`
	// Service is the Service-Name the host asked for ("" for any); ServiceConfig the
	// [pppoe.service] block that serves it ("" when none is configured).
	Service       string `json:"service"`
	ServiceConfig string `json:"service_config,omitempty"`
	// Route is the service's route: local, lac or realm.
	Route string `json:"route"`
	State string `json:"state"`
	User  string `json:"user,omitempty"`
	// Tunnel is the configured L2TP tunnel carrying a LAC session, RealmRoute the
	// [pppoe.route] that chose it (realm services), and L2TPTunnelID / L2TPSessionID our
	// IDs of the call.
	Tunnel        string `json:"tunnel,omitempty"`
	RealmRoute    string `json:"realm_route,omitempty"`
	L2TPTunnelID  uint32 `json:"l2tp_tunnel_id,omitempty"`
	L2TPSessionID uint32 `json:"l2tp_session_id,omitempty"`
	CircuitID     string `json:"circuit_id,omitempty"`
	RemoteID      string `json:"remote_id,omitempty"`
	// MTU is the session channel's MTU (the PPP MRU limit).
	MTU     int       `json:"mtu"`
	Created time.Time `json:"created"`
	// Up is when a LAC session was bridged; for local sessions see PPP.Up.
	Up time.Time `json:"up,omitzero"`
	// PPP is the local PPP session (local termination), when it is running.
	PPP *ppp.SessionInfo `json:"ppp,omitempty"`
}

// InterfaceInfo describes an access interface.
type InterfaceInfo struct {
	Name  string   `json:"name"`
	VLANs []int    `json:"vlans,omitempty"`
	QinQ  []string `json:"qinq,omitempty"`
	// Untagged is whether untagged frames are served: with no VLANs and no QinQ, or
	// when the configuration asks for them too.
	Untagged    bool   `json:"untagged"`
	MAC         string `json:"mac"`
	MTU         int    `json:"mtu"`
	Sessions    int    `json:"sessions"`
	MaxSessions int    `json:"max_sessions,omitempty"`
	// State is "up", or "draining" for an interface removed from the configuration whose
	// sessions are ending.
	State string `json:"state"`
}

// ServiceInfo describes a configured service.
type ServiceInfo struct {
	Name          string `json:"name"`
	Route         string `json:"route"`
	PPPProfile    string `json:"ppp_profile"`
	Tunnel        string `json:"tunnel,omitempty"`
	Backup        string `json:"backup_tunnel,omitempty"`
	LocalFallback bool   `json:"local_fallback,omitempty"`
}

// RouteInfo describes a realm route.
type RouteInfo struct {
	Name   string `json:"name"`
	Realm  string `json:"realm"`
	Tunnel string `json:"tunnel"`
	Backup string `json:"backup_tunnel,omitempty"`
}

// ClientInfo describes one of our PPPoE clients ([pppoe.client]).
type ClientInfo struct {
	Name      string `json:"name"`
	Interface string `json:"interface"`
	MAC       string `json:"mac"`
	// State is the discovery state (idle, discovering, requesting, established, ...) or
	// "waiting" between attempts.
	State     string `json:"state"`
	SessionID uint16 `json:"session_id,omitempty"`
	AC        string `json:"ac,omitempty"`
	ACName    string `json:"ac_name,omitempty"`
	// PPP is the PPP instance ("session-N") while the session is up.
	PPP string `json:"ppp,omitempty"`
	// Attempts counts discovery attempts since the last session whose network came up.
	Attempts int `json:"attempts"`
}

// Stats are the engine's counters, for "proac_info statistics".
type Stats struct {
	// Sessions counts the live sessions at the AC (our clients' are in Clients).
	Sessions int `json:"sessions"`
	// ByRoute counts the live sessions by where their PPP goes (local, lac, pending,
	// client).
	ByRoute map[string]int `json:"by_route"`
	// Discovery counts discovery packets by direction (rx, tx) and code.
	Discovery map[string]map[string]uint64 `json:"discovery"`
	// Drops counts discovery packets not served, by reason.
	Drops map[string]uint64 `json:"drops"`
	// Ended counts ended sessions by cause.
	Ended map[string]uint64 `json:"ended"`
	// LACFailures counts failures to carry sessions to an LNS, by reason.
	LACFailures map[string]uint64 `json:"lac_failures"`
	Clients     []ClientInfo      `json:"clients,omitempty"`
}

// Selector picks sessions for Session and Disconnect: by session ID (with Interface when
// the same ID is live on several interfaces), or every session of a host MAC address.
type Selector struct {
	SessionID uint16 `json:"session_id,omitempty"`
	Interface string `json:"interface,omitempty"`
	MAC       string `json:"mac,omitempty"`
}

// Disconnected reports one session that Disconnect ended.
type Disconnected struct {
	SessionID uint16 `json:"session_id"`
	Interface string `json:"interface"`
	MAC       string `json:"mac"`
	// Ended is false when the session was still terminating when Disconnect stopped
	// waiting.
	Ended bool `json:"ended"`
}
