package ppp

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/probox/probox/config"
	events "github.com/probox/probox/control/event"
	"github.com/probox/probox/control/metricstest"
	"github.com/probox/probox/kernel"
)

const testSecrets = `# test users
alice alice-secret
"bob smith" "bob \"the\" secret" 10.0.0.7
carol carol-secret 192.0.2.200
`

// testTOML is the configuration of the engine tests: server profiles per method, client
// profiles, a one-address pool.
const testTOML = `
[system]
host_name = "lns1"
secrets_file = "%s"

[ippool.default]
ranges = ["10.0.0.2-10.0.0.9"]

[ippool.tiny]
ranges = ["10.1.0.2/32"]

[ppp_profile.default]
auth = ["chap-md5"]
local_address = "10.0.0.1"
dns = ["192.0.2.53", "192.0.2.54"]
ipv6 = true
lcp_echo_interval = "10s"
lcp_echo_failure = 3

[ppp_profile.pap]
auth = ["pap"]

[ppp_profile.mschap]
auth = ["mschapv2"]

[ppp_profile.rechallenge]
chap_interval = "60s"

[ppp_profile.twice]
max_auth_failures = 2

[ppp_profile.v4only]
ipv6 = false

[ppp_profile.tiny]
ip_pool = "tiny"
ipv6 = false

[ppp_profile.noauth]
auth = []
ipv6 = false

[ppp_profile.renegotiate]
proxy_lcp = "renegotiate"

[ppp_profile.client]
auth = ["chap-md5", "mschapv2", "pap"]
username = "alice"
password = "alice-secret"
default_route = true
unit = "dedicated"
lcp_echo_interval = "0s"

[ppp_profile.client-v4]
auth = ["chap-md5", "mschapv2", "pap"]
username = "alice"
password = "alice-secret"
unit = "dedicated"
ipv6 = false
lcp_echo_interval = "0s"

[ppp_profile.wrongpw]
auth = ["chap-md5", "mschapv2", "pap"]
username = "alice"
password = "not-her-secret"
lcp_echo_interval = "0s"

[ppp_profile.mallory]
auth = ["chap-md5", "mschapv2", "pap"]
username = "mallory"
password = "whatever"
lcp_echo_interval = "0s"

[ppp_profile.carol]
auth = ["pap"]
username = "carol"
password = "carol-secret"
lcp_echo_interval = "0s"

[ppp_profile.bob]
auth = ["chap-md5", "mschapv2", "pap"]
username = "bob smith"
password = 'bob "the" secret'
lcp_echo_interval = "0s"
`

// testConfig writes the secrets file and returns the test configuration.
func testConfig(t testing.TB) *config.Config {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "secrets")
	if err := os.WriteFile(path, []byte(testSecrets), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := config.Parse("test.toml", []byte(fmt.Sprintf(testTOML, path)))
	if err != nil {
		t.Fatal(err)
	}
	return f.Config
}

// testEngine is a running engine with its fakes.
type testEngine struct {
	*Engine
	dp     *fakeDP
	bus    *events.Bus
	sub    *events.Subscription
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan error
}

func startEngine(t testing.TB, cfg *config.Config, auth AuthBackend) *testEngine {
	t.Helper()
	return startEngineWith(t, cfg, Deps{Auth: auth})
}

// startEngineWith starts an engine with deps, whose data plane, registry and bus it fills
// in.
func startEngineWith(t testing.TB, cfg *config.Config, deps Deps) *testEngine {
	t.Helper()
	te := &testEngine{dp: &fakeDP{}, bus: events.NewBus(nil), reg: prometheus.NewRegistry(), done: make(chan error, 1)}
	te.sub = te.bus.Subscribe(1000, nil)
	deps.Dataplane, deps.Registry, deps.Bus = te.dp, te.reg, te.bus
	e, err := New(Config{Cfg: cfg}, deps)
	if err != nil {
		t.Fatal(err)
	}
	te.Engine = e
	ctx, cancel := context.WithCancel(context.Background())
	te.cancel = cancel
	go func() { te.done <- e.Run(ctx) }()
	return te
}

// stop stops the engine and waits for Run to return.
func (te *testEngine) stop(t testing.TB) {
	t.Helper()
	te.cancel()
	if err := <-te.done; err != nil {
		t.Errorf("Run: %v", err)
	}
	te.sub.Close()
}

// eventLog drains the events published so far as "type phase" lines.
func (te *testEngine) eventLog() []string {
	var out []string
	for {
		select {
		case ev := <-te.sub.C():
			s := ev.Type.String()
			if ev.Type == events.PPPPhase {
				s += " " + ev.PPP.Phase
			}
			out = append(out, s)
		default:
			return out
		}
	}
}

// drainEvents returns the events published so far.
func (te *testEngine) drainEvents() []events.Event {
	var out []events.Event
	for {
		select {
		case ev := <-te.sub.C():
			out = append(out, ev)
		default:
			return out
		}
	}
}

func mustStart(t testing.TB, e *testEngine, req StartRequest) *Handle {
	t.Helper()
	h, err := e.Start(req)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func info(t testing.TB, h *Handle) SessionInfo {
	t.Helper()
	si, err := h.Info(context.Background())
	if err != nil {
		t.Fatalf("%s: Info: %v", h.Instance(), err)
	}
	return si
}

// pair starts a server session and a client session joined by a channel pair.
func pair(t testing.TB, srv, cli *testEngine, srvProfile, cliProfile string) (hs, hc *Handle, a, b *fakeChan) {
	t.Helper()
	a, b = newPipe(1500)
	hs = mustStart(t, srv, StartRequest{Channel: a, Role: RoleServer, Carrier: CarrierL2TP, Profile: srvProfile,
		Info: CarrierInfo{TunnelID: 10, SessionID: 20, CallingStation: "0123"}})
	hc = mustStart(t, cli, StartRequest{Channel: b, Role: RoleClient, Carrier: CarrierL2TP, Profile: cliProfile})
	return hs, hc, a, b
}

var endOpts = cmp.Options{
	cmp.FilterPath(func(p cmp.Path) bool {
		switch p.Last().String() {
		case ".Started", ".Up", ".Ended", ".Link", ".Network":
			return true
		}
		return false
	}, cmp.Ignore()),
}

func TestBackToBack(t *testing.T) {
	dnsWant := []string{"192.0.2.53", "192.0.2.54"}
	tests := []struct {
		name    string
		profile string
		auth    string
	}{
		{"PAP", "pap", "pap"},
		{"CHAP-MD5", "default", "chap-md5"},
		{"MS-CHAPv2", "mschap", "mschapv2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := testConfig(t)
				srv, cli := startEngine(t, cfg, nil), startEngine(t, cfg, nil)
				hs, hc, a, b := pair(t, srv, cli, tt.profile, "client")
				synctest.Wait()

				si, ci := info(t, hs), info(t, hc)
				if si.State != "up" || ci.State != "up" {
					t.Fatalf("states: server %s (%s), client %s (%s)", si.State, si.Phase, ci.State, ci.Phase)
				}
				gotS := []string{si.Auth, si.User, si.LocalIP, si.PeerIP, si.IPCP, si.IPv6CP, si.Interface}
				wantS := []string{tt.auth, "alice", "10.0.0.1", "10.0.0.2", "Opened", "Opened", "shared0"}
				if diff := cmp.Diff(wantS, gotS); diff != "" {
					t.Errorf("server session (-want +got):\n%s", diff)
				}
				gotC := []string{ci.Auth, ci.User, ci.LocalIP, ci.PeerIP, ci.Interface}
				wantC := []string{tt.auth, "alice", "10.0.0.2", "10.0.0.1", "ppp0"}
				if diff := cmp.Diff(wantC, gotC); diff != "" {
					t.Errorf("client session (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(dnsWant, ci.DNS); diff != "" {
					t.Errorf("client DNS (-want +got):\n%s", diff)
				}
				if si.PeerIPv6 == "" || si.PeerIPv6 != ci.LocalIPv6 || si.LocalIPv6 != ci.PeerIPv6 {
					t.Errorf("IPv6 link-locals: server %s/%s client %s/%s", si.LocalIPv6, si.PeerIPv6, ci.LocalIPv6, ci.PeerIPv6)
				}

				// The units: the client's dedicated one with the default route, the
				// server's on the shared interface with the peer's address.
				su, cu := srv.dp.allUnits(), cli.dp.allUnits()
				if len(su) != 1 || len(cu) != 1 {
					t.Fatalf("units: server %d, client %d", len(su), len(cu))
				}
				if !su[0].cfg.Shared || cu[0].cfg.Shared {
					t.Errorf("shared: server %t client %t", su[0].cfg.Shared, cu[0].cfg.Shared)
				}
				sst, _, _ := su[0].last()
				cst, _, _ := cu[0].last()
				wantSrv := kernel.UnitState{MTU: 1500, IPv4Local: mustAddr("10.0.0.1"), IPv4Peer: mustAddr("10.0.0.2"),
					IPv6Local: mustAddr(si.LocalIPv6), IPv6Peer: mustAddr(si.PeerIPv6)}
				wantCli := kernel.UnitState{MTU: 1500, IPv4Local: mustAddr("10.0.0.2"), IPv4Peer: mustAddr("10.0.0.1"),
					IPv6Local: mustAddr(ci.LocalIPv6), IPv6Peer: mustAddr(ci.PeerIPv6),
					Routes: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}}
				if diff := cmp.Diff(wantSrv, sst, cmpAddrs); diff != "" {
					t.Errorf("server unit (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(wantCli, cst, cmpAddrs); diff != "" {
					t.Errorf("client unit (-want +got):\n%s", diff)
				}
				if got := srv.Pools()[0]; got.Name != "default" || got.Used != 1 {
					t.Errorf("pool while up: %+v", got)
				}

				// The client hangs up.
				hc.Stop("user request")
				<-hc.Done()
				<-hs.Done()
				want := EndResult{Cause: CauseAdmin, Reason: "user request", By: ByLocal, User: "alice"}
				if diff := cmp.Diff(want, hc.Result(), endOpts); diff != "" {
					t.Errorf("client result (-want +got):\n%s", diff)
				}
				want = EndResult{Cause: CausePeerTerminated, Reason: `peer terminated the link: "user request"`, By: ByPeer, User: "alice"}
				if diff := cmp.Diff(want, hs.Result(), endOpts); diff != "" {
					t.Errorf("server result (-want +got):\n%s", diff)
				}
				r := hs.Result()
				if r.Up.IsZero() || r.Ended.Before(r.Up) || r.Link.RxPackets == 0 || r.Network.RxPackets != 7 {
					t.Errorf("server accounting: %+v", r)
				}
				if _, closed, _ := su[0].last(); !closed {
					t.Error("server unit not closed")
				}
				if !a.isClosed() || !b.isClosed() {
					t.Error("channels not closed")
				}
				if got := srv.Pools()[0].Used; got != 0 {
					t.Errorf("pool addresses used after the end: %d", got)
				}
				wantEvents := []string{
					"session-created", "ppp-phase establish", "ppp-phase authenticate", "ppp-phase network",
					"ppp-phase running", "session-up", "ppp-phase terminate", "ppp-phase dead", "session-down", "session-deleted",
				}
				if diff := cmp.Diff(wantEvents, srv.eventLog()); diff != "" {
					t.Errorf("server events (-want +got):\n%s", diff)
				}
				srv.stop(t)
				cli.stop(t)
			})
		})
	}
}

var cmpAddrs = cmp.Options{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
}

func mustAddr(s string) netip.Addr {
	if s == "" {
		return netip.Addr{}
	}
	return netip.MustParseAddr(s)
}

func TestEventsAndMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig(t)
		srv, cli := startEngine(t, cfg, nil), startEngine(t, cfg, nil)
		hs, hc, _, _ := pair(t, srv, cli, "default", "client")
		synctest.Wait()
		sum, _ := srv.Summary(context.Background())
		if diff := cmp.Diff(map[string]int{"ppp_sessions": 1, "ppp_up": 1}, sum); diff != "" {
			t.Errorf("Summary (-want +got):\n%s", diff)
		}
		const up = `probox_ppp_pool_addresses{pool="default",state="free"} 7
probox_ppp_pool_addresses{pool="default",state="used"} 1
probox_ppp_pool_addresses{pool="tiny",state="free"} 1
probox_ppp_pool_addresses{pool="tiny",state="used"} 0
probox_ppp_sessions{phase="authenticate"} 0
probox_ppp_sessions{phase="establish"} 0
probox_ppp_sessions{phase="network"} 0
probox_ppp_sessions{phase="running"} 1
probox_ppp_sessions{phase="terminate"} 0
`
		if diff := cmp.Diff(up, metricstest.Scrape(t, srv.reg, "probox_ppp_sessions", "probox_ppp_pool_addresses")); diff != "" {
			t.Errorf("metrics while up (-want +got):\n%s", diff)
		}

		evs := srv.drainEvents()
		var upEv *events.Event
		for i := range evs {
			if evs[i].Type == events.SessionUp {
				upEv = &evs[i]
			}
		}
		if upEv == nil {
			t.Fatal("no session-up event")
		}
		wantUp := events.Event{
			Type: events.SessionUp, Engine: "ppp",
			Session: &events.Session{ID: 20, TunnelID: 10, Name: "session-1", Profile: "default", PWType: "ppp", Interface: "shared0", User: "alice"},
			PPP: &events.PPP{Instance: "session-1", Phase: "running", Role: "server", Carrier: "l2tp", User: "alice", Auth: "chap-md5",
				Interface: "shared0", LocalIP: "10.0.0.1", PeerIP: "10.0.0.2", LocalIPv6: upEv.PPP.LocalIPv6, PeerIPv6: upEv.PPP.PeerIPv6,
				DNS: []string{"192.0.2.53", "192.0.2.54"}},
		}
		if diff := cmp.Diff(wantUp, *upEv, cmp.FilterPath(func(p cmp.Path) bool {
			switch p.Last().String() {
			case ".Seq", ".Time", ".Started", ".Stats":
				return true
			}
			return false
		}, cmp.Ignore())); diff != "" {
			t.Errorf("session-up event (-want +got):\n%s", diff)
		}

		hs.Stop("operator")
		<-hs.Done()
		<-hc.Done()
		evs = srv.drainEvents()
		last := evs[len(evs)-1]
		if last.Type != events.SessionDeleted || last.Result == nil || last.Result.Reason != "operator" || last.PPP.Stats == nil || last.PPP.Stats.TxPackets == 0 {
			t.Errorf("last event: %+v result %+v", last, last.Result)
		}
		const ended = `probox_ppp_auth_total{method="chap-md5",result="failure"} 0
probox_ppp_auth_total{method="chap-md5",result="success"} 1
probox_ppp_auth_total{method="chap-md5",result="timeout"} 0
probox_ppp_auth_total{method="mschapv2",result="failure"} 0
probox_ppp_auth_total{method="mschapv2",result="success"} 0
probox_ppp_auth_total{method="mschapv2",result="timeout"} 0
probox_ppp_auth_total{method="pap",result="failure"} 0
probox_ppp_auth_total{method="pap",result="success"} 0
probox_ppp_auth_total{method="pap",result="timeout"} 0
probox_ppp_sessions{phase="authenticate"} 0
probox_ppp_sessions{phase="establish"} 0
probox_ppp_sessions{phase="network"} 0
probox_ppp_sessions{phase="running"} 0
probox_ppp_sessions{phase="terminate"} 0
`
		if diff := cmp.Diff(ended, metricstest.Scrape(t, srv.reg, "probox_ppp_auth_total", "probox_ppp_sessions")); diff != "" {
			t.Errorf("metrics after the end (-want +got):\n%s", diff)
		}
		if got := metricstest.Value(t, srv.reg, "probox_ppp_sessions_total", `result="admin"`); got != "1" {
			t.Errorf(`sessions_total{result="admin"} = %s, want 1`, got)
		}
		st := srv.Status()
		if st.Ended["admin"] != 1 || len(st.Auth) != 1 || st.Auth[0].Success != 1 || st.LocalUsers != 3 {
			t.Errorf("Status: %+v", st)
		}
		srv.stop(t)
		cli.stop(t)
	})
}

func TestFailures(t *testing.T) {
	tests := []struct {
		name       string
		srvProfile string
		cliProfile string
		srv, cli   EndResult
		// sentBefore: the server sent the first packet before the second.
		sentBefore [2]string
	}{
		{
			name: "wrong password", srvProfile: "default", cliProfile: "wrongpw",
			srv:        EndResult{Cause: CauseAuthFailed, Reason: "authentication failed", By: ByLocal, AuthFailed: true, User: "alice"},
			cli:        EndResult{Cause: CauseAuthFailed, Reason: "authentication rejected by peer: Access denied", By: ByLocal, AuthFailed: true, User: "alice"},
			sentBefore: [2]string{"CHAP 4", "LCP 5"}, // Failure, then Terminate-Request
		},
		{
			name: "wrong PAP password", srvProfile: "pap", cliProfile: "wrongpw",
			srv:        EndResult{Cause: CauseAuthFailed, Reason: "authentication failed", By: ByLocal, AuthFailed: true, User: "alice"},
			cli:        EndResult{Cause: CauseAuthFailed, Reason: "authentication rejected by peer: Login incorrect", By: ByLocal, AuthFailed: true, User: "alice"},
			sentBefore: [2]string{"PAP 3", "LCP 5"}, // Nak, then Terminate-Request
		},
		{
			name: "unknown user", srvProfile: "mschap", cliProfile: "mallory",
			srv:        EndResult{Cause: CauseAuthFailed, Reason: "authentication failed", By: ByLocal, AuthFailed: true, User: "mallory"},
			cli:        EndResult{Cause: CauseAuthFailed, Reason: "authentication rejected by peer: Access denied", By: ByLocal, AuthFailed: true, User: "mallory"},
			sentBefore: [2]string{"CHAP 4", "LCP 5"},
		},
		{
			name: "no authentication", srvProfile: "noauth", cliProfile: "client-v4",
			srv: EndResult{Cause: CauseAdmin, Reason: "done", By: ByLocal},
			cli: EndResult{Cause: CausePeerTerminated, Reason: `peer terminated the link: "done"`, By: ByPeer},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := testConfig(t)
				srv, cli := startEngine(t, cfg, nil), startEngine(t, cfg, nil)
				hs, hc, a, _ := pair(t, srv, cli, tt.srvProfile, tt.cliProfile)
				synctest.Wait()
				if tt.srv.Cause == CauseAdmin {
					hs.Stop("done")
				}
				<-hs.Done()
				<-hc.Done()
				if diff := cmp.Diff(tt.srv, hs.Result(), endOpts); diff != "" {
					t.Errorf("server result (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(tt.cli, hc.Result(), endOpts); diff != "" {
					t.Errorf("client result (-want +got):\n%s", diff)
				}
				if tt.sentBefore[0] != "" {
					sent := a.sentPackets()
					i, j := indexOf(sent, tt.sentBefore[0]), indexOf(sent, tt.sentBefore[1])
					if i < 0 || j < 0 || i > j {
						t.Errorf("server sent %v: want %q before %q", sent, tt.sentBefore[0], tt.sentBefore[1])
					}
				}
				if len(srv.dp.allUnits()) != 0 && tt.srv.AuthFailed {
					t.Error("a unit was created for a failed session")
				}
				srv.stop(t)
				cli.stop(t)
			})
		})
	}
}

func TestPoolExhausted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig(t)
		srv, cli := startEngine(t, cfg, nil), startEngine(t, cfg, nil)
		hs1, hc1, _, _ := pair(t, srv, cli, "tiny", "client-v4")
		synctest.Wait()
		if si := info(t, hs1); si.PeerIP != "10.1.0.2" || si.Pool != "tiny" {
			t.Fatalf("first session: %+v", si)
		}
		hs2, hc2, _, _ := pair(t, srv, cli, "tiny", "client-v4")
		<-hs2.Done()
		<-hc2.Done()
		want := EndResult{Cause: CausePoolExhausted, Reason: "address pool exhausted", By: ByLocal, User: "alice"}
		if diff := cmp.Diff(want, hs2.Result(), endOpts); diff != "" {
			t.Errorf("second server session (-want +got):\n%s", diff)
		}
		if got := hc2.Result().Cause; got != CausePeerTerminated {
			t.Errorf("second client session: %v", got)
		}
		// The first session's address comes back when it ends, and serves again.
		hs1.Stop("")
		<-hs1.Done()
		<-hc1.Done()
		hs3, hc3, _, _ := pair(t, srv, cli, "tiny", "client-v4")
		synctest.Wait()
		if si := info(t, hs3); si.PeerIP != "10.1.0.2" {
			t.Errorf("third session: %+v", si)
		}
		hs3.Stop("")
		<-hc3.Done()
		srv.stop(t)
		cli.stop(t)
	})
}

func TestStaticAddress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig(t)
		srv, cli := startEngine(t, cfg, nil), startEngine(t, cfg, nil)
		hs, hc, _, _ := pair(t, srv, cli, "pap", "bob")
		synctest.Wait()
		si, ci := info(t, hs), info(t, hc)
		if si.PeerIP != "10.0.0.7" || ci.LocalIP != "10.0.0.7" || si.User != "bob smith" {
			t.Errorf("static address: server %+v client %+v", si, ci)
		}
		if _, err := srv.pools.Reserve(mustAddr("10.0.0.7")); !errors.Is(err, ErrAddressInUse) {
			t.Errorf("static address not leased: %v", err)
		}
		hs.Stop("")
		<-hc.Done()
		<-hs.Done()
		if _, err := srv.pools.Reserve(mustAddr("10.0.0.7")); err != nil {
			t.Errorf("static address not released: %v", err)
		}
		// A static address outside every pool is used as is, and leased all the same.
		hs, hc, _, _ = pair(t, srv, cli, "pap", "carol")
		synctest.Wait()
		if si := info(t, hs); si.PeerIP != "192.0.2.200" || si.Pool != "" {
			t.Errorf("static address outside the pools: %+v", si)
		}
		hs2, hc2, _, _ := pair(t, srv, cli, "pap", "carol")
		<-hs2.Done()
		<-hc2.Done()
		if r := hs2.Result(); r.Cause != CauseAddress || !strings.Contains(r.Reason, "already in use") {
			t.Errorf("second session with the same static address: %+v", r)
		}
		hs.Stop("")
		<-hc.Done()
		srv.stop(t)
		cli.stop(t)
	})
}

func TestPeerSilent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig(t)
		srv := startEngine(t, cfg, nil)
		a, _ := newPipe(1500)
		start := time.Now()
		h := mustStart(t, srv, StartRequest{Channel: a, Role: RoleServer, Carrier: CarrierPPPoE, MaxMRU: 1492})
		<-h.Done()
		want := EndResult{Cause: CauseNoResponse, Reason: "no response to LCP Configure-Requests", By: ByLocal}
		if diff := cmp.Diff(want, h.Result(), endOpts); diff != "" {
			t.Errorf("result (-want +got):\n%s", diff)
		}
		if got := countOf(a.sentPackets(), "LCP 1"); got != 10 {
			t.Errorf("Configure-Requests sent: %d, want max_configure = 10", got)
		}
		if got := time.Since(start); got != 30*time.Second {
			t.Errorf("gave up after %v, want 10 × 3s", got)
		}
		srv.stop(t)
	})
}

func TestLoopback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig(t)
		srv := startEngine(t, cfg, nil)
		c := newFakeChan(1500)
		c.loop = true
		// Without authentication: a looped request for authentication would be rejected
		// by ourselves first, and fail as non-converging.
		h := mustStart(t, srv, StartRequest{Channel: c, Role: RoleServer, Carrier: CarrierL2TP, Profile: "noauth"})
		<-h.Done()
		if got := h.Result(); got.Cause != CauseLoopback {
			t.Errorf("result: %+v", got)
		}
		srv.stop(t)
	})
}

func TestEchoFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig(t)
		srv, cli := startEngine(t, cfg, nil), startEngine(t, cfg, nil)
		hs, hc, a, b := pair(t, srv, cli, "default", "client")
		synctest.Wait()
		// Two intervals: the echoes are answered.
		time.Sleep(25 * time.Second)
		if got := countOf(a.sentPackets(), "LCP 9"); got != 2 {
			t.Errorf("Echo-Requests after 25s: %d, want 2", got)
		}
		if got := countOf(b.sentPackets(), "LCP 10"); got != 2 {
			t.Errorf("Echo-Replies after 25s: %d, want 2", got)
		}
		mutedAt := time.Now()
		b.setMute(true) // the client's frames are lost from now on
		<-hs.Done()
		want := EndResult{Cause: CauseEchoTimeout, Reason: "no reply to 3 LCP Echo-Requests", By: ByLocal, User: "alice"}
		if diff := cmp.Diff(want, hs.Result(), endOpts); diff != "" {
			t.Errorf("result (-want +got):\n%s", diff)
		}
		// Echoes at 30, 40, 50 s go unanswered; at 60 s the link is declared dead, then
		// two Terminate-Requests 3 s apart go unanswered too.
		if got := hs.Result().Ended.Sub(mutedAt); got != 35*time.Second+6*time.Second {
			t.Errorf("ended %v after the mute", got)
		}
		if got := metricstest.Value(t, srv.reg, "probox_ppp_lcp_echo_timeouts_total", ""); got != "1" {
			t.Errorf("lcp_echo_timeouts_total = %s", got)
		}
		<-hc.Done()
		if got := hc.Result().Cause; got != CausePeerTerminated {
			t.Errorf("client: %v", got)
		}
		srv.stop(t)
		cli.stop(t)
	})
}

func TestCarrierLost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig(t)
		srv, cli := startEngine(t, cfg, nil), startEngine(t, cfg, nil)
		hs, hc, a, b := pair(t, srv, cli, "default", "client")
		synctest.Wait()
		a.Close() // the carrier engine closed the server's channel
		<-hs.Done()
		want := EndResult{Cause: CauseCarrierLost, Reason: "carrier lost", By: ByCarrier, User: "alice"}
		if diff := cmp.Diff(want, hs.Result(), endOpts); diff != "" {
			t.Errorf("result (-want +got):\n%s", diff)
		}
		if _, closed, _ := srv.dp.allUnits()[0].last(); !closed {
			t.Error("unit not closed")
		}
		if got := srv.Pools()[0].Used; got != 0 {
			t.Errorf("address not released: %d used", got)
		}
		// The client (without keepalives) notices when its own carrier goes.
		if si := info(t, hc); si.State != "up" {
			t.Errorf("client: %+v", si)
		}
		b.Close()
		<-hc.Done()
		if got := hc.Result().Cause; got != CauseCarrierLost {
			t.Errorf("client: %v", got)
		}
		srv.stop(t)
		cli.stop(t)
	})
}

func TestShutdownTerminatesSessions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig(t)
		srv, cli := startEngine(t, cfg, nil), startEngine(t, cfg, nil)
		hs, hc, _, _ := pair(t, srv, cli, "default", "client")
		synctest.Wait()
		srv.stop(t) // returns after the session has ended
		select {
		case <-hs.Done():
		default:
			t.Fatal("Run returned before the session ended")
		}
		if got := hs.Result().Cause; got != CauseShutdown {
			t.Errorf("server: %v", got)
		}
		if _, err := srv.Start(StartRequest{Channel: newFakeChan(1500)}); !errors.Is(err, ErrStopped) {
			t.Errorf("Start after Run: %v", err)
		}
		<-hc.Done()
		if got := hc.Result().Cause; got != CausePeerTerminated {
			t.Errorf("client: %v", got)
		}
		cli.stop(t)
	})
}

func TestProtocolReject(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig(t)
		// The client does not do IPv6CP: it Protocol-Rejects the server's, which gives up
		// on IPv6CP alone.
		srv, cli := startEngine(t, cfg, nil), startEngine(t, cfg, nil)
		hs, hc, a, b := pair(t, srv, cli, "default", "client-v4")
		synctest.Wait()
		si := info(t, hs)
		if si.State != "up" || si.IPCP != "Opened" || si.IPv6CP != "Stopped" {
			t.Errorf("server: %+v", si)
		}
		if got := countOf(b.sentPackets(), "LCP 8"); got != 1 {
			t.Errorf("client Protocol-Rejects: %d", got)
		}
		// An unknown protocol gets a Protocol-Reject from the server.
		before := countOf(a.sentPackets(), "LCP 8")
		a.inject([]byte{0x80, 0xfd, 1, 1, 0, 4}) // CCP Configure-Request
		synctest.Wait()
		if got := countOf(a.sentPackets(), "LCP 8") - before; got != 1 {
			t.Errorf("server Protocol-Rejects of CCP: %d", got)
		}
		hs.Stop("")
		<-hc.Done()
		<-hs.Done()
		srv.stop(t)
		cli.stop(t)
	})
}

func TestRechallenge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig(t)
		srv, cli := startEngine(t, cfg, nil), startEngine(t, cfg, nil)
		hs, hc, a, _ := pair(t, srv, cli, "rechallenge", "client")
		synctest.Wait()
		time.Sleep(130 * time.Second)
		if got := countOf(a.sentPackets(), "CHAP 1"); got != 3 {
			t.Errorf("Challenges: %d, want 3 (start, 60 s, 120 s)", got)
		}
		if got := metricstest.Value(t, srv.reg, "probox_ppp_auth_total", `method="chap-md5",result="success"`); got != "3" {
			t.Errorf("successes: %s", got)
		}
		if si := info(t, hs); si.State != "up" {
			t.Errorf("server after re-challenges: %+v", si)
		}
		hs.Stop("")
		<-hc.Done()
		srv.stop(t)
		cli.stop(t)
	})
}

// slowBackend answers after a delay, or never (until its context ends).
type slowBackend struct {
	delay time.Duration
	inner AuthBackend
}

func (b slowBackend) Authenticate(ctx context.Context, req AuthRequest) (AuthResult, error) {
	if b.delay == 0 {
		<-ctx.Done()
		return AuthResult{}, ctx.Err()
	}
	select {
	case <-time.After(b.delay):
	case <-ctx.Done():
		return AuthResult{}, ctx.Err()
	}
	return b.inner.Authenticate(ctx, req)
}

func TestSlowBackend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig(t)
		sec, err := LoadSecrets(cfg.System.SecretsFile)
		if err != nil {
			t.Fatal(err)
		}
		// A backend slower than the CHAP restart timer still gets its answer through,
		// and the session keeps answering echoes meanwhile.
		srv, cli := startEngine(t, cfg, slowBackend{delay: 5 * time.Second, inner: LocalBackend{Secrets: sec}}), startEngine(t, cfg, nil)
		hs, hc, _, _ := pair(t, srv, cli, "default", "client")
		synctest.Wait()
		if si := info(t, hs); si.Phase != "authenticate" {
			t.Errorf("before the answer: %s", si.Phase)
		}
		time.Sleep(6 * time.Second)
		if si := info(t, hs); si.State != "up" {
			t.Errorf("after the answer: %+v", si)
		}
		hs.Stop("")
		<-hc.Done()
		srv.stop(t)
		cli.stop(t)
	})
	synctest.Test(t, func(t *testing.T) {
		// A backend that never answers: auth_timeout (30 s) ends the session, and the
		// backend call is cancelled (Run would not return otherwise).
		cfg := testConfig(t)
		srv, cli := startEngine(t, cfg, slowBackend{}), startEngine(t, cfg, nil)
		hs, hc, _, _ := pair(t, srv, cli, "default", "client")
		start := time.Now()
		<-hs.Done()
		if r := hs.Result(); r.Cause != CauseAuthTimeout || !r.AuthFailed || r.Ended.Sub(start) != 30*time.Second {
			t.Errorf("result: %+v after %v", r, r.Ended.Sub(start))
		}
		<-hc.Done()
		srv.stop(t)
		cli.stop(t)
	})
}

func TestLACProxyAndLNS(t *testing.T) {
	tests := []struct {
		name      string
		lacProf   string
		lnsProf   string
		method    AuthMethod
		respLen   int
		reneg     bool
		lnsResult EndCause
	}{
		{name: "CHAP-MD5", lacProf: "default", lnsProf: "default", method: AuthCHAPMD5, respLen: 16},
		{name: "PAP", lacProf: "pap", lnsProf: "pap", method: AuthPAP, respLen: len("alice-secret")},
		{name: "MS-CHAPv2", lacProf: "mschap", lnsProf: "mschap", method: AuthMSCHAPv2, respLen: 49},
		{name: "renegotiate", lacProf: "default", lnsProf: "renegotiate", method: AuthCHAPMD5, respLen: 16, reneg: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := testConfig(t)
				lac, lns, cli := startEngine(t, cfg, nil), startEngine(t, cfg, nil), startEngine(t, cfg, nil)
				// The subscriber reaches the LAC over PPPoE.
				ac, cc := newPipe(1492)
				hl := mustStart(t, lac, StartRequest{Channel: ac, Role: RoleLACProxy, Carrier: CarrierPPPoE, MaxMRU: 1492, Profile: tt.lacProf,
					Info: CarrierInfo{CallingStation: "02:00:00:00:00:01", Service: "internet"}})
				hc := mustStart(t, cli, StartRequest{Channel: cc, Role: RoleClient, Carrier: CarrierPPPoE, MaxMRU: 1492, Profile: "client"})
				pr, ok := <-hl.Proxy()
				if !ok {
					t.Fatalf("no proxy data: %+v", hl.Result())
				}
				<-hl.Done()
				if r := hl.Result(); r.Cause != CauseProxyDone || r.User != "alice" {
					t.Errorf("LAC result: %+v", r)
				}
				if ac.isClosed() || countOf(ac.sentPackets(), "LCP 5") != 0 {
					t.Error("the LAC closed the channel or terminated the link")
				}
				if pr.Auth.Method != tt.method || pr.Auth.Name != "alice" || len(pr.Auth.Response) != tt.respLen ||
					len(pr.LCP.InitialReceived) == 0 || len(pr.LCP.LastSent) == 0 || len(pr.LCP.LastReceived) == 0 {
					t.Fatalf("proxy data: %v %+v", pr.Auth, pr.LCP)
				}
				if pr.LCPResult.LocalMRU != 1492 {
					t.Errorf("LAC MRU: %d", pr.LCPResult.LocalMRU)
				}
				// The LAC's owner bridges the subscriber to the LNS.
				ln := newFakeChan(1500)
				connect(cc, ln)
				ac.Close()
				hn := mustStart(t, lns, StartRequest{Channel: ln, Role: RoleServer, Carrier: CarrierL2TP, Profile: tt.lnsProf,
					ProxyLCP: &pr.LCP, ProxyAuth: &pr.Auth, Info: CarrierInfo{TunnelID: 1, SessionID: 2}})
				synctest.Wait()
				si, ci := info(t, hn), info(t, hc)
				if si.State != "up" || ci.State != "up" || si.User != "alice" || ci.LocalIP != si.PeerIP {
					t.Fatalf("after hand-over: LNS %+v client %+v", si, ci)
				}
				if got := countOf(ln.sentPackets(), "LCP 1"); (got > 0) != tt.reneg || si.ProxyLCP == tt.reneg {
					t.Errorf("LNS Configure-Requests: %d, proxy LCP %t; renegotiation expected: %t", got, si.ProxyLCP, tt.reneg)
				}
				hn.Stop("")
				<-hn.Done()
				<-hc.Done()
				lac.stop(t)
				lns.stop(t)
				cli.stop(t)
			})
		})
	}
}

func TestLNSProxyAuthRejected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig(t)
		lac, lns, cli := startEngine(t, cfg, nil), startEngine(t, cfg, nil), startEngine(t, cfg, nil)
		ac, cc := newPipe(1500)
		hl := mustStart(t, lac, StartRequest{Channel: ac, Role: RoleLACProxy, Carrier: CarrierL2TP})
		hc := mustStart(t, cli, StartRequest{Channel: cc, Role: RoleClient, Profile: "wrongpw"})
		pr, ok := <-hl.Proxy()
		if !ok {
			t.Fatal("no proxy data")
		}
		ln := newFakeChan(1500)
		connect(cc, ln)
		ac.Close()
		hn := mustStart(t, lns, StartRequest{Channel: ln, Role: RoleServer, ProxyLCP: &pr.LCP, ProxyAuth: &pr.Auth})
		<-hn.Done()
		if r := hn.Result(); r.Cause != CauseAuthFailed || !r.AuthFailed {
			t.Errorf("LNS: %+v", r)
		}
		if got := countOf(ln.sentPackets(), "CHAP 4"); got != 1 {
			t.Errorf("LNS Failures sent: %d", got)
		}
		<-hc.Done()
		lac.stop(t)
		lns.stop(t)
		cli.stop(t)
	})
}

func TestInfoAndDestroy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig(t)
		srv, cli := startEngine(t, cfg, nil), startEngine(t, cfg, nil)
		hs, hc, _, _ := pair(t, srv, cli, "default", "client")
		ctx := context.Background()
		synctest.Wait()
		time.Sleep(90 * time.Second)
		list, err := srv.List(ctx, "up")
		if err != nil || len(list) != 1 || list[0].Instance != "session-1" || list[0].UptimeSeconds != 90 {
			t.Fatalf("List up: %v %+v", err, list)
		}
		if list, _ := srv.List(ctx, "down"); len(list) != 0 {
			t.Errorf("List down: %+v", list)
		}
		if _, err := srv.List(ctx, "sideways"); err == nil {
			t.Error("List sideways: no error")
		}
		si, err := srv.Show(ctx, "1")
		if err != nil || si.ID != hs.ID() || si.CarrierInfo.TunnelID != 10 || si.LCP != "Opened" || si.LocalMRU != 1500 {
			t.Errorf("Show: %v %+v", err, si)
		}
		if _, err := srv.Show(ctx, "session-9"); !errors.Is(err, ErrNoSession) {
			t.Errorf("Show of a missing session: %v", err)
		}
		if _, err := srv.Show(ctx, "sessions"); err == nil {
			t.Error("Show of a bad name: no error")
		}
		res, err := srv.Destroy(ctx, "session-1", "destroyed by operator")
		if err != nil || res.Cause != CauseAdmin || res.Reason != "destroyed by operator" {
			t.Errorf("Destroy: %v %+v", err, res)
		}
		if _, err := hs.Info(ctx); !errors.Is(err, ErrNoSession) {
			t.Errorf("Info after the end: %v", err)
		}
		<-hc.Done()
		srv.stop(t)
		cli.stop(t)
	})
}

func TestNewErrors(t *testing.T) {
	cfg := testConfig(t)
	tests := []struct {
		name   string
		mutate func(c *config.Config)
		deps   Deps
		want   string
	}{
		{name: "no data plane", want: "ppp: no data plane", deps: Deps{}},
		{name: "bad pool", mutate: func(c *config.Config) { c.IPPools["x"] = config.IPPool{Ranges: []string{"nope"}} },
			want: `ippool.x.ranges[0]`},
		{name: "unknown pool", mutate: func(c *config.Config) {
			p := c.PPPProfiles["tiny"]
			p.IPPool = "gone"
			c.PPPProfiles["tiny"] = p
		}, want: `ppp_profile.tiny.ip_pool: no ippool named "gone"`},
		{name: "radius without backend", mutate: func(c *config.Config) {
			p := c.PPPProfiles["pap"]
			p.AuthBackend = config.BackendRADIUS
			c.PPPProfiles["pap"] = p
		}, want: "ppp_profile.pap.auth_backend: radius is not available"},
		{name: "world-readable secrets", mutate: func(c *config.Config) { os.Chmod(c.System.SecretsFile, 0o644) },
			want: "system.secrets_file: ppp: secrets file is world-readable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testConfig(t)
			if tt.mutate != nil {
				tt.mutate(c)
			}
			deps := tt.deps
			if tt.name != "no data plane" {
				deps.Dataplane = &fakeDP{}
			}
			_, err := New(Config{Cfg: c}, deps)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New: %v, want %q", err, tt.want)
			}
		})
	}
	// A missing secrets file means no local users.
	c := *cfg
	c.System.SecretsFile = filepath.Join(t.TempDir(), "none")
	e, err := New(Config{Cfg: &c}, Deps{Dataplane: &fakeDP{}})
	if err != nil || e.Status().LocalUsers != 0 {
		t.Errorf("missing secrets file: %v", err)
	}
}

func TestReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig(t)
		srv, cli := startEngine(t, cfg, nil), startEngine(t, cfg, nil)
		hs, hc, _, _ := pair(t, srv, cli, "default", "client")
		synctest.Wait()

		// A bad secrets file is refused and the old secrets stay.
		if err := os.WriteFile(cfg.System.SecretsFile, []byte("alice\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := srv.Reload(cfg, nil); err == nil || !strings.Contains(err.Error(), ":1: want USERNAME SECRET") {
			t.Errorf("Reload with a bad secrets file: %v", err)
		}
		if got := srv.Status().LocalUsers; got != 3 {
			t.Errorf("users after a failed reload: %d", got)
		}
		// New pools and secrets apply; the running session keeps its address.
		if err := os.WriteFile(cfg.System.SecretsFile, []byte("dave dave-secret\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		nc := *cfg
		nc.IPPools = map[string]config.IPPool{"default": {Ranges: []string{"10.0.0.2-10.0.0.3"}}, "tiny": cfg.IPPools["tiny"]}
		if err := srv.Reload(&nc, nil); err != nil {
			t.Fatal(err)
		}
		pools := srv.Pools()
		if pools[0].Size != 2 || pools[0].Used != 1 || srv.Status().LocalUsers != 1 {
			t.Errorf("after reload: %+v users %d", pools, srv.Status().LocalUsers)
		}
		if si := info(t, hs); si.State != "up" || si.PeerIP != "10.0.0.2" {
			t.Errorf("session after reload: %+v", si)
		}
		hs.Stop("")
		<-hc.Done()
		<-hs.Done()
		if got := srv.Pools()[0].Used; got != 0 {
			t.Errorf("lease not released after reload: %d", got)
		}
		srv.stop(t)
		cli.stop(t)
	})
}

func TestMaxAuthFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig(t)
		srv, cli := startEngine(t, cfg, nil), startEngine(t, cfg, nil)
		// max_auth_failures = 2: after the first Failure the server challenges again (the
		// client, having been refused, hangs up).
		hs, hc, a, _ := pair(t, srv, cli, "twice", "wrongpw")
		<-hs.Done()
		<-hc.Done()
		sent := a.sentPackets()
		if got := countOf(sent, "CHAP 1"); got != 2 {
			t.Errorf("Challenges: %d, want 2 (%v)", got, sent)
		}
		if i, j := indexOf(sent, "CHAP 4"), indexOf(sent[indexOf(sent, "CHAP 4")+1:], "CHAP 1"); i < 0 || j < 0 {
			t.Errorf("no new Challenge after the Failure: %v", sent)
		}
		if got := metricstest.Value(t, srv.reg, "probox_ppp_auth_total", `method="chap-md5",result="failure"`); got != "1" {
			t.Errorf("failures counted: %s", got)
		}
		srv.stop(t)
		cli.stop(t)
	})
}

func TestPPPoECarrierRules(t *testing.T) {
	tests := []struct {
		name    string
		carrier Carrier
		want    string // the reply to a request for ACCM and ACFC
	}{
		{"PPPoE rejects ACCM and ACFC", CarrierPPPoE, "LCP 4"},
		{"L2TP accepts them", CarrierL2TP, "LCP 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := testConfig(t)
				srv := startEngine(t, cfg, nil)
				a, _ := newPipe(1500)
				h := mustStart(t, srv, StartRequest{Channel: a, Role: RoleServer, Carrier: tt.carrier, MaxMRU: 1492})
				synctest.Wait()
				opts := NewOptionEncoder(nil)
				opts.Uint32(LCPOptACCM, 0)
				opts.Empty(LCPOptACFC)
				req, _ := opts.Encode()
				a.inject(lcpFrame(CodeConfigureRequest, 42, req))
				synctest.Wait()
				sent := a.sentPackets()
				if got := sent[len(sent)-1]; got != tt.want {
					t.Errorf("reply %s, want %s", got, tt.want)
				}
				// Our own request asks for the carrier's MRU (RFC 2516 §7: at most 1492).
				a.mu.Lock()
				first := a.sent[0]
				a.mu.Unlock()
				_, info, _ := ParseFrame(first)
				_, data, _ := ParseControl(info)
				d := NewOptionDecoder(data)
				if !d.Next() || d.Type() != LCPOptMRU || d.Uint16() != 1492 {
					t.Errorf("first option of our request: %x", data)
				}
				h.Stop("")
				<-h.Done()
				srv.stop(t)
			})
		})
	}
}

// TestNoGoroutineLeak runs sessions in real time (outside synctest, whose bubble checks
// this by itself) and checks that Run leaves no goroutine behind.
func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	cfg := testConfig(t)
	srv, cli := startEngine(t, cfg, nil), startEngine(t, cfg, nil)
	ups := srv.bus.Subscribe(4, func(e *events.Event) bool { return e.Type == events.SessionUp })
	var clientEnds []*fakeChan
	for range 3 {
		_, _, _, b := pair(t, srv, cli, "noauth", "client-v4")
		clientEnds = append(clientEnds, b)
	}
	for range 3 {
		select {
		case <-ups.C():
		case <-time.After(10 * time.Second):
			t.Fatal("sessions not up")
		}
	}
	ups.Close()
	// Run ends every session; the clients' carriers go with them.
	srv.stop(t)
	for _, b := range clientEnds {
		b.Close()
	}
	cli.stop(t)
	for i := 0; runtime.NumGoroutine() > before; i++ {
		if i == 100000 {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines left after Run:\n%s", runtime.NumGoroutine()-before, buf[:runtime.Stack(buf, true)])
		}
		runtime.Gosched()
	}
}

func TestLNSProxyPAPWithoutID(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig(t)
		lac, lns, cli := startEngine(t, cfg, nil), startEngine(t, cfg, nil), startEngine(t, cfg, nil)
		ac, cc := newPipe(1500)
		hl := mustStart(t, lac, StartRequest{Channel: ac, Role: RoleLACProxy, Profile: "pap"})
		hc := mustStart(t, cli, StartRequest{Channel: cc, Role: RoleClient, Profile: "client"})
		pr, ok := <-hl.Proxy()
		if !ok {
			t.Fatal("no proxy data")
		}
		// RFC 2661 relays no Proxy Authen ID for PAP: the LNS's Ack carries a wrong one,
		// which the client ignores; its retransmitted request gets the Ack it waits for.
		pr.Auth.ID++
		ln := newFakeChan(1500)
		connect(cc, ln)
		ac.Close()
		hn := mustStart(t, lns, StartRequest{Channel: ln, Role: RoleServer, Profile: "pap", ProxyLCP: &pr.LCP, ProxyAuth: &pr.Auth})
		synctest.Wait()
		if si := info(t, hc); si.Phase != "authenticate" {
			t.Fatalf("client before its retransmission: %s", si.Phase)
		}
		// The client's retransmission at 3 s is Acked; the LNS's IPCP requests that came
		// before were discarded by the client (still authenticating), and its next one,
		// at 6 s, completes IPCP.
		time.Sleep(7 * time.Second)
		if si := info(t, hc); si.State != "up" {
			t.Errorf("client after its retransmission: %+v", si)
		}
		if got := countOf(ln.sentPackets(), "PAP 2"); got != 2 {
			t.Errorf("LNS Acks: %d, want 2", got)
		}
		hn.Stop("")
		<-hn.Done()
		<-hc.Done()
		lac.stop(t)
		lns.stop(t)
		cli.stop(t)
	})
}

func TestLNSProxyNoAuthentication(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig(t)
		lac, lns, cli := startEngine(t, cfg, nil), startEngine(t, cfg, nil), startEngine(t, cfg, nil)
		ac, cc := newPipe(1500)
		hl := mustStart(t, lac, StartRequest{Channel: ac, Role: RoleLACProxy, Profile: "noauth"})
		hc := mustStart(t, cli, StartRequest{Channel: cc, Role: RoleClient, Profile: "client-v4"})
		pr, ok := <-hl.Proxy()
		if !ok || pr.Auth.Method != AuthNone {
			t.Fatalf("proxy data: %v %v", ok, pr.Auth)
		}
		ln := newFakeChan(1500)
		connect(cc, ln)
		ac.Close()
		hn := mustStart(t, lns, StartRequest{Channel: ln, Role: RoleServer, Profile: "noauth", ProxyLCP: &pr.LCP, ProxyAuth: &pr.Auth})
		// Without authentication the client starts IPCP at once; its first request may
		// have gone to the LAC before the hand-over, and is retransmitted 3 s later.
		time.Sleep(4 * time.Second)
		if si := info(t, hn); si.State != "up" || si.Auth != "proxy" || !si.ProxyLCP {
			t.Errorf("LNS: %+v", si)
		}
		hn.Stop("")
		<-hn.Done()
		<-hc.Done()
		lac.stop(t)
		lns.stop(t)
		cli.stop(t)
	})
}

// TestOpenDelay checks StartRequest.OpenDelay: LCP's first Configure-Request waits for the
// peer's first frame, or for the delay when the peer stays silent; a stop while it waits
// ends the session at once.
func TestOpenDelay(t *testing.T) {
	t.Run("peer speaks first", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			cfg := testConfig(t)
			srv, cli := startEngine(t, cfg, nil), startEngine(t, cfg, nil)
			a, b := newPipe(1500)
			start := time.Now()
			hs := mustStart(t, srv, StartRequest{Channel: a, Role: RoleServer, Carrier: CarrierPPPoE, MaxMRU: 1492,
				OpenDelay: 10 * time.Second})
			synctest.Wait()
			if got := a.sentPackets(); len(got) != 0 {
				t.Fatalf("sent %v before the peer spoke", got)
			}
			hc := mustStart(t, cli, StartRequest{Channel: b, Role: RoleClient, Carrier: CarrierPPPoE, Profile: "client", MaxMRU: 1492})
			synctest.Wait()
			if si, ci := info(t, hs), info(t, hc); si.State != "up" || ci.State != "up" {
				t.Fatalf("states: server %s (%s), client %s (%s)", si.State, si.Phase, ci.State, ci.Phase)
			}
			if d := time.Since(start); d != 0 {
				t.Errorf("up after %v, want at once", d)
			}
			srv.stop(t)
			cli.stop(t)
		})
	})
	t.Run("silent peer", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv := startEngine(t, testConfig(t), nil)
			a, _ := newPipe(1500)
			mustStart(t, srv, StartRequest{Channel: a, Role: RoleServer, Carrier: CarrierPPPoE, MaxMRU: 1492,
				OpenDelay: 500 * time.Millisecond})
			time.Sleep(499 * time.Millisecond)
			synctest.Wait()
			if got := countOf(a.sentPackets(), "LCP 1"); got != 0 {
				t.Fatalf("%d Configure-Requests before the delay", got)
			}
			time.Sleep(time.Millisecond)
			synctest.Wait()
			if got := countOf(a.sentPackets(), "LCP 1"); got != 1 {
				t.Fatalf("%d Configure-Requests after the delay, want 1", got)
			}
			srv.stop(t)
		})
	})
	t.Run("stopped while held", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv := startEngine(t, testConfig(t), nil)
			a, _ := newPipe(1500)
			h := mustStart(t, srv, StartRequest{Channel: a, Role: RoleServer, Carrier: CarrierPPPoE, MaxMRU: 1492,
				OpenDelay: time.Minute})
			synctest.Wait()
			h.Stop("operator")
			<-h.Done()
			if got := h.Result(); got.Cause != CauseAdmin {
				t.Errorf("result %+v, want cause admin", got)
			}
			if got := a.sentPackets(); len(got) != 0 {
				t.Errorf("sent %v", got)
			}
			srv.stop(t)
		})
	})
}
