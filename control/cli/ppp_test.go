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
)

// fakePPPDaemon serves the PPP commands from canned answers on a real socket.
func fakePPPDaemon(t *testing.T) string {
	t.Helper()
	started := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	up := ppp.SessionInfo{
		ID: 12, Instance: "session-12", Phase: "running", State: "up", Role: "server", Carrier: "l2tp", Profile: "default",
		User: "alice", Auth: "chap-md5", Interface: "probox0", LocalIP: "100.64.0.1", PeerIP: "100.64.0.2",
		LocalIPv6: "fe80::1", PeerIPv6: "fe80::2", DNS: []string{"192.0.2.53", "192.0.2.54"}, Pool: "default",
		LocalMRU: 1460, PeerMRU: 1460, LCP: "Opened", IPCP: "Opened", IPv6CP: "Opened", ProxyLCP: true,
		Started: started, Up: started.Add(2 * time.Second), UptimeSeconds: 3723,
		CarrierInfo: ppp.CarrierInfo{TunnelID: 5, PeerTunnelID: 6, SessionID: 7, PeerSessionID: 8, Peer: "192.0.2.10:1701", CallingStation: "02:00:00:00:00:01"},
		Link:        ppp.Counters{RxPackets: 10, RxBytes: 1000, TxPackets: 20, TxBytes: 2000},
	}
	down := ppp.SessionInfo{ID: 13, Instance: "session-13", Phase: "authenticate", State: "down", Role: "server", Carrier: "pppoe", Profile: "default", LCP: "Opened", Started: started}
	a := control.NewAPI(zap.NewNop())
	a.Handle("ppp list", func(_ context.Context, raw json.RawMessage) (any, error) {
		var args control.PPPListArgs
		json.Unmarshal(raw, &args)
		switch args.State {
		case "up":
			return []ppp.SessionInfo{up}, nil
		case "down":
			return []ppp.SessionInfo{}, nil
		}
		return []ppp.SessionInfo{up, down}, nil
	})
	a.Handle("ppp show", func(_ context.Context, raw json.RawMessage) (any, error) {
		var args control.PPPInstanceArgs
		json.Unmarshal(raw, &args)
		if args.Instance != "12" {
			return nil, errors.New("ppp: no such instance: " + args.Instance)
		}
		return up, nil
	})
	a.Handle("ppp status", func(context.Context, json.RawMessage) (any, error) {
		return ppp.Status{
			Sessions: 2, Up: 1, Phases: map[string]int{"running": 1, "authenticate": 1},
			Auth:  []ppp.AuthStat{{Method: "chap-md5", Success: 40, Failure: 2}},
			Ended: map[string]uint64{"peer_terminated": 30, "auth_failed": 2},
			Pools: []ppp.PoolInfo{{Name: "default", Size: 253, Used: 1, Free: 252}}, SecretsFile: "/etc/probox/secrets", LocalUsers: 41,
		}, nil
	})
	a.Handle("ppp pools", func(context.Context, json.RawMessage) (any, error) {
		return []ppp.PoolInfo{{Name: "default", Ranges: []string{"100.64.0.2-100.64.0.254"}, Size: 253, Used: 1, Free: 252}}, nil
	})
	a.Handle("ppp destroy", func(_ context.Context, raw json.RawMessage) (any, error) {
		var args control.PPPInstanceArgs
		json.Unmarshal(raw, &args)
		if args.Instance == "13" {
			return control.PPPDestroyResult{Instance: "session-13"}, nil
		}
		return control.PPPDestroyResult{Instance: "session-12", Ended: true, Result: &ppp.EndResult{Cause: ppp.CauseAdmin, Reason: "destroyed by operator"}}, nil
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

func TestPropppctl(t *testing.T) {
	sock := fakePPPDaemon(t)
	tests := []struct {
		name string
		args []string
		code int
		out  string
	}{
		{
			name: "list",
			args: []string{"list"},
			out: `INSTANCE    STATE         USER   INTERFACE  PEER        UPTIME
session-12  running       alice  probox0    100.64.0.2  1h2m3s
session-13  authenticate  -      -          -           -
`,
		},
		{name: "list down", args: []string{"list", "down"}, out: "no PPP instances\n"},
		{
			name: "show",
			args: []string{"show", "12"},
			out: `session-12 (running, server over l2tp, profile default)
  user:             alice
  authentication:   chap-md5
  interface:        probox0
  IPv4:             100.64.0.1 -> 100.64.0.2
  IPv6:             fe80::1 -> fe80::2
  DNS:              192.0.2.53, 192.0.2.54
  pool:             default
  MRU:              1460 (peer 1460)
  protocols:        LCP Opened (proxy LCP), IPCP Opened, IPv6CP Opened
  started:          2026-03-01T10:00:00Z
  up:               2026-03-01T10:00:02Z (1h2m3s)
  carrier:          tunnel 5/6 session 7/8 192.0.2.10:1701
  calling station:  02:00:00:00:00:01
  link:             rx 10 packets 1000 bytes, tx 20 packets 2000 bytes
  network:          rx 0 packets 0 bytes, tx 0 packets 0 bytes
`,
		},
		{name: "show missing", args: []string{"show", "99"}, code: 1},
		{
			name: "status",
			args: []string{"status"},
			out: `instances:              2 (1 up)
by phase:               authenticate 1, running 1
local users:            41 (/etc/probox/secrets)
auth chap-md5:          40 success, 2 failure, 0 timeout
ended auth_failed:      2
ended peer_terminated:  30
pool default:           1 of 253 used
`,
		},
		{
			name: "pools",
			args: []string{"show", "pools"},
			out: `POOL     SIZE  USED  FREE  RANGES
default  253   1     252   100.64.0.2-100.64.0.254
`,
		},
		{
			name: "show sessions",
			args: []string{"show", "sessions"},
			out: `INSTANCE    STATE         USER   INTERFACE  PEER        UPTIME
session-12  running       alice  probox0    100.64.0.2  1h2m3s
session-13  authenticate  -      -          -           -
`,
		},
		{name: "show session", args: []string{"show", "session", "99"}, code: 1},
		{
			name: "show statistics",
			args: []string{"show", "statistics"},
			out: `instances:              2 (1 up)
by phase:               authenticate 1, running 1
local users:            41 (/etc/probox/secrets)
auth chap-md5:          40 success, 2 failure, 0 timeout
ended auth_failed:      2
ended peer_terminated:  30
pool default:           1 of 253 used
`,
		},
		{name: "destroy", args: []string{"destroy", "session-12"}, out: "session-12: ended: destroyed by operator (admin)\n"},
		{name: "disconnect still terminating", args: []string{"disconnect", "13"}, out: "session-13: terminating (the peer has not acknowledged yet)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(Propppctl, append([]string{"-s", sock}, tt.args...)...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d: %s", code, tt.code, errOut)
			}
			if diff := cmp.Diff(tt.out, out); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
		})
	}
	// -j prints the raw result.
	code, out, _ := run(Propppctl, "-s", sock, "-j", "show", "12")
	var si ppp.SessionInfo
	if code != 0 || json.Unmarshal([]byte(out), &si) != nil || si.PeerIP != "100.64.0.2" {
		t.Errorf("-j show: %d %s", code, out)
	}
}
