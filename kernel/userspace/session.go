package userspace

import (
	"bytes"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/probox/probox/kernel"
	"github.com/probox/probox/l2tp"
)

// sessParams are the parameters of a session that EnsureSession can change in place; they
// are replaced, never modified, so the data path reads them without a lock.
type sessParams struct {
	peerSID          uint32
	cookie           [8]byte // the cookie we require on received data
	cookieLen        int
	peerCookie       [8]byte // the cookie we put on data we send
	peerCookieLen    int
	sublayer         bool // the Default L2-Specific Sublayer (L2TPv3)
	sendSeq, recvSeq bool
}

// session is one L2TP session's data path: a PPP channel or an Ethernet pseudowire.
type session struct {
	t   *tunnel
	id  uint32
	obj string
	pw  kernel.PWType
	ch  *channel // PWPPP
	eth *ethPW   // PWEthernet
	ctr counters

	cfg    kernel.SessionConfig // as applied; guarded by tunnel.mu
	params atomic.Pointer[sessParams]
	ns     atomic.Uint32 // the next sequence number we send
	rx     rxSeq         // owned by the goroutine that receives the session's data

	once sync.Once
}

// rxSeq checks the sequence numbers of received data. It is owned by the goroutine that
// receives the session's packets (the tunnel's socket reader, or the raw IP socket's).
type rxSeq struct {
	have bool
	next uint32
}

// accept reports whether ns (modulo mask+1) is not behind the next expected number, and
// advances it. A gap (lost packets) is accepted; a duplicate or a packet that arrives after
// a later one is not (RFC 2661 §5.4, RFC 3931 §4.6: the receiver may discard out-of-order
// packets).
func (r *rxSeq) accept(ns, mask uint32) bool {
	ns &= mask
	if r.have {
		if d := (ns - r.next) & mask; d > mask/2 {
			return false
		}
	}
	r.have = true
	r.next = (ns + 1) & mask
	return true
}

// checkSeq applies RecvSeq to a received packet and counts a drop.
func (s *session) checkSeq(prm *sessParams, present bool, ns, mask uint32) bool {
	if !prm.recvSeq {
		return true
	}
	if present && s.rx.accept(ns, mask) {
		return true
	}
	s.t.ctr.drop(kernel.DropSequence)
	s.ctr.drop(kernel.DropSequence)
	return false
}

// EnsureSession makes the session exist; see kernel.Tunnel.
func (t *tunnel) EnsureSession(cfg kernel.SessionConfig) (kernel.Session, error) {
	obj := fmt.Sprintf("session %d/%d", t.id, cfg.SessionID)
	prm, err := t.checkSessionConfig(cfg)
	if err != nil {
		return nil, opErr("ensure", obj, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, net.ErrClosed
	}
	if !t.peer.Load().established {
		return nil, opErr("ensure", obj, ErrNotEstablished)
	}
	if s, ok := t.sessions.get(cfg.SessionID); ok {
		if err := s.update(cfg, prm); err != nil {
			return nil, opErr("ensure", obj, err)
		}
		return s, nil
	}
	s := &session{t: t, id: cfg.SessionID, obj: obj, pw: cfg.PWType, cfg: cloneSessionConfig(cfg)}
	s.params.Store(prm)
	// The session is complete before a reader can find it.
	switch cfg.PWType {
	case kernel.PWPPP:
		s.ch = newChannel(t.d, "l2tp "+obj, s, t.baseMTU()-t.overhead(prm)-2, nil)
	case kernel.PWEthernet:
		eth, err := t.d.newEthPW(s, cfg, t.baseMTU()-t.overhead(prm)-ethHeaderLen)
		if err != nil {
			return nil, opErr("ensure", obj, err)
		}
		s.eth = eth
	}
	if !t.udp {
		if err := t.dm.addSession(s); err != nil {
			s.shutdown()
			return nil, opErr("ensure", obj, fmt.Errorf("L2TPv3 session ID %d is in use: %w", cfg.SessionID, err))
		}
	}
	t.sessions.set(s.id, s)
	t.log.Debug("session created", zap.Uint32("session_id", s.id), zap.Uint32("peer_session_id", cfg.PeerSessionID), zap.Stringer("pw", cfg.PWType))
	return s, nil
}

func (t *tunnel) checkSessionConfig(cfg kernel.SessionConfig) (*sessParams, error) {
	prm := &sessParams{
		peerSID:       cfg.PeerSessionID,
		cookieLen:     len(cfg.Cookie),
		peerCookieLen: len(cfg.PeerCookie),
		sublayer:      cfg.L2Spec == kernel.L2SpecDefault,
		sendSeq:       cfg.SendSeq,
		recvSeq:       cfg.RecvSeq,
	}
	copy(prm.cookie[:], cfg.Cookie)
	copy(prm.peerCookie[:], cfg.PeerCookie)
	switch {
	case cfg.SessionID == 0 || cfg.PeerSessionID == 0:
		return nil, fmt.Errorf("%w: session IDs must be non-zero", errInval)
	case cfg.PWType != kernel.PWPPP && cfg.PWType != kernel.PWEthernet:
		return nil, fmt.Errorf("%w: pseudowire type %d", errInval, cfg.PWType)
	case cfg.L2Spec != kernel.L2SpecNone && cfg.L2Spec != kernel.L2SpecDefault:
		return nil, fmt.Errorf("%w: L2-Specific Sublayer %d", errInval, cfg.L2Spec)
	}
	if t.ver == l2tp.Version2 {
		switch {
		case cfg.SessionID > 0xffff || cfg.PeerSessionID > 0xffff:
			return nil, fmt.Errorf("%w: L2TPv2 session IDs are 16 bits", errInval)
		case cfg.PWType != kernel.PWPPP:
			return nil, fmt.Errorf("%w: L2TPv2 carries PPP only", errInval)
		case len(cfg.Cookie) > 0 || len(cfg.PeerCookie) > 0 || cfg.L2Spec != kernel.L2SpecNone:
			return nil, fmt.Errorf("%w: cookies and the L2-Specific Sublayer are L2TPv3 only", errInval)
		}
		return prm, nil
	}
	for _, c := range [][]byte{cfg.Cookie, cfg.PeerCookie} {
		if n := len(c); n != 0 && n != 4 && n != 8 {
			return nil, fmt.Errorf("%w: cookie of %d bytes (RFC 3931 §4.1: 0, 4 or 8)", errInval, n)
		}
	}
	return prm, nil
}

func cloneSessionConfig(cfg kernel.SessionConfig) kernel.SessionConfig {
	cfg.Cookie = bytes.Clone(cfg.Cookie)
	cfg.PeerCookie = bytes.Clone(cfg.PeerCookie)
	return cfg
}

// update applies cfg to an existing session; the caller holds tunnel.mu.
func (s *session) update(cfg kernel.SessionConfig, prm *sessParams) error {
	if cfg.PWType != s.pw {
		return fmt.Errorf("%w: session exists with pseudowire type %v", errExist, s.pw)
	}
	if s.pw == kernel.PWEthernet {
		if cfg.IfName != "" && cfg.IfName != s.cfg.IfName && cfg.IfName != s.eth.dev.name() {
			return fmt.Errorf("%w: session exists with interface %s", errExist, s.eth.dev.name())
		}
		if cfg.MTU > 0 && cfg.MTU != s.cfg.MTU {
			if err := s.t.d.sys.setMTU(s.eth.dev.index(), cfg.MTU); err != nil {
				return err
			}
			s.eth.mtu.Store(int32(cfg.MTU))
		}
	}
	if s.ch != nil {
		s.ch.mtu.Store(int32(s.t.baseMTU() - s.t.overhead(prm) - 2))
	}
	s.cfg = cloneSessionConfig(cfg)
	s.params.Store(prm)
	return nil
}

// DeleteSession removes a session; an absent one is not an error.
func (t *tunnel) DeleteSession(sessionID uint32) error {
	t.mu.Lock()
	s, ok := t.sessions.get(sessionID)
	if ok {
		t.sessions.remove(sessionID)
	}
	t.mu.Unlock()
	if ok {
		s.shutdown()
	}
	return nil
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
func (s *session) Interface() string {
	if s.eth == nil {
		return ""
	}
	return s.eth.dev.name()
}

func (s *session) Stats() kernel.Counters { return s.ctr.snapshot() }

// Close removes the session from its tunnel.
func (s *session) Close() error {
	t := s.t
	t.mu.Lock()
	if x, ok := t.sessions.get(s.id); ok && x == s {
		t.sessions.remove(s.id)
	}
	t.mu.Unlock()
	s.shutdown()
	return nil
}

// shutdown releases the session's data path once it is out of the tunnel's map.
func (s *session) shutdown() {
	s.once.Do(func() {
		if !s.t.udp {
			s.t.dm.removeSession(s)
		}
		if s.ch != nil {
			s.ch.Close()
		}
		if s.eth != nil {
			s.eth.close()
		}
		s.t.log.Debug("session removed", zap.Uint32("session_id", s.id))
	})
}

// deliver passes the payload buf[off:] of a received data message to the pseudowire.
func (s *session) deliver(buf []byte, off int) {
	s.ctr.rx(len(buf) - off)
	switch {
	case s.ch != nil:
		s.ch.input(buf, off)
	case s.eth != nil:
		s.eth.output(buf[off:])
	}
}

// xmitPPP sends the PPP frame buf[off:] (protocol and information) with the HDLC address
// and control fields in front, as the Linux kernel's pppol2tp does (RFC 2661 §5.6 leaves
// them to the PPP framing; RFC 4591 §3 for L2TPv3 likewise).
func (s *session) xmitPPP(buf []byte, off int) error {
	if off < 2 {
		return errInval
	}
	off -= 2
	buf[off], buf[off+1] = 0xff, 0x03
	return s.xmit(buf, off)
}

// xmit sends the pseudowire payload buf[off:]; the L2TP header is written into the
// headroom buf[:off].
func (s *session) xmit(buf []byte, off int) error {
	t := s.t
	prm := s.params.Load()
	n := len(buf) - off
	var hlen int
	if t.ver == l2tp.Version2 {
		h := l2tp.V2DataHeader{TunnelID: uint16(t.peer.Load().tid), SessionID: uint16(prm.peerSID)}
		if prm.sendSeq {
			h.HasSequence = true
			h.Ns = uint16(s.ns.Add(1) - 1)
		}
		hlen = h.Len()
		if off < hlen {
			return errInval
		}
		if _, err := h.Append(buf[off-hlen:off-hlen], n); err != nil {
			s.ctr.drop(kernel.DropTooBig)
			return err
		}
	} else {
		h := l2tp.V3DataHeader{SessionID: prm.peerSID, Cookie: prm.peerCookie, CookieLen: uint8(prm.peerCookieLen), Sublayer: prm.sublayer}
		if prm.sublayer && prm.sendSeq {
			h.Sequenced = true
			h.Seq = s.ns.Add(1) - 1
		}
		hlen = h.Len()
		var err error
		if t.udp {
			hlen += 4
			if off < hlen {
				return errInval
			}
			_, err = h.AppendUDP(buf[off-hlen : off-hlen])
		} else {
			if off < hlen {
				return errInval
			}
			_, err = h.AppendIP(buf[off-hlen : off-hlen])
		}
		if err != nil {
			return err
		}
	}
	pkt := buf[off-hlen:]
	if err := t.send(pkt); err != nil {
		s.ctr.drop(kernel.DropWrite)
		t.ctr.drop(kernel.DropWrite)
		return err
	}
	s.ctr.tx(n)
	t.ctr.tx(len(pkt))
	return nil
}
