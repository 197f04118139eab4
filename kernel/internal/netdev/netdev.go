package netdev

import (
	"errors"
	"net"
	"net/netip"
	"os"
)

// Link is a network interface as rtnetlink reports it.
type Link struct {
	Index        int
	Name         string
	MTU          int
	Up           bool // administratively up (IFF_UP)
	HardwareAddr net.HardwareAddr
	// Group is the interface group (IFLA_GROUP); probox marks its own interfaces with it.
	Group uint32
	// Kind is the link type (IFLA_INFO_KIND): "tun" (TUN and TAP), "veth", "vlan", ...;
	// "" for devices without rtnl link ops (loopback, most hardware).
	Kind string
	// ParentIndex is IFLA_LINK: the lower device of a VLAN, the peer of a veth (0: none).
	ParentIndex int
	// VLANID is the VLAN ID of a "vlan" link (IFLA_VLAN_ID; 0 otherwise).
	VLANID uint16
	// VLANProtocol is the tag protocol (TPID) of a "vlan" link (IFLA_VLAN_PROTOCOL):
	// VLAN8021Q or VLAN8021AD; 0 for other links. Kernels that do not report it (before
	// Linux 3.10) have 802.1Q links only, which is what it says for them.
	VLANProtocol uint16
	// Promiscuity counts the reasons the link is in promiscuous mode (IFLA_PROMISCUITY):
	// requests, and the kernel's own fallback for unicast addresses a device without a
	// unicast filter must accept (a macvlan on it, a packet socket's PACKET_MR_UNICAST).
	Promiscuity uint32
	// OperState is the RFC 2863 operational state (IFLA_OPERSTATE): OperUp once the
	// link carries traffic. The kernel updates it asynchronously after a change (link
	// watch), and reports OperUnknown for devices that do not track it, such as TUN.
	OperState uint8
}

// VLAN tag protocols (TPIDs) of "vlan" links (ETH_P_8021Q, ETH_P_8021AD in
// include/uapi/linux/if_ether.h).
const (
	VLAN8021Q  uint16 = 0x8100 // IEEE 802.1Q customer tag (C-TAG)
	VLAN8021AD uint16 = 0x88a8 // IEEE 802.1ad service tag (S-TAG), the outer tag of QinQ
)

// Operational states (IF_OPER_* in include/uapi/linux/if.h).
const (
	OperUnknown        = 0
	OperDown           = 2
	OperLowerLayerDown = 3
	OperUp             = 6
)

// Addr is an interface address. Local holds the address and its prefix length. Peer is
// valid for a point-to-point address, whose other end is Peer (the kernel's IFA_ADDRESS
// differs from IFA_LOCAL); it is the zero Addr otherwise.
type Addr struct {
	Local netip.Prefix
	Peer  netip.Addr
}

// Route is a unicast route.
type Route struct {
	// Dst is the destination prefix (masked when sent to the kernel).
	Dst netip.Prefix
	// Dev is the output interface index (RTA_OIF); 0 lets the kernel find it from Gateway.
	Dev int
	// Src is the preferred source address (RTA_PREFSRC); the zero Addr for none.
	Src netip.Addr
	// Gateway is the next hop; the zero Addr for a route directly on the link.
	Gateway netip.Addr
	// Table is the routing table; 0 means the main table (254), which Routes reports as
	// 254.
	Table uint32
	// Metric is the route priority (RTA_PRIORITY); for IPv6 the kernel stores 0 as 1024.
	Metric uint32
	// MTU is the path MTU of the route (RTAX_MTU, locked, so that forwarded packets obey
	// it as well as local ones: larger ones get an ICMP "fragmentation needed" or
	// "packet too big", or are fragmented); 0 for the device's.
	MTU uint32
}

// errNotExist marks an errno as meaning "the object does not exist": it matches both the
// errno (ENODEV, ...) and os.ErrNotExist.
type errNotExist struct{ err error }

func (e errNotExist) Error() string        { return e.err.Error() }
func (e errNotExist) Unwrap() error        { return e.err }
func (e errNotExist) Is(target error) bool { return target == os.ErrNotExist }

// IsNotExist reports whether err says that a link does not exist (it wraps
// os.ErrNotExist).
func IsNotExist(err error) bool { return errors.Is(err, os.ErrNotExist) }

// errClosed is returned (wrapped) by the reads and writes of a closed Tun: it matches both
// net.ErrClosed and os.ErrClosed.
type errClosed struct{}

func (errClosed) Error() string { return "use of closed network device" }
func (errClosed) Is(target error) bool {
	return target == net.ErrClosed || target == os.ErrClosed
}

// ErrClosed is the error that reads and writes of a closed Tun wrap. It matches both
// net.ErrClosed and os.ErrClosed with errors.Is.
var ErrClosed error = errClosed{}
