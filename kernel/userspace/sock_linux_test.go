//go:build linux

package userspace

import (
	"net"
	"net/netip"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// cmsg builds one control message.
func cmsg(level, typ int32, data []byte) []byte {
	b := make([]byte, unix.CmsgSpace(len(data)))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = level, typ
	h.SetLen(unix.CmsgLen(len(data)))
	copy(b[unix.CmsgLen(0):], data)
	return b
}

func pktinfo4(dst string) []byte {
	a := netip.MustParseAddr(dst).As4()
	var pi unix.Inet4Pktinfo
	pi.Addr = a
	return cmsg(unix.IPPROTO_IP, unix.IP_PKTINFO, unsafe.Slice((*byte)(unsafe.Pointer(&pi)), unix.SizeofInet4Pktinfo))
}

func pktinfo6(dst string) []byte {
	var pi unix.Inet6Pktinfo
	pi.Addr = netip.MustParseAddr(dst).As16()
	return cmsg(unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, unsafe.Slice((*byte)(unsafe.Pointer(&pi)), unix.SizeofInet6Pktinfo))
}

// aligned copies b into an 8-byte aligned buffer, as the socket code's buffers are.
func aligned(b []byte) []byte {
	w := make([]uint64, (len(b)+7)/8+1)
	a := unsafe.Slice((*byte)(unsafe.Pointer(&w[0])), len(w)*8)[:len(b)]
	copy(a, b)
	return a
}

func TestParsePktinfo(t *testing.T) {
	for _, tc := range []struct {
		name string
		oob  []byte
		want netip.Addr
	}{
		{name: "empty"},
		{name: "ipv4", oob: pktinfo4("192.0.2.1"), want: netip.MustParseAddr("192.0.2.1")},
		{name: "ipv6", oob: pktinfo6("2001:db8::1"), want: netip.MustParseAddr("2001:db8::1")},
		{name: "mapped", oob: pktinfo6("::ffff:192.0.2.7"), want: netip.MustParseAddr("192.0.2.7")},
		{name: "after another", oob: cat(cmsg(unix.SOL_SOCKET, unix.SO_TIMESTAMP, make([]byte, 16)), pktinfo4("198.51.100.1")), want: netip.MustParseAddr("198.51.100.1")},
		{name: "truncated", oob: pktinfo4("192.0.2.1")[:20]},
		{name: "short data", oob: cmsg(unix.IPPROTO_IP, unix.IP_PKTINFO, []byte{1, 2, 3})},
		{name: "length zero", oob: make([]byte, 32)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := parsePktinfo(aligned(tc.oob))
			if diff := cmp.Diff(tc.want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParsePktinfo(f *testing.F) {
	f.Add(pktinfo4("192.0.2.1"))
	f.Add(pktinfo6("2001:db8::1"))
	f.Add(cat(cmsg(unix.SOL_SOCKET, unix.SO_TIMESTAMP, make([]byte, 16)), pktinfo4("198.51.100.1")))
	f.Fuzz(func(t *testing.T, oob []byte) {
		parsePktinfo(aligned(oob))
	})
}

func TestStripIPv4(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      []byte
		wantOff int
		wantN   int
	}{
		{name: "plain", in: cat(ip4("192.0.2.1", "192.0.2.2", ""), hx("00000001")), wantOff: 20, wantN: 4},
		{name: "options", in: cat(hx("46"), make([]byte, 23), hx("00000001")), wantOff: 24, wantN: 4},
		{name: "ihl beyond", in: cat(hx("4f"), make([]byte, 23)), wantN: 0},
		{name: "ihl too small", in: cat(hx("44"), make([]byte, 23)), wantN: 0},
		{name: "not ipv4", in: cat(hx("65"), make([]byte, 23)), wantN: 0},
		{name: "runt", in: hx("45"), wantN: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := msg{buf: tc.in, n: len(tc.in)}
			stripIPv4(&m)
			if m.n != tc.wantN || m.n != 0 && m.off != tc.wantOff {
				t.Errorf("off %d n %d, want %d %d", m.off, m.n, tc.wantOff, tc.wantN)
			}
		})
	}
}

// TestDialUDPUnconnected checks an unconnected tunnel socket on loopback: bound to the
// route's source address, it reads datagrams from any port with their sender, writes to a
// named destination, and after connect takes the connected port only.
func TestDialUDPUnconnected(t *testing.T) {
	lns1701, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Skipf("no loopback UDP: %v", err)
	}
	defer lns1701.Close()
	lnsOther, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer lnsOther.Close()
	peer := lns1701.LocalAddr().(*net.UDPAddr).AddrPort()
	other := lnsOther.LocalAddr().(*net.UDPAddr).AddrPort()

	c, err := dialUDPSocket(netip.AddrPort{}, peer, true, true)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	if got := c.localAddr(); got.Addr() != peer.Addr() || got.Port() == 0 {
		t.Fatalf("local address %v, want 127.0.0.1 with a port", got)
	}
	if err := c.writeTo([]byte("SCCRQ"), peer, netip.Addr{}); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 100)
	lns1701.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, from, err := lns1701.ReadFromUDPAddrPort(b)
	if err != nil || string(b[:n]) != "SCCRQ" || from != c.localAddr() {
		t.Fatalf("the LNS read %q from %v (%v), want SCCRQ from %v", b[:n], from, err, c.localAddr())
	}
	if _, err := lnsOther.WriteToUDPAddrPort([]byte("SCCRP"), from); err != nil {
		t.Fatal(err)
	}
	ms := newBatch(1, 2048)
	if k, err := c.readBatch(ms); err != nil || k != 1 {
		t.Fatalf("readBatch: %d, %v", k, err)
	}
	if got := string(ms[0].buf[ms[0].off : ms[0].off+ms[0].n]); got != "SCCRP" || ms[0].src != other {
		t.Errorf("read %q from %v, want SCCRP from %v", got, ms[0].src, other)
	}
	if err := c.connect(other); err != nil {
		t.Fatal(err)
	}
	if c.pathMTU() == 0 {
		t.Error("no path MTU once connected")
	}
	// Connected: the old port no longer reaches the socket, the new one does.
	lns1701.WriteToUDPAddrPort([]byte("stray"), from)
	lnsOther.WriteToUDPAddrPort([]byte("HELLO"), from)
	ms[0].off = 0
	if k, err := c.readBatch(ms); err != nil || k != 1 {
		t.Fatalf("readBatch: %d, %v", k, err)
	}
	if got := string(ms[0].buf[ms[0].off : ms[0].off+ms[0].n]); got != "HELLO" {
		t.Errorf("after connect read %q, want HELLO", got)
	}
}
