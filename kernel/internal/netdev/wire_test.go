package netdev

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nltest"
	"golang.org/x/sys/unix"

	"github.com/probox/probox/kernel"
)

// marshalLink encodes l as an RTM_NEWLINK body, as the kernel would report it.
func marshalLink(l Link) []byte {
	var flags uint32
	if l.Up {
		flags = iffUp
	}
	b := ifInfoMsg{Index: int32(l.Index), Flags: flags}.append(nil)
	ae := netlink.NewAttributeEncoder()
	if l.Name != "" {
		ae.String(iflaIfname, l.Name)
	}
	ae.Uint32(iflaMTU, uint32(l.MTU))
	if len(l.HardwareAddr) > 0 {
		ae.Bytes(iflaAddress, l.HardwareAddr)
	}
	ae.Uint32(iflaGroup, l.Group)
	if l.ParentIndex != 0 {
		ae.Uint32(iflaLink, uint32(l.ParentIndex))
	}
	ae.Uint8(iflaOperstate, l.OperState)
	if l.Promiscuity != 0 {
		ae.Uint32(iflaPromisc, l.Promiscuity)
	}
	if l.Kind != "" {
		ae.Nested(iflaLinkinfo, func(nae *netlink.AttributeEncoder) error {
			nae.String(iflaInfoKind, l.Kind)
			if l.VLANID != 0 || l.VLANProtocol != 0 {
				nae.Nested(iflaInfoData, func(dae *netlink.AttributeEncoder) error {
					if l.VLANID != 0 {
						dae.Uint16(iflaVLANID, l.VLANID)
					}
					if l.VLANProtocol != 0 {
						dae.Bytes(iflaVLANProt, binary.BigEndian.AppendUint16(nil, l.VLANProtocol))
					}
					return nil
				})
			}
			return nil
		})
	}
	attrs, err := ae.Encode()
	if err != nil {
		panic(err)
	}
	return append(b, attrs...)
}

func skipBigEndian(t testing.TB) {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("golden messages are little-endian")
	}
}

func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		panic(err)
	}
	return b
}

// request is one recorded netlink request.
type request struct {
	Type  netlink.HeaderType
	Flags netlink.HeaderFlags
	Data  string // hex
}

// TestRequests checks the messages the Handle sends, and how it reads the kernel's
// answers, against a message-level fake.
func TestRequests(t *testing.T) {
	skipBigEndian(t)
	ack := func(req netlink.Message) ([]netlink.Message, error) {
		return nltest.Error(0, []netlink.Message{req})
	}
	fail := func(errno unix.Errno) func(netlink.Message) ([]netlink.Message, error) {
		return func(req netlink.Message) ([]netlink.Message, error) {
			return nltest.Error(int(errno), []netlink.Message{req})
		}
	}
	vlan := Link{Index: 9, Name: "eth0.7", MTU: 1500, Up: false, Kind: "vlan", ParentIndex: 2, VLANID: 7,
		VLANProtocol: VLAN8021Q, HardwareAddr: net.HardwareAddr{2, 0, 0, 0, 0, 1}}
	svlan := Link{Index: 10, Name: "eth0.s10", MTU: 1500, Kind: "vlan", ParentIndex: 2, VLANID: 10,
		VLANProtocol: VLAN8021AD, HardwareAddr: net.HardwareAddr{2, 0, 0, 0, 0, 1}}
	mvMAC := net.HardwareAddr{2, 0, 0, 0, 1, 5}
	macvlan := Link{Index: 11, Name: "mv0", MTU: 1500, Kind: "macvlan", ParentIndex: 2, HardwareAddr: mvMAC, Group: 1701}
	reply := func(typ netlink.HeaderType, bodies ...[]byte) func(netlink.Message) ([]netlink.Message, error) {
		return func(req netlink.Message) ([]netlink.Message, error) {
			var msgs []netlink.Message
			hdr := netlink.Header{Type: typ, Sequence: req.Header.Sequence, PID: req.Header.PID}
			for _, b := range bodies {
				msgs = append(msgs, netlink.Message{Header: hdr, Data: b})
			}
			if req.Header.Flags&netlink.Dump == netlink.Dump {
				// The Done message ends the dump; its body is the error code 0.
				msgs = append(msgs, netlink.Message{Header: hdr, Data: make([]byte, 4)})
				return nltest.Multipart(msgs)
			}
			return msgs, nil
		}
	}
	const (
		reqAck     = netlink.Request | netlink.Acknowledge
		reqCreate  = reqAck | netlink.Create | netlink.Excl
		reqReplace = reqAck | netlink.Create | netlink.Replace
		reqDump    = netlink.Request | netlink.Dump
	)
	tests := []struct {
		name    string
		call    func(h *Handle) (any, error)
		answers []func(netlink.Message) ([]netlink.Message, error)
		want    []request
		wantRes any
		wantErr error // matched with errors.Is; nil: no error
	}{
		{
			name:    "set up",
			call:    func(h *Handle) (any, error) { return nil, h.SetUp(7, true) },
			answers: []func(netlink.Message) ([]netlink.Message, error){ack},
			want:    []request{{rtmSetLink, reqAck, "00000000 07000000 01000000 01000000"}},
		},
		{
			name:    "set down",
			call:    func(h *Handle) (any, error) { return nil, h.SetUp(7, false) },
			answers: []func(netlink.Message) ([]netlink.Message, error){ack},
			want:    []request{{rtmSetLink, reqAck, "00000000 07000000 00000000 01000000"}},
		},
		{
			name:    "set mtu",
			call:    func(h *Handle) (any, error) { return nil, h.SetMTU(3, 1400) },
			answers: []func(netlink.Message) ([]netlink.Message, error){ack},
			want:    []request{{rtmSetLink, reqAck, "00000000 03000000 00000000 00000000 08000400 78050000"}},
		},
		{
			name:    "set group",
			call:    func(h *Handle) (any, error) { return nil, h.SetGroup(3, 0x70b0) },
			answers: []func(netlink.Message) ([]netlink.Message, error){ack},
			want:    []request{{rtmSetLink, reqAck, "00000000 03000000 00000000 00000000 08001b00 b0700000"}},
		},
		{
			name:    "set mtu of absent link",
			call:    func(h *Handle) (any, error) { return nil, h.SetMTU(3, 1400) },
			answers: []func(netlink.Message) ([]netlink.Message, error){fail(unix.ENODEV)},
			want:    []request{{rtmSetLink, reqAck, "00000000 03000000 00000000 00000000 08000400 78050000"}},
			wantErr: os.ErrNotExist,
		},
		{
			name:    "delete link",
			call:    func(h *Handle) (any, error) { return nil, h.DeleteLink(4) },
			answers: []func(netlink.Message) ([]netlink.Message, error){ack},
			want:    []request{{rtmDelLink, reqAck, "00000000 04000000 00000000 00000000"}},
		},
		{
			name:    "delete absent link",
			call:    func(h *Handle) (any, error) { return nil, h.DeleteLink(4) },
			answers: []func(netlink.Message) ([]netlink.Message, error){fail(unix.ENODEV)},
			want:    []request{{rtmDelLink, reqAck, "00000000 04000000 00000000 00000000"}},
		},
		{
			name:    "delete link fails",
			call:    func(h *Handle) (any, error) { return nil, h.DeleteLink(1) },
			answers: []func(netlink.Message) ([]netlink.Message, error){fail(unix.EOPNOTSUPP)},
			want:    []request{{rtmDelLink, reqAck, "00000000 01000000 00000000 00000000"}},
			wantErr: unix.EOPNOTSUPP,
		},
		{
			name:    "link by name",
			call:    func(h *Handle) (any, error) { return h.LinkByName("eth0.7") },
			answers: []func(netlink.Message) ([]netlink.Message, error){reply(rtmNewLink, marshalLink(vlan))},
			want: []request{{rtmGetLink, netlink.Request,
				"00000000 00000000 00000000 00000000 0b000300 65746830 2e370000"}},
			wantRes: vlan,
		},
		{
			name:    "link by name absent",
			call:    func(h *Handle) (any, error) { return h.LinkByName("nope") },
			answers: []func(netlink.Message) ([]netlink.Message, error){fail(unix.ENODEV)},
			want: []request{{rtmGetLink, netlink.Request,
				"00000000 00000000 00000000 00000000 09000300 6e6f7065 00000000"}},
			wantRes: Link{},
			wantErr: os.ErrNotExist,
		},
		{
			name:    "link by index",
			call:    func(h *Handle) (any, error) { return h.LinkByIndex(9) },
			answers: []func(netlink.Message) ([]netlink.Message, error){reply(rtmNewLink, marshalLink(vlan))},
			want:    []request{{rtmGetLink, netlink.Request, "00000000 09000000 00000000 00000000"}},
			wantRes: vlan,
		},
		{
			name: "links",
			call: func(h *Handle) (any, error) { return h.Links() },
			answers: []func(netlink.Message) ([]netlink.Message, error){reply(rtmNewLink,
				marshalLink(Link{Index: 1, Name: "lo", MTU: 65536, Up: true}), marshalLink(vlan))},
			want:    []request{{rtmGetLink, reqDump, "00000000 00000000 00000000 00000000"}},
			wantRes: []Link{{Index: 1, Name: "lo", MTU: 65536, Up: true}, vlan},
		},
		{
			name:    "add vlan",
			call:    func(h *Handle) (any, error) { return h.AddVLAN(2, "eth0.7", 7) },
			answers: []func(netlink.Message) ([]netlink.Message, error){ack, reply(rtmNewLink, marshalLink(vlan))},
			want: []request{
				{rtmNewLink, reqCreate, "00000000 00000000 00000000 00000000" +
					"0b000300 65746830 2e370000" + // IFLA_IFNAME "eth0.7"
					"08000500 02000000" + // IFLA_LINK 2
					"1c001280" + // IFLA_LINKINFO (nested)
					"09000100 766c616e 00000000" + // IFLA_INFO_KIND "vlan"
					"0c000280 06000100 07000000"}, // IFLA_INFO_DATA { IFLA_VLAN_ID 7 }
				{rtmGetLink, netlink.Request, "00000000 00000000 00000000 00000000 0b000300 65746830 2e370000"},
			},
			wantRes: vlan,
		},
		{
			name: "add vlan that exists",
			call: func(h *Handle) (any, error) { return h.AddVLAN(2, "eth0.7", 7) },
			answers: []func(netlink.Message) ([]netlink.Message, error){
				fail(unix.EEXIST), reply(rtmNewLink, marshalLink(vlan))},
			want: []request{
				{rtmNewLink, reqCreate, "00000000 00000000 00000000 00000000" +
					"0b000300 65746830 2e370000 08000500 02000000 1c001280" +
					"09000100 766c616e 00000000 0c000280 06000100 07000000"},
				{rtmGetLink, netlink.Request, "00000000 00000000 00000000 00000000 0b000300 65746830 2e370000"},
			},
			wantRes: vlan,
		},
		{
			name: "add vlan clashing with another link",
			call: func(h *Handle) (any, error) { return h.AddVLAN(2, "eth0.7", 8) },
			answers: []func(netlink.Message) ([]netlink.Message, error){
				fail(unix.EEXIST), reply(rtmNewLink, marshalLink(vlan))},
			want: []request{
				{rtmNewLink, reqCreate, "00000000 00000000 00000000 00000000" +
					"0b000300 65746830 2e370000 08000500 02000000 1c001280" +
					"09000100 766c616e 00000000 0c000280 06000100 08000000"},
				{rtmGetLink, netlink.Request, "00000000 00000000 00000000 00000000 0b000300 65746830 2e370000"},
			},
			wantRes: Link{},
			wantErr: unix.EEXIST,
		},
		{
			name:    "add 802.1ad vlan",
			call:    func(h *Handle) (any, error) { return h.AddVLANProto(2, "eth0.s10", 10, VLAN8021AD) },
			answers: []func(netlink.Message) ([]netlink.Message, error){ack, reply(rtmNewLink, marshalLink(svlan))},
			want: []request{
				{rtmNewLink, reqCreate, "00000000 00000000 00000000 00000000" +
					"0d000300 65746830 2e733130 00000000" + // IFLA_IFNAME "eth0.s10"
					"08000500 02000000" + // IFLA_LINK 2
					"24001280" + // IFLA_LINKINFO (nested)
					"09000100 766c616e 00000000" + // IFLA_INFO_KIND "vlan"
					"14000280 06000100 0a000000" + // IFLA_INFO_DATA { IFLA_VLAN_ID 10,
					"06000500 88a80000"}, // IFLA_VLAN_PROTOCOL 0x88a8 (big-endian) }
				{rtmGetLink, netlink.Request, "00000000 00000000 00000000 00000000 0d000300 65746830 2e733130 00000000"},
			},
			wantRes: svlan,
		},
		{
			name: "add 802.1ad vlan where an 802.1Q one exists",
			call: func(h *Handle) (any, error) { return h.AddVLANProto(2, "eth0.7", 7, VLAN8021AD) },
			answers: []func(netlink.Message) ([]netlink.Message, error){
				fail(unix.EEXIST), reply(rtmNewLink, marshalLink(vlan))},
			want: []request{
				{rtmNewLink, reqCreate, "00000000 00000000 00000000 00000000" +
					"0b000300 65746830 2e370000 08000500 02000000 24001280" +
					"09000100 766c616e 00000000 14000280 06000100 07000000 06000500 88a80000"},
				{rtmGetLink, netlink.Request, "00000000 00000000 00000000 00000000 0b000300 65746830 2e370000"},
			},
			wantRes: Link{},
			wantErr: unix.EEXIST,
		},
		{
			name:    "add vlan with a bad protocol",
			call:    func(h *Handle) (any, error) { return h.AddVLANProto(2, "eth0.7", 7, 0x0800) },
			wantRes: Link{},
			wantErr: errAny,
		},
		{
			name:    "add macvlan",
			call:    func(h *Handle) (any, error) { return h.AddMacvlan(2, "mv0", mvMAC, 1701) },
			answers: []func(netlink.Message) ([]netlink.Message, error){ack, reply(rtmNewLink, marshalLink(macvlan))},
			want: []request{
				{rtmNewLink, reqCreate, "00000000 00000000 00000000 00000000" +
					"08000300 6d763000" + // IFLA_IFNAME "mv0"
					"08000500 02000000" + // IFLA_LINK 2
					"0a000100 02000000 01050000" + // IFLA_ADDRESS 02:00:00:00:01:05
					"08001b00 a5060000" + // IFLA_GROUP 1701
					"1c001280" + // IFLA_LINKINFO (nested)
					"0c000100 6d616376 6c616e00" + // IFLA_INFO_KIND "macvlan"
					"0c000280 08000100 04000000"}, // IFLA_INFO_DATA { IFLA_MACVLAN_MODE bridge }
				{rtmGetLink, netlink.Request, "00000000 00000000 00000000 00000000 08000300 6d763000"},
			},
			wantRes: macvlan,
		},
		{
			name:    "add macvlan in the default group",
			call:    func(h *Handle) (any, error) { return h.AddMacvlan(2, "mv0", mvMAC, 0) },
			answers: []func(netlink.Message) ([]netlink.Message, error){ack, reply(rtmNewLink, marshalLink(macvlan))},
			want: []request{
				{rtmNewLink, reqCreate, "00000000 00000000 00000000 00000000" +
					"08000300 6d763000 08000500 02000000 0a000100 02000000 01050000 1c001280" +
					"0c000100 6d616376 6c616e00 0c000280 08000100 04000000"},
				{rtmGetLink, netlink.Request, "00000000 00000000 00000000 00000000 08000300 6d763000"},
			},
			wantRes: macvlan,
		},
		{
			name: "add macvlan that exists",
			call: func(h *Handle) (any, error) { return h.AddMacvlan(2, "mv0", mvMAC, 1701) },
			answers: []func(netlink.Message) ([]netlink.Message, error){
				fail(unix.EEXIST), reply(rtmNewLink, marshalLink(macvlan))},
			want: []request{
				{rtmNewLink, reqCreate, "00000000 00000000 00000000 00000000" +
					"08000300 6d763000 08000500 02000000 0a000100 02000000 01050000 08001b00 a5060000" +
					"1c001280 0c000100 6d616376 6c616e00 0c000280 08000100 04000000"},
				{rtmGetLink, netlink.Request, "00000000 00000000 00000000 00000000 08000300 6d763000"},
			},
			wantRes: macvlan,
		},
		{
			name: "add macvlan clashing with another address",
			call: func(h *Handle) (any, error) {
				return h.AddMacvlan(2, "mv0", net.HardwareAddr{2, 0, 0, 0, 1, 6}, 1701)
			},
			answers: []func(netlink.Message) ([]netlink.Message, error){
				fail(unix.EEXIST), reply(rtmNewLink, marshalLink(macvlan))},
			want: []request{
				{rtmNewLink, reqCreate, "00000000 00000000 00000000 00000000" +
					"08000300 6d763000 08000500 02000000 0a000100 02000000 01060000 08001b00 a5060000" +
					"1c001280 0c000100 6d616376 6c616e00 0c000280 08000100 04000000"},
				{rtmGetLink, netlink.Request, "00000000 00000000 00000000 00000000 08000300 6d763000"},
			},
			wantRes: Link{},
			wantErr: unix.EEXIST,
		},
		{
			name:    "add macvlan with a busy address",
			call:    func(h *Handle) (any, error) { return h.AddMacvlan(2, "mv0", mvMAC, 1701) },
			answers: []func(netlink.Message) ([]netlink.Message, error){fail(unix.EADDRINUSE)},
			want: []request{
				{rtmNewLink, reqCreate, "00000000 00000000 00000000 00000000" +
					"08000300 6d763000 08000500 02000000 0a000100 02000000 01050000 08001b00 a5060000" +
					"1c001280 0c000100 6d616376 6c616e00 0c000280 08000100 04000000"},
			},
			wantRes: Link{},
			wantErr: unix.EADDRINUSE,
		},
		{
			name:    "add macvlan with a group address",
			call:    func(h *Handle) (any, error) { return h.AddMacvlan(2, "mv0", net.HardwareAddr{1, 0, 0x5e, 0, 0, 1}, 0) },
			wantRes: Link{},
			wantErr: errAny,
		},
		{
			name: "add veth",
			call: func(h *Handle) (any, error) { return h.AddVeth("va", "vb") },
			answers: []func(netlink.Message) ([]netlink.Message, error){
				ack, reply(rtmNewLink, marshalLink(Link{Index: 3, Name: "va", Kind: "veth"}))},
			want: []request{
				{rtmNewLink, reqCreate, "00000000 00000000 00000000 00000000" +
					"07000300 76610000" + // IFLA_IFNAME "va"
					"30001280" + // IFLA_LINKINFO
					"09000100 76657468 00000000" + // IFLA_INFO_KIND "veth"
					"20000280" + // IFLA_INFO_DATA
					"1c000100" + // VETH_INFO_PEER: ifinfomsg + IFLA_IFNAME "vb"
					"00000000 00000000 00000000 00000000 07000300 76620000"},
				{rtmGetLink, netlink.Request, "00000000 00000000 00000000 00000000 07000300 76610000"},
			},
			wantRes: Link{Index: 3, Name: "va", Kind: "veth"},
		},
		{
			name: "add v4 point-to-point address",
			call: func(h *Handle) (any, error) {
				return nil, h.AddAddr(5, Addr{Local: netip.MustParsePrefix("10.0.0.1/32"), Peer: netip.MustParseAddr("10.0.0.2")})
			},
			answers: []func(netlink.Message) ([]netlink.Message, error){ack},
			want: []request{{rtmNewAddr, reqReplace, "02200000 05000000" +
				"08000200 0a000001" + // IFA_LOCAL
				"08000100 0a000002" + // IFA_ADDRESS (peer)
				"08000800 00000000"}}, // IFA_FLAGS
		},
		{
			name: "add v6 address",
			call: func(h *Handle) (any, error) {
				return nil, h.AddAddr(5, Addr{Local: netip.MustParsePrefix("2001:db8::1/64")})
			},
			answers: []func(netlink.Message) ([]netlink.Message, error){ack},
			want: []request{{rtmNewAddr, reqReplace, "0a400200 05000000" + // IFA_F_NODAD
				"14000200 20010db8 00000000 00000000 00000001" +
				"14000100 20010db8 00000000 00000000 00000001" +
				"08000800 02000000"}},
		},
		{
			name: "delete absent address",
			call: func(h *Handle) (any, error) {
				return nil, h.DelAddr(5, Addr{Local: netip.MustParsePrefix("10.0.0.1/24")})
			},
			answers: []func(netlink.Message) ([]netlink.Message, error){fail(unix.EADDRNOTAVAIL)},
			want: []request{{rtmDelAddr, reqAck, "02180000 05000000" +
				"08000200 0a000001 08000100 0a000001 08000800 00000000"}},
		},
		{
			name: "add address to absent link",
			call: func(h *Handle) (any, error) {
				return nil, h.AddAddr(5, Addr{Local: netip.MustParsePrefix("10.0.0.1/24")})
			},
			answers: []func(netlink.Message) ([]netlink.Message, error){fail(unix.ENODEV)},
			want: []request{{rtmNewAddr, reqReplace, "02180000 05000000" +
				"08000200 0a000001 08000100 0a000001 08000800 00000000"}},
			wantErr: unix.ENODEV,
		},
		{
			name: "addresses",
			call: func(h *Handle) (any, error) { return h.Addrs(5) },
			answers: []func(netlink.Message) ([]netlink.Message, error){reply(rtmNewAddr,
				mustEncodeAddr(5, Addr{Local: netip.MustParsePrefix("10.0.0.1/32"), Peer: netip.MustParseAddr("10.0.0.2")}),
				mustEncodeAddr(6, Addr{Local: netip.MustParsePrefix("10.9.0.1/24")}),
				// The kernel reports an IPv6 address in IFA_ADDRESS alone.
				unhex("0a400000 05000000 14000100 fe800000 00000000 00000000 00000001"),
			)},
			want: []request{{rtmGetAddr, reqDump, "00000000 00000000"}},
			wantRes: []Addr{
				{Local: netip.MustParsePrefix("10.0.0.1/32"), Peer: netip.MustParseAddr("10.0.0.2")},
				{Local: netip.MustParsePrefix("fe80::1/64")},
			},
		},
		{
			name: "replace route",
			call: func(h *Handle) (any, error) {
				return nil, h.ReplaceRoute(Route{Dst: netip.MustParsePrefix("192.0.2.9/24"), Dev: 3,
					Src: netip.MustParseAddr("10.0.0.1"), Metric: 7})
			},
			answers: []func(netlink.Message) ([]netlink.Message, error){ack},
			want: []request{{rtmNewRoute, reqReplace, "02180000 fe04fd01 00000000" +
				"08000100 c0000200" + // RTA_DST (masked)
				"08000400 03000000" + // RTA_OIF
				"08000700 0a000001" + // RTA_PREFSRC
				"08000600 07000000" + // RTA_PRIORITY
				"08000f00 fe000000"}}, // RTA_TABLE main
		},
		{
			name: "replace default route via gateway in a big table",
			call: func(h *Handle) (any, error) {
				return nil, h.ReplaceRoute(Route{Dst: netip.MustParsePrefix("0.0.0.0/0"),
					Gateway: netip.MustParseAddr("10.0.0.2"), Table: 1000})
			},
			answers: []func(netlink.Message) ([]netlink.Message, error){ack},
			want: []request{{rtmNewRoute, reqReplace, "02000000 00040001 00000000" +
				"08000500 0a000002" + // RTA_GATEWAY
				"08000f00 e8030000"}}, // RTA_TABLE 1000
		},
		{
			name: "delete absent route",
			call: func(h *Handle) (any, error) {
				return nil, h.DelRoute(Route{Dst: netip.MustParsePrefix("2001:db8::/32"), Dev: 3})
			},
			answers: []func(netlink.Message) ([]netlink.Message, error){fail(unix.ESRCH)},
			want: []request{{rtmDelRoute, reqAck, "0a200000 fe04fd01 00000000" +
				"14000100 20010db8 00000000 00000000 00000000" +
				"08000400 03000000 08000f00 fe000000"}},
		},
		{
			name: "routes",
			call: func(h *Handle) (any, error) { return h.Routes(3) },
			answers: []func(netlink.Message) ([]netlink.Message, error){reply(rtmNewRoute,
				mustEncodeRoute(Route{Dst: netip.MustParsePrefix("192.0.2.0/24"), Dev: 3, Metric: 5}),
				mustEncodeRoute(Route{Dst: netip.MustParsePrefix("198.51.100.0/24"), Dev: 4}),
				// A local route (RTN_LOCAL) is not reported.
				unhex("0220 0000 ff02 fe02 00000000 08000100 0a000001 08000400 03000000"),
			)},
			want: []request{{rtmGetRoute, reqDump, "00000000 00000000 00000000"}},
			wantRes: []Route{
				{Dst: netip.MustParsePrefix("192.0.2.0/24"), Dev: 3, Metric: 5, Table: 254},
			},
		},
		{
			name: "bad route",
			call: func(h *Handle) (any, error) {
				return nil, h.ReplaceRoute(Route{Dst: netip.MustParsePrefix("192.0.2.0/24"),
					Gateway: netip.MustParseAddr("2001:db8::1")})
			},
			wantErr: errAny,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []request
			c := nltest.Dial(func(reqs []netlink.Message) ([]netlink.Message, error) {
				req := reqs[0]
				got = append(got, request{req.Header.Type, req.Header.Flags, hex.EncodeToString(req.Data)})
				if len(got) > len(tt.answers) {
					t.Fatalf("unexpected request %d: %+v", len(got), got[len(got)-1])
				}
				return tt.answers[len(got)-1](req)
			})
			h := newHandle(c)
			defer h.Close()
			res, err := tt.call(h)
			switch {
			case tt.wantErr == errAny:
				if err == nil {
					t.Fatal("no error")
				}
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error %v, want one wrapping %v", err, tt.wantErr)
				}
			case err != nil:
				t.Fatalf("error: %v", err)
			}
			if err != nil {
				var oe *kernel.OpError
				if !errors.As(err, &oe) {
					t.Errorf("error %T is not a *kernel.OpError", err)
				}
			}
			want := tt.want
			for i := range want {
				want[i].Data = strings.Join(strings.Fields(want[i].Data), "")
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
			if tt.wantRes != nil {
				if diff := cmp.Diff(tt.wantRes, res, cmpNetip); diff != "" {
					t.Errorf("result (-want +got):\n%s", diff)
				}
			}
		})
	}
}

var errAny = errors.New("any error")

// cmpNetip compares netip values by value (their fields are unexported).
var cmpNetip = cmp.Options{
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
}

func mustEncodeAddr(idx int, a Addr) []byte {
	b, err := encodeAddr(idx, a)
	if err != nil {
		panic(err)
	}
	return b
}

func mustEncodeRoute(r Route) []byte {
	b, err := encodeRoute(r)
	if err != nil {
		panic(err)
	}
	return b
}

func TestIsNotExist(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"enodev alone", unix.ENODEV, false},
		{"marked", &kernel.OpError{Op: "get link", Err: errNotExist{unix.ENODEV}}, true},
		{"os", os.ErrNotExist, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsNotExist(tt.err); got != tt.want {
				t.Errorf("IsNotExist(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
	if err := (errNotExist{unix.ENODEV}); !errors.Is(err, unix.ENODEV) {
		t.Errorf("%v does not match ENODEV", err)
	}
}

// Golden kernel messages, as `ip monitor` / strace show them on x86-64.
var (
	goldenLink = unhex("00000100 01000000 43100100 00000000" + // lo, UP|LOOPBACK|RUNNING|LOWER_UP
		"07000300 6c6f0000" + // IFLA_IFNAME "lo"
		"08000400 00000100" + // IFLA_MTU 65536
		"08001b00 00000000" + // IFLA_GROUP 0
		"05001000 00000000" + // IFLA_OPERSTATE unknown
		"0a000100 00000000 00000000") // IFLA_ADDRESS 00:00:00:00:00:00
	goldenTunLink = unhex("00000000 07000000 91100000 00000000" +
		"0b000300 70726f62 6f783000" + // "probox0"
		"08000400 dc050000" + // MTU 1500
		"08001b00 2a000000" + // group 42
		"05001000 06000000" + // IFLA_OPERSTATE up
		"10001200 08000100 74756e00 04000200") // IFLA_LINKINFO { KIND "tun", DATA {} }
	// A vlan link as kernels before 3.10 report it: no IFLA_VLAN_PROTOCOL (802.1Q).
	goldenVLANLink = marshalLink(Link{Index: 9, Name: "eth0.7", MTU: 1500, Kind: "vlan", ParentIndex: 2, VLANID: 7,
		HardwareAddr: net.HardwareAddr{2, 0, 0, 0, 0, 1}})
	// An 802.1ad (QinQ service tag) vlan link: IFLA_INFO_DATA { IFLA_VLAN_ID 10,
	// IFLA_VLAN_PROTOCOL 0x88a8 }.
	goldenSVLANLink = unhex("00000000 0a000000 00000000 00000000" +
		"0d000300 65746830 2e733130 00000000" + // "eth0.s10"
		"08000400 dc050000" + // MTU 1500
		"08000500 02000000" + // IFLA_LINK 2
		"24001200 09000100 766c616e 00000000" + // IFLA_LINKINFO { KIND "vlan",
		"14000200 06000100 0a000000 06000500 88a80000") // DATA { ID 10, PROTOCOL 0x88a8 } }
	// A veth with an up macvlan on it: promiscuity 1 (IFLA_PROMISCUITY).
	goldenPromiscLink = unhex("00000000 04000000 43110100 00000000" +
		"09000300 6c6f7765 72000000" + // "lower"
		"08000400 dc050000" + // MTU 1500
		"08001e00 01000000" + // IFLA_PROMISCUITY 1
		"0c001200 08000100 76657468") // IFLA_LINKINFO { KIND "veth" }
	goldenAddrV4 = unhex("02200000 05000000 08000200 0a000001 08000100 0a000002 08000800 00000000")
	goldenAddrV6 = unhex("0a408000 02000000 14000100 fe800000 00000000 00000000 00000001" +
		"14000600 ffffffff ffffffff 01000000 01000000 08000800 80000000")
	goldenRouteV4 = unhex("02180000 fe04fd01 00000000 08000f00 fe000000 08000100 c0000200 08000400 03000000")
	goldenRouteV6 = unhex("0a000000 fe030001 00000000 08000f00 fe000000 08000600 00040000" +
		"14000500 fe800000 00000000 00000000 00000001 08000400 02000000")
)

func TestParseLink(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		want    Link
		wantErr bool
	}{
		{name: "loopback", in: goldenLink, want: Link{Index: 1, Name: "lo", MTU: 65536, Up: true,
			HardwareAddr: net.HardwareAddr{0, 0, 0, 0, 0, 0}}},
		{name: "tun", in: goldenTunLink, want: Link{Index: 7, Name: "probox0", MTU: 1500, Up: true, Group: 42, Kind: "tun", OperState: OperUp}},
		{name: "promiscuous", in: goldenPromiscLink, want: Link{Index: 4, Name: "lower", MTU: 1500, Up: true, Kind: "veth", Promiscuity: 1}},
		{name: "vlan", in: goldenVLANLink, want: Link{Index: 9, Name: "eth0.7", MTU: 1500, Kind: "vlan", ParentIndex: 2,
			VLANID: 7, VLANProtocol: VLAN8021Q, HardwareAddr: net.HardwareAddr{2, 0, 0, 0, 0, 1}}},
		{name: "802.1ad vlan", in: goldenSVLANLink, want: Link{Index: 10, Name: "eth0.s10", MTU: 1500, Kind: "vlan", ParentIndex: 2,
			VLANID: 10, VLANProtocol: VLAN8021AD}},
		{name: "short header", in: goldenLink[:15], wantErr: true},
		{name: "truncated attribute", in: goldenLink[:22], wantErr: true},
		{name: "short mtu", in: unhex("00000000 01000000 00000000 00000000 06000400 0100 0000"), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseLink(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want error: %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseAddr(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		wantIdx int
		want    Addr
		wantErr bool
	}{
		{name: "v4 peer", in: goldenAddrV4, wantIdx: 5,
			want: Addr{Local: netip.MustParsePrefix("10.0.0.1/32"), Peer: netip.MustParseAddr("10.0.0.2")}},
		{name: "v6 link-local", in: goldenAddrV6, wantIdx: 2, want: Addr{Local: netip.MustParsePrefix("fe80::1/64")}},
		{name: "short", in: goldenAddrV4[:7], wantErr: true},
		{name: "no address", in: goldenAddrV4[:8], wantErr: true},
		{name: "prefix too long", in: unhex("02210000 05000000 08000200 0a000001"), wantErr: true},
		{name: "v6 address in v4 message", in: unhex("02200000 05000000 14000100 fe800000 00000000 00000000 00000001"),
			wantErr: true},
		{name: "unknown family", in: unhex("07200000 05000000"), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idx, got, err := parseAddr(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want error: %v", err, tt.wantErr)
			}
			if idx != tt.wantIdx {
				t.Errorf("index %d, want %d", idx, tt.wantIdx)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
				cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseRoute(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		want    Route
		wantErr bool
	}{
		{name: "v4", in: goldenRouteV4, want: Route{Dst: netip.MustParsePrefix("192.0.2.0/24"), Dev: 3, Table: 254}},
		{name: "v6 default via link-local", in: goldenRouteV6, want: Route{Dst: netip.MustParsePrefix("::/0"), Dev: 2,
			Gateway: netip.MustParseAddr("fe80::1"), Table: 254, Metric: 1024}},
		{name: "short", in: goldenRouteV4[:11], wantErr: true},
		{name: "dst too long", in: unhex("02210000 fe04fd01 00000000"), wantErr: true},
		{name: "v6 dst in v4 route", in: unhex("02200000 fe04fd01 00000000 14000100 20010db8 00000000 00000000 00000000"),
			wantErr: true},
		{name: "bad gateway", in: unhex("02000000 fe04fd01 00000000 05000500 0a000000"), wantErr: true},
	}
	cmpAddr := cmp.Options{cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
		cmp.Comparer(func(a, b netip.Addr) bool { return a == b })}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := parseRoute(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want error: %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if diff := cmp.Diff(tt.want, got, cmpAddr); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParseLink(f *testing.F) {
	for _, b := range [][]byte{goldenLink, goldenTunLink, goldenVLANLink, goldenSVLANLink, goldenPromiscLink} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		l1, err := parseLink(b)
		if err != nil {
			return
		}
		l2, err := parseLink(marshalLink(l1))
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if diff := cmp.Diff(l1, l2); diff != "" {
			t.Errorf("round trip (-first +second):\n%s", diff)
		}
	})
}

func FuzzParseAddr(f *testing.F) {
	for _, b := range [][]byte{goldenAddrV4, goldenAddrV6, mustEncodeAddr(1, Addr{Local: netip.MustParsePrefix("2001:db8::1/128"),
		Peer: netip.MustParseAddr("2001:db8::2")})} {
		f.Add(b)
	}
	cmpAddr := cmp.Options{cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
		cmp.Comparer(func(a, b netip.Addr) bool { return a == b })}
	f.Fuzz(func(t *testing.T, b []byte) {
		idx, a1, err := parseAddr(b)
		if err != nil {
			return
		}
		enc, err := encodeAddr(idx, a1)
		if err != nil {
			t.Fatalf("encode %+v: %v", a1, err)
		}
		idx2, a2, err := parseAddr(enc)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if idx2 != idx {
			t.Errorf("index %d, then %d", idx, idx2)
		}
		if diff := cmp.Diff(a1, a2, cmpAddr); diff != "" {
			t.Errorf("round trip (-first +second):\n%s", diff)
		}
	})
}

func FuzzParseRoute(f *testing.F) {
	for _, b := range [][]byte{goldenRouteV4, goldenRouteV6, mustEncodeRoute(Route{Dst: netip.MustParsePrefix("0.0.0.0/0"),
		Gateway: netip.MustParseAddr("10.0.0.2"), Src: netip.MustParseAddr("10.0.0.1"), Table: 1000, Metric: 3})} {
		f.Add(b)
	}
	cmpAddr := cmp.Options{cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
		cmp.Comparer(func(a, b netip.Addr) bool { return a == b })}
	f.Fuzz(func(t *testing.T, b []byte) {
		r1, hdr, err := parseRoute(b)
		if err != nil || (hdr.Family != afInet && hdr.Family != afInet6) {
			return
		}
		r1.Dst = r1.Dst.Masked()
		if r1.Table == 0 {
			r1.Table = rtTableMain
		}
		enc, err := encodeRoute(r1)
		if err != nil {
			t.Fatalf("encode %+v: %v", r1, err)
		}
		r2, _, err := parseRoute(enc)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if diff := cmp.Diff(r1, r2, cmpAddr); diff != "" {
			t.Errorf("round trip (-first +second):\n%s", diff)
		}
	})
}
