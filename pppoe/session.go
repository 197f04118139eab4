package pppoe

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/probox/probox/config"
	events "github.com/probox/probox/control/event"
	"github.com/probox/probox/kernel"
	"github.com/probox/probox/ppp"
)

// lcpTerminateWait is how long a refused LAC session waits, after the LCP
// Terminate-Request it sends the host, before the PADT: one restart period is what RFC
// 1661 §4.6 gives a Terminate-Ack, and a second lets the host's PPP see the reason.
const lcpTerminateWait = time.Second

// lcpTerminateID is the Identifier of the Terminate-Request a refused session sends; the
// AC's PPP session that negotiated LCP has ended, so any value is fresh to the host.
const lcpTerminateID = 0x7f

// A session is the actor of one PPPoE session at the AC: one goroutine (run) that owns the
// session's PPP handle, its LAC call and bridge, and its state. It talks to the loop only
// through the channels below: stopc (a one-slot buffer: the first stop wins) and padtc
// (closed once) from the loop, infoc from API callers, and endc to the loop when it has
// torn everything down; the loop then sends the PADT and publishes the end, and closes
// gone.
type session struct {
	e        *Engine
	key      sessionKey
	port     *acPort
	rec      Session
	svc      service
	router   *router
	lacWait  time.Duration // pppoe.lac_timeout when the session started
	lcpDelay time.Duration // pppoe.lcp_delay when the session started
	ch       kernel.Channel
	mtu      int
	label    string // interface and VLANs, e.g. "eth1.100"
	log      *zap.Logger
	created  time.Time

	stopc chan stopRequest
	padtc chan struct{} // closed by the loop; the actor reads it as padtIn
	infoc chan chan sessionSnap
	done  chan struct{} // closed by the actor when it has finished
	gone  chan struct{} // closed by the loop when the end is published

	// loop: set when the host's PADT was signalled.
	padtSignalled bool

	// Actor state; the loop reads it only after done is closed, API callers through infoc.
	padtIn      <-chan struct{} // padtc until taken, then nil
	state       SessionState
	gauge       string // the probox_pppoe_sessions route the session counts under
	user        string
	tunnel      string
	realmRoute  string
	h           *ppp.Handle
	lacs        LACSession
	upAt        time.Time
	upPublished bool
	end         sessionEnd
}

type stopRequest struct {
	cause  EndCause
	reason string
	// padtSent: the AC has sent the session's PADT already, so PPP must not send
	// another frame (RFC 2516 §5.5): the channel closes at once, as for the host's PADT,
	// instead of an LCP Terminate-Request.
	padtSent bool
}

// haltPPP stops PPP on h for r: an LCP Terminate-Request with the reason (RFC 1661
// §3.7), or after our PADT the channel's closing, which PPP takes as carrier loss.
func (s *session) haltPPP(h *ppp.Handle, r stopRequest) {
	if r.padtSent {
		s.ch.Close()
		return
	}
	h.Stop(r.reason)
}

// sessionEnd is how the session ended; reason also goes into the PADT's Generic-Error.
type sessionEnd struct {
	cause  EndCause
	reason string
}

// sessionSnap is the actor's answer to infoc: the snapshot, and the PPP handle whose own
// snapshot the caller adds (outside the actor, which must not wait on PPP).
type sessionSnap struct {
	info SessionInfo
	h    *ppp.Handle
}

func newSession(e *Engine, p *acPort, rec Session, ch kernel.Channel, mtu int, svc service) *session {
	s := &session{
		e:        e,
		key:      sessionKey{p.name, rec.ID},
		port:     p,
		rec:      rec,
		svc:      svc,
		router:   e.router,
		lacWait:  e.lacTimeout,
		lcpDelay: e.cfg.PPPoE.LCPDelay,
		ch:       ch,
		mtu:      mtu,
		label:    portLabel(p.name, rec.VLANs),
		created:  time.Now(),
		stopc:    make(chan stopRequest, 1),
		padtc:    make(chan struct{}),
		infoc:    make(chan chan sessionSnap),
		done:     make(chan struct{}),
		gone:     make(chan struct{}),
		gauge:    gaugeLocal,
	}
	s.padtIn = s.padtc
	if svc.route != config.RouteLocal {
		s.gauge = gaugePending
	}
	s.log = e.log.With(zap.Uint16("session_id", rec.ID), zap.String("interface", s.label),
		zap.String("peer", rec.Peer.String()))
	return s
}

// stop asks the actor to end the session (loop). It never blocks.
func (s *session) stop(c EndCause, reason string) {
	s.request(stopRequest{cause: c, reason: reason})
}

// stopAfterPADT asks the actor to end the session whose PADT the AC has sent (loop).
func (s *session) stopAfterPADT(c EndCause, reason string) {
	s.request(stopRequest{cause: c, reason: reason, padtSent: true})
}

func (s *session) request(r stopRequest) {
	select {
	case s.stopc <- r:
	default: // a stop is pending already
	}
}

// peerPADT tells the actor that the host sent a PADT (loop).
func (s *session) peerPADT(message string) {
	if s.padtSignalled {
		return
	}
	s.padtSignalled = true
	if message != "" {
		s.log.Info("PADT from host", zap.String("reason", message))
	}
	close(s.padtc)
}

// info asks the actor for a snapshot, and a running local PPP session for its own.
func (s *session) info(ctx context.Context) (SessionInfo, error) {
	c := make(chan sessionSnap, 1)
	select {
	case s.infoc <- c:
	case <-s.done:
		return SessionInfo{}, fmt.Errorf("%w: session %d on %s has ended", ErrNotFound, s.key.id, s.key.iface)
	case <-ctx.Done():
		return SessionInfo{}, ctx.Err()
	}
	snap := <-c // the actor answers at once
	if snap.h != nil {
		if pi, err := snap.h.Info(ctx); err == nil {
			snap.info.PPP = &pi
			if pi.User != "" {
				snap.info.User = pi.User
			}
			if pi.State == "up" && snap.info.State == StateNegotiating.String() {
				snap.info.State = StateUp.String()
			}
		}
	}
	return snap.info, nil
}

func (s *session) snapshot() sessionSnap {
	si := SessionInfo{
		SessionID:     s.key.id,
		Interface:     s.key.iface,
		VLANs:         vlanString(s.rec.VLANs),
		MAC:           s.rec.Peer.String(),
		Service:       s.rec.ServiceName,
		ServiceConfig: s.svc.name,
		Route:         string(s.svc.route),
		State:         s.state.String(),
		User:          s.user,
		Tunnel:        s.tunnel,
		RealmRoute:    s.realmRoute,
		MTU:           s.mtu,
		Created:       s.created,
		Up:            s.upAt,
	}
	if s.rec.HasAccessLine {
		si.CircuitID, si.RemoteID = s.rec.AccessLine.CircuitID, s.rec.AccessLine.RemoteID
	}
	if s.lacs != nil {
		si.L2TPTunnelID, si.L2TPSessionID = s.lacs.TunnelID(), s.lacs.SessionID()
	}
	return sessionSnap{info: si, h: s.h}
}

// setEnd records why the session ends; the first cause recorded wins.
func (s *session) setEnd(c EndCause, reason string) {
	if s.end.cause == EndNone {
		s.end = sessionEnd{c, reason}
		s.state = StateTerminating
	}
}

// ended reports whether an end was recorded (a stop or the host's PADT).
func (s *session) ended() bool { return s.end.cause != EndNone }

// run is the actor.
func (s *session) run() {
	defer func() {
		s.ch.Close()
		close(s.done)
		s.e.endc <- s
	}()
	if s.svc.route == config.RouteLocal {
		s.runLocal(nil)
		return
	}
	s.runLAC()
}

// serve handles one request from the loop or an API caller while the actor waits for
// something else; it reports a stop request or the host's PADT (recording the end).
func (s *session) serve(r stopRequest, padt bool, info chan sessionSnap) {
	switch {
	case info != nil:
		info <- s.snapshot()
	case padt:
		s.padtIn = nil // closed: take it once
		s.setEnd(EndPeerPADT, "PADT from host")
	default:
		s.setEnd(r.cause, r.reason)
	}
}

// carrierInfo describes the session to the PPP engine.
func (s *session) carrierInfo() ppp.CarrierInfo {
	ci := ppp.CarrierInfo{
		SessionID:      uint32(s.key.id),
		CallingStation: s.rec.Peer.String(),
		Service:        s.rec.ServiceName,
		Interface:      s.label,
	}
	if s.rec.HasAccessLine {
		ci.CircuitID, ci.RemoteID = s.rec.AccessLine.CircuitID, s.rec.AccessLine.RemoteID
	}
	return ci
}

// runLocal terminates the session's PPP here (RoleServer), with the LCP and
// authentication the AC already took when proxy is set (a realm session falling back to
// local termination: the PPP engine accepts them as an LNS accepts proxy LCP).
func (s *session) runLocal(proxy *ppp.ProxyResult) {
	req := ppp.StartRequest{
		Channel: s.ch,
		Role:    ppp.RoleServer,
		Carrier: ppp.CarrierPPPoE,
		Profile: s.svc.profile,
		MaxMRU:  s.mtu,
		Info:    s.carrierInfo(),
		// The host opens its session when it gets the PADS: see config.PPPoE.LCPDelay.
		OpenDelay: s.lcpDelay,
	}
	if proxy != nil {
		req.ProxyLCP = &proxy.LCP
		req.ProxyAuth = &proxy.Auth
	}
	h, err := s.e.ppp.Start(req)
	if err != nil {
		s.setEnd(EndError, "PPP: "+err.Error())
		return
	}
	s.h = h
	s.waitPPP(h)
	r := h.Result()
	if r.User != "" {
		s.user = r.User
	}
	s.setEnd(EndPPP, "PPP ended: "+r.Reason)
}

// waitPPP waits for h to end. A stop stops PPP (LCP Terminate-Request with the reason,
// RFC 1661 §3.7); the host's PADT closes the channel at once, which PPP takes as carrier
// loss: RFC 2516 §5.5 allows no PPP frame after a PADT.
func (s *session) waitPPP(h *ppp.Handle) {
	for {
		select {
		case <-h.Done():
			return
		case r := <-s.stopc:
			s.serve(r, false, nil)
			s.haltPPP(h, r)
		case <-s.padtIn:
			s.serve(stopRequest{}, true, nil)
			s.ch.Close()
		case c := <-s.infoc:
			s.serve(stopRequest{}, false, c)
		}
	}
}

// runLAC carries the session to an LNS: the PPP engine negotiates LCP and takes the
// authentication (RoleLACProxy), the tunnel is chosen from the service or the user's
// realm, the LAC places the call with the proxy data, and the two channels are bridged.
func (s *session) runLAC() {
	h, err := s.e.ppp.Start(ppp.StartRequest{
		Channel:   s.ch,
		Role:      ppp.RoleLACProxy,
		Carrier:   ppp.CarrierPPPoE,
		Profile:   s.svc.profile,
		MaxMRU:    s.mtu,
		Info:      s.carrierInfo(),
		OpenDelay: s.lcpDelay,
	})
	if err != nil {
		s.setEnd(EndError, "PPP: "+err.Error())
		return
	}
	s.h = h
	var (
		pr  ppp.ProxyResult
		got bool
	)
wait:
	for {
		select {
		case p, ok := <-h.Proxy():
			pr, got = p, ok
			break wait
		case r := <-s.stopc:
			s.serve(r, false, nil)
			s.haltPPP(h, r)
		case <-s.padtIn:
			s.serve(stopRequest{}, true, nil)
			s.ch.Close()
		case c := <-s.infoc:
			s.serve(stopRequest{}, false, c)
		}
	}
	s.waitPPP(h) // the proxy session ends right after handing its data over
	s.h = nil
	if !got {
		r := h.Result()
		s.user = r.User
		s.setEnd(EndPPP, "PPP ended before authentication: "+r.Reason)
		return
	}
	s.user = pr.Auth.Name
	s.log = s.log.With(zap.String("user", s.user))
	if s.ended() {
		return
	}
	if err := s.renewChannel(); err != nil {
		s.setEnd(EndError, "data plane: "+err.Error())
		return
	}
	route, tunnels, ok := s.router.tunnelsFor(s.svc, s.user)
	if !ok {
		if s.svc.localFallback {
			s.log.Info("no route for the realm: terminating locally", zap.String("realm", realmOf(s.user)))
			s.e.met.move(s.gauge, gaugeLocal)
			s.gauge = gaugeLocal
			s.runLocal(&pr)
			return
		}
		s.e.met.lacFailure(lacNoRoute)
		s.refuse(EndNoRoute, fmt.Sprintf("no route for realm %q", realmOf(s.user)))
		return
	}
	s.realmRoute = route
	call := LACCall{
		ProxyLCP:      &ProxyLCP{InitialReceived: pr.LCP.InitialReceived, LastSent: pr.LCP.LastSent, LastReceived: pr.LCP.LastReceived},
		ProxyAuth:     proxyAuthOf(pr.Auth),
		CallingNumber: s.rec.Peer.String(),
		CalledNumber:  s.rec.ServiceName,
		Info:          CallInfo{User: s.user, CallingMAC: s.rec.Peer.String(), Service: s.rec.ServiceName},
	}
	if s.rec.HasAccessLine {
		a := &s.rec.AccessLine
		if a.CircuitID != "" {
			call.CallingNumber = a.CircuitID
		}
		call.ConnectSpeed = uint64(a.ActualDataRateDown)
		call.Info.CircuitID, call.Info.RemoteID = a.CircuitID, a.RemoteID
	}
	s.state = StateCalling
	var failures []string
	for _, t := range tunnels {
		call.Tunnel = t
		ls, err := s.placeCall(call)
		if s.ended() {
			return
		}
		if err == nil {
			s.lacs, s.tunnel = ls, t
			break
		}
		label := lacCallFailed
		if errors.Is(err, context.DeadlineExceeded) {
			label = lacTimeout
		}
		s.e.met.lacFailure(label)
		s.log.Warn("LAC call failed", zap.String("tunnel", t), zap.Error(err))
		failures = append(failures, fmt.Sprintf("%s: %v", t, err))
	}
	if s.lacs == nil {
		s.refuse(EndLACFailed, "no LNS took the call ("+strings.Join(failures, "; ")+")")
		return
	}
	s.bridged()
}

// renewChannel replaces the session's channel by a fresh one for the same PPPoE session
// once the LAC-proxy PPP session has ended: that session's reader keeps a read outstanding
// on its channel until the channel closes, and would swallow the host's next frame. The
// host sends nothing in between (it waits for the answer to its authentication).
func (s *session) renewChannel() error {
	s.ch.Close()
	ch, err := s.port.port.OpenSession(s.key.id, frameTo(s.rec.Peer, s.rec.VLANs), s.mtu)
	if err != nil {
		return err
	}
	s.ch = ch
	return nil
}

// placeCall places one call, bounded by pppoe.lac_timeout, while serving requests; a stop
// or the host's PADT cancels it (and hangs up a call that connected meanwhile).
func (s *session) placeCall(call LACCall) (LACSession, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.lacWait)
	defer cancel()
	type result struct {
		ls  LACSession
		err error
	}
	rc := make(chan result, 1)
	go func() {
		ls, err := s.e.lac.PlaceCall(ctx, call)
		rc <- result{ls, err}
	}()
	for {
		select {
		case r := <-rc:
			if r.err != nil && ctx.Err() != nil && !errors.Is(r.err, context.DeadlineExceeded) {
				r.err = fmt.Errorf("%w: %w", context.DeadlineExceeded, r.err)
			}
			if r.err == nil && r.ls == nil {
				r.err = errors.New("LAC returned no call")
			}
			return r.ls, r.err
		case r := <-s.stopc:
			s.serve(r, false, nil)
		case <-s.padtIn:
			s.serve(stopRequest{}, true, nil)
		case c := <-s.infoc:
			s.serve(stopRequest{}, false, c)
			continue
		}
		// Stopped: cancel the call and wait for PlaceCall to return.
		cancel()
		if r := <-rc; r.err == nil && r.ls != nil {
			r.ls.Hangup(s.end.reason)
		}
		return nil, errors.New("cancelled")
	}
}

// bridged joins the PPPoE channel to the call's and waits for either side to end.
//
// The LNS starts talking as soon as it has the call (with proxy authentication, its first
// frame is the CHAP Success or PAP Ack the host waits for, which is never repeated), so
// frames can reach the call's channel before the bridge exists, and the host's can reach
// the PPPoE channel. A forwarder per channel copies what is read from one to the other;
// once the bridge is in place the channels no longer deliver frames to ReadFrame and the
// forwarders wait, until the channels close at the end.
func (s *session) bridged() {
	lch := s.lacs.Channel()
	fwdDone := make(chan struct{}, 2)
	go forward(lch, s.ch, s.mtu, fwdDone)
	go forward(s.ch, lch, s.mtu, fwdDone)
	defer func() {
		// The call's channel is the LAC's; closing it too (Close is idempotent) makes
		// sure the forwarder reading it ends.
		lch.Close()
		s.ch.Close()
		<-fwdDone
		<-fwdDone
	}()
	br, err := s.e.dp.Bridge(s.ch, lch)
	if err != nil {
		s.e.met.lacFailure(lacBridge)
		s.lacs.Hangup("data plane: bridge failed")
		s.refuse(EndError, "data plane: "+err.Error())
		return
	}
	s.state, s.upAt = StateUp, time.Now()
	s.e.met.move(s.gauge, gaugeLAC)
	s.gauge = gaugeLAC
	s.upPublished = true
	s.e.publish(s.event(events.SessionUp))
	s.log.Info("session up: bridged to the LNS", zap.String("tunnel", s.tunnel),
		zap.Uint32("l2tp_tunnel_id", s.lacs.TunnelID()), zap.Uint32("l2tp_session_id", s.lacs.SessionID()))
	lnsDone := false
	for !s.ended() {
		select {
		case <-s.lacs.Done():
			lnsDone = true
			s.setEnd(EndLNS, "LNS ended the call: "+s.lacs.Reason())
		case r := <-s.stopc:
			s.serve(r, false, nil)
		case <-s.padtIn:
			s.serve(stopRequest{}, true, nil)
		case c := <-s.infoc:
			s.serve(stopRequest{}, false, c)
		}
	}
	if err := br.Close(); err != nil {
		s.log.Warn("closing the bridge", zap.Error(err))
	}
	if !lnsDone {
		s.lacs.Hangup(s.end.reason)
	}
}

// forward copies frames read from one channel to the other until from closes.
func forward(from, to kernel.Channel, mtu int, done chan<- struct{}) {
	defer func() { done <- struct{}{} }()
	buf := make([]byte, max(mtu, DefaultMTU)+64)
	for {
		n, err := from.ReadFrame(buf)
		if err != nil {
			return
		}
		_ = to.WriteFrame(buf[:n]) // a closed or full peer drops it, as a bridge would
	}
}

// refuse ends a session the AC cannot carry: an LCP Terminate-Request carrying the reason
// tells the host's PPP why (RFC 1661 §5.5), and after lcpTerminateWait (or the host's
// PADT, or a stop) the loop sends the PADT with the reason in a Generic-Error tag.
func (s *session) refuse(c EndCause, reason string) {
	s.setEnd(c, reason)
	s.log.Info("session refused", zap.Stringer("cause", c), zap.String("reason", reason))
	msg := reason
	if n := s.mtu - 2 - ppp.ControlHeaderLen; len(msg) > n {
		msg = msg[:max(n, 0)]
	}
	frame := ppp.AppendFrame(nil, ppp.ProtoLCP, ppp.AppendControl(nil, ppp.CodeTerminateRequest, lcpTerminateID, []byte(msg)))
	if err := s.ch.WriteFrame(frame); err != nil {
		s.log.Debug("sending LCP Terminate-Request", zap.Error(err))
		return
	}
	t := time.NewTimer(lcpTerminateWait)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			return
		case r := <-s.stopc:
			s.serve(r, false, nil)
			return
		case <-s.padtIn:
			s.serve(stopRequest{}, true, nil)
			return
		case ch := <-s.infoc:
			s.serve(stopRequest{}, false, ch)
		}
	}
}

// event builds a session event of type t (the actor's state must be stable: before the
// actor starts, from the actor, or after it has ended).
func (s *session) event(t events.Type) events.Event {
	ev := events.Event{
		Type: t,
		Session: &events.Session{
			ID:         uint32(s.key.id),
			Name:       fmt.Sprintf("%s/%d", s.key.iface, s.key.id),
			Profile:    s.svc.profile,
			PWType:     "ppp",
			Interface:  s.label,
			User:       s.user,
			CallingMAC: s.rec.Peer.String(),
			Service:    s.rec.ServiceName,
		},
	}
	if s.rec.HasAccessLine {
		ev.Session.CircuitID, ev.Session.RemoteID = s.rec.AccessLine.CircuitID, s.rec.AccessLine.RemoteID
	}
	if s.lacs != nil {
		ev.Session.TunnelID = s.lacs.TunnelID()
	}
	switch t {
	case events.SessionDown, events.SessionDeleted:
		ev.Result = &events.Result{Reason: s.end.reason, Message: s.end.cause.String()}
	}
	return ev
}
