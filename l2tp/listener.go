package l2tp

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"go.uber.org/zap"

	"github.com/probox/probox/config"
	"github.com/probox/probox/kernel"
)

// Listeners: where peers open tunnels (SCCRQ), and how an SCCRQ becomes a tunnel actor.

// listenKey identifies a listener by encapsulation and address.
type listenKey struct {
	encap kernel.Encap
	addr  netip.AddrPort
}

// listener reads the control packets that belong to no tunnel.
type listener struct {
	e    *Engine
	key  listenKey
	l    kernel.Listener
	done chan struct{}
}

// listenKeys returns the listeners the configuration asks for.
func listenKeys(cfg *config.Config) map[listenKey]bool {
	want := map[listenKey]bool{}
	for _, s := range cfg.System.L2TPListen {
		if ap, err := netip.ParseAddrPort(s); err == nil {
			want[listenKey{kernel.EncapUDP, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())}] = true
		}
	}
	for _, s := range cfg.System.L2TPIPListen {
		if a, err := netip.ParseAddr(s); err == nil {
			want[listenKey{kernel.EncapIP, netip.AddrPortFrom(a.Unmap(), 0)}] = true
		}
	}
	return want
}

// syncListeners opens the listeners cfg asks for and closes the others.
func (e *Engine) syncListeners(cfg *config.Config) error {
	want := listenKeys(cfg)
	e.mu.Lock()
	var stale []*listener
	for k, l := range e.listeners {
		if !want[k] {
			stale = append(stale, l)
			delete(e.listeners, k)
		}
	}
	var add []listenKey
	for k := range want {
		if e.listeners[k] == nil {
			add = append(add, k)
		}
	}
	e.mu.Unlock()
	for _, l := range stale {
		l.close()
	}
	var errs []error
	for _, k := range add {
		kl, err := e.deps.Dataplane.Listen(kernel.ListenConfig{Encap: k.encap, Addr: k.addr})
		if err != nil {
			errs = append(errs, fmt.Errorf("l2tp: listening on %s %v: %w", k.encap, k.addr, err))
			continue
		}
		l := &listener{e: e, key: k, l: kl, done: make(chan struct{})}
		e.mu.Lock()
		if e.state != engineRunning {
			e.mu.Unlock()
			kl.Close()
			continue
		}
		e.listeners[k] = l
		e.wg.Add(1)
		e.mu.Unlock()
		go l.run()
		e.log.Info("listening for tunnels", zap.Stringer("encap", k.encap), zap.Stringer("addr", kl.Addr()))
	}
	return errors.Join(errs...)
}

func (e *Engine) listenerCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.listeners)
}

func (l *listener) close() {
	l.l.Close()
	<-l.done
}

func (l *listener) run() {
	defer l.e.wg.Done()
	defer close(l.done)
	buf := make([]byte, 65535)
	for {
		n, src, dst, err := l.l.ReadFrom(buf)
		if err != nil {
			return
		}
		l.e.accept(l, append([]byte(nil), buf[:n]...), src, dst)
	}
}

// parseForListener parses a packet that reached a listener. Hidden AVPs (an SCCRQ may hide
// its Assigned Tunnel ID) need the tunnel secret, which depends on the peer profile: the
// secret of the profile matching the source address is tried first, then every other
// configured secret.
func parseForListener(cfg *config.Config, b []byte, src netip.Addr) (Message, error) {
	first := cfg.TunnelProfiles[cfg.PeerProfiles[matchPeer(cfg, src, "")].TunnelProfile].Secret
	m, err := Parse(b, &ParseOptions{Secret: secretBytes(first)})
	if err == nil || !(errors.Is(err, ErrNoSecret) || errors.Is(err, ErrHidden)) {
		return m, err
	}
	tried := map[string]bool{first: true}
	for _, name := range sortedKeys(cfg.TunnelProfiles) {
		s := cfg.TunnelProfiles[name].Secret
		if tried[s] {
			continue
		}
		tried[s] = true
		if m2, err2 := Parse(b, &ParseOptions{Secret: secretBytes(s)}); err2 == nil {
			return m2, nil
		}
	}
	return m, err
}

func secretBytes(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}

// accept handles a control packet that reached listener l from src.
func (e *Engine) accept(l *listener, b []byte, src netip.AddrPort, dst netip.Addr) {
	src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
	if l.key.encap == kernel.EncapIP {
		src = netip.AddrPortFrom(src.Addr(), 0)
	} else if control, _, err := ClassifyUDP(b); err != nil || !control {
		return // data for no tunnel
	}
	e.mu.Lock()
	cfg := e.cfg
	e.mu.Unlock()
	m, err := parseForListener(cfg, b, src.Addr())
	if err != nil {
		e.m.dropped.WithLabelValues("malformed").Inc()
		e.peerWarn("undecodable control message for no tunnel", zap.Stringer("peer", src), zap.Error(err))
		return
	}
	if m.Type != MsgSCCRQ {
		// Something for a tunnel we do not know (or a late retransmission for one that has
		// gone): the kernel gives it to the listener. Give it to the tunnel if it is ours.
		if m.TunnelID != 0 {
			if t := e.tunnelByID(m.TunnelID); t != nil && t.spec.peer.Addr() == src.Addr() {
				t.deliver(b, src)
				return
			}
		}
		e.m.rx(m.Type)
		e.log.Debug("control message for no tunnel ignored", zap.Stringer("peer", src), zap.Stringer("type", m.Type))
		return
	}
	peerTID := assignedTunnelID(&m)
	key := peerKey{src, peerTID}
	if t := e.tunnelByPeer(key); t != nil {
		t.deliver(b, src) // a retransmitted SCCRQ reaches the tunnel it opened
		return
	}
	if err := m.Validate(); err != nil || peerTID == 0 {
		res := ResultError{Result: uint16(StopCCNGeneralError), ErrorCode: uint16(ErrorLength), Message: "malformed SCCRQ"}
		var unk *UnknownAVPError
		switch {
		case errors.As(err, &unk):
			res = unk.Result()
		case err != nil:
			res.Message = err.Error()
		}
		e.refuse(l, &m, src, peerTID, res, "malformed SCCRQ")
		return
	}
	host := ""
	if a, ok := m.Find(AVPHostName); ok {
		host = a.Text()
	}
	// RFC 2661 §4.4.3, RFC 3931 §5.4.3: an SCCRQ from a peer we are opening a tunnel to.
	if e.tieBreak(&m, src) {
		return
	}
	peerProf := matchPeer(cfg, src.Addr(), host)
	pp := cfg.PeerProfiles[peerProf]
	if tp := cfg.TunnelProfiles[pp.TunnelProfile]; m.Version == Version3 && tp.Digest != config.DigestNone {
		// RFC 3931 §5.4.1: a profile that requires control message authentication admits
		// only SCCRQs whose digest verifies; no tunnel is made for the others.
		switch err := VerifyMessage(b, nil, nil, DigestKey(secretBytes(tp.Secret))); {
		case errors.Is(err, ErrNoDigest):
			e.m.authFailures.Inc()
			e.refuse(l, &m, src, peerTID, ResultError{Result: uint16(StopCCNNotAuthorized), Message: "control message authentication required"}, "SCCRQ without a Message Digest")
			return
		case err != nil:
			e.m.authFailures.Inc()
			e.m.dropped.WithLabelValues("digest").Inc()
			e.peerWarn("SCCRQ failed authentication: dropped", zap.Stringer("peer", src), zap.Error(err))
			return
		}
	}
	switch {
	case cfg.System.DenyRemoteTunnelCreates:
		e.refuse(l, &m, src, peerTID, ResultError{Result: uint16(StopCCNNotAuthorized), Message: "this host does not accept tunnels"}, "system.deny_remote_tunnel_creates")
		return
	case pp.Role == config.RoleLNS:
		// The peer profile says the peer is an LNS: it may accept our tunnels but not open
		// its own. Result 4, "requester is not authorized" (RFC 2661 §4.4.2).
		e.refuse(l, &m, src, peerTID, ResultError{Result: uint16(StopCCNNotAuthorized), Message: "peer may not open tunnels"}, "peer_profile."+peerProf+".role = lns")
		return
	}
	spec := tunnelSpec{
		version:  m.Version,
		encap:    l.key.encap,
		local:    netip.AddrPortFrom(dst.Unmap(), l.l.Addr().Port()),
		peer:     src,
		profile:  pp.TunnelProfile,
		peerProf: peerProf,
		first:    b,
		peerID:   peerTID,
		peerKey:  key,
	}
	if l.key.encap == kernel.EncapIP {
		spec.local = netip.AddrPortFrom(dst.Unmap(), 0)
	}
	t, err := e.startTunnel(spec)
	if err != nil {
		res := ResultError{Result: uint16(StopCCNGeneralError), ErrorCode: uint16(ErrorInsufficientResources), Message: err.Error()}
		if errors.Is(err, ErrNotRunning) {
			res = ResultError{Result: uint16(StopCCNShuttingDown)}
		}
		e.refuse(l, &m, src, peerTID, res, err.Error())
		return
	}
	t.deliver(b, src)
}

// assignedTunnelID returns the sender's Assigned Tunnel ID (L2TPv2) or Assigned Control
// Connection ID (L2TPv3), or 0.
func assignedTunnelID(m *Message) uint32 {
	if m.Version == Version2 {
		if a, ok := m.Find(AVPAssignedTunnelID); ok {
			v, _ := a.Uint16()
			return uint32(v)
		}
		return 0
	}
	if a, ok := m.Find(AVPAssignedControlConnID); ok {
		v, _ := a.Uint32()
		return v
	}
	return 0
}

// refuse answers an SCCRQ that gets no tunnel with a StopCCN from the listener's address.
// It is sent once, without reliable delivery: keeping state for a refused peer would let
// it consume tunnels by sending SCCRQs.
func (e *Engine) refuse(l *listener, m *Message, src netip.AddrPort, peerTID uint32, res ResultError, why string) {
	e.m.rx(m.Type)
	e.m.setupFailure("tunnel", res.Result)
	e.peerWarn("tunnel refused", zap.Stringer("peer", src), zap.String("reason", why), zap.Uint16("result", res.Result))
	if peerTID == 0 {
		return // nowhere to address it
	}
	stop := Message{Header: Header{Version: m.Version, TunnelID: peerTID, Ns: 0, Nr: m.Ns + 1}, Type: MsgStopCCN}
	if m.Version == Version2 {
		stop.AVPs = append(stop.AVPs, NewUint16(AVPAssignedTunnelID, 0))
	}
	stop.AVPs = append(stop.AVPs, res.AVP())
	b, err := stop.Marshal(nil)
	if err != nil {
		return
	}
	if err := l.l.WriteTo(b, src); err == nil {
		e.m.tx(MsgStopCCN, false)
	}
}

func (e *Engine) tunnelByID(id uint32) *tunnel {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.tunnels[id]
}

func (e *Engine) tunnelByPeer(k peerKey) *tunnel {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.byPeer[k]
}

// tieOutcome is what a tunnel in wait-ctl-reply makes of a crossing SCCRQ.
type tieOutcome uint8

const (
	tieNone  tieOutcome = iota // no tie: open a second tunnel as usual
	tieWon                     // our SCCRQ wins: drop the peer's
	tieLost                    // the peer's wins: our tunnel has gone, accept the peer's
	tieEqual                   // equal values: both are discarded
)

// tieBreak offers a received SCCRQ to our tunnels being opened to the same peer address,
// and reports whether the SCCRQ is to be dropped. RFC 2661 §4.4.3: "The lower value wins,
// and the loser MUST silently discard its tunnel"; equal values discard both; a tie
// breaker beats none; without tie breakers on either side both tunnels are opened.
func (e *Engine) tieBreak(m *Message, src netip.AddrPort) bool {
	var theirs *uint64
	if a, ok := m.Find(AVPTieBreaker); ok {
		if v, err := a.Uint64(); err == nil {
			theirs = &v
		}
	}
	e.mu.Lock()
	var cands []*tunnel
	for _, t := range e.tunnels {
		if t.spec.initiator && t.spec.peer.Addr() == src.Addr() && t.spec.version == m.Version {
			cands = append(cands, t)
		}
	}
	e.mu.Unlock()
	drop := false
	for _, t := range cands {
		var out tieOutcome
		if err := t.doWait(time.Second, func(t *tunnel) { out = t.tieBreak(theirs) }); err != nil {
			continue
		}
		switch out {
		case tieWon, tieEqual:
			drop = true
		}
	}
	return drop
}

// peerWarn logs a warning that a peer can trigger, rate-limited.
func (e *Engine) peerWarn(msg string, fields ...zap.Field) {
	if e.warn.allow() {
		e.log.Warn(msg, fields...)
	} else {
		e.log.Debug(msg, fields...)
	}
}
