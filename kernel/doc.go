// Package kernel is the seam between probox's protocol engines and the system: the
// Dataplane interface through which engines create L2TP tunnels and sessions, PPP channels
// and units, PPPoE ports and LAC bridges, and the capability probe that decides which
// implementation runs.
//
// Implementations, chosen once at start (kernel.dataplane = auto | kernel | userspace):
//
//   - kernel/linux: the kernel's own data plane (generic netlink "l2tp", PPPoX sockets,
//     /dev/ppp), which probox only programs.
//   - kernel/userspace: the same objects built from UDP/IP sockets, TUN/TAP devices and
//     AF_PACKET, with probox moving the packets; it works on any Linux kernel.
//   - kernel/kerneltest: a recording fake for engine tests that renders the objects that
//     exist as sorted text lines.
//
// Only kernel/ and its subpackages touch netlink, ioctls, TUN devices or raw sockets.
// kernel/ contains no protocol state machine.
package kernel
