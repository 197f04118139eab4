//go:build linux

package linux

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"

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

// pppoeKey identifies a PPPoE session of a port: the VLAN, the peer's MAC address and the
// SESSION_ID (RFC 2516 §4).
type pppoeKey struct {
	vlan uint16
	peer [6]byte
	sid  uint16
}

// vlanDev is an 802.1Q subinterface of the port's interface that PPPoE sessions on a VLAN
// bind to (kernel PPPoE sockets bind to a device; vlan_do_receive moves a tagged frame to
// its VLAN device before pppoe_rcv sees it).
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
		if f.EtherType != etherTypeDiscovery || !p.serves(f.VLAN, f.OuterVLAN) {
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

// WriteDiscovery sends a discovery frame to to.Dst on to.VLAN (and to.OuterVLAN).
func (p *pppoePort) WriteDiscovery(b []byte, to kernel.FrameInfo) error {
	if len(to.Dst) != 6 {
		return opErr("write discovery", p.obj, fmt.Errorf("%w: destination %v", unix.EINVAL, to.Dst))
	}
	f := ethport.Frame{
		Dst: [6]byte(to.Dst), Src: p.mac, VLAN: to.VLAN, OuterVLAN: to.OuterVLAN,
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
// peer.VLAN: a kernel PPPoE socket on the interface (or its 802.1Q subinterface) with
// /dev/ppp attached. mtu is the PPP-Max-Payload (RFC 4638), or 0 for the device's MTU - 8.
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
	key := pppoeKey{vlan: peer.VLAN, peer: [6]byte(peer.Dst), sid: id}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, net.ErrClosed
	}
	if _, ok := p.sessions[key]; ok {
		return nil, opErr("open", obj, fmt.Errorf("%w: session is open", unix.EEXIST))
	}
	dev, devMTU := p.ifc, p.mtu
	if peer.VLAN != 0 {
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

// Close closes the port's session channels (ending their sessions' data paths), the
// packet socket, and deletes the VLAN subinterfaces the data plane created.
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

	var errs []error
	for _, c := range sessions {
		errs = append(errs, c.Close())
	}
	errs = append(errs, p.ep.Close())
	for _, v := range vlans {
		if v.owned {
			errs = append(errs, p.d.h.DeleteLink(v.index))
		}
	}
	p.d.forget(p)
	return opErr("close", p.obj, errors.Join(errs...))
}
