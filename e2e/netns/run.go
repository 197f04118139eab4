package netns

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Prefix starts the name of every network namespace this package creates.
// Namespaces under /run/netns whose names start with it belong to probox test
// runs; see New for how leftovers of dead runs are removed.
const Prefix = "pbx"

// MarkerDir holds one marker file per test run (per test process), named by
// the run ID and holding "<pid> <starttime>" of the process, so that a later
// run can tell whether the run that created a namespace is still alive.
const MarkerDir = "/run/probox-e2e"

// netnsDir is where iproute2 keeps the bind mounts of named namespaces.
const netnsDir = "/run/netns"

// runIDLen is the length of the random run ID that follows Prefix.
const runIDLen = 4

// run is the per-process state shared by all test beds.
var run struct {
	once  sync.Once
	err   error  // why namespaces cannot be created, if they cannot
	ip    string // absolute path of the ip binary
	id    string // run ID, runIDLen chars of [a-z0-9]
	mu    sync.Mutex
	beds  int // beds created so far, guarded by mu
	start uint64
}

// setup runs once per process: it finds ip, removes leftovers, claims a run
// ID with a marker file and probes by creating and deleting a namespace.
func setup() error {
	run.once.Do(func() { run.err = doSetup() })
	return run.err
}

func doSetup() error {
	if err := checkPlatform(); err != nil {
		return err
	}
	ip, err := exec.LookPath("ip")
	if err != nil {
		return fmt.Errorf("iproute2 not found: %w", err)
	}
	run.ip = ip
	run.start, _, err = procStart(os.Getpid())
	if err != nil {
		return err
	}
	removeLeftovers(nil)
	if err := claimRunID(); err != nil {
		return err
	}
	probe := nsName(0, "probe")
	if out, err := ipCmd(context.Background(), "netns", "add", probe); err != nil {
		os.Remove(filepath.Join(MarkerDir, run.id))
		return fmt.Errorf("ip netns add: %v: %s", err, strings.TrimSpace(out))
	}
	if err := destroyNS(probe, nil); err != nil {
		return err
	}
	return nil
}

// nsName returns the full namespace name of namespace name in bed number n.
func nsName(n int, name string) string {
	return bedPrefix(n) + "-" + name
}

// bedPrefix returns the name prefix of bed number n, e.g. "pbxk3f91".
func bedPrefix(n int) string {
	return Prefix + run.id + strconv.Itoa(n)
}

// claimRunID picks a random run ID that no marker and no namespace uses and
// creates its marker. The marker is written to a temporary file and then
// linked into place, so that it appears atomically and exclusively: another
// process never reads a half-written marker.
func claimRunID() error {
	if err := os.MkdirAll(MarkerDir, 0o755); err != nil {
		return err
	}
	content := fmt.Sprintf("%d %d\n", os.Getpid(), run.start)
	tmp := filepath.Join(MarkerDir, fmt.Sprintf(".tmp-%d", os.Getpid()))
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		return err
	}
	defer os.Remove(tmp)
	for range 100 {
		id := randomID()
		if namespacesOf(id) {
			continue
		}
		err := os.Link(tmp, filepath.Join(MarkerDir, id))
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return err
		}
		run.id = id
		return nil
	}
	return errors.New("netns: no free run ID")
}

func randomID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	var b [runIDLen]byte
	rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:])
}

// namespacesOf reports whether any namespace of run id exists.
func namespacesOf(id string) bool {
	ents, _ := os.ReadDir(netnsDir)
	for _, e := range ents {
		if rid, ok := runIDOf(e.Name()); ok && rid == id {
			return true
		}
	}
	return false
}

// runIDOf returns the run ID encoded in a namespace name created by this
// package, or false if name does not have that form.
func runIDOf(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, Prefix)
	if !ok || len(rest) < runIDLen+2 {
		return "", false
	}
	id := rest[:runIDLen]
	for _, c := range id {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return "", false
		}
	}
	num, _, ok := strings.Cut(rest[runIDLen:], "-")
	if !ok || num == "" {
		return "", false
	}
	if _, err := strconv.Atoi(num); err != nil {
		return "", false
	}
	return id, true
}

// liveRunPids returns the pids of the live test runs that have markers.
func liveRunPids() map[int]bool {
	pids := map[int]bool{}
	markers, _ := os.ReadDir(MarkerDir)
	for _, m := range markers {
		if len(m.Name()) != runIDLen {
			continue
		}
		if pid, ok := runPid(m.Name()); ok {
			pids[pid] = true
		}
	}
	return pids
}

// runAlive reports whether the run with the given ID still has a live
// process. A missing marker means dead: a run creates its marker before any
// namespace.
func runAlive(id string) bool {
	_, ok := runPid(id)
	return ok
}

// runPid returns the pid of the run with the given ID if it is alive.
func runPid(id string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(MarkerDir, id))
	if err != nil {
		return 0, false
	}
	var pid int
	var start uint64
	if _, err := fmt.Sscanf(string(b), "%d %d", &pid, &start); err != nil {
		return 0, false
	}
	got, zombie, err := procStart(pid)
	return pid, err == nil && got == start && !zombie
}

// procStart returns the start time of process pid (field 22 of
// /proc/<pid>/stat, in clock ticks since boot; comparing it guards against a
// recycled pid) and whether the process is a zombie: a run killed with
// SIGKILL stays one until its parent reaps it, but it is dead.
func procStart(pid int) (start uint64, zombie bool, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false, err
	}
	// The command name (field 2) is in parentheses and may contain anything.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, false, fmt.Errorf("netns: malformed /proc/%d/stat", pid)
	}
	fields := strings.Fields(string(b[i+1:]))
	// fields[0] is field 3 (state), so field 22 is fields[19].
	if len(fields) < 20 {
		return 0, false, fmt.Errorf("netns: short /proc/%d/stat", pid)
	}
	start, err = strconv.ParseUint(fields[19], 10, 64)
	return start, fields[0] == "Z" || fields[0] == "X", err
}

// removeLeftovers removes every namespace of a dead run (processes inside are
// killed first) and the markers of dead runs. Namespaces of live runs, this
// one included, and names not in this package's format are left alone.
// Errors are reported through logf when it is not nil.
func removeLeftovers(logf func(format string, args ...any)) {
	ents, _ := os.ReadDir(netnsDir)
	alive := map[string]bool{}
	isAlive := func(id string) bool {
		a, ok := alive[id]
		if !ok {
			a = runAlive(id)
			alive[id] = a
		}
		return a
	}
	for _, e := range ents {
		id, ok := runIDOf(e.Name())
		if !ok || isAlive(id) {
			continue
		}
		if err := destroyNS(e.Name(), nil); err != nil && logf != nil {
			logf("netns: removing leftover namespace %s: %v", e.Name(), err)
		}
	}
	markers, _ := os.ReadDir(MarkerDir)
	for _, m := range markers {
		name := m.Name()
		if pidStr, ok := strings.CutPrefix(name, ".tmp-"); ok {
			// A temporary marker of a claimRunID that died half way.
			if pid, err := strconv.Atoi(pidStr); err == nil && pid != os.Getpid() {
				if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); errors.Is(err, os.ErrNotExist) {
					os.Remove(filepath.Join(MarkerDir, name))
				}
			}
			continue
		}
		if len(name) == runIDLen && !isAlive(name) && !namespacesOf(name) {
			os.Remove(filepath.Join(MarkerDir, name))
		}
	}
}

// ipCmd runs ip with args and returns its combined output.
func ipCmd(ctx context.Context, args ...string) (string, error) {
	return ipCmdIn(ctx, "", args...)
}

// ipCmdIn runs ip with args, feeding it stdin, and returns its combined
// output. Every call is bounded by a 10 s timeout.
func ipCmdIn(ctx context.Context, stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, run.ip, args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	cmd.WaitDelay = time.Second
	setProcAttr(cmd)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// destroyNS kills every process inside namespace name, deletes the given
// links and removes the namespace. Deleting the links explicitly frees veth
// peers in other namespaces even when something (a socket or TUN device
// opened through Do and never closed) keeps the namespace itself alive after
// its name is gone. It never enters the namespace: another run removing the
// same leftover would find the entering thread's process inside and kill it.
func destroyNS(name string, links []string) error {
	path := filepath.Join(netnsDir, name)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	var errs []error
	if err := killProcsIn(path); err != nil {
		errs = append(errs, err)
	}
	var batch strings.Builder
	for i := len(links) - 1; i >= 0; i-- {
		fmt.Fprintf(&batch, "link del dev %s\n", links[i])
	}
	if batch.Len() > 0 {
		// Errors are expected (a VLAN is gone with its parent, a veth
		// end with its peer): the namespace deletion below is what
		// counts.
		ipCmdIn(context.Background(), batch.String(), "-n", name, "-force", "-batch", "-")
	}
	if out, err := ipCmd(context.Background(), "netns", "del", name); err != nil {
		if _, serr := os.Stat(path); !errors.Is(serr, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("ip netns del %s: %v: %s", name, err, strings.TrimSpace(out)))
		}
	}
	return errors.Join(errs...)
}
