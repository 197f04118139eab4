package l2tp

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/probox/probox/control/metricstest"
	"github.com/probox/probox/kernel/kerneltest"
)

// TestDataplaneSessionBeforeReply checks that each end creates its data plane session
// before it sends the message after which the peer may send data: the LNS before its
// ICRP, the LAC before its ICCN. The peer's first PPP frames would otherwise arrive before
// the session exists and be dropped (with the kernel data plane the LNS's first LCP
// Configure-Request did, and the link waited a restart timer, 3 s).
func TestDataplaneSessionBeforeReply(t *testing.T) {
	for _, v := range []string{"2", "3"} {
		t.Run("v"+v, func(t *testing.T) {
			within(t, func(t *testing.T) {
				n := kerneltestNetwork()
				var mu sync.Mutex
				got := map[string]bool{} // "host message" -> data plane session existed when sent
				var nodes map[string]*node
				n.SetLoss(func(p kerneltest.Packet) bool {
					if p.Kind != kerneltest.L2TPControl {
						return false
					}
					typ, _, _ := peekControl(p.Data)
					if typ != MsgICRP && typ != MsgICCN {
						return false
					}
					mu.Lock()
					nd := nodes[p.Host]
					mu.Unlock()
					ensured := false
					for _, c := range nd.dp.Calls() {
						ensured = ensured || strings.HasPrefix(c, "EnsureSession")
					}
					mu.Lock()
					got[p.Host+" "+typ.String()] = ensured
					mu.Unlock()
					return false
				})
				lns := newNode(t, n, "lns", lnsDoc(""), "192.0.2.2")
				lac := newNode(t, n, "lac", lacDoc("192.0.2.2", "version = "+v, ""), "192.0.2.1")
				mu.Lock()
				nodes = map[string]*node{"lns": lns, "lac": lac}
				mu.Unlock()
				lns.start()
				lac.start()
				if _, err := lac.e.PlaceCall(context.Background(), CallRequest{Tunnel: "lns"}); err != nil {
					t.Fatalf("PlaceCall: %v", err)
				}
				synctest.Wait()
				mu.Lock()
				defer mu.Unlock()
				want := map[string]bool{"lns ICRP": true, "lac ICCN": true}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("data plane session existed when sent (-want +got):\n%s", diff)
				}
				stopAll(lac, lns)
			})
		})
	}
}

// silentLNS brings up a LAC's tunnel to an LNS with a receive window of 4 with one call,
// then holds every control packet the LNS sends.
func silentLNS(t *testing.T) (*kerneltest.Network, *node, *node) {
	t.Helper()
	n := kerneltestNetwork()
	lns := newNode(t, n, "lns", lnsDoc("[tunnel_profile.default]\nrx_window_size = 4\n"), "192.0.2.2").start()
	lac := newNode(t, n, "lac", lacDoc("192.0.2.2", "", ""), "192.0.2.1").start()
	if _, err := lac.e.PlaceCall(context.Background(), CallRequest{Tunnel: "lns"}); err != nil {
		t.Fatalf("first PlaceCall: %v", err)
	}
	n.Hold(func(p kerneltest.Packet) bool { return p.Host == "lns" && p.Kind == kerneltest.L2TPControl })
	return n, lns, lac
}

// TestCallBurstBeyondSendQueue places more calls at once than the transport's send queue
// holds: the ICRQs that do not fit wait in the tunnel, in order, and go out as the LNS
// acknowledges, so every call connects. (They were dropped with a log line, and those
// calls hung until the LAC's establishment timeout.) While the LNS is silent, the tunnel
// reports the window's worth in flight and the rest queued.
func TestCallBurstBeyondSendQueue(t *testing.T) {
	within(t, func(t *testing.T) {
		n, lns, lac := silentLNS(t)
		const calls = DefaultSendQueueLen + 100
		var wg sync.WaitGroup
		errs := make(chan error, calls)
		for range calls {
			wg.Go(func() {
				if _, err := lac.e.PlaceCall(context.Background(), CallRequest{Tunnel: "lns"}); err != nil {
					errs <- err
				}
			})
		}
		synctest.Wait()
		transport := func() TransportStats {
			st, err := lac.e.Stats(context.Background())
			if err != nil {
				t.Fatalf("Stats: %v", err)
			}
			return st.Transport
		}
		tr := transport()
		// In flight: the first call's ICCN (its acknowledgement is held too) and 3 ICRQs.
		if got, want := [2]int{tr.InFlight, tr.Queued}, [2]int{4, calls + 1 - 4}; got != want {
			t.Errorf("with the LNS silent: [in flight, queued] = %v, want %v", got, want)
		}
		n.Hold(nil)
		n.ReleaseAll()
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("PlaceCall: %v", err)
		}
		if got := len(lns.sessions()); got != calls+1 {
			t.Errorf("LNS has %d sessions, want %d", got, calls+1)
		}
		time.Sleep(time.Second) // the last ICCNs go out and are acknowledged
		if tr := transport(); tr.Queued != 0 || tr.InFlight != 0 {
			t.Errorf("%d still queued, %d in flight", tr.Queued, tr.InFlight)
		}
		stopAll(lac, lns)
	})
}

// TestStopCCNSkipsQueuedMessages deletes a tunnel whose calls are queued behind a silent
// LNS: the StopCCN follows the messages already sent instead of the hundred ICRQs still
// waiting for the window, which are dropped.
func TestStopCCNSkipsQueuedMessages(t *testing.T) {
	within(t, func(t *testing.T) {
		n, lns, lac := silentLNS(t)
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() { _, _ = lac.e.PlaceCall(context.Background(), CallRequest{Tunnel: "lns"}) })
		}
		synctest.Wait()
		if err := lac.e.DeleteTunnel(context.Background(), "lns", "operator"); err != nil {
			t.Fatalf("DeleteTunnel: %v", err)
		}
		n.Hold(nil)
		n.ReleaseAll()
		wg.Wait()
		time.Sleep(time.Minute) // past the StopCCN recipient's hold time (RFC 2661 §5.7)
		if got := len(lns.tunnels()); got != 0 {
			t.Errorf("the LNS still has %d tunnels", got)
		}
		if got := metricstest.Value(t, lns.reg, "probox_l2tp_control_messages_total", `dir="rx",type="StopCCN"`); got != "1" {
			t.Errorf("the LNS received %s StopCCNs, want 1", got)
		}
		// The first call's ICRQ and the three that were in flight with its ICCN.
		if got := metricstest.Value(t, lns.reg, "probox_l2tp_control_messages_total", `dir="rx",type="ICRQ"`); got != "4" {
			t.Errorf("the LNS received %s ICRQs, want 4", got)
		}
		stopAll(lac, lns)
	})
}
