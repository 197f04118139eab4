package ppp

import (
	"github.com/prometheus/client_golang/prometheus"
)

const (
	metricsNamespace = "probox"
	metricsSubsystem = "ppp"
)

// Auth results, the result label of probox_ppp_auth_total.
const (
	authResultSuccess = "success"
	authResultFailure = "failure"
	authResultTimeout = "timeout"
)

// metrics are the engine's counters. Gauges of session and pool state are computed at
// scrape time by collector, from the engine's index and pools. No label carries a session
// identifier: per-session detail is on the management API.
type metrics struct {
	auth         *prometheus.CounterVec
	ended        *prometheus.CounterVec
	echoTimeouts prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		auth: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "auth_total",
			Help: "Authentications by method (pap, chap-md5, mschapv2) and result (success, failure, timeout), in both roles, CHAP re-challenges included.",
		}, []string{"method", "result"}),
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "sessions_total",
			Help: "Ended PPP sessions by result: the class of the reason they ended.",
		}, []string{"result"}),
		echoTimeouts: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "lcp_echo_timeouts_total",
			Help: "Sessions ended because the peer stopped answering LCP Echo-Requests.",
		}),
	}
	for _, meth := range []AuthMethod{AuthPAP, AuthCHAPMD5, AuthMSCHAPv2} {
		for _, r := range []string{authResultSuccess, authResultFailure, authResultTimeout} {
			m.auth.WithLabelValues(methodLabel(meth), r)
		}
	}
	for c := CauseNone + 1; c < numCauses; c++ {
		m.ended.WithLabelValues(c.String())
	}
	return m
}

// methodLabel names m as the configuration does.
func methodLabel(m AuthMethod) string {
	switch m {
	case AuthPAP:
		return "pap"
	case AuthCHAPMD5:
		return "chap-md5"
	case AuthMSCHAPv2:
		return "mschapv2"
	case AuthProxy:
		return "proxy"
	}
	return "none"
}

func (m *metrics) register(reg prometheus.Registerer, c prometheus.Collector) error {
	for _, col := range []prometheus.Collector{m.auth, m.ended, m.echoTimeouts, c} {
		if err := reg.Register(col); err != nil {
			return err
		}
	}
	return nil
}

// collector reports the engine's sessions by phase and the pools' usage at scrape time.
type collector struct {
	e        *Engine
	sessions *prometheus.Desc
	pool     *prometheus.Desc
}

func newCollector(e *Engine) *collector {
	return &collector{
		e: e,
		sessions: prometheus.NewDesc(
			prometheus.BuildFQName(metricsNamespace, metricsSubsystem, "sessions"),
			"PPP sessions by phase (establish, authenticate, network, running, terminate).",
			[]string{"phase"}, nil),
		pool: prometheus.NewDesc(
			prometheus.BuildFQName(metricsNamespace, metricsSubsystem, "pool_addresses"),
			"Addresses of each IPv4 pool by state (used, free).",
			[]string{"pool", "state"}, nil),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.sessions
	ch <- c.pool
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	counts := c.e.phaseCounts()
	for p := PhaseEstablish; p <= PhaseTerminate; p++ {
		ch <- prometheus.MustNewConstMetric(c.sessions, prometheus.GaugeValue, float64(counts[p]), p.String())
	}
	for _, pi := range c.e.pools.Info() {
		ch <- prometheus.MustNewConstMetric(c.pool, prometheus.GaugeValue, float64(pi.Used), pi.Name, "used")
		ch <- prometheus.MustNewConstMetric(c.pool, prometheus.GaugeValue, float64(pi.Free), pi.Name, "free")
	}
}
