package l2tp

import (
	"fmt"

	"go.uber.org/zap"

	"github.com/probox/probox/kernel"
)

// Session messages of the tunnel actor: ICRQ/ICRP/ICCN, OCRQ/OCRP/OCCN, CDN, WEN and SLI
// (RFC 2661 §6.7-§6.16, RFC 3931 §6.5-§6.14), received and sent.

// sessionIDOf returns our session ID a session message is addressed to: the header's
// Session ID (L2TPv2) or the Remote Session ID AVP (L2TPv3). ICRQ and OCRQ carry 0.
func (t *tunnel) sessionIDOf(m *Message) uint32 {
	if m.Version == Version2 {
		return uint32(m.SessionID)
	}
	if a, ok := m.Find(AVPRemoteSessionID); ok {
		v, _ := a.Uint32()
		return v
	}
	return 0
}

// peerSessionIDOf returns the sender's session ID: Assigned Session ID (L2TPv2) or Local
// Session ID (L2TPv3).
func peerSessionIDOf(m *Message) uint32 {
	if m.Version == Version2 {
		if a, ok := m.Find(AVPAssignedSessionID); ok {
			v, _ := a.Uint16()
			return uint32(v)
		}
		return 0
	}
	if a, ok := m.Find(AVPLocalSessionID); ok {
		v, _ := a.Uint32()
		return v
	}
	return 0
}

// onSessionMessage routes a session message to its session.
func (t *tunnel) onSessionMessage(m *Message) {
	sid := t.sessionIDOf(m)
	var s *session
	if sid != 0 {
		s = t.sessions[sid]
	}
	if s == nil && m.Type == MsgCDN {
		// A CDN may come before the peer learnt our session ID: find it by the peer's.
		if p := peerSessionIDOf(m); p != 0 {
			for _, c := range t.sessions {
				if c.peerID == p {
					s = c
				}
			}
		}
	}
	switch {
	case s == nil && sid == 0 && m.Type == MsgICRQ:
		t.onCallRequest(m, roleICRQRecipient)
		return
	case s == nil && sid == 0 && m.Type == MsgOCRQ:
		t.onCallRequest(m, roleOCRQRecipient)
		return
	case s == nil:
		t.log.Debug("session message for no session", zap.Stringer("type", m.Type), zap.Uint32("session_id", sid))
		return
	}
	switch m.Type {
	case MsgICRQ:
		t.sfsm(s, sevRxICRQ)
	case MsgOCRQ:
		t.sfsm(s, sevRxOCRQ)
	case MsgICRP:
		t.onReply(s, m, roleICRQSender, sevRxICRP, sevRxICRPBad)
	case MsgOCRP:
		t.onReply(s, m, roleOCRQSender, sevRxOCRP, sevRxOCRPBad)
	case MsgICCN:
		t.onConnected(s, m, roleICRQRecipient, sessWaitConnect, sevRxICCN, sevRxICCNBad)
	case MsgOCCN:
		t.onConnected(s, m, roleOCRQSender, sessWaitConnect, sevRxOCCN, sevRxOCCNBad)
	case MsgCDN:
		t.onCDN(s, m)
	case MsgWEN:
		t.onWEN(s, m)
	case MsgSLI:
		t.onSLI(s, m)
	}
}

// onCallRequest handles an ICRQ (we are the LNS of an incoming call) or an OCRQ (we are
// the LAC of an outgoing call).
func (t *tunnel) onCallRequest(m *Message, role callRole) {
	peerSID := peerSessionIDOf(m)
	if peerSID == 0 {
		t.peerWarn("call request without a session ID ignored", zap.Stringer("type", m.Type))
		return
	}
	refuse := func(res ResultError, why string) {
		t.e.m.setupFailure("session", res.Result)
		t.peerWarn("call refused", zap.Stringer("type", m.Type), zap.String("reason", why))
		t.sendCDNTo(peerSID, 0, res)
	}
	if t.state != tunnelEstablished {
		refuse(ResultError{Result: uint16(CDNGeneralError), ErrorCode: uint16(ErrorNoControlConnection)}, "tunnel not established")
		return
	}
	if role == roleOCRQRecipient && t.spec.name == "" {
		// We have no dial-out bearer. We place calls only on configured tunnels (we chose
		// that LNS), as the called system itself; elsewhere an outgoing call gets result 5,
		// "no appropriate facilities available, permanent condition".
		refuse(ResultError{Result: uint16(CDNPermanentFacilities), Message: "outgoing calls are not accepted on this tunnel"}, "outgoing call on a network-initiated tunnel")
		return
	}
	sp := t.p.sessionParamsFor("")
	if m.Version == Version3 {
		a, _ := m.Find(AVPPseudowireType)
		v, _ := a.Uint16()
		switch PseudowireType(v) {
		case PWPPP:
			sp.pw = kernel.PWPPP
		case PWEthernet:
			sp.pw = kernel.PWEthernet
		default:
			refuse(ResultError{Result: uint16(CDNUnsupportedPW), Message: fmt.Sprintf("unsupported pseudowire type %v", PseudowireType(v))}, "pseudowire type") // RFC 3931 §5.4.2
			return
		}
	}
	s, err := t.newSession(role, sp, 0)
	if err != nil {
		// RFC 2661 §4.4.2 result 4: "call failed due to lack of appropriate facilities
		// being available - temporary condition".
		refuse(ResultError{Result: uint16(CDNTemporaryFacilities), Message: err.Error()}, err.Error())
		return
	}
	s.peerID = peerSID
	ok, bad := sevRxICRQ, sevRxICRQBad
	if role == roleOCRQRecipient {
		ok, bad = sevRxOCRQ, sevRxOCRQBad
	}
	if res := t.readCallAVPs(s, m); res != nil {
		s.setResult(*res, res.Message)
		t.sfsm(s, bad)
		return
	}
	t.sfsm(s, ok)
}

// onReply handles an ICRP or OCRP.
func (t *tunnel) onReply(s *session, m *Message, role callRole, ok, bad sessionEvent) {
	if s.fsm.role != role || s.fsm.state != sessWaitReply {
		t.sfsm(s, ok) // out of place: the machine answers with a CDN
		return
	}
	s.peerID = peerSessionIDOf(m)
	res := t.readCallAVPs(s, m)
	if res == nil && s.peerID == 0 {
		res = &ResultError{Result: uint16(CDNGeneralError), ErrorCode: uint16(ErrorInvalidSessionID), Message: "no session ID"}
	}
	if res != nil {
		s.setResult(*res, res.Message)
		t.sfsm(s, bad)
		return
	}
	t.sfsm(s, ok)
}

// onConnected handles an ICCN or OCCN.
func (t *tunnel) onConnected(s *session, m *Message, role callRole, want sessionState, ok, bad sessionEvent) {
	if s.fsm.role != role || s.fsm.state != want {
		t.sfsm(s, ok)
		return
	}
	if res := t.readCallAVPs(s, m); res != nil {
		s.setResult(*res, res.Message)
		t.sfsm(s, bad)
		return
	}
	t.sfsm(s, ok)
}

// onCDN: the peer disconnects the call (RFC 2661 §6.14).
func (t *tunnel) onCDN(s *session, m *Message) {
	res := ResultError{}
	if a, ok := m.Find(AVPResultCode); ok {
		res, _ = a.ResultCode()
	}
	if a, ok := m.Find(AVPQ931CauseCode); ok {
		if c, err := a.Q931Cause(); err == nil {
			s.q931 = &c
		}
	}
	if a, ok := m.Find(AVPPPPDisconnectCauseCode); ok {
		if c, err := a.PPPDisconnectCause(); err == nil {
			s.pppCause = &c
		}
	}
	s.byPeer = true
	s.result, s.reason = &res, fmt.Sprintf("peer sent CDN: %v", CDNResult(res.Result))
	if res.Message != "" {
		s.reason += ": " + res.Message
	}
	t.sfsm(s, sevRxCDN)
}

// onWEN records the peer's WAN error counters (RFC 2661 §6.15, RFC 3931 §6.12).
func (t *tunnel) onWEN(s *session, m *Message) {
	if a, ok := m.Find(AVPCallErrors); ok {
		if c, err := a.CallErrors(); err == nil {
			s.wen = c
			s.wenCount++
		}
	}
}

// onSLI takes a Set-Link-Info (RFC 2661 §6.16, RFC 3931 §6.13). The ACCM concerns
// asynchronous HDLC framing, which no data plane here does: it is recorded and logged.
func (t *tunnel) onSLI(s *session, m *Message) {
	s.sliCount++
	if a, ok := m.Find(AVPACCM); ok {
		if c, err := a.ACCM(); err == nil {
			s.accm = c
			s.log.Debug("SLI: ACCM", zap.Uint32("send", c.Send), zap.Uint32("receive", c.Receive))
		}
	}
	if a, ok := m.Find(AVPCircuitStatus); ok {
		v, _ := a.Uint16()
		s.log.Debug("SLI: circuit status", zap.Bool("active", v&CircuitActive != 0))
	}
}

// sessionProtocolError clears the session of an invalid session message (RFC 2661 §4.1:
// an unknown M-bit AVP in a session message terminates that session).
func (t *tunnel) sessionProtocolError(m *Message, res ResultError) {
	if sid := t.sessionIDOf(m); sid != 0 {
		if s := t.sessions[sid]; s != nil {
			t.failSession(s, res, "invalid "+m.Type.String()+": "+res.Message)
			return
		}
	}
	if m.Type == MsgICRQ || m.Type == MsgOCRQ {
		if p := peerSessionIDOf(m); p != 0 {
			t.e.m.setupFailure("session", res.Result)
			t.sendCDNTo(p, 0, res)
		}
	}
}

// readCallAVPs takes what a call message says about the call, and checks the L2TPv3 data
// channel parameters; a non-nil result refuses the message.
func (t *tunnel) readCallAVPs(s *session, m *Message) *ResultError {
	u32 := func(typ AVPType) (uint32, bool) {
		a, ok := m.Find(typ)
		if !ok {
			return 0, false
		}
		v, err := a.Uint32()
		return v, err == nil
	}
	u64 := func(typ AVPType) (uint64, bool) {
		a, ok := m.Find(typ)
		if !ok {
			return 0, false
		}
		v, err := a.Uint64()
		return v, err == nil
	}
	text := func(typ AVPType, dst *string) {
		if a, ok := m.Find(typ); ok {
			*dst = a.Text()
		}
	}
	if v, ok := u32(AVPCallSerialNumber); ok && (m.Type == MsgICRQ || m.Type == MsgOCRQ) {
		s.serial = v
	}
	if v, ok := u32(AVPTxConnectSpeed); ok {
		s.txSpeed = uint64(v)
	}
	if v, ok := u32(AVPRxConnectSpeed); ok {
		s.rxSpeed = uint64(v)
	}
	if v, ok := u64(AVPTxConnectSpeedBPS); ok {
		s.txSpeed = v
	}
	if v, ok := u64(AVPRxConnectSpeedBPS); ok {
		s.rxSpeed = v
	}
	if v, ok := u32(AVPBearerType); ok {
		s.bearer = v
	}
	if v, ok := u32(AVPFramingType); ok {
		s.framing = v
	}
	if v, ok := u32(AVPPhysicalChannelID); ok {
		s.physChan = v
	}
	text(AVPCallingNumber, &s.calling)
	text(AVPCalledNumber, &s.called)
	text(AVPSubAddress, &s.sub)
	text(AVPRemoteEndID, &s.remoteEnd)
	if _, ok := m.Find(AVPSequencingRequired); ok && m.Version == Version2 {
		s.peerSeq = true // RFC 2661 §4.4.4: sequence numbers on the data channel, both ways
	}
	t.readProxy(s, m)
	if m.Version != Version3 {
		return nil
	}
	if a, ok := m.Find(AVPAssignedCookie); ok {
		c, err := a.Cookie()
		if err != nil {
			return &ResultError{Result: uint16(CDNGeneralError), ErrorCode: uint16(ErrorLength), Message: "bad cookie"}
		}
		s.peerCookie = append([]byte(nil), c...)
	}
	if a, ok := m.Find(AVPL2SpecificSublayer); ok {
		// RFC 3931 §5.4.4: the sender requires this sublayer on the data we send it. The
		// data plane uses one sublayer both ways, so we adopt the peer's.
		v, _ := a.Uint16()
		switch v {
		case L2SSNone:
			s.l2spec = kernel.L2SpecNone
		case L2SSDefault:
			s.l2spec = kernel.L2SpecDefault
		default:
			return &ResultError{Result: uint16(CDNGeneralError), ErrorCode: uint16(ErrorOutOfRange), Message: fmt.Sprintf("unsupported L2-Specific Sublayer %d", v)}
		}
	}
	if a, ok := m.Find(AVPDataSequencing); ok {
		v, _ := a.Uint16()
		s.peerSeq = v != DataSeqNone // RFC 3931 §5.4.4: the sender requires sequenced data
	}
	if s.l2spec == kernel.L2SpecNone {
		s.sendSeq, s.recvSeq = false, false
		if s.peerSeq {
			// RFC 3931 §5.4.2 result 15: sequencing required without a valid L2-Specific
			// Sublayer.
			return &ResultError{Result: uint16(CDNSequencingNoL2SS), Message: "sequencing needs the default L2-Specific Sublayer"}
		}
	}
	return nil
}

// readProxy takes the proxy LCP and authentication AVPs of an ICCN (RFC 2661 §4.4.5).
func (t *tunnel) readProxy(s *session, m *Message) {
	var lcp ProxyLCP
	haveLCP := false
	for typ, dst := range map[AVPType]*[]byte{
		AVPInitialReceivedLCPConfReq: &lcp.InitialReceived,
		AVPLastSentLCPConfReq:        &lcp.LastSent,
		AVPLastReceivedLCPConfReq:    &lcp.LastReceived,
	} {
		if a, ok := m.Find(typ); ok {
			*dst = append([]byte{}, a.Value...)
			haveLCP = true
		}
	}
	if haveLCP {
		s.proxyLCP = &lcp
	}
	a, ok := m.Find(AVPProxyAuthenType)
	if !ok {
		return
	}
	pa := &ProxyAuth{}
	pa.Type, _ = a.Uint16()
	if a, ok := m.Find(AVPProxyAuthenName); ok {
		pa.Name = a.Text()
	}
	if a, ok := m.Find(AVPProxyAuthenChallenge); ok {
		pa.Challenge = append([]byte{}, a.Value...)
	}
	if a, ok := m.Find(AVPProxyAuthenID); ok {
		pa.ID, _ = a.ProxyAuthenID()
	}
	if a, ok := m.Find(AVPProxyAuthenResponse); ok {
		pa.Response = append([]byte{}, a.Value...)
	}
	s.proxyAuth = pa
}

// sendSession sends a call message of type typ for s.
func (t *tunnel) sendSession(s *session, typ MessageType) {
	m := &Message{Type: typ}
	if typ != MsgICRQ && typ != MsgOCRQ {
		m.SessionID = uint16(s.peerID) // L2TPv2 header; L2TPv3 uses the AVP below
	}
	if t.spec.version == Version2 {
		m.AVPs = t.v2CallAVPs(s, typ)
	} else {
		m.SessionID = 0
		m.AVPs = t.v3CallAVPs(s, typ)
	}
	t.send(m)
}

// v2CallAVPs are the AVPs of an L2TPv2 call message (RFC 2661 §6.7-§6.12).
func (t *tunnel) v2CallAVPs(s *session, typ MessageType) []AVP {
	avps := []AVP{}
	opt := func(typ AVPType, v string) {
		if v != "" {
			avps = append(avps, NewString(typ, v))
		}
	}
	switch typ {
	case MsgICRQ:
		avps = append(avps, NewUint16(AVPAssignedSessionID, uint16(s.id)), NewUint32(AVPCallSerialNumber, s.serial))
		if s.bearer != 0 {
			avps = append(avps, NewUint32(AVPBearerType, s.bearer))
		}
		if s.physChan != 0 {
			avps = append(avps, NewUint32(AVPPhysicalChannelID, s.physChan))
		}
		opt(AVPCallingNumber, s.calling)
		opt(AVPCalledNumber, s.called)
		opt(AVPSubAddress, s.sub)
	case MsgICRP, MsgOCRP:
		avps = append(avps, NewUint16(AVPAssignedSessionID, uint16(s.id)))
	case MsgICCN, MsgOCCN:
		avps = append(avps, NewUint32(AVPTxConnectSpeed, uint32(min(s.txSpeed, 0xffffffff))), NewUint32(AVPFramingType, FramingSync))
		if s.rxSpeed != 0 {
			avps = append(avps, NewUint32(AVPRxConnectSpeed, uint32(min(s.rxSpeed, 0xffffffff))))
		}
		if s.recvSeq {
			avps = append(avps, NewEmpty(AVPSequencingRequired))
		}
		if typ == MsgICCN {
			avps = append(avps, proxyAVPs(s)...)
		}
	case MsgOCRQ:
		avps = append(avps,
			NewUint16(AVPAssignedSessionID, uint16(s.id)),
			NewUint32(AVPCallSerialNumber, s.serial),
			NewUint32(AVPMinimumBPS, 0),
			NewUint32(AVPMaximumBPS, 0xffffffff),
			NewUint32(AVPBearerType, BearerDigital|BearerAnalog),
			NewUint32(AVPFramingType, FramingSync|FramingAsync),
			NewString(AVPCalledNumber, s.called),
		)
		opt(AVPSubAddress, s.sub)
	}
	return avps
}

// v3CallAVPs are the AVPs of an L2TPv3 call message (RFC 3931 §6.6-§6.11).
func (t *tunnel) v3CallAVPs(s *session, typ MessageType) []AVP {
	avps := []AVP{NewUint32(AVPLocalSessionID, s.id), NewUint32(AVPRemoteSessionID, s.peerID)}
	dataChannel := func() {
		l2ss := L2SSNone
		if s.l2spec == kernel.L2SpecDefault {
			l2ss = L2SSDefault
		}
		avps = append(avps, NewUint16(AVPL2SpecificSublayer, l2ss))
		if s.recvSeq {
			avps = append(avps, NewUint16(AVPDataSequencing, DataSeqAll))
		}
	}
	switch typ {
	case MsgICRQ, MsgOCRQ:
		avps = append(avps,
			NewUint32(AVPSerialNumber, s.serial),
			NewUint16(AVPPseudowireType, uint16(pwTypeOf(s.pw))),
			NewString(AVPRemoteEndID, s.remoteEnd),
			NewUint16(AVPCircuitStatus, CircuitActive|CircuitNew),
		)
		if len(s.cookie) > 0 {
			avps = append(avps, NewBytes(AVPAssignedCookie, s.cookie))
		}
		dataChannel()
		if s.txSpeed != 0 {
			avps = append(avps, NewUint64(AVPTxConnectSpeedBPS, s.txSpeed))
		}
		if s.physChan != 0 && typ == MsgICRQ {
			avps = append(avps, NewUint32(AVPPhysicalChannelID, s.physChan))
		}
		if s.pw == kernel.PWPPP && typ == MsgICRQ {
			if s.calling != "" {
				avps = append(avps, NewString(AVPCallingNumber, s.calling))
			}
			if s.called != "" {
				avps = append(avps, NewString(AVPCalledNumber, s.called))
			}
		}
	case MsgICRP, MsgOCRP:
		avps = append(avps, NewUint16(AVPCircuitStatus, CircuitActive|CircuitNew))
		if len(s.cookie) > 0 {
			avps = append(avps, NewBytes(AVPAssignedCookie, s.cookie))
		}
		dataChannel()
	case MsgICCN, MsgOCCN:
		dataChannel()
		if s.txSpeed != 0 {
			avps = append(avps, NewUint64(AVPTxConnectSpeedBPS, s.txSpeed))
		}
		if typ == MsgICCN {
			avps = append(avps, NewUint16(AVPCircuitStatus, CircuitActive))
		}
	}
	return avps
}

// proxyAVPs are the proxy LCP and authentication AVPs of an ICCN (RFC 2661 §4.4.5).
func proxyAVPs(s *session) []AVP {
	var avps []AVP
	if l := s.proxyLCP; l != nil {
		avps = append(avps,
			NewBytes(AVPInitialReceivedLCPConfReq, l.InitialReceived),
			NewBytes(AVPLastSentLCPConfReq, l.LastSent),
			NewBytes(AVPLastReceivedLCPConfReq, l.LastReceived))
	}
	if a := s.proxyAuth; a != nil {
		avps = append(avps, NewUint16(AVPProxyAuthenType, a.Type))
		if a.Name != "" {
			avps = append(avps, NewString(AVPProxyAuthenName, a.Name))
		}
		if a.Challenge != nil {
			avps = append(avps, NewBytes(AVPProxyAuthenChallenge, a.Challenge))
		}
		if a.Type == ProxyAuthenCHAP || a.Type == ProxyAuthenMSCHAPv1 {
			avps = append(avps, NewProxyAuthenID(a.ID))
		}
		if a.Response != nil {
			avps = append(avps, NewBytes(AVPProxyAuthenResponse, a.Response))
		}
	}
	return avps
}

// sendCDN tells the peer that s is disconnected (RFC 2661 §6.14, RFC 3931 §6.11).
func (t *tunnel) sendCDN(s *session) {
	res := ResultError{Result: uint16(CDNGeneralError)}
	if s.result != nil {
		res = *s.result
	}
	t.sendCDNTo(s.peerID, s.id, res, s.q931avp(), s.causeAVP(t.spec.version))
}

// sendCDNTo sends a CDN to the peer's session peerSID from our session ours (0 when we
// refuse a call before it got a session). extra AVPs are added when non-nil.
func (t *tunnel) sendCDNTo(peerSID, ours uint32, res ResultError, extra ...*AVP) {
	m := &Message{Type: MsgCDN, AVPs: []AVP{res.AVP()}}
	if t.spec.version == Version2 {
		m.SessionID = uint16(peerSID)
		m.AVPs = append(m.AVPs, NewUint16(AVPAssignedSessionID, uint16(ours)))
	} else {
		m.AVPs = append(m.AVPs, NewUint32(AVPLocalSessionID, ours), NewUint32(AVPRemoteSessionID, peerSID))
	}
	for _, a := range extra {
		if a != nil {
			m.AVPs = append(m.AVPs, *a)
		}
	}
	t.send(m)
}

func (s *session) q931avp() *AVP {
	if s.q931 == nil || s.byPeer {
		return nil
	}
	a := s.q931.AVP()
	return &a
}

// causeAVP is the PPP Disconnect Cause Code AVP (RFC 3145) of a CDN we send for a PPP
// session. RFC 3145 defines it for L2TPv2's CDN.
func (s *session) causeAVP(v Version) *AVP {
	if s.pppCause == nil || s.byPeer || v != Version2 {
		return nil
	}
	a := s.pppCause.AVP()
	return &a
}
