package netns

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ErrTimeout is returned (wrapped) by Proc.Wait when the process is still
// running at the deadline.
var ErrTimeout = errors.New("netns: timeout")

// Require skips the test when network namespaces cannot be created here
// (not Linux, no ip binary, not root/CAP_SYS_ADMIN) and in -short mode. It
// finds out by trying: the first call in a process creates and deletes a
// scratch namespace. New calls it, so tests that use New need not.
func Require(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("netns: skipped in -short mode (needs root and network namespaces)")
	}
	if err := setup(); err != nil {
		t.Skipf("netns: cannot create network namespaces (need root/CAP_SYS_ADMIN): %v", err)
	}
}

// vlan caches whether the kernel can make 802.1Q VLAN interfaces.
var vlan struct {
	once sync.Once
	err  error
}

// RequireVLAN skips the test (after Require's checks) when the kernel cannot
// create 802.1Q VLAN interfaces (CONFIG_VLAN_8021Q unset or the module not
// loadable, as on the development machines; the kernel VM has it). The
// first call in a process finds out by trying, in a scratch namespace.
func RequireVLAN(t testing.TB) {
	t.Helper()
	Require(t)
	vlan.once.Do(func() { vlan.err = probeVLAN() })
	if vlan.err != nil {
		t.Skipf("netns: kernel cannot create 802.1Q VLAN interfaces (CONFIG_VLAN_8021Q): %v", vlan.err)
	}
}

func probeVLAN() error {
	run.mu.Lock()
	run.beds++
	name := nsName(run.beds, "vlanprobe")
	run.mu.Unlock()
	ctx := context.Background()
	defer destroyNS(name, nil)
	for _, args := range [][]string{
		{"netns", "add", name},
		{"-n", name, "link", "add", "name", "p0", "type", "veth", "peer", "name", "p1"},
		{"-n", name, "link", "add", "link", "p0", "name", "p0.1", "type", "vlan", "id", "1"},
	} {
		if out, err := ipCmd(ctx, args...); err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(out))
		}
	}
	return nil
}

// Bed is a set of network namespaces, links and processes belonging to one
// test. Every namespace it creates is named Prefix() + "-" + the given name;
// cleanup registered with t.Cleanup removes all of them, with every process
// inside and every link, whether or not the test failed.
//
// The setup methods (NS, Link, NS.AddAddr, ...) report errors with t.Fatalf,
// so they must be called from the goroutine running the test that created
// the Bed (testing.T rule for FailNow). Do, Run, Interfaces and WaitFor-style
// conditions may be used from any goroutine.
type Bed struct {
	t      testing.TB
	prefix string

	mu   sync.Mutex // guards the following fields
	nss  []*NS
	log  []string // ip commands run, dumped when the test fails
	done bool
}

// NS is one network namespace of a Bed.
type NS struct {
	bed  *Bed
	name string // the name given to Bed.NS
	full string // the name under /run/netns

	mu    sync.Mutex // guards links
	links []string   // interfaces created here, deleted at cleanup in reverse order
}

// New returns a test bed for t. It skips t like Require when namespaces
// cannot be created. Before anything else it removes the leftovers of earlier
// runs that ended without cleanup (a timeout panic or ^C runs no t.Cleanup):
// namespaces named with Prefix whose run's marker under MarkerDir names a
// process that no longer exists, and the processes inside them. Namespaces
// of live runs (tests of other packages run in parallel processes) are kept.
func New(t testing.TB) *Bed {
	t.Helper()
	Require(t)
	removeLeftovers(t.Logf)
	run.mu.Lock()
	run.beds++
	n := run.beds
	run.mu.Unlock()
	b := &Bed{t: t, prefix: bedPrefix(n)}
	t.Cleanup(b.cleanup)
	return b
}

// Prefix returns the bed's unique name prefix, e.g. "pbxk3f91": Prefix, the
// 4-character run ID and the bed number. It is short enough (at most 11
// characters in practice) to build unique interface names from, which the
// kernel limits to 15 characters.
func (b *Bed) Prefix() string { return b.prefix }

// cleanup removes everything the bed created. It runs as a t.Cleanup.
func (b *Bed) cleanup() {
	b.mu.Lock()
	b.done = true
	nss := slices.Clone(b.nss)
	b.mu.Unlock()
	if b.t.Failed() {
		b.dumpState(nss)
	}
	for i := len(nss) - 1; i >= 0; i-- {
		ns := nss[i]
		ns.mu.Lock()
		links := slices.Clone(ns.links)
		ns.mu.Unlock()
		if err := destroyNS(ns.full, links); err != nil {
			b.t.Errorf("netns: cleanup of %s: %v", ns.full, err)
		}
		if _, err := os.Stat(ns.Path()); !errors.Is(err, os.ErrNotExist) {
			b.t.Errorf("netns: namespace %s still exists after cleanup", ns.full)
		}
	}
}

// dumpState logs the commands run and the addresses and routes of every
// namespace, to help debug a failed test.
func (b *Bed) dumpState(nss []*NS) {
	b.mu.Lock()
	log := strings.Join(b.log, "\n")
	b.mu.Unlock()
	b.t.Logf("netns: setup commands of %s:\n%s", b.prefix, log)
	for _, ns := range nss {
		addrs, _ := ipCmd(context.Background(), "-n", ns.full, "-br", "addr")
		routes, _ := ipCmd(context.Background(), "-n", ns.full, "route")
		routes6, _ := ipCmd(context.Background(), "-n", ns.full, "-6", "route")
		b.t.Logf("netns: state of %s:\n%s%s%s", ns.full, addrs, routes, routes6)
	}
}

// ip runs ip with args, records the command and fails the test on error.
func (b *Bed) ip(args ...string) string {
	b.t.Helper()
	return b.ipIn("", args...)
}

func (b *Bed) ipIn(stdin string, args ...string) string {
	b.t.Helper()
	line := "ip " + strings.Join(args, " ")
	b.mu.Lock()
	b.log = append(b.log, line)
	b.mu.Unlock()
	out, err := ipCmdIn(context.Background(), stdin, args...)
	if err != nil {
		b.t.Fatalf("netns: %s: %v\n%s", line, err, out)
	}
	return out
}

// NS creates a network namespace with loopback up, IPv6 duplicate address
// detection disabled (accept_dad=0 for "all" and "default", so addresses are
// usable at once), forwarding off (see SetForwarding) and reverse-path
// filtering off, whatever the host's settings. name must be unique within the bed and
// made of letters, digits, '_' and '-'.
func (b *Bed) NS(name string) *NS {
	b.t.Helper()
	if name == "" || strings.ContainsFunc(name, func(r rune) bool {
		return !(r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) {
		b.t.Fatalf("netns: bad namespace name %q", name)
	}
	ns := &NS{bed: b, name: name, full: b.prefix + "-" + name}
	b.mu.Lock()
	if b.done {
		b.mu.Unlock()
		b.t.Fatalf("netns: NS(%q) after cleanup", name)
	}
	for _, o := range b.nss {
		if o.name == name {
			b.mu.Unlock()
			b.t.Fatalf("netns: namespace %q already exists in this bed", name)
		}
	}
	// Register before creating, so that cleanup removes it even if the
	// setup below fails half way.
	b.nss = append(b.nss, ns)
	b.mu.Unlock()
	b.ip("netns", "add", ns.full)
	b.ip("-n", ns.full, "link", "set", "lo", "up")
	// A new namespace copies its IPv4 settings from the host's (sysctl
	// net.core.devconf_inherit_init_net=0); set the ones that matter to
	// known values.
	for _, kv := range [][2]string{
		{"net.ipv6.conf.all.accept_dad", "0"},
		{"net.ipv6.conf.default.accept_dad", "0"},
		{"net.ipv4.ip_forward", "0"},
		{"net.ipv6.conf.all.forwarding", "0"},
		{"net.ipv4.conf.all.rp_filter", "0"},
		{"net.ipv4.conf.default.rp_filter", "0"},
	} {
		if err := ns.Sysctl(kv[0], kv[1]); err != nil {
			b.t.Fatal(err)
		}
	}
	return ns
}

// Link creates a veth pair with end aIf in namespace a and end zIf in
// namespace z (a and z may be the same namespace if the names differ) and
// sets both ends up. Add addresses with NS.AddAddr.
func (b *Bed) Link(a *NS, aIf string, z *NS, zIf string) {
	b.t.Helper()
	checkIfName(b.t, aIf)
	checkIfName(b.t, zIf)
	a.addLink(aIf) // deleting one end deletes the other
	b.ip("-n", a.full, "link", "add", "name", aIf, "up", "type", "veth", "peer", "name", zIf, "netns", z.full)
	// The kernel refuses "up" on the peer end while creating it.
	b.ip("-n", z.full, "link", "set", "dev", zIf, "up")
}

// AssertNoLinks reports a test error for every interface in ns other than
// lo and the allowed ones, e.g. a TUN device that was not closed.
func (b *Bed) AssertNoLinks(ns *NS, allowed ...string) {
	b.t.Helper()
	names, err := ns.Interfaces()
	if err != nil {
		b.t.Errorf("netns: %v", err)
		return
	}
	var extra []string
	for _, n := range names {
		if n != "lo" && !slices.Contains(allowed, n) {
			extra = append(extra, n)
		}
	}
	if len(extra) > 0 {
		b.t.Errorf("netns: unexpected interfaces in %s: %v (allowed: lo %v)", ns.full, extra, allowed)
	}
}

func checkIfName(t testing.TB, name string) {
	t.Helper()
	if name == "" || len(name) > 15 || strings.ContainsAny(name, "/ \t\n:") || name == "." || name == ".." {
		t.Fatalf("netns: bad interface name %q (at most 15 characters, no '/', ':' or space)", name)
	}
}

// Name returns the name given to Bed.NS.
func (ns *NS) Name() string { return ns.name }

// FullName returns the namespace's name under /run/netns, as used by
// "ip netns exec" and "ip -n".
func (ns *NS) FullName() string { return ns.full }

// Path returns the path of the namespace's bind mount, which can be opened
// and passed to setns(2).
func (ns *NS) Path() string { return filepath.Join(netnsDir, ns.full) }

func (ns *NS) String() string { return ns.full }

func (ns *NS) addLink(name string) {
	ns.mu.Lock()
	ns.links = append(ns.links, name)
	ns.mu.Unlock()
}

// IP runs "ip -n <ns> args..." and returns its output; it fails the test on
// error. It is the escape hatch for anything the helpers do not cover.
func (ns *NS) IP(args ...string) string {
	ns.bed.t.Helper()
	return ns.bed.ip(append([]string{"-n", ns.full}, args...)...)
}

// AddAddr adds addresses in CIDR notation (e.g. "192.0.2.1/24",
// "2001:db8::1/64") to interface ifname. IPv6 addresses are added with
// nodad, so they are usable at once.
func (ns *NS) AddAddr(ifname string, prefixes ...string) {
	ns.bed.t.Helper()
	for _, p := range prefixes {
		pfx, err := netip.ParsePrefix(p)
		if err != nil {
			ns.bed.t.Fatalf("netns: AddAddr: %v", err)
		}
		args := []string{"addr", "add", p, "dev", ifname}
		if pfx.Addr().Is6() {
			args = append(args, "nodad")
		}
		ns.IP(args...)
	}
}

// Route adds a route: the arguments follow "ip route add", e.g.
// Route("default", "via", "192.0.2.1") or Route("2001:db8:1::/64", "dev", "eth0").
func (ns *NS) Route(args ...string) {
	ns.bed.t.Helper()
	ns.IP(append([]string{"route", "add"}, args...)...)
}

// SetUp sets interface ifname up.
func (ns *NS) SetUp(ifname string) {
	ns.bed.t.Helper()
	ns.IP("link", "set", "dev", ifname, "up")
}

// SetMTU sets the MTU of interface ifname.
func (ns *NS) SetMTU(ifname string, mtu int) {
	ns.bed.t.Helper()
	ns.IP("link", "set", "dev", ifname, "mtu", strconv.Itoa(mtu))
}

// VLAN creates the 802.1Q subinterface "<parent>.<id>" of parent, sets it up
// and returns its name, which must fit in 15 characters. It skips the test,
// like RequireVLAN, on a kernel without 802.1Q support.
func (ns *NS) VLAN(parent string, id int) string {
	ns.bed.t.Helper()
	RequireVLAN(ns.bed.t)
	if id < 1 || id > 4094 {
		ns.bed.t.Fatalf("netns: VLAN ID %d out of range 1-4094", id)
	}
	name := parent + "." + strconv.Itoa(id)
	checkIfName(ns.bed.t, name)
	ns.addLink(name)
	ns.IP("link", "add", "link", parent, "name", name, "up", "type", "vlan", "id", strconv.Itoa(id))
	return name
}

// QinQ creates the 802.1ad subinterface "<parent>.s<outer>" of parent (service tag,
// TPID 0x88a8) and on it the 802.1Q subinterface "<parent>.s<outer>.<inner>" (customer
// tag), sets both up and returns the name of the inner one, which must fit in 15
// characters. It skips the test, like RequireVLAN, on a kernel without 802.1Q support.
func (ns *NS) QinQ(parent string, outer, inner int) string {
	ns.bed.t.Helper()
	RequireVLAN(ns.bed.t)
	for _, id := range []int{outer, inner} {
		if id < 1 || id > 4094 {
			ns.bed.t.Fatalf("netns: VLAN ID %d out of range 1-4094", id)
		}
	}
	s := parent + ".s" + strconv.Itoa(outer)
	c := s + "." + strconv.Itoa(inner)
	checkIfName(ns.bed.t, c)
	ns.addLink(s)
	ns.IP("link", "add", "link", parent, "name", s, "up", "type", "vlan", "proto", "802.1ad", "id", strconv.Itoa(outer))
	ns.addLink(c)
	ns.IP("link", "add", "link", s, "name", c, "up", "type", "vlan", "id", strconv.Itoa(inner))
	return c
}

// Bridge creates bridge name (STP off, so ports forward at once), sets it up
// and makes the given interfaces its ports, setting them up too.
func (ns *NS) Bridge(name string, ports ...string) {
	ns.bed.t.Helper()
	checkIfName(ns.bed.t, name)
	ns.addLink(name)
	ns.IP("link", "add", "name", name, "up", "type", "bridge", "stp_state", "0")
	var batch strings.Builder
	for _, p := range ports {
		fmt.Fprintf(&batch, "link set dev %s master %s up\n", p, name)
	}
	if batch.Len() > 0 {
		ns.bed.ipIn(batch.String(), "-n", ns.full, "-batch", "-")
	}
}

// Sysctl writes value to a sysctl of the namespace (the per-namespace net.*
// tree). key is either dotted ("net.ipv4.ip_forward") or, where a component
// contains a dot such as a VLAN interface name, a path relative to
// /proc/sys ("net/ipv6/conf/eth0.100/forwarding").
func (ns *NS) Sysctl(key, value string) error {
	path := key
	if !strings.Contains(key, "/") {
		path = strings.ReplaceAll(key, ".", "/")
	}
	path = filepath.Join("/proc/sys", path)
	// /proc/sys/net resolves to the namespace of the opening thread.
	err := ns.Do(func() error { return os.WriteFile(path, []byte(value), 0o644) })
	if err != nil {
		return fmt.Errorf("netns: sysctl %s=%s in %s: %w", key, value, ns.full, err)
	}
	return nil
}

// SetForwarding turns IPv4 and IPv6 forwarding on or off for all interfaces
// of the namespace.
func (ns *NS) SetForwarding(on bool) {
	ns.bed.t.Helper()
	v := "0"
	if on {
		v = "1"
	}
	for _, k := range []string{"net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"} {
		if err := ns.Sysctl(k, v); err != nil {
			ns.bed.t.Fatal(err)
		}
	}
}

// Interfaces returns the names of the namespace's interfaces, sorted.
func (ns *NS) Interfaces() ([]string, error) {
	names, err := interfacesAt(ns.Path())
	if err != nil {
		return nil, fmt.Errorf("netns: interfaces of %s: %w", ns.full, err)
	}
	return names, nil
}

// killProcsIn sends SIGKILL to every process whose network namespace (that
// of its main thread) is the one bound at path, and waits up to 5 s for them
// to be gone. It spares this process and every live test run: Go may run a
// Do on a process's main thread.
func killProcsIn(path string) error {
	target, err := os.Stat(path)
	if err != nil {
		return err
	}
	spare := liveRunPids()
	find := func() []int {
		var pids []int
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == os.Getpid() || spare[pid] {
				continue
			}
			fi, err := os.Stat(filepath.Join("/proc", e.Name(), "ns", "net"))
			if err == nil && os.SameFile(fi, target) {
				pids = append(pids, pid)
			}
		}
		return pids
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids := find()
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v in %s survive SIGKILL", pids, path)
		}
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// WaitFor polls cond every 50 ms until it returns true and fails the test if
// that does not happen within timeout. what describes the condition for the
// failure message ("waiting for <what>"). It is the way to wait for
// asynchronous effects; never sleep for a fixed time.
func WaitFor(t testing.TB, timeout time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("netns: timed out after %v waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

// OpenFDs returns the open file descriptors of this process and what they
// refer to (the /proc/self/fd link targets, e.g. "socket:[1234]").
func OpenFDs() (map[int]string, error) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil, err
	}
	fds := make(map[int]string, len(ents))
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err != nil {
			continue // the fd ReadDir itself used, closed by now
		}
		fds[fd] = target
	}
	return fds, nil
}

// CheckFDs records the process's open file descriptors and registers a
// cleanup that fails the test if, within 2 s of the cleanups running, new
// descriptors (sockets, TUN devices, ...) are still open. Call it first in a
// test, so that its cleanup runs after all others. It counts the whole
// process: do not use it in tests that run in parallel with others.
func CheckFDs(t testing.TB) {
	t.Helper()
	// Make sure the runtime's poller descriptors exist before the snapshot.
	if r, w, err := os.Pipe(); err == nil {
		r.Close()
		w.Close()
	}
	before, err := OpenFDs()
	if err != nil {
		t.Fatalf("netns: %v", err)
	}
	t.Cleanup(func() {
		var leaked []string
		deadline := time.Now().Add(2 * time.Second)
		for {
			now, err := OpenFDs()
			if err != nil {
				t.Errorf("netns: %v", err)
				return
			}
			leaked = leaked[:0]
			for fd, target := range now {
				if old, ok := before[fd]; !ok || old != target {
					leaked = append(leaked, fmt.Sprintf("%d -> %s", fd, target))
				}
			}
			if len(leaked) == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if len(leaked) > 0 {
			slices.Sort(leaked)
			t.Errorf("netns: file descriptors leaked: %v", leaked)
		}
	})
}
