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

	bras := vlanAC(t, brasNS)
	sub := startDaemon(t, subNS, "sub", vlanSubscribers(vlanClient{"alice", qinq, ""}, vlanClient{"bob", single, ""}, vlanClient{"carol", stray, ""}), nil)

	pingFromUnits(t, subNS, "ppp0", "ppp1")
	checkACTags(t, bras, "10.100 alice up", "200 bob up")
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
	checkACTags(t, bras, "10.100 alice up")
	pingFromUnits(t, subNS, "ppp0")

	sub.stop()
	netns.WaitFor(t, 30*time.Second, func() bool { return countJSON(t, bras, "proac_info", "-j", "sessions") == 0 }, "the AC sessions to end")
	bras.stop()
	b.AssertNoLinks(brasNS, "lo", "eth0")
	checkTaggedDecode(t, stopCapture, "10", "100", "200")
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
	bras := vlanAC(t, brasNS)
	sub := startDaemon(t, subNS, "sub", vlanSubscribers(vlanClient{"alice", "eth0", "vlan = 150\nservice_vlan = 10\n"}, vlanClient{"bob", "eth0", "vlan = 200\n"}), nil)
	pingFromUnits(t, subNS, "ppp0", "ppp1")
	checkACTags(t, bras, "10.150 alice up", "200 bob up")
	sub.stop()
	netns.WaitFor(t, 30*time.Second, func() bool { return countJSON(t, bras, "proac_info", "-j", "sessions") == 0 }, "the AC sessions to end")
	bras.stop()
	b.AssertNoLinks(subNS, "lo", "eth0")
	b.AssertNoLinks(brasNS, "lo", "eth0")
	checkTaggedDecode(t, stopCapture, "10", "150", "200")
}

// vlanAC is an AC serving VLAN 200 and QinQ 10.100-199 on its eth0 (localAC).
func vlanAC(t *testing.T, ns *netns.NS) *daemon {
	t.Helper()
	return localAC(t, ns, "vlans = [200]\nqinq = [\"10.100-199\"]\n")
}

// localAC is an AC on its eth0 (with the keys ifaceKeys of [pppoe.interface.eth0]) that
// terminates PPP locally, with the users alice, bob and carol, addresses from
// 100.64.0.10-200 and its own 100.64.0.1.
func localAC(t *testing.T, ns *netns.NS, ifaceKeys string) *daemon {
	t.Helper()
	return startDaemon(t, ns, "bras", `
[system]
l2tp_listen = []
[pppoe]
ac_name = "bras1"
[pppoe.interface.eth0]
`+ifaceKeys+`[pppoe.service.internet]
route = "local"
ppp_profile = "subs"
[ppp_profile.subs]
auth = ["chap-md5"]
local_address = "100.64.0.1"
ipv6 = false
[ippool.default]
ranges = ["100.64.0.10-100.64.0.200"]
`, map[string]string{"secrets": "alice alice-secret\nbob bob-secret\ncarol carol-secret\n"})
}

// pingFromUnits waits for each unit's address from the AC pool and pings the AC from it.
func pingFromUnits(t *testing.T, ns *netns.NS, units ...string) {
	t.Helper()
	for _, unit := range units {
		netns.WaitFor(t, 60*time.Second, func() bool { return strings.HasPrefix(addrOf(ns, unit), "100.64.0.") }, unit+"'s address from the AC pool")
		if out, err := ns.Run(t.Context(), "ping", "-c", "2", "-W", "5", "-I", unit, "100.64.0.1"); err != nil {
			t.Errorf("ping from %s: %v\n%s", unit, err, out)
		}
	}
}

// vlanClient is one PPPoE client of vlanSubscribers: user on interface ifc, with extra
// keys (vlan, service_vlan).
type vlanClient struct{ user, ifc, extra string }

// vlanSubscribers is a probox PPPoE client config: client i gets the unit pppI.
func vlanSubscribers(clients ...vlanClient) string {
	var cfg strings.Builder
	cfg.WriteString("[system]\nl2tp_listen = []\n")
	for i, c := range clients {
		fmt.Fprintf(&cfg, "[pppoe.client.%s]\ninterface = %q\nservice = \"internet\"\nppp_profile = %q\n%s", c.user, c.ifc, c.user, c.extra)
		fmt.Fprintf(&cfg, "[ppp_profile.%s]\nusername = %q\npassword = \"%s-secret\"\nauth = []\nunit = \"dedicated\"\nipv6 = false\ninterface_name = \"ppp%d\"\n", c.user, c.user, c.user, i)
	}
	return cfg.String()
}

// checkACTags checks the AC's sessions: "VLANS USER STATE" each, in any order.
func checkACTags(t *testing.T, bras *daemon, want ...string) {
	t.Helper()
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
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("AC sessions (vlans, user, state) %q, want %q", got, want)
	}
}

// checkTaggedDecode checks a capture of the AC's eth0: a clean decode of the PPPoE
// exchange, with the tags given.
func checkTaggedDecode(t *testing.T, stopCapture func() (string, string), tags ...string) {
	t.Helper()
	sum, verbose := stopCapture()
	checkDecode(t, sum, verbose, "PADI", "PADO", "PADR", "PADS", "PADT", "LCP", "CHAP", "IPCP")
	if !strings.Contains(verbose, "802.1ad") {
		t.Errorf("the capture has no 802.1ad service tag")
	}
	for _, id := range tags {
		if !strings.Contains(verbose, "ID: "+id+"\n") {
			t.Errorf("the capture has no VLAN ID %s", id)
		}
	}
}
