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
package ppp
