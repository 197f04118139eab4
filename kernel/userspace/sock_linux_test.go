//go:build linux

package userspace

import (
	"net/netip"
	"testing"
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
