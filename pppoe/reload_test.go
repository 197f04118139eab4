package pppoe

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/probox/probox/config"
	"github.com/probox/probox/kernel/kerneltest"
	"github.com/probox/probox/ppp"
)

// TestReload adds an access interface and a client, removes the first interface (its
// session ends with a PADT and the port closes), rejects an invalid configuration, and
// removes a client, checking that sessions a change does not concern stay.
func TestReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := kerneltest.NewNetwork()
		acDP, cliDP := n.Dataplane("ac"), n.Dataplane("client")
		n.Ethernet("lan").Join(acDP, "eth1").Join(cliDP, "eth0")
		n.Ethernet("lan2").Join(acDP, "eth2").Join(cliDP, "eth5")
		ac := startBox(t, acDP, parseConfig(t, acLocalDoc, acSecrets), nil, 1)
		synctest.Wait()
		cli := startBox(t, cliDP, parseConfig(t, clientAliceDoc, ""), nil, 2)
		settle()
		first := must(ac.e.Sessions(context.Background()))
		if len(first) != 1 || first[0].State != "up" {
			t.Fatalf("sessions %+v", first)
		}

		// Add eth2 at the AC and a client on eth5.
		acDoc2 := acLocalDoc + "[pppoe.interface.eth2]\n"
		cfg2 := parseConfig(t, acDoc2, acSecrets)
		if err := ac.e.Reload(cfg2, config.Diff(parseConfig(t, acLocalDoc, acSecrets), cfg2)); err != nil {
			t.Fatal(err)
		}
		cliDoc2 := clientAliceDoc + "[pppoe.client.second]\ninterface = \"eth5\"\nppp_profile = \"alice\"\n"
		if err := cli.e.Reload(parseConfig(t, cliDoc2, ""), nil); err != nil {
			t.Fatal(err)
		}
		settle()
		list := must(ac.e.Sessions(context.Background()))
		var ifs []string
		for _, s := range list {
			ifs = append(ifs, s.Interface+" "+s.State)
			if s.Interface == "eth1" && (s.SessionID != first[0].SessionID || s.PPP.Instance != first[0].PPP.Instance) {
				t.Errorf("the eth1 session changed: %+v, was %+v", s, first[0])
			}
		}
		if diff := cmp.Diff([]string{"eth1 up", "eth2 up"}, ifs); diff != "" {
			t.Errorf("sessions after adding eth2 (-want +got):\n%s", diff)
		}
		ii := must(ac.e.Interfaces(context.Background()))
		if len(ii) != 2 || ii[1].Name != "eth2" || ii[1].Sessions != 1 || ii[1].MAC != "02:00:00:00:01:02" {
			t.Errorf("interfaces %+v", ii)
		}

		// An invalid configuration changes nothing.
		bad := parseConfig(t, acDoc2+"[tunnel.t1]\npeer = \"192.0.2.2\"\n[pppoe.service.corp]\nroute = \"lac\"\ntunnel = \"t1\"\n", acSecrets)
		if err := ac.e.Reload(bad, nil); err == nil || !strings.Contains(err.Error(), "pppoe.service.corp.route") {
			t.Errorf("Reload of a LAC service without a LAC: %v", err)
		}
		if got := ac.e.Services(); len(got) != 1 {
			t.Errorf("services after a rejected reload: %+v", got)
		}

		// Remove eth1: its session gets a PADT, then the port closes.
		cfg3 := parseConfig(t, strings.Replace(acDoc2, "[pppoe.interface.eth1]\n", "", 1), acSecrets)
		if err := ac.e.Reload(cfg3, nil); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		evs := ac.events("pppoe")
		last := evs[len(evs)-1]
		if last.Type.String() != "session-deleted" || last.Result.Message != "interface_removed" || last.Session.Interface != "eth1" {
			t.Errorf("last event %v %+v %+v", last.Type, last.Session, last.Result)
		}
		if strings.Contains(acDP.State(), "eth1") {
			t.Errorf("eth1 still open:\n%s", acDP.State())
		}
		if got := len(must(ac.e.Sessions(context.Background()))); got != 1 {
			t.Errorf("%d sessions after removing eth1, want 1", got)
		}

		// Remove the client "second": its PPP stops, it sends its PADT.
		if err := cli.e.Reload(parseConfig(t, clientAliceDoc, ""), nil); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		time.Sleep(time.Second)
		synctest.Wait()
		if got := len(must(ac.e.Sessions(context.Background()))); got != 0 {
			t.Errorf("%d sessions after removing the second client, want 0", got)
		}
		if got := cliDP.State(); strings.Contains(got, "eth5") {
			t.Errorf("client eth5 still open:\n%s", got)
		}
	})
}

func TestNewErrors(t *testing.T) {
	base := pppBase + "\n[pppoe.interface.eth1]\n"
	for _, tc := range []struct {
		name string
		doc  string
		deps func(*Deps)
		want string
	}{
		{"LAC service without a LAC", base + "[tunnel.t]\npeer = \"192.0.2.2\"\n[pppoe.service.s]\nroute = \"lac\"\ntunnel = \"t\"\n", nil,
			`pppoe.service.s.route: "lac" needs the L2TP LAC`},
		{"realm service without a LAC", base + "[tunnel.t]\npeer = \"192.0.2.2\"\n[pppoe.service.s]\nroute = \"realm\"\n[pppoe.route.r]\nrealm = \"x\"\ntunnel = \"t\"\n", nil,
			`pppoe.service.s.route: "realm" needs the L2TP LAC`},
		{"no PPP engine", base, func(d *Deps) { d.PPP = nil }, "need the PPP engine"},
		{"no data plane", base, func(d *Deps) { d.Dataplane = nil }, "no data plane"},
		{"client on an access interface", base + "[pppoe.client.c]\ninterface = \"eth1\"\n", nil,
			"pppoe.client.c.interface: eth1 is also an access interface"},
		{"AC-Name too long for a PADO", base + "[pppoe]\nac_name = \"" + strings.Repeat("x", 1450) + "\"\n", nil,
			"pppoe.service: AC-Name and service names need"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := parseConfig(t, tc.doc, "")
			dp := kerneltest.New()
			pe, _ := startPPP(t, dp, cfg, 1)
			deps := Deps{Dataplane: dp, PPP: pe}
			if tc.deps != nil {
				tc.deps(&deps)
			}
			_, err := New(Config{Cfg: cfg}, deps)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if err := (Config{}).Validate(); err == nil {
		t.Error("Validate of no configuration succeeded")
	}
}

// TestRunFails checks that Run fails when an access interface or a client's interface
// cannot be opened, leaving nothing open and no goroutine behind.
func TestRunFails(t *testing.T) {
	for _, tc := range []struct{ name, fail, want string }{
		{"access interface", "OpenPPPoE eth2", "pppoe.interface.eth2: no such device"},
		{"client interface", "OpenPPPoE eth4", "pppoe.client.c2.interface: no such device"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				dp := kerneltest.New()
				cfg := parseConfig(t, acLocalDoc+"[pppoe.interface.eth2]\n[pppoe.client.c1]\ninterface = \"eth3\"\n[pppoe.client.c2]\ninterface = \"eth4\"\n", "")
				pe, _ := startPPP(t, dp, cfg, 1)
				e := must(New(Config{Cfg: cfg}, Deps{Dataplane: dp, PPP: pe, Rand: newLockedRand(1)}))
				dp.FailNext(tc.fail, errors.New("no such device"))
				if err := e.Run(context.Background()); err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("Run: %v, want %q", err, tc.want)
				}
				if got := dp.State(); got != "" {
					t.Errorf("left open:\n%s", got)
				}
				if _, err := e.Sessions(context.Background()); !errors.Is(err, ErrStopped) {
					t.Errorf("Sessions after a failed Run: %v, want ErrStopped", err)
				}
			})
		})
	}
}

func TestRequestsBeforeRun(t *testing.T) {
	dp := kerneltest.New()
	cfg := parseConfig(t, acLocalDoc, "")
	pe, _ := startPPP(t, dp, cfg, 1)
	e := must(New(Config{Cfg: cfg}, Deps{Dataplane: dp, PPP: pe}))
	if _, err := e.Summary(context.Background()); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Summary before Run: %v, want ErrNotRunning", err)
	}
	if e.Name() != "pppoe" {
		t.Errorf("Name = %q", e.Name())
	}
	if got := e.Services(); len(got) != 1 || got[0].Route != "local" || got[0].PPPProfile != "default" {
		t.Errorf("Services = %+v", got)
	}
}

// TestSelectors covers Session and Disconnect selection errors.
func TestSelectors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newLocalBed(t, acLocalDoc, clientAliceDoc)
		settle()
		s := must(b.ac.e.Sessions(context.Background()))[0]
		got, err := b.ac.e.Session(context.Background(), Selector{SessionID: s.SessionID, Interface: "eth1"})
		if err != nil || got.MAC != s.MAC {
			t.Errorf("Session = %+v, %v", got, err)
		}
		if sum := must(b.ac.e.Summary(context.Background())); sum["pppoe_sessions"] != 1 {
			t.Errorf("Summary = %v", sum)
		}
		for _, sel := range []Selector{{SessionID: s.SessionID + 1}, {MAC: "02:00:00:00:09:09"}, {SessionID: s.SessionID, Interface: "eth9"}} {
			if _, err := b.ac.e.Disconnect(context.Background(), sel, ""); !errors.Is(err, ErrNotFound) {
				t.Errorf("Disconnect(%+v): %v, want ErrNotFound", sel, err)
			}
		}
		if _, err := b.ac.e.Disconnect(context.Background(), Selector{MAC: "zz"}, ""); err == nil {
			t.Error("Disconnect with a bad MAC succeeded")
		}
		if _, err := b.ac.e.Session(context.Background(), Selector{}); !errors.Is(err, ErrNotFound) {
			t.Errorf("Session without an ID: %v", err)
		}
		st := must(b.ac.e.Stats(context.Background()))
		if st.Sessions != 1 || st.ByRoute["local"] != 1 || st.Discovery["rx"]["PADI"] != 1 || st.Discovery["tx"]["PADS"] != 1 {
			t.Errorf("Stats = %+v", st)
		}
		cst := must(b.cli.e.Stats(context.Background()))
		if len(cst.Clients) != 1 || cst.Clients[0].State != "established" || cst.Clients[0].SessionID != s.SessionID ||
			cst.Clients[0].AC != "02:00:00:00:01:01" || cst.Clients[0].ACName != "bras1" || cst.Clients[0].PPP == "" {
			t.Errorf("client Stats = %+v", cst.Clients)
		}
	})
}

func TestRouter(t *testing.T) {
	cfg := parseConfig(t, pppBase+`
[tunnel.a]
peer = "192.0.2.2"
[tunnel.b]
peer = "192.0.2.3"
[pppoe.service.internet]
route = "realm"
[pppoe.service.corp]
route = "lac"
tunnel = "a"
backup_tunnel = "b"
[pppoe.service.any]
ppp_profile = "default"
[pppoe.route.one]
realm = "Example.NET"
tunnel = "a"
[pppoe.route.two]
realm = "other.net"
tunnel = "b"
backup_tunnel = "b"
`, "")
	r := newRouter(cfg)
	names, anyName := r.offered()
	if diff := cmp.Diff([]string{"corp", "internet"}, names); diff != "" || !anyName {
		t.Errorf("offered %v %v", names, anyName)
	}
	for _, tc := range []struct {
		name, service, user string
		wantSvc             string
		wantRoute           string
		wantTunnels         []string
		wantOK              bool
	}{
		{"realm, case-insensitive", "internet", "alice@example.net", "internet", "one", []string{"a"}, true},
		{"realm with backup equal to tunnel", "internet", "bob@other.net", "internet", "two", []string{"b"}, true},
		{"last @ wins", "internet", "x@y@other.net", "internet", "two", []string{"b"}, true},
		{"no realm", "internet", "carol", "internet", "", nil, false},
		{"unknown realm", "internet", "carol@nowhere", "internet", "", nil, false},
		{"lac service", "corp", "whoever", "corp", "", []string{"a", "b"}, true},
		{"unknown name goes to any", "tv", "", "any", "", nil, false},
		{"empty name goes to any", "", "", "any", "", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := r.serviceFor(tc.service)
			if svc.name != tc.wantSvc {
				t.Errorf("serviceFor(%q) = %q, want %q", tc.service, svc.name, tc.wantSvc)
			}
			route, tunnels, ok := r.tunnelsFor(svc, tc.user)
			if route != tc.wantRoute || ok != tc.wantOK || !cmp.Equal(tunnels, tc.wantTunnels) {
				t.Errorf("tunnelsFor = %q %v %v, want %q %v %v", route, tunnels, ok, tc.wantRoute, tc.wantTunnels, tc.wantOK)
			}
		})
	}
	// Without "any", the empty name is served by the first service in name order; with no
	// service at all, by local termination with the default profile.
	delete(cfg.PPPoE.Services, "any")
	if got := newRouter(cfg).serviceFor("").name; got != "corp" {
		t.Errorf("serviceFor(\"\") without any = %q, want corp", got)
	}
	cfg.PPPoE.Services = nil
	if got := newRouter(cfg).serviceFor(""); got.route != config.RouteLocal || got.profile != "default" {
		t.Errorf("serviceFor(\"\") with no service = %+v", got)
	}
}

func TestProxyAuthOf(t *testing.T) {
	pa := proxyAuthOf(pppProxyAuthPAP)
	if pa.Type != ProxyAuthenPAP || pa.Name != "alice" || string(pa.Response) != "secret" {
		t.Errorf("PAP: %+v", pa)
	}
	if s := pa.String(); strings.Contains(s, "secret") {
		t.Errorf("String leaks the password: %s", s)
	}
}

var pppProxyAuthPAP = ppp.ProxyAuth{Method: ppp.AuthPAP, Name: "alice", Response: []byte("secret")}
