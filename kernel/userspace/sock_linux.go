//go:build linux

package userspace

import (
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// protoL2TP is the IP protocol number of L2TPv3 IP encapsulation (RFC 3931 §4.1.1).
const protoL2TP = 115

// sockRcvBuf is the receive buffer asked for on data sockets (the kernel caps it at
// net.core.rmem_max).
const sockRcvBuf = 2 << 20

// oobSize is the control-message space per datagram: an IP_PKTINFO and an IPV6_PKTINFO
// (a dual-stack socket may get both for an IPv4 datagram), a multiple of 8.
const oobSize = 128

// mmsghdr is struct mmsghdr (sys/socket.h): a msghdr and the length received. The Go
// struct has the C layout (padding included) on every Linux architecture.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// sockConn is a non-blocking socket on Go's poller, read with recvmmsg and written with
// sendmsg through prebound functions, so that neither path allocates.
type sockConn struct {
	f         *os.File
	rc        syscall.RawConn
	v6        bool        // AF_INET6
	raw       bool        // a raw IP socket
	raw4      bool        // an IPv4 raw socket: datagrams start with the IP header
	connected bool        // connected when made: reads need no sender address
	peered    atomic.Bool // connected since (connect)
	pktinfo   bool        // IP_PKTINFO / IPV6_RECVPKTINFO are on
	local     netip.AddrPort
	closed    atomic.Bool

	// The reader's state: used by the one goroutine that calls readBatch.
	rhs   []mmsghdr
	riov  []unix.Iovec
	rname []unix.RawSockaddrInet6
	roob  []byte
	rwant int
	rn    int
	rerr  syscall.Errno
	rfn   func(fd uintptr) bool

	wmu   sync.Mutex // guards the writer's state below
	whdr  unix.Msghdr
	wiov  unix.Iovec
	wname unix.RawSockaddrInet6
	woob  [oobSize / 8]uint64 // a control message; uint64 for the alignment of cmsghdr
	werr  syscall.Errno
	wfn   func(fd uintptr) bool
}

// newSockConn wraps the non-blocking socket fd.
func newSockConn(fd int, v6, raw, connected, pktinfo bool) (*sockConn, error) {
	c := &sockConn{v6: v6, raw: raw, raw4: raw && !v6, connected: connected, pktinfo: pktinfo}
	c.f = os.NewFile(uintptr(fd), "socket")
	rc, err := c.f.SyscallConn()
	if err != nil {
		c.f.Close()
		return nil, err
	}
	c.rc = rc
	c.rfn = c.recvmmsg
	c.wfn = c.sendmsg
	sa, err := unix.Getsockname(fd)
	if err == nil {
		c.local = sockaddrToAddrPort(sa)
	}
	return c, nil
}

func sockaddrToAddrPort(sa unix.Sockaddr) netip.AddrPort {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), uint16(sa.Port))
	}
	return netip.AddrPort{}
}

func (c *sockConn) grow(n int) {
	if n <= len(c.rhs) {
		return
	}
	c.rhs = make([]mmsghdr, n)
	c.riov = make([]unix.Iovec, n)
	c.rname = make([]unix.RawSockaddrInet6, n)
	// The control buffers hold cmsghdr structures: allocate them 8-byte aligned.
	w := make([]uint64, n*oobSize/8)
	c.roob = unsafe.Slice((*byte)(unsafe.Pointer(&w[0])), n*oobSize)
}

func (c *sockConn) readBatch(ms []msg) (int, error) {
	if len(ms) == 0 {
		return 0, nil
	}
	c.grow(len(ms))
	for i := range ms {
		b := ms[i].buf[ms[i].off:]
		c.riov[i].Base = &b[0]
		c.riov[i].SetLen(len(b))
		h := &c.rhs[i].hdr
		*h = unix.Msghdr{Iov: &c.riov[i]}
		h.SetIovlen(1)
		if !c.connected {
			h.Name = (*byte)(unsafe.Pointer(&c.rname[i]))
			h.Namelen = unix.SizeofSockaddrInet6
		}
		if c.pktinfo {
			h.Control = &c.roob[i*oobSize]
			h.SetControllen(oobSize)
		}
		c.rhs[i].n = 0
	}
	c.rwant = len(ms)
	if err := c.rc.Read(c.rfn); err != nil {
		if c.closed.Load() {
			return 0, net.ErrClosed
		}
		return 0, err
	}
	if c.rerr != 0 {
		if c.closed.Load() {
			return 0, net.ErrClosed
		}
		return 0, c.rerr
	}
	for i := range c.rn {
		m := &ms[i]
		h := &c.rhs[i]
		m.n = int(h.n)
		m.trunc = h.hdr.Flags&unix.MSG_TRUNC != 0
		m.src, m.dst = netip.AddrPort{}, netip.Addr{}
		if !c.connected {
			m.src = rawToAddrPort(&c.rname[i])
		}
		if c.pktinfo {
			m.dst = parsePktinfo(c.roob[i*oobSize : i*oobSize+int(h.hdr.Controllen)])
		}
		if c.raw4 {
			stripIPv4(m)
		}
	}
	return c.rn, nil
}

// recvmmsg is the prebound function RawConn.Read runs.
func (c *sockConn) recvmmsg(fd uintptr) bool {
	for {
		n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&c.rhs[0])), uintptr(c.rwant), unix.MSG_DONTWAIT, 0, 0)
		switch e {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		c.rn, c.rerr = int(n), e
		return true
	}
}

// stripIPv4 removes the IPv4 header that raw IPv4 sockets deliver.
func stripIPv4(m *msg) {
	b := m.buf[m.off : m.off+m.n]
	if len(b) < 20 || b[0]>>4 != 4 {
		m.n = 0
		return
	}
	ihl := int(b[0]&0x0f) * 4
	if ihl < 20 || ihl > len(b) {
		m.n = 0
		return
	}
	m.off += ihl
	m.n -= ihl
}

// rawToAddrPort decodes a sockaddr_in or sockaddr_in6 the kernel wrote.
func rawToAddrPort(sa *unix.RawSockaddrInet6) netip.AddrPort {
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		p := (*[2]byte)(unsafe.Pointer(&sa4.Port))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), uint16(p[0])<<8|uint16(p[1]))
	case unix.AF_INET6:
		p := (*[2]byte)(unsafe.Pointer(&sa.Port))
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), uint16(p[0])<<8|uint16(p[1]))
	}
	return netip.AddrPort{}
}

// parsePktinfo returns the destination address from an IP_PKTINFO or IPV6_PKTINFO
// control message.
func parsePktinfo(oob []byte) netip.Addr {
	for len(oob) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < unix.SizeofCmsghdr || l > len(oob) {
			return netip.Addr{}
		}
		data := oob[unix.CmsgLen(0):l]
		switch {
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo:
			pi := (*unix.Inet4Pktinfo)(unsafe.Pointer(&data[0]))
			return netip.AddrFrom4(pi.Addr)
		case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_PKTINFO && len(data) >= unix.SizeofInet6Pktinfo:
			pi := (*unix.Inet6Pktinfo)(unsafe.Pointer(&data[0]))
			return netip.AddrFrom16(pi.Addr).Unmap()
		}
		next := unix.CmsgSpace(l - unix.CmsgLen(0))
		if next > len(oob) {
			return netip.Addr{}
		}
		oob = oob[next:]
	}
	return netip.Addr{}
}

func (c *sockConn) write(b []byte) error {
	return c.writeTo(b, netip.AddrPort{}, netip.Addr{})
}

// writeTo sends b with sendmsg: to the connected peer when to is not valid, from the
// address from (IP_PKTINFO / IPV6_PKTINFO) when it is valid.
func (c *sockConn) writeTo(b []byte, to netip.AddrPort, from netip.Addr) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.whdr = unix.Msghdr{}
	if len(b) > 0 {
		c.wiov.Base = &b[0]
	} else {
		c.wiov.Base = nil
	}
	c.wiov.SetLen(len(b))
	c.whdr.Iov = &c.wiov
	c.whdr.SetIovlen(1)
	if to.Addr().IsValid() {
		c.whdr.Name = (*byte)(unsafe.Pointer(&c.wname))
		c.whdr.Namelen = c.putName(to)
	}
	if from.IsValid() {
		c.whdr.Control = (*byte)(unsafe.Pointer(&c.woob[0]))
		c.whdr.SetControllen(c.putPktinfo(from))
	}
	err := c.rc.Write(c.wfn)
	c.wiov.Base = nil // do not keep b alive
	if err != nil {
		if c.closed.Load() {
			return net.ErrClosed
		}
		return err
	}
	if c.werr != 0 {
		return c.werr
	}
	return nil
}

// putName writes to into wname as the socket's family wants it and returns its length.
// Raw sockets take no port (RFC-less Linux detail: a raw IPv6 socket rejects a port other
// than its protocol).
func (c *sockConn) putName(to netip.AddrPort) uint32 {
	port := to.Port()
	if c.raw {
		port = 0
	}
	if !c.v6 {
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&c.wname))
		*sa = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: to.Addr().Unmap().As4()}
		p := (*[2]byte)(unsafe.Pointer(&sa.Port))
		p[0], p[1] = byte(port>>8), byte(port)
		return unix.SizeofSockaddrInet4
	}
	sa := &c.wname
	*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: to.Addr().As16()}
	p := (*[2]byte)(unsafe.Pointer(&sa.Port))
	p[0], p[1] = byte(port>>8), byte(port)
	return unix.SizeofSockaddrInet6
}

// putPktinfo writes the control message that picks the source address and returns its
// length.
func (c *sockConn) putPktinfo(from netip.Addr) int {
	oob := unsafe.Slice((*byte)(unsafe.Pointer(&c.woob[0])), oobSize)
	clear(oob)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	data := oob[unix.CmsgLen(0):]
	if !c.v6 {
		h.Level, h.Type = unix.IPPROTO_IP, unix.IP_PKTINFO
		h.SetLen(unix.CmsgLen(unix.SizeofInet4Pktinfo))
		pi := (*unix.Inet4Pktinfo)(unsafe.Pointer(&data[0]))
		pi.Spec_dst = from.As4()
		return unix.CmsgSpace(unix.SizeofInet4Pktinfo)
	}
	h.Level, h.Type = unix.IPPROTO_IPV6, unix.IPV6_PKTINFO
	h.SetLen(unix.CmsgLen(unix.SizeofInet6Pktinfo))
	pi := (*unix.Inet6Pktinfo)(unsafe.Pointer(&data[0]))
	pi.Addr = from.As16()
	return unix.CmsgSpace(unix.SizeofInet6Pktinfo)
}

// sendmsg is the prebound function RawConn.Write runs.
func (c *sockConn) sendmsg(fd uintptr) bool {
	for {
		_, _, e := unix.Syscall(unix.SYS_SENDMSG, fd, uintptr(unsafe.Pointer(&c.whdr)), unix.MSG_DONTWAIT)
		switch e {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		c.werr = e
		return true
	}
}

func (c *sockConn) connect(peer netip.AddrPort) error {
	var err error
	cerr := c.rc.Control(func(fd uintptr) {
		err = unix.Connect(int(fd), sockaddrOf(peer, c.v6))
	})
	if cerr != nil {
		return cerr
	}
	if err == nil {
		c.peered.Store(true)
	}
	return err
}

func (c *sockConn) localAddr() netip.AddrPort { return c.local }

func (c *sockConn) pathMTU() int {
	if !c.connected && !c.peered.Load() {
		return 0
	}
	var mtu int
	var err error
	c.rc.Control(func(fd uintptr) {
		if c.v6 {
			mtu, err = unix.GetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_MTU)
		} else {
			mtu, err = unix.GetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MTU)
		}
	})
	if err != nil {
		return 0
	}
	return mtu
}

func (c *sockConn) close() error {
	if c.closed.Swap(true) {
		return nil
	}
	return c.f.Close()
}

// Socket constructors.

func sockFamily(v6 bool) int {
	if v6 {
		return unix.AF_INET6
	}
	return unix.AF_INET
}

// openSocket creates a non-blocking socket and applies the options.
func openSocket(v6 bool, typ, proto int, opts ...[3]int) (int, error) {
	fd, err := unix.Socket(sockFamily(v6), typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	for _, o := range opts {
		if err := unix.SetsockoptInt(fd, o[0], o[1], o[2]); err != nil {
			unix.Close(fd)
			return -1, os.NewSyscallError("setsockopt", err)
		}
	}
	// A bigger receive buffer absorbs bursts; the kernel caps it, which is not an error.
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, sockRcvBuf)
	return fd, nil
}

func sockaddrOf(a netip.AddrPort, v6 bool) unix.Sockaddr {
	if !v6 {
		return &unix.SockaddrInet4{Port: int(a.Port()), Addr: a.Addr().Unmap().As4()}
	}
	return &unix.SockaddrInet6{Port: int(a.Port()), Addr: a.Addr().As16()}
}

// listenUDPSocket opens a UDP socket bound to addr that reports each datagram's local
// address. An unspecified IPv6 address makes a dual-stack socket.
func listenUDPSocket(addr netip.AddrPort) (*sockConn, error) {
	v6 := addr.Addr().Is6()
	opts := [][3]int{{unix.SOL_SOCKET, unix.SO_REUSEADDR, 1}}
	if v6 {
		v6only := 1
		if addr.Addr().IsUnspecified() {
			v6only = 0
		}
		opts = append(opts, [3]int{unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v6only}, [3]int{unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1})
	}
	// IP_PKTINFO also reports IPv4 datagrams on a dual-stack socket.
	opts = append(opts, [3]int{unix.IPPROTO_IP, unix.IP_PKTINFO, 1})
	fd, err := openSocket(v6, unix.SOCK_DGRAM, 0, opts...)
	if err != nil {
		return nil, err
	}
	if err := unix.Bind(fd, sockaddrOf(addr, v6)); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("bind", err)
	}
	return newSockConn(fd, v6, false, false, true)
}

// dialUDPSocket opens a UDP socket bound to local (if valid) and connected to peer, or
// with unconnected bound to an address (local's, else the route's source towards peer)
// and not connected.
func dialUDPSocket(local, peer netip.AddrPort, checksums, unconnected bool) (*sockConn, error) {
	v6 := peer.Addr().Is6()
	if unconnected && (!local.Addr().IsValid() || local.Addr().IsUnspecified()) {
		src, err := routeSource(peer, v6)
		if err != nil {
			return nil, err
		}
		local = netip.AddrPortFrom(src, local.Port())
	}
	opts := [][3]int{{unix.SOL_SOCKET, unix.SO_REUSEADDR, 1}}
	if !v6 && !checksums {
		opts = append(opts, [3]int{unix.SOL_SOCKET, unix.SO_NO_CHECK, 1})
	}
	fd, err := openSocket(v6, unix.SOCK_DGRAM, 0, opts...)
	if err != nil {
		return nil, err
	}
	if local.Addr().IsValid() || local.Port() != 0 {
		la := local
		if !la.Addr().IsValid() {
			la = netip.AddrPortFrom(netip.IPv4Unspecified(), local.Port())
			if v6 {
				la = netip.AddrPortFrom(netip.IPv6Unspecified(), local.Port())
			}
		}
		if err := unix.Bind(fd, sockaddrOf(la, v6)); err != nil {
			unix.Close(fd)
			return nil, os.NewSyscallError("bind", err)
		}
	}
	if !unconnected {
		if err := unix.Connect(fd, sockaddrOf(peer, v6)); err != nil {
			unix.Close(fd)
			return nil, os.NewSyscallError("connect", err)
		}
	}
	return newSockConn(fd, v6, false, !unconnected, false)
}

// routeSource returns the source address the kernel would use towards peer: that of a
// throw-away UDP socket connected to it (connecting a UDP socket sends nothing).
func routeSource(peer netip.AddrPort, v6 bool) (netip.Addr, error) {
	fd, err := openSocket(v6, unix.SOCK_DGRAM, 0)
	if err != nil {
		return netip.Addr{}, err
	}
	defer unix.Close(fd)
	if err := unix.Connect(fd, sockaddrOf(peer, v6)); err != nil {
		return netip.Addr{}, os.NewSyscallError("connect", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return netip.Addr{}, os.NewSyscallError("getsockname", err)
	}
	return sockaddrToAddrPort(sa).Addr(), nil
}

// openIPEncapSocket opens the raw socket of protocol 115 for one address family.
func openIPEncapSocket(v6 bool) (*sockConn, error) {
	opt := [3]int{unix.IPPROTO_IP, unix.IP_PKTINFO, 1}
	if v6 {
		opt = [3]int{unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1}
	}
	fd, err := openSocket(v6, unix.SOCK_RAW, protoL2TP, opt)
	if err != nil {
		return nil, err
	}
	return newSockConn(fd, v6, true, false, true)
}
