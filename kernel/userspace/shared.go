package userspace

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"

	"go.uber.org/zap"

	"github.com/probox/probox/kernel"
)

// sharedDev is the TUN device that every shared unit of the data plane uses. Each unit's
// peer address is routed to the device (local address as preferred source) and mapped
// back to the unit, so the device's reader finds the session of a packet by its
// destination address; extra routes (UnitState.Routes) are mapped by longest prefix.
//
// IPv6 is mapped by the peer's link-local address only (the one IPv6CP gives); global
// addresses need Router Advertisements or DHCPv6-PD, which do not exist yet, and must be
// given as routes.
type sharedDev struct {
	d   *Dataplane
	dev device
	mtu int
	ctr counters // Rx: from sessions to the device; Tx: from the device to sessions
	wg  sync.WaitGroup

	mu       sync.Mutex         // guards addrRefs and changes of dests and prefixes
	addrRefs map[netip.Addr]int // local addresses on the device, by number of users
	dests    cowMap[netip.Addr, *unit]
	prefixes atomic.Pointer[[]prefixRoute] // longest first
}

type prefixRoute struct {
	p netip.Prefix
	u *unit
}

// sharedDevice returns the shared device, creating it on first use.
func (d *Dataplane) sharedDevice() (*sharedDev, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, errClosed
	}
	if d.shared != nil {
		return d.shared, nil
	}
	dev, err := d.sys.openTun(d.cfg.SharedUnit, false, d.cfg.SharedMTU)
	if err != nil {
		return nil, err
	}
	sd := &sharedDev{d: d, dev: dev, mtu: d.cfg.SharedMTU, addrRefs: map[netip.Addr]int{}}
	d.shared = sd
	sd.wg.Add(1)
	go sd.run()
	d.log.Info("shared unit created", zap.String("unit", dev.name()))
	return sd, nil
}

// SharedUnitStats returns the counters of the shared unit's device: Rx counts the packets
// written to it, Tx those read from it and sent to a session, and DropNoRoute the packets
// read from it whose destination maps to no session.
func (d *Dataplane) SharedUnitStats() kernel.Counters {
	d.mu.Lock()
	sd := d.shared
	d.mu.Unlock()
	if sd == nil {
		return kernel.Counters{}
	}
	return sd.ctr.snapshot()
}

func (sd *sharedDev) close() error {
	err := sd.dev.close()
	sd.wg.Wait()
	return err
}

// lookup returns the unit for packets to dst.
func (sd *sharedDev) lookup(dst netip.Addr) *unit {
	if u, ok := sd.dests.get(dst); ok {
		return u
	}
	if p := sd.prefixes.Load(); p != nil {
		for _, pr := range *p {
			if pr.p.Contains(dst) {
				return pr.u
			}
		}
	}
	return nil
}

func (sd *sharedDev) run() {
	defer sd.wg.Done()
	buf := make([]byte, headroom+sd.mtu+64)
	for {
		n, err := sd.dev.read(buf[headroom:])
		if err != nil {
			if isClosed(err) {
				return
			}
			if isTransient(err) {
				continue
			}
			sd.d.log.Error("shared unit failed", zap.Error(err))
			return
		}
		if n == len(buf)-headroom {
			sd.ctr.drop(kernel.DropTooBig)
			continue
		}
		pkt := buf[headroom : headroom+n]
		var dst netip.Addr
		proto := ipProto(pkt)
		switch proto {
		case protoIPv4:
			dst = netip.AddrFrom4([4]byte(pkt[16:20]))
		case protoIPv6:
			dst = netip.AddrFrom16([16]byte(pkt[24:40]))
		default:
			sd.ctr.drop(kernel.DropMalformed)
			continue
		}
		u := sd.lookup(dst)
		if u == nil {
			sd.ctr.drop(kernel.DropNoRoute)
			continue
		}
		sd.ctr.tx(n)
		u.toPeer(buf[:headroom+n], headroom, proto)
	}
}

// refAddr adds local to the device unless it is there already; the caller holds sd.mu.
func (sd *sharedDev) refAddrLocked(local netip.Addr) error {
	if sd.addrRefs[local] == 0 {
		err := sd.d.sys.addAddr(sd.dev.index(), hostPrefix(local), netip.Addr{})
		if err != nil && !errors.Is(err, syscall.EEXIST) {
			return err
		}
	}
	sd.addrRefs[local]++
	return nil
}

// unrefAddr removes local from the device when its last user is gone; the caller holds
// sd.mu.
func (sd *sharedDev) unrefAddrLocked(local netip.Addr) {
	sd.addrRefs[local]--
	if sd.addrRefs[local] > 0 {
		return
	}
	delete(sd.addrRefs, local)
	if err := sd.d.sys.delAddr(sd.dev.index(), hostPrefix(local), netip.Addr{}); err != nil && !absent(err) {
		sd.d.log.Warn("cannot remove address from the shared unit", zap.Stringer("addr", local), zap.Error(err))
	}
}

// routeMTU is the path MTU of the routes to u's peer and prefixes: the session's MTU
// when it is below the device's, so that the kernel sends the ICMP "fragmentation
// needed" (RFC 1191) or "packet too big" (RFC 8201), or fragments, for packets the
// session cannot carry, as it does for a dedicated unit of that MTU; 0 otherwise.
func (sd *sharedDev) routeMTU(u *unit) int {
	if m := int(u.mtu.Load()); m > 0 && m < sd.mtu {
		return m
	}
	return 0
}

// remtuPeer gives the route to u's peer the unit's new MTU.
func (sd *sharedDev) remtuPeer(u *unit, local, peer netip.Addr) error {
	sd.mu.Lock()
	defer sd.mu.Unlock()
	var src netip.Addr
	if peer.Is4() {
		src = local
	}
	return sd.d.sys.replaceRoute(hostPrefix(peer), sd.dev.index(), src, sd.routeMTU(u))
}

// mapPeer routes peer to the device and maps it to u.
func (sd *sharedDev) mapPeer(u *unit, local, peer netip.Addr) error {
	sd.mu.Lock()
	defer sd.mu.Unlock()
	if x, ok := sd.dests.get(peer); ok && x != u {
		return fmt.Errorf("%w: %v is the peer of %s", errExist, peer, x.ch.obj)
	}
	if err := sd.refAddrLocked(local); err != nil {
		return err
	}
	var src netip.Addr
	if peer.Is4() {
		src = local
	}
	if err := sd.d.sys.replaceRoute(hostPrefix(peer), sd.dev.index(), src, sd.routeMTU(u)); err != nil {
		sd.unrefAddrLocked(local)
		return err
	}
	sd.dests.set(peer, u)
	return nil
}

func (sd *sharedDev) unmapPeer(u *unit, local, peer netip.Addr) {
	sd.mu.Lock()
	defer sd.mu.Unlock()
	if x, ok := sd.dests.get(peer); !ok || x != u {
		return
	}
	sd.dests.remove(peer)
	if err := sd.d.sys.delRoute(hostPrefix(peer), sd.dev.index()); err != nil && !absent(err) {
		sd.d.log.Warn("cannot remove route from the shared unit", zap.Stringer("peer", peer), zap.Error(err))
	}
	sd.unrefAddrLocked(local)
}

// mapRoute routes r to the device and maps it to u.
func (sd *sharedDev) mapRoute(u *unit, r netip.Prefix, src netip.Addr) error {
	sd.mu.Lock()
	defer sd.mu.Unlock()
	var cur []prefixRoute
	if p := sd.prefixes.Load(); p != nil {
		cur = *p
	}
	for _, pr := range cur {
		if pr.p == r && pr.u != u {
			return fmt.Errorf("%w: %v is routed to %s", errExist, r, pr.u.ch.obj)
		}
	}
	if err := sd.d.sys.replaceRoute(r, sd.dev.index(), src, sd.routeMTU(u)); err != nil {
		return err
	}
	next := slices.DeleteFunc(slices.Clone(cur), func(pr prefixRoute) bool { return pr.p == r })
	next = append(next, prefixRoute{r, u})
	slices.SortStableFunc(next, func(a, b prefixRoute) int { return cmp.Compare(b.p.Bits(), a.p.Bits()) })
	sd.prefixes.Store(&next)
	return nil
}

func (sd *sharedDev) unmapRoute(u *unit, r netip.Prefix) {
	sd.mu.Lock()
	defer sd.mu.Unlock()
	p := sd.prefixes.Load()
	if p == nil || !slices.Contains(*p, prefixRoute{r, u}) {
		return
	}
	next := slices.DeleteFunc(slices.Clone(*p), func(pr prefixRoute) bool { return pr == prefixRoute{r, u} })
	sd.prefixes.Store(&next)
	if err := sd.d.sys.delRoute(r, sd.dev.index()); err != nil && !absent(err) {
		sd.d.log.Warn("cannot remove route from the shared unit", zap.Stringer("route", r), zap.Error(err))
	}
}

// setShared applies s to a shared unit; the caller holds u.mu.
func (u *unit) setShared(s kernel.UnitState) error {
	sd := u.shared
	mtuChanged := false
	if s.MTU > 0 {
		mtuChanged = u.mtu.Swap(int32(min(s.MTU, sd.mtu))) != int32(min(s.MTU, sd.mtu))
		u.state.MTU = s.MTU
	}
	changed4 := u.state.IPv4Local != s.IPv4Local || u.state.IPv4Peer != s.IPv4Peer
	changed6 := u.state.IPv6Local != s.IPv6Local || u.state.IPv6Peer != s.IPv6Peer
	if mtuChanged {
		// The routes that stay get the new MTU; new ones get it when they are made.
		for _, p := range [][2]netip.Addr{{u.state.IPv4Local, u.state.IPv4Peer}, {u.state.IPv6Local, u.state.IPv6Peer}} {
			if p[1].IsValid() && !(p[1].Is4() && changed4) && !(p[1].Is6() && changed6) {
				if err := sd.remtuPeer(u, p[0], p[1]); err != nil {
					return err
				}
			}
		}
	}
	if changed4 {
		u.pass4.Store(false)
		if valid4(u.state) {
			sd.unmapPeer(u, u.state.IPv4Local, u.state.IPv4Peer)
		}
		u.state.IPv4Local, u.state.IPv4Peer = netip.Addr{}, netip.Addr{}
		if valid4(s) {
			if err := sd.mapPeer(u, s.IPv4Local, s.IPv4Peer); err != nil {
				return err
			}
			u.state.IPv4Local, u.state.IPv4Peer = s.IPv4Local, s.IPv4Peer
			u.pass4.Store(true)
		}
	}
	if changed6 {
		u.pass6.Store(false)
		if valid6(u.state) {
			sd.unmapPeer(u, u.state.IPv6Local, u.state.IPv6Peer)
		}
		u.state.IPv6Local, u.state.IPv6Peer = netip.Addr{}, netip.Addr{}
		if valid6(s) {
			if err := sd.mapPeer(u, s.IPv6Local, s.IPv6Peer); err != nil {
				return err
			}
			u.state.IPv6Local, u.state.IPv6Peer = s.IPv6Local, s.IPv6Peer
			u.pass6.Store(true)
		}
	}
	var keep []netip.Prefix
	for _, r := range u.state.Routes {
		if slices.Contains(s.Routes, r) {
			keep = append(keep, r)
		} else {
			sd.unmapRoute(u, r)
		}
	}
	u.state.Routes = keep
	for _, r := range s.Routes {
		have := slices.Contains(u.state.Routes, r)
		if have && !(changed4 && r.Addr().Is4()) && !mtuChanged {
			continue
		}
		var src netip.Addr
		if r.Addr().Is4() {
			src = u.state.IPv4Local
		}
		if err := sd.mapRoute(u, r, src); err != nil {
			return err
		}
		if !have {
			u.state.Routes = append(u.state.Routes, r)
		}
	}
	return nil
}
