package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/probox/probox/config"
	"github.com/probox/probox/control"
	"github.com/probox/probox/control/daemon"
	"github.com/probox/probox/control/event"
	"github.com/probox/probox/kernel/kerneltest"
)

// host is one simulated box of the in-process BRAS: its engines wired exactly as the
// daemon wires them (wire), on a kerneltest data plane.
type host struct {
	bus     *event.Bus
	reg     *prometheus.Registry
	engines []daemon.Engine
}

// newHost wires a host's engines; run starts them.
func newHost(tb testing.TB, dp *kerneltest.Fake, doc string) *host {
	tb.Helper()
	f, err := config.Parse("bench.toml", []byte(doc))
	if err != nil {
		tb.Fatal(err)
	}
	h := &host{bus: event.NewBus(nil), reg: prometheus.NewRegistry()}
	h.engines, err = wire(daemon.Deps{
		Mode: "daemon", File: f, Log: zap.NewNop(), Registry: h.reg,
		Bus: h.bus, API: control.NewAPI(zap.NewNop()), Dataplane: dp,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

func (h *host) run(tb testing.TB, ctx context.Context, wg *sync.WaitGroup) *host {
	for _, e := range h.engines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := e.Run(ctx); err != nil && ctx.Err() == nil {
				tb.Errorf("%s: %v", e.Name(), err)
			}
		}()
	}
	return h
}

// BenchmarkPPPoEThroughLACToLNS measures the main path of a BRAS in one process: b.N
// PPPoE clients dial at once through a PPPoE access concentrator that is also an L2TP LAC
// (LCP and CHAP at the AC, proxy LCP/auth AVPs) into one L2TPv2 tunnel to an LNS that
// authenticates them and gives addresses. The three boxes run the real engines, wired as
// in the daemon, on the kerneltest data plane; the figure is complete sessions (client
// PPP network up) per second and the AC's memory per session.
func BenchmarkPPPoEThroughLACToLNS(b *testing.B) {
	dir := b.TempDir()
	secrets := filepath.Join(dir, "secrets")
	if err := os.WriteFile(secrets, []byte("alice@isp.example alice-secret\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	common := fmt.Sprintf("[system]\nsecrets_file = %q\nl2tp_listen = []\n", secrets)

	n := kerneltest.NewNetwork()
	subDP := n.Dataplane("sub")
	brasDP := n.Dataplane("bras", netip.MustParseAddr("192.0.2.1"))
	lnsDP := n.Dataplane("lns", netip.MustParseAddr("192.0.2.2"))
	n.Ethernet("access").Join(subDP, "eth0").Join(brasDP, "eth0")

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()

	newHost(b, lnsDP, strings.Replace(common, "l2tp_listen = []", `l2tp_listen = ["192.0.2.2:1701"]`, 1)+`
[ppp_profile.default]
auth = ["chap-md5"]
local_address = "100.64.0.1"
ipv6 = false
[ippool.default]
ranges = ["100.64.0.0/16"]
`).run(b, ctx, &wg)
	newHost(b, brasDP, common+`
[pppoe.interface.eth0]
[pppoe.service.internet]
route = "realm"
ppp_profile = "lac"
[pppoe.route.isp]
realm = "isp.example"
tunnel = "lns"
[ppp_profile.lac]
auth = ["chap-md5"]
[tunnel.lns]
peer = "192.0.2.2"
`).run(b, ctx, &wg)
	var doc strings.Builder
	doc.WriteString(common + `
[ppp_profile.client]
username = "alice@isp.example"
password = "alice-secret"
auth = []
ipv6 = false
unit = "dedicated"
`)
	for i := range b.N {
		fmt.Fprintf(&doc, "[pppoe.client.c%d]\ninterface = \"eth0\"\nservice = \"internet\"\nppp_profile = \"client\"\nmac = \"02:01:00:%02x:%02x:%02x\"\n", i, i>>16&0xff, i>>8&0xff, i&0xff)
	}

	// Count the clients whose PPP network layer is up.
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	b.ResetTimer()
	start := time.Now()
	sub := newHost(b, subDP, doc.String())
	up := sub.bus.Subscribe(b.N+16, func(e *event.Event) bool { return e.Type == event.SessionUp && e.Engine == "ppp" })
	defer up.Close()
	sub.run(b, ctx, &wg)
	deadline := time.After(time.Duration(b.N)*100*time.Millisecond + 30*time.Second)
	for got := 0; got < b.N; {
		select {
		case <-up.C():
			got++
		case <-deadline:
			b.Fatalf("%d of %d sessions up before the deadline", got, b.N)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&ms1)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "sessions/s")
	b.ReportMetric(float64(ms1.HeapInuse+ms1.StackInuse-ms0.HeapInuse-ms0.StackInuse)/float64(b.N), "bytes/session-3boxes")
}
