package l2tp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/probox/probox/kernel"
	"go.uber.org/zap"
)

// Control connection messages of the tunnel actor: receiving (authentication, parsing,
// validation, dispatch) and the SCCRQ/SCCRP/SCCCN/StopCCN exchange (RFC 2661 §6.1-§6.4,
// RFC 3931 §6.1-§6.4).

// Our Firmware Revision (RFC 2661 §4.4.3) and Vendor Name.
const (
	firmwareRevision = 0x0100
	vendorName       = "probox"
)

// firstHasDigest reports whether a marshalled control message carries a Message Digest
// AVP after its Message Type (RFC 3931 §5.4.1).
func firstHasDigest(b []byte) bool {
	if b == nil {
		return false
	}
	_, _, _, err := findDigests(b)
	return err == nil
}

// peekControl returns the message type (0 for a ZLB) and Ns of a marshalled control
// message.
func peekControl(b []byte) (MessageType, uint16, bool) {
	if len(b) < ControlHeaderLen {
		return 0, 0, false
	}
	ns := binary.BigEndian.Uint16(b[8:])
	if len(b) < ControlHeaderLen+8 {
		return 0, ns, true
	}
	return MessageType(binary.BigEndian.Uint16(b[ControlHeaderLen+6:])), ns, true
}

// onPacket handles one control packet from the peer.
func (t *tunnel) onPacket(b []byte) {
	if t.tr == nil {
		return // static tunnels have no control connection
	}
	now := t.e.now()
	m, err := Parse(b, &ParseOptions{Secret: t.p.secret})
	var unk *UnknownAVPError
	if err != nil && errors.As(err, &unk) {
		// An AVP with reserved bits and the M bit (RFC 2661 §4.1): the message is
		// sequenced and acknowledged, then handled as carrying an unknown M-bit AVP.
		h, _, _, herr := parseControlHeader(b)
		if herr != nil {
			return
		}
		if t.invalid == nil || len(t.invalid) > 64 {
			t.invalid = make(map[*Message]error) // bounded: duplicates are never delivered
		}
		mp := &Message{Header: h, Type: unk.Message}
		t.invalid[mp] = unk
		t.receive(now, b, mp)
		return
	}
	if err != nil {
		t.e.m.dropped.WithLabelValues("malformed").Inc()
		t.e.peerWarn("undecodable control message dropped", zap.Uint32("tunnel_id", t.id), zap.Stringer("peer", t.spec.peer), zap.Error(err))
		return
	}
	t.receive(now, b, &m)
}

// receive checks the digest and the addressing of a parsed message and passes it to the
// transport.
func (t *tunnel) receive(now time.Time, b []byte, m *Message) {
	if m.TunnelID != t.id && !(m.TunnelID == 0 && m.Type == MsgSCCRQ) {
		t.e.m.dropped.WithLabelValues("wrong_tunnel").Inc()
		return
	}
	if !t.authentic(b, m) {
		return
	}
	t.e.m.rx(m.Type)
	t.handle(now, t.tr.Receive(now, m))
}

// authentic checks the L2TPv3 Message Digest of a received message (RFC 3931 §5.4.1):
// with control message authentication in use, a message whose digest does not verify is
// dropped before anything in it is used. The first SCCRQ or SCCRP decides whether the peer
// uses authentication when our profile does not ask for it. ZLBs cannot carry a digest
// and are accepted.
func (t *tunnel) authentic(b []byte, m *Message) bool {
	if t.spec.version != Version3 || m.IsZLB() {
		return true
	}
	first := m.Type == MsgSCCRQ || m.Type == MsgSCCRP
	hasDigest := len(m.AVPs) > 0 && m.AVPs[0].Is(AVPMessageDigest)
	if t.dig == nil {
		if !first || !hasDigest {
			return true
		}
		// The peer authenticates its messages although our profile does not ask for it:
		// answer in kind, keyed with the secret if there is one, else as a plain
		// integrity check (RFC 3931 §4.3).
		typ, _, err := m.AVPs[0].MessageDigest()
		if err != nil {
			return false
		}
		if t.nonce == nil {
			t.nonce = t.e.randBytes(16)
		}
		t.dig = &controlDigest{Type: typ, Keys: [][]byte{DigestKey(t.p.secret)}, LocalNonce: t.nonce}
		t.peer.digest = true
	}
	if first && t.dig.RemoteNonce == nil {
		if a, ok := m.Find(AVPControlMessageAuthNonce); ok {
			t.dig.RemoteNonce = append([]byte(nil), a.Value...)
		}
	}
	if m.Type == MsgSCCRQ && !hasDigest {
		t.noDigest = true // refused with a StopCCN once delivered
		return true
	}
	if err := VerifyMessage(b, t.dig.LocalNonce, t.dig.RemoteNonce, t.dig.Keys...); err != nil {
		t.e.m.dropped.WithLabelValues("digest").Inc()
		t.e.m.authFailures.Inc()
		t.e.peerWarn("control message failed authentication: dropped", zap.Uint32("tunnel_id", t.id), zap.Stringer("peer", t.spec.peer), zap.Stringer("type", m.Type), zap.Error(err))
		return false
	}
	if first {
		t.peer.digest = true
	}
	return true
}

// dispatch handles a message the transport delivered in order.
func (t *tunnel) dispatch(m *Message) {
	err := t.invalid[m]
	if err != nil {
		delete(t.invalid, m)
	} else {
		err = m.Validate()
	}
	if err != nil {
		t.protocolError(m, err)
		return
	}
	switch m.Type {
	case MsgSCCRQ:
		t.onSCCRQ(m)
	case MsgSCCRP:
		t.onSCCRP(m)
	case MsgSCCCN:
		t.onSCCCN(m)
	case MsgStopCCN:
		t.onStopCCN(m)
	case MsgHELLO:
		// The transport has acknowledged it; that is all (RFC 2661 §6.5).
	default:
		if m.Type.IsSession() {
			t.onSessionMessage(m)
		}
	}
}

// protocolError handles a message that failed validation: an unknown M-bit AVP clears the
// session of a session message with a CDN, and the tunnel otherwise with a StopCCN
// (RFC 2661 §4.1, RFC 3931 §5.2); an unknown mandatory message type clears the tunnel
// (RFC 2661 §4.4.1) and an unknown optional one is ignored.
func (t *tunnel) protocolError(m *Message, err error) {
	var (
		unkMsg *UnknownMessageError
		unkAVP *UnknownAVPError
		mal    *MalformedAVPError
	)
	res := ResultError{Result: uint16(StopCCNGeneralError), ErrorCode: uint16(ErrorOutOfRange), Message: err.Error()}
	switch {
	case errors.As(err, &unkMsg):
		if !unkMsg.Mandatory {
			t.log.Debug("ignoring unknown optional message", zap.Uint16("type", uint16(unkMsg.Type)))
			return
		}
		t.peerWarn("unknown mandatory message type", zap.Uint16("type", uint16(unkMsg.Type)))
		t.closeWith(res, "unknown mandatory message type")
		return
	case errors.As(err, &unkAVP):
		res = unkAVP.Result()
	case errors.As(err, &mal):
		res.ErrorCode = uint16(ErrorLength)
	}
	t.peerWarn("invalid control message", zap.Stringer("type", m.Type), zap.Error(err))
	if m.Type.IsSession() {
		t.sessionProtocolError(m, res)
		return
	}
	t.closeWith(res, "invalid "+m.Type.String()+": "+err.Error())
}

func (t *tunnel) peerWarn(msg string, fields ...zap.Field) {
	if t.e.warn.allow() {
		t.log.Warn(msg, fields...)
	} else {
		t.log.Debug(msg, fields...)
	}
}

// readPeer takes what an SCCRQ or SCCRP says about the peer and checks it; a non-nil
// result refuses the message.
func (t *tunnel) readPeer(m *Message) *ResultError {
	bad := func(r StopCCNResult, code ErrorCode, msg string) *ResultError {
		return &ResultError{Result: uint16(r), ErrorCode: uint16(code), Message: msg}
	}
	if id := assignedTunnelID(m); id != 0 {
		t.peerID = id
		t.tr.SetPeerTunnelID(id)
	} else {
		return bad(StopCCNGeneralError, ErrorOutOfRange, "no assigned tunnel ID")
	}
	if a, ok := m.Find(AVPHostName); ok {
		t.peer.host = a.Text()
	}
	if a, ok := m.Find(AVPVendorName); ok {
		t.peer.vendor = a.Text()
	}
	if a, ok := m.Find(AVPFirmwareRevision); ok {
		t.peer.firmware, _ = a.Uint16()
	}
	if a, ok := m.Find(AVPFramingCapabilities); ok {
		t.peer.framing, _ = a.Uint32()
	}
	if a, ok := m.Find(AVPBearerCapabilities); ok {
		t.peer.bearer, _ = a.Uint32()
	}
	if a, ok := m.Find(AVPRouterID); ok {
		t.peer.routerID, _ = a.Uint32()
	}
	if a, ok := m.Find(AVPPseudowireCapabilities); ok {
		t.peer.pwCaps, _ = a.PseudowireCapabilities()
	}
	if m.Version == Version2 {
		a, _ := m.Find(AVPProtocolVersion)
		if ver, rev, err := a.ProtocolVersion(); err != nil || ver != ProtocolVersionV2 || rev != ProtocolRevisionV2 {
			// RFC 2661 §4.4.2: result 5, the Error Code is the highest version supported.
			return bad(StopCCNBadVersion, ErrorCode(uint16(ProtocolVersionV2)<<8|uint16(ProtocolRevisionV2)), "protocol version not supported")
		}
	}
	if a, ok := m.Find(AVPReceiveWindowSize); ok {
		w, _ := a.Uint16()
		if w == 0 {
			return bad(StopCCNGeneralError, ErrorOutOfRange, "receive window size 0") // RFC 2661 §4.4.3
		}
		t.peer.window = w
		t.handle(t.e.now(), t.tr.SetPeerWindow(t.e.now(), w))
	}
	return nil
}

// onSCCRQ: a responder's first message (RFC 2661 §6.1, RFC 3931 §6.1).
func (t *tunnel) onSCCRQ(m *Message) {
	if t.state != tunnelIdle || t.spec.initiator {
		t.fsm(tevRxSCCRQ) // an SCCRQ in an open tunnel is an FSM error
		return
	}
	res := t.readPeer(m)
	if res == nil {
		res = t.checkChallenge(m)
	}
	if res == nil && t.noDigest {
		t.e.m.authFailures.Inc()
		res = &ResultError{Result: uint16(StopCCNNotAuthorized), Message: "control message authentication required"}
	}
	if res != nil {
		t.setResult(*res, "SCCRQ refused: "+res.Message)
		t.fsm(tevRxSCCRQBad)
		return
	}
	t.fsm(tevRxSCCRQ)
}

// checkChallenge takes the peer's Challenge (RFC 2661 §5.1.1): we can only answer it with
// a secret.
func (t *tunnel) checkChallenge(m *Message) *ResultError {
	a, ok := m.Find(AVPChallenge)
	if !ok || m.Version != Version2 {
		return nil
	}
	if t.p.secret == nil {
		t.e.m.authFailures.Inc()
		return &ResultError{Result: uint16(StopCCNNotAuthorized), Message: "challenged, but no secret is configured"}
	}
	t.peerChal = append([]byte(nil), a.Value...)
	return nil
}

// checkResponse checks the peer's answer to our Challenge, carried in a message of type
// carrier (RFC 2661 §4.2, §5.1.1).
func (t *tunnel) checkResponse(m *Message, carrier MessageType) *ResultError {
	if t.challenge == nil {
		return nil
	}
	a, ok := m.Find(AVPChallengeResponse)
	if !ok || !VerifyChallengeResponse(carrier, t.p.secret, t.challenge, a.Value) {
		t.e.m.authFailures.Inc()
		msg := "bad challenge response"
		if !ok {
			msg = "no challenge response"
		}
		return &ResultError{Result: uint16(StopCCNNotAuthorized), Message: msg}
	}
	return nil
}

// onSCCRP: the initiator's reply (RFC 2661 §6.2, RFC 3931 §6.2).
func (t *tunnel) onSCCRP(m *Message) {
	if t.state != tunnelWaitCtlReply {
		t.fsm(tevRxSCCRP)
		return
	}
	res := t.readPeer(m)
	if res == nil {
		res = t.checkResponse(m, MsgSCCRP)
	}
	if res == nil {
		res = t.checkChallenge(m)
	}
	if res == nil && t.dig != nil && t.dig.RemoteNonce == nil {
		res = &ResultError{Result: uint16(StopCCNNotAuthorized), Message: "no control message authentication nonce"}
	}
	if res == nil {
		res = t.followAnswer()
	}
	if res != nil {
		t.setResult(*res, "SCCRP refused: "+res.Message)
		t.fsm(tevRxSCCRPBad)
		return
	}
	t.fsm(tevRxSCCRP)
}

// followAnswer adopts the port an acceptable SCCRP came from when it is not the one our
// SCCRQ went to: the responder may answer from any port, and the rest of the tunnel,
// control and data, then uses it (RFC 2661 §8.1). The data plane tunnel is established
// (its socket connected to that port) at once, so that the SCCCN goes there.
func (t *tunnel) followAnswer() *ResultError {
	from := netip.AddrPortFrom(t.rxFrom.Addr().Unmap(), t.rxFrom.Port())
	if t.spec.encap != kernel.EncapUDP || !from.IsValid() || from == t.spec.peer || from.Addr() != t.spec.peer.Addr() {
		return nil
	}
	t.answered = from
	t.log.Info("peer answered from another port: following it (RFC 2661 §8.1)", zap.Stringer("port", from))
	if err := t.kt.Establish(t.peerID, from); err != nil {
		t.log.Warn("cannot establish the data plane tunnel", zap.Error(err))
		return &ResultError{Result: uint16(StopCCNGeneralError), ErrorCode: uint16(ErrorInsufficientResources), Message: "data plane error"}
	}
	return nil
}

// onSCCCN: the responder's last step (RFC 2661 §6.3, RFC 3931 §6.3).
func (t *tunnel) onSCCCN(m *Message) {
	if t.state != tunnelWaitCtlConn {
		t.fsm(tevRxSCCCN)
		return
	}
	if res := t.checkResponse(m, MsgSCCCN); res != nil {
		t.setResult(*res, "SCCCN refused: "+res.Message)
		t.fsm(tevRxSCCCNBad)
		return
	}
	t.fsm(tevRxSCCCN)
}

// onStopCCN: the peer clears the tunnel (RFC 2661 §6.4, §5.7).
func (t *tunnel) onStopCCN(m *Message) {
	res := ResultError{}
	if a, ok := m.Find(AVPResultCode); ok {
		res, _ = a.ResultCode()
	}
	t.byPeer = true
	t.setResult(res, fmt.Sprintf("peer sent StopCCN: %v", StopCCNResult(res.Result)))
	t.log.Info("StopCCN received", zap.Uint16("result", res.Result), zap.Uint16("error", res.ErrorCode), zap.String("message", res.Message))
	t.fsm(tevRxStopCCN)
}

// hello are the AVPs describing us in SCCRQ and SCCRP.
func (t *tunnel) hello(typ MessageType) []AVP {
	var avps []AVP
	if t.spec.version == Version2 {
		avps = append(avps,
			NewProtocolVersion(ProtocolVersionV2, ProtocolRevisionV2),
			NewString(AVPHostName, t.p.hostName),
			NewUint32(AVPFramingCapabilities, FramingSync|FramingAsync),
			NewUint16(AVPAssignedTunnelID, uint16(t.id)),
			NewUint16(AVPFirmwareRevision, firmwareRevision),
		)
	} else {
		avps = append(avps,
			NewString(AVPHostName, t.p.hostName),
			NewUint32(AVPRouterID, t.p.routerID),
			NewUint32(AVPAssignedControlConnID, t.id),
			NewPseudowireCapabilities(PWEthernet, PWPPP),
		)
		if t.dig != nil {
			avps = append(avps, NewNonce(t.nonce))
		}
	}
	avps = append(avps,
		NewString(AVPVendorName, vendorName),
		NewUint16(AVPReceiveWindowSize, t.tr.cfg.RxWindow),
	)
	if t.spec.version == Version2 && t.p.secret != nil {
		t.challenge = t.e.randBytes(16)
		avps = append(avps, NewBytes(AVPChallenge, t.challenge))
	}
	if typ == MsgSCCRQ && t.p.prof.TieBreaker {
		t.tie, t.sentTie = t.e.randUint64(), true
		avps = append(avps, NewUint64(AVPTieBreaker, t.tie))
	}
	return avps
}

func (t *tunnel) sendSCCRQ() {
	t.send(&Message{Type: MsgSCCRQ, AVPs: t.hello(MsgSCCRQ)})
}

func (t *tunnel) sendSCCRP() {
	avps := t.hello(MsgSCCRP)
	if t.peerChal != nil {
		r := ChallengeResponse(MsgSCCRP, t.p.secret, t.peerChal)
		avps = append(avps, NewBytes(AVPChallengeResponse, r[:]))
	}
	t.send(&Message{Type: MsgSCCRP, AVPs: avps})
}

func (t *tunnel) sendSCCCN() {
	var avps []AVP
	if t.peerChal != nil {
		r := ChallengeResponse(MsgSCCCN, t.p.secret, t.peerChal)
		avps = append(avps, NewBytes(AVPChallengeResponse, r[:]))
	}
	t.send(&Message{Type: MsgSCCCN, AVPs: avps})
}

func (t *tunnel) sendStopCCN() {
	var avps []AVP
	if t.spec.version == Version2 {
		avps = append(avps, NewUint16(AVPAssignedTunnelID, uint16(t.id)))
	} else {
		avps = append(avps, NewUint32(AVPAssignedControlConnID, t.id))
	}
	avps = append(avps, t.result.AVP())
	t.send(&Message{Type: MsgStopCCN, AVPs: avps})
}

// tieBreak answers an SCCRQ from the peer we are opening a tunnel to (RFC 2661 §4.4.3,
// RFC 3931 §5.4.3): the lower tie breaker wins, a tie breaker beats none, equal values
// lose on both sides. The loser discards its tunnel silently.
//
// The listener asks while the peer's SCCRQ waits, and the peer may have answered our
// SCCRQ meanwhile: an established tunnel of ours that won still drops the losing SCCRQ
// that arrives late.
func (t *tunnel) tieBreak(theirs *uint64) tieOutcome {
	if t.state == tunnelEstablished && t.spec.initiator && t.sentTie && theirs != nil && *theirs > t.tie {
		return tieWon
	}
	if t.state != tunnelWaitCtlReply {
		return tieNone
	}
	var out tieOutcome
	switch {
	case !t.sentTie && theirs == nil:
		return tieNone
	case t.sentTie && theirs == nil:
		return tieWon
	case !t.sentTie, *theirs < t.tie:
		out = tieLost
	case *theirs == t.tie:
		out = tieEqual
	default:
		return tieWon
	}
	t.setResult(ResultError{Result: uint16(StopCCNAlreadyExists), Message: "lost the tie breaker"}, "lost the tie breaker to the peer's SCCRQ")
	t.fsm(tevRxSCCRQTieLost)
	return out
}
