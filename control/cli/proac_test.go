package cli

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"

	"github.com/probox/probox/control"
	"github.com/probox/probox/ppp"
	"github.com/probox/probox/pppoe"
)

// fakeACDaemon serves the PPPoE commands from canned answers on a real socket, recording
// the arguments it got.
func fakeACDaemon(t *testing.T, got *[]string) string {
	t.Helper()
	created := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	local := pppoe.SessionInfo{
		SessionID: 4660, Interface: "eth1", VLANs: "100", MAC: "02:00:00:00:02:01", Service: "internet",
		ServiceConfig: "internet", Route: "local", State: "up", User: "alice", MTU: 1492, Created: created,
		CircuitID: "olt1 eth 1/1/1:100", RemoteID: "cpe-42",
		PPP: &ppp.SessionInfo{Instance: "session-3", Phase: "running", Role: "server", LocalIP: "10.64.0.1", PeerIP: "10.64.0.2", Interface: "ppp0"},
	}
	lac := pppoe.SessionInfo{
		SessionID: 17, Interface: "eth2", MAC: "02:00:00:00:02:02", Service: "", ServiceConfig: "any", Route: "realm",
		State: "up", User: "bob@isp2", Tunnel: "t2", RealmRoute: "isp2", L2TPTunnelID: 5, L2TPSessionID: 9, MTU: 1492,
		Created: created, Up: created.Add(time.Second),
	}
	a := control.NewAPI(zap.NewNop())
	a.Handle("pppoe sessions", func(context.Context, json.RawMessage) (any, error) {
		return []pppoe.SessionInfo{local, lac}, nil
	})
	a.Handle("pppoe session", func(_ context.Context, raw json.RawMessage) (any, error) {
		var args control.PPPoESessionArgs
		json.Unmarshal(raw, &args)
		switch args.SessionID {
		case 4660:
			return local, nil
		case 17:
			return lac, nil
		}
		return nil, errors.New("pppoe: no such session: session 99")
	})
	a.Handle("pppoe interfaces", func(context.Context, json.RawMessage) (any, error) {
		return []pppoe.InterfaceInfo{
			{Name: "eth1", VLANs: []int{100, 200}, QinQ: []string{"10.1-4094"}, Untagged: true, MAC: "02:00:00:00:01:01", MTU: 1500, Sessions: 1, MaxSessions: 1000, State: "up"},
			{Name: "eth2", Untagged: true, MAC: "02:00:00:00:01:02", MTU: 1500, Sessions: 1, State: "draining"},
		}, nil
	})
	a.Handle("pppoe services", func(context.Context, json.RawMessage) (any, error) {
		return []pppoe.ServiceInfo{
			{Name: "any", Route: "realm", PPPProfile: "default", LocalFallback: true},
			{Name: "internet", Route: "local", PPPProfile: "subscribers"},
			{Name: "corp", Route: "lac", PPPProfile: "default", Tunnel: "t1", Backup: "t1b"},
		}, nil
	})
	a.Handle("pppoe routes", func(context.Context, json.RawMessage) (any, error) {
		return []pppoe.RouteInfo{{Name: "isp2", Realm: "isp2.example", Tunnel: "t2"}}, nil
	})
	a.Handle("pppoe statistics", func(context.Context, json.RawMessage) (any, error) {
		return pppoe.Stats{
			Sessions: 2, ByRoute: map[string]int{"local": 1, "lac": 1},
			Discovery:   map[string]map[string]uint64{"rx": {"PADI": 5, "PADR": 2}, "tx": {"PADO": 4, "PADS": 2}},
			Drops:       map[string]uint64{"rate_limited": 1, "unknown_service": 0},
			Ended:       map[string]uint64{"peer_padt": 3},
			LACFailures: map[string]uint64{},
			Clients:     []pppoe.ClientInfo{{Name: "home", Interface: "eth9", MAC: "02:00:00:00:01:09", State: "established", SessionID: 7, AC: "02:00:00:00:09:01", ACName: "bras9", PPP: "session-4"}},
		}, nil
	})
	a.Handle("pppoe disconnect", func(_ context.Context, raw json.RawMessage) (any, error) {
		*got = append(*got, string(raw))
		return []pppoe.Disconnected{{SessionID: 4660, Interface: "eth1", MAC: "02:00:00:00:02:01", Ended: true},
			{SessionID: 18, Interface: "eth1", MAC: "02:00:00:00:02:01"}}, nil
	})
	path := filepath.Join(t.TempDir(), "c.sock")
	ln, err := control.ListenUnix(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Serve(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return path
}

func TestProacInfo(t *testing.T) {
	var got []string
	sock := fakeACDaemon(t, &got)
	tests := []struct {
		name string
		args []string
		code int
		out  string
	}{
		{
			name: "sessions",
			args: []string{"sessions"},
			out: `SESSION  INTERFACE  MAC                SERVICE   STATE  USER      ROUTE  TO
4660     eth1.100   02:00:00:00:02:01  internet  up     alice     local  10.64.0.2
17       eth2       02:00:00:00:02:02  -         up     bob@isp2  realm  tunnel t2
`,
		},
		{
			name: "local session",
			args: []string{"session", "4660"},
			out: `session 4660 on eth1.100 (up, route local)
  client MAC:  02:00:00:00:02:01
  service:     internet
  user:        alice
  circuit id:  olt1 eth 1/1/1:100
  remote id:   cpe-42
  MTU:         1492
  created:     2026-03-01T10:00:00Z
  PPP:         session-3 (running, server)
  IPv4:        10.64.0.1 -> 10.64.0.2
  interface:   ppp0
`,
		},
		{
			name: "LAC session",
			args: []string{"session", "17"},
			out: `session 17 on eth2 (up, route realm)
  client MAC:  02:00:00:00:02:02
  service:     - (served by any)
  user:        bob@isp2
  MTU:         1492
  tunnel:      t2 (realm route isp2), l2tp 5/9
  created:     2026-03-01T10:00:00Z
  up:          2026-03-01T10:00:01Z
`,
		},
		{name: "missing session", args: []string{"session", "99"}, code: 1},
		{name: "bad session ID", args: []string{"session", "x"}, code: 2},
		{
			name: "interfaces",
			args: []string{"interfaces"},
			out: `INTERFACE  VLANS                       MAC                MTU   SESSIONS  STATE
eth1       untagged,100,200,10.1-4094  02:00:00:00:01:01  1500  1/1000    up
eth2       untagged                    02:00:00:00:01:02  1500  1         draining
`,
		},
		{
			name: "services",
			args: []string{"services"},
			out: `SERVICE   ROUTE               PPP PROFILE  TUNNEL  BACKUP
any       realm (else local)  default      -       -
internet  local               subscribers  -       -
corp      lac                 default      t1      t1b
`,
		},
		{
			name: "routes",
			args: []string{"routes"},
			out: `ROUTE  REALM         TUNNEL  BACKUP
isp2   isp2.example  t2      -
`,
		},
		{
			name: "statistics",
			args: []string{"statistics"},
			out: `sessions:              2
by route:              lac 1, local 1
discovery received:    PADI 5, PADR 2
discovery sent:        PADO 4, PADS 2
discovery not served:  rate_limited 1
sessions ended:        peer_padt 3
LAC failures:          -
client home:           02:00:00:00:01:09 on eth9, established, session 7 with 02:00:00:00:09:01 (bras9), session-4
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(ProacInfo, append([]string{"-s", sock}, tt.args...)...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d: %s", code, tt.code, errOut)
			}
			if diff := cmp.Diff(tt.out, out); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
		})
	}
	code, out, _ := run(ProacInfo, "-s", sock, "-j", "session", "17")
	var si pppoe.SessionInfo
	if code != 0 || json.Unmarshal([]byte(out), &si) != nil || si.Tunnel != "t2" {
		t.Errorf("-j session: %d %s", code, out)
	}
}

func TestProacManage(t *testing.T) {
	var got []string
	sock := fakeACDaemon(t, &got)
	want := `session 4660 on eth1 (02:00:00:00:02:01): ended
session 18 on eth1 (02:00:00:00:02:01): terminating (PPP has not finished yet)
`
	for _, args := range [][]string{{"disconnect", "4660"}, {"disconnect", "mac", "02-00-00-00-02-01"}} {
		code, out, errOut := run(ProacManage, append([]string{"-s", sock}, args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		if diff := cmp.Diff(want, out); diff != "" {
			t.Errorf("%v output (-want +got):\n%s", args, diff)
		}
	}
	if diff := cmp.Diff([]string{`{"session_id":4660}`, `{"mac":"02:00:00:00:02:01"}`}, got); diff != "" {
		t.Errorf("arguments sent (-want +got):\n%s", diff)
	}
	if code, _, _ := run(ProacManage, "-s", sock, "disconnect", "mac", "nope"); code != 2 {
		t.Errorf("bad MAC: exit %d, want 2", code)
	}
}
