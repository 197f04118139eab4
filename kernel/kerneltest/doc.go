// Package kerneltest is the recording fake of kernel.Dataplane that the L2TP, PPP and
// PPPoE engine tests run on. It is pure Go: no sockets, no OS, no timers of its own and
// no goroutines, so engines built on it run inside testing/synctest bubbles.
//
// # Hosts and the network
//
// A Network is an in-memory IP network plus Ethernet segments. Network.Dataplane makes a
// Fake, one simulated host owning some addresses; each engine under test gets its own
// Fake as its kernel.Dataplane. Packets move synchronously: a write returns once the
// packet is queued at its receiver. UDP is demultiplexed like Linux UDP (the tunnel whose
// local and peer address and port match exactly, else a listener on the port), L2TP over
// IP like the kernel's l2tp_ip (control messages by the Control Connection ID in their
// header, ID 0 to the listener; data by session ID). Data messages carry a session's
// frames to the session with the peer session ID on the peer host, checking L2TPv3
// cookies; sequence numbers and the L2-Specific Sublayer are recorded and rendered, not
// simulated. Network.Ethernet makes a segment joining PPPoE interfaces of several Fakes
// (Segment.Join): discovery frames are broadcast or unicast by MAC address and VLAN,
// session frames go to the channel with that session ID and peer MAC. Interface n of
// host h has MAC 02:00:00:00:h:n (see Fake.HardwareAddr); a port also receives for the
// extra addresses it has sent from (kernel.PPPoEPort), as a load generator's would.
//
// Fault injection: SetLoss, SetDuplicate and SetDelay take a function of the Packet;
// Hold keeps matching packets until the test calls Release (in any order) or Drop.
// Counters counts what happened, including packets nobody took (Unreachable).
//
// # Desired state
//
// Every object an engine creates is recorded, and Fake.State renders what exists as
// sorted lines (the formats are documented on State). Closing an object removes its
// line, closing a tunnel removes its sessions and their channels, and a unit stays until
// it is closed itself, so an engine test that diffs State after each step sees leaked
// objects. Fake.Calls is the ordered log of calls, for the rare test that needs order;
// Fake.FailNext makes a chosen call fail.
//
// # Frames
//
// A channel is "wired" to its carrier by default: frames written on an L2TP session's
// channel arrive on the channel of the peer session on the peer host, and a PPPoE
// channel's frames cross the Ethernet segment to the peer port. A LAC engine and an LNS
// engine in one test thus exchange PPP frames end to end. Fake.ChannelPeer "taps" a
// channel instead: the test reads what the channel transmits and injects what it
// receives. Fake.UnitPeer is the IP stack behind a unit and Fake.InterfacePeer the host
// side of an Ethernet pseudowire. A tap can be asked for before the engine makes the
// channel. As in the real data planes, IPv4 and IPv6 frames on a channel with a unit go
// to the unit (counted, or dropped as kernel.DropNotPassing until Unit.Set enables the
// protocol), never to ReadFrame; a bridged channel forwards everything it receives to
// the other channel of the bridge.
//
// To test one engine alone, make a second Fake and use its objects as the far end: its
// Listener or Tunnel is a raw L2TP socket, its PPPoEPort a raw PPPoE station.
//
// # synctest
//
// Readers block only on channels, so a goroutine waiting in ReadControl, ReadFrame,
// ReadDiscovery or End.Read is durably blocked in a testing/synctest bubble, provided the
// object was created inside the bubble (make the Network and start the engines inside
// synctest.Test). SetDelay uses time.AfterFunc, which runs on the bubble's fake clock.
//
// # Example
//
// An engine test wires a LAC and an LNS over one network and diffs their state:
//
//	synctest.Test(t, func(t *testing.T) {
//		n := kerneltest.NewNetwork()
//		lacDP := n.Dataplane("lac", netip.MustParseAddr("192.0.2.1"))
//		lnsDP := n.Dataplane("lns", netip.MustParseAddr("192.0.2.2"))
//		lac := l2tp.New(lacCfg, lacDP, ...) // engines take a kernel.Dataplane
//		lns := l2tp.New(lnsCfg, lnsDP, ...)
//		go lac.Run(ctx)
//		go lns.Run(ctx)
//		// ... ask the LAC to open a session ...
//		synctest.Wait() // every goroutine is blocked: the exchange is over
//		want := `channel l2tp 1/1 mtu 1462
//	listener udp 0.0.0.0:1701
//	session 1/1 peer 1 pw ppp cookie - peer_cookie - l2spec none seq send=false recv=false
//	tunnel 1 v2 udp 192.0.2.2:1701 -> 192.0.2.1:49152 peer_tunnel 1
//	`
//		if diff := cmp.Diff(want, lnsDP.State()); diff != "" {
//			t.Errorf("LNS state (-want +got):\n%s", diff)
//		}
//		n.SetLoss(func(p kerneltest.Packet) bool { return p.Kind == kerneltest.L2TPControl })
//		time.Sleep(10 * time.Second) // retransmissions, on the bubble's clock
//		// ... cancel, then check that State is "" on both hosts ...
//	})
package kerneltest
