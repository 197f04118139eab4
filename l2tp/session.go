package l2tp

import (
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/probox/probox/control/event"
	"github.com/probox/probox/kernel"
)

// Sessions live inside their tunnel actor: a session is the state of one call (a pure
// sessionFSM plus what the call's messages said), its kernel session and, for PPP, the
// PPP session it was handed to. Every method here runs on the tunnel actor's goroutine.

// session is one L2TP session (call).
type session struct {
	id, peerID uint32
	fsm        sessionFSM
	params     sessionParams
	log        *zap.Logger
	created    time.Time
	since      time.Time
	upAt       time.Time
	pw         kernel.PWType

	serial               uint32
	calling, called, sub string
	remoteEnd            string
	bearer, framing      uint32
	txSpeed, rxSpeed     uint64
	physChan             uint32
	proxyLCP             *ProxyLCP
	proxyAuth            *ProxyAuth
	cookie, peerCookie   []byte
	l2spec               kernel.L2Spec
	sendSeq, recvSeq     bool
	peerSeq              bool // the peer requires sequence numbers on what we send
	info                 CallInfo
	wen                  CallErrors
	wenCount, sliCount   uint64
	accm                 ACCM
	ks                   kernel.Session
	iface                string
	ppp                  PPPSession
	pppStop              chan struct{}
	pppDone              bool
	stopping             bool // administrative delete: waiting for PPP to terminate
	admin                bool
	call                 *Call
	result               *ResultError
	reason               string
	byPeer               bool
	q931                 *Q931Cause
	pppCause             *PPPDisconnectCause
	upEvent, wentUp      bool
	deadline             time.Time
}

// newSession creates a session of role in the tunnel, with our session ID (fixed, or
// random and unique while live: RFC 2661 §3.1, RFC 3931 §4.1), counted against the limits.
func (t *tunnel) newSession(role callRole, sp sessionParams, fixed uint32) (*session, error) {
	if max := t.p.prof.MaxSessions; max > 0 && len(t.sessions) >= max {
		return nil, fmt.Errorf("%w: tunnel_profile.%s.max_sessions = %d", ErrLimit, t.spec.profile, max)
	}
	v3 := t.spec.version == Version3
	id, err := t.e.reserveSession(v3, fixed)
	if err != nil {
		return nil, err
	}
	if !v3 {
		id = fixed
		for i := 0; id == 0 && i < 1000; i++ {
			if c := t.e.randUint32() & 0xffff; c != 0 && t.sessions[c] == nil {
				id = c
			}
		}
		if id == 0 || t.sessions[id] != nil {
			t.e.releaseSession(false, 0)
			return nil, fmt.Errorf("%w: no free session ID", ErrLimit)
		}
	}
	now := t.e.now()
	s := &session{
		id:      id,
		fsm:     sessionFSM{role: role},
		params:  sp,
		created: now,
		since:   now,
		pw:      sp.pw,
		serial:  t.e.serial.Add(1),
		recvSeq: sp.prof.RequireSequence,
		sendSeq: sp.prof.SequenceNumbers,
	}
	if !v3 {
		s.pw = kernel.PWPPP // L2TPv2 carries PPP only
	} else {
		if n := sp.prof.CookieLength; n > 0 {
			s.cookie = t.e.randBytes(n) // RFC 3931 §4.1: a random cookie guards against blind insertion
		}
		if sp.prof.L2SpecSublayer == "default" {
			s.l2spec = kernel.L2SpecDefault
		} else {
			s.sendSeq, s.recvSeq = false, false // sequencing needs the default sublayer (RFC 3931 §4.6)
		}
	}
	fields := []zap.Field{zap.Uint32("session_id", id)}
	if sp.name != "" {
		fields = append(fields, zap.String("session", sp.name))
	}
	s.log = t.log.With(fields...)
	if d := sp.establishAfter; d > 0 {
		s.deadline = now.Add(d)
		t.noteDeadline(s.deadline)
	}
	t.sessions[id] = s
	t.idleSince = time.Time{}
	t.e.m.sessionEnter(false)
	t.publishSession(event.SessionCreated, s, nil)
	s.log.Debug("session created", zap.Stringer("role", role))
	return s, nil
}

// sfsm feeds a call state machine and carries out its actions. An action that closes the
// session (a failed data-plane setup) ends the list.
func (t *tunnel) sfsm(s *session, ev sessionEvent) {
	prev := s.fsm.state
	next, acts := s.fsm.on(ev)
	s.fsm.state = next
	if next != prev {
		s.since = t.e.now()
		s.log.Debug("session state", zap.Stringer("event", ev), zap.Stringer("state", next), zap.Stringer("from", prev))
	}
	for _, a := range acts {
		if s.fsm.state != next {
			return
		}
		switch a {
		case sactSendICRQ:
			t.sendSession(s, MsgICRQ)
		case sactSendICRP:
			// Create the data plane session before answering, so that the PPP frames the
			// LAC sends right after its ICCN are queued for the PPP engine rather than
			// dropped (the peer would otherwise wait a restart timer, 3 s, for LCP).
			if err := t.ensureKernelSession(s); err != nil {
				s.log.Warn("cannot create the data plane session", zap.Error(err))
				s.setResult(ResultError{Result: uint16(CDNGeneralError), ErrorCode: uint16(ErrorInsufficientResources), Message: "data plane error"}, "data plane: "+err.Error())
				t.sfsm(s, sevClose)
				return
			}
			t.sendSession(s, MsgICRP)
		case sactSendICCN:
			// The same on this side: the peer may send its first PPP frames as soon as
			// it has our ICCN, before connect below has run; without the data plane
			// session they would be dropped (seen with the kernel data plane, where the
			// LNS's first LCP Configure-Request overtook the session creation and the
			// link waited a restart timer, 3 s).
			if err := t.ensureKernelSession(s); err != nil {
				s.log.Warn("cannot create the data plane session", zap.Error(err))
				s.setResult(ResultError{Result: uint16(CDNGeneralError), ErrorCode: uint16(ErrorInsufficientResources), Message: "data plane error"}, "data plane: "+err.Error())
				t.sfsm(s, sevClose)
				return
			}
			t.sendSession(s, MsgICCN)
		case sactSendOCRQ:
			t.sendSession(s, MsgOCRQ)
		case sactSendOCRP:
			t.sendSession(s, MsgOCRP)
		case sactSendOCCN:
			t.sendSession(s, MsgOCCN)
		case sactSendCDN:
			if s.result == nil {
				res := ResultError{Result: uint16(CDNGeneralError), Message: fmt.Sprintf("unexpected %v in state %v", ev, prev)}
				if t.spec.version == Version3 {
					res = ResultError{Result: uint16(CDNFSMError), Message: res.Message}
				}
				s.setResult(res, res.Message)
			}
			t.sendCDN(s)
		case sactAnswer:
			t.answer(s)
		case sactConnect:
			t.connect(s)
		case sactCleanup:
			t.cleanupSession(s)
		}
	}
}

func (s *session) setResult(res ResultError, reason string) {
	if s.result == nil {
		s.result = &res
		s.reason = reason
	}
}

// failSession closes a session locally with a CDN carrying res.
func (t *tunnel) failSession(s *session, res ResultError, reason string) {
	s.setResult(res, reason)
	t.sfsm(s, sevClose)
}

// ensureKernelSession makes the session's data plane exist with the session's current
// parameters (sequencing may change between ICRP and ICCN; the data plane applies that in
// place).
func (t *tunnel) ensureKernelSession(s *session) error {
	cfg := kernel.SessionConfig{
		SessionID:     s.id,
		PeerSessionID: s.peerID,
		PWType:        s.pw,
		Cookie:        s.cookie,
		PeerCookie:    s.peerCookie,
		L2Spec:        s.l2spec,
		SendSeq:       s.sendSeq || s.peerSeq,
		RecvSeq:       s.recvSeq,
	}
	if s.pw == kernel.PWEthernet {
		cfg.IfName = s.params.ifName
		cfg.MTU = s.params.eth.MTU
		if cfg.MTU == 0 {
			cfg.MTU = t.p.prof.MTU - t.overhead(s) - 14 // the Ethernet header rides inside
		}
	}
	ks, err := t.kt.EnsureSession(cfg)
	if err != nil {
		return err
	}
	s.ks = ks
	s.iface = ks.Interface()
	return nil
}

// overhead is what IP, UDP and the L2TP data header add to the session's frames.
func (t *tunnel) overhead(s *session) int {
	return overhead(t.spec.version, t.spec.encap, t.spec.peer.Addr().Is6(), len(s.peerCookie), s.l2spec, s.sendSeq || s.peerSeq)
}

// maxMRU is the largest PPP MRU the tunnel's path MTU allows: less the headers and the
// PPP address, control and protocol fields (RFC 2661 §3.1 carries PPP frames with them).
func (t *tunnel) maxMRU(s *session) int {
	return t.p.prof.MTU - t.overhead(s) - 4
}

// answer is the LAC's side of an outgoing call: the local end (the data plane) is set up
// and the call is "answered" (RFC 2661 §7.5.1).
func (t *tunnel) answer(s *session) {
	if err := t.ensureKernelSession(s); err != nil {
		s.log.Warn("cannot create the data plane session", zap.Error(err))
		s.setResult(ResultError{Result: uint16(CDNGeneralError), ErrorCode: uint16(ErrorInsufficientResources), Message: "data plane error"}, "data plane: "+err.Error())
		t.sfsm(s, sevAnswerFail)
		return
	}
	t.sfsm(s, sevAnswer)
}

// connect sets up the data plane of an established call and hands it over: to PPP (the
// PPP engine), to a LAC call (its channel is bridged by the caller), or nothing more for
// an Ethernet pseudowire, which is up when its interface exists.
func (t *tunnel) connect(s *session) {
	fail := func(res ResultError, reason string) {
		s.log.Warn("cannot connect the session", zap.String("reason", reason))
		t.failSession(s, res, reason)
	}
	if err := t.ensureKernelSession(s); err != nil {
		fail(ResultError{Result: uint16(CDNGeneralError), ErrorCode: uint16(ErrorInsufficientResources), Message: "data plane error"}, "data plane: "+err.Error())
		return
	}
	switch {
	case s.pw == kernel.PWEthernet:
	case s.call != nil:
		ch, err := s.ks.Channel()
		if err != nil {
			fail(ResultError{Result: uint16(CDNGeneralError), ErrorCode: uint16(ErrorInsufficientResources), Message: "data plane error"}, "channel: "+err.Error())
			return
		}
		s.call.connected(t.id, s.id, t.peerID, s.peerID, ch)
	default:
		client := (s.fsm.role == roleICRQSender && s.params.pppClient) || s.fsm.role == roleOCRQRecipient
		if err := t.startPPP(s, client); err != nil {
			fail(ResultError{Result: uint16(CDNTemporaryFacilities), Message: "PPP unavailable"}, "ppp: "+err.Error())
			return
		}
	}
	t.markUp(s)
}

// startPPP hands the session's channel to the PPP engine.
func (t *tunnel) startPPP(s *session, client bool) error {
	if t.e.deps.PPP == nil {
		return fmt.Errorf("no PPP engine")
	}
	ch, err := s.ks.Channel()
	if err != nil {
		return err
	}
	ps, err := t.e.deps.PPP.StartPPP(PPPRequest{
		Channel:       ch,
		Client:        client,
		Profile:       s.params.pppProfile,
		MaxMRU:        t.maxMRU(s),
		TunnelID:      t.id,
		SessionID:     s.id,
		PeerTunnelID:  t.peerID,
		PeerSessionID: s.peerID,
		Peer:          t.peerAddr(),
		CallingNumber: s.calling,
		CalledNumber:  s.called,
		ProxyLCP:      s.proxyLCP,
		ProxyAuth:     s.proxyAuth,
	})
	if err != nil {
		return err
	}
	s.ppp = ps
	stop := make(chan struct{})
	s.pppStop = stop
	t.helpers.Add(1)
	go func() {
		defer t.helpers.Done()
		select {
		case <-ps.Done():
			select {
			case t.pppEnded <- s:
			case <-stop:
			case <-t.quit:
			}
		case <-stop:
		case <-t.quit:
		}
	}()
	return nil
}

// markUp records that the session is established.
func (t *tunnel) markUp(s *session) {
	now := t.e.now()
	s.upAt, s.wentUp, s.upEvent = now, true, true
	s.deadline = time.Time{}
	t.e.m.sessionLeave(false)
	t.e.m.sessionEnter(true)
	t.e.m.sessionsTotal.WithLabelValues("established").Inc()
	if s.params.name != "" && t.backoff != nil {
		delete(t.backoff, s.params.name)
	}
	s.log.Info("session up", zap.Uint32("peer_session_id", s.peerID), zap.Stringer("pw", s.pw), zap.String("interface", s.iface))
	t.publishSession(event.SessionUp, s, nil)
}

// onPPPEnded: the PPP session of s ended. The LNS (or client) clears the call with result
// 3, "call disconnected for administrative reasons" (RFC 2661 §4.4.2), and says why in a
// PPP Disconnect Cause Code AVP (RFC 3145).
func (t *tunnel) onPPPEnded(s *session) {
	if t.sessions[s.id] != s || s.fsm.state == sessClosed {
		return
	}
	s.pppDone = true
	reason := s.ppp.Reason()
	if s.stopping {
		t.sfsm(s, sevClose) // the administrative delete's result and cause are set
		return
	}
	s.pppCause = &PPPDisconnectCause{Code: 0, Direction: PPPDisconnectGlobal, Message: reason} // 0: no information
	t.failSession(s, ResultError{Result: uint16(CDNAdministrative), Message: "PPP session ended"}, "ppp: "+reason)
}

// deleteSession closes a session administratively: CDN result 3 (RFC 2661 §4.4.2). A
// running PPP session is stopped first (LCP Terminate-Request) and given pppStopWait to
// finish before the CDN.
func (t *tunnel) deleteSession(s *session, reason string) {
	s.admin = true
	res := ResultError{Result: uint16(CDNAdministrative), Message: "administrative disconnect"}
	if s.ppp != nil && !s.pppDone && s.fsm.state == sessEstablished {
		if s.stopping {
			return
		}
		s.stopping = true
		s.setResult(res, reason)
		s.pppCause = &PPPDisconnectCause{Code: 1, Direction: PPPDisconnectLocal, Message: reason} // 1: administrative disconnect
		s.ppp.Stop(reason)
		s.deadline = t.e.now().Add(pppStopWait)
		t.noteDeadline(s.deadline)
		return
	}
	t.failSession(s, res, reason)
}

// cleanupSession removes a session: PPP stopped, data plane removed, events, metrics.
func (t *tunnel) cleanupSession(s *session) {
	if t.sessions[s.id] != s {
		return
	}
	if s.ppp != nil && !s.pppDone {
		s.ppp.Stop(s.reasonText())
	}
	if s.pppStop != nil {
		close(s.pppStop)
		s.pppStop = nil
	}
	if s.ks != nil {
		if err := t.kt.DeleteSession(s.id); err != nil {
			s.log.Warn("removing the data plane session", zap.Error(err))
		}
	}
	delete(t.sessions, s.id)
	t.e.releaseSession(t.spec.version == Version3, s.id)
	t.e.m.sessionLeave(s.wentUp)
	if !s.wentUp {
		t.e.m.sessionsTotal.WithLabelValues("failed").Inc()
		if s.result != nil {
			t.e.m.setupFailure("session", s.result.Result)
		}
	}
	res := s.eventResult()
	if s.upEvent {
		s.upEvent = false
		t.publishSession(event.SessionDown, s, res)
	}
	t.publishSession(event.SessionDeleted, s, res)
	s.log.Info("session deleted", zap.String("reason", s.reason))
	if s.call != nil {
		s.call.finish(t.callResult(s))
	}
	now := t.e.now()
	if len(t.sessions) == 0 && t.state == tunnelEstablished {
		t.idleSince = now
	}
	if name := s.params.name; name != "" && !s.admin && t.p.persist && t.state == tunnelEstablished && !t.spec.static {
		if t.backoff == nil {
			t.backoff, t.retry = make(map[string]time.Duration), make(map[string]time.Time)
		}
		b := max(t.backoff[name], persistMinBackoff)
		t.backoff[name] = min(2*b, persistMaxBackoff)
		t.retry[name] = now.Add(b)
		t.noteDeadline(t.retry[name])
	}
}

// cleanupSessions clears every session of the tunnel without CDNs: the tunnel is going
// (RFC 2661 §5.7: a StopCCN clears all sessions).
func (t *tunnel) cleanupSessions() {
	for _, s := range t.sortedSessions() {
		if s.result == nil {
			res := ResultError{Result: uint16(CDNLossOfCarrier), Message: "tunnel closed"}
			if t.result != nil {
				res.Message = "tunnel closed: " + t.reason
			}
			s.setResult(res, "tunnel closed: "+t.reason)
		}
		s.fsm.state = sessClosed
		t.cleanupSession(s)
	}
}

func (s *session) reasonText() string {
	if s.reason != "" {
		return s.reason
	}
	return "l2tp session closed"
}

func (s *session) eventResult() *event.Result {
	if s.result == nil {
		return &event.Result{Reason: s.reason}
	}
	return &event.Result{Code: s.result.Result, Error: s.result.ErrorCode, Message: s.result.Message, Reason: s.reason}
}

func (t *tunnel) sortedSessions() []*session {
	ss := make([]*session, 0, len(t.sessions))
	for _, s := range t.sessions {
		ss = append(ss, s)
	}
	slices.SortFunc(ss, func(a, b *session) int { return int(int64(a.id) - int64(b.id)) })
	return ss
}

// noteDeadline lowers the session timer to at.
func (t *tunnel) noteDeadline(at time.Time) {
	if !at.IsZero() && (t.sessAt.IsZero() || at.Before(t.sessAt)) {
		t.sessAt = at
	}
}

// sessionTimers runs the session deadlines due at now: establishment timeouts, PPP stop
// waits and configured sessions to bring up again.
func (t *tunnel) sessionTimers(now time.Time) {
	t.sessAt = time.Time{}
	for _, s := range t.sortedSessions() {
		if s.deadline.IsZero() {
			continue
		}
		if now.Before(s.deadline) {
			t.noteDeadline(s.deadline)
			continue
		}
		s.deadline = time.Time{}
		switch {
		case s.stopping:
			t.sfsm(s, sevClose) // PPP did not finish in time: CDN anyway
		case s.fsm.state != sessEstablished:
			res := ResultError{Result: uint16(CDNTimeout), Message: "not established in time"} // RFC 2661 §4.4.2
			if t.spec.version == Version3 {
				res.Result = uint16(CDNFSMError) // RFC 3931 §5.4.2: "finite state machine error or timeout"
			}
			t.failSession(s, res, "not established within system.session_establish_timeout")
		}
	}
	for _, name := range sortedKeys(t.retry) {
		at := t.retry[name]
		if now.Before(at) {
			t.noteDeadline(at)
			continue
		}
		delete(t.retry, name)
		if t.state == tunnelEstablished && t.configuredSession(name) == nil {
			if _, err := t.openConfiguredSession(name); err != nil {
				t.log.Warn("cannot bring the configured session up again", zap.String("session", name), zap.Error(err))
			}
		}
	}
}

// configuredSession returns the live session of configured session name.
func (t *tunnel) configuredSession(name string) *session {
	for _, s := range t.sessions {
		if s.params.name == name {
			return s
		}
	}
	return nil
}

// openConfiguredSession brings up configured session name: in a static tunnel directly,
// otherwise as an incoming call we place as LAC (ICRQ, ICRP, ICCN), which is the L2TP PPP
// client use case and the dynamic L2TPv3 pseudowire.
func (t *tunnel) openConfiguredSession(name string) (*session, error) {
	if _, ok := t.p.configured.Sessions[name]; !ok {
		return nil, fmt.Errorf("%w: no [tunnel.%s.session.%s] in the configuration", ErrNotFound, t.spec.name, name)
	}
	if t.configuredSession(name) != nil {
		return nil, fmt.Errorf("%w: session %s is up", ErrExists, name)
	}
	if t.spec.static {
		return t.openStaticSession(name)
	}
	if t.state >= tunnelClosing {
		return nil, errTunnelClosing
	}
	s, err := t.newSession(roleICRQSender, t.p.sessionParamsFor(name), 0)
	if err != nil {
		return nil, err
	}
	s.remoteEnd = name
	t.sfsm(s, sevOpen)
	if t.state == tunnelEstablished {
		t.sfsm(s, sevTunnelUp)
	}
	return s, nil
}

func (t *tunnel) publishSession(typ event.Type, s *session, res *event.Result) {
	if t.e.deps.Bus == nil {
		return
	}
	es := &event.Session{
		ID:           s.id,
		PeerID:       s.peerID,
		TunnelID:     t.id,
		PeerTunnelID: t.peerID,
		Name:         s.params.name,
		Profile:      s.params.profileName,
		PWType:       s.pw.String(),
		Interface:    s.iface,
		User:         s.info.User,
		CallingMAC:   s.info.CallingMAC,
		Service:      s.info.Service,
		CircuitID:    s.info.CircuitID,
		RemoteID:     s.info.RemoteID,
	}
	if s.ppp != nil {
		if u := s.ppp.User(); u != "" {
			es.User = u
		}
		if i := s.ppp.Interface(); i != "" && es.Interface == "" {
			es.Interface = i
		}
	}
	t.e.deps.Bus.Publish(event.Event{Type: typ, Engine: "l2tp", Tunnel: t.eventTunnel(), Session: es, Result: res})
}
