package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/probox/probox/e2e/netns"
)

// The interoperability tests run probox against real peers from Debian packages: xl2tpd
// and pppd (L2TPv2 LAC and LNS), pppd with the rp-pppoe.so plugin and pppoe-server
// (PPPoE), and the kernel's own static L2TPv3 sessions made with iproute2 (ip l2tp). The
// peers and the kernel modules they need exist only in the kernel VM
// (../shared/vm/kernel-vm), so the tests skip elsewhere; `make test-kernel` runs them.
// ../shared/vm/selftest.sh is the worked example of every peer.

// requireInterop skips the test outside the kernel VM or when one of the peer programs
// is missing.
func requireInterop(t *testing.T, programs ...string) {
	t.Helper()
	if !inVM() {
		t.Skip("interoperability test: needs the kernel VM with xl2tpd, pppd, rp-pppoe and ip l2tp (KERNEL_VM=1): run `make test-kernel`")
	}
	for _, p := range programs {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("interoperability test: %s is not installed in this guest", p)
		}
	}
}

// requireEngine skips the test when daemon d does not run the named engine (an engine
// that is not wired into the daemon yet).
func requireEngine(t *testing.T, d *daemon, name string) {
	t.Helper()
	if !d.hasEngine(name) {
		t.Skipf("%s engine not wired yet: `prol2tp show system -j` on %s lists no %q engine", strings.ToUpper(name), d.name, name)
	}
}

// setPPPSecrets replaces /etc/ppp/NAME (pppd reads its secrets only from there) for the
// test and restores it afterwards. It is only called inside the kernel VM, whose root is
// thrown away after the run.
func setPPPSecrets(t *testing.T, name, content string) {
	t.Helper()
	path := filepath.Join("/etc/ppp", name)
	old, err := os.ReadFile(path)
	existed := err == nil
	if err := os.MkdirAll("/etc/ppp", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if existed {
			os.WriteFile(path, old, 0o600)
		} else {
			os.Remove(path)
		}
	})
}

// writeFiles writes files into a fresh directory and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(strings.ReplaceAll(content, "{{DIR}}", dir)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// dumpOnFailure logs the end of the given log files if the test failed (pppd writes its
// log to a file of its own).
func dumpOnFailure(t *testing.T, paths ...string) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, p := range paths {
			if b, err := os.ReadFile(p); err == nil {
				t.Logf("%s:\n%s", p, tail(string(b), 8<<10))
			}
		}
	})
}

func tail(s string, n int) string {
	if len(s) > n {
		return "...\n" + s[len(s)-n:]
	}
	return s
}

// pppAddrs returns the ppp interfaces in ns with an IPv4 address in the given range
// (inclusive), as interface name and address.
func pppAddrs(ns *netns.NS, first, last string) [][2]string {
	out, err := ns.Run(context.Background(), "ip", "-4", "-o", "addr", "show")
	if err != nil {
		return nil
	}
	lo, hi := netip.MustParseAddr(first), netip.MustParseAddr(last)
	var found [][2]string
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) < 4 || !strings.HasPrefix(f[1], "ppp") || f[2] != "inet" {
			continue
		}
		a, err := netip.ParseAddr(strings.Split(f[3], "/")[0])
		if err == nil && a.Compare(lo) >= 0 && a.Compare(hi) <= 0 {
			found = append(found, [2]string{f[1], a.String()})
		}
	}
	return found
}

// pppAddr returns the interface and address of the first of pppAddrs, or "" if there is
// none.
func pppAddr(ns *netns.NS, first, last string) (iface, addr string) {
	if found := pppAddrs(ns, first, last); len(found) > 0 {
		return found[0][0], found[0][1]
	}
	return "", ""
}

// pppCount counts pppAddrs.
func pppCount(ns *netns.NS, first, last string) int { return len(pppAddrs(ns, first, last)) }

// kernelTunnels counts the kernel L2TP tunnels in ns (ip l2tp show tunnel).
func kernelTunnels(ns *netns.NS) int {
	out, _ := ns.Run(context.Background(), "ip", "l2tp", "show", "tunnel")
	return strings.Count(out, "Tunnel ")
}

// checkKernelDataplane checks, when the daemons run the kernel data plane, that the
// session's data really goes through the kernel: ns holds kernel L2TP tunnels.
func checkKernelDataplane(t *testing.T, ns *netns.NS, wantTunnels int) {
	t.Helper()
	if dataplane != "kernel" {
		return
	}
	if got := kernelTunnels(ns); got != wantTunnels {
		out, _ := ns.Run(context.Background(), "ip", "l2tp", "show", "tunnel")
		t.Errorf("%s holds %d kernel L2TP tunnels, want %d:\n%s", ns.Name(), got, wantTunnels, out)
	}
}

// xl2tpd starts xl2tpd in the foreground in ns with the given configuration file.
func xl2tpd(t *testing.T, ns *netns.NS, dir string) *netns.Proc {
	t.Helper()
	if err := os.MkdirAll("/run/xl2tpd", 0o755); err != nil {
		t.Fatal(err)
	}
	return ns.Start(t, "xl2tpd", "-D", "-c", filepath.Join(dir, "xl2tpd.conf"), "-s", filepath.Join(dir, "l2tp-secrets"),
		"-p", filepath.Join(dir, "xl2tpd.pid"), "-C", filepath.Join(dir, "control"))
}

// TestInteropXl2tpdLACToProboxLNS dials probox (LNS, CHAP, address pool) from xl2tpd as
// the LAC with pppd as the client (L2TPv2; xl2tpd puts the session into the kernel with
// pppol2tp): pppd gets an address from probox's pool and pings probox.
func TestInteropXl2tpdLACToProboxLNS(t *testing.T) {
	requireInterop(t, "xl2tpd", "pppd")
	b := netns.New(t)
	lnsNS, lacNS := b.NS("lns"), b.NS("lac")
	b.Link(lnsNS, "eth0", lacNS, "eth0")
	lnsNS.AddAddr("eth0", "192.0.2.1/24", "2001:db8::1/64")
	lacNS.AddAddr("eth0", "192.0.2.2/24")

	dir := writeFiles(t, map[string]string{
		"xl2tpd.conf": `[global]
listen-addr = 192.0.2.2
port = 1701
access control = no
[lac probox]
lns = 192.0.2.1
name = alice
require authentication = no
refuse pap = yes
pppoptfile = {{DIR}}/options
length bit = yes
autodial = yes
redial = no
`,
		"options": `user alice
password alice-secret
unit 40
noauth
refuse-pap
nodefaultroute
noipdefault
lcp-echo-interval 5
lcp-echo-failure 3
debug
logfile {{DIR}}/pppd.log
`,
		"l2tp-secrets": "",
	})
	dumpOnFailure(t, filepath.Join(dir, "pppd.log"))

	stopCapture := capture(t, lnsNS, "eth0", "udp port 1701")
	lns := startDaemon(t, lnsNS, "lns", lnsConfig, map[string]string{"secrets": "alice alice-secret\n"})
	lac := xl2tpd(t, lacNS, dir)

	var iface, addr string
	netns.WaitFor(t, 40*time.Second, func() bool {
		iface, addr = pppAddr(lacNS, "100.64.0.10", "100.64.0.20")
		return addr != ""
	}, "pppd (xl2tpd LAC) to get an address from probox's pool 100.64.0.10-20")
	t.Logf("pppd: %s %s", iface, addr)
	lacNS.Ping(t, "100.64.0.1", 3)
	checkKernelDataplane(t, lnsNS, 1)

	list := lns.cli("propppctl", "list")
	if !strings.Contains(list, "alice") {
		t.Errorf("propppctl list on the LNS lacks alice:\n%s", list)
	}
	m := lns.metrics()
	for _, want := range []string{`probox_ppp_sessions{phase="running"} 1`, `probox_l2tp_tunnels{state="established"} 1`} {
		if !strings.Contains(m, want) {
			t.Errorf("LNS /metrics lacks %q", want)
		}
	}

	// xl2tpd closes its tunnel (StopCCN) when it ends; probox ends the PPP session and
	// the tunnel (which stays in state closing for a retransmission cycle to acknowledge
	// a repeated StopCCN, RFC 2661 §5.7).
	if _, err := lac.Stop(20 * time.Second); err != nil {
		t.Errorf("xl2tpd: %v", err)
	}
	netns.WaitFor(t, 30*time.Second, func() bool {
		ppp, _ := lns.tryCLI("propppctl", "list")
		tunnels, _ := lns.tryCLI("prol2tp", "show", "tunnels")
		return !strings.Contains(ppp, "alice") && !strings.Contains(tunnels, "established")
	}, "the LNS to close the session and tunnel of the stopped xl2tpd")
	lns.stop()
	sum, verbose := stopCapture()
	checkDecode(t, sum, verbose, "SCCRQ", "SCCRP", "SCCCN", "ICRQ", "ICRP", "ICCN", "CHAP", "StopCCN")
	assertClean(t, b, lnsNS, []*daemon{lns}, "eth0")
	assertClean(t, b, lacNS, nil, "eth0")
}

// TestInteropProboxClientToXl2tpdLNS dials xl2tpd (LNS, with pppd requiring CHAP) from a
// probox L2TPv2 client session: probox's ppp interface gets an address from xl2tpd's
// range and pings the LNS.
func TestInteropProboxClientToXl2tpdLNS(t *testing.T) {
	requireInterop(t, "xl2tpd", "pppd")
	b := netns.New(t)
	lnsNS, cliNS := b.NS("lns"), b.NS("cli")
	b.Link(lnsNS, "eth0", cliNS, "eth0")
	lnsNS.AddAddr("eth0", "192.0.2.1/24", "2001:db8::1/64")
	cliNS.AddAddr("eth0", "192.0.2.2/24")

	setPPPSecrets(t, "chap-secrets", "\"alice\" * \"alice-secret\" *\n")
	dir := writeFiles(t, map[string]string{
		"xl2tpd.conf": `[global]
listen-addr = 192.0.2.1
port = 1701
access control = no
[lns default]
ip range = 203.0.113.130-203.0.113.139
local ip = 203.0.113.129
require authentication = yes
require chap = yes
refuse pap = yes
name = xl2tpd-lns
pppoptfile = {{DIR}}/options
length bit = yes
`,
		"options": `require-chap
name xl2tpd-lns
nodefaultroute
lcp-echo-interval 5
lcp-echo-failure 3
debug
logfile {{DIR}}/pppd.log
`,
		"l2tp-secrets": "",
	})
	dumpOnFailure(t, filepath.Join(dir, "pppd.log"))

	stopCapture := capture(t, lnsNS, "eth0", "udp port 1701")
	lns := xl2tpd(t, lnsNS, dir)
	cli := startDaemon(t, cliNS, "cli", clientConfig("192.0.2.1", "2"), nil)

	netns.WaitFor(t, 40*time.Second, func() bool {
		_, addr := pppAddr(cliNS, "203.0.113.130", "203.0.113.139")
		return addr != ""
	}, "probox's ppp interface to get an address from xl2tpd's range 203.0.113.130-139")
	cliNS.Ping(t, "203.0.113.129", 3)
	checkKernelDataplane(t, cliNS, 1)
	if out := cli.cli("prol2tp", "show", "tunnels"); !strings.Contains(out, "192.0.2.1") {
		t.Errorf("prol2tp show tunnels on the client does not show the LNS:\n%s", out)
	}

	// probox hangs up (CDN, StopCCN) when it stops; xl2tpd's kernel tunnel goes away.
	cli.stop()
	netns.WaitFor(t, 30*time.Second, func() bool { return kernelTunnels(lnsNS) == 0 }, "xl2tpd to close the tunnel probox hung up")
	if _, err := lns.Stop(20 * time.Second); err != nil {
		t.Errorf("xl2tpd: %v", err)
	}
	sum, verbose := stopCapture()
	checkDecode(t, sum, verbose, "SCCRQ", "SCCRP", "SCCCN", "ICRQ", "ICRP", "ICCN", "CHAP", "StopCCN")
	assertClean(t, b, cliNS, []*daemon{cli}, "eth0")
	assertClean(t, b, lnsNS, nil, "eth0")
}

// TestInteropStaticPseudowireIPL2TP joins a static probox L2TPv3 Ethernet pseudowire
// (from configuration) to the kernel's static tunnel and session made with iproute2 on the
// other end, with the same IDs, cookies and L2-Specific Sublayer, and pings across.
func TestInteropStaticPseudowireIPL2TP(t *testing.T) {
	requireInterop(t, "ip")
	b := netns.New(t)
	nsA, nsB := b.NS("a"), b.NS("b")
	b.Link(nsA, "eth0", nsB, "eth0")
	nsA.AddAddr("eth0", "192.0.2.1/24")
	nsB.AddAddr("eth0", "192.0.2.2/24")

	// probox's cookie is the one it expects on received packets, peer_cookie the one it
	// sends (RFC 3931 §5.4.4, Assigned Cookie); iproute2's cookie is the one the kernel
	// sends and peer_cookie the one it checks. So each side's cookie is the other's
	// peer_cookie.
	nsB.IP("l2tp", "add", "tunnel", "tunnel_id", "200", "peer_tunnel_id", "100", "encap", "udp",
		"local", "192.0.2.2", "remote", "192.0.2.1", "udp_sport", "1701", "udp_dport", "1701")
	nsB.IP("l2tp", "add", "session", "name", "l2tpeth0", "tunnel_id", "200", "session_id", "2000", "peer_session_id", "1000",
		"cookie", "0011223344556677", "peer_cookie", "8899aabbccddeeff", "l2spec_type", "default")
	t.Cleanup(func() {
		nsB.Run(context.Background(), "ip", "l2tp", "del", "tunnel", "tunnel_id", "200")
	})

	// No control message tells tshark the session's cookie size, sublayer and pseudowire
	// type (it keeps pw_type 0 for an unknown session): give them.
	stopCapture := capture(t, nsB, "eth0", "udp port 1701",
		"-o", "l2tp.cookie_size:8 Byte Cookie", "-o", "l2tp.l2_specific:Default L2-Specific", "-d", "l2tp.pw_type==0,eth")
	pa := startDaemon(t, nsA, "a", `
[system]
l2tp_listen = []
[tunnel_profile.pw]
version = 3
[session_profile.eth]
pw_type = "ethernet"
l2spec = "default"
[tunnel.b]
peer = "192.0.2.2:1701"
local = "192.0.2.1:1701"
tunnel_profile = "pw"
static = true
tunnel_id = 100
peer_tunnel_id = 200
[tunnel.b.session.s]
session_profile = "eth"
session_id = 1000
peer_session_id = 2000
cookie = "0011223344556677"
peer_cookie = "8899aabbccddeeff"
interface_name = "pwa"
`, nil)

	netns.WaitFor(t, 30*time.Second, func() bool { return hasLink(nsA, "pwa") }, "the pseudowire interface pwa")
	nsA.AddAddr("pwa", "198.51.100.1/24")
	nsA.SetUp("pwa")
	nsB.AddAddr("l2tpeth0", "198.51.100.2/24")
	nsB.SetUp("l2tpeth0")
	netns.WaitFor(t, 20*time.Second, func() bool {
		_, err := nsA.TryPing(t.Context(), "198.51.100.2", 1)
		return err == nil
	}, "a ping across the pseudowire")
	nsA.Ping(t, "198.51.100.2", 3)
	nsB.Ping(t, "198.51.100.1", 3)
	checkKernelDataplane(t, nsA, 1)

	pa.stop()
	sum, verbose := stopCapture()
	checkDecode(t, sum, verbose, "Echo (ping) request", "Echo (ping) reply")
	assertClean(t, b, nsA, []*daemon{pa}, "eth0")
	// The iproute2 tunnel on the other side is not probox's: it stays.
	if out := nsB.IP("l2tp", "show", "tunnel"); !strings.Contains(out, "Tunnel 200") {
		t.Errorf("the static ip l2tp tunnel is gone:\n%s", out)
	}
}

// pppoeACConfig is a probox PPPoE access concentrator on eth0 terminating the sessions of
// service "internet" locally, with CHAP and the pool of lnsConfig.
const pppoeACConfig = `
[system]
l2tp_listen = []
[ppp_profile.default]
auth = ["chap-md5"]
local_address = "100.64.0.1"
lcp_echo_interval = "0s"
[ippool.default]
ranges = ["100.64.0.10-100.64.0.20"]
[pppoe]
ac_name = "probox-ac"
[pppoe.interface.eth0]
[pppoe.service.internet]
route = "local"
`

// pppoeClient starts pppd with the rp-pppoe.so plugin (kernel PPPoE) on iface in ns as
// user alice, and returns its log file.
func pppoeClient(t *testing.T, ns *netns.NS, iface string, unit int) string {
	t.Helper()
	log := filepath.Join(t.TempDir(), "pppd.log")
	dumpOnFailure(t, log)
	ns.Start(t, "pppd", "plugin", "rp-pppoe.so", "nic-"+iface, "rp_pppoe_service", "internet",
		"user", "alice", "password", "alice-secret", "unit", fmt.Sprint(unit), "noauth", "refuse-pap",
		"nodefaultroute", "noipdefault", "nodetach", "maxfail", "1", "lcp-echo-interval", "5",
		"lcp-echo-failure", "3", "debug", "logfile", log)
	return log
}

// TestInteropPPPoEClientToProboxAC brings up pppd with the rp-pppoe.so plugin as the
// subscriber against probox as the access concentrator terminating PPP locally: pppd gets
// an address from probox's pool and pings probox.
func TestInteropPPPoEClientToProboxAC(t *testing.T) {
	requireInterop(t, "pppd")
	b := netns.New(t)
	acNS, subNS := b.NS("ac"), b.NS("sub")
	b.Link(acNS, "eth0", subNS, "eth0")

	ac := startDaemon(t, acNS, "ac", pppoeACConfig, map[string]string{"secrets": "alice alice-secret\n"})
	requireEngine(t, ac, "pppoe")
	stopCapture := capture(t, acNS, "eth0", "pppoed or pppoes")
	pppoeClient(t, subNS, "eth0", 20)

	netns.WaitFor(t, 40*time.Second, func() bool {
		_, addr := pppAddr(subNS, "100.64.0.10", "100.64.0.20")
		return addr != ""
	}, "pppd (PPPoE) to get an address from probox's pool 100.64.0.10-20")
	subNS.Ping(t, "100.64.0.1", 3)
	if out := ac.cli("propppctl", "list"); !strings.Contains(out, "alice") {
		t.Errorf("propppctl list on the AC lacks alice:\n%s", out)
	}

	ac.stop()
	netns.WaitFor(t, 30*time.Second, func() bool { return !hasLink(subNS, "ppp") }, "pppd to hang up (PADT from the stopped AC)")
	sum, verbose := stopCapture()
	checkDecode(t, sum, verbose, "PADI", "PADO", "PADR", "PADS", "CHAP", "PADT")
	assertClean(t, b, acNS, []*daemon{ac}, "eth0")
	assertClean(t, b, subNS, nil, "eth0")
}

// TestInteropPPPoEClientViaLACToProboxLNS brings up pppd with the rp-pppoe.so plugin
// against probox as the access concentrator, which carries the session as a LAC over
// L2TPv2 to a second probox as the LNS: the LNS authenticates pppd, gives it an address
// from its pool, and pppd pings it.
func TestInteropPPPoEClientViaLACToProboxLNS(t *testing.T) {
	requireInterop(t, "pppd")
	b := netns.New(t)
	lnsNS, lacNS, subNS := b.NS("lns"), b.NS("lac"), b.NS("sub")
	b.Link(lacNS, "eth0", subNS, "eth0")
	b.Link(lacNS, "eth1", lnsNS, "eth0")
	lacNS.AddAddr("eth1", "192.0.2.2/24")
	lnsNS.AddAddr("eth0", "192.0.2.1/24", "2001:db8::1/64")

	lac := startDaemon(t, lacNS, "lac", `
[system]
l2tp_listen = []
[ppp_profile.default]
auth = ["chap-md5"]
lcp_echo_interval = "0s"
[tunnel.lns]
peer = "192.0.2.1"
[pppoe]
ac_name = "probox-lac"
[pppoe.interface.eth0]
[pppoe.service.internet]
route = "lac"
tunnel = "lns"
`, nil)
	requireEngine(t, lac, "pppoe")
	stopCapture := capture(t, lnsNS, "eth0", "udp port 1701")
	lns := startDaemon(t, lnsNS, "lns", lnsConfig, map[string]string{"secrets": "alice alice-secret\n"})
	pppoeClient(t, subNS, "eth0", 21)

	netns.WaitFor(t, 40*time.Second, func() bool {
		_, addr := pppAddr(subNS, "100.64.0.10", "100.64.0.20")
		return addr != ""
	}, "pppd (PPPoE via the LAC) to get an address from the LNS pool 100.64.0.10-20")
	subNS.Ping(t, "100.64.0.1", 3)
	if list := lns.cli("propppctl", "list"); !strings.Contains(list, "alice") {
		t.Errorf("propppctl list on the LNS lacks alice:\n%s", list)
	}

	lac.stop()
	netns.WaitFor(t, 30*time.Second, func() bool { return !hasLink(subNS, "ppp") }, "pppd to hang up")
	netns.WaitFor(t, 30*time.Second, func() bool {
		out, _ := lns.tryCLI("propppctl", "list")
		return !strings.Contains(out, "alice")
	}, "the LNS session to go away")
	lns.stop()
	sum, verbose := stopCapture()
	checkDecode(t, sum, verbose, "SCCRQ", "SCCRP", "SCCCN", "ICRQ", "ICRP", "ICCN", "CDN", "StopCCN")
	assertClean(t, b, lacNS, []*daemon{lac}, "eth0", "eth1")
	assertClean(t, b, lnsNS, []*daemon{lns}, "eth0")
	assertClean(t, b, subNS, nil, "eth0")
}

// TestInteropProboxPPPoEClientToPPPoEServer brings up a probox PPPoE client session
// against rp-pppoe's pppoe-server with pppd (CHAP): probox's ppp interface gets an address
// from the server's range and pings the server.
func TestInteropProboxPPPoEClientToPPPoEServer(t *testing.T) {
	requireInterop(t, "pppd", "pppoe-server")
	b := netns.New(t)
	srvNS, cliNS := b.NS("srv"), b.NS("cli")
	b.Link(srvNS, "eth0", cliNS, "eth0")

	cli := startDaemon(t, cliNS, "cli", `
[system]
l2tp_listen = []
[ppp_profile.client]
username = "alice"
password = "alice-secret"
auth = []
unit = "dedicated"
interface_name = "ppp%d"
lcp_echo_interval = "0s"
[pppoe.client.isp]
interface = "eth0"
service = "internet"
ppp_profile = "client"
`, nil)
	requireEngine(t, cli, "pppoe")

	setPPPSecrets(t, "chap-secrets", "\"alice\" * \"alice-secret\" *\n")
	dir := writeFiles(t, map[string]string{"options": `require-chap
name pppoe-server
lcp-echo-interval 5
lcp-echo-failure 3
nodefaultroute
noipdefault
debug
logfile {{DIR}}/pppd.log
`})
	dumpOnFailure(t, filepath.Join(dir, "pppd.log"))
	// Debian builds pppoe-server without kernel mode (-k): its sessions run through pppd
	// on a pty with the user-space pppoe; probox's side is kernel PPPoE.
	stopCapture := capture(t, cliNS, "eth0", "pppoed or pppoes")
	srvNS.Start(t, "pppoe-server", "-F", "-I", "eth0", "-C", "rp-pppoe", "-S", "internet",
		"-L", "203.0.113.1", "-R", "203.0.113.10", "-N", "4", "-O", filepath.Join(dir, "options"),
		"-X", filepath.Join(dir, "pppoe-server.pid"))

	netns.WaitFor(t, 40*time.Second, func() bool {
		_, addr := pppAddr(cliNS, "203.0.113.10", "203.0.113.13")
		return addr != ""
	}, "probox's ppp interface to get an address from pppoe-server's range 203.0.113.10-13")
	cliNS.Ping(t, "203.0.113.1", 3)

	cli.stop()
	sum, verbose := stopCapture()
	checkDecode(t, sum, verbose, "PADI", "PADO", "PADR", "PADS", "CHAP", "PADT")
	assertClean(t, b, cliNS, []*daemon{cli}, "eth0")
}
