package l2tp

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/probox/probox/kernel"
)

// Snapshots and operations for the management API. Snapshots are built by the actors on
// their own goroutines (tunnel.do), so they are consistent and nothing reads an actor's
// state from outside.

// TunnelInfo is a tunnel's summary.
type TunnelInfo struct {
	ID               uint32    `json:"id"`
	Name             string    `json:"name,omitempty"`
	State            string    `json:"state"`
	Since            time.Time `json:"since"`
	Created          time.Time `json:"created"`
	NetworkInitiated bool      `json:"network_initiated"`
	Static           bool      `json:"static,omitempty"`
	Version          int       `json:"version"`
	Encap            string    `json:"encap"`
	Local            string    `json:"local"`
	Peer             string    `json:"peer"`
	PeerID           uint32    `json:"peer_id,omitempty"`
	PeerHost         string    `json:"peer_host,omitempty"`
	Profile          string    `json:"profile"`
	PeerProfile      string    `json:"peer_profile,omitempty"`
	Sessions         int       `json:"sessions"`
}

// TunnelDetail is everything about one tunnel.
type TunnelDetail struct {
	TunnelInfo
	PeerVendor   string         `json:"peer_vendor,omitempty"`
	PeerFirmware uint16         `json:"peer_firmware,omitempty"`
	PeerRouterID string         `json:"peer_router_id,omitempty"`
	PeerWindow   int            `json:"peer_window"`
	PeerFraming  uint32         `json:"peer_framing_caps,omitempty"`
	PeerBearer   uint32         `json:"peer_bearer_caps,omitempty"`
	PeerPWTypes  []string       `json:"peer_pw_types,omitempty"`
	Auth         string         `json:"auth"` // none, challenge, digest
	HideAVPs     bool           `json:"hide_avps"`
	Persist      bool           `json:"persist,omitempty"`
	Transport    TransportStats `json:"transport"`
	Data         Counters       `json:"data"`
	Result       *ResultInfo    `json:"result,omitempty"`
	SessionList  []SessionInfo  `json:"session_list"`
}

// TransportStats are a tunnel's reliable-transport counters.
type TransportStats struct {
	Transmitted   uint64 `json:"transmitted"`
	Retransmitted uint64 `json:"retransmitted"`
	AcksSent      uint64 `json:"acks_sent"`
	Received      uint64 `json:"received"`
	Delivered     uint64 `json:"delivered"`
	Duplicates    uint64 `json:"duplicates"`
	OutOfOrder    uint64 `json:"out_of_order"`
	OutOfWindow   uint64 `json:"out_of_window"`
	InFlight      int    `json:"in_flight"`
	// Queued counts the messages waiting for the peer's window: in the transport's send
	// queue behind those in flight, and held by the tunnel when that queue is full.
	Queued     int    `json:"queued"`
	HellosSent uint64 `json:"hellos_sent"`
}

// Counters are data-plane counters.
type Counters struct {
	RxPackets uint64 `json:"rx_packets"`
	RxBytes   uint64 `json:"rx_bytes"`
	TxPackets uint64 `json:"tx_packets"`
	TxBytes   uint64 `json:"tx_bytes"`
	Dropped   uint64 `json:"dropped"`
}

func countersOf(c kernel.Counters) Counters {
	return Counters{RxPackets: c.RxPackets, RxBytes: c.RxBytes, TxPackets: c.TxPackets, TxBytes: c.TxBytes, Dropped: c.Dropped()}
}

// ResultInfo is why a tunnel or session is ending.
type ResultInfo struct {
	Code    uint16 `json:"code"`
	Error   uint16 `json:"error,omitempty"`
	Message string `json:"message,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// SessionInfo describes one session.
type SessionInfo struct {
	ID             uint32      `json:"id"`
	PeerID         uint32      `json:"peer_id,omitempty"`
	TunnelID       uint32      `json:"tunnel_id"`
	PeerTunnelID   uint32      `json:"peer_tunnel_id,omitempty"`
	TunnelName     string      `json:"tunnel_name,omitempty"`
	Name           string      `json:"name,omitempty"`
	State          string      `json:"state"`
	Role           string      `json:"role"`
	Since          time.Time   `json:"since"`
	Created        time.Time   `json:"created"`
	PWType         string      `json:"pw_type"`
	Profile        string      `json:"profile"`
	PPPProfile     string      `json:"ppp_profile,omitempty"`
	Interface      string      `json:"interface,omitempty"`
	User           string      `json:"user,omitempty"`
	CallingNumber  string      `json:"calling_number,omitempty"`
	CalledNumber   string      `json:"called_number,omitempty"`
	CallSerial     uint32      `json:"call_serial"`
	TxConnectSpeed uint64      `json:"tx_connect_speed,omitempty"`
	RxConnectSpeed uint64      `json:"rx_connect_speed,omitempty"`
	CookieLen      int         `json:"cookie_len,omitempty"`
	PeerCookieLen  int         `json:"peer_cookie_len,omitempty"`
	L2Spec         string      `json:"l2spec,omitempty"`
	SendSeq        bool        `json:"send_seq"`
	RecvSeq        bool        `json:"recv_seq"`
	ProxyLCP       bool        `json:"proxy_lcp,omitempty"`
	ProxyAuth      bool        `json:"proxy_auth,omitempty"`
	WANErrors      *CallErrors `json:"wan_errors,omitempty"`
	SLIs           uint64      `json:"slis,omitempty"`
	Data           Counters    `json:"data"`
	Result         *ResultInfo `json:"result,omitempty"`
}

// EngineStats are engine-wide counts.
type EngineStats struct {
	HostName  string         `json:"host_name"`
	RouterID  string         `json:"router_id"`
	Listeners []string       `json:"listeners"`
	Tunnels   map[string]int `json:"tunnels"`  // by state
	Sessions  map[string]int `json:"sessions"` // by state
	Transport TransportStats `json:"transport"`
}

func (t *tunnel) info() TunnelInfo {
	return TunnelInfo{
		ID:               t.id,
		Name:             t.spec.name,
		State:            t.state.String(),
		Since:            t.since,
		Created:          t.created,
		NetworkInitiated: !t.spec.initiator && !t.spec.static,
		Static:           t.spec.static,
		Version:          int(t.spec.version),
		Encap:            t.spec.encap.String(),
		Local:            addrText(t.spec.encap, t.local),
		Peer:             addrText(t.spec.encap, t.peerAddr()),
		PeerID:           t.peerID,
		PeerHost:         t.peer.host,
		Profile:          t.spec.profile,
		PeerProfile:      t.spec.peerProf,
		Sessions:         len(t.sessions),
	}
}

func (t *tunnel) detail() TunnelDetail {
	d := TunnelDetail{
		TunnelInfo:   t.info(),
		PeerVendor:   t.peer.vendor,
		PeerFirmware: t.peer.firmware,
		PeerFraming:  t.peer.framing,
		PeerBearer:   t.peer.bearer,
		HideAVPs:     t.p.hide != nil,
		Persist:      t.p.persist,
		Auth:         "none",
		SessionList:  []SessionInfo{},
	}
	if t.peer.routerID != 0 {
		d.PeerRouterID = uint32Addr(t.peer.routerID).String()
	}
	for _, pw := range t.peer.pwCaps {
		d.PeerPWTypes = append(d.PeerPWTypes, pw.String())
	}
	switch {
	case t.dig != nil:
		d.Auth = "digest " + t.dig.Type.String()
	case t.challenge != nil || t.peerChal != nil:
		d.Auth = "challenge"
	}
	if t.tr != nil {
		st := t.tr.Stats()
		d.PeerWindow = t.tr.PeerWindow()
		d.Transport = TransportStats{Transmitted: st.Transmitted, Retransmitted: st.Retransmitted, AcksSent: st.AcksSent,
			Received: st.Received, Delivered: st.Delivered, Duplicates: st.Duplicates, OutOfOrder: st.OutOfOrder,
			OutOfWindow: st.OutOfWindow, InFlight: t.tr.InFlight(), Queued: t.queued(), HellosSent: t.helloSent}
	}
	if t.kt != nil {
		d.Data = countersOf(t.kt.Stats())
	}
	if t.result != nil {
		d.Result = &ResultInfo{Code: t.result.Result, Error: t.result.ErrorCode, Message: t.result.Message, Reason: t.reason}
	}
	for _, s := range t.sortedSessions() {
		d.SessionList = append(d.SessionList, t.sessionInfo(s))
	}
	return d
}

func (t *tunnel) sessionInfo(s *session) SessionInfo {
	si := SessionInfo{
		ID:             s.id,
		PeerID:         s.peerID,
		TunnelID:       t.id,
		PeerTunnelID:   t.peerID,
		TunnelName:     t.spec.name,
		Name:           s.params.name,
		State:          s.fsm.state.String(),
		Role:           s.fsm.role.String(),
		Since:          s.since,
		Created:        s.created,
		PWType:         s.pw.String(),
		Profile:        s.params.profileName,
		Interface:      s.iface,
		User:           s.info.User,
		CallingNumber:  s.calling,
		CalledNumber:   s.called,
		CallSerial:     s.serial,
		TxConnectSpeed: s.txSpeed,
		RxConnectSpeed: s.rxSpeed,
		CookieLen:      len(s.cookie),
		PeerCookieLen:  len(s.peerCookie),
		SendSeq:        s.sendSeq || s.peerSeq,
		RecvSeq:        s.recvSeq,
		ProxyLCP:       s.proxyLCP != nil,
		ProxyAuth:      s.proxyAuth != nil,
		SLIs:           s.sliCount,
	}
	if s.pw == kernel.PWPPP {
		si.PPPProfile = s.params.pppProfile
	}
	if t.spec.version == Version3 {
		si.L2Spec = "none"
		if s.l2spec == kernel.L2SpecDefault {
			si.L2Spec = "default"
		}
	}
	if s.ppp != nil {
		if u := s.ppp.User(); u != "" {
			si.User = u
		}
		if i := s.ppp.Interface(); i != "" {
			si.Interface = i
		}
	}
	if s.wenCount > 0 {
		w := s.wen
		si.WANErrors = &w
	}
	if s.ks != nil {
		si.Data = countersOf(s.ks.Stats())
	}
	if s.result != nil {
		si.Result = &ResultInfo{Code: s.result.Result, Error: s.result.ErrorCode, Message: s.result.Message, Reason: s.reason}
	}
	return si
}

// sortedTunnels returns the live tunnels by ID.
func (e *Engine) sortedTunnels() []*tunnel {
	ts := e.allTunnels()
	slices.SortFunc(ts, func(a, b *tunnel) int { return int(int64(a.id) - int64(b.id)) })
	return ts
}

// Tunnels lists every tunnel.
func (e *Engine) Tunnels(ctx context.Context) ([]TunnelInfo, error) {
	if _, err := e.running(); err != nil {
		return nil, err
	}
	out := []TunnelInfo{}
	for _, t := range e.sortedTunnels() {
		var ti TunnelInfo
		if err := t.do(ctx, func(t *tunnel) { ti = t.info() }); err != nil {
			if errors.Is(err, errTunnelGone) {
				continue
			}
			return nil, err
		}
		out = append(out, ti)
	}
	return out, nil
}

// Tunnel describes one tunnel; ref is a configured name or "@ID".
func (e *Engine) Tunnel(ctx context.Context, ref string) (TunnelDetail, error) {
	t, err := e.lookup(ref)
	if err != nil {
		return TunnelDetail{}, err
	}
	var d TunnelDetail
	if err := t.do(ctx, func(t *tunnel) { d = t.detail() }); err != nil {
		return TunnelDetail{}, gone(err, ref)
	}
	return d, nil
}

func gone(err error, ref string) error {
	if errors.Is(err, errTunnelGone) {
		return fmt.Errorf("%w: tunnel %s", ErrNotFound, ref)
	}
	return err
}

// Sessions lists the sessions of one tunnel, or of every tunnel when tunnelRef is "".
func (e *Engine) Sessions(ctx context.Context, tunnelRef string) ([]SessionInfo, error) {
	ts := []*tunnel{}
	if tunnelRef == "" {
		if _, err := e.running(); err != nil {
			return nil, err
		}
		ts = e.sortedTunnels()
	} else {
		t, err := e.lookup(tunnelRef)
		if err != nil {
			return nil, err
		}
		ts = append(ts, t)
	}
	out := []SessionInfo{}
	for _, t := range ts {
		var ss []SessionInfo
		err := t.do(ctx, func(t *tunnel) {
			for _, s := range t.sortedSessions() {
				ss = append(ss, t.sessionInfo(s))
			}
		})
		if err != nil {
			if errors.Is(err, errTunnelGone) && tunnelRef == "" {
				continue
			}
			return nil, gone(err, tunnelRef)
		}
		out = append(out, ss...)
	}
	return out, nil
}

// Session describes one session of a tunnel.
func (e *Engine) Session(ctx context.Context, tunnelRef string, sessionID uint32) (SessionInfo, error) {
	t, err := e.lookup(tunnelRef)
	if err != nil {
		return SessionInfo{}, err
	}
	var (
		si SessionInfo
		ok bool
	)
	if err := t.do(ctx, func(t *tunnel) {
		if s := t.sessions[sessionID]; s != nil {
			si, ok = t.sessionInfo(s), true
		}
	}); err != nil {
		return SessionInfo{}, gone(err, tunnelRef)
	}
	if !ok {
		return SessionInfo{}, fmt.Errorf("%w: session %d in tunnel %s", ErrNotFound, sessionID, tunnelRef)
	}
	return si, nil
}

// Stats returns engine-wide counts.
func (e *Engine) Stats(ctx context.Context) (EngineStats, error) {
	if _, err := e.running(); err != nil {
		return EngineStats{}, err
	}
	e.mu.Lock()
	st := EngineStats{
		HostName: e.hostName,
		RouterID: uint32Addr(e.routerID).String(),
		Tunnels:  map[string]int{},
		Sessions: map[string]int{},
	}
	for k, l := range e.listeners {
		st.Listeners = append(st.Listeners, k.encap.String()+" "+addrText(k.encap, l.l.Addr()))
	}
	e.mu.Unlock()
	slices.Sort(st.Listeners)
	for _, t := range e.sortedTunnels() {
		err := t.do(ctx, func(t *tunnel) {
			st.Tunnels[t.state.String()]++
			for _, s := range t.sessions {
				st.Sessions[s.fsm.state.String()]++
			}
			if t.tr != nil {
				ts := t.tr.Stats()
				st.Transport.Transmitted += ts.Transmitted
				st.Transport.Retransmitted += ts.Retransmitted
				st.Transport.AcksSent += ts.AcksSent
				st.Transport.Received += ts.Received
				st.Transport.Delivered += ts.Delivered
				st.Transport.Duplicates += ts.Duplicates
				st.Transport.OutOfOrder += ts.OutOfOrder
				st.Transport.OutOfWindow += ts.OutOfWindow
				st.Transport.InFlight += t.tr.InFlight()
				st.Transport.Queued += t.queued()
				st.Transport.HellosSent += t.helloSent
			}
		})
		if err != nil && !errors.Is(err, errTunnelGone) {
			return EngineStats{}, err
		}
	}
	return st, nil
}

// CreateTunnel brings up configured tunnel name now.
func (e *Engine) CreateTunnel(ctx context.Context, name string) (TunnelInfo, error) {
	if _, err := e.running(); err != nil {
		return TunnelInfo{}, err
	}
	if err := e.startConfigured(name); err != nil {
		return TunnelInfo{}, err
	}
	t, err := e.lookup(name)
	if err != nil {
		return TunnelInfo{}, err
	}
	var ti TunnelInfo
	if err := t.do(ctx, func(t *tunnel) { ti = t.info() }); err != nil {
		return TunnelInfo{}, gone(err, name)
	}
	return ti, nil
}

// DeleteTunnel tears a tunnel down with a StopCCN, result 1, "general request to clear
// control connection" (RFC 2661 §4.4.2, RFC 3931 §5.4.2). A persistent tunnel stays down
// until it is created again (or the configuration is reloaded with it changed).
func (e *Engine) DeleteTunnel(ctx context.Context, ref, reason string) error {
	t, err := e.lookup(ref)
	if err != nil {
		return err
	}
	if reason == "" {
		reason = "deleted by the operator"
	}
	if t.spec.name != "" {
		e.mu.Lock()
		sv := e.supervised[t.spec.name]
		delete(e.supervised, t.spec.name)
		e.mu.Unlock()
		if sv != nil {
			sv.halt()
		}
	}
	return gone(t.do(ctx, func(t *tunnel) { t.adminClose(adminResult(t.spec.version), reason) }), ref)
}

// CreateSession brings up configured session name ([tunnel.T.session.NAME]) in its tunnel.
func (e *Engine) CreateSession(ctx context.Context, tunnelRef, name string) (SessionInfo, error) {
	t, err := e.lookup(tunnelRef)
	if err != nil {
		return SessionInfo{}, err
	}
	var (
		si   SessionInfo
		serr error
	)
	if err := t.do(ctx, func(t *tunnel) {
		s, err := t.openConfiguredSession(name)
		if err != nil {
			serr = err
			return
		}
		si = t.sessionInfo(s)
	}); err != nil {
		return SessionInfo{}, gone(err, tunnelRef)
	}
	return si, serr
}

// DeleteSession disconnects a session with a CDN, result 3, "call disconnected for
// administrative reasons" (RFC 2661 §4.4.2); a PPP session is terminated first.
func (e *Engine) DeleteSession(ctx context.Context, tunnelRef string, sessionID uint32, reason string) error {
	t, err := e.lookup(tunnelRef)
	if err != nil {
		return err
	}
	if reason == "" {
		reason = "deleted by the operator"
	}
	found := false
	if err := t.do(ctx, func(t *tunnel) {
		if s := t.sessions[sessionID]; s != nil {
			found = true
			t.deleteSession(s, reason)
		}
	}); err != nil {
		return gone(err, tunnelRef)
	}
	if !found {
		return fmt.Errorf("%w: session %d in tunnel %s", ErrNotFound, sessionID, tunnelRef)
	}
	return nil
}

// OutgoingCallRequest asks a LAC to place an outgoing call (RFC 2661 §7.5: OCRQ, OCRP,
// OCCN), which probox as the LNS then serves with PPP (or, over L2TPv3, the pseudowire).
type OutgoingCallRequest struct {
	CalledNumber string `json:"called_number"`
	SubAddress   string `json:"sub_address,omitempty"`
}

// OutgoingCall asks the peer of a tunnel to place an outgoing call (we are the LNS, RFC
// 2661 §7.5.2). It returns once the OCRQ is sent; the session's state shows the progress.
func (e *Engine) OutgoingCall(ctx context.Context, tunnelRef string, req OutgoingCallRequest) (SessionInfo, error) {
	t, err := e.lookup(tunnelRef)
	if err != nil {
		return SessionInfo{}, err
	}
	var (
		si   SessionInfo
		serr error
	)
	if err := t.do(ctx, func(t *tunnel) {
		if t.state >= tunnelClosing || t.spec.static {
			serr = errTunnelClosing
			return
		}
		s, err := t.newSession(roleOCRQSender, t.p.sessionParamsFor(""), 0)
		if err != nil {
			serr = err
			return
		}
		s.called, s.sub, s.remoteEnd = req.CalledNumber, req.SubAddress, req.CalledNumber
		t.sfsm(s, sevOpen)
		if t.state == tunnelEstablished {
			t.sfsm(s, sevTunnelUp)
		}
		si = t.sessionInfo(s)
	}); err != nil {
		return SessionInfo{}, gone(err, tunnelRef)
	}
	return si, serr
}
