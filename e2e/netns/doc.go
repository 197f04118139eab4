// Package netns is the network-namespace test bed shared by probox's
// end-to-end tests (e2e/) and by other packages' root-only integration
// tests. It builds small topologies of network namespaces joined by veth
// pairs, bridges and VLANs, runs programs and in-process code inside them,
// and tears all of it down again, also when a test fails or is interrupted.
// Nothing it creates lives in the host's network namespace.
//
// # Gating
//
// The tests need Linux, iproute2's ip, ping (iputils) and the privilege to
// create namespaces (root or CAP_SYS_ADMIN+CAP_NET_ADMIN). New and Require
// find out by trying, once per process, and skip the test with a message
// saying why otherwise; they also skip under go test -short. RequireVLAN
// additionally skips on kernels without 802.1Q support, as on the
// development machines (the kernel VM, ../shared/vm/kernel-vm, has it).
//
// # Example
//
//	func TestTunnel(t *testing.T) {
//		b := netns.New(t) // skips unless root; cleanup registered
//		lac, lns := b.NS("lac"), b.NS("lns")
//		b.Link(lac, "eth0", lns, "eth0")
//		lac.AddAddr("eth0", "192.0.2.1/24", "2001:db8::1/64")
//		lns.AddAddr("eth0", "192.0.2.2/24", "2001:db8::2/64")
//		lac.Ping(t, "192.0.2.2", 3)
//
//		// A daemon: stopped (SIGTERM, then SIGKILL) at cleanup, its
//		// output logged if the test failed.
//		d := lns.Start(t, probox, "prol2tpd", "-config", cfg)
//		netns.WaitFor(t, 5*time.Second, func() bool {
//			return strings.Contains(d.Output(), "listening")
//		}, "prol2tpd to listen")
//
//		// In-process code: the socket is opened inside lac and stays there.
//		var c net.PacketConn
//		err := lac.Do(func() (err error) {
//			c, err = net.ListenPacket("udp4", "192.0.2.1:0")
//			return err
//		})
//		...
//		c.Close()
//		b.AssertNoLinks(lac, "eth0") // no TUN device left behind
//	}
//
// # Names
//
// Each process (test run) picks a random 4-character run ID and each Bed a
// number, giving the bed's prefix, e.g. "pbxk3f91". A namespace is named
// prefix + "-" + the name given to NS, e.g. "pbxk3f91-lac", so tests running
// in parallel, in one process or in several, never collide. Interfaces are
// named by the test (e.g. "eth0"); they live only inside the bed's
// namespaces, so equal names in different namespaces do not collide either.
//
// # Cleanup and leftovers
//
// New registers a t.Cleanup that, for each namespace, kills every process
// inside, deletes the links the bed created and removes the namespace, and
// then checks that the name is gone; processes started with NS.Start are
// stopped by their own cleanup first. A test that is interrupted (a -timeout
// panic, ^C, SIGKILL) runs no cleanup, so:
//
//   - processes started by Run and Start get SIGKILL when the test process
//     dies (PR_SET_PDEATHSIG);
//   - each run writes a marker MarkerDir/<run ID> holding its pid and the
//     process start time, before it creates any namespace; and New first
//     removes every namespace named Prefix+<run ID>... whose run is dead
//     (marker missing, pid gone, pid recycled, or zombie), killing the
//     processes inside. Namespaces of live runs (other packages' tests run
//     as parallel processes) are never touched.
//
// # Waiting
//
// Use WaitFor (polls every 50 ms) for asynchronous effects, never fixed
// sleeps. Proc.Wait and Proc.Stop take explicit timeouts.
//
// # Leak checks
//
// Bed.AssertNoLinks checks that a namespace holds no interface but the
// allowed ones (e.g. that a TUN device was closed), and CheckFDs that a test
// closed every file descriptor (socket, TUN, ...) it opened.
package netns
