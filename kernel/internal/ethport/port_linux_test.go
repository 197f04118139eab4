//go:build linux

package ethport

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/probox/probox/kernel"
	"github.com/probox/probox/kernel/internal/netdev"
)

const (
	etDiscovery = 0x8863
	etSession   = 0x8864
)

// vethPair moves the calling goroutine into a new network namespace (its thread stays
// locked and dies with it) and makes a veth pair "pa" <-> "pb" there, both up. It skips
// under -short and when namespaces cannot be created.
func vethPair(tb testing.TB) {
	tb.Helper()
	if testing.Short() {
		tb.Skip("skipping: needs a private network namespace (not run under -short)")
	}
	runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		tb.Skipf("skipping: cannot create a network namespace (needs CAP_SYS_ADMIN): %v", err)
	}
	h, err := netdev.Open()
	if err != nil {
		tb.Fatal(err)
	}
	defer h.Close()
	a, err := h.AddVeth("pa", "pb")
	if err != nil {
		tb.Fatalf("AddVeth: %v", err)
	}
	b, err := h.LinkByName("pb")
	if err != nil {
		tb.Fatal(err)
	}
	for _, l := range []netdev.Link{a, b} {
		if err := h.SetUp(l.Index, true); err != nil {
			tb.Fatal(err)
		}
	}
	waitOperUp(tb, h, a.Index, b.Index)
}

// waitOperUp waits until the links are operationally up. Until the kernel's link watch
// has seen the carrier come up, the first veth brought up has no queueing discipline
// and drops what is sent through it; link watch can lag when rtnl is busy, for example
// while an earlier test's namespace is being dismantled.
func waitOperUp(tb testing.TB, h *netdev.Handle, idx ...int) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, i := range idx {
		for {
			l, err := h.LinkByIndex(i)
			if err != nil {
				tb.Fatal(err)
			}
			if l.OperState == netdev.OperUp {
				break
			}
			if time.Now().After(deadline) {
				tb.Fatalf("link %s still in operational state %d", l.Name, l.OperState)
			}
			time.Sleep(time.Millisecond)
		}
	}
}

func openPort(tb testing.TB, ifname string, types ...uint16) *Port {
	tb.Helper()
	p, err := Open(ifname, types...)
	if err != nil {
		tb.Fatalf("Open(%s): %v", ifname, err)
	}
	tb.Cleanup(func() { p.Close() })
	return p
}

// readFrame reads one frame, failing the test after a few seconds.
func readFrame(t *testing.T, p *Port, buf []byte) Frame {
	t.Helper()
	if err := p.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	f, err := p.ReadFrame(buf)
	if err != nil {
		t.Fatalf("ReadFrame on %s: %v", p.Name(), err)
	}
	return f
}

func ethtool(t *testing.T, args ...string) {
	t.Helper()
	path, err := exec.LookPath("ethtool")
	if err != nil {
		t.Skip("skipping: ethtool is not installed (apt-get install ethtool)")
	}
	if out, err := exec.Command(path, args...).CombinedOutput(); err != nil {
		t.Fatalf("ethtool %v: %v: %s", args, err, out)
	}
}

func TestOpen(t *testing.T) {
	vethPair(t)
	h, err := netdev.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	l, err := h.LinkByName("pa")
	if err != nil {
		t.Fatal(err)
	}
	p := openPort(t, "pa", etDiscovery)
	if p.Index() != l.Index || p.MTU() != l.MTU || !bytes.Equal(p.HardwareAddr(), l.HardwareAddr) || p.Name() != "pa" {
		t.Errorf("port index %d mtu %d hw %v, want %d %d %v", p.Index(), p.MTU(), p.HardwareAddr(), l.Index, l.MTU, l.HardwareAddr)
	}
	tests := []struct {
		name   string
		ifname string
		types  []uint16
		want   error
	}{
		{name: "absent interface", ifname: "nope", types: []uint16{etDiscovery}, want: unix.ENODEV},
		{name: "VLAN ethertype", ifname: "pa", types: []uint16{0x8100}},
		{name: "loopback is not Ethernet", ifname: "lo", types: []uint16{etDiscovery}, want: errNotEthernet},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Open(tt.ifname, tt.types...)
			if err == nil {
				p.Close()
				t.Fatal("Open succeeded")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
			var oe *kernel.OpError
			if !errors.As(err, &oe) {
				t.Errorf("error %T is not a *kernel.OpError", err)
			}
		})
	}
}

// TestVLANs sends frames built by WriteFrame on one end of a veth pair and checks what a
// Port on the other end reads, with the kernel's VLAN stripping reported in auxdata
// (rxvlan on, the veth default) and, as far as the kernel allows, without offload.
func TestVLANs(t *testing.T) {
	frames := []struct {
		name string
		f    Frame
	}{
		{"untagged", Frame{EtherType: etDiscovery}},
		{"802.1Q", Frame{VLAN: 7, EtherType: etDiscovery}},
		{"802.1Q 4094", Frame{VLAN: 4094, EtherType: etSession}},
		{"QinQ", Frame{OuterVLAN: 100, VLAN: 7, EtherType: etSession}},
		{"QinQ max", Frame{OuterVLAN: 4094, VLAN: 4093, EtherType: etDiscovery}},
	}
	for _, offload := range []string{"on", "off"} {
		t.Run("rxvlan "+offload, func(t *testing.T) {
			vethPair(t)
			if offload == "off" {
				for _, dev := range []string{"pa", "pb"} {
					ethtool(t, "-K", dev, "rxvlan", "off", "txvlan", "off", "rx-vlan-stag-hw-parse", "off", "tx-vlan-stag-hw-insert", "off")
				}
			}
			a := openPort(t, "pa", etDiscovery, etSession)
			b := openPort(t, "pb", etDiscovery, etSession)
			buf, scratch := make([]byte, 2048), make([]byte, 2048)
			for _, dir := range []struct {
				name     string
				from, to *Port
			}{{"a to b", a, b}, {"b to a", b, a}} {
				for i, fr := range frames {
					t.Run(dir.name+" "+fr.name, func(t *testing.T) {
						f := fr.f
						copy(f.Dst[:], dir.to.HardwareAddr())
						copy(f.Src[:], dir.from.HardwareAddr())
						f.Payload = fmt.Appendf(nil, "frame %d %s", i, fr.name)
						if err := dir.from.WriteFrame(f, scratch); err != nil {
							t.Fatalf("WriteFrame: %v", err)
						}
						got := readFrame(t, dir.to, buf)
						checkFrame(t, f, got)
					})
				}
			}
		})
	}
}

// TestKernelVLANInterop checks our tags against the kernel's own 802.1Q code: frames a
// VLAN subinterface sends arrive at a Port on the other end with its VLAN ID, and frames
// a Port sends with that VLAN ID arrive, untagged, on the subinterface.
func TestKernelVLANInterop(t *testing.T) {
	vethPair(t)
	h, err := netdev.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	pa, err := h.LinkByName("pa")
	if err != nil {
		t.Fatal(err)
	}
	sub, err := h.AddVLAN(pa.Index, "pa.7", 7)
	if errors.Is(err, unix.EOPNOTSUPP) {
		t.Skipf("skipping: this kernel has no 802.1Q support: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := h.SetUp(sub.Index, true); err != nil {
		t.Fatal(err)
	}
	waitOperUp(t, h, sub.Index)
	vlanPort := openPort(t, "pa.7", etDiscovery)
	trunk := openPort(t, "pb", etDiscovery)
	buf, scratch := make([]byte, 2048), make([]byte, 2048)

	up := Frame{EtherType: etDiscovery, Payload: []byte("from the vlan device")}
	copy(up.Dst[:], trunk.HardwareAddr())
	copy(up.Src[:], vlanPort.HardwareAddr())
	if err := vlanPort.WriteFrame(up, scratch); err != nil {
		t.Fatal(err)
	}
	want := up
	want.VLAN = 7
	checkFrame(t, want, readFrame(t, trunk, buf))

	down := Frame{VLAN: 7, EtherType: etDiscovery, Payload: []byte("to the vlan device")}
	copy(down.Dst[:], vlanPort.HardwareAddr())
	copy(down.Src[:], trunk.HardwareAddr())
	if err := trunk.WriteFrame(down, scratch); err != nil {
		t.Fatal(err)
	}
	want = down
	want.VLAN = 0
	checkFrame(t, want, readFrame(t, vlanPort, buf))
}

// checkFrame compares a received frame with the one sent: the payload may carry padding.
func checkFrame(t *testing.T, want, got Frame) {
	t.Helper()
	if !bytes.HasPrefix(got.Payload, want.Payload) || bytes.Count(got.Payload[len(want.Payload):], []byte{0}) != len(got.Payload)-len(want.Payload) {
		t.Errorf("payload %q, want %q and zero padding", got.Payload, want.Payload)
	}
	got.Payload = want.Payload
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("frame (-want +got):\n%s", diff)
	}
}

func TestFiltering(t *testing.T) {
	vethPair(t)
	a := openPort(t, "pa", etDiscovery)
	b := openPort(t, "pb", etDiscovery)
	// A second port on the same interface as a: it must not see what a sends either.
	a2 := openPort(t, "pa", etDiscovery)
	// An "all ethertypes" port.
	all := openPort(t, "pb")
	buf, scratch := make([]byte, 2048), make([]byte, 2048)
	frame := func(from, to *Port, vlan, outer, et uint16, payload string) Frame {
		f := Frame{VLAN: vlan, OuterVLAN: outer, EtherType: et, Payload: []byte(payload)}
		copy(f.Dst[:], to.HardwareAddr())
		copy(f.Src[:], from.HardwareAddr())
		return f
	}
	send := func(p *Port, f Frame) {
		t.Helper()
		if err := p.WriteFrame(f, scratch); err != nil {
			t.Fatalf("WriteFrame: %v", err)
		}
	}
	// Frames b must not get: other ethertypes, tagged or not; then the one it must get.
	send(a, frame(a, b, 0, 0, 0x0800, "ipv4"))
	send(a, frame(a, b, 7, 0, 0x0806, "arp on a vlan"))
	send(a, frame(a, b, 7, 9, etSession, "session frames are not wanted"))
	marker := frame(a, b, 5, 0, etDiscovery, "marker")
	send(a, marker)
	checkFrame(t, marker, readFrame(t, b, buf))

	// The all-types port got every one of them, in order.
	for _, want := range []Frame{
		frame(a, b, 0, 0, 0x0800, "ipv4"),
		frame(a, b, 7, 0, 0x0806, "arp on a vlan"),
		frame(a, b, 7, 9, etSession, "session frames are not wanted"),
		marker,
	} {
		checkFrame(t, want, readFrame(t, all, buf))
	}

	// a and a2 saw none of a's frames: the first thing they read is b's answer.
	answer := frame(b, a, 0, 0, etDiscovery, "answer")
	send(b, answer)
	checkFrame(t, answer, readFrame(t, a, buf))
	checkFrame(t, answer, readFrame(t, a2, buf))
	if n := a.Dropped() + a2.Dropped() + b.Dropped(); n != 0 {
		t.Errorf("Dropped = %d, want 0", n)
	}
}

func TestDrops(t *testing.T) {
	vethPair(t)
	a := openPort(t, "pa", etSession)
	b := openPort(t, "pb", etSession)
	scratch := make([]byte, 2048)
	big := Frame{EtherType: etSession, Payload: bytes.Repeat([]byte{1}, 500)}
	small := Frame{EtherType: etSession, Payload: []byte("small")}
	copy(small.Src[:], a.HardwareAddr())
	for _, f := range []Frame{big, small} {
		if err := a.WriteFrame(f, scratch); err != nil {
			t.Fatal(err)
		}
	}
	// The big frame does not fit in the 100-byte buffer: it is dropped and counted.
	checkFrame(t, small, readFrame(t, b, make([]byte, 100)))
	if got := b.Dropped(); got != 1 {
		t.Errorf("Dropped = %d, want 1", got)
	}
	// A frame above the MTU is refused by the kernel.
	huge := Frame{EtherType: etSession, Payload: make([]byte, a.MTU()+1)}
	if err := a.WriteFrame(huge, scratch); !errors.Is(err, unix.EMSGSIZE) {
		t.Errorf("WriteFrame above the MTU: %v, want EMSGSIZE", err)
	}
	if err := a.WriteFrame(Frame{VLAN: 5000}, scratch); !errors.Is(err, ErrInvalidVLAN) {
		t.Errorf("WriteFrame on VLAN 5000: %v, want ErrInvalidVLAN", err)
	}
}

func TestCloseUnblocksRead(t *testing.T) {
	vethPair(t)
	p, err := Open("pa", etDiscovery)
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		close(started)
		_, err := p.ReadFrame(make([]byte, 1500))
		done <- err
	}()
	<-started
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) || !errors.Is(err, os.ErrClosed) {
			t.Errorf("ReadFrame after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ReadFrame still blocked 10s after Close")
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := p.ReadFrame(make([]byte, 100)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("ReadFrame on a closed port: %v, want net.ErrClosed", err)
	}
	if err := p.WriteFrame(Frame{EtherType: etDiscovery}, make([]byte, 64)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("WriteFrame on a closed port: %v, want net.ErrClosed", err)
	}
}

func TestDeadline(t *testing.T) {
	vethPair(t)
	p := openPort(t, "pa", etDiscovery)
	if err := p.SetReadDeadline(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.ReadFrame(make([]byte, 100)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("ReadFrame past the deadline: %v, want os.ErrDeadlineExceeded", err)
	}
}

func TestNoAllocs(t *testing.T) {
	vethPair(t)
	a := openPort(t, "pa", etSession)
	b := openPort(t, "pb", etSession)
	f := Frame{VLAN: 7, OuterVLAN: 8, EtherType: etSession, Payload: make([]byte, 1400)}
	copy(f.Dst[:], b.HardwareAddr())
	buf, scratch := make([]byte, 2048), make([]byte, 2048)
	if err := b.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	var err error
	n := testing.AllocsPerRun(200, func() {
		if err == nil {
			err = a.WriteFrame(f, scratch)
		}
		if err == nil {
			_, err = b.ReadFrame(buf)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("WriteFrame+ReadFrame allocate %v times per frame, want 0", n)
	}
}

func countFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func TestNoFDLeak(t *testing.T) {
	vethPair(t)
	openPort(t, "pa").Close() // the runtime poller opens its own descriptors on first use
	before := countFDs(t)
	for range 5 {
		p, err := Open("pa", etDiscovery, etSession)
		if err != nil {
			t.Fatal(err)
		}
		p.Close()
		if _, err := Open("lo", etDiscovery); err == nil {
			t.Fatal("Open(lo) succeeded")
		}
	}
	if after := countFDs(t); after != before {
		t.Errorf("open descriptors: %d before, %d after", before, after)
	}
}

func BenchmarkWriteReadFrame(b *testing.B) {
	for _, size := range []int{64, 1400} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			vethPair(b)
			tx := openPort(b, "pa", etSession)
			rx := openPort(b, "pb", etSession)
			f := Frame{VLAN: 7, EtherType: etSession, Payload: make([]byte, size)}
			copy(f.Dst[:], rx.HardwareAddr())
			copy(f.Src[:], tx.HardwareAddr())
			buf, scratch := make([]byte, 2048), make([]byte, 2048)
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				if err := tx.WriteFrame(f, scratch); err != nil {
					b.Fatal(err)
				}
				if _, err := rx.ReadFrame(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestInterfaceDown(t *testing.T) {
	vethPair(t)
	h, err := netdev.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	a := openPort(t, "pa", etDiscovery)
	b := openPort(t, "pb", etDiscovery)
	if err := h.SetUp(b.Index(), false); err != nil {
		t.Fatal(err)
	}
	if err := b.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ReadFrame(make([]byte, 100)); !errors.Is(err, unix.ENETDOWN) {
		t.Fatalf("ReadFrame on a downed interface: %v, want ENETDOWN", err)
	}
	if err := h.SetUp(b.Index(), true); err != nil {
		t.Fatal(err)
	}
	waitOperUp(t, h, a.Index(), b.Index())
	f := Frame{EtherType: etDiscovery, Payload: []byte("after the outage")}
	copy(f.Dst[:], b.HardwareAddr())
	if err := a.WriteFrame(f, make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	checkFrame(t, f, readFrame(t, b, make([]byte, 100)))
}
