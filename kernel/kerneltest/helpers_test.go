package kerneltest

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/probox/probox/kernel"
)

var (
	lacAddr  = netip.MustParseAddr("192.0.2.1")
	lnsAddr  = netip.MustParseAddr("192.0.2.2")
	lacAddr6 = netip.MustParseAddr("2001:db8::1")
	lnsAddr6 = netip.MustParseAddr("2001:db8::2")
)

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// must returns v, or panics (failing the test) on err; it keeps set-up code short.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantState(t *testing.T, f *Fake, want string) {
	t.Helper()
	if diff := cmp.Diff(want, f.State()); diff != "" {
		t.Errorf("%s state (-want +got):\n%s", f.Host(), diff)
	}
}

// read reads one message with fn and returns it as a string.
func read(t *testing.T, fn func([]byte) (int, error)) string {
	t.Helper()
	b := make([]byte, 2048)
	n, err := fn(b)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(b[:n])
}

// v3ctl is a minimal L2TPv3 control message header (RFC 3931 §3.2.1: T and L set,
// version 3) for control connection connID, followed by body.
func v3ctl(connID uint32, body string) []byte {
	b := make([]byte, 12, 12+len(body))
	binary.BigEndian.PutUint16(b[0:], 0xc803)
	binary.BigEndian.PutUint16(b[2:], uint16(12+len(body)))
	binary.BigEndian.PutUint32(b[4:], connID)
	return append(b, body...)
}

// lacLNS is a LAC and an LNS host with an established tunnel between them.
type lacLNS struct {
	n          *Network
	lac, lns   *Fake
	lacT, lnsT kernel.Tunnel
}

// newPair opens LAC tunnel 1 to the LNS's listener and LNS tunnel 2 back, and
// establishes both, the way the engines would.
func newPair(t *testing.T, version int, encap kernel.Encap) *lacLNS {
	t.Helper()
	n := NewNetwork()
	p := &lacLNS{n: n, lac: n.Dataplane("lac", lacAddr), lns: n.Dataplane("lns", lnsAddr)}
	l := must(p.lns.Listen(kernel.ListenConfig{Encap: encap, Addr: ap("0.0.0.0:1701")}))
	p.lacT = must(p.lac.OpenTunnel(kernel.TunnelConfig{Version: version, Encap: encap,
		Peer: netip.AddrPortFrom(lnsAddr, 1701), TunnelID: 1}))
	msg := []byte("SCCRQ")
	if encap == kernel.EncapIP {
		msg = v3ctl(0, "SCCRQ")
	}
	if err := p.lacT.WriteControl(msg); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 100)
	_, src, dst, err := l.ReadFrom(b)
	if err != nil {
		t.Fatal(err)
	}
	p.lnsT = must(p.lns.OpenTunnel(kernel.TunnelConfig{Version: version, Encap: encap,
		Local: netip.AddrPortFrom(dst, l.Addr().Port()), Peer: src, TunnelID: 2}))
	if err := p.lnsT.Establish(1, src); err != nil {
		t.Fatal(err)
	}
	if err := p.lacT.Establish(2, netip.AddrPortFrom(lnsAddr, 1701)); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// ctl adapts a tunnel's ReadControl to read, dropping the source address.
func ctl(fn func([]byte) (int, netip.AddrPort, error)) func([]byte) (int, error) {
	return func(b []byte) (int, error) {
		n, _, err := fn(b)
		return n, err
	}
}
