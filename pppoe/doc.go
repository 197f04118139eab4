// Package pppoe implements PPP over Ethernet (RFC 2516): the codec of discovery and session
// packets, the discovery tags (RFC 2516 Appendix A, RFC 4638 PPP-Max-Payload, the Broadband
// Forum access-line tag of RFC 4679 / TR-101), stateless AC-Cookies, the pure discovery
// logic of the access concentrator (AC) and of the host (Client), and the PPPoE engine
// (proacd) built on them: the access concentrator on the configured interfaces, the
// routing of its sessions to local PPP or to an LNS through an L2TP LAC, and PPPoE clients.
//
// The codec, the cookies and the pure AC and Client (wire.go, tags.go, dslforum.go,
// cookie.go, ac.go, client.go) do no I/O, log nothing and read no clock. The data plane
// hands over the Ethernet
// payload of each received frame (ether type 0x8863 for discovery, 0x8864 for session data)
// with its source MAC and VLAN IDs, and sends the frames returned to it as (interface,
// destination MAC, VLANs, PPPoE packet bytes), with the interface's own source MAC (or a
// client's own, see Clients).
//
// # Codec
//
// ParsePacket decodes a discovery packet into a Packet (header and typed Tags) and checks the
// per-code rules of RFC 2516 §5; Packet.AppendBinary encodes one. TagDecoder and TagEncoder
// are the scanner-style layer below, and ParseAccessLine decodes the Broadband Forum
// Vendor-Specific tag. On the session path, ParseSession and PutSessionHeader /
// AppendSessionHeader read and write the 6-byte header without allocating.
//
// # Access concentrator
//
// An AC is owned by one goroutine, which calls, for each discovery frame received at time
// now:
//
//	res := ac.Handle(now, pppoe.Inbound{Interface: "eth1", Src: src, VLANs: vlans, Payload: payload})
//	if res.Reply != nil {
//		send(*res.Reply)
//	}
//	switch res.Outcome {
//	case pppoe.OutcomeConfirmed:
//		// res.Session is new: open the PPPoE channel for res.Session.ID/Peer, start PPP.
//	case pppoe.OutcomeTerminated:
//		// The host sent a PADT: tear res.Session down.
//	case pppoe.OutcomeDropped, pppoe.OutcomeRefused:
//		// Count res.Reason; res.Err has detail.
//	}
//
// To end a session itself (PPP down, admin disconnect, shutdown), the owner calls
// ac.Terminate(iface, id, "reason") and sends the PADT it returns. The AC keeps the live
// session table, so the owner must call Terminate (or see OutcomeTerminated) for every
// session that goes away; Sessions lists what is live.
//
// # Client
//
// A Client is driven the same way, plus its single retransmission timer:
//
//	c, _ := pppoe.NewClient(cfg, crand.Reader)
//	apply(c.Start())          // broadcast PADI, start the timer
//	...
//	apply(c.Handle(inbound))  // PADO -> PADR, PADS -> EventEstablished, PADT -> EventTerminated
//	apply(c.Timeout())        // when the timer fires: retransmit with backoff, or EventFailed
//
// where apply sends res.Send, (re)starts the timer for res.Timeout on TimerStart, stops it on
// TimerStop, and acts on res.Event.
//
// # The engine
//
// Engine (engine.go) is built by New from the box configuration ([pppoe] interfaces,
// services, realm routes, clients, limits) and its dependencies: the data plane, the PPP
// engine, and a LAC (an interface of this package, which main.go implements with the L2TP
// engine) when a service routes to an LNS. Run opens the access interfaces and serves
// until its context ends; Reload applies a new configuration without touching the
// sessions it does not concern; the API methods (Sessions, Session, Interfaces, Services,
// Routes, Stats, Disconnect) serve proac_info and proac_manage.
//
// Goroutines: the engine's loop owns the pure AC (session table, limits, cookie key), the
// ports and the session index; a reader per access interface hands it discovery frames;
// each session is an actor goroutine (session.go) owning its PPP handle, LAC call and
// bridge; each client is a dialer actor (dialer.go). Engine's doc comment details how
// they talk without ever waiting on each other.
//
// A session the AC confirms gets its channel before the PADS is sent (so that none of the
// host's first frames is lost), and its PPP holds its first LCP Configure-Request until
// the host's first frame arrives or pppoe.lcp_delay passes: a request that reached the
// host before the host opened its session would be dropped there and only repeated after
// the 3-second restart timer. Where its PPP goes is
// decided by the [pppoe.service] that serves its Service-Name (the service of that name,
// else the service "any", else for the empty name the first service; with no service
// configured, local termination with the default PPP profile):
//
//   - route = "local": the PPP engine terminates it (RoleServer, the service's
//     ppp_profile). The PPP engine publishes the PPP life of the session (session-up and
//     -down with the addresses, engine "ppp"); this engine publishes its PPPoE life
//     (session-created when the PADS is sent, session-deleted with the cause).
//   - route = "lac" or "realm": the PPP engine negotiates LCP and takes the subscriber's
//     authentication without deciding it (RoleLACProxy); the tunnel is the service's, or
//     the [pppoe.route] whose realm matches the part of the username after its last '@'
//     (without regard to case); the LAC places the call with the proxy LCP and
//     authentication AVPs (RFC 2661 §4.4.5), the calling number being the Agent-Circuit-Id
//     or else the client's MAC address and the called number the Service-Name; if the
//     tunnel fails and a backup_tunnel is configured, the call is placed there; the
//     engine then bridges the PPPoE channel to the call's channel and publishes
//     session-up (and session-down when it ends). Each call attempt is bounded by
//     pppoe.lac_timeout.
//   - A realm session whose realm matches no route is refused, unless the service sets
//     local_fallback: then the PPP engine terminates it locally, accepting the LCP and
//     authentication already done as an LNS accepts proxy data. Refused sessions (no
//     route, no LNS took the call) get an LCP Terminate-Request carrying the reason, and
//     a second later a PADT with the reason in a Generic-Error tag; the session-deleted
//     event says why.
//
// A session ends when its PPP or its call ends (the engine sends the PADT, RFC 2516
// §5.5), when the host sends a PADT (its channel is closed at once: no PPP frame may
// follow a PADT), on Disconnect (PPP stopped with an LCP Terminate-Request, or the call
// hung up; then the PADT), when its interface leaves the configuration, and when the engine
// stops (every session gets a PADT with "AC shutting down", and Run returns once every
// goroutine has ended).
//
// # Clients
//
// Each [pppoe.client] is a dialer: discovery with the pure Client, whose timer the dialer
// owns, from the interface's MAC address or the client's own (pppoe.client.NAME.mac: a
// load generator or test rig emulating many hosts on one interface; the data plane then
// sends the client's frames from it and receives what is addressed to it, see
// kernel.PPPoEPort); on a PADS the session's channel and PPP as a client (RoleClient, the client's
// ppp_profile, whose unit carries IP); when PPP ends the dialer sends its PADT, and an
// AC's PADT closes the channel. It then dials again after a backoff that starts at one
// second and doubles with each failed attempt up to 64 seconds, and starts again at one
// second after a session whose network came up. When the engine stops, the dialer stops
// PPP (LCP Terminate-Request) and then sends its PADT.
//
// # Metrics
//
// Namespace probox, subsystem pppoe: sessions{route} (a gauge: local, lac, pending for LAC
// and realm sessions before their call is up, client), discovery_packets_total{code,dir},
// discovery_drops_total{reason} (frames dropped, and requests refused with an error tag),
// sessions_total{result} (EndCause labels), lac_failures_total{reason} (no_route,
// call_failed, timeout, bridge).
package pppoe
