package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/probox/probox/control"
	"github.com/probox/probox/control/event"
)

// Status is the daemon's status: the /status document and the result of `prol2tp show
// system`.
type Status struct {
	Version         string            `json:"version"`
	Revision        string            `json:"revision,omitempty"`
	GoVersion       string            `json:"go_version"`
	Mode            string            `json:"mode"`
	PID             int               `json:"pid"`
	Started         time.Time         `json:"started"`
	UptimeSeconds   int64             `json:"uptime_seconds"`
	Config          ConfigStatus      `json:"config"`
	HostName        string            `json:"host_name"`
	RouterID        string            `json:"router_id,omitempty"`
	L2TPListen      []string          `json:"l2tp_listen"`
	LogLevel        string            `json:"log_level"`
	Dataplane       DataplaneStatus   `json:"dataplane"`
	Engines         []EngineStatus    `json:"engines"`
	Counts          map[string]int    `json:"counts"`
	EventSubscriber int               `json:"event_subscribers"`
	Capabilities    map[string]string `json:"kernel_capabilities"`
}

// ConfigStatus says which configuration is in effect.
type ConfigStatus struct {
	Path     string    `json:"path"`
	Embedded bool      `json:"embedded_defaults"`
	Loaded   time.Time `json:"loaded"`
}

// DataplaneStatus says which data plane runs and why.
type DataplaneStatus struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
	Open   bool   `json:"open"`
}

// EngineStatus is the state of one engine.
type EngineStatus struct {
	Name  string `json:"name"`
	State string `json:"state"`
}

func (d *Daemon) status(ctx context.Context) (any, error) { return d.statusValue(ctx), nil }

func (d *Daemon) statusValue(ctx context.Context) Status {
	d.mu.Lock()
	f, loaded := d.file, d.loadedAt
	d.mu.Unlock()
	cfg := f.Config
	b := control.Build()
	host := cfg.System.HostName
	if host == "" {
		host, _ = os.Hostname()
	}
	st := Status{
		Version: b.Version, Revision: b.Revision, GoVersion: b.GoVersion,
		Mode: d.opts.Mode, PID: os.Getpid(), Started: d.started,
		UptimeSeconds: int64(time.Since(d.started) / time.Second),
		Config:        ConfigStatus{Path: f.Path, Embedded: f.Embedded(), Loaded: loaded},
		HostName:      host, RouterID: cfg.System.RouterID, L2TPListen: cfg.System.L2TPListen,
		LogLevel:        d.log.Level.Level().String(),
		Dataplane:       DataplaneStatus{Name: d.dpName, Reason: d.dpWhy, Open: d.dp != nil},
		Engines:         []EngineStatus{},
		Counts:          map[string]int{},
		EventSubscriber: d.bus.Subscribers(),
		Capabilities:    d.caps.Map(),
	}
	if st.Config.Path == "" {
		st.Config.Path = "(embedded defaults)"
	}
	for _, e := range d.engines {
		st.Engines = append(st.Engines, EngineStatus{Name: e.Name(), State: e.getState()})
		if s, ok := e.Engine.(Summarizer); ok {
			counts, err := s.Summary(ctx)
			if err != nil {
				continue
			}
			for k, v := range counts {
				st.Counts[k] += v
			}
		}
	}
	return st
}

// health is healthy while every engine runs.
func (d *Daemon) health() error {
	var bad []string
	for _, e := range d.engines {
		if s := e.getState(); s != "running" {
			bad = append(bad, e.Name()+": "+s)
		}
	}
	if len(bad) > 0 {
		return errors.New("unhealthy: " + strings.Join(bad, "; "))
	}
	return nil
}

// WatchArgs are the arguments of the "watch" stream.
type WatchArgs struct {
	// Types limits the stream to these event types (names as event.Type.String); empty
	// means all.
	Types []string `json:"types,omitempty"`
	// Engines limits the stream to events of these engines; empty means all.
	Engines []string `json:"engines,omitempty"`
}

// registerCommands adds the daemon's own management commands.
func (d *Daemon) registerCommands() {
	d.api.Handle("show system", func(ctx context.Context, _ json.RawMessage) (any, error) {
		return d.statusValue(ctx), nil
	})
	d.api.Handle("show config", func(ctx context.Context, _ json.RawMessage) (any, error) {
		b, err := d.currentFile().TOML()
		return string(b), err
	})
	d.api.Handle("reload", func(ctx context.Context, _ json.RawMessage) (any, error) {
		return d.reload()
	})
	d.api.HandleStream("watch", func(ctx context.Context, raw json.RawMessage, send func(any) error) error {
		var args WatchArgs
		if err := decodeArgs(raw, &args); err != nil {
			return err
		}
		types := map[event.Type]bool{}
		for _, n := range args.Types {
			t, err := event.ParseType(n)
			if err != nil {
				return &control.ArgsError{Msg: err.Error()}
			}
			types[t] = true
		}
		engines := map[string]bool{}
		for _, n := range args.Engines {
			engines[n] = true
		}
		sub := d.bus.Subscribe(1024, func(e *event.Event) bool {
			return (len(types) == 0 || types[e.Type]) && (len(engines) == 0 || engines[e.Engine])
		})
		defer sub.Close()
		var reported uint64
		for {
			select {
			case <-ctx.Done():
				return nil
			case e := <-sub.C():
				if n := sub.Dropped(); n > reported {
					// Say so when this watcher fell behind, rather than hide the gap.
					if err := send(event.Event{Engine: "daemon", Message: fmt.Sprintf("%d events lost (watcher too slow)", n-reported)}); err != nil {
						return nil
					}
					reported = n
				}
				if err := send(e); err != nil {
					return nil
				}
			}
		}
	})
}

type daemonMetrics struct {
	reloads    *prometheus.CounterVec
	lastReload prometheus.Gauge
}

func newDaemonMetrics(d *Daemon) *daemonMetrics {
	m := &daemonMetrics{
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: control.Namespace, Name: "config_reloads_total",
			Help: "Configuration reloads by result (success, failure).",
		}, []string{"result"}),
		lastReload: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: control.Namespace, Name: "config_last_reload_success_timestamp_seconds",
			Help: "When the configuration was last loaded successfully (Unix time).",
		}),
	}
	m.reloads.WithLabelValues("success")
	m.reloads.WithLabelValues("failure")
	m.lastReload.SetToCurrentTime()
	start := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: control.Namespace, Name: "start_time_seconds",
		Help: "When the daemon started (Unix time).",
	})
	start.Set(float64(d.started.UnixNano()) / 1e9)
	dp := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: control.Namespace, Name: "dataplane_info",
		Help: "The data plane in use (label dataplane: kernel or userspace); the value is always 1.",
	}, []string{"dataplane"})
	dp.WithLabelValues(d.dpName).Set(1)
	engines := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: control.Namespace, Name: "engines_running",
		Help: "Engines in the running state.",
	}, func() float64 {
		n := 0
		for _, e := range d.engines {
			if e.getState() == "running" {
				n++
			}
		}
		return float64(n)
	})
	d.reg.MustRegister(m.reloads, m.lastReload, start, dp, engines)
	return m
}
