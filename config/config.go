package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Config is the whole configuration of a probox box: one TOML file merged over the embedded
// defaults. Field tags name the TOML key (`toml`) and document it (`doc`); the configuration
// reference in README.md is generated from them (see Reference), so it cannot drift.
//
// Named blocks (profiles, tunnels, pools, ...) are TOML tables keyed by name, for example
// `[tunnel_profile.lns]`. Every profile kind has a built-in profile named "default"; a named
// profile starts from the "default" profile of its kind and only says what differs.
type Config struct {
	System           System                     `toml:"system" doc:"Box-wide settings."`
	Log              Log                        `toml:"log" doc:"Logging."`
	Kernel           Kernel                     `toml:"kernel" doc:"Data plane selection."`
	Control          Control                    `toml:"control" doc:"HTTP status/metrics endpoint and the management socket."`
	Hooks            Hooks                      `toml:"hooks" doc:"User hook scripts run on tunnel and session events."`
	PeerProfiles     map[string]PeerProfile     `toml:"peer_profile" doc:"Peer profiles: match an incoming L2TP peer and name the profiles its tunnels and sessions use."`
	TunnelProfiles   map[string]TunnelProfile   `toml:"tunnel_profile" doc:"L2TP tunnel parameter sets."`
	SessionProfiles  map[string]SessionProfile  `toml:"session_profile" doc:"L2TP session parameter sets."`
	PPPProfiles      map[string]PPPProfile      `toml:"ppp_profile" doc:"PPP parameter sets."`
	EthernetProfiles map[string]EthernetProfile `toml:"ethernet_profile" doc:"L2TPv3 Ethernet pseudowire interface parameter sets."`
	Tunnels          map[string]Tunnel          `toml:"tunnel" doc:"Tunnels that probox brings up itself (LAC, L2TP client, static L2TPv3)."`
	IPPools          map[string]IPPool          `toml:"ippool" doc:"IPv4 address pools for PPP peers."`
	PPPoE            PPPoE                      `toml:"pppoe" doc:"PPPoE access concentrator and clients."`
	RADIUS           RADIUS                     `toml:"radius" doc:"RADIUS authentication and accounting."`
}

// System holds box-wide settings.
type System struct {
	HostName                string        `toml:"host_name" doc:"Host name sent to L2TP peers; empty means the machine's host name."`
	RouterID                string        `toml:"router_id" doc:"L2TPv3 router ID (an IPv4 address); empty means derived from the first global IPv4 address."`
	L2TPListen              []string      `toml:"l2tp_listen" doc:"UDP addresses (host:port) where L2TP peers may open tunnels; empty list: accept none."`
	L2TPIPListen            []string      `toml:"l2tp_ip_listen" doc:"IP addresses where L2TPv3 peers may open control connections over IP (protocol 115, RFC 3931 §4.1.1); 0.0.0.0 or :: accepts on every address; empty list: accept none."`
	MaxTunnels              int           `toml:"max_tunnels" doc:"Most tunnels at once; 0 means no limit."`
	MaxSessions             int           `toml:"max_sessions" doc:"Most sessions (all kinds) at once; 0 means no limit."`
	DenyRemoteTunnelCreates bool          `toml:"deny_remote_tunnel_creates" doc:"Refuse tunnels that peers open (act only as a client/LAC)."`
	TunnelEstablishTimeout  time.Duration `toml:"tunnel_establish_timeout" doc:"Give up on a tunnel that is not established in this time."`
	SessionEstablishTimeout time.Duration `toml:"session_establish_timeout" doc:"Give up on a session that is not established in this time."`
	SecretsFile             string        `toml:"secrets_file" doc:"Local PPP secrets file (user, secret, optional address); must not be world-readable."`
	RuntimeDir              string        `toml:"runtime_dir" doc:"Directory for the lock file and runtime state."`
}

// Log configures logging. Where logs go (syslog, stderr, a file) is chosen by the daemon
// flags -f and -o; the level by -d or by this section.
type Log struct {
	Level    LogLevel  `toml:"level" doc:"Minimum level: debug, info, warn or error (each -d flag lowers it)."`
	Format   LogFormat `toml:"format" doc:"Line format: text or json."`
	Facility string    `toml:"facility" doc:"Syslog facility: daemon, local0 ... local7."`
}

// Kernel selects the data plane.
type Kernel struct {
	Dataplane      DataplaneMode `toml:"dataplane" doc:"auto (kernel when it has L2TP/PPP/PPPoE, else userspace), kernel or userspace."`
	SharedUnit     string        `toml:"shared_unit" doc:"Name of the shared network interface that carries all server-side PPP sessions (userspace data plane). The route to each session carries the session's MTU, so larger packets get an ICMP fragmentation-needed or packet-too-big, or are fragmented, as on a pppN interface of that MTU."`
	CleanupStale   bool          `toml:"cleanup_stale" doc:"At start, remove tunnels, sessions and interfaces that a crashed probox left behind."`
	InterfaceGroup int           `toml:"interface_group" doc:"Interface group number that marks probox's own interfaces, for cleanup."`
}

// Control configures the operator surfaces.
type Control struct {
	HTTPListen string `toml:"http_listen" doc:"Address (host:port) of the HTTP server for /metrics, /status and /healthz; empty disables it."`
	Socket     string `toml:"socket" doc:"Path of the management API unix socket (mode 0600) used by the CLIs and watch tools."`
}

// Hooks configures user hook scripts.
type Hooks struct {
	Dir           string        `toml:"dir" doc:"Directory holding executables named tunnel-created, tunnel-up, tunnel-down, tunnel-deleted, session-created, session-up, session-down, session-deleted."`
	Timeout       time.Duration `toml:"timeout" doc:"Kill a hook script that runs longer than this."`
	MaxConcurrent int           `toml:"max_concurrent" doc:"Most hook scripts running at once (scripts of one tunnel or session always run one at a time)."`
}

// PeerProfile matches incoming L2TP peers and names the profiles their tunnels and sessions use.
type PeerProfile struct {
	Match           []netip.Prefix `toml:"match" doc:"Peer addresses this profile applies to (CIDR prefixes); the longest match wins."`
	HostName        string         `toml:"host_name" doc:"Match the peer by the Host Name it sends instead of (or as well as) its address."`
	Role            PeerRole       `toml:"role" doc:"What the peer may do: lac (open tunnels to us), lns (accept ours) or any."`
	TunnelProfile   string         `toml:"tunnel_profile" doc:"Tunnel profile for tunnels with this peer."`
	SessionProfile  string         `toml:"session_profile" doc:"Session profile for sessions with this peer."`
	PPPProfile      string         `toml:"ppp_profile" doc:"PPP profile for PPP sessions with this peer."`
	EthernetProfile string         `toml:"ethernet_profile" doc:"Ethernet profile for Ethernet pseudowires with this peer."`
}

// TunnelProfile is a named set of L2TP tunnel parameters.
type TunnelProfile struct {
	Version       int           `toml:"version" doc:"L2TP version: 2 (RFC 2661) or 3 (RFC 3931)."`
	Encap         Encap         `toml:"encap" doc:"Encapsulation: udp, or ip (L2TPv3 only, IP protocol 115)."`
	PeerPort      int           `toml:"peer_port" doc:"Peer UDP port."`
	HostName      string        `toml:"host_name" doc:"Host Name AVP we send; empty means system.host_name."`
	Secret        string        `toml:"secret" doc:"Shared secret for tunnel authentication and hidden AVPs; empty: no tunnel authentication."`
	HideAVPs      bool          `toml:"hide_avps" doc:"Hide sensitive AVPs (RFC 2661 §4.3); needs a secret."`
	Digest        Digest        `toml:"digest" doc:"L2TPv3 control message authentication (RFC 3931 §5.4): none, md5 or sha1; needs a secret."`
	HelloInterval time.Duration `toml:"hello_interval" doc:"Send HELLO after this long without control traffic; 0 disables."`
	RetryTimeout  time.Duration `toml:"retry_timeout" doc:"First control message retransmission timeout; it doubles on each retry up to max_retry_timeout."`
	MaxRetryTime  time.Duration `toml:"max_retry_timeout" doc:"Cap of the retransmission timeout."`
	MaxRetries    int           `toml:"max_retries" doc:"Retransmissions before the peer is declared unreachable and the tunnel torn down."`
	RxWindowSize  int           `toml:"rx_window_size" doc:"Receive Window Size we advertise (control messages the peer may have outstanding)."`
	IdleTimeout   time.Duration `toml:"idle_timeout" doc:"Close a tunnel that has had no session for this long; 0 keeps it open."`
	MaxSessions   int           `toml:"max_sessions" doc:"Most sessions in one tunnel; 0 means no limit."`
	TieBreaker    bool          `toml:"tie_breaker" doc:"Send a Tie Breaker AVP in the SCCRQ, so that when both ends open a tunnel to each other at once only one survives (RFC 2661 §4.4.3, RFC 3931 §5.4.3)."`
	MTU           int           `toml:"mtu" doc:"Path MTU towards the peer, used to bound PPP MRU and pseudowire MTU."`
	UDPChecksums  bool          `toml:"udp_checksums" doc:"Compute UDP checksums on data packets."`
}

// SessionProfile is a named set of L2TP session parameters.
type SessionProfile struct {
	PWType          PWType `toml:"pw_type" doc:"Pseudowire type: ppp or ethernet (L2TPv3 only)."`
	SequenceNumbers bool   `toml:"sequence_numbers" doc:"Send data sequence numbers."`
	RequireSequence bool   `toml:"require_sequence" doc:"Ask the peer to send data sequence numbers (Sequencing Required / Data Sequencing AVP)."`
	CookieLength    int    `toml:"cookie_length" doc:"L2TPv3 cookie length we assign: 0, 4 or 8 bytes."`
	L2SpecSublayer  L2Spec `toml:"l2spec" doc:"L2TPv3 L2-Specific Sublayer: none or default (RFC 3931 §4.6)."`
	PPPProfile      string `toml:"ppp_profile" doc:"PPP profile for PPP pseudowires of this session profile."`
	EthernetProfile string `toml:"ethernet_profile" doc:"Ethernet profile for Ethernet pseudowires of this session profile."`
}

// PPPProfile is a named set of PPP parameters.
type PPPProfile struct {
	MRU                 int           `toml:"mru" doc:"Maximum Receive Unit we ask for (bounded by the carrier: L2TP path MTU, PPPoE 1492 or PPP-Max-Payload)."`
	Auth                []AuthMethod  `toml:"auth" doc:"Authenticator role: methods to offer, in order of preference (pap, chap-md5, mschapv2); empty: no authentication."`
	AuthBackend         AuthBackend   `toml:"auth_backend" doc:"Where secrets come from: local (system.secrets_file) or radius."`
	LCPEchoInterval     time.Duration `toml:"lcp_echo_interval" doc:"Send an LCP Echo-Request after this long; 0 disables keepalives."`
	LCPEchoFailure      int           `toml:"lcp_echo_failure" doc:"Unanswered Echo-Requests before the link is declared dead."`
	ChapInterval        time.Duration `toml:"chap_interval" doc:"Re-challenge a CHAP peer this often; 0 disables."`
	ProxyLCP            ProxyLCP      `toml:"proxy_lcp" doc:"LNS with proxy LCP from the LAC: accept it, or renegotiate LCP."`
	IPPool              string        `toml:"ip_pool" doc:"Pool that peer IPv4 addresses come from."`
	LocalAddress        string        `toml:"local_address" doc:"Our IPv4 address on PPP links (server role); empty means the router ID."`
	DNS                 []netip.Addr  `toml:"dns" doc:"DNS servers offered to peers (IPCP, RFC 1877), at most two."`
	NBNS                []netip.Addr  `toml:"nbns" doc:"NetBIOS name servers offered to peers, at most two."`
	IPv6                bool          `toml:"ipv6" doc:"Negotiate IPv6CP as well as IPCP."`
	Unit                UnitMode      `toml:"unit" doc:"Network interface per session (dedicated) or one shared interface for all server sessions (shared)."`
	InterfaceName       string        `toml:"interface_name" doc:"Name template of dedicated interfaces; %d is replaced by a number."`
	Username            string        `toml:"username" doc:"Client role: the name we authenticate with."`
	Password            string        `toml:"password" doc:"Client role: the password we authenticate with."`
	DefaultRoute        bool          `toml:"default_route" doc:"Client role: add a default route through the PPP interface."`
	MaxAuthFailures     int           `toml:"max_auth_failures" doc:"Authenticator role: failed attempts before the link is closed."`
	AuthTimeout         time.Duration `toml:"auth_timeout" doc:"Time allowed for the authentication phase."`
	MaxConfigureRequest int           `toml:"max_configure" doc:"Configure-Requests sent without answer before giving up (RFC 1661 Max-Configure)."`
	RestartTimer        time.Duration `toml:"restart_timer" doc:"RFC 1661 restart timer."`
}

// EthernetProfile is a named set of parameters of L2TPv3 Ethernet pseudowire interfaces.
type EthernetProfile struct {
	InterfaceName string `toml:"interface_name" doc:"Name template of the pseudowire interface; %d is replaced by a number."`
	MTU           int    `toml:"mtu" doc:"Interface MTU; 0 derives it from the tunnel's path MTU."`
	Bridge        string `toml:"bridge" doc:"Attach the interface to this existing bridge."`
}

// Tunnel is a tunnel that probox brings up itself.
type Tunnel struct {
	Peer          string             `toml:"peer" doc:"Peer address (host or host:port)."`
	Local         string             `toml:"local" doc:"Local address (host or host:port); empty picks one by route."`
	TunnelProfile string             `toml:"tunnel_profile" doc:"Tunnel profile."`
	Static        bool               `toml:"static" doc:"L2TPv3 without a control connection: tunnel_id and peer_tunnel_id are given here."`
	TunnelID      uint32             `toml:"tunnel_id" doc:"Static tunnels: our tunnel (control connection) ID."`
	PeerTunnelID  uint32             `toml:"peer_tunnel_id" doc:"Static tunnels: the peer's tunnel ID."`
	Persist       bool               `toml:"persist" doc:"Re-establish the tunnel when it goes down."`
	Sessions      map[string]Session `toml:"session" doc:"Sessions in this tunnel."`
}

// Session is a session that probox brings up itself inside a configured tunnel.
type Session struct {
	SessionProfile string `toml:"session_profile" doc:"Session profile."`
	PPPProfile     string `toml:"ppp_profile" doc:"PPP profile (overrides the session profile's)."`
	SessionID      uint32 `toml:"session_id" doc:"Static sessions: our session ID."`
	PeerSessionID  uint32 `toml:"peer_session_id" doc:"Static sessions: the peer's session ID."`
	Cookie         string `toml:"cookie" doc:"Static L2TPv3 sessions: our cookie, hex (0, 4 or 8 bytes)."`
	PeerCookie     string `toml:"peer_cookie" doc:"Static L2TPv3 sessions: the peer's cookie, hex."`
	InterfaceName  string `toml:"interface_name" doc:"Name of the session's interface."`
}

// IPPool is a named IPv4 address pool.
type IPPool struct {
	Ranges []string `toml:"ranges" doc:"Addresses: CIDR prefixes (10.0.0.0/24) or ranges (10.0.0.10-10.0.0.99)."`
}

// PPPoE configures the PPPoE access concentrator and clients.
type PPPoE struct {
	ACName            string                 `toml:"ac_name" doc:"AC-Name tag we send; empty means system.host_name."`
	Interfaces        map[string]PPPoEIface  `toml:"interface" doc:"Access interfaces to serve, keyed by interface name."`
	Services          map[string]PPPoEServ   `toml:"service" doc:"Service names offered, keyed by name; the name \"any\" answers requests for any service."`
	Routes            map[string]PPPoERoute  `toml:"route" doc:"Sessions routed to an L2TP tunnel (LAC) by username realm."`
	Clients           map[string]PPPoEClient `toml:"client" doc:"PPPoE client sessions probox brings up itself."`
	MaxSessions       int                    `toml:"max_sessions" doc:"Most PPPoE sessions in total; 0 means no limit."`
	MaxSessionsPerMAC int                    `toml:"max_sessions_per_mac" doc:"Most sessions per client MAC address; 0 means no limit."`
	PADIRate          int                    `toml:"padi_rate" doc:"PADIs accepted per second per client MAC address; 0 means no limit."`
	CookiePeriod      time.Duration          `toml:"cookie_period" doc:"Lifetime unit of the AC-Cookies sent in PADOs: a PADR is accepted with a cookie between one and two periods old."`
	LCPDelay          time.Duration          `toml:"lcp_delay" doc:"The AC's PPP holds its first LCP Configure-Request until the host's first frame arrives (proof that the host has opened its session) or this long after the PADS; a request that reached the host earlier would be dropped and only repeated after the 3-second restart timer. Only hosts that wait silently for the AC's request see the whole delay. 0 sends at once."`
	LACTimeout        time.Duration          `toml:"lac_timeout" doc:"Time allowed to place a session's call on one L2TP tunnel (LAC) before the backup tunnel is tried or the session refused."`
}

// PPPoEIface is one access interface.
type PPPoEIface struct {
	VLANs       []int    `toml:"vlans" doc:"802.1Q VLAN IDs to serve on this interface, single-tagged. With vlans and qinq both empty, untagged frames are served."`
	QinQ        []string `toml:"qinq" doc:"Double-tagged VLANs to serve: \"S.C\" or \"S.FIRST-LAST\", an IEEE 802.1ad service tag S (TPID 0x88a8) with one 802.1Q customer tag C or a range of them, such as [\"10.100\", \"20.1-4094\"]. The kernel data plane binds QinQ sessions to the subinterfaces IF.sS (802.1ad) and IF.sS.C (802.1Q) it creates."`
	Untagged    bool     `toml:"untagged" doc:"Serve untagged frames too when vlans or qinq are set (with neither, untagged frames are all that is served)."`
	MaxSessions int      `toml:"max_sessions" doc:"Most sessions on this interface; 0 means no limit."`
}

// QinQRange is one entry of PPPoEIface.QinQ: service tag Outer with customer tags
// InnerFirst to InnerLast.
type QinQRange struct{ Outer, InnerFirst, InnerLast int }

// ParseQinQ parses a pppoe.interface.NAME.qinq entry, "S.C" or "S.FIRST-LAST", each ID
// from 1 to 4094.
func ParseQinQ(s string) (QinQRange, error) {
	bad := fmt.Errorf(`must be "S.C" or "S.FIRST-LAST" (802.1ad service tag, 802.1Q customer tags, each from 1 to 4094), got %q`, s)
	outer, inner, ok := strings.Cut(s, ".")
	if !ok {
		return QinQRange{}, bad
	}
	first, last, isRange := strings.Cut(inner, "-")
	if !isRange {
		last = first
	}
	var r QinQRange
	for _, f := range []struct {
		s string
		n *int
	}{{outer, &r.Outer}, {first, &r.InnerFirst}, {last, &r.InnerLast}} {
		n, err := strconv.Atoi(f.s)
		if err != nil || n < 1 || n > 4094 || strings.TrimSpace(f.s) != f.s || strings.HasPrefix(f.s, "+") {
			return QinQRange{}, bad
		}
		*f.n = n
	}
	if r.InnerFirst > r.InnerLast {
		return QinQRange{}, fmt.Errorf("customer tags %d-%d: the range is empty (first after last)", r.InnerFirst, r.InnerLast)
	}
	return r, nil
}

// QinQRanges returns the parsed QinQ entries of a validated interface.
func (i PPPoEIface) QinQRanges() []QinQRange {
	var rs []QinQRange
	for _, s := range i.QinQ {
		if r, err := ParseQinQ(s); err == nil {
			rs = append(rs, r)
		}
	}
	return rs
}

// PPPoEServ is one offered service name.
type PPPoEServ struct {
	Route         RouteKind `toml:"route" doc:"local: terminate PPP here; lac: carry sessions to an LNS; realm: decide by the username's realm (pppoe.route)."`
	PPPProfile    string    `toml:"ppp_profile" doc:"PPP profile for sessions of this service (local termination, and the LAC's LCP/auth phase)."`
	Tunnel        string    `toml:"tunnel" doc:"route = lac: the configured tunnel (LNS) to carry sessions to."`
	Backup        string    `toml:"backup_tunnel" doc:"route = lac: a tunnel tried when the first LNS refuses or cannot be reached."`
	LocalFallback bool      `toml:"local_fallback" doc:"route = realm: terminate locally the sessions of users whose realm matches no pppoe.route (default: refuse them with an LCP Terminate-Request and a PADT)."`
}

// PPPoERoute sends the sessions of users of one realm to an LNS.
type PPPoERoute struct {
	Realm  string `toml:"realm" doc:"Username realm (the part after '@')."`
	Tunnel string `toml:"tunnel" doc:"The configured tunnel (LNS) to carry sessions to."`
	Backup string `toml:"backup_tunnel" doc:"A tunnel tried when the first LNS refuses or cannot be reached."`
}

// PPPoEClient is a PPPoE client session that probox brings up itself.
type PPPoEClient struct {
	Interface   string `toml:"interface" doc:"Interface to run discovery on."`
	Service     string `toml:"service" doc:"Service name to ask for; empty asks for any."`
	ACName      string `toml:"ac_name" doc:"Only accept offers from this access concentrator; empty accepts any."`
	PPPProfile  string `toml:"ppp_profile" doc:"PPP profile (client role: username, password, default_route)."`
	VLAN        int    `toml:"vlan" doc:"802.1Q VLAN ID to send and receive on (1-4094; 0: untagged). With service_vlan, the customer tag of a QinQ pair."`
	ServiceVLAN int    `toml:"service_vlan" doc:"QinQ: the IEEE 802.1ad service tag (1-4094) outside vlan; 0: none."`
	MAC         string `toml:"mac" doc:"MAC address the client's frames come from, such as \"02:00:00:00:01:05\": a test rig or load generator emulating many hosts on one interface gives each client its own. Empty means the interface's own address. It must be unicast, not all zeros, and not used by another client on the same interface; the interface is made to accept frames to it (its unicast filter, or promiscuous mode where it has none), and the kernel data plane gives it a macvlan interface."`
}

// RADIUS configures RADIUS clients.
type RADIUS struct {
	NASIdentifier string                  `toml:"nas_identifier" doc:"NAS-Identifier attribute; empty means system.host_name."`
	Timeout       time.Duration           `toml:"timeout" doc:"Time to wait for a server's answer before retrying."`
	Retries       int                     `toml:"retries" doc:"Retries per server before the next server is tried."`
	Servers       map[string]RADIUSServer `toml:"server" doc:"RADIUS servers, tried in name order."`
}

// RADIUSServer is one RADIUS server.
type RADIUSServer struct {
	Address    string `toml:"address" doc:"Server address (host or host:port; default ports 1812/1813)."`
	Secret     string `toml:"secret" doc:"Shared secret."`
	Accounting bool   `toml:"accounting" doc:"Send accounting to this server."`
}

// Name of the built-in profile of every kind.
const DefaultProfile = "default"
