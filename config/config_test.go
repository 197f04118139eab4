package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDefaultsValidate(t *testing.T) {
	f := Default()
	if !f.Embedded() {
		t.Errorf("Default().Embedded() = false")
	}
	c := f.Config
	if got, want := c.TunnelProfiles["default"].HelloInterval, 60*time.Second; got != want {
		t.Errorf("default hello_interval = %s, want %s", got, want)
	}
	if got, want := c.Kernel.Dataplane, DataplaneAuto; got != want {
		t.Errorf("kernel.dataplane = %q, want %q", got, want)
	}
	if got := c.System.L2TPIPListen; len(got) != 0 {
		t.Errorf("system.l2tp_ip_listen = %q, want empty (L2TPv3 over IP is opt-in)", got)
	}
	if c.TunnelProfiles["default"].TieBreaker {
		t.Errorf("default tie_breaker = true, want false")
	}
	if got, want := c.Control.HTTPListen, "127.0.0.1:9107"; got != want {
		t.Errorf("control.http_listen = %q, want %q", got, want)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string
	}{
		{
			name: "syntax error",
			doc:  "[system\nmax_tunnels = 1\n",
			want: []string{"t.toml:1: syntax error at column 8: toml: expected character ]"},
		},
		{
			name: "unknown key with suggestion",
			doc:  "[system]\nmax_tunels = 3\n",
			want: []string{`t.toml:2: system.max_tunels: unknown key (did you mean "max_tunnels"?)`},
		},
		{
			name: "unknown key without suggestion",
			doc:  "[system]\nfrobnicate = true\n",
			want: []string{`t.toml:2: system.frobnicate: unknown key`},
		},
		{
			name: "unknown section",
			doc:  "\n[sytem]\nmax_tunnels = 3\n",
			want: []string{`t.toml:2: sytem: unknown key (did you mean "system"?)`},
		},
		{
			name: "wrong types",
			doc:  "[system]\nmax_tunnels = \"many\"\ndeny_remote_tunnel_creates = 1\nl2tp_listen = \"0.0.0.0:1701\"\n[log]\nlevel = 3\n",
			want: []string{
				`t.toml:2: system.max_tunnels: expected an integer, got string "many"`,
				`t.toml:3: system.deny_remote_tunnel_creates: expected true or false, got integer 1`,
				`t.toml:4: system.l2tp_listen: expected an array, got string "0.0.0.0:1701"`,
				`t.toml:6: log.level: expected a string, got integer 3`,
			},
		},
		{
			name: "bad duration",
			doc:  "[tunnel_profile.lns]\nhello_interval = 60\nretry_timeout = \"soon\"\n",
			want: []string{
				`t.toml:2: tunnel_profile.lns.hello_interval: expected a duration string such as "30s" or "1m30s", got integer 60`,
				`t.toml:3: tunnel_profile.lns.retry_timeout: expected a duration such as "30s" or "1m30s", got "soon"`,
			},
		},
		{
			name: "bad enum",
			doc:  "[kernel]\ndataplane = \"fast\"\n",
			want: []string{`t.toml:2: kernel.dataplane: must be one of auto, kernel, userspace, got "fast"`},
		},
		{
			name: "integer out of range",
			doc:  "[tunnel.t1]\npeer = \"192.0.2.1\"\ntunnel_id = -1\n",
			want: []string{`t.toml:3: tunnel.t1.tunnel_id: -1 is out of range (0..4294967295)`},
		},
		{
			name: "bad address in list",
			doc:  "[ppp_profile.p]\ndns = [\"192.0.2.53\", \"zz\"]\n",
			want: []string{`t.toml:2: ppp_profile.p.dns[1]: invalid value "zz": unable to parse IP`},
		},
		{
			name: "bad name",
			doc:  "[tunnel_profile.\"bad name\"]\nversion = 3\n",
			want: []string{`t.toml:1: tunnel_profile.bad name: invalid name "bad name": names start with a letter or digit and contain only letters, digits, '_' and '-' (at most 63)`},
		},
		{
			name: "values out of range",
			doc: "[tunnel_profile.lns]\nversion = 5\nhello_interval = \"500ms\"\nhide_avps = true\n" +
				"[tunnel_profile.v2ip]\nencap = \"ip\"\n",
			want: []string{
				`t.toml:2: tunnel_profile.lns.version: must be 2 or 3, got 5`,
				`t.toml:3: tunnel_profile.lns.hello_interval: must be 0 (off) or at least 1s, got 500ms`,
				`t.toml:4: tunnel_profile.lns.hide_avps: needs a secret`,
				`t.toml:6: tunnel_profile.v2ip.encap: "ip" encapsulation needs version = 3`,
			},
		},
		{
			name: "dangling references",
			doc:  "[ppp_profile.p]\nip_pool = \"nope\"\n[session_profile.s]\nppp_profile = \"gone\"\n",
			want: []string{
				`t.toml:2: ppp_profile.p.ip_pool: no ippool named "nope"`,
				`t.toml:4: session_profile.s.ppp_profile: no ppp_profile named "gone"`,
			},
		},
		{
			name: "pools overlap",
			doc:  "[ippool.a]\nranges = [\"10.0.0.0/24\"]\n[ippool.b]\nranges = [\"10.0.0.5-10.0.1.3\", \"10.9.0.9-10.9.0.1\"]\n",
			want: []string{
				`t.toml:4: ippool.b.ranges[0]: 10.0.0.5-10.0.1.3 overlaps ippool.a.ranges[0]`,
				`t.toml:4: ippool.b.ranges[1]: range "10.9.0.9-10.9.0.1": the last address is below the first`,
			},
		},
		{
			name: "pool overlaps built-in default",
			doc:  "[ippool.a]\nranges = [\"100.64.1.0/24\"]\n",
			want: []string{
				`t.toml:2: ippool.a.ranges[0]: 100.64.1.0/24 overlaps ippool.default.ranges[0] (the built-in default pool; set [ippool.default] ranges to move it)`,
			},
		},
		{
			name: "static tunnel needs IDs and v3",
			doc:  "[tunnel.s]\npeer = \"192.0.2.2\"\nstatic = true\n[tunnel.s.session.a]\ncookie = \"abc\"\n",
			want: []string{
				`t.toml:3: tunnel.s.static: static tunnels are L2TPv3: the tunnel profile must have version = 3`,
				`t.toml:4: tunnel.s.session.a.peer_session_id: is required in a static tunnel`,
				`t.toml:4: tunnel.s.session.a.session_id: is required in a static tunnel`,
				`t.toml:5: tunnel.s.session.a.cookie: must be 0, 4 or 8 bytes of hex, got "abc"`,
				`t.toml:1: tunnel.s.peer_tunnel_id: is required for a static tunnel`,
				`t.toml:1: tunnel.s.tunnel_id: is required for a static tunnel`,
			},
		},
		{
			name: "pppoe",
			doc:  "[pppoe.interface.eth1]\nvlans = [100, 100, 5000]\n[pppoe.service.internet]\nroute = \"lac\"\n[pppoe.route.r]\nrealm = \"isp.example\"\ntunnel = \"nope\"\n",
			want: []string{
				`t.toml:2: pppoe.interface.eth1.vlans[1]: VLAN 100 is listed twice`,
				`t.toml:2: pppoe.interface.eth1.vlans[2]: must be between 1 and 4094, got 5000`,
				`t.toml:3: pppoe.service.internet.tunnel: is required when route = "lac"`,
				`t.toml:7: pppoe.route.r.tunnel: no tunnel named "nope"`,
			},
		},
		{
			name: "pppoe qinq",
			doc:  "[pppoe.interface.eth1]\nqinq = [\"10.100\", \"10\", \"10.99-200\", \"4095.1\", \"20.300-200\", \"20.x\", \"20.1-4094\", \"21. 5\"]\n",
			want: []string{
				`t.toml:2: pppoe.interface.eth1.qinq[1]: must be "S.C" or "S.FIRST-LAST" (802.1ad service tag, 802.1Q customer tags, each from 1 to 4094), got "10"`,
				`t.toml:2: pppoe.interface.eth1.qinq[2]: "10.99-200" overlaps pppoe.interface.eth1.qinq[0] "10.100"`,
				`t.toml:2: pppoe.interface.eth1.qinq[3]: must be "S.C" or "S.FIRST-LAST" (802.1ad service tag, 802.1Q customer tags, each from 1 to 4094), got "4095.1"`,
				`t.toml:2: pppoe.interface.eth1.qinq[4]: customer tags 300-200: the range is empty (first after last)`,
				`t.toml:2: pppoe.interface.eth1.qinq[5]: must be "S.C" or "S.FIRST-LAST" (802.1ad service tag, 802.1Q customer tags, each from 1 to 4094), got "20.x"`,
				`t.toml:2: pppoe.interface.eth1.qinq[7]: must be "S.C" or "S.FIRST-LAST" (802.1ad service tag, 802.1Q customer tags, each from 1 to 4094), got "21. 5"`,
			},
		},
		{
			name: "pppoe client vlans",
			doc:  "[pppoe.client.a]\ninterface = \"eth0\"\nvlan = 4095\n[pppoe.client.b]\ninterface = \"eth0\"\nservice_vlan = 10\n[pppoe.client.c]\ninterface = \"eth0\"\nvlan = 100\nservice_vlan = -1\n",
			want: []string{
				`t.toml:3: pppoe.client.a.vlan: must be between 0 and 4094, got 4095`,
				`t.toml:6: pppoe.client.b.service_vlan: needs vlan, the customer tag inside the service tag`,
				`t.toml:10: pppoe.client.c.service_vlan: must be between 0 and 4094, got -1`,
			},
		},
		{
			name: "pppoe timers and fallback",
			doc:  "[pppoe]\ncookie_period = \"500ms\"\nlac_timeout = \"0s\"\nlcp_delay = \"11s\"\n[pppoe.service.internet]\nlocal_fallback = true\n",
			want: []string{
				`t.toml:2: pppoe.cookie_period: must be at least 1s, got 500ms`,
				`t.toml:3: pppoe.lac_timeout: must be at least 1s, got 0s`,
				`t.toml:4: pppoe.lcp_delay: must be between 0s and 10s, got 11s`,
				`t.toml:6: pppoe.service.internet.local_fallback: is only meaningful with route = "realm"`,
			},
		},
		{
			name: "pppoe client MAC addresses",
			doc: "[pppoe.client.a]\ninterface = \"eth0\"\nmac = \"02:00:00:00:01:05\"\n" +
				"[pppoe.client.b]\ninterface = \"eth0\"\nmac = \"02-00-00-00-01-05\"\n" +
				"[pppoe.client.c]\ninterface = \"eth0\"\nmac = \"01:00:5e:00:00:01\"\n" +
				"[pppoe.client.d]\ninterface = \"eth0\"\nmac = \"00:00:00:00:00:00\"\n" +
				"[pppoe.client.e]\ninterface = \"eth0\"\nmac = \"02:00:00:00:01\"\n" +
				"[pppoe.client.f]\ninterface = \"eth0\"\nmac = \"00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01\"\n",
			want: []string{
				`t.toml:6: pppoe.client.b.mac: 02:00:00:00:01:05 is also the address of pppoe.client.a on eth0`,
				`t.toml:9: pppoe.client.c.mac: 01:00:5e:00:00:01 is a group (multicast) address; a source address must be unicast`,
				`t.toml:12: pppoe.client.d.mac: must not be all zeros`,
				`t.toml:15: pppoe.client.e.mac: must be a MAC address such as "02:00:00:00:01:05", got "02:00:00:00:01"`,
				`t.toml:18: pppoe.client.f.mac: must be a MAC address such as "02:00:00:00:01:05", got "00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01"`,
			},
		},
		{
			name: "bad l2tp_ip_listen",
			doc:  "[system]\nl2tp_ip_listen = [\"0.0.0.0\", \"192.0.2.1:1701\"]\n",
			want: []string{`t.toml:2: system.l2tp_ip_listen[1]: must be an IP address such as "0.0.0.0" or "::" (no port: L2TPv3 over IP has none), got "192.0.2.1:1701"`},
		},
		{
			name: "inline table",
			doc:  "[tunnel_profile]\nlns = { version = 4 }\n",
			want: []string{`t.toml:2: tunnel_profile.lns.version: must be 2 or 3, got 4`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("t.toml", []byte(tt.doc))
			if err == nil {
				t.Fatalf("Parse succeeded (%+v), want errors", f.Config.System)
			}
			var errs *Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error is %T, want *Errors: %v", err, err)
			}
			var got []string
			for _, e := range errs.List() {
				got = append(got, e.Error())
			}
			if diff := cmp.Diff(sortedCopy(tt.want), sortedCopy(got)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	for i := range c {
		for j := i + 1; j < len(c); j++ {
			if c[j] < c[i] {
				c[i], c[j] = c[j], c[i]
			}
		}
	}
	return c
}

// TestPPPoEClientMAC: a client's MAC address is optional, written in any form net.ParseMAC
// takes and stored canonically, and the same address may serve clients on different
// interfaces.
func TestPPPoEClientMAC(t *testing.T) {
	f, err := Parse("t.toml", []byte(`
[pppoe.client.a]
interface = "eth0"
mac = "02-00-00-00-01-0A"
[pppoe.client.b]
interface = "eth1"
mac = "02:00:00:00:01:0a"
[pppoe.client.c]
interface = "eth0"
`))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for name, cl := range f.Config.PPPoE.Clients {
		got[name] = cl.MAC
	}
	want := map[string]string{"a": "02:00:00:00:01:0a", "b": "02:00:00:00:01:0a", "c": ""}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("client MAC addresses (-want +got):\n%s", diff)
	}
}

func TestProfileInheritance(t *testing.T) {
	f, err := Parse("t.toml", []byte(`
[tunnel_profile.default]
hello_interval = "20s"

[tunnel_profile.lns]
secret = "s3cret"
hide_avps = true

[peer_profile.lac1]
match = ["192.0.2.0/24"]
tunnel_profile = "lns"
`))
	if err != nil {
		t.Fatal(err)
	}
	lns := f.Config.TunnelProfiles["lns"]
	if lns.HelloInterval != 20*time.Second {
		t.Errorf("lns.hello_interval = %s, want 20s inherited from the default profile", lns.HelloInterval)
	}
	if lns.Version != 2 || lns.PeerPort != 1701 || !lns.HideAVPs || lns.Secret != "s3cret" {
		t.Errorf("lns = %+v, want built-in defaults plus the file's keys", lns)
	}
	peer := f.Config.PeerProfiles["lac1"]
	if peer.SessionProfile != "default" || peer.TunnelProfile != "lns" {
		t.Errorf("peer_profile.lac1 = %+v", peer)
	}
}

func TestLoadFiles(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "absent.toml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(absent) error = %v, want ErrNotExist", err)
	}
	if _, err := LoadOrDefault(filepath.Join(dir, "absent.toml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadOrDefault(explicit absent file) error = %v, want ErrNotExist", err)
	}
	p := filepath.Join(dir, "p.toml")
	if err := os.WriteFile(p, []byte("[system]\nmax_tunnels = 10\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if f.Path != p || f.Embedded() || f.Config.System.MaxTunnels != 10 {
		t.Errorf("Load = %q embedded=%t max_tunnels=%d", f.Path, f.Embedded(), f.Config.System.MaxTunnels)
	}
	out, err := f.TOML()
	if err != nil {
		t.Fatal(err)
	}
	// The effective configuration parses back to the same values.
	g, err := Parse("show.toml", out)
	if err != nil {
		t.Fatalf("effective config does not parse back: %v\n%s", err, out)
	}
	if diff := cmp.Diff(f.Config, g.Config); diff != "" {
		t.Errorf("round trip through TOML (-want +got):\n%s", diff)
	}
}

func TestExampleConfig(t *testing.T) {
	f, err := Load("../deploy/probox.toml")
	if err != nil {
		t.Fatalf("the example configuration does not load:\n%v", err)
	}
	if len(f.Config.PeerProfiles) < 2 || len(f.Config.IPPools) < 1 {
		t.Errorf("example config defines too little: %d peer profiles, %d pools", len(f.Config.PeerProfiles), len(f.Config.IPPools))
	}
}

func TestDiff(t *testing.T) {
	base := `
[tunnel_profile.lns]
secret = "a"
[ippool.p]
ranges = ["10.0.0.0/24"]
`
	a, err := Parse("a.toml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse("b.toml", []byte(base+`
[system]
max_tunnels = 5
[tunnel_profile.lac]
version = 3
[pppoe]
ac_name = "bras1"
`))
	if err != nil {
		t.Fatal(err)
	}
	b.Config.TunnelProfiles["lns"] = TunnelProfile{Version: 3}
	delete(b.Config.IPPools, "p")
	got := Diff(a.Config, b.Config)
	want := []Change{
		{"ippool.p", Removed},
		{"pppoe", Modified},
		{"system", Modified},
		{"tunnel_profile.lac", Added},
		{"tunnel_profile.lns", Modified},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Diff (-want +got):\n%s", diff)
	}
	if d := Diff(a.Config, a.Config); len(d) != 0 {
		t.Errorf("Diff of a config with itself = %v, want none", d)
	}
}

func TestReferenceInREADME(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- config-reference:begin -->\n", "<!-- config-reference:end -->"
	s := string(readme)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the %q ... %q markers", begin, end)
	}
	if diff := cmp.Diff(Reference(), s[i+len(begin):j]); diff != "" {
		t.Errorf("README.md configuration reference is out of date; run `make docs` (-want +got):\n%s", diff)
	}
}

func TestParseRange(t *testing.T) {
	tests := []struct {
		in          string
		first, last string
		size        uint64
		err         string
	}{
		{in: "10.0.0.0/24", first: "10.0.0.1", last: "10.0.0.254", size: 254},
		{in: "10.0.0.8/31", first: "10.0.0.8", last: "10.0.0.9", size: 2},
		{in: "10.0.0.9/32", first: "10.0.0.9", last: "10.0.0.9", size: 1},
		{in: "10.0.0.10-10.0.0.19", first: "10.0.0.10", last: "10.0.0.19", size: 10},
		{in: "2001:db8::/64", err: `"2001:db8::/64" is neither an IPv4 prefix (10.0.0.0/24) nor a range (10.0.0.10-10.0.0.99)`},
		{in: "10.0.0.1-x", err: `range "10.0.0.1-x": both ends must be IPv4 addresses`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := ParseRange(tt.in)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("ParseRange error = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.First.String() != tt.first || r.Last.String() != tt.last || r.Size() != tt.size {
				t.Errorf("ParseRange = %s-%s size %d, want %s-%s size %d", r.First, r.Last, r.Size(), tt.first, tt.last, tt.size)
			}
		})
	}
}
