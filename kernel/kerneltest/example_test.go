package kerneltest_test

import (
	"fmt"
	"net/netip"

	"github.com/probox/probox/kernel"
	"github.com/probox/probox/kernel/kerneltest"
)

// Two hosts on one network: a LAC's tunnel reaches the LNS's listener, and each host's
// State shows what exists on it.
func ExampleNetwork() {
	n := kerneltest.NewNetwork()
	lac := n.Dataplane("lac", netip.MustParseAddr("192.0.2.1"))
	lns := n.Dataplane("lns", netip.MustParseAddr("192.0.2.2"))

	l, _ := lns.Listen(kernel.ListenConfig{Addr: netip.MustParseAddrPort("0.0.0.0:1701")})
	tn, _ := lac.OpenTunnel(kernel.TunnelConfig{Version: 2, Peer: netip.MustParseAddrPort("192.0.2.2:1701"), TunnelID: 7})
	_ = tn.WriteControl([]byte("SCCRQ"))

	b := make([]byte, 100)
	k, src, dst, _ := l.ReadFrom(b)
	fmt.Printf("%s from %v to %v\n", b[:k], src, dst)
	fmt.Print(n.State())
	// Output:
	// SCCRQ from 192.0.2.1:49152 to 192.0.2.2
	// lac: tunnel 7 v2 udp 192.0.2.1:49152 -> 192.0.2.2:1701 peer_tunnel -
	// lns: listener udp 0.0.0.0:1701
}
