//go:build linux

package linux

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"

	"github.com/probox/probox/kernel/internal/closeset"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/probox/probox/kernel"
)

// tunnel is the transport of one L2TP tunnel: a socket that the data plane owns, bound to
// the local address and connected to the peer (UDP, or L2TP/IP bound with our connection
// ID; a UDP socket with AnyPeerPort is connected only by Establish). Until Establish it is
// an ordinary socket and every packet reaches ReadControl.
// Establish registers it with the kernel as a managed tunnel (TUNNEL_CREATE with
// L2TP_ATTR_FD): from then on the kernel handles data messages itself (l2tp_udp_encap_recv,
// l2tp_ip_recv) and still passes control messages up to the socket. A managed tunnel
// lives as long as its socket: closing the socket deletes it (l2tp_udp_encap_destroy,
// l2tp_ip_destroy_sock), so a tunnel cannot outlive the process.
type tunnel struct {
	d    *Dataplane
	cfg  kernel.TunnelConfig
	id   uint32
	obj  string
	udp  bool
	v6   bool
	sock *pollFD
	log  *zap.Logger

	malformed, tooBig, data, strangers atomic.Uint64 // packets ReadControl dropped

	rmu sync.Mutex // serialises ReadControl

	mu          sync.Mutex // guards the fields below
	closed      bool
	established bool
	anyPort     bool // TunnelConfig.AnyPeerPort until Establish: the socket is not connected
	local       netip.AddrPort
	peer        netip.AddrPort
	peerID      uint32
	sessions    map[uint32]*session
}

// OpenTunnel opens the transport of one tunnel; see kernel.Dataplane.
func (d *Dataplane) OpenTunnel(cfg kernel.TunnelConfig) (kernel.Tunnel, error) {
	obj := tunnelObject(cfg.TunnelID)
	cfg.Peer = netip.AddrPortFrom(cfg.Peer.Addr().Unmap(), cfg.Peer.Port())
	cfg.Local = netip.AddrPortFrom(cfg.Local.Addr().Unmap(), cfg.Local.Port())
	if err := checkTunnelConfig(cfg); err != nil {
		return nil, opErr("open", obj, err)
	}
	t := &tunnel{
		d:        d,
		cfg:      cfg,
		id:       cfg.TunnelID,
		obj:      obj,
		udp:      cfg.Encap == kernel.EncapUDP,
		v6:       cfg.Peer.Addr().Is6(),
		peer:     cfg.Peer,
		sessions: map[uint32]*session{},
		log:      d.log.With(zap.Uint32("tunnel_id", cfg.TunnelID), zap.Stringer("peer", cfg.Peer)),
	}
	if !t.udp {
		t.peer = netip.AddrPortFrom(cfg.Peer.Addr(), 0)
	}
	t.anyPort = t.udp && cfg.AnyPeerPort
	if err := t.open(); err != nil {
		return nil, opErr("open", obj, err)
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
		return fmt.Errorf("%w: version %d", unix.EINVAL, cfg.Version)
	case cfg.Version == 2 && cfg.Encap != kernel.EncapUDP:
		return fmt.Errorf("%w: L2TPv2 runs over UDP only", unix.EINVAL)
	case cfg.Encap != kernel.EncapUDP && cfg.Encap != kernel.EncapIP:
		return fmt.Errorf("%w: encapsulation %d", unix.EINVAL, cfg.Encap)
	case cfg.TunnelID == 0, cfg.Version == 2 && cfg.TunnelID > 0xffff:
		return fmt.Errorf("%w: tunnel ID %d", unix.EINVAL, cfg.TunnelID)
	case !cfg.Peer.Addr().IsValid() || cfg.Peer.Addr().IsUnspecified():
		return fmt.Errorf("%w: peer address %v", unix.EINVAL, cfg.Peer)
	case cfg.Encap == kernel.EncapUDP && cfg.Peer.Port() == 0:
		return fmt.Errorf("%w: peer port 0", unix.EINVAL)
	case cfg.Local.Addr().IsValid() && cfg.Local.Addr().Is4() != cfg.Peer.Addr().Is4():
		return fmt.Errorf("%w: local %v and peer %v differ in address family", unix.EINVAL, cfg.Local, cfg.Peer)
	}
	return nil
}

// open creates, binds and connects the socket.
func (t *tunnel) open() error {
	proto := 0
	if !t.udp {
		proto = unix.IPPROTO_L2TP
	}
	fd, err := t.d.openSocket(family(t.v6), unix.SOCK_DGRAM, proto)
	if err != nil {
		return os.NewSyscallError("socket", err)
	}
	if err := t.setup(fd); err != nil {
		unix.Close(fd)
		return err
	}
	if t.sock, err = newPollFD(fd, t.obj); err != nil {
		return err
	}
	return nil
}

func (t *tunnel) setup(fd int) error {
	local := t.cfg.Local
	unspec := netip.IPv4Unspecified()
	if t.v6 {
		unspec = netip.IPv6Unspecified()
		// An L2TP/IP socket is IPv6-only anyway, and refuses the option (l2tp_ip6
		// sets inet_num at creation, after which IPV6_V6ONLY gives EINVAL).
		if t.udp {
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1); err != nil {
				return os.NewSyscallError("setsockopt", err)
			}
		}
	}
	if !local.Addr().IsValid() {
		local = netip.AddrPortFrom(unspec, local.Port())
	}
	if t.udp {
		// The listener and the tunnels accepted on it share the port.
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			return os.NewSyscallError("setsockopt", err)
		}
		// With a managed tunnel the kernel takes the UDP checksum behaviour of data
		// packets from the socket; IPv6 always has checksums.
		if !t.v6 && !t.cfg.UDPChecksums {
			if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_NO_CHECK, 1); err != nil {
				return os.NewSyscallError("setsockopt", err)
			}
		}
		if t.anyPort && local.Addr() == unspec {
			// Not connected until Establish: bind the address the route to the peer
			// uses, as connect would have chosen it.
			src, err := t.d.routeSource(t.peer)
			if err != nil {
				return err
			}
			local = netip.AddrPortFrom(src, local.Port())
		}
		if local.Addr() != unspec || local.Port() != 0 {
			if err := unix.Bind(fd, sockaddrOf(local)); err != nil {
				return os.NewSyscallError("bind", err)
			}
		}
		if t.anyPort {
			return t.readLocal(fd)
		}
	} else {
		// An L2TP/IP socket must be bound before it connects; the connection ID is how
		// the kernel gives it the control messages addressed to this tunnel.
		if err := rawBind(fd, l2tpipSockaddr(local.Addr(), t.id)); err != nil {
			return os.NewSyscallError("bind", err)
		}
	}
	return t.connect(fd, t.peer, 0)
}

// connect (re)connects the socket to peer; for L2TP/IP, peerID is the peer's connection
// ID (0 before it is known).
func (t *tunnel) connect(fd int, peer netip.AddrPort, peerID uint32) error {
	var err error
	if t.udp {
		err = unix.Connect(fd, sockaddrOf(peer))
	} else {
		err = rawConnect(fd, l2tpipSockaddr(peer.Addr(), peerID))
	}
	if err != nil {
		return os.NewSyscallError("connect", err)
	}
	return t.readLocal(fd)
}

// routeSource returns the source address the kernel would use towards peer: that of a
// throw-away UDP socket connected to it (connecting a UDP socket sends nothing).
func (d *Dataplane) routeSource(peer netip.AddrPort) (netip.Addr, error) {
	fd, err := d.openSocket(family(peer.Addr().Is6()), unix.SOCK_DGRAM, 0)
	if err != nil {
		return netip.Addr{}, os.NewSyscallError("socket", err)
	}
	defer unix.Close(fd)
	if err := unix.Connect(fd, sockaddrOf(peer)); err != nil {
		return netip.Addr{}, os.NewSyscallError("connect", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return netip.Addr{}, os.NewSyscallError("getsockname", err)
	}
	return addrPortOf(sa).Addr(), nil
}

// readLocal records the socket's local address.
func (t *tunnel) readLocal(fd int) error {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return os.NewSyscallError("getsockname", err)
	}
	t.local = addrPortOf(sa)
	if !t.udp {
		t.local = netip.AddrPortFrom(t.local.Addr(), 0)
	}
	return nil
}

// ReadControl reads the next control message; data packets that reach the socket (before
// Establish, or for sessions the kernel does not know) are dropped, and so is anything
// from another address while an AnyPeerPort socket is not connected.
func (t *tunnel) ReadControl(b []byte) (int, netip.AddrPort, error) {
	t.rmu.Lock()
	defer t.rmu.Unlock()
	for {
		n, _, trunc, sa, err := t.sock.recvmsg(b, nil)
		if err != nil {
			if err == net.ErrClosed {
				return 0, netip.AddrPort{}, net.ErrClosed
			}
			if transient(err) {
				continue
			}
			return 0, netip.AddrPort{}, opErr("read control", t.obj, err)
		}
		if trunc {
			t.tooBig.Add(1)
			continue
		}
		t.mu.Lock()
		peer, anyPort := t.peer, t.anyPort
		t.mu.Unlock()
		from := addrPortOf(sa)
		if !from.IsValid() {
			from = peer
		}
		if !t.udp {
			from = netip.AddrPortFrom(from.Addr(), 0)
		}
		if anyPort && from.Addr() != peer.Addr() {
			t.strangers.Add(1)
			continue
		}
		p := b[:n]
		if !t.udp {
			// The kernel passes up control messages only, without the zero session ID.
			if len(p) < 2 || p[0]&0x80 == 0 {
				t.malformed.Add(1)
				continue
			}
			return n, from, nil
		}
		control, v, ok := classifyUDP(p)
		switch {
		case !ok || v != t.cfg.Version:
			t.malformed.Add(1)
			t.log.Debug("malformed control packet dropped", zap.Binary("packet", p[:min(len(p), 32)]))
		case !control:
			t.data.Add(1)
		default:
			return n, from, nil
		}
	}
}

// WriteControl sends a control message to the peer (over IP the kernel adds the zero
// session ID).
func (t *tunnel) WriteControl(b []byte) error {
	t.mu.Lock()
	peer, anyPort := t.peer, t.anyPort
	t.mu.Unlock()
	var err error
	if anyPort {
		err = t.sock.sendto(b, nil, sockaddrOf(peer))
	} else {
		err = t.sock.write(b)
	}
	if err != nil {
		if err == net.ErrClosed {
			return net.ErrClosed
		}
		return opErr("write control", t.obj, err)
	}
	return nil
}

// Establish creates the kernel tunnel once the peer's tunnel ID is known. A later call
// with the same peer tunnel ID and another peer address reconnects the socket (RFC 2661
// §8.1); another peer tunnel ID is an error wrapping EEXIST, since the kernel cannot
// change it.
func (t *tunnel) Establish(peerTunnelID uint32, peer netip.AddrPort) error {
	if peerTunnelID == 0 || t.cfg.Version == 2 && peerTunnelID > 0xffff {
		return opErr("establish", t.obj, fmt.Errorf("%w: peer tunnel ID %d", unix.EINVAL, peerTunnelID))
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return net.ErrClosed
	}
	if !peer.Addr().IsValid() {
		peer = t.peer
	}
	peer = netip.AddrPortFrom(peer.Addr().Unmap(), peer.Port())
	if !t.udp {
		peer = netip.AddrPortFrom(peer.Addr(), 0)
	}
	if peer.Addr().Is6() != t.v6 || t.udp && peer.Port() == 0 {
		return opErr("establish", t.obj, fmt.Errorf("%w: peer %v", unix.EINVAL, peer))
	}
	if t.established {
		if peerTunnelID != t.peerID {
			return opErr("establish", t.obj, fmt.Errorf("%w: established with peer tunnel ID %d", unix.EEXIST, t.peerID))
		}
		if peer == t.peer {
			return nil
		}
	}
	err := t.sock.control(func(fd int) error {
		if peer != t.peer || !t.udp || t.anyPort {
			if err := t.connect(fd, peer, peerTunnelID); err != nil {
				return err
			}
		}
		if t.established {
			return nil
		}
		encap := uint16(encapUDP)
		if !t.udp {
			encap = encapIP
		}
		return t.d.genl.createTunnel(tunnelSpec{ID: t.id, PeerID: peerTunnelID, Version: uint8(t.cfg.Version), Encap: encap, FD: fd})
	})
	if err != nil {
		return opErr("establish", t.obj, err)
	}
	t.established, t.peerID, t.peer, t.anyPort = true, peerTunnelID, peer, false
	t.log.Debug("tunnel established", zap.Uint32("peer_tunnel_id", peerTunnelID), zap.Stringer("peer", peer))
	return nil
}

// LocalAddr is the bound local address.
func (t *tunnel) LocalAddr() netip.AddrPort {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.local
}

// Stats returns the kernel tunnel's counters (zero before Establish) with the control
// packets the socket dropped. The kernel's tunnel receive errors and invalid-packet
// counts are left out: the kernel counts every message shorter than L2TP_HDR_SIZE_MAX (14
// bytes) as invalid although it passes it up to the socket, and that includes each 12-byte
// ZLB acknowledgement (RFC 2661 §5.8); the sessions' errors are in Session.Stats.
func (t *tunnel) Stats() kernel.Counters {
	t.mu.Lock()
	est := t.established && !t.closed
	t.mu.Unlock()
	var c kernel.Counters
	if est {
		if info, err := t.d.genl.getTunnel(t.id); err == nil {
			st := info.Stats
			st.RxErrors, st.RxInvalid = 0, 0
			c = st.counters()
		}
	}
	c.Drops[kernel.DropMalformed] += t.malformed.Load()
	c.Drops[kernel.DropTooBig] += t.tooBig.Load()
	c.Drops[kernel.DropNoSession] += t.data.Load()
	c.Drops[kernel.DropUnknownPeer] += t.strangers.Load()
	return c
}

// Close removes the sessions and the kernel tunnel and closes the socket. The kernel
// frees the tunnel itself asynchronously (l2tp_tunnel_del_work), shortly after.
func (t *tunnel) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	sessions := make([]*session, 0, len(t.sessions))
	for _, s := range t.sessions {
		sessions = append(sessions, s)
	}
	t.sessions = nil
	est := t.established
	t.mu.Unlock()

	var errs []error
	for _, s := range sessions {
		errs = append(errs, s.shutdown())
	}
	if est {
		errs = append(errs, t.d.genl.deleteTunnel(t.id))
	}
	errs = append(errs, t.sock.close())
	t.d.forget(t)
	t.log.Debug("tunnel closed")
	return opErr("close", t.obj, errors.Join(errs...))
}

// pathMTU is the MTU of the path to the peer as the socket knows it, or 1500.
func (t *tunnel) pathMTU() int {
	mtu := 0
	t.sock.control(func(fd int) error {
		var err error
		if t.v6 {
			mtu, err = unix.GetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MTU)
		} else {
			mtu, err = unix.GetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MTU)
		}
		return err
	})
	if mtu <= 0 {
		return 1500
	}
	return mtu
}

// overhead is the size of the IP, UDP and L2TP headers on a data packet of a session with
// configuration cfg.
func (t *tunnel) overhead(cfg kernel.SessionConfig) int {
	n := 20
	if t.v6 {
		n = 40
	}
	if t.udp {
		n += 8
	}
	if t.cfg.Version == 2 {
		n += 6 // flags, tunnel ID, session ID (RFC 2661 §3.1; the kernel sends no length)
		if cfg.SendSeq {
			n += 4
		}
		return n
	}
	if t.udp {
		n += 4 // flags, version, reserved (RFC 3931 §4.1.2.1)
	}
	n += 4 + len(cfg.PeerCookie) // session ID, cookie
	if cfg.L2Spec == kernel.L2SpecDefault {
		n += 4
	}
	return n
}
