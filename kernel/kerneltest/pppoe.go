package kerneltest

import (
	"bytes"
	"fmt"
	"net"
	"slices"
	"strings"
	"syscall"

	"github.com/probox/probox/kernel"
)

// Segment is a simulated Ethernet segment (a switch without learning): a frame sent
// from one member interface reaches every other member whose MAC address, or one of whose
// port's extra addresses in use (kernel.PPPoEPort), is its destination, or all of them
// for a group (broadcast or multicast) destination, as long as the receiver has the
// interface open as a PPPoE port serving the frame's VLAN.
type Segment struct {
	n    *Network
	name string
	// The Network's mutex guards members.
	members []*iface
}

// Ethernet returns the segment called name, making it if needed.
func (n *Network) Ethernet(name string) *Segment {
	n.mu.Lock()
	defer n.mu.Unlock()
	if s := n.segments[name]; s != nil {
		return s
	}
	s := &Segment{n: n, name: name}
	n.segments[name] = s
	return s
}

// Join plugs interface ifname of f into the segment and returns the segment. It panics
// if f is on another Network or the interface is already on a segment (mistakes in the
// test's setup).
func (s *Segment) Join(f *Fake, ifname string) *Segment {
	if f.n != s.n {
		panic("kerneltest: Join: host " + f.host + " is on another network")
	}
	s.n.mu.Lock()
	defer s.n.mu.Unlock()
	i := f.ifaceLocked(ifname)
	if i.seg != nil {
		panic(fmt.Sprintf("kerneltest: Join: %s/%s is already on segment %s", f.host, ifname, i.seg.name))
	}
	i.seg = s
	s.members = append(s.members, i)
	return s
}

// iface is a simulated Ethernet interface of a Fake.
type iface struct {
	f    *Fake
	name string
	mac  net.HardwareAddr
	mtu  int
	seg  *Segment
}

// ifaceLocked returns f's interface name, making it on first use. Interfaces are
// numbered 1, 2, … per Fake in the order they are first used, and get the MAC address
// 02:00:00:00:HH:II (locally administered) with HH the host's number and II the
// interface's.
func (f *Fake) ifaceLocked(name string) *iface {
	if i := f.ifaces[name]; i != nil {
		return i
	}
	i := &iface{f: f, name: name, mtu: 1500,
		mac: net.HardwareAddr{0x02, 0, 0, 0, byte(f.index), byte(len(f.ifaces) + 1)}}
	f.ifaces[name] = i
	return i
}

// SetInterface sets the MAC address (if mac is not nil) and MTU (if mtu > 0) of
// interface name; call it before the interface is opened.
func (f *Fake) SetInterface(name string, mac net.HardwareAddr, mtu int) {
	f.n.mu.Lock()
	defer f.n.mu.Unlock()
	i := f.ifaceLocked(name)
	if mac != nil {
		i.mac = slices.Clone(mac)
	}
	if mtu > 0 {
		i.mtu = mtu
	}
}

// HardwareAddr returns the MAC address of interface name (see SetInterface for the
// default).
func (f *Fake) HardwareAddr(name string) net.HardwareAddr {
	f.n.mu.Lock()
	defer f.n.mu.Unlock()
	return slices.Clone(f.ifaceLocked(name).mac)
}

// discFrame is a discovery frame queued at a port.
type discFrame struct {
	data []byte
	info kernel.FrameInfo
}

// port is a fake kernel.PPPoEPort.
type port struct {
	f    *Fake
	ifc  *iface
	cfg  kernel.PPPoEConfig // VLANs sorted
	disc *queue[discFrame]

	// The Network's mutex guards the fields below.
	sessions map[sessKey]*channel
	extra    map[[6]byte]bool // extra addresses in use (kernel.PPPoEPort)
	closed   bool
}

// sessKey keys a port's session channels: our address and the session ID.
type sessKey struct {
	local [6]byte
	sid   uint16
}

// OpenPPPoE opens interface cfg.Interface for PPPoE. Errors: EINVAL for an empty name or
// VLAN ID outside 1..4094, EBUSY when the interface is already open.
func (f *Fake) OpenPPPoE(cfg kernel.PPPoEConfig) (kernel.PPPoEPort, error) {
	vlans := slices.Clone(cfg.VLANs)
	slices.Sort(vlans)
	vlans = slices.Compact(vlans)
	var p *port
	cfg.VLANs, cfg.QinQ = vlans, slices.Clone(cfg.QinQ)
	err := f.do("OpenPPPoE "+cfg.Interface+" vlans "+vlanList(cfg), true, func() error {
		obj := "pppoe " + cfg.Interface
		switch {
		case f.closed:
			return opError("open pppoe", obj, errFakeClosed)
		case cfg.Interface == "", cfg.Validate() != nil:
			return opError("open pppoe", obj, syscall.EINVAL)
		case f.ports[cfg.Interface] != nil:
			return opError("open pppoe", obj, syscall.EBUSY)
		}
		p = &port{f: f, ifc: f.ifaceLocked(cfg.Interface), cfg: cfg,
			disc: newQueue[discFrame](), sessions: make(map[sessKey]*channel), extra: make(map[[6]byte]bool)}
		f.ports[cfg.Interface] = p
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// vlanList renders the VLANs a port serves: "untagged", or the VLAN IDs and QinQ ranges
// ("100,200,10.100-199"), after "untagged," when it serves untagged frames too.
func vlanList(cfg kernel.PPPoEConfig) string {
	if len(cfg.VLANs) == 0 && len(cfg.QinQ) == 0 {
		return "untagged"
	}
	var s []string
	if cfg.Untagged {
		s = append(s, "untagged")
	}
	for _, v := range cfg.VLANs {
		s = append(s, fmt.Sprint(v))
	}
	for _, r := range cfg.QinQ {
		s = append(s, r.String())
	}
	return strings.Join(s, ",")
}

// serves reports whether the port takes frames with the tags of fi (kernel.PPPoEConfig.Serves).
func (p *port) serves(fi kernel.FrameInfo) bool { return p.cfg.Serves(fi) }

func (p *port) name() string { return "pppoe " + p.ifc.name }

// sourceLocked returns our address for a frame sent with fi, and whether it is an extra
// one, which from now on the port receives for. Errors: kernel.ErrSourceMAC for an Src
// that is not a unicast address.
func (p *port) sourceLocked(fi kernel.FrameInfo) ([6]byte, bool, error) {
	if fi.Src == nil || bytes.Equal(fi.Src, p.ifc.mac) {
		return [6]byte(p.ifc.mac), false, nil
	}
	if !kernel.IsUnicastMAC(fi.Src) {
		return [6]byte{}, false, fmt.Errorf("%w: %v", kernel.ErrSourceMAC, fi.Src)
	}
	mac := [6]byte(fi.Src)
	p.extra[mac] = true
	return mac, true, nil
}

// line renders the port: "pppoe eth0 vlans untagged", with " extra MAC,MAC" (sorted)
// once extra addresses are in use.
func (p *port) line() string {
	s := p.name() + " vlans " + vlanList(p.cfg)
	if len(p.extra) > 0 {
		macs := make([]string, 0, len(p.extra))
		for m := range p.extra {
			macs = append(macs, net.HardwareAddr(m[:]).String())
		}
		slices.Sort(macs)
		s += " extra " + strings.Join(macs, ",")
	}
	return s
}

func (p *port) HardwareAddr() net.HardwareAddr {
	p.f.n.mu.Lock()
	defer p.f.n.mu.Unlock()
	return slices.Clone(p.ifc.mac)
}

func (p *port) MTU() int {
	p.f.n.mu.Lock()
	defer p.f.n.mu.Unlock()
	return p.ifc.mtu
}

func (p *port) ReadDiscovery(b []byte) (int, kernel.FrameInfo, error) {
	m, err := p.disc.pop(&p.f.n.mu)
	if err != nil {
		return 0, kernel.FrameInfo{}, err
	}
	return copy(b, m.data), m.info, nil
}

// WriteDiscovery sends a discovery frame, from to.Src when it is set. Errors: EINVAL for
// a destination that is not a MAC address or a VLAN the port does not serve,
// kernel.ErrSourceMAC for an Src that is not a unicast address.
func (p *port) WriteDiscovery(b []byte, to kernel.FrameInfo) error {
	var pkt Packet
	err := p.f.do("WriteDiscovery "+p.ifc.name, false, func() error {
		switch {
		case p.closed:
			return opError("write", p.name(), net.ErrClosed)
		case len(to.Dst) != 6 || !p.serves(to):
			return opError("write", p.name(), syscall.EINVAL)
		}
		src, _, err := p.sourceLocked(to)
		if err != nil {
			return opError("write", p.name(), err)
		}
		pkt = p.frame(PPPoEDiscovery, src, to.Dst, to.VLAN, to.OuterVLAN, bytes.Clone(b))
		return nil
	})
	if err != nil {
		return err
	}
	p.f.n.send(pkt)
	return nil
}

func (p *port) frame(kind Kind, src [6]byte, dst net.HardwareAddr, vlan, outer uint16, data []byte) Packet {
	seg := ""
	if p.ifc.seg != nil {
		seg = p.ifc.seg.name
	}
	return Packet{Kind: kind, Host: p.f.host, Segment: seg, Data: data, srcFake: p.f, srcIf: p.ifc.name,
		Eth: kernel.FrameInfo{Src: net.HardwareAddr(src[:]), Dst: slices.Clone(dst), VLAN: vlan, OuterVLAN: outer}}
}

// sessionFrame makes the PPPoE session frame carrying frame on channel c.
func (p *port) sessionFrame(c *channel, frame []byte) Packet {
	pkt := p.frame(PPPoESession, c.local, c.peer.Dst, c.peer.VLAN, c.peer.OuterVLAN, frame)
	pkt.Session = uint32(c.sid)
	return pkt
}

// OpenSession opens the channel of session id with the peer, for our address peer.Src
// (nil: the interface's). mtu 0 means the port's MTU less 8 (RFC 2516 §7). The channel's
// key is "pppoe IF/ID", or "pppoe IF/ID from MAC" for an extra address. Errors: EINVAL
// for session ID 0 or 0xffff (RFC 2516 §4), a peer that is not a unicast MAC address or a
// VLAN the port does not serve, kernel.ErrSourceMAC for an Src that is not a unicast
// address, EEXIST when the port already has a channel for id from that address (the fake
// keys sessions by interface, our address and ID).
func (p *port) OpenSession(id uint16, peer kernel.FrameInfo, mtu int) (kernel.Channel, error) {
	key := fmt.Sprintf("pppoe %s/%d", p.ifc.name, id)
	if peer.Src != nil && !bytes.Equal(peer.Src, p.HardwareAddr()) {
		key += " from " + peer.Src.String()
	}
	line := fmt.Sprintf("OpenSession %s%s peer %s mtu %d", key, vlanSuffix(peer), peer.Dst, mtu)
	var c *channel
	err := p.f.do(line, true, func() error {
		switch {
		case p.closed:
			return opError("open session", key, net.ErrClosed)
		case id == 0, id == 0xffff, len(peer.Dst) != 6, peer.Dst[0]&1 != 0, !p.serves(peer), mtu < 0:
			return opError("open session", key, syscall.EINVAL)
		}
		local, _, err := p.sourceLocked(peer)
		if err != nil {
			return opError("open session", key, err)
		}
		if p.sessions[sessKey{local, id}] != nil {
			return opError("open session", key, syscall.EEXIST)
		}
		if mtu == 0 {
			mtu = p.ifc.mtu - 8
		}
		c = newChannel(p.f, key)
		c.port, c.sid, c.local, c.mtu = p, id, local, mtu
		c.peer = kernel.FrameInfo{Dst: slices.Clone(peer.Dst), VLAN: peer.VLAN, OuterVLAN: peer.OuterVLAN}
		p.sessions[sessKey{local, id}] = c
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

func vlanSuffix(fi kernel.FrameInfo) string {
	if fi.VLAN == 0 && fi.OuterVLAN == 0 {
		return ""
	}
	return " vlan " + vlanString(fi)
}

// vlanString renders VLAN tags: "100", or "10.100" for QinQ (outer.inner).
func vlanString(fi kernel.FrameInfo) string {
	if fi.OuterVLAN != 0 {
		return fmt.Sprintf("%d.%d", fi.OuterVLAN, fi.VLAN)
	}
	return fmt.Sprint(fi.VLAN)
}

// Close closes the port and its session channels; it is idempotent.
func (p *port) Close() error {
	return p.f.do("Close "+p.name(), true, func() error {
		p.closeLocked()
		return nil
	})
}

// SetVLANs changes the VLANs the port serves. Errors: EINVAL for a bad VLAN ID,
// net.ErrClosed after Close.
func (p *port) SetVLANs(cfg kernel.PPPoEConfig) error {
	cfg.Interface, cfg.VLANs, cfg.QinQ = p.ifc.name, slices.Clone(cfg.VLANs), slices.Clone(cfg.QinQ)
	slices.Sort(cfg.VLANs)
	cfg.VLANs = slices.Compact(cfg.VLANs)
	return p.f.do("SetVLANs "+p.name()+" vlans "+vlanList(cfg), true, func() error {
		switch {
		case p.closed:
			return opError("set vlans", p.name(), net.ErrClosed)
		case cfg.Validate() != nil:
			return opError("set vlans", p.name(), syscall.EINVAL)
		}
		p.cfg = cfg
		return nil
	})
}

func (p *port) closeLocked() {
	if p.closed {
		return
	}
	p.closed = true
	for _, c := range p.sessions {
		c.closeLocked()
	}
	p.disc.closeLocked()
	delete(p.f.ports, p.ifc.name)
}

// deliverLocked delivers an Ethernet frame on the segment and reports whether any port
// took it.
func (s *Segment) deliverLocked(pkt Packet) ([]Packet, bool) {
	var (
		out []Packet
		ok  bool
	)
	group := len(pkt.Eth.Dst) > 0 && pkt.Eth.Dst[0]&1 != 0
	for _, i := range s.members {
		if i.f == pkt.srcFake && i.name == pkt.srcIf {
			continue
		}
		p := i.f.ports[i.name]
		if p == nil || i.f.closed || !p.serves(pkt.Eth) || (!group && !bytes.Equal(i.mac, pkt.Eth.Dst) && !p.extra[[6]byte(pkt.Eth.Dst)]) {
			continue
		}
		if pkt.Kind == PPPoEDiscovery {
			if p.disc.pushLocked(discFrame{data: bytes.Clone(pkt.Data), info: cloneInfo(pkt.Eth)}) {
				ok = true
			}
			continue
		}
		if group {
			continue
		}
		c := p.sessions[sessKey{[6]byte(pkt.Eth.Dst), uint16(pkt.Session)}]
		if c == nil || !bytes.Equal(c.peer.Dst, pkt.Eth.Src) || c.peer.VLAN != pkt.Eth.VLAN || c.peer.OuterVLAN != pkt.Eth.OuterVLAN {
			continue
		}
		out = append(out, c.receiveLocked(bytes.Clone(pkt.Data))...)
		ok = true
	}
	return out, ok
}

func cloneInfo(fi kernel.FrameInfo) kernel.FrameInfo {
	fi.Src, fi.Dst = slices.Clone(fi.Src), slices.Clone(fi.Dst)
	return fi
}
