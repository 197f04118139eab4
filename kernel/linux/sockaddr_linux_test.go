//go:build linux

package linux

import (
	"encoding/hex"
	"net/netip"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// unhex decodes hex with spaces, which group the fields of the C structs.
func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func littleEndian() bool { return ne.Uint16([]byte{1, 0}) == 1 }

// The expected bytes are written out by hand from the UAPI structs, for a little-endian
// host (the host-order fields are little-endian).
func TestSockaddrs(t *testing.T) {
	if !littleEndian() {
		t.Skip("the golden bytes are for little-endian hosts")
	}
	peer4 := netip.MustParseAddrPort("192.0.2.2:1701")
	peer6 := netip.MustParseAddrPort("[2001:db8::2]:1701")
	l2tp := func(v int, peer netip.AddrPort) pppol2tpAddr {
		return pppol2tpAddr{Version: v, FD: 7, Peer: peer, Tunnel: 100, Session: 11, PeerTunnel: 200, PeerSession: 22}
	}
	tests := []struct {
		name string
		got  func() ([]byte, error)
		size int
		want string
	}{
		{
			name: "sockaddr_pppox",
			got: func() ([]byte, error) {
				return pppoeSockaddr(0x1234, [6]byte{2, 0, 0, 0, 0, 1}, "eth0")
			},
			size: sizeofSockaddrPPPoX,
			// sa_family=AF_PPPOX | sa_protocol=PX_PROTO_OE (packed, offset 2) | sid (be16) |
			// remote | dev[IFNAMSIZ]
			want: "1800 00000000 1234 020000000001 65746830000000000000000000000000",
		},
		{
			name: "sockaddr_pppol2tp",
			got:  func() ([]byte, error) { return pppol2tpSockaddr(l2tp(2, peer4)) },
			size: sizeofSockaddrPPPoL2TP,
			// family | PX_PROTO_OL2TP | pid 0 | fd 7 | sockaddr_in{AF_INET, port 1701 (be),
			// 192.0.2.2, zero} | s_tunnel s_session d_tunnel d_session (u16)
			want: "1800 01000000 00000000 07000000 0200 06a5 c0000202 0000000000000000 6400 0b00 c800 1600",
		},
		{
			name: "sockaddr_pppol2tpin6",
			got:  func() ([]byte, error) { return pppol2tpSockaddr(l2tp(2, peer6)) },
			size: sizeofSockaddrPPPoL2TPin6,
			// the IDs come before the sockaddr_in6 in this variant
			want: "1800 01000000 00000000 07000000 6400 0b00 c800 1600 0a00 06a5 00000000 20010db8000000000000000000000002 00000000",
		},
		{
			name: "sockaddr_pppol2tpv3",
			got:  func() ([]byte, error) { return pppol2tpSockaddr(l2tp(3, peer4)) },
			size: sizeofSockaddrPPPoL2TPv3,
			want: "1800 01000000 00000000 07000000 0200 06a5 c0000202 0000000000000000 64000000 0b000000 c8000000 16000000",
		},
		{
			name: "sockaddr_pppol2tpv3in6",
			got:  func() ([]byte, error) { return pppol2tpSockaddr(l2tp(3, peer6)) },
			size: sizeofSockaddrPPPoL2TPv3in6,
			want: "1800 01000000 00000000 07000000 64000000 0b000000 c8000000 16000000 0a00 06a5 00000000 20010db8000000000000000000000002 00000000",
		},
		{
			name: "sockaddr_l2tpip",
			got:  func() ([]byte, error) { return l2tpipSockaddr(netip.MustParseAddr("192.0.2.1"), 100), nil },
			size: sizeofSockaddrL2TPIP,
			// family | unused port | in_addr | conn_id (host order) | pad to sizeof(sockaddr)
			want: "0200 0000 c0000201 64000000 00000000",
		},
		{
			name: "sockaddr_l2tpip6",
			got:  func() ([]byte, error) { return l2tpipSockaddr(netip.MustParseAddr("2001:db8::1"), 0x01020304), nil },
			size: sizeofSockaddrL2TPIP6,
			// family | unused port | flowinfo | in6_addr | scope_id | conn_id
			want: "0a00 0000 00000000 20010db8000000000000000000000001 00000000 04030201",
		},
		{
			name: "sockaddr_l2tpip listener, unspecified",
			got:  func() ([]byte, error) { return l2tpipSockaddr(netip.IPv4Unspecified(), 0), nil },
			size: sizeofSockaddrL2TPIP,
			want: "0200 0000 00000000 00000000 00000000",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.got()
			if err != nil {
				t.Fatal(err)
			}
			want := unhex(t, tt.want)
			if len(want) != tt.size {
				t.Fatalf("golden bytes are %d long, the struct %d", len(want), tt.size)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("bytes (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSockaddrSizes checks the struct sizes from their fields as the C compiler lays
// them out (the sockaddr_pppox family is __packed; the address structs are naturally
// aligned with no padding).
func TestSockaddrSizes(t *testing.T) {
	const (
		saFamily   = 2  // __kernel_sa_family_t
		saProtocol = 4  // unsigned int
		pppoeAddr  = 24 // sid 2 + remote 6 + dev 16 (IFNAMSIZ)
		pidFD      = 8  // __kernel_pid_t + int
	)
	tests := []struct {
		name      string
		got, want int
	}{
		{"sockaddr_pppox", sizeofSockaddrPPPoX, saFamily + saProtocol + pppoeAddr},
		{"sockaddr_pppol2tp", sizeofSockaddrPPPoL2TP, saFamily + saProtocol + pidFD + unix.SizeofSockaddrInet4 + 4*2},
		{"sockaddr_pppol2tpin6", sizeofSockaddrPPPoL2TPin6, saFamily + saProtocol + pidFD + 4*2 + unix.SizeofSockaddrInet6},
		{"sockaddr_pppol2tpv3", sizeofSockaddrPPPoL2TPv3, saFamily + saProtocol + pidFD + unix.SizeofSockaddrInet4 + 4*4},
		{"sockaddr_pppol2tpv3in6", sizeofSockaddrPPPoL2TPv3in6, saFamily + saProtocol + pidFD + 4*4 + unix.SizeofSockaddrInet6},
		{"sockaddr_l2tpip", sizeofSockaddrL2TPIP, unix.SizeofSockaddrInet4},
		{"sockaddr_l2tpip6", sizeofSockaddrL2TPIP6, unix.SizeofSockaddrInet6 + 4},
		{"sockaddr_in", sizeofSockaddrIn, unix.SizeofSockaddrInet4},
		{"sockaddr_in6", sizeofSockaddrIn6, unix.SizeofSockaddrInet6},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: size %d, want %d", tt.name, tt.got, tt.want)
		}
	}
}

func TestSockaddrErrors(t *testing.T) {
	if _, err := pppoeSockaddr(1, [6]byte{}, "an-interface-name-too-long"); err == nil {
		t.Error("pppoeSockaddr accepted a 26-byte interface name")
	}
	if _, err := pppoeSockaddr(1, [6]byte{}, ""); err == nil {
		t.Error("pppoeSockaddr accepted an empty interface name")
	}
	big := pppol2tpAddr{Version: 2, Peer: netip.MustParseAddrPort("192.0.2.2:1701"), Tunnel: 1, Session: 0x10000, PeerTunnel: 1, PeerSession: 1}
	if _, err := pppol2tpSockaddr(big); err == nil {
		t.Error("pppol2tpSockaddr accepted a 17-bit L2TPv2 session ID")
	}
	if _, err := pppol2tpSockaddr(pppol2tpAddr{Version: 4}); err == nil {
		t.Error("pppol2tpSockaddr accepted version 4")
	}
}

// ioc is the generic _IOC encoding (include/uapi/asm-generic/ioctl.h) that amd64 uses.
func ioc(dir, typ, nr, size uint) uint { return dir<<30 | size<<16 | typ<<8 | nr }

// TestPPPIoctlNumbers checks the PPP ioctl numbers taken from x/sys/unix against their
// definitions in include/uapi/linux/ppp-ioctl.h.
func TestPPPIoctlNumbers(t *testing.T) {
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		t.Skip("the generic _IOC encoding holds on amd64 and arm64")
	}
	const (
		none, write, read = 0, 1, 2
		tt                = 't'
		sizeofInt         = 4
		sizeofNpioctl     = 8
	)
	tests := []struct {
		name      string
		got, want uint
	}{
		{"PPPIOCGCHAN", pppIocGChan, ioc(read, tt, 55, sizeofInt)},
		{"PPPIOCATTCHAN", pppIocAttChan, ioc(write, tt, 56, sizeofInt)},
		{"PPPIOCNEWUNIT", pppIocNewUnit, ioc(read|write, tt, 62, sizeofInt)},
		{"PPPIOCCONNECT", pppIocConnect, ioc(write, tt, 58, sizeofInt)},
		{"PPPIOCDISCONN", pppIocDisconn, ioc(none, tt, 57, 0)},
		{"PPPIOCSMRU", pppIocSMRU, ioc(write, tt, 82, sizeofInt)},
		{"PPPIOCSNPMODE", pppIocSNPMode, ioc(write, tt, 75, sizeofNpioctl)},
		{"PPPIOCBRIDGECHAN", pppIocBridgeChan, ioc(write, tt, 53, sizeofInt)},
		{"PPPIOCUNBRIDGECHAN", pppIocUnbridgeChan, ioc(none, tt, 52, 0)},
		{"SIOCGPPPSTATS", siocGPPPStats, unix.SIOCDEVPRIVATE + 0},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %#x, want %#x", tt.name, tt.got, tt.want)
		}
	}
}

func TestNormalizeFrame(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"plain LCP", "c021 0101 0004", "c021 0101 0004"},
		{"address and control", "ff03 c021 0101 0004", "c021 0101 0004"},
		{"compressed protocol", "21 4500", "0021 4500"},
		{"address, control, compressed protocol", "ff03 21 4500", "0021 4500"},
		{"only address and control", "ff03", ""},
		{"one even byte: no protocol field", "30", ""},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := normalizeFrame(unhex(t, tt.in))
			if diff := cmp.Diff(unhex(t, tt.want), got, cmpEmpty); diff != "" {
				t.Errorf("normalizeFrame (-want +got):\n%s", diff)
			}
		})
	}
}

var cmpEmpty = cmp.Comparer(func(a, b []byte) bool { return string(a) == string(b) })

func FuzzNormalizeFrame(f *testing.F) {
	f.Add([]byte{0xff, 0x03, 0xc0, 0x21, 1, 1, 0, 4})
	f.Add([]byte{0x21, 0x45})
	f.Fuzz(func(t *testing.T, b []byte) {
		got := normalizeFrame(b)
		if len(got) == 1 || len(got) > len(b)+1 {
			t.Fatalf("normalizeFrame(%x) = %x", b, got)
		}
		if len(got) >= 2 && got[0]&1 != 0 {
			t.Fatalf("normalizeFrame(%x) = %x: compressed protocol left", b, got)
		}
		if again := normalizeFrame(got); len(got) >= 2 && got[0] != 0xff && string(again) != string(got) {
			t.Fatalf("normalizeFrame not idempotent: %x -> %x -> %x", b, got, again)
		}
	})
}

func TestDecodePPPStats(t *testing.T) {
	if !littleEndian() {
		t.Skip("the golden bytes are for little-endian hosts")
	}
	// struct pppstat: discards, ibytes, ioctects, ipackets, ierrors, ilqrs, obytes,
	// ooctects, opackets, oerrors, olqrs; then struct vjstat.
	b := unhex(t, "01000000 e8030000 00000000 0a000000 02000000 00000000 d0070000 00000000 14000000 03000000 00000000"+
		strings.Repeat("00000000", 8))
	got := decodePPPStats(b)
	want := pppStats{iBytes: 1000, iPackets: 10, iErrors: 2, oBytes: 2000, oPackets: 20, oErrors: 3}
	if got != want {
		t.Errorf("decodePPPStats = %+v, want %+v", got, want)
	}
}

func TestUnitCountersWrap(t *testing.T) {
	var c unitCounters
	c.update(pppStats{iBytes: 0xffff_fff0, iPackets: 5, oBytes: 100})
	c.update(pppStats{iBytes: 0x10, iPackets: 6, oBytes: 200}) // the byte counter wrapped
	got := c.counters()
	if got.RxBytes != 0x1_0000_0010 || got.RxPackets != 6 || got.TxBytes != 200 {
		t.Errorf("counters = %+v, want RxBytes %#x, RxPackets 6, TxBytes 200", got, uint64(0x1_0000_0010))
	}
}

func TestParseRelease(t *testing.T) {
	tests := []struct {
		rel          string
		major, minor int
		ok           bool
	}{
		{"6.1.0-48-amd64", 6, 1, true},
		{"5.11.0", 5, 11, true},
		{"5.10.0-28-amd64", 5, 10, true},
		{"4.19.0+", 4, 19, true},
		{"5.4-rc1", 5, 4, true},
		{"garbage", 0, 0, false},
	}
	for _, tt := range tests {
		major, minor, ok := parseRelease(tt.rel)
		if major != tt.major || minor != tt.minor || ok != tt.ok {
			t.Errorf("parseRelease(%q) = %d, %d, %v, want %d, %d, %v", tt.rel, major, minor, ok, tt.major, tt.minor, tt.ok)
		}
	}
}

func TestVLANName(t *testing.T) {
	if got := vlanName("eth1", 3, 100); got != "eth1.100" {
		t.Errorf("vlanName = %q, want eth1.100", got)
	}
	if got := vlanName("enp0s31f6abc", 7, 4094); got != "pbx7.4094" {
		t.Errorf("vlanName of a long name = %q, want pbx7.4094", got)
	}
	if got := vlanName("enp0s31f6abc", 12345678, 4094); got != "P7clzi.35q" {
		t.Errorf("vlanName of a long name with an 8-digit index = %q, want P7clzi.35q", got)
	}
}

func TestClassifyUDP(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		control bool
		version int
		ok      bool
	}{
		{"v2 control", "c802 000c", true, 2, true},
		{"v2 data", "0002 0001", false, 2, true},
		{"v3 control", "c803 000c", true, 3, true},
		{"v3 data", "0003 0000", false, 3, true},
		{"L2F (version 1)", "c801", true, 1, false},
		{"short", "c8", false, 0, false},
	}
	for _, tt := range tests {
		control, version, ok := classifyUDP(unhex(t, tt.in))
		if control != tt.control || version != tt.version || ok != tt.ok {
			t.Errorf("%s: classifyUDP = %v, %d, %v, want %v, %d, %v", tt.name, control, version, ok, tt.control, tt.version, tt.ok)
		}
	}
}
