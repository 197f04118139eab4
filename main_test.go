package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

// TestMain lets the test binary stand in for the probox binary: run with
// PROBOX_TEST_MAIN=1 it is main itself, so the integration test below can start the daemon
// and the CLIs (through symlinks) without a separate build.
func TestMain(m *testing.M) {
	if os.Getenv("PROBOX_TEST_MAIN") == "1" {
		os.Exit(dispatch(os.Args, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func TestDispatch(t *testing.T) {
	tests := []struct {
		name     string
		argv     []string
		wantCode int
		wantOut  string // substring of stdout+stderr
	}{
		{name: "no mode", argv: []string{"probox"}, wantCode: 2, wantOut: "modes:\n  config"},
		{name: "unknown mode", argv: []string{"probox", "frobnicate"}, wantCode: 2, wantOut: `probox: unknown mode "frobnicate"`},
		{name: "help", argv: []string{"probox", "-h"}, wantCode: 0, wantOut: "prol2tpwatch   print L2TP events"},
		{name: "version", argv: []string{"probox", "-v"}, wantCode: 0, wantOut: "probox dev"},
		{name: "mode as argument", argv: []string{"probox", "config", "-h"}, wantCode: 0, wantOut: "probox config check FILE"},
		{name: "argv0 is a mode", argv: []string{"/usr/sbin/prol2tpd", "-v"}, wantCode: 0, wantOut: "probox dev"},
		{name: "daemon help", argv: []string{"prol2tpd", "-h"}, wantCode: 0, wantOut: "usage: prol2tpd [-f] [-d]... [-c FILE] [-o FILE] [-n] [-v]"},
		{name: "daemon bad flag", argv: []string{"proacd", "-x"}, wantCode: 2, wantOut: "flag provided but not defined: -x"},
		{name: "cli help", argv: []string{"prol2tp", "-h"}, wantCode: 0, wantOut: "show system"},
		{name: "cli unknown verb", argv: []string{"prol2tp", "show", "frogs"}, wantCode: 2, wantOut: `prol2tp: unknown command "show frogs"`},
		{name: "watch help", argv: []string{"prol2tpwatch", "-h"}, wantCode: 0, wantOut: "usage: prol2tpwatch [-T SECONDS] [-n N] [-v] [-p] [-c] [-t MASK] [-s MASK]"},
		{name: "watch bad mask", argv: []string{"prol2tpwatch", "-t", "up,sideways"}, wantCode: 2, wantOut: `bad mask word "sideways"`},
		{name: "propppctl help", argv: []string{"propppctl", "-h"}, wantCode: 0, wantOut: "destroy INSTANCE"},
		{name: "propppwatch help", argv: []string{"propppwatch", "-h"}, wantCode: 0, wantOut: "usage: propppwatch"},
		{name: "proac_info help", argv: []string{"proac_info", "-h"}, wantCode: 0, wantOut: "sessions"},
		{name: "proac_manage help", argv: []string{"proac_manage", "-h"}, wantCode: 0, wantOut: "disconnect mac MAC"},
		{name: "proac_manage bad MAC", argv: []string{"proac_manage", "disconnect", "mac", "zz"}, wantCode: 2, wantOut: `bad MAC address "zz"`},
		{name: "install-links help", argv: []string{"probox", "install-links", "-h"}, wantCode: 0, wantOut: "usage: probox install-links DIR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			code := dispatch(tt.argv, &out, &out)
			if code != tt.wantCode {
				t.Errorf("exit status = %d, want %d; output:\n%s", code, tt.wantCode, out.String())
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("output does not contain %q:\n%s", tt.wantOut, out.String())
			}
		})
	}
}

func TestEveryModeHasHelp(t *testing.T) {
	for name := range modes {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			if code := dispatch([]string{"probox", name, "-h"}, &out, &out); code != 0 {
				t.Errorf("probox %s -h: exit %d\n%s", name, code, out.String())
			}
			if !strings.Contains(out.String(), "usage") {
				t.Errorf("probox %s -h prints no usage:\n%s", name, out.String())
			}
		})
	}
	for _, n := range linkNames() {
		if _, ok := modes[n]; !ok {
			t.Errorf("link name %q is not a mode", n)
		}
	}
}

func TestModeFromSymlinkChain(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "probox")
	if err := os.WriteFile(bin, []byte("#!/bin/false\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	must(t, os.Symlink("probox", filepath.Join(dir, "prol2tpwatch")))
	must(t, os.Symlink("prol2tpwatch", filepath.Join(dir, "l2tpwatch"))) // site-local alias
	must(t, os.Symlink(bin, filepath.Join(dir, "other")))
	tests := []struct {
		argv0 string
		want  string
		ok    bool
	}{
		{filepath.Join(dir, "prol2tpwatch"), "prol2tpwatch", true},
		{filepath.Join(dir, "l2tpwatch"), "prol2tpwatch", true},
		{filepath.Join(dir, "other"), "", false},
		{bin, "", false},
	}
	for _, tt := range tests {
		got, ok := modeFromArgv0(tt.argv0)
		if got != tt.want || ok != tt.ok {
			t.Errorf("modeFromArgv0(%s) = %q, %t; want %q, %t", filepath.Base(tt.argv0), got, ok, tt.want, tt.ok)
		}
	}
}

func TestInstallLinks(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "probox")
	must(t, os.WriteFile(target, nil, 0o755))
	links := filepath.Join(dir, "bin")
	var out bytes.Buffer
	if err := installLinks(links, target, &out); err != nil {
		t.Fatal(err)
	}
	for _, n := range linkNames() {
		dst, err := os.Readlink(filepath.Join(links, n))
		if err != nil || dst != target {
			t.Errorf("%s -> %q, %v; want %s", n, dst, err, target)
		}
	}
	// Idempotent: a second run changes nothing and reports nothing.
	out.Reset()
	if err := installLinks(links, target, &out); err != nil || out.Len() != 0 {
		t.Errorf("second install-links: %v, output %q", err, out.String())
	}
	// A file that is not our link is never overwritten.
	must(t, os.Remove(filepath.Join(links, "prol2tp")))
	must(t, os.WriteFile(filepath.Join(links, "prol2tp"), []byte("mine"), 0o755))
	must(t, os.Remove(filepath.Join(links, "proacd")))
	must(t, os.Symlink("/bin/true", filepath.Join(links, "proacd")))
	err := installLinks(links, target, &out)
	want := fmt.Sprintf("refusing to overwrite %s, %s: not a link to %s", filepath.Join(links, "proacd"), filepath.Join(links, "prol2tp"), target)
	if err == nil || err.Error() != want {
		t.Errorf("install-links over foreign files: %v, want %q", err, want)
	}
	if b, _ := os.ReadFile(filepath.Join(links, "prol2tp")); string(b) != "mine" {
		t.Errorf("foreign file was changed")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestDaemonIntegration starts the real daemon (this test binary as main) in the
// foreground with a temporary configuration, and checks its surfaces from outside.
func TestDaemonIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: starts the daemon")
	}
	dir := t.TempDir()
	exe, err := os.Executable()
	must(t, err)
	bin := filepath.Join(dir, "bin")
	must(t, os.MkdirAll(bin, 0o755))
	for _, n := range []string{"prol2tpd", "prol2tp", "prol2tpwatch"} {
		must(t, os.Symlink(exe, filepath.Join(bin, n)))
	}
	port := freePort(t)
	sock := filepath.Join(dir, "run", "control.sock")
	cfgPath := filepath.Join(dir, "probox.toml")
	good := fmt.Sprintf(`
[system]
runtime_dir = %q
[control]
socket = %q
http_listen = "127.0.0.1:%d"
[kernel]
dataplane = "auto"
`, filepath.Join(dir, "run"), sock, port)
	must(t, os.WriteFile(cfgPath, []byte(good), 0o600))

	logPath := filepath.Join(dir, "daemon.log")
	logf, err := os.Create(logPath)
	must(t, err)
	defer logf.Close()
	cmd := exec.Command(filepath.Join(bin, "prol2tpd"), "-f", "-d", "-c", cfgPath)
	cmd.Env = append(os.Environ(), "PROBOX_TEST_MAIN=1")
	cmd.Stdout, cmd.Stderr = logf, logf
	must(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-exited
		}
	}()
	logText := func() string { b, _ := os.ReadFile(logPath); return string(b) }
	waitFor(t, 10*time.Second, func() bool { _, err := os.Stat(sock); return err == nil }, "the control socket", logText)

	fi, err := os.Stat(sock)
	must(t, err)
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("control socket mode = %o, want 600", perm)
	}

	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	metrics := httpGet(t, base+"/metrics")
	for _, want := range []string{`probox_build_info{goversion=`, `probox_dataplane_info{dataplane=`, "go_goroutines", `probox_config_reloads_total{result="success"} 0`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// Metric names, help and types follow the Prometheus conventions.
	problems, err := promlint.New(strings.NewReader(metrics)).Lint()
	if err != nil {
		t.Fatalf("promlint: %v", err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	var st struct {
		Version string `json:"version"`
		Mode    string `json:"mode"`
		Config  struct {
			Path string `json:"path"`
		} `json:"config"`
		Dataplane struct {
			Name string `json:"name"`
		} `json:"dataplane"`
	}
	must(t, json.Unmarshal([]byte(httpGet(t, base+"/status")), &st))
	if st.Mode != "prol2tpd" || st.Config.Path != cfgPath || st.Dataplane.Name == "" || st.Version == "" {
		t.Errorf("/status = %+v", st)
	}
	if got := httpGet(t, base+"/healthz"); got != "ok\n" {
		t.Errorf("/healthz = %q", got)
	}

	// The CLI through its symlink.
	out := runCLI(t, filepath.Join(bin, "prol2tp"), "-s", sock, "show", "system")
	for _, want := range []string{"mode:", "prol2tpd (pid", cfgPath + " (loaded", "data plane:", "engines:", "hooks running, ppp running, l2tp running, pppoe running"} {
		if !strings.Contains(out, want) {
			t.Errorf("prol2tp show system lacks %q:\n%s", want, out)
		}
	}
	var js map[string]any
	must(t, json.Unmarshal([]byte(runCLI(t, filepath.Join(bin, "prol2tp"), "-c", cfgPath, "-j", "show", "system")), &js))
	if js["mode"] != "prol2tpd" {
		t.Errorf("prol2tp -j show system: mode = %v", js["mode"])
	}

	// SIGHUP with a good change: applied.
	must(t, os.WriteFile(cfgPath, []byte(good+"\n[log]\nlevel = \"warn\"\n"), 0o600))
	out = runCLI(t, filepath.Join(bin, "prol2tp"), "-s", sock, "reload")
	if !strings.Contains(out, "configuration reloaded from "+cfgPath+": 1 changes") || !strings.Contains(out, "log modified") {
		t.Errorf("prol2tp reload:\n%s", out)
	}

	// SIGHUP with a broken file: rejected whole, error logged, daemon keeps running.
	must(t, os.WriteFile(cfgPath, []byte(good+"\n[pppoe]\nmax_sesions = 3\n"), 0o600))
	must(t, cmd.Process.Signal(syscall.SIGHUP))
	waitFor(t, 10*time.Second, func() bool {
		return strings.Contains(logText(), `pppoe.max_sesions: unknown key (did you mean \"max_sessions\"?)`)
	}, "the reload error in the log", logText)
	if got := httpGet(t, base+"/healthz"); got != "ok\n" {
		t.Errorf("/healthz after a bad reload = %q", got)
	}
	if m := httpGet(t, base+"/metrics"); !strings.Contains(m, `probox_config_reloads_total{result="failure"} 1`) {
		t.Errorf("/metrics does not count the failed reload")
	}
	// The API reports the same errors to the operator.
	cl := exec.Command(filepath.Join(bin, "prol2tp"), "-s", sock, "reload")
	cl.Env = append(os.Environ(), "PROBOX_TEST_MAIN=1")
	b, err := cl.CombinedOutput()
	if err == nil || !strings.Contains(string(b), "max_sesions: unknown key") {
		t.Errorf("prol2tp reload of a bad file: %v\n%s", err, b)
	}

	// A second daemon on the host refuses to start.
	second := exec.Command(filepath.Join(bin, "prol2tpd"), "-f", "-c", cfgPath)
	must(t, os.WriteFile(cfgPath, []byte(good), 0o600))
	second.Env = append(os.Environ(), "PROBOX_TEST_MAIN=1")
	b, err = second.CombinedOutput()
	if err == nil || !strings.Contains(string(b), "another probox daemon is running (pid ") {
		t.Errorf("second daemon: %v\n%s", err, b)
	}

	// SIGTERM: exit 0, socket removed.
	must(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("daemon exit: %v\n%s", err, logText())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("daemon did not stop on SIGTERM\n%s", logText())
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("control socket still exists after exit: %v", err)
	}
	if !strings.Contains(logText(), "probox stopped") {
		t.Errorf("log lacks the stop line:\n%s", logText())
	}
}

func runCLI(t *testing.T, path string, args ...string) string {
	t.Helper()
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), "PROBOX_TEST_MAIN=1")
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(path), strings.Join(args, " "), err, b)
	}
	return string(b)
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func waitFor(t *testing.T, d time.Duration, cond func() bool, what string, log func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s\n%s", what, log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
