//go:build linux

package linux

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"unsafe"

	"github.com/probox/probox/kernel/internal/closeset"

	"golang.org/x/sys/unix"

	"github.com/probox/probox/kernel"
)

// listener is where peers open tunnels: a UDP socket (SO_REUSEADDR, so that each
// tunnel's own connected socket can bind the same port and take its peer's packets), or
// an L2TP/IP socket bound with connection ID 0, which the kernel hands every control
// message whose Control Connection ID is 0 (l2tp_ip_recv: __l2tp_ip_bind_lookup).
type listener struct {
	d     *Dataplane
	encap kernel.Encap
	v6    bool
	sock  *pollFD
	addr  netip.AddrPort
	obj   string

	rmu  sync.Mutex // serialises ReadFrom; guards oob
	oob  []byte
	once sync.Once
}

// Listen opens a socket where peers open new tunnels; see kernel.Dataplane.
func (d *Dataplane) Listen(cfg kernel.ListenConfig) (kernel.Listener, error) {
	obj := "listener " + cfg.Encap.String() + " " + cfg.Addr.String()
	a := cfg.Addr.Addr().Unmap()
	if !a.IsValid() || cfg.Encap != kernel.EncapUDP && cfg.Encap != kernel.EncapIP {
		return nil, opErr("listen", obj, unix.EINVAL)
	}
	l := &listener{d: d, encap: cfg.Encap, v6: a.Is6(), obj: obj, oob: make([]byte, 128)}
	var err error
	if cfg.Encap == kernel.EncapUDP {
		err = l.openUDP(netip.AddrPortFrom(a, cfg.Addr.Port()))
	} else {
		err = l.openIP(a)
	}
	if err != nil {
		return nil, opErr("listen", obj, err)
	}
	if err := d.register(l, closeset.Listener); err != nil {
		l.Close()
		return nil, opErr("listen", obj, err)
	}
	return l, nil
}

func family(v6 bool) int {
	if v6 {
		return unix.AF_INET6
	}
	return unix.AF_INET
}

func sockaddrOf(a netip.AddrPort) unix.Sockaddr {
	if a.Addr().Is4() || a.Addr().Is4In6() {
		return &unix.SockaddrInet4{Port: int(a.Port()), Addr: a.Addr().Unmap().As4()}
	}
	return &unix.SockaddrInet6{Port: int(a.Port()), Addr: a.Addr().As16()}
}

func addrPortOf(sa unix.Sockaddr) netip.AddrPort {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), uint16(sa.Port))
	case *unix.SockaddrL2TPIP: // what x/sys/unix makes of an L2TP/IP socket's address
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), 0)
	case *unix.SockaddrL2TPIP6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), 0)
	}
	return netip.AddrPort{}
}

// setPktinfo asks for the local address of each datagram: IPV6_RECVPKTINFO on an IPv6
// socket, IP_PKTINFO on an IPv4 one and on a dual-stack IPv6 socket, where it reports the
// IPv4 datagrams.
func setPktinfo(fd int, v6, dualStack bool) error {
	if v6 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1); err != nil {
			return err
		}
		if !dualStack {
			return nil
		}
	}
	return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_PKTINFO, 1)
}

func (l *listener) openUDP(addr netip.AddrPort) error {
	fd, err := l.d.openSocket(family(l.v6), unix.SOCK_DGRAM, 0)
	if err != nil {
		return os.NewSyscallError("socket", err)
	}
	err = func() error {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			return err
		}
		dual := l.v6 && addr.Addr().IsUnspecified()
		if l.v6 {
			v6only := 1
			if dual {
				v6only = 0
			}
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v6only); err != nil {
				return err
			}
		}
		if err := setPktinfo(fd, l.v6, dual); err != nil {
			return err
		}
		return os.NewSyscallError("bind", unix.Bind(fd, sockaddrOf(addr)))
	}()
	if err != nil {
		unix.Close(fd)
		return err
	}
	return l.wrap(fd)
}

func (l *listener) openIP(addr netip.Addr) error {
	fd, err := l.d.openSocket(family(l.v6), unix.SOCK_DGRAM, unix.IPPROTO_L2TP)
	if err != nil {
		return os.NewSyscallError("socket", err)
	}
	err = func() error {
		if err := setPktinfo(fd, l.v6, false); err != nil {
			return err
		}
		return os.NewSyscallError("bind", rawBind(fd, l2tpipSockaddr(addr, 0)))
	}()
	if err != nil {
		unix.Close(fd)
		return err
	}
	return l.wrap(fd)
}

func (l *listener) wrap(fd int) error {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return err
	}
	l.addr = addrPortOf(sa)
	if l.encap == kernel.EncapIP {
		l.addr = netip.AddrPortFrom(l.addr.Addr(), 0)
	}
	l.sock, err = newPollFD(fd, l.obj)
	return err
}

// ReadFrom reads the next control packet that belongs to no open tunnel. Data packets
// (of peers that have no tunnel socket) and malformed packets are dropped.
func (l *listener) ReadFrom(b []byte) (int, netip.AddrPort, netip.Addr, error) {
	l.rmu.Lock()
	defer l.rmu.Unlock()
	for {
		n, oobn, trunc, from, err := l.sock.recvmsg(b, l.oob)
		if err != nil {
			if err == net.ErrClosed {
				return 0, netip.AddrPort{}, netip.Addr{}, net.ErrClosed
			}
			if transient(err) {
				continue
			}
			return 0, netip.AddrPort{}, netip.Addr{}, opErr("read", l.obj, err)
		}
		// Truncated, malformed and data packets are dropped; the Listener interface
		// has no counters to count them in.
		if trunc || !l.isControl(b[:n]) {
			continue
		}
		dst := parsePktinfo(l.oob[:oobn])
		if !dst.IsValid() {
			dst = l.addr.Addr()
		}
		src := addrPortOf(from)
		if l.encap == kernel.EncapIP {
			src = netip.AddrPortFrom(src.Addr(), 0)
		}
		return n, src, dst, nil
	}
}

// isControl reports whether p is a control message.
func (l *listener) isControl(p []byte) bool {
	if l.encap == kernel.EncapIP {
		// The kernel passes up only control messages, without their zero session ID,
		// and only those with the T and L bits set (l2tp_ip_recv).
		return len(p) >= 2 && p[0]&0x80 != 0
	}
	control, _, ok := classifyUDP(p)
	return ok && control
}

// WriteTo sends a control message from the listening socket (for EncapIP the kernel adds
// the zero session ID).
func (l *listener) WriteTo(b []byte, dst netip.AddrPort) error {
	to := netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port())
	if l.encap == kernel.EncapIP {
		to = netip.AddrPortFrom(to.Addr(), 0)
	}
	var sa unix.Sockaddr
	switch a := to.Addr(); {
	case !l.v6 && a.Is4(), l.v6 && a.Is6():
		sa = sockaddrOf(to)
	case l.v6 && a.Is4() && l.encap == kernel.EncapUDP && l.addr.Addr().IsUnspecified():
		// A dual-stack socket reaches IPv4 peers by their IPv4-mapped address.
		sa = &unix.SockaddrInet6{Port: int(to.Port()), Addr: v4Mapped(a)}
	default:
		return opErr("write", l.obj, fmt.Errorf("%w: destination %v", unix.EINVAL, dst))
	}
	if err := l.sock.sendto(b, nil, sa); err != nil {
		if err == net.ErrClosed {
			return net.ErrClosed
		}
		return opErr("write", l.obj, err)
	}
	return nil
}

// v4Mapped returns the IPv4-mapped IPv6 form of a (::ffff:a.b.c.d).
func v4Mapped(a netip.Addr) [16]byte {
	v4 := a.As4()
	return [16]byte{10: 0xff, 11: 0xff, 12: v4[0], 13: v4[1], 14: v4[2], 15: v4[3]}
}

// Addr is the bound local address.
func (l *listener) Addr() netip.AddrPort { return l.addr }

// Close closes the socket; a blocked ReadFrom returns net.ErrClosed.
func (l *listener) Close() error {
	l.once.Do(func() {
		l.sock.close()
		l.d.forget(l)
	})
	return nil
}

// parsePktinfo returns the destination address from an IP_PKTINFO or IPV6_PKTINFO
// control message.
func parsePktinfo(oob []byte) netip.Addr {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return netip.Addr{}
	}
	for _, m := range msgs {
		switch {
		case m.Header.Level == unix.IPPROTO_IP && m.Header.Type == unix.IP_PKTINFO && len(m.Data) >= unix.SizeofInet4Pktinfo:
			pi := (*unix.Inet4Pktinfo)(unsafe.Pointer(&m.Data[0]))
			return netip.AddrFrom4(pi.Addr)
		case m.Header.Level == unix.IPPROTO_IPV6 && m.Header.Type == unix.IPV6_PKTINFO && len(m.Data) >= unix.SizeofInet6Pktinfo:
			pi := (*unix.Inet6Pktinfo)(unsafe.Pointer(&m.Data[0]))
			return netip.AddrFrom16(pi.Addr).Unmap()
		}
	}
	return netip.Addr{}
}

// transient reports whether a read error leaves the socket usable: an ICMP error
// reported on a connected UDP socket, an interrupted call, a momentary lack of buffers.
func transient(err error) bool {
	switch err {
	case unix.ECONNREFUSED, unix.EHOSTUNREACH, unix.ENETUNREACH, unix.EINTR, unix.EAGAIN, unix.ENOBUFS, unix.ENOMEM, unix.EMSGSIZE:
		return true
	}
	return false
}

// classifyUDP reads the T bit and the version of an L2TP-over-UDP header (RFC 2661 §3.1,
// RFC 3931 §4.1.2.1: the T bit is the top bit, the version the low 4 bits of the first
// 16). ok is false for a packet too short or of a version other than 2 and 3.
func classifyUDP(p []byte) (control bool, version int, ok bool) {
	if len(p) < 2 {
		return false, 0, false
	}
	version = int(p[1] & 0x0f)
	return p[0]&0x80 != 0, version, version == 2 || version == 3
}
