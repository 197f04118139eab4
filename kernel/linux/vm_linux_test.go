//go:build linux

package linux

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/probox/probox/e2e/netns"
	"github.com/probox/probox/kernel"
)

// The tests in this file program the real kernel data plane. They run only inside the
// kernel VM (../shared/vm/kernel-vm sets KERNEL_VM=1; `make test-kernel` builds this
// package's test binary and runs it there), where the L2TP, PPP and PPPoE modules exist.

const testGroup = 42

func requireVM(t *testing.T) {
	t.Helper()
	if os.Getenv("KERNEL_VM") != "1" {
		t.Skip("needs the kernel VM (KERNEL_VM=1): run `make test-kernel`")
	}
	if testing.Short() {
		t.Skip("kernel VM test skipped in -short mode")
	}
}

func testLogger() *zap.Logger {
	if os.Getenv("PROBOX_TEST_LOG") != "" {
		l, _ := zap.NewDevelopment()
		return l
	}
	return zap.NewNop()
}

// openDP opens a kernel data plane in ns; the test's cleanup closes it.
// pppoePortPair makes namespaces named an and zn joined by veth0, a data plane in each
// (in the test interface group) and a PPPoE port opened with cfg on each side, after
// arming the checks that the test leaves no descriptor or goroutine behind.
func pppoePortPair(t *testing.T, an, zn string, cfg kernel.PPPoEConfig) (a, z *netns.NS, dpA, dpZ *Dataplane, pa, pz kernel.PPPoEPort) {
	t.Helper()
	netns.CheckFDs(t)
	checkGoroutines(t)
	b := netns.New(t)
	a, z = b.NS(an), b.NS(zn)
	b.Link(a, "veth0", z, "veth0")
	dpA = openDP(t, a, Config{InterfaceGroup: testGroup})
	dpZ = openDP(t, z, Config{InterfaceGroup: testGroup})
	var err error
	pa, err = dpA.OpenPPPoE(cfg)
	ok(t, err, "OpenPPPoE "+an)
	pz, err = dpZ.OpenPPPoE(cfg)
	ok(t, err, "OpenPPPoE "+zn)
	return a, z, dpA, dpZ, pa, pz
}

func openDP(t *testing.T, ns *netns.NS, cfg Config) *Dataplane {
	t.Helper()
	if cfg.Log == nil {
		cfg.Log = testLogger()
	}
	var d *Dataplane
	if err := ns.Do(func() (err error) { d, err = New(cfg); return err }); err != nil {
		t.Fatalf("New in %s: %v", ns, err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("Close of the data plane in %s: %v", ns, err)
		}
	})
	return d
}

func ok(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// within runs fn and fails the test if it does not return within d (the VM is slow: be
// generous). fn keeps running after a timeout until the objects it waits on are closed.
func within[T any](t *testing.T, d time.Duration, what string, fn func() (T, error)) T {
	t.Helper()
	type result struct {
		v   T
		err error
	}
	c := make(chan result, 1)
	go func() {
		v, err := fn()
		c <- result{v, err}
	}()
	select {
	case r := <-c:
		if r.err != nil {
			t.Fatalf("%s: %v", what, r.err)
		}
		return r.v
	case <-time.After(d):
		t.Fatalf("%s: nothing within %v", what, d)
	}
	panic("unreachable")
}

const ioWait = 20 * time.Second

func readFrameT(t *testing.T, ch kernel.Channel, what string) []byte {
	t.Helper()
	return within(t, ioWait, what, func() ([]byte, error) {
		b := make([]byte, 2048)
		n, err := ch.ReadFrame(b)
		return b[:n], err
	})
}

func readControl(t *testing.T, tun kernel.Tunnel, what string) []byte {
	t.Helper()
	return within(t, ioWait, what, func() ([]byte, error) {
		b := make([]byte, 2048)
		n, _, err := tun.ReadControl(b)
		return b[:n], err
	})
}

// exchange writes frame on from and expects it on to.
func exchange(t *testing.T, from, to kernel.Channel, frame []byte, what string) {
	t.Helper()
	ok(t, from.WriteFrame(frame), what+": write")
	if got := readFrameT(t, to, what); !bytes.Equal(got, frame) {
		t.Fatalf("%s: read %x, want %x", what, got, frame)
	}
}

var (
	// An LCP Configure-Request (RFC 1661 §5.1) with MRU 1492 and a magic number.
	lcpFrame = []byte{0xc0, 0x21, 0x01, 0x01, 0x00, 0x0e, 0x01, 0x04, 0x05, 0xd4, 0x05, 0x06, 0x12, 0x34, 0x56, 0x78}
	// An IPCP Configure-Request (RFC 1332) for 198.51.100.1: with a unit connected the
	// kernel gives it to the unit file, not the channel file.
	ipcpFrame = []byte{0x80, 0x21, 0x01, 0x07, 0x00, 0x0a, 0x03, 0x06, 0xc6, 0x33, 0x64, 0x01}
)

// v2Control is an L2TPv2 control message header (RFC 2661 §3.1): T, L and S set, for
// tunnel tid.
func v2Control(tid uint16, ns uint16) []byte {
	b := []byte{0xc8, 0x02, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(b[4:], tid)
	binary.BigEndian.PutUint16(b[8:], ns)
	return b
}

// v3Control is an L2TPv3 control message header (RFC 3931 §3.2.1) for control connection
// ccid, as carried over UDP or, after the zero session ID, over IP.
func v3Control(ccid uint32, ns uint16) []byte {
	b := []byte{0xc8, 0x03, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[4:], ccid)
	binary.BigEndian.PutUint16(b[8:], ns)
	return b
}

// checkGoroutines fails the test if, after its cleanups, more goroutines run than before
// it (within 2 s). Call it first, after netns.CheckFDs.
func checkGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(2 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<16)
			t.Errorf("%d goroutines leaked:\n%s", n-before, buf[:runtime.Stack(buf, true)])
		}
	})
}

// assertClean checks that ns has no kernel L2TP tunnel and no interface other than the
// allowed ones, waiting for the kernel's asynchronous tunnel deletion.
func assertClean(t *testing.T, ns *netns.NS, allowed ...string) {
	t.Helper()
	allowed = append(allowed, "lo")
	netns.WaitFor(t, 10*time.Second, func() bool {
		names, err := ns.Interfaces()
		if err != nil {
			return false
		}
		for _, n := range names {
			if !slices.Contains(allowed, n) {
				return false
			}
		}
		return strings.TrimSpace(ns.IP("l2tp", "show", "tunnel")) == ""
	}, "no tunnels and no interfaces but "+strings.Join(allowed, ", ")+" in "+ns.String())
}

// pair is two namespaces joined by a veth pair "veth0" with IPv4 and IPv6 addresses.
func pair(t *testing.T) (b *netns.Bed, a, z *netns.NS) {
	b = netns.New(t)
	a, z = b.NS("a"), b.NS("z")
	b.Link(a, "veth0", z, "veth0")
	a.AddAddr("veth0", "192.0.2.1/24", "2001:db8::1/64")
	z.AddAddr("veth0", "192.0.2.2/24", "2001:db8::2/64")
	return b, a, z
}

func setUnits(t *testing.T, ua, uz kernel.Unit, v6 bool) {
	t.Helper()
	sa := kernel.UnitState{IPv4Local: netip.MustParseAddr("198.51.100.1"), IPv4Peer: netip.MustParseAddr("198.51.100.2")}
	sz := kernel.UnitState{IPv4Local: sa.IPv4Peer, IPv4Peer: sa.IPv4Local}
	if v6 {
		sa.IPv6Local, sa.IPv6Peer = netip.MustParseAddr("fe80::1"), netip.MustParseAddr("fe80::2")
		sz.IPv6Local, sz.IPv6Peer = sa.IPv6Peer, sa.IPv6Local
	}
	ok(t, ua.Set(sa), "Set unit a")
	ok(t, uz.Set(sz), "Set unit z")
	// Set is idempotent.
	ok(t, ua.Set(sa), "Set unit a again")
}

// TestKernelL2TPv2PPP opens a tunnel through a listener, establishes it, creates a PPP
// session on both sides and passes control frames and IP over it.
func TestKernelL2TPv2PPP(t *testing.T) {
	requireVM(t)
	netns.CheckFDs(t)
	checkGoroutines(t)
	_, a, z := pair(t)
	dpA := openDP(t, a, Config{InterfaceGroup: testGroup})
	dpZ := openDP(t, z, Config{InterfaceGroup: testGroup})

	lst, err := dpZ.Listen(kernel.ListenConfig{Encap: kernel.EncapUDP, Addr: netip.MustParseAddrPort("0.0.0.0:1701")})
	ok(t, err, "Listen")
	ta, err := dpA.OpenTunnel(kernel.TunnelConfig{Version: 2, Local: netip.MustParseAddrPort("192.0.2.1:1701"), Peer: netip.MustParseAddrPort("192.0.2.2:1701"), TunnelID: 100})
	ok(t, err, "OpenTunnel a")

	// SCCRQ to the listener (tunnel ID 0), from the tunnel's socket.
	sccrq := v2Control(0, 0)
	ok(t, ta.WriteControl(sccrq), "WriteControl SCCRQ")
	type from struct {
		b   []byte
		src netip.AddrPort
		dst netip.Addr
	}
	got := within(t, ioWait, "listener ReadFrom", func() (from, error) {
		b := make([]byte, 2048)
		n, src, dst, err := lst.ReadFrom(b)
		return from{b[:n], src, dst}, err
	})
	if !bytes.Equal(got.b, sccrq) || got.src != netip.MustParseAddrPort("192.0.2.1:1701") || got.dst != netip.MustParseAddr("192.0.2.2") {
		t.Fatalf("listener read %x from %v to %v, want %x from 192.0.2.1:1701 to 192.0.2.2", got.b, got.src, got.dst, sccrq)
	}
	// The accepted tunnel's socket shares port 1701 with the listener.
	tz, err := dpZ.OpenTunnel(kernel.TunnelConfig{Version: 2, Local: netip.MustParseAddrPort("192.0.2.2:1701"), Peer: got.src, TunnelID: 200})
	ok(t, err, "OpenTunnel z")
	sccrp := v2Control(100, 0)
	ok(t, tz.WriteControl(sccrp), "WriteControl SCCRP")
	if b := readControl(t, ta, "SCCRP"); !bytes.Equal(b, sccrp) {
		t.Fatalf("ReadControl = %x, want %x", b, sccrp)
	}

	ok(t, ta.Establish(200, netip.AddrPort{}), "Establish a")
	ok(t, tz.Establish(100, got.src), "Establish z")
	ok(t, ta.Establish(200, netip.AddrPort{}), "Establish a again")
	// Control messages still reach the engine once the kernel tunnel exists.
	scccn := v2Control(200, 1)
	ok(t, ta.WriteControl(scccn), "WriteControl SCCCN")
	if b := readControl(t, tz, "SCCCN after Establish"); !bytes.Equal(b, scccn) {
		t.Fatalf("ReadControl = %x, want %x", b, scccn)
	}

	sa, err := ta.EnsureSession(kernel.SessionConfig{SessionID: 11, PeerSessionID: 22})
	ok(t, err, "EnsureSession a")
	sz, err := tz.EnsureSession(kernel.SessionConfig{SessionID: 22, PeerSessionID: 11})
	ok(t, err, "EnsureSession z")
	if again, err := ta.EnsureSession(kernel.SessionConfig{SessionID: 11, PeerSessionID: 22}); err != nil || again != sa {
		t.Fatalf("EnsureSession again = %v, %v, want the same session", again, err)
	}
	cha, err := sa.Channel()
	ok(t, err, "Channel a")
	chz, err := sz.Channel()
	ok(t, err, "Channel z")
	if m := cha.MTU(); m < 1400 || m > 1500 {
		t.Errorf("channel MTU %d, want about 1500 minus headers", m)
	}
	exchange(t, cha, chz, lcpFrame, "LCP a->z")
	exchange(t, chz, cha, lcpFrame, "LCP z->a")

	ua, err := dpA.NewUnit(cha, kernel.UnitConfig{Name: "pbxa%d"})
	ok(t, err, "NewUnit a")
	uz, err := dpZ.NewUnit(chz, kernel.UnitConfig{Shared: true})
	ok(t, err, "NewUnit z")
	if ua.Name() != "pbxa0" || !strings.HasPrefix(uz.Name(), "ppp") {
		t.Errorf("unit names %q and %q, want pbxa0 and pppN", ua.Name(), uz.Name())
	}
	if out := a.IP("-d", "link", "show", "dev", "pbxa0"); !strings.Contains(out, "group 42") {
		t.Errorf("pbxa0 not in group 42:\n%s", out)
	}
	// With units connected, LCP still comes from the channel file and IPCP from the unit
	// file; both reach ReadFrame.
	exchange(t, cha, chz, lcpFrame, "LCP with units")
	exchange(t, cha, chz, ipcpFrame, "IPCP with units")
	exchange(t, chz, cha, ipcpFrame, "IPCP z->a with units")

	// No IP passes before Set.
	if out, err := a.TryPing(t.Context(), "198.51.100.2", 1); err == nil {
		t.Fatalf("ping passed before the unit was configured:\n%s", out)
	}
	setUnits(t, ua, uz, false)
	a.Ping(t, "198.51.100.2", 3)
	// A 12-byte control message (a ZLB, like the SCCCN above) is a receive error to the
	// kernel; it is not a drop.
	if st := tz.Stats(); st.Dropped() != 0 {
		t.Errorf("tunnel z drops %v, want none", st.Drops)
	}

	if st := sa.Stats(); st.RxPackets < 3 || st.TxPackets < 3 {
		t.Errorf("session stats %+v, want at least the 3 pings each way", st)
	}
	if st := ta.Stats(); st.RxPackets < 3 || st.TxPackets < 3 {
		t.Errorf("tunnel stats %+v, want at least the 3 pings each way", st)
	}
	if st := ua.Stats(); st.RxPackets < 3 || st.TxPackets < 3 {
		t.Errorf("unit stats %+v, want at least the 3 pings each way", st)
	}

	// Closing the unit removes the interface; frames reach ReadFrame again.
	ok(t, ua.Close(), "Close unit a")
	ok(t, ua.Close(), "Close unit a again")
	exchange(t, chz, cha, ipcpFrame, "IPCP after unit close")
	ok(t, ta.DeleteSession(11), "DeleteSession")
	ok(t, ta.DeleteSession(11), "DeleteSession of an absent session")
	if _, err := cha.ReadFrame(make([]byte, 10)); err != net.ErrClosed {
		t.Errorf("ReadFrame after DeleteSession: %v, want net.ErrClosed", err)
	}
	ok(t, dpA.Close(), "Close a")
	ok(t, dpZ.Close(), "Close z")
	if _, _, err := tz.ReadControl(make([]byte, 10)); err != net.ErrClosed {
		t.Errorf("ReadControl after Close: %v, want net.ErrClosed", err)
	}
	assertClean(t, a, "veth0")
	assertClean(t, z, "veth0")
}

// establishPair opens and establishes a tunnel on each side with IDs 100 (a) and 200 (z).
func establishPair(t *testing.T, dpA, dpZ *Dataplane, version int, encap kernel.Encap, localA, localZ netip.AddrPort) (ta, tz kernel.Tunnel) {
	t.Helper()
	ta, err := dpA.OpenTunnel(kernel.TunnelConfig{Version: version, Encap: encap, Local: localA, Peer: localZ, TunnelID: 100})
	ok(t, err, "OpenTunnel a")
	tz, err = dpZ.OpenTunnel(kernel.TunnelConfig{Version: version, Encap: encap, Local: localZ, Peer: localA, TunnelID: 200})
	ok(t, err, "OpenTunnel z")
	ok(t, ta.Establish(200, netip.AddrPort{}), "Establish a")
	ok(t, tz.Establish(100, netip.AddrPort{}), "Establish z")
	return ta, tz
}

func channelOf(t *testing.T, s kernel.Session) kernel.Channel {
	t.Helper()
	ch, err := s.Channel()
	ok(t, err, "Channel")
	return ch
}

// TestKernelL2TPv3PPPUDP6 runs an L2TPv3 PPP pseudowire with cookies, the default
// L2-Specific Sublayer and sequencing over UDP/IPv6, and passes IPv4 and IPv6 over it.
// TestKernelAnyPeerPort has z answer a's SCCRQ (sent to port 1701) from port 1702, as
// RFC 2661 §8.1 allows: a's AnyPeerPort tunnel reads it with its source, Establish
// connects the socket there, and the kernel's data path uses that port.
func TestKernelAnyPeerPort(t *testing.T) {
	requireVM(t)
	netns.CheckFDs(t)
	checkGoroutines(t)
	_, a, z := pair(t)
	dpA := openDP(t, a, Config{InterfaceGroup: testGroup})
	dpZ := openDP(t, z, Config{InterfaceGroup: testGroup})

	lst, err := dpZ.Listen(kernel.ListenConfig{Encap: kernel.EncapUDP, Addr: netip.MustParseAddrPort("0.0.0.0:1701")})
	ok(t, err, "Listen")
	ta, err := dpA.OpenTunnel(kernel.TunnelConfig{Version: 2, Peer: netip.MustParseAddrPort("192.0.2.2:1701"), TunnelID: 100, AnyPeerPort: true})
	ok(t, err, "OpenTunnel a")
	if l := ta.LocalAddr(); l.Addr() != netip.MustParseAddr("192.0.2.1") || l.Port() == 0 {
		t.Fatalf("tunnel a bound to %v, want 192.0.2.1 and a port", l)
	}
	ok(t, ta.WriteControl(v2Control(0, 0)), "WriteControl SCCRQ")
	src := within(t, ioWait, "listener ReadFrom", func() (netip.AddrPort, error) {
		_, src, _, err := lst.ReadFrom(make([]byte, 2048))
		return src, err
	})
	if src != ta.LocalAddr() {
		t.Fatalf("the SCCRQ came from %v, want %v", src, ta.LocalAddr())
	}
	answer := netip.MustParseAddrPort("192.0.2.2:1702")
	tz, err := dpZ.OpenTunnel(kernel.TunnelConfig{Version: 2, Local: answer, Peer: src, TunnelID: 200})
	ok(t, err, "OpenTunnel z")
	sccrp := v2Control(100, 0)
	ok(t, tz.WriteControl(sccrp), "WriteControl SCCRP")
	type msg struct {
		b    []byte
		from netip.AddrPort
	}
	got := within(t, ioWait, "SCCRP", func() (msg, error) {
		b := make([]byte, 2048)
		n, from, err := ta.ReadControl(b)
		return msg{b[:n], from}, err
	})
	if !bytes.Equal(got.b, sccrp) || got.from != answer {
		t.Fatalf("read %x from %v, want %x from %v", got.b, got.from, sccrp, answer)
	}
	ok(t, ta.Establish(200, answer), "Establish a")
	ok(t, tz.Establish(100, src), "Establish z")
	scccn := v2Control(200, 1)
	ok(t, ta.WriteControl(scccn), "WriteControl SCCCN")
	if b := readControl(t, tz, "SCCCN"); !bytes.Equal(b, scccn) {
		t.Fatalf("tunnel z read %x, want %x", b, scccn)
	}
	sa, err := ta.EnsureSession(kernel.SessionConfig{SessionID: 11, PeerSessionID: 22})
	ok(t, err, "EnsureSession a")
	sz, err := tz.EnsureSession(kernel.SessionConfig{SessionID: 22, PeerSessionID: 11})
	ok(t, err, "EnsureSession z")
	cha, err := sa.Channel()
	ok(t, err, "Channel a")
	chz, err := sz.Channel()
	ok(t, err, "Channel z")
	exchange(t, cha, chz, lcpFrame, "LCP a->z through port 1702")
	exchange(t, chz, cha, lcpFrame, "LCP z->a from port 1702")
	ok(t, dpA.Close(), "Close a")
	ok(t, dpZ.Close(), "Close z")
}

func TestKernelL2TPv3PPPUDP6(t *testing.T) {
	requireVM(t)
	netns.CheckFDs(t)
	checkGoroutines(t)
	_, a, z := pair(t)
	dpA := openDP(t, a, Config{InterfaceGroup: testGroup})
	dpZ := openDP(t, z, Config{InterfaceGroup: testGroup})
	la, lz := netip.MustParseAddrPort("[2001:db8::1]:1701"), netip.MustParseAddrPort("[2001:db8::2]:1701")

	ta, err := dpA.OpenTunnel(kernel.TunnelConfig{Version: 3, Local: la, Peer: lz, TunnelID: 100})
	ok(t, err, "OpenTunnel a")
	if _, err := ta.EnsureSession(kernel.SessionConfig{SessionID: 1, PeerSessionID: 2}); !errors.Is(err, ErrNotEstablished) {
		t.Errorf("EnsureSession before Establish: %v, want ErrNotEstablished", err)
	}
	tz, err := dpZ.OpenTunnel(kernel.TunnelConfig{Version: 3, Local: lz, Peer: la, TunnelID: 200})
	ok(t, err, "OpenTunnel z")
	ok(t, ta.Establish(200, netip.AddrPort{}), "Establish a")
	ok(t, tz.Establish(100, netip.AddrPort{}), "Establish z")
	if err := ta.Establish(201, netip.AddrPort{}); !errors.Is(err, unix.EEXIST) {
		t.Errorf("Establish with another peer tunnel ID: %v, want EEXIST", err)
	}
	ccn := v3Control(200, 7)
	ok(t, ta.WriteControl(ccn), "WriteControl")
	if b := readControl(t, tz, "v3 control"); !bytes.Equal(b, ccn) {
		t.Fatalf("ReadControl = %x, want %x", b, ccn)
	}

	cookieA, cookieZ := []byte{1, 2, 3, 4}, []byte{9, 8, 7, 6, 5, 4, 3, 2}
	cfgA := kernel.SessionConfig{SessionID: 0x10001, PeerSessionID: 0x20002, Cookie: cookieA, PeerCookie: cookieZ, L2Spec: kernel.L2SpecDefault, SendSeq: true, RecvSeq: true}
	cfgZ := kernel.SessionConfig{SessionID: 0x20002, PeerSessionID: 0x10001, Cookie: cookieZ, PeerCookie: cookieA, L2Spec: kernel.L2SpecDefault, SendSeq: true, RecvSeq: true}
	sa, err := ta.EnsureSession(cfgA)
	ok(t, err, "EnsureSession a")
	sz, err := tz.EnsureSession(cfgZ)
	ok(t, err, "EnsureSession z")
	changed := cfgA
	changed.PeerCookie = []byte{1, 1, 1, 1}
	if _, err := ta.EnsureSession(changed); !errors.Is(err, unix.EEXIST) {
		t.Errorf("EnsureSession with another cookie: %v, want EEXIST", err)
	}
	// What the kernel holds, read back through the dump.
	infos, err := dpA.genl.sessions()
	ok(t, err, "dump sessions")
	if len(infos) != 1 || !bytes.Equal(infos[0].Cookie, cookieA) || !bytes.Equal(infos[0].PeerCookie, cookieZ) ||
		!infos[0].SendSeq || !infos[0].RecvSeq || !infos[0].LNSMode || infos[0].PWType != pwTypePPP {
		t.Errorf("kernel session %+v, want cookies %x/%x, sequencing and LNS mode", infos, cookieA, cookieZ)
	}
	cha, chz := channelOf(t, sa), channelOf(t, sz)
	exchange(t, cha, chz, lcpFrame, "LCP")
	ua, err := dpA.NewUnit(cha, kernel.UnitConfig{MTU: 1400})
	ok(t, err, "NewUnit a")
	if _, err := dpA.NewUnit(cha, kernel.UnitConfig{}); !errors.Is(err, unix.EBUSY) {
		t.Errorf("second NewUnit on a channel: %v, want EBUSY", err)
	}
	uz, err := dpZ.NewUnit(chz, kernel.UnitConfig{MTU: 1400})
	ok(t, err, "NewUnit z")
	setUnits(t, ua, uz, true)
	a.Ping(t, "198.51.100.2", 3)
	a.Ping(t, "fe80::2%"+ua.Name(), 3)
	if st := sz.Stats(); st.RxPackets < 6 {
		t.Errorf("session z stats %+v, want at least 6 packets received", st)
	}
	// Routes through the unit, replaced idempotently and removed.
	st := kernel.UnitState{IPv4Local: netip.MustParseAddr("198.51.100.1"), IPv4Peer: netip.MustParseAddr("198.51.100.2"),
		Routes: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}}
	ok(t, ua.Set(st), "Set with a route")
	if out := a.IP("route", "show", "203.0.113.0/24"); !strings.Contains(out, "dev "+ua.Name()) {
		t.Errorf("route 203.0.113.0/24 not through %s:\n%s", ua.Name(), out)
	}
	st.Routes = nil
	ok(t, ua.Set(st), "Set without the route")
	if out := a.IP("route", "show", "203.0.113.0/24"); strings.TrimSpace(out) != "" {
		t.Errorf("route 203.0.113.0/24 left:\n%s", out)
	}
	// IPv6 no longer passes once IPv6CP is down (its addresses are gone).
	if out, err := a.TryPing(t.Context(), "fe80::2%"+ua.Name(), 1); err == nil {
		t.Errorf("IPv6 ping passed after the IPv6 configuration was removed:\n%s", out)
	}
	ok(t, ta.Close(), "Close tunnel a")
	ok(t, tz.Close(), "Close tunnel z")
	ok(t, ua.Close(), "Close unit a")
	ok(t, uz.Close(), "Close unit z")
	assertClean(t, a, "veth0")
	assertClean(t, z, "veth0")
}

// TestKernelL2TPv3PPPIP runs an L2TPv3 PPP pseudowire over IP encapsulation (IPv4 and
// IPv6), with the first control message accepted on an L2TP/IP listener.
func TestKernelL2TPv3PPPIP(t *testing.T) {
	requireVM(t)
	tests := []struct {
		name           string
		la, lz, listen netip.AddrPort
	}{
		{"ipv4", netip.MustParseAddrPort("192.0.2.1:0"), netip.MustParseAddrPort("192.0.2.2:0"), netip.MustParseAddrPort("0.0.0.0:0")},
		{"ipv6", netip.MustParseAddrPort("[2001:db8::1]:0"), netip.MustParseAddrPort("[2001:db8::2]:0"), netip.MustParseAddrPort("[::]:0")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { testL2TPv3PPPIP(t, tt.la, tt.lz, tt.listen) })
	}
}

func testL2TPv3PPPIP(t *testing.T, la, lz, listen netip.AddrPort) {
	netns.CheckFDs(t)
	checkGoroutines(t)
	_, a, z := pair(t)
	dpA := openDP(t, a, Config{InterfaceGroup: testGroup})
	dpZ := openDP(t, z, Config{InterfaceGroup: testGroup})

	lst, err := dpZ.Listen(kernel.ListenConfig{Encap: kernel.EncapIP, Addr: listen})
	ok(t, err, "Listen ip")
	ta, err := dpA.OpenTunnel(kernel.TunnelConfig{Version: 3, Encap: kernel.EncapIP, Local: la, Peer: lz, TunnelID: 100})
	ok(t, err, "OpenTunnel a")
	sccrq := v3Control(0, 0)
	ok(t, ta.WriteControl(sccrq), "WriteControl SCCRQ")
	type from struct {
		b   []byte
		src netip.AddrPort
		dst netip.Addr
	}
	got := within(t, ioWait, "listener ReadFrom", func() (from, error) {
		b := make([]byte, 2048)
		n, src, dst, err := lst.ReadFrom(b)
		return from{b[:n], src, dst}, err
	})
	if !bytes.Equal(got.b, sccrq) || got.src.Addr() != la.Addr() || got.dst != lz.Addr() {
		t.Fatalf("listener read %x from %v to %v, want %x from %v to %v", got.b, got.src, got.dst, sccrq, la.Addr(), lz.Addr())
	}
	// The listener answers a refused peer from its own socket.
	stop := v3Control(100, 0)
	ok(t, lst.WriteTo(stop, got.src), "listener WriteTo")
	if b := readControl(t, ta, "StopCCN-like answer from the listener"); !bytes.Equal(b, stop) {
		t.Fatalf("ReadControl = %x, want %x", b, stop)
	}
	tz, err := dpZ.OpenTunnel(kernel.TunnelConfig{Version: 3, Encap: kernel.EncapIP, Local: lz, Peer: got.src, TunnelID: 200})
	ok(t, err, "OpenTunnel z")
	ok(t, ta.Establish(200, netip.AddrPort{}), "Establish a")
	ok(t, tz.Establish(100, netip.AddrPort{}), "Establish z")
	ccn := v3Control(200, 1)
	ok(t, ta.WriteControl(ccn), "WriteControl to tunnel z")
	if b := readControl(t, tz, "control on tunnel z"); !bytes.Equal(b, ccn) {
		t.Fatalf("ReadControl = %x, want %x", b, ccn)
	}
	sa, err := ta.EnsureSession(kernel.SessionConfig{SessionID: 11, PeerSessionID: 22, Cookie: []byte{1, 2, 3, 4}, PeerCookie: []byte{5, 6, 7, 8}})
	ok(t, err, "EnsureSession a")
	sz, err := tz.EnsureSession(kernel.SessionConfig{SessionID: 22, PeerSessionID: 11, Cookie: []byte{5, 6, 7, 8}, PeerCookie: []byte{1, 2, 3, 4}})
	ok(t, err, "EnsureSession z")
	cha, chz := channelOf(t, sa), channelOf(t, sz)
	exchange(t, chz, cha, lcpFrame, "LCP over IP")
	ua, err := dpA.NewUnit(cha, kernel.UnitConfig{})
	ok(t, err, "NewUnit a")
	uz, err := dpZ.NewUnit(chz, kernel.UnitConfig{})
	ok(t, err, "NewUnit z")
	setUnits(t, ua, uz, false)
	a.Ping(t, "198.51.100.2", 3)
	ok(t, dpA.Close(), "Close a")
	ok(t, dpZ.Close(), "Close z")
	assertClean(t, a, "veth0")
	assertClean(t, z, "veth0")
}

// TestKernelL2TPv3Ethernet runs an Ethernet pseudowire between two data planes.
func TestKernelL2TPv3Ethernet(t *testing.T) {
	requireVM(t)
	netns.CheckFDs(t)
	checkGoroutines(t)
	_, a, z := pair(t)
	dpA := openDP(t, a, Config{InterfaceGroup: testGroup})
	dpZ := openDP(t, z, Config{InterfaceGroup: testGroup})
	ta, tz := establishPair(t, dpA, dpZ, 3, kernel.EncapUDP, netip.MustParseAddrPort("192.0.2.1:1701"), netip.MustParseAddrPort("192.0.2.2:1701"))
	cfgA := kernel.SessionConfig{SessionID: 11, PeerSessionID: 22, PWType: kernel.PWEthernet, IfName: "pw%d", MTU: 1400, Cookie: []byte{1, 2, 3, 4}, PeerCookie: []byte{4, 3, 2, 1}, L2Spec: kernel.L2SpecDefault}
	cfgZ := kernel.SessionConfig{SessionID: 22, PeerSessionID: 11, PWType: kernel.PWEthernet, Cookie: []byte{4, 3, 2, 1}, PeerCookie: []byte{1, 2, 3, 4}, L2Spec: kernel.L2SpecDefault}
	sa, err := ta.EnsureSession(cfgA)
	ok(t, err, "EnsureSession a")
	sz, err := tz.EnsureSession(cfgZ)
	ok(t, err, "EnsureSession z")
	if _, err := sa.Channel(); err != kernel.ErrNotPPP {
		t.Errorf("Channel of an Ethernet pseudowire: %v, want ErrNotPPP", err)
	}
	if sa.Interface() != "pw0" || !strings.HasPrefix(sz.Interface(), "l2tpeth") {
		t.Fatalf("interfaces %q and %q, want pw0 and l2tpethN", sa.Interface(), sz.Interface())
	}
	out := a.IP("-d", "link", "show", "dev", "pw0")
	if !strings.Contains(out, "mtu 1400") || !strings.Contains(out, "group 42") || !strings.Contains(out, "UP") {
		t.Errorf("pw0 is not up with MTU 1400 in group 42:\n%s", out)
	}
	a.AddAddr("pw0", "203.0.113.1/24")
	z.AddAddr(sz.Interface(), "203.0.113.2/24")
	pingPW := func(what string) {
		t.Helper()
		netns.WaitFor(t, 20*time.Second, func() bool {
			_, err := a.TryPing(t.Context(), "203.0.113.2", 1)
			return err == nil
		}, "ping across the Ethernet pseudowire "+what)
		a.Ping(t, "203.0.113.2", 3)
	}
	pingPW("")
	// Sequencing (in the default L2-Specific Sublayer, RFC 3931 §4.6) changes in place,
	// and the MTU.
	cfgA.SendSeq, cfgA.RecvSeq, cfgA.MTU = true, true, 1380
	if again, err := ta.EnsureSession(cfgA); err != nil || again != sa {
		t.Fatalf("EnsureSession with sequencing = %v, %v, want the same session", again, err)
	}
	if out := a.IP("link", "show", "dev", "pw0"); !strings.Contains(out, "mtu 1380") {
		t.Errorf("pw0 MTU not changed:\n%s", out)
	}
	cfgZ.SendSeq, cfgZ.RecvSeq = true, true
	_, err = tz.EnsureSession(cfgZ)
	ok(t, err, "EnsureSession z with sequencing")
	infos, err := dpZ.genl.sessions()
	ok(t, err, "dump sessions")
	if len(infos) != 1 || !infos[0].SendSeq || !infos[0].RecvSeq {
		t.Errorf("kernel session %+v, want sequencing on", infos)
	}
	pingPW("with sequencing")
	if st := sa.Stats(); st.RxPackets < 3 || st.TxPackets < 3 {
		t.Errorf("session stats %+v, want at least 3 packets each way", st)
	}
	ok(t, sa.Close(), "Close session a")
	if names, _ := a.Interfaces(); slices.Contains(names, "pw0") {
		t.Errorf("pw0 left after the session closed: %v", names)
	}
	ok(t, dpA.Close(), "Close a")
	ok(t, dpZ.Close(), "Close z")
	assertClean(t, a, "veth0")
	assertClean(t, z, "veth0")
}

// TestKernelL2TPv3EthernetStatic runs an Ethernet pseudowire between the data plane and
// a static kernel tunnel made with iproute2 (ip l2tp) on the other side.
func TestKernelL2TPv3EthernetStatic(t *testing.T) {
	requireVM(t)
	netns.CheckFDs(t)
	checkGoroutines(t)
	_, a, z := pair(t)
	dpA := openDP(t, a, Config{InterfaceGroup: testGroup})
	z.IP("l2tp", "add", "tunnel", "tunnel_id", "200", "peer_tunnel_id", "100", "encap", "udp",
		"local", "192.0.2.2", "remote", "192.0.2.1", "udp_sport", "1701", "udp_dport", "1701")
	// iproute2's cookie is the one the kernel sends, peer_cookie the one it checks.
	z.IP("l2tp", "add", "session", "name", "static0", "tunnel_id", "200", "session_id", "22", "peer_session_id", "11",
		"cookie", "0102030405060708", "peer_cookie", "a1a2a3a4", "l2spec_type", "default")
	z.SetUp("static0")
	z.AddAddr("static0", "203.0.113.2/24")

	ta, err := dpA.OpenTunnel(kernel.TunnelConfig{Version: 3, Local: netip.MustParseAddrPort("192.0.2.1:1701"), Peer: netip.MustParseAddrPort("192.0.2.2:1701"), TunnelID: 100})
	ok(t, err, "OpenTunnel")
	ok(t, ta.Establish(200, netip.AddrPort{}), "Establish")
	sa, err := ta.EnsureSession(kernel.SessionConfig{SessionID: 11, PeerSessionID: 22, PWType: kernel.PWEthernet, IfName: "probox0",
		Cookie: []byte{1, 2, 3, 4, 5, 6, 7, 8}, PeerCookie: []byte{0xa1, 0xa2, 0xa3, 0xa4}, L2Spec: kernel.L2SpecDefault})
	ok(t, err, "EnsureSession")
	a.AddAddr(sa.Interface(), "203.0.113.1/24")
	netns.WaitFor(t, 20*time.Second, func() bool {
		_, err := a.TryPing(t.Context(), "203.0.113.2", 1)
		return err == nil
	}, "ping to the static ip l2tp session")
	a.Ping(t, "203.0.113.2", 3)
	ok(t, dpA.Close(), "Close")
	assertClean(t, a, "veth0")
	// The static tunnel on the other side is not ours and stays.
	if out := z.IP("l2tp", "show", "tunnel"); !strings.Contains(out, "Tunnel 200") {
		t.Errorf("static tunnel gone:\n%s", out)
	}
}

// readDiscovery reads one discovery frame from p.
func readDiscovery(t *testing.T, p kernel.PPPoEPort, what string) ([]byte, kernel.FrameInfo) {
	t.Helper()
	type frame struct {
		b    []byte
		info kernel.FrameInfo
	}
	f := within(t, ioWait, what, func() (frame, error) {
		b := make([]byte, 2048)
		n, info, err := p.ReadDiscovery(b)
		return frame{b[:n], info}, err
	})
	return f.b, f.info
}

// A PADI (RFC 2516 §5.1) with an empty Service-Name tag.
var padi = []byte{0x11, 0x09, 0x00, 0x00, 0x00, 0x04, 0x01, 0x01, 0x00, 0x00}

// TestKernelPPPoE opens a PPPoE session with the same ID on both ends of a link, without
// discovery, untagged, on a VLAN and on a QinQ pair, and passes control frames and IP
// over it. Discovery frames on tags the port does not serve are not read.
func TestKernelPPPoE(t *testing.T) {
	requireVM(t)
	tests := []struct {
		name  string
		vlans []uint16
		qinq  []kernel.QinQ
		tags  kernel.FrameInfo // the session's VLAN tags
		stray []kernel.FrameInfo
		devs  map[string][]string // the VLAN subinterfaces a's session makes: what ip -d link shows
	}{
		{name: "untagged", stray: []kernel.FrameInfo{{VLAN: 100}, {OuterVLAN: 10, VLAN: 100}}},
		{name: "vlan", vlans: []uint16{100, 200}, tags: kernel.FrameInfo{VLAN: 100},
			stray: []kernel.FrameInfo{{}, {VLAN: 300}, {OuterVLAN: 10, VLAN: 100}, {OuterVLAN: 100, VLAN: 100}},
			devs:  map[string][]string{"veth0.100": {"veth0.100@veth0: ", "vlan protocol 802.1Q id 100"}}},
		{name: "qinq", qinq: []kernel.QinQ{{Outer: 10, InnerFirst: 100, InnerLast: 199}}, tags: kernel.FrameInfo{OuterVLAN: 10, VLAN: 100},
			stray: []kernel.FrameInfo{{}, {VLAN: 100}, {VLAN: 10}, {OuterVLAN: 10, VLAN: 200}, {OuterVLAN: 11, VLAN: 100}, {OuterVLAN: 10, VLAN: 99}},
			// The 802.1ad link of the service tag, and the 802.1Q link on it.
			devs: map[string][]string{
				"veth0.s10":     {"veth0.s10@veth0: ", "vlan protocol 802.1ad id 10"},
				"veth0.s10.100": {"veth0.s10.100@veth0.s10: ", "vlan protocol 802.1Q id 100"},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, z, dpA, dpZ, pa, pz := pppoePortPair(t, "a", "z", kernel.PPPoEConfig{Interface: "veth0", VLANs: tt.vlans, QinQ: tt.qinq})
			macA, macZ := pa.HardwareAddr(), pz.HardwareAddr()
			with := func(dst net.HardwareAddr) kernel.FrameInfo {
				return kernel.FrameInfo{Dst: dst, VLAN: tt.tags.VLAN, OuterVLAN: tt.tags.OuterVLAN}
			}

			// PADIs on tags z does not serve, then one on the session's: z reads only that.
			broadcast := net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
			for _, fi := range tt.stray {
				fi.Dst = broadcast
				ok(t, pa.WriteDiscovery([]byte{0x11, 0x09, 0, 0, 0, 0}, fi), fmt.Sprintf("WriteDiscovery on %d.%d", fi.OuterVLAN, fi.VLAN))
			}
			ok(t, pa.WriteDiscovery(padi, with(broadcast)), "WriteDiscovery")
			got, info := readDiscovery(t, pz, "PADI")
			if !bytes.Equal(got, padi) || !bytes.Equal(info.Src, macA) || !bytes.Equal(info.Dst, broadcast) ||
				info.VLAN != tt.tags.VLAN || info.OuterVLAN != tt.tags.OuterVLAN {
				t.Fatalf("ReadDiscovery = %x %+v, want %x from %v on VLAN %d.%d", got, info, padi, macA, tt.tags.OuterVLAN, tt.tags.VLAN)
			}

			ca, err := pa.OpenSession(0x0042, with(macZ), 0)
			ok(t, err, "OpenSession a")
			cz, err := pz.OpenSession(0x0042, with(macA), 0)
			ok(t, err, "OpenSession z")
			if _, err := pa.OpenSession(0x0042, with(macZ), 0); !errors.Is(err, unix.EEXIST) {
				t.Errorf("OpenSession twice: %v, want EEXIST", err)
			}
			if ca.MTU() != 1492 || cz.MTU() != 1492 {
				t.Errorf("channel MTUs %d, %d, want 1492 (RFC 2516 §7)", ca.MTU(), cz.MTU())
			}
			for dev, wants := range tt.devs {
				out := a.IP("-d", "link", "show", "dev", dev)
				for _, want := range append(wants, "group 42") {
					if !strings.Contains(out, want) {
						t.Errorf("ip -d link show dev %s has no %q:\n%s", dev, want, out)
					}
				}
			}
			exchange(t, ca, cz, lcpFrame, "LCP a->z")
			exchange(t, cz, ca, lcpFrame, "LCP z->a")
			ua, err := dpA.NewUnit(ca, kernel.UnitConfig{Name: "pppoe%d"})
			ok(t, err, "NewUnit a")
			uz, err := dpZ.NewUnit(cz, kernel.UnitConfig{})
			ok(t, err, "NewUnit z")
			exchange(t, ca, cz, ipcpFrame, "IPCP with units")
			setUnits(t, ua, uz, true)
			a.Ping(t, "198.51.100.2", 3)
			a.Ping(t, "fe80::2%"+ua.Name(), 3)
			if st := ca.Stats(); st.RxPackets < 6 || st.TxPackets < 6 {
				t.Errorf("channel stats %+v, want the frames and pings", st)
			}
			ok(t, ca.Close(), "Close channel a")
			if _, err := ca.ReadFrame(make([]byte, 10)); err != net.ErrClosed {
				t.Errorf("ReadFrame after Close: %v, want net.ErrClosed", err)
			}
			// The session is gone on a's side: pings no longer pass.
			if out, err := a.TryPing(t.Context(), "198.51.100.2", 1); err == nil {
				t.Errorf("ping passed after the channel closed:\n%s", out)
			}
			// A PADT for z's session (RFC 2516 §5.5): z's kernel ends the session itself
			// (pppoe_disc_rcv), and z's channel reports the end after the engine's copy
			// of the PADT arrives on the port.
			padt := []byte{0x11, 0xa7, 0x00, 0x42, 0x00, 0x00}
			ok(t, pa.WriteDiscovery(padt, with(macZ)), "WriteDiscovery PADT")
			if got, _ := readDiscovery(t, pz, "PADT"); !bytes.Equal(got, padt) {
				t.Errorf("ReadDiscovery = %x, want the PADT %x", got, padt)
			}
			err = within(t, ioWait, "ReadFrame after PADT", func() (error, error) {
				_, err := cz.ReadFrame(make([]byte, 100))
				return err, nil
			})
			if !errors.Is(err, io.EOF) {
				t.Errorf("ReadFrame after the kernel ended the session: %v, want io.EOF", err)
			}
			ok(t, dpA.Close(), "Close a")
			ok(t, dpZ.Close(), "Close z")
			assertClean(t, a, "veth0")
			assertClean(t, z, "veth0")
		})
	}
}

// TestKernelBridge joins a PPPoE channel to an L2TP channel in a LAC namespace, between a
// PPPoE client and an LNS, and passes control frames and IP from end to end.
func TestKernelBridge(t *testing.T) {
	requireVM(t)
	netns.CheckFDs(t)
	checkGoroutines(t)
	b := netns.New(t)
	c, l, n := b.NS("client"), b.NS("lac"), b.NS("lns")
	b.Link(c, "veth0", l, "eth0")
	b.Link(l, "veth1", n, "veth0")
	l.AddAddr("veth1", "192.0.2.1/24")
	n.AddAddr("veth0", "192.0.2.2/24")
	dpC := openDP(t, c, Config{InterfaceGroup: testGroup})
	dpL := openDP(t, l, Config{InterfaceGroup: testGroup})
	dpN := openDP(t, n, Config{InterfaceGroup: testGroup})

	pc, err := dpC.OpenPPPoE(kernel.PPPoEConfig{Interface: "veth0"})
	ok(t, err, "OpenPPPoE client")
	pl, err := dpL.OpenPPPoE(kernel.PPPoEConfig{Interface: "eth0"})
	ok(t, err, "OpenPPPoE lac")
	chC, err := pc.OpenSession(0x77, kernel.FrameInfo{Dst: pl.HardwareAddr()}, 0)
	ok(t, err, "OpenSession client")
	chLp, err := pl.OpenSession(0x77, kernel.FrameInfo{Dst: pc.HardwareAddr()}, 0)
	ok(t, err, "OpenSession lac")

	tl, tn := establishPair(t, dpL, dpN, 2, kernel.EncapUDP, netip.MustParseAddrPort("192.0.2.1:1701"), netip.MustParseAddrPort("192.0.2.2:1701"))
	sl, err := tl.EnsureSession(kernel.SessionConfig{SessionID: 5, PeerSessionID: 6})
	ok(t, err, "EnsureSession lac")
	sn, err := tn.EnsureSession(kernel.SessionConfig{SessionID: 6, PeerSessionID: 5})
	ok(t, err, "EnsureSession lns")
	chLl, chN := channelOf(t, sl), channelOf(t, sn)

	br, err := dpL.Bridge(chLp, chLl)
	ok(t, err, "Bridge")
	if _, err := dpL.Bridge(chLl, chLp); !errors.Is(err, unix.EBUSY) {
		t.Errorf("second Bridge: %v, want EBUSY", err)
	}
	if _, err := dpL.NewUnit(chLp, kernel.UnitConfig{}); !errors.Is(err, unix.EBUSY) {
		t.Errorf("NewUnit on a bridged channel: %v, want EBUSY", err)
	}
	exchange(t, chC, chN, lcpFrame, "LCP client->lns through the bridge")
	exchange(t, chN, chC, lcpFrame, "LCP lns->client through the bridge")
	uc, err := dpC.NewUnit(chC, kernel.UnitConfig{})
	ok(t, err, "NewUnit client")
	un, err := dpN.NewUnit(chN, kernel.UnitConfig{})
	ok(t, err, "NewUnit lns")
	setUnits(t, uc, un, false)
	c.Ping(t, "198.51.100.2", 3)
	if st := sl.Stats(); st.RxPackets < 3 || st.TxPackets < 3 {
		t.Errorf("LAC session stats %+v, want the pings each way", st)
	}

	// Unbridged, the LAC's channels get the frames again.
	ok(t, br.Close(), "Close bridge")
	ok(t, br.Close(), "Close bridge again")
	exchange(t, chC, chLp, lcpFrame, "LCP to the unbridged PPPoE channel")
	ok(t, dpC.Close(), "Close client")
	ok(t, dpL.Close(), "Close lac")
	ok(t, dpN.Close(), "Close lns")
	assertClean(t, c, "veth0")
	assertClean(t, l, "eth0", "veth1")
	assertClean(t, n, "veth0")
}

// The crash test: a child process (this test binary, re-executed) creates every kind of
// kernel object in a namespace and is killed with SIGKILL; what it leaves is checked, and
// New with CleanupStale removes the rest.

const crashEnv = "PROBOX_CRASH_NETNS"

// TestKernelCrashChild is the child's part of TestKernelCrashCleanup; it runs only with
// PROBOX_CRASH_NETNS set and never returns.
func TestKernelCrashChild(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("the child of TestKernelCrashCleanup")
	}
	runtime.LockOSThread() // never unlocked: New must run in the namespace
	f, err := os.Open(path)
	ok(t, err, "open namespace")
	ok(t, unix.Setns(int(f.Fd()), unix.CLONE_NEWNET), "setns")
	d, err := New(Config{Log: testLogger(), InterfaceGroup: testGroup})
	ok(t, err, "New")
	// An Ethernet pseudowire (l2tpeth) in an L2TPv3 tunnel.
	t3, err := d.OpenTunnel(kernel.TunnelConfig{Version: 3, Local: netip.MustParseAddrPort("192.0.2.1:1701"), Peer: netip.MustParseAddrPort("192.0.2.2:1701"), TunnelID: 300})
	ok(t, err, "OpenTunnel v3")
	ok(t, t3.Establish(301, netip.AddrPort{}), "Establish v3")
	_, err = t3.EnsureSession(kernel.SessionConfig{SessionID: 1, PeerSessionID: 2, PWType: kernel.PWEthernet, IfName: "crasheth%d"})
	ok(t, err, "EnsureSession eth")
	// A PPP session with a unit in an L2TPv2 tunnel.
	t2, err := d.OpenTunnel(kernel.TunnelConfig{Version: 2, Local: netip.MustParseAddrPort("192.0.2.1:1702"), Peer: netip.MustParseAddrPort("192.0.2.2:1702"), TunnelID: 200})
	ok(t, err, "OpenTunnel v2")
	ok(t, t2.Establish(201, netip.AddrPort{}), "Establish v2")
	s2, err := t2.EnsureSession(kernel.SessionConfig{SessionID: 3, PeerSessionID: 4})
	ok(t, err, "EnsureSession ppp")
	_, err = d.NewUnit(channelOf(t, s2), kernel.UnitConfig{Name: "crashppp%d"})
	ok(t, err, "NewUnit")
	// A PPPoE session on a VLAN, with a unit.
	p, err := d.OpenPPPoE(kernel.PPPoEConfig{Interface: "veth0", VLANs: []uint16{100}, QinQ: []kernel.QinQ{{Outer: 10, InnerFirst: 100, InnerLast: 100}}})
	ok(t, err, "OpenPPPoE")
	peer := net.HardwareAddr{2, 0, 0, 0, 0, 2}
	ch, err := p.OpenSession(0x10, kernel.FrameInfo{Dst: peer, VLAN: 100}, 0)
	ok(t, err, "OpenSession")
	_, err = d.NewUnit(ch, kernel.UnitConfig{Name: "crashoe%d"})
	ok(t, err, "NewUnit pppoe")
	// A PPPoE session on a QinQ pair (802.1ad and 802.1Q subinterfaces), and one from an
	// extra address there (a macvlan on the 802.1Q one).
	_, err = p.OpenSession(0x11, kernel.FrameInfo{Dst: peer, OuterVLAN: 10, VLAN: 100}, 0)
	ok(t, err, "OpenSession QinQ")
	_, err = p.OpenSession(0x12, kernel.FrameInfo{Src: net.HardwareAddr{2, 0, 0, 0, 0xa0, 1}, Dst: peer, OuterVLAN: 10, VLAN: 100}, 0)
	ok(t, err, "OpenSession QinQ from an extra address")
	os.Stdout.WriteString("READY\n")
	select {}
}

func TestKernelCrashCleanup(t *testing.T) {
	requireVM(t)
	netns.CheckFDs(t)
	b := netns.New(t)
	a, z := b.NS("a"), b.NS("z")
	b.Link(a, "veth0", z, "veth0")
	a.AddAddr("veth0", "192.0.2.1/24")
	z.AddAddr("veth0", "192.0.2.2/24")
	// The operator's own VLAN subinterface: not in the group, never touched.
	a.IP("link", "add", "link", "veth0", "name", "veth0.200", "type", "vlan", "id", "200")

	cmd := a.Command(t.Context(), os.Args[0], "-test.run=^TestKernelCrashChild$", "-test.v")
	cmd.Env = append(os.Environ(), crashEnv+"="+a.Path())
	out, err := cmd.StdoutPipe()
	ok(t, err, "stdout pipe")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	ok(t, cmd.Start(), "start the child")
	ready := make(chan error, 1)
	go func() {
		buf := make([]byte, 4096)
		var seen []byte
		for {
			n, err := out.Read(buf)
			seen = append(seen, buf[:n]...)
			if bytes.Contains(seen, []byte("READY\n")) {
				ready <- nil
				return
			}
			if err != nil {
				ready <- errors.New(string(seen))
				return
			}
		}
	}()
	select {
	case err := <-ready:
		if err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child failed:\n%v\n%s", err, stderr.String())
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child not ready within 60s:\n%s", stderr.String())
	}
	names, err := a.Interfaces()
	ok(t, err, "interfaces")
	for _, want := range []string{"crasheth0", "crashppp0", "crashoe0", "veth0.100", "veth0.s10", "veth0.s10.100", "q2ft2fvlzq6q69"} {
		if !slices.Contains(names, want) {
			t.Errorf("the child did not create %s: %v", want, names)
		}
	}
	if out := a.IP("l2tp", "show", "tunnel"); strings.Count(out, "Tunnel ") != 2 {
		t.Errorf("the child's tunnels are not there:\n%s", out)
	}

	ok(t, cmd.Process.Kill(), "SIGKILL the child")
	cmd.Wait()
	// The kernel removes the tunnels (with the l2tpeth interface), the PPPoE session and
	// the PPP units by itself; the VLAN subinterfaces and the macvlan stay.
	assertClean(t, a, "veth0", "veth0.100", "veth0.200", "veth0.s10", "veth0.s10.100", "q2ft2fvlzq6q69")

	var d *Dataplane
	ok(t, a.Do(func() (err error) {
		d, err = New(Config{Log: testLogger(), InterfaceGroup: testGroup, CleanupStale: true})
		return err
	}), "New with CleanupStale")
	ok(t, d.Close(), "Close")
	assertClean(t, a, "veth0", "veth0.200")
}

// TestKernelListeners checks a dual-stack UDP listener (IPv4 peers by their unmapped
// address, answered through the mapped one) and an IPv6 L2TP/IP listener.
func TestKernelListeners(t *testing.T) {
	requireVM(t)
	netns.CheckFDs(t)
	checkGoroutines(t)
	_, a, z := pair(t)
	dpA := openDP(t, a, Config{})
	dpZ := openDP(t, z, Config{})
	type from struct {
		b   []byte
		src netip.AddrPort
		dst netip.Addr
	}
	readFrom := func(l kernel.Listener, what string) from {
		return within(t, ioWait, what, func() (from, error) {
			b := make([]byte, 2048)
			n, src, dst, err := l.ReadFrom(b)
			return from{b[:n], src, dst}, err
		})
	}
	tests := []struct {
		name        string
		listen      kernel.ListenConfig
		tunnel      kernel.TunnelConfig
		wantSrc     netip.AddrPort
		wantDst     netip.Addr
		controlFrom func(tid uint32) []byte
	}{
		{
			name:    "udp dual-stack, IPv4 peer",
			listen:  kernel.ListenConfig{Encap: kernel.EncapUDP, Addr: netip.MustParseAddrPort("[::]:1701")},
			tunnel:  kernel.TunnelConfig{Version: 2, Local: netip.MustParseAddrPort("192.0.2.1:1801"), Peer: netip.MustParseAddrPort("192.0.2.2:1701"), TunnelID: 1},
			wantSrc: netip.MustParseAddrPort("192.0.2.1:1801"), wantDst: netip.MustParseAddr("192.0.2.2"),
			controlFrom: func(tid uint32) []byte { return v2Control(uint16(tid), 0) },
		},
		{
			name:    "udp dual-stack, IPv6 peer",
			listen:  kernel.ListenConfig{Encap: kernel.EncapUDP, Addr: netip.MustParseAddrPort("[::]:1701")},
			tunnel:  kernel.TunnelConfig{Version: 3, Local: netip.MustParseAddrPort("[2001:db8::1]:1801"), Peer: netip.MustParseAddrPort("[2001:db8::2]:1701"), TunnelID: 2},
			wantSrc: netip.MustParseAddrPort("[2001:db8::1]:1801"), wantDst: netip.MustParseAddr("2001:db8::2"),
			controlFrom: func(tid uint32) []byte { return v3Control(tid, 0) },
		},
		{
			name:    "ip, IPv6",
			listen:  kernel.ListenConfig{Encap: kernel.EncapIP, Addr: netip.MustParseAddrPort("[::]:0")},
			tunnel:  kernel.TunnelConfig{Version: 3, Encap: kernel.EncapIP, Local: netip.MustParseAddrPort("[2001:db8::1]:0"), Peer: netip.MustParseAddrPort("[2001:db8::2]:0"), TunnelID: 3},
			wantSrc: netip.MustParseAddrPort("[2001:db8::1]:0"), wantDst: netip.MustParseAddr("2001:db8::2"),
			controlFrom: func(tid uint32) []byte { return v3Control(tid, 0) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lst, err := dpZ.Listen(tt.listen)
			ok(t, err, "Listen")
			defer lst.Close()
			tun, err := dpA.OpenTunnel(tt.tunnel)
			ok(t, err, "OpenTunnel")
			defer tun.Close()
			msg := tt.controlFrom(0)
			ok(t, tun.WriteControl(msg), "WriteControl")
			got := readFrom(lst, "listener ReadFrom")
			if !bytes.Equal(got.b, msg) || got.src != tt.wantSrc || got.dst != tt.wantDst {
				t.Fatalf("ReadFrom = %x from %v to %v, want %x from %v to %v", got.b, got.src, got.dst, msg, tt.wantSrc, tt.wantDst)
			}
			answer := tt.controlFrom(tt.tunnel.TunnelID)
			ok(t, lst.WriteTo(answer, got.src), "WriteTo")
			if b := readControl(t, tun, "answer from the listener"); !bytes.Equal(b, answer) {
				t.Fatalf("ReadControl = %x, want %x", b, answer)
			}
		})
	}
}

// TestKernelPPPoEQinQDevices checks the subinterfaces of QinQ sessions: made once and
// reused by later sessions, an 802.1ad subinterface next to the 802.1Q one of the same ID,
// an operator's matching subinterface used and left alone at Close, a mismatching one
// refused; and the checks of bad tags.
func TestKernelPPPoEQinQDevices(t *testing.T) {
	requireVM(t)
	netns.CheckFDs(t)
	checkGoroutines(t)
	b := netns.New(t)
	a, z := b.NS("a"), b.NS("z")
	b.Link(a, "veth0", z, "veth0")
	// The operator's: an 802.1ad subinterface for service tag 20, and an 802.1Q one
	// named like the data plane's 802.1ad subinterface for service tag 30.
	a.IP("link", "add", "link", "veth0", "name", "veth0.s20", "type", "vlan", "protocol", "802.1ad", "id", "20")
	a.IP("link", "add", "link", "veth0", "name", "veth0.s30", "type", "vlan", "id", "30")
	dpA := openDP(t, a, Config{InterfaceGroup: testGroup})

	for _, q := range [][]kernel.QinQ{{{Outer: 0, InnerFirst: 1, InnerLast: 1}}, {{Outer: 10, InnerFirst: 5, InnerLast: 4}},
		{{Outer: 4095, InnerFirst: 1, InnerLast: 1}}, {{Outer: 10, InnerFirst: 0, InnerLast: 4}}} {
		if _, err := dpA.OpenPPPoE(kernel.PPPoEConfig{Interface: "veth0", QinQ: q}); !errors.Is(err, kernel.ErrVLAN) {
			t.Errorf("OpenPPPoE with QinQ %v: %v, want ErrVLAN", q, err)
		}
	}
	p, err := dpA.OpenPPPoE(kernel.PPPoEConfig{Interface: "veth0", VLANs: []uint16{10},
		QinQ: []kernel.QinQ{{Outer: 10, InnerFirst: 100, InnerLast: 101}, {Outer: 20, InnerFirst: 1, InnerLast: 4094}, {Outer: 30, InnerFirst: 1, InnerLast: 1}}})
	ok(t, err, "OpenPPPoE")
	peer := net.HardwareAddr{2, 0, 0, 0, 0, 2}
	if _, err := p.OpenSession(1, kernel.FrameInfo{Dst: peer, OuterVLAN: 10}, 0); !errors.Is(err, unix.EINVAL) {
		t.Errorf("OpenSession with a service tag and no customer tag: %v, want EINVAL", err)
	}
	if err := p.WriteDiscovery(padi, kernel.FrameInfo{Dst: peer, OuterVLAN: 4095, VLAN: 1}); !errors.Is(err, unix.EINVAL) {
		t.Errorf("WriteDiscovery with service tag 4095: %v, want EINVAL", err)
	}

	// Sessions 1 and 2 on 10.100 share the subinterfaces; 10.101 adds one on the same
	// 802.1ad subinterface; VLAN 10 gets its 802.1Q subinterface next to it.
	for i, tags := range []kernel.FrameInfo{{OuterVLAN: 10, VLAN: 100}, {OuterVLAN: 10, VLAN: 100}, {OuterVLAN: 10, VLAN: 101}, {VLAN: 10}, {OuterVLAN: 20, VLAN: 7}} {
		tags.Dst = peer
		_, err := p.OpenSession(uint16(i+1), tags, 0)
		ok(t, err, fmt.Sprintf("OpenSession %d on %d.%d", i+1, tags.OuterVLAN, tags.VLAN))
	}
	for dev, wants := range map[string][]string{
		"veth0.s10":     {"veth0.s10@veth0: ", "vlan protocol 802.1ad id 10", "group 42"},
		"veth0.s10.100": {"veth0.s10.100@veth0.s10: ", "vlan protocol 802.1Q id 100", "group 42"},
		"veth0.s10.101": {"veth0.s10.101@veth0.s10: ", "vlan protocol 802.1Q id 101", "group 42"},
		"veth0.10":      {"veth0.10@veth0: ", "vlan protocol 802.1Q id 10", "group 42"},
		"veth0.s20.7":   {"veth0.s20.7@veth0.s20: ", "vlan protocol 802.1Q id 7", "group 42"},
	} {
		out := a.IP("-d", "link", "show", "dev", dev)
		for _, want := range wants {
			if !strings.Contains(out, want) {
				t.Errorf("ip -d link show dev %s has no %q:\n%s", dev, want, out)
			}
		}
	}
	_, err = p.OpenSession(9, kernel.FrameInfo{Dst: peer, OuterVLAN: 30, VLAN: 1}, 0)
	if !errors.Is(err, unix.EEXIST) || !strings.Contains(err.Error(), "veth0.s30 exists and is not 802.1ad VLAN 30 of veth0") {
		t.Errorf("OpenSession under an 802.1Q link with the 802.1ad subinterface's name: %v, want EEXIST", err)
	}
	ok(t, p.Close(), "Close")
	// The operator's subinterfaces stay; the data plane's are gone.
	assertClean(t, a, "veth0", "veth0.s20", "veth0.s30")
}
