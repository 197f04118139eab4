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
		name   string
		vlans  []uint16
		qinq   []kernel.QinQ
		tags   kernel.FrameInfo // the sessions' VLAN tags
		dev    string           // the macvlan's name
		parent string           // its lower device
	}{
		{name: "untagged", dev: "pm02000000a001", parent: "veth0"},
		{name: "vlan", vlans: []uint16{100}, tags: kernel.FrameInfo{VLAN: 100}, dev: "pv7p68g4w6xoh", parent: "veth0.100"},
		{name: "qinq", qinq: []kernel.QinQ{{Outer: 10, InnerFirst: 100, InnerLast: 100}}, tags: kernel.FrameInfo{OuterVLAN: 10, VLAN: 100},
			dev: "q2ft2fvlzq6q69", parent: "veth0.s10.100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, a, dpC, dpA, pc, pa := pppoePortPair(t, "client", "ac", kernel.PPPoEConfig{Interface: "veth0", VLANs: tt.vlans, QinQ: tt.qinq})
			// fi with the test's VLAN tags.
			tagged := func(fi kernel.FrameInfo) kernel.FrameInfo {
				fi.VLAN, fi.OuterVLAN = tt.tags.VLAN, tt.tags.OuterVLAN
				return fi
			}
			host := net.HardwareAddr{2, 0, 0, 0, 0xa0, 1}
			macC, macA := pc.HardwareAddr(), pa.HardwareAddr()

			broadcast := net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
			ok(t, pc.WriteDiscovery(padi, tagged(kernel.FrameInfo{Src: host, Dst: broadcast})), "WriteDiscovery PADI")
			if got, info := readDiscovery(t, pa, "PADI"); !bytes.Equal(got, padi) || !bytes.Equal(info.Src, host) ||
				info.VLAN != tt.tags.VLAN || info.OuterVLAN != tt.tags.OuterVLAN {
				t.Fatalf("AC read %x %+v, want the PADI from %v", got, info, host)
			}
			pado := []byte{0x11, 0x07, 0x00, 0x00, 0x00, 0x00}
			ok(t, pa.WriteDiscovery(pado, tagged(kernel.FrameInfo{Dst: host})), "WriteDiscovery PADO")
			if got, info := readDiscovery(t, pc, "PADO"); !bytes.Equal(got, pado) || !bytes.Equal(info.Dst, host) ||
				info.VLAN != tt.tags.VLAN || info.OuterVLAN != tt.tags.OuterVLAN {
				t.Fatalf("client read %x %+v, want the PADO to %v", got, info, host)
			}

			// Session 0x42 from the extra address and from the interface's.
			chX, err := pc.OpenSession(0x42, tagged(kernel.FrameInfo{Src: host, Dst: macA}), 0)
			ok(t, err, "OpenSession from the extra address")
			chI, err := pc.OpenSession(0x42, tagged(kernel.FrameInfo{Dst: macA}), 0)
			ok(t, err, "OpenSession from the interface's address")
			if _, err := pc.OpenSession(0x42, tagged(kernel.FrameInfo{Src: host, Dst: macA}), 0); !errors.Is(err, unix.EEXIST) {
				t.Errorf("OpenSession from the extra address twice: %v, want EEXIST", err)
			}
			acX, err := pa.OpenSession(0x42, tagged(kernel.FrameInfo{Dst: host}), 0)
			ok(t, err, "AC OpenSession with the extra address")
			acI, err := pa.OpenSession(0x42, tagged(kernel.FrameInfo{Dst: macC}), 0)
			ok(t, err, "AC OpenSession with the interface's address")
			if out := c.IP("-d", "link", "show", "dev", tt.dev); !strings.Contains(out, "macvlan") || !strings.Contains(out, host.String()) ||
				!strings.Contains(out, "group 42") || !strings.Contains(out, tt.dev+"@"+tt.parent+":") {
				t.Errorf("%s is not a macvlan with %v on %s in group 42:\n%s", tt.dev, host, tt.parent, out)
			}
			if chX.MTU() != 1492 || acX.MTU() != 1492 {
				t.Errorf("channel MTUs %d, %d, want 1492", chX.MTU(), acX.MTU())
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
			ok(t, pa.WriteDiscovery(padt, tagged(kernel.FrameInfo{Dst: host})), "WriteDiscovery PADT")
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
