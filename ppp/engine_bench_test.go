package ppp

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/probox/probox/config"
	events "github.com/probox/probox/control/event"
)

// benchConfig: CHAP-MD5, IPCP only, no keepalives, a pool of 65533 addresses.
func benchConfig(b *testing.B) *config.Config {
	b.Helper()
	path := filepath.Join(b.TempDir(), "secrets")
	if err := os.WriteFile(path, []byte("alice alice-secret\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	f, err := config.Parse("bench.toml", []byte(fmt.Sprintf(`
[system]
secrets_file = %q
[ppp_profile.default]
auth = ["chap-md5"]
local_address = "100.64.0.1"
dns = ["192.0.2.53"]
ipv6 = false
lcp_echo_interval = "0s"
[ppp_profile.client]
username = "alice"
password = "alice-secret"
unit = "dedicated"
`, path)))
	if err != nil {
		b.Fatal(err)
	}
	return f.Config
}

// upWaiter returns a function that waits for n session-up events of e.
func upWaiter(b *testing.B, te *testEngine, buf int) func(n int) {
	sub := te.bus.Subscribe(buf, func(ev *events.Event) bool { return ev.Type == events.SessionUp })
	b.Cleanup(sub.Close)
	return func(n int) {
		for range n {
			select {
			case <-sub.C():
			case <-time.After(10 * time.Second):
				b.Fatal("no session-up in 10s")
			}
		}
	}
}

// BenchmarkNegotiation measures full session setups (LCP, CHAP-MD5 with the local secrets
// backend, IPCP, unit configured) between two in-process engines, one at a time, and their
// teardown by carrier loss.
func BenchmarkNegotiation(b *testing.B) {
	cfg := benchConfig(b)
	srv, cli := startEngine(b, cfg, nil), startEngine(b, cfg, nil)
	srv.sub.Close()
	cli.sub.Close()
	srvUp, cliUp := upWaiter(b, srv, 4), upWaiter(b, cli, 4)
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		a, c := newPipe(1500)
		a.noRecord, c.noRecord = true, true
		hs := mustStart(b, srv, StartRequest{Channel: a, Role: RoleServer})
		hc := mustStart(b, cli, StartRequest{Channel: c, Role: RoleClient, Profile: "client"})
		srvUp(1)
		cliUp(1)
		a.Close()
		c.Close()
		<-hs.Done()
		<-hc.Done()
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "sessions/s")
	srv.stop(b)
	cli.stop(b)
}

// BenchmarkSessionMemory measures the memory of established sessions: heap and goroutine
// stacks after n server/client pairs are up, divided by the 2n sessions (both sides run the
// same session code). The channel fakes are allocated before the first measurement.
func BenchmarkSessionMemory(b *testing.B) {
	const n = 1000
	cfg := benchConfig(b)
	for b.Loop() {
		srv, cli := startEngine(b, cfg, nil), startEngine(b, cfg, nil)
		srv.sub.Close()
		cli.sub.Close()
		srvUp, cliUp := upWaiter(b, srv, n), upWaiter(b, cli, n)
		pipes := make([][2]*fakeChan, n)
		for i := range pipes {
			a, c := newPipe(1500)
			a.noRecord, c.noRecord = true, true
			pipes[i] = [2]*fakeChan{a, c}
		}
		before := memUse()
		g0 := runtime.NumGoroutine()
		for _, p := range pipes {
			mustStart(b, srv, StartRequest{Channel: p[0], Role: RoleServer})
			mustStart(b, cli, StartRequest{Channel: p[1], Role: RoleClient, Profile: "client"})
		}
		srvUp(n)
		cliUp(n)
		after := memUse()
		b.ReportMetric(float64(after-before)/(2*n), "bytes/session")
		b.ReportMetric(float64(runtime.NumGoroutine()-g0)/(2*n), "goroutines/session")
		for _, p := range pipes {
			p[0].Close()
			p[1].Close()
		}
		srv.stop(b)
		cli.stop(b)
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
