package linux

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"syscall"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"

	"github.com/probox/probox/kernel"
)

// The generic netlink family "l2tp" (include/uapi/linux/l2tp.h, net/l2tp/l2tp_netlink.c).
const l2tpFamily = "l2tp"

// Commands.
const (
	cmdTunnelCreate  = 1
	cmdTunnelDelete  = 2
	cmdTunnelGet     = 4
	cmdSessionCreate = 5
	cmdSessionDelete = 6
	cmdSessionModify = 7
	cmdSessionGet    = 8
)

// Attributes (L2TP_ATTR_*).
const (
	attrPWType        = 1  // u16, enum l2tp_pwtype
	attrEncapType     = 2  // u16, enum l2tp_encap_type
	attrL2SpecType    = 5  // u8, enum l2tp_l2spec_type
	attrL2SpecLen     = 6  // u8 (ignored by kernels since 4.16, read by older ones)
	attrProtoVersion  = 7  // u8
	attrIfname        = 8  // string
	attrConnID        = 9  // u32
	attrPeerConnID    = 10 // u32
	attrSessionID     = 11 // u32
	attrPeerSessionID = 12 // u32
	attrUDPCsum       = 13 // u8
	attrCookie        = 15 // 0, 4 or 8 bytes
	attrPeerCookie    = 16 // 0, 4 or 8 bytes
	attrRecvSeq       = 18 // u8
	attrSendSeq       = 19 // u8
	attrLNSMode       = 20 // u8
	attrFD            = 23 // u32 (an int)
	attrIPSaddr       = 24 // be32
	attrIPDaddr       = 25 // be32
	attrUDPSport      = 26 // u16
	attrUDPDport      = 27 // u16
	attrStats         = 30 // nested L2TP_ATTR_STATS_*
	attrIP6Saddr      = 31 // struct in6_addr
	attrIP6Daddr      = 32 // struct in6_addr
)

// Attributes nested in attrStats (L2TP_ATTR_STATS_*); all u64.
const (
	statTxPackets        = 1
	statTxBytes          = 2
	statTxErrors         = 3
	statRxPackets        = 4
	statRxBytes          = 5
	statRxSeqDiscards    = 6
	statRxOOSPackets     = 7
	statRxErrors         = 8
	statRxCookieDiscards = 10 // not in older kernels (Debian's 6.1 has them)
	statRxInvalid        = 11
)

// Pseudowire types (enum l2tp_pwtype), L2-Specific Sublayer types (enum
// l2tp_l2spec_type) and encapsulations (enum l2tp_encap_type).
const (
	pwTypeEth     = 0x0005
	pwTypePPP     = 0x0007
	l2specNone    = 0
	l2specDefault = 1
	encapUDP      = 0
	encapIP       = 1
)

// tunnelSpec is a TUNNEL_CREATE request for a managed tunnel: one whose socket the data
// plane owns and passes by file descriptor (L2TP_ATTR_FD). The kernel takes addresses,
// ports and UDP checksum behaviour from that socket, so the address and UDP_CSUM
// attributes (which only unmanaged tunnels read) are not sent.
type tunnelSpec struct {
	ID, PeerID uint32
	Version    uint8
	Encap      uint16
	FD         int
}

// tunnelInfo is a tunnel as TUNNEL_GET reports it.
type tunnelInfo struct {
	ID, PeerID  uint32
	Version     uint8
	Encap       uint16
	Local, Peer netip.AddrPort // the socket's addresses; the ports only for UDP
	UDPCsum     bool
	Stats       l2tpStats
}

// sessionSpec is a SESSION_CREATE request. L2Spec, Cookie, PeerCookie and IfName are sent
// only for L2TPv3 (the kernel reads them only then). Cookie and PeerCookie mean what they
// mean in kernel.SessionConfig (Cookie: the peer puts it on the packets it sends us;
// PeerCookie: we put it on ours), which is the reverse of the attribute names: the kernel
// sends L2TP_ATTR_COOKIE on every data packet and checks L2TP_ATTR_PEER_COOKIE on every
// received one (l2tp_core.c: l2tp_build_l2tpv3_header, l2tp_recv_common).
type sessionSpec struct {
	Version                   uint8
	TunnelID, ID, PeerID      uint32
	PWType                    uint16
	L2Spec                    uint8
	Cookie, PeerCookie        []byte
	IfName                    string
	RecvSeq, SendSeq, LNSMode bool
}

// sessionModify is a SESSION_MODIFY request: the parameters the kernel changes in place.
type sessionModify struct {
	TunnelID, ID              uint32
	RecvSeq, SendSeq, LNSMode bool
}

// sessionInfo is a session as SESSION_GET reports it. Cookie and PeerCookie are as in
// sessionSpec.
type sessionInfo struct {
	TunnelID, ID, PeerTunnelID, PeerID uint32
	PWType                             uint16
	IfName                             string
	Cookie, PeerCookie                 []byte
	RecvSeq, SendSeq, LNSMode          bool
	Stats                              l2tpStats
}

// l2tpStats are the counters of L2TP_ATTR_STATS.
type l2tpStats struct {
	TxPackets, TxBytes, TxErrors          uint64
	RxPackets, RxBytes                    uint64
	RxSeqDiscards, RxOOSPackets, RxErrors uint64
	RxCookieDiscards, RxInvalid           uint64
}

// counters maps the kernel's counters to kernel.Counters. Receive errors (which on
// kernels without the cookie counter include cookie mismatches and, without reordering,
// out-of-sequence discards) and invalid packets count as malformed; RxOOSPackets counts
// packets that arrived out of order and were queued for reordering, not dropped, so it is
// not a drop.
func (s l2tpStats) counters() kernel.Counters {
	c := kernel.Counters{
		RxPackets: s.RxPackets, RxBytes: s.RxBytes,
		TxPackets: s.TxPackets, TxBytes: s.TxBytes,
	}
	c.Drops[kernel.DropSequence] = s.RxSeqDiscards
	c.Drops[kernel.DropCookie] = s.RxCookieDiscards
	c.Drops[kernel.DropMalformed] = s.RxErrors + s.RxInvalid
	c.Drops[kernel.DropWrite] = s.TxErrors
	return c
}

func boolU8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

func encodeTunnelCreate(s tunnelSpec) ([]byte, error) {
	ae := netlink.NewAttributeEncoder()
	ae.Uint32(attrConnID, s.ID)
	ae.Uint32(attrPeerConnID, s.PeerID)
	ae.Uint8(attrProtoVersion, s.Version)
	ae.Uint16(attrEncapType, s.Encap)
	ae.Uint32(attrFD, uint32(s.FD))
	return ae.Encode()
}

func encodeTunnelID(id uint32) ([]byte, error) {
	ae := netlink.NewAttributeEncoder()
	ae.Uint32(attrConnID, id)
	return ae.Encode()
}

func encodeSessionCreate(s sessionSpec) ([]byte, error) {
	ae := netlink.NewAttributeEncoder()
	ae.Uint32(attrConnID, s.TunnelID)
	ae.Uint32(attrSessionID, s.ID)
	ae.Uint32(attrPeerSessionID, s.PeerID)
	ae.Uint16(attrPWType, s.PWType)
	if s.Version == 3 {
		ae.Uint8(attrL2SpecType, s.L2Spec)
		l2len := uint8(0)
		if s.L2Spec == l2specDefault {
			l2len = 4
		}
		ae.Uint8(attrL2SpecLen, l2len)
		// The kernel sends L2TP_ATTR_COOKIE and checks L2TP_ATTR_PEER_COOKIE (see sessionSpec).
		if len(s.PeerCookie) > 0 {
			ae.Bytes(attrCookie, s.PeerCookie)
		}
		if len(s.Cookie) > 0 {
			ae.Bytes(attrPeerCookie, s.Cookie)
		}
		if s.IfName != "" {
			ae.String(attrIfname, s.IfName)
		}
	}
	ae.Uint8(attrRecvSeq, boolU8(s.RecvSeq))
	ae.Uint8(attrSendSeq, boolU8(s.SendSeq))
	ae.Uint8(attrLNSMode, boolU8(s.LNSMode))
	return ae.Encode()
}

func encodeSessionModify(m sessionModify) ([]byte, error) {
	ae := netlink.NewAttributeEncoder()
	ae.Uint32(attrConnID, m.TunnelID)
	ae.Uint32(attrSessionID, m.ID)
	ae.Uint8(attrRecvSeq, boolU8(m.RecvSeq))
	ae.Uint8(attrSendSeq, boolU8(m.SendSeq))
	ae.Uint8(attrLNSMode, boolU8(m.LNSMode))
	return ae.Encode()
}

func encodeSessionID(tunnelID, sessionID uint32) ([]byte, error) {
	ae := netlink.NewAttributeEncoder()
	ae.Uint32(attrConnID, tunnelID)
	ae.Uint32(attrSessionID, sessionID)
	return ae.Encode()
}

// decodeStats returns a function that decodes the attributes nested in L2TP_ATTR_STATS
// into s.
func decodeStats(s *l2tpStats) func(*netlink.AttributeDecoder) error {
	return func(ad *netlink.AttributeDecoder) error {
		for ad.Next() {
			var p *uint64
			switch ad.Type() {
			case statTxPackets:
				p = &s.TxPackets
			case statTxBytes:
				p = &s.TxBytes
			case statTxErrors:
				p = &s.TxErrors
			case statRxPackets:
				p = &s.RxPackets
			case statRxBytes:
				p = &s.RxBytes
			case statRxSeqDiscards:
				p = &s.RxSeqDiscards
			case statRxOOSPackets:
				p = &s.RxOOSPackets
			case statRxErrors:
				p = &s.RxErrors
			case statRxCookieDiscards:
				p = &s.RxCookieDiscards
			case statRxInvalid:
				p = &s.RxInvalid
			default:
				continue // L2TP_ATTR_STATS_PAD and future counters
			}
			*p = ad.Uint64()
		}
		return ad.Err()
	}
}

// addrAttr decodes an address attribute of n bytes (4: in_addr, 16: in6_addr).
func addrAttr(ad *netlink.AttributeDecoder, n int) netip.Addr {
	b := ad.Bytes()
	if len(b) != n {
		return netip.Addr{}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// parseTunnel decodes the attributes of a TUNNEL_GET reply.
func parseTunnel(b []byte) (tunnelInfo, error) {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return tunnelInfo{}, err
	}
	var (
		t            tunnelInfo
		local, peer  netip.Addr
		sport, dport uint16
	)
	for ad.Next() {
		switch ad.Type() {
		case attrConnID:
			t.ID = ad.Uint32()
		case attrPeerConnID:
			t.PeerID = ad.Uint32()
		case attrProtoVersion:
			t.Version = ad.Uint8()
		case attrEncapType:
			t.Encap = ad.Uint16()
		case attrUDPCsum:
			t.UDPCsum = ad.Uint8() != 0
		case attrUDPSport:
			sport = ad.Uint16()
		case attrUDPDport:
			dport = ad.Uint16()
		case attrIPSaddr:
			local = addrAttr(ad, 4)
		case attrIPDaddr:
			peer = addrAttr(ad, 4)
		case attrIP6Saddr:
			local = addrAttr(ad, 16)
		case attrIP6Daddr:
			peer = addrAttr(ad, 16)
		case attrStats:
			ad.Nested(decodeStats(&t.Stats))
		}
	}
	if err := ad.Err(); err != nil {
		return tunnelInfo{}, err
	}
	if local.IsValid() {
		t.Local = netip.AddrPortFrom(local, sport)
	}
	if peer.IsValid() {
		t.Peer = netip.AddrPortFrom(peer, dport)
	}
	return t, nil
}

// parseSession decodes the attributes of a SESSION_GET reply.
func parseSession(b []byte) (sessionInfo, error) {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return sessionInfo{}, err
	}
	var s sessionInfo
	for ad.Next() {
		switch ad.Type() {
		case attrConnID:
			s.TunnelID = ad.Uint32()
		case attrSessionID:
			s.ID = ad.Uint32()
		case attrPeerConnID:
			s.PeerTunnelID = ad.Uint32()
		case attrPeerSessionID:
			s.PeerID = ad.Uint32()
		case attrPWType:
			s.PWType = ad.Uint16()
		case attrIfname:
			s.IfName = ad.String()
		case attrCookie: // the cookie the kernel sends (see sessionSpec)
			s.PeerCookie = append([]byte(nil), ad.Bytes()...)
		case attrPeerCookie: // the cookie the kernel checks
			s.Cookie = append([]byte(nil), ad.Bytes()...)
		case attrRecvSeq:
			s.RecvSeq = ad.Uint8() != 0
		case attrSendSeq:
			s.SendSeq = ad.Uint8() != 0
		case attrLNSMode:
			s.LNSMode = ad.Uint8() != 0
		case attrStats:
			ad.Nested(decodeStats(&s.Stats))
		}
	}
	if err := ad.Err(); err != nil {
		return sessionInfo{}, err
	}
	return s, nil
}

// genl is a client of the generic netlink family "l2tp". Its methods are safe for
// concurrent use (genetlink.Conn serialises requests).
type genl struct {
	c      *genetlink.Conn
	family genetlink.Family
}

// errNoFamily says that the l2tp_netlink module is not loaded.
var errNoFamily = errors.New("generic netlink family l2tp is not registered (load the l2tp_netlink module)")

// newGenl resolves the family on c. It takes ownership of c.
func newGenl(c *genetlink.Conn) (*genl, error) {
	f, err := c.GetFamily(l2tpFamily)
	if err != nil {
		c.Close()
		if errors.Is(err, os.ErrNotExist) {
			err = errNoFamily
		}
		return nil, &kernel.OpError{Op: "resolve generic netlink family", Object: l2tpFamily, Err: unwrapNetlink(err)}
	}
	return &genl{c: c, family: f}, nil
}

func (g *genl) close() error { return g.c.Close() }

// unwrapNetlink replaces a *netlink.OpError with its errno, keeping the kernel's extended
// acknowledgement message when there is one, so that errors.Is(err, unix.EEXIST) works
// and the text stays short.
func unwrapNetlink(err error) error {
	var oe *netlink.OpError
	if errors.As(err, &oe) {
		if oe.Message != "" {
			return fmt.Errorf("%w (%s)", oe.Err, oe.Message)
		}
		return oe.Err
	}
	return err
}

// execute sends one request of command cmd with the attributes b and returns the replies.
func (g *genl) execute(cmd uint8, flags netlink.HeaderFlags, b []byte) ([]genetlink.Message, error) {
	msgs, err := g.c.Execute(genetlink.Message{
		Header: genetlink.Header{Command: cmd, Version: g.family.Version},
		Data:   b,
	}, g.family.ID, netlink.Request|flags)
	return msgs, unwrapNetlink(err)
}

func tunnelObject(id uint32) string { return fmt.Sprintf("tunnel %d", id) }

func sessionObject(tid, sid uint32) string { return fmt.Sprintf("session %d/%d", tid, sid) }

// absent reports whether a genl error says that the tunnel or session does not exist
// (l2tp_netlink answers ENODEV).
func absent(err error) bool { return errors.Is(err, syscall.ENODEV) }

func (g *genl) createTunnel(s tunnelSpec) error {
	b, err := encodeTunnelCreate(s)
	if err == nil {
		_, err = g.execute(cmdTunnelCreate, netlink.Acknowledge, b)
	}
	return opErr("create kernel tunnel", tunnelObject(s.ID), err)
}

// deleteTunnel deletes tunnel id and its sessions; an absent tunnel is not an error.
func (g *genl) deleteTunnel(id uint32) error {
	b, err := encodeTunnelID(id)
	if err == nil {
		_, err = g.execute(cmdTunnelDelete, netlink.Acknowledge, b)
	}
	if absent(err) {
		return nil
	}
	return opErr("delete kernel tunnel", tunnelObject(id), err)
}

func (g *genl) getTunnel(id uint32) (tunnelInfo, error) {
	b, err := encodeTunnelID(id)
	var ts []tunnelInfo
	if err == nil {
		ts, err = query(g, cmdTunnelGet, 0, b, parseTunnel)
	}
	if err == nil {
		err = syscall.ENODEV
		for _, t := range ts {
			if t.ID == id {
				return t, nil
			}
		}
	}
	return tunnelInfo{}, opErr("get kernel tunnel", tunnelObject(id), err)
}

// tunnels dumps every tunnel of the network namespace.
func (g *genl) tunnels() ([]tunnelInfo, error) {
	ts, err := query(g, cmdTunnelGet, netlink.Dump, nil, parseTunnel)
	if err != nil {
		return nil, opErr("list kernel tunnels", "", err)
	}
	return ts, nil
}

// query runs cmd with the attributes b (flags 0 for one object, netlink.Dump for all)
// and parses every reply with parse.
func query[T any](g *genl, cmd uint8, flags netlink.HeaderFlags, b []byte, parse func([]byte) (T, error)) ([]T, error) {
	msgs, err := g.execute(cmd, flags, b)
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, len(msgs))
	for _, m := range msgs {
		v, err := parse(m.Data)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func (g *genl) createSession(s sessionSpec) error {
	b, err := encodeSessionCreate(s)
	if err == nil {
		_, err = g.execute(cmdSessionCreate, netlink.Acknowledge, b)
	}
	return opErr("create kernel session", sessionObject(s.TunnelID, s.ID), err)
}

func (g *genl) modifySession(m sessionModify) error {
	b, err := encodeSessionModify(m)
	if err == nil {
		_, err = g.execute(cmdSessionModify, netlink.Acknowledge, b)
	}
	return opErr("modify kernel session", sessionObject(m.TunnelID, m.ID), err)
}

// deleteSession deletes a session; an absent session (or tunnel) is not an error.
func (g *genl) deleteSession(tid, sid uint32) error {
	b, err := encodeSessionID(tid, sid)
	if err == nil {
		_, err = g.execute(cmdSessionDelete, netlink.Acknowledge, b)
	}
	if absent(err) {
		return nil
	}
	return opErr("delete kernel session", sessionObject(tid, sid), err)
}

func (g *genl) getSession(tid, sid uint32) (sessionInfo, error) {
	b, err := encodeSessionID(tid, sid)
	var ss []sessionInfo
	if err == nil {
		ss, err = query(g, cmdSessionGet, 0, b, parseSession)
	}
	if err == nil {
		err = syscall.ENODEV
		for _, s := range ss {
			if s.TunnelID == tid && s.ID == sid {
				return s, nil
			}
		}
	}
	return sessionInfo{}, opErr("get kernel session", sessionObject(tid, sid), err)
}

// sessions dumps every session of every tunnel of the network namespace.
func (g *genl) sessions() ([]sessionInfo, error) {
	ss, err := query(g, cmdSessionGet, netlink.Dump, nil, parseSession)
	if err != nil {
		return nil, opErr("list kernel sessions", "", err)
	}
	return ss, nil
}
