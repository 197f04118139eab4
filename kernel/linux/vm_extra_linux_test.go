//go:build linux

package linux

import (
	"bytes"
	"errors"
	"net"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/probox/probox/e2e/netns"
	"github.com/probox/probox/kernel"
)

// TestKernelPPPoEExtraMAC runs PPPoE sessions from extra MAC addresses (a load generator's
// emulated hosts) against a kernel AC: discovery from and to the extra address, a session
// from it on a macvlan interface next to a session with the same ID from the interface's
// own address, IP over it, and every interface gone after Close.
func TestKernelPPPoEExtraMAC(t *testing.T) {
	requireVM(t)
	tests := []struct {
		name  string
		vlans []uint16
		vlan  uint16
		dev   string // the macvlan's name
	}{
		{"untagged", nil, 0, "pm02000000a001"},
		{"vlan", []uint16{100}, 100, "pv7p68g4w6xoh"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			netns.CheckFDs(t)
			checkGoroutines(t)
			b := netns.New(t)
			c, a := b.NS("client"), b.NS("ac")
			b.Link(c, "veth0", a, "veth0")
			dpC := openDP(t, c, Config{InterfaceGroup: testGroup})
			dpA := openDP(t, a, Config{InterfaceGroup: testGroup})
			pc, err := dpC.OpenPPPoE(kernel.PPPoEConfig{Interface: "veth0", VLANs: tt.vlans})
			ok(t, err, "OpenPPPoE client")
			pa, err := dpA.OpenPPPoE(kernel.PPPoEConfig{Interface: "veth0", VLANs: tt.vlans})
			ok(t, err, "OpenPPPoE ac")
			host := net.HardwareAddr{2, 0, 0, 0, 0xa0, 1}
			macC, macA := pc.HardwareAddr(), pa.HardwareAddr()

			broadcast := net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
			ok(t, pc.WriteDiscovery(padi, kernel.FrameInfo{Src: host, Dst: broadcast, VLAN: tt.vlan}), "WriteDiscovery PADI")
			if got, info := readDiscovery(t, pa, "PADI"); !bytes.Equal(got, padi) || !bytes.Equal(info.Src, host) || info.VLAN != tt.vlan {
				t.Fatalf("AC read %x %+v, want the PADI from %v", got, info, host)
			}
			pado := []byte{0x11, 0x07, 0x00, 0x00, 0x00, 0x00}
			ok(t, pa.WriteDiscovery(pado, kernel.FrameInfo{Dst: host, VLAN: tt.vlan}), "WriteDiscovery PADO")
			if got, info := readDiscovery(t, pc, "PADO"); !bytes.Equal(got, pado) || !bytes.Equal(info.Dst, host) {
				t.Fatalf("client read %x %+v, want the PADO to %v", got, info, host)
			}

			// Session 0x42 from the extra address and from the interface's.
			chX, err := pc.OpenSession(0x42, kernel.FrameInfo{Src: host, Dst: macA, VLAN: tt.vlan}, 0)
			ok(t, err, "OpenSession from the extra address")
			chI, err := pc.OpenSession(0x42, kernel.FrameInfo{Dst: macA, VLAN: tt.vlan}, 0)
			ok(t, err, "OpenSession from the interface's address")
			if _, err := pc.OpenSession(0x42, kernel.FrameInfo{Src: host, Dst: macA, VLAN: tt.vlan}, 0); !errors.Is(err, unix.EEXIST) {
				t.Errorf("OpenSession from the extra address twice: %v, want EEXIST", err)
			}
			acX, err := pa.OpenSession(0x42, kernel.FrameInfo{Dst: host, VLAN: tt.vlan}, 0)
			ok(t, err, "AC OpenSession with the extra address")
			acI, err := pa.OpenSession(0x42, kernel.FrameInfo{Dst: macC, VLAN: tt.vlan}, 0)
			ok(t, err, "AC OpenSession with the interface's address")
			if out := c.IP("-d", "link", "show", "dev", tt.dev); !strings.Contains(out, "macvlan") || !strings.Contains(out, host.String()) || !strings.Contains(out, "group 42") {
				t.Errorf("%s is not a macvlan with %v in group 42:\n%s", tt.dev, host, out)
			}
			exchange(t, chX, acX, lcpFrame, "LCP extra -> ac")
			exchange(t, acX, chX, lcpFrame, "LCP ac -> extra")
			exchange(t, chI, acI, ipcpFrame, "IPCP interface -> ac")
			exchange(t, acI, chI, ipcpFrame, "IPCP ac -> interface")

			uc, err := dpC.NewUnit(chX, kernel.UnitConfig{Name: "pppx%d"})
			ok(t, err, "NewUnit client")
			ua, err := dpA.NewUnit(acX, kernel.UnitConfig{})
			ok(t, err, "NewUnit ac")
			setUnits(t, uc, ua, false)
			c.Ping(t, "198.51.100.2", 3)

			// A PADT to the extra address reaches the client port too.
			padt := []byte{0x11, 0xa7, 0x00, 0x42, 0x00, 0x00}
			ok(t, pa.WriteDiscovery(padt, kernel.FrameInfo{Dst: host, VLAN: tt.vlan}), "WriteDiscovery PADT")
			if got, _ := readDiscovery(t, pc, "PADT"); !bytes.Equal(got, padt) {
				t.Errorf("client read %x, want the PADT", got)
			}
			ok(t, dpC.Close(), "Close client")
			ok(t, dpA.Close(), "Close ac")
			assertClean(t, c, "veth0")
			assertClean(t, a, "veth0")
		})
	}
}

// TestKernelCleanupMacvlan: New with CleanupStale removes a macvlan interface of the
// data plane's group that a crashed run left, and leaves the operator's alone.
func TestKernelCleanupMacvlan(t *testing.T) {
	requireVM(t)
	b := netns.New(t)
	a, z := b.NS("a"), b.NS("z")
	b.Link(a, "veth0", z, "veth0")
	a.IP("link", "add", "link", "veth0", "name", "pm020000000a01", "address", "02:00:00:00:0a:01", "group", "42", "type", "macvlan")
	a.IP("link", "add", "link", "veth0", "name", "mine", "address", "02:00:00:00:0a:02", "type", "macvlan")
	var d *Dataplane
	ok(t, a.Do(func() (err error) {
		d, err = New(Config{Log: testLogger(), InterfaceGroup: testGroup, CleanupStale: true})
		return err
	}), "New with CleanupStale")
	ok(t, d.Close(), "Close")
	assertClean(t, a, "veth0", "mine")
}
