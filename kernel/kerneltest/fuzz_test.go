package kerneltest

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/probox/probox/kernel"
)

// FuzzIPEncapControl sends arbitrary L2TP-over-IP control messages to a host with a
// listener and tunnel 7: the demultiplexer, which reads the Control Connection ID from
// the header, must not panic, must deliver by the rules of the kernel's l2tp_ip, and
// must deliver the message unchanged.
func FuzzIPEncapControl(f *testing.F) {
	f.Add(v3ctl(0, "SCCRQ"))
	f.Add(v3ctl(7, "to 7"))
	f.Add(v3ctl(9, ""))
	f.Add([]byte{0xc8})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, msg []byte) {
		n := NewNetwork()
		a := n.Dataplane("a", lacAddr)
		b := n.Dataplane("b", lnsAddr)
		l := must(b.Listen(kernel.ListenConfig{Encap: kernel.EncapIP, Addr: ap("0.0.0.0:0")}))
		t7 := must(b.OpenTunnel(kernel.TunnelConfig{Version: 3, Encap: kernel.EncapIP, Peer: ap("192.0.2.1:0"), TunnelID: 7}))
		from := must(a.OpenTunnel(kernel.TunnelConfig{Version: 3, Encap: kernel.EncapIP, Peer: ap("192.0.2.2:0"), TunnelID: 1}))
		noErr(t, from.WriteControl(msg))

		want := "nowhere"
		if len(msg) >= 12 && msg[0]&0xc0 == 0xc0 {
			switch binary.BigEndian.Uint32(msg[4:]) {
			case 0:
				want = "listener"
			case 7:
				want = "tunnel"
			}
		}
		n.mu.Lock()
		got := "nowhere"
		switch {
		case l.(*listener).q.lenLocked() == 1:
			got = "listener"
		case t7.(*tunnel).ctl.lenLocked() == 1:
			got = "tunnel"
		}
		n.mu.Unlock()
		if got != want {
			t.Fatalf("delivered to %s, want %s", got, want)
		}
		buf := make([]byte, len(msg)+1)
		var k int
		switch got {
		case "listener":
			k, _, _, _ = l.ReadFrom(buf)
		case "tunnel":
			k, _, _ = t7.ReadControl(buf)
		default:
			return
		}
		if !bytes.Equal(buf[:k], msg) {
			t.Fatalf("delivered %x, sent %x", buf[:k], msg)
		}
	})
}
