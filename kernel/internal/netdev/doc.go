// Package netdev touches network devices for probox's data planes: links, addresses and
// routes through rtnetlink (written by hand on github.com/mdlayher/netlink, message layouts
// from include/uapi/linux/rtnetlink.h, if_link.h and if_addr.h), and TUN/TAP devices.
//
// A Handle is one rtnetlink socket in the network namespace of the thread that opened it:
//
//	h, err := netdev.Open()
//	if err != nil { ... }
//	defer h.Close()
//	t, err := netdev.OpenTun(h, netdev.TunConfig{Name: "probox%d", MTU: 1500})
//	if err != nil { ... }
//	defer t.Close() // the interface is gone when Close returns
//	err = h.AddAddr(t.Index(), netdev.Addr{
//		Local: netip.MustParsePrefix("10.0.0.1/32"),
//		Peer:  netip.MustParseAddr("10.0.0.2"),
//	})
//
// Changes are idempotent where the kernel allows it: adding an address that is present,
// replacing a route with itself, deleting an absent link, address or route all return nil.
// Errors are *kernel.OpError values wrapping the errno, so errors.Is(err, unix.EEXIST)
// works; a missing link also matches os.ErrNotExist (see IsNotExist).
//
// The message codecs (wire.go) do no I/O and are fuzzed; the Handle is tested against a
// message-level fake (nltest) and, when the test may create a network namespace, against
// the running kernel.
package netdev
