package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/probox/probox/e2e/netns"
)

// TestEthernetPseudowire joins two probox boxes by an L2TPv3 Ethernet pseudowire, set up
// by the control protocol (UDP and IP encapsulation) or statically from configuration,
// and pings across the two pseudowire interfaces.
func TestEthernetPseudowire(t *testing.T) {
	for _, tc := range []struct {
		name   string
		a, b   string
		ifA    string
		ifB    string
		decode []string
	}{
		{
			name: "dynamic-udp",
			a: `
[tunnel_profile.pw]
version = 3
[session_profile.eth]
pw_type = "ethernet"
cookie_length = 8
l2spec = "default"
sequence_numbers = true
[tunnel.b]
peer = "192.0.2.2"
tunnel_profile = "pw"
[tunnel.b.session.s]
session_profile = "eth"
interface_name = "pwa"
`,
			b: `
[system]
l2tp_listen = ["192.0.2.2:1701"]
[tunnel_profile.default]
version = 3
[ethernet_profile.default]
interface_name = "pwb%d"
`,
			ifA: "pwa", ifB: "pwb0",
			decode: []string{"SCCRQ", "SCCRP", "SCCCN", "ICRQ", "ICRP", "ICCN"},
		},
		{
			name: "dynamic-ip",
			a: `
[tunnel_profile.pw]
version = 3
encap = "ip"
[session_profile.eth]
pw_type = "ethernet"
cookie_length = 4
[tunnel.b]
peer = "192.0.2.2"
tunnel_profile = "pw"
[tunnel.b.session.s]
session_profile = "eth"
interface_name = "pwa"
`,
			b: `
[system]
l2tp_listen = []
l2tp_ip_listen = ["192.0.2.2"]
[tunnel_profile.default]
version = 3
encap = "ip"
[ethernet_profile.default]
interface_name = "pwb%d"
`,
			ifA: "pwa", ifB: "pwb0",
		},
		{
			name: "static",
			a: `
[tunnel_profile.pw]
version = 3
[session_profile.eth]
pw_type = "ethernet"
[tunnel.b]
peer = "192.0.2.2"
local = "192.0.2.1"
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
`,
			b: `
[system]
l2tp_listen = []
[tunnel_profile.pw]
version = 3
[session_profile.eth]
pw_type = "ethernet"
[tunnel.a]
peer = "192.0.2.1"
local = "192.0.2.2"
tunnel_profile = "pw"
static = true
tunnel_id = 200
peer_tunnel_id = 100
[tunnel.a.session.s]
session_profile = "eth"
session_id = 2000
peer_session_id = 1000
cookie = "8899aabbccddeeff"
peer_cookie = "0011223344556677"
interface_name = "pwb0"
`,
			ifA: "pwa", ifB: "pwb0",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := netns.New(t)
			nsA, nsB := b.NS("a"), b.NS("b")
			b.Link(nsA, "eth0", nsB, "eth0")
			nsA.AddAddr("eth0", "192.0.2.1/24")
			nsB.AddAddr("eth0", "192.0.2.2/24")
			var stopCapture func() (string, string)
			if tc.decode != nil {
				stopCapture = capture(t, nsB, "eth0", "udp port 1701")
			}
			pb := startDaemon(t, nsB, "b", tc.b, nil)
			pa := startDaemon(t, nsA, "a", mergeTOML("[system]\nl2tp_listen = []\n", tc.a), nil)

			for _, s := range []struct {
				ns    *netns.NS
				iface string
				addr  string
			}{{nsA, tc.ifA, "198.51.100.1/24"}, {nsB, tc.ifB, "198.51.100.2/24"}} {
				netns.WaitFor(t, 30*time.Second, func() bool { return hasLink(s.ns, s.iface) }, "pseudowire interface "+s.iface+" in "+s.ns.Name())
				s.ns.AddAddr(s.iface, s.addr)
				s.ns.SetUp(s.iface)
			}
			nsA.Ping(t, "198.51.100.2", 3)
			nsB.Ping(t, "198.51.100.1", 3)

			out := pa.cli("prol2tp", "show", "sessions")
			if !strings.Contains(out, "ethernet") {
				t.Errorf("prol2tp show sessions does not show the Ethernet pseudowire:\n%s", out)
			}
			pa.stop()
			pb.stop()
			assertClean(t, b, nsA, []*daemon{pa}, "eth0")
			assertClean(t, b, nsB, []*daemon{pb}, "eth0")
			if stopCapture != nil {
				sum, verbose := stopCapture()
				checkDecode(t, sum, verbose, tc.decode...)
			}
		})
	}
}
