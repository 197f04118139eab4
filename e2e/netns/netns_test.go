package netns_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/probox/probox/e2e/netns"
)

// helperEnv makes the test binary act as a helper process (see TestMain).
const helperEnv = "PBX_NETNS_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "ignore-term":
		// A daemon that does not stop on SIGTERM.
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("ready")
		time.Sleep(time.Hour)
		os.Exit(0)
	default:
		fmt.Fprintf(os.Stderr, "unknown %s\n", helperEnv)
		os.Exit(2)
	}
}

// withBed runs fn in a subtest with a fresh Bed and, once the subtest and
// with it the bed's cleanup are done, asserts that "ip netns list" shows
// none of the bed's namespaces.
func withBed(t *testing.T, fn func(t *testing.T, b *netns.Bed)) {
	t.Helper()
	var prefix string
	t.Run("bed", func(t *testing.T) {
		b := netns.New(t)
		prefix = b.Prefix()
		fn(t, b)
	})
	if prefix == "" {
		return // skipped
	}
	assertNoNamespaces(t, prefix+"-")
}

// assertNoNamespaces fails t if "ip netns list" shows a name starting with
// prefix.
func assertNoNamespaces(t *testing.T, prefix string) {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns list: %v\n%s", err, out)
	}
	for line := range strings.Lines(string(out)) {
		if strings.HasPrefix(line, prefix) {
			t.Errorf("namespace left behind after cleanup: %s", strings.TrimSpace(line))
		}
	}
}

// pair returns two namespaces joined by a veth pair eth0<->eth0 with
// 192.0.2.1/24, 2001:db8::1/64 on ns1 and .2, ::2 on ns2.
func pair(t *testing.T, b *netns.Bed) (ns1, ns2 *netns.NS) {
	t.Helper()
	ns1, ns2 = b.NS("ns1"), b.NS("ns2")
	b.Link(ns1, "eth0", ns2, "eth0")
	ns1.AddAddr("eth0", "192.0.2.1/24", "2001:db8::1/64")
	ns2.AddAddr("eth0", "192.0.2.2/24", "2001:db8::2/64")
	return ns1, ns2
}

func TestVethPing(t *testing.T) {
	t.Parallel()
	withBed(t, func(t *testing.T, b *netns.Bed) {
		ns1, ns2 := pair(t, b)
		for _, tt := range []struct {
			name string
			from *netns.NS
			to   string
		}{
			{name: "ipv4 ns1 to ns2", from: ns1, to: "192.0.2.2"},
			{name: "ipv4 ns2 to ns1", from: ns2, to: "192.0.2.1"},
			{name: "ipv6 ns1 to ns2", from: ns1, to: "2001:db8::2"},
			{name: "ipv6 ns2 to ns1", from: ns2, to: "2001:db8::1"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				tt.from.Ping(t, tt.to, 2)
			})
		}
	})
}

func TestPingFailure(t *testing.T) {
	t.Parallel()
	withBed(t, func(t *testing.T, b *netns.Bed) {
		ns1, _ := pair(t, b)
		ns1.Route("unreachable", "203.0.113.0/24")
		out, err := ns1.TryPing(t.Context(), "203.0.113.1", 2)
		if err == nil {
			t.Fatalf("ping of an unreachable host succeeded:\n%s", out)
		}
		if !strings.Contains(out, "No route to host") {
			t.Errorf("ping output lacks the reason:\n%s", out)
		}
	})
}

// TestDoUDP opens a UDP socket in each namespace with Do and exchanges
// datagrams over the veth pair, both ways and over both address families.
// It is not parallel because CheckFDs counts the whole process.
func TestDoUDP(t *testing.T) {
	netns.CheckFDs(t)
	withBed(t, func(t *testing.T, b *netns.Bed) {
		ns1, ns2 := pair(t, b)
		for _, tt := range []struct {
			name     string
			network  string
			ns1, ns2 string
		}{
			{name: "ipv4", network: "udp4", ns1: "192.0.2.1", ns2: "192.0.2.2"},
			{name: "ipv6", network: "udp6", ns1: "2001:db8::1", ns2: "2001:db8::2"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				c1 := listenUDP(t, ns1, tt.network, tt.ns1)
				c2 := listenUDP(t, ns2, tt.network, tt.ns2)
				exchange(t, c1, c2, "hello from ns1")
				exchange(t, c2, c1, "hello from ns2")
			})
		}
		b.AssertNoLinks(ns1, "eth0")
		b.AssertNoLinks(ns2, "eth0")
	})
}

func listenUDP(t *testing.T, ns *netns.NS, network, addr string) *net.UDPConn {
	t.Helper()
	var c *net.UDPConn
	err := ns.Do(func() error {
		var err error
		// The address exists only in ns, so the bind proves where the
		// socket lives.
		c, err = net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(addr), 0)))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func exchange(t *testing.T, from, to *net.UDPConn, msg string) {
	t.Helper()
	if _, err := from.WriteToUDPAddrPort([]byte(msg), to.LocalAddr().(*net.UDPAddr).AddrPort()); err != nil {
		t.Fatal(err)
	}
	to.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 100)
	n, src, err := to.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(msg, string(buf[:n])); diff != "" {
		t.Errorf("payload (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(from.LocalAddr().String(), src.String()); diff != "" {
		t.Errorf("source (-want +got):\n%s", diff)
	}
}

func TestDo(t *testing.T) {
	t.Parallel()
	withBed(t, func(t *testing.T, b *netns.Bed) {
		ns1 := b.NS("ns1")
		want, err := os.Stat(ns1.Path())
		if err != nil {
			t.Fatal(err)
		}
		var inside bool
		errFn := errors.New("from fn")
		err = ns1.Do(func() error {
			fi, err := os.Stat("/proc/thread-self/ns/net")
			inside = err == nil && os.SameFile(fi, want)
			return errFn
		})
		if !errors.Is(err, errFn) {
			t.Errorf("Do returned %v, want fn's error", err)
		}
		if !inside {
			t.Error("fn did not run in the namespace")
		}
		// The goroutine's thread, whichever it is, is back in the
		// process's namespace.
		runtime.LockOSThread()
		self, err1 := os.Stat("/proc/self/ns/net")
		thread, err2 := os.Stat("/proc/thread-self/ns/net")
		runtime.UnlockOSThread()
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		if !os.SameFile(self, thread) {
			t.Error("thread still in another namespace after Do")
		}

		got, err := ns1.Interfaces()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"lo"}, got); diff != "" {
			t.Errorf("Interfaces (-want +got):\n%s", diff)
		}
	})
}

func TestVLAN(t *testing.T) {
	t.Parallel()
	netns.RequireVLAN(t)
	withBed(t, func(t *testing.T, b *netns.Bed) {
		ns1, ns2 := b.NS("ns1"), b.NS("ns2")
		b.Link(ns1, "eth0", ns2, "eth0")
		v1, v2 := ns1.VLAN("eth0", 100), ns2.VLAN("eth0", 100)
		ns1.AddAddr(v1, "198.51.100.1/24", "2001:db8:100::1/64")
		ns2.AddAddr(v2, "198.51.100.2/24", "2001:db8:100::2/64")
		if diff := cmp.Diff("eth0.100", v1); diff != "" {
			t.Errorf("VLAN name (-want +got):\n%s", diff)
		}
		got, err := ns1.Interfaces()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"eth0", "eth0.100", "lo"}, got); diff != "" {
			t.Errorf("Interfaces (-want +got):\n%s", diff)
		}
		ns1.Ping(t, "198.51.100.2", 2)
		ns2.Ping(t, "2001:db8:100::1", 2)
		b.AssertNoLinks(ns1, "eth0", "eth0.100")
	})
}

func TestBridgeRoute(t *testing.T) {
	t.Parallel()
	withBed(t, func(t *testing.T, b *netns.Bed) {
		// h1 -- [br0 in sw] -- h2, and h2 routes to h3 behind it.
		h1, sw, h2, h3 := b.NS("h1"), b.NS("sw"), b.NS("h2"), b.NS("h3")
		b.Link(h1, "eth0", sw, "p1")
		b.Link(h2, "eth0", sw, "p2")
		b.Link(h2, "eth1", h3, "eth0")
		sw.Bridge("br0", "p1", "p2")
		h1.AddAddr("eth0", "192.0.2.1/24", "2001:db8::1/64")
		h2.AddAddr("eth0", "192.0.2.2/24", "2001:db8::2/64")
		h2.AddAddr("eth1", "198.51.100.1/24")
		h3.AddAddr("eth0", "198.51.100.2/24")
		h2.SetForwarding(true)
		h1.Route("198.51.100.0/24", "via", "192.0.2.2")
		h3.Route("default", "via", "198.51.100.1")
		h1.Ping(t, "2001:db8::2", 2)
		h1.Ping(t, "198.51.100.2", 2)
	})
}

// TestLeftovers simulates namespaces of earlier runs and checks that New
// removes those of dead runs (with a process inside) and keeps those of a
// live run. It is not parallel, so that no other test of this process
// removes the fakes before New does; test runs of other packages (other
// processes) may, as they should, and then the test checks less.
func TestLeftovers(t *testing.T) {
	netns.Require(t)
	// Our own run's marker: a copy of it under another run ID makes a
	// live run.
	var ownMarker []byte
	withBed(t, func(t *testing.T, b *netns.Bed) {
		var err error
		ownMarker, err = os.ReadFile(filepath.Join(netns.MarkerDir, b.Prefix()[len(netns.Prefix):len(netns.Prefix)+4]))
		if err != nil {
			t.Fatal(err)
		}
	})
	if t.Failed() {
		return
	}

	type fake struct {
		name   string
		marker string // "" for none
		alive  bool
	}
	fakes := []fake{
		// The marker names this process but with another start time:
		// a recycled pid.
		{name: "recycled pid", marker: fmt.Sprintf("%d 1\n", os.Getpid())},
		// Above the largest pid Linux allows (PID_MAX_LIMIT).
		{name: "dead pid", marker: "4194305 0\n"},
		{name: "no marker"},
		{name: "live", marker: string(ownMarker), alive: true},
	}
	names := make([]string, len(fakes))
	ids := make([]string, len(fakes))
	for i, f := range fakes {
		ids[i] = fakeRunID()
		names[i] = netns.Prefix + ids[i] + "1-old"
		marker := filepath.Join(netns.MarkerDir, ids[i])
		if f.marker != "" {
			if err := os.WriteFile(marker, []byte(f.marker), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Cleanup(func() {
			exec.Command("ip", "netns", "del", names[i]).Run()
			os.Remove(marker)
		})
		if out, err := exec.Command("ip", "netns", "add", names[i]).CombinedOutput(); err != nil {
			if f.alive {
				t.Fatalf("ip netns add: %v\n%s", err, out)
			}
			// Another process removed it half made.
			t.Logf("%s: ip netns add: %v: %s", f.name, err, out)
		}
	}

	// A daemon left running inside the first dead run's namespace.
	var exited chan error
	if nsFile, err := os.Stat(filepath.Join("/run/netns", names[0])); err != nil {
		t.Logf("%s: namespace already removed by another process: %v", fakes[0].name, err)
	} else {
		sleeper := exec.Command("ip", "netns", "exec", names[0], "sleep", "60")
		if err := sleeper.Start(); err != nil {
			t.Fatal(err)
		}
		exited = make(chan error, 1)
		go func() { exited <- sleeper.Wait() }()
		t.Cleanup(func() { sleeper.Process.Kill() })
		netns.WaitFor(t, 5*time.Second, func() bool {
			fi, err := os.Stat(fmt.Sprintf("/proc/%d/ns/net", sleeper.Process.Pid))
			return err == nil && os.SameFile(fi, nsFile) || len(exited) > 0
		}, "sleep to enter the namespace (or to be killed by another run)")
		if _, err := os.Stat(filepath.Join("/run/netns", names[0])); err != nil {
			// Removed by another process after sleep entered it: that
			// process killed it, or sleep slipped into the namespace
			// while it was being removed and lives on, orphaned.
			t.Logf("%s: namespace removed by another process: %v", fakes[0].name, err)
			exited = nil
		}
	}

	withBed(t, func(t *testing.T, b *netns.Bed) {
		for i, f := range fakes {
			_, err := os.Stat(filepath.Join("/run/netns", names[i]))
			if got := err == nil; got != f.alive {
				t.Errorf("%s: namespace exists = %v, want %v", f.name, got, f.alive)
			}
			_, err = os.Stat(filepath.Join(netns.MarkerDir, ids[i]))
			if got := err == nil; f.marker != "" && got != f.alive {
				t.Errorf("%s: marker exists = %v, want %v", f.name, got, f.alive)
			}
		}
	})
	if exited != nil {
		select {
		case err := <-exited:
			if err == nil {
				t.Error("process in a dead run's namespace exited normally, want it killed")
			}
		case <-time.After(5 * time.Second):
			t.Error("process in a dead run's namespace still running")
		}
	}
}

func fakeRunID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 4)
	for i := range b {
		b[i] = alphabet[rand.IntN(len(alphabet))]
	}
	return string(b)
}

func TestProc(t *testing.T) {
	t.Parallel()
	var sleeper *netns.Proc
	withBed(t, func(t *testing.T, b *netns.Bed) {
		ns1, _ := pair(t, b)

		t.Run("stopped by cleanup", func(t *testing.T) {
			sleeper = ns1.Start(t, "sleep", "60")
		})
		t.Run("stopped by cleanup has exited", func(t *testing.T) {
			code, err := sleeper.Wait(0)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(128+int(syscall.SIGTERM), code); diff != "" {
				t.Errorf("exit code (-want +got):\n%s", diff)
			}
		})

		for _, tt := range []struct {
			name     string
			args     []string
			wantCode int
			wantOut  string
		}{
			// ip runs inside the namespace: it sees ns1's eth0.
			{name: "stdout", args: []string{"ip", "-br", "addr", "show", "dev", "eth0"}, wantOut: "192.0.2.1/24"},
			{name: "stderr and exit code", args: []string{"ip", "link", "show", "dev", "nosuch0"}, wantCode: 1, wantOut: `Device "nosuch0" does not exist`},
		} {
			t.Run(tt.name, func(t *testing.T) {
				p := ns1.Start(t, tt.args[0], tt.args[1:]...)
				code, err := p.Wait(10 * time.Second)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.wantCode, code); diff != "" {
					t.Errorf("exit code (-want +got):\n%s", diff)
				}
				if !strings.Contains(p.Output(), tt.wantOut) {
					t.Errorf("output %q lacks %q", p.Output(), tt.wantOut)
				}
				b, err := os.ReadFile(p.OutputPath())
				if err != nil || !bytes.Equal(b, []byte(p.Output())) {
					t.Errorf("OutputPath content differs from Output (%v)", err)
				}
			})
		}

		t.Run("signal", func(t *testing.T) {
			p := ns1.Start(t, "sleep", "60")
			if _, err := p.Wait(0); !errors.Is(err, netns.ErrTimeout) {
				t.Fatalf("Wait on a running process: %v, want ErrTimeout", err)
			}
			if err := p.Signal(syscall.SIGUSR1); err != nil {
				t.Fatal(err)
			}
			code, err := p.Wait(10 * time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(128+int(syscall.SIGUSR1), code); diff != "" {
				t.Errorf("exit code (-want +got):\n%s", diff)
			}
		})

		t.Run("kill after grace", func(t *testing.T) {
			cmd := ns1.Command(context.Background(), os.Args[0])
			cmd.Env = append(os.Environ(), helperEnv+"=ignore-term")
			p := netns.StartCmd(t, cmd)
			netns.WaitFor(t, 10*time.Second, func() bool {
				return strings.Contains(p.Output(), "ready")
			}, "helper to ignore SIGTERM")
			start := time.Now()
			code, err := p.Stop(200 * time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(128+int(syscall.SIGKILL), code); diff != "" {
				t.Errorf("exit code (-want +got):\n%s", diff)
			}
			if d := time.Since(start); d < 200*time.Millisecond {
				t.Errorf("killed after %v, before the grace period", d)
			}
		})
	})
}

func TestInterfaceNames(t *testing.T) {
	t.Parallel()
	withBed(t, func(t *testing.T, b *netns.Bed) {
		if p := b.Prefix(); len(p) > 11 || !strings.HasPrefix(p, netns.Prefix) {
			t.Errorf("Prefix() = %q, want %q and at most 11 characters", p, netns.Prefix+"…")
		}
		ns1 := b.NS("ns1")
		if got, want := ns1.FullName(), b.Prefix()+"-ns1"; got != want {
			t.Errorf("FullName() = %q, want %q", got, want)
		}
		b.Link(ns1, "a", ns1, "b") // both ends in one namespace
		ns1.SetMTU("a", 1400)
		out := ns1.IP("-o", "link", "show", "dev", "a")
		if !strings.Contains(out, "mtu 1400") {
			t.Errorf("SetMTU: %s", out)
		}
		got, err := ns1.Interfaces()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"a", "b", "lo"}, got); diff != "" {
			t.Errorf("Interfaces (-want +got):\n%s", diff)
		}
		if !slices.Contains(got, "lo") {
			t.Error("no lo")
		}
	})
}
