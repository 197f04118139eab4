//go:build linux

package linux

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Socket addresses of PPPoX and L2TP/IP sockets, packed by hand (no cgo). Layouts from
// include/uapi/linux/if_pppox.h, if_pppol2tp.h and l2tp.h. The sockaddr_pppox family is
// __packed: sa_family (u16) is followed directly by sa_protocol (u32) at offset 2. Host
// byte order: families, protocols, pid, fd, tunnel and session IDs, L2TP/IP connection
// IDs. Network byte order: ports, the PPPoE session ID and addresses.
const (
	afPPPoX      = unix.AF_PPPOX // 24
	pxProtoOE    = 0             // PX_PROTO_OE
	pxProtoOL2TP = 1             // PX_PROTO_OL2TP

	sizeofSockaddrPPPoX         = 30 // 2 + 4 + struct pppoe_addr (2 + 6 + IFNAMSIZ)
	sizeofSockaddrPPPoL2TP      = 38 // 2 + 4 + pid, fd, sockaddr_in, 4 × u16
	sizeofSockaddrPPPoL2TPin6   = 50 // 2 + 4 + pid, fd, 4 × u16, sockaddr_in6
	sizeofSockaddrPPPoL2TPv3    = 46 // 2 + 4 + pid, fd, sockaddr_in, 4 × u32
	sizeofSockaddrPPPoL2TPv3in6 = 58 // 2 + 4 + pid, fd, 4 × u32, sockaddr_in6
	sizeofSockaddrL2TPIP        = 16 // family, unused port, in_addr, conn_id, 4 pad
	sizeofSockaddrL2TPIP6       = 32 // family, unused port, flowinfo, in6_addr, scope, conn_id

	sizeofSockaddrIn  = 16
	sizeofSockaddrIn6 = 28
)

var ne = binary.NativeEndian

// pppoeSockaddr packs struct sockaddr_pppox for a PPPoE session: session ID sid with the
// peer remote on device dev (RFC 2516 §4: a session is the peer's MAC address and the
// SESSION_ID on one interface).
func pppoeSockaddr(sid uint16, remote [6]byte, dev string) ([]byte, error) {
	if len(dev) == 0 || len(dev) >= unix.IFNAMSIZ {
		return nil, fmt.Errorf("%w: interface name %q", unix.EINVAL, dev)
	}
	b := make([]byte, sizeofSockaddrPPPoX)
	ne.PutUint16(b[0:], afPPPoX)
	ne.PutUint32(b[2:], pxProtoOE)
	binary.BigEndian.PutUint16(b[6:], sid)
	copy(b[8:14], remote[:])
	copy(b[14:30], dev)
	return b, nil
}

// pppol2tpAddr is what a PPPoL2TP socket connects to: a session of a kernel tunnel. FD is
// the tunnel's socket (the kernel reads it only to create a tunnel, which the data plane
// never asks for); Peer is the tunnel's peer.
type pppol2tpAddr struct {
	Version                 int // 2 or 3
	FD                      int
	Peer                    netip.AddrPort
	Tunnel, Session         uint32
	PeerTunnel, PeerSession uint32
}

// pppol2tpSockaddr packs the sockaddr_pppol2tp variant for the version and address
// family; the kernel tells them apart by their length (pppol2tp_sockaddr_get_info).
func pppol2tpSockaddr(a pppol2tpAddr) ([]byte, error) {
	v6 := a.Peer.Addr().Is6() && !a.Peer.Addr().Is4In6()
	var b []byte
	switch {
	case a.Version == 2 && !v6:
		b = make([]byte, sizeofSockaddrPPPoL2TP)
		putPidFD(b, a.FD)
		putSockaddrIn(b[14:30], a.Peer)
		for i, v := range []uint32{a.Tunnel, a.Session, a.PeerTunnel, a.PeerSession} {
			if v > 0xffff {
				return nil, fmt.Errorf("%w: L2TPv2 IDs are 16 bits", unix.EINVAL)
			}
			ne.PutUint16(b[30+2*i:], uint16(v))
		}
	case a.Version == 2:
		b = make([]byte, sizeofSockaddrPPPoL2TPin6)
		putPidFD(b, a.FD)
		for i, v := range []uint32{a.Tunnel, a.Session, a.PeerTunnel, a.PeerSession} {
			if v > 0xffff {
				return nil, fmt.Errorf("%w: L2TPv2 IDs are 16 bits", unix.EINVAL)
			}
			ne.PutUint16(b[14+2*i:], uint16(v))
		}
		putSockaddrIn6(b[22:50], a.Peer)
	case a.Version == 3 && !v6:
		b = make([]byte, sizeofSockaddrPPPoL2TPv3)
		putPidFD(b, a.FD)
		putSockaddrIn(b[14:30], a.Peer)
		for i, v := range []uint32{a.Tunnel, a.Session, a.PeerTunnel, a.PeerSession} {
			ne.PutUint32(b[30+4*i:], v)
		}
	case a.Version == 3:
		b = make([]byte, sizeofSockaddrPPPoL2TPv3in6)
		putPidFD(b, a.FD)
		for i, v := range []uint32{a.Tunnel, a.Session, a.PeerTunnel, a.PeerSession} {
			ne.PutUint32(b[14+4*i:], v)
		}
		putSockaddrIn6(b[30:58], a.Peer)
	default:
		return nil, fmt.Errorf("%w: L2TP version %d", unix.EINVAL, a.Version)
	}
	ne.PutUint16(b[0:], afPPPoX)
	ne.PutUint32(b[2:], pxProtoOL2TP)
	return b, nil
}

// putPidFD writes pid 0 (the kernel ignores it) and fd behind the family and protocol.
func putPidFD(b []byte, fd int) {
	ne.PutUint32(b[6:], 0)
	ne.PutUint32(b[10:], uint32(int32(fd)))
}

// putSockaddrIn writes struct sockaddr_in (16 bytes).
func putSockaddrIn(b []byte, a netip.AddrPort) {
	ne.PutUint16(b[0:], unix.AF_INET)
	binary.BigEndian.PutUint16(b[2:], a.Port())
	ip := a.Addr().Unmap().As4()
	copy(b[4:8], ip[:])
}

// putSockaddrIn6 writes struct sockaddr_in6 (28 bytes), flow info and scope 0.
func putSockaddrIn6(b []byte, a netip.AddrPort) {
	ne.PutUint16(b[0:], unix.AF_INET6)
	binary.BigEndian.PutUint16(b[2:], a.Port())
	ip := a.Addr().As16()
	copy(b[8:24], ip[:])
}

// l2tpipSockaddr packs struct sockaddr_l2tpip (IPv4) or sockaddr_l2tpip6 for an L2TP/IP
// socket's bind (our connection ID, 0 for a listener) or connect (the peer's).
func l2tpipSockaddr(addr netip.Addr, connID uint32) []byte {
	if addr.Is4() || addr.Is4In6() {
		b := make([]byte, sizeofSockaddrL2TPIP)
		putSockaddrIn(b, netip.AddrPortFrom(addr, 0))
		ne.PutUint32(b[8:], connID)
		return b
	}
	b := make([]byte, sizeofSockaddrL2TPIP6)
	if !addr.IsValid() {
		addr = netip.IPv6Unspecified()
	}
	putSockaddrIn6(b, netip.AddrPortFrom(addr, 0))
	ne.PutUint32(b[28:], connID)
	return b
}

// rawConnect is connect(2) with a hand-packed address.
func rawConnect(fd int, sa []byte) error {
	return rawSockaddrCall(unix.SYS_CONNECT, fd, sa)
}

// rawBind is bind(2) with a hand-packed address.
func rawBind(fd int, sa []byte) error {
	return rawSockaddrCall(unix.SYS_BIND, fd, sa)
}

func rawSockaddrCall(trap uintptr, fd int, sa []byte) error {
	for {
		_, _, e := unix.Syscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&sa[0])), uintptr(len(sa)))
		switch e {
		case 0:
			return nil
		case unix.EINTR:
			continue
		}
		return e
	}
}
