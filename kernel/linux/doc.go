// Package linux is the kernel implementation of kernel.Dataplane: probox only programs
// the Linux kernel's own L2TP, PPP and PPPoE data plane, and no data packet enters user
// space. It speaks the generic netlink family "l2tp" (github.com/mdlayher/genetlink),
// rtnetlink (kernel/internal/netdev), PPPoX sockets and /dev/ppp ioctls, without cgo:
// socket addresses are packed by hand, and every file descriptor is non-blocking on Go's
// poller, so that Close unblocks every reader.
//
// # Usage
//
//	dp, err := linux.New(linux.Config{Log: log, InterfaceGroup: 42, CleanupStale: true})
//	if err != nil { ... }
//	defer dp.Close()
//	t, err := dp.OpenTunnel(kernel.TunnelConfig{Version: 2, Local: local, Peer: peer, TunnelID: 7})
//	... control messages with t.ReadControl / t.WriteControl ...
//	t.Establish(peerTunnelID, peer)          // the kernel tunnel exists from here on
//	s, err := t.EnsureSession(kernel.SessionConfig{SessionID: 1, PeerSessionID: 9})
//	ch, _ := s.Channel()                      // LCP, authentication, NCPs
//	u, err := dp.NewUnit(ch, kernel.UnitConfig{})
//	u.Set(kernel.UnitState{IPv4Local: a, IPv4Peer: b}) // IPv4 passes from here on
//
// # Objects
//
// Tunnels: the data plane owns each tunnel's socket (UDP bound to the local address with
// SO_REUSEADDR and connected to the peer, or with TunnelConfig.AnyPeerPort bound to the
// route's source address and left unconnected until Establish; for L2TPv3 IP
// encapsulation an L2TP/IP socket bound with our control connection ID and connected).
// Establish (connecting the socket first where needed) passes it to the
// kernel (TUNNEL_CREATE with L2TP_ATTR_FD); the kernel then handles data messages and
// still passes control messages up to the socket, which ReadControl reads. With a
// managed tunnel the kernel takes addresses, ports and UDP checksums from the socket
// (TunnelConfig.UDPChecksums sets SO_NO_CHECK), so no address attributes are sent.
// Listen opens a UDP socket with IP_PKTINFO and SO_REUSEADDR (tunnel sockets bind the
// same port and, being connected, take their peers' packets), or an L2TP/IP socket bound
// with connection ID 0, which receives every control message addressed to connection 0.
//
// PPP sessions: an L2TPv2 session is created by connecting a PPPoL2TP socket to it (the
// kernel's pppol2tp_connect creates it; this works without CONFIG_L2TP_V3), then
// configured with SESSION_MODIFY (sequencing, LNS mode). An L2TPv3 session is created
// with SESSION_CREATE (cookies, L2-Specific Sublayer, sequencing), and the PPPoL2TP socket
// connected to it afterwards takes it over. PPPIOCGCHAN on the socket gives the channel,
// and /dev/ppp attached to it (PPPIOCATTCHAN) is where the engine's control frames are
// read and written. Closing the PPPoL2TP socket deletes the kernel session.
//
// Sequencing: SendSeq and RecvSeq map to L2TP_ATTR_SEND_SEQ and RECV_SEQ. LNS_MODE is
// set except for SendSeq without RecvSeq: in LNS mode the kernel keeps sending as
// configured, otherwise it follows the peer's S bit (RFC 2661 §5.4), which for that one
// combination loses no data where LNS mode would drop the peer's unsequenced packets.
//
// Ethernet pseudowires: SESSION_CREATE with PW_TYPE ETH and IFNAME; l2tp_eth creates the
// interface (SessionConfig.IfName, which may hold %d, or l2tpeth%d), which the data plane
// puts into the interface group, gives SessionConfig.MTU if set, and brings up.
//
// Channels: reading a channel's control frames takes two /dev/ppp files. Before a unit
// is connected the channel file gets every frame; afterwards ppp_generic gives it only
// the protocols ≥ 0xc000 (LCP, PAP, CHAP, ...), and the unit file gets the NCPs (IPCP,
// IPv6CP, CCP). One reader goroutine per file feeds one bounded queue that ReadFrame
// takes from; frames have the 2-byte protocol field and no HDLC address and control
// (pppol2tp strips and adds FF 03 itself). IP frames that reach the channel file (before
// a unit passes them) are dropped, as in the userspace data plane.
//
// Units: every unit is a dedicated pppN interface (PPPIOCNEWUNIT, then PPPIOCCONNECT of
// the channel), renamed to UnitConfig.Name when one is given (a %d template lets the
// kernel pick the number), in the interface group, with the MTU set and the link up. The
// kernel handles a pppN interface per session at BRAS scale, so UnitConfig.Shared is
// honoured by giving the session its own device. IPv4 and IPv6 start as NPMODE_DROP and
// pass (NPMODE_PASS) only once Set gives their addresses, i.e. after IPCP and IPv6CP.
// Closing the unit file removes the interface with its addresses and routes.
//
// PPPoE: discovery frames go through an AF_PACKET socket on the interface
// (kernel/internal/ethport), which also sees tagged frames, single (802.1Q) and double
// (QinQ: an 802.1ad service tag, TPID 0x88a8, around an 802.1Q customer tag); a port reads
// those of the VLANs and QinQ pairs it serves (kernel.PPPoEConfig.Serves). Sessions are
// kernel PPPoE sockets, which bind to a device: a session on a VLAN binds to the
// interface's 802.1Q subinterface "IF.VID", which the data plane creates at the first
// session on that VLAN (in the interface group) and deletes when the port closes; an
// existing subinterface of the operator's is used and left alone, and another link of
// that name is refused. A QinQ session binds to the 802.1Q subinterface of its customer
// tag, "IF.sOUTER.INNER", stacked on the 802.1ad subinterface of its service tag,
// "IF.sOUTER" (each tag moves a received frame one device up before pppoe_rcv sees it,
// and each device adds its tag when sending), made, reused and deleted the same way (the
// customer-tag subinterfaces before their service-tag one). Names too long for IFNAMSIZ
// become "pbx<ifindex>.VID", "pbx<ifindex>.sOUTER" and "q<ifindex>.OUTER.INNER", by the
// access interface's index, and if even that is too long the same numbers in base 36
// after a capital "P" or "Q". A session's MTU is its device's
// MTU - 8 (vlan devices take their lower device's MTU).
// A session from an extra MAC address (kernel.FrameInfo.Src: a load generator's emulated
// hosts) binds to a macvlan interface with that address, "pmMAC" ("pv..." on a VLAN,
// "q..." on a QinQ pair, the tags and address packed in base 36), on the device the
// session would bind to otherwise, made and deleted the same way, since a kernel PPPoE
// socket sends with its device's address; the packet socket adds each extra address to
// the interface's unicast filter.
//
// Bridges (LAC): PPPIOCBRIDGECHAN (Linux 5.11) joins a PPPoE channel and an L2TP channel
// in the kernel. New checks the kernel release and Bridge maps ENOTTY, so older kernels
// give ErrBridgeUnsupported rather than a silent failure.
//
// # Lifetimes and stale objects
//
// Kernel tunnels, sessions, PPPoE sessions, channels and units all live exactly as long as
// file descriptors of the process: a probox killed with SIGKILL leaves none of them (the
// tunnels and l2tpethN interfaces vanish shortly after, from a kernel workqueue). Only the
// VLAN subinterfaces (802.1Q and 802.1ad) and macvlan interfaces persist; New with
// Config.CleanupStale deletes the links of Config.InterfaceGroup of the kinds the data
// plane creates (see cleanup_linux.go).
//
// # Namespaces, errors, counters
//
// The data plane lives in the network namespace of the thread that called New; every
// socket, and the /dev/ppp ioctls that look channels and units up in the caller's
// namespace, are made on a thread in it, whichever goroutine calls. Errors are
// *kernel.OpError values wrapping the errno (errors.Is(err, unix.EEXIST) works). Tunnel
// and session counters come from TUNNEL_GET and SESSION_GET (L2TP_ATTR_STATS); unit
// counters from SIOCGPPPSTATS, whose 32-bit values are extended to 64 bits between
// readings.
package linux
