//go:build linux

package ethport

import (
	"errors"
	"net"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/probox/probox/kernel/internal/netdev"
)

// promiscuity returns the promiscuous-mode count of interface name (IFLA_PROMISCUITY; the
// IFF_PROMISC flag only shows what was asked for explicitly).
func promiscuity(t *testing.T, name string) uint32 {
	t.Helper()
	h, err := netdev.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	l, err := h.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return l.Promiscuity
}

// TestAddUnicast: a Port reads frames addressed to an extra unicast address it added, and
// the interface's promiscuous mode (veth has no unicast filter, so the kernel falls back
// to it) lasts exactly as long as the Port.
func TestAddUnicast(t *testing.T) {
	vethPair(t)
	a := openPort(t, "pa", etDiscovery)
	b, err := Open("pb", etDiscovery)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if n := promiscuity(t, "pb"); n != 0 {
		t.Fatalf("pb has promiscuity %d before any extra address", n)
	}
	extra := net.HardwareAddr{0x02, 0xee, 0, 0, 0, 1}
	for _, bad := range []net.HardwareAddr{nil, {1, 2, 3}, {0x01, 0, 0x5e, 0, 0, 1}} {
		if err := b.AddUnicast(bad); !errors.Is(err, unix.EINVAL) {
			t.Errorf("AddUnicast(%v) = %v, want EINVAL", bad, err)
		}
	}
	for range 2 {
		if err := b.AddUnicast(extra); err != nil {
			t.Fatalf("AddUnicast: %v", err)
		}
	}
	if n := promiscuity(t, "pb"); n != 1 {
		t.Errorf("pb has promiscuity %d with an extra unicast address, want 1 (veth has no unicast filter)", n)
	}
	f := Frame{EtherType: etDiscovery, Payload: []byte("to the extra address")}
	copy(f.Dst[:], extra)
	copy(f.Src[:], a.HardwareAddr())
	if err := a.WriteFrame(f, make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	checkFrame(t, f, readFrame(t, b, make([]byte, 100)))

	// A frame from the extra address: Src is sent as given.
	back := Frame{EtherType: etDiscovery, Payload: []byte("from the extra address")}
	copy(back.Dst[:], a.HardwareAddr())
	copy(back.Src[:], extra)
	if err := b.WriteFrame(back, make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	checkFrame(t, back, readFrame(t, a, make([]byte, 100)))

	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if n := promiscuity(t, "pb"); n != 0 {
		t.Errorf("pb has promiscuity %d after the Port closed, want 0", n)
	}
	if err := b.AddUnicast(extra); !errors.Is(err, net.ErrClosed) {
		t.Errorf("AddUnicast after Close = %v, want net.ErrClosed", err)
	}
}
