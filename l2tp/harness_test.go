package l2tp

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/probox/probox/config"
	"github.com/probox/probox/control/event"
	"github.com/probox/probox/kernel"
	"github.com/probox/probox/kernel/kerneltest"
)

// The engine test harness: engines on kerneltest Fakes joined by one Network, run inside
// a testing/synctest bubble, with a stub PPP engine and an event recorder per engine.

// node is one engine under test.
type node struct {
	t       testing.TB
	name    string
	dp      *kerneltest.Fake
	e       *Engine
	bus     *event.Bus
	sub     *event.Subscription
	reg     *prometheus.Registry
	ppp     *stubPPP
	cancel  context.CancelFunc
	done    chan error
	stopped bool
	events  []event.Event
}

// seed makes each engine's random IDs deterministic.
type lockedChaCha struct {
	mu sync.Mutex
	r  *rand.ChaCha8
}

func (l *lockedChaCha) Read(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(b)
}

// newNode parses doc (TOML over the defaults) and builds an engine on a new host of n
// that owns addrs. The engine is not started.
func newNode(t testing.TB, n *kerneltest.Network, name, doc string, addrs ...string) *node {
	t.Helper()
	f, err := config.Parse(name+".toml", []byte(doc))
	if err != nil {
		t.Fatalf("%s config: %v", name, err)
	}
	var as []netip.Addr
	for _, a := range addrs {
		as = append(as, netip.MustParseAddr(a))
	}
	nd := &node{t: t, name: name, dp: n.Dataplane(name, as...), reg: prometheus.NewRegistry(), ppp: &stubPPP{}}
	nd.bus = event.NewBus(nil)
	nd.sub = nd.bus.Subscribe(4096, nil)
	var seed [32]byte
	copy(seed[:], name)
	var log *zap.Logger
	if tt, ok := t.(*testing.T); ok && testing.Verbose() {
		log = zaptest.NewLogger(tt)
	}
	nd.e, err = New(Config{Cfg: f.Config}, Deps{
		Dataplane: nd.dp, Log: log, Registry: nd.reg, Bus: nd.bus, PPP: nd.ppp,
		Rand: &lockedChaCha{r: rand.NewChaCha8(seed)},
	})
	if err != nil {
		t.Fatalf("%s: New: %v", name, err)
	}
	return nd
}

// start runs the engine until stop.
func (nd *node) start() *node {
	ctx, cancel := context.WithCancel(context.Background())
	nd.cancel, nd.done = cancel, make(chan error, 1)
	go func() { nd.done <- nd.e.Run(ctx) }()
	nd.t.Cleanup(func() {
		if !nd.stopped {
			nd.stop() // after a failed test: let the bubble end
		}
	})
	synctest.Wait()
	return nd
}

// stop cancels the engine and waits for Run to return.
func (nd *node) stop() {
	nd.t.Helper()
	nd.stopped = true
	nd.cancel()
	if err := <-nd.done; err != nil {
		nd.t.Errorf("%s: Run: %v", nd.name, err)
	}
}

// takeEvents returns the events published since the last call, as compact lines.
func (nd *node) takeEvents() []string {
	var out []string
	for {
		select {
		case ev := <-nd.sub.C():
			nd.events = append(nd.events, ev)
			out = append(out, eventLine(ev))
		default:
			return out
		}
	}
}

// eventLine renders an event without its random IDs.
func eventLine(ev event.Event) string {
	var b strings.Builder
	b.WriteString(ev.Type.String())
	if t := ev.Tunnel; t != nil && ev.Session == nil {
		fmt.Fprintf(&b, " v%d %s", t.Version, t.Encap)
		if t.Name != "" {
			fmt.Fprintf(&b, " name=%s", t.Name)
		}
		if t.Created {
			b.WriteString(" N")
		}
		if t.PeerHost != "" {
			fmt.Fprintf(&b, " peer_host=%s", t.PeerHost)
		}
	}
	if s := ev.Session; s != nil {
		fmt.Fprintf(&b, " pw=%s", s.PWType)
		if s.Name != "" {
			fmt.Fprintf(&b, " name=%s", s.Name)
		}
		if s.User != "" {
			fmt.Fprintf(&b, " user=%s", s.User)
		}
		if s.Interface != "" {
			fmt.Fprintf(&b, " if=%s", s.Interface)
		}
	}
	if r := ev.Result; r != nil {
		fmt.Fprintf(&b, " result=%d/%d", r.Code, r.Error)
		if r.Reason != "" {
			fmt.Fprintf(&b, " (%s)", r.Reason)
		}
	}
	return b.String()
}

// tunnels returns the engine's tunnels.
func (nd *node) tunnels() []TunnelInfo {
	nd.t.Helper()
	ts, err := nd.e.Tunnels(context.Background())
	if err != nil {
		nd.t.Fatalf("%s: Tunnels: %v", nd.name, err)
	}
	return ts
}

// only returns the engine's one tunnel.
func (nd *node) only() TunnelInfo {
	nd.t.Helper()
	ts := nd.tunnels()
	if len(ts) != 1 {
		nd.t.Fatalf("%s has %d tunnels, want 1: %+v", nd.name, len(ts), ts)
	}
	return ts[0]
}

func (nd *node) sessions() []SessionInfo {
	nd.t.Helper()
	ss, err := nd.e.Sessions(context.Background(), "")
	if err != nil {
		nd.t.Fatalf("%s: Sessions: %v", nd.name, err)
	}
	return ss
}

// stubPPP is the PPP engine of the tests: it records requests and hands out sessions that
// the test ends.
type stubPPP struct {
	mu       sync.Mutex
	reqs     []PPPRequest
	sessions []*stubSession
	fail     error
}

func (p *stubPPP) StartPPP(req PPPRequest) (PPPSession, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail != nil {
		return nil, p.fail
	}
	p.reqs = append(p.reqs, req)
	s := &stubSession{done: make(chan struct{}), user: fmt.Sprintf("user%d", len(p.sessions)+1), req: req}
	p.sessions = append(p.sessions, s)
	return s, nil
}

func (p *stubPPP) requests() []PPPRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.reqs)
}

func (p *stubPPP) last() *stubSession {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.sessions) == 0 {
		return nil
	}
	return p.sessions[len(p.sessions)-1]
}

type stubSession struct {
	req  PPPRequest
	user string
	done chan struct{}

	mu      sync.Mutex
	reason  string
	stopped []string
	ended   bool
}

// end ends the session as if PPP terminated by itself.
func (s *stubSession) end(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	s.ended, s.reason = true, reason
	close(s.done)
}

func (s *stubSession) Done() <-chan struct{} { return s.done }
func (s *stubSession) Stop(reason string) {
	s.mu.Lock()
	s.stopped = append(s.stopped, reason)
	s.mu.Unlock()
	s.end("stopped: " + reason)
}
func (s *stubSession) Reason() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reason
}
func (s *stubSession) Interface() string { return "ppp0" }
func (s *stubSession) User() string      { return s.user }

// rawPeer is a hand-driven L2TP endpoint: a tunnel socket on its own host whose messages
// the test builds with the codecs.
type rawPeer struct {
	t       testing.TB
	dp      *kerneltest.Fake
	tn      kernel.Tunnel
	id      uint32
	v       Version
	ns, nr  uint16
	peerTID uint32
	got     chan Message
}

func newRawPeer(t testing.TB, n *kerneltest.Network, v Version, encap kernel.Encap, id uint32, addr, lns string) *rawPeer {
	t.Helper()
	return rawPeerOn(t, n.Dataplane("raw", netip.MustParseAddr(addr)), v, encap, id, lns)
}

// rawPeerOn opens another raw tunnel socket on dp.
func rawPeerOn(t testing.TB, dp *kerneltest.Fake, v Version, encap kernel.Encap, id uint32, lns string) *rawPeer {
	t.Helper()
	return rawPeerAt(t, dp, v, encap, id, netip.AddrPort{}, netip.MustParseAddrPort(lns))
}

// rawPeerAt opens a raw tunnel socket on dp bound to local (zero: chosen) towards peer.
func rawPeerAt(t testing.TB, dp *kerneltest.Fake, v Version, encap kernel.Encap, id uint32, local, peer netip.AddrPort) *rawPeer {
	t.Helper()
	tn, err := dp.OpenTunnel(kernel.TunnelConfig{Version: int(v), Encap: encap, Local: local, Peer: peer, TunnelID: id})
	if err != nil {
		t.Fatal(err)
	}
	r := &rawPeer{t: t, dp: dp, tn: tn, id: id, v: v, got: make(chan Message, 100)}
	t.Cleanup(func() { tn.Close() })
	go func() {
		b := make([]byte, 65535)
		for {
			k, _, err := tn.ReadControl(b)
			if err != nil {
				close(r.got)
				return
			}
			m, err := Parse(b[:k], nil)
			if err != nil {
				t.Errorf("raw peer: unparsable message: %v", err)
				continue
			}
			r.got <- m
		}
	}()
	return r
}

// send sends a message with the next Ns and the current Nr.
func (r *rawPeer) send(typ MessageType, sessionID uint16, avps ...AVP) {
	r.t.Helper()
	m := Message{Header: Header{Version: r.v, TunnelID: r.peerTID, SessionID: sessionID, Ns: r.ns, Nr: r.nr}, Type: typ, AVPs: avps}
	r.sendMsg(m)
	r.ns++
}

func (r *rawPeer) sendMsg(m Message) {
	r.t.Helper()
	b, err := m.Marshal(nil)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.tn.WriteControl(b); err != nil {
		r.t.Fatal(err)
	}
}

// recv returns the messages received so far (after synctest.Wait), ZLBs included, and
// advances Nr past the sequenced ones.
func (r *rawPeer) recv() []Message {
	synctest.Wait()
	var out []Message
	for {
		select {
		case m, ok := <-r.got:
			if !ok {
				return out
			}
			if !m.IsZLB() && m.Type != MsgACK && m.Ns == r.nr {
				r.nr++
			}
			out = append(out, m)
		default:
			return out
		}
	}
}

// types summarises messages as their types.
func types(ms []Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Type.String())
	}
	return out
}

// resultOf returns the Result Code of a StopCCN or CDN.
func resultOf(t testing.TB, m Message) ResultError {
	t.Helper()
	a, ok := m.Find(AVPResultCode)
	if !ok {
		t.Fatalf("%v has no Result Code", m.Type)
	}
	r, err := a.ResultCode()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// within runs f in a synctest bubble.
func within(t *testing.T, f func(t *testing.T)) { synctest.Test(t, f) }

func kerneltestNetwork() *kerneltest.Network { return kerneltest.NewNetwork() }

func encapOf(s string) kernel.Encap {
	if s == "ip" {
		return kernel.EncapIP
	}
	return kernel.EncapUDP
}
