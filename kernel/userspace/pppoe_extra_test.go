package userspace

import (
	"bytes"
	"errors"
	"net"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/probox/probox/kernel"
)

// TestPPPoEExtraMAC: a client port acting for extra MAC addresses (a load generator's
// hosts) sends from them, receives what is addressed to them once they are in use, and
// tells sessions with the same ID and AC apart by our address.
func TestPPPoEExtraMAC(t *testing.T) {
	d, fs := newTestDP(t)
	port, err := d.OpenPPPoE(kernel.PPPoEConfig{Interface: "eth0"})
	if err != nil {
		t.Fatal(err)
	}
	eth := fs.eths["eth0"]
	ac := [6]byte{0x02, 0xac, 0, 0, 0, 1}
	hostA, hostB := [6]byte{0x02, 0, 0, 0, 0xa, 1}, [6]byte{0x02, 0, 0, 0, 0xa, 2}
	bcast := [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	hw := func(m [6]byte) net.HardwareAddr { return net.HardwareAddr(m[:]) }
	allowUnexported := cmp.AllowUnexported(ethFrame{})

	// Frames to an address not yet in use are another host's: this PADS is not read.
	pado := hx("1107 0000 0000")
	// The broadcast PADI after it shows that the reader has handled it.
	eth.in <- ethFrame{dst: hostA, src: ac, etherType: etherTypeDiscovery, payload: hx("1165 0007 0000")}
	eth.in <- ethFrame{dst: bcast, src: ac, etherType: etherTypeDiscovery, payload: padi}
	b := make([]byte, 1500)
	if n, _, err := port.ReadDiscovery(b); err != nil || !bytes.Equal(b[:n], padi) {
		t.Fatalf("ReadDiscovery = %x, %v; want the PADI", b[:n], err)
	}

	// A PADI from hostA: sent from it, and from then on hostA is ours.
	if err := port.WriteDiscovery(padi, kernel.FrameInfo{Src: hw(hostA), Dst: hw(bcast)}); err != nil {
		t.Fatal(err)
	}
	want := ethFrame{dst: bcast, src: hostA, etherType: etherTypeDiscovery, payload: padi}
	if diff := cmp.Diff(want, eth.next(t), allowUnexported); diff != "" {
		t.Errorf("PADI sent (-want +got):\n%s", diff)
	}
	// The interface's own address needs no filter entry; using hostA again adds none.
	if err := port.WriteDiscovery(padi, kernel.FrameInfo{Src: port.HardwareAddr(), Dst: hw(bcast)}); err != nil {
		t.Fatal(err)
	}
	if f := eth.next(t); f.src != eth.mac {
		t.Errorf("PADI with the interface's Src sent from %v", hw(f.src))
	}
	if err := port.WriteDiscovery(padi, kernel.FrameInfo{Src: hw(hostA), Dst: hw(bcast)}); err != nil {
		t.Fatal(err)
	}
	eth.next(t)
	if diff := cmp.Diff([][6]byte{hostA}, eth.unicastAddrs()); diff != "" {
		t.Errorf("unicast filter additions (-want +got):\n%s", diff)
	}
	eth.in <- ethFrame{dst: hostA, src: ac, etherType: etherTypeDiscovery, payload: pado}
	n, info, err := port.ReadDiscovery(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(pado, b[:n]); diff != "" {
		t.Errorf("ReadDiscovery (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(kernel.FrameInfo{Src: hw(ac), Dst: hw(hostA)}, info); diff != "" {
		t.Errorf("FrameInfo (-want +got):\n%s", diff)
	}

	// Two sessions with the same ID and AC, one per host, and one for the interface.
	open := func(local [6]byte) kernel.Channel {
		t.Helper()
		fi := kernel.FrameInfo{Dst: hw(ac)}
		if local != eth.mac {
			fi.Src = hw(local)
		}
		ch, err := port.OpenSession(7, fi, 0)
		if err != nil {
			t.Fatalf("OpenSession from %v: %v", hw(local), err)
		}
		return ch
	}
	chans := map[[6]byte]kernel.Channel{hostA: open(hostA), hostB: open(hostB), eth.mac: open(eth.mac)}
	if _, err := port.OpenSession(7, kernel.FrameInfo{Src: hw(hostA), Dst: hw(ac)}, 0); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("second OpenSession from hostA: %v, want EEXIST", err)
	}
	if diff := cmp.Diff([][6]byte{hostA, hostB}, eth.unicastAddrs()); diff != "" {
		t.Errorf("unicast filter additions (-want +got):\n%s", diff)
	}
	for local, ch := range chans {
		frame := append(hx("c021 0901 0008"), local[4:]...)
		frame = append(frame, 0, 0)
		eth.in <- ethFrame{dst: local, src: ac, etherType: etherTypeSession, payload: sessFrame(7, frame)}
		n, err := ch.ReadFrame(b)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(frame, b[:n]); diff != "" {
			t.Errorf("frame to %v (-want +got):\n%s", hw(local), diff)
		}
		if err := ch.WriteFrame(frame); err != nil {
			t.Fatal(err)
		}
		want := ethFrame{dst: ac, src: local, etherType: etherTypeSession, payload: sessFrame(7, frame)}
		if diff := cmp.Diff(want, eth.next(t), allowUnexported); diff != "" {
			t.Errorf("frame from %v (-want +got):\n%s", hw(local), diff)
		}
	}

	// Sources that cannot be: a group address, all zeros, a short one.
	for _, bad := range []net.HardwareAddr{hw(bcast), {0x01, 0, 0x5e, 0, 0, 1}, make(net.HardwareAddr, 6), {2, 0, 0}} {
		if err := port.WriteDiscovery(padi, kernel.FrameInfo{Src: bad, Dst: hw(bcast)}); !errors.Is(err, kernel.ErrSourceMAC) {
			t.Errorf("WriteDiscovery from %v: %v, want ErrSourceMAC", bad, err)
		}
		if _, err := port.OpenSession(9, kernel.FrameInfo{Src: bad, Dst: hw(ac)}, 0); !errors.Is(err, kernel.ErrSourceMAC) {
			t.Errorf("OpenSession from %v: %v, want ErrSourceMAC", bad, err)
		}
	}
	// The interface refusing the address fails the call, and the address is not in use.
	hostC := [6]byte{0x02, 0, 0, 0, 0xa, 3}
	eth.umu.Lock()
	eth.failUcst = syscall.ENOSPC
	eth.umu.Unlock()
	if err := port.WriteDiscovery(padi, kernel.FrameInfo{Src: hw(hostC), Dst: hw(bcast)}); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("WriteDiscovery when the filter refuses: %v, want ENOSPC", err)
	}
	if _, ok := port.(*pppoePort).extra.get(hostC); ok {
		t.Error("hostC is in use although the interface refused it")
	}

	if err := port.Close(); err != nil {
		t.Fatal(err)
	}
	if err := port.WriteDiscovery(padi, kernel.FrameInfo{Src: hw(hostB), Dst: hw(bcast)}); !errors.Is(err, net.ErrClosed) {
		t.Errorf("WriteDiscovery after Close: %v, want net.ErrClosed", err)
	}
}
