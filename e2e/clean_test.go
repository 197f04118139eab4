package e2e

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/probox/probox/e2e/netns"
)

// assertClean checks, after a scenario, that ns holds nothing a probox daemon made: no
// kernel L2TP tunnel or session (`ip l2tp show tunnel|session`), no PPPoL2TP or PPPoE
// socket (/proc/net/pppol2tp, /proc/net/pppoe), no interface but lo and the allowed ones
// (ppp units, pseudowires, TAP devices), and no unix socket of the daemons (`ss -xa`) nor,
// after a clean stop, their control socket files. Kernel objects may outlive the last file descriptor by a moment (tunnels
// are freed from a workqueue), so it waits up to 15 s before it reports. The kernel checks
// are skipped where the kernel has no L2TP or PPPoE (the development machines).
func assertClean(t *testing.T, b *netns.Bed, ns *netns.NS, daemons []*daemon, allowed ...string) {
	t.Helper()
	var left []string
	deadline := time.Now().Add(15 * time.Second)
	for {
		left = leftovers(ns, daemons, allowed)
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, l := range left {
		t.Errorf("%s: left behind: %s", ns.Name(), l)
	}
	b.AssertNoLinks(ns, allowed...)
}

// leftovers lists what assertClean finds in ns.
func leftovers(ns *netns.NS, daemons []*daemon, allowed []string) []string {
	ctx := context.Background()
	var left []string
	for _, what := range []string{"tunnel", "session"} {
		out, err := ns.Run(ctx, "ip", "l2tp", "show", what)
		if err != nil {
			continue // no generic netlink family l2tp in this kernel
		}
		if s := strings.TrimSpace(out); s != "" {
			left = append(left, fmt.Sprintf("kernel L2TP %s: %s", what, firstLine(s)))
		}
	}
	// /proc/net/pppol2tp: a 6-line header, then a block per tunnel and session.
	if out, err := ns.Run(ctx, "cat", "/proc/net/pppol2tp"); err == nil {
		for _, l := range strings.Split(out, "\n") {
			if l = strings.TrimSpace(l); strings.HasPrefix(l, "TUNNEL '") || strings.HasPrefix(l, "SESSION '") {
				left = append(left, "PPPoL2TP socket: "+l)
			}
		}
	}
	// /proc/net/pppoe: a header line, then one line per PPPoE session socket.
	if out, err := ns.Run(ctx, "cat", "/proc/net/pppoe"); err == nil {
		lines := strings.Split(strings.TrimSpace(out), "\n")
		for _, l := range lines[1:] {
			left = append(left, "PPPoE socket: "+l)
		}
	}
	if names, err := ns.Interfaces(); err == nil {
		for _, n := range names {
			if n == "lo" || slices.Contains(allowed, n) {
				continue
			}
			left = append(left, "interface "+n)
		}
	}
	if out, err := ns.Run(ctx, "ss", "-xa"); err == nil {
		for _, d := range daemons {
			if strings.Contains(out, d.dir) {
				left = append(left, "unix socket of "+d.name+": "+grepLine(out, d.dir))
			}
		}
	}
	for _, d := range daemons {
		// A daemon killed with SIGKILL cannot remove its socket file; the next start
		// copes with it (TestKillRestart).
		if code, err := d.proc.Wait(0); err == nil && code == 128+int(syscall.SIGKILL) {
			continue
		}
		if _, err := os.Stat(d.sock); err == nil {
			left = append(left, "control socket file "+d.sock)
		}
	}
	return left
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func grepLine(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return strings.Join(strings.Fields(l), " ")
		}
	}
	return ""
}
