//go:build linux

package linux

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/probox/probox/kernel/internal/closeset"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/probox/probox/kernel"
	"github.com/probox/probox/kernel/internal/ethport"
	"github.com/probox/probox/kernel/internal/netdev"
)

// PPPoE ether types (RFC 2516 §4).
const (
	etherTypeDiscovery = 0x8863
	pppoeHeaderLen     = 6
	pppoeReservedSID   = 0xffff // RFC 2516 §4: never a session ID
)

// pppoeKey identifies a PPPoE session of a port: the VLAN tags, our MAC address (the
// interface's or an extra one), the peer's and the SESSION_ID (RFC 2516 §4).
type pppoeKey struct {
	outer, vlan uint16
	local, peer [6]byte
	sid         uint16
}

// macvlanKey names the macvlan interface of an extra address on a VLAN (0: untagged) or,
// with outer set, a QinQ pair.
type macvlanKey struct {
	outer, vlan uint16
	mac         [6]byte
}

// vlanKey names a VLAN subinterface of a port: {0, VID} the 802.1Q subinterface of a
// single-tagged VLAN, {S, 0} the 802.1ad subinterface of service tag S, and {S, C} the
// 802.1Q subinterface of customer tag C on that one (QinQ).
type vlanKey struct{ outer, vlan uint16 }

// vlanDev is an interface the data plane made for the port's PPPoE sessions to bind to
// (kernel PPPoE sockets bind to a device): an 802.1Q subinterface for a VLAN
// (vlan_do_receive moves a tagged frame to its VLAN device before pppoe_rcv sees it), an
// 802.1ad subinterface for a QinQ service tag with the 802.1Q subinterfaces of its
// customer tags on it (each tag moves the frame one device up), or a macvlan interface for
// an extra MAC address.
type vlanDev struct {
	name  string
	index int
	mtu   int
	owned bool // created by the data plane (or left by an earlier run): deleted at Close
}

// pppoePort is an access interface opened for PPPoE. Discovery frames are read and
// written through an AF_PACKET socket on the interface itself, which also sees VLAN-tagged
// frames (packet taps run before VLAN demultiplexing); sessions are kernel PPPoE sockets
// on the interface or, for a VLAN, on its 802.1Q subinterface, or, for a QinQ pair, on
// the 802.1Q subinterface of the customer tag stacked on the 802.1ad subinterface of the
// service tag, created at the first session on that VLAN and deleted when the port
// closes.
//
// Extra MAC addresses (kernel.PPPoEPort): discovery frames are sent from them through the
// packet socket, which adds each to the interface's unicast filter at its first use
// (PACKET_MR_UNICAST) so that the answers arrive. A kernel PPPoE socket always sends with
// its device's address (pppoe_sendmsg, __pppoe_xmit), so a session from an extra address
// binds to a macvlan interface with that address on the interface (or its VLAN
// subinterface, or the customer-tag subinterface of a QinQ pair), in the data plane's
// interface group, created at the address's first use on that VLAN (its first discovery
// frame, so that it is ready when the PADS comes) and deleted when the port closes.
// Frames to the address reach both: packet taps on the interface run before macvlan's
// receive handler moves the frame to the macvlan, where pppoe_rcv finds the session.
type pppoePort struct {
	d     *Dataplane
	ep    *ethport.Port
	ifc   string
	index int
	mac   [6]byte
	mtu   int
	cfg   atomic.Pointer[kernel.PPPoEConfig] // the VLANs and QinQ pairs served (Serves)
	obj   string
	log   *zap.Logger

	rmu  sync.Mutex // serialises ReadDiscovery; guards rbuf
	rbuf []byte
	wmu  sync.Mutex // serialises WriteDiscovery; guards wbuf
	wbuf []byte

	// extra is the set of extra addresses in the interface's unicast filter, read for
	// every frame by ReadDiscovery without a lock and replaced (copied) under devmu.
	extra atomic.Pointer[map[[6]byte]bool]
	// macvlans holds the macvlan interfaces (macvlanKey -> *vlanDev); read without a
	// lock, written under devmu.
	macvlans sync.Map

	// devmu serialises the making of an extra address's objects (its unicast filter
	// entry, its macvlan interface), which take netlink round trips, so that neither
	// ReadDiscovery nor other sessions wait for them. Lock order: devmu, then mu.
	devmu sync.Mutex

	mu       sync.Mutex // guards the fields below
	closed   bool
	sessions map[pppoeKey]*channel
	vlanDevs map[vlanKey]*vlanDev
}

// OpenPPPoE opens an access interface for PPPoE; see kernel.Dataplane. A VLAN ID
// outside 1-4094 or an empty QinQ range is an error wrapping kernel.ErrVLAN.
func (d *Dataplane) OpenPPPoE(cfg kernel.PPPoEConfig) (kernel.PPPoEPort, error) {
	obj := "pppoe " + cfg.Interface
	if err := cfg.Validate(); err != nil {
		return nil, opErr("open", obj, err)
	}
	cfg.VLANs, cfg.QinQ = slices.Clone(cfg.VLANs), slices.Clone(cfg.QinQ)
	var ep *ethport.Port
	err := d.inNS(func() error {
		var err error
		ep, err = ethport.Open(cfg.Interface, etherTypeDiscovery)
		return err
	})
	if err != nil {
		return nil, opErr("open", obj, err)
	}
	p := &pppoePort{
		d: d, ep: ep, ifc: cfg.Interface, index: ep.Index(), mtu: ep.MTU(),
		obj:      obj,
		log:      d.log.With(zap.String("interface", cfg.Interface)),
		rbuf:     make([]byte, ep.MTU()+64),
		sessions: map[pppoeKey]*channel{},
		vlanDevs: map[vlanKey]*vlanDev{},
	}
	p.extra.Store(&map[[6]byte]bool{})
	p.cfg.Store(&cfg)
	copy(p.mac[:], ep.HardwareAddr())
	if err := d.register(p, closeset.Port); err != nil {
		p.Close()
		return nil, opErr("open", obj, err)
	}
	return p, nil
}

// serves reports whether discovery frames on VLAN vlan (with service tag outer) are for
// this port: a VLAN or QinQ pair of its configuration, or untagged when it lists none
// (kernel.PPPoEConfig.Serves).
func (p *pppoePort) serves(vlan, outer uint16) bool {
	return p.cfg.Load().Serves(kernel.FrameInfo{VLAN: vlan, OuterVLAN: outer})
}

// SetVLANs changes the VLANs the port serves; see kernel.PPPoEPort. The subinterfaces
// made for tags no longer served stay until the port closes (sessions may still use
// them until the caller ends them).
func (p *pppoePort) SetVLANs(cfg kernel.PPPoEConfig) error {
	if err := cfg.Validate(); err != nil {
		return opErr("set vlans", p.obj, err)
	}
	cfg.Interface, cfg.VLANs, cfg.QinQ = p.ifc, slices.Clone(cfg.VLANs), slices.Clone(cfg.QinQ)
	p.cfg.Store(&cfg)
	return nil
}

// checkTags checks the VLAN tags of a frame to send: IDs up to 4094, and a customer tag
// inside every service tag.
func checkTags(fi kernel.FrameInfo) error {
	if fi.VLAN > 4094 || fi.OuterVLAN > 4094 || (fi.OuterVLAN != 0 && fi.VLAN == 0) {
		return fmt.Errorf("%w: VLAN %s", unix.EINVAL, tagString(fi))
	}
	return nil
}

// tagString renders the VLAN tags of fi: "100", or "10.100" for QinQ (outer.inner).
func tagString(fi kernel.FrameInfo) string {
	if fi.OuterVLAN != 0 {
		return fmt.Sprintf("%d.%d", fi.OuterVLAN, fi.VLAN)
	}
	return strconv.Itoa(int(fi.VLAN))
}

// HardwareAddr is the interface's MAC address.
func (p *pppoePort) HardwareAddr() net.HardwareAddr { return net.HardwareAddr(slices.Clone(p.mac[:])) }

// MTU is the interface's MTU.
func (p *pppoePort) MTU() int { return p.mtu }

// ReadDiscovery reads the next discovery frame of a served VLAN: the PPPoE header and its
// payload, without the Ethernet padding after it.
func (p *pppoePort) ReadDiscovery(b []byte) (int, kernel.FrameInfo, error) {
	p.rmu.Lock()
	defer p.rmu.Unlock()
	for {
		f, err := p.ep.ReadFrame(p.rbuf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return 0, kernel.FrameInfo{}, net.ErrClosed
			}
			var errno unix.Errno
			if errors.As(err, &errno) && transient(errno) {
				continue
			}
			return 0, kernel.FrameInfo{}, opErr("read discovery", p.obj, err)
		}
		if f.EtherType != etherTypeDiscovery || !p.serves(f.VLAN, f.OuterVLAN) || !p.accepts(f.Dst) {
			continue
		}
		pl := f.Payload
		// RFC 2516 §4: LENGTH is the payload length, not counting the PPPoE header.
		if len(pl) >= pppoeHeaderLen {
			if n := pppoeHeaderLen + int(binary.BigEndian.Uint16(pl[4:])); n <= len(pl) {
				pl = pl[:n]
			}
		}
		n := copy(b, pl)
		return n, kernel.FrameInfo{
			Src:       net.HardwareAddr(slices.Clone(f.Src[:])),
			Dst:       net.HardwareAddr(slices.Clone(f.Dst[:])),
			VLAN:      f.VLAN,
			OuterVLAN: f.OuterVLAN,
		}, nil
	}
}

// accepts reports whether a frame to dst is ours: to the interface's address, to an extra
// address in use, or to a group address (on a promiscuous interface, frames to other
// hosts arrive too).
func (p *pppoePort) accepts(dst [6]byte) bool {
	return dst == p.mac || dst[0]&1 != 0 || (*p.extra.Load())[dst]
}

// source returns our address for a frame sent with fi: the interface's when fi.Src is
// nil or the interface's, else the extra address fi.Src, with its macvlan interface on
// fi.VLAN (and fi.OuterVLAN). At the address's first use it is added to the interface's
// unicast filter, and at its first use on a VLAN or QinQ pair its macvlan interface is
// made (kernel.PPPoEPort). The caller has checked the tags (checkTags).
func (p *pppoePort) source(fi kernel.FrameInfo) ([6]byte, *vlanDev, error) {
	if fi.Src == nil || bytes.Equal(fi.Src, p.mac[:]) {
		return p.mac, nil, nil
	}
	if !kernel.IsUnicastMAC(fi.Src) {
		return [6]byte{}, nil, fmt.Errorf("%w: %v", kernel.ErrSourceMAC, fi.Src)
	}
	mac := [6]byte(fi.Src)
	k := macvlanKey{fi.OuterVLAN, fi.VLAN, mac}
	if v, ok := p.macvlans.Load(k); ok {
		return mac, v.(*vlanDev), nil
	}
	p.devmu.Lock()
	defer p.devmu.Unlock()
	if p.isClosed() {
		return [6]byte{}, nil, net.ErrClosed
	}
	if extra := *p.extra.Load(); !extra[mac] {
		if err := p.ep.AddUnicast(fi.Src); err != nil {
			return [6]byte{}, nil, err
		}
		next := maps.Clone(extra)
		next[mac] = true
		p.extra.Store(&next)
		p.log.Info("extra MAC address in use", zap.Stringer("mac", fi.Src))
	}
	if v, ok := p.macvlans.Load(k); ok {
		return mac, v.(*vlanDev), nil
	}
	v, err := p.makeMacvlan(fi.OuterVLAN, fi.VLAN, mac)
	if err != nil {
		return [6]byte{}, nil, err
	}
	p.macvlans.Store(k, v)
	return mac, v, nil
}

// isClosed reports whether Close has begun.
func (p *pppoePort) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// WriteDiscovery sends a discovery frame to to.Dst on to.VLAN (and to.OuterVLAN), from
// to.Src (nil: the interface's address).
func (p *pppoePort) WriteDiscovery(b []byte, to kernel.FrameInfo) error {
	if len(to.Dst) != 6 {
		return opErr("write discovery", p.obj, fmt.Errorf("%w: destination %v", unix.EINVAL, to.Dst))
	}
	if err := checkTags(to); err != nil {
		return opErr("write discovery", p.obj, err)
	}
	src, _, err := p.source(to)
	if err != nil {
		if errors.Is(err, net.ErrClosed) {
			return net.ErrClosed
		}
		return opErr("write discovery", p.obj, err)
	}
	f := ethport.Frame{
		Dst: [6]byte(to.Dst), Src: src, VLAN: to.VLAN, OuterVLAN: to.OuterVLAN,
		EtherType: etherTypeDiscovery, Payload: b,
	}
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if need := len(b) + 64; cap(p.wbuf) < need {
		p.wbuf = make([]byte, 0, max(need, 1600))
	}
	if err := p.ep.WriteFrame(f, p.wbuf); err != nil {
		if errors.Is(err, net.ErrClosed) {
			return net.ErrClosed
		}
		return opErr("write discovery", p.obj, err)
	}
	return nil
}

// OpenSession creates the channel of PPPoE session id with the peer peer.Dst on
// peer.VLAN (and peer.OuterVLAN) for our address peer.Src: a kernel PPPoE socket on the
// interface (or its 802.1Q subinterface, or for QinQ the customer-tag subinterface on the
// service-tag subinterface, or for an extra address the macvlan interface of that
// address) with /dev/ppp attached. mtu is the PPP-Max-Payload (RFC 4638), or 0 for the
// device's MTU - 8.
func (p *pppoePort) OpenSession(id uint16, peer kernel.FrameInfo, mtu int) (kernel.Channel, error) {
	obj := fmt.Sprintf("pppoe session %#04x on %s", id, p.ifc)
	switch {
	case id == 0 || id == pppoeReservedSID || len(peer.Dst) != 6:
		return nil, opErr("open", obj, fmt.Errorf("%w: session %d with %v", unix.EINVAL, id, peer.Dst))
	}
	if err := checkTags(peer); err != nil {
		return nil, opErr("open", obj, err)
	}
	switch {
	case peer.OuterVLAN != 0:
		obj = fmt.Sprintf("pppoe session %#04x on %s QinQ %s", id, p.ifc, tagString(peer))
	case peer.VLAN != 0:
		obj = fmt.Sprintf("pppoe session %#04x on %s VLAN %d", id, p.ifc, peer.VLAN)
	}
	local, mv, err := p.source(peer)
	if err != nil {
		if errors.Is(err, net.ErrClosed) {
			return nil, net.ErrClosed
		}
		return nil, opErr("open", obj, err)
	}
	if local != p.mac {
		obj += " from " + net.HardwareAddr(local[:]).String()
	}
	key := pppoeKey{outer: peer.OuterVLAN, vlan: peer.VLAN, local: local, peer: [6]byte(peer.Dst), sid: id}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, net.ErrClosed
	}
	if _, ok := p.sessions[key]; ok {
		return nil, opErr("open", obj, fmt.Errorf("%w: session is open", unix.EEXIST))
	}
	dev, devMTU := p.ifc, p.mtu
	switch {
	case mv != nil:
		dev, devMTU = mv.name, mv.mtu
	case peer.VLAN != 0:
		v, err := p.vlanDeviceLocked(peer.OuterVLAN, peer.VLAN)
		if err != nil {
			return nil, opErr("open", obj, err)
		}
		dev, devMTU = v.name, v.mtu
	}
	// RFC 2516 §7: the PPPoE header (6) and the PPP protocol field (2) take 8 bytes of
	// the MTU; a larger PPP-Max-Payload (RFC 4638) needs a larger MTU.
	if limit := devMTU - 8; mtu <= 0 || mtu > limit {
		mtu = limit
	}
	px, err := p.d.openPPPoE(id, key.peer, dev)
	if err != nil {
		return nil, opErr("open", obj, err)
	}
	var c *channel
	c, err = p.d.newChannel(obj, px, true, mtu, nil, func() { p.removeSession(key, c) })
	if err != nil {
		px.close()
		return nil, opErr("open", obj, err)
	}
	p.sessions[key] = c
	return c, nil
}

func (p *pppoePort) removeSession(key pppoeKey, c *channel) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sessions[key] == c {
		delete(p.sessions, key)
	}
}

// vlanName is the name of the 802.1Q subinterface for VLAN vid of the interface ifc
// (index index): "IF.VID" as iproute2 and vconfig name them, or, when that is too long,
// "pbx<index>.<vid>", or "P<index>.<vid>" in base 36 (see fitName).
func vlanName(ifc string, index int, vid uint16) string {
	return fitName(fmt.Sprintf("%s.%d", ifc, vid), fmt.Sprintf("pbx%d.%d", index, vid), "P"+b36(index)+"."+b36(int(vid)))
}

// fitName returns the first name that fits IFNAMSIZ: the readable one, its fallback by
// interface index, then the fallback in base 36, which always fits (an index has at most
// 6 digits in base 36, a VLAN ID 3). The base-36 forms start with a capital letter, which
// the decimal ones never do, so that the two cannot name different devices alike.
func fitName(names ...string) string {
	for _, n := range names[:len(names)-1] {
		if len(n) < unix.IFNAMSIZ {
			return n
		}
	}
	return names[len(names)-1]
}

// b36 renders n in base 36.
func b36(n int) string { return strconv.FormatInt(int64(n), 36) }

// customerVLANName is the name of the 802.1Q subinterface for QinQ customer tag inner
// on the service-tag subinterface sName of the interface with index index:
// "IF.sOUTER.INNER", or, when that is too long, "q<index>.<outer>.<inner>", or the same
// as "Q..." in base 36 (fitName). The fallback is by the access interface's index, not
// by the service-tag subinterface's, which grows with every interface the host ever made
// (each PPP session makes one).
func customerVLANName(sName string, index int, outer, inner uint16) string {
	return fitName(fmt.Sprintf("%s.%d", sName, inner), fmt.Sprintf("q%d.%d.%d", index, outer, inner),
		"Q"+b36(index)+"."+b36(int(outer))+"."+b36(int(inner)))
}

// serviceVLANName is the name of the 802.1ad subinterface for QinQ service tag outer of
// the interface ifc (index index): "IF.sOUTER" (the "s" keeps it apart from the 802.1Q
// subinterface "IF.VID" of the same ID, which can exist next to it), or, when that is too
// long, "pbx<index>.sOUTER", or "P<index>.s<outer>" in base 36 (fitName).
func serviceVLANName(ifc string, index int, outer uint16) string {
	return fitName(fmt.Sprintf("%s.s%d", ifc, outer), fmt.Sprintf("pbx%d.s%d", index, outer), "P"+b36(index)+".s"+b36(int(outer)))
}

// protoName names a VLAN tag protocol.
func protoName(proto uint16) string {
	if proto == netdev.VLAN8021AD {
		return "802.1ad"
	}
	return "802.1Q"
}

// vlanDeviceLocked returns the subinterface that sessions on VLAN vid (QinQ: customer
// tag vid in service tag outer) bind to: the interface's 802.1Q subinterface for vid, or
// for QinQ the 802.1Q subinterface for vid stacked on the interface's 802.1ad
// subinterface for outer, making each that is missing (subinterfaceLocked). The caller
// holds p.mu.
func (p *pppoePort) vlanDeviceLocked(outer, vid uint16) (*vlanDev, error) {
	if outer == 0 {
		return p.subinterfaceLocked(vlanKey{0, vid}, p.ifc, p.index, vid, netdev.VLAN8021Q, vlanName(p.ifc, p.index, vid))
	}
	s, err := p.subinterfaceLocked(vlanKey{outer, 0}, p.ifc, p.index, outer, netdev.VLAN8021AD, serviceVLANName(p.ifc, p.index, outer))
	if err != nil {
		return nil, err
	}
	return p.subinterfaceLocked(vlanKey{outer, vid}, s.name, s.index, vid, netdev.VLAN8021Q, customerVLANName(s.name, p.index, outer, vid))
}

// subinterfaceLocked returns the port's VLAN subinterface k, the link name with tag
// protocol proto and VLAN ID vid on the link parent (named parentName), creating it (in
// the interface group) and bringing it up if needed. An existing subinterface of the
// operator's is used but never deleted; one in the data plane's group is taken as its
// own; any other link of that name is refused. The caller holds p.mu.
func (p *pppoePort) subinterfaceLocked(k vlanKey, parentName string, parent int, vid, proto uint16, name string) (*vlanDev, error) {
	if v := p.vlanDevs[k]; v != nil {
		return v, nil
	}
	h, group := p.d.h, p.d.cfg.InterfaceGroup
	l, err := h.LinkByName(name)
	owned := false
	switch {
	case err == nil:
		if l.Kind != "vlan" || l.ParentIndex != parent || l.VLANID != vid || l.VLANProtocol != proto {
			return nil, fmt.Errorf("%w: interface %s exists and is not %s VLAN %d of %s", unix.EEXIST, name, protoName(proto), vid, parentName)
		}
		owned = group != 0 && l.Group == group
	case netdev.IsNotExist(err):
		if l, err = h.AddVLANProto(parent, name, vid, proto); err != nil {
			return nil, err
		}
		owned = true
		if group != 0 {
			if err := h.SetGroup(l.Index, group); err != nil {
				h.DeleteLink(l.Index)
				return nil, err
			}
		}
		p.log.Info("VLAN subinterface created", zap.String("vlan_interface", l.Name), zap.String("parent", parentName),
			zap.String("protocol", protoName(proto)), zap.Uint16("vlan", vid))
	default:
		return nil, err
	}
	if !l.Up {
		if err := h.SetUp(l.Index, true); err != nil {
			if owned {
				h.DeleteLink(l.Index)
			}
			return nil, err
		}
	}
	v := &vlanDev{name: l.Name, index: l.Index, mtu: l.MTU, owned: owned}
	p.vlanDevs[k] = v
	return v, nil
}

// macvlanName is the name of the macvlan interface of extra address mac on VLAN vid
// (QinQ: customer tag vid in service tag outer): "pm" and the address in hex when
// untagged ("pm020000000a01"); on a VLAN "pv" and vid and the address packed into 60 bits
// in base 36; on a QinQ pair "q" and outer, vid and the address packed into 72 bits in
// base 36 (at most 14 digits, since 36^14 > 2^72). Each fits IFNAMSIZ, the packings are
// one-to-one, and the prefixes keep the three kinds apart.
func macvlanName(outer, vid uint16, mac [6]byte) string {
	switch {
	case outer != 0:
		b := append([]byte{byte(outer >> 4), byte(outer<<4) | byte(vid>>8&0x0f), byte(vid)}, mac[:]...)
		return "q" + new(big.Int).SetBytes(b).Text(36)
	case vid != 0:
		v := uint64(vid)<<48 | uint64(mac[0])<<40 | uint64(mac[1])<<32 | uint64(mac[2])<<24 |
			uint64(mac[3])<<16 | uint64(mac[4])<<8 | uint64(mac[5])
		return "pv" + strconv.FormatUint(v, 36)
	}
	return fmt.Sprintf("pm%x", mac[:])
}

// makeMacvlan makes the macvlan interface of extra address mac on VLAN vid (QinQ:
// customer tag vid in service tag outer): on the interface or the subinterface its
// sessions bind to (made if needed, vlanDeviceLocked), in the interface group, up. An
// existing macvlan of the operator's with that name and address is used but never
// deleted; one in the data plane's group is taken as its own. The caller holds p.devmu.
func (p *pppoePort) makeMacvlan(outer, vid uint16, mac [6]byte) (*vlanDev, error) {
	parent := p.index
	if vid != 0 {
		p.mu.Lock()
		v, err := p.vlanDeviceLocked(outer, vid)
		p.mu.Unlock()
		if err != nil {
			return nil, err
		}
		parent = v.index
	}
	h, group := p.d.h, p.d.cfg.InterfaceGroup
	name := macvlanName(outer, vid, mac)
	l, err := h.AddMacvlan(parent, name, mac[:], group)
	if err != nil {
		if errors.Is(err, unix.EOPNOTSUPP) {
			err = fmt.Errorf("%w: %w", ErrMacvlan, err)
		}
		return nil, err
	}
	owned := group != 0 && l.Group == group
	if !l.Up {
		if err := h.SetUp(l.Index, true); err != nil {
			if owned {
				h.DeleteLink(l.Index)
			}
			return nil, err
		}
	}
	p.log.Info("macvlan interface for an extra MAC address", zap.String("macvlan_interface", l.Name),
		zap.Stringer("mac", net.HardwareAddr(mac[:])), zap.Uint16("vlan", vid), zap.Uint16("outer_vlan", outer))
	return &vlanDev{name: l.Name, index: l.Index, mtu: l.MTU, owned: owned}, nil
}

// Close closes the port's session channels (ending their sessions' data paths), the
// packet socket (which takes the extra addresses out of the interface's unicast filter),
// and deletes the macvlan and VLAN subinterfaces the data plane created: macvlans first,
// then the QinQ customer-tag subinterfaces, then the service-tag and 802.1Q ones.
func (p *pppoePort) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	sessions := make([]*channel, 0, len(p.sessions))
	for _, c := range p.sessions {
		sessions = append(sessions, c)
	}
	vlans := p.vlanDevs
	p.mu.Unlock()
	// A macvlan being made now is stored before devmu is released: it is in the list.
	p.devmu.Lock()
	var macvlans []*vlanDev
	p.macvlans.Range(func(k, v any) bool {
		macvlans = append(macvlans, v.(*vlanDev))
		p.macvlans.Delete(k)
		return true
	})
	p.devmu.Unlock()

	var errs []error
	for _, c := range sessions {
		errs = append(errs, c.Close())
	}
	errs = append(errs, p.ep.Close())
	for _, v := range macvlans {
		if v.owned {
			errs = append(errs, p.d.h.DeleteLink(v.index))
		}
	}
	// The customer-tag subinterfaces of QinQ before the service-tag ones they are on
	// (deleting a service-tag subinterface unregisters those on it too; deleting one
	// that is gone is no error).
	for _, stacked := range []bool{true, false} {
		for k, v := range vlans {
			if v.owned && (k.outer != 0 && k.vlan != 0) == stacked {
				errs = append(errs, p.d.h.DeleteLink(v.index))
			}
		}
	}
	p.d.forget(p)
	return opErr("close", p.obj, errors.Join(errs...))
}
