package pppoe

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/probox/probox/config"
	events "github.com/probox/probox/control/event"
	"github.com/probox/probox/kernel/kerneltest"
	"github.com/probox/probox/ppp"
)

// benchBed is an AC with local termination and a client box whose dialers the benchmark
// starts itself, on interfaces e0…e(n-1) of the client host (MAC 02:00:00:01:HI:LO).
type benchBed struct {
	acDP, cliDP *kerneltest.Fake
	ac, cli     *Engine
	acBus       *events.Bus
	cliBus      *events.Bus
	acStop      func()
	cliStop     func()
}

func newBenchBed(b *testing.B, n int, acBus bool) *benchBed {
	b.Helper()
	net0 := kerneltest.NewNetwork()
	bb := &benchBed{acDP: net0.Dataplane("ac"), cliDP: net0.Dataplane("client"), cliBus: events.NewBus(nil)}
	seg := net0.Ethernet("lan").Join(bb.acDP, "eth1")
	for i := range n {
		name := fmt.Sprintf("e%d", i)
		bb.cliDP.SetInterface(name, net.HardwareAddr{2, 0, 0, 1, byte(i >> 8), byte(i)}, 0)
		seg.Join(bb.cliDP, name)
	}
	if acBus {
		bb.acBus = events.NewBus(nil)
	}
	acCfg := parseConfig(b, acLocalDoc, acSecrets)
	cliCfg := parseConfig(b, clientBase, "")
	bb.ac, bb.acStop = bb.start(b, bb.acDP, acCfg, bb.acBus)
	bb.cli, bb.cliStop = bb.start(b, bb.cliDP, cliCfg, bb.cliBus)
	return bb
}

// start runs a PPP and a PPPoE engine on dp; the function returned stops both.
func (bb *benchBed) start(b *testing.B, dp *kerneltest.Fake, cfg *config.Config, bus *events.Bus) (*Engine, func()) {
	pe, err := ppp.New(ppp.Config{Cfg: cfg}, ppp.Deps{Dataplane: dp, Bus: bus})
	if err != nil {
		b.Fatal(err)
	}
	e, err := New(Config{Cfg: cfg}, Deps{Dataplane: dp, PPP: pe, Bus: bus})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pdone, edone := make(chan struct{}), make(chan struct{})
	go func() { pe.Run(ctx); close(pdone) }()
	go func() { e.Run(ctx); close(edone) }()
	return e, func() { cancel(); <-edone; <-pdone }
}

func (bb *benchBed) close() {
	bb.cliStop()
	bb.acStop()
}

// dial starts a dialer on the client engine's interface iface.
func (bb *benchBed) dial(b *testing.B, iface string) *dialer {
	var (
		d   *dialer
		err error
	)
	if derr := bb.cli.do(context.Background(), func() {
		var cp *clientPort
		if cp, err = bb.cli.clientPortFor(iface); err == nil {
			d = bb.cli.newDialer("bench", cp, nil, VLANs{}, "internet", "", "alice")
		}
	}); derr != nil || err != nil {
		b.Fatal(derr, err)
	}
	return d
}

func waitEvents(b *testing.B, sub *events.Subscription, n int) {
	for range n {
		select {
		case <-sub.C():
		case <-time.After(30 * time.Second):
			b.Fatal("timed out waiting for events")
		}
	}
}

// BenchmarkSetup measures PPPoE discovery and PPP setup through an AC with local
// termination, batch sessions at a time (each from its own MAC address), and their
// teardown (LCP Terminate-Request and PADT from the client). One op is one batch.
func BenchmarkSetup(b *testing.B) {
	const batch = 50
	bb := newBenchBed(b, batch, true)
	defer bb.close()
	ups := bb.cliBus.Subscribe(4*batch, func(ev *events.Event) bool { return ev.Engine == "ppp" && ev.Type == events.SessionUp })
	defer ups.Close()
	gone := bb.acBus.Subscribe(4*batch, func(ev *events.Event) bool { return ev.Engine == "pppoe" && ev.Type == events.SessionDeleted })
	defer gone.Close()
	time.Sleep(10 * time.Millisecond) // the AC's interface opens
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	b.ReportAllocs()
	start := time.Now()
	var sessions int
	for b.Loop() {
		ds := make([]*dialer, batch)
		for i := range ds {
			ds[i] = bb.dial(b, fmt.Sprintf("e%d", i))
		}
		waitEvents(b, ups, batch)
		for _, d := range ds {
			d.cancel()
		}
		waitEvents(b, gone, batch)
		for _, d := range ds {
			<-d.done
		}
		sessions += batch
	}
	elapsed := time.Since(start)
	runtime.ReadMemStats(&ms1)
	b.ReportMetric(float64(sessions)/elapsed.Seconds(), "sessions/s")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(sessions), "allocs/session")
}

// BenchmarkSessionMemory measures the memory an established, locally terminated session
// costs at the AC: n clients come up, then the client host vanishes without a word (its
// data plane closed, so no LCP Terminate or PADT reaches the AC, which keeps the n
// sessions up), and the heap plus goroutine stacks are compared with the AC's before the
// first session. Everything of the clients is gone by then; the AC's share of the
// recording fake's objects (channel, unit, call log) is included.
func BenchmarkSessionMemory(b *testing.B) {
	const n = 500
	for b.Loop() {
		bb := newBenchBed(b, n, false)
		ups := bb.cliBus.Subscribe(2*n, func(ev *events.Event) bool { return ev.Engine == "ppp" && ev.Type == events.SessionUp })
		time.Sleep(10 * time.Millisecond)
		before, stack0 := memUse(), stackUse()
		g0 := runtime.NumGoroutine()
		for i := range n {
			bb.dial(b, fmt.Sprintf("e%d", i))
		}
		waitEvents(b, ups, n)
		ups.Close()
		gUp := runtime.NumGoroutine()
		bb.cliDP.Close()
		// Stop the client box (its dialers fail to send, its sessions have lost their
		// carrier).
		bb.cliStop()
		bb.cliStop = func() {}
		sum, err := bb.ac.Summary(context.Background())
		if err != nil || sum["pppoe_sessions"] != n {
			b.Fatalf("AC sessions %v %v, want %d", sum, err, n)
		}
		after := memUse()
		b.ReportMetric(float64(after-before)/n, "bytes/session")
		b.ReportMetric(float64(stackUse()-stack0)/n, "stack-bytes/session")
		b.ReportMetric(float64(runtime.NumGoroutine()-g0)/n, "goroutines/session")
		b.ReportMetric(float64(gUp-g0)/n, "goroutines/pair")
		bb.close()
	}
}

// memUse is the heap in use plus the goroutine stacks, after a collection.
func memUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc + m.StackInuse
}

// stackUse is the memory of goroutine stacks.
func stackUse() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.StackInuse
}
