package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/probox/probox/config"
	"github.com/probox/probox/control"
	"github.com/probox/probox/control/event"
	"github.com/probox/probox/control/hooks"
	"github.com/probox/probox/kernel"
)

// Engine is a subsystem the daemon runs: the L2TP, PPP and PPPoE engines (and anything
// else with the same life cycle).
type Engine interface {
	Name() string
	// Run runs the engine until ctx is done, then tears down everything it created and
	// returns. An error before ctx is done stops the daemon.
	Run(ctx context.Context) error
}

// Reloader is an Engine that applies configuration changes while running. changes lists
// the blocks that differ from the previous configuration; the engine leaves sessions alone
// that they do not concern. An error rejects the new configuration (the engine must then
// keep the old one in effect).
type Reloader interface {
	Reload(cfg *config.Config, changes []config.Change) error
}

// Summarizer is an Engine that reports counts of what it holds ("tunnels", "sessions",
// ...) for `prol2tp show system` and /status.
type Summarizer interface {
	Summary(ctx context.Context) (map[string]int, error)
}

// Deps is what the wiring function gets to build the engines.
type Deps struct {
	Mode     string
	File     *config.File
	Log      *zap.Logger
	Registry *prometheus.Registry
	Bus      *event.Bus
	API      *control.API
	// Dataplane is the data plane chosen at start; nil when none could be opened (then
	// the wiring must fail if an engine needs one).
	Dataplane kernel.Dataplane
}

// Wiring builds the engines of the daemon, in start order (they stop in reverse order).
type Wiring func(Deps) ([]Engine, error)

// DataplaneOpener opens the data plane named name ("kernel" or "userspace").
type DataplaneOpener func(name string, cfg *config.Config, log *zap.Logger, reg *prometheus.Registry) (kernel.Dataplane, error)

// Options configure a daemon run; Main fills them from the command line.
type Options struct {
	Mode       string // prol2tpd, propppd, proacd or daemon
	ConfigPath string
	Foreground bool
	Debug      int
	LogFile    string
	Wire       Wiring
	Open       DataplaneOpener
	Stderr     io.Writer
	// Probe replaces kernel.Probe (tests).
	Probe func() kernel.Capabilities
	// Ready, when set, is called once the daemon serves (with nil) or failed to start.
	Ready func(error)
}

// Daemon is a running probox daemon.
type Daemon struct {
	opts    Options
	log     *Logger
	bus     *event.Bus
	reg     *prometheus.Registry
	api     *control.API
	started time.Time
	caps    kernel.Capabilities
	dpName  string
	dpWhy   string
	dp      kernel.Dataplane
	engines []*engineRun
	metrics *daemonMetrics

	mu       sync.Mutex // guards file and loadedAt
	file     *config.File
	loadedAt time.Time

	reloadMu sync.Mutex // serialises reloads
}

type engineRun struct {
	Engine
	cancel context.CancelFunc
	done   chan struct{}

	mu    sync.Mutex // guards state
	state string
}

func (e *engineRun) setState(s string) {
	e.mu.Lock()
	e.state = s
	e.mu.Unlock()
}

func (e *engineRun) getState() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.state
}

// Run starts the daemon and blocks until it stops (SIGTERM/SIGINT, or an engine failed).
// It returns nil after a clean stop.
func Run(opts Options) (err error) {
	file, err := config.LoadOrDefault(opts.ConfigPath)
	if err != nil {
		return err
	}
	cfg := file.Config
	lg, err := NewLogger(LogOptions{Ident: opts.Mode, Foreground: opts.Foreground, File: opts.LogFile, Debug: opts.Debug, Config: cfg.Log, Stderr: opts.Stderr})
	if err != nil {
		return err
	}
	defer lg.Close()
	d := &Daemon{
		opts:     opts,
		log:      lg,
		bus:      event.NewBus(nil),
		reg:      control.NewRegistry(),
		api:      control.NewAPI(lg.Named("api")),
		started:  time.Now(),
		file:     file,
		loadedAt: time.Now(),
	}
	if file.Embedded() {
		lg.Info("no configuration file, using the embedded defaults", zap.String("path", opts.ConfigPath))
	} else {
		lg.Info("configuration loaded", zap.String("path", file.Path))
	}
	err = d.run()
	if err != nil {
		lg.Error("daemon stopped on error", zap.Error(err))
	}
	return err
}

func (d *Daemon) run() error {
	cfg := d.config()
	unlock, err := lock(cfg.System.RuntimeDir)
	if err != nil {
		return err
	}
	defer unlock()

	// The control socket comes first: ListenUnix sets the umask while no other goroutine
	// creates files.
	apiLn, err := control.ListenUnix(cfg.Control.Socket)
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	defer apiLn.Close()
	var httpLn net.Listener
	if cfg.Control.HTTPListen != "" {
		httpLn, err = net.Listen("tcp", cfg.Control.HTTPListen)
		if err != nil {
			return fmt.Errorf("HTTP endpoint control.http_listen: %w", err)
		}
		defer httpLn.Close()
	}

	probe := d.opts.Probe
	if probe == nil {
		probe = kernel.Probe
	}
	d.caps = probe()
	d.dpName, d.dpWhy, err = kernel.Choose(string(cfg.Kernel.Dataplane), d.caps)
	if err != nil {
		return err
	}
	d.log.Info("data plane selected", zap.String("dataplane", d.dpName), zap.String("reason", d.dpWhy), zap.Stringer("capabilities", d.caps))
	if d.opts.Open != nil {
		d.dp, err = d.opts.Open(d.dpName, cfg, d.log.Named("kernel"), d.reg)
		if err != nil {
			return fmt.Errorf("opening the %s data plane: %w", d.dpName, err)
		}
		defer func() {
			if err := d.dp.Close(); err != nil {
				d.log.Warn("closing the data plane", zap.Error(err))
			}
		}()
	}
	d.metrics = newDaemonMetrics(d)
	d.registerCommands()

	var engines []Engine
	if d.opts.Wire != nil {
		engines, err = d.opts.Wire(Deps{
			Mode: d.opts.Mode, File: d.currentFile(), Log: d.log.Logger, Registry: d.reg,
			Bus: d.bus, API: d.api, Dataplane: d.dp,
		})
		if err != nil {
			return err
		}
	}

	hr, err := hooks.New(hooksConfig(cfg), d.bus, d.log.Named("hooks"), d.reg)
	if err != nil {
		return fmt.Errorf("hooks: %w", err)
	}
	engines = append([]Engine{hookEngine{hr}}, engines...)

	// The engine list is fixed from here on; the status page and metrics read it.
	for _, e := range engines {
		d.engines = append(d.engines, &engineRun{Engine: e, done: make(chan struct{}), state: "running"})
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1)
	defer signal.Stop(sigs)

	var wg sync.WaitGroup
	surfaceErr := make(chan error, 2)
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := d.api.Serve(ctx, apiLn); err != nil {
			surfaceErr <- err
		}
	}()
	if httpLn != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := control.NewHTTPHandler(d.reg, d.status, d.health, d.log.Named("http"))
			if err := control.ServeHTTP(ctx, httpLn, h, d.log.Named("http")); err != nil {
				surfaceErr <- err
			}
		}()
	}

	engineErr := make(chan error, len(engines))
	for _, r := range d.engines {
		ectx, ecancel := context.WithCancel(ctx)
		r.cancel = ecancel
		go func() {
			defer close(r.done)
			err := r.Run(ectx)
			if ectx.Err() == nil {
				if err == nil {
					err = errors.New("stopped unexpectedly")
				}
				r.setState("failed: " + err.Error())
				engineErr <- fmt.Errorf("engine %s: %w", r.Name(), err)
				return
			}
			r.setState("stopped")
		}()
	}
	if d.opts.Ready != nil {
		d.opts.Ready(nil)
	}
	d.log.Info("probox started", zap.String("mode", d.opts.Mode), zap.String("version", control.Build().Version),
		zap.String("control_socket", cfg.Control.Socket), zap.String("http", cfg.Control.HTTPListen),
		zap.String("log", d.log.Where), zap.Int("engines", len(engines)))

	var runErr error
loop:
	for {
		select {
		case s := <-sigs:
			switch s {
			case syscall.SIGHUP:
				d.log.Info("SIGHUP: reloading the configuration")
				d.reload()
			case syscall.SIGUSR1:
				d.log.Sync()
			default:
				d.log.Info("stopping", zap.Stringer("signal", s))
				break loop
			}
		case err := <-engineErr:
			runErr = err
			break loop
		case err := <-surfaceErr:
			runErr = err
			break loop
		}
	}

	// Stop the engines one at a time, last started first, so that e.g. PPPoE sends its
	// PADTs while L2TP and PPP still run.
	for _, r := range slices.Backward(d.engines) {
		r.setState("stopping")
		r.cancel()
		<-r.done
		d.log.Info("engine stopped", zap.String("engine", r.Name()))
	}
	cancel()
	wg.Wait()
	d.log.Info("probox stopped")
	return runErr
}

func (d *Daemon) config() *config.Config { return d.currentFile().Config }

func (d *Daemon) currentFile() *config.File {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.file
}

// reload re-reads the configuration file and applies it. A file with errors changes
// nothing; every error is logged and returned.
func (d *Daemon) reload() (*ReloadResult, error) {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	old := d.currentFile()
	path := d.opts.ConfigPath
	nf, err := config.LoadOrDefault(path)
	if err != nil {
		d.metrics.reloads.WithLabelValues("failure").Inc()
		var errs *config.Errors
		if errors.As(err, &errs) {
			for _, e := range errs.List() {
				d.log.Error("configuration error; keeping the running configuration", zap.String("reason", e.Error()))
			}
		} else {
			d.log.Error("cannot read the configuration; keeping the running configuration", zap.Error(err))
		}
		return nil, err
	}
	changes := config.Diff(old.Config, nf.Config)
	for _, r := range d.engines {
		rl, ok := r.Engine.(Reloader)
		if !ok {
			continue
		}
		if err := rl.Reload(nf.Config, changes); err != nil {
			d.metrics.reloads.WithLabelValues("failure").Inc()
			d.log.Error("engine rejected the new configuration; keeping the running configuration", zap.String("engine", r.Name()), zap.Error(err))
			return nil, fmt.Errorf("engine %s rejected the configuration: %w", r.Name(), err)
		}
	}
	res := &ReloadResult{Path: nf.Path}
	for _, c := range changes {
		res.Changes = append(res.Changes, c.Path+" "+c.Kind.String())
		if restartOnly(c.Path) {
			res.Restart = append(res.Restart, c.Path)
			d.log.Warn("this change takes effect at the next restart", zap.String("key", c.Path))
		}
	}
	d.mu.Lock()
	d.file, d.loadedAt = nf, time.Now()
	d.mu.Unlock()
	if nf.Config.Log.Level != old.Config.Log.Level && d.opts.Debug == 0 {
		d.log.Level.SetLevel(LogOptions{Config: nf.Config.Log}.level())
	}
	d.metrics.reloads.WithLabelValues("success").Inc()
	d.metrics.lastReload.SetToCurrentTime()
	d.log.Info("configuration reloaded", zap.Int("changes", len(changes)), zap.Strings("changed", res.Changes))
	d.bus.Publish(event.Event{Type: event.ConfigReloaded, Engine: "daemon", Message: fmt.Sprintf("%d changes", len(changes))})
	return res, nil
}

// restartOnly reports whether a changed block takes effect only at restart.
func restartOnly(path string) bool {
	return path == "control" || path == "kernel"
}

// ReloadResult is the answer to `prol2tp reload`.
type ReloadResult struct {
	Path    string   `json:"path"`
	Changes []string `json:"changes"`
	Restart []string `json:"restart_needed,omitempty"`
}

// lock takes the daemon's lock file in dir, so that a second daemon on the host refuses
// to start. The lock is released by the returned function, and by the kernel when the
// process dies.
func lock(dir string) (func(), error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("runtime directory: %w", err)
	}
	path := filepath.Join(dir, "probox.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		pid, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another probox daemon is running (pid %s, lock %s)", trimPID(pid), path)
		}
		return nil, fmt.Errorf("lock file %s: %w", path, err)
	}
	f.Truncate(0)
	fmt.Fprintf(f, "%d\n", os.Getpid())
	return func() {
		f.Truncate(0)
		f.Close()
	}, nil
}

func trimPID(b []byte) string {
	s := string(b)
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == ' ') {
		s = s[:len(s)-1]
	}
	if s == "" {
		return "unknown"
	}
	return s
}

// decodeArgs decodes a command's arguments; empty arguments leave v as it is.
func decodeArgs(raw json.RawMessage, v any) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return &control.ArgsError{Msg: "bad arguments: " + err.Error()}
	}
	return nil
}
