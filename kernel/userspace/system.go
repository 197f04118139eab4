package userspace

import (
	"net/netip"
)

// The data plane reaches the operating system only through the interfaces in this file,
// so that the framing code is tested with in-memory fakes and without privileges. The
// Linux implementation is in sys_linux.go.

// headroom is the free space kept in front of every packet read from a socket or device,
// enough for the largest header stack the packet may get on its way out: an L2TPv3-over-UDP
// header with an 8-byte cookie and the sublayer (20) plus PPP address/control (2), or a
// PPPoE header (6).
const headroom = 64

// batchSize is the number of datagrams a socket reader asks for in one recvmmsg.
const batchSize = 16

// sockBufSize is the size of each datagram buffer after the headroom: enough for a 1500
// MTU payload with every header; longer datagrams are dropped as kernel.DropTooBig.
const sockBufSize = 4096

// msg is one datagram of a batched read. The caller sets buf and off; the conn reads into
// buf[off:] and sets off and n so that the datagram (without any IP header) is
// buf[off:off+n].
type msg struct {
	buf    []byte
	off, n int
	src    netip.AddrPort // the sender (unset on connected sockets)
	dst    netip.Addr     // the local address the datagram arrived on, when known
	trunc  bool           // the datagram was longer than the buffer
}

// packetConn is a datagram socket: a UDP socket, or the raw IP socket (protocol 115) of
// L2TPv3 IP encapsulation. Reads happen on one goroutine; writes may be concurrent.
type packetConn interface {
	// readBatch reads at least one datagram into ms and returns how many it read. After
	// close it returns an error for which isClosed is true.
	readBatch(ms []msg) (int, error)
	// write sends b on a connected socket.
	write(b []byte) error
	// writeTo sends b to to (the port is ignored on raw sockets), from the local address
	// from when it is valid.
	writeTo(b []byte, to netip.AddrPort, from netip.Addr) error
	// connect (re)connects a UDP socket to peer.
	connect(peer netip.AddrPort) error
	localAddr() netip.AddrPort
	// pathMTU is the path MTU towards the connected peer, or 0 when unknown.
	pathMTU() int
	close() error
}

// device is a TUN (IP packets, no packet information) or TAP (Ethernet frames) device.
// read happens on one goroutine; write may be concurrent.
type device interface {
	name() string
	index() int
	read(b []byte) (int, error)
	write(b []byte) error
	close() error
}

// ethFrame is an Ethernet frame without its header: the addresses, the 802.1Q tags and
// the ether type, and the payload.
type ethFrame struct {
	dst, src  [6]byte
	vlan      uint16 // 802.1Q VLAN ID, 0 when untagged
	outerVLAN uint16 // the service tag of a QinQ frame
	etherType uint16
	payload   []byte
}

// ethPort is an AF_PACKET socket on one interface that receives the PPPoE ether types.
// readFrame happens on one goroutine; writeFrame may be concurrent.
type ethPort interface {
	// readFrame reads one frame into b; the payload aliases b when the implementation
	// can make it so.
	readFrame(b []byte) (ethFrame, error)
	writeFrame(f ethFrame) error
	// addUnicast makes the interface accept frames addressed to mac too (until close).
	addUnicast(mac [6]byte) error
	hardwareAddr() [6]byte
	mtu() int
	close() error
}

// system creates sockets and devices and configures addresses and routes.
type system interface {
	// listenUDP opens a UDP socket bound to addr with SO_REUSEADDR that reports the
	// local address of each datagram.
	listenUDP(addr netip.AddrPort) (packetConn, error)
	// dialUDP opens a UDP socket bound to local (SO_REUSEADDR) and connected to peer;
	// checksums=false disables UDP checksums on IPv4 (SO_NO_CHECK). With unconnected, the
	// socket is bound to local's port and to local's address or else the one the route to
	// peer uses, and left unconnected until connect: it reports each datagram's sender,
	// and writes name their destination.
	dialUDP(local, peer netip.AddrPort, checksums, unconnected bool) (packetConn, error)
	// openIPEncap opens the raw IP socket for protocol 115 of one address family.
	openIPEncap(v6 bool) (packetConn, error)
	// openTun creates a TUN (or TAP) device named name (which may hold %d) with the
	// given MTU, in the data plane's interface group, and sets it up.
	openTun(name string, tap bool, mtu int) (device, error)
	// openEth opens the PPPoE ether types on the interface ifname.
	openEth(ifname string) (ethPort, error)

	setMTU(dev, mtu int) error
	// addAddr adds the address local to the device, with a point-to-point peer when
	// peer is valid.
	addAddr(dev int, local netip.Prefix, peer netip.Addr) error
	delAddr(dev int, local netip.Prefix, peer netip.Addr) error
	// replaceRoute routes dst through the device, with the preferred source src when it
	// is valid, and the path MTU mtu when it is not 0 (locked: forwarded packets obey it).
	replaceRoute(dst netip.Prefix, dev int, src netip.Addr, mtu int) error
	delRoute(dst netip.Prefix, dev int) error

	close() error
}
