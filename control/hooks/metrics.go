package hooks

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/probox/probox/control/event"
)

// namespace is probox's metric namespace (control.Namespace; not imported so that
// control may one day import this package).
const namespace = "probox"

// Results of a hook run, the values of the result label.
const (
	resultOK      = "ok"      // exited with status 0
	resultFailed  = "failed"  // could not start, exited non-zero or died of a signal
	resultTimeout = "timeout" // killed (with its process group) at the timeout
	resultRefused = "refused" // not run: failed the permission checks
)

// hookTypes are the event types that have a hook script.
var hookTypes = []event.Type{
	event.TunnelCreated, event.TunnelUp, event.TunnelDown, event.TunnelDeleted,
	event.SessionCreated, event.SessionUp, event.SessionDown, event.SessionDeleted,
}

type metrics struct {
	runs     *prometheus.CounterVec
	running  prometheus.Gauge
	queued   prometheus.Gauge
	duration *prometheus.HistogramVec
	dropped  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "hooks", Name: "runs_total",
			Help: "Hook script runs by hook and result (ok, failed, timeout, refused).",
		}, []string{"hook", "result"}),
		running: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "hooks", Name: "running",
			Help: "Hook script processes running now.",
		}),
		queued: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "hooks", Name: "queued",
			Help: "Hook script runs waiting for their tunnel's or session's previous script or for a free slot.",
		}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "hooks", Name: "duration_seconds",
			Help:    "Run time of hook scripts that were started, by hook.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"hook"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "hooks", Name: "events_dropped_total",
			Help: "Tunnel and session events lost because the hook runner fell behind; their scripts never ran.",
		}),
	}
	// Every hook×result series exists from the start, so that rate() and alerts see the
	// first failure.
	for _, t := range hookTypes {
		for _, r := range []string{resultOK, resultFailed, resultTimeout, resultRefused} {
			m.runs.WithLabelValues(t.String(), r)
		}
	}
	if reg != nil {
		cs := []prometheus.Collector{m.runs, m.running, m.queued, m.duration, m.dropped}
		for i, c := range cs {
			if err := reg.Register(c); err != nil {
				for _, done := range cs[:i] {
					reg.Unregister(done)
				}
				return nil, err
			}
		}
	}
	return m, nil
}
