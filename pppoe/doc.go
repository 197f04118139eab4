// Package pppoe implements PPP over Ethernet (RFC 2516): the codec of discovery and session
// packets, the discovery tags (RFC 2516 Appendix A, RFC 4638 PPP-Max-Payload, the Broadband
// Forum access-line tag of RFC 4679 / TR-101), stateless AC-Cookies, and the pure discovery
// logic of the access concentrator (AC) and of the host (Client).
//
// Nothing here does I/O, logs or reads a clock. The data plane hands over the Ethernet
// payload of each received frame (ether type 0x8863 for discovery, 0x8864 for session data)
// with its source MAC and VLAN IDs, and sends the frames returned to it as (interface,
// destination MAC, VLANs, PPPoE packet bytes), with the interface's own source MAC.
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
package pppoe
