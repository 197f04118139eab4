package kernel

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
)

// Dataplane is the one seam through which the engines touch the system. Its calls are
// declarative and idempotent: "make this exist with these parameters"; deleting something
// absent is not an error; every handle's Close is idempotent and releases everything the
// handle created (a tunnel's Close also removes its sessions).
//
// All methods are safe for concurrent use.
type Dataplane interface {
	// Name is "kernel", "userspace" or "fake".
	Name() string

	// Listen opens a socket where peers open new L2TP tunnels (an LNS's or server's port
	// 1701, or the L2TPv3 IP-encapsulation socket). It receives the control packets that
	// belong to no tunnel opened with OpenTunnel.
	Listen(cfg ListenConfig) (Listener, error)

	// OpenTunnel opens the transport of one L2TP tunnel: a socket bound to cfg.Local and
	// connected to cfg.Peer that carries the tunnel's control messages to the engine, and
	// whose data messages the data plane handles itself once the tunnel is established.
	OpenTunnel(cfg TunnelConfig) (Tunnel, error)

	// OpenPPPoE opens an access interface for PPPoE: discovery frames to and from the
	// engine, and session channels.
	OpenPPPoE(cfg PPPoEConfig) (PPPoEPort, error)

	// NewUnit creates the network interface that carries IP for the PPP channel ch. Until
	// the unit is configured with Unit.Set, no network-layer packet passes.
	NewUnit(ch Channel, cfg UnitConfig) (Unit, error)

	// Bridge joins two PPP channels so that every frame received on one is sent on the
	// other (LAC: a PPPoE session carried in an L2TP session). While bridged, neither
	// channel delivers frames to ReadFrame. Closing the bridge separates them again.
	Bridge(a, b Channel) (io.Closer, error)

	// Close releases every object the data plane created.
	Close() error
}

// Encap is an L2TP encapsulation.
type Encap uint8

// Encapsulations.
const (
	EncapUDP Encap = iota // RFC 2661 §8.1, RFC 3931 §4.1.2
	EncapIP               // L2TPv3 over IP, protocol 115, RFC 3931 §4.1.1
)

func (e Encap) String() string {
	if e == EncapIP {
		return "ip"
	}
	return "udp"
}

// ListenConfig says where to accept new tunnels.
type ListenConfig struct {
	Encap Encap
	// Addr is the local address; for EncapIP the port is ignored. An unspecified address
	// (0.0.0.0 or ::) accepts on every address, and Listener.ReadFrom then reports the local
	// address each packet arrived on.
	Addr netip.AddrPort
}

// Listener receives the first packets of tunnels that peers open.
type Listener interface {
	// ReadFrom reads the next control packet that belongs to no open tunnel into b. It
	// returns the packet's length, its source, and the local address it was sent to. For
	// EncapIP, b receives the L2TP control message without the 4-byte zero session ID.
	// After Close it returns net.ErrClosed.
	ReadFrom(b []byte) (n int, src netip.AddrPort, dst netip.Addr, err error)
	// WriteTo sends a control message from the listener's address (used to answer a
	// packet that will not get a tunnel, e.g. StopCCN to a refused peer).
	WriteTo(b []byte, dst netip.AddrPort) error
	// Addr is the bound local address.
	Addr() netip.AddrPort
	Close() error
}

// TunnelConfig describes one tunnel's transport.
type TunnelConfig struct {
	Version int // 2 or 3
	Encap   Encap
	// Local is the local address; the unspecified address with port 0 lets the system
	// choose by route. A tunnel accepted on a Listener uses the listener's port and the
	// address the peer's first packet arrived on.
	Local netip.AddrPort
	Peer  netip.AddrPort
	// TunnelID is our tunnel ID (L2TPv2, 16 bits) or control connection ID (L2TPv3).
	TunnelID uint32
	// UDPChecksums enables UDP checksums on data packets we send (IPv4; IPv6 always has
	// them).
	UDPChecksums bool
	// AnyPeerPort (UDP only) takes control messages from any port of Peer's address until
	// Establish: the initiator of a tunnel sends its SCCRQ to port 1701, and the responder
	// may answer from another port (RFC 2661 §8.1), which Establish then connects to.
	AnyPeerPort bool
}

// Tunnel is the transport of one L2TP tunnel.
type Tunnel interface {
	// ReadControl reads the next control message of this tunnel into b and returns where
	// it came from (for EncapIP with port 0). For EncapIP the 4-byte zero session ID is
	// removed. After Close it returns net.ErrClosed.
	ReadControl(b []byte) (int, netip.AddrPort, error)
	// WriteControl sends a control message to the peer (before Establish, TunnelConfig's
	// Peer). For EncapIP the data plane adds the zero session ID.
	WriteControl(b []byte) error
	// Establish completes the data-plane tunnel once the peer's tunnel ID is known (after
	// SCCRQ/SCCRP). peer may differ from TunnelConfig.Peer in its port when the peer
	// answered from another port (RFC 2661 §8.1). Sessions can be created only after
	// Establish. It is idempotent for identical arguments.
	Establish(peerTunnelID uint32, peer netip.AddrPort) error
	// EnsureSession makes the session described by cfg exist in this tunnel. Calling it
	// again with the same SessionID and identical parameters returns the same session;
	// different parameters are applied where the data plane can change them in place.
	EnsureSession(cfg SessionConfig) (Session, error)
	// DeleteSession removes a session; removing an absent one returns nil.
	DeleteSession(sessionID uint32) error
	// LocalAddr is the bound local address.
	LocalAddr() netip.AddrPort
	// Stats returns the tunnel's data counters (all its sessions together).
	Stats() Counters
	// Close removes the tunnel and its sessions and closes the socket.
	Close() error
}

// PWType is a pseudowire type.
type PWType uint8

// Pseudowire types.
const (
	PWPPP      PWType = iota // PPP (L2TPv2, and L2TPv3 PW type 0x0007)
	PWEthernet               // Ethernet (L2TPv3 PW type 0x0005)
)

func (p PWType) String() string {
	if p == PWEthernet {
		return "ethernet"
	}
	return "ppp"
}

// L2Spec is an L2TPv3 L2-Specific Sublayer type.
type L2Spec uint8

// L2-Specific Sublayer types (RFC 3931 §4.6, §5.4.4).
const (
	L2SpecNone    L2Spec = iota
	L2SpecDefault        // 4 bytes: S bit and a 24-bit sequence number
)

// SessionConfig describes one session's data plane.
type SessionConfig struct {
	SessionID     uint32 // ours (L2TPv2: 16 bits)
	PeerSessionID uint32
	PWType        PWType
	// Cookie is the cookie the peer puts on data packets it sends us (we check it);
	// PeerCookie is the one we put on data packets to the peer (RFC 3931 §4.1: 0, 4 or 8
	// bytes). L2TPv3 only.
	Cookie, PeerCookie []byte
	L2Spec             L2Spec
	SendSeq            bool // put sequence numbers on data we send
	RecvSeq            bool // require sequence numbers on data we receive (drop out of order)
	// IfName names the interface of an Ethernet pseudowire.
	IfName string
	// MTU of an Ethernet pseudowire's interface; 0 derives it from the tunnel.
	MTU int
}

// Session is one session's data plane.
type Session interface {
	// ID is our session ID.
	ID() uint32
	// Channel returns the PPP channel of a PPP pseudowire (the same one on every call);
	// for other pseudowire types it returns ErrNotPPP.
	Channel() (Channel, error)
	// Interface is the name of an Ethernet pseudowire's interface ("" for PPP).
	Interface() string
	// Stats returns the session's data counters.
	Stats() Counters
	// Close removes the session; it is DeleteSession by another name.
	Close() error
}

// ErrNotPPP is returned by Session.Channel for a session that does not carry PPP.
var ErrNotPPP = errors.New("kernel: session is not a PPP pseudowire")

// Channel is a PPP channel: the path of one PPP link's frames (over an L2TP session or a
// PPPoE session). The engine reads and writes the link's control frames on it (LCP,
// authentication, NCPs and anything that is not network-layer data for a configured
// unit).
type Channel interface {
	// ReadFrame reads the next control frame into b: the PPP protocol field (2 bytes,
	// uncompressed) and the information field, without HDLC address/control. Frames of
	// protocols that a unit passes (IPv4/IPv6 once configured) never arrive here. After
	// Close it returns net.ErrClosed.
	ReadFrame(b []byte) (int, error)
	// WriteFrame sends one frame (protocol field and information, as ReadFrame returns).
	// It does not keep b after it returns (callers reuse their buffers).
	WriteFrame(b []byte) error
	// MTU is the largest frame the carrier takes (PPPoE: interface MTU - 8, or the RFC 4638
	// PPP-Max-Payload; L2TP: path MTU minus the headers).
	MTU() int
	// Stats returns the channel's counters (all frames, data and control).
	Stats() Counters
	// Close detaches the channel; for a PPPoE channel it also ends the session's data path
	// (the engine sends PADT itself).
	Close() error
}

// UnitConfig describes a PPP unit (network interface).
type UnitConfig struct {
	// Shared puts the session on the data plane's shared server interface (userspace:
	// one TUN for all server sessions, peers routed to it); otherwise the unit is a
	// dedicated interface.
	Shared bool
	// Name is the dedicated interface's name, or a template with %d.
	Name string
	MTU  int
}

// Unit is a PPP unit: the network interface that carries a PPP link's IP traffic.
type Unit interface {
	// Name is the interface name.
	Name() string
	// Set makes the unit's network configuration be s: addresses, which network protocols
	// pass, and routes through it. It is idempotent.
	Set(s UnitState) error
	// Stats returns the unit's counters (IP packets passed in and out).
	Stats() Counters
	// Close removes the unit (a dedicated interface is deleted; a shared unit's routes and
	// address mapping are removed).
	Close() error
}

// UnitState is the network configuration of a unit.
type UnitState struct {
	MTU int
	// IPv4 passes IPv4 when Local and Peer are valid (IPCP opened).
	IPv4Local, IPv4Peer netip.Addr
	// IPv6 passes IPv6 when the link-local addresses are valid (IPv6CP opened).
	IPv6Local, IPv6Peer netip.Addr
	// Routes are extra prefixes routed through the unit (a client's default route).
	Routes []netip.Prefix
}

// PPPoEConfig describes an access interface.
type PPPoEConfig struct {
	Interface string
	// VLANs are the 802.1Q VLAN IDs to serve, single-tagged.
	VLANs []uint16
	// QinQ are the double-tagged VLANs to serve: an IEEE 802.1ad service tag (TPID
	// 0x88a8) and, inside it, an 802.1Q customer tag.
	QinQ []QinQ
	// Untagged serves untagged frames too; they are served anyway when VLANs and QinQ
	// are both empty.
	Untagged bool
}

// QinQ is a range of double-tagged VLANs: service tag Outer with each customer tag from
// InnerFirst to InnerLast.
type QinQ struct {
	Outer, InnerFirst, InnerLast uint16
}

// String renders r as "OUTER.INNER" or "OUTER.FIRST-LAST".
func (r QinQ) String() string {
	if r.InnerFirst == r.InnerLast {
		return fmt.Sprintf("%d.%d", r.Outer, r.InnerFirst)
	}
	return fmt.Sprintf("%d.%d-%d", r.Outer, r.InnerFirst, r.InnerLast)
}

// ErrVLAN is returned (wrapped) by OpenPPPoE for a VLAN ID outside 1-4094 or an empty
// QinQ range.
var ErrVLAN = errors.New("bad VLAN")

// Validate checks every VLAN ID of c: from 1 to 4094, and each QinQ range in order.
func (c PPPoEConfig) Validate() error {
	for _, v := range c.VLANs {
		if v == 0 || v > 4094 {
			return fmt.Errorf("%w: VLAN ID %d", ErrVLAN, v)
		}
	}
	for _, r := range c.QinQ {
		if r.Outer == 0 || r.Outer > 4094 || r.InnerFirst == 0 || r.InnerLast > 4094 || r.InnerFirst > r.InnerLast {
			return fmt.Errorf("%w: QinQ %s", ErrVLAN, r)
		}
	}
	return nil
}

// Serves reports whether a port opened with c takes frames with the tags of fi: a
// listed VLAN (fi.VLAN, single-tagged), a pair in a QinQ range (fi.OuterVLAN and
// fi.VLAN), or untagged when c says so or lists neither.
func (c PPPoEConfig) Serves(fi FrameInfo) bool {
	if fi.OuterVLAN != 0 {
		for _, r := range c.QinQ {
			if r.Outer == fi.OuterVLAN && fi.VLAN >= r.InnerFirst && fi.VLAN <= r.InnerLast {
				return true
			}
		}
		return false
	}
	if fi.VLAN == 0 {
		return c.Untagged || (len(c.VLANs) == 0 && len(c.QinQ) == 0)
	}
	return slices.Contains(c.VLANs, fi.VLAN)
}

// FrameInfo is the Ethernet envelope of a PPPoE frame.
type FrameInfo struct {
	// Src and Dst are the frame's MAC addresses. On a frame read they are as received.
	// On a frame sent (WriteDiscovery, and the peer given to OpenSession) Dst is the peer
	// and Src our address: nil (or HardwareAddr) for the interface's own, or an extra
	// address (see PPPoEPort).
	Src, Dst net.HardwareAddr
	// VLAN is the 802.1Q VLAN ID the frame came on (0: untagged); for QinQ, OuterVLAN is
	// the service tag.
	VLAN, OuterVLAN uint16
}

// PPPoEPort is an access interface opened for PPPoE.
//
// Extra addresses: a port can act for unicast MAC addresses other than the interface's
// own (a test rig or load generator that emulates many hosts from one interface). A
// discovery frame written with FrameInfo.Src set to such an address, and every frame of a
// session opened with it as the peer's Src, is sent from that address. From the first
// such use until the port closes, frames addressed to it are received as if it were the
// interface's: discovery frames by ReadDiscovery, session frames by the session opened
// with that Src (sessions are told apart by our address, the peer's, the VLAN tags and
// the session ID; RFC 2516 §4). To get those frames from the wire the port makes the
// interface accept the address (the Linux data planes add it to the interface's unicast
// address filter, which the kernel implements with promiscuous mode on interfaces that
// have no such filter, and which is undone when the port closes); objects a data plane
// creates for an extra address also live until the port closes. An Src that is not a
// unicast MAC address (6 bytes, group bit clear, not all zero) is refused.
type PPPoEPort interface {
	// HardwareAddr is the interface's MAC address.
	HardwareAddr() net.HardwareAddr
	// MTU is the interface's MTU.
	MTU() int
	// ReadDiscovery reads the next discovery frame (ethertype 0x8863) into b: the PPPoE
	// header and payload, without Ethernet and VLAN headers. Only frames to a group
	// address, the interface's address or an extra address in use are returned (a
	// promiscuous interface also sees other hosts' frames). After Close it returns
	// net.ErrClosed.
	ReadDiscovery(b []byte) (int, FrameInfo, error)
	// WriteDiscovery sends a discovery frame (PPPoE header and payload) to to.Dst on
	// VLAN to.VLAN, from to.Src (nil: the interface's address).
	WriteDiscovery(b []byte, to FrameInfo) error
	// OpenSession creates the channel of PPPoE session id with the peer (peer.Dst,
	// peer.VLAN) for our address peer.Src (nil: the interface's address).
	OpenSession(id uint16, peer FrameInfo, mtu int) (Channel, error)
	// SetVLANs changes the VLANs and QinQ pairs the port serves (cfg.Interface is not
	// used), as a configuration reload does, without disturbing the sessions on tags
	// still served. From then on frames on tags no longer served are not read; sessions
	// still open on them are the caller's to end (send their PADTs first: a frame to a
	// tag the port does not serve may be refused). A bad VLAN ID changes nothing.
	SetVLANs(cfg PPPoEConfig) error
	Close() error
}

// ErrSourceMAC is returned (wrapped) by PPPoEPort.WriteDiscovery and OpenSession for a
// FrameInfo.Src that is not a unicast MAC address.
var ErrSourceMAC = errors.New("kernel: PPPoE source address is not a unicast MAC address")

// IsUnicastMAC reports whether mac can be a frame's source address: 6 bytes, the group
// bit clear, and not all zero.
func IsUnicastMAC(mac net.HardwareAddr) bool {
	return len(mac) == 6 && mac[0]&1 == 0 && mac[0]|mac[1]|mac[2]|mac[3]|mac[4]|mac[5] != 0
}

// DropReason says why a data packet was dropped.
type DropReason uint8

// Drop reasons.
const (
	DropMalformed   DropReason = iota // header did not parse
	DropNoSession                     // no session with that ID
	DropCookie                        // L2TPv3 cookie mismatch
	DropSequence                      // out of order with sequencing required
	DropNoRoute                       // no session for the destination address (shared unit)
	DropNotPassing                    // protocol not enabled on the unit yet
	DropQueueFull                     // control frame queue full (engine too slow)
	DropTooBig                        // larger than the MTU
	DropWrite                         // write to the socket or device failed
	DropUnknownPeer                   // from an address that is not the tunnel's peer
	numDropReasons
)

var dropNames = [...]string{"malformed", "no_session", "cookie", "sequence", "no_route", "not_passing", "queue_full", "too_big", "write_error", "unknown_peer"}

func (d DropReason) String() string {
	if int(d) < len(dropNames) {
		return dropNames[d]
	}
	return fmt.Sprintf("drop-%d", uint8(d))
}

// DropReasons lists every DropReason, for metrics.
func DropReasons() []DropReason {
	r := make([]DropReason, numDropReasons)
	for i := range r {
		r[i] = DropReason(i)
	}
	return r
}

// Counters are the data counters of a data-plane object.
type Counters struct {
	RxPackets, RxBytes uint64
	TxPackets, TxBytes uint64
	Drops              [numDropReasons]uint64
}

// Dropped is the sum of all drops.
func (c Counters) Dropped() uint64 {
	var n uint64
	for _, d := range c.Drops {
		n += d
	}
	return n
}

// OpError is an error of a data-plane operation: the operation and the object it
// concerned, wrapping the OS error so that callers can use errors.Is(err, unix.EEXIST).
type OpError struct {
	Op     string // e.g. "create tunnel", "open /dev/ppp"
	Object string // e.g. "tunnel 12", "eth1"
	Err    error
}

func (e *OpError) Error() string {
	if e.Object == "" {
		return e.Op + ": " + e.Err.Error()
	}
	return e.Op + " " + e.Object + ": " + e.Err.Error()
}

func (e *OpError) Unwrap() error { return e.Err }

// WrapOp returns err as an *OpError for op and object, unless it is nil or already one.
func WrapOp(op, object string, err error) error {
	if err == nil {
		return nil
	}
	var oe *OpError
	if errors.As(err, &oe) {
		return err
	}
	return &OpError{Op: op, Object: object, Err: err}
}
