package pppoe

import (
	"maps"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Metric label values beyond the AC's Reason names.
const (
	dirRx = "rx"
	dirTx = "tx"

	// Gauge routes: where a session's PPP goes. A LAC or realm session is "pending" while
	// the AC runs its LCP and authentication and places the call.
	gaugeLocal   = "local"
	gaugeLAC     = "lac"
	gaugePending = "pending"
	gaugeClient  = "client" // sessions of our own PPPoE clients

	// Engine-level discovery drop reasons (the pure AC's are Reason.String()).
	dropNotServing = "not_serving" // the interface is draining or the engine stopping
	dropDataPlane  = "data_plane"  // the session channel could not be opened
	dropWrite      = "write_error" // a reply could not be sent
	dropQueueFull  = "queue_full"  // a client's discovery queue was full

	// LAC failure reasons.
	lacNoRoute    = "no_route"    // the user's realm matches no pppoe.route
	lacCallFailed = "call_failed" // PlaceCall returned an error
	lacTimeout    = "timeout"     // PlaceCall did not finish within pppoe.lac_timeout
	lacBridge     = "bridge"      // the data plane could not bridge the channels
)

var discoveryCodes = []Code{CodePADI, CodePADO, CodePADR, CodePADS, CodePADT}

// codeLabel names a discovery code for the code label; codes RFC 2516 does not define
// share "other", which keeps the label bounded.
func codeLabel(c Code) string {
	switch c {
	case CodePADI, CodePADO, CodePADR, CodePADS, CodePADT:
		return c.String()
	}
	return "other"
}

// metrics holds the engine's Prometheus metrics and, for Stats, copies of the counters.
// Every method is safe for concurrent use: the engine loop, the session actors and the
// dialers all count.
type metrics struct {
	sessions  *prometheus.GaugeVec
	discovery *prometheus.CounterVec
	drops     *prometheus.CounterVec
	ended     *prometheus.CounterVec
	lacFail   *prometheus.CounterVec

	mu sync.Mutex // guards the fields below
	// disc counts discovery packets by direction and code.
	disc      map[string]map[string]uint64
	dropCount map[string]uint64
	endCount  map[string]uint64
	lacCount  map[string]uint64
	gauge     map[string]int
}

func newMetrics() *metrics {
	m := &metrics{
		sessions: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "probox", Subsystem: "pppoe", Name: "sessions",
			Help: "PPPoE sessions by where their PPP goes: local, lac, pending (LAC or realm sessions before the call is up) or client.",
		}, []string{"route"}),
		discovery: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "probox", Subsystem: "pppoe", Name: "discovery_packets_total",
			Help: "PPPoE discovery packets received (rx) and sent (tx), by code.",
		}, []string{"code", "dir"}),
		drops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "probox", Subsystem: "pppoe", Name: "discovery_drops_total",
			Help: "Discovery packets not served, by reason: dropped, or refused with an error tag.",
		}, []string{"reason"}),
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "probox", Subsystem: "pppoe", Name: "sessions_total",
			Help: "PPPoE sessions ended, by result.",
		}, []string{"result"}),
		lacFail: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "probox", Subsystem: "pppoe", Name: "lac_failures_total",
			Help: "Sessions (or call attempts) that could not be carried to an LNS, by reason.",
		}, []string{"reason"}),
		disc:      map[string]map[string]uint64{dirRx: {}, dirTx: {}},
		dropCount: map[string]uint64{},
		endCount:  map[string]uint64{},
		lacCount:  map[string]uint64{},
		gauge:     map[string]int{},
	}
	// Every bounded label value starts at zero, so that dashboards see the series.
	for _, r := range []string{gaugeLocal, gaugeLAC, gaugePending, gaugeClient} {
		m.sessions.WithLabelValues(r)
	}
	for _, c := range append(discoveryCodes, 0xff) {
		m.discovery.WithLabelValues(codeLabel(c), dirRx)
		m.discovery.WithLabelValues(codeLabel(c), dirTx)
	}
	for r := ReasonMalformed; r <= ReasonReplyTooLarge; r++ {
		m.drops.WithLabelValues(r.String())
	}
	for _, r := range []string{dropNotServing, dropDataPlane, dropWrite, dropQueueFull} {
		m.drops.WithLabelValues(r)
	}
	for c := EndPeerPADT; c < numEndCauses; c++ {
		m.ended.WithLabelValues(c.String())
	}
	for _, r := range []string{lacNoRoute, lacCallFailed, lacTimeout, lacBridge} {
		m.lacFail.WithLabelValues(r)
	}
	return m
}

func (m *metrics) register(r prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.sessions, m.discovery, m.drops, m.ended, m.lacFail} {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// packet counts a discovery packet in direction dir.
func (m *metrics) packet(c Code, dir string) {
	l := codeLabel(c)
	m.discovery.WithLabelValues(l, dir).Inc()
	m.mu.Lock()
	m.disc[dir][l]++
	m.mu.Unlock()
}

// drop counts a discovery packet not served.
func (m *metrics) drop(reason string) {
	m.drops.WithLabelValues(reason).Inc()
	m.mu.Lock()
	m.dropCount[reason]++
	m.mu.Unlock()
}

// end counts an ended session.
func (m *metrics) end(c EndCause) {
	m.ended.WithLabelValues(c.String()).Inc()
	m.mu.Lock()
	m.endCount[c.String()]++
	m.mu.Unlock()
}

// lacFailure counts a failure to carry a session to an LNS.
func (m *metrics) lacFailure(reason string) {
	m.lacFail.WithLabelValues(reason).Inc()
	m.mu.Lock()
	m.lacCount[reason]++
	m.mu.Unlock()
}

// move moves a session from gauge route from to route to ("" for none).
func (m *metrics) move(from, to string) {
	if from == to {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if from != "" {
		m.sessions.WithLabelValues(from).Dec()
		m.gauge[from]--
	}
	if to != "" {
		m.sessions.WithLabelValues(to).Inc()
		m.gauge[to]++
	}
}

// stats copies the counters into s.
func (m *metrics) stats(s *Stats) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s.Discovery = map[string]map[string]uint64{dirRx: maps.Clone(m.disc[dirRx]), dirTx: maps.Clone(m.disc[dirTx])}
	s.Drops = maps.Clone(m.dropCount)
	s.Ended = maps.Clone(m.endCount)
	s.LACFailures = maps.Clone(m.lacCount)
	s.ByRoute = map[string]int{}
	for k, v := range m.gauge {
		if v != 0 {
			s.ByRoute[k] = v
		}
	}
}
