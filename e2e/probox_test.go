package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/probox/probox/e2e/netns"
)

// binDir holds the probox binary built once for the whole package, and its mode links.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "probox-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "probox"), "..")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: building probox: %v\n%s", err, out)
		return 1
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
	t    *testing.T
	ns   *netns.NS
	dir  string
	sock string
	proc *netns.Proc
}

// startDaemon writes cfg (with the runtime paths filled in) and starts prol2tpd -f -d in
// ns. The config text may use {{DIR}} for the daemon's private directory.
func startDaemon(t *testing.T, ns *netns.NS, name, cfg string, files map[string]string) *daemon {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(filepath.Join(dir, "hooks"), 0o755); err != nil {
		t.Fatal(err)
	}
	d := &daemon{t: t, ns: ns, dir: dir, sock: filepath.Join(dir, "control.sock")}
	base := fmt.Sprintf(`
[system]
runtime_dir = %q
secrets_file = %q
[control]
socket = %q
http_listen = "127.0.0.1:9107"
[hooks]
dir = %q
[kernel]
dataplane = "userspace"
`, dir, filepath.Join(dir, "secrets"), d.sock, filepath.Join(dir, "hooks"))
	full := mergeTOML(base, strings.ReplaceAll(cfg, "{{DIR}}", dir))
	for f, content := range files {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "probox.toml")
	if err := os.WriteFile(path, []byte(full), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin("probox"), "config", "check", path).CombinedOutput(); err != nil {
		t.Fatalf("%s: config check: %v\n%s\n%s", name, err, out, full)
	}
	d.proc = ns.Start(t, bin("prol2tpd"), "-f", "-d", "-c", path)
	netns.WaitFor(t, 15*time.Second, func() bool {
		_, err := os.Stat(d.sock)
		return err == nil
	}, name+" control socket")
	return d
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
	out, err := d.ns.Run(context.Background(), "curl", "-sf", "http://127.0.0.1:9107/metrics")
	if err != nil {
		d.t.Fatalf("scraping /metrics: %v\n%s", err, out)
	}
	return out
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
