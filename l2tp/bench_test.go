package l2tp

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/probox/probox/control/event"
	"github.com/probox/probox/kernel/kerneltest"
)

// Benchmarks between two engines in one process over kerneltest, in real time (testing/
// synctest has no benchmark form). Run with, for example:
//
//	go test -run '^$' -bench . -benchtime 2000x ./l2tp/

// benchPair starts an LNS and a LAC with n configured tunnels t0..t(n-1) to it.
func benchPair(b *testing.B, n int) (lac, lns *node) {
	b.Helper()
	var sb strings.Builder
	sb.WriteString("[system]\nhost_name = \"lac\"\nl2tp_listen = []\n")
	for i := range n {
		fmt.Fprintf(&sb, "[tunnel.t%d]\npeer = \"192.0.2.2\"\n", i)
	}
	net := kerneltest.NewNetwork()
	lns = newNode(b, net, "lns", "[system]\nhost_name = \"lns\"\n", "192.0.2.2")
	lac = newNode(b, net, "lac", sb.String(), "192.0.2.1")
	for _, nd := range []*node{lns, lac} {
		nd.sub.Close()
		ctx, cancel := context.WithCancel(context.Background())
		nd.cancel, nd.done = cancel, make(chan error, 1)
		go func() { nd.done <- nd.e.Run(ctx) }()
	}
	waitFor(b, func() bool {
		_, err := lac.e.running()
		return err == nil && lns.e.listenerCount() == 1
	})
	return lac, lns
}

func waitFor(b *testing.B, cond func() bool) {
	b.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			b.Fatal("timed out")
		}
		runtime.Gosched()
	}
}

// upEvents returns a subscription to tunnel-up events of nd.
func upEvents(nd *node, typ event.Type, n int) *event.Subscription {
	return nd.bus.Subscribe(n+16, func(e *event.Event) bool { return e.Type == typ })
}

func stopBench(b *testing.B, nodes ...*node) {
	b.StopTimer()
	for _, nd := range nodes {
		nd.cancel()
		if err := <-nd.done; err != nil {
			b.Error(err)
		}
	}
}

// BenchmarkTunnelSetupTeardown opens a tunnel (SCCRQ, SCCRP, SCCCN) and clears it
// (StopCCN and its acknowledgement) per iteration.
func BenchmarkTunnelSetupTeardown(b *testing.B) {
	lac, lns := benchPair(b, 1)
	up := upEvents(lac, event.TunnelUp, 1)
	down := upEvents(lns, event.TunnelDown, 1)
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		if _, err := lac.e.CreateTunnel(ctx, "t0"); err != nil {
			b.Fatal(err)
		}
		<-up.C()
		if err := lac.e.DeleteTunnel(ctx, "t0", ""); err != nil {
			b.Fatal(err)
		}
		<-down.C()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tunnels/s")
	stopBench(b, lac, lns)
}

// BenchmarkSessionSetup places a call (ICRQ, ICRP, ICCN, and the LNS's PPP hand-off) per
// iteration on one tunnel.
func BenchmarkSessionSetup(b *testing.B) {
	lac, lns := benchPair(b, 1)
	ctx := context.Background()
	up := upEvents(lns, event.SessionUp, b.N+1)
	if _, err := lac.e.PlaceCall(ctx, CallRequest{Tunnel: "t0"}); err != nil {
		b.Fatal(err)
	}
	<-up.C()
	b.ResetTimer()
	for range b.N {
		if _, err := lac.e.PlaceCall(ctx, CallRequest{Tunnel: "t0"}); err != nil {
			b.Fatal(err)
		}
		<-up.C()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sessions/s")
	stopBench(b, lac, lns)
}

// heapAndStacks is the memory a live object costs: heap in use and goroutine stacks.
func heapAndStacks() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc + ms.StackInuse
}

// BenchmarkIdleTunnelMemory opens b.N idle tunnels and reports the memory per tunnel end
// (the LAC's and the LNS's actors, transports, goroutines and fake kernel objects,
// divided by 2·N).
func BenchmarkIdleTunnelMemory(b *testing.B) {
	lac, lns := benchPair(b, b.N)
	up := upEvents(lns, event.TunnelUp, b.N)
	ctx := context.Background()
	before := heapAndStacks()
	b.ResetTimer()
	for i := range b.N {
		if _, err := lac.e.CreateTunnel(ctx, fmt.Sprintf("t%d", i)); err != nil {
			b.Fatal(err)
		}
		<-up.C()
	}
	b.StopTimer()
	time.Sleep(200 * time.Millisecond) // delayed acknowledgements go out
	after := heapAndStacks()
	b.ReportMetric(float64(after-before)/float64(2*b.N), "bytes/tunnel")
	stopBench(b, lac, lns)
}

// BenchmarkIdleSessionMemory places b.N idle calls on one tunnel and reports the memory
// per session end (LAC and LNS together, with the LNS's stub PPP session, divided by 2·N).
func BenchmarkIdleSessionMemory(b *testing.B) {
	lac, lns := benchPair(b, 1)
	ctx := context.Background()
	up := upEvents(lns, event.SessionUp, b.N+1)
	if _, err := lac.e.PlaceCall(ctx, CallRequest{Tunnel: "t0"}); err != nil {
		b.Fatal(err)
	}
	<-up.C()
	time.Sleep(200 * time.Millisecond)
	before := heapAndStacks()
	b.ResetTimer()
	for range b.N {
		if _, err := lac.e.PlaceCall(ctx, CallRequest{Tunnel: "t0"}); err != nil {
			b.Fatal(err)
		}
		<-up.C()
	}
	b.StopTimer()
	time.Sleep(200 * time.Millisecond)
	after := heapAndStacks()
	b.ReportMetric(float64(after-before)/float64(2*b.N), "bytes/session")
	stopBench(b, lac, lns)
}
