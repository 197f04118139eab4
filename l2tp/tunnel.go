package l2tp

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/probox/probox/config"
	"github.com/probox/probox/control/event"
	"github.com/probox/probox/kernel"
)

// The tunnel actor: one goroutine per tunnel owns the tunnel's state (the control
// connection state machine, the reliable transport, the kernel tunnel, every session)
// and selects over its inbound control packets, requests, PPP session ends and one timer.
// A reader goroutine moves packets from the kernel tunnel's control socket to the actor;
// a watcher goroutine per PPP session reports its end. Nothing else touches the state:
// the engine and the API ask with requests (do), as gobgp's mgmtOperation does.

// tunnelReq is a request: fn runs on the actor's goroutine.
type tunnelReq struct {
	fn   func(*tunnel)
	done chan struct{}
}

// tunnelOutcome is how a tunnel ended. The actor writes it before closing down (and
// done); read it only after down is closed.
type tunnelOutcome struct {
	wentUp bool       // it was established at some point
	admin  bool       // it was deleted administratively (not to be brought up again)
	result CallResult // why it ended, for the calls that find it gone
}

// tunnel is one tunnel actor. The fields above the "actor state" line are immutable after
// newTunnel (or are channels); the others belong to the actor goroutine.
type tunnel struct {
	e       *Engine
	id      uint32
	spec    tunnelSpec
	p       tunnelParams
	log     *zap.Logger
	created time.Time

	reqs     chan tunnelReq
	pkts     chan ctlPacket // control packets: from the reader, or forwarded by a listener
	pppEnded chan *session  // sessions whose PPP session ended
	stopCh   chan struct{}  // closed by stopSoon
	stopOnce sync.Once
	quit     chan struct{} // closed when the actor starts to exit: helpers return
	done     chan struct{} // closed when the actor has exited
	down     chan struct{} // closed when the tunnel starts closing (or has ended)
	helpers  sync.WaitGroup
	outcome  tunnelOutcome

	// ---- actor state ----
	state     tunnelState
	since     time.Time
	kt        kernel.Tunnel
	local     netip.AddrPort
	tr        *transport
	mopts     MarshalOptions
	dig       *controlDigest // L2TPv3 control message authentication in use
	nonce     []byte         // our Control Message Authentication Nonce
	peerID    uint32
	peer      peerInfo
	challenge []byte // the Challenge we sent (RFC 2661 §5.1.1)
	peerChal  []byte // the Challenge the peer sent
	tie       uint64 // our tie breaker, when sentTie
	sentTie   bool
	noDigest  bool // the peer's SCCRQ lacked a digest we require

	sessions map[uint32]*session
	retry    map[string]time.Time     // configured sessions to bring up again
	backoff  map[string]time.Duration // their current backoff

	result     *ResultError // why the tunnel ended
	reason     string
	byPeer     bool // the peer ended it (StopCCN received)
	upEvent    bool // TunnelUp was published
	timer      *time.Timer
	trAt       time.Time      // transport deadline
	rxFrom     netip.AddrPort // where the control packet being handled came from
	answered   netip.AddrPort // the port the peer answered our SCCRQ from, if not the one we sent to
	backlog    []*Message     // messages waiting for room in the transport's send queue, in order
	unloading  bool           // unloadBacklog is running
	estAt      time.Time      // establishment deadline
	idleSince  time.Time      // no session since then
	sessAt     time.Time      // earliest session deadline
	hardAt     time.Time      // shutdown deadline
	shutting   bool
	txMax      uint16 // one past the highest Ns transmitted, for the retransmit metric
	txAny      bool
	lastDataRx uint64
	invalid    map[*Message]error
	helloSent  uint64
}

// peerInfo is what the peer said about itself in its SCCRQ or SCCRP.
type peerInfo struct {
	host, vendor    string
	firmware        uint16
	routerID        uint32
	window          uint16
	framing, bearer uint32
	pwCaps          []PseudowireType
	digest          bool
}

func newTunnel(e *Engine, id uint32, spec tunnelSpec, cfg *config.Config, host string, rid uint32) *tunnel {
	t := &tunnel{
		e:        e,
		id:       id,
		spec:     spec,
		p:        newTunnelParams(cfg, spec, host, rid),
		created:  e.now(),
		reqs:     make(chan tunnelReq),
		pkts:     make(chan ctlPacket, 64),
		pppEnded: make(chan *session, 8),
		stopCh:   make(chan struct{}),
		quit:     make(chan struct{}),
		done:     make(chan struct{}),
		down:     make(chan struct{}),
		sessions: make(map[uint32]*session),
		peerID:   spec.peerID,
	}
	fields := []zap.Field{zap.Uint32("tunnel_id", id), zap.Stringer("peer", spec.peer)}
	if spec.name != "" {
		fields = append(fields, zap.String("tunnel", spec.name))
	}
	t.log = e.log.With(fields...)
	t.since = t.created
	return t
}

// do runs fn on the actor's goroutine and waits for it. It fails with errTunnelGone when
// the actor has ended (fn then never runs) and with ctx's error when ctx ends first (fn
// may still run later: the caller must not then read what fn writes).
func (t *tunnel) do(ctx context.Context, fn func(*tunnel)) error {
	r := tunnelReq{fn: fn, done: make(chan struct{})}
	select {
	case t.reqs <- r:
	case <-t.done:
		return errTunnelGone
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-r.done:
		return nil
	case <-t.done:
		return errTunnelGone
	case <-ctx.Done():
		return ctx.Err()
	}
}

// doWait is do with a timeout.
func (t *tunnel) doWait(d time.Duration, fn func(*tunnel)) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return t.do(ctx, fn)
}

// ctlPacket is a control packet and where it came from.
type ctlPacket struct {
	b    []byte
	from netip.AddrPort
}

// deliver hands a control packet to the actor without blocking; when its queue is full
// the packet is dropped, like a full socket buffer, and the peer retransmits.
func (t *tunnel) deliver(b []byte, from netip.AddrPort) {
	select {
	case t.pkts <- ctlPacket{b, from}:
	case <-t.done:
	default:
		t.e.m.dropped.WithLabelValues("queue_full").Inc()
	}
}

// stopSoon makes the actor shut down as if the engine were stopping.
func (t *tunnel) stopSoon() { t.stopOnce.Do(func() { close(t.stopCh) }) }

func (t *tunnel) run(ctx context.Context) {
	defer t.exit()
	t.timer = time.NewTimer(time.Hour)
	t.timer.Stop()
	t.e.m.tunnelEnter(t.state)
	t.publish(event.TunnelCreated, nil)
	if err := t.start(); err != nil {
		t.setResult(ResultError{Result: uint16(StopCCNGeneralError), ErrorCode: uint16(ErrorInsufficientResources), Message: "data plane: " + err.Error()}, "cannot open the tunnel: "+err.Error())
		t.log.Warn("cannot open tunnel", zap.Error(err))
		t.setState(tunnelClosed)
		return
	}
	stop, stopCh := ctx.Done(), (<-chan struct{})(t.stopCh)
	for t.state != tunnelClosed {
		select {
		case <-stop:
			stop, stopCh = nil, nil
			t.shutdown()
		case <-stopCh:
			stop, stopCh = nil, nil
			t.shutdown()
		case p := <-t.pkts:
			t.rxFrom = p.from
			t.onPacket(p.b)
		case r := <-t.reqs:
			r.fn(t)
			close(r.done)
		case s := <-t.pppEnded:
			t.onPPPEnded(s)
		case <-t.timer.C:
			t.onTimer()
		}
		if t.shutting && t.state == tunnelClosing && (t.tr == nil || t.tr.Idle()) {
			t.setState(tunnelClosed) // our StopCCN is acknowledged: no need to linger
		}
		t.arm()
	}
}

// start opens the kernel tunnel and starts the control connection.
func (t *tunnel) start() error {
	kt, err := t.e.deps.Dataplane.OpenTunnel(kernel.TunnelConfig{
		Version:      int(t.spec.version),
		Encap:        t.spec.encap,
		Local:        t.spec.local,
		Peer:         t.spec.peer,
		TunnelID:     t.id,
		UDPChecksums: t.p.prof.UDPChecksums,
		AnyPeerPort:  t.spec.initiator && t.spec.encap == kernel.EncapUDP,
	})
	if err != nil {
		return err
	}
	t.kt, t.local = kt, kt.LocalAddr()
	if t.spec.static {
		return t.startStatic()
	}
	now := t.e.now()
	t.mopts = MarshalOptions{Secret: t.p.secret, Rand: randReader{t.e}, Hide: t.p.hide}
	digest := false
	if typ, ok := t.p.digestType(); ok && t.spec.version == Version3 {
		t.dig = &controlDigest{Type: typ, Keys: [][]byte{DigestKey(t.p.secret)}}
		digest = true
	} else if t.spec.version == Version3 && !t.spec.initiator && firstHasDigest(t.spec.first) {
		digest = true // the peer uses control message authentication: so do we (set up in onPacket)
	}
	if digest {
		t.nonce = t.e.randBytes(16) // RFC 3931 §5.4.1: at least 16 octets of randomness
		if t.dig != nil {
			t.dig.LocalNonce = t.nonce
		}
	}
	t.tr = newTransport(t.p.transportConfig(t.spec.version, digest), t.marshal)
	if t.peerID != 0 {
		t.tr.SetPeerTunnelID(t.peerID)
	}
	if d := t.p.cfg.System.TunnelEstablishTimeout; d > 0 {
		t.estAt = now.Add(d)
	}
	t.helpers.Add(1)
	go t.read()
	if t.spec.initiator {
		t.fsm(tevOpen)
	}
	return nil
}

// read moves control packets from the kernel tunnel to the actor until the tunnel is
// closed.
func (t *tunnel) read() {
	defer t.helpers.Done()
	buf := make([]byte, 4096)
	for {
		n, from, err := t.kt.ReadControl(buf)
		if err != nil {
			return
		}
		b := append([]byte(nil), buf[:n]...)
		select {
		case t.pkts <- ctlPacket{b, from}:
		case <-t.quit:
			return
		}
	}
}

// exit releases everything and tells the engine.
func (t *tunnel) exit() {
	close(t.quit)
	if len(t.sessions) > 0 {
		t.cleanupSessions()
	}
	if t.kt != nil {
		if err := t.kt.Close(); err != nil {
			t.log.Warn("closing the kernel tunnel", zap.Error(err))
		}
	}
	t.helpers.Wait()
	t.timer.Stop()
	if t.upEvent {
		t.upEvent = false
		t.publish(event.TunnelDown, t.eventResult())
	}
	t.e.m.tunnelLeave(t.state)
	if !t.outcome.wentUp {
		t.e.m.tunnelsTotal.WithLabelValues("failed").Inc()
		if t.result != nil {
			t.e.m.setupFailure("tunnel", t.result.Result)
		}
	}
	t.e.unregister(t)
	t.publish(event.TunnelDeleted, t.eventResult())
	t.log.Info("tunnel deleted", zap.String("reason", t.reason))
	close(t.done)
	t.e.wg.Done()
}

// shutdown begins the engine's stop: a StopCCN with result 6, "requester is being shut
// down" (RFC 2661 §4.4.2), then a bounded wait for its acknowledgement.
func (t *tunnel) shutdown() {
	t.shutting = true
	t.hardAt = t.e.now().Add(shutdownWait)
	switch {
	case t.spec.static, t.state == tunnelIdle:
		t.setResult(ResultError{Result: uint16(StopCCNShuttingDown)}, "shutting down")
		t.fsm(tevClose)
		t.setState(tunnelClosed)
	case t.state < tunnelClosing:
		t.closeWith(ResultError{Result: uint16(StopCCNShuttingDown)}, "shutting down")
	}
}

// adminClose closes the tunnel administratively; a persistent tunnel stays down.
func (t *tunnel) adminClose(res ResultError, reason string) {
	t.outcome.admin = true
	t.closeWith(res, reason)
}

// adminResult is the StopCCN result of an administrative delete: 1, "general request to
// clear control connection" (RFC 2661 §4.4.2, RFC 3931 §5.4.2).
func adminResult(Version) ResultError {
	return ResultError{Result: uint16(StopCCNGeneralRequest)}
}

// closeWith closes the tunnel locally, telling the peer res in a StopCCN.
func (t *tunnel) closeWith(res ResultError, reason string) {
	if t.state >= tunnelClosing {
		return
	}
	t.setResult(res, reason)
	t.fsm(tevClose)
	if t.spec.static && t.state == tunnelClosing {
		t.setState(tunnelClosed)
	}
}

// setResult records why the tunnel ends, unless a reason is already recorded.
func (t *tunnel) setResult(res ResultError, reason string) {
	if t.result == nil {
		t.result = &res
		t.reason = reason
	}
}

// fsm feeds the control connection state machine and carries out its actions.
func (t *tunnel) fsm(ev tunnelEvent) {
	prev := t.state
	next, acts := prev.on(ev)
	t.log.Debug("tunnel event", zap.Stringer("event", ev), zap.Stringer("state", prev), zap.Stringer("next", next))
	t.setState(next)
	for _, a := range acts {
		switch a {
		case tactSendSCCRQ:
			t.sendSCCRQ()
		case tactSendSCCRP:
			t.sendSCCRP()
		case tactSendSCCCN:
			t.sendSCCCN()
		case tactSendStopCCN:
			if t.result == nil {
				t.setResult(ResultError{Result: uint16(StopCCNFSMError)}, fmt.Sprintf("unexpected message in state %v", prev))
			}
			t.sendStopCCN()
			t.drain()
		case tactUp:
			t.up()
		case tactCleanup:
			t.cleanupSessions()
		case tactDrain:
			t.drain()
		}
	}
}

// drain stops the transport: it keeps acknowledging and retransmitting, then reports
// Closed after a full retransmission cycle (RFC 2661 §5.7).
func (t *tunnel) drain() {
	if t.tr != nil {
		t.handle(t.e.now(), t.tr.Stop(t.e.now()))
	}
}

// setState moves to next, with the log line, metric and engine index that go with it.
func (t *tunnel) setState(next tunnelState) {
	prev := t.state
	if next == prev {
		return
	}
	t.state, t.since = next, t.e.now()
	t.e.m.tunnelLeave(prev)
	t.e.m.tunnelEnter(next)
	t.log.Info("tunnel state", zap.Stringer("state", next), zap.Stringer("from", prev))
	if next >= tunnelClosing {
		if prev < tunnelClosing {
			t.outcome.result = t.tunnelResult()
			close(t.down)
		}
		t.e.unname(t)
		t.estAt, t.idleSince = time.Time{}, time.Time{}
		if t.upEvent {
			t.upEvent = false
			t.publish(event.TunnelDown, t.eventResult())
		}
	}
}

// up is "tunnel-open" (RFC 2661 §7.2.1): the data plane tunnel is completed and the
// sessions waiting for the tunnel go on.
// peerAddr is the peer's address and port: the configured or first-seen one, or the port
// it answered our SCCRQ from.
func (t *tunnel) peerAddr() netip.AddrPort {
	if t.answered.IsValid() {
		return t.answered
	}
	return t.spec.peer
}

func (t *tunnel) up() {
	if err := t.kt.Establish(t.peerID, t.peerAddr()); err != nil {
		t.log.Warn("cannot establish the data plane tunnel", zap.Error(err))
		t.closeWith(ResultError{Result: uint16(StopCCNGeneralError), ErrorCode: uint16(ErrorInsufficientResources), Message: "data plane error"}, "data plane: "+err.Error())
		return
	}
	now := t.e.now()
	t.estAt = time.Time{}
	t.idleSince = now
	t.outcome.wentUp = true
	t.upEvent = true
	t.e.m.tunnelsTotal.WithLabelValues("established").Inc()
	t.publish(event.TunnelUp, nil)
	for _, s := range t.sortedSessions() {
		if s.fsm.state == sessWaitTunnel {
			t.sfsm(s, sevTunnelUp)
		}
	}
	if t.spec.name != "" {
		for _, name := range sortedKeys(t.p.configured.Sessions) {
			if t.configuredSession(name) == nil {
				if _, err := t.openConfiguredSession(name); err != nil {
					t.log.Warn("cannot open configured session", zap.String("session", name), zap.Error(err))
				}
			}
		}
	}
}

// onTimer runs whatever is due.
func (t *tunnel) onTimer() {
	now := t.e.now()
	if !t.trAt.IsZero() && !now.Before(t.trAt) {
		t.trAt = time.Time{}
		if t.tr != nil {
			t.handle(now, t.tr.Tick(now))
		}
	}
	if !t.estAt.IsZero() && !now.Before(t.estAt) && t.state < tunnelEstablished {
		res := ResultError{Result: uint16(StopCCNGeneralError), Message: "not established in time"}
		if t.spec.version == Version3 {
			res.Result = uint16(StopCCNFSMError) // RFC 3931 §5.4.2: "finite state machine error or timeout"
		}
		t.closeWith(res, "not established within system.tunnel_establish_timeout")
	}
	if at := t.idleAt(); !at.IsZero() && !now.Before(at) {
		t.closeWith(ResultError{Result: uint16(StopCCNGeneralRequest), Message: "idle"}, "idle for tunnel_profile.idle_timeout")
	}
	if !t.sessAt.IsZero() && !now.Before(t.sessAt) {
		t.sessionTimers(now)
	}
	if !t.hardAt.IsZero() && !now.Before(t.hardAt) {
		t.setState(tunnelClosed)
	}
}

// idleAt returns when an idle tunnel closes: a tunnel with an idle_timeout that has had
// no session for that long (neither static nor persistent), and has nothing left to
// deliver. A tunnel whose last calls' CDNs still wait for the peer's window is not idle:
// each CDN tells the peer why its session ended (what its accounting records), which the
// StopCCN, clearing whatever had not gone out, would not.
func (t *tunnel) idleAt() time.Time {
	d := t.p.prof.IdleTimeout
	if d <= 0 || t.spec.static || t.p.persist || t.state != tunnelEstablished || len(t.sessions) > 0 || t.idleSince.IsZero() {
		return time.Time{}
	}
	if len(t.backlog) > 0 || (t.tr != nil && !t.tr.Idle()) {
		return time.Time{} // the acknowledgement that empties the queue re-arms the timer
	}
	return t.idleSince.Add(d)
}

// arm sets the one timer to the earliest deadline.
func (t *tunnel) arm() {
	var next time.Time
	for _, at := range []time.Time{t.trAt, t.estAt, t.idleAt(), t.sessAt, t.hardAt} {
		if !at.IsZero() && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}
	if next.IsZero() {
		t.timer.Stop()
		return
	}
	t.timer.Reset(max(next.Sub(t.e.now()), 0))
}

// handle carries out what a transport call returned.
func (t *tunnel) handle(now time.Time, out transportOutput) {
	for _, p := range out.Packets {
		t.write(p)
	}
	if out.Err == nil && !out.Closed {
		t.trAt = out.Deadline
	} else {
		t.trAt = time.Time{}
	}
	for _, m := range out.Delivered {
		if t.state == tunnelClosed {
			break
		}
		t.dispatch(m)
	}
	if out.HelloDue && t.state < tunnelClosing {
		// RFC 2661 §5.5: a HELLO after a period without control or data messages.
		if rx := t.kt.Stats().RxPackets; rx != t.lastDataRx {
			t.lastDataRx = rx
			t.tr.NoteActivity(now)
		} else {
			t.helloSent++
			t.send(&Message{Type: MsgHELLO})
		}
	}
	if out.Err != nil && t.state != tunnelClosed {
		if errors.Is(out.Err, errPeerUnresponsive) {
			t.e.m.unresponsive.Inc()
			t.log.Warn("peer unresponsive: tearing the tunnel down", zap.Error(out.Err))
			t.setResult(ResultError{Result: uint16(StopCCNFSMError), Message: "peer unresponsive"}, "peer unresponsive: no acknowledgement after max_retries")
		} else {
			t.setResult(ResultError{Result: uint16(StopCCNGeneralError), Message: out.Err.Error()}, out.Err.Error())
		}
		t.fsm(tevPeerDead)
	}
	if out.Closed {
		t.fsm(tevDrained)
	}
	if len(t.backlog) > 0 && out.Err == nil && !out.Closed {
		t.unloadBacklog(now)
	}
}

// write sends one packet to the peer.
func (t *tunnel) write(p []byte) {
	typ, ns, ok := peekControl(p)
	switch {
	case !ok:
	case typ == 0 || typ == MsgACK:
		t.e.m.tx(typ, false)
	default:
		retx := t.txAny && int16(ns-t.txMax) < 0
		if !retx {
			t.txMax, t.txAny = ns+1, true
		}
		t.e.m.tx(typ, retx)
	}
	if err := t.kt.WriteControl(p); err != nil {
		t.log.Debug("writing a control message", zap.Error(err))
	}
}

// send queues m on the reliable transport, addressed to the peer's tunnel.
func (t *tunnel) send(m *Message) {
	if t.tr == nil {
		return
	}
	m.Version = t.spec.version
	m.TunnelID = t.peerID
	if m.Type == MsgStopCCN && m.Vendor == 0 {
		// The StopCCN clears every session: what they still had to say and has not gone
		// out is moot, and the StopCCN need not wait behind it.
		if n := len(t.backlog) + t.tr.DiscardUnsent(); n > 0 {
			t.log.Debug("StopCCN: dropping control messages not yet sent", zap.Int("count", n))
		}
		t.backlog = nil
	}
	if len(t.backlog) > 0 {
		t.backlog = append(t.backlog, m)
		return
	}
	now := t.e.now()
	out, err := t.tr.Send(now, m)
	if errors.Is(err, errSendQueueFull) {
		// A burst of calls (a thousand subscribers dialling after an outage) can outrun the
		// peer's window by more than the send queue holds. Nothing is lost: the messages
		// wait here, in order, and go out as the peer's acknowledgements make room.
		t.log.Debug("send queue full: holding control messages", zap.Stringer("type", m.Type))
		t.backlog = append(t.backlog, m)
		err = nil
	}
	t.handle(now, out)
	if err != nil {
		t.log.Warn("cannot send control message", zap.Stringer("type", m.Type), zap.Error(err))
	}
}

// queued counts the messages waiting for the peer's window (TransportStats.Queued).
func (t *tunnel) queued() int {
	return len(t.tr.queue) - t.tr.InFlight() + len(t.backlog)
}

// unloadBacklog moves held messages into the transport while its send queue has room.
func (t *tunnel) unloadBacklog(now time.Time) {
	if t.unloading || t.tr == nil {
		return
	}
	t.unloading = true
	defer func() { t.unloading = false }()
	for len(t.backlog) > 0 {
		m := t.backlog[0]
		out, err := t.tr.Send(now, m)
		if errors.Is(err, errSendQueueFull) {
			return
		}
		t.backlog[0] = nil
		t.backlog = t.backlog[1:]
		if len(t.backlog) == 0 {
			t.backlog = nil
		}
		t.handle(now, out)
		if err != nil {
			t.log.Warn("cannot send control message", zap.Stringer("type", m.Type), zap.Error(err))
			if errors.Is(err, errTransportStopped) {
				t.backlog = nil
			}
		}
	}
}

// marshal encodes a message for the transport: hidden AVPs with the secret, and the
// L2TPv3 Message Digest when control message authentication is in use. The data plane
// adds the zero Session ID of L2TPv3 over IP itself.
func (t *tunnel) marshal(m *Message) ([]byte, error) {
	return controlMarshaler(&t.mopts, false, t.dig)(m)
}

func (t *tunnel) publish(typ event.Type, res *event.Result) {
	if t.e.deps.Bus == nil {
		return
	}
	t.e.deps.Bus.Publish(event.Event{Type: typ, Engine: "l2tp", Tunnel: t.eventTunnel(), Result: res})
}

func (t *tunnel) eventTunnel() *event.Tunnel {
	et := &event.Tunnel{
		ID:       t.id,
		PeerID:   t.peerID,
		Name:     t.spec.name,
		Profile:  t.spec.profile,
		Version:  int(t.spec.version),
		Encap:    t.spec.encap.String(),
		Peer:     addrText(t.spec.encap, t.peerAddr()),
		PeerHost: t.peer.host,
		Created:  !t.spec.initiator && !t.spec.static,
	}
	if t.local.IsValid() {
		et.Local = addrText(t.spec.encap, t.local)
	}
	return et
}

func (t *tunnel) eventResult() *event.Result {
	if t.result == nil {
		return &event.Result{Reason: t.reason}
	}
	return &event.Result{Code: t.result.Result, Error: t.result.ErrorCode, Message: t.result.Message, Reason: t.reason}
}

// addrText renders an address: with the port for UDP, without for IP.
func addrText(encap kernel.Encap, ap netip.AddrPort) string {
	if !ap.IsValid() {
		return ""
	}
	if encap == kernel.EncapIP {
		return ap.Addr().String()
	}
	return ap.String()
}

// randReader reads the engine's random source (for Random Vectors).
type randReader struct{ e *Engine }

func (r randReader) Read(b []byte) (int, error) {
	r.e.randRead(b)
	return len(b), nil
}
