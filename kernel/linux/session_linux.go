//go:build linux

package linux

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"sync"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/probox/probox/kernel"
)

// session is one kernel L2TP session: a PPP pseudowire (a PPPoL2TP socket with /dev/ppp
// attached to its channel) or an Ethernet pseudowire (an l2tpethN interface of the
// kernel's l2tp_eth).
type session struct {
	t      *tunnel
	id     uint32
	obj    string
	cfg    kernel.SessionConfig // as applied; guarded by tunnel.mu
	px     *pollFD              // PPP: the PPPoL2TP socket; closing it deletes the session
	ch     *channel             // PPP
	ifname string               // Ethernet
	once   sync.Once
	err    error // of shutdown
}

// lnsMode is L2TP_ATTR_LNS_MODE for cfg. The kernel uses it to decide who controls
// sequencing (RFC 2661 §5.4): in LNS mode it keeps send_seq as configured (and drops
// unsequenced packets while it sends sequence numbers); otherwise it follows the peer,
// sending sequence numbers while the peer does. The data plane's contract fixes SendSeq
// and RecvSeq, so LNS mode is on except for SendSeq without RecvSeq, where following the
// peer (and stopping sequence numbers when the peer sends none) loses no data.
func lnsMode(cfg kernel.SessionConfig) bool { return !(cfg.SendSeq && !cfg.RecvSeq) }

// EnsureSession makes the session exist; see kernel.Tunnel. Sequencing (SendSeq,
// RecvSeq) and an Ethernet pseudowire's MTU change in place; the peer session ID, the
// cookies, the L2-Specific Sublayer, the pseudowire type and the interface name cannot
// (the kernel has no request for it), so a different value gives an error wrapping
// EEXIST.
func (t *tunnel) EnsureSession(cfg kernel.SessionConfig) (kernel.Session, error) {
	obj := sessionObject(t.id, cfg.SessionID)
	if err := t.checkSessionConfig(cfg); err != nil {
		return nil, opErr("ensure", obj, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, net.ErrClosed
	}
	if !t.established {
		return nil, opErr("ensure", obj, ErrNotEstablished)
	}
	if s, ok := t.sessions[cfg.SessionID]; ok {
		if err := s.updateLocked(cfg); err != nil {
			return nil, opErr("ensure", obj, err)
		}
		return s, nil
	}
	s := &session{t: t, id: cfg.SessionID, obj: obj, cfg: cloneSessionConfig(cfg)}
	var err error
	if cfg.PWType == kernel.PWPPP {
		err = s.createPPP()
	} else {
		err = s.createEth()
	}
	if err != nil {
		return nil, opErr("ensure", obj, err)
	}
	t.sessions[s.id] = s
	t.log.Debug("session created", zap.Uint32("session_id", s.id), zap.Uint32("peer_session_id", cfg.PeerSessionID), zap.Stringer("pw", cfg.PWType))
	return s, nil
}

func (t *tunnel) checkSessionConfig(cfg kernel.SessionConfig) error {
	switch {
	case cfg.SessionID == 0 || cfg.PeerSessionID == 0:
		return fmt.Errorf("%w: session IDs must be non-zero", unix.EINVAL)
	case cfg.PWType != kernel.PWPPP && cfg.PWType != kernel.PWEthernet:
		return fmt.Errorf("%w: pseudowire type %d", unix.EINVAL, cfg.PWType)
	case cfg.L2Spec != kernel.L2SpecNone && cfg.L2Spec != kernel.L2SpecDefault:
		return fmt.Errorf("%w: L2-Specific Sublayer %d", unix.EINVAL, cfg.L2Spec)
	case cfg.IfName != "" && len(cfg.IfName) >= unix.IFNAMSIZ:
		return fmt.Errorf("%w: interface name %q", unix.EINVAL, cfg.IfName)
	}
	if t.cfg.Version == 2 {
		switch {
		case cfg.SessionID > 0xffff || cfg.PeerSessionID > 0xffff:
			return fmt.Errorf("%w: L2TPv2 session IDs are 16 bits", unix.EINVAL)
		case cfg.PWType != kernel.PWPPP:
			return fmt.Errorf("%w: L2TPv2 carries PPP only", unix.EINVAL)
		case len(cfg.Cookie) > 0 || len(cfg.PeerCookie) > 0 || cfg.L2Spec != kernel.L2SpecNone:
			return fmt.Errorf("%w: cookies and the L2-Specific Sublayer are L2TPv3 only", unix.EINVAL)
		}
		return nil
	}
	for _, c := range [][]byte{cfg.Cookie, cfg.PeerCookie} {
		if n := len(c); n != 0 && n != 4 && n != 8 {
			return fmt.Errorf("%w: cookie of %d bytes (RFC 3931 §4.1: 0, 4 or 8)", unix.EINVAL, n)
		}
	}
	return nil
}

func cloneSessionConfig(cfg kernel.SessionConfig) kernel.SessionConfig {
	cfg.Cookie = bytes.Clone(cfg.Cookie)
	cfg.PeerCookie = bytes.Clone(cfg.PeerCookie)
	return cfg
}

func (s *session) spec(pw uint16) sessionSpec {
	cfg := s.cfg
	l2spec := uint8(l2specNone)
	if cfg.L2Spec == kernel.L2SpecDefault {
		l2spec = l2specDefault
	}
	ifname := cfg.IfName
	if pw != pwTypeEth {
		ifname = ""
	}
	return sessionSpec{
		Version: uint8(s.t.cfg.Version), TunnelID: s.t.id, ID: s.id, PeerID: cfg.PeerSessionID,
		PWType: pw, L2Spec: l2spec, Cookie: cfg.Cookie, PeerCookie: cfg.PeerCookie, IfName: ifname,
		RecvSeq: cfg.RecvSeq, SendSeq: cfg.SendSeq, LNSMode: lnsMode(cfg),
	}
}

// createPPP creates a PPP pseudowire: for L2TPv3 the session by SESSION_CREATE, then the
// PPPoL2TP socket (for L2TPv2 its connect creates the session, which SESSION_MODIFY then
// configures), then the /dev/ppp channel. The caller holds t.mu.
func (s *session) createPPP() (err error) {
	t, g := s.t, s.t.d.genl
	v3 := t.cfg.Version == 3
	if v3 {
		if err := g.createSession(s.spec(pwTypePPP)); err != nil {
			return err
		}
	}
	defer func() {
		if err != nil {
			if s.px != nil {
				s.px.close()
			}
			g.deleteSession(t.id, s.id)
		}
	}()
	addr := pppol2tpAddr{
		Version: t.cfg.Version, Peer: t.peer,
		Tunnel: t.id, Session: s.id, PeerTunnel: t.peerID, PeerSession: s.cfg.PeerSessionID,
	}
	err = t.sock.control(func(fd int) error {
		addr.FD = fd
		var err error
		s.px, err = t.d.openPPPoL2TP(addr)
		return err
	})
	if err != nil {
		return err
	}
	if !v3 {
		m := sessionModify{TunnelID: t.id, ID: s.id, RecvSeq: s.cfg.RecvSeq, SendSeq: s.cfg.SendSeq, LNSMode: lnsMode(s.cfg)}
		if err := g.modifySession(m); err != nil {
			return err
		}
	}
	// The channel carries PPP frames with the HDLC address and control fields (2 bytes,
	// added by pppol2tp_xmit) behind the L2TP header.
	mtu := t.pathMTU() - t.overhead(s.cfg) - 2
	tid, sid := t.id, s.id
	stats := func() (kernel.Counters, bool) {
		info, err := g.getSession(tid, sid)
		if err != nil {
			return kernel.Counters{}, false
		}
		return info.Stats.counters(), true
	}
	s.ch, err = t.d.newChannel("l2tp "+s.obj, s.px, false, mtu, stats, nil)
	return err
}

// createEth creates an Ethernet pseudowire: SESSION_CREATE makes l2tp_eth create the
// interface (named by IfName, which may hold %d, or l2tpeth%d), whose final name
// SESSION_GET reports; the data plane then marks it with the interface group, sets the
// MTU if one is given and brings it up. The caller holds t.mu.
func (s *session) createEth() (err error) {
	t, g, h := s.t, s.t.d.genl, s.t.d.h
	if err := g.createSession(s.spec(pwTypeEth)); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			g.deleteSession(t.id, s.id)
		}
	}()
	info, err := g.getSession(t.id, s.id)
	if err != nil {
		return err
	}
	link, err := h.LinkByName(info.IfName)
	if err != nil {
		return err
	}
	if grp := t.d.cfg.InterfaceGroup; grp != 0 {
		if err := h.SetGroup(link.Index, grp); err != nil {
			return err
		}
	}
	if s.cfg.MTU > 0 {
		if err := h.SetMTU(link.Index, s.cfg.MTU); err != nil {
			return err
		}
	}
	if err := h.SetUp(link.Index, true); err != nil {
		return err
	}
	s.ifname = link.Name
	return nil
}

// updateLocked applies cfg to an existing session; the caller holds t.mu.
func (s *session) updateLocked(cfg kernel.SessionConfig) error {
	old := s.cfg
	switch {
	case cfg.PWType != old.PWType:
		return fmt.Errorf("%w: session exists with pseudowire type %v", unix.EEXIST, old.PWType)
	case cfg.PeerSessionID != old.PeerSessionID, !bytes.Equal(cfg.Cookie, old.Cookie),
		!bytes.Equal(cfg.PeerCookie, old.PeerCookie), cfg.L2Spec != old.L2Spec:
		return fmt.Errorf("%w: session exists with other peer session ID, cookies or L2-Specific Sublayer, which the kernel cannot change", unix.EEXIST)
	case cfg.PWType == kernel.PWEthernet && cfg.IfName != "" && cfg.IfName != old.IfName && cfg.IfName != s.ifname:
		return fmt.Errorf("%w: session exists with interface %s", unix.EEXIST, s.ifname)
	}
	if cfg.SendSeq != old.SendSeq || cfg.RecvSeq != old.RecvSeq {
		m := sessionModify{TunnelID: s.t.id, ID: s.id, RecvSeq: cfg.RecvSeq, SendSeq: cfg.SendSeq, LNSMode: lnsMode(cfg)}
		if err := s.t.d.genl.modifySession(m); err != nil {
			return err
		}
	}
	if cfg.PWType == kernel.PWEthernet && cfg.MTU > 0 && cfg.MTU != old.MTU {
		link, err := s.t.d.h.LinkByName(s.ifname)
		if err != nil {
			return err
		}
		if err := s.t.d.h.SetMTU(link.Index, cfg.MTU); err != nil {
			return err
		}
	}
	if cfg.IfName == "" {
		cfg.IfName = old.IfName
	}
	s.cfg = cloneSessionConfig(cfg)
	return nil
}

// DeleteSession removes a session; an absent one is not an error.
func (t *tunnel) DeleteSession(sessionID uint32) error {
	t.mu.Lock()
	s, ok := t.sessions[sessionID]
	if ok {
		delete(t.sessions, sessionID)
	}
	t.mu.Unlock()
	if !ok {
		return nil
	}
	return s.shutdown()
}

// ID is our session ID.
func (s *session) ID() uint32 { return s.id }

// Channel returns the PPP channel of a PPP pseudowire.
func (s *session) Channel() (kernel.Channel, error) {
	if s.ch == nil {
		return nil, kernel.ErrNotPPP
	}
	return s.ch, nil
}

// Interface is the Ethernet pseudowire's interface name.
func (s *session) Interface() string { return s.ifname }

// Stats returns the kernel session's counters.
func (s *session) Stats() kernel.Counters {
	info, err := s.t.d.genl.getSession(s.t.id, s.id)
	if err != nil {
		return kernel.Counters{}
	}
	return info.Stats.counters()
}

// Close removes the session from its tunnel.
func (s *session) Close() error {
	t := s.t
	t.mu.Lock()
	if x, ok := t.sessions[s.id]; ok && x == s {
		delete(t.sessions, s.id)
	}
	t.mu.Unlock()
	return s.shutdown()
}

// shutdown deletes the kernel session once it is out of the tunnel's map: the channel
// and the PPPoL2TP socket are closed (which deletes a PPP session), and SESSION_DELETE
// removes what is left (an Ethernet pseudowire, whose interface l2tp_eth unregisters
// before the request returns).
func (s *session) shutdown() error {
	s.once.Do(func() {
		var errs []error
		if s.ch != nil {
			errs = append(errs, s.ch.Close())
		}
		if s.px != nil {
			errs = append(errs, s.px.close())
		}
		errs = append(errs, s.t.d.genl.deleteSession(s.t.id, s.id))
		s.err = opErr("delete", s.obj, errors.Join(errs...))
		s.t.log.Debug("session removed", zap.Uint32("session_id", s.id))
	})
	return s.err
}
