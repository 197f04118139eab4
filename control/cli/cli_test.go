package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"

	"github.com/probox/probox/control"
	"github.com/probox/probox/control/daemon"
	"github.com/probox/probox/control/event"
)

// fakeDaemon serves the daemon's commands from canned answers on a real socket.
func fakeDaemon(t *testing.T, events []event.Event) string {
	t.Helper()
	a := control.NewAPI(zap.NewNop())
	a.Handle("show system", func(context.Context, json.RawMessage) (any, error) {
		return daemon.Status{
			Version: "v1.0.0", Revision: "0123456789abcdef", GoVersion: "go1.26", Mode: "prol2tpd", PID: 42,
			UptimeSeconds: 3723, Config: daemon.ConfigStatus{Path: "/etc/probox/probox.toml"},
			HostName: "bras1", RouterID: "192.0.2.1", L2TPListen: []string{"0.0.0.0:1701"}, LogLevel: "info",
			Dataplane: daemon.DataplaneStatus{Name: "userspace", Reason: "configured"},
			Engines:   []daemon.EngineStatus{{Name: "l2tp", State: "running"}},
			Counts:    map[string]int{"tunnels": 3, "sessions": 12},
		}, nil
	})
	a.Handle("reload", func(context.Context, json.RawMessage) (any, error) {
		return nil, errors.New("/etc/probox/probox.toml:3: system.max_tunels: unknown key")
	})
	a.HandleStream("watch", func(ctx context.Context, raw json.RawMessage, send func(any) error) error {
		var args daemon.WatchArgs
		json.Unmarshal(raw, &args)
		for _, e := range events {
			match := false
			for _, ty := range args.Types {
				if ty == e.Type.String() {
					match = true
				}
			}
			if match {
				if err := send(e); err != nil {
					return err
				}
			}
		}
		<-ctx.Done()
		return nil
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

func run(f func([]string, Env) int, args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := f(args, Env{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }})
	return code, out.String(), errOut.String()
}

func TestProl2tpShowSystem(t *testing.T) {
	sock := fakeDaemon(t, nil)
	code, out, errOut := run(Prol2tp, "-s", sock, "show", "system")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := `probox v1.0.0 (0123456789ab) go1.26
  mode:           prol2tpd (pid 42), up 1h2m3s
  configuration:  /etc/probox/probox.toml
  host name:      bras1
  router id:      192.0.2.1
  l2tp listen:    0.0.0.0:1701
  log level:      info
  data plane:     userspace (configured)
  engines:        l2tp running
  sessions:       12
  tunnels:        3
`
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("show system (-want +got):\n%s", diff)
	}
	code, out, _ = run(Prol2tp, "-s", sock, "-j", "show", "system")
	var m map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &m) != nil || m["mode"] != "prol2tpd" {
		t.Errorf("-j show system: %d %s", code, out)
	}
	code, _, errOut = run(Prol2tp, "-s", sock, "reload")
	if code != 1 || errOut != "prol2tp: /etc/probox/probox.toml:3: system.max_tunels: unknown key\n" {
		t.Errorf("reload error: %d %q", code, errOut)
	}
	code, _, errOut = run(Prol2tp, "-s", filepath.Join(t.TempDir(), "none.sock"), "show", "system")
	if code != 1 || !strings.Contains(errOut, "is the probox daemon running?") {
		t.Errorf("no daemon: %d %q", code, errOut)
	}
}

func watchEvents() []event.Event {
	ts := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	return []event.Event{
		{Seq: 1, Time: ts, Type: event.TunnelCreated, Engine: "l2tp", Tunnel: &event.Tunnel{ID: 10, Name: "lac1", Profile: "default", Version: 2, Encap: "udp", Peer: "192.0.2.2:1701"}},
		{Seq: 2, Time: ts, Type: event.TunnelUp, Engine: "l2tp", Tunnel: &event.Tunnel{ID: 10, PeerID: 77, Name: "lac1", Version: 2, Encap: "udp"}},
		{Seq: 3, Time: ts, Type: event.SessionUp, Engine: "l2tp", Session: &event.Session{ID: 5, PeerID: 6, TunnelID: 10, PeerTunnelID: 77, PWType: "ppp", Interface: "ppp0"}},
		{Seq: 4, Time: ts, Type: event.SessionDown, Engine: "l2tp", Session: &event.Session{ID: 5, TunnelID: 10}, Result: &event.Result{Code: 3, Error: 0, Message: "admin", Reason: "prol2tp delete"}},
	}
}

func TestProl2tpwatch(t *testing.T) {
	sock := fakeDaemon(t, watchEvents())
	tests := []struct {
		name string
		args []string
		want string
	}{
		{
			name: "all",
			args: []string{"-n", "4"},
			want: "TUNNEL CREATED: tid=10 name=lac1 profile=default\n" +
				"TUNNEL UP: tid=10 name=lac1 peer_tid=77\n" +
				"SESSION UP: tid=10 sid=5 peer_tid=77 peer_sid=6\n" +
				"SESSION DOWN: tid=10 sid=5 result=3 error=0 message=\"admin; prol2tp delete\"\n",
		},
		{
			name: "session mask",
			args: []string{"-s", "down", "-n", "1"},
			want: "SESSION DOWN: tid=10 sid=5 result=3 error=0 message=\"admin; prol2tp delete\"\n",
		},
		{
			name: "verbose timestamps",
			args: []string{"-vp", "-t", "created", "-n", "1"},
			want: "2026-11-25 10:00:00.000 TUNNEL CREATED: tid=10 name=lac1 profile=default version=2 encap=udp peer=192.0.2.2:1701\n",
		},
		{
			name: "csv",
			args: []string{"-c", "-s", "up", "-n", "1"},
			want: "time,event,tid,sid,peer_tid,peer_sid,name,profile,user,result,error,message,version,encap,peer,pw_type,ifname\n" +
				"2026-11-25T10:00:00Z,session-up,10,5,77,6,,,,,,,,,,ppp,ppp0\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(Prol2tpwatch, append([]string{"-socket", sock}, tt.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if diff := cmp.Diff(tt.want, out); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
		})
	}
	// -T ends a quiet watch with status 0.
	code, out, errOut := run(Prol2tpwatch, "-socket", sock, "-t", "deleted", "-T", "1")
	if code != 0 || out != "" {
		t.Errorf("-T: %d %q %q", code, out, errOut)
	}
}
