// Package l2tp implements L2TPv2 (RFC 2661) and L2TPv3 (RFC 3931).
//
// This part of the package is the wire codec: pure functions with no I/O, logging or
// global state, safe on any input.
//
// # Telling packets apart
//
// A UDP payload on port 1701 is a control message if its T bit is set; ClassifyUDP also
// returns the version (2 or 3). An L2TPv3-over-IP payload (IP protocol 115) is a control
// message if it starts with a zero Session ID; ClassifyIP tells, and ParseIP and
// Message.AppendIP handle that prefix.
//
// # Control messages
//
// Parse turns a control message into a Message: the header fields the reliable transport
// uses (Ns, Nr, tunnel and session IDs), the message type and the AVPs in order, with
// hidden AVPs revealed using the tunnel secret (ParseOptions). A header-only message is a
// ZLB acknowledgement. Message.Marshal and Message.Append do the reverse, hiding the AVPs
// the MarshalOptions ask for behind a fresh Random Vector:
//
//	m, err := l2tp.Parse(pkt, &l2tp.ParseOptions{Secret: secret})
//	if err != nil { ... drop, RFC 3931 §7.1 ... }
//	if err := m.Validate(); err != nil {
//		var unk *l2tp.UnknownAVPError
//		if errors.As(err, &unk) { ... CDN or StopCCN with unk.Result() ... }
//	}
//	host, _ := m.Find(l2tp.AVPHostName)
//
//	reply := l2tp.Message{Header: l2tp.Header{Version: l2tp.Version2, TunnelID: peerTID},
//		Type: l2tp.MsgSCCRP, AVPs: []l2tp.AVP{
//			l2tp.NewProtocolVersion(l2tp.ProtocolVersionV2, l2tp.ProtocolRevisionV2),
//			l2tp.NewString(l2tp.AVPHostName, "lns1"), ...}}
//	b, err := reply.Marshal(&l2tp.MarshalOptions{Secret: secret, Hide: []l2tp.AVPType{l2tp.AVPAssignedTunnelID}})
//
// Message.Validate checks a message against the per-type AVP tables of RFC 2661 §6 and
// RFC 3931 §6 (LookupSpec) and reports unknown AVPs with the M bit set as
// *UnknownAVPError, so the caller can tear down the session or the tunnel as
// RFC 2661 §4.1 requires, while unknown AVPs without the M bit are ignored.
//
// AVPDecoder and AVPEncoder read and write AVP sequences in the style of netlink's
// attribute decoder and encoder. AVP values have typed constructors (NewUint16,
// ResultError.AVP, ...) and getters that fail on a wrong length.
//
// # Authentication
//
// ChallengeResponse implements L2TPv2 tunnel authentication (RFC 2661 §4.2).
// SignMessage and VerifyMessage implement the L2TPv3 Message Digest AVP (RFC 3931 §4.3,
// §5.4.1) on marshalled bytes; DigestKey and HidingKey derive the RFC 3931 keys.
//
// # Data messages
//
// ParseV2Data, ParseV3DataUDP and ParseV3DataIP return the header and the payload as a
// sub-slice of the input, and the Append methods write headers into the caller's buffer;
// none of them allocates. L2TPv3 parsing needs the session's cookie length and whether it
// uses the Default L2-Specific Sublayer, which the data plane finds from the Session ID
// (V3SessionIDUDP, V3SessionIDIP).
//
// # The engine
//
// Engine is prol2tpd's core: LAC and LNS, L2TPv2 and L2TPv3, tunnels as initiator and
// responder, sessions for incoming and outgoing calls, static L2TPv3 pseudowires. It runs
// one actor goroutine per tunnel (tunnel.go) that owns the tunnel's control connection
// state machine (tunnelfsm.go, RFC 2661 §7.2.1), its reliable transport (transport.go), its
// kernel objects and its sessions, each with a call state machine (sessionfsm.go, RFC 2661
// §7.4 and §7.5). The engine itself only keeps the index from IDs and names to actors;
// snapshots and operations are requests the actors answer.
//
//	e, err := l2tp.New(l2tp.Config{Cfg: cfg}, l2tp.Deps{Dataplane: dp, Log: log, Registry: reg, Bus: bus, PPP: pppAdapter})
//	go e.Run(ctx)                       // listeners, configured tunnels; on ctx done StopCCN to every peer
//	call, err := e.PlaceCall(ctx, l2tp.CallRequest{Tunnel: "isp-a", Backup: "isp-a-backup", ProxyAuth: ...})
//	bridge(call.Channel(), pppoeChannel) // LAC: the caller joins the two PPP channels
//	<-call.Done()                       // CDN either way, or the tunnel went
//
// Network-initiated PPP sessions (LNS), configured PPP client sessions and outgoing calls
// are handed to the PPP engine through the PPPStarter the daemon provides. Every state
// change is published on the event bus (engine "l2tp"); metrics are in metrics.go.
//
// Choices the RFCs leave open are documented where they are made: StopCCN result 1 for an
// administrative delete and 6 at shutdown, CDN result 3 when PPP ends or the operator
// deletes a session and 1 when a LAC call hangs up; StopCCN 4 for peers that may not open
// tunnels (deny_remote_tunnel_creates, peer role "lns"), StopCCN 2/4 at max_tunnels, CDN 4
// at max_sessions; outgoing calls (OCRQ) accepted only on configured tunnels, where probox
// is the called system.
package l2tp
