package ppp

import (
	"context"
	"net/netip"
	"testing"
	"testing/synctest"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	events "github.com/probox/probox/control/event"
	"github.com/probox/probox/kernel"
	"github.com/probox/probox/kernel/kerneltest"
)

// TestOverKerneltest runs a server and a client engine on the recording fake data plane,
// over the channels of a real (fake) L2TP session, and diffs the LNS host's objects: the
// unit while the session is up, and nothing of the session's left once it has ended.
func TestOverKerneltest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := kerneltest.NewNetwork()
		lacDP := n.Dataplane("lac", netip.MustParseAddr("192.0.2.1"))
		lnsDP := n.Dataplane("lns", netip.MustParseAddr("192.0.2.2"))
		// The L2TP engine's part, by hand: a tunnel and a PPP session on each host.
		lt, err := lacDP.OpenTunnel(kernel.TunnelConfig{Version: 2, Peer: netip.MustParseAddrPort("192.0.2.2:1701"), TunnelID: 1})
		if err != nil {
			t.Fatal(err)
		}
		nt, err := lnsDP.OpenTunnel(kernel.TunnelConfig{Version: 2, Local: netip.MustParseAddrPort("192.0.2.2:1701"),
			Peer: lt.LocalAddr(), TunnelID: 2})
		if err != nil {
			t.Fatal(err)
		}
		must(t, lt.Establish(2, netip.MustParseAddrPort("192.0.2.2:1701")))
		must(t, nt.Establish(1, lt.LocalAddr()))
		ls, err := lt.EnsureSession(kernel.SessionConfig{SessionID: 10, PeerSessionID: 20, PWType: kernel.PWPPP})
		must(t, err)
		ns, err := nt.EnsureSession(kernel.SessionConfig{SessionID: 20, PeerSessionID: 10, PWType: kernel.PWPPP})
		must(t, err)
		lch, err := ls.Channel()
		must(t, err)
		nch, err := ns.Channel()
		must(t, err)

		cfg := testConfig(t)
		start := func(dp kernel.Dataplane) (*Engine, func()) {
			e, err := New(Config{Cfg: cfg}, Deps{Dataplane: dp, Registry: prometheus.NewRegistry(), Bus: events.NewBus(nil)})
			must(t, err)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { e.Run(ctx); close(done) }()
			return e, func() { cancel(); <-done }
		}
		srv, stopSrv := start(lnsDP)
		cli, stopCli := start(lacDP)
		hs, err := srv.Start(StartRequest{Channel: nch, Role: RoleServer, Carrier: CarrierL2TP, Profile: "v4only"})
		must(t, err)
		hc, err := cli.Start(StartRequest{Channel: lch, Role: RoleClient, Carrier: CarrierL2TP, Profile: "client-v4"})
		must(t, err)
		synctest.Wait()

		want := `channel l2tp 2/20 mtu 1462
session 2/20 peer 10 pw ppp cookie - peer_cookie - l2spec none seq send=false recv=false
tunnel 2 v2 udp 192.0.2.2:1701 -> 192.0.2.1:49152 peer_tunnel 1
unit ppp0 shared on l2tp 2/20 mtu 1462 ipv4 10.0.0.1 -> 10.0.0.2 ipv6 - routes -
`
		if diff := cmp.Diff(want, lnsDP.State()); diff != "" {
			t.Errorf("LNS state while up (-want +got):\n%s", diff)
		}
		wantLAC := `channel l2tp 1/10 mtu 1462
session 1/10 peer 20 pw ppp cookie - peer_cookie - l2spec none seq send=false recv=false
tunnel 1 v2 udp 192.0.2.1:49152 -> 192.0.2.2:1701 peer_tunnel 2
unit ppp0 dedicated on l2tp 1/10 mtu 1462 ipv4 10.0.0.2 -> 10.0.0.1 ipv6 - routes -
`
		if diff := cmp.Diff(wantLAC, lacDP.State()); diff != "" {
			t.Errorf("client state while up (-want +got):\n%s", diff)
		}

		hs.Stop("")
		<-hs.Done()
		<-hc.Done()
		// The sessions closed their units and channels; the L2TP objects are the
		// carrier's to remove.
		want = `session 2/20 peer 10 pw ppp cookie - peer_cookie - l2spec none seq send=false recv=false
tunnel 2 v2 udp 192.0.2.2:1701 -> 192.0.2.1:49152 peer_tunnel 1
`
		if diff := cmp.Diff(want, lnsDP.State()); diff != "" {
			t.Errorf("LNS state after the end (-want +got):\n%s", diff)
		}
		stopSrv()
		stopCli()
		must(t, nt.Close())
		must(t, lt.Close())
		if got := n.State(); got != "" {
			t.Errorf("left behind:\n%s", got)
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
