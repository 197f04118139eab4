package ppp

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/probox/probox/config"
	events "github.com/probox/probox/control/event"
	"github.com/probox/probox/kernel"
)

// A session is one PPP link, run by one actor goroutine (run) that owns every field below
// "actor state"; other goroutines only talk to it through its channels:
//
//   - frames, fed by the reader goroutine (read), which is its only writer and closes it
//     when the channel's ReadFrame fails (the carrier closed it). Its buffer (frameQueue)
//     bounds what the reader holds; while it is full the reader does not read, and the
//     data plane queues or drops (kernel.DropQueueFull).
//   - stopc (Handle.Stop), infoc (snapshots for the API), authc (results of backend calls,
//     each run in its own goroutine so that a slow RADIUS server never blocks the actor),
//     and the engine's quit channel.
//   - one time.Timer, set to the earliest of the deadlines of the logical timers (the
//     restart timers of LCP, IPCP and IPv6CP, the authentication exchange's timer and
//     overall deadline, LCP echo, CHAP re-challenge, session timeout).
//
// done is closed by the actor when it has finished: everything torn down and the result
// set. The reader then stops at its next frame or when the channel closes.

// frameQueue is the capacity of the reader → actor queue.
const frameQueue = 16

// The logical timers of a session.
type timerSlot uint8

const (
	tLCP timerSlot = iota
	tIPCP
	tIPv6CP
	tAuth         // the authentication exchange's restart timer
	tAuthDeadline // auth_timeout for the whole Authenticate phase
	tEcho         // LCP echo keepalive
	tRechallenge  // CHAP re-challenge
	tSession      // session timeout from the backend
	tStart        // the held start of LCP (StartRequest.OpenDelay)
	numTimers
)

type sessionParams struct {
	id        uint32
	req       StartRequest
	prof      config.PPPProfile
	backend   AuthBackend
	hostName  string
	localAddr netip.Addr
	chMTU     int
}

type authReply struct {
	gen uint32
	res AuthResult
	err error
}

type session struct {
	e        *Engine
	id       uint32
	name     string
	log      *zap.Logger
	ch       kernel.Channel
	role     Role
	carrier  Carrier
	cinfo    CarrierInfo
	profName string
	holdLCP  time.Duration // StartRequest.OpenDelay while LCP waits for it; 0 once started
	prof     config.PPPProfile
	backend  AuthBackend
	hostName string
	local    netip.Addr // our IPv4 address (server role)
	proxyLCP *ProxyLCP
	proxyAut *ProxyAuth
	fsmCfg   FSMConfig
	bufSize  int

	// phase is written by the actor only; the engine's index reads it for metrics.
	phase atomic.Uint32

	frames chan []byte
	stopc  chan string
	infoc  chan chan SessionInfo
	authc  chan authReply
	done   chan struct{}
	proxyc chan ProxyResult // RoleLACProxy only

	// result is written by the actor before done is closed.
	result EndResult

	// Actor state.
	lcpNeg      *lcp
	lcp         *fsm
	ipcpNeg     *ipcp
	ipcp        *fsm
	ipv6Neg     *ipv6cp
	ipv6cp      *fsm
	lcpRes      LCPResult
	lcpProxy    bool // LCP accepted from the LAC
	lcpUp       bool
	exch        AuthExchange
	authGen     uint32
	cancel      context.CancelFunc // of the running backend call
	authFails   int
	authMeth    AuthMethod
	authed      bool
	user        string
	authRes     AuthResult
	peerAddr    netip.Addr
	leased      bool
	pool        string
	v4          IPCPResult
	v4up        bool
	v6          IPv6CPResult
	v6up        bool
	unit        kernel.Unit
	up          bool
	started     time.Time
	upAt        time.Time
	ending      bool
	finishing   bool
	finished    bool
	end         EndResult
	echoOut     int
	echoOff     bool
	deadlines   [numTimers]time.Time
	timer       *time.Timer
	armed       time.Time
	wbuf        []byte
	writeErr    error
	proxyReplay bool  // the exchange replays proxy authentication (no retries)
	lastAuthID  uint8 // Identifier of the last PAP/CHAP packet received
	// LCP Configure-Requests seen (RoleLACProxy).
	initialRx, lastRx, lastTx []byte
}

var _ fsmOwner = (*session)(nil)

func newSession(e *Engine, p sessionParams) (*session, error) {
	req := p.req
	maxMRU := req.MaxMRU
	if maxMRU <= 0 {
		maxMRU = p.chMTU
	}
	if maxMRU <= 0 {
		maxMRU = defaultMRU
	}
	maxMRU = min(maxMRU, 65535)
	var methods []AuthMethod
	for _, m := range p.prof.Auth {
		if am := authMethodOf(m); am != AuthNone {
			methods = append(methods, am)
		}
	}
	lcfg := LCPConfig{
		MaxMRU: uint16(maxMRU),
		MRU:    uint16(min(p.prof.MRU, maxMRU)),
		// RFC 2516 §7: over PPPoE ACCM and ACFC MUST be rejected; L2TP accepts them
		// (see LCPConfig).
		AcceptACCM: req.Carrier == CarrierL2TP,
		AcceptACFC: req.Carrier == CarrierL2TP,
		AcceptPFC:  true,
		Rand:       e.rand,
	}
	switch req.Role {
	case RoleServer, RoleLACProxy:
		lcfg.Auth = methods
	case RoleClient:
		lcfg.AllowAuth = methods
		if len(lcfg.AllowAuth) == 0 {
			lcfg.AllowAuth = []AuthMethod{AuthCHAPMD5, AuthMSCHAPv2, AuthPAP}
		}
	}
	if err := lcfg.Validate(); err != nil {
		return nil, fmt.Errorf("ppp: start: ppp_profile.%s with max MRU %d: %w", req.Profile, maxMRU, err)
	}
	s := &session{
		e:        e,
		id:       p.id,
		name:     fmt.Sprintf("session-%d", p.id),
		ch:       req.Channel,
		role:     req.Role,
		carrier:  req.Carrier,
		cinfo:    req.Info,
		profName: req.Profile,
		holdLCP:  req.OpenDelay,
		prof:     p.prof,
		backend:  p.backend,
		hostName: p.hostName,
		local:    p.localAddr,
		proxyLCP: req.ProxyLCP,
		proxyAut: req.ProxyAuth,
		fsmCfg:   FSMConfig{RestartTimer: p.prof.RestartTimer, MaxConfigure: p.prof.MaxConfigureRequest},
		bufSize:  max(maxMRU, p.chMTU, defaultMRU) + 64,
		frames:   make(chan []byte, frameQueue),
		stopc:    make(chan string, 1),
		infoc:    make(chan chan SessionInfo),
		authc:    make(chan authReply),
		done:     make(chan struct{}),
	}
	if s.role == RoleLACProxy {
		s.proxyc = make(chan ProxyResult, 1)
	}
	s.log = e.log.With(zap.Uint32("session_id", s.id), zap.String("role", s.role.String()))
	s.lcpNeg = newLCP(lcfg)
	s.lcp = newFSM(s.fsmCfg, s.lcpNeg, s)
	return s, nil
}

// read feeds the actor the frames read from the channel. It ends when ReadFrame fails
// (closing frames), or after the actor has ended, at the next frame.
func (s *session) read() {
	if s.role != RoleLACProxy {
		defer s.e.wg.Done()
	}
	defer close(s.frames)
	buf := make([]byte, s.bufSize)
	for {
		n, err := s.ch.ReadFrame(buf)
		if err != nil {
			return
		}
		select {
		case s.frames <- bytes.Clone(buf[:n]):
		case <-s.done:
			return
		}
	}
}

// run is the actor.
func (s *session) run() {
	defer s.e.wg.Done()
	s.timer = time.NewTimer(time.Hour)
	s.timer.Stop()
	s.started = time.Now()
	s.e.publish(s.event(events.SessionCreated))
	s.log.Debug("session started", zap.String("carrier", s.carrier.String()), zap.String("profile", s.profName))
	s.setPhase(PhaseEstablish)
	if s.holdLCP > 0 && s.proxyLCP == nil {
		s.arm(tStart, s.holdLCP)
	} else {
		s.holdLCP = 0
		s.startLCP()
	}
	quit := s.e.quit
	frames := s.frames
	for {
		if s.writeErr != nil && !s.finishing {
			s.carrierLost()
		}
		if s.finishing {
			break
		}
		s.rearm()
		select {
		case f, ok := <-frames:
			if !ok {
				frames = nil
				s.carrierLost()
				continue
			}
			s.input(f)
		case <-s.timer.C:
			s.armed = time.Time{}
			s.expire()
		case reason := <-s.stopc:
			s.terminate(CauseAdmin, reason)
		case <-quit:
			quit = nil
			s.terminate(CauseShutdown, "shutdown")
		case r := <-s.authc:
			s.authReplied(r)
		case c := <-s.infoc:
			c <- s.snapshot()
		}
	}
	s.finish()
}

func (s *session) currentPhase() Phase { return Phase(s.phase.Load()) }

func (s *session) setPhase(p Phase) {
	if s.currentPhase() == p {
		return
	}
	s.phase.Store(uint32(p))
	s.log.Info("phase", zap.String("state", p.String()))
	s.e.publish(s.event(events.PPPPhase))
}

// info asks the actor for a snapshot.
func (s *session) info(ctx context.Context) (SessionInfo, error) {
	c := make(chan SessionInfo, 1)
	select {
	case s.infoc <- c:
	case <-s.done:
		return SessionInfo{}, fmt.Errorf("%w: %s", ErrNoSession, s.name)
	case <-ctx.Done():
		return SessionInfo{}, ctx.Err()
	}
	select {
	case si := <-c:
		return si, nil
	case <-ctx.Done():
		return SessionInfo{}, ctx.Err()
	}
}

// ---- timers

func (s *session) arm(t timerSlot, d time.Duration) { s.deadlines[t] = time.Now().Add(d) }

func (s *session) disarm(ts ...timerSlot) {
	for _, t := range ts {
		s.deadlines[t] = time.Time{}
	}
}

// rearm sets the one time.Timer to the earliest deadline.
func (s *session) rearm() {
	var next time.Time
	for _, d := range s.deadlines {
		if !d.IsZero() && (next.IsZero() || d.Before(next)) {
			next = d
		}
	}
	if next.Equal(s.armed) {
		return
	}
	s.armed = next
	if next.IsZero() {
		s.timer.Stop()
		return
	}
	s.timer.Reset(time.Until(next))
}

// expire runs every logical timer whose deadline has passed.
func (s *session) expire() {
	now := time.Now()
	for t := range numTimers {
		d := s.deadlines[t]
		if d.IsZero() || d.After(now) {
			continue
		}
		s.deadlines[t] = time.Time{}
		switch t {
		case tLCP:
			s.lcp.Timeout()
		case tIPCP:
			if s.ipcp != nil {
				s.ipcp.Timeout()
			}
		case tIPv6CP:
			if s.ipv6cp != nil {
				s.ipv6cp.Timeout()
			}
		case tAuth:
			if s.exch != nil {
				s.authStep(s.exch.Timeout())
			}
		case tAuthDeadline:
			s.e.countAuth(s.authMeth, authResultTimeout)
			s.end.AuthFailed = true
			s.terminate(CauseAuthTimeout, "authentication timed out")
		case tEcho:
			s.echoTick()
		case tRechallenge:
			s.rechallenge()
		case tSession:
			s.terminate(CauseSessionTimeout, "session timeout")
		case tStart:
			s.releaseLCP()
		}
	}
}

func protoTimer(p Protocol) timerSlot {
	switch p {
	case ProtoIPCP:
		return tIPCP
	case ProtoIPv6CP:
		return tIPv6CP
	}
	return tLCP
}

// ---- fsmOwner

func (s *session) send(p Protocol, code Code, id uint8, data []byte) {
	if p == ProtoLCP && code == CodeConfigureRequest && s.role == RoleLACProxy {
		s.lastTx = append(s.lastTx[:0], data...)
	}
	b := AppendFrame(s.wbuf[:0], p, nil)
	b = AppendControl(b, code, id, data)
	s.write(b)
}

func (s *session) startTimer(p Protocol, d time.Duration) { s.arm(protoTimer(p), d) }

func (s *session) stopTimer(p Protocol) { s.disarm(protoTimer(p)) }

func (s *session) thisLayerUp(p Protocol) {
	switch p {
	case ProtoLCP:
		s.lcpUp = true
		s.lcpRes = s.lcpNeg.result()
		peer := int(s.lcpRes.PeerMRU)
		for _, f := range []*fsm{s.lcp, s.ipcp, s.ipv6cp} {
			if f != nil {
				f.setPeerMRU(peer)
			}
		}
		s.log.Info("LCP up", zap.Uint16("mru", s.lcpRes.LocalMRU), zap.Uint16("peer_mru", s.lcpRes.PeerMRU),
			zap.Stringer("peer_auth", s.lcpRes.PeerAuth), zap.Stringer("local_auth", s.lcpRes.LocalAuth))
		if s.role == RoleLACProxy {
			s.lacAuthenticate()
			return
		}
		s.armEcho()
		s.authenticate()
	case ProtoIPCP:
		s.v4, s.v4up = s.ipcpNeg.result(), true
		s.networkUp()
	case ProtoIPv6CP:
		s.v6, s.v6up = s.ipv6Neg.result(), true
		s.networkUp()
	}
}

func (s *session) thisLayerDown(p Protocol) {
	switch p {
	case ProtoLCP:
		s.lcpUp = false
		s.disarm(tEcho, tRechallenge, tAuth, tAuthDeadline)
		for _, f := range []*fsm{s.ipcp, s.ipv6cp} {
			if f != nil {
				f.Down()
			}
		}
		if s.ending {
			return
		}
		if err := s.lcp.Err(); err != nil {
			// The peer terminated the link or rejected LCP: wait for This-Layer-Finished.
			c, by := causeOf(err)
			s.beginEnd(c, reasonOf(err), by)
			return
		}
		// The peer renegotiates LCP: back to Establish; authentication and the NCPs
		// follow again once LCP is up (RFC 1661 §3.3).
		s.exch = nil
		s.authGen++
		if s.cancel != nil {
			s.cancel()
			s.cancel = nil
		}
		s.authed = false
		s.setPhase(PhaseEstablish)
	case ProtoIPCP:
		s.v4up = false
		if !s.ending {
			s.configureUnit()
		}
	case ProtoIPv6CP:
		s.v6up = false
		if !s.ending {
			s.configureUnit()
		}
	}
}

func (s *session) thisLayerStarted(Protocol) {}

func (s *session) thisLayerFinished(p Protocol) {
	if p != ProtoLCP {
		s.checkNetwork()
		return
	}
	if !s.ending {
		c, by := causeOf(s.lcp.Err())
		s.beginEnd(c, reasonOf(s.lcp.Err()), by)
	}
	s.finishing = true
}

func (s *session) received(p Protocol, code Code, id uint8, data []byte) {
	if p != ProtoLCP {
		return
	}
	switch code {
	case CodeEchoReply:
		magic, _, err := ParseMagicData(data)
		if err != nil {
			return
		}
		if s.lcpRes.LocalMagic != 0 && magic == s.lcpRes.LocalMagic {
			return // our own Echo-Request came back: the link is looped; keep counting
		}
		s.echoOut = 0
	case CodeProtocolReject:
		rp, _, err := ParseProtocolReject(data)
		if err != nil {
			return
		}
		s.protocolRejected(rp)
	case CodeCodeReject:
		if c, _, err := ParseCodeReject(data); err == nil && c == CodeEchoRequest {
			s.echoOff = true // the peer does not do Echo
			s.disarm(tEcho)
		}
	default:
		if ce := s.log.Check(zap.DebugLevel, "LCP packet"); ce != nil {
			ce.Write(zap.Uint8("code", uint8(code)), zap.Uint8("id", id))
		}
	}
}

// protocolRejected routes a Protocol-Reject to the automaton it names (RFC 1661 §5.7).
func (s *session) protocolRejected(p Protocol) {
	s.log.Debug("protocol rejected by peer", zap.Stringer("protocol", p))
	switch p {
	case ProtoIPCP, ProtoIPv4:
		if s.ipcp != nil {
			s.ipcp.ProtocolRejected()
		}
	case ProtoIPv6CP, ProtoIPv6:
		if s.ipv6cp != nil {
			s.ipv6cp.ProtocolRejected()
		}
	case ProtoPAP, ProtoCHAP:
		if s.exch != nil && s.exch.Method().Protocol() == p && !s.authed {
			s.end.AuthFailed = true
			s.terminate(CauseNegotiation, "peer rejected the authentication protocol")
		}
	}
}

// ---- frames

// input handles one frame from the channel.
func (s *session) input(frame []byte) {
	s.releaseLCP() // the peer is listening: our Configure-Request will reach it
	p, info, err := ParseFrame(frame)
	if err != nil {
		s.log.Debug("malformed frame", zap.Error(err))
		return
	}
	switch p {
	case ProtoLCP:
		h, data, err := ParseControl(info)
		if err != nil {
			s.log.Debug("malformed LCP packet", zap.Error(err))
			return
		}
		if h.Code == CodeConfigureRequest && s.role == RoleLACProxy && !s.lcpUp {
			if s.initialRx == nil {
				s.initialRx = bytes.Clone(data)
			}
			s.lastRx = append(s.lastRx[:0], data...)
		}
		s.lcp.Input(h.Code, h.Identifier, data)
	case ProtoPAP, ProtoCHAP:
		// RFC 1661 §3.4: only LCP is handled before LCP is up; a packet of an
		// authentication protocol not being run is discarded.
		if !s.lcpUp || s.ending || s.exch == nil || s.exch.Method().Protocol() != p {
			return
		}
		if len(info) >= ControlHeaderLen {
			s.lastAuthID = info[1]
		}
		s.authStep(s.exch.Input(info))
	case ProtoIPCP:
		if s.ipcp != nil && s.inNetwork() {
			s.ncpInput(s.ipcp, info)
		}
	case ProtoIPv6CP:
		switch {
		case s.ipv6cp != nil && s.inNetwork():
			s.ncpInput(s.ipv6cp, info)
		case !s.prof.IPv6 && s.inNetwork() && s.role != RoleLACProxy:
			s.lcp.sendProtocolReject(p, info)
		}
	case ProtoIPv4, ProtoIPv6:
		// Network-layer data before the unit passes it: discarded (RFC 1661 §3.6).
	default:
		if s.lcpUp && s.role != RoleLACProxy && !s.ending {
			s.lcp.sendProtocolReject(p, info) // RFC 1661 §5.7
		}
	}
}

func (s *session) inNetwork() bool {
	ph := s.currentPhase()
	return s.lcpUp && (ph == PhaseNetwork || ph == PhaseRunning)
}

func (s *session) ncpInput(f *fsm, info []byte) {
	h, data, err := ParseControl(info)
	if err != nil {
		s.log.Debug("malformed NCP packet", zap.Error(err))
		return
	}
	f.Input(h.Code, h.Identifier, data)
}

func (s *session) write(b []byte) {
	s.wbuf = b[:0]
	if s.finished {
		return
	}
	if err := s.ch.WriteFrame(b); err != nil {
		if errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrClosedPipe) {
			s.writeErr = err
			return
		}
		s.log.Debug("write failed", zap.Error(err))
	}
}

func (s *session) sendInfo(p Protocol, info []byte) {
	s.write(AppendFrame(s.wbuf[:0], p, info))
}

// ---- LCP

// releaseLCP starts LCP if StartRequest.OpenDelay still holds it.
func (s *session) releaseLCP() {
	if s.holdLCP == 0 || s.ending {
		return
	}
	s.holdLCP = 0
	s.disarm(tStart)
	s.startLCP()
}

func (s *session) startLCP() {
	if s.proxyLCP != nil && s.role == RoleServer && s.prof.ProxyLCP != config.ProxyLCPRenegotiate {
		res, err := s.lcpNeg.cfg.ProxyLCP(s.proxyLCP.InitialReceived, s.proxyLCP.LastSent, s.proxyLCP.LastReceived)
		if err == nil {
			s.lcpProxy = true
			s.lcpNeg.applyProxy(res)
			s.lcp.openByProxy()
			return
		}
		s.log.Info("proxy LCP not accepted: renegotiating", zap.String("reason", err.Error()))
	}
	s.lcp.Open()
	s.lcp.Up()
}

func (s *session) armEcho() {
	if s.prof.LCPEchoInterval > 0 && !s.echoOff {
		s.echoOut = 0
		s.arm(tEcho, s.prof.LCPEchoInterval)
	}
}

// echoTick sends an LCP Echo-Request, or ends the link after lcp_echo_failure unanswered
// ones.
func (s *session) echoTick() {
	if s.lcp.State() != StateOpened || s.ending || s.echoOff {
		return
	}
	if s.echoOut >= s.prof.LCPEchoFailure {
		s.e.met.echoTimeouts.Inc()
		s.terminate(CauseEchoTimeout, fmt.Sprintf("no reply to %d LCP Echo-Requests", s.echoOut))
		return
	}
	s.echoOut++
	var buf [4]byte
	s.lcp.sendNew(CodeEchoRequest, AppendMagicData(buf[:0], s.lcpRes.LocalMagic, nil))
	s.arm(tEcho, s.prof.LCPEchoInterval)
}

// ---- authentication

// authenticate starts the Authenticate phase, or skips it when nothing is to be
// authenticated.
func (s *session) authenticate() {
	switch s.role {
	case RoleServer:
		if pa := s.proxyAut; pa != nil && s.lcpProxy {
			switch m := proxyMethod(pa, s.lcpRes); {
			case m == AuthNone && s.lcpRes.PeerAuth == AuthNone:
				// "No Authentication" from the LAC, and none agreed in LCP.
				s.authMeth = AuthProxy
				s.enterNetwork()
				return
			case m == s.lcpRes.PeerAuth:
				s.verifyProxy(pa, m)
				return
			default:
				// The relayed authentication is not the one the proxied LCP agreed on
				// (or there is none): authenticate the peer ourselves.
				s.log.Info("proxy authentication does not match proxy LCP: authenticating",
					zap.Stringer("proxy", m), zap.Stringer("lcp", s.lcpRes.PeerAuth))
			}
		}
		m := s.lcpRes.PeerAuth
		if m == AuthNone {
			s.enterNetwork()
			return
		}
		s.beginAuth(m)
		exch, err := s.newAuthenticator(m, nil)
		if err != nil {
			s.terminate(CauseError, err.Error())
			return
		}
		s.exch = exch
		s.authStep(exch.Start())
	case RoleClient:
		m := s.lcpRes.LocalAuth
		if m == AuthNone {
			s.enterNetwork()
			return
		}
		s.beginAuth(m)
		s.user = s.prof.Username
		var exch AuthExchange
		var err error
		if m == AuthPAP {
			exch, err = NewPAPPeer(PAPPeerConfig{PeerID: s.prof.Username, Password: s.prof.Password})
		} else {
			alg, _ := m.CHAPAlgorithm()
			exch, err = NewCHAPPeer(CHAPPeerConfig{Algorithm: alg, Name: s.prof.Username, Secret: s.prof.Password, Rand: s.e.rand})
		}
		if err != nil {
			s.terminate(CauseError, err.Error())
			return
		}
		s.exch = exch
		s.authStep(exch.Start())
	}
}

func (s *session) beginAuth(m AuthMethod) {
	s.authMeth = m
	s.setPhase(PhaseAuthenticate)
	s.arm(tAuthDeadline, s.prof.AuthTimeout)
}

// newAuthenticator returns the authenticator exchange of method m. rnd replaces the
// engine's random source (proxy authentication replays the LAC's challenge).
func (s *session) newAuthenticator(m AuthMethod, rnd io.Reader) (AuthenticatorExchange, error) {
	if rnd == nil {
		rnd = s.e.rand
	}
	if m == AuthPAP {
		return NewPAPAuthenticator(PAPAuthenticatorConfig{Carrier: s.cinfo.authCarrier()})
	}
	alg, _ := m.CHAPAlgorithm()
	name := s.hostName
	if len(name) > 255 {
		name = name[:255]
	}
	return NewCHAPAuthenticator(CHAPAuthenticatorConfig{Algorithm: alg, Name: name, Rand: rnd, Carrier: s.cinfo.authCarrier()})
}

// authStep carries out what an exchange object asked for (AuthStep's order).
func (s *session) authStep(st AuthStep) {
	if s.exch == nil {
		return
	}
	if st.Send != nil {
		s.sendInfo(s.exch.Method().Protocol(), st.Send)
	}
	switch st.Timer {
	case AuthTimerStart:
		s.arm(tAuth, s.fsmCfg.RestartTimer)
	case AuthTimerStop:
		s.disarm(tAuth)
	}
	if st.Request != nil {
		s.user = st.Request.Username
		if s.role == RoleLACProxy {
			s.lacCaptured(*st.Request)
			return
		}
		s.ask(*st.Request)
	}
	switch st.Outcome {
	case AuthSuccess:
		s.authSucceeded(st.Result)
	case AuthFailure:
		s.authFailed(st)
	default:
		if st.Err != nil {
			if ce := s.log.Check(zap.DebugLevel, "authentication packet discarded"); ce != nil {
				ce.Write(zap.Error(st.Err))
			}
		}
	}
}

// ask runs the backend call in its own goroutine; the reply comes back on authc.
func (s *session) ask(req AuthRequest) {
	if s.cancel != nil {
		s.cancel()
	}
	s.authGen++
	gen := s.authGen
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.e.wg.Add(1)
	backend := s.backend
	go func() {
		defer s.e.wg.Done()
		defer cancel()
		res, err := backend.Authenticate(ctx, req)
		select {
		case s.authc <- authReply{gen: gen, res: res, err: err}:
		case <-s.done:
		}
	}()
}

func (s *session) authReplied(r authReply) {
	if r.gen != s.authGen || s.ending {
		return
	}
	s.cancel = nil
	res := r.res
	if r.err != nil {
		s.log.Warn("authentication backend failed: rejecting", zap.String("user", s.user), zap.Error(r.err))
		res = AuthResult{}
	}
	if a, ok := s.exch.(AuthenticatorExchange); ok {
		s.authStep(a.Decide(res))
	}
}

func (s *session) authSucceeded(res *AuthResult) {
	s.e.countAuth(s.authMeth, authResultSuccess)
	s.disarm(tAuthDeadline)
	if s.authed {
		// A CHAP re-challenge succeeded.
		s.armRechallenge()
		return
	}
	s.authed = true
	if res != nil && s.role == RoleServer {
		s.authRes = AuthResult{IPv4Address: res.IPv4Address, Pool: res.Pool, DNS: res.DNS, SessionTimeout: res.SessionTimeout}
		if res.SessionTimeout > 0 {
			s.arm(tSession, res.SessionTimeout)
		}
	}
	s.log.Info("authenticated", zap.String("user", s.user), zap.Stringer("method", s.authMeth))
	if s.role == RoleServer {
		s.armRechallenge()
	}
	s.enterNetwork()
}

func (s *session) armRechallenge() {
	if s.prof.ChapInterval > 0 && (s.authMeth == AuthCHAPMD5 || s.authMeth == AuthMSCHAPv2) && s.role == RoleServer {
		s.arm(tRechallenge, s.prof.ChapInterval)
	}
}

// rechallenge starts a periodic CHAP re-challenge (RFC 1994 §2).
func (s *session) rechallenge() {
	if s.ending || !s.authed {
		return
	}
	if a, ok := s.exch.(*CHAPAuthenticator); ok {
		if st := a.Rechallenge(); st.Err == nil || st.Outcome != AuthPending {
			s.authStep(st)
			return
		}
	}
	// After proxy authentication the replayed exchange cannot re-challenge: start anew.
	exch, err := s.newAuthenticator(s.authMeth, nil)
	if err != nil {
		s.terminate(CauseError, err.Error())
		return
	}
	s.exch = exch
	s.authStep(exch.Start())
}

func (s *session) authFailed(st AuthStep) {
	timeout := errors.Is(st.Err, ErrAuthTimeout)
	result := authResultFailure
	if timeout {
		result = authResultTimeout
	}
	s.e.countAuth(s.authMeth, result)
	if s.role == RoleServer && !timeout && !s.authed && !s.proxyReplay && s.authFails+1 < s.prof.MaxAuthFailures {
		// Another attempt (max_auth_failures): a fresh exchange.
		s.authFails++
		s.log.Info("authentication failed: retrying", zap.String("user", s.user), zap.Int("failures", s.authFails))
		exch, err := s.newAuthenticator(s.authMeth, nil)
		if err != nil {
			s.terminate(CauseError, err.Error())
			return
		}
		s.exch = exch
		s.authStep(exch.Start())
		return
	}
	s.end.AuthFailed = true
	cause, reason := CauseAuthFailed, "authentication failed"
	switch {
	case timeout:
		cause, reason = CauseAuthTimeout, "authentication timed out"
	case s.role == RoleClient:
		reason = "authentication rejected by peer"
		if st.Result != nil && st.Result.Message != "" {
			reason += ": " + st.Result.Message
		}
	case s.authed:
		reason = "CHAP re-challenge failed"
	}
	s.log.Info("authentication failed", zap.String("user", s.user), zap.Stringer("method", s.authMeth), zap.String("reason", reason))
	s.terminate(cause, reason)
}

// verifyProxy checks the authentication a LAC relayed (RFC 2661 §18) by replaying it into
// a fresh authenticator exchange: its Challenge (sent by the LAC) is not transmitted, the
// relayed response goes through the backend as a request with Proxy set, and the exchange
// sends the PAP Ack/Nak or CHAP Success/Failure with the relayed Identifier, which the peer
// is still waiting for. A PAP peer that retransmits its request (RFC 2661 relays the
// Identifier only for CHAP) gets the same answer with the retransmission's Identifier.
func (s *session) verifyProxy(pa *ProxyAuth, m AuthMethod) {
	s.beginAuth(m)
	s.proxyReplay = true
	var pkt []byte
	var rnd io.Reader
	switch m {
	case AuthPAP:
		if len(pa.Name) > 255 || len(pa.Response) > 255 {
			s.proxyRefused("malformed proxy PAP data")
			return
		}
		pkt, _ = PAPPacket{Code: PAPCodeRequest, Identifier: pa.ID, PeerID: pa.Name, Password: string(pa.Response)}.MarshalBinary()
	default:
		n := len(pa.Challenge)
		if n == 0 || n > 255 || (m == AuthMSCHAPv2 && n != MSCHAPv2ChallengeLen) || len(pa.Response) == 0 || len(pa.Response) > 255 {
			s.proxyRefused("malformed proxy CHAP data")
			return
		}
		// The first read is the Identifier and the challenge: the LAC's.
		rnd = io.MultiReader(bytes.NewReader(append([]byte{pa.ID}, pa.Challenge...)), s.randReader())
		var err error
		pkt, err = CHAPPacket{Code: CHAPCodeResponse, Identifier: pa.ID, Value: pa.Response, Name: pa.Name}.MarshalBinary()
		if err != nil {
			s.proxyRefused("malformed proxy CHAP data")
			return
		}
	}
	exch, err := s.newAuthenticatorLen(m, rnd, len(pa.Challenge))
	if err != nil {
		s.terminate(CauseError, err.Error())
		return
	}
	s.exch = exch
	exch.Start() // the LAC sent the Challenge: nothing goes out, no timer
	st := exch.Input(pkt)
	if st.Request != nil {
		st.Request.Proxy = true
	}
	s.authStep(st)
}

// proxyMethod is the method of relayed authentication data: L2TP Proxy Authen Type 2
// (CHAP) also carries MS-CHAPv2, told apart by the proxied LCP or the response's size.
func proxyMethod(pa *ProxyAuth, res LCPResult) AuthMethod {
	switch pa.Method {
	case AuthPAP, AuthMSCHAPv2:
		return pa.Method
	case AuthCHAPMD5:
		if res.PeerAuth == AuthMSCHAPv2 || len(pa.Response) == MSCHAPv2ResponseLen {
			return AuthMSCHAPv2
		}
		return AuthCHAPMD5
	}
	return AuthNone
}

func (s *session) proxyRefused(reason string) {
	s.e.countAuth(s.authMeth, authResultFailure)
	s.end.AuthFailed = true
	s.terminate(CauseAuthFailed, "proxy authentication: "+reason)
}

// newAuthenticatorLen is newAuthenticator with the CHAP-MD5 challenge length of a replay.
func (s *session) newAuthenticatorLen(m AuthMethod, rnd io.Reader, challengeLen int) (AuthenticatorExchange, error) {
	if m != AuthCHAPMD5 {
		return s.newAuthenticator(m, rnd)
	}
	return NewCHAPAuthenticator(CHAPAuthenticatorConfig{
		Algorithm: CHAPAlgorithmMD5, Name: s.hostName, Rand: rnd, ChallengeLen: challengeLen, Carrier: s.cinfo.authCarrier(),
	})
}

func (s *session) randReader() io.Reader {
	if s.e.rand != nil {
		return s.e.rand
	}
	return rand.Reader
}

// ---- LAC proxy

// lacAuthenticate runs the authenticator side just far enough to take the peer's
// credentials (RoleLACProxy).
func (s *session) lacAuthenticate() {
	m := s.lcpRes.PeerAuth
	if m == AuthNone {
		s.lacDone(ProxyAuth{Method: AuthNone})
		return
	}
	s.beginAuth(m)
	exch, err := s.newAuthenticator(m, nil)
	if err != nil {
		s.terminate(CauseError, err.Error())
		return
	}
	s.exch = exch
	s.authStep(exch.Start())
}

func (s *session) lacCaptured(req AuthRequest) {
	pa := ProxyAuth{Method: req.Method, Name: req.Username}
	switch req.Method {
	case AuthPAP:
		pa.ID = s.lastAuthID
		pa.Response = []byte(req.Password)
	case AuthCHAPMD5:
		pa.ID, pa.Challenge, pa.Response = req.CHAPID, req.CHAPChallenge, bytes.Clone(req.CHAPResponse)
	case AuthMSCHAPv2:
		pa.ID, pa.Challenge = req.CHAPID, req.CHAPChallenge
		pa.Response, _ = req.MSCHAPv2.MarshalBinary()
	}
	s.lacDone(pa)
}

// lacDone hands the proxy data over and ends the session without terminating the link.
func (s *session) lacDone(pa ProxyAuth) {
	pr := ProxyResult{
		LCP:       ProxyLCP{InitialReceived: s.initialRx, LastSent: bytes.Clone(s.lastTx), LastReceived: bytes.Clone(s.lastRx)},
		Auth:      pa,
		LCPResult: s.lcpRes,
	}
	s.proxyc <- pr // buffered, sent once
	s.log.Info("proxy data taken", zap.String("user", pa.Name), zap.Stringer("method", pa.Method))
	s.beginEnd(CauseProxyDone, "proxy data handed over", ByLocal)
	s.finishing = true
}

// ---- network phase

func (s *session) enterNetwork() {
	if s.ending {
		return
	}
	s.setPhase(PhaseNetwork)
	if s.role == RoleServer && !s.peerAddr.IsValid() {
		if c, err := s.assignAddress(); err != nil {
			s.terminate(c, err.Error())
			return
		}
	}
	if s.ipcp == nil {
		cfg := IPCPConfig{}
		if s.role == RoleServer {
			cfg.Local, cfg.Peer = s.local, s.peerAddr
			dns := s.authRes.DNS
			if len(dns) == 0 {
				dns = s.prof.DNS
			}
			copy(cfg.DNS[:], dns)
			copy(cfg.NBNS[:], s.prof.NBNS)
		} else {
			cfg.RequestDNS = true
		}
		if err := cfg.Validate(); err != nil {
			s.terminate(CauseAddress, err.Error())
			return
		}
		s.ipcpNeg = newIPCP(cfg)
		s.ipcp = newFSM(s.fsmCfg, s.ipcpNeg, s)
		s.ipcp.setPeerMRU(int(s.lcpRes.PeerMRU))
		if s.prof.IPv6 {
			s.ipv6Neg = newIPv6CP(IPv6CPConfig{Rand: s.e.rand})
			s.ipv6cp = newFSM(s.fsmCfg, s.ipv6Neg, s)
			s.ipv6cp.setPeerMRU(int(s.lcpRes.PeerMRU))
		}
	}
	for _, f := range []*fsm{s.ipcp, s.ipv6cp} {
		if f != nil {
			f.Open()
			f.Up()
		}
	}
}

// assignAddress leases the peer's address: the backend's static address, else one from the
// backend's or the profile's pool. Without either, the peer's own choice is accepted.
func (s *session) assignAddress() (EndCause, error) {
	if a := s.authRes.IPv4Address; a.IsValid() {
		pool, err := s.e.pools.Reserve(a)
		if err != nil {
			return CauseAddress, fmt.Errorf("static address %v of user %q: %w", a, s.user, err)
		}
		s.peerAddr, s.leased, s.pool = a, true, pool
		return CauseNone, nil
	}
	name := s.authRes.Pool
	if name == "" {
		name = s.prof.IPPool
	}
	if name == "" {
		return CauseNone, nil
	}
	a, err := s.e.pools.Allocate(name)
	switch {
	case errors.Is(err, ErrPoolExhausted):
		return CausePoolExhausted, errors.New("address pool exhausted")
	case err != nil:
		return CauseAddress, err
	}
	s.peerAddr, s.leased, s.pool = a, true, name
	return CauseNone, nil
}

// networkUp configures the unit for the NCPs that are open. The session is up (Running,
// the SessionUp event) once IPCP has opened, or once IPv6CP has opened and IPCP has given
// up: so that the up event carries the IPv4 addresses whenever there are some, and a
// peer's late IPv6CP does not hold IPv4 back.
func (s *session) networkUp() {
	if s.ending {
		return
	}
	if !s.configureUnit() {
		return
	}
	s.maybeUp()
}

func (s *session) maybeUp() {
	if s.up || !(s.v4up || (s.v6up && ncpFinished(s.ipcp))) {
		return
	}
	s.up = true
	s.upAt = time.Now()
	s.setPhase(PhaseRunning)
	s.log.Info("session up", zap.String("user", s.user), zap.Stringer("local", s.v4.Local), zap.Stringer("peer", s.v4.Peer),
		zap.String("interface", s.unitName()))
	s.e.publish(s.event(events.SessionUp))
}

// configureUnit creates the unit at the first NCP up and sets its state; a data plane
// error ends the session.
func (s *session) configureUnit() bool {
	if s.unit == nil {
		if !s.v4up && !s.v6up {
			return true
		}
		u, err := s.e.dp.NewUnit(s.ch, kernel.UnitConfig{
			Shared: s.prof.Unit == config.UnitShared && s.role == RoleServer,
			Name:   s.prof.InterfaceName,
			MTU:    s.mtu(),
		})
		if err != nil {
			s.terminate(CauseError, "data plane: "+err.Error())
			return false
		}
		s.unit = u
	}
	st := kernel.UnitState{MTU: s.mtu()}
	if s.v4up {
		st.IPv4Local, st.IPv4Peer = s.v4.Local, s.v4.Peer
		if s.role == RoleClient && s.prof.DefaultRoute {
			st.Routes = append(st.Routes, netip.PrefixFrom(netip.IPv4Unspecified(), 0))
		}
	}
	if s.v6up {
		st.IPv6Local, st.IPv6Peer = s.v6.LocalLinkLocal, s.v6.PeerLinkLocal
	}
	if err := s.unit.Set(st); err != nil {
		s.terminate(CauseError, "data plane: "+err.Error())
		return false
	}
	return true
}

func (s *session) mtu() int {
	if s.lcpRes.PeerMRU == 0 {
		return defaultMRU
	}
	return int(s.lcpRes.PeerMRU)
}

func (s *session) unitName() string {
	if s.unit == nil {
		return ""
	}
	return s.unit.Name()
}

// checkNetwork ends the link when no NCP is open or still negotiating (RFC 1661 §3.7: the
// link closes when the last NCP has).
func (s *session) checkNetwork() {
	if s.ending || !s.inNetwork() {
		return
	}
	if s.v4up || s.v6up {
		s.maybeUp()
		return
	}
	if !ncpFinished(s.ipcp) || (s.ipv6cp != nil && !ncpFinished(s.ipv6cp)) {
		return
	}
	reason := "no network protocol could be negotiated"
	if s.up {
		reason = "every network protocol closed"
	}
	if s.ipcp != nil && s.ipcp.Err() != nil {
		reason += ": IPCP: " + strings.TrimPrefix(s.ipcp.Err().Error(), "ppp: ")
	}
	s.terminate(CauseNoNetwork, reason)
}

// ncpFinished reports whether an NCP automaton has given up (This-Layer-Finished).
func ncpFinished(f *fsm) bool {
	if f == nil {
		return true
	}
	st := f.State()
	return st == StateStopped || st == StateClosed
}

// ---- termination

// terminate ends the session from this side: LCP Terminate-Request (RFC 1661 §3.7), and
// the teardown once LCP has finished.
func (s *session) terminate(c EndCause, reason string) {
	if s.ending {
		return
	}
	s.beginEnd(c, reason, ByLocal)
	s.lcp.Close(reason)
	switch s.lcp.State() {
	case StateInitial, StateStarting, StateClosed, StateStopped:
		s.finishing = true
	}
}

func (s *session) beginEnd(c EndCause, reason string, by string) {
	s.ending = true
	af := s.end.AuthFailed
	s.end = EndResult{Cause: c, Reason: reason, By: by, AuthFailed: af}
	s.disarm(tIPCP, tIPv6CP, tAuth, tAuthDeadline, tEcho, tRechallenge, tSession, tStart)
	if s.cancel != nil {
		s.cancel()
		s.cancel = nil
	}
	if c != CauseProxyDone {
		s.setPhase(PhaseTerminate)
	}
	s.log.Info("terminating", zap.String("reason", reason), zap.String("by", by))
}

// carrierLost ends the session at once: nothing more can be sent.
func (s *session) carrierLost() {
	if !s.ending {
		s.beginEnd(CauseCarrierLost, "carrier lost", ByCarrier)
	}
	s.finishing = true
}

// causeOf classifies an automaton's error.
func causeOf(err error) (EndCause, string) {
	switch {
	case errors.Is(err, ErrPeerTerminated):
		return CausePeerTerminated, ByPeer
	case errors.Is(err, ErrNoResponse):
		return CauseNoResponse, ByLocal
	case errors.Is(err, ErrLoopback):
		return CauseLoopback, ByLocal
	case errors.Is(err, ErrRejected):
		return CauseNegotiation, ByPeer
	}
	return CauseNegotiation, ByLocal
}

func reasonOf(err error) string {
	switch {
	case err == nil:
		return "LCP finished"
	case errors.Is(err, ErrNoResponse):
		return "no response to LCP Configure-Requests"
	case errors.Is(err, ErrLoopback):
		return "link looped back"
	}
	return strings.TrimPrefix(err.Error(), "ppp: ")
}

// finish tears the session down and publishes its end. It runs once, on the actor, after
// the loop.
func (s *session) finish() {
	s.finished = true
	s.timer.Stop()
	if s.cancel != nil {
		s.cancel()
	}
	now := time.Now()
	res := s.end
	res.User, res.Started, res.Up, res.Ended = s.user, s.started, s.upAt, now
	res.Link = countersOf(s.ch.Stats())
	if s.unit != nil {
		res.Network = countersOf(s.unit.Stats())
		if err := s.unit.Close(); err != nil {
			s.log.Warn("closing unit", zap.Error(err))
		}
	}
	if s.role != RoleLACProxy {
		s.ch.Close()
	}
	if s.leased {
		s.e.pools.Release(s.peerAddr)
	}
	s.result = res
	s.e.remove(s)
	s.setPhase(PhaseDead)
	if s.up {
		s.e.publish(s.event(events.SessionDown))
	}
	s.e.publish(s.event(events.SessionDeleted))
	s.e.countEnd(res.Cause)
	s.log.Info("session ended", zap.String("reason", res.Reason), zap.String("by", res.By),
		zap.Stringer("cause", res.Cause), zap.Duration("duration", now.Sub(s.started)))
	if s.proxyc != nil {
		close(s.proxyc)
	}
	close(s.done)
}

// ---- snapshots and events

func (s *session) snapshot() SessionInfo {
	si := SessionInfo{
		ID:          s.id,
		Instance:    s.name,
		Phase:       s.currentPhase().String(),
		State:       "down",
		Role:        s.role.String(),
		Carrier:     s.carrier.String(),
		Profile:     s.profName,
		User:        s.user,
		Interface:   s.unitName(),
		Pool:        s.pool,
		LCP:         s.lcp.State().String(),
		ProxyLCP:    s.lcpProxy,
		Started:     s.started,
		Up:          s.upAt,
		CarrierInfo: s.cinfo,
		Link:        countersOf(s.ch.Stats()),
	}
	if s.authMeth != AuthNone {
		si.Auth = methodLabel(s.authMeth)
	}
	if s.currentPhase() == PhaseRunning {
		si.State = "up"
		si.UptimeSeconds = int64(time.Since(s.upAt) / time.Second)
	}
	if s.lcpUp {
		si.LocalMRU, si.PeerMRU = int(s.lcpRes.LocalMRU), int(s.lcpRes.PeerMRU)
	}
	if s.ipcp != nil {
		si.IPCP = s.ipcp.State().String()
	}
	if s.ipv6cp != nil {
		si.IPv6CP = s.ipv6cp.State().String()
	}
	s.fillAddrs(&si.LocalIP, &si.PeerIP, &si.LocalIPv6, &si.PeerIPv6, &si.DNS)
	if s.unit != nil {
		si.Network = countersOf(s.unit.Stats())
	}
	return si
}

func (s *session) fillAddrs(local, peer, local6, peer6 *string, dns *[]string) {
	if s.v4up {
		*local, *peer = addrString(s.v4.Local), addrString(s.v4.Peer)
		for _, a := range s.v4.DNS {
			if a.IsValid() && !a.IsUnspecified() {
				*dns = append(*dns, a.String())
			}
		}
	} else if s.peerAddr.IsValid() {
		*peer = s.peerAddr.String()
	}
	if s.v6up {
		*local6, *peer6 = addrString(s.v6.LocalLinkLocal), addrString(s.v6.PeerLinkLocal)
	}
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// event builds an event of type t describing the session now.
func (s *session) event(t events.Type) events.Event {
	ci := s.cinfo
	ev := events.Event{
		Type: t,
		Session: &events.Session{
			ID: ci.SessionID, PeerID: ci.PeerSessionID, TunnelID: ci.TunnelID, PeerTunnelID: ci.PeerTunnelID,
			Name: s.name, Profile: s.profName, PWType: "ppp", Interface: s.unitName(), User: s.user,
			Service: ci.Service, CircuitID: ci.CircuitID, RemoteID: ci.RemoteID,
		},
		PPP: &events.PPP{
			Instance: s.name, Phase: s.currentPhase().String(), Role: s.role.String(), Carrier: s.carrier.String(),
			User: s.user, Interface: s.unitName(), Started: s.started,
		},
	}
	if s.carrier == CarrierPPPoE {
		ev.Session.CallingMAC = ci.CallingStation
	}
	if s.authMeth != AuthNone {
		ev.PPP.Auth = methodLabel(s.authMeth)
	}
	s.fillAddrs(&ev.PPP.LocalIP, &ev.PPP.PeerIP, &ev.PPP.LocalIPv6, &ev.PPP.PeerIPv6, &ev.PPP.DNS)
	switch t {
	case events.SessionDown, events.SessionDeleted:
		ev.PPP.Stats = s.result.Link.event()
		ev.Result = &events.Result{Reason: s.result.Reason, Message: s.result.Cause.String()}
	case events.SessionUp:
		ev.PPP.Stats = countersOf(s.ch.Stats()).event()
	}
	return ev
}
