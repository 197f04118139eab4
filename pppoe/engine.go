package pppoe

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/probox/probox/config"
	events "github.com/probox/probox/control/event"
	"github.com/probox/probox/kernel"
	"github.com/probox/probox/ppp"
)

// Errors of the engine's requests.
var (
	// ErrNotRunning is returned by requests made before Run.
	ErrNotRunning = errors.New("pppoe: engine not running")
	// ErrStopped is returned by requests made once the engine is stopping or has stopped.
	ErrStopped = errors.New("pppoe: engine stopped")
	// ErrNotFound is returned when a Selector matches no session.
	ErrNotFound = errors.New("pppoe: no such session")
	// ErrAmbiguous is returned when a session ID is live on several interfaces and the
	// Selector names none.
	ErrAmbiguous = errors.New("pppoe: session ID live on several interfaces: name the interface")
)

// Config is the PPPoE engine's configuration: the [pppoe] section of the box
// configuration (interfaces, services, realm routes, clients, limits), and
// system.host_name for the default AC-Name.
type Config struct {
	Cfg *config.Config
}

var ifaceNameRE = regexp.MustCompile(`^[A-Za-z0-9_.:@-]{1,15}$`)

// Validate checks what the engine needs beyond config.Config's own validation; every error
// names the key path.
func (c Config) Validate() error {
	if c.Cfg == nil {
		return errors.New("pppoe: no configuration")
	}
	var errs []error
	add := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	p := &c.Cfg.PPPoE
	for _, name := range slices.Sorted(maps.Keys(p.Interfaces)) {
		if !ifaceNameRE.MatchString(name) {
			add("pppoe.interface."+name, "not an interface name")
		}
	}
	for _, name := range slices.Sorted(maps.Keys(p.Clients)) {
		cl := p.Clients[name]
		path := "pppoe.client." + name
		if _, ok := p.Interfaces[cl.Interface]; ok {
			add(path+".interface", "%s is also an access interface ([pppoe.interface.%s]): an interface is either served or dialed from", cl.Interface, cl.Interface)
		}
		cc := ClientConfig{Interface: cl.Interface, ServiceName: cl.Service, ACName: cl.ACName}
		if err := cc.Validate(); err != nil {
			add(path, "%v", err)
		}
		if !profileExists(c.Cfg, cl.PPPProfile) {
			add(path+".ppp_profile", "no ppp_profile named %q", cl.PPPProfile)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(p.Services)) {
		s := p.Services[name]
		path := "pppoe.service." + name
		if len(name) > 255 {
			add(path, "service name longer than 255 bytes")
		}
		if s.Route == config.RouteLAC && s.Tunnel == "" {
			add(path+".tunnel", `is required when route = "lac"`)
		}
		if s.Route == config.RouteRealm && len(p.Routes) == 0 {
			add(path+".route", `"realm" needs at least one [pppoe.route.NAME]`)
		}
		if !profileExists(c.Cfg, s.PPPProfile) {
			add(path+".ppp_profile", "no ppp_profile named %q", s.PPPProfile)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(p.Routes)) {
		r := p.Routes[name]
		if r.Realm == "" {
			add("pppoe.route."+name+".realm", "is required")
		}
		if r.Tunnel == "" {
			add("pppoe.route."+name+".tunnel", "is required")
		}
	}
	if p.CookiePeriod <= 0 {
		add("pppoe.cookie_period", "must be positive, got %s", p.CookiePeriod)
	}
	if p.LACTimeout <= 0 {
		add("pppoe.lac_timeout", "must be positive, got %s", p.LACTimeout)
	}
	ac := acConfigOf(c.Cfg, nil)
	if err := ac.Validate(); err != nil {
		errs = append(errs, acKeyErrors(err)...)
	}
	return errors.Join(errs...)
}

// acKeys maps the AC's field names to the configuration keys they come from.
var acKeys = []struct{ field, key string }{
	{"pppoe: ACConfig.ACName", "pppoe.ac_name"},
	{"pppoe: ACConfig.Services", "pppoe.service"},
	{"pppoe: ACConfig.Interfaces", "pppoe.interface"},
	{"pppoe: ACConfig.MaxSessionsPerMAC", "pppoe.max_sessions_per_mac"},
	{"pppoe: ACConfig.MaxSessions", "pppoe.max_sessions"},
	{"pppoe: ACConfig.PADIRate", "pppoe.padi_rate"},
	{"pppoe: ACConfig.CookiePeriod", "pppoe.cookie_period"},
}

// acKeyErrors renames the AC's validation errors after the configuration keys.
func acKeyErrors(err error) []error {
	list := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	}
	out := make([]error, 0, len(list))
	for _, e := range list {
		msg := e.Error()
		for _, k := range acKeys {
			if strings.HasPrefix(msg, k.field) {
				msg = k.key + strings.TrimPrefix(msg, k.field)
				break
			}
		}
		out = append(out, errors.New(msg))
	}
	return out
}

func profileExists(c *config.Config, name string) bool {
	if name == "" {
		name = config.DefaultProfile
	}
	_, ok := c.PPPProfiles[name]
	return ok
}

// acName is the AC-Name we send: pppoe.ac_name, else system.host_name, else the machine's
// host name.
func acName(c *config.Config) string {
	if c.PPPoE.ACName != "" {
		return c.PPPoE.ACName
	}
	if c.System.HostName != "" {
		return c.System.HostName
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "probox"
}

// acConfigOf builds the AC's settings; mtus gives the MTU of each open access interface.
func acConfigOf(c *config.Config, mtus map[string]int) ACConfig {
	p := &c.PPPoE
	r := newRouter(c)
	names, anyName := r.offered()
	ac := ACConfig{
		ACName:            acName(c),
		Services:          names,
		AcceptAnyService:  anyName,
		Interfaces:        map[string]ACInterface{},
		MaxSessions:       p.MaxSessions,
		MaxSessionsPerMAC: p.MaxSessionsPerMAC,
		PADIRate:          float64(p.PADIRate),
		CookiePeriod:      p.CookiePeriod,
	}
	for name, ifc := range p.Interfaces {
		ac.Interfaces[name] = ACInterface{MTU: mtus[name], MaxSessions: ifc.MaxSessions}
	}
	return ac
}

// Deps are the engine's dependencies.
type Deps struct {
	// Dataplane opens the access interfaces and bridges LAC sessions (required).
	Dataplane kernel.Dataplane
	// Log is the engine's logger (nil: none); the engine names it "pppoe".
	Log *zap.Logger
	// Registry registers the engine's metrics (nil: not registered).
	Registry prometheus.Registerer
	// Bus receives the engine's events (nil: none are published).
	Bus *events.Bus
	// PPP runs the PPP sessions (local termination, the LAC's LCP and authentication
	// phase, our clients). Required when an interface or a client is configured.
	PPP *ppp.Engine
	// LAC carries sessions to an LNS. Nil: a configuration whose services route to an LNS
	// (route = "lac" or "realm") is refused.
	LAC LAC
	// Rand is the source of the AC-Cookie key, session IDs and Host-Uniq values; nil means
	// crypto/rand. It must be safe for concurrent use.
	Rand io.Reader
}

// Engine is the PPPoE engine (proacd): the access concentrator on the configured
// interfaces, the routing of its sessions (local PPP or an L2TP LAC call), and the PPPoE
// clients of [pppoe.client].
//
// # Concurrency
//
// One goroutine, the loop (Run), owns the pure AC (session table, limits, cookie key),
// the open ports, the index of sessions and the dialers; every field marked "loop" below
// is touched by it alone, and the API reaches them by running a function on it (do). Each
// access interface has a reader goroutine that hands discovery frames to the loop on a
// bounded channel: when the loop falls behind, the reader blocks and the data plane's
// socket buffer absorbs or drops the excess. Each session is an actor goroutine (session.go)
// that owns its PPP handle, LAC call and bridge; the loop sends it stop and PADT signals
// that never block (a one-slot buffer and a closed channel), and it tells the loop that
// it ended on endc, which the loop always drains, so neither ever waits for the other.
// Each client is a dialer actor (dialer.go) fed by a reader per client interface.
type Engine struct {
	log  *zap.Logger
	dp   kernel.Dataplane
	bus  *events.Bus
	ppp  *ppp.Engine
	lac  LAC
	rand io.Reader
	met  *metrics
	rlog *rateLog

	reqc    chan func()   // requests run on the loop
	inc     chan inbound  // discovery frames from the access ports' readers
	endc    chan *session // session actors that have ended
	dialc   chan *dialer  // dialers that have ended
	started chan struct{} // closed when the loop starts
	stopped chan struct{} // closed when Run returns
	ran     atomic.Bool   // Run was called
	current atomic.Pointer[config.Config]

	// loop: the fields below.
	cfg        *config.Config
	router     *router
	ac         *AC
	lacTimeout time.Duration
	ports      map[string]*acPort
	sessions   map[sessionKey]*session // sessions live in the AC
	actors     map[*session]struct{}   // session actors that have not ended
	cports     map[string]*clientPort
	dialers    map[*dialer]struct{} // dialers that have not ended
	stopping   bool
}

// inboundQueue bounds the discovery frames waiting for the loop.
const inboundQueue = 256

// New validates cfg and returns an engine ready to Run. It refuses a configuration that
// needs a LAC or a PPP engine that deps does not provide.
func New(cfg Config, deps Deps) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Dataplane == nil {
		return nil, errors.New("pppoe: no data plane")
	}
	if err := checkDeps(cfg.Cfg, deps); err != nil {
		return nil, err
	}
	if deps.Log == nil {
		deps.Log = zap.NewNop()
	}
	if deps.Rand == nil {
		deps.Rand = crand.Reader
	}
	ac, err := NewAC(acConfigOf(cfg.Cfg, nil), deps.Rand)
	if err != nil {
		return nil, fmt.Errorf("pppoe: %w", err)
	}
	e := &Engine{
		log:        deps.Log.Named("pppoe"),
		dp:         deps.Dataplane,
		bus:        deps.Bus,
		ppp:        deps.PPP,
		lac:        deps.LAC,
		rand:       deps.Rand,
		met:        newMetrics(),
		rlog:       newRateLog(10 * time.Second),
		reqc:       make(chan func()),
		inc:        make(chan inbound, inboundQueue),
		endc:       make(chan *session),
		dialc:      make(chan *dialer),
		started:    make(chan struct{}),
		stopped:    make(chan struct{}),
		cfg:        cfg.Cfg,
		router:     newRouter(cfg.Cfg),
		ac:         ac,
		lacTimeout: cfg.Cfg.PPPoE.LACTimeout,
		ports:      map[string]*acPort{},
		sessions:   map[sessionKey]*session{},
		actors:     map[*session]struct{}{},
		cports:     map[string]*clientPort{},
		dialers:    map[*dialer]struct{}{},
	}
	e.current.Store(cfg.Cfg)
	if deps.Registry != nil {
		if err := e.met.register(deps.Registry); err != nil {
			return nil, fmt.Errorf("pppoe: registering metrics: %w", err)
		}
	}
	return e, nil
}

// checkDeps refuses a configuration that needs a dependency deps lacks.
func checkDeps(c *config.Config, deps Deps) error {
	var errs []error
	if deps.LAC == nil {
		for _, name := range slices.Sorted(maps.Keys(c.PPPoE.Services)) {
			if r := c.PPPoE.Services[name].Route; r == config.RouteLAC || r == config.RouteRealm {
				errs = append(errs, fmt.Errorf("pppoe.service.%s.route: %q needs the L2TP LAC, which this daemon does not run", name, r))
			}
		}
	}
	if deps.PPP == nil && (len(c.PPPoE.Interfaces) > 0 || len(c.PPPoE.Clients) > 0) {
		errs = append(errs, errors.New("pppoe: access interfaces and clients need the PPP engine, which this daemon does not run"))
	}
	return errors.Join(errs...)
}

// Name returns "pppoe".
func (e *Engine) Name() string { return "pppoe" }

// Run opens the access interfaces and starts the clients, serves until ctx ends, and then
// tears everything down: every session is ended (its PPP stopped with an LCP
// Terminate-Request, or its LAC call hung up) and gets a PADT with a Generic-Error tag
// "AC shutting down", every client stops its PPP and sends its PADT, and the channels and
// ports are closed. Run returns once every goroutine it started has ended. It fails at
// once when an interface cannot be opened.
func (e *Engine) Run(ctx context.Context) error {
	if !e.ran.CompareAndSwap(false, true) {
		return errors.New("pppoe: Run called twice")
	}
	defer close(e.stopped)
	if err := e.openConfigured(); err != nil {
		return err
	}
	close(e.started)
	e.log.Info("PPPoE engine started", zap.Int("interfaces", len(e.ports)), zap.Int("clients", len(e.dialers)),
		zap.String("ac_name", acName(e.cfg)))
	e.loop(ctx)
	e.log.Info("PPPoE engine stopped")
	return nil
}

// openConfigured opens the configured access interfaces and starts the clients; on error
// it closes what it opened.
func (e *Engine) openConfigured() error {
	for _, name := range slices.Sorted(maps.Keys(e.cfg.PPPoE.Interfaces)) {
		if _, err := e.openPort(name, e.cfg.PPPoE.Interfaces[name]); err != nil {
			e.closeAll()
			return err
		}
	}
	if err := e.ac.Reconfigure(acConfigOf(e.cfg, e.portMTUs())); err != nil {
		e.closeAll()
		return fmt.Errorf("pppoe: %w", err)
	}
	for _, name := range slices.Sorted(maps.Keys(e.cfg.PPPoE.Clients)) {
		if err := e.startClient(name, e.cfg.PPPoE.Clients[name]); err != nil {
			e.closeAll()
			return err
		}
	}
	return nil
}

// closeAll stops the dialers and closes every port at once (a failed start, with no
// session yet), waiting for their goroutines.
func (e *Engine) closeAll() {
	for d := range e.dialers {
		d.cancel()
	}
	for len(e.dialers) > 0 {
		e.dialerEnded(<-e.dialc)
	}
	for _, p := range e.ports {
		e.closePort(p)
	}
}

func (e *Engine) portMTUs() map[string]int {
	m := make(map[string]int, len(e.ports))
	for name, p := range e.ports {
		m[name] = p.mtu
	}
	return m
}

// loop is the engine's goroutine (see Engine).
func (e *Engine) loop(ctx context.Context) {
	done := ctx.Done()
	for !e.stopping || len(e.actors) > 0 || len(e.dialers) > 0 {
		select {
		case <-done:
			done = nil
			e.beginStop()
		case in := <-e.inc:
			e.handleInbound(in)
		case s := <-e.endc:
			e.sessionEnded(s)
		case d := <-e.dialc:
			e.dialerEnded(d)
		case fn := <-e.reqc:
			fn()
		}
	}
	for _, p := range e.ports {
		e.closePort(p)
	}
}

// beginStop ends every session and client.
func (e *Engine) beginStop() {
	e.stopping = true
	e.log.Info("stopping", zap.Int("sessions", len(e.actors)), zap.Int("clients", len(e.dialers)))
	for s := range e.actors {
		s.stop(EndShutdown, "AC shutting down")
	}
	for d := range e.dialers {
		d.cancel()
	}
}

// do runs fn on the loop and waits for it. fn must not block.
func (e *Engine) do(ctx context.Context, fn func()) error {
	select {
	case <-e.started:
	default:
		select {
		case <-e.stopped:
			return ErrStopped
		default:
			return ErrNotRunning
		}
	}
	done := make(chan struct{})
	select {
	case e.reqc <- func() { fn(); close(done) }:
	case <-e.stopped:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	<-done
	return nil
}

func (e *Engine) publish(ev events.Event) {
	if e.bus != nil {
		ev.Engine = "pppoe"
		e.bus.Publish(ev)
	}
}

// Reload applies a new configuration: interfaces added are opened, interfaces removed are
// drained (their sessions get a PADT and the port closes when the last has ended), an
// interface whose VLANs or QinQ changed serves the new ones at once (only its sessions on
// tags no longer served end), services, realm routes,
// limits and the AC-Name apply to new sessions, clients added, removed or changed are
// started or stopped. Live sessions keep the service, route and PPP profile they started
// with. An invalid configuration, or an interface that cannot be opened, changes nothing.
func (e *Engine) Reload(cfg *config.Config, changes []config.Change) error {
	c := Config{Cfg: cfg}
	if err := c.Validate(); err != nil {
		return err
	}
	if err := checkDeps(cfg, Deps{Dataplane: e.dp, PPP: e.ppp, LAC: e.lac}); err != nil {
		return err
	}
	var rerr error
	if err := e.do(context.Background(), func() { rerr = e.applyReload(cfg, changes) }); err != nil {
		return err
	}
	return rerr
}

func (e *Engine) applyReload(cfg *config.Config, changes []config.Change) error {
	if e.stopping {
		return ErrStopped
	}
	old := e.cfg
	// Interfaces: open the new ones first, so that a failure changes nothing.
	var opened []*acPort
	fail := func(err error) error {
		for _, p := range opened {
			e.closePort(p)
		}
		return err
	}
	revlan := map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(cfg.PPPoE.Interfaces)) {
		ifc := cfg.PPPoE.Interfaces[name]
		p, ok := e.ports[name]
		switch {
		case ok && p.draining:
			return fail(fmt.Errorf("pppoe.interface.%s: the interface is still draining from an earlier removal; reload again once its sessions have ended", name))
		case ok && (!slices.Equal(p.cfg.VLANs, ifc.VLANs) || !slices.Equal(p.cfg.QinQRanges(), ifc.QinQRanges()) || p.cfg.Untagged != ifc.Untagged):
			revlan[name] = true
		case !ok:
			np, err := e.openPort(name, ifc)
			if err != nil {
				return fail(err)
			}
			opened = append(opened, np)
		}
	}
	mtus := e.portMTUs()
	if err := e.ac.Reconfigure(acConfigOf(cfg, mtus)); err != nil {
		return fail(fmt.Errorf("pppoe: %w", err))
	}
	// Committed from here on.
	e.cfg, e.router, e.lacTimeout = cfg, newRouter(cfg), cfg.PPPoE.LACTimeout
	e.current.Store(cfg)
	for name, p := range e.ports {
		ifc, keep := cfg.PPPoE.Interfaces[name]
		switch {
		case !keep && !p.draining:
			e.drainPort(p, "interface removed from the configuration")
		case keep:
			p.cfg = ifc
		}
	}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(revlan)) {
		if err := e.revlanPort(name, cfg.PPPoE.Interfaces[name]); err != nil {
			errs = append(errs, err)
		}
	}
	// Clients.
	for d := range e.dialers {
		nc, keep := cfg.PPPoE.Clients[d.name]
		if !d.stopping && (!keep || nc != d.cfg) {
			d.stopping = true
			d.cancel()
		}
	}
	for _, name := range slices.Sorted(maps.Keys(cfg.PPPoE.Clients)) {
		oc, had := old.PPPoE.Clients[name]
		if had && oc == cfg.PPPoE.Clients[name] && e.dialerNamed(name) != nil {
			continue
		}
		if err := e.startClient(name, cfg.PPPoE.Clients[name]); err != nil {
			errs = append(errs, err)
		}
	}
	e.log.Info("configuration reloaded", zap.Int("changes", len(changes)), zap.Int("interfaces", len(e.ports)),
		zap.Int("clients", len(e.dialers)))
	return errors.Join(errs...)
}

// Summary reports the number of live PPPoE sessions at the AC.
func (e *Engine) Summary(ctx context.Context) (map[string]int, error) {
	var n int
	if err := e.do(ctx, func() { n = len(e.actors) }); err != nil {
		return nil, err
	}
	return map[string]int{"pppoe_sessions": n}, nil
}

// Sessions returns snapshots of the sessions at the AC, ordered by interface and session
// ID.
func (e *Engine) Sessions(ctx context.Context) ([]SessionInfo, error) {
	var list []*session
	if err := e.do(ctx, func() { list = e.sortedActors() }); err != nil {
		return nil, err
	}
	out := make([]SessionInfo, 0, len(list))
	for _, s := range list {
		si, err := s.info(ctx)
		if errors.Is(err, ErrNotFound) {
			continue // ended meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, si)
	}
	return out, nil
}

// Session returns the snapshot of the session sel names by ID.
func (e *Engine) Session(ctx context.Context, sel Selector) (SessionInfo, error) {
	if sel.SessionID == 0 {
		return SessionInfo{}, fmt.Errorf("%w: no session ID given", ErrNotFound)
	}
	var (
		list []*session
		serr error
	)
	if err := e.do(ctx, func() { list, serr = e.selectLocked(sel) }); err != nil {
		return SessionInfo{}, err
	}
	if serr != nil {
		return SessionInfo{}, serr
	}
	return list[0].info(ctx)
}

func (e *Engine) sortedActors() []*session {
	list := slices.Collect(maps.Keys(e.actors))
	slices.SortFunc(list, func(a, b *session) int {
		if a.key.iface != b.key.iface {
			if a.key.iface < b.key.iface {
				return -1
			}
			return 1
		}
		return int(a.key.id) - int(b.key.id)
	})
	return list
}

// selectLocked returns the sessions sel picks (on the loop).
func (e *Engine) selectLocked(sel Selector) ([]*session, error) {
	var mac MAC
	if sel.MAC != "" {
		hw, err := net.ParseMAC(sel.MAC)
		if err != nil || len(hw) != 6 {
			return nil, fmt.Errorf("pppoe: bad MAC address %q", sel.MAC)
		}
		mac = MAC(hw)
	}
	var out []*session
	for _, s := range e.sortedActors() {
		switch {
		case sel.MAC != "" && s.rec.Peer != mac:
		case sel.SessionID != 0 && s.key.id != sel.SessionID:
		case sel.Interface != "" && s.key.iface != sel.Interface:
		case sel.MAC == "" && sel.SessionID == 0:
		default:
			out = append(out, s)
		}
	}
	switch {
	case len(out) == 0:
		return nil, fmt.Errorf("%w: %s", ErrNotFound, sel.describe())
	case sel.MAC == "" && len(out) > 1:
		return nil, fmt.Errorf("%w: %s", ErrAmbiguous, sel.describe())
	}
	return out, nil
}

func (sel Selector) describe() string {
	switch {
	case sel.MAC != "":
		return "mac " + sel.MAC
	case sel.Interface != "":
		return fmt.Sprintf("session %d on %s", sel.SessionID, sel.Interface)
	}
	return fmt.Sprintf("session %d", sel.SessionID)
}

// Interfaces describes the access interfaces.
func (e *Engine) Interfaces(ctx context.Context) ([]InterfaceInfo, error) {
	var out []InterfaceInfo
	err := e.do(ctx, func() {
		out = []InterfaceInfo{}
		for _, name := range slices.Sorted(maps.Keys(e.ports)) {
			p := e.ports[name]
			st := "up"
			if p.draining {
				st = "draining"
			}
			out = append(out, InterfaceInfo{Name: name, VLANs: slices.Clone(p.cfg.VLANs), QinQ: slices.Clone(p.cfg.QinQ),
				Untagged: p.cfg.Untagged || (len(p.cfg.VLANs) == 0 && len(p.cfg.QinQ) == 0), MAC: p.mac.String(), MTU: p.mtu,
				Sessions: p.sessions, MaxSessions: p.cfg.MaxSessions, State: st})
		}
	})
	return out, err
}

// Services describes the configured services.
func (e *Engine) Services() []ServiceInfo {
	c := e.current.Load()
	r := newRouter(c)
	out := []ServiceInfo{}
	for _, name := range slices.Sorted(maps.Keys(c.PPPoE.Services)) {
		s := r.services[name]
		out = append(out, ServiceInfo{Name: name, Route: string(s.route), PPPProfile: s.profile, Tunnel: s.tunnel,
			Backup: s.backup, LocalFallback: s.localFallback})
	}
	return out
}

// Routes describes the realm routes.
func (e *Engine) Routes() []RouteInfo {
	out := []RouteInfo{}
	for _, r := range newRouter(e.current.Load()).routes {
		out = append(out, RouteInfo{Name: r.name, Realm: r.realm, Tunnel: r.tunnel, Backup: r.backup})
	}
	return out
}

// Stats returns the engine's counters and the state of its clients.
func (e *Engine) Stats(ctx context.Context) (Stats, error) {
	var (
		st      Stats
		dialers []*dialer
	)
	if err := e.do(ctx, func() {
		st.Sessions = len(e.actors)
		for d := range e.dialers {
			dialers = append(dialers, d)
		}
	}); err != nil {
		return Stats{}, err
	}
	e.met.stats(&st)
	slices.SortFunc(dialers, func(a, b *dialer) int {
		if a.name < b.name {
			return -1
		}
		if a.name > b.name {
			return 1
		}
		return 0
	})
	for _, d := range dialers {
		if ci, err := d.info(ctx); err == nil {
			st.Clients = append(st.Clients, ci)
		}
	}
	return st, nil
}

// Disconnect ends the sessions sel picks (one by ID, or all of a MAC address): a local
// session's PPP is stopped with an LCP Terminate-Request carrying reason, a LAC call is
// hung up, and the host gets a PADT with reason in a Generic-Error tag. It waits until
// they have ended or ctx is done (reporting Ended false for those still terminating).
func (e *Engine) Disconnect(ctx context.Context, sel Selector, reason string) ([]Disconnected, error) {
	if reason == "" {
		reason = "disconnected by operator"
	}
	var (
		list []*session
		serr error
	)
	if err := e.do(ctx, func() {
		if list, serr = e.selectLocked(sel); serr == nil {
			for _, s := range list {
				s.stop(EndAdmin, reason)
			}
		}
	}); err != nil {
		return nil, err
	}
	if serr != nil {
		return nil, serr
	}
	out := make([]Disconnected, len(list))
	for i, s := range list {
		out[i] = Disconnected{SessionID: s.key.id, Interface: s.key.iface, MAC: s.rec.Peer.String()}
		select {
		case <-s.gone:
			out[i].Ended = true
		default:
			select {
			case <-s.gone:
				out[i].Ended = true
			case <-ctx.Done():
			}
		}
	}
	return out, nil
}
