package e2e

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/probox/probox/e2e/netns"
)

// TestPPPoEVLANs: subscribers on tagged access lines. One probox PPPoE client runs on a
// QinQ subinterface of the subscriber namespace (802.1ad service tag 10, 802.1Q customer
// tag 100: the kernel tags its frames twice), another on an 802.1Q subinterface (VLAN
// 200); the AC serves both on its untagged eth0 (qinq = ["10.100-199"], vlans = [200])
// and terminates them locally. Each gets an address and pings the AC; the AC reports
// each session's tags; a frame on a pair it does not serve (service tag 11) is not
// answered. The kernel data plane binds the AC's sessions to subinterfaces it creates
// and removes them when it stops. It needs 802.1Q in the kernel (the kernel VM has it).
func TestPPPoEVLANs(t *testing.T) {
	b := netns.New(t)
	subNS, brasNS := b.NS("sub"), b.NS("bras")
	b.Link(subNS, "eth0", brasNS, "eth0")
	subNS.SetUp("eth0")
	qinq := subNS.QinQ("eth0", 10, 100)
	single := subNS.VLAN("eth0", 200)
	stray := subNS.QinQ("eth0", 11, 100) // a service tag the AC does not serve
	stopCapture := capture(t, brasNS, "eth0", "")

	bras := startDaemon(t, brasNS, "bras", `
[system]
l2tp_listen = []
[pppoe]
ac_name = "bras1"
[pppoe.interface.eth0]
vlans = [200]
qinq = ["10.100-199"]
[pppoe.service.internet]
route = "local"
ppp_profile = "subs"
[ppp_profile.subs]
auth = ["chap-md5"]
local_address = "100.64.0.1"
ipv6 = false
[ippool.default]
ranges = ["100.64.0.10-100.64.0.200"]
`, map[string]string{"secrets": "alice alice-secret\nbob bob-secret\ncarol carol-secret\n"})
	var cfg strings.Builder
	cfg.WriteString("[system]\nl2tp_listen = []\n")
	for i, c := range []struct{ user, ifc string }{{"alice", qinq}, {"bob", single}, {"carol", stray}} {
		fmt.Fprintf(&cfg, "[pppoe.client.%s]\ninterface = %q\nservice = \"internet\"\nppp_profile = %q\n", c.user, c.ifc, c.user)
		fmt.Fprintf(&cfg, "[ppp_profile.%s]\nusername = %q\npassword = \"%s-secret\"\nauth = []\nunit = \"dedicated\"\nipv6 = false\ninterface_name = \"ppp%d\"\n", c.user, c.user, c.user, i)
	}
	sub := startDaemon(t, subNS, "sub", cfg.String(), nil)

	for _, unit := range []string{"ppp0", "ppp1"} {
		netns.WaitFor(t, 60*time.Second, func() bool { return strings.HasPrefix(addrOf(subNS, unit), "100.64.0.") }, unit+"'s address from the AC pool")
	}
	subNS.Ping(t, "100.64.0.1", 2)
	var sessions []struct {
		VLANs string `json:"vlans"`
		User  string `json:"user"`
		State string `json:"state"`
	}
	cliJSON(t, bras, &sessions, "proac_info", "-j", "sessions")
	var got []string
	for _, s := range sessions {
		got = append(got, s.VLANs+" "+s.User+" "+s.State)
	}
	slices.Sort(got)
	if want := []string{"10.100 alice up", "200 bob up"}; !slices.Equal(got, want) {
		t.Errorf("AC sessions (vlans, user, state) %q, want %q", got, want)
	}
	if a := addrOf(subNS, "ppp2"); a != "" {
		t.Errorf("carol, on the unserved service tag 11, has ppp2 with %s", a)
	}
	if dataplane == "kernel" {
		// The AC's kernel PPPoE sockets are bound to the subinterfaces it made.
		links, _ := brasNS.Interfaces()
		for _, want := range []string{"eth0.s10", "eth0.s10.100", "eth0.200"} {
			if !slices.Contains(links, want) {
				t.Errorf("the AC namespace has %v, no %s", links, want)
			}
		}
	}

	// A reload that stops serving VLAN 200 changes the port in place: bob's session ends,
	// alice's goes on.
	old, err := os.ReadFile(bras.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bras.cfg, []byte(strings.Replace(string(old), "vlans = [200]\n", "", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	bras.cli("prol2tp", "reload")
	netns.WaitFor(t, 30*time.Second, func() bool { return countJSON(t, bras, "proac_info", "-j", "sessions") == 1 }, "bob's session on VLAN 200 to end")
	cliJSON(t, bras, &sessions, "proac_info", "-j", "sessions")
	if len(sessions) != 1 || sessions[0].User != "alice" || sessions[0].State != "up" {
		t.Errorf("AC sessions after the reload %+v, want alice's alone, up", sessions)
	}
	subNS.Ping(t, "100.64.0.1", 2)

	sub.stop()
	netns.WaitFor(t, 30*time.Second, func() bool { return countJSON(t, bras, "proac_info", "-j", "sessions") == 0 }, "the AC sessions to end")
	bras.stop()
	b.AssertNoLinks(brasNS, "lo", "eth0")
	sum, verbose := stopCapture()
	checkDecode(t, sum, verbose, "PADI", "PADO", "PADR", "PADS", "PADT", "LCP", "CHAP", "IPCP")
	for _, want := range []string{"802.1ad", "ID: 10\n", "ID: 100\n", "ID: 200\n"} {
		if !strings.Contains(verbose, want) {
			t.Errorf("the capture has no %q", want)
		}
	}
}

// TestPPPoEClientVLANs: the probox PPPoE client tags its own frames (vlan, service_vlan)
// on a plain veth, so it runs on any kernel: one client on QinQ 10.150, one on VLAN 200,
// against an AC serving both; each session comes up on its tags and passes a ping, and
// tshark decodes the tagged exchange cleanly.
func TestPPPoEClientVLANs(t *testing.T) {
	b := netns.New(t)
	subNS, brasNS := b.NS("sub"), b.NS("bras")
	b.Link(subNS, "eth0", brasNS, "eth0")
	stopCapture := capture(t, brasNS, "eth0", "")
	bras := startDaemon(t, brasNS, "bras", `
[system]
l2tp_listen = []
[pppoe]
ac_name = "bras1"
[pppoe.interface.eth0]
vlans = [200]
qinq = ["10.100-199"]
[pppoe.service.internet]
route = "local"
ppp_profile = "subs"
[ppp_profile.subs]
auth = ["chap-md5"]
local_address = "100.64.0.1"
ipv6 = false
[ippool.default]
ranges = ["100.64.0.10-100.64.0.200"]
`, map[string]string{"secrets": "alice alice-secret\nbob bob-secret\n"})
	var cfg strings.Builder
	cfg.WriteString("[system]\nl2tp_listen = []\n")
	for i, c := range []struct{ user, tags string }{{"alice", "vlan = 150\nservice_vlan = 10\n"}, {"bob", "vlan = 200\n"}} {
		fmt.Fprintf(&cfg, "[pppoe.client.%s]\ninterface = \"eth0\"\nservice = \"internet\"\nppp_profile = %q\n%s", c.user, c.user, c.tags)
		fmt.Fprintf(&cfg, "[ppp_profile.%s]\nusername = %q\npassword = \"%s-secret\"\nauth = []\nunit = \"dedicated\"\nipv6 = false\ninterface_name = \"ppp%d\"\n", c.user, c.user, c.user, i)
	}
	sub := startDaemon(t, subNS, "sub", cfg.String(), nil)
	for _, unit := range []string{"ppp0", "ppp1"} {
		netns.WaitFor(t, 60*time.Second, func() bool { return strings.HasPrefix(addrOf(subNS, unit), "100.64.0.") }, unit+"'s address from the AC pool")
	}
	for _, unit := range []string{"ppp0", "ppp1"} {
		if out, err := subNS.Run(t.Context(), "ping", "-c", "2", "-W", "5", "-I", unit, "100.64.0.1"); err != nil {
			t.Errorf("ping from %s: %v\n%s", unit, err, out)
		}
	}
	var sessions []struct {
		VLANs string `json:"vlans"`
		User  string `json:"user"`
	}
	cliJSON(t, bras, &sessions, "proac_info", "-j", "sessions")
	var got []string
	for _, s := range sessions {
		got = append(got, s.VLANs+" "+s.User)
	}
	slices.Sort(got)
	if want := []string{"10.150 alice", "200 bob"}; !slices.Equal(got, want) {
		t.Errorf("AC sessions (vlans, user) %q, want %q", got, want)
	}
	sub.stop()
	netns.WaitFor(t, 30*time.Second, func() bool { return countJSON(t, bras, "proac_info", "-j", "sessions") == 0 }, "the AC sessions to end")
	bras.stop()
	b.AssertNoLinks(subNS, "lo", "eth0")
	b.AssertNoLinks(brasNS, "lo", "eth0")
	sum, verbose := stopCapture()
	checkDecode(t, sum, verbose, "PADI", "PADO", "PADR", "PADS", "PADT", "LCP", "CHAP", "IPCP")
	for _, want := range []string{"802.1ad", "ID: 10\n", "ID: 150\n", "ID: 200\n"} {
		if !strings.Contains(verbose, want) {
			t.Errorf("the capture has no %q", want)
		}
	}
}
