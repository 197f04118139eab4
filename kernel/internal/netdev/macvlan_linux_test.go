//go:build linux

package netdev

import (
	"errors"
	"net"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// TestMacvlan creates a macvlan in a group against the running kernel: it is idempotent,
// refuses a clash of name (and, when it comes up, of address), makes its parent (a veth,
// without a unicast filter) promiscuous while it is up, and goes away with DeleteLink.
func TestMacvlan(t *testing.T) {
	h := inNetns(t)
	parent, err := h.AddVeth("lower", "lowerpeer")
	if err != nil {
		t.Fatalf("AddVeth: %v", err)
	}
	mac := net.HardwareAddr{0x02, 0, 0, 0, 0x01, 0x05}
	l, err := h.AddMacvlan(parent.Index, "mv0", mac, 1701)
	if errors.Is(err, unix.EOPNOTSUPP) {
		t.Skipf("skipping: this kernel has no macvlan support: %v", err)
	}
	if err != nil {
		t.Fatalf("AddMacvlan: %v", err)
	}
	want := Link{Index: l.Index, Name: "mv0", MTU: 1500, Kind: "macvlan", ParentIndex: parent.Index, HardwareAddr: mac, Group: 1701}
	if diff := cmp.Diff(want, l, ignoreOperState); diff != "" {
		t.Errorf("AddMacvlan (-want +got):\n%s", diff)
	}
	again, err := h.AddMacvlan(parent.Index, "mv0", mac, 1701)
	if err != nil {
		t.Fatalf("AddMacvlan again: %v", err)
	}
	if diff := cmp.Diff(l, again, ignoreOperState); diff != "" {
		t.Errorf("AddMacvlan again (-first +second):\n%s", diff)
	}
	if _, err := h.AddMacvlan(parent.Index, "mv0", net.HardwareAddr{2, 0, 0, 0, 1, 6}, 1701); !errors.Is(err, unix.EEXIST) {
		t.Errorf("AddMacvlan with another address under the same name: %v, want EEXIST", err)
	}
	// An address in use (by an up macvlan, or the parent) is refused when the macvlan comes
	// up (macvlan_open).
	for _, idx := range []int{parent.Index, l.Index} {
		if err := h.SetUp(idx, true); err != nil {
			t.Fatal(err)
		}
	}
	for _, addr := range []net.HardwareAddr{mac, parent.HardwareAddr} {
		dup, err := h.AddMacvlan(parent.Index, "mv1", addr, 1701)
		if err != nil {
			t.Fatalf("AddMacvlan mv1 %v: %v", addr, err)
		}
		if err := h.SetUp(dup.Index, true); !errors.Is(err, unix.EADDRINUSE) {
			t.Errorf("SetUp of a macvlan with the address %v in use: %v, want EADDRINUSE", addr, err)
		}
		if err := h.DeleteLink(dup.Index); err != nil {
			t.Fatal(err)
		}
	}
	// macvlan adds its address to the parent's unicast list (dev_uc_add); a veth has no
	// unicast filter, so the kernel puts it into promiscuous mode.
	if p, err := h.LinkByIndex(parent.Index); err != nil || p.Promiscuity != 1 {
		t.Errorf("parent promiscuity %d (%v) with an up macvlan, want 1", p.Promiscuity, err)
	}
	if err := h.DeleteLink(l.Index); err != nil {
		t.Fatalf("DeleteLink: %v", err)
	}
	if _, err := h.LinkByName("mv0"); !IsNotExist(err) {
		t.Errorf("after DeleteLink: %v, want not-exist", err)
	}
	if p, err := h.LinkByIndex(parent.Index); err != nil || p.Promiscuity != 0 {
		t.Errorf("parent promiscuity %d (%v) after the macvlan is gone, want 0", p.Promiscuity, err)
	}
}
