package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/syslog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/probox/probox/config"
	"github.com/probox/probox/control"
	"github.com/probox/probox/control/event"
	"github.com/probox/probox/kernel"
)

func TestLogLevels(t *testing.T) {
	tests := []struct {
		cfg   config.LogLevel
		debug int
		want  zapcore.Level
	}{
		{config.LogInfo, 0, zapcore.InfoLevel},
		{config.LogWarn, 0, zapcore.WarnLevel},
		{config.LogWarn, 1, zapcore.DebugLevel},
		{config.LogInfo, 2, TraceLevel},
		{config.LogDebug, 0, zapcore.DebugLevel},
	}
	for _, tt := range tests {
		o := LogOptions{Config: config.Log{Level: tt.cfg}, Debug: tt.debug}
		if got := o.level(); got != tt.want {
			t.Errorf("level(%s, -d x%d) = %v, want %v", tt.cfg, tt.debug, got, tt.want)
		}
	}
}

func TestForegroundLogger(t *testing.T) {
	var buf bytes.Buffer
	l, err := NewLogger(LogOptions{Ident: "prol2tpd", Foreground: true, Debug: 2, Config: config.Log{Level: config.LogInfo, Format: config.FormatJSON}, Stderr: &syncWriter{w: &buf}})
	if err != nil {
		t.Fatal(err)
	}
	l.Check(TraceLevel, "packet").Write(zap.Int("len", 3))
	l.Info("hello", zap.String("peer", "192.0.2.1"))
	l.Close()
	out := buf.String()
	for _, want := range []string{`"level":"TRACE","time":`, `"logger":"prol2tpd","msg":"packet","len":3`, `"msg":"hello","peer":"192.0.2.1"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log output lacks %s:\n%s", want, out)
		}
	}
}

func TestFileLogger(t *testing.T) {
	path := filepath.Join(t.TempDir(), "probox.log")
	l, err := NewLogger(LogOptions{Ident: "proacd", File: path, Config: config.Log{Level: config.LogInfo, Format: config.FormatText}})
	if err != nil {
		t.Fatal(err)
	}
	l.Debug("hidden")
	l.Warn("shown")
	l.Close()
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), "WARN\tproacd\tshown") || strings.Contains(string(b), "hidden") {
		t.Errorf("log file:\n%s", b)
	}
	if _, err := NewLogger(LogOptions{File: filepath.Join(path, "not-a-dir", "x")}); err == nil {
		t.Errorf("NewLogger with an unwritable file succeeded")
	}
}

func TestSyslogCore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.sock")
	pc, err := net.ListenPacket("unixgram", path)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	w, err := syslog.Dial("unixgram", path, syslog.LOG_DAEMON|syslog.LOG_INFO, "propppd")
	if err != nil {
		t.Fatal(err)
	}
	enc := zapcore.NewConsoleEncoder(zapcore.EncoderConfig{MessageKey: "msg", LevelKey: "level", EncodeLevel: levelEncoder})
	log := zap.New(&syslogCore{LevelEnabler: zapcore.DebugLevel, enc: enc, w: w}).With(zap.Uint32("session_id", 7))
	log.Warn("auth failed", zap.String("reason", "bad password"))
	buf := make([]byte, 1024)
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	msg := string(buf[:n])
	// <28> is facility daemon (3<<3) + warning (4).
	if !strings.HasPrefix(msg, "<28>") || !strings.Contains(msg, "propppd[") || !strings.Contains(msg, `WARN	auth failed	{"session_id": 7, "reason": "bad password"}`) {
		t.Errorf("syslog message %q", msg)
	}
}

func TestExpandShortFlags(t *testing.T) {
	got := ExpandShortFlags([]string{"-fdd", "-c", "/x", "-dx", "--", "-ff"}, "fdnvh")
	want := []string{"-f", "-d", "-d", "-c", "/x", "-dx", "--", "-ff"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ExpandShortFlags (-want +got):\n%s", diff)
	}
}

func TestLock(t *testing.T) {
	dir := t.TempDir()
	unlock, err := lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = lock(dir)
	want := fmt.Sprintf("another probox daemon is running (pid %d, lock %s)", os.Getpid(), filepath.Join(dir, "probox.lock"))
	if err == nil || err.Error() != want {
		t.Errorf("second lock: %v, want %q", err, want)
	}
	unlock()
	unlock2, err := lock(dir)
	if err != nil {
		t.Errorf("lock after unlock: %v", err)
	} else {
		unlock2()
	}
}

// fakeEngine is an engine for daemon tests.
type fakeEngine struct {
	name     string
	bus      *event.Bus
	stopped  *[]string
	mu       *sync.Mutex
	fail     chan error
	rejectIf func(*config.Config) error
	counts   map[string]int
}

func (e *fakeEngine) Name() string { return e.name }

func (e *fakeEngine) Run(ctx context.Context) error {
	select {
	case <-ctx.Done():
		e.mu.Lock()
		*e.stopped = append(*e.stopped, e.name)
		e.mu.Unlock()
		return nil
	case err := <-e.fail:
		return err
	}
}

func (e *fakeEngine) Reload(cfg *config.Config, changes []config.Change) error {
	if e.rejectIf != nil {
		return e.rejectIf(cfg)
	}
	return nil
}

func (e *fakeEngine) Summary(ctx context.Context) (map[string]int, error) { return e.counts, nil }

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}

// testDaemon runs a daemon in process with fake engines.
type testDaemon struct {
	sock    string
	cfgPath string
	engines []*fakeEngine
	stopped []string
	mu      sync.Mutex
	bus     *event.Bus
	done    chan error
	log     *syncWriter
}

func startDaemon(t *testing.T) *testDaemon {
	t.Helper()
	dir := t.TempDir()
	td := &testDaemon{sock: filepath.Join(dir, "control.sock"), cfgPath: filepath.Join(dir, "p.toml"), done: make(chan error, 1), log: &syncWriter{w: &bytes.Buffer{}}}
	writeConfig(t, td.cfgPath, dir, "")
	for _, n := range []string{"ppp", "l2tp", "pppoe"} {
		td.engines = append(td.engines, &fakeEngine{name: n, stopped: &td.stopped, mu: &td.mu, fail: make(chan error, 1), counts: map[string]int{n + "_sessions": 2}})
	}
	ready := make(chan error, 1)
	opts := Options{
		Mode: "daemon", ConfigPath: td.cfgPath, Foreground: true, Stderr: td.log,
		Probe: func() kernel.Capabilities {
			return kernel.Capabilities{L2TPNetlink: errors.New("absent"), PPPoL2TP: errors.New("absent"), PPPoE: errors.New("absent"), DevPPP: errors.New("absent")}
		},
		Wire: func(d Deps) ([]Engine, error) {
			td.bus = d.Bus
			var es []Engine
			for _, e := range td.engines {
				e.bus = d.Bus
				es = append(es, e)
			}
			return es, nil
		},
		Ready: func(err error) { ready <- err },
	}
	go func() { td.done <- Run(opts) }()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatal(err)
		}
	case err := <-td.done:
		t.Fatalf("daemon stopped at start: %v\n%s", err, td.log.String())
	case <-time.After(10 * time.Second):
		t.Fatalf("daemon did not start\n%s", td.log.String())
	}
	return td
}

func writeConfig(t *testing.T, path, dir, extra string) {
	t.Helper()
	doc := fmt.Sprintf("[system]\nruntime_dir = %q\n%s[control]\nsocket = %q\nhttp_listen = \"\"\n[hooks]\ndir = %q\n", dir, extra, filepath.Join(dir, "control.sock"), filepath.Join(dir, "hooks"))
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (td *testDaemon) call(t *testing.T, cmd string, args, res any) error {
	t.Helper()
	c, err := control.Dial(td.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.Call(context.Background(), cmd, args, res)
}

func TestDaemonCommandsAndStopOrder(t *testing.T) {
	td := startDaemon(t)
	var st Status
	if err := td.call(t, "show system", nil, &st); err != nil {
		t.Fatal(err)
	}
	wantEngines := []EngineStatus{{"hooks", "running"}, {"ppp", "running"}, {"l2tp", "running"}, {"pppoe", "running"}}
	if diff := cmp.Diff(wantEngines, st.Engines); diff != "" {
		t.Errorf("engines (-want +got):\n%s", diff)
	}
	if st.Counts["l2tp_sessions"] != 2 || st.Dataplane.Name != "userspace" || !strings.HasPrefix(st.Dataplane.Reason, "auto: the kernel lacks") {
		t.Errorf("status = %+v", st)
	}

	// An engine that rejects the new configuration keeps the old one in effect.
	td.engines[1].rejectIf = func(c *config.Config) error {
		if c.System.MaxTunnels == 13 {
			return errors.New("13 tunnels is unlucky")
		}
		return nil
	}
	writeConfig(t, td.cfgPath, filepath.Dir(td.cfgPath), "max_tunnels = 13\n")
	err := td.call(t, "reload", nil, nil)
	if err == nil || err.Error() != "engine l2tp rejected the configuration: 13 tunnels is unlucky" {
		t.Errorf("reload rejected by an engine: %v", err)
	}
	var cfgText string
	if err := td.call(t, "show config", nil, &cfgText); err != nil || strings.Contains(cfgText, "max_tunnels = 13") {
		t.Errorf("configuration changed although rejected: %v", err)
	}

	// SIGTERM stops the engines, last started first.
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	select {
	case err := <-td.done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("daemon did not stop")
	}
	if diff := cmp.Diff([]string{"pppoe", "l2tp", "ppp"}, td.stopped); diff != "" {
		t.Errorf("stop order (-want +got):\n%s", diff)
	}
}

func TestDaemonEngineFailureStopsAll(t *testing.T) {
	td := startDaemon(t)
	td.engines[0].fail <- errors.New("cannot bind")
	select {
	case err := <-td.done:
		if err == nil || err.Error() != "engine ppp: cannot bind" {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("daemon did not stop after an engine failed")
	}
	if diff := cmp.Diff([]string{"pppoe", "l2tp"}, td.stopped); diff != "" {
		t.Errorf("stopped engines (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(td.sock); !os.IsNotExist(err) {
		t.Errorf("control socket left behind: %v", err)
	}
}

func TestWatchStream(t *testing.T) {
	td := startDaemon(t)
	defer func() {
		syscall.Kill(os.Getpid(), syscall.SIGTERM)
		<-td.done
	}()
	c, err := control.Dial(td.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	base := td.bus.Subscribers() // the hook runner's subscription
	got := make(chan event.Event, 10)
	errc := make(chan error, 1)
	go func() {
		errc <- c.Stream(context.Background(), "watch", WatchArgs{Types: []string{"session-up", "session-down"}}, func(raw json.RawMessage) error {
			var e event.Event
			if err := jsonUnmarshal(raw, &e); err != nil {
				return err
			}
			got <- e
			if len(got) == 2 {
				return errors.New("done")
			}
			return nil
		})
	}()
	// Wait until the watcher is subscribed before publishing.
	deadline := time.Now().Add(5 * time.Second)
	for td.bus.Subscribers() == base && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	td.bus.Publish(event.Event{Type: event.TunnelUp, Engine: "l2tp", Tunnel: &event.Tunnel{ID: 1}})
	td.bus.Publish(event.Event{Type: event.SessionUp, Engine: "l2tp", Session: &event.Session{ID: 2}})
	td.bus.Publish(event.Event{Type: event.SessionDown, Engine: "l2tp", Session: &event.Session{ID: 2}, Result: &event.Result{Code: 3}})
	if err := <-errc; err == nil || err.Error() != "done" {
		t.Errorf("Stream = %v", err)
	}
	e1, e2 := <-got, <-got
	if e1.Type != event.SessionUp || e2.Type != event.SessionDown || e2.Result.Code != 3 {
		t.Errorf("watched %v then %v", e1.Type, e2.Type)
	}
	var bad error = td.call(t, "watch", WatchArgs{Types: []string{"session-exploded"}}, nil)
	if bad == nil || bad.Error() != `unknown event type "session-exploded"` {
		t.Errorf("watch with a bad type: %v", bad)
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
