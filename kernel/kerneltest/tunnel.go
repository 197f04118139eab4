package kerneltest

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"syscall"

	"github.com/probox/probox/kernel"
)

// ctlMsg is a control packet queued at a listener.
type ctlMsg struct {
	data []byte
	src  netip.AddrPort
	dst  netip.Addr
}

// listener is a fake kernel.Listener.
type listener struct {
	f     *Fake
	encap kernel.Encap
	addr  netip.AddrPort
	q     *queue[ctlMsg]
	// The Network's mutex guards closed.
	closed bool
}

func (l *listener) name() string {
	return "listener " + l.encap.String() + " " + addrString(l.encap, l.addr)
}

func (l *listener) ReadFrom(b []byte) (int, netip.AddrPort, netip.Addr, error) {
	m, err := l.q.pop(&l.f.n.mu)
	if err != nil {
		return 0, netip.AddrPort{}, netip.Addr{}, err
	}
	return copy(b, m.data), m.src, m.dst, nil
}

func (l *listener) WriteTo(b []byte, dst netip.AddrPort) error {
	dst = normalize(l.encap, dst)
	var p Packet
	err := l.f.do(fmt.Sprintf("WriteTo %s %s -> %s", l.encap, addrString(l.encap, l.addr), addrString(l.encap, dst)), false, func() error {
		if l.closed {
			return opError("write", l.name(), net.ErrClosed)
		}
		src := l.addr.Addr()
		if src.IsUnspecified() {
			src = l.f.sourceFor(dst.Addr())
		}
		if !dst.Addr().IsValid() || !src.IsValid() || src.Is4() != dst.Addr().Is4() {
			return opError("write", l.name(), syscall.EINVAL)
		}
		p = Packet{Kind: L2TPControl, Host: l.f.host, Encap: l.encap,
			From: netip.AddrPortFrom(src, l.addr.Port()), To: dst, Data: bytes.Clone(b)}
		return nil
	})
	if err != nil {
		return err
	}
	l.f.n.send(p)
	return nil
}

func (l *listener) Addr() netip.AddrPort { return l.addr }

func (l *listener) Close() error {
	return l.f.do("Close "+l.name(), true, func() error {
		l.closeLocked()
		return nil
	})
}

func (l *listener) closeLocked() {
	if l.closed {
		return
	}
	l.closed = true
	l.q.closeLocked()
	l.f.listeners = slices.DeleteFunc(l.f.listeners, func(o *listener) bool { return o == l })
}

// tunnel is a fake kernel.Tunnel.
type tunnel struct {
	f     *Fake
	cfg   kernel.TunnelConfig // normalized: Local resolved
	encap kernel.Encap
	local netip.AddrPort
	ctl   *queue[ctlMsg]

	// The Network's mutex guards the fields below.
	peer        netip.AddrPort // connected peer; Establish may change its port
	anyPort     bool           // TunnelConfig.AnyPeerPort, until Establish
	peerID      uint32
	established bool
	sessions    map[uint32]*session
	stats       kernel.Counters
	closed      bool
}

func (t *tunnel) name() string { return fmt.Sprintf("tunnel %d", t.cfg.TunnelID) }

func (t *tunnel) ReadControl(b []byte) (int, netip.AddrPort, error) {
	m, err := t.ctl.pop(&t.f.n.mu)
	if err != nil {
		return 0, netip.AddrPort{}, err
	}
	return copy(b, m.data), m.src, nil
}

// takesFrom reports whether a UDP packet from peer reaches this tunnel: from the connected
// peer, or before Establish with AnyPeerPort from any port of its address.
func (t *tunnel) takesFrom(peer netip.AddrPort) bool {
	return t.peer == peer || t.anyPort && !t.established && t.peer.Addr() == peer.Addr()
}

func (t *tunnel) WriteControl(b []byte) error {
	var p Packet
	err := t.f.do(fmt.Sprintf("WriteControl %d", t.cfg.TunnelID), false, func() error {
		if t.closed {
			return opError("write", t.name(), net.ErrClosed)
		}
		p = Packet{Kind: L2TPControl, Host: t.f.host, Encap: t.encap, From: t.local, To: t.peer, Data: bytes.Clone(b)}
		return nil
	})
	if err != nil {
		return err
	}
	t.f.n.send(p)
	return nil
}

func (t *tunnel) Establish(peerTunnelID uint32, peer netip.AddrPort) error {
	peer = normalize(t.encap, peer)
	line := fmt.Sprintf("Establish %d peer_tunnel %d %s", t.cfg.TunnelID, peerTunnelID, addrString(t.encap, peer))
	return t.f.do(line, true, func() error {
		switch {
		case t.closed:
			return opError("establish", t.name(), net.ErrClosed)
		case t.established && t.peerID == peerTunnelID && t.peer == peer:
			return nil
		case t.established:
			return opError("establish", t.name(), syscall.EISCONN)
		case peerTunnelID == 0, t.cfg.Version == 2 && peerTunnelID > 0xffff,
			peer.Addr() != t.peer.Addr(), t.encap == kernel.EncapUDP && peer.Port() == 0:
			return opError("establish", t.name(), syscall.EINVAL)
		}
		for _, o := range t.f.tunnels {
			if o != t && o.encap == kernel.EncapUDP && t.encap == kernel.EncapUDP && o.local == t.local && o.peer == peer {
				return opError("establish", t.name(), syscall.EADDRINUSE)
			}
		}
		t.peer, t.peerID, t.established, t.anyPort = peer, peerTunnelID, true, false
		return nil
	})
}

func (t *tunnel) EnsureSession(cfg kernel.SessionConfig) (kernel.Session, error) {
	cfg.Cookie = bytes.Clone(cfg.Cookie)
	cfg.PeerCookie = bytes.Clone(cfg.PeerCookie)
	var s *session
	err := t.f.do("EnsureSession "+sessionConfigString(t.cfg.TunnelID, cfg, cfg.IfName, cfg.MTU), true, func() error {
		var err error
		s, err = t.ensureSessionLocked(cfg)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (t *tunnel) ensureSessionLocked(cfg kernel.SessionConfig) (*session, error) {
	obj := fmt.Sprintf("session %d/%d", t.cfg.TunnelID, cfg.SessionID)
	fail := func(err error) (*session, error) { return nil, opError("ensure session", obj, err) }
	v2 := t.cfg.Version == 2
	switch {
	case t.closed:
		return fail(net.ErrClosed)
	case !t.established:
		return fail(syscall.ENOTCONN)
	case cfg.SessionID == 0,
		v2 && (cfg.SessionID > 0xffff || cfg.PeerSessionID > 0xffff),
		v2 && (cfg.PWType != kernel.PWPPP || len(cfg.Cookie) > 0 || len(cfg.PeerCookie) > 0 || cfg.L2Spec != kernel.L2SpecNone),
		!validCookie(cfg.Cookie), !validCookie(cfg.PeerCookie),
		cfg.PWType > kernel.PWEthernet, cfg.L2Spec > kernel.L2SpecDefault, cfg.MTU < 0:
		return fail(syscall.EINVAL)
	}
	if s := t.sessions[cfg.SessionID]; s != nil {
		if !sameFixed(s.cfg, cfg) {
			return fail(syscall.EEXIST)
		}
		// Sequencing and MTU change in place, as the kernel's session modify does.
		s.cfg.SendSeq, s.cfg.RecvSeq, s.cfg.MTU = cfg.SendSeq, cfg.RecvSeq, cfg.MTU
		return s, nil
	}
	if !v2 && t.f.v3[cfg.SessionID] != nil {
		return fail(syscall.EEXIST) // L2TPv3 session IDs are unique per host (RFC 3931 §4.1)
	}
	s := &session{t: t, cfg: cfg}
	if cfg.PWType == kernel.PWEthernet {
		name, err := t.f.ifNameLocked(cfg.IfName)
		if err != nil {
			return fail(err)
		}
		s.ifname = name
		s.attachTapLocked()
	}
	t.sessions[cfg.SessionID] = s
	if !v2 {
		t.f.v3[cfg.SessionID] = s
	}
	return s, nil
}

func validCookie(c []byte) bool { return len(c) == 0 || len(c) == 4 || len(c) == 8 }

// sameFixed reports whether a and b agree on what cannot change in place.
func sameFixed(a, b kernel.SessionConfig) bool {
	return a.PeerSessionID == b.PeerSessionID && a.PWType == b.PWType &&
		bytes.Equal(a.Cookie, b.Cookie) && bytes.Equal(a.PeerCookie, b.PeerCookie) &&
		a.L2Spec == b.L2Spec && a.IfName == b.IfName
}

// ifNameLocked returns the Ethernet pseudowire interface name for want: want itself if
// free, or the template want (default "l2tpeth%d") with the lowest free number.
func (f *Fake) ifNameLocked(want string) (string, error) {
	used := func(name string) bool {
		for _, t := range f.tunnels {
			for _, s := range t.sessions {
				if s.ifname == name {
					return true
				}
			}
		}
		return false
	}
	if want == "" {
		want = "l2tpeth%d"
	}
	if !containsVerb(want) {
		if used(want) {
			return "", syscall.EEXIST
		}
		return want, nil
	}
	for i := 0; ; i++ {
		if name := fmt.Sprintf(want, i); !used(name) {
			return name, nil
		}
	}
}

func (t *tunnel) DeleteSession(sessionID uint32) error {
	return t.f.do(fmt.Sprintf("DeleteSession %d/%d", t.cfg.TunnelID, sessionID), true, func() error {
		if s := t.sessions[sessionID]; s != nil {
			s.closeLocked()
		}
		return nil
	})
}

func (t *tunnel) LocalAddr() netip.AddrPort { return t.local }

func (t *tunnel) Stats() kernel.Counters {
	t.f.n.mu.Lock()
	defer t.f.n.mu.Unlock()
	return t.stats
}

func (t *tunnel) Close() error {
	return t.f.do("Close "+t.name(), true, func() error {
		t.closeLocked()
		return nil
	})
}

func (t *tunnel) closeLocked() {
	if t.closed {
		return
	}
	t.closed = true
	for _, s := range t.sessions {
		s.closeLocked()
	}
	t.ctl.closeLocked()
	delete(t.f.tunnels, t.cfg.TunnelID)
}
