package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/probox/probox/e2e/netns"
)

// lnsConfig is a probox LNS on 192.0.2.1 with CHAP and a pool.
const lnsConfig = `
[system]
l2tp_listen = ["192.0.2.1:1701", "[2001:db8::1]:1701"]
[ppp_profile.default]
auth = ["chap-md5"]
local_address = "100.64.0.1"
[ippool.default]
ranges = ["100.64.0.10-100.64.0.20"]
`

// clientConfig is a probox L2TPv2 PPP client dialling the LNS at peer.
func clientConfig(peer, version string) string {
	return `
[system]
l2tp_listen = []
[tunnel_profile.default]
version = ` + version + `
[tunnel.lns]
peer = "` + peer + `"
[tunnel.lns.session.s1]
ppp_profile = "client"
[ppp_profile.client]
username = "alice"
password = "alice-secret"
auth = []
unit = "dedicated"
interface_name = "ppp%d"
`
}

// TestL2TPClientToLNS brings up probox as an L2TP PPP client against a probox LNS, over
// IPv4 and IPv6, L2TPv2 and v3: the client's ppp interface gets its address from the
// LNS pool, ping crosses, propppctl destroy brings it down and both sides clean up.
func TestL2TPClientToLNS(t *testing.T) {
	for _, tc := range []struct{ name, peer, version string }{
		{"v2-ipv4", "192.0.2.1", "2"},
		{"v2-ipv6", "2001:db8::1", "2"},
		{"v3-ipv4", "192.0.2.1", "3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := netns.New(t)
			lnsNS, cliNS := b.NS("lns"), b.NS("cli")
			b.Link(lnsNS, "eth0", cliNS, "eth0")
			lnsNS.AddAddr("eth0", "192.0.2.1/24", "2001:db8::1/64")
			cliNS.AddAddr("eth0", "192.0.2.2/24", "2001:db8::2/64")

			stopCapture := capture(t, lnsNS, "eth0", "udp port 1701")
			lns := startDaemon(t, lnsNS, "lns", lnsConfig, map[string]string{"secrets": "alice alice-secret\n"})
			hookLog := lns.hook("session-up", "tunnel-up", "session-down")
			cli := startDaemon(t, cliNS, "cli", clientConfig(tc.peer, tc.version), nil)

			netns.WaitFor(t, 30*time.Second, func() bool { return addrOf(cliNS, "ppp0") != "" }, "the client's ppp0 address")
			if got := addrOf(cliNS, "ppp0"); !strings.HasPrefix(got, "100.64.0.") {
				t.Fatalf("client ppp0 address %q, want one from the LNS pool 100.64.0.10-20", got)
			}
			cliNS.Ping(t, "100.64.0.1", 3)

			tunnels := lns.cli("prol2tp", "show", "tunnels")
			if !strings.Contains(tunnels, "192.0.2.2") && !strings.Contains(tunnels, "2001:db8::2") {
				t.Errorf("prol2tp show tunnels on the LNS does not show the client:\n%s", tunnels)
			}
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

			// The hook scripts ran with the documented environment.
			netns.WaitFor(t, 10*time.Second, func() bool {
				b, _ := os.ReadFile(hookLog)
				return strings.Count(string(b), "PROBOX_EVENT=session-up") >= 2
			}, "the session-up hooks of the l2tp and ppp engines")
			hooks, _ := os.ReadFile(hookLog)
			for _, want := range []string{"PROBOX_EVENT=tunnel-up", "PROBOX_ENGINE=l2tp", "PROBOX_ENGINE=ppp", "PROBOX_USER=alice", "PROBOX_PEER_IP=100.64.0.", "PROBOX_L2TP_VERSION=" + tc.version} {
				if !strings.Contains(string(hooks), want) {
					t.Errorf("hook environment lacks %s:\n%s", want, hooks)
				}
			}

			// Disconnect from the LNS: both sides clean up.
			inst := firstInstance(t, list)
			lns.cli("propppctl", "destroy", inst)
			netns.WaitFor(t, 30*time.Second, func() bool { return !hasLink(cliNS, "ppp") }, "the client's ppp0 to go away")
			netns.WaitFor(t, 30*time.Second, func() bool {
				out, _ := lns.tryCLI("prol2tp", "show", "sessions")
				return !strings.Contains(out, "alice")
			}, "the LNS session to go away")

			cli.stop()
			lns.stop()
			sum, verbose := stopCapture()
			checkDecode(t, sum, verbose, "SCCRQ", "SCCRP", "SCCCN", "ICRQ", "ICRP", "ICCN", "CDN", "StopCCN")
			assertClean(t, b, cliNS, []*daemon{cli}, "eth0")
			assertClean(t, b, lnsNS, []*daemon{lns}, "eth0")
		})
	}
}

// firstInstance picks the first "session-N" from propppctl list output.
func firstInstance(t *testing.T, list string) string {
	t.Helper()
	for _, f := range strings.Fields(list) {
		if strings.HasPrefix(f, "session-") {
			return f
		}
	}
	t.Fatalf("no session-N in propppctl list:\n%s", list)
	return ""
}

// capture runs tshark on iface in ns, writing to a file; stop it with the returned func,
// which returns the decoded packet summaries (one line per packet) and the verbose
// decode. readOpts are more tshark options for the decode (e.g. "-o", "pref:value" where
// no control message tells tshark a static session's cookie size). Skips the test when
// tshark is not installed.
func capture(t *testing.T, ns *netns.NS, iface, filter string, readOpts ...string) func() (summary, verbose string) {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed (apt-get install tshark)")
	}
	path := filepath.Join(t.TempDir(), "capture.pcapng")
	// dumpcap (tshark's capture engine, in the same package) starts in a second where
	// tshark, loading every dissector, takes several in the VM.
	capturer := "dumpcap"
	if _, err := exec.LookPath(capturer); err != nil {
		capturer = "tshark"
	}
	p := ns.Start(t, capturer, "-q", "-i", iface, "-f", filter, "-w", path)
	netns.WaitFor(t, 20*time.Second, func() bool {
		fi, err := os.Stat(path)
		return err == nil && fi.Size() > 0
	}, capturer+" to start capturing")
	return func() (string, string) {
		t.Helper()
		ctx := context.Background()
		// The capture is written with a delay: wait until the last packets are in it
		// (the file stops growing) before stopping tshark.
		var last int64 = -1
		netns.WaitFor(t, 20*time.Second, func() bool {
			fi, err := os.Stat(path)
			if err != nil {
				return false
			}
			grown := fi.Size() != last
			last = fi.Size()
			if grown {
				time.Sleep(500 * time.Millisecond)
			}
			return !grown
		}, "the capture file to stop growing")
		p.Stop(10 * time.Second)
		// One pass (tshark starts slowly in the VM): -P prints each packet's summary
		// line before its -V details.
		out, err := ns.Run(ctx, "tshark", append([]string{"-r", path, "-P", "-V"}, readOpts...)...)
		if err != nil {
			t.Fatalf("tshark -r: %v\n%s", err, out)
		}
		sum, verbose := splitDecode(out)
		return sum, verbose
	}
}

// splitDecode splits the output of tshark -P -V into the summary lines (each directly
// followed by its packet's "Frame N:" details) and the details.
func splitDecode(out string) (summary, verbose string) {
	lines := strings.Split(out, "\n")
	var sum, det strings.Builder
	for i, l := range lines {
		if i+1 < len(lines) && strings.HasPrefix(lines[i+1], "Frame ") && strings.TrimSpace(l) != "" {
			sum.WriteString(l + "\n")
			continue
		}
		det.WriteString(l + "\n")
	}
	return sum.String(), det.String()
}

// checkDecode fails the test when tshark flagged a malformed packet or when a message
// type is missing from the capture. With PROBOX_E2E_DUMP set it logs the whole decode.
func checkDecode(t *testing.T, summary, verbose string, want ...string) {
	t.Helper()
	if os.Getenv("PROBOX_E2E_DUMP") != "" {
		t.Log(verbose)
	}
	for _, bad := range []string{"Malformed", "malformed", "Expert Info (Error"} {
		if strings.Contains(verbose, bad) {
			t.Errorf("tshark reports %q:\n%s", bad, summary)
		}
	}
	for _, w := range want {
		if !strings.Contains(summary, w) {
			t.Errorf("capture lacks %s:\n%s", w, summary)
		}
	}
}
