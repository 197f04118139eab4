package l2tp

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/probox/probox/config"
	"github.com/probox/probox/kernel/kerneltest"
)

// TestTieBreaker: two hosts open tunnels to each other at the same moment. With tie
// breakers only the lower one's tunnel survives (RFC 2661 §4.4.3); without them both do.
func TestTieBreaker(t *testing.T) {
	for _, tt := range []struct {
		name       string
		tie        bool
		perSide    int
		initiators int
	}{{"tie breakers", true, 1, 1}, {"no tie breakers", false, 2, 2}} {
		t.Run(tt.name, func(t *testing.T) {
			within(t, func(t *testing.T) {
				n := kerneltestNetwork()
				doc := func(me, other string) string {
					return fmt.Sprintf(`
[system]
host_name = "%s"
[tunnel_profile.p]
tie_breaker = %t
[tunnel.peer]
peer = "%s"
tunnel_profile = "p"
`, me, tt.tie, other)
				}
				a := newNode(t, n, "a", doc("a", "192.0.2.2"), "192.0.2.1").start()
				b := newNode(t, n, "b", doc("b", "192.0.2.1"), "192.0.2.2").start()
				n.Hold(kerneltest.All)
				for _, nd := range []*node{a, b} {
					if _, err := nd.e.CreateTunnel(context.Background(), "peer"); err != nil {
						t.Fatal(err)
					}
				}
				synctest.Wait()
				if got := len(n.Pending()); got != 2 {
					t.Fatalf("%d packets held, want the two SCCRQs", got)
				}
				n.Hold(nil)
				n.ReleaseAll()
				time.Sleep(time.Second)
				synctest.Wait()
				initiators := 0
				for _, nd := range []*node{a, b} {
					ts := nd.tunnels()
					if len(ts) != tt.perSide {
						t.Fatalf("%s has %d tunnels, want %d: %+v", nd.name, len(ts), tt.perSide, ts)
					}
					for _, ti := range ts {
						if ti.State != "established" {
							t.Errorf("%s tunnel %d is %s", nd.name, ti.ID, ti.State)
						}
						if !ti.NetworkInitiated {
							initiators++
						}
					}
				}
				if initiators != tt.initiators {
					t.Errorf("%d tunnels we opened survived, want %d", initiators, tt.initiators)
				}
				stopAll(a, b)
				checkState(t, "network", "", n.State())
			})
		})
	}
}

// TestStaticPseudowire brings up mirrored static L2TPv3 Ethernet pseudowires, passes a
// frame, and removes one side by reload.
func TestStaticPseudowire(t *testing.T) {
	within(t, func(t *testing.T) {
		n := kerneltestNetwork()
		doc := func(peer string, tid, ptid, sid, psid int, ck, pck string) string {
			return fmt.Sprintf(`
[system]
l2tp_listen = []
[tunnel_profile.pw]
version = 3
encap = "ip"
[session_profile.eth]
pw_type = "ethernet"
l2spec = "default"
[tunnel.partner]
peer = "%s"
tunnel_profile = "pw"
static = true
tunnel_id = %d
peer_tunnel_id = %d
[tunnel.partner.session.site]
session_profile = "eth"
session_id = %d
peer_session_id = %d
cookie = "%s"
peer_cookie = "%s"
interface_name = "pw0"
`, peer, tid, ptid, sid, psid, ck, pck)
		}
		a := newNode(t, n, "a", doc("192.0.2.2", 100, 200, 1000, 2000, "0011223344556677", "8899aabbccddeeff"), "192.0.2.1").start()
		bDoc := doc("192.0.2.1", 200, 100, 2000, 1000, "8899aabbccddeeff", "0011223344556677")
		b := newNode(t, n, "b", bDoc, "192.0.2.2").start()
		// MTU: 1460 less IP 20, session ID 4, cookie 8, sublayer 4, Ethernet 14.
		want := `a: session 100/1000 peer 2000 pw ethernet if pw0 mtu 1410 cookie 0011223344556677 peer_cookie 8899aabbccddeeff l2spec default seq send=false recv=false
a: tunnel 100 v3 ip 192.0.2.1 -> 192.0.2.2 peer_tunnel 200
b: session 200/2000 peer 1000 pw ethernet if pw0 mtu 1410 cookie 8899aabbccddeeff peer_cookie 0011223344556677 l2spec default seq send=false recv=false
b: tunnel 200 v3 ip 192.0.2.2 -> 192.0.2.1 peer_tunnel 100
`
		checkState(t, "network", want, n.State())
		frame := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06, 1, 2, 3}
		bEnd := b.dp.InterfacePeer("pw0")
		if err := a.dp.InterfacePeer("pw0").Write(frame); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 100)
		if k, err := bEnd.Read(buf); err != nil || k != len(frame) {
			t.Errorf("frame across the pseudowire: %d bytes, %v", k, err)
		}
		evs := a.takeEvents()
		if diff := cmp.Diff([]string{"tunnel-created v3 ip name=partner", "tunnel-up v3 ip name=partner",
			"session-created pw=ethernet name=site", "session-up pw=ethernet name=site if=pw0"}, evs); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
		// Reloading b without the tunnel removes it; reloading it back restores it.
		bOld := b.e.CurrentConfig()
		empty := parseConfig(t, "[system]\nl2tp_listen = []\n")
		if err := b.e.Reload(empty, config.Diff(bOld, empty)); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		checkState(t, "b after removal", "", b.dp.State())
		if err := b.e.Reload(bOld, config.Diff(empty, bOld)); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if len(b.tunnels()) != 1 || len(b.sessions()) != 1 {
			t.Errorf("b after re-adding: %+v %+v", b.tunnels(), b.sessions())
		}
		// A modified static tunnel is recreated with the same IDs.
		mod := parseConfig(t, strings.Replace(bDoc, "tunnel_id = 200", "tunnel_id = 200\npersist = true", 1))
		if err := b.e.Reload(mod, config.Diff(bOld, mod)); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if len(b.tunnels()) != 1 || b.only().ID != 200 {
			t.Errorf("b after modification: %+v", b.tunnels())
		}
		stopAll(a, b)
		checkState(t, "network after stop", "", n.State())
	})
}

func parseConfig(t *testing.T, doc string) *config.Config {
	t.Helper()
	f, err := config.Parse("t.toml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return f.Config
}

// TestPPPClient: a configured tunnel with a configured session whose PPP profile has
// client credentials dials out (ICRQ, ICRP, ICCN) and starts PPP as the client; with
// persist set, it comes back after the LNS clears the session or the tunnel.
func TestPPPClient(t *testing.T) {
	within(t, func(t *testing.T) {
		n := kerneltestNetwork()
		lns := newNode(t, n, "lns", lnsDoc(""), "192.0.2.2").start()
		client := newNode(t, n, "client", `
[system]
host_name = "client"
l2tp_listen = []
[ppp_profile.isp]
username = "bob"
password = "secret"
[session_profile.dsl]
ppp_profile = "isp"
[tunnel.isp]
peer = "192.0.2.2"
persist = true
[tunnel.isp.session.dsl]
session_profile = "dsl"
`, "192.0.2.1").start()
		synctest.Wait()
		creq := client.ppp.requests()
		lreq := lns.ppp.requests()
		if len(creq) != 1 || !creq[0].Client || creq[0].Profile != "isp" || len(lreq) != 1 || lreq[0].Client {
			t.Fatalf("PPP requests: client %+v, lns %+v", creq, lreq)
		}
		if s := client.sessions(); len(s) != 1 || s[0].Name != "dsl" || s[0].Role != "lac-incoming" || s[0].State != "established" {
			t.Errorf("client sessions %+v", s)
		}
		// The LNS clears the session: the client places it again after the backoff.
		ls := lns.sessions()[0]
		if err := lns.e.DeleteSession(context.Background(), ref(ls.TunnelID), ls.ID, ""); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if len(client.sessions()) != 0 {
			t.Fatalf("client session survived the CDN")
		}
		time.Sleep(persistMinBackoff)
		synctest.Wait()
		if got := len(client.ppp.requests()); got != 2 {
			t.Errorf("client started PPP %d times, want 2", got)
		}
		// The LNS clears the tunnel: the client opens a new one after the backoff.
		first := client.only()
		if err := lns.e.DeleteTunnel(context.Background(), ref(ls.TunnelID), ""); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		time.Sleep(persistMinBackoff)
		synctest.Wait()
		var up []TunnelInfo
		for _, ti := range client.tunnels() {
			if ti.State == "established" {
				up = append(up, ti)
			}
		}
		if len(up) != 1 || up[0].ID == first.ID || len(client.ppp.requests()) != 3 {
			t.Errorf("client after the LNS cleared the tunnel: %+v, %d PPP starts", client.tunnels(), len(client.ppp.requests()))
		}
		// An administrative delete is not undone.
		if err := client.e.DeleteTunnel(context.Background(), "isp", ""); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if len(client.tunnels()) != 0 {
			t.Errorf("client tunnels after delete: %+v", client.tunnels())
		}
		stopAll(client, lns)
	})
}

// TestOutgoingCall: the LNS asks the LAC to place an outgoing call (OCRQ, OCRP, OCCN,
// RFC 2661 §7.5); the LAC accepts it on a configured tunnel.
func TestOutgoingCall(t *testing.T) {
	within(t, func(t *testing.T) {
		_, lac, lns := pair(t, "", "version = 2", "")
		if _, err := lac.e.CreateTunnel(context.Background(), "lns"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		si, err := lns.e.OutgoingCall(context.Background(), ref(lns.only().ID), OutgoingCallRequest{CalledNumber: "5551234"})
		if err != nil {
			t.Fatal(err)
		}
		if si.State != "wait-reply" || si.Role != "lns-outgoing" {
			t.Errorf("session after OCRQ: %+v", si)
		}
		synctest.Wait()
		ls, ns := lac.sessions(), lns.sessions()
		if len(ls) != 1 || len(ns) != 1 || ls[0].State != "established" || ns[0].State != "established" ||
			ls[0].Role != "lac-outgoing" || ls[0].CalledNumber != "5551234" {
			t.Fatalf("sessions: lac %+v, lns %+v", ls, ns)
		}
		if lr, nr := lac.ppp.requests(), lns.ppp.requests(); len(lr) != 1 || !lr[0].Client || len(nr) != 1 || nr[0].Client {
			t.Errorf("PPP: lac %+v lns %+v", lr, nr)
		}
		stopAll(lac, lns)
	})
}

// TestDynamicEthernet: a configured L2TPv3 Ethernet pseudowire between two engines, with
// cookies, the default sublayer and sequencing negotiated in ICRQ/ICRP (RFC 3931 §5.4.4).
func TestDynamicEthernet(t *testing.T) {
	within(t, func(t *testing.T) {
		n := kerneltestNetwork()
		lns := newNode(t, n, "lns", lnsDoc("[session_profile.default]\ncookie_length = 8\n"), "192.0.2.2").start()
		lac := newNode(t, n, "lac", lacDoc("192.0.2.2", "version = 3\nencap = \"ip\"", `
[session_profile.eth]
pw_type = "ethernet"
cookie_length = 4
l2spec = "default"
require_sequence = true
[tunnel.lns.session.site]
session_profile = "eth"
`), "192.0.2.1").start()
		synctest.Wait()
		lt, nt := lac.only(), lns.only()
		ls, ns := lac.sessions(), lns.sessions()
		if len(ls) != 1 || len(ns) != 1 {
			t.Fatalf("sessions: lac %+v lns %+v", ls, ns)
		}
		lc, nc := cookieOf(t, lac, lt.ID, ls[0].ID), cookieOf(t, lns, nt.ID, ns[0].ID)
		want := fmt.Sprintf(`lns: listener ip 0.0.0.0
lns: listener ip ::
lns: listener udp 0.0.0.0:1701
lns: listener udp [::]:1701
lns: session %d/%d peer %d pw ethernet if l2tpeth0 mtu 1414 cookie %s peer_cookie %s l2spec default seq send=true recv=false
lns: tunnel %d v3 ip 192.0.2.2 -> 192.0.2.1 peer_tunnel %d
lac: session %d/%d peer %d pw ethernet if l2tpeth0 mtu 1410 cookie %s peer_cookie %s l2spec default seq send=false recv=true
lac: tunnel %d v3 ip 192.0.2.1 -> 192.0.2.2 peer_tunnel %d
`, nt.ID, ns[0].ID, ls[0].ID, nc, lc, nt.ID, lt.ID, lt.ID, ls[0].ID, ns[0].ID, lc, nc, lt.ID, nt.ID)
		checkState(t, "network", want, n.State())
		stopAll(lac, lns)
	})
}

// cookieOf reads a session's cookie from the Fake's state line (snapshots show lengths
// only).
func cookieOf(t *testing.T, nd *node, tid, sid uint32) string {
	t.Helper()
	var c string
	for _, l := range splitLines(nd.dp.State()) {
		var a, b, p uint32
		var pw, ifn, mtu, ck string
		if _, err := fmt.Sscanf(l, "session %d/%d peer %d pw %s if %s mtu %s cookie %s", &a, &b, &p, &pw, &ifn, &mtu, &ck); err == nil && a == tid && b == sid {
			c = ck
		}
	}
	if c == "" {
		t.Fatalf("no cookie for session %d/%d in %q", tid, sid, nd.dp.State())
	}
	return c
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := range len(s) {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}

// TestConfigValidate covers the engine's own configuration checks.
func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want string
	}{
		{name: "defaults", doc: ""},
		{name: "ethernet over v2", doc: "[session_profile.eth]\npw_type = \"ethernet\"\n[tunnel.t]\npeer = \"192.0.2.2\"\n[tunnel.t.session.s]\nsession_profile = \"eth\"\n",
			want: `tunnel.t.session.s.session_profile: Ethernet pseudowires need L2TPv3, but tunnel profile "default" has version = 2`},
		{name: "peer ethernet over v2", doc: "[session_profile.eth]\npw_type = \"ethernet\"\n[peer_profile.p]\nsession_profile = \"eth\"\n",
			want: `peer_profile.p.session_profile: Ethernet pseudowires need L2TPv3, but tunnel profile "default" has version = 2`},
		{name: "static tunnel IDs clash", doc: "[tunnel_profile.v3]\nversion = 3\n[tunnel.a]\npeer = \"192.0.2.2\"\ntunnel_profile = \"v3\"\nstatic = true\ntunnel_id = 5\npeer_tunnel_id = 6\n" +
			"[tunnel.b]\npeer = \"192.0.2.3\"\ntunnel_profile = \"v3\"\nstatic = true\ntunnel_id = 5\npeer_tunnel_id = 6\n",
			want: "tunnel.b.tunnel_id: tunnel ID 5 is also used by tunnel.a"},
		{name: "bad local", doc: "[tunnel.t]\npeer = \"192.0.2.2\"\nlocal = \"host.example\"\n",
			want: `tunnel.t.local: local address "host.example" is not an IP address`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Config{Cfg: parseConfig(t, tt.doc)}.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Validate() = %q, want %q", got, tt.want)
			}
		})
	}
	if err := (Config{}).Validate(); err == nil {
		t.Error("Validate of an empty Config succeeded")
	}
}
