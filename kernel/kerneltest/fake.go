package kerneltest

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"syscall"

	"github.com/probox/probox/kernel"
)

// Interface guards.
var (
	_ kernel.Dataplane = (*Fake)(nil)
	_ kernel.Listener  = (*listener)(nil)
	_ kernel.Tunnel    = (*tunnel)(nil)
	_ kernel.Session   = (*session)(nil)
	_ kernel.Channel   = (*channel)(nil)
	_ kernel.Unit      = (*unit)(nil)
	_ kernel.PPPoEPort = (*port)(nil)
	_ io.Closer        = (*bridge)(nil)
)

// Fake is the recording fake data plane of one simulated host on a Network. It keeps the
// objects the engines create as desired state (rendered by State), logs the calls
// (Calls), can fail chosen calls (FailNext), and moves packets and frames over its
// Network. It implements kernel.Dataplane; all methods are safe for concurrent use.
type Fake struct {
	n     *Network
	host  string
	index int          // 1-based position among the Network's hosts
	addrs []netip.Addr // owned addresses, in the order given

	// The Network's mutex guards every field below.
	closed    bool
	listeners []*listener
	tunnels   map[uint32]*tunnel
	v3        map[uint32]*session // L2TPv3 session IDs are unique per host
	channels  map[string]*channel // by channel key
	units     []*unit
	unitNames map[string]bool // names of the dedicated units
	bridges   []*bridge
	ports     map[string]*port
	ifaces    map[string]*iface
	taps      map[string]*End // by tap key: "channel KEY", "unit KEY" or "interface NAME"
	nextPort  uint16          // next ephemeral port to try
	calls     []string
	failures  []failure
}

type failure struct {
	op  string
	err error
}

func newFake(n *Network, host string, index int) *Fake {
	return &Fake{
		n:         n,
		host:      host,
		index:     index,
		tunnels:   make(map[uint32]*tunnel),
		v3:        make(map[uint32]*session),
		channels:  make(map[string]*channel),
		unitNames: make(map[string]bool),
		ports:     make(map[string]*port),
		ifaces:    make(map[string]*iface),
		taps:      make(map[string]*End),
		nextPort:  ephemeralLow,
	}
}

// Ephemeral ports are handed out in order from this range, so that tests see the same
// ports on every run.
const (
	ephemeralLow  = 49152
	ephemeralHigh = 65535
)

// Name returns "fake".
func (f *Fake) Name() string { return "fake" }

// Host is the host name given to Network.Dataplane.
func (f *Fake) Host() string { return f.host }

// Network is the network the host is on.
func (f *Fake) Network() *Network { return f.n }

// Addrs are the host's addresses.
func (f *Fake) Addrs() []netip.Addr { return slices.Clone(f.addrs) }

// Calls returns the log of calls made on the Fake and its objects, oldest first: one
// line per call that creates, changes or closes something (reads and writes are not
// logged), in the style "OpenTunnel 1234 v2 udp 0.0.0.0:0 -> 192.0.2.2:1701". A call that
// failed has ": " and the error appended.
func (f *Fake) Calls() []string {
	f.n.mu.Lock()
	defer f.n.mu.Unlock()
	return slices.Clone(f.calls)
}

// FailNext makes the next call whose log line (as Calls shows it) starts with the words
// of op fail with err, without doing anything. op is a method name ("EnsureSession") or a
// longer prefix ("EnsureSession 1234/77", "Close tunnel 1234"). Writes can be failed too
// ("WriteControl 1234", "WriteFrame l2tp 1234/77", "WriteDiscovery eth1", "WriteTo udp
// 0.0.0.0:1701"), although they are not logged. Several pending failures are used in the
// order they were set.
func (f *Fake) FailNext(op string, err error) {
	f.n.mu.Lock()
	defer f.n.mu.Unlock()
	f.failures = append(f.failures, failure{op, err})
}

// do runs fn under the lock as the call described by line: it logs the call (when log is
// set), fails it if FailNext asked for that, and annotates the log with fn's error.
func (f *Fake) do(line string, log bool, fn func() error) error {
	f.n.mu.Lock()
	defer f.n.mu.Unlock()
	return f.doLocked(line, log, fn)
}

func (f *Fake) doLocked(line string, log bool, fn func() error) error {
	err := f.injectedLocked(line)
	if err == nil {
		err = fn()
	}
	if log {
		if err != nil {
			line += ": " + err.Error()
		}
		f.calls = append(f.calls, line)
	}
	return err
}

func (f *Fake) injectedLocked(line string) error {
	for i, fl := range f.failures {
		if line == fl.op || strings.HasPrefix(line, fl.op+" ") {
			f.failures = slices.Delete(f.failures, i, i+1)
			return fl.err
		}
	}
	return nil
}

func opError(op, object string, err error) error {
	return &kernel.OpError{Op: op, Object: object, Err: err}
}

// errFakeClosed is returned (inside an OpError) by calls on a closed Fake.
var errFakeClosed = fmt.Errorf("data plane closed: %w", net.ErrClosed)

// owns reports whether a is one of the host's addresses.
func (f *Fake) owns(a netip.Addr) bool { return slices.Contains(f.addrs, a) }

// sourceFor picks the local address for talking to dst: the host's first address of
// the same family ("the route"), or the invalid address if it has none.
func (f *Fake) sourceFor(dst netip.Addr) netip.Addr {
	for _, a := range f.addrs {
		if a.Is4() == dst.Is4() {
			return a
		}
	}
	return netip.Addr{}
}

// ephemeralPortLocked returns the next free port on addr for encap (never 0 unless the
// range is exhausted).
func (f *Fake) ephemeralPortLocked(encap kernel.Encap, addr netip.Addr) uint16 {
	for range ephemeralHigh - ephemeralLow + 1 {
		p := f.nextPort
		f.nextPort++
		if f.nextPort == 0 || f.nextPort < ephemeralLow {
			f.nextPort = ephemeralLow
		}
		if !f.portUsedLocked(encap, netip.AddrPortFrom(addr, p)) {
			return p
		}
	}
	return 0
}

func (f *Fake) portUsedLocked(encap kernel.Encap, ap netip.AddrPort) bool {
	for _, l := range f.listeners {
		if l.encap == encap && l.addr.Port() == ap.Port() {
			return true
		}
	}
	for _, t := range f.tunnels {
		if t.encap == encap && t.local == ap {
			return true
		}
	}
	return false
}

// Listen opens a listener. Errors: EINVAL for a bad address, EADDRNOTAVAIL for an address
// the host does not own, EADDRINUSE when a listener of the same encapsulation already has
// that address and port.
func (f *Fake) Listen(cfg kernel.ListenConfig) (kernel.Listener, error) {
	addr := cfg.Addr
	if cfg.Encap == kernel.EncapIP {
		addr = netip.AddrPortFrom(addr.Addr(), 0)
	}
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	var l *listener
	err := f.do(fmt.Sprintf("Listen %s %s", cfg.Encap, addrString(cfg.Encap, addr)), true, func() error {
		obj := "listener " + addrString(cfg.Encap, addr)
		switch {
		case f.closed:
			return opError("listen", obj, errFakeClosed)
		case !addr.Addr().IsValid():
			return opError("listen", obj, syscall.EINVAL)
		case !addr.Addr().IsUnspecified() && !f.owns(addr.Addr()):
			return opError("listen", obj, syscall.EADDRNOTAVAIL)
		}
		if cfg.Encap == kernel.EncapUDP && addr.Port() == 0 {
			addr = netip.AddrPortFrom(addr.Addr(), f.ephemeralPortLocked(cfg.Encap, addr.Addr()))
		}
		for _, o := range f.listeners {
			if o.encap == cfg.Encap && o.addr == addr {
				return opError("listen", obj, syscall.EADDRINUSE)
			}
		}
		l = &listener{f: f, encap: cfg.Encap, addr: addr, q: newQueue[ctlMsg]()}
		f.listeners = append(f.listeners, l)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// OpenTunnel opens a tunnel's transport. An unspecified local address becomes the host's
// first address of the peer's family and local port 0 the next ephemeral port (from
// 49152). Errors: EINVAL for bad parameters (version not 2 or 3, L2TPv2 over IP, tunnel ID
// 0 or above 65535 for L2TPv2, no peer address or UDP port, mixed address families),
// EADDRNOTAVAIL for a local address the host does not own, EEXIST for a tunnel ID in use,
// EADDRINUSE for a UDP tunnel with the same local and peer address and port as another.
func (f *Fake) OpenTunnel(cfg kernel.TunnelConfig) (kernel.Tunnel, error) {
	cfg.Local = normalize(cfg.Encap, cfg.Local)
	cfg.Peer = normalize(cfg.Encap, cfg.Peer)
	var t *tunnel
	line := fmt.Sprintf("OpenTunnel %d v%d %s %s -> %s", cfg.TunnelID, cfg.Version, cfg.Encap,
		addrString(cfg.Encap, cfg.Local), addrString(cfg.Encap, cfg.Peer))
	err := f.do(line, true, func() error {
		var err error
		t, err = f.openTunnelLocked(cfg)
		return err
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

func (f *Fake) openTunnelLocked(cfg kernel.TunnelConfig) (*tunnel, error) {
	obj := fmt.Sprintf("tunnel %d", cfg.TunnelID)
	fail := func(err error) (*tunnel, error) { return nil, opError("open tunnel", obj, err) }
	peer, local := cfg.Peer.Addr(), cfg.Local.Addr()
	switch {
	case f.closed:
		return fail(errFakeClosed)
	case cfg.Version != 2 && cfg.Version != 3,
		cfg.Version == 2 && cfg.Encap != kernel.EncapUDP,
		cfg.TunnelID == 0, cfg.Version == 2 && cfg.TunnelID > 0xffff,
		!peer.IsValid(), peer.IsUnspecified(),
		cfg.Encap == kernel.EncapUDP && cfg.Peer.Port() == 0,
		local.IsValid() && local.Is4() != peer.Is4():
		return fail(syscall.EINVAL)
	}
	if !local.IsValid() || local.IsUnspecified() {
		local = f.sourceFor(peer)
		if !local.IsValid() {
			return fail(syscall.EADDRNOTAVAIL)
		}
	} else if !f.owns(local) {
		return fail(syscall.EADDRNOTAVAIL)
	}
	if _, ok := f.tunnels[cfg.TunnelID]; ok {
		return fail(syscall.EEXIST)
	}
	port := cfg.Local.Port()
	if cfg.Encap == kernel.EncapUDP && port == 0 {
		if port = f.ephemeralPortLocked(cfg.Encap, local); port == 0 {
			return fail(syscall.EADDRINUSE)
		}
	}
	cfg.Local = netip.AddrPortFrom(local, port)
	for _, o := range f.tunnels {
		if o.encap == kernel.EncapUDP && cfg.Encap == kernel.EncapUDP && o.local == cfg.Local && o.peer == cfg.Peer {
			return fail(syscall.EADDRINUSE)
		}
	}
	t := &tunnel{
		f:        f,
		cfg:      cfg,
		encap:    cfg.Encap,
		local:    cfg.Local,
		peer:     cfg.Peer,
		anyPort:  cfg.AnyPeerPort && cfg.Encap == kernel.EncapUDP,
		ctl:      newQueue[ctlMsg](),
		sessions: make(map[uint32]*session),
	}
	f.tunnels[cfg.TunnelID] = t
	return t, nil
}

// normalize unmaps an address and clears the port of an IP-encapsulation address.
func normalize(encap kernel.Encap, ap netip.AddrPort) netip.AddrPort {
	port := ap.Port()
	if encap == kernel.EncapIP {
		port = 0
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), port)
}

// addrString renders an address of encap: with the port for UDP, without for IP.
func addrString(encap kernel.Encap, ap netip.AddrPort) string {
	if !ap.Addr().IsValid() {
		return "-"
	}
	if encap == kernel.EncapIP {
		return ap.Addr().String()
	}
	return ap.String()
}

// NewUnit creates a unit on a channel of this Fake. A dedicated unit is named
// cfg.Name, or by the template cfg.Name (with %d) or "ppp%d" with the lowest free
// number; a shared unit is named cfg.Name or "probox0" and shares that name with the
// other shared units. Errors: EINVAL for a channel that is not this Fake's, EEXIST when
// the channel already has a unit or a dedicated name is taken, net.ErrClosed for a closed
// channel.
func (f *Fake) NewUnit(ch kernel.Channel, cfg kernel.UnitConfig) (kernel.Unit, error) {
	c, _ := ch.(*channel)
	key := "?"
	if c != nil {
		key = c.key
	}
	mode := "dedicated"
	if cfg.Shared {
		mode = "shared"
	}
	line := fmt.Sprintf("NewUnit %s %s %q mtu %d", key, mode, cfg.Name, cfg.MTU)
	var u *unit
	err := f.do(line, true, func() error {
		var err error
		u, err = f.newUnitLocked(c, cfg)
		return err
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// Bridge joins two channels of this Fake. Errors: EINVAL for a channel that is not this
// Fake's or for a channel bridged to itself, EBUSY when either is already bridged,
// net.ErrClosed for a closed channel.
func (f *Fake) Bridge(a, b kernel.Channel) (io.Closer, error) {
	ca, _ := a.(*channel)
	cb, _ := b.(*channel)
	var br *bridge
	err := f.do(fmt.Sprintf("Bridge %s %s", chanKey(ca), chanKey(cb)), true, func() error {
		var err error
		br, err = f.bridgeLocked(ca, cb)
		return err
	})
	if err != nil {
		return nil, err
	}
	return br, nil
}

func chanKey(c *channel) string {
	if c == nil {
		return "?"
	}
	return c.key
}

// Close closes every object of the Fake (units, bridges, channels, sessions, tunnels,
// listeners, PPPoE ports and taps). Later calls that create objects fail with an OpError
// wrapping net.ErrClosed. It is idempotent.
func (f *Fake) Close() error {
	return f.do("Close", true, func() error {
		if f.closed {
			return nil
		}
		f.closed = true
		for _, u := range slices.Clone(f.units) {
			u.closeLocked()
		}
		for _, t := range f.tunnels {
			t.closeLocked()
		}
		for _, p := range f.ports {
			p.closeLocked()
		}
		for _, l := range slices.Clone(f.listeners) {
			l.closeLocked()
		}
		for _, e := range f.taps {
			e.q.closeLocked()
		}
		clear(f.taps)
		return nil
	})
}
