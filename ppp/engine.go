package ppp

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/probox/probox/config"
	events "github.com/probox/probox/control/event"
	"github.com/probox/probox/kernel"
)

// DefaultLocalAddress is our IPv4 address on server-side links when neither the PPP
// profile's local_address, nor system.router_id, nor Config.LocalAddress gives one: the
// IPv4 dummy address of RFC 7600 §3, meant for exactly this (a node without an address of
// its own on a point-to-point link).
var DefaultLocalAddress = netip.AddrFrom4([4]byte{192, 0, 0, 8})

// Errors of the engine's requests.
var (
	// ErrStopped is returned by Start once the engine is shutting down.
	ErrStopped = errors.New("ppp: engine stopped")
	// ErrNoSession is returned for an instance that does not exist (or has ended).
	ErrNoSession = errors.New("ppp: no such instance")
)

// Config is the PPP engine's configuration: it reads the ppp_profile and ippool tables and
// system.secrets_file, system.host_name (our CHAP name) and system.router_id of the box
// configuration.
type Config struct {
	Cfg *config.Config
	// LocalAddress is our IPv4 address on server-side links when neither the profile's
	// local_address nor system.router_id sets one; the zero Addr means
	// DefaultLocalAddress.
	LocalAddress netip.Addr
}

// Validate checks what the engine needs beyond config.Config's own validation; every
// error names the key path.
func (c Config) Validate() error {
	if c.Cfg == nil {
		return errors.New("ppp: no configuration")
	}
	var errs []error
	add := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	if c.LocalAddress.IsValid() && !c.LocalAddress.Is4() {
		add("ppp.local_address", "must be an IPv4 address, got %v", c.LocalAddress)
	}
	for _, name := range slices.Sorted(maps.Keys(c.Cfg.IPPools)) {
		for i, s := range c.Cfg.IPPools[name].Ranges {
			if _, err := config.ParseRange(s); err != nil {
				add(fmt.Sprintf("ippool.%s.ranges[%d]", name, i), "%v", err)
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(c.Cfg.PPPProfiles)) {
		p := c.Cfg.PPPProfiles[name]
		path := "ppp_profile." + name
		if p.MRU < minMRU || p.MRU > 65535 {
			add(path+".mru", "must be between %d and 65535, got %d", minMRU, p.MRU)
		}
		for i, m := range p.Auth {
			if authMethodOf(m) == AuthNone {
				add(fmt.Sprintf("%s.auth[%d]", path, i), "unknown method %q", m)
			}
		}
		if p.IPPool != "" {
			if _, ok := c.Cfg.IPPools[p.IPPool]; !ok {
				add(path+".ip_pool", "no ippool named %q", p.IPPool)
			}
		}
		if p.LocalAddress != "" {
			if a, err := netip.ParseAddr(p.LocalAddress); err != nil || !a.Is4() {
				add(path+".local_address", "must be an IPv4 address, got %q", p.LocalAddress)
			}
		}
		for key, list := range map[string][]netip.Addr{"dns": p.DNS, "nbns": p.NBNS} {
			if len(list) > 2 {
				add(path+"."+key, "at most two servers, got %d", len(list))
			}
			for i, a := range list {
				if !a.Is4() {
					add(fmt.Sprintf("%s.%s[%d]", path, key, i), "must be an IPv4 address, got %v", a)
				}
			}
		}
		if p.LCPEchoInterval < 0 || (p.LCPEchoInterval > 0 && p.LCPEchoFailure < 1) {
			add(path+".lcp_echo_failure", "must be at least 1 when lcp_echo_interval is set, got %d", p.LCPEchoFailure)
		}
		if p.ChapInterval < 0 {
			add(path+".chap_interval", "must not be negative")
		}
		if p.MaxAuthFailures < 1 {
			add(path+".max_auth_failures", "must be at least 1, got %d", p.MaxAuthFailures)
		}
		if p.AuthTimeout <= 0 {
			add(path+".auth_timeout", "must be positive, got %s", p.AuthTimeout)
		}
		if p.MaxConfigureRequest < 1 {
			add(path+".max_configure", "must be at least 1, got %d", p.MaxConfigureRequest)
		}
		if p.RestartTimer <= 0 {
			add(path+".restart_timer", "must be positive, got %s", p.RestartTimer)
		}
		if len(p.Username) > 255 || len(p.Password) > 255 {
			add(path+".username", "username and password must be at most 255 bytes")
		}
		switch p.Unit {
		case config.UnitShared, config.UnitDedicated, "":
		default:
			add(path+".unit", "must be shared or dedicated, got %q", p.Unit)
		}
	}
	if s := c.Cfg.System.RouterID; s != "" {
		if a, err := netip.ParseAddr(s); err != nil || !a.Is4() {
			add("system.router_id", "must be an IPv4 address, got %q", s)
		}
	}
	return errors.Join(errs...)
}

// authMethodOf maps a configured method name.
func authMethodOf(m config.AuthMethod) AuthMethod {
	switch m {
	case config.AuthPAP:
		return AuthPAP
	case config.AuthCHAPMD5:
		return AuthCHAPMD5
	case config.AuthMSCHAPv2:
		return AuthMSCHAPv2
	}
	return AuthNone
}

// Deps are the engine's dependencies.
type Deps struct {
	// Dataplane creates the sessions' units (required).
	Dataplane kernel.Dataplane
	// Log is the engine's logger (nil: none); the engine names it "ppp".
	Log *zap.Logger
	// Registry registers the engine's metrics (nil: not registered).
	Registry prometheus.Registerer
	// Bus receives the engine's events (nil: none are published).
	Bus *events.Bus
	// Auth decides every authentication; nil means a LocalBackend over the secrets file,
	// which then every profile with authentication must use (auth_backend = "local").
	Auth AuthBackend
	// Rand is the source of Magic-Numbers, Interface-Identifiers and challenges; nil means
	// crypto/rand. Every session reads it, so it must be safe for concurrent use.
	Rand io.Reader
}

// Engine is the PPP engine. It runs one actor goroutine per session (and a reader
// goroutine that feeds it frames); the engine itself only keeps the ID → session index,
// the address pools and the secrets. Start creates sessions, Run waits for the end and
// tears every session down. All methods are safe for concurrent use.
type Engine struct {
	log     *zap.Logger
	dp      kernel.Dataplane
	bus     *events.Bus
	rand    io.Reader
	auth    AuthBackend // Deps.Auth; nil: local
	local   LocalBackend
	secrets secretsRef
	pools   *Pools
	met     *metrics
	quit    chan struct{} // closed when Run's context ends: every session terminates
	// wg counts session actors, their readers (except RoleLACProxy's, which end when the
	// carrier closes the channel) and running backend calls.
	wg sync.WaitGroup

	mu       sync.Mutex // guards the fields below; lock order: mu, then Pools.mu
	cfg      Config
	hostName string // our CHAP name: system.host_name or the machine's
	sessions map[uint32]*session
	nextID   uint32
	closed   bool

	statsMu   sync.Mutex // guards the fields below
	authStats map[string]*AuthStat
	endStats  map[EndCause]uint64
}

// New validates cfg, reads the secrets file and returns an engine that is ready for Start
// (and Run). A secrets file that exists but is invalid or world-readable is an error; a
// missing one means no local users (logged).
func New(cfg Config, deps Deps) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Dataplane == nil {
		return nil, errors.New("ppp: no data plane")
	}
	if deps.Log == nil {
		deps.Log = zap.NewNop()
	}
	e := &Engine{
		log:       deps.Log.Named("ppp"),
		dp:        deps.Dataplane,
		bus:       deps.Bus,
		rand:      deps.Rand,
		auth:      deps.Auth,
		met:       newMetrics(),
		quit:      make(chan struct{}),
		sessions:  map[uint32]*session{},
		authStats: map[string]*AuthStat{},
		endStats:  map[EndCause]uint64{},
	}
	e.local = LocalBackend{Secrets: &e.secrets}
	if err := e.checkBackends(cfg.Cfg); err != nil {
		return nil, err
	}
	sec, err := e.loadSecrets(cfg.Cfg)
	if err != nil {
		return nil, err
	}
	e.secrets.p.Store(sec)
	if e.pools, err = NewPools(cfg.Cfg.IPPools); err != nil {
		return nil, err
	}
	e.pools.setFixed(localAddresses(cfg))
	e.cfg, e.hostName = cfg, hostName(cfg.Cfg)
	if deps.Registry != nil {
		if err := e.met.register(deps.Registry, newCollector(e)); err != nil {
			return nil, fmt.Errorf("ppp: registering metrics: %w", err)
		}
	}
	return e, nil
}

// checkBackends refuses profiles that need a backend this engine does not have.
func (e *Engine) checkBackends(c *config.Config) error {
	if e.auth != nil {
		return nil
	}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(c.PPPProfiles)) {
		p := c.PPPProfiles[name]
		if p.AuthBackend == config.BackendRADIUS && len(p.Auth) > 0 {
			errs = append(errs, fmt.Errorf("ppp_profile.%s.auth_backend: radius is not available to the PPP engine (no RADIUS backend configured)", name))
		}
	}
	return errors.Join(errs...)
}

func (e *Engine) loadSecrets(c *config.Config) (*Secrets, error) {
	path := c.System.SecretsFile
	if path == "" {
		return &Secrets{}, nil
	}
	s, err := LoadSecrets(path)
	if errors.Is(err, os.ErrNotExist) {
		e.log.Warn("secrets file missing: no local PPP users", zap.String("file", path))
		return &Secrets{file: path}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("system.secrets_file: %w", err)
	}
	return s, nil
}

// localAddresses lists the configured local addresses of server links, which the pools
// never hand out.
func localAddresses(cfg Config) []netip.Addr {
	var out []netip.Addr
	for _, p := range cfg.Cfg.PPPProfiles {
		if a := profileLocalAddress(cfg, p); !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// profileLocalAddress is our address on a server link of profile p: its local_address,
// else system.router_id, else Config.LocalAddress, else DefaultLocalAddress.
func profileLocalAddress(cfg Config, p config.PPPProfile) netip.Addr {
	for _, s := range []string{p.LocalAddress, cfg.Cfg.System.RouterID} {
		if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
			return a
		}
	}
	if cfg.LocalAddress.Is4() {
		return cfg.LocalAddress
	}
	return DefaultLocalAddress
}

// hostName is the name we send in CHAP Challenges.
func hostName(c *config.Config) string {
	if c.System.HostName != "" {
		return c.System.HostName
	}
	h, _ := os.Hostname()
	return h
}

// Name is "ppp".
func (e *Engine) Name() string { return "ppp" }

// Run waits until ctx is done, then terminates every session (LCP Terminate-Request, with
// the usual restart timer and Max-Terminate: at most 2 × restart_timer for a silent peer),
// and returns once every session actor has ended: units closed, addresses released,
// channels closed. Start fails from then on.
func (e *Engine) Run(ctx context.Context) error {
	<-ctx.Done()
	e.mu.Lock()
	if !e.closed {
		e.closed = true
		close(e.quit)
	}
	e.mu.Unlock()
	e.wg.Wait()
	return nil
}

// Reload applies a new configuration: profiles and pools are replaced and the secrets file
// is read again. Running sessions keep the profile they started with and their addresses;
// addresses leased from pools stay leased (see Pools.Reload). On any error nothing changes.
func (e *Engine) Reload(cfg *config.Config, changes []config.Change) error {
	e.mu.Lock()
	nc := e.cfg
	e.mu.Unlock()
	nc.Cfg = cfg
	if err := nc.Validate(); err != nil {
		return err
	}
	if err := e.checkBackends(cfg); err != nil {
		return err
	}
	sec, err := e.loadSecrets(cfg)
	if err != nil {
		return err
	}
	if err := e.pools.Reload(cfg.IPPools); err != nil {
		return err
	}
	e.pools.setFixed(localAddresses(nc))
	e.secrets.p.Store(sec)
	host := hostName(cfg)
	e.mu.Lock()
	e.cfg, e.hostName = nc, host
	e.mu.Unlock()
	e.log.Info("configuration reloaded", zap.Int("changes", len(changes)), zap.Int("local_users", sec.Len()))
	return nil
}

// Summary counts the sessions: "ppp_sessions" (all) and "ppp_up" (network layer up).
func (e *Engine) Summary(ctx context.Context) (map[string]int, error) {
	c := e.phaseCounts()
	n := 0
	for _, v := range c {
		n += v
	}
	return map[string]int{"ppp_sessions": n, "ppp_up": c[PhaseRunning]}, nil
}

func (e *Engine) phaseCounts() [numPhases]int {
	var c [numPhases]int
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.sessions {
		c[s.currentPhase()]++
	}
	return c
}

// CarrierInfo is what the carrier engine knows about a session, for the authentication
// backend (AuthCarrier), events and hooks.
type CarrierInfo struct {
	TunnelID, PeerTunnelID   uint32 // L2TP tunnel IDs
	SessionID, PeerSessionID uint32 // L2TP or PPPoE session IDs
	// Peer is the address of the carrier's peer (the LAC or LNS, host:port).
	Peer string
	// CallingStation is the PPPoE client's MAC address or the L2TP Calling Number.
	CallingStation string
	// CalledNumber is the L2TP Called Number.
	CalledNumber string
	// CircuitID and RemoteID are the access line identifiers of RFC 4679.
	CircuitID, RemoteID string
	// Service is the PPPoE service name.
	Service string
	// Interface names the access interface and VLANs (NAS-Port-Id), a hint for logs.
	Interface string
}

func (ci CarrierInfo) authCarrier() AuthCarrier {
	ac := AuthCarrier{
		CallingStationID: ci.CallingStation,
		CalledStationID:  ci.CalledNumber,
		CircuitID:        ci.CircuitID,
		RemoteID:         ci.RemoteID,
		NASPortID:        ci.Interface,
	}
	if ac.CalledStationID == "" {
		ac.CalledStationID = ci.Service
	}
	if ac.NASPortID == "" && ci.TunnelID != 0 {
		ac.NASPortID = fmt.Sprintf("l2tp %d/%d", ci.TunnelID, ci.SessionID)
	}
	return ac
}

// ProxyLCP is the LCP state an L2TP LAC negotiated with the peer: the options (without
// the LCP header) of the Initial Received, Last Sent and Last Received LCP Configure-
// Requests (RFC 2661 §4.4.5, AVPs 26, 27 and 28).
type ProxyLCP struct {
	InitialReceived, LastSent, LastReceived []byte
}

// ProxyAuth is the authentication a LAC took from the peer (RFC 2661 §4.4.5, AVPs 29 to
// 33). Method is AuthPAP, AuthCHAPMD5 or AuthMSCHAPv2 (L2TP Proxy Authen Type 3 or 2; for
// type 2 the LNS engine looks at the proxied LCP's Authentication-Protocol, or the
// response's length, to tell CHAP-MD5 from MS-CHAPv2), or AuthNone for type 4 "No
// Authentication".
type ProxyAuth struct {
	Method AuthMethod
	// Name is the PAP Peer-ID or the CHAP Name.
	Name string
	// ID is the CHAP Identifier (for PAP, the Identifier of the Authenticate-Request when
	// known).
	ID uint8
	// Challenge is the CHAP challenge the LAC sent.
	Challenge []byte
	// Response is the PAP password, the 16-octet CHAP-MD5 response value, or the
	// 49-octet MS-CHAPv2 response value.
	Response []byte
}

// String prints no password or response.
func (p ProxyAuth) String() string {
	return fmt.Sprintf("ProxyAuth{method=%v name=%q id=%d challenge=[%d octets] response=[%d octets]}",
		p.Method, p.Name, p.ID, len(p.Challenge), len(p.Response))
}

// GoString keeps %#v from printing the response.
func (p ProxyAuth) GoString() string { return "ppp." + p.String() }

// ProxyResult is what a RoleLACProxy session hands over: the LCP Configure-Requests and the
// authentication it took from the peer, for the L2TP proxy AVPs of the ICCN.
type ProxyResult struct {
	LCP  ProxyLCP
	Auth ProxyAuth
	// LCPResult is what LCP negotiated (for the ACCM of Set-Link-Info, RFC 2661 §6.14).
	LCPResult LCPResult
}

// StartRequest asks the engine to run PPP on a channel.
type StartRequest struct {
	// Channel carries the session's frames. The session owns it from Start on and closes
	// it when it ends (Close is idempotent, so the carrier engine may close it too, which
	// ends the session as carrier_lost); except in RoleLACProxy, where it stays open for
	// the bridge to the LNS.
	Channel kernel.Channel
	Role    Role
	Carrier Carrier
	// Profile names the ppp_profile; "" is "default".
	Profile string
	// MaxMRU is the carrier's limit on the MRU (PPPoE: 1492 or the RFC 4638
	// PPP-Max-Payload; L2TP: path MTU less the overhead); 0 means the channel's MTU, or
	// 1500 when that is 0 too.
	MaxMRU int
	// Info describes the carrier for AAA, events and hooks.
	Info CarrierInfo
	// ProxyLCP and ProxyAuth (RoleServer at an LNS) carry what the LAC negotiated and
	// took from the peer. The profile's proxy_lcp decides whether proxy LCP is accepted
	// ("accept", and the state suits this side: LCPConfig.ProxyLCP) or LCP is negotiated
	// anew; proxy authentication is only used with accepted proxy LCP.
	ProxyLCP  *ProxyLCP
	ProxyAuth *ProxyAuth
	// OpenDelay holds LCP's first Configure-Request back until the peer's first frame
	// arrives or this much time passes (PPPoE: pppoe.lcp_delay, for a host that opens its
	// session only once it has the PADS and would lose a request sent earlier). 0 starts
	// LCP at once; ignored with proxy LCP.
	OpenDelay time.Duration
}

// Start starts a session on req.Channel and returns its handle. The session runs until
// the peer or the carrier ends it, Handle.Stop is called, or the engine stops.
func (e *Engine) Start(req StartRequest) (*Handle, error) {
	if req.Channel == nil {
		return nil, errors.New("ppp: start: no channel")
	}
	if req.Role >= numRoles || req.Carrier >= numCarriers {
		return nil, fmt.Errorf("ppp: start: bad role %v or carrier %v", req.Role, req.Carrier)
	}
	if req.Profile == "" {
		req.Profile = config.DefaultProfile
	}
	chMTU := req.Channel.MTU() // not under e.mu: no call out while holding it
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, ErrStopped
	}
	prof, ok := e.cfg.Cfg.PPPProfiles[req.Profile]
	if !ok {
		return nil, fmt.Errorf("ppp: start: no ppp_profile named %q", req.Profile)
	}
	backend := e.auth
	if backend == nil {
		backend = e.local
	}
	id := e.allocIDLocked()
	s, err := newSession(e, sessionParams{
		id:        id,
		req:       req,
		prof:      prof,
		backend:   backend,
		hostName:  e.hostName,
		chMTU:     chMTU,
		localAddr: profileLocalAddress(e.cfg, prof),
	})
	if err != nil {
		return nil, err
	}
	e.sessions[id] = s
	e.wg.Add(1)
	if req.Role != RoleLACProxy {
		e.wg.Add(1)
	}
	go s.run()
	go s.read()
	return &Handle{s: s}, nil
}

func (e *Engine) allocIDLocked() uint32 {
	for {
		e.nextID++
		if e.nextID == 0 {
			continue
		}
		if _, used := e.sessions[e.nextID]; !used {
			return e.nextID
		}
	}
}

// remove drops s from the index (its actor is ending).
func (e *Engine) remove(s *session) {
	e.mu.Lock()
	if e.sessions[s.id] == s {
		delete(e.sessions, s.id)
	}
	e.mu.Unlock()
}

func (e *Engine) publish(ev events.Event) {
	if e.bus != nil {
		ev.Engine = "ppp"
		e.bus.Publish(ev)
	}
}

func (e *Engine) countAuth(m AuthMethod, result string) {
	label := methodLabel(m)
	e.met.auth.WithLabelValues(label, result).Inc()
	e.statsMu.Lock()
	defer e.statsMu.Unlock()
	st := e.authStats[label]
	if st == nil {
		st = &AuthStat{Method: label}
		e.authStats[label] = st
	}
	switch result {
	case authResultSuccess:
		st.Success++
	case authResultFailure:
		st.Failure++
	case authResultTimeout:
		st.Timeout++
	}
}

func (e *Engine) countEnd(c EndCause) {
	e.met.ended.WithLabelValues(c.String()).Inc()
	e.statsMu.Lock()
	e.endStats[c]++
	e.statsMu.Unlock()
}

// Handle is a started session.
type Handle struct{ s *session }

// ID is the session's engine-wide number.
func (h *Handle) ID() uint32 { return h.s.id }

// Instance is the session's name, "session-N".
func (h *Handle) Instance() string { return h.s.name }

// Done is closed when the session has ended: the unit closed, the address released, the
// channel closed (except RoleLACProxy) and the events published.
func (h *Handle) Done() <-chan struct{} { return h.s.done }

// Result tells how the session ended; before Done is closed it is the zero EndResult.
func (h *Handle) Result() EndResult {
	select {
	case <-h.s.done:
		return h.s.result
	default:
		return EndResult{}
	}
}

// Stop ends the session: LCP Terminate-Request, then the teardown. It returns at once; wait
// on Done. reason goes in the Terminate-Request and the session's result. Calls after the
// first, and calls on an ended session, do nothing.
func (h *Handle) Stop(reason string) {
	if reason == "" {
		reason = "administrative stop"
	}
	select {
	case h.s.stopc <- reason:
	default:
	}
}

// Proxy delivers the ProxyResult of a RoleLACProxy session once it has the peer's
// authentication, and is closed when the session ends; so a receive that reports !ok means
// the session ended without proxy data (see Result). For other roles it is a closed
// channel.
func (h *Handle) Proxy() <-chan ProxyResult {
	if h.s.proxyc == nil {
		return closedProxy
	}
	return h.s.proxyc
}

var closedProxy = func() chan ProxyResult {
	c := make(chan ProxyResult)
	close(c)
	return c
}()

// Info asks the session for a snapshot of its state. It fails with ErrNoSession once the
// session has ended.
func (h *Handle) Info(ctx context.Context) (SessionInfo, error) { return h.s.info(ctx) }

// Counters are traffic counters of a session: received from the peer (rx) and sent to it
// (tx).
type Counters struct {
	RxPackets uint64 `json:"rx_packets"`
	RxBytes   uint64 `json:"rx_bytes"`
	TxPackets uint64 `json:"tx_packets"`
	TxBytes   uint64 `json:"tx_bytes"`
}

func countersOf(c kernel.Counters) Counters {
	return Counters{RxPackets: c.RxPackets, RxBytes: c.RxBytes, TxPackets: c.TxPackets, TxBytes: c.TxBytes}
}

func (c Counters) event() *events.Counters {
	return &events.Counters{RxPackets: c.RxPackets, RxBytes: c.RxBytes, TxPackets: c.TxPackets, TxBytes: c.TxBytes}
}

// EndResult tells how a session ended, with its accounting data.
type EndResult struct {
	Cause EndCause `json:"cause"`
	// Reason says why in words (it is also in the Terminate-Request we sent).
	Reason string `json:"reason"`
	// By is who ended the session: "local" (this side decided, including Stop and
	// authentication failures), "peer" (LCP Terminate-Request) or "carrier" (the channel
	// closed).
	By string `json:"by"`
	// AuthFailed is set when authentication failed, in either direction.
	AuthFailed bool   `json:"auth_failed,omitempty"`
	User       string `json:"user,omitempty"`
	// Started, Up and Ended are when the session started, when its network layer came up
	// (zero if it never did) and when it ended.
	Started time.Time `json:"started"`
	Up      time.Time `json:"up,omitzero"`
	Ended   time.Time `json:"ended"`
	// Link counts every frame of the session on the channel (the accounting figures);
	// Network the IP packets its unit passed.
	Link    Counters `json:"link"`
	Network Counters `json:"network"`
}

// Who ended a session.
const (
	ByLocal   = "local"
	ByPeer    = "peer"
	ByCarrier = "carrier"
)

// SessionInfo is a snapshot of a session, for the management API.
type SessionInfo struct {
	ID       uint32 `json:"id"`
	Instance string `json:"instance"`
	Phase    string `json:"phase"`
	// State is "up" when the network layer is up (phase running), else "down".
	State   string `json:"state"`
	Role    string `json:"role"`
	Carrier string `json:"carrier"`
	Profile string `json:"profile"`
	User    string `json:"user,omitempty"`
	Auth    string `json:"auth,omitempty"`
	// Interface is the unit's name once there is one.
	Interface string   `json:"interface,omitempty"`
	LocalIP   string   `json:"local_ip,omitempty"`
	PeerIP    string   `json:"peer_ip,omitempty"`
	LocalIPv6 string   `json:"local_ipv6,omitempty"`
	PeerIPv6  string   `json:"peer_ipv6,omitempty"`
	DNS       []string `json:"dns,omitempty"`
	Pool      string   `json:"pool,omitempty"`
	// LocalMRU is what we receive, PeerMRU what we may send.
	LocalMRU int `json:"local_mru,omitempty"`
	PeerMRU  int `json:"peer_mru,omitempty"`
	// LCP, IPCP and IPv6CP are the automata's states (RFC 1661 §4.2 names).
	LCP    string `json:"lcp"`
	IPCP   string `json:"ipcp,omitempty"`
	IPv6CP string `json:"ipv6cp,omitempty"`
	// ProxyLCP is set when LCP was accepted from an L2TP LAC.
	ProxyLCP bool      `json:"proxy_lcp,omitempty"`
	Started  time.Time `json:"started"`
	Up       time.Time `json:"up,omitzero"`
	// UptimeSeconds counts from Up (zero while down).
	UptimeSeconds int64       `json:"uptime_seconds"`
	CarrierInfo   CarrierInfo `json:"carrier_info"`
	Link          Counters    `json:"link"`
	Network       Counters    `json:"network"`
}

// AuthStat counts the authentications of one method.
type AuthStat struct {
	Method  string `json:"method"`
	Success uint64 `json:"success"`
	Failure uint64 `json:"failure"`
	Timeout uint64 `json:"timeout"`
}

// Status is the engine's statistics, for "propppctl status".
type Status struct {
	Sessions int            `json:"sessions"`
	Up       int            `json:"up"`
	Phases   map[string]int `json:"phases"`
	// Auth counts authentications by method since the start.
	Auth []AuthStat `json:"auth"`
	// Ended counts ended sessions by cause since the start.
	Ended       map[string]uint64 `json:"ended"`
	Pools       []PoolInfo        `json:"pools"`
	SecretsFile string            `json:"secrets_file,omitempty"`
	LocalUsers  int               `json:"local_users"`
}

// Status returns the engine's statistics.
func (e *Engine) Status() Status {
	c := e.phaseCounts()
	st := Status{Phases: map[string]int{}, Ended: map[string]uint64{}, Pools: e.pools.Info()}
	for p := PhaseEstablish; p < numPhases; p++ {
		st.Phases[p.String()] = c[p]
		st.Sessions += c[p]
	}
	st.Up = c[PhaseRunning]
	e.statsMu.Lock()
	for _, k := range slices.Sorted(maps.Keys(e.authStats)) {
		st.Auth = append(st.Auth, *e.authStats[k])
	}
	for k, v := range e.endStats {
		st.Ended[k.String()] = v
	}
	e.statsMu.Unlock()
	sec := e.secrets.p.Load()
	st.SecretsFile, st.LocalUsers = sec.File(), sec.Len()
	return st
}

// Pools describes the address pools.
func (e *Engine) Pools() []PoolInfo { return e.pools.Info() }

// ParseInstance parses an instance name: "session-N" or "N".
func ParseInstance(s string) (uint32, error) {
	n, err := strconv.ParseUint(strings.TrimPrefix(s, "session-"), 10, 32)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("ppp: bad instance %q: want session-N or N", s)
	}
	return uint32(n), nil
}

// Lookup returns the handle of a running session.
func (e *Engine) Lookup(id uint32) (*Handle, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, ok := e.sessions[id]
	if !ok {
		return nil, false
	}
	return &Handle{s: s}, true
}

// List returns snapshots of the sessions, sorted by ID: all of them for state "", those
// whose network layer is up for "up", the others for "down".
func (e *Engine) List(ctx context.Context, state string) ([]SessionInfo, error) {
	switch state {
	case "", "up", "down":
	default:
		return nil, fmt.Errorf("ppp: bad state %q: want up, down or nothing", state)
	}
	e.mu.Lock()
	ss := slices.Collect(maps.Values(e.sessions))
	e.mu.Unlock()
	slices.SortFunc(ss, func(a, b *session) int { return cmp.Compare(a.id, b.id) })
	out := []SessionInfo{}
	for _, s := range ss {
		if state != "" && (s.currentPhase() == PhaseRunning) != (state == "up") {
			continue
		}
		si, err := s.info(ctx)
		if errors.Is(err, ErrNoSession) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if state != "" && si.State != state {
			continue
		}
		out = append(out, si)
	}
	return out, nil
}

// Show returns the snapshot of one session, named as ParseInstance accepts.
func (e *Engine) Show(ctx context.Context, instance string) (SessionInfo, error) {
	id, err := ParseInstance(instance)
	if err != nil {
		return SessionInfo{}, err
	}
	h, ok := e.Lookup(id)
	if !ok {
		return SessionInfo{}, fmt.Errorf("%w: session-%d", ErrNoSession, id)
	}
	return h.Info(ctx)
}

// Destroy stops one session and waits until it has ended (or ctx is done, which returns
// ctx's error while the session keeps terminating).
func (e *Engine) Destroy(ctx context.Context, instance, reason string) (EndResult, error) {
	id, err := ParseInstance(instance)
	if err != nil {
		return EndResult{}, err
	}
	h, ok := e.Lookup(id)
	if !ok {
		return EndResult{}, fmt.Errorf("%w: session-%d", ErrNoSession, id)
	}
	h.Stop(reason)
	select {
	case <-h.Done():
		return h.Result(), nil
	case <-ctx.Done():
		return EndResult{}, ctx.Err()
	}
}
