package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/probox/probox/e2e/netns"
)

// binDir holds the probox binary built once for the whole package, and its mode links.
var binDir string

// dataplane is the data plane every daemon of the run uses: "kernel" inside the kernel
// VM (KERNEL_VM=1, see `make test-kernel`), "userspace" elsewhere. PROBOX_E2E_DATAPLANE
// overrides it (the benchmarks run the same scenario with both).
var dataplane = defaultDataplane()

func defaultDataplane() string {
	if d := os.Getenv("PROBOX_E2E_DATAPLANE"); d != "" {
		return d
	}
	if inVM() {
		return "kernel"
	}
	return "userspace"
}

// inVM reports whether the tests run inside the kernel VM (../shared/vm/kernel-vm).
func inVM() bool { return os.Getenv("KERNEL_VM") == "1" }

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

// run builds probox (or, with PROBOX_E2E_BIN set, uses that prebuilt static binary: the
// kernel VM has no Go toolchain), installs its mode links and runs the tests.
func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "probox-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if prebuilt := os.Getenv("PROBOX_E2E_BIN"); prebuilt != "" {
		abs, err := filepath.Abs(prebuilt)
		if err == nil {
			_, err = os.Stat(abs)
		}
		if err == nil {
			err = os.Symlink(abs, filepath.Join(dir, "probox"))
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "e2e: PROBOX_E2E_BIN: %v\n", err)
			return 1
		}
	} else {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "probox"), "..")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: building probox: %v\n%s", err, out)
			return 1
		}
	}
	if out, err := exec.Command(filepath.Join(dir, "probox"), "install-links", dir).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: install-links: %v\n%s", err, out)
		return 1
	}
	binDir = dir
	return m.Run()
}

// bin is the path of a mode link (or "probox").
func bin(name string) string { return filepath.Join(binDir, name) }

// daemon is a probox daemon running in a namespace for a test.
type daemon struct {
	t    testing.TB
	ns   *netns.NS
	name string
	dir  string
	cfg  string // path of its configuration file
	sock string
	proc *netns.Proc
}

// startDaemon writes cfg (with the runtime paths filled in) and starts prol2tpd -f -d in
// ns. The config text may use {{DIR}} for the daemon's private directory. The daemon
// runs the data plane of the run (see dataplane) unless cfg sets [kernel] dataplane;
// startDaemon checks that it really runs the one configured.
func startDaemon(t testing.TB, ns *netns.NS, name, cfg string, files map[string]string) *daemon {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(filepath.Join(dir, "hooks"), 0o755); err != nil {
		t.Fatal(err)
	}
	d := &daemon{t: t, ns: ns, name: name, dir: dir, sock: filepath.Join(dir, "control.sock")}
	base := fmt.Sprintf(`
[system]
runtime_dir = %q
secrets_file = %q
[control]
socket = %q
http_listen = "127.0.0.1:9107"
[hooks]
dir = %q
`, dir, filepath.Join(dir, "secrets"), d.sock, filepath.Join(dir, "hooks"))
	full := mergeTOML(base, strings.ReplaceAll(cfg, "{{DIR}}", dir))
	if !strings.Contains(full, "\ndataplane = ") {
		full = mergeTOML(full, fmt.Sprintf("[kernel]\ndataplane = %q\n", dataplane))
	}
	for f, content := range files {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	d.cfg = filepath.Join(dir, "probox.toml")
	if err := os.WriteFile(d.cfg, []byte(full), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin("probox"), "config", "check", d.cfg).CombinedOutput(); err != nil {
		t.Fatalf("%s: config check: %v\n%s\n%s", name, err, out, full)
	}
	d.start()
	if logs := os.Getenv("PROBOX_E2E_LOGS"); logs != "" {
		// Debugging: keep every daemon's log, also when the test passes, as
		// PROBOX_E2E_LOGS/<test>-<daemon>.log.
		t.Cleanup(func() {
			f := strings.NewReplacer("/", "-", " ", "_").Replace(t.Name()) + "-" + name + ".log"
			os.WriteFile(filepath.Join(logs, f), []byte(d.proc.Output()), 0o644)
		})
	}
	want := dataplane
	for _, l := range strings.Split(full, "\n") {
		if v, ok := strings.CutPrefix(l, "dataplane = "); ok {
			want = strings.Trim(v, `"`)
		}
	}
	if got := d.status().Dataplane.Name; got != want {
		t.Fatalf("%s runs the %q data plane, want %q", name, got, want)
	}
	return d
}

// start starts the daemon with its configuration and waits until it answers on its
// control socket. After a kill the old socket file is still there: the daemon must cope
// with it, so start waits for an answer from the new process.
func (d *daemon) start() {
	d.t.Helper()
	d.proc = d.ns.Start(d.t, bin("prol2tpd"), "-f", "-d", "-c", d.cfg)
	netns.WaitFor(d.t, 20*time.Second, func() bool {
		select {
		case <-d.proc.Done():
			code, _ := d.proc.Wait(0)
			d.t.Fatalf("%s exited with %d:\n%s", d.name, code, d.proc.Output())
		default:
		}
		if _, err := os.Stat(d.sock); err != nil {
			return false
		}
		out, err := d.tryCLI("prol2tp", "-j", "show", "system")
		if err != nil {
			return false
		}
		var st systemStatus
		return json.Unmarshal([]byte(out), &st) == nil && st.PID == d.proc.Pid()
	}, d.name+" to answer on its control socket")
}

// kill ends the daemon with SIGKILL, as a crash would: no clean-up of its own runs.
func (d *daemon) kill() {
	d.t.Helper()
	if err := d.proc.Signal(syscall.SIGKILL); err != nil {
		d.t.Fatal(err)
	}
	if code, err := d.proc.Wait(10 * time.Second); err != nil || code != 128+int(syscall.SIGKILL) {
		d.t.Fatalf("%s after SIGKILL: exit %d, %v", d.name, code, err)
	}
}

// systemStatus is the part of `prol2tp -j show system` (the /status document) the tests
// look at.
type systemStatus struct {
	PID       int `json:"pid"`
	Dataplane struct {
		Name   string `json:"name"`
		Reason string `json:"reason"`
		Open   bool   `json:"open"`
	} `json:"dataplane"`
	Engines []struct {
		Name  string `json:"name"`
		State string `json:"state"`
	} `json:"engines"`
}

// status returns the daemon's `prol2tp -j show system`.
func (d *daemon) status() systemStatus {
	d.t.Helper()
	var st systemStatus
	out := d.cli("prol2tp", "-j", "show", "system")
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		d.t.Fatalf("prol2tp -j show system: %v\n%s", err, out)
	}
	return st
}

// hasEngine reports whether the daemon runs the named engine (l2tp, ppp, pppoe).
func (d *daemon) hasEngine(name string) bool {
	d.t.Helper()
	for _, e := range d.status().Engines {
		if e.Name == name {
			return true
		}
	}
	return false
}

// mergeTOML appends extra to base, moving extra's keys of a table that base already has
// into that table (TOML forbids defining a table twice).
func mergeTOML(base, extra string) string {
	sections := map[string][]string{}
	var order []string
	cur := ""
	add := func(text string) {
		for _, line := range strings.Split(text, "\n") {
			l := strings.TrimSpace(line)
			if strings.HasPrefix(l, "[") && strings.HasSuffix(l, "]") {
				cur = l
				if _, ok := sections[cur]; !ok {
					sections[cur] = nil
					order = append(order, cur)
				}
				continue
			}
			if l == "" {
				continue
			}
			sections[cur] = append(sections[cur], l)
		}
	}
	add(base)
	cur = ""
	add(extra)
	var b strings.Builder
	for _, l := range sections[""] {
		b.WriteString(l + "\n")
	}
	for _, s := range order {
		if s == "" {
			continue
		}
		b.WriteString("\n" + s + "\n")
		for _, l := range sections[s] {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// cli runs a management tool against the daemon and returns its output; failures fail
// the test.
func (d *daemon) cli(tool string, args ...string) string {
	d.t.Helper()
	out, err := d.tryCLI(tool, args...)
	if err != nil {
		d.t.Fatalf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, out)
	}
	return out
}

func (d *daemon) tryCLI(tool string, args ...string) (string, error) {
	flag := "-s"
	if strings.HasSuffix(tool, "watch") {
		flag = "-socket"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin(tool), append([]string{flag, d.sock}, args...)...).CombinedOutput()
	return string(out), err
}

// metrics scrapes the daemon's /metrics from inside its namespace.
func (d *daemon) metrics() string {
	d.t.Helper()
	out, err := httpGet(d.ns, "127.0.0.1:9107", "/metrics")
	if err != nil {
		d.t.Fatalf("scraping /metrics: %v", err)
	}
	return out
}

// httpGet fetches path from the HTTP server at addr inside ns. The connection is opened
// on a thread in ns (a socket stays in the namespace it was made in), so no curl is
// needed in the namespace.
func httpGet(ns *netns.NS, addr, path string) (string, error) {
	var c net.Conn
	if err := ns.Do(func() (err error) {
		c, err = net.DialTimeout("tcp", addr, 10*time.Second)
		return err
	}); err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", path, addr); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var b strings.Builder
	if _, err := bufio.NewReader(resp.Body).WriteTo(&b); err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return b.String(), fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return b.String(), nil
}

// stop sends SIGTERM and checks the daemon exits 0.
func (d *daemon) stop() {
	d.t.Helper()
	code, err := d.proc.Stop(20 * time.Second)
	if err != nil || code != 0 {
		d.t.Errorf("daemon exit %d, %v\n%s", code, err, d.proc.Output())
	}
}

// addrOf returns the first IPv4 address of iface in ns ("" if none).
func addrOf(ns *netns.NS, iface string) string {
	out, err := ns.Run(context.Background(), "ip", "-4", "-o", "addr", "show", "dev", iface)
	if err != nil {
		return ""
	}
	f := strings.Fields(out)
	for i, w := range f {
		if w == "inet" && i+1 < len(f) {
			return strings.Split(f[i+1], "/")[0]
		}
	}
	return ""
}

// hasLink reports whether ns has an interface whose name starts with prefix.
func hasLink(ns *netns.NS, prefix string) bool {
	names, _ := ns.Interfaces()
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			return true
		}
	}
	return false
}

// hook installs hook scripts named events in the daemon's hooks directory; each appends
// its environment, between "--- EVENT" lines, to the returned log file.
func (d *daemon) hook(events ...string) string {
	d.t.Helper()
	log := filepath.Join(d.dir, "hooks.log")
	for _, ev := range events {
		script := fmt.Sprintf("#!/bin/sh\n{ echo '--- %s'; env | grep '^PROBOX_' | sort; } >> %s\n", ev, log)
		if err := os.WriteFile(filepath.Join(d.dir, "hooks", ev), []byte(script), 0o755); err != nil {
			d.t.Fatal(err)
		}
	}
	return log
}
