package l2tp

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics of the L2TP engine (namespace probox, subsystem l2tp). No label carries a tunnel
// or session ID: per-object detail is on the status endpoint.
//
//	probox_l2tp_tunnels{state}                       tunnels now: establishing, established, closing
//	probox_l2tp_sessions{state}                      sessions now: establishing, established
//	probox_l2tp_control_messages_total{type,dir}     control messages by type; dir rx, tx, retransmit
//	probox_l2tp_tunnels_total{result}                tunnels ended or established: established, failed
//	probox_l2tp_sessions_total{result}               sessions established, or failed before
//	probox_l2tp_setup_failures_total{kind,result}    tunnel or session setups that failed, by result code
//	probox_l2tp_dropped_messages_total{reason}       control messages dropped: malformed, digest, wrong_tunnel, queue_full
//	probox_l2tp_auth_failures_total                  tunnel authentication failures (challenge, digest)
//	probox_l2tp_peer_unresponsive_total              tunnels torn down because the peer stopped answering
//	probox_l2tp_listeners                            open listeners
type metrics struct {
	tunnels       *prometheus.GaugeVec
	sessions      *prometheus.GaugeVec
	ctl           *prometheus.CounterVec
	tunnelsTotal  *prometheus.CounterVec
	sessionsTotal *prometheus.CounterVec
	setupFailures *prometheus.CounterVec
	dropped       *prometheus.CounterVec
	authFailures  prometheus.Counter
	unresponsive  prometheus.Counter

	// Gauges the actors update; cached here to avoid label lookups.
	tunnelGauge  [3]prometheus.Gauge
	sessionGauge [2]prometheus.Gauge

	mu    sync.Mutex // guards the counter caches
	ctlRx map[MessageType]prometheus.Counter
	ctlTx map[MessageType]prometheus.Counter
	ctlRe map[MessageType]prometheus.Counter
}

const ns, sub = "probox", "l2tp"

func newMetrics(reg prometheus.Registerer, e *Engine) (*metrics, error) {
	m := &metrics{
		tunnels: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "tunnels",
			Help: "L2TP tunnels by state."}, []string{"state"}),
		sessions: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "sessions",
			Help: "L2TP sessions by state."}, []string{"state"}),
		ctl: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "control_messages_total",
			Help: "L2TP control messages by type and direction (rx, tx, retransmit)."}, []string{"type", "dir"}),
		tunnelsTotal: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "tunnels_total",
			Help: "L2TP tunnels that were established, or that failed before."}, []string{"result"}),
		sessionsTotal: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "sessions_total",
			Help: "L2TP sessions that were established, or that failed before."}, []string{"result"}),
		setupFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "setup_failures_total",
			Help: "Tunnel and session setups that failed, by the StopCCN or CDN result code."}, []string{"kind", "result"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "dropped_messages_total",
			Help: "Control messages dropped, by reason."}, []string{"reason"}),
		authFailures: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "auth_failures_total",
			Help: "Tunnel authentication failures: challenge responses and message digests."}),
		unresponsive: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "peer_unresponsive_total",
			Help: "Tunnels torn down because the peer stopped acknowledging."}),
		ctlRx: map[MessageType]prometheus.Counter{},
		ctlTx: map[MessageType]prometheus.Counter{},
		ctlRe: map[MessageType]prometheus.Counter{},
	}
	listeners := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "listeners",
		Help: "Open L2TP listeners."}, func() float64 { return float64(e.listenerCount()) })
	for i, s := range []string{"establishing", "established", "closing"} {
		m.tunnelGauge[i] = m.tunnels.WithLabelValues(s)
	}
	for i, s := range []string{"establishing", "established"} {
		m.sessionGauge[i] = m.sessions.WithLabelValues(s)
	}
	for _, r := range []string{"established", "failed"} {
		m.tunnelsTotal.WithLabelValues(r)
		m.sessionsTotal.WithLabelValues(r)
	}
	for _, c := range []prometheus.Collector{m.tunnels, m.sessions, m.ctl, m.tunnelsTotal, m.sessionsTotal,
		m.setupFailures, m.dropped, m.authFailures, m.unresponsive, listeners} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// tunnelGaugeOf returns the gauge of a tunnel state, or nil for closed.
func (m *metrics) tunnelGaugeOf(s tunnelState) prometheus.Gauge {
	switch s {
	case tunnelIdle, tunnelWaitCtlReply, tunnelWaitCtlConn:
		return m.tunnelGauge[0]
	case tunnelEstablished:
		return m.tunnelGauge[1]
	case tunnelClosing:
		return m.tunnelGauge[2]
	}
	return nil
}

func (m *metrics) tunnelEnter(s tunnelState) {
	if g := m.tunnelGaugeOf(s); g != nil {
		g.Inc()
	}
}

func (m *metrics) tunnelLeave(s tunnelState) {
	if g := m.tunnelGaugeOf(s); g != nil {
		g.Dec()
	}
}

func (m *metrics) sessionEnter(up bool) { m.sessionGauge[b2i(up)].Inc() }
func (m *metrics) sessionLeave(up bool) { m.sessionGauge[b2i(up)].Dec() }

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// typeLabel bounds the type label: known types by name, everything else "other".
func typeLabel(t MessageType) string {
	if t == 0 {
		return "ZLB"
	}
	if _, ok := messageNames[t]; ok {
		return t.String()
	}
	return "other"
}

func (m *metrics) counter(cache map[MessageType]prometheus.Counter, t MessageType, dir string) prometheus.Counter {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := messageNames[t]; !ok && t != 0 {
		t = 0xffff // "other"
	}
	c := cache[t]
	if c == nil {
		label := typeLabel(t)
		c = m.ctl.WithLabelValues(label, dir)
		cache[t] = c
	}
	return c
}

// rx counts a received control message.
func (m *metrics) rx(t MessageType) { m.counter(m.ctlRx, t, "rx").Inc() }

// tx counts a transmitted control message; retx marks a retransmission.
func (m *metrics) tx(t MessageType, retx bool) {
	if retx {
		m.counter(m.ctlRe, t, "retransmit").Inc()
		return
	}
	m.counter(m.ctlTx, t, "tx").Inc()
}

// setupFailure counts a failed setup of kind "tunnel" or "session" by result code.
func (m *metrics) setupFailure(kind string, result uint16) {
	m.setupFailures.WithLabelValues(kind, strconv.Itoa(int(min(result, 99)))).Inc()
}

// rateLimiter is a token bucket for log lines that peers can trigger.
type rateLimiter struct {
	now   func() time.Time
	rate  float64
	burst float64

	mu     sync.Mutex // guards the fields below
	tokens float64
	last   time.Time
}

func newRateLimiter(now func() time.Time, perSecond, burst float64) *rateLimiter {
	return &rateLimiter{now: now, rate: perSecond, burst: burst, tokens: burst}
}

func (r *rateLimiter) allow() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if !r.last.IsZero() {
		r.tokens = min(r.burst, r.tokens+now.Sub(r.last).Seconds()*r.rate)
	}
	r.last = now
	if r.tokens < 1 {
		return false
	}
	r.tokens--
	return true
}
