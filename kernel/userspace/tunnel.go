package userspace

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/probox/probox/kernel/internal/closeset"

	"go.uber.org/zap"

	"github.com/probox/probox/kernel"
	"github.com/probox/probox/l2tp"
)

// peerInfo is what a tunnel knows about its peer; it is replaced, never modified.
type peerInfo struct {
	addr        netip.AddrPort
	tid         uint32 // the peer's tunnel (control connection) ID, once established
	established bool
}

// tunnel is the transport of one L2TP tunnel. Over UDP it has its own socket, bound to the
// local address and connected to the peer (with AnyPeerPort, only from Establish on), and
// a reader goroutine that passes control
// messages to a queue (ReadControl) and handles data messages itself. Over IP (L2TPv3) it
// shares the data plane's raw socket, whose reader hands it its control messages and its
// sessions' data.
type tunnel struct {
	d     *Dataplane
	cfg   kernel.TunnelConfig
	ver   l2tp.Version
	id    uint32
	obj   string // "tunnel 12", for errors
	udp   bool
	c     packetConn // EncapUDP
	dm    *ipDemux   // EncapIP
	local netip.AddrPort
	from  netip.Addr // EncapIP: the source address to send from, if configured
	ctrl  *ctrlQueue
	log   *zap.Logger
	ctr   counters
	wg    sync.WaitGroup

	peer     atomic.Pointer[peerInfo]
	anyPort  atomic.Bool // TunnelConfig.AnyPeerPort until Establish: the socket is not connected
	sessions cowMap[uint32, *session]

	mu     sync.Mutex // guards closed, Establish and session changes
	closed bool
}

// OpenTunnel opens a tunnel's transport; see kernel.Dataplane.
func (d *Dataplane) OpenTunnel(cfg kernel.TunnelConfig) (kernel.Tunnel, error) {
	obj := fmt.Sprintf("tunnel %d", cfg.TunnelID)
	cfg.Peer = netip.AddrPortFrom(cfg.Peer.Addr().Unmap(), cfg.Peer.Port())
	cfg.Local = netip.AddrPortFrom(cfg.Local.Addr().Unmap(), cfg.Local.Port())
	if err := checkTunnelConfig(cfg); err != nil {
		return nil, opErr("open", obj, err)
	}
	t := &tunnel{
		d:    d,
		cfg:  cfg,
		ver:  l2tp.Version(cfg.Version),
		id:   cfg.TunnelID,
		obj:  obj,
		udp:  cfg.Encap == kernel.EncapUDP,
		ctrl: newCtrlQueue(tunnelQueueDepth),
		log:  d.log.With(zap.Uint32("tunnel_id", cfg.TunnelID), zap.Stringer("peer", cfg.Peer)),
	}
	t.peer.Store(&peerInfo{addr: cfg.Peer})
	if t.udp {
		t.anyPort.Store(cfg.AnyPeerPort)
		c, err := d.sys.dialUDP(cfg.Local, cfg.Peer, cfg.UDPChecksums, cfg.AnyPeerPort)
		if err != nil {
			return nil, opErr("open", obj, err)
		}
		t.c = c
		t.local = c.localAddr()
		t.wg.Add(1)
		go t.run()
	} else {
		dm, err := d.acquireDemux(cfg.Peer.Addr().Is6())
		if err != nil {
			return nil, opErr("open", obj, err)
		}
		if err := dm.addTunnel(t); err != nil {
			d.releaseDemux(dm)
			return nil, opErr("open", obj, err)
		}
		t.dm = dm
		t.local = netip.AddrPortFrom(cfg.Local.Addr(), 0)
		if a := cfg.Local.Addr(); a.IsValid() && !a.IsUnspecified() {
			t.from = a
		}
	}
	if err := d.register(t, closeset.Tunnel); err != nil {
		t.Close()
		return nil, opErr("open", obj, err)
	}
	t.log.Debug("tunnel opened", zap.Stringer("encap", cfg.Encap), zap.Stringer("local", t.local))
	return t, nil
}

func checkTunnelConfig(cfg kernel.TunnelConfig) error {
	switch {
	case cfg.Version != 2 && cfg.Version != 3:
		return fmt.Errorf("%w: version %d", errInval, cfg.Version)
	case cfg.Version == 2 && cfg.Encap != kernel.EncapUDP:
		return fmt.Errorf("%w: L2TPv2 runs over UDP only", errInval)
	case cfg.Encap != kernel.EncapUDP && cfg.Encap != kernel.EncapIP:
		return fmt.Errorf("%w: encapsulation %d", errInval, cfg.Encap)
	case cfg.TunnelID == 0, cfg.Version == 2 && cfg.TunnelID > 0xffff:
		return fmt.Errorf("%w: tunnel ID %d", errInval, cfg.TunnelID)
	case !cfg.Peer.Addr().IsValid() || cfg.Peer.Addr().IsUnspecified():
		return fmt.Errorf("%w: peer address %v", errInval, cfg.Peer)
	case cfg.Encap == kernel.EncapUDP && cfg.Peer.Port() == 0:
		return fmt.Errorf("%w: peer port 0", errInval)
	case cfg.Local.Addr().IsValid() && cfg.Local.Addr().Is4() != cfg.Peer.Addr().Is4():
		return fmt.Errorf("%w: local %v and peer %v differ in address family", errInval, cfg.Local, cfg.Peer)
	}
	return nil
}

func (t *tunnel) peerAddr() netip.Addr { return t.peer.Load().addr.Addr() }

// ReadControl reads the next control message; see kernel.Tunnel.
func (t *tunnel) ReadControl(b []byte) (int, netip.AddrPort, error) {
	n, q, err := t.ctrl.read(b)
	if err != nil {
		return 0, netip.AddrPort{}, err
	}
	if !q.src.IsValid() {
		q.src = t.peer.Load().addr // from the connected socket or the IP demultiplexer
	}
	return n, q.src, nil
}

// WriteControl sends a control message to the peer.
func (t *tunnel) WriteControl(b []byte) error {
	if t.isClosed() {
		return net.ErrClosed
	}
	var err error
	switch {
	case t.udp && t.anyPort.Load():
		err = t.c.writeTo(b, t.peer.Load().addr, netip.Addr{})
	case t.udp:
		err = t.c.write(b)
	default:
		err = t.dm.writeControl(b, t.peerAddr(), t.from)
	}
	if err != nil {
		if isClosed(err) {
			return net.ErrClosed
		}
		return opErr("write control", t.obj, err)
	}
	return nil
}

func (t *tunnel) isClosed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed
}

// Establish records the peer's tunnel ID, used in the data headers we send, and the peer
// address; a UDP socket is reconnected when the peer answered from another address or port
// (RFC 2661 §8.1).
func (t *tunnel) Establish(peerTunnelID uint32, peer netip.AddrPort) error {
	if peerTunnelID == 0 || t.ver == l2tp.Version2 && peerTunnelID > 0xffff {
		return opErr("establish", t.obj, fmt.Errorf("%w: peer tunnel ID %d", errInval, peerTunnelID))
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return net.ErrClosed
	}
	cur := t.peer.Load()
	if !peer.Addr().IsValid() {
		peer = cur.addr
	}
	peer = netip.AddrPortFrom(peer.Addr().Unmap(), peer.Port())
	if !t.udp {
		peer = netip.AddrPortFrom(peer.Addr(), 0)
	}
	if cur.established && cur.tid == peerTunnelID && cur.addr == peer {
		return nil
	}
	if peer.Addr().Is4() != cur.addr.Addr().Is4() {
		return opErr("establish", t.obj, fmt.Errorf("%w: peer %v changes address family", errInval, peer))
	}
	if t.udp && (peer != cur.addr || t.anyPort.Load()) {
		if err := t.c.connect(peer); err != nil {
			return opErr("establish", t.obj, err)
		}
	}
	t.peer.Store(&peerInfo{addr: peer, tid: peerTunnelID, established: true})
	t.anyPort.Store(false)
	t.log.Debug("tunnel established", zap.Uint32("peer_tunnel_id", peerTunnelID), zap.Stringer("peer", peer))
	return nil
}

// LocalAddr is the bound local address.
func (t *tunnel) LocalAddr() netip.AddrPort { return t.local }

// Stats returns the tunnel's data counters.
func (t *tunnel) Stats() kernel.Counters { return t.ctr.snapshot() }

// Close removes the sessions and closes the socket; it waits for the reader goroutine.
func (t *tunnel) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	sessions := t.sessions.clear()
	t.mu.Unlock()

	for _, s := range sessions {
		s.shutdown()
	}
	t.ctrl.close()
	if t.udp {
		t.c.close()
		t.wg.Wait()
	} else {
		t.dm.removeTunnel(t)
		t.d.releaseDemux(t.dm)
	}
	t.d.forget(t)
	t.log.Debug("tunnel closed")
	return nil
}

// controlIn queues a control message from src (unset: the connected peer) for
// ReadControl.
func (t *tunnel) controlIn(b []byte, src netip.AddrPort) {
	if !t.ctrl.push(nil, b, queued{src: src}) {
		t.ctr.drop(kernel.DropQueueFull)
	}
}

// run is the UDP socket's reader.
func (t *tunnel) run() {
	defer t.wg.Done()
	ms := newBatch(batchSize, sockBufSize)
	for {
		for i := range ms {
			ms[i].off = headroom
		}
		n, err := t.c.readBatch(ms)
		if err != nil {
			if isClosed(err) {
				return
			}
			if isTransient(err) { // e.g. ICMP port unreachable on the connected socket
				continue
			}
			t.log.Error("tunnel socket failed", zap.Error(err))
			return
		}
		for i := range ms[:n] {
			t.handleUDP(&ms[i])
		}
	}
}

// handleUDP handles one datagram of a UDP tunnel: control messages (T bit) go to the
// queue, data messages to their session (RFC 2661 §3.1, RFC 3931 §4.1.2.1).
func (t *tunnel) handleUDP(m *msg) {
	if m.trunc {
		t.ctr.drop(kernel.DropTooBig)
		return
	}
	if t.anyPort.Load() && m.src.Addr().Unmap() != t.cfg.Peer.Addr() {
		// Not connected yet (TunnelConfig.AnyPeerPort): only the peer's address counts.
		t.ctr.drop(kernel.DropUnknownPeer)
		return
	}
	p := m.buf[m.off : m.off+m.n]
	control, v, err := l2tp.ClassifyUDP(p)
	if err != nil || v != t.ver {
		t.ctr.drop(kernel.DropMalformed)
		return
	}
	if control {
		src := m.src
		if src.IsValid() {
			src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
		}
		t.controlIn(p, src)
		return
	}
	buf := m.buf[:m.off+m.n]
	if t.ver == l2tp.Version2 {
		t.recvV2(buf, m.off)
		return
	}
	sid, err := l2tp.V3SessionIDUDP(p)
	if err != nil {
		t.ctr.drop(kernel.DropMalformed)
		return
	}
	s, ok := t.sessions.get(sid)
	if !ok {
		t.ctr.drop(kernel.DropNoSession)
		return
	}
	t.recvV3(s, buf, m.off, true)
}

// recvV2 handles the L2TPv2 data message buf[off:].
func (t *tunnel) recvV2(buf []byte, off int) {
	h, payload, err := l2tp.ParseV2Data(buf[off:])
	if err != nil {
		t.ctr.drop(kernel.DropMalformed)
		return
	}
	if uint32(h.TunnelID) != t.id {
		t.ctr.drop(kernel.DropNoSession)
		return
	}
	s, ok := t.sessions.get(uint32(h.SessionID))
	if !ok {
		t.ctr.drop(kernel.DropNoSession)
		return
	}
	if !s.checkSeq(s.params.Load(), h.HasSequence, uint32(h.Ns), 0xffff) {
		return
	}
	t.ctr.rx(len(buf) - off)
	start := cap(buf) - cap(payload)
	s.deliver(buf[:start+len(payload)], start)
}

// recvV3 handles the L2TPv3 data message buf[off:] of session s, over UDP or IP.
func (t *tunnel) recvV3(s *session, buf []byte, off int, udp bool) {
	prm := s.params.Load()
	var (
		h       l2tp.V3DataHeader
		payload []byte
		err     error
	)
	if udp {
		h, payload, err = l2tp.ParseV3DataUDP(buf[off:], prm.cookieLen, prm.sublayer)
	} else {
		h, payload, err = l2tp.ParseV3DataIP(buf[off:], prm.cookieLen, prm.sublayer)
	}
	if err != nil {
		t.ctr.drop(kernel.DropMalformed)
		s.ctr.drop(kernel.DropMalformed)
		return
	}
	// RFC 3931 §4.1: a packet whose cookie does not match is discarded.
	if h.Cookie != prm.cookie {
		t.ctr.drop(kernel.DropCookie)
		s.ctr.drop(kernel.DropCookie)
		return
	}
	if !s.checkSeq(prm, h.Sequenced, h.Seq, 0xffffff) {
		return
	}
	t.ctr.rx(len(buf) - off)
	start := cap(buf) - cap(payload)
	s.deliver(buf[:start+len(payload)], start)
}

// send sends a data message.
func (t *tunnel) send(pkt []byte) error {
	if t.udp {
		return t.c.write(pkt)
	}
	return t.dm.c.writeTo(pkt, t.peer.Load().addr, t.from)
}

// baseMTU is the MTU of the path to the peer, as far as the data plane knows.
func (t *tunnel) baseMTU() int {
	if t.c != nil {
		if m := t.c.pathMTU(); m > 0 {
			return m
		}
	}
	return 1500
}

// overhead is the size of the IP, UDP and L2TP headers of a data packet of a session with
// parameters prm.
func (t *tunnel) overhead(prm *sessParams) int {
	n := 20
	if t.peerAddr().Is6() {
		n = 40
	}
	if t.udp {
		n += 8
	}
	if t.ver == l2tp.Version2 {
		n += 6
		if prm.sendSeq {
			n += 4
		}
		return n
	}
	if t.udp {
		n += 4
	}
	n += 4 + prm.peerCookieLen
	if prm.sublayer {
		n += 4
	}
	return n
}
