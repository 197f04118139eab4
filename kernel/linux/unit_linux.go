//go:build linux

package linux

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/probox/probox/kernel/internal/closeset"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/probox/probox/kernel"
	"github.com/probox/probox/kernel/internal/netdev"
)

// defaultUnitName is the kernel's own name for PPP unit N.
const defaultUnitName = "ppp%d"

// unit is a PPP unit: a pppN interface of the kernel's, owned by a /dev/ppp unit file, to
// which the channel is connected (PPPIOCCONNECT). Shared units do not exist in the kernel
// data plane: every unit is a dedicated interface (the kernel handles one per session
// well), so UnitConfig.Shared is honoured by giving the session its own device, named by
// UnitConfig.Name as for any unit.
//
// A new unit passes no network-layer packet: both IPv4 and IPv6 are set to NPMODE_DROP
// (the kernel's default is NPMODE_PASS) until Set configures them, the way pppd does after
// IPCP and IPv6CP open. Unit flags stay 0, as pppd leaves them without VJ compression,
// CCP or multilink.
type unit struct {
	d    *Dataplane
	ch   *channel
	fd   *pollFD // the /dev/ppp unit file; closing it removes the interface
	num  int
	idx  int
	name string
	obj  string
	log  *zap.Logger
	wg   sync.WaitGroup

	smu sync.Mutex // guards ctr
	ctr unitCounters

	mu     sync.Mutex // guards the fields below
	state  kernel.UnitState
	mtu    int
	closed bool
}

// NewUnit creates the pppN interface that carries IP for the channel ch; see
// kernel.Dataplane.
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
	c.mu.Lock()
	switch {
	case c.closed.Load():
		err = net.ErrClosed
	case c.unit != nil:
		err = fmt.Errorf("%w: the channel has a unit", unix.EBUSY)
	case c.bridge != nil:
		err = fmt.Errorf("%w: the channel is bridged", unix.EBUSY)
	}
	var u *unit
	if err == nil {
		u, err = d.createUnitLocked(c, cfg, mtu)
	}
	if err == nil {
		c.unit = u
	}
	c.mu.Unlock()
	if err != nil {
		return nil, opErr("create unit", c.obj, err)
	}
	if err := d.register(u, closeset.Unit); err != nil {
		u.Close()
		return nil, opErr("create unit", u.name, err)
	}
	u.log.Debug("unit created", zap.Bool("shared", cfg.Shared), zap.Int("mtu", mtu))
	return u, nil
}

// createUnitLocked creates the unit, connects the channel and configures the interface;
// the caller holds c.mu.
func (d *Dataplane) createUnitLocked(c *channel, cfg kernel.UnitConfig, mtu int) (u *unit, err error) {
	f, num, err := d.newUnit(unitNumber(cfg.Name))
	if err != nil {
		return nil, err
	}
	connected := false
	defer func() {
		if err != nil {
			if connected {
				disconnectChannel(c.fd)
			}
			f.close()
		}
	}()
	for _, proto := range []uint16{pppIPv4, pppIPv6} {
		if err := setNPMode(f, proto, npModeDrop); err != nil {
			return nil, fmt.Errorf("set NPMODE_DROP for %#04x: %w", proto, err)
		}
	}
	if _, err := f.ioctlInt(pppIocSMRU, int32(mtu)); err != nil {
		return nil, fmt.Errorf("set MRU: %w", err)
	}
	if err := c.connectUnitLocked(num); err != nil {
		return nil, err
	}
	connected = true
	name := fmt.Sprintf("ppp%d", num)
	link, err := d.h.LinkByName(name)
	if err != nil {
		return nil, err
	}
	if g := d.cfg.InterfaceGroup; g != 0 {
		if err := d.h.SetGroup(link.Index, g); err != nil {
			return nil, err
		}
	}
	if cfg.Name != "" && cfg.Name != defaultUnitName && cfg.Name != name {
		if err := d.renameLink(name, cfg.Name); err != nil {
			return nil, err
		}
		if link, err = d.h.LinkByIndex(link.Index); err != nil {
			return nil, err
		}
	}
	if err := d.h.SetMTU(link.Index, mtu); err != nil {
		return nil, err
	}
	if err := d.h.SetUp(link.Index, true); err != nil {
		return nil, err
	}
	u = &unit{
		d: d, ch: c, fd: f, num: num, idx: link.Index, name: link.Name, obj: "unit " + link.Name,
		log: d.log.With(zap.String("unit", link.Name), zap.String("channel", c.obj)),
		mtu: mtu,
	}
	u.state.MTU = mtu
	u.wg.Add(1)
	go u.run()
	return u, nil
}

// unitNumber returns N for a unit name "pppN" (N without leading zeros): the unit number
// to ask the kernel for (PPPIOCNEWUNIT, as pppd's "unit N" does), so that the interface
// has its name from the start. Any other name gives -1 (the lowest free number), and the
// interface is renamed once made. Renaming "pppK" to "pppN" would race with units being
// made at the same time: the kernel names each new unit "pppK" by its number until it is
// renamed, so the one being renamed to "pppN" may find N taken by another's temporary name.
func unitNumber(name string) int32 {
	digits, ok := strings.CutPrefix(name, "ppp")
	if !ok || digits == "" || len(digits) > 1 && digits[0] == '0' || strings.Trim(digits, "0123456789") != "" {
		return -1
	}
	n, err := strconv.ParseInt(digits, 10, 32)
	if err != nil {
		return -1
	}
	return int32(n)
}

// run reads the unit file: the frames the unit does not pass as packets (the NCPs) go to
// the channel's control queue. It ends when the file is closed or the unit has no
// channel left (end of file).
func (u *unit) run() {
	defer u.wg.Done()
	for {
		f, err := readFrame(u.fd)
		if err != nil {
			if err == net.ErrClosed {
				return
			}
			if transient(err) {
				continue
			}
			u.log.Warn("PPP unit read failed", zap.Error(err))
			return
		}
		if f == nil {
			return
		}
		u.ch.input(f)
	}
}

// Name is the interface name.
func (u *unit) Name() string { return u.name }

// Set makes the unit's configuration be s; see kernel.Unit. It applies only the
// differences to what it applied before; after an error a later Set repairs the rest.
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
	return opErr("set", u.obj, u.setLocked(s))
}

func (u *unit) setLocked(s kernel.UnitState) error {
	h := u.d.h
	if s.MTU > 0 && s.MTU != u.mtu {
		if err := h.SetMTU(u.idx, s.MTU); err != nil {
			return err
		}
		if _, err := u.fd.ioctlInt(pppIocSMRU, int32(s.MTU)); err != nil {
			return fmt.Errorf("set MRU: %w", err)
		}
		u.mtu, u.state.MTU = s.MTU, s.MTU
	}
	// A point-to-point address, local/32 (/128) with the peer, which also routes the
	// peer through the unit. The protocol passes only while its addresses are there.
	type family struct {
		proto             uint16
		oldLocal, oldPeer *netip.Addr
		local, peer       netip.Addr
	}
	changed4 := false
	for _, f := range []family{
		{pppIPv4, &u.state.IPv4Local, &u.state.IPv4Peer, s.IPv4Local, s.IPv4Peer},
		{pppIPv6, &u.state.IPv6Local, &u.state.IPv6Peer, s.IPv6Local, s.IPv6Peer},
	} {
		if *f.oldLocal == f.local && *f.oldPeer == f.peer {
			continue
		}
		if f.proto == pppIPv4 {
			changed4 = true
		}
		if err := setNPMode(u.fd, f.proto, npModeDrop); err != nil {
			return fmt.Errorf("set NPMODE_DROP for %#04x: %w", f.proto, err)
		}
		if f.oldLocal.IsValid() && f.oldPeer.IsValid() {
			if err := h.DelAddr(u.idx, netdev.Addr{Local: hostPrefix(*f.oldLocal), Peer: *f.oldPeer}); err != nil {
				return err
			}
		}
		*f.oldLocal, *f.oldPeer = netip.Addr{}, netip.Addr{}
		if f.local.IsValid() && f.peer.IsValid() {
			if err := h.AddAddr(u.idx, netdev.Addr{Local: hostPrefix(f.local), Peer: f.peer}); err != nil {
				return err
			}
			*f.oldLocal, *f.oldPeer = f.local, f.peer
			if err := setNPMode(u.fd, f.proto, npModePass); err != nil {
				return fmt.Errorf("set NPMODE_PASS for %#04x: %w", f.proto, err)
			}
		}
	}
	// Routes. The kernel drops the routes whose preferred source went away with an
	// address, so IPv4 routes are replaced again when the IPv4 address changed.
	var keep []netip.Prefix
	for i, r := range u.state.Routes {
		if slices.Contains(s.Routes, r) {
			keep = append(keep, r)
			continue
		}
		if err := h.DelRoute(netdev.Route{Dst: r, Dev: u.idx}); err != nil {
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
		rt := netdev.Route{Dst: r, Dev: u.idx}
		if r.Addr().Is4() {
			rt.Src = u.state.IPv4Local
		}
		if err := h.ReplaceRoute(rt); err != nil {
			return err
		}
		if !have {
			u.state.Routes = append(u.state.Routes, r)
		}
	}
	return nil
}

// normalizeState checks s and puts it in canonical form: unmapped addresses, masked and
// deduplicated routes.
func normalizeState(s kernel.UnitState) (kernel.UnitState, error) {
	s.IPv4Local, s.IPv4Peer = s.IPv4Local.Unmap(), s.IPv4Peer.Unmap()
	s.IPv6Local, s.IPv6Peer = s.IPv6Local.WithZone(""), s.IPv6Peer.WithZone("")
	for _, a := range []netip.Addr{s.IPv4Local, s.IPv4Peer} {
		if a.IsValid() && !a.Is4() {
			return s, fmt.Errorf("%w: %v is not an IPv4 address", unix.EINVAL, a)
		}
	}
	for _, a := range []netip.Addr{s.IPv6Local, s.IPv6Peer} {
		if a.IsValid() && !a.Is6() {
			return s, fmt.Errorf("%w: %v is not an IPv6 address", unix.EINVAL, a)
		}
	}
	var routes []netip.Prefix
	for _, r := range s.Routes {
		if !r.IsValid() {
			return s, fmt.Errorf("%w: route %v", unix.EINVAL, r)
		}
		r = netip.PrefixFrom(r.Addr().Unmap(), r.Bits()).Masked()
		if !slices.Contains(routes, r) {
			routes = append(routes, r)
		}
	}
	s.Routes = routes
	return s, nil
}

func hostPrefix(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, a.BitLen()) }

// Stats returns the unit's counters: the frames the unit passed in and out.
func (u *unit) Stats() kernel.Counters {
	st, err := u.d.readPPPStats(u.name)
	u.smu.Lock()
	defer u.smu.Unlock()
	if err == nil {
		u.ctr.update(st)
	}
	return u.ctr.counters()
}

// Close removes the interface: the channel is disconnected and the unit file closed,
// which unregisters pppN with its addresses and routes.
func (u *unit) Close() error {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return nil
	}
	u.closed = true
	u.mu.Unlock()

	var errs []error
	c := u.ch
	c.mu.Lock()
	if c.unit == u {
		c.unit = nil
		if !c.closed.Load() {
			errs = append(errs, disconnectChannel(c.fd))
		}
	}
	c.mu.Unlock()
	errs = append(errs, u.fd.close())
	u.wg.Wait()
	u.d.forget(u)
	u.log.Debug("unit removed")
	return opErr("close", u.obj, errors.Join(errs...))
}

// unitCounters extends the unit's 32-bit kernel counters (SIOCGPPPSTATS) to 64 bits by
// adding the difference to the previous reading, which is right as long as Stats is
// called at least once per wrap (4 GiB of traffic for the byte counters).
type unitCounters struct {
	have                         bool
	last                         pppStats
	rxPackets, rxBytes, rxErrors uint64
	txPackets, txBytes, txErrors uint64
}

func (c *unitCounters) update(st pppStats) {
	if !c.have {
		c.rxPackets, c.rxBytes, c.rxErrors = uint64(st.iPackets), uint64(st.iBytes), uint64(st.iErrors)
		c.txPackets, c.txBytes, c.txErrors = uint64(st.oPackets), uint64(st.oBytes), uint64(st.oErrors)
	} else {
		c.rxPackets += uint64(st.iPackets - c.last.iPackets)
		c.rxBytes += uint64(st.iBytes - c.last.iBytes)
		c.rxErrors += uint64(st.iErrors - c.last.iErrors)
		c.txPackets += uint64(st.oPackets - c.last.oPackets)
		c.txBytes += uint64(st.oBytes - c.last.oBytes)
		c.txErrors += uint64(st.oErrors - c.last.oErrors)
	}
	c.have, c.last = true, st
}

func (c *unitCounters) counters() kernel.Counters {
	k := kernel.Counters{RxPackets: c.rxPackets, RxBytes: c.rxBytes, TxPackets: c.txPackets, TxBytes: c.txBytes}
	k.Drops[kernel.DropMalformed] = c.rxErrors
	k.Drops[kernel.DropWrite] = c.txErrors
	return k
}
