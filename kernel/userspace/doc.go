// Package userspace is the userspace implementation of kernel.Dataplane: L2TP tunnels,
// sessions, PPP channels and units, Ethernet pseudowires, PPPoE ports and LAC bridges built
// from UDP and raw IP sockets, TUN/TAP devices and AF_PACKET sockets, with probox moving
// every data packet itself. It works on any Linux kernel, also one without the L2TP, PPP
// and PPPoE modules.
//
// # Usage
//
//	dp, err := userspace.New(userspace.Config{Log: log})
//	if err != nil { ... }
//	defer dp.Close()
//	t, err := dp.OpenTunnel(kernel.TunnelConfig{Version: 2, Local: local, Peer: peer, TunnelID: 7})
//	...
//	t.Establish(peerTunnelID, peer)
//	s, err := t.EnsureSession(kernel.SessionConfig{SessionID: 1, PeerSessionID: 9})
//	ch, _ := s.Channel()
//	u, err := dp.NewUnit(ch, kernel.UnitConfig{Shared: true})
//	u.Set(kernel.UnitState{IPv4Local: a, IPv4Peer: b})
//
// # Data paths
//
// Every socket and device has exactly one reader goroutine (a UDP tunnel's socket, the
// shared raw IP socket of each address family for L2TPv3 IP encapsulation, a PPPoE port's
// AF_PACKET socket, a TUN or TAP device); a UDP listening socket is read by the engine's
// own ReadFrom calls. A reader reads into a preallocated buffer with headroom in front of
// the packet, so that every header a packet needs on its way out (L2TP, PPP
// address/control, PPPoE) is written in place in front of the payload and the packet is
// sent without an allocation, and without a copy except into the AF_PACKET socket's frame.
// Sockets are read in batches (recvmmsg). Every Close waits for the goroutines it ends.
//
//	UDP/IP socket -> L2TP data header -> session -> PPP channel -> unit (TUN)
//	                                             -> bridged channel (PPPoE)
//	                                  -> session -> Ethernet pseudowire (TAP)
//	AF_PACKET     -> PPPoE session    -> PPP channel -> unit (TUN) or bridged channel
//	TUN           -> unit -> PPP channel -> L2TP session or PPPoE session
//
// A PPP channel passes IPv4 (0x0021) and IPv6 (0x0057) frames to its unit once the unit
// is configured for them (Unit.Set with valid addresses) and drops them before; every
// other protocol (LCP, authentication, NCPs, CCP, anything) goes to the channel's bounded
// control queue, read by the engine with ReadFrame. A full queue drops frames
// (kernel.DropQueueFull) rather than stall the data path.
//
// A PPPoE port demultiplexes session frames by (VLAN tags, our MAC address, the peer's,
// session ID). Our address is the interface's or an extra one that a client uses
// (kernel.FrameInfo.Src, for a load generator's emulated hosts): the first use of an
// extra address adds it to the interface's unicast filter through the port's AF_PACKET
// socket (PACKET_MR_UNICAST; the kernel falls back to promiscuous mode on an interface
// without one), and closing the socket removes it again.
//
// Lookups on the hot path (session by ID, channel by PPPoE key, session by destination
// address on the shared unit) read immutable maps through atomic pointers; writers copy
// the map under the owning object's mutex.
//
// # Shared unit
//
// Server sessions (UnitConfig.Shared) all use one TUN device, Config.SharedUnit (default
// "probox0"), created at first use and removed by Dataplane.Close. Each session's peer
// address is routed to it (/32 for IPv4, /128 for IPv6) and its reader maps a packet's
// destination address back to the session. IPv6 is mapped by the peer's link-local
// address only, which is what IPv6CP gives; global addresses (SLAAC over the link,
// DHCPv6-PD) need Router Advertisements, which do not exist yet, and must for now be
// given as UnitState.Routes. The shared device has one MTU (Config.SharedMTU); the routes
// to a session with a smaller MTU carry the session's, locked, so that the kernel answers
// a larger packet with an ICMP "fragmentation needed" or "packet too big", or fragments
// it, for forwarded packets as for local ones (no path MTU black hole); what still comes
// larger than a session's MTU is dropped with kernel.DropTooBig.
//
// # Locks
//
// Lock order: tunnel.mu, then ipDemux.mu; unit.mu, then sharedDev.mu. Dataplane.mu
// (the registry of open objects) is never held together with another lock of the package;
// Dataplane.Close closes the objects after releasing it. No callback runs under a lock;
// only the system calls that create and configure sockets and devices do.
package userspace
