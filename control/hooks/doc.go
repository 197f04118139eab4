// Package hooks runs the user's hook scripts on tunnel and session events, following
// ProL2TP's integration points.
//
// # Usage
//
//	r, err := hooks.New(hooks.Config{Dir: c.Hooks.Dir, Timeout: c.Hooks.Timeout,
//		MaxConcurrent: c.Hooks.MaxConcurrent}, bus, log.Named("hooks"), reg)
//	...
//	go r.Run(ctx)    // until ctx is done
//	r.Reload(newCfg) // on SIGHUP
//
// # Scripts
//
// For every tunnel and session event on the bus the runner looks in Config.Dir for an
// executable named after the event type (event.Type.String()): tunnel-created,
// tunnel-up, tunnel-down, tunnel-deleted, session-created, session-up, session-down,
// session-deleted. No script is no error (logged at debug). Other events (ppp-phase,
// config-reloaded) run nothing.
//
// Because the daemon runs as root, a script is refused (not run; a warning, rate-limited,
// and probox_hooks_runs_total{result="refused"}) unless all of this holds:
//   - it is a regular file (symbolic links are followed and the target is checked) with
//     at least one execute bit;
//   - it and the hooks directory are owned by root or by the daemon's effective user;
//   - neither it nor the hooks directory is world-writable.
//
// Group-writable files are allowed: the group is the administrator's choice.
//
// # Execution
//
// The scripts of one tunnel (key: engine and tunnel ID) run one at a time in event order,
// as do the scripts of one session (key: engine, tunnel ID and session ID; a PPPoE
// session has tunnel ID 0). Different tunnels and sessions run in parallel, at most
// Config.MaxConcurrent scripts at once. There is no ordering between a tunnel's scripts
// and its sessions' scripts. Per-object queues exist only while they have work, so idle
// sessions cost nothing; at most 65536 runs wait at once, beyond which the runner stops
// reading the bus, and the bus drops events (counted in
// probox_hooks_events_dropped_total and logged).
//
// Each script runs with its working directory set to Config.Dir, stdin from /dev/null,
// no arguments, in a new process group, with the environment below and nothing else of
// the daemon's. Its stdout and stderr go to one pipe, of which the last 4 KiB are
// logged when it ends: at info after exit status 0, at warning otherwise. At
// Config.Timeout the process group gets SIGTERM, and SIGKILL min(Timeout, 5s) later. A
// run ends when the script has exited and nothing holds its output pipe any more, so a
// background process that should outlive its hook must redirect its output (and leave
// the process group, e.g. with setsid) or it is killed at the timeout with the script.
//
// When Run's context is done no further script starts (queued runs are dropped, with a
// warning); the running ones get the rest of their timeout, and Run returns once they
// are all gone.
//
// # Environment
//
// Variables whose value would be empty (or a zero ID or code) are left out; a script
// should test them with ${VAR:-}. Values are sanitised, because some come from peers
// (host names, user names, PPPoE tags): NUL bytes are removed, other control characters
// (CR, LF, TAB, ...) become spaces, invalid UTF-8 becomes U+FFFD, and a value is cut at
// 1024 bytes. Quote them all the same.
//
//	PATH                      /usr/sbin:/usr/bin:/sbin:/bin
//	PROBOX_EVENT              the hook name: tunnel-created ... session-deleted
//	PROBOX_ENGINE             the engine that reported the event: l2tp, ppp, pppoe
//	PROBOX_SEQ                the event's sequence number on the bus (always set)
//	PROBOX_TIME               the event's time, RFC 3339 in UTC (2026-11-25T12:00:00Z)
//	PROBOX_MESSAGE            free text attached to the event
//
//	PROBOX_TUNNEL_ID          our L2TP tunnel ID (also for the sessions in the tunnel)
//	PROBOX_PEER_TUNNEL_ID     the peer's tunnel ID
//	PROBOX_TUNNEL_NAME        the tunnel's name in the configuration
//	PROBOX_TUNNEL_PROFILE     its tunnel profile
//	PROBOX_L2TP_VERSION       2 or 3
//	PROBOX_ENCAP              udp or ip
//	PROBOX_LOCAL_ADDR         our address (and port) of the tunnel
//	PROBOX_PEER_ADDR          the peer's address (and port)
//	PROBOX_PEER_HOSTNAME      the Host Name the peer sent (from the peer)
//	PROBOX_NETWORK_INITIATED  1 when the peer opened the tunnel
//
//	PROBOX_SESSION_ID         our session ID (L2TP, or the PPPoE session ID)
//	PROBOX_PEER_SESSION_ID    the peer's L2TP session ID
//	PROBOX_SESSION_NAME       the session's name in the configuration
//	PROBOX_SESSION_PROFILE    its session profile
//	PROBOX_PW_TYPE            pseudowire type: ppp or ethernet
//	PROBOX_INTERFACE          the network interface carrying the session's traffic: the
//	                          PPP unit (ppp0) when there is one, else the session's own
//	PROBOX_SESSION_INTERFACE  the session's own interface when it differs from
//	                          PROBOX_INTERFACE (e.g. the Ethernet interface of PPPoE)
//	PROBOX_USER               the PPP user name (authenticated, or ours as a client;
//	                          else the one the session reported) (from the peer)
//	PROBOX_CALLING_MAC        the PPPoE client's MAC address
//	PROBOX_SERVICE            the PPPoE service name (from the peer)
//	PROBOX_CIRCUIT_ID         the access line's Agent-Circuit-Id (from the peer)
//	PROBOX_REMOTE_ID          the access line's Agent-Remote-Id (from the peer)
//
//	PROBOX_PPP_INSTANCE       the PPP link's instance name (session-12)
//	PROBOX_PPP_PHASE          the PPP phase: establish ... running, terminate, dead
//	PROBOX_PPP_ROLE           server or client
//	PROBOX_PPP_CARRIER        l2tp or pppoe
//	PROBOX_AUTH               the authentication protocol used (pap, chap, ...)
//	PROBOX_LOCAL_IP           our IPv4 address on the link
//	PROBOX_PEER_IP            the peer's IPv4 address
//	PROBOX_LOCAL_IPV6         our IPv6 link-local address
//	PROBOX_PEER_IPV6          the peer's IPv6 link-local address
//	PROBOX_DNS                DNS servers, separated by spaces
//	PROBOX_SESSION_START      when the session came up, RFC 3339 in UTC
//	PROBOX_SESSION_DURATION   whole seconds from PROBOX_SESSION_START to PROBOX_TIME
//	PROBOX_RX_PACKETS         packets received from the peer (*)
//	PROBOX_RX_BYTES           bytes received from the peer (*)
//	PROBOX_TX_PACKETS         packets sent to the peer (*)
//	PROBOX_TX_BYTES           bytes sent to the peer (*)
//
//	PROBOX_RESULT_CODE        the L2TP result code (StopCCN, CDN) of down/deleted events
//	PROBOX_ERROR_CODE         the L2TP error code
//	PROBOX_RESULT_MESSAGE     the protocol's error message (may come from the peer)
//	PROBOX_REASON             why it went down, in words
//
// (*) The four counters are set, even to 0, whenever the event carries the data plane's
// counters (accounting: the down and deleted events of PPP sessions).
//
// Every field of event.Event maps to one variable. Where two parts of an event carry the
// same thing, one variable takes the first that is set: PROBOX_TUNNEL_ID from Tunnel.ID
// then Session.TunnelID, PROBOX_PEER_TUNNEL_ID from Tunnel.PeerID then
// Session.PeerTunnelID, PROBOX_USER from PPP.User then Session.User, PROBOX_INTERFACE from
// PPP.Interface then Session.Interface. deploy/hooks.md has the same table for operators.
//
// # Metrics
//
//	probox_hooks_runs_total{hook,result}    result: ok, failed, timeout, refused
//	probox_hooks_running                    scripts running now
//	probox_hooks_queued                     runs waiting for their object or a slot
//	probox_hooks_duration_seconds{hook}     run time of started scripts
//	probox_hooks_events_dropped_total       events lost because the runner fell behind
package hooks
