package pppoe

import (
	"context"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/probox/probox/config"
	events "github.com/probox/probox/control/event"
	"github.com/probox/probox/kernel"
	"github.com/probox/probox/kernel/kerneltest"
	"github.com/probox/probox/ppp"
)

// lockedRand is a deterministic random source safe for concurrent use.
type lockedRand struct {
	mu sync.Mutex
	r  *rand.ChaCha8
}

func newLockedRand(seed byte) *lockedRand { return &lockedRand{r: rand.NewChaCha8([32]byte{seed})} }

func (l *lockedRand) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(p)
}

// parseConfig parses a configuration document, failing the test on error. %SECRETS% is
// replaced by a fresh secrets file holding secrets.
func parseConfig(t testing.TB, doc, secrets string) *config.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secrets")
	if secrets != "" {
		if err := os.WriteFile(path, []byte(secrets), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	doc = strings.ReplaceAll(doc, "%SECRETS%", path)
	f, err := config.Parse("test.toml", []byte(doc))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return f.Config
}

// pppBase is the PPP part of every test configuration: CHAP-MD5, IPCP only, no
// keepalives.
const pppBase = `
[system]
secrets_file = "%SECRETS%"
host_name = "bras1"
[ppp_profile.default]
auth = ["chap-md5"]
ipv6 = false
lcp_echo_interval = "0s"
local_address = "10.64.0.1"
[ippool.default]
ranges = ["10.64.0.2-10.64.3.254"]
`

// clientBase is the PPP part of a client box: profiles named after their users.
const clientBase = `
[system]
secrets_file = "%SECRETS%"
[ppp_profile.default]
ipv6 = false
lcp_echo_interval = "0s"
unit = "dedicated"
[ppp_profile.alice]
username = "alice"
password = "alice-secret"
[ppp_profile.alice1]
username = "alice@isp1"
password = "alice-secret"
[ppp_profile.bob2]
username = "bob@isp2"
password = "bob-secret"
[ppp_profile.carol]
username = "carol@nowhere"
password = "carol-secret"
[ippool.default]
ranges = ["192.168.255.2-192.168.255.254"]
`

// acSecrets are the users the AC (and the LNSs) know.
const acSecrets = "alice alice-secret\nalice@isp1 alice-secret\nbob@isp2 bob-secret\ncarol@nowhere carol-secret\n"

// box is one probox daemon of a test: a PPP engine and a PPPoE engine on a Fake.
type box struct {
	t    testing.TB
	dp   *kerneltest.Fake
	bus  *events.Bus
	reg  *prometheus.Registry
	ppp  *ppp.Engine
	e    *Engine
	sub  *events.Subscription
	stop func()

	mu     sync.Mutex
	seen   []events.Event
	cursor map[string]int
}

// startBox starts the PPP and PPPoE engines of cfg on dp. The box's events (both engines)
// are recorded by sub.
func startBox(t testing.TB, dp *kerneltest.Fake, cfg *config.Config, lac LAC, seed byte) *box {
	t.Helper()
	b := &box{t: t, dp: dp, bus: events.NewBus(nil), reg: prometheus.NewRegistry()}
	b.sub = b.bus.Subscribe(100000, nil)
	rnd := newLockedRand(seed)
	var err error
	b.ppp, err = ppp.New(ppp.Config{Cfg: cfg}, ppp.Deps{Dataplane: dp, Bus: b.bus, Rand: rnd})
	if err != nil {
		t.Fatal(err)
	}
	deps := Deps{Dataplane: dp, Registry: b.reg, Bus: b.bus, PPP: b.ppp, Rand: rnd}
	if lac != nil {
		deps.LAC = lac
	}
	b.e, err = New(Config{Cfg: cfg}, deps)
	if err != nil {
		t.Fatal(err)
	}
	pctx, pcancel := context.WithCancel(context.Background())
	ectx, ecancel := context.WithCancel(context.Background())
	pdone, edone := make(chan struct{}), make(chan error, 1)
	go func() { b.ppp.Run(pctx); close(pdone) }()
	go func() { edone <- b.e.Run(ectx) }()
	var once sync.Once
	b.stop = func() {
		once.Do(func() {
			ecancel()
			if err := <-edone; err != nil {
				t.Errorf("pppoe Run: %v", err)
			}
			pcancel()
			<-pdone
			b.sub.Close()
		})
	}
	t.Cleanup(b.stop)
	return b
}

// events returns the events of engine (all engines for "") published since the last call
// for the same engine.
func (b *box) events(engine string) []events.Event {
	b.mu.Lock()
	defer b.mu.Unlock()
drain:
	for {
		select {
		case ev, ok := <-b.sub.C():
			if !ok {
				break drain
			}
			b.seen = append(b.seen, ev)
		default:
			break drain
		}
	}
	if b.cursor == nil {
		b.cursor = map[string]int{}
	}
	var out []events.Event
	for _, ev := range b.seen[b.cursor[engine]:] {
		if engine == "" || ev.Engine == engine {
			out = append(out, ev)
		}
	}
	b.cursor[engine] = len(b.seen)
	return out
}

// counter returns the value of a counter or gauge of the box's registry.
func (b *box) metric(name string, labels ...string) float64 {
	b.t.Helper()
	mfs, err := b.reg.Gather()
	if err != nil {
		b.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				if labelValue(m, labels[i]) != labels[i+1] {
					continue next
				}
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

var sidRE = regexp.MustCompile(`pppoe (eth\d+|e\d+)/(\d+)`)

// normState replaces PPPoE session IDs (random) in a State rendering by S, and sorts the
// lines again.
func normState(s string) string {
	s = sidRE.ReplaceAllString(s, "pppoe $1/S")
	if s == "" {
		return s
	}
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	slices.Sort(lines)
	return strings.Join(lines, "\n") + "\n"
}

// ctx is a context for API calls in tests.
func ctx() context.Context { return context.Background() }

// station is a raw PPPoE host for discovery tests: a port on its own Fake whose received
// frames a goroutine queues for the test.
type station struct {
	t    testing.TB
	port kernel.PPPoEPort
	rx   chan rxFrame
	mac  MAC
}

type rxFrame struct {
	pkt  Packet
	info kernel.FrameInfo
	err  error
}

func newStation(t testing.TB, dp *kerneltest.Fake, iface string, vlans ...uint16) *station {
	t.Helper()
	return newStationFor(t, dp, kernel.PPPoEConfig{Interface: iface, VLANs: vlans})
}

// newStationFor is newStation for a port with any VLAN configuration (QinQ).
func newStationFor(t testing.TB, dp *kerneltest.Fake, cfg kernel.PPPoEConfig) *station {
	t.Helper()
	p, err := dp.OpenPPPoE(cfg)
	if err != nil {
		t.Fatal(err)
	}
	st := &station{t: t, port: p, rx: make(chan rxFrame, 64)}
	st.mac, _ = macOf(p.HardwareAddr())
	go func() {
		defer close(st.rx)
		for {
			b := make([]byte, 1600)
			n, info, err := p.ReadDiscovery(b)
			if err != nil {
				return
			}
			var pkt Packet
			err = pkt.UnmarshalBinary(b[:n])
			st.rx <- rxFrame{pkt, info, err}
		}
	}()
	t.Cleanup(func() { p.Close() })
	return st
}

func (st *station) send(pkt Packet, to kernel.FrameInfo) {
	st.t.Helper()
	b, err := pkt.MarshalBinary()
	if err != nil {
		st.t.Fatal(err)
	}
	if err := st.port.WriteDiscovery(b, to); err != nil {
		st.t.Fatal(err)
	}
}

// recv returns the frames received so far (call after synctest.Wait), except the PADIs of
// other stations.
func (st *station) recv() []rxFrame {
	var out []rxFrame
	for {
		select {
		case f, ok := <-st.rx:
			if !ok {
				return out
			}
			if f.err == nil && f.pkt.Code == CodePADI {
				continue
			}
			out = append(out, f)
		default:
			return out
		}
	}
}

// recvOne expects exactly one frame.
func (st *station) recvOne() rxFrame {
	st.t.Helper()
	got := st.recv()
	if len(got) != 1 {
		st.t.Fatalf("station received %d frames, want 1: %+v", len(got), got)
	}
	if got[0].err != nil {
		st.t.Fatalf("station received a bad frame: %v", got[0].err)
	}
	return got[0]
}

// bcast is the envelope of a broadcast on vlans.
func bcast(v VLANs) kernel.FrameInfo { return frameTo(BroadcastMAC, v) }

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

var _ io.Reader = (*lockedRand)(nil)

func joinLines(lines ...string) string { return strings.Join(lines, "\n") + "\n" }

// startPPP runs a PPP engine alone on dp (an LNS, or a raw host); stop ends it and is
// also called at cleanup.
func startPPP(t testing.TB, dp kernel.Dataplane, cfg *config.Config, seed byte) (*ppp.Engine, func()) {
	t.Helper()
	pe, err := ppp.New(ppp.Config{Cfg: cfg}, ppp.Deps{Dataplane: dp, Rand: newLockedRand(seed)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { pe.Run(ctx); close(done) }()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return pe, stop
}
