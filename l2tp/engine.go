package l2tp

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/probox/probox/config"
	"github.com/probox/probox/control/event"
	"github.com/probox/probox/kernel"
)

// The engine: prol2tpd's core. It owns the listeners and the index from tunnel IDs to
// tunnel actors; every tunnel (with its sessions) is one actor goroutine (tunnel.go) that
// owns the tunnel's state. The engine never reads an actor's state: it asks the actor with
// a request (tunnel.do) and the actor answers from its own goroutine.

// Config is the L2TP engine's configuration: the whole probox configuration, of which the
// engine reads [system], the profiles and [tunnel.NAME].
type Config struct {
	Cfg *config.Config
}

// Validate checks what the engine needs beyond config.Config's own validation. Each error
// names the key path.
func (c Config) Validate() error {
	if c.Cfg == nil {
		return errors.New("l2tp: no configuration")
	}
	var errs []error
	bad := func(path, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, a...)))
	}
	cfg := c.Cfg
	for _, name := range sortedKeys(cfg.PeerProfiles) {
		p := cfg.PeerProfiles[name]
		tp, ok1 := cfg.TunnelProfiles[p.TunnelProfile]
		sp, ok2 := cfg.SessionProfiles[p.SessionProfile]
		if ok1 && ok2 && tp.Version == 2 && sp.PWType == config.PWEthernet {
			bad("peer_profile."+name+".session_profile", "Ethernet pseudowires need L2TPv3, but tunnel profile %q has version = 2", p.TunnelProfile)
		}
	}
	for _, name := range sortedKeys(cfg.Tunnels) {
		t := cfg.Tunnels[name]
		path := "tunnel." + name
		tp := cfg.TunnelProfiles[t.TunnelProfile]
		if _, _, err := splitHostPort(t.Peer, tp.PeerPort); err != nil {
			bad(path+".peer", "%v", err)
		}
		if t.Local != "" {
			if _, err := parseLocal(t.Local); err != nil {
				bad(path+".local", "%v", err)
			}
		}
		if t.Static && tp.Version == 2 {
			continue // config.validate reports it
		}
		for _, sname := range sortedKeys(t.Sessions) {
			s := t.Sessions[sname]
			sp := cfg.SessionProfiles[s.SessionProfile]
			spath := path + ".session." + sname
			if sp.PWType == config.PWEthernet && tp.Version == 2 {
				bad(spath+".session_profile", "Ethernet pseudowires need L2TPv3, but tunnel profile %q has version = 2", t.TunnelProfile)
			}
			if t.Static && tp.Version == 3 && s.SessionID != 0 {
				for oname, o := range t.Sessions {
					if oname < sname && o.SessionID == s.SessionID {
						bad(spath+".session_id", "session %d is also used by %s.session.%s", s.SessionID, path, oname)
					}
				}
			}
		}
	}
	staticIDs := map[uint32]string{}
	for _, name := range sortedKeys(cfg.Tunnels) {
		t := cfg.Tunnels[name]
		if !t.Static || t.TunnelID == 0 {
			continue
		}
		if other, dup := staticIDs[t.TunnelID]; dup {
			bad("tunnel."+name+".tunnel_id", "tunnel ID %d is also used by tunnel.%s", t.TunnelID, other)
		}
		staticIDs[t.TunnelID] = name
	}
	return errors.Join(errs...)
}

// Deps are the engine's dependencies.
type Deps struct {
	// Dataplane creates listeners, tunnels and sessions; required.
	Dataplane kernel.Dataplane
	// Log is the parent logger; the engine uses Log.Named("l2tp"). nil: no logging.
	Log *zap.Logger
	// Registry receives the engine's metrics. nil: a private registry.
	Registry prometheus.Registerer
	// Bus receives tunnel and session events. nil: events are dropped.
	Bus *event.Bus
	// PPP runs PPP on the channels of PPP sessions (LNS, and L2TP PPP clients). nil: PPP
	// sessions that need it are refused (CDN).
	PPP PPPStarter
	// Rand is the source of tunnel and session IDs, cookies, challenges, nonces and
	// random vectors. nil: crypto/rand.
	Rand io.Reader
	// Now is the clock for protocol timestamps. nil: time.Now. Timers always run on the
	// time package (so that testing/synctest drives them).
	Now func() time.Time
}

// PPPStarter starts PPP on an L2TP session's channel. The daemon implements it with the PPP
// engine; the L2TP engine does not import package ppp.
type PPPStarter interface {
	StartPPP(req PPPRequest) (PPPSession, error)
}

// PPPRequest asks for PPP on an L2TP session.
type PPPRequest struct {
	Channel kernel.Channel
	// Client selects the PPP client (peer) role: the L2TP PPP client use case.
	Client bool
	// Profile is the ppp_profile name.
	Profile string
	// MaxMRU is the largest MRU the carrier allows: the tunnel profile's path MTU less the
	// IP, UDP and L2TP headers and the PPP address, control and protocol fields.
	MaxMRU                                           int
	TunnelID, SessionID, PeerTunnelID, PeerSessionID uint32
	Peer                                             netip.AddrPort
	CallingNumber, CalledNumber                      string
	ProxyLCP                                         *ProxyLCP
	ProxyAuth                                        *ProxyAuth
}

// PPPSession is a running PPP session. Done is closed when it has ended, whatever the
// reason; Stop asks it to end (LCP Terminate) and returns at once.
type PPPSession interface {
	Done() <-chan struct{}
	Stop(reason string)
	// Reason tells why the session ended (valid after Done is closed).
	Reason() string
	// Interface is the network interface carrying the session's IP, once known.
	Interface() string
	// User is the authenticated user name, once known.
	User() string
}

// ProxyLCP is the LCP state a LAC negotiated with the remote system: the Initial Received,
// Last Sent and Last Received LCP Configure-Requests (AVPs 26, 27, 28, RFC 2661 §4.4.5).
type ProxyLCP struct {
	InitialReceived, LastSent, LastReceived []byte
}

// ProxyAuth is the authentication a LAC performed with the remote system: Proxy Authen
// Type, Name, Challenge, ID and Response (AVPs 29 to 33, RFC 2661 §4.4.5).
type ProxyAuth struct {
	Type      uint16
	Name      string
	Challenge []byte
	ID        uint8
	Response  []byte
}

// Engine errors.
var (
	// ErrNotRunning reports a request to an engine whose Run has not started or has ended.
	ErrNotRunning = errors.New("l2tp: engine not running")
	// ErrNotFound reports an unknown tunnel, session or configured name.
	ErrNotFound = errors.New("l2tp: not found")
	// ErrExists reports a configured tunnel or session that is already up.
	ErrExists = errors.New("l2tp: already exists")
	// ErrLimit reports a refusal by system.max_tunnels, system.max_sessions or a tunnel
	// profile's max_sessions.
	ErrLimit = errors.New("l2tp: limit reached")
	// errTunnelGone reports a request to a tunnel actor that has ended.
	errTunnelGone = errors.New("l2tp: tunnel has gone")
	// errTunnelClosing reports a new session asked of a tunnel that is closing.
	errTunnelClosing = errors.New("l2tp: tunnel is closing")
)

// Timing constants.
const (
	// shutdownWait bounds how long a stopping engine waits for its peers to acknowledge
	// the StopCCNs (RFC 2661 §5.7 would hold state for a full retransmission cycle).
	shutdownWait = 5 * time.Second
	// pppStopWait bounds how long an administrative session delete lets PPP terminate
	// (LCP Terminate-Request) before the CDN.
	pppStopWait = 3 * time.Second
	// persistMinBackoff and persistMaxBackoff bound the delay before a persistent tunnel
	// (or a configured session in it) is brought up again.
	persistMinBackoff = time.Second
	persistMaxBackoff = time.Minute
)

// Engine is the L2TP engine.
type Engine struct {
	deps    Deps
	log     *zap.Logger
	now     func() time.Time
	m       *metrics
	warn    *rateLimiter
	serial  atomic.Uint32 // call serial numbers
	started atomic.Bool   // Run was called

	randMu sync.Mutex // guards rand; a leaf lock
	rand   io.Reader

	// mu guards the fields below. It is only held for index updates: nothing that can
	// block (a request to an actor, a data-plane call, a send on a channel that can fill)
	// runs while it is held. Lock order: mu, then randMu.
	mu         sync.Mutex
	cfg        *config.Config
	hostName   string
	routerID   uint32
	state      engineState
	ctx        context.Context // Run's context: actors start shutting down when it ends
	tunnels    map[uint32]*tunnel
	byPeer     map[peerKey]*tunnel    // responder tunnels by the SCCRQ's source and Assigned Tunnel ID
	named      map[string]*tunnel     // configured tunnels that take new calls, by name
	supervised map[string]*supervisor // persistent configured tunnels
	v3IDs      map[uint32]bool        // live L2TPv3 session IDs: unique per host (RFC 3931 §4.1)
	nsessions  int                    // live sessions, for system.max_sessions
	listeners  map[listenKey]*listener

	wg sync.WaitGroup // actors, listeners and supervisors
}

type engineState uint8

const (
	engineNew engineState = iota
	engineRunning
	engineStopping
	engineStopped
)

// peerKey identifies a peer's tunnel: the source of its SCCRQ and its Assigned Tunnel ID
// (Control Connection ID). The port is 0 for L2TPv3 over IP.
type peerKey struct {
	peer netip.AddrPort
	id   uint32
}

// New returns an engine for cfg. It fails on an invalid configuration.
func New(cfg Config, deps Deps) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Dataplane == nil {
		return nil, errors.New("l2tp: no data plane")
	}
	log := deps.Log
	if log == nil {
		log = zap.NewNop()
	}
	reg := deps.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	e := &Engine{
		deps:       deps,
		log:        log.Named("l2tp"),
		now:        deps.Now,
		rand:       deps.Rand,
		tunnels:    make(map[uint32]*tunnel),
		byPeer:     make(map[peerKey]*tunnel),
		named:      make(map[string]*tunnel),
		supervised: make(map[string]*supervisor),
		v3IDs:      make(map[uint32]bool),
		listeners:  make(map[listenKey]*listener),
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.rand == nil {
		e.rand = rand.Reader
	}
	e.warn = newRateLimiter(e.now, 10, 20)
	m, err := newMetrics(reg, e)
	if err != nil {
		return nil, err
	}
	e.m = m
	e.setConfig(cfg.Cfg)
	e.serial.Store(e.randUint32())
	return e, nil
}

// Name returns "l2tp".
func (e *Engine) Name() string { return "l2tp" }

// CurrentConfig returns the configuration in effect. The caller must not modify it.
func (e *Engine) CurrentConfig() *config.Config {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cfg
}

func (e *Engine) setConfig(cfg *config.Config) {
	host := hostNameOf(cfg)
	rid := routerIDOf(cfg, host)
	e.mu.Lock()
	e.cfg, e.hostName, e.routerID = cfg, host, rid
	e.mu.Unlock()
}

// Run opens the listeners of system.l2tp_listen and system.l2tp_ip_listen, brings up the
// configured tunnels that are static, persistent or have sessions, and serves until ctx
// is done. Then it sends a StopCCN to every peer (waiting a bounded time for the
// acknowledgements), closes every kernel object it created and returns once every
// goroutine it started has exited. Run may be called once.
func (e *Engine) Run(ctx context.Context) error {
	if !e.started.CompareAndSwap(false, true) {
		return errors.New("l2tp: Run called twice")
	}
	e.mu.Lock()
	e.state, e.ctx = engineRunning, ctx
	cfg := e.cfg
	e.mu.Unlock()

	err := e.syncListeners(cfg)
	if err == nil {
		for _, name := range sortedKeys(cfg.Tunnels) {
			if autoStart(cfg.Tunnels[name]) {
				if err := e.startConfigured(name); err != nil {
					e.log.Warn("cannot bring up configured tunnel", zap.String("tunnel", name), zap.Error(err))
				}
			}
		}
		e.log.Info("l2tp engine running", zap.Int("listeners", e.listenerCount()), zap.Stringer("router_id", uint32Addr(e.routerIDNow())))
		<-ctx.Done()
	}

	e.mu.Lock()
	e.state = engineStopping
	ls := make([]*listener, 0, len(e.listeners))
	for k, l := range e.listeners {
		ls = append(ls, l)
		delete(e.listeners, k)
	}
	svs := make([]*supervisor, 0, len(e.supervised))
	for name, sv := range e.supervised {
		svs = append(svs, sv)
		delete(e.supervised, name)
	}
	n := len(e.tunnels)
	e.mu.Unlock()
	e.log.Info("l2tp engine stopping", zap.Int("tunnels", n))
	for _, l := range ls {
		l.close()
	}
	for _, sv := range svs {
		sv.halt()
	}
	// The actors watch ctx themselves; when the engine failed to start they are told here.
	if ctx.Err() == nil {
		for _, t := range e.allTunnels() {
			t.stopSoon()
		}
	}
	e.wg.Wait()
	e.mu.Lock()
	e.state = engineStopped
	e.mu.Unlock()
	e.log.Info("l2tp engine stopped")
	return err
}

// autoStart reports whether a configured tunnel is brought up at start (and on reload):
// static tunnels, persistent tunnels and tunnels with sessions. The others (LAC tunnels)
// come up on demand: PlaceCall, or "create tunnel".
func autoStart(t config.Tunnel) bool { return t.Static || t.Persist || len(t.Sessions) > 0 }

// Reload applies a new configuration. Profiles apply to tunnels and sessions created from
// now on; listeners follow system.l2tp_listen and system.l2tp_ip_listen; configured
// tunnels that were added are brought up (when they come up by themselves, see Run), those
// removed are torn down, those modified are restarted. Tunnels and sessions the change
// does not concern are left alone. An invalid configuration changes nothing.
func (e *Engine) Reload(cfg *config.Config, changes []config.Change) error {
	if err := (Config{Cfg: cfg}).Validate(); err != nil {
		return err
	}
	e.setConfig(cfg)
	e.mu.Lock()
	running := e.state == engineRunning
	e.mu.Unlock()
	if !running {
		return nil
	}
	var errs []error
	if err := e.syncListeners(cfg); err != nil {
		errs = append(errs, err)
	}
	for _, c := range changes {
		name, ok := tunnelChange(c.Path)
		if !ok {
			continue
		}
		switch c.Kind {
		case config.Removed, config.Modified:
			e.stopConfigured(name, "removed from the configuration", c.Kind == config.Modified)
		}
		if c.Kind == config.Removed {
			continue
		}
		if t, ok := cfg.Tunnels[name]; ok && autoStart(t) {
			if err := e.startConfigured(name); err != nil && !errors.Is(err, ErrExists) {
				errs = append(errs, fmt.Errorf("tunnel.%s: %w", name, err))
			}
		}
	}
	e.log.Info("configuration reloaded", zap.Int("changes", len(changes)))
	return errors.Join(errs...)
}

// tunnelChange returns NAME for a change of "tunnel.NAME".
func tunnelChange(path string) (string, bool) {
	const p = "tunnel."
	if len(path) <= len(p) || path[:len(p)] != p {
		return "", false
	}
	return path[len(p):], true
}

// Summary counts the live tunnels and sessions.
func (e *Engine) Summary(ctx context.Context) (map[string]int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return map[string]int{"tunnels": len(e.tunnels), "sessions": e.nsessions}, nil
}

// running returns Run's context if the engine serves requests.
func (e *Engine) running() (context.Context, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.state != engineRunning {
		return nil, ErrNotRunning
	}
	return e.ctx, nil
}

func (e *Engine) allTunnels() []*tunnel {
	e.mu.Lock()
	defer e.mu.Unlock()
	ts := make([]*tunnel, 0, len(e.tunnels))
	for _, t := range e.tunnels {
		ts = append(ts, t)
	}
	return ts
}

func (e *Engine) routerIDNow() uint32 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.routerID
}

// randRead fills b from Deps.Rand.
func (e *Engine) randRead(b []byte) {
	e.randMu.Lock()
	defer e.randMu.Unlock()
	if _, err := io.ReadFull(e.rand, b); err != nil {
		// A failing random source is a broken host; fall back rather than stall.
		_, _ = io.ReadFull(rand.Reader, b)
	}
}

func (e *Engine) randBytes(n int) []byte {
	b := make([]byte, n)
	e.randRead(b)
	return b
}

func (e *Engine) randUint32() uint32 {
	var b [4]byte
	e.randRead(b[:])
	return binary.BigEndian.Uint32(b[:])
}

func (e *Engine) randUint64() uint64 {
	var b [8]byte
	e.randRead(b[:])
	return binary.BigEndian.Uint64(b[:])
}

// allocTunnelIDLocked returns a random non-zero tunnel ID that no live tunnel uses; L2TPv2
// IDs are 16 bits (RFC 2661 §3.1). Tunnel IDs are unique per host for both versions, as
// the kernel requires. It returns 0 when the space is exhausted.
func (e *Engine) allocTunnelIDLocked(v Version) uint32 {
	for range 1000 {
		id := e.randUint32()
		if v == Version2 {
			id &= 0xffff
		}
		if id != 0 && e.tunnels[id] == nil {
			return id
		}
	}
	return 0
}

// reserveSession counts a new session against system.max_sessions and, for L2TPv3, claims
// a random session ID unique on the host (RFC 3931 §4.1). For L2TPv2 (v3 false) the
// tunnel chooses the ID. It returns 0 and ErrLimit when the limit is reached.
func (e *Engine) reserveSession(v3 bool, fixed uint32) (uint32, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if max := e.cfg.System.MaxSessions; max > 0 && e.nsessions >= max {
		return 0, fmt.Errorf("%w: system.max_sessions = %d", ErrLimit, max)
	}
	var id uint32
	if v3 {
		if fixed != 0 {
			if e.v3IDs[fixed] {
				return 0, fmt.Errorf("%w: session ID %d", ErrExists, fixed)
			}
			id = fixed
		}
		for i := 0; id == 0 && i < 1000; i++ {
			if c := e.randUint32(); c != 0 && !e.v3IDs[c] {
				id = c
			}
		}
		if id == 0 {
			return 0, fmt.Errorf("%w: no free session ID", ErrLimit)
		}
		e.v3IDs[id] = true
	}
	e.nsessions++
	return id, nil
}

// releaseSession undoes reserveSession.
func (e *Engine) releaseSession(v3 bool, id uint32) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if v3 {
		delete(e.v3IDs, id)
	}
	e.nsessions--
}

// tunnelSpec describes a tunnel to start.
type tunnelSpec struct {
	initiator bool
	static    bool
	name      string // configured tunnel name; "" for network-initiated tunnels
	version   Version
	encap     kernel.Encap
	local     netip.AddrPort
	peer      netip.AddrPort
	fixedID   uint32 // static tunnels
	profile   string // tunnel profile
	peerProf  string // peer profile
	first     []byte // responder: the SCCRQ that opened it
	peerID    uint32 // responder: the peer's Assigned Tunnel ID
	peerKey   peerKey
}

// startTunnel registers a tunnel actor for spec and starts it.
func (e *Engine) startTunnel(spec tunnelSpec) (*tunnel, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.state != engineRunning {
		return nil, ErrNotRunning
	}
	if max := e.cfg.System.MaxTunnels; max > 0 && len(e.tunnels) >= max {
		return nil, fmt.Errorf("%w: system.max_tunnels = %d", ErrLimit, max)
	}
	if spec.name != "" && e.named[spec.name] != nil {
		return nil, fmt.Errorf("%w: tunnel %s", ErrExists, spec.name)
	}
	if !spec.initiator && !spec.static {
		if t := e.byPeer[spec.peerKey]; t != nil {
			return t, nil
		}
	}
	id := spec.fixedID
	if id == 0 {
		id = e.allocTunnelIDLocked(spec.version)
	} else if e.tunnels[id] != nil {
		return nil, fmt.Errorf("%w: tunnel ID %d is in use", ErrExists, id)
	}
	if id == 0 {
		return nil, fmt.Errorf("%w: no free tunnel ID", ErrLimit)
	}
	t := newTunnel(e, id, spec, e.cfg, e.hostName, e.routerID)
	e.tunnels[id] = t
	if spec.name != "" {
		e.named[spec.name] = t
	}
	if !spec.initiator && !spec.static {
		e.byPeer[spec.peerKey] = t
	}
	e.wg.Add(1)
	go t.run(e.ctx)
	return t, nil
}

// unregister removes an ended tunnel from the indexes.
func (e *Engine) unregister(t *tunnel) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.tunnels[t.id] == t {
		delete(e.tunnels, t.id)
	}
	e.unnameLocked(t)
	if e.byPeer[t.spec.peerKey] == t {
		delete(e.byPeer, t.spec.peerKey)
	}
}

// unname stops giving t new calls: it is closing.
func (e *Engine) unname(t *tunnel) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.unnameLocked(t)
}

func (e *Engine) unnameLocked(t *tunnel) {
	if t.spec.name != "" && e.named[t.spec.name] == t {
		delete(e.named, t.spec.name)
	}
}

// lookup finds a live tunnel by reference: "@ID" or a configured name.
func (e *Engine) lookup(ref string) (*tunnel, error) {
	if _, err := e.running(); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(ref) > 1 && ref[0] == '@' {
		var id uint32
		if _, err := fmt.Sscanf(ref[1:], "%d", &id); err == nil {
			if t := e.tunnels[id]; t != nil {
				return t, nil
			}
		}
		return nil, fmt.Errorf("%w: tunnel %s", ErrNotFound, ref)
	}
	if t := e.named[ref]; t != nil {
		return t, nil
	}
	for _, t := range e.tunnels {
		if t.spec.name == ref {
			return t, nil
		}
	}
	return nil, fmt.Errorf("%w: tunnel %q", ErrNotFound, ref)
}

// uint32Addr renders a Router ID as an IPv4 address.
func uint32Addr(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
