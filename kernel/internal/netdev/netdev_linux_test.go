//go:build linux

package netdev

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/sys/unix"

	"github.com/probox/probox/kernel"
)

// inNetns moves the calling test goroutine into a new network namespace and returns a
// Handle there. The goroutine's thread stays locked, so it dies with the goroutine and
// takes the namespace with it. It skips the test under -short and when namespaces cannot
// be created (no CAP_SYS_ADMIN/CAP_NET_ADMIN).
func inNetns(t *testing.T) *Handle {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping: needs a private network namespace (not run under -short)")
	}
	runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		t.Skipf("skipping: cannot create a network namespace (needs CAP_SYS_ADMIN): %v", err)
	}
	h, err := Open()
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// ignoreOperState leaves out the operational state, which the kernel updates
// asynchronously (link watch) after a link changes.
var ignoreOperState = cmpopts.IgnoreFields(Link{}, "OperState")

func openTun(t *testing.T, h *Handle, cfg TunConfig) *Tun {
	t.Helper()
	tun, err := OpenTun(h, cfg)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENODEV) {
			t.Skipf("skipping: no TUN/TAP: %v", err)
		}
		t.Fatalf("OpenTun(%+v): %v", cfg, err)
	}
	t.Cleanup(func() { tun.Close() })
	return tun
}

func TestTunLifecycle(t *testing.T) {
	tests := []struct {
		name     string
		cfg      TunConfig
		wantName string // regexp
	}{
		{name: "tun template", cfg: TunConfig{Name: "ptun%d", MTU: 1400, Group: 42}, wantName: `^ptun[0-9]+$`},
		{name: "tap template", cfg: TunConfig{Name: "ptap%d", TAP: true, MTU: 1492, Group: 7}, wantName: `^ptap[0-9]+$`},
		{name: "fixed name", cfg: TunConfig{Name: "probox-x"}, wantName: `^probox-x$`},
		{name: "kernel default name", cfg: TunConfig{}, wantName: `^tun[0-9]+$`},
		{name: "kernel default tap name", cfg: TunConfig{TAP: true}, wantName: `^tap[0-9]+$`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := inNetns(t)
			tun := openTun(t, h, tt.cfg)
			if !regexp.MustCompile(tt.wantName).MatchString(tun.Name()) {
				t.Errorf("Name() = %q, want a match for %s", tun.Name(), tt.wantName)
			}
			l, err := h.LinkByName(tun.Name())
			if err != nil {
				t.Fatalf("LinkByName: %v", err)
			}
			mtu := tt.cfg.MTU
			if mtu == 0 {
				mtu = 1500
			}
			want := Link{Index: tun.Index(), Name: tun.Name(), MTU: mtu, Up: true, Group: tt.cfg.Group, Kind: "tun"}
			if tt.cfg.TAP {
				if len(l.HardwareAddr) != 6 {
					t.Errorf("TAP hardware address %v, want 6 bytes", l.HardwareAddr)
				}
				want.HardwareAddr = l.HardwareAddr
			}
			if diff := cmp.Diff(want, l, ignoreOperState); diff != "" {
				t.Errorf("link (-want +got):\n%s", diff)
			}
			byIndex, err := h.LinkByIndex(tun.Index())
			if err != nil {
				t.Fatalf("LinkByIndex: %v", err)
			}
			if diff := cmp.Diff(l, byIndex, ignoreOperState); diff != "" {
				t.Errorf("LinkByIndex differs from LinkByName (-name +index):\n%s", diff)
			}
			if err := tun.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if _, err := h.LinkByIndex(tun.Index()); !IsNotExist(err) {
				t.Errorf("after Close, LinkByIndex error %v, want not-exist", err)
			}
			if _, err := h.LinkByName(tun.Name()); !IsNotExist(err) || !errors.Is(err, unix.ENODEV) {
				t.Errorf("after Close, LinkByName error %v, want not-exist wrapping ENODEV", err)
			}
			if err := tun.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
		})
	}
}

func TestTunTemplateNumbers(t *testing.T) {
	h := inNetns(t)
	a := openTun(t, h, TunConfig{Name: "pb%d"})
	b := openTun(t, h, TunConfig{Name: "pb%d"})
	if a.Name() == b.Name() || a.Index() == b.Index() {
		t.Errorf("two devices from one template: %s/%d and %s/%d", a.Name(), a.Index(), b.Name(), b.Index())
	}
	// The same fixed name twice: the device is in use.
	openTun(t, h, TunConfig{Name: "pbfixed"})
	if _, err := OpenTun(h, TunConfig{Name: "pbfixed"}); err == nil {
		t.Error("second OpenTun of an open device succeeded")
	} else if !errors.Is(err, unix.EBUSY) {
		t.Errorf("second OpenTun: %v, want EBUSY", err)
	}
	if _, err := OpenTun(h, TunConfig{Name: "this-name-is-far-too-long"}); !errors.Is(err, unix.EINVAL) {
		t.Errorf("OpenTun with a long name: %v, want EINVAL", err)
	}
}

// icmpEcho builds an IPv4 ICMP echo request or reply from src to dst.
func icmpEcho(src, dst netip.Addr, typ uint8, id, seq uint16) []byte {
	p := make([]byte, 20+8+4)
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	p[8] = 64 // TTL
	p[9] = 1  // ICMP
	s, d := src.As4(), dst.As4()
	copy(p[12:], s[:])
	copy(p[16:], d[:])
	binary.BigEndian.PutUint16(p[10:], checksum(p[:20]))
	icmp := p[20:]
	icmp[0] = typ
	binary.BigEndian.PutUint16(icmp[4:], id)
	binary.BigEndian.PutUint16(icmp[6:], seq)
	copy(icmp[8:], "pbox")
	binary.BigEndian.PutUint16(icmp[2:], checksum(icmp))
	return p
}

func checksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}

// readUntil reads packets from tun until match accepts one, failing after a deadline.
func readUntil(t *testing.T, tun *Tun, match func([]byte) bool) {
	t.Helper()
	if err := tun.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatalf("SetReadDeadline: %v", err)
	}
	buf := make([]byte, 2048)
	for {
		n, err := tun.Read(buf)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		if match(buf[:n]) {
			return
		}
	}
}

func TestTunReadWrite(t *testing.T) {
	h := inNetns(t)
	tun := openTun(t, h, TunConfig{Name: "ptun%d"})
	local, peer := netip.MustParseAddr("10.9.0.1"), netip.MustParseAddr("10.9.0.2")
	if err := h.AddAddr(tun.Index(), Addr{Local: netip.PrefixFrom(local, 32), Peer: peer}); err != nil {
		t.Fatalf("AddAddr: %v", err)
	}
	// The "peer" pings us through the device; the kernel answers through it.
	req := icmpEcho(peer, local, 8, 0x4242, 1)
	if n, err := tun.Write(req); err != nil || n != len(req) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	readUntil(t, tun, func(p []byte) bool {
		return len(p) >= 28 && p[0]>>4 == 4 && p[9] == 1 && p[20] == 0 && // ICMP echo reply
			netip.AddrFrom4([4]byte(p[12:16])) == local && netip.AddrFrom4([4]byte(p[16:20])) == peer &&
			binary.BigEndian.Uint16(p[24:]) == 0x4242
	})
}

func TestTapReadWrite(t *testing.T) {
	h := inNetns(t)
	tap := openTun(t, h, TunConfig{Name: "ptap%d", TAP: true})
	if err := h.AddAddr(tap.Index(), Addr{Local: netip.MustParsePrefix("10.9.1.1/24")}); err != nil {
		t.Fatalf("AddAddr: %v", err)
	}
	// Sending to a neighbour on the TAP's subnet makes the kernel ARP for it.
	c, err := net.Dial("udp4", "10.9.1.2:9")
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatalf("udp write: %v", err)
	}
	target := netip.MustParseAddr("10.9.1.2").As4()
	readUntil(t, tap, func(f []byte) bool {
		return len(f) >= 42 && binary.BigEndian.Uint16(f[12:]) == 0x0806 && // ARP
			binary.BigEndian.Uint16(f[20:]) == 1 && [4]byte(f[38:42]) == target
	})
	// A frame written to the TAP reaches the kernel: answer the ARP request, then the
	// kernel's neighbour entry for 10.9.1.2 becomes reachable.
	hw := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x42}
	l, err := h.LinkByIndex(tap.Index())
	if err != nil {
		t.Fatal(err)
	}
	reply := make([]byte, 42)
	copy(reply[0:], l.HardwareAddr)
	copy(reply[6:], hw)
	binary.BigEndian.PutUint16(reply[12:], 0x0806)
	copy(reply[14:], []byte{0, 1, 8, 0, 6, 4, 0, 2})
	copy(reply[22:], hw)
	copy(reply[28:], target[:])
	copy(reply[32:], l.HardwareAddr)
	copy(reply[38:], []byte{10, 9, 1, 1})
	if _, err := tap.Write(reply); err != nil {
		t.Fatalf("Write: %v", err)
	}
	out, err := exec.Command("ip", "neigh", "show", "10.9.1.2").CombinedOutput()
	if err != nil {
		t.Fatalf("ip neigh: %v: %s", err, out)
	}
	if !strings.Contains(string(out), hw.String()) {
		t.Errorf("ip neigh: %q, want the address %v learnt from the written ARP reply", out, hw)
	}
}

func TestTunCloseUnblocksRead(t *testing.T) {
	h := inNetns(t)
	tun := openTun(t, h, TunConfig{Name: "ptun%d"})
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		close(started)
		buf := make([]byte, 1500)
		for {
			if _, err := tun.Read(buf); err != nil {
				done <- err
				return
			}
		}
	}()
	<-started
	if err := tun.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) || !errors.Is(err, os.ErrClosed) {
			t.Errorf("Read after Close: %v, want net.ErrClosed and os.ErrClosed", err)
		}
		var oe *kernel.OpError
		if !errors.As(err, &oe) {
			t.Errorf("Read error %T is not a *kernel.OpError", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Read still blocked 10s after Close")
	}
	if _, err := tun.Write([]byte{0x45}); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Write after Close: %v, want net.ErrClosed", err)
	}
}

func TestLinkAttributes(t *testing.T) {
	h := inNetns(t)
	a, err := h.AddVeth("va", "vb")
	if err != nil {
		t.Fatalf("AddVeth: %v", err)
	}
	b, err := h.LinkByName("vb")
	if err != nil {
		t.Fatalf("LinkByName(vb): %v", err)
	}
	if a.Kind != "veth" || b.Kind != "veth" || a.ParentIndex != b.Index || b.ParentIndex != a.Index {
		t.Errorf("veth pair %+v / %+v: want kind veth, each the other's parent", a, b)
	}
	steps := []struct {
		name string
		do   func() error
		want func(l *Link)
	}{
		{"mtu", func() error { return h.SetMTU(a.Index, 1280) }, func(l *Link) { l.MTU = 1280 }},
		{"up", func() error { return h.SetUp(a.Index, true) }, func(l *Link) { l.Up = true }},
		{"up again", func() error { return h.SetUp(a.Index, true) }, func(l *Link) {}},
		{"group", func() error { return h.SetGroup(a.Index, 0x70b0) }, func(l *Link) { l.Group = 0x70b0 }},
		{"down", func() error { return h.SetUp(a.Index, false) }, func(l *Link) { l.Up = false }},
		{"group back", func() error { return h.SetGroup(a.Index, 0) }, func(l *Link) { l.Group = 0 }},
	}
	want := a
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if err := s.do(); err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			s.want(&want)
			got, err := h.LinkByIndex(a.Index)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got, ignoreOperState); diff != "" {
				t.Errorf("link (-want +got):\n%s", diff)
			}
		})
	}
	links, err := h.Links()
	if err != nil {
		t.Fatalf("Links: %v", err)
	}
	var names []string
	for _, l := range links {
		names = append(names, l.Name)
	}
	slices.Sort(names)
	if diff := cmp.Diff([]string{"lo", "va", "vb"}, names); diff != "" {
		t.Errorf("Links names (-want +got):\n%s", diff)
	}
	if err := h.SetMTU(a.Index, 10); !errors.Is(err, unix.EINVAL) {
		t.Errorf("SetMTU(10): %v, want EINVAL", err)
	}
	if _, err := h.AddVeth("va", "vc"); !errors.Is(err, unix.EEXIST) {
		t.Errorf("AddVeth of an existing name: %v, want EEXIST", err)
	}
	for i := range 2 {
		if err := h.DeleteLink(a.Index); err != nil {
			t.Fatalf("DeleteLink #%d: %v", i+1, err)
		}
	}
	for _, name := range []string{"va", "vb"} {
		if _, err := h.LinkByName(name); !IsNotExist(err) {
			t.Errorf("after DeleteLink, LinkByName(%s): %v, want not-exist", name, err)
		}
	}
	if err := h.SetUp(a.Index, true); !IsNotExist(err) || !errors.Is(err, unix.ENODEV) {
		t.Errorf("SetUp of a deleted link: %v, want not-exist wrapping ENODEV", err)
	}
}

func TestAddrs(t *testing.T) {
	tests := []struct {
		name string
		addr Addr
		ip   string // pattern `ip addr show` must print for it
	}{
		{name: "v4 point-to-point", addr: Addr{Local: netip.MustParsePrefix("10.0.0.1/32"), Peer: netip.MustParseAddr("10.0.0.2")},
			ip: "inet 10.0.0.1 peer 10.0.0.2/32"},
		{name: "v4 subnet", addr: Addr{Local: netip.MustParsePrefix("10.1.0.1/24")}, ip: "inet 10.1.0.1/24"},
		{name: "v6 nodad", addr: Addr{Local: netip.MustParsePrefix("2001:db8::1/64")}, ip: "inet6 2001:db8::1/64 scope global nodad"},
		{name: "v6 point-to-point", addr: Addr{Local: netip.MustParsePrefix("2001:db8:1::1/128"), Peer: netip.MustParseAddr("2001:db8:1::2")},
			ip: "inet6 2001:db8:1::1 peer 2001:db8:1::2/128 scope global nodad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := inNetns(t)
			tun := openTun(t, h, TunConfig{Name: "ptun%d"})
			has := func() bool {
				t.Helper()
				addrs, err := h.Addrs(tun.Index())
				if err != nil {
					t.Fatalf("Addrs: %v", err)
				}
				return slices.Contains(addrs, tt.addr)
			}
			for i := range 2 {
				if err := h.AddAddr(tun.Index(), tt.addr); err != nil {
					t.Fatalf("AddAddr #%d: %v", i+1, err)
				}
			}
			if !has() {
				t.Errorf("Addrs lacks %+v after AddAddr", tt.addr)
			}
			out, err := exec.Command("ip", "addr", "show", "dev", tun.Name()).CombinedOutput()
			if err != nil {
				t.Fatalf("ip addr: %v: %s", err, out)
			}
			if !strings.Contains(string(out), tt.ip) {
				t.Errorf("ip addr show:\n%s\nwant a line with %q", out, tt.ip)
			}
			if n := strings.Count(string(out), " "+tt.addr.Local.Addr().String()); n != 1 {
				t.Errorf("ip addr shows %s %d times, want once:\n%s", tt.addr.Local.Addr(), n, out)
			}
			for i := range 2 {
				if err := h.DelAddr(tun.Index(), tt.addr); err != nil {
					t.Fatalf("DelAddr #%d: %v", i+1, err)
				}
			}
			if has() {
				t.Errorf("Addrs still has %+v after DelAddr", tt.addr)
			}
		})
	}
	t.Run("absent link", func(t *testing.T) {
		h := inNetns(t)
		a := Addr{Local: netip.MustParsePrefix("10.0.0.1/24")}
		if err := h.AddAddr(4242, a); !errors.Is(err, unix.ENODEV) {
			t.Errorf("AddAddr on an absent link: %v, want ENODEV", err)
		}
		if err := h.DelAddr(4242, a); err != nil {
			t.Errorf("DelAddr on an absent link: %v, want nil", err)
		}
	})
}

func TestRoutes(t *testing.T) {
	h := inNetns(t)
	tun := openTun(t, h, TunConfig{Name: "ptun%d"})
	dev := tun.Index()
	for _, a := range []Addr{
		{Local: netip.MustParsePrefix("10.0.0.1/32"), Peer: netip.MustParseAddr("10.0.0.2")},
		{Local: netip.MustParsePrefix("2001:db8::1/64")},
	} {
		if err := h.AddAddr(dev, a); err != nil {
			t.Fatalf("AddAddr: %v", err)
		}
	}
	tests := []struct {
		name string
		r    Route
		want Route // as Routes reports it
	}{
		{name: "on link", r: Route{Dst: netip.MustParsePrefix("192.0.2.0/24"), Dev: dev}},
		{name: "source and metric", r: Route{Dst: netip.MustParsePrefix("198.51.100.0/24"), Dev: dev,
			Src: netip.MustParseAddr("10.0.0.1"), Metric: 7}},
		{name: "via gateway", r: Route{Dst: netip.MustParsePrefix("203.0.113.0/24"), Dev: dev, Gateway: netip.MustParseAddr("10.0.0.2")}},
		{name: "host route", r: Route{Dst: netip.MustParsePrefix("100.64.0.9/32"), Dev: dev}},
		{name: "default in table 100", r: Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Dev: dev, Table: 100}},
		{name: "table above 255", r: Route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Dev: dev, Table: 1000}},
		{name: "v6 on link", r: Route{Dst: netip.MustParsePrefix("2001:db8:5::/48"), Dev: dev},
			want: Route{Dst: netip.MustParsePrefix("2001:db8:5::/48"), Dev: dev, Table: 254, Metric: 1024}},
		{name: "v6 via gateway", r: Route{Dst: netip.MustParsePrefix("2001:db8:6::/48"), Dev: dev,
			Gateway: netip.MustParseAddr("2001:db8::2"), Metric: 10}},
		{name: "MTU", r: Route{Dst: netip.MustParsePrefix("100.64.0.10/32"), Dev: dev, Src: netip.MustParseAddr("10.0.0.1"), MTU: 1492}},
		{name: "v6 MTU", r: Route{Dst: netip.MustParsePrefix("2001:db8:7::/48"), Dev: dev, MTU: 1280},
			want: Route{Dst: netip.MustParsePrefix("2001:db8:7::/48"), Dev: dev, Table: 254, Metric: 1024, MTU: 1280}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			if !want.Dst.IsValid() {
				want = tt.r
				if want.Table == 0 {
					want.Table = 254
				}
			}
			has := func() bool {
				t.Helper()
				routes, err := h.Routes(dev)
				if err != nil {
					t.Fatalf("Routes: %v", err)
				}
				return slices.Contains(routes, want)
			}
			for i := range 2 {
				if err := h.ReplaceRoute(tt.r); err != nil {
					t.Fatalf("ReplaceRoute #%d: %v", i+1, err)
				}
			}
			if !has() {
				routes, _ := h.Routes(dev)
				t.Errorf("Routes lacks %+v after ReplaceRoute; has %+v", want, routes)
			}
			for i := range 2 {
				if err := h.DelRoute(tt.r); err != nil {
					t.Fatalf("DelRoute #%d: %v", i+1, err)
				}
			}
			if has() {
				t.Errorf("Routes still has %+v after DelRoute", want)
			}
		})
	}
	t.Run("replace changes the route", func(t *testing.T) {
		r := Route{Dst: netip.MustParsePrefix("192.0.2.0/24"), Dev: dev}
		if err := h.ReplaceRoute(r); err != nil {
			t.Fatal(err)
		}
		r.Src = netip.MustParseAddr("10.0.0.1")
		if err := h.ReplaceRoute(r); err != nil {
			t.Fatal(err)
		}
		routes, err := h.Routes(dev)
		if err != nil {
			t.Fatal(err)
		}
		var got []Route
		for _, x := range routes {
			if x.Dst == r.Dst {
				got = append(got, x)
			}
		}
		r.Table = 254
		if diff := cmp.Diff([]Route{r}, got, cmpNetip); diff != "" {
			t.Errorf("routes to %v (-want +got):\n%s", r.Dst, diff)
		}
	})
	t.Run("unreachable gateway", func(t *testing.T) {
		err := h.ReplaceRoute(Route{Dst: netip.MustParsePrefix("192.0.2.0/24"), Gateway: netip.MustParseAddr("172.16.0.1")})
		if !errors.Is(err, unix.ENETUNREACH) {
			t.Errorf("ReplaceRoute via an unreachable gateway: %v, want ENETUNREACH", err)
		}
	})
}

func TestVLAN(t *testing.T) {
	h := inNetns(t)
	parent, err := h.AddVeth("trunk", "trunkpeer")
	if err != nil {
		t.Fatalf("AddVeth: %v", err)
	}
	l, err := h.AddVLAN(parent.Index, "trunk.7", 7)
	if errors.Is(err, unix.EOPNOTSUPP) {
		t.Skipf("skipping: this kernel has no 802.1Q support: %v", err)
	}
	if err != nil {
		t.Fatalf("AddVLAN: %v", err)
	}
	want := Link{Index: l.Index, Name: "trunk.7", MTU: 1500, Kind: "vlan", ParentIndex: parent.Index, VLANID: 7,
		VLANProtocol: VLAN8021Q, HardwareAddr: parent.HardwareAddr}
	if diff := cmp.Diff(want, l, ignoreOperState); diff != "" {
		t.Errorf("AddVLAN (-want +got):\n%s", diff)
	}
	again, err := h.AddVLAN(parent.Index, "trunk.7", 7)
	if err != nil {
		t.Fatalf("AddVLAN again: %v", err)
	}
	if diff := cmp.Diff(l, again, ignoreOperState); diff != "" {
		t.Errorf("AddVLAN again (-first +second):\n%s", diff)
	}
	if _, err := h.AddVLAN(parent.Index, "trunk.7", 8); !errors.Is(err, unix.EEXIST) {
		t.Errorf("AddVLAN with another ID under the same name: %v, want EEXIST", err)
	}
	if _, err := h.AddVLAN(parent.Index, "trunk.4095", 4095); err == nil {
		t.Error("AddVLAN with ID 4095 succeeded")
	}
	// QinQ: an 802.1ad service VLAN 7 next to the 802.1Q VLAN 7, and an 802.1Q VLAN on it.
	s, err := h.AddVLANProto(parent.Index, "trunk.s7", 7, VLAN8021AD)
	if err != nil {
		t.Fatalf("AddVLANProto 802.1ad: %v", err)
	}
	want = Link{Index: s.Index, Name: "trunk.s7", MTU: 1500, Kind: "vlan", ParentIndex: parent.Index, VLANID: 7,
		VLANProtocol: VLAN8021AD, HardwareAddr: parent.HardwareAddr}
	if diff := cmp.Diff(want, s, ignoreOperState); diff != "" {
		t.Errorf("AddVLANProto 802.1ad (-want +got):\n%s", diff)
	}
	if _, err := h.AddVLANProto(parent.Index, "trunk.s7", 7, VLAN8021Q); !errors.Is(err, unix.EEXIST) {
		t.Errorf("AddVLANProto 802.1Q under the 802.1ad link's name: %v, want EEXIST", err)
	}
	c, err := h.AddVLAN(s.Index, "trunk.s7.9", 9)
	if err != nil {
		t.Fatalf("AddVLAN on the 802.1ad link: %v", err)
	}
	if c.ParentIndex != s.Index || c.VLANID != 9 || c.VLANProtocol != VLAN8021Q {
		t.Errorf("AddVLAN on the 802.1ad link = %+v", c)
	}
	// Deleting the service VLAN takes the customer VLAN with it; deleting that is then
	// no error.
	if err := h.DeleteLink(s.Index); err != nil {
		t.Fatalf("DeleteLink 802.1ad: %v", err)
	}
	if err := h.DeleteLink(c.Index); err != nil {
		t.Errorf("DeleteLink of the customer VLAN after its service VLAN: %v", err)
	}
	if _, err := h.LinkByName("trunk.s7.9"); !IsNotExist(err) {
		t.Errorf("the customer VLAN after its service VLAN's deletion: %v, want not-exist", err)
	}
	if err := h.DeleteLink(l.Index); err != nil {
		t.Fatalf("DeleteLink: %v", err)
	}
	if _, err := h.LinkByName("trunk.7"); !IsNotExist(err) {
		t.Errorf("after DeleteLink: %v, want not-exist", err)
	}
}

func countFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("reading /proc/self/fd: %v", err)
	}
	return len(ents)
}

func TestNoFDLeak(t *testing.T) {
	h := inNetns(t)
	// Warm up: the runtime's poller opens its own descriptors on first use.
	openTun(t, h, TunConfig{Name: "warm%d"}).Close()
	before := countFDs(t)
	for range 3 {
		h2, err := Open()
		if err != nil {
			t.Fatal(err)
		}
		var tuns []*Tun
		for _, cfg := range []TunConfig{{Name: "leak%d"}, {Name: "leaktap%d", TAP: true}, {Name: "x%d", MTU: 100000}} {
			tun, err := OpenTun(h2, cfg)
			if err != nil {
				if cfg.MTU == 100000 {
					continue // a failed open must not leak either
				}
				t.Fatal(err)
			}
			tuns = append(tuns, tun)
		}
		for _, tun := range tuns {
			if err := tun.Close(); err != nil {
				t.Fatal(err)
			}
		}
		if err := h2.Close(); err != nil {
			t.Fatal(err)
		}
		if err := h2.Close(); err != nil {
			t.Errorf("second Handle.Close: %v", err)
		}
	}
	if after := countFDs(t); after != before {
		t.Errorf("open descriptors: %d before, %d after", before, after)
	}
	links, err := h.Links()
	if err != nil {
		t.Fatal(err)
	}
	if len(links) != 1 {
		t.Errorf("links left: %+v, want only lo", links)
	}
}

func TestHandleConcurrent(t *testing.T) {
	h := inNetns(t)
	tun := openTun(t, h, TunConfig{Name: "ptun%d"})
	const workers = 4
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			// The handle's socket is in the test's namespace, whatever thread uses it.
			a := Addr{Local: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 7, byte(w), 1}), 24)}
			for range 50 {
				if _, err := h.LinkByIndex(tun.Index()); err != nil {
					errs <- err
					return
				}
				if err := h.AddAddr(tun.Index(), a); err != nil {
					errs <- err
					return
				}
				if _, err := h.Addrs(tun.Index()); err != nil {
					errs <- err
					return
				}
				if err := h.DelAddr(tun.Index(), a); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	addrs, err := h.Addrs(tun.Index())
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if a.Local.Addr().Is4() {
			t.Errorf("address %v left behind", a)
		}
	}
}
