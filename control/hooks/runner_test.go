//go:build unix

package hooks

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/probox/probox/control/event"
)

const (
	// testTimeout is the script timeout of the tests about timeouts; the grace before
	// SIGKILL is the same.
	testTimeout = 200 * time.Millisecond
	// slowTimeout is the timeout of the other tests, which must not see a script killed
	// however loaded the machine.
	slowTimeout = 10 * time.Second
)

// harness is a Runner running on its own bus, with its metrics and logs observable.
type harness struct {
	t      *testing.T
	dir    string // hook directory
	out    string // where the test scripts write
	bus    *event.Bus
	reg    *prometheus.Registry
	logs   *observer.ObservedLogs
	r      *Runner
	cancel context.CancelFunc
	done   chan error
}

// newHarness starts a runner with cap maxConc and the given script timeout over a fresh
// hook directory. setup, when not nil, adjusts the runner before Run. The cleanup stops
// it and checks that it left no goroutine behind.
func newHarness(t *testing.T, maxConc int, timeout time.Duration, setup func(*Runner)) *harness {
	t.Helper()
	goroutines := runtime.NumGoroutine()
	base := t.TempDir()
	h := &harness{
		t:   t,
		dir: filepath.Join(base, "hooks"),
		out: filepath.Join(base, "out"),
		bus: event.NewBus(func() time.Time { return testTime }),
		reg: prometheus.NewRegistry(),
	}
	for _, d := range []string{h.dir, h.out} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	core, logs := observer.New(zapcore.DebugLevel)
	h.logs = logs
	r, err := New(Config{Dir: h.dir, Timeout: timeout, MaxConcurrent: maxConc}, h.bus, zap.New(core), h.reg)
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(r)
	}
	h.r = r
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	go func() { h.done <- r.Run(ctx) }()
	h.waitFor("the runner to subscribe", func() bool { return h.bus.Subscribers() == 1 })
	t.Cleanup(func() {
		h.stop()
		deadline := time.Now().Add(2 * time.Second)
		for runtime.NumGoroutine() > goroutines && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > goroutines {
			buf := make([]byte, 1<<20)
			t.Errorf("goroutines: %d before, %d after Run returned\n%s", goroutines, n, buf[:runtime.Stack(buf, true)])
		}
	})
	return h
}

// stop cancels Run and returns how long it took to return. It is idempotent.
func (h *harness) stop() time.Duration {
	h.t.Helper()
	if h.cancel == nil {
		return 0
	}
	start := time.Now()
	h.cancel()
	h.cancel = nil
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("Run = %v", err)
		}
	case <-time.After(10 * time.Second):
		h.t.Fatal("Run did not return after cancel")
	}
	if h.bus.Subscribers() != 0 {
		h.t.Errorf("subscription left open")
	}
	return time.Since(start)
}

// script writes an executable hook script (mode 0755 whatever the umask); @OUT@ in body
// stands for the output directory.
func (h *harness) script(name, body string) string {
	h.t.Helper()
	p := filepath.Join(h.dir, name)
	body = "#!/bin/sh\n" + strings.ReplaceAll(body, "@OUT@", h.out) + "\n"
	if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
		h.t.Fatal(err)
	}
	if err := os.Chmod(p, 0o755); err != nil {
		h.t.Fatal(err)
	}
	return p
}

// waitFor polls cond until it holds, failing the test after 10 s.
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// metric returns the value of the counter or gauge name with the given labels (0 when
// absent), or the sample count of a histogram.
func (h *harness) metric(name string, labels ...string) float64 {
	h.t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if !labelsMatch(m.GetLabel(), labels) {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return 0
}

func labelsMatch(got []*dto.LabelPair, want []string) bool {
	for i := 0; i+1 < len(want); i += 2 {
		if !slices.ContainsFunc(got, func(l *dto.LabelPair) bool {
			return l.GetName() == want[i] && l.GetValue() == want[i+1]
		}) {
			return false
		}
	}
	return true
}

// runs is probox_hooks_runs_total{hook,result}.
func (h *harness) runs(hook, result string) float64 {
	return h.metric("probox_hooks_runs_total", "hook", hook, "result", result)
}

// allRuns is the sum of probox_hooks_runs_total.
func (h *harness) allRuns() float64 {
	var n float64
	for _, ty := range hookTypes {
		for _, r := range []string{resultOK, resultFailed, resultTimeout, resultRefused} {
			n += h.runs(ty.String(), r)
		}
	}
	return n
}

func (h *harness) readOut(name string) string {
	h.t.Helper()
	b, err := os.ReadFile(filepath.Join(h.out, name))
	if err != nil {
		h.t.Fatal(err)
	}
	return string(b)
}

func (h *harness) exists(name string) bool {
	_, err := os.Stat(filepath.Join(h.out, name))
	return err == nil
}

// sessionEvent is a session event of session id in tunnel tid.
func sessionEvent(ty event.Type, tid, id uint32) event.Event {
	return event.Event{Type: ty, Engine: "l2tp", Session: &event.Session{ID: id, TunnelID: tid, PWType: "ppp"}}
}

// parseEnv reads the output of env(1) into a map.
func parseEnv(s string) map[string]string {
	m := make(map[string]string)
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			m[k] = v
		}
	}
	return m
}

// processGone reports whether pid has exited (a zombie counts as gone: in a container
// nobody may reap the orphan).
func processGone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && (s[i+2] == 'Z' || s[i+2] == 'X')
}

// waitGone waits up to a second for pid to be gone: a process killed an instant ago may
// still be on its way out (files closed, not yet a zombie).
func waitGone(pid int) bool {
	deadline := time.Now().Add(time.Second)
	for !processGone(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
	return true
}

// readPIDs waits for file name in the output directory to hold n PIDs, one a line.
func (h *harness) readPIDs(name string, n int) []int {
	h.t.Helper()
	var pids []int
	h.waitFor(name+" to list "+strconv.Itoa(n)+" PIDs", func() bool {
		b, _ := os.ReadFile(filepath.Join(h.out, name))
		pids = pids[:0]
		for f := range strings.FieldsSeq(string(b)) {
			if p, err := strconv.Atoi(f); err == nil {
				pids = append(pids, p)
			}
		}
		return len(pids) >= n
	})
	return pids
}

func TestEveryHookRunsWithItsEnvironment(t *testing.T) {
	h := newHarness(t, 4, slowTimeout, nil)
	for _, ty := range hookTypes {
		h.script(ty.String(), `env > "@OUT@/$PROBOX_EVENT.env"`)
	}
	tunnel := &event.Tunnel{ID: 10, PeerID: 77, Name: "lac1", Version: 2, Encap: "udp", Peer: "192.0.2.2:1701", PeerHost: "lac\nname"}
	session := &event.Session{ID: 5, PeerID: 6, TunnelID: 10, PeerTunnelID: 77, PWType: "ppp"}
	ppp := &event.PPP{Interface: "ppp0", User: "alice", PeerIP: "10.0.0.2", Stats: &event.Counters{RxBytes: 100}}
	var sent []event.Event
	for _, ty := range hookTypes {
		e := event.Event{Type: ty, Engine: "l2tp", Tunnel: tunnel}
		if ty.IsSession() {
			e.Session, e.PPP = session, ppp
		}
		if ty == event.SessionDown || ty == event.TunnelDown {
			e.Result = &event.Result{Code: 3, Reason: "admin"}
		}
		h.bus.Publish(e)
		e.Seq, e.Time = uint64(len(sent)+1), testTime // as the bus stamped it
		sent = append(sent, e)
	}
	h.waitFor("all scripts", func() bool { return h.allRuns() == float64(len(hookTypes)) })

	for _, e := range sent {
		t.Run(e.Type.String(), func(t *testing.T) {
			got := parseEnv(h.readOut(e.Type.String() + ".env"))
			if got["PWD"] != h.dir {
				t.Errorf("working directory %q, want %q", got["PWD"], h.dir)
			}
			delete(got, "PWD") // dash adds it
			want := parseEnv(strings.Join(environ(&e), "\n"))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("script environment (-want +got):\n%s", diff)
			}
			if got["PROBOX_EVENT"] != e.Type.String() || got["PROBOX_TUNNEL_ID"] != "10" {
				t.Errorf("PROBOX_EVENT=%q PROBOX_TUNNEL_ID=%q", got["PROBOX_EVENT"], got["PROBOX_TUNNEL_ID"])
			}
			if h.runs(e.Type.String(), resultOK) != 1 {
				t.Errorf("runs_total{result=ok} = %v, want 1", h.runs(e.Type.String(), resultOK))
			}
		})
	}
	// Spot checks of values that must survive the trip through exec.
	down := parseEnv(h.readOut("session-down.env"))
	for k, v := range map[string]string{
		"PROBOX_PEER_HOSTNAME": "lac name", "PROBOX_USER": "alice", "PROBOX_RX_BYTES": "100",
		"PROBOX_TX_BYTES": "0", "PROBOX_RESULT_CODE": "3", "PROBOX_REASON": "admin", "PROBOX_SEQ": "7",
		"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
	} {
		if down[k] != v {
			t.Errorf("session-down %s = %q, want %q", k, down[k], v)
		}
	}
	if got := h.metric("probox_hooks_duration_seconds", "hook", "session-up"); got != 1 {
		t.Errorf("duration samples for session-up = %v, want 1", got)
	}
	if got := h.metric("probox_hooks_running"); got != 0 {
		t.Errorf("running = %v after all scripts ended", got)
	}
}

func TestMissingScriptSkipped(t *testing.T) {
	h := newHarness(t, 2, slowTimeout, nil)
	h.script("session-up", `echo up >> "@OUT@/ran"`)
	h.bus.Publish(sessionEvent(event.SessionCreated, 1, 2))
	h.bus.Publish(sessionEvent(event.SessionUp, 1, 2))
	h.bus.Publish(event.Event{Type: event.PPPPhase, Engine: "ppp", PPP: &event.PPP{Phase: "network"}})
	h.waitFor("session-up", func() bool { return h.runs("session-up", resultOK) == 1 })
	if got := h.readOut("ran"); got != "up\n" {
		t.Errorf("ran = %q", got)
	}
	h.stop() // every log written
	if n := h.allRuns(); n != 1 {
		t.Errorf("runs_total sums to %v, want 1 (a missing script is no run)", n)
	}
	if n := h.logs.FilterMessage("no hook script").FilterField(zap.Stringer("event", event.SessionCreated)).Len(); n != 1 {
		t.Errorf("%d debug logs of the missing session-created script, want 1", n)
	}
	if n := h.logs.FilterLevelExact(zapcore.WarnLevel).Len(); n != 0 {
		t.Errorf("%d warnings, want none", n)
	}
}

func TestRefusedScripts(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(h *harness, path string)
		want    string // in the error
		root    bool
	}{
		{name: "not executable", want: "not executable", prepare: func(h *harness, p string) { chmod(h.t, p, 0o644) }},
		{name: "world-writable", want: "world-writable", prepare: func(h *harness, p string) { chmod(h.t, p, 0o757) }},
		{name: "directory world-writable", want: "world-writable", prepare: func(h *harness, p string) { chmod(h.t, h.dir, 0o777) }},
		{name: "not a regular file", want: "not a regular file", prepare: func(h *harness, p string) {
			if err := os.Remove(p); err != nil {
				h.t.Fatal(err)
			}
			if err := os.Mkdir(p, 0o755); err != nil {
				h.t.Fatal(err)
			}
		}},
		{name: "owned by another user", want: "owned by uid 65534", root: true, prepare: func(h *harness, p string) { chown(h.t, p, 65534) }},
		{name: "directory owned by another user", want: "owned by uid 65534", root: true, prepare: func(h *harness, p string) { chown(h.t, h.dir, 65534) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.root && os.Geteuid() != 0 {
				t.Skip("needs root to give a file away")
			}
			h := newHarness(t, 2, slowTimeout, nil)
			p := h.script("tunnel-up", `touch "@OUT@/ran"`)
			tt.prepare(h, p)
			for i := range 3 {
				h.bus.Publish(event.Event{Type: event.TunnelUp, Engine: "l2tp", Tunnel: &event.Tunnel{ID: uint32(i + 1)}})
			}
			h.waitFor("refusals", func() bool { return h.runs("tunnel-up", resultRefused) == 3 })
			h.stop() // every log written
			if h.exists("ran") {
				t.Errorf("the refused script ran")
			}
			warns := h.logs.FilterMessage("hook script refused").FilterLevelExact(zapcore.WarnLevel).All()
			if len(warns) != 1 {
				t.Fatalf("%d warnings, want 1 (rate-limited)", len(warns))
			}
			if err := warns[0].ContextMap()["error"]; !strings.Contains(fmt.Sprint(err), tt.want) {
				t.Errorf("warning err = %v, want it to say %q", err, tt.want)
			}
		})
	}
}

func chmod(t *testing.T, p string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func chown(t *testing.T, p string, uid int) {
	t.Helper()
	if err := os.Chown(p, uid, -1); err != nil {
		t.Fatal(err)
	}
}

func TestResults(t *testing.T) {
	tests := []struct {
		name       string
		body       string // "" means a file without #! line
		result     string
		status     string
		output     string
		truncated  bool
		wantDurObs float64
	}{
		{name: "ok", body: "echo hello; echo err >&2", result: resultOK, status: "exit status 0", output: "hello\nerr", wantDurObs: 1},
		{name: "non-zero exit", body: "echo bad; exit 3", result: resultFailed, status: "exit status 3", output: "bad", wantDurObs: 1},
		{name: "killed by a signal", body: "kill -9 $$", result: resultFailed, status: "signal: killed", wantDurObs: 1},
		{name: "last 4 KiB of output", body: `i=0; while [ $i -lt 600 ]; do echo "line $i"; i=$((i+1)); done`, result: resultOK, status: "exit status 0", truncated: true, wantDurObs: 1},
		{name: "no interpreter line", body: "", result: resultFailed, status: "exec format error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, 1, slowTimeout, nil)
			p := h.script("session-up", tt.body)
			if tt.body == "" {
				if err := os.WriteFile(p, []byte("echo no shebang\n"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			h.bus.Publish(sessionEvent(event.SessionUp, 1, 1))
			h.waitFor("the run", func() bool { return h.runs("session-up", tt.result) == 1 })
			h.stop()
			level := zapcore.WarnLevel
			if tt.result == resultOK {
				level = zapcore.InfoLevel
			}
			logs := h.logs.FilterField(zap.String("result", tt.result)).All()
			if len(logs) != 1 || logs[0].Level != level {
				t.Fatalf("logs with result %s: %+v", tt.result, logs)
			}
			ctx := logs[0].ContextMap()
			if got := fmt.Sprint(ctx["status"]); !strings.Contains(got, tt.status) {
				t.Errorf("status %q, want %q", got, tt.status)
			}
			out, _ := ctx["output"].(string)
			if tt.truncated {
				if len(out) > outputLimit || !strings.HasSuffix(out, "line 599") || ctx["output_truncated"] != true {
					t.Errorf("output of %d bytes ending %q, truncated=%v", len(out), out[max(0, len(out)-10):], ctx["output_truncated"])
				}
			} else if tt.output != out {
				t.Errorf("output %q, want %q", out, tt.output)
			}
			if got := h.metric("probox_hooks_duration_seconds", "hook", "session-up"); got != tt.wantDurObs {
				t.Errorf("duration samples = %v, want %v", got, tt.wantDurObs)
			}
		})
	}
}

// TestOrderPerSession runs many sessions (and tunnels) through created, up, down and
// deleted at once. The early scripts are the slow ones, so any overtaking within a
// session would show in its file.
func TestOrderPerSession(t *testing.T) {
	const (
		tunnels  = 3
		sessions = 12 // per tunnel, with the same session IDs in every tunnel
		capacity = 5
	)
	h := newHarness(t, capacity, slowTimeout, nil)
	for _, kind := range []string{"tunnel", "session"} {
		name := `"@OUT@/t$PROBOX_TUNNEL_ID"`
		if kind == "session" {
			name = `"@OUT@/t$PROBOX_TUNNEL_ID-s$PROBOX_SESSION_ID"`
		}
		h.script(kind+"-created", "sleep 0.03; echo created >> "+name)
		h.script(kind+"-up", "sleep 0.01; echo up >> "+name)
		h.script(kind+"-down", "echo down >> "+name)
		h.script(kind+"-deleted", "echo deleted >> "+name)
	}
	verbs := []event.Type{event.TunnelCreated, event.TunnelUp, event.TunnelDown, event.TunnelDeleted}
	for i, tv := range verbs {
		sv := event.SessionCreated + event.Type(i)
		for tid := uint32(1); tid <= tunnels; tid++ {
			h.bus.Publish(event.Event{Type: tv, Engine: "l2tp", Tunnel: &event.Tunnel{ID: tid}})
			for sid := uint32(1); sid <= sessions; sid++ {
				h.bus.Publish(sessionEvent(sv, tid, sid))
			}
		}
	}
	total := float64(4 * tunnels * (sessions + 1))
	h.waitFor("all scripts", func() bool { return h.allRuns() == total })
	for _, ty := range hookTypes {
		want := float64(tunnels)
		if ty.IsSession() {
			want *= sessions
		}
		if got := h.runs(ty.String(), resultOK); got != want {
			t.Errorf("%s ok = %v, want %v", ty, got, want)
		}
	}
	want := "created\nup\ndown\ndeleted\n"
	for tid := 1; tid <= tunnels; tid++ {
		if got := h.readOut(fmt.Sprintf("t%d", tid)); got != want {
			t.Errorf("tunnel %d ran %q, want %q", tid, got, want)
		}
		for sid := 1; sid <= sessions; sid++ {
			if got := h.readOut(fmt.Sprintf("t%d-s%d", tid, sid)); got != want {
				t.Errorf("session %d/%d ran %q, want %q", tid, sid, got, want)
			}
		}
	}
	if q := h.metric("probox_hooks_queued"); q != 0 {
		t.Errorf("queued = %v at the end", q)
	}
}

// TestGlobalCap has each script record the interval it ran in; no instant may be inside
// more than cap of them.
func TestGlobalCap(t *testing.T) {
	const capacity, sessions = 3, 9
	maxGauge := 0.0
	h := newHarness(t, capacity, slowTimeout, nil)
	h.script("session-up", `echo "$(date +%s%N) 1" >> "@OUT@/spans"; sleep 0.1; echo "$(date +%s%N) -1" >> "@OUT@/spans"`)
	for sid := uint32(1); sid <= sessions; sid++ {
		h.bus.Publish(sessionEvent(event.SessionUp, 1, sid))
	}
	h.waitFor("all scripts", func() bool {
		maxGauge = max(maxGauge, h.metric("probox_hooks_running"))
		return h.runs("session-up", resultOK) == sessions
	})
	type edge struct{ at, delta int64 }
	var edges []edge
	for line := range strings.Lines(h.readOut("spans")) {
		var e edge
		if _, err := fmt.Sscan(line, &e.at, &e.delta); err != nil {
			t.Fatalf("spans line %q: %v", line, err)
		}
		edges = append(edges, e)
	}
	if len(edges) != 2*sessions {
		t.Fatalf("%d span edges, want %d", len(edges), 2*sessions)
	}
	// At equal times an end sorts before a start: the intervals are closed inside the
	// true run, so they cannot touch unless the runs overlapped.
	slices.SortFunc(edges, func(a, b edge) int {
		if a.at != b.at {
			return int(a.at - b.at)
		}
		return int(a.delta - b.delta)
	})
	var cur, peak int64
	for _, e := range edges {
		cur += e.delta
		peak = max(peak, cur)
	}
	if peak > capacity {
		t.Errorf("%d scripts ran at once, cap %d", peak, capacity)
	}
	if peak < 2 {
		t.Errorf("at most %d script ran at once: no parallelism", peak)
	}
	if maxGauge > capacity {
		t.Errorf("probox_hooks_running reached %v, cap %d", maxGauge, capacity)
	}
}

func TestTimeoutKillsProcessGroup(t *testing.T) {
	tests := []struct {
		name string
		trap string
	}{
		{name: "SIGTERM", trap: ""},
		{name: "SIGTERM ignored, SIGKILL", trap: "trap '' TERM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, 1, testTimeout, nil)
			h.script("session-down", tt.trap+`
sleep 30 &
echo $$ $! > "@OUT@/pids"
echo started
wait`)
			start := time.Now()
			h.bus.Publish(sessionEvent(event.SessionDown, 1, 1))
			pids := h.readPIDs("pids", 2)
			h.waitFor("the timeout", func() bool { return h.runs("session-down", resultTimeout) == 1 })
			h.stop() // every log written
			if d := time.Since(start); d < testTimeout {
				t.Errorf("script ended after %v, before its timeout", d)
			}
			for _, pid := range pids {
				if !waitGone(pid) {
					t.Errorf("process %d (script or its child) still running", pid)
				}
			}
			logs := h.logs.FilterField(zap.String("result", resultTimeout)).All()
			if len(logs) != 1 || logs[0].Level != zapcore.WarnLevel {
				t.Fatalf("timeout logs: %+v", logs)
			}
			if out := logs[0].ContextMap()["output"]; out != "started" {
				t.Errorf("output %q, want %q", out, "started")
			}
		})
	}
}

// TestStopWaitsThenKills cancels Run while a script runs and another run of the same
// session waits: Run returns once the script is killed at its timeout, the waiting run
// never starts, and no process is left.
func TestStopWaitsThenKills(t *testing.T) {
	h := newHarness(t, 2, testTimeout, nil)
	h.script("session-up", `sleep 30 & echo $$ $! > "@OUT@/pids"; wait`)
	h.script("session-down", `touch "@OUT@/down"`)
	h.bus.Publish(sessionEvent(event.SessionUp, 1, 1))
	h.bus.Publish(sessionEvent(event.SessionDown, 1, 1))
	pids := h.readPIDs("pids", 2)
	h.waitFor("the queued run", func() bool { return h.metric("probox_hooks_queued") == 1 })
	took := h.stop()
	if took > testTimeout+time.Second {
		t.Errorf("Run took %v to return", took)
	}
	for _, pid := range pids {
		if !waitGone(pid) {
			t.Errorf("process %d still running after Run returned", pid)
		}
	}
	if h.exists("down") {
		t.Errorf("a queued script ran after stop")
	}
	if got := h.runs("session-up", resultTimeout); got != 1 {
		t.Errorf("session-up timeouts = %v, want 1", got)
	}
	if got := h.metric("probox_hooks_queued"); got != 0 {
		t.Errorf("queued = %v after stop", got)
	}
	if n := h.logs.FilterMessage("hook runner stopping: queued scripts will not run").Len(); n != 1 {
		t.Errorf("%d logs of dropped queued runs, want 1", n)
	}
}

// TestOverflowCounted makes the runner fall behind (one slow slot, tiny queue and
// subscription buffer) and checks that every event is either run or counted as dropped.
func TestOverflowCounted(t *testing.T) {
	const events = 20
	h := newHarness(t, 1, slowTimeout, func(r *Runner) { r.subBuf, r.maxQueued = 4, 2 })
	h.script("session-up", "sleep 0.02")
	for sid := uint32(1); sid <= events; sid++ {
		h.bus.Publish(sessionEvent(event.SessionUp, 1, sid))
	}
	h.waitFor("every event accounted for", func() bool {
		return h.runs("session-up", resultOK)+h.metric("probox_hooks_events_dropped_total") == events
	})
	h.stop() // every log written
	if d := h.metric("probox_hooks_events_dropped_total"); d == 0 {
		t.Errorf("nothing dropped")
	}
	if n := h.logs.FilterMessage("hook runner fell behind: events dropped, their scripts will not run").Len(); n != 1 {
		t.Errorf("%d drop warnings, want 1", n)
	}
}

func TestReload(t *testing.T) {
	h := newHarness(t, 1, slowTimeout, nil)
	h.script("tunnel-up", `echo old >> "@OUT@/ran"`)
	h.bus.Publish(event.Event{Type: event.TunnelUp, Engine: "l2tp", Tunnel: &event.Tunnel{ID: 1}})
	h.waitFor("the first run", func() bool { return h.runs("tunnel-up", resultOK) == 1 })

	newDir := filepath.Join(t.TempDir(), "hooks2")
	if err := os.Mkdir(newDir, 0o755); err != nil {
		t.Fatal(err)
	}
	body := "#!/bin/sh\necho new >> " + h.out + "/ran\n"
	if err := os.WriteFile(filepath.Join(newDir, "tunnel-up"), []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	h.r.Reload(Config{Dir: "relative", Timeout: time.Second, MaxConcurrent: 1}) // rejected
	h.r.Reload(Config{Dir: newDir, Timeout: time.Second, MaxConcurrent: 3})
	h.bus.Publish(event.Event{Type: event.TunnelUp, Engine: "l2tp", Tunnel: &event.Tunnel{ID: 1}})
	h.waitFor("the second run", func() bool { return h.runs("tunnel-up", resultOK) == 2 })
	if got := h.readOut("ran"); got != "old\nnew\n" {
		t.Errorf("ran %q", got)
	}
	if n := h.logs.FilterMessage("hook configuration rejected, keeping the old one").Len(); n != 1 {
		t.Errorf("%d rejections logged, want 1", n)
	}
	if got := h.r.config(); got.MaxConcurrent != 3 || got.Dir != newDir {
		t.Errorf("config after reload = %+v", got)
	}
}

func TestNewAndRunErrors(t *testing.T) {
	bus := event.NewBus(nil)
	good := Config{Dir: "/etc/probox/hooks", Timeout: time.Second, MaxConcurrent: 1}
	tests := []struct {
		name string
		cfg  Config
		bus  *event.Bus
	}{
		{name: "nil bus", cfg: good},
		{name: "relative dir", cfg: Config{Dir: "hooks", Timeout: time.Second, MaxConcurrent: 1}, bus: bus},
		{name: "zero timeout", cfg: Config{Dir: "/h", MaxConcurrent: 1}, bus: bus},
		{name: "zero cap", cfg: Config{Dir: "/h", Timeout: time.Second}, bus: bus},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.cfg, tt.bus, nil, nil); err == nil {
				t.Errorf("New succeeded")
			}
		})
	}
	reg := prometheus.NewRegistry()
	if _, err := New(good, bus, nil, reg); err != nil {
		t.Fatal(err)
	}
	if _, err := New(good, bus, nil, reg); err == nil {
		t.Errorf("second New on one registry succeeded")
	}
	if _, err := New(Config{Timeout: time.Second, MaxConcurrent: 1}, bus, nil, prometheus.NewRegistry()); err != nil {
		t.Errorf("New with hooks disabled (empty dir): %v", err)
	}

	r, err := New(good, bus, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	for bus.Subscribers() == 0 {
		time.Sleep(time.Millisecond)
	}
	if err := r.Run(ctx); err == nil {
		t.Errorf("second concurrent Run succeeded")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
}
