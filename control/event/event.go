// Package event is probox's event bus: the engines publish every state change of tunnels,
// sessions and PPP links here, and the control surface (watch streams, metrics, hook
// scripts, accounting, the status page) subscribes.
//
// It is a leaf package: the engines import it, and it imports nothing of probox.
//
// Publish never blocks: each subscriber has a bounded buffer, and a subscriber that falls
// behind loses events (counted by Subscription.Dropped, and visible as a gap in Seq) rather
// than stalling an engine.
package event

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// Type is the kind of an event.
type Type uint8

// Event types. The tunnel and session types follow ProL2TP's hook and watch vocabulary
// (created, up, down, deleted); PPP phase changes have their own type.
const (
	TunnelCreated Type = iota + 1
	TunnelUp
	TunnelDown
	TunnelDeleted
	SessionCreated
	SessionUp
	SessionDown
	SessionDeleted
	PPPPhase
	ConfigReloaded
)

var typeNames = [...]string{
	TunnelCreated:  "tunnel-created",
	TunnelUp:       "tunnel-up",
	TunnelDown:     "tunnel-down",
	TunnelDeleted:  "tunnel-deleted",
	SessionCreated: "session-created",
	SessionUp:      "session-up",
	SessionDown:    "session-down",
	SessionDeleted: "session-deleted",
	PPPPhase:       "ppp-phase",
	ConfigReloaded: "config-reloaded",
}

func (t Type) String() string {
	if int(t) < len(typeNames) && typeNames[t] != "" {
		return typeNames[t]
	}
	return fmt.Sprintf("event-type-%d", uint8(t))
}

// ParseType is the inverse of Type.String.
func ParseType(s string) (Type, error) {
	for i, n := range typeNames {
		if n != "" && n == s {
			return Type(i), nil
		}
	}
	return 0, fmt.Errorf("unknown event type %q", s)
}

// MarshalText encodes t by name.
func (t Type) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText decodes a name written by MarshalText.
func (t *Type) UnmarshalText(b []byte) error {
	v, err := ParseType(string(b))
	*t = v
	return err
}

// IsTunnel reports whether t is one of the tunnel event types.
func (t Type) IsTunnel() bool { return t >= TunnelCreated && t <= TunnelDeleted }

// IsSession reports whether t is one of the session event types.
func (t Type) IsSession() bool { return t >= SessionCreated && t <= SessionDeleted }

// Verb is the last word of a tunnel or session event type: created, up, down or deleted.
func (t Type) Verb() string {
	s := t.String()
	return s[strings.LastIndexByte(s, '-')+1:]
}

// Event is one state change. Seq and Time are set by the bus. Exactly the parts that
// concern the event are set: Tunnel for tunnel events, Session (and Tunnel when the session
// is in one) for session events, PPP for PPP links; Result for down and deleted events.
type Event struct {
	Seq     uint64    `json:"seq"`
	Time    time.Time `json:"time"`
	Type    Type      `json:"type"`
	Engine  string    `json:"engine"` // "l2tp", "ppp", "pppoe" or "daemon"
	Tunnel  *Tunnel   `json:"tunnel,omitempty"`
	Session *Session  `json:"session,omitempty"`
	PPP     *PPP      `json:"ppp,omitempty"`
	Result  *Result   `json:"result,omitempty"`
	Message string    `json:"message,omitempty"` // free text, e.g. the reload summary
}

// Tunnel describes an L2TP tunnel.
type Tunnel struct {
	ID       uint32 `json:"id"`
	PeerID   uint32 `json:"peer_id,omitempty"`
	Name     string `json:"name,omitempty"`
	Profile  string `json:"profile,omitempty"`
	Version  int    `json:"version"`
	Encap    string `json:"encap"`
	Local    string `json:"local,omitempty"`
	Peer     string `json:"peer,omitempty"`
	PeerHost string `json:"peer_host,omitempty"`
	Created  bool   `json:"network_initiated,omitempty"` // the peer opened it (ProL2TP's "N" flag)
}

// Session describes an L2TP session or a PPPoE session.
type Session struct {
	ID           uint32 `json:"id"`
	PeerID       uint32 `json:"peer_id,omitempty"`
	TunnelID     uint32 `json:"tunnel_id,omitempty"`
	PeerTunnelID uint32 `json:"peer_tunnel_id,omitempty"`
	Name         string `json:"name,omitempty"`
	Profile      string `json:"profile,omitempty"`
	PWType       string `json:"pw_type,omitempty"` // ppp, ethernet
	Interface    string `json:"interface,omitempty"`
	User         string `json:"user,omitempty"`
	CallingMAC   string `json:"calling_mac,omitempty"` // PPPoE client MAC
	Service      string `json:"service,omitempty"`     // PPPoE service name
	CircuitID    string `json:"circuit_id,omitempty"`
	RemoteID     string `json:"remote_id,omitempty"`
}

// PPP describes a PPP link.
type PPP struct {
	Instance  string    `json:"instance"` // e.g. "session-12"
	Phase     string    `json:"phase"`    // establish, authenticate, network, running, terminate, dead
	Role      string    `json:"role"`     // server or client
	Carrier   string    `json:"carrier"`  // l2tp or pppoe
	User      string    `json:"user,omitempty"`
	Auth      string    `json:"auth,omitempty"`
	Interface string    `json:"interface,omitempty"`
	LocalIP   string    `json:"local_ip,omitempty"`
	PeerIP    string    `json:"peer_ip,omitempty"`
	LocalIPv6 string    `json:"local_ipv6,omitempty"`
	PeerIPv6  string    `json:"peer_ipv6,omitempty"`
	DNS       []string  `json:"dns,omitempty"`
	Started   time.Time `json:"started,omitzero"`
	Stats     *Counters `json:"stats,omitempty"`
}

// Counters are the traffic counters of a session, for accounting.
type Counters struct {
	RxPackets uint64 `json:"rx_packets"`
	RxBytes   uint64 `json:"rx_bytes"`
	TxPackets uint64 `json:"tx_packets"`
	TxBytes   uint64 `json:"tx_bytes"`
}

// Result says why something went down: the protocol's result and error codes where there
// are some (L2TP StopCCN/CDN), and a reason in words.
type Result struct {
	Code    uint16 `json:"code,omitempty"`
	Error   uint16 `json:"error,omitempty"`
	Message string `json:"message,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// Bus fans events out to subscribers.
type Bus struct {
	now func() time.Time

	mu   sync.Mutex // guards the fields below
	seq  uint64
	subs map[*Subscription]struct{}
}

// NewBus returns an empty bus. now is the clock for event times (nil: time.Now).
func NewBus(now func() time.Time) *Bus {
	if now == nil {
		now = time.Now
	}
	return &Bus{now: now, subs: make(map[*Subscription]struct{})}
}

// Publish assigns e the next sequence number and the current time, and offers it to every
// subscriber whose filter accepts it. It never blocks.
func (b *Bus) Publish(e Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seq++
	e.Seq = b.seq
	e.Time = b.now()
	for s := range b.subs {
		if s.filter != nil && !s.filter(&e) {
			continue
		}
		select {
		case s.c <- e:
		default:
			s.dropped++
		}
	}
}

// Subscribe returns a subscription that receives the events for which filter returns true
// (all events when filter is nil), buffering up to buf of them. filter runs under the
// bus's lock and must be quick and must not call the bus.
func (b *Bus) Subscribe(buf int, filter func(*Event) bool) *Subscription {
	if buf < 1 {
		buf = 1
	}
	s := &Subscription{bus: b, c: make(chan Event, buf), filter: filter}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s
}

// Subscribers is the number of open subscriptions.
func (b *Bus) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

// Subscription is one subscriber's view of the bus.
type Subscription struct {
	bus    *Bus
	c      chan Event
	filter func(*Event) bool

	// dropped is guarded by bus.mu.
	dropped uint64
}

// C is the channel events arrive on. It is closed by Close.
func (s *Subscription) C() <-chan Event { return s.c }

// Dropped is the number of events this subscriber lost because its buffer was full.
func (s *Subscription) Dropped() uint64 {
	s.bus.mu.Lock()
	defer s.bus.mu.Unlock()
	return s.dropped
}

// Close ends the subscription and closes C. It is idempotent.
func (s *Subscription) Close() {
	s.bus.mu.Lock()
	defer s.bus.mu.Unlock()
	if _, ok := s.bus.subs[s]; ok {
		delete(s.bus.subs, s)
		close(s.c)
	}
}
