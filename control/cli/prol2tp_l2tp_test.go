package cli

import (
	"context"
	"encoding/json"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"

	"github.com/probox/probox/config"
	"github.com/probox/probox/control"
	"github.com/probox/probox/kernel/kerneltest"
	"github.com/probox/probox/l2tp"
)

// l2tpDaemon serves the L2TP commands of a real engine (static L2TPv3 tunnels on the
// recording fake, so no peer is needed) on a test socket.
func l2tpDaemon(t *testing.T) (string, *l2tp.Engine) {
	t.Helper()
	f, err := config.Parse("t.toml", []byte(`
[system]
host_name = "bras1"
router_id = "192.0.2.1"
l2tp_listen = ["0.0.0.0:1701"]
[tunnel_profile.pw]
version = 3
encap = "ip"
secret = "do-not-print"
[session_profile.eth]
pw_type = "ethernet"
l2spec = "default"
[tunnel.partner]
peer = "192.0.2.2"
tunnel_profile = "pw"
static = true
tunnel_id = 100
peer_tunnel_id = 200
[tunnel.partner.session.site]
session_profile = "eth"
session_id = 1000
peer_session_id = 2000
cookie = "00112233"
peer_cookie = "44556677"
interface_name = "pw0"
`))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	e, err := l2tp.New(l2tp.Config{Cfg: f.Config}, l2tp.Deps{
		Dataplane: kerneltest.New(netip.MustParseAddr("192.0.2.1")),
		Now:       func() time.Time { return start },
		Rand:      zeros{},
	})
	if err != nil {
		t.Fatal(err)
	}
	old := prol2tpNow
	prol2tpNow = func() time.Time { return start.Add(time.Hour + 2*time.Minute + 3*time.Second) }
	t.Cleanup(func() { prol2tpNow = old })

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if ss, err := e.Sessions(context.Background(), ""); err == nil && len(ss) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("static tunnel did not come up")
		}
	}

	a := control.NewAPI(zap.NewNop())
	control.RegisterL2TP(a, e)
	path := filepath.Join(t.TempDir(), "c.sock")
	ln, err := control.ListenUnix(path)
	if err != nil {
		t.Fatal(err)
	}
	sctx, scancel := context.WithCancel(context.Background())
	sdone := make(chan struct{})
	go func() { a.Serve(sctx, ln); close(sdone) }()
	t.Cleanup(func() { scancel(); <-sdone })
	return path, e
}

func TestProl2tpL2TP(t *testing.T) {
	sock, _ := l2tpDaemon(t)
	tests := []struct {
		name string
		args []string
		want string
		code int
	}{
		{name: "show tunnels", args: []string{"show", "tunnels"}, want: `  TunId  Name     State        Time      Peer       Sessions
  100    partner  established  01:02:03  192.0.2.2  1
`},
		{name: "show sessions", args: []string{"show", "sessions"}, want: `TunId  SesId  Name  State        Time      Type          PW        User  Interface
100    1000   site  established  01:02:03  lac-incoming  ethernet  -     pw0
`},
		{name: "show sessions of a tunnel", args: []string{"show", "sessions", "@100"}, want: `TunId  SesId  Name  State        Time      Type          PW        User  Interface
100    1000   site  established  01:02:03  lac-incoming  ethernet  -     pw0
`},
		{name: "show session", args: []string{"show", "session", "partner", "1000"}, want: `Session 1000 in tunnel 100 (partner), name site
  state:         established for 01:02:03, created 01:02:03 ago
  call:          lac-incoming, serial 1
  peer:          tunnel 200 session 2000
  pseudowire:    ethernet, profile eth
  data channel:  cookies 4/4 bytes, l2spec default, seq send false recv false
  user:          - on pw0
  data:          rx 0 packets 0 bytes, tx 0 packets 0 bytes, 0 dropped
`},
		{name: "show tunnel profile", args: []string{"show", "tunnel", "profile", "pw"}, want: `tunnel profile pw
  digest             "none"
  encap              "ip"
  hello_interval     "1m0s"
  hide_avps          false
  host_name          ""
  idle_timeout       "0s"
  max_retries        5
  max_retry_timeout  "8s"
  max_sessions       0
  mtu                1460
  peer_port          1701
  retry_timeout      "1s"
  rx_window_size     16
  secret             "********"
  tie_breaker        false
  udp_checksums      false
  version            3
`},
		{name: "unknown profile", args: []string{"show", "ppp", "profile", "nope"}, code: 1},
		{name: "bad session ID", args: []string{"show", "session", "partner", "x"}, code: 2},
		{name: "unknown tunnel", args: []string{"show", "tunnel", "@5"}, code: 1},
		{name: "delete session", args: []string{"delete", "session", "partner", "1000"}, want: "session deleted\n"},
		{name: "no sessions", args: []string{"show", "sessions"}, want: "TunId  SesId  Name  State  Time  Type  PW  User  Interface\n"},
		{name: "create session", args: []string{"create", "session", "partner", "site"}, want: "session 1000 created in tunnel 100: lac-incoming, established\n"},
		{name: "delete tunnel", args: []string{"delete", "tunnel", "partner"}, want: "tunnel deleted\n"},
		{name: "create tunnel", args: []string{"create", "tunnel", "partner"}, want: "tunnel partner created: id 100, established, peer 192.0.2.2\n"},
		{name: "create unknown tunnel", args: []string{"create", "tunnel", "nope"}, code: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(Prol2tp, append([]string{"-s", sock}, tt.args...)...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d: %s", code, tt.code, errOut)
			}
			if tt.code != 0 {
				return
			}
			if diff := cmp.Diff(tt.want, out); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
		})
	}
	// -j prints the API's JSON.
	code, out, _ := run(Prol2tp, "-s", sock, "-j", "show", "tunnel", "@100")
	var d l2tp.TunnelDetail
	if code != 0 || json.Unmarshal([]byte(out), &d) != nil || d.ID != 100 || d.PeerID != 200 || !d.Static || len(d.SessionList) != 1 {
		t.Errorf("-j show tunnel: %d %s", code, out)
	}
	code, out, _ = run(Prol2tp, "-s", sock, "show", "statistics")
	if code != 0 || !strings.Contains(out, "tunnels:           1 (1 established)") || !strings.Contains(out, "router id:         192.0.2.1") {
		t.Errorf("show statistics: %d\n%s", code, out)
	}
	code, out, _ = run(Prol2tp, "-s", sock, "help")
	if code != 0 || !strings.Contains(out, "show session TUNNEL SESSION") || !strings.Contains(out, "show ethernet profile NAME") {
		t.Errorf("help: %d\n%s", code, out)
	}
}

// zeros is a random source of zeros, for repeatable serial numbers.
type zeros struct{}

func (zeros) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}
