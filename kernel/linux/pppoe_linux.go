//go:build linux

package linux

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
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

// pppoeKey identifies a PPPoE session of a port: the VLAN, our MAC address (the
// interface's or an extra one), the peer's and the SESSION_ID (RFC 2516 §4).
type pppoeKey struct {
	vlan        uint16
	local, peer [6]byte
	sid         uint16
}

// macvlanKey names the macvlan interface of an extra address on a VLAN (0: untagged).
type macvlanKey struct {
	vlan uint16
	mac  [6]byte
}

// vlanDev is an interface the data plane made for the port's PPPoE sessions to bind to
// (kernel PPPoE sockets bind to a device): an 802.1Q subinterface for a VLAN
// (vlan_do_receive moves a tagged frame to its VLAN device before pppoe_rcv sees it), or a
// macvlan interface for an extra MAC address.
type vlanDev struct {
	name  string
	index int
	mtu   int
	owned bool // created by the data plane (or left by an earlier run): deleted at Close
}

// pppoePort is an access interface opened for PPPoE. Discovery frames are read and
// written through an AF_PACKET socket on the interface itself, which also sees VLAN-tagged
// frames (packet taps run before VLAN demultiplexing); sessions are kernel PPPoE sockets
// on the interface or, for a VLAN, on its 802.1Q subinterface, created at the first
// session on that VLAN and deleted when the port closes.
//
// Extra MAC addresses (kernel.PPPoEPort): discovery frames are sent from them through the
// packet socket, which adds each to the interface's unicast filter at its first use
// (PACKET_MR_UNICAST) so that the answers arrive. A kernel PPPoE socket always sends with
// its device's address (pppoe_sendmsg, __pppoe_xmit), so a session from an extra address
// binds to a macvlan interface with that address on the interface (or its VLAN
// subinterface), in the data plane's interface group, created at the address's first use
// on that VLAN (its first discovery frame, so that it is ready when the PADS comes) and
// deleted when the port closes. Frames to the address reach both: packet taps on the
// interface run before macvlan's receive handler moves the frame to the macvlan, where
// pppoe_rcv finds the session.
type pppoePort struct {
	d     *Dataplane
	ep    *ethport.Port
	ifc   string
	index int
	mac   [6]byte
	mtu   int
	vlans []uint16 // served VLANs; empty: untagged only
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
	vlanDevs map[uint16]*vlanDev
}

// OpenPPPoE opens an access interface for PPPoE; see kernel.Dataplane. QinQ is not
// served: frames with a service tag are not read, and sessions cannot be opened on one
// (ErrQinQ).
func (d *Dataplane) OpenPPPoE(cfg kernel.PPPoEConfig) (kernel.PPPoEPort, error) {
	obj := "pppoe " + cfg.Interface
	for _, v := range cfg.VLANs {
		if v == 0 || v > 4094 {
			return nil, opErr("open", obj, fmt.Errorf("%w: VLAN ID %d", unix.EINVAL, v))
		}
	}
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
		vlans: slices.Clone(cfg.VLANs), obj: obj,
		log:      d.log.With(zap.String("interface", cfg.Interface)),
		rbuf:     make([]byte, ep.MTU()+64),
		sessions: map[pppoeKey]*channel{},
		vlanDevs: map[uint16]*vlanDev{},
	}
	p.extra.Store(&map[[6]byte]bool{})
	copy(p.mac[:], ep.HardwareAddr())
	if err := d.register(p, closeset.Port); err != nil {
		p.Close()
		return nil, opErr("open", obj, err)
	}
	return p, nil
}

// serves reports whether discovery frames on VLAN vlan (with service tag outer) are for
// this port.
func (p *pppoePort) serves(vlan, outer uint16) bool {
	if outer != 0 {
		return false
	}
	if len(p.vlans) == 0 {
		return vlan == 0
	}
	return slices.Contains(p.vlans, vlan)
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
			Src:  net.HardwareAddr(slices.Clone(f.Src[:])),
			Dst:  net.HardwareAddr(slices.Clone(f.Dst[:])),
			VLAN: f.VLAN,
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
// fi.VLAN (none for QinQ, which sessions do not serve). At the address's first use it is
// added to the interface's unicast filter, and at its first use on a VLAN its macvlan
// interface is made (kernel.PPPoEPort).
func (p *pppoePort) source(fi kernel.FrameInfo) ([6]byte, *vlanDev, error) {
	if fi.Src == nil || bytes.Equal(fi.Src, p.mac[:]) {
		return p.mac, nil, nil
	}
	if !kernel.IsUnicastMAC(fi.Src) {
		return [6]byte{}, nil, fmt.Errorf("%w: %v", kernel.ErrSourceMAC, fi.Src)
	}
	mac := [6]byte(fi.Src)
	k := macvlanKey{fi.VLAN, mac}
	if fi.OuterVLAN == 0 {
		if v, ok := p.macvlans.Load(k); ok {
			return mac, v.(*vlanDev), nil
		}
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
	if fi.OuterVLAN != 0 {
		return mac, nil, nil
	}
	if v, ok := p.macvlans.Load(k); ok {
		return mac, v.(*vlanDev), nil
	}
	v, err := p.makeMacvlan(fi.VLAN, mac)
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
// peer.VLAN for our address peer.Src: a kernel PPPoE socket on the interface (or its
// 802.1Q subinterface, or for an extra address the macvlan interface of that address)
// with /dev/ppp attached. mtu is the PPP-Max-Payload (RFC 4638), or 0 for the device's
// MTU - 8.
func (p *pppoePort) OpenSession(id uint16, peer kernel.FrameInfo, mtu int) (kernel.Channel, error) {
	obj := fmt.Sprintf("pppoe session %#04x on %s", id, p.ifc)
	switch {
	case id == 0 || id == pppoeReservedSID || len(peer.Dst) != 6:
		return nil, opErr("open", obj, fmt.Errorf("%w: session %d with %v", unix.EINVAL, id, peer.Dst))
	case peer.OuterVLAN != 0:
		return nil, opErr("open", obj, ErrQinQ)
	case peer.VLAN > 4094:
		return nil, opErr("open", obj, fmt.Errorf("%w: VLAN ID %d", unix.EINVAL, peer.VLAN))
	}
	if peer.VLAN != 0 {
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
	key := pppoeKey{vlan: peer.VLAN, local: local, peer: [6]byte(peer.Dst), sid: id}
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
		v, err := p.vlanDeviceLocked(peer.VLAN)
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

// vlanName is the name of the port's subinterface for VLAN vid: "IF.VID" as iproute2
// and vconfig name them, or, when that is too long, "pbx<ifindex>.<vid>".
func vlanName(ifc string, index int, vid uint16) string {
	if n := fmt.Sprintf("%s.%d", ifc, vid); len(n) < unix.IFNAMSIZ {
		return n
	}
	return fmt.Sprintf("pbx%d.%d", index, vid)
}

// vlanDeviceLocked returns the subinterface for VLAN vid, creating it (in the interface
// group) and bringing it up if needed. An existing subinterface of the operator's is
// used but never deleted; one in the data plane's group is taken as its own. The caller
// holds p.mu.
func (p *pppoePort) vlanDeviceLocked(vid uint16) (*vlanDev, error) {
	if v := p.vlanDevs[vid]; v != nil {
		return v, nil
	}
	h, group := p.d.h, p.d.cfg.InterfaceGroup
	name := vlanName(p.ifc, p.index, vid)
	l, err := h.LinkByName(name)
	owned := false
	switch {
	case err == nil:
		if l.Kind != "vlan" || l.ParentIndex != p.index || l.VLANID != vid {
			return nil, fmt.Errorf("%w: interface %s exists and is not VLAN %d of %s", unix.EEXIST, name, vid, p.ifc)
		}
		owned = group != 0 && l.Group == group
	case netdev.IsNotExist(err):
		if l, err = h.AddVLAN(p.index, name, vid); err != nil {
			return nil, err
		}
		owned = true
		if group != 0 {
			if err := h.SetGroup(l.Index, group); err != nil {
				h.DeleteLink(l.Index)
				return nil, err
			}
		}
		p.log.Info("VLAN subinterface created", zap.String("vlan_interface", l.Name), zap.Uint16("vlan", vid))
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
	p.vlanDevs[vid] = v
	return v, nil
}

// macvlanName is the name of the macvlan interface of extra address mac on VLAN vid:
// "pm" and the address in hex when untagged ("pm020000000a01"), else "pv" and vid and the
// address packed in base 36, which fits IFNAMSIZ.
func macvlanName(vid uint16, mac [6]byte) string {
	if vid == 0 {
		return fmt.Sprintf("pm%x", mac[:])
	}
	v := uint64(vid)<<48 | uint64(mac[0])<<40 | uint64(mac[1])<<32 | uint64(mac[2])<<24 |
		uint64(mac[3])<<16 | uint64(mac[4])<<8 | uint64(mac[5])
	return "pv" + strconv.FormatUint(v, 36)
}

// makeMacvlan makes the macvlan interface of extra address mac on VLAN vid: on the
// interface or its VLAN subinterface (made if needed), in the interface group, up. An
// existing macvlan of the operator's with that name and address is used but never
// deleted; one in the data plane's group is taken as its own. The caller holds p.devmu.
func (p *pppoePort) makeMacvlan(vid uint16, mac [6]byte) (*vlanDev, error) {
	parent := p.index
	if vid != 0 {
		p.mu.Lock()
		v, err := p.vlanDeviceLocked(vid)
		p.mu.Unlock()
		if err != nil {
			return nil, err
		}
		parent = v.index
	}
	h, group := p.d.h, p.d.cfg.InterfaceGroup
	name := macvlanName(vid, mac)
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
		zap.Stringer("mac", net.HardwareAddr(mac[:])), zap.Uint16("vlan", vid))
	return &vlanDev{name: l.Name, index: l.Index, mtu: l.MTU, owned: owned}, nil
}

// Close closes the port's session channels (ending their sessions' data paths), the
// packet socket (which takes the extra addresses out of the interface's unicast filter),
// and deletes the macvlan and VLAN subinterfaces the data plane created.
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
	for _, v := range vlans {
		if v.owned {
			errs = append(errs, p.d.h.DeleteLink(v.index))
		}
	}
	p.d.forget(p)
	return opErr("close", p.obj, errors.Join(errs...))
}
