package e2e

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/probox/probox/e2e/netns"
)

// scaleSessions is the number of subscriber sessions of TestPPPoE200Sessions: 200, as
// the PPPoE issue asks; PROBOX_E2E_SESSIONS overrides it (a quicker run while debugging).
func scaleSessions(t *testing.T) int {
	n := 200
	if s := os.Getenv("PROBOX_E2E_SESSIONS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 || v > 4000 {
			t.Fatalf("PROBOX_E2E_SESSIONS=%q: want a number of sessions from 1 to 4000", s)
		}
		n = v
	}
	return n
}

// scaleMAC is subscriber i's MAC address: 02:00:00:00:xx:yy, locally administered.
func scaleMAC(i int) string { return fmt.Sprintf("02:00:00:00:%02x:%02x", (i>>8)+1, i&0xff) }

// scaleSubscriberConfig is one probox PPPoE client process emulating n subscribers on
// eth0: client cI has its own MAC address, user subI and the dedicated unit pppI.
func scaleSubscriberConfig(n int) string {
	var b strings.Builder
	b.WriteString(`
[system]
l2tp_listen = []
[ppp_profile.default]
auth = []
unit = "dedicated"
ipv6 = false
lcp_echo_interval = "0s"
`)
	for i := range n {
		fmt.Fprintf(&b, "[pppoe.client.c%d]\ninterface = \"eth0\"\nservice = \"internet\"\nppp_profile = \"c%d\"\nmac = %q\n", i, i, scaleMAC(i))
		fmt.Fprintf(&b, "[ppp_profile.c%d]\nusername = \"sub%d\"\npassword = \"sub%d-secret\"\ninterface_name = \"ppp%d\"\n", i, i, i, i)
	}
	return b.String()
}

// TestPPPoE200Sessions is the PPPoE issue's check (c): 200 sessions from one client
// process, each with its own MAC address, through one probox AC/LAC into one L2TPv2
// tunnel to a probox LNS; every session gets an address from the LNS's pool and passes a
// ping of its own; then the client process stops, every session goes down cleanly (PADT
// at the AC, CDN in the tunnel), the idle tunnel closes, and nothing is left anywhere.
func TestPPPoE200Sessions(t *testing.T) {
	netns.Require(t)
	if testing.Short() {
		t.Skip("200 PPPoE sessions: skipped in -short")
	}
	n := scaleSessions(t)
	start := time.Now()
	b := netns.New(t)
	subNS, brasNS, lnsNS := b.NS("sub"), b.NS("bras"), b.NS("lns")
	b.Link(subNS, "eth0", brasNS, "eth0")
	b.Link(brasNS, "eth1", lnsNS, "eth0")
	brasNS.AddAddr("eth1", "192.0.2.1/24")
	lnsNS.AddAddr("eth0", "192.0.2.2/24")

	var secrets strings.Builder
	for i := range n {
		fmt.Fprintf(&secrets, "sub%d sub%d-secret\n", i, i)
	}
	lns := startDaemon(t, lnsNS, "lns", `
[system]
l2tp_listen = ["192.0.2.2:1701"]
[ppp_profile.default]
auth = ["chap-md5"]
local_address = "100.64.0.1"
ipv6 = false
lcp_echo_interval = "0s"
[ippool.default]
ranges = ["100.64.0.10-100.64.15.250"]
`, map[string]string{"secrets": secrets.String()})
	// The LAC's tunnel closes one second after its last session.
	bras := startDaemon(t, brasNS, "bras", `
[system]
l2tp_listen = []
[pppoe]
ac_name = "bras1"
[pppoe.interface.eth0]
[pppoe.service.internet]
route = "lac"
tunnel = "lns"
ppp_profile = "lac"
[ppp_profile.lac]
auth = ["chap-md5"]
ipv6 = false
lcp_echo_interval = "0s"
[tunnel_profile.lac]
idle_timeout = "1s"
[tunnel.lns]
peer = "192.0.2.2"
tunnel_profile = "lac"
`, nil)
	sub := startDaemon(t, subNS, "sub", scaleSubscriberConfig(n), nil)

	// Every unit pppI gets its own address from the LNS pool. How long that takes depends
	// on the machine (the kernel VM emulates its CPU, and a busy CI host slows it down
	// further), so the wait fails on a stall, a minute without a new session, rather
	// than at a fixed time.
	var addrs map[string]netip.Addr
	last, lastAt := -1, time.Now()
	netns.WaitFor(t, 10*time.Minute, func() bool {
		addrs = unitAddrs(t, subNS)
		if len(addrs) != last {
			last, lastAt = len(addrs), time.Now()
		} else if time.Since(lastAt) > time.Minute {
			t.Fatalf("%d of %d ppp units have an address from the LNS pool, and no other for a minute", len(addrs), n)
		}
		return len(addrs) == n
	}, fmt.Sprintf("%d ppp units with an address from the LNS pool", n))
	upAt := time.Since(start)
	for i := range n {
		if _, ok := addrs[fmt.Sprintf("ppp%d", i)]; !ok {
			t.Errorf("no unit ppp%d (client c%d's)", i, i)
		}
	}
	seen := map[netip.Addr]string{}
	for name, a := range addrs {
		if !netip.MustParsePrefix("100.64.0.0/20").Contains(a) {
			t.Errorf("%s has %s, not from the LNS pool", name, a)
		}
		if other, dup := seen[a]; dup {
			t.Errorf("%s and %s both have %s", name, other, a)
		}
		seen[a] = name
	}

	// One tunnel at the LAC, carrying every session; as many sessions at the LNS.
	var tunnels []struct {
		ID       uint32 `json:"id"`
		State    string `json:"state"`
		Peer     string `json:"peer"`
		Sessions int    `json:"sessions"`
	}
	cliJSON(t, bras, &tunnels, "prol2tp", "-j", "show", "tunnels")
	if len(tunnels) != 1 || tunnels[0].Sessions != n || tunnels[0].State != "established" {
		t.Errorf("LAC tunnels %+v, want one established tunnel with %d sessions", tunnels, n)
	}
	for _, d := range []*daemon{bras, lns} {
		var sessions []struct {
			TunnelID uint32 `json:"tunnel_id"`
			State    string `json:"state"`
		}
		cliJSON(t, d, &sessions, "prol2tp", "-j", "show", "sessions")
		tids := map[uint32]bool{}
		for _, s := range sessions {
			tids[s.TunnelID] = true
		}
		if len(sessions) != n || len(tids) != 1 {
			t.Errorf("%s: %d L2TP sessions in %d tunnels, want %d in one", d.name, len(sessions), len(tids), n)
		}
	}
	// The AC's sessions come from the subscribers' own addresses.
	var acSessions []struct {
		MAC   string `json:"mac"`
		Route string `json:"route"`
		State string `json:"state"`
	}
	cliJSON(t, bras, &acSessions, "proac_info", "-j", "sessions")
	var macs, wantMACs []string
	for _, s := range acSessions {
		if s.Route != "lac" || s.State != "up" {
			t.Errorf("AC session of %s: route %s, state %s, want lac and up", s.MAC, s.Route, s.State)
		}
		macs = append(macs, s.MAC)
	}
	for i := range n {
		wantMACs = append(wantMACs, scaleMAC(i))
	}
	slices.Sort(macs)
	if !slices.Equal(macs, wantMACs) {
		t.Errorf("AC sessions from %d MAC addresses %v..., want the %d subscribers' own", len(macs), macs[:min(3, len(macs))], n)
	}
	checkMetric(t, bras, "probox_pppoe_sessions", float64(n), `route="lac"`)

	// Every session passes a ping of its own.
	pingStart := time.Now()
	pingEachUnit(t, subNS, addrs, netip.MustParseAddr("100.64.0.1"))
	t.Logf("%d sessions up in %v (since the namespaces were made), pinged in %v", n, upAt.Round(100*time.Millisecond), time.Since(pingStart).Round(10*time.Millisecond))

	// The subscribers go away: each sends LCP Terminate-Request, then PADT; the LAC
	// hangs each call up (CDN) and, a second later, closes the idle tunnel (StopCCN; the
	// tunnel lingers in state closing for the retransmission cycle, RFC 2661 §5.7).
	stopAt := time.Now()
	// In the kernel VM (10 to 30 times slower) the subscribers' 200 PPP units and macvlan
	// interfaces take longer to remove than daemon.stop waits.
	if code, err := sub.proc.Stop(90 * time.Second); err != nil || code != 0 {
		t.Errorf("subscriber daemon exit %d, %v", code, err)
	}
	t.Logf("the subscriber daemon stopped in %v", time.Since(stopAt).Round(10*time.Millisecond))
	b.AssertNoLinks(subNS, "lo", "eth0")
	left := ""
	deadline := time.Now().Add(30 * time.Second)
	for {
		left = ""
		for _, c := range []struct {
			d    *daemon
			args []string
		}{
			{bras, []string{"proac_info", "-j", "sessions"}},
			{bras, []string{"prol2tp", "-j", "show", "sessions"}},
			{lns, []string{"prol2tp", "-j", "show", "sessions"}},
		} {
			if k := countJSON(t, c.d, c.args[0], c.args[1:]...); k != 0 {
				left += fmt.Sprintf("\n%s: %s: %d", c.d.name, strings.Join(c.args, " "), k)
			}
		}
		for _, d := range []*daemon{bras, lns} {
			if st := tunnelStates(t, d); slices.ContainsFunc(st, func(s string) bool { return s != "closing" }) {
				left += fmt.Sprintf("\n%s: tunnels in states %v", d.name, st)
			}
		}
		if left == "" || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if left != "" {
		t.Fatalf("30s after the subscribers stopped, these remain (-1: the tool failed):%s", left)
	}
	t.Logf("all sessions down and the tunnel closing %v after the subscribers' SIGTERM", time.Since(stopAt).Round(10*time.Millisecond))
	// Clean: every AC session ended by the subscriber's PADT (or, when the subscriber's LCP
	// Terminate-Request reached the LNS first, by the LNS's CDN), none failed and none was
	// dialed twice; every call was established once and ended with a CDN (which of the
	// two ends sends it first is a race).
	checkMetric(t, bras, "probox_pppoe_sessions_total", float64(n))
	if got := metricValue(t, bras, "probox_pppoe_sessions_total", `result="peer_padt"`) +
		metricValue(t, bras, "probox_pppoe_sessions_total", `result="lns_ended"`); got != float64(n) {
		t.Errorf("bras: %v sessions ended by the subscriber's PADT or the LNS, want %d", got, n)
	}
	for _, d := range []*daemon{bras, lns} {
		checkMetric(t, d, "probox_l2tp_sessions_total", float64(n), `result="established"`)
		checkMetric(t, d, "probox_l2tp_sessions_total", 0, `result="failed"`)
	}
	if got := metricValue(t, bras, "probox_l2tp_control_messages_total", `type="CDN"`, `dir="tx"`) +
		metricValue(t, bras, "probox_l2tp_control_messages_total", `type="CDN"`, `dir="rx"`); got < float64(n) {
		t.Errorf("bras: %v CDNs sent and received, want at least %d", got, n)
	}
	checkMetric(t, bras, "probox_l2tp_control_messages_total", 1, `type="StopCCN"`, `dir="tx"`)
	for _, d := range []*daemon{bras, lns} {
		for _, family := range []string{"probox_pppoe_sessions", "probox_l2tp_sessions", "probox_ppp_sessions"} {
			checkMetric(t, d, family, 0)
		}
		checkMetric(t, d, "probox_l2tp_tunnels", 0, `state="established"`)
	}
	if out := lns.cli("propppctl", "list"); strings.Contains(out, "sub") {
		t.Errorf("the LNS still lists PPP sessions:\n%s", out)
	}
	bras.stop()
	lns.stop()
	b.AssertNoLinks(brasNS, "lo", "eth0", "eth1")
	b.AssertNoLinks(lnsNS, "lo", "eth0")
	t.Logf("%d sessions: %v in all", n, time.Since(start).Round(100*time.Millisecond))
}

// unitAddrs returns the IPv4 address of every pppN interface of ns that has one.
func unitAddrs(t *testing.T, ns *netns.NS) map[string]netip.Addr {
	out, err := ns.Run(t.Context(), "ip", "-4", "-o", "addr", "show")
	if err != nil {
		return nil
	}
	addrs := map[string]netip.Addr{}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) < 4 || !strings.HasPrefix(f[1], "ppp") || f[2] != "inet" {
			continue
		}
		if a, err := netip.ParseAddr(f[3]); err == nil {
			addrs[f[1]] = a
		} else if p, err := netip.ParsePrefix(f[3]); err == nil {
			addrs[f[1]] = p.Addr()
		}
	}
	return addrs
}

// tunnelStates lists the states of the daemon's L2TP tunnels.
func tunnelStates(t *testing.T, d *daemon) []string {
	out, err := d.tryCLI("prol2tp", "-j", "show", "tunnels")
	if err != nil {
		return []string{"(prol2tp failed)"}
	}
	var list []struct {
		State string `json:"state"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		return []string{"(bad JSON)"}
	}
	var st []string
	for _, tn := range list {
		st = append(st, tn.State)
	}
	return st
}

// cliJSON runs a management tool with -j and decodes its output into v.
func cliJSON(t *testing.T, d *daemon, v any, tool string, args ...string) {
	t.Helper()
	out := d.cli(tool, args...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, out)
	}
}

// countJSON returns the length of the JSON list a management tool prints (-1 on error).
func countJSON(t *testing.T, d *daemon, tool string, args ...string) int {
	out, err := d.tryCLI(tool, args...)
	if err != nil {
		return -1
	}
	var list []json.RawMessage
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		return -1
	}
	return len(list)
}

// metricSum returns the sum of the samples of family that carry all the given labels
// (such as `route="lac"`; none: every sample) in the daemon's /metrics, and whether there
// is any such sample.
func metricSum(t *testing.T, d *daemon, family string, labels ...string) (float64, bool) {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(family) + `(\{[^}]*\})? (\S+)$`)
	var sum float64
	found := false
	for _, m := range re.FindAllStringSubmatch(d.metrics(), -1) {
		if slices.ContainsFunc(labels, func(l string) bool { return !strings.Contains(m[1], l) }) {
			continue
		}
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			t.Fatalf("%s: metric %s%s: %v", d.name, family, m[1], err)
		}
		sum += v
		found = true
	}
	return sum, found
}

// checkMetric checks metricSum; an absent metric counts as 0.
func checkMetric(t *testing.T, d *daemon, family string, want float64, labels ...string) {
	t.Helper()
	got, found := metricSum(t, d, family, labels...)
	what := family + "{" + strings.Join(labels, ",") + "}"
	switch {
	case !found && want != 0:
		t.Errorf("%s: no metric %s", d.name, what)
	case got != want:
		t.Errorf("%s: %s = %v, want %v", d.name, what, got, want)
	}
}

// metricValue is metricSum without the flag: an absent metric counts as 0.
func metricValue(t *testing.T, d *daemon, family string, labels ...string) float64 {
	t.Helper()
	v, _ := metricSum(t, d, family, labels...)
	return v
}

// pingEachUnit sends an ICMP echo request through every unit to dst and fails the test
// for each unit that gets no reply within three tries of two seconds.
//
// Each ping crosses its own session, and only it, both ways: the request goes out of a
// raw socket bound to the unit (SO_BINDTODEVICE makes the route lookup use only routes
// through that device, here the unit's peer route to dst) with the unit's address as
// source, so it enters that PPP session and through the AC's bridge that L2TP session; the
// LNS routes the reply to the session whose peer address is the destination, the same
// one; and a socket bound to a device receives only what arrives on that device, with the
// echo identifier telling the units apart as well. Policy routing (ip rule from ADDR) would
// do the same for iputils ping, but 200 ping processes cost more than 200 sockets.
func pingEachUnit(t *testing.T, ns *netns.NS, addrs map[string]netip.Addr, dst netip.Addr) {
	t.Helper()
	type unitPing struct {
		name string
		id   uint16
		conn *net.IPConn
	}
	var pings []unitPing
	err := ns.Do(func() error {
		for name, a := range addrs {
			n, err := strconv.Atoi(strings.TrimPrefix(name, "ppp"))
			if err != nil {
				return fmt.Errorf("unit %s: %w", name, err)
			}
			c, err := boundICMP(name, a)
			if err != nil {
				return fmt.Errorf("unit %s: %w", name, err)
			}
			pings = append(pings, unitPing{name, uint16(0x5000 + n), c})
		}
		return nil
	})
	defer func() {
		for _, p := range pings {
			p.conn.Close()
		}
	}()
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		failed []string
	)
	for _, p := range pings {
		wg.Go(func() {
			if err := icmpEcho(p.conn, dst, p.id); err != nil {
				mu.Lock()
				failed = append(failed, fmt.Sprintf("%s: %v", p.name, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(failed)
	for _, f := range failed {
		t.Errorf("ping through %s", f)
	}
}

// boundICMP opens a raw ICMP socket bound to device dev and address a, in the calling
// thread's network namespace.
func boundICMP(dev string, a netip.Addr) (*net.IPConn, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMP)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	if err := unix.BindToDevice(fd, dev); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("SO_BINDTODEVICE", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: a.As4()}); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("bind", err)
	}
	f := os.NewFile(uintptr(fd), "icmp "+dev)
	defer f.Close()
	c, err := net.FilePacketConn(f)
	if err != nil {
		return nil, err
	}
	return c.(*net.IPConn), nil
}

// icmpEcho sends ICMP echo requests (RFC 792) with identifier id on c to dst until a matching
// reply arrives, three tries of two seconds.
func icmpEcho(c *net.IPConn, dst netip.Addr, id uint16) error {
	buf := make([]byte, 1500)
	for seq := uint16(1); seq <= 3; seq++ {
		req := []byte{8, 0, 0, 0, byte(id >> 8), byte(id), byte(seq >> 8), byte(seq), 'p', 'r', 'o', 'b', 'o', 'x'}
		binary.BigEndian.PutUint16(req[2:], icmpChecksum(req))
		if _, err := c.WriteToIP(req, &net.IPAddr{IP: dst.AsSlice()}); err != nil {
			return err
		}
		deadline := time.Now().Add(2 * time.Second)
		c.SetReadDeadline(deadline)
		for {
			n, _, err := c.ReadFromIP(buf)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
			if err != nil {
				return err
			}
			r := buf[:n]
			if len(r) >= 20 && r[0]>>4 == 4 { // an IPv4 header left in
				r = r[int(r[0]&0x0f)*4:]
			}
			if len(r) >= 8 && r[0] == 0 && binary.BigEndian.Uint16(r[4:]) == id && binary.BigEndian.Uint16(r[6:]) == seq {
				return nil
			}
		}
	}
	return errors.New("no echo reply")
}

// icmpChecksum is the Internet checksum (RFC 1071) of b.
func icmpChecksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}
