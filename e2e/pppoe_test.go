package e2e

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/probox/probox/e2e/netns"
)

// subscriberConfig is a probox PPPoE client with one session per user on eth0.
func subscriberConfig(users ...string) string {
	var b strings.Builder
	b.WriteString("[system]\nl2tp_listen = []\n")
	for i, u := range users {
		name := strings.NewReplacer("@", "-", ".", "-").Replace(u)
		b.WriteString("[pppoe.client." + name + "]\ninterface = \"eth0\"\nservice = \"internet\"\nppp_profile = \"" + name + "\"\n")
		b.WriteString("[ppp_profile." + name + "]\nusername = \"" + u + "\"\npassword = \"" + u + "-secret\"\nauth = []\nunit = \"dedicated\"\n")
		b.WriteString("interface_name = \"ppp" + string(rune('0'+i)) + "\"\n")
	}
	return b.String()
}

// TestPPPoELocal: a probox PPPoE client against a probox access concentrator that
// terminates PPP locally: the client's ppp0 gets an address from the AC's pool and pings
// the AC; proac_manage disconnect ends the session, the client redials.
func TestPPPoELocal(t *testing.T) {
	b := netns.New(t)
	subNS, brasNS := b.NS("sub"), b.NS("bras")
	b.Link(subNS, "eth0", brasNS, "eth0")
	stopCapture := capture(t, brasNS, "eth0", "pppoed or pppoes")

	bras := startDaemon(t, brasNS, "bras", `
[system]
l2tp_listen = []
[pppoe]
ac_name = "bras1"
[pppoe.interface.eth0]
[pppoe.service.internet]
route = "local"
ppp_profile = "subs"
[ppp_profile.subs]
auth = ["chap-md5", "pap"]
local_address = "100.64.0.1"
dns = ["192.0.2.53"]
[ippool.default]
ranges = ["100.64.0.10-100.64.0.200"]
`, map[string]string{"secrets": "alice alice-secret\n"})
	sub := startDaemon(t, subNS, "sub", subscriberConfig("alice"), nil)

	netns.WaitFor(t, 30*time.Second, func() bool { return strings.HasPrefix(addrOf(subNS, "ppp0"), "100.64.0.") }, "the subscriber's ppp0 address from the AC pool")
	subNS.Ping(t, "100.64.0.1", 3)

	info := bras.cli("proac_info", "sessions")
	if !strings.Contains(info, "alice") || !strings.Contains(info, "internet") {
		t.Errorf("proac_info sessions:\n%s", info)
	}
	m := bras.metrics()
	for _, want := range []string{`probox_pppoe_sessions{route="local"} 1`, `probox_ppp_sessions{phase="running"} 1`} {
		if !strings.Contains(m, want) {
			t.Errorf("AC /metrics lacks %q", want)
		}
	}

	// The AC ends the session (PADT); the client dials again and comes back up.
	id := firstField(t, info, "session")
	first := addrOf(subNS, "ppp0")
	bras.cli("proac_manage", "disconnect", id)
	netns.WaitFor(t, 30*time.Second, func() bool {
		out, _ := bras.tryCLI("proac_info", "sessions")
		return !strings.Contains(out, id+" ")
	}, "the AC session to go away")
	netns.WaitFor(t, 40*time.Second, func() bool { return strings.HasPrefix(addrOf(subNS, "ppp0"), "100.64.0.") }, "the client to redial")
	t.Logf("first address %s, after redial %s", first, addrOf(subNS, "ppp0"))
	subNS.Ping(t, "100.64.0.1", 2)

	sub.stop()
	bras.stop()
	assertClean(t, b, subNS, []*daemon{sub}, "eth0")
	assertClean(t, b, brasNS, []*daemon{bras}, "eth0")
	sum, verbose := stopCapture()
	checkDecode(t, sum, verbose, "PADI", "PADO", "PADR", "PADS", "PADT", "LCP", "CHAP", "IPCP")
}

// firstField returns the first token of a table's data rows (the row after the header
// whose first column is named header-ish), failing when there is none.
func firstField(t *testing.T, table, what string) string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(table), "\n")
	for _, l := range lines[1:] {
		if f := strings.Fields(l); len(f) > 0 {
			return f[0]
		}
	}
	t.Fatalf("no %s in:\n%s", what, table)
	return ""
}

// lnsFor is a probox LNS for one realm: its own pool, and the realm's user.
func lnsFor(addr, pool, local string) string {
	return `
[system]
l2tp_listen = ["` + addr + `:1701"]
[ppp_profile.default]
auth = ["chap-md5"]
local_address = "` + local + `"
[ippool.default]
ranges = ["` + pool + `"]
`
}

// TestPPPoEToLNS: subscribers' PPPoE sessions carried by a probox AC/LAC into L2TPv2
// tunnels, the LNS chosen by the username's realm: each session gets its address from its
// LNS's pool and pings its LNS; the primary LNS of realm b is unreachable and its backup
// serves.
func TestPPPoEToLNS(t *testing.T) {
	b := netns.New(t)
	subNS, brasNS, lnsA, lnsB := b.NS("sub"), b.NS("bras"), b.NS("lnsa"), b.NS("lnsb")
	b.Link(subNS, "eth0", brasNS, "eth0")
	b.Link(brasNS, "eth1", lnsA, "eth0")
	b.Link(brasNS, "eth2", lnsB, "eth0")
	brasNS.AddAddr("eth1", "192.0.2.1/24")
	lnsA.AddAddr("eth0", "192.0.2.2/24")
	brasNS.AddAddr("eth2", "198.51.100.1/24")
	lnsB.AddAddr("eth0", "198.51.100.2/24")
	stopCapture := capture(t, brasNS, "eth1", "udp port 1701")

	la := startDaemon(t, lnsA, "lnsa", lnsFor("192.0.2.2", "100.64.1.10-100.64.1.100", "100.64.1.1"), map[string]string{"secrets": "alice@isp-a.example alice@isp-a.example-secret\n"})
	lb := startDaemon(t, lnsB, "lnsb", lnsFor("198.51.100.2", "100.64.2.10-100.64.2.100", "100.64.2.1"), map[string]string{"secrets": "bob@isp-b.example bob@isp-b.example-secret\n"})
	bras := startDaemon(t, brasNS, "bras", `
[system]
l2tp_listen = []
[pppoe]
ac_name = "bras1"
lac_timeout = "2s"
[pppoe.interface.eth0]
[pppoe.service.internet]
route = "realm"
ppp_profile = "lac"
[pppoe.route.a]
realm = "isp-a.example"
tunnel = "lns-a"
[pppoe.route.b]
realm = "isp-b.example"
tunnel = "lns-b-down"
backup_tunnel = "lns-b"
[ppp_profile.lac]
auth = ["chap-md5"]
[tunnel.lns-a]
peer = "192.0.2.2"
[tunnel.lns-b-down]
peer = "198.51.100.99"
[tunnel.lns-b]
peer = "198.51.100.2"
`, nil)
	sub := startDaemon(t, subNS, "sub", subscriberConfig("alice@isp-a.example", "bob@isp-b.example"), nil)

	netns.WaitFor(t, 40*time.Second, func() bool { return strings.HasPrefix(addrOf(subNS, "ppp0"), "100.64.1.") }, "alice's ppp0 address from LNS a")
	netns.WaitFor(t, 40*time.Second, func() bool { return strings.HasPrefix(addrOf(subNS, "ppp1"), "100.64.2.") }, "bob's ppp1 address from LNS b (backup)")
	subNS.Ping(t, "100.64.1.1", 3)
	subNS.Ping(t, "100.64.2.1", 3)

	tunnels := bras.cli("prol2tp", "show", "tunnels")
	for _, want := range []string{"192.0.2.2", "198.51.100.2"} {
		if !strings.Contains(tunnels, want) {
			t.Errorf("prol2tp show tunnels on the LAC lacks %s:\n%s", want, tunnels)
		}
	}
	if out := lb.cli("propppctl", "list"); !strings.Contains(out, "bob@isp-b.example") {
		t.Errorf("LNS b does not hold bob's session:\n%s", out)
	}
	if m := bras.metrics(); !strings.Contains(m, `probox_pppoe_sessions{route="lac"} 2`) {
		t.Errorf("LAC /metrics: pppoe sessions by route lac is not 2")
	}

	sub.stop()
	bras.stop()
	la.stop()
	lb.stop()
	sum, verbose := stopCapture()
	checkDecode(t, sum, verbose, "SCCRQ", "ICRQ", "ICCN", "CDN")
	assertClean(t, b, subNS, []*daemon{sub}, "eth0")
	assertClean(t, b, brasNS, []*daemon{bras}, "eth0", "eth1", "eth2")
	assertClean(t, b, lnsA, []*daemon{la}, "eth0")
	assertClean(t, b, lnsB, []*daemon{lb}, "eth0")
	if !strings.Contains(verbose, "Proxy Authen") && !strings.Contains(verbose, "Proxy Authentication") {
		t.Errorf("the LAC's ICCN carries no proxy authentication AVPs")
	}
}

// TestDemoScript runs the README's `make demo` script (scripts/demo.sh) with the test's
// binary, so the quickstart cannot rot.
func TestDemoScript(t *testing.T) {
	netns.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "../scripts/demo.sh")
	cmd.Env = append(os.Environ(), "PROBOX_BIN="+bin("probox"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo.sh: %v\n%s", err, out)
	}
	for _, want := range []string{"inet 100.64.0.", "3 packets transmitted, 3 received", "established", `probox_pppoe_sessions{route="lac"} 1`, "lns   probox stopped", "done."} {
		if !strings.Contains(string(out), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}

// TestPPPoEPathMTU: a host behind the AC sends to a subscriber packets larger than the
// session's MTU (1492, PPPoE). With DF set it gets an ICMP "fragmentation needed" with
// the session's MTU (RFC 1191), so path MTU discovery works; without DF the packet is
// fragmented and the echo comes back. The userspace data plane's shared unit has one
// MTU for every session: the route to each subscriber carries the session's.
func TestPPPoEPathMTU(t *testing.T) {
	b := netns.New(t)
	subNS, brasNS, netNS := b.NS("sub"), b.NS("bras"), b.NS("net")
	b.Link(subNS, "eth0", brasNS, "eth0")
	b.Link(netNS, "eth0", brasNS, "eth1")
	brasNS.AddAddr("eth1", "192.0.2.1/24")
	netNS.AddAddr("eth0", "192.0.2.2/24")
	netNS.Route("100.64.0.0/24", "via", "192.0.2.1")
	brasNS.SetForwarding(true)
	localAC(t, brasNS, "")
	sub := startDaemon(t, subNS, "sub", subscriberConfig("alice")+"[ppp_profile.default]\nlcp_echo_interval = \"0s\"\n", nil)
	netns.WaitFor(t, 30*time.Second, func() bool { return strings.HasPrefix(addrOf(subNS, "ppp0"), "100.64.0.") }, "the subscriber's address")
	subNS.Route("192.0.2.0/24", "dev", "ppp0")
	peer := addrOf(subNS, "ppp0")
	ctx := t.Context()
	netNS.Ping(t, peer, 1)

	out, err := netNS.Run(ctx, "ping", "-c", "1", "-W", "5", "-M", "do", "-s", "1472", peer)
	if err == nil || !strings.Contains(out, "mtu = 1492") {
		t.Errorf("a 1500-byte packet with DF to the subscriber: want ICMP fragmentation needed with mtu 1492, got %v:\n%s", err, out)
	}
	if out, err := netNS.Run(ctx, "ping", "-c", "2", "-W", "5", "-M", "dont", "-s", "1600", peer); err != nil {
		t.Errorf("a 1628-byte packet without DF to the subscriber: %v\n%s", err, out)
	}
	if out, err := netNS.Run(ctx, "ping", "-c", "1", "-W", "5", "-M", "do", "-s", "1464", peer); err != nil {
		t.Errorf("a 1492-byte packet with DF to the subscriber: %v\n%s", err, out)
	}
	sub.stop()
}
