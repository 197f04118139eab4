// Package ppp is probox's PPP engine: it terminates PPP sessions whatever carries them (an
// L2TP session at an LNS, a PPPoE session at an access concentrator, or the client side of
// either), reading and writing control frames on a data plane channel and configuring the
// PPP unit once the network layer is up.
//
// The package is layered so that everything below the engine is pure code, without I/O,
// clocks or logging:
//
//   - wire.go and options.go are the codecs: PPP frames (ParseFrame, AppendFrame), the
//     LCP-style control header (ParseControl, AppendControl) and the Configuration Option
//     lists of RFC 1661 §6 (OptionDecoder, OptionEncoder).
//   - fsm.go is the one option negotiation automaton of RFC 1661 §4, transcribed cell by
//     cell from the state transition table of §4.1, with the restart timer and counters of
//     §4.6. LCP, IPCP and IPv6CP each run an instance of it with their own negotiator.
//   - lcp.go (RFC 1661, RFC 1570), ipcp.go (RFC 1332, RFC 1877) and ipv6cp.go (RFC 5072)
//     are the negotiators: they build our Configure-Requests, judge the peer's, apply its
//     Naks and Rejects, and expose the result (LCPResult, IPCPResult, IPv6CPResult).
//     LCPConfig.ProxyLCP accepts the LCP state an L2TP LAC negotiated (RFC 2661 §4.4.5).
//   - pap.go, chap.go and mschapv2.go are the authentication exchanges (RFC 1334, RFC
//     1994, RFC 2759), with auth.go's AuthBackend deciding on credentials.
//
// # Driving an automaton
//
// A session actor (one goroutine per session) owns one automaton per control protocol and
// implements the automaton's owner interface: it transmits the packets the automaton asks
// it to send, arms and stops the restart timer, and reacts to This-Layer-Up, -Down,
// -Started and -Finished. It feeds the automaton events: Open and Up when the carrier is
// ready, Input for every received control packet of that protocol, Timeout when the
// restart timer fires, Close to end the session. For LCP:
//
//	l := newLCP(lcpCfg)                 // lcpCfg validated beforehand
//	f := newFSM(fsmCfg, l, actor)       // actor implements fsmOwner
//	f.Open()
//	f.Up()                              // sends the first Configure-Request
//	...
//	h, data, err := ParseControl(info)  // a received LCP frame
//	if err == nil {
//		f.Input(h.Code, h.Identifier, data)
//	}
//	...
//	// in actor.thisLayerUp(ProtoLCP): res := l.result(), then authenticate.
//
// The automaton never blocks and never reads the clock, so tests drive it packet by packet
// and call Timeout instead of waiting.
//
// # The engine
//
// engine.go, session.go, pool.go, secrets.go and metrics.go are the engine: New builds it
// from the box configuration (ppp_profile, ippool, system.secrets_file), Run waits for its
// context and then terminates every session, and the carrier engines start sessions with
// Start:
//
//	h, err := e.Start(ppp.StartRequest{
//		Channel: ch,                  // from kernel.Session.Channel or PPPoEPort.OpenSession
//		Role:    ppp.RoleServer,      // LNS or access concentrator
//		Carrier: ppp.CarrierL2TP,     // decides ACCM/ACFC (RFC 2516 §7 for PPPoE)
//		Profile: "subscribers",       // ppp_profile; "" is "default"
//		MaxMRU:  1460 - 40,           // the carrier's limit
//		Info:    ppp.CarrierInfo{TunnelID: 5, SessionID: 9, CallingStation: "..."},
//	})
//	...
//	<-h.Done()                        // the session ended: h.Result() tells why
//
// Each session is an actor: one goroutine that owns the LCP, IPCP and IPv6CP automata and
// the authentication exchange, selecting over the frames a reader goroutine takes from the
// channel, one timer (the earliest deadline of its logical timers), stop and snapshot
// requests, and the results of backend calls, which run in goroutines of their own. It goes
// through the phases of RFC 1661 §3 (Establish, Authenticate, Network), is Running once
// IPCP has opened (or IPv6CP, when IPCP has given up), and publishes every phase change
// (event.PPPPhase) and its life (SessionCreated, SessionUp, SessionDown once it was up,
// SessionDeleted with the result) on the event bus. The unit is created when the first NCP
// opens and configured from what IPCP and IPv6CP negotiated; when the session ends the unit
// is closed, the peer's address released and the channel closed (except in RoleLACProxy,
// whose channel the LAC bridges to the LNS).
//
// A server's peer address is the backend's static address for the user (for the local
// backend: the secrets file's ADDRESS), else the next free address of the backend's pool or
// of the profile's ip_pool. Our own address is the profile's local_address, else
// system.router_id, else Config.LocalAddress, else 192.0.0.8 (DefaultLocalAddress, the IPv4
// dummy address of RFC 7600); the pools never hand out these local addresses.
//
// # Secrets file
//
// The local authentication backend reads system.secrets_file (default
// /etc/probox/secrets; deploy/secrets.example is an annotated example). It has one user per
// line:
//
//	USERNAME SECRET [ADDRESS]
//
// Fields are separated by spaces or tabs. ADDRESS is the user's static IPv4 address, or *
// (or nothing) for an address from the pool. A field holding spaces, a '#' at its start,
// or quotes is written in double quotes, in which \" stands for a quote and \\ for a
// backslash; no other escape exists. A '#' at the start of a field starts a comment that
// runs to the end of the line; blank lines are ignored. A user may be listed once. The
// file must not be readable by other users (mode 0600 or 0640): the engine refuses a
// world-readable file. An invalid file stops the engine from starting, and a reload
// (SIGHUP) that finds one keeps the secrets read before; errors name the file and line,
// never a secret. A missing file means no local users.
package ppp
