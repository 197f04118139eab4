package userspace

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/probox/probox/kernel/internal/closeset"

	"go.uber.org/zap"

	"github.com/probox/probox/kernel"
)

// unit is a PPP unit: a dedicated TUN device of its own, or a share of the data plane's
// shared TUN device. Its counters count IP packets: Rx received from the peer and written
// to the device, Tx read from the device and sent to the peer.
type unit struct {
	d      *Dataplane
	ch     *channel
	shared *sharedDev // shared units
	dev    device     // dedicated units
	ifname string
	obj    string
	log    *zap.Logger
	ctr    counters
	wg     sync.WaitGroup

	pass4, pass6 atomic.Bool  // which protocols pass, read per packet
	mtu          atomic.Int32 // larger packets to the peer are dropped

	mu     sync.Mutex // guards state and closed
	state  kernel.UnitState
	closed bool
}

// NewUnit creates the network interface of the PPP channel ch; see kernel.Dataplane.
func (d *Dataplane) NewUnit(ch kernel.Channel, cfg kernel.UnitConfig) (kernel.Unit, error) {
	c, err := d.asChannel(ch)
	if err != nil {
		return nil, opErr("create unit", "", err)
	}
	mtu := cfg.MTU
	if mtu <= 0 {
		mtu = min(c.MTU(), 1500)
		if mtu <= 0 {
			mtu = 1500
		}
	}
	u := &unit{d: d, ch: c, obj: "unit of " + c.obj}
	u.mtu.Store(int32(mtu))
	if !c.unit.CompareAndSwap(nil, u) {
		return nil, opErr("create unit", c.obj, fmt.Errorf("%w: the channel has a unit", errBusy))
	}
	if cfg.Shared {
		sd, err := d.sharedDevice()
		if err != nil {
			c.unit.CompareAndSwap(u, nil)
			return nil, opErr("create unit", d.cfg.SharedUnit, err)
		}
		u.shared = sd
		u.ifname = sd.dev.name()
	} else {
		name := cfg.Name
		if name == "" {
			name = defaultUnitName
		}
		dev, err := d.sys.openTun(name, false, mtu)
		if err != nil {
			c.unit.CompareAndSwap(u, nil)
			return nil, opErr("create unit", name, err)
		}
		u.dev = dev
		u.ifname = dev.name()
		u.wg.Add(1)
		go u.run()
	}
	u.obj = "unit " + u.ifname
	u.log = d.log.With(zap.String("unit", u.ifname), zap.String("channel", c.obj))
	if err := d.register(u, closeset.Unit); err != nil {
		u.Close()
		return nil, opErr("create unit", u.ifname, err)
	}
	u.log.Debug("unit created", zap.Bool("shared", cfg.Shared), zap.Int("mtu", mtu))
	return u, nil
}

// Name is the interface name.
func (u *unit) Name() string { return u.ifname }

func (u *unit) Stats() kernel.Counters { return u.ctr.snapshot() }

func (u *unit) passes(proto uint16) bool {
	if proto == protoIPv4 {
		return u.pass4.Load()
	}
	return u.pass6.Load()
}

// fromPeer writes the IP packet buf[off:], received from the peer, to the device.
func (u *unit) fromPeer(buf []byte, off int) {
	pkt := buf[off:]
	dev := u.dev
	if u.shared != nil {
		dev = u.shared.dev
		u.shared.ctr.rx(len(pkt))
	}
	if err := dev.write(pkt); err != nil {
		u.ctr.drop(kernel.DropWrite)
		return
	}
	u.ctr.rx(len(pkt))
}

// toPeer sends the IP packet buf[off:] of protocol proto, read from the device, to the
// peer; the PPP protocol field goes into the headroom.
func (u *unit) toPeer(buf []byte, off int, proto uint16) {
	n := len(buf) - off
	if !u.passes(proto) {
		u.ctr.drop(kernel.DropNotPassing)
		return
	}
	if n > int(u.mtu.Load()) {
		u.ctr.drop(kernel.DropTooBig)
		return
	}
	off -= 2
	binary.BigEndian.PutUint16(buf[off:], proto)
	if err := u.ch.xmit(buf, off); err != nil {
		u.ctr.drop(kernel.DropWrite)
		return
	}
	u.ctr.tx(n)
}

// ipProto returns the PPP protocol of an IP packet by its version, or 0.
func ipProto(pkt []byte) uint16 {
	if len(pkt) == 0 {
		return 0
	}
	switch pkt[0] >> 4 {
	case 4:
		if len(pkt) >= 20 {
			return protoIPv4
		}
	case 6:
		if len(pkt) >= 40 {
			return protoIPv6
		}
	}
	return 0
}

// run reads the dedicated device.
func (u *unit) run() {
	defer u.wg.Done()
	var buf []byte
	for {
		if need := headroom + int(u.mtu.Load()) + 64; cap(buf) < need {
			buf = make([]byte, need)
		}
		buf = buf[:cap(buf)]
		n, err := u.dev.read(buf[headroom:])
		if err != nil {
			if isClosed(err) {
				return
			}
			if isTransient(err) {
				continue
			}
			u.log.Error("unit device failed", zap.Error(err))
			return
		}
		if n == len(buf)-headroom {
			u.ctr.drop(kernel.DropTooBig) // possibly truncated
			continue
		}
		proto := ipProto(buf[headroom : headroom+n])
		if proto == 0 {
			u.ctr.drop(kernel.DropMalformed)
			continue
		}
		u.toPeer(buf[:headroom+n], headroom, proto)
	}
}

// Set makes the unit's configuration be s; see kernel.Unit. It applies only the
// differences to what it applied before, and on error leaves the unit in a state that a
// later Set repairs.
func (u *unit) Set(s kernel.UnitState) error {
	s, err := normalizeState(s)
	if err != nil {
		return opErr("set", u.obj, err)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return net.ErrClosed
	}
	if u.shared != nil {
		err = u.setShared(s)
	} else {
		err = u.setDedicated(s)
	}
	return opErr("set", u.obj, err)
}

// normalizeState checks s and puts it in canonical form: unmapped addresses, masked and
// deduplicated routes.
func normalizeState(s kernel.UnitState) (kernel.UnitState, error) {
	s.IPv4Local, s.IPv4Peer = s.IPv4Local.Unmap(), s.IPv4Peer.Unmap()
	s.IPv6Local, s.IPv6Peer = s.IPv6Local.WithZone(""), s.IPv6Peer.WithZone("")
	for _, a := range []netip.Addr{s.IPv4Local, s.IPv4Peer} {
		if a.IsValid() && !a.Is4() {
			return s, fmt.Errorf("%w: %v is not an IPv4 address", errInval, a)
		}
	}
	for _, a := range []netip.Addr{s.IPv6Local, s.IPv6Peer} {
		if a.IsValid() && !a.Is6() {
			return s, fmt.Errorf("%w: %v is not an IPv6 address", errInval, a)
		}
	}
	var routes []netip.Prefix
	for _, r := range s.Routes {
		if !r.IsValid() {
			return s, fmt.Errorf("%w: route %v", errInval, r)
		}
		r = netip.PrefixFrom(r.Addr().Unmap(), r.Bits()).Masked()
		if !slices.Contains(routes, r) {
			routes = append(routes, r)
		}
	}
	s.Routes = routes
	return s, nil
}

func valid4(s kernel.UnitState) bool { return s.IPv4Local.IsValid() && s.IPv4Peer.IsValid() }
func valid6(s kernel.UnitState) bool { return s.IPv6Local.IsValid() && s.IPv6Peer.IsValid() }

func hostPrefix(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, a.BitLen()) }

// absent reports whether err says that what was to be deleted does not exist.
func absent(err error) bool {
	return errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ESRCH) || errors.Is(err, syscall.EADDRNOTAVAIL)
}

// setDedicated applies s to the dedicated device; the caller holds u.mu.
func (u *unit) setDedicated(s kernel.UnitState) error {
	sys, idx := u.d.sys, u.dev.index()
	if s.MTU > 0 && s.MTU != int(u.mtu.Load()) {
		if err := sys.setMTU(idx, s.MTU); err != nil {
			return err
		}
		u.mtu.Store(int32(s.MTU))
	}
	if s.MTU > 0 {
		u.state.MTU = s.MTU
	}
	// A point-to-point address: local/32 (/128) with the peer, which also routes the peer
	// through the device.
	type family struct {
		oldLocal, oldPeer *netip.Addr
		local, peer       netip.Addr
		pass              *atomic.Bool
	}
	changed4 := false
	for i, f := range []family{
		{&u.state.IPv4Local, &u.state.IPv4Peer, s.IPv4Local, s.IPv4Peer, &u.pass4},
		{&u.state.IPv6Local, &u.state.IPv6Peer, s.IPv6Local, s.IPv6Peer, &u.pass6},
	} {
		if *f.oldLocal == f.local && *f.oldPeer == f.peer {
			continue
		}
		if i == 0 {
			changed4 = true
		}
		f.pass.Store(false)
		if f.oldLocal.IsValid() && f.oldPeer.IsValid() {
			if err := sys.delAddr(idx, hostPrefix(*f.oldLocal), *f.oldPeer); err != nil && !absent(err) {
				return err
			}
		}
		*f.oldLocal, *f.oldPeer = netip.Addr{}, netip.Addr{}
		if f.local.IsValid() && f.peer.IsValid() {
			if err := sys.addAddr(idx, hostPrefix(f.local), f.peer); err != nil && !errors.Is(err, syscall.EEXIST) {
				return err
			}
			*f.oldLocal, *f.oldPeer = f.local, f.peer
			f.pass.Store(true)
		}
	}
	// Routes. The kernel drops routes whose preferred source went away with an address,
	// so IPv4 routes are replaced again when the IPv4 address changed.
	var keep []netip.Prefix
	for i, r := range u.state.Routes {
		if slices.Contains(s.Routes, r) {
			keep = append(keep, r)
			continue
		}
		if err := sys.delRoute(r, idx); err != nil && !absent(err) {
			u.state.Routes = append(keep, u.state.Routes[i:]...)
			return err
		}
	}
	u.state.Routes = keep
	for _, r := range s.Routes {
		have := slices.Contains(u.state.Routes, r)
		if have && !(changed4 && r.Addr().Is4()) {
			continue
		}
		var src netip.Addr
		if r.Addr().Is4() {
			src = u.state.IPv4Local
		}
		if err := sys.replaceRoute(r, idx, src, 0); err != nil { // the device has the session's MTU
			return err
		}
		if !have {
			u.state.Routes = append(u.state.Routes, r)
		}
	}
	return nil
}

// Close removes the unit: a dedicated device is deleted (with its addresses and routes),
// a shared unit's routes, addresses and mappings are removed.
func (u *unit) Close() error {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return nil
	}
	u.closed = true
	u.pass4.Store(false)
	u.pass6.Store(false)
	var err error
	if u.shared != nil {
		err = u.setShared(kernel.UnitState{})
	}
	u.mu.Unlock()
	if u.dev != nil {
		u.dev.close()
		u.wg.Wait()
	}
	u.ch.unit.CompareAndSwap(u, nil)
	u.d.forget(u)
	u.log.Debug("unit removed")
	return opErr("close", u.obj, err)
}
