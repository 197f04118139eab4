package hooks

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/probox/probox/control/event"
)

const (
	// subscriptionBuffer is the bus subscription's buffer in events. Publish never blocks,
	// so this is what absorbs a burst (a tunnel with thousands of sessions going down)
	// while the dispatcher files the events into queues.
	subscriptionBuffer = 1 << 14

	// maxQueued bounds the runs waiting in queues. When it is reached the dispatcher stops
	// reading the bus until scripts finish, the subscription buffer fills, and the bus
	// drops (and counts) what comes next: memory stays bounded however slow the scripts.
	maxQueued = 1 << 16

	// maxGrace is the longest wait between SIGTERM and SIGKILL of a timed-out script; the
	// grace is the timeout itself when that is shorter.
	maxGrace = 5 * time.Second

	// warnEvery rate-limits the repeated warnings (a refused script, dropped events),
	// which a misconfiguration would otherwise repeat for every session.
	warnEvery = time.Minute
)

// Config is the hook runner's configuration, built from config.Hooks.
type Config struct {
	// Dir is the absolute path of the directory holding the scripts; empty disables hooks.
	Dir string
	// Timeout is how long a script may run before its process group gets SIGTERM (and
	// SIGKILL after a grace of min(Timeout, 5s)).
	Timeout time.Duration
	// MaxConcurrent is the most scripts running at once, over all tunnels and sessions.
	MaxConcurrent int
}

// Validate reports whether c can be used.
func (c Config) Validate() error {
	switch {
	case c.Dir != "" && !filepath.IsAbs(c.Dir):
		return fmt.Errorf("hooks: dir must be an absolute path, got %q", c.Dir)
	case c.Timeout <= 0:
		return fmt.Errorf("hooks: timeout must be positive, got %v", c.Timeout)
	case c.MaxConcurrent < 1:
		return fmt.Errorf("hooks: max_concurrent must be at least 1, got %d", c.MaxConcurrent)
	}
	return nil
}

// Runner runs the hook scripts for the tunnel and session events of a bus. Create it with
// New and start it with Run.
type Runner struct {
	bus      *event.Bus
	log      *zap.Logger
	m        *metrics
	reloaded chan struct{} // capacity 1: Reload wakes the dispatcher to apply a new cap
	active   atomic.Bool   // Run is running

	subBuf    int // subscriptionBuffer (tests lower it)
	maxQueued int // maxQueued (tests lower it)

	mu  sync.Mutex // guards cfg
	cfg Config

	warnMu   sync.Mutex // guards lastWarn
	lastWarn map[string]time.Time
}

// New returns a runner for the events of bus, logging to log (nil: no logging) and
// registering its metrics on reg (nil: not registered). It returns an error if cfg is
// invalid or the metrics cannot be registered.
func New(cfg Config, bus *event.Bus, log *zap.Logger, reg prometheus.Registerer) (*Runner, error) {
	if bus == nil {
		return nil, errors.New("hooks: nil event bus")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("hooks: registering metrics: %w", err)
	}
	return &Runner{
		bus:       bus,
		log:       log,
		m:         m,
		reloaded:  make(chan struct{}, 1),
		subBuf:    subscriptionBuffer,
		maxQueued: maxQueued,
		cfg:       cfg,
		lastWarn:  make(map[string]time.Time),
	}, nil
}

// Reload replaces the configuration. The new directory and timeout apply to scripts
// started afterwards (running ones keep theirs), and a new cap applies to the next start.
// An invalid cfg is logged and ignored: the old one stays in effect.
func (r *Runner) Reload(cfg Config) {
	if err := cfg.Validate(); err != nil {
		r.log.Error("hook configuration rejected, keeping the old one", zap.Error(err))
		return
	}
	r.mu.Lock()
	r.cfg = cfg
	r.mu.Unlock()
	select {
	case r.reloaded <- struct{}{}:
	default:
	}
	r.log.Info("hook configuration applied", zap.String("dir", cfg.Dir),
		zap.Duration("timeout", cfg.Timeout), zap.Int("max_concurrent", cfg.MaxConcurrent))
}

func (r *Runner) config() Config {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cfg
}

// Run subscribes to the bus and runs the hook scripts of tunnel and session events until
// ctx is done. It then starts no more scripts (the runs still queued are dropped and
// logged), lets the running ones finish within their timeout (killing what remains), and
// returns nil once no script and none of its goroutines are left. It returns an error
// only if the runner is already running.
func (r *Runner) Run(ctx context.Context) error {
	if !r.active.CompareAndSwap(false, true) {
		return errors.New("hooks: runner already running")
	}
	defer r.active.Store(false)

	sub := r.bus.Subscribe(r.subBuf, func(e *event.Event) bool {
		return e.Type.IsTunnel() || e.Type.IsSession()
	})
	defer sub.Close()

	d := &dispatcher{r: r, queues: make(map[queueKey]*queue), done: make(chan *queue)}
	r.log.Debug("hook runner started")
	d.loop(ctx, sub)
	d.stop(sub)
	r.log.Debug("hook runner stopped")
	return nil
}

// queueKey names the tunnel or session whose scripts run one at a time. Two objects that
// share a key (a PPPoE session ID reused on another interface) only lose parallelism;
// an unstable key would lose ordering, so the key uses only the fields that every event
// of an object carries: the engine and the IDs.
type queueKey struct {
	engine  string
	session bool
	tunnel  uint32
	id      uint32
}

func keyOf(e *event.Event) queueKey {
	k := queueKey{engine: e.Engine, session: e.Type.IsSession()}
	if k.session {
		if s := e.Session; s != nil {
			k.tunnel, k.id = s.TunnelID, s.ID
		}
		if k.tunnel == 0 && e.Tunnel != nil {
			k.tunnel = e.Tunnel.ID
		}
	} else if t := e.Tunnel; t != nil {
		k.tunnel = t.ID
	}
	return k
}

// queue holds the runs waiting for one tunnel or session, oldest first. A queue exists
// only while it has a run waiting or running, so idle sessions cost nothing.
type queue struct {
	key  queueKey
	jobs []event.Event
}

// dispatcher is Run's state; only Run's goroutine touches it.
type dispatcher struct {
	r      *Runner
	queues map[queueKey]*queue
	peak   int      // most queues at once since the map was last replaced
	ready  []*queue // queues with a run waiting and none running, in the order they became ready
	queued int      // runs waiting in queues
	active int      // runs started (a goroutine each) and not yet reported on done
	done   chan *queue
	wg     sync.WaitGroup

	dropped    uint64    // sub.Dropped() last seen
	droppedLog uint64    // drops not yet in a warning
	warnedAt   time.Time // last drop warning
}

func (d *dispatcher) loop(ctx context.Context, sub *event.Subscription) {
	for {
		d.startReady()
		in := sub.C()
		if d.queued >= d.r.maxQueued {
			in = nil // back-pressure: let the bus drop and count
		}
		select {
		case <-ctx.Done():
			return
		case e, ok := <-in:
			if !ok {
				return
			}
			d.checkDropped(sub)
			d.enqueue(e)
		case q := <-d.done:
			d.finished(q)
		case <-d.r.reloaded:
		}
	}
}

func (d *dispatcher) enqueue(e event.Event) {
	k := keyOf(&e)
	q := d.queues[k]
	if q == nil {
		q = &queue{key: k}
		d.queues[k] = q
		d.peak = max(d.peak, len(d.queues))
		d.ready = append(d.ready, q)
	}
	q.jobs = append(q.jobs, e)
	d.queued++
	d.r.m.queued.Set(float64(d.queued))
}

// startReady starts the oldest ready queue's next run while the cap allows.
func (d *dispatcher) startReady() {
	cfg := d.r.config()
	for d.active < cfg.MaxConcurrent && len(d.ready) > 0 {
		q := d.ready[0]
		d.ready[0] = nil
		d.ready = d.ready[1:]
		e := q.jobs[0]
		q.jobs[0] = event.Event{}
		q.jobs = q.jobs[1:]
		d.queued--
		d.active++
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			d.r.runHook(&e, cfg)
			d.done <- q
		}()
	}
	d.r.m.queued.Set(float64(d.queued))
}

// finished takes note that q's running script is done: q is ready again if it has more
// runs, and forgotten otherwise.
func (d *dispatcher) finished(q *queue) {
	d.active--
	if len(q.jobs) > 0 {
		d.ready = append(d.ready, q)
		return
	}
	delete(d.queues, q.key)
	// Go maps never shrink: after a burst over many sessions, drop the big map once it
	// is empty so that memory follows the load back down.
	if len(d.queues) == 0 && d.peak > 1024 {
		d.queues = make(map[queueKey]*queue)
		d.peak = 0
	}
}

func (d *dispatcher) checkDropped(sub *event.Subscription) {
	n := sub.Dropped()
	if n == d.dropped {
		return
	}
	d.r.m.dropped.Add(float64(n - d.dropped))
	d.droppedLog += n - d.dropped
	d.dropped = n
	if now := time.Now(); now.Sub(d.warnedAt) >= warnEvery {
		d.r.log.Warn("hook runner fell behind: events dropped, their scripts will not run",
			zap.Uint64("dropped", d.droppedLog), zap.Uint64("dropped_total", n))
		d.warnedAt, d.droppedLog = now, 0
	}
}

// stop waits for the running scripts and drops the queued runs.
func (d *dispatcher) stop(sub *event.Subscription) {
	d.checkDropped(sub)
	if n := d.queued + len(sub.C()); n > 0 {
		d.r.log.Warn("hook runner stopping: queued scripts will not run", zap.Int("queued", n))
	}
	d.ready, d.queues, d.queued = nil, nil, 0
	d.r.m.queued.Set(0)
	for d.active > 0 {
		<-d.done
		d.active--
	}
	d.wg.Wait()
}
