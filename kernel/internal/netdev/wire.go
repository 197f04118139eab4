package netdev

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"

	"github.com/mdlayher/netlink"
)

// rtnetlink constants (include/uapi/linux/rtnetlink.h, if_link.h, if_addr.h, veth.h,
// socket.h, if.h). They are spelled out here so that the codec builds on every platform.
const (
	familyRoute = 0 // NETLINK_ROUTE

	afUnspec = 0
	afInet   = 2
	afInet6  = 10

	rtmNewLink  = 16
	rtmDelLink  = 17
	rtmGetLink  = 18
	rtmSetLink  = 19
	rtmNewAddr  = 20
	rtmDelAddr  = 21
	rtmGetAddr  = 22
	rtmNewRoute = 24
	rtmDelRoute = 25
	rtmGetRoute = 26

	iffUp = 0x1 // IFF_UP

	iflaAddress   = 1
	iflaIfname    = 3
	iflaMTU       = 4
	iflaLink      = 5
	iflaOperstate = 16
	iflaLinkinfo  = 18
	iflaGroup     = 27
	iflaPromisc   = 30 // IFLA_PROMISCUITY

	iflaInfoKind = 1
	iflaInfoData = 2
	iflaVLANID   = 1 // IFLA_VLAN_ID, inside IFLA_INFO_DATA of kind "vlan"
	iflaVLANProt = 5 // IFLA_VLAN_PROTOCOL (big-endian), inside IFLA_INFO_DATA of kind "vlan"
	vethInfoPeer = 1 // VETH_INFO_PEER, inside IFLA_INFO_DATA of kind "veth"

	iflaMacvlanMode   = 1 // IFLA_MACVLAN_MODE, inside IFLA_INFO_DATA of kind "macvlan"
	macvlanModeBridge = 4 // MACVLAN_MODE_BRIDGE

	ifaAddress = 1
	ifaLocal   = 2
	ifaFlags   = 8
	ifaFNoDAD  = 0x02 // IFA_F_NODAD

	rtaDst      = 1
	rtaOIF      = 4
	rtaGateway  = 5
	rtaPriority = 6
	rtaPrefSrc  = 7
	rtaMetrics  = 8
	rtaTable    = 15

	rtaxLock = 1 // RTAX_LOCK: bit 1<<RTAX_x locks metric x
	rtaxMTU  = 2 // RTAX_MTU

	rtnUnicast    = 1   // RTN_UNICAST
	rtprotStatic  = 4   // RTPROT_STATIC
	rtScopeUniv   = 0   // RT_SCOPE_UNIVERSE
	rtScopeLink   = 253 // RT_SCOPE_LINK
	rtTableUnspec = 0   // RT_TABLE_UNSPEC
	rtTableMain   = 254 // RT_TABLE_MAIN
	maxClassicTbl = 255 // tables above this only fit in RTA_TABLE
	ifNameSize    = 16  // IFNAMSIZ, including the terminating NUL
	sizeofIfInfo  = 16  // struct ifinfomsg
	sizeofIfAddr  = 8   // struct ifaddrmsg
	sizeofRtMsg   = 12  // struct rtmsg
	maxVLANID     = 4094
)

// ErrBadMessage is returned for an rtnetlink message whose fields make no sense (an
// address of the wrong length, a prefix longer than the address).
var ErrBadMessage = errors.New("netdev: malformed rtnetlink message")

var ne = binary.NativeEndian // netlink headers and attributes are in host byte order

// ifInfoMsg is struct ifinfomsg.
type ifInfoMsg struct {
	Family uint8
	Type   uint16
	Index  int32
	Flags  uint32
	Change uint32
}

func (m ifInfoMsg) append(b []byte) []byte {
	b = append(b, m.Family, 0)
	b = ne.AppendUint16(b, m.Type)
	b = ne.AppendUint32(b, uint32(m.Index))
	b = ne.AppendUint32(b, m.Flags)
	return ne.AppendUint32(b, m.Change)
}

func parseIfInfoMsg(b []byte) (ifInfoMsg, []byte, error) {
	if len(b) < sizeofIfInfo {
		return ifInfoMsg{}, nil, io.ErrUnexpectedEOF
	}
	m := ifInfoMsg{
		Family: b[0],
		Type:   ne.Uint16(b[2:]),
		Index:  int32(ne.Uint32(b[4:])),
		Flags:  ne.Uint32(b[8:]),
		Change: ne.Uint32(b[12:]),
	}
	return m, b[sizeofIfInfo:], nil
}

// ifAddrMsg is struct ifaddrmsg.
type ifAddrMsg struct {
	Family    uint8
	PrefixLen uint8
	Flags     uint8
	Scope     uint8
	Index     uint32
}

func (m ifAddrMsg) append(b []byte) []byte {
	b = append(b, m.Family, m.PrefixLen, m.Flags, m.Scope)
	return ne.AppendUint32(b, m.Index)
}

func parseIfAddrMsg(b []byte) (ifAddrMsg, []byte, error) {
	if len(b) < sizeofIfAddr {
		return ifAddrMsg{}, nil, io.ErrUnexpectedEOF
	}
	m := ifAddrMsg{Family: b[0], PrefixLen: b[1], Flags: b[2], Scope: b[3], Index: ne.Uint32(b[4:])}
	return m, b[sizeofIfAddr:], nil
}

// rtMsg is struct rtmsg.
type rtMsg struct {
	Family   uint8
	DstLen   uint8
	SrcLen   uint8
	TOS      uint8
	Table    uint8
	Protocol uint8
	Scope    uint8
	Type     uint8
	Flags    uint32
}

func (m rtMsg) append(b []byte) []byte {
	b = append(b, m.Family, m.DstLen, m.SrcLen, m.TOS, m.Table, m.Protocol, m.Scope, m.Type)
	return ne.AppendUint32(b, m.Flags)
}

func parseRtMsg(b []byte) (rtMsg, []byte, error) {
	if len(b) < sizeofRtMsg {
		return rtMsg{}, nil, io.ErrUnexpectedEOF
	}
	m := rtMsg{
		Family: b[0], DstLen: b[1], SrcLen: b[2], TOS: b[3],
		Table: b[4], Protocol: b[5], Scope: b[6], Type: b[7],
		Flags: ne.Uint32(b[8:]),
	}
	return m, b[sizeofRtMsg:], nil
}

// parseLink decodes an RTM_NEWLINK message body.
func parseLink(b []byte) (Link, error) {
	hdr, attrs, err := parseIfInfoMsg(b)
	if err != nil {
		return Link{}, err
	}
	l := Link{Index: int(hdr.Index), Up: hdr.Flags&iffUp != 0}
	ad, err := netlink.NewAttributeDecoder(attrs)
	if err != nil {
		return Link{}, err
	}
	for ad.Next() {
		switch ad.Type() {
		case iflaIfname:
			l.Name = ad.String()
		case iflaMTU:
			l.MTU = int(ad.Uint32())
		case iflaAddress:
			if b := ad.Bytes(); len(b) > 0 {
				l.HardwareAddr = net.HardwareAddr(b)
			}
		case iflaGroup:
			l.Group = ad.Uint32()
		case iflaLink:
			l.ParentIndex = int(ad.Uint32())
		case iflaOperstate:
			l.OperState = ad.Uint8()
		case iflaPromisc:
			l.Promiscuity = ad.Uint32()
		case iflaLinkinfo:
			ad.Nested(func(nad *netlink.AttributeDecoder) error {
				var data []byte
				for nad.Next() {
					switch nad.Type() {
					case iflaInfoKind:
						l.Kind = nad.String()
					case iflaInfoData:
						data = nad.Bytes()
					}
				}
				if l.Kind == "vlan" {
					l.VLANProtocol = VLAN8021Q
				}
				if l.Kind == "vlan" && data != nil {
					dd, err := netlink.NewAttributeDecoder(data)
					if err != nil {
						return err
					}
					for dd.Next() {
						switch dd.Type() {
						case iflaVLANID:
							l.VLANID = dd.Uint16()
						case iflaVLANProt:
							// Big-endian (nla_put_be16 in vlan_fill_info).
							if b := dd.Bytes(); len(b) == 2 && binary.BigEndian.Uint16(b) != 0 {
								l.VLANProtocol = binary.BigEndian.Uint16(b)
							}
						}
					}
					if err := dd.Err(); err != nil {
						return err
					}
				}
				return nad.Err()
			})
		}
	}
	if err := ad.Err(); err != nil {
		return Link{}, err
	}
	return l, nil
}

// addrFamily returns the address family of a and its length in bytes.
func addrFamily(a netip.Addr) (uint8, int, error) {
	switch {
	case a.Is4():
		return afInet, 4, nil
	case a.Is6() && !a.Is4In6():
		return afInet6, 16, nil
	}
	return 0, 0, fmt.Errorf("netdev: bad address %v", a)
}

// encodeAddr builds an RTM_NEWADDR/RTM_DELADDR body for a on interface idx. IPv6
// addresses get IFA_F_NODAD: probox's links are point-to-point or its own, and duplicate
// address detection would only delay them.
func encodeAddr(idx int, a Addr) ([]byte, error) {
	if !a.Local.IsValid() {
		return nil, fmt.Errorf("netdev: bad address prefix %v", a.Local)
	}
	local := a.Local.Addr()
	fam, _, err := addrFamily(local)
	if err != nil {
		return nil, err
	}
	peer := local
	if a.Peer.IsValid() {
		pf, _, err := addrFamily(a.Peer)
		if err != nil {
			return nil, err
		}
		if pf != fam {
			return nil, fmt.Errorf("netdev: peer %v and local %v differ in family", a.Peer, local)
		}
		peer = a.Peer
	}
	var flags uint32
	if fam == afInet6 {
		flags |= ifaFNoDAD
	}
	b := ifAddrMsg{
		Family:    fam,
		PrefixLen: uint8(a.Local.Bits()),
		Flags:     uint8(flags),
		Index:     uint32(idx),
	}.append(nil)
	ae := netlink.NewAttributeEncoder()
	// IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer of a
	// point-to-point address and equal to IFA_LOCAL otherwise (if_addr.h).
	ae.Bytes(ifaLocal, local.AsSlice())
	ae.Bytes(ifaAddress, peer.AsSlice())
	ae.Uint32(ifaFlags, flags)
	attrs, err := ae.Encode()
	if err != nil {
		return nil, err
	}
	return append(b, attrs...), nil
}

// parseAddr decodes an RTM_NEWADDR message body into the interface index and address.
func parseAddr(b []byte) (int, Addr, error) {
	hdr, attrs, err := parseIfAddrMsg(b)
	if err != nil {
		return 0, Addr{}, err
	}
	var alen, bits int
	switch hdr.Family {
	case afInet:
		alen, bits = 4, 32
	case afInet6:
		alen, bits = 16, 128
	default:
		return 0, Addr{}, fmt.Errorf("%w: address family %d", ErrBadMessage, hdr.Family)
	}
	if int(hdr.PrefixLen) > bits {
		return 0, Addr{}, fmt.Errorf("%w: prefix length %d", ErrBadMessage, hdr.PrefixLen)
	}
	ad, err := netlink.NewAttributeDecoder(attrs)
	if err != nil {
		return 0, Addr{}, err
	}
	var local, address netip.Addr
	for ad.Next() {
		switch ad.Type() {
		case ifaLocal, ifaAddress:
			v := ad.Bytes()
			if len(v) != alen {
				return 0, Addr{}, fmt.Errorf("%w: address of %d bytes", ErrBadMessage, len(v))
			}
			ip, _ := netip.AddrFromSlice(v)
			if ad.Type() == ifaLocal {
				local = ip
			} else {
				address = ip
			}
		}
	}
	if err := ad.Err(); err != nil {
		return 0, Addr{}, err
	}
	var a Addr
	switch {
	case local.IsValid():
		a.Local = netip.PrefixFrom(local, int(hdr.PrefixLen))
		if address.IsValid() && address != local {
			a.Peer = address
		}
	case address.IsValid():
		a.Local = netip.PrefixFrom(address, int(hdr.PrefixLen))
	default:
		return 0, Addr{}, fmt.Errorf("%w: address message without an address", ErrBadMessage)
	}
	return int(hdr.Index), a, nil
}

// encodeRoute builds an RTM_NEWROUTE/RTM_DELROUTE body for r.
func encodeRoute(r Route) ([]byte, error) {
	if !r.Dst.IsValid() {
		return nil, fmt.Errorf("netdev: bad route destination %v", r.Dst)
	}
	dst := r.Dst.Masked()
	fam, _, err := addrFamily(dst.Addr())
	if err != nil {
		return nil, err
	}
	for _, a := range []netip.Addr{r.Src, r.Gateway} {
		if !a.IsValid() {
			continue
		}
		af, _, err := addrFamily(a)
		if err != nil {
			return nil, err
		}
		if af != fam {
			return nil, fmt.Errorf("netdev: route %v: %v is of another family", dst, a)
		}
	}
	table := r.Table
	if table == 0 {
		table = rtTableMain
	}
	hdr := rtMsg{
		Family:   fam,
		DstLen:   uint8(dst.Bits()),
		Table:    uint8(table),
		Protocol: rtprotStatic,
		Scope:    rtScopeLink,
		Type:     rtnUnicast,
	}
	if table > maxClassicTbl {
		hdr.Table = rtTableUnspec
	}
	if r.Gateway.IsValid() {
		hdr.Scope = rtScopeUniv
	}
	b := hdr.append(nil)
	ae := netlink.NewAttributeEncoder()
	if dst.Bits() > 0 {
		ae.Bytes(rtaDst, dst.Addr().AsSlice())
	}
	if r.Dev != 0 {
		ae.Uint32(rtaOIF, uint32(r.Dev))
	}
	if r.Gateway.IsValid() {
		ae.Bytes(rtaGateway, r.Gateway.AsSlice())
	}
	if r.Src.IsValid() {
		ae.Bytes(rtaPrefSrc, r.Src.AsSlice())
	}
	if r.Metric != 0 {
		ae.Uint32(rtaPriority, r.Metric)
	}
	if r.MTU != 0 {
		// Locked, so that forwarding uses it too (ip_dst_mtu_maybe_forward).
		ae.Nested(rtaMetrics, func(ne *netlink.AttributeEncoder) error {
			ne.Uint32(rtaxLock, 1<<rtaxMTU)
			ne.Uint32(rtaxMTU, r.MTU)
			return nil
		})
	}
	ae.Uint32(rtaTable, table)
	attrs, err := ae.Encode()
	if err != nil {
		return nil, err
	}
	return append(b, attrs...), nil
}

// parseRoute decodes an RTM_NEWROUTE message body. It also returns the header, so that the
// caller can skip routes that are not IPv4/IPv6 unicast.
func parseRoute(b []byte) (Route, rtMsg, error) {
	hdr, attrs, err := parseRtMsg(b)
	if err != nil {
		return Route{}, rtMsg{}, err
	}
	var alen, bits int
	var zero netip.Addr
	switch hdr.Family {
	case afInet:
		alen, bits, zero = 4, 32, netip.IPv4Unspecified()
	case afInet6:
		alen, bits, zero = 16, 128, netip.IPv6Unspecified()
	default:
		// Other families (MPLS, ...) are not routes this package deals in.
		return Route{}, hdr, nil
	}
	if int(hdr.DstLen) > bits {
		return Route{}, hdr, fmt.Errorf("%w: destination length %d", ErrBadMessage, hdr.DstLen)
	}
	r := Route{Table: uint32(hdr.Table), Dst: netip.PrefixFrom(zero, int(hdr.DstLen))}
	ad, err := netlink.NewAttributeDecoder(attrs)
	if err != nil {
		return Route{}, hdr, err
	}
	addr := func() netip.Addr {
		v := ad.Bytes()
		if len(v) != alen {
			return netip.Addr{}
		}
		ip, _ := netip.AddrFromSlice(v)
		return ip
	}
	for ad.Next() {
		switch ad.Type() {
		case rtaDst:
			ip := addr()
			if !ip.IsValid() {
				return Route{}, hdr, fmt.Errorf("%w: bad RTA_DST", ErrBadMessage)
			}
			r.Dst = netip.PrefixFrom(ip, int(hdr.DstLen))
		case rtaOIF:
			r.Dev = int(ad.Uint32())
		case rtaGateway:
			// An IPv4 route may have an IPv6 next hop in RTA_VIA, never here; a
			// gateway of another length is malformed.
			if r.Gateway = addr(); !r.Gateway.IsValid() {
				return Route{}, hdr, fmt.Errorf("%w: bad RTA_GATEWAY", ErrBadMessage)
			}
		case rtaPrefSrc:
			if r.Src = addr(); !r.Src.IsValid() {
				return Route{}, hdr, fmt.Errorf("%w: bad RTA_PREFSRC", ErrBadMessage)
			}
		case rtaPriority:
			r.Metric = ad.Uint32()
		case rtaMetrics:
			ad.Nested(func(nd *netlink.AttributeDecoder) error {
				for nd.Next() {
					if nd.Type() == rtaxMTU {
						r.MTU = nd.Uint32()
					}
				}
				return nil
			})
		case rtaTable:
			r.Table = ad.Uint32()
		}
	}
	if err := ad.Err(); err != nil {
		return Route{}, hdr, err
	}
	return r, hdr, nil
}

// checkIfName rejects names the kernel cannot hold.
func checkIfName(name string) error {
	if name == "" || len(name) >= ifNameSize {
		return fmt.Errorf("netdev: bad interface name %q (1 to %d bytes)", name, ifNameSize-1)
	}
	return nil
}
