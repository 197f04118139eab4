package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/probox/probox/e2e/netns"
)

// The benchmarks compare the kernel data plane with the userspace one on the same
// scenario, a probox L2TPv2 client dialling a probox LNS (both ends run the data plane
// under test). They need the kernel VM and run with `make bench-kernel`, once each
// (-test.benchtime=1x): the VM emulates its CPU, so only the ratios between the two data
// planes mean something, not the absolute figures.

// benchPair starts a probox LNS and a probox L2TPv2 client, both on data plane dp, and
// waits until the client's PPP session has its address.
func benchPair(b *testing.B, dp string) (bed *netns.Bed, lnsNS, cliNS *netns.NS, lns, cli *daemon) {
	b.Helper()
	if !inVM() {
		b.Skip("data plane benchmark: needs the kernel VM (KERNEL_VM=1): run `make bench-kernel`")
	}
	bed = netns.New(b)
	lnsNS, cliNS = bed.NS("lns"), bed.NS("cli")
	bed.Link(lnsNS, "eth0", cliNS, "eth0")
	lnsNS.AddAddr("eth0", "192.0.2.1/24", "2001:db8::1/64")
	cliNS.AddAddr("eth0", "192.0.2.2/24", "2001:db8::2/64")
	plane := fmt.Sprintf("\n[kernel]\ndataplane = %q\n", dp)
	lns = startDaemon(b, lnsNS, "lns", mergeTOML(lnsConfig, plane),
		map[string]string{"secrets": "alice alice-secret\n"})
	cli = startDaemon(b, cliNS, "cli", mergeTOML(clientConfig("192.0.2.1", "2"), plane), nil)
	netns.WaitFor(b, 60*time.Second, func() bool {
		_, a := pppAddr(cliNS, "100.64.0.10", "100.64.0.20")
		return a != ""
	}, "the client's PPP address")
	return bed, lnsNS, cliNS, lns, cli
}

// BenchmarkDataplaneThroughput measures TCP throughput with iperf3 across one L2TPv2 PPP
// session, from the client to the LNS (up) and back (down, iperf3 -R), for 5 s each.
func BenchmarkDataplaneThroughput(b *testing.B) {
	for _, dp := range []string{"kernel", "userspace"} {
		b.Run(dp, func(b *testing.B) {
			if _, err := exec.LookPath("iperf3"); err != nil {
				b.Skip("iperf3 is not installed in this guest (KVM_EXTRA_PACKAGES)")
			}
			_, lnsNS, cliNS, _, _ := benchPair(b, dp)
			lnsNS.Start(b, "iperf3", "-s", "-B", "100.64.0.1")
			netns.WaitFor(b, 20*time.Second, func() bool {
				out, _ := lnsNS.Run(context.Background(), "ss", "-Hltn", "sport = :5201")
				return strings.Contains(out, "5201")
			}, "iperf3 -s to listen")
			b.ResetTimer()
			var up, down float64
			for range b.N {
				up += iperf(b, cliNS, "-c", "100.64.0.1", "-t", "5")
				down += iperf(b, cliNS, "-c", "100.64.0.1", "-t", "5", "-R")
			}
			b.StopTimer()
			b.ReportMetric(up/float64(b.N)/1e6, "Mbit/s-up")
			b.ReportMetric(down/float64(b.N)/1e6, "Mbit/s-down")
		})
	}
}

// iperf runs an iperf3 client in ns and returns the received bits per second.
func iperf(b *testing.B, ns *netns.NS, args ...string) float64 {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := ns.Command(ctx, "iperf3", append(args, "-J")...).Output()
	if err != nil {
		b.Fatalf("iperf3 %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	var r struct {
		End struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(out, &r); err != nil || r.Error != "" {
		b.Fatalf("iperf3 %s: %v %s\n%s", strings.Join(args, " "), err, r.Error, out)
	}
	return r.End.SumReceived.BitsPerSecond
}

// BenchmarkDataplaneSessionSetup measures how fast sessions come up one after another in
// an established tunnel: each op deletes the client's session (CDN) and waits until its
// ppp interface is gone, then (timed) brings it up again with `prol2tp create session`
// and waits until the new PPP session has its address: ICRQ/ICRP/ICCN, LCP, CHAP and
// IPCP, and on both ends the data plane's session, channel and unit. Run it with
// -test.benchtime=Nx for N sessions.
func BenchmarkDataplaneSessionSetup(b *testing.B) {
	for _, dp := range []string{"kernel", "userspace"} {
		b.Run(dp, func(b *testing.B) {
			_, _, cliNS, _, cli := benchPair(b, dp)
			b.ResetTimer()
			b.StopTimer()
			for range b.N {
				id := clientSessionID(b, cli)
				cli.cli("prol2tp", "delete", "session", "lns", id)
				poll(b, 30*time.Second, func() bool { return !hasLink(cliNS, "ppp") }, "the ppp interface to go")
				b.StartTimer()
				cli.cli("prol2tp", "create", "session", "lns", "s1")
				poll(b, 30*time.Second, func() bool {
					_, a := pppAddr(cliNS, "100.64.0.10", "100.64.0.20")
					return a != ""
				}, "the new session's address")
				b.StopTimer()
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sessions/s")
		})
	}
}

// clientSessionID returns the ID of the client's one L2TP session.
func clientSessionID(b *testing.B, d *daemon) string {
	b.Helper()
	var id uint32
	poll(b, 30*time.Second, func() bool {
		out, err := d.tryCLI("prol2tp", "-j", "show", "sessions", "lns")
		var ss []struct {
			ID uint32 `json:"id"`
		}
		if err != nil || json.Unmarshal([]byte(out), &ss) != nil || len(ss) != 1 {
			return false
		}
		id = ss[0].ID
		return true
	}, "the client's session")
	return fmt.Sprint(id)
}

// poll is netns.WaitFor with a 10 ms period, for timed waits.
func poll(b *testing.B, timeout time.Duration, cond func() bool, what string) {
	b.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
