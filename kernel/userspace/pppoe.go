package userspace

import (
	"bytes"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/probox/probox/kernel/internal/closeset"

	"go.uber.org/zap"

	"github.com/probox/probox/kernel"
	"github.com/probox/probox/pppoe"
)

// PPPoE ether types (RFC 2516 §4).
const (
	etherTypeDiscovery = 0x8863
	etherTypeSession   = 0x8864
)

// pppoeKey identifies a PPPoE session on a port: the VLAN tags, our MAC address (the
// interface's or an extra one), the peer's and the session ID (RFC 2516 §4: the session is
// identified by the Ethernet addresses and the SESSION_ID).
type pppoeKey struct {
	outerVLAN, vlan uint16
	local, peer     [6]byte
	sid             uint16
}

// pppoePort is an access interface opened for PPPoE: one AF_PACKET socket for both ether
// types, read by one goroutine that queues discovery frames for the engine and passes
// session frames to their channels.
type pppoePort struct {
	d    *Dataplane
	p    ethPort
	ifc  string
	mac  [6]byte
	mtu  int
	cfg  atomic.Pointer[kernel.PPPoEConfig] // its VLANs and QinQ: the tagged frames it serves
	disc *ctrlQueue
	ctr  counters
	log  *zap.Logger
	wg   sync.WaitGroup

	sessions cowMap[pppoeKey, *pppoeSession]
	// extra holds the extra addresses we act for (see kernel.PPPoEPort), read per frame.
	extra cowMap[[6]byte, struct{}]

	mu     sync.Mutex // guards closed, session changes and extra changes
	closed bool
}

// pppoeSession is the carrier of a PPPoE session channel.
type pppoeSession struct {
	port *pppoePort
	key  pppoeKey
	ch   *channel
}

// OpenPPPoE opens an access interface for PPPoE; see kernel.Dataplane.
func (d *Dataplane) OpenPPPoE(cfg kernel.PPPoEConfig) (kernel.PPPoEPort, error) {
	if err := cfg.Validate(); err != nil {
		return nil, opErr("open pppoe", cfg.Interface, fmt.Errorf("%w: %w", errInval, err))
	}
	cfg.VLANs, cfg.QinQ = slices.Clone(cfg.VLANs), slices.Clone(cfg.QinQ)
	ep, err := d.sys.openEth(cfg.Interface)
	if err != nil {
		return nil, opErr("open pppoe", cfg.Interface, err)
	}
	p := &pppoePort{
		d:    d,
		p:    ep,
		ifc:  cfg.Interface,
		mac:  ep.hardwareAddr(),
		mtu:  ep.mtu(),
		disc: newCtrlQueue(discoveryQueueDepth),
		log:  d.log.With(zap.String("interface", cfg.Interface)),
	}
	p.cfg.Store(&cfg)
	p.wg.Add(1)
	go p.run()
	if err := d.register(p, closeset.Port); err != nil {
		p.Close()
		return nil, opErr("open pppoe", cfg.Interface, err)
	}
	return p, nil
}

// serves reports whether frames with the tags of f are for this port.
func (p *pppoePort) serves(f *ethFrame) bool {
	return p.cfg.Load().Serves(kernel.FrameInfo{VLAN: f.vlan, OuterVLAN: f.outerVLAN})
}

// SetVLANs changes the VLANs the port serves; see kernel.PPPoEPort.
func (p *pppoePort) SetVLANs(cfg kernel.PPPoEConfig) error {
	if err := cfg.Validate(); err != nil {
		return opErr("set vlans", p.ifc, fmt.Errorf("%w: %w", errInval, err))
	}
	cfg.Interface, cfg.VLANs, cfg.QinQ = p.ifc, slices.Clone(cfg.VLANs), slices.Clone(cfg.QinQ)
	p.cfg.Store(&cfg)
	return nil
}

func (p *pppoePort) run() {
	defer p.wg.Done()
	// Room for a frame of the interface's MTU with two VLAN tags, after the headroom.
	buf := make([]byte, headroom+p.mtu+ethHeaderLen+8+64)
	for {
		f, err := p.p.readFrame(buf[headroom:])
		if err != nil {
			if isClosed(err) {
				return
			}
			if isTransient(err) {
				continue
			}
			p.log.Error("PPPoE socket failed", zap.Error(err))
			return
		}
		p.handle(buf, f)
	}
}

// handle handles one frame read into buf.
func (p *pppoePort) handle(buf []byte, f ethFrame) {
	// Another VLAN's traffic, or (on a promiscuous interface) a frame for another host,
	// is not ours: ignored, not dropped. Ours are the frames to the interface's address,
	// to an extra address in use, and discovery frames to a group address. A PPPoE
	// session is identified by both MAC addresses and the session ID (RFC 2516 §4).
	if !p.serves(&f) || !p.accepts(f) {
		return
	}
	switch f.etherType {
	case etherTypeDiscovery:
		meta := f
		meta.payload = nil
		if !p.disc.push(nil, trimPPPoE(f.payload), queued{eth: meta}) {
			p.ctr.drop(kernel.DropQueueFull)
			return
		}
		p.ctr.rx(len(f.payload))
	case etherTypeSession:
		sid, ppp, err := pppoe.ParseSession(f.payload)
		if err != nil {
			p.ctr.drop(kernel.DropMalformed)
			return
		}
		s, ok := p.sessions.get(pppoeKey{outerVLAN: f.outerVLAN, vlan: f.vlan, local: f.dst, peer: f.src, sid: sid})
		if !ok {
			p.ctr.drop(kernel.DropNoSession)
			return
		}
		p.ctr.rx(len(f.payload))
		off, ok := offsetIn(buf, ppp)
		if !ok || off < headroom {
			// The port did not read in place: copy behind our headroom.
			off = headroom
			copy(buf[off:], ppp)
		}
		s.ch.input(buf[:off+len(ppp)], off)
	}
}

// accepts reports whether a frame of a served VLAN is addressed to us.
func (p *pppoePort) accepts(f ethFrame) bool {
	switch {
	case f.dst == p.mac:
		return true
	case f.dst[0]&1 != 0:
		return f.etherType == etherTypeDiscovery
	}
	_, ok := p.extra.get(f.dst)
	return ok
}

// source returns our address for a frame sent with fi: the interface's when fi.Src is
// nil or the interface's, else the extra address fi.Src, which from now on the port
// receives for (kernel.PPPoEPort).
func (p *pppoePort) source(fi kernel.FrameInfo) ([6]byte, error) {
	if fi.Src == nil || bytes.Equal(fi.Src, p.mac[:]) {
		return p.mac, nil
	}
	if !kernel.IsUnicastMAC(fi.Src) {
		return [6]byte{}, fmt.Errorf("%w: %v", kernel.ErrSourceMAC, fi.Src)
	}
	mac := [6]byte(fi.Src)
	if _, ok := p.extra.get(mac); ok {
		return mac, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return [6]byte{}, net.ErrClosed
	}
	if _, ok := p.extra.get(mac); ok {
		return mac, nil
	}
	if err := p.p.addUnicast(mac); err != nil {
		return [6]byte{}, err
	}
	p.extra.set(mac, struct{}{})
	p.log.Info("extra MAC address in use", zap.Stringer("mac", net.HardwareAddr(mac[:])))
	return mac, nil
}

// trimPPPoE cuts the Ethernet padding after a PPPoE packet, by its LENGTH field (RFC 2516
// §4); a packet whose LENGTH does not fit is left for the engine's parser to reject.
func trimPPPoE(b []byte) []byte {
	if len(b) < pppoe.HeaderLen {
		return b
	}
	if n := pppoe.HeaderLen + (int(b[4])<<8 | int(b[5])); n <= len(b) {
		return b[:n]
	}
	return b
}

// offsetIn returns the offset of sub in buf if sub is a slice of buf's array.
func offsetIn(buf, sub []byte) (int, bool) {
	if len(sub) == 0 {
		return 0, false
	}
	off := cap(buf) - cap(sub)
	if off < 0 || off+len(sub) > len(buf) || &buf[off] != &sub[0] {
		return 0, false
	}
	return off, true
}

// HardwareAddr is the interface's MAC address.
func (p *pppoePort) HardwareAddr() net.HardwareAddr { return net.HardwareAddr(p.mac[:]) }

// MTU is the interface's MTU.
func (p *pppoePort) MTU() int { return p.mtu }

// ReadDiscovery reads the next discovery frame of a served VLAN.
func (p *pppoePort) ReadDiscovery(b []byte) (int, kernel.FrameInfo, error) {
	n, m, err := p.disc.read(b)
	if err != nil {
		return 0, kernel.FrameInfo{}, err
	}
	return n, kernel.FrameInfo{
		Src:       net.HardwareAddr(m.eth.src[:]),
		Dst:       net.HardwareAddr(m.eth.dst[:]),
		VLAN:      m.eth.vlan,
		OuterVLAN: m.eth.outerVLAN,
	}, nil
}

// WriteDiscovery sends a discovery frame to to.Dst on to.VLAN (and to.OuterVLAN).
func (p *pppoePort) WriteDiscovery(b []byte, to kernel.FrameInfo) error {
	if len(to.Dst) != 6 {
		return opErr("write discovery", p.ifc, fmt.Errorf("%w: destination %v", errInval, to.Dst))
	}
	if p.isClosed() {
		return net.ErrClosed
	}
	src, err := p.source(to)
	if err != nil {
		return opErr("write discovery", p.ifc, err)
	}
	f := ethFrame{dst: [6]byte(to.Dst), src: src, vlan: to.VLAN, outerVLAN: to.OuterVLAN, etherType: etherTypeDiscovery, payload: b}
	if err := p.p.writeFrame(f); err != nil {
		if isClosed(err) {
			return net.ErrClosed
		}
		return opErr("write discovery", p.ifc, err)
	}
	p.ctr.tx(len(b))
	return nil
}

func (p *pppoePort) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// OpenSession creates the channel of session id with the peer peer.Dst on peer.VLAN, for
// our address peer.Src (nil: the interface's). mtu is the PPP-Max-Payload (RFC 4638) or 0
// for the interface MTU - 8.
func (p *pppoePort) OpenSession(id uint16, peer kernel.FrameInfo, mtu int) (kernel.Channel, error) {
	obj := fmt.Sprintf("pppoe session %d on %s", id, p.ifc)
	if id == 0 || id == pppoe.ReservedSessionID || len(peer.Dst) != 6 {
		return nil, opErr("open", obj, fmt.Errorf("%w: session %d with %v", errInval, id, peer.Dst))
	}
	// RFC 2516 §7: the PPPoE header (6) and the PPP protocol field (2) take 8 bytes of
	// the interface MTU; a larger PPP-Max-Payload (RFC 4638) needs a larger MTU.
	if limit := p.mtu - 8; mtu <= 0 || mtu > limit {
		mtu = limit
	}
	local, err := p.source(peer)
	if err != nil {
		return nil, opErr("open", obj, err)
	}
	key := pppoeKey{outerVLAN: peer.OuterVLAN, vlan: peer.VLAN, local: local, peer: [6]byte(peer.Dst), sid: id}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, net.ErrClosed
	}
	if _, ok := p.sessions.get(key); ok {
		return nil, opErr("open", obj, fmt.Errorf("%w: session is open", errExist))
	}
	s := &pppoeSession{port: p, key: key}
	s.ch = newChannel(p.d, obj, s, mtu, func() { p.removeSession(s) })
	p.sessions.set(key, s)
	return s.ch, nil
}

func (p *pppoePort) removeSession(s *pppoeSession) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if x, ok := p.sessions.get(s.key); ok && x == s {
		p.sessions.remove(s.key)
	}
}

// xmitPPP sends the PPP frame buf[off:] as a PPPoE session frame (RFC 2516 §5.4): the
// PPPoE header goes into the headroom, the Ethernet header is the port's.
func (s *pppoeSession) xmitPPP(buf []byte, off int) error {
	n := len(buf) - off
	if off < pppoe.HeaderLen {
		return errInval
	}
	off -= pppoe.HeaderLen
	if err := pppoe.PutSessionHeader(buf[off:], s.key.sid, n); err != nil {
		return err
	}
	p := s.port
	f := ethFrame{dst: s.key.peer, src: s.key.local, vlan: s.key.vlan, outerVLAN: s.key.outerVLAN, etherType: etherTypeSession, payload: buf[off:]}
	if err := p.p.writeFrame(f); err != nil {
		p.ctr.drop(kernel.DropWrite)
		return err
	}
	p.ctr.tx(len(buf) - off)
	return nil
}

// Close closes the port's session channels and the socket, and waits for the reader.
func (p *pppoePort) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	sessions := p.sessions.clear()
	// The extra addresses leave the interface's unicast filter with the socket.
	p.extra.clear()
	p.mu.Unlock()
	for _, s := range sessions {
		s.ch.Close()
	}
	p.disc.close()
	p.p.close()
	p.wg.Wait()
	p.d.forget(p)
	return nil
}
