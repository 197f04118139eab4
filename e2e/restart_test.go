package e2e

import (
	"strconv"
	"testing"
	"time"

	"github.com/probox/probox/e2e/netns"
)

// TestKillRestart kills both ends of a running L2TP client ↔ LNS session, of a PPPoE
// client ↔ access concentrator session and of a static L2TPv3 Ethernet pseudowire with
// SIGKILL, as a crash would: nothing of theirs may stay behind (no kernel tunnel or
// session, ppp or pseudowire interface, PPPoL2TP or PPPoE socket, unix socket).
// Restarted with the same configuration (the control socket file of the dead process is
// still there), they bring everything up again without duplicates, and a clean stop
// leaves nothing either.
func TestKillRestart(t *testing.T) {
	b := netns.New(t)
	lnsNS, cliNS := b.NS("lns"), b.NS("cli")
	b.Link(lnsNS, "eth0", cliNS, "eth0")
	b.Link(lnsNS, "eth1", cliNS, "eth1")
	lnsNS.AddAddr("eth0", "192.0.2.1/24", "2001:db8::1/64")
	cliNS.AddAddr("eth0", "192.0.2.2/24", "2001:db8::2/64")

	// The LNS is also a PPPoE access concentrator on eth1, and the client dials it from
	// its eth1 as the same user.
	acConfig := "[pppoe.interface.eth1]\n[pppoe.service.internet]\nroute = \"local\"\n"
	pppoeClientConfig := "[pppoe.client.isp]\ninterface = \"eth1\"\nservice = \"internet\"\nppp_profile = \"client\"\n"
	// Each side also has a static Ethernet pseudowire to the other, on port 1702.
	static := func(local, peer string, id, peerID uint32, cookie, peerCookie, ifname string) string {
		return `
[tunnel_profile.pw]
version = 3
[session_profile.eth]
pw_type = "ethernet"
[tunnel.pw]
peer = "` + peer + `:1702"
local = "` + local + `:1702"
tunnel_profile = "pw"
static = true
tunnel_id = ` + strconv.FormatUint(uint64(id), 10) + `
peer_tunnel_id = ` + strconv.FormatUint(uint64(peerID), 10) + `
[tunnel.pw.session.s]
session_profile = "eth"
session_id = ` + strconv.FormatUint(uint64(id*10), 10) + `
peer_session_id = ` + strconv.FormatUint(uint64(peerID*10), 10) + `
cookie = "` + cookie + `"
peer_cookie = "` + peerCookie + `"
interface_name = "` + ifname + `"
`
	}
	lns := startDaemon(t, lnsNS, "lns", mergeTOML(lnsConfig, static("192.0.2.1", "192.0.2.2", 100, 200, "01020304", "05060708", "pwl")+acConfig),
		map[string]string{"secrets": "alice alice-secret\n"})
	cli := startDaemon(t, cliNS, "cli", mergeTOML(clientConfig("192.0.2.1", "2"), static("192.0.2.2", "192.0.2.1", 200, 100, "05060708", "01020304", "pwc")+pppoeClientConfig), nil)

	up := func(round string) {
		t.Helper()
		// Two PPP sessions, over L2TP and over PPPoE, each with an address from the pool.
		netns.WaitFor(t, 40*time.Second, func() bool { return pppCount(cliNS, "100.64.0.10", "100.64.0.20") == 2 }, round+": the client's two ppp addresses")
		cliNS.Ping(t, "100.64.0.1", 3)
		for _, s := range []struct {
			ns          *netns.NS
			iface, addr string
		}{{lnsNS, "pwl", "198.51.100.1/24"}, {cliNS, "pwc", "198.51.100.2/24"}} {
			netns.WaitFor(t, 30*time.Second, func() bool { return hasLink(s.ns, s.iface) }, round+": pseudowire interface "+s.iface)
			s.ns.AddAddr(s.iface, s.addr)
			s.ns.SetUp(s.iface)
		}
		netns.WaitFor(t, 20*time.Second, func() bool {
			_, err := cliNS.TryPing(t.Context(), "198.51.100.1", 1)
			return err == nil
		}, round+": a ping across the pseudowire")
		// One PPP session tunnel and one static tunnel on each side, no more.
		for _, d := range []*daemon{lns, cli} {
			if dataplane != "kernel" {
				break
			}
			netns.WaitFor(t, 10*time.Second, func() bool { return kernelTunnels(d.ns) == 2 }, round+": exactly 2 kernel L2TP tunnels in "+d.name)
		}
	}
	up("first start")

	lns.kill()
	cli.kill()
	assertClean(t, b, lnsNS, []*daemon{lns}, "eth0", "eth1")
	assertClean(t, b, cliNS, []*daemon{cli}, "eth0", "eth1")

	lns.start()
	cli.start()
	up("after kill -9 and restart")

	cli.stop()
	lns.stop()
	assertClean(t, b, cliNS, []*daemon{cli}, "eth0", "eth1")
	assertClean(t, b, lnsNS, []*daemon{lns}, "eth0", "eth1")
}
