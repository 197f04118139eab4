package l2tp

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/probox/probox/control/event"
	"github.com/probox/probox/control/metricstest"
	"github.com/probox/probox/kernel/kerneltest"
)

// TestTeardown covers the ways a session or tunnel ends, from either side.
func TestTeardown(t *testing.T) {
	tests := []struct {
		name string
		// end ends the call or tunnel.
		end func(t *testing.T, lac, lns *node, c *Call)
		// want is the call's result as the LAC sees it.
		want CallResult
		// lnsEvent is the LNS's last session event (without IDs).
		lnsEvent string
	}{
		{
			name: "LAC hangs up",
			end:  func(t *testing.T, lac, lns *node, c *Call) { c.Hangup("PADT") },
			want: CallResult{Result: 1, Message: "PADT", Reason: "hangup: PADT"},
			// RFC 2661 §4.4.2 result 1: loss of carrier.
			lnsEvent: "session-deleted pw=ppp user=user1 if=ppp0 result=1/0 (peer sent CDN: loss of carrier: PADT)",
		},
		{
			name: "LNS deletes the session",
			end: func(t *testing.T, lac, lns *node, c *Call) {
				s := lns.sessions()[0]
				if err := lns.e.DeleteSession(context.Background(), ref(s.TunnelID), s.ID, "operator"); err != nil {
					t.Fatal(err)
				}
			},
			want:     CallResult{Result: 3, Message: "administrative disconnect", Reason: "peer sent CDN: administrative disconnect: administrative disconnect", ByPeer: true},
			lnsEvent: "session-deleted pw=ppp user=user1 if=ppp0 result=3/0 (operator)",
		},
		{
			name:     "PPP ends at the LNS",
			end:      func(t *testing.T, lac, lns *node, c *Call) { lns.ppp.last().end("LCP Terminate-Request received") },
			want:     CallResult{Result: 3, Message: "PPP session ended", Reason: "peer sent CDN: administrative disconnect: PPP session ended", ByPeer: true},
			lnsEvent: "session-deleted pw=ppp user=user1 if=ppp0 result=3/0 (ppp: LCP Terminate-Request received)",
		},
		{
			name: "LAC deletes the tunnel",
			end: func(t *testing.T, lac, lns *node, c *Call) {
				if err := lac.e.DeleteTunnel(context.Background(), "lns", ""); err != nil {
					t.Fatal(err)
				}
			},
			want:     CallResult{Result: 1, Reason: "deleted by the operator", Tunnel: true},
			lnsEvent: "session-deleted pw=ppp user=user1 if=ppp0 result=1/0 (tunnel closed: peer sent StopCCN: general request to clear control connection)",
		},
		{
			name: "LNS deletes the tunnel",
			end: func(t *testing.T, lac, lns *node, c *Call) {
				if err := lns.e.DeleteTunnel(context.Background(), ref(lns.only().ID), "maintenance"); err != nil {
					t.Fatal(err)
				}
			},
			want:     CallResult{Result: 1, Reason: "peer sent StopCCN: general request to clear control connection", Tunnel: true, ByPeer: true},
			lnsEvent: "session-deleted pw=ppp user=user1 if=ppp0 result=1/0 (tunnel closed: maintenance)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			within(t, func(t *testing.T) {
				n, lac, lns := pair(t, "", "version = 2", "")
				c, err := lac.e.PlaceCall(context.Background(), CallRequest{Tunnel: "lns"})
				if err != nil {
					t.Fatalf("PlaceCall: %v", err)
				}
				synctest.Wait()
				tt.end(t, lac, lns, c)
				synctest.Wait()
				select {
				case <-c.Done():
				default:
					t.Fatal("call not done")
				}
				if diff := cmp.Diff(tt.want, c.Result()); diff != "" {
					t.Errorf("call result (-want +got):\n%s", diff)
				}
				evs := lns.takeEvents()
				if got := evs[len(evs)-1]; !strings.HasPrefix(got, tt.lnsEvent) {
					t.Errorf("LNS last event %q, want %q", got, tt.lnsEvent)
				}
				if len(lns.sessions()) != 0 || len(lac.sessions()) != 0 {
					t.Errorf("sessions left")
				}
				if ss := lns.ppp.last(); len(ss.stopped) > 1 {
					t.Errorf("PPP stopped %d times: %q", len(ss.stopped), ss.stopped)
				}
				time.Sleep(32 * time.Second)
				synctest.Wait()
				stopAll(lac, lns)
				checkState(t, "network", "", n.State())
			})
		})
	}
}

// TestPPPEndCause checks that the CDN for an ended PPP session carries the PPP Disconnect
// Cause Code AVP (RFC 3145).
func TestPPPEndCause(t *testing.T) {
	within(t, func(t *testing.T) {
		n, lac, lns := pair(t, "", "version = 2", "")
		var cause *PPPDisconnectCause
		n.SetLoss(func(p kerneltest.Packet) bool {
			if typ, _, _ := peekControl(p.Data); typ == MsgCDN {
				m, err := Parse(p.Data, nil)
				if err == nil {
					if a, ok := m.Find(AVPPPPDisconnectCauseCode); ok {
						c, _ := a.PPPDisconnectCause()
						cause = &c
					}
				}
			}
			return false
		})
		if _, err := lac.e.PlaceCall(context.Background(), CallRequest{Tunnel: "lns"}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		lns.ppp.last().end("echo timeout")
		synctest.Wait()
		want := &PPPDisconnectCause{Code: 0, Direction: PPPDisconnectGlobal, Message: "echo timeout"}
		if diff := cmp.Diff(want, cause); diff != "" {
			t.Errorf("PPP Disconnect Cause (-want +got):\n%s", diff)
		}
		stopAll(lac, lns)
	})
}

// TestIdleTimeout closes a LAC tunnel idle_timeout after its last call.
func TestIdleTimeout(t *testing.T) {
	within(t, func(t *testing.T) {
		_, lac, lns := pair(t, "", "version = 2\nidle_timeout = \"30s\"", "")
		c, err := lac.e.PlaceCall(context.Background(), CallRequest{Tunnel: "lns"})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute) // a tunnel with a session is not idle
		synctest.Wait()
		c.Hangup("bye")
		synctest.Wait()
		hung := time.Now()
		time.Sleep(30*time.Second - time.Millisecond)
		synctest.Wait()
		if got := lac.only().State; got != "established" {
			t.Fatalf("LAC tunnel %s before idle_timeout", got)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if got := lac.only().State; got != "closing" {
			t.Fatalf("LAC tunnel %s at idle_timeout, want closing", got)
		}
		if d := time.Since(hung); d != 30*time.Second {
			t.Errorf("closed %v after the last call, want 30s", d)
		}
		evs := lns.takeEvents()
		if got, want := evs[len(evs)-1], "tunnel-down v2 udp N peer_host=lac result=1/0 (peer sent StopCCN: general request to clear control connection)"; got != want {
			t.Errorf("LNS last event %q, want %q", got, want)
		}
		stopAll(lac, lns)
	})
}

// TestIdleTimeoutDeliversCDNs hangs up more calls at once than the LNS's window lets the
// LAC send while the LNS is slow to acknowledge: the tunnel is not idle until every CDN
// is delivered, so each of the LNS's sessions ends by its own CDN (with the reason its
// accounting records), not by the idle StopCCN, which would clear the CDNs not yet sent.
func TestIdleTimeoutDeliversCDNs(t *testing.T) {
	within(t, func(t *testing.T) {
		n := kerneltestNetwork()
		lns := newNode(t, n, "lns", lnsDoc("[tunnel_profile.default]\nrx_window_size = 1\n"), "192.0.2.2").start()
		lac := newNode(t, n, "lac", lacDoc("192.0.2.2", "version = 2\nidle_timeout = \"1s\"", ""), "192.0.2.1").start()
		const calls = 4
		var cs []*Call
		for range calls {
			c, err := lac.e.PlaceCall(context.Background(), CallRequest{Tunnel: "lns"})
			if err != nil {
				t.Fatal(err)
			}
			cs = append(cs, c)
		}
		synctest.Wait()
		lns.takeEvents()
		n.Hold(func(p kerneltest.Packet) bool { return p.Host == "lns" && p.Kind == kerneltest.L2TPControl })
		for _, c := range cs {
			c.Hangup("bye")
		}
		synctest.Wait()
		st, err := lac.e.Stats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if got := lac.only().Sessions; got != 0 || st.Transport.Queued != calls-1 {
			t.Fatalf("LAC tunnel after the hangups: %d sessions, %d CDNs queued, want 0 and %d", got, st.Transport.Queued, calls-1)
		}
		// The LNS acknowledges (and answers) nothing for 5s: the LAC retransmits its one
		// CDN in flight; 1s idle_timeout passes with the other CDNs still queued.
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if got := lac.only().State; got != "established" {
			t.Fatalf("LAC tunnel %s with CDNs undelivered, want established", got)
		}
		n.Hold(nil)
		n.ReleaseAll()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if got := lac.only().State; got != "closing" {
			t.Fatalf("LAC tunnel %s once its CDNs were delivered, want closing", got)
		}
		var cdns int
		for _, ev := range lns.takeEvents() {
			if strings.HasPrefix(ev, "session-down") && strings.Contains(ev, "peer sent CDN") {
				cdns++
			}
		}
		if cdns != calls {
			t.Errorf("LNS: %d sessions ended by a CDN, want %d", cdns, calls)
		}
		stopAll(lac, lns)
	})
}

// TestBackup places the call on the backup LNS when the primary refuses the tunnel.
func TestBackup(t *testing.T) {
	within(t, func(t *testing.T) {
		n := kerneltestNetwork()
		primary := newNode(t, n, "primary", `
[system]
host_name = "primary"
deny_remote_tunnel_creates = true
`, "192.0.2.2").start()
		backup := newNode(t, n, "backup", `
[system]
host_name = "backup"
`, "192.0.2.3").start()
		lac := newNode(t, n, "lac", `
[system]
host_name = "lac"
l2tp_listen = []
[tunnel.a]
peer = "192.0.2.2"
[tunnel.b]
peer = "192.0.2.3"
`, "192.0.2.1").start()
		c, err := lac.e.PlaceCall(context.Background(), CallRequest{Tunnel: "a", Backup: "b"})
		if err != nil {
			t.Fatalf("PlaceCall: %v", err)
		}
		if got := backup.only().PeerHost; got != "lac" {
			t.Errorf("backup's tunnel peer %q", got)
		}
		if len(primary.tunnels()) != 0 {
			t.Errorf("primary has tunnels")
		}
		if got := metricstest.Value(t, primary.reg, "probox_l2tp_setup_failures_total", `kind="tunnel",result="4"`); got != "1" {
			t.Errorf("primary tunnel refusals %s, want 1", got)
		}
		// Without a backup the refusal is the error, with its result code.
		_, err = lac.e.PlaceCall(context.Background(), CallRequest{Tunnel: "a"})
		if ce := callErr(t, err); !ce.Result.Tunnel || ce.Result.Result != uint16(StopCCNNotAuthorized) || !ce.Result.ByPeer || ce.Tunnel != "a" {
			t.Errorf("call error %+v", ce)
		}
		c.Hangup("bye")
		stopAll(lac, backup, primary)
	})
}

// TestLimits covers system.max_tunnels, system.max_sessions, the tunnel profile's
// max_sessions, system.deny_remote_tunnel_creates and the peer profile's role.
func TestLimits(t *testing.T) {
	tests := []struct {
		name    string
		lns     string
		first   string // tunnel of a call that succeeds first; "" for none
		second  string // tunnel of the call that is refused
		wantErr CallResult
	}{
		// RFC 2661 §4.4.2: StopCCN result 2 with error 4, "insufficient resources".
		{name: "max_tunnels", lns: "max_tunnels = 1", first: "a", second: "b",
			wantErr: CallResult{Result: 2, Error: 4, Tunnel: true, ByPeer: true}},
		// CDN result 4: "lack of appropriate facilities, temporary condition".
		{name: "max_sessions", lns: "max_sessions = 1", first: "a", second: "a",
			wantErr: CallResult{Result: 4, ByPeer: true}},
		{name: "tunnel max_sessions", lns: "[tunnel_profile.default]\nmax_sessions = 1", first: "a", second: "a",
			wantErr: CallResult{Result: 4, ByPeer: true}},
		// StopCCN result 4: "requester is not authorized to establish a control channel".
		{name: "deny_remote_tunnel_creates", lns: "deny_remote_tunnel_creates = true", second: "a",
			wantErr: CallResult{Result: 4, Tunnel: true, ByPeer: true}},
		{name: "peer role lns", lns: "[peer_profile.default]\nrole = \"lns\"", second: "a",
			wantErr: CallResult{Result: 4, Tunnel: true, ByPeer: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			within(t, func(t *testing.T) {
				n := kerneltestNetwork()
				lns := newNode(t, n, "lns", "[system]\nhost_name = \"lns\"\n"+tt.lns+"\n", "192.0.2.2").start()
				lac := newNode(t, n, "lac", `
[system]
l2tp_listen = []
[tunnel.a]
peer = "192.0.2.2"
[tunnel.b]
peer = "192.0.2.2"
`, "192.0.2.1").start()
				if tt.first != "" {
					if _, err := lac.e.PlaceCall(context.Background(), CallRequest{Tunnel: tt.first}); err != nil {
						t.Fatalf("first call: %v", err)
					}
				}
				_, err := lac.e.PlaceCall(context.Background(), CallRequest{Tunnel: tt.second})
				got := callErr(t, err).Result
				got.Message, got.Reason = "", ""
				if diff := cmp.Diff(tt.wantErr, got); diff != "" {
					t.Errorf("refusal (-want +got):\n%s", diff)
				}
				stopAll(lac, lns)
			})
		})
	}
}

// TestPeerSilence: when the peer stops answering, the tunnel is torn down after the full
// retransmission cycle of its HELLO (RFC 2661 §5.5, §5.8): 1+2+4+8+8+8 = 31 s.
func TestPeerSilence(t *testing.T) {
	within(t, func(t *testing.T) {
		n, lac, lns := pair(t, "[tunnel_profile.default]\nhello_interval = \"10s\"\n", "version = 2\nhello_interval = \"10s\"", "")
		if _, err := lac.e.PlaceCall(context.Background(), CallRequest{Tunnel: "lns"}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		lns.takeEvents()
		var hello time.Time
		n.Hold(func(p kerneltest.Packet) bool {
			if typ, _, _ := peekControl(p.Data); typ == MsgHELLO && p.Host == "lns" && hello.IsZero() {
				hello = time.Now()
			}
			return true
		})
		time.Sleep(time.Minute)
		synctest.Wait()
		if hello.IsZero() {
			t.Fatal("the LNS sent no HELLO")
		}
		var down *event.Event
		lns.takeEvents()
		for i := range lns.events {
			if lns.events[i].Type == event.TunnelDown {
				down = &lns.events[i]
			}
		}
		if down == nil {
			t.Fatal("no tunnel-down event")
		}
		if d := down.Time.Sub(hello); d != 31*time.Second {
			t.Errorf("torn down %v after the HELLO, want 31s", d)
		}
		if down.Result == nil || !strings.HasPrefix(down.Result.Reason, "peer unresponsive") {
			t.Errorf("down result %+v", down.Result)
		}
		if got := metricstest.Value(t, lns.reg, "probox_l2tp_peer_unresponsive_total", ""); got != "1" {
			t.Errorf("unresponsive count %s", got)
		}
		if len(lns.tunnels()) != 0 || len(lns.sessions()) != 0 {
			t.Errorf("LNS kept state")
		}
		checkState(t, "LNS", "listener ip 0.0.0.0\nlistener ip ::\nlistener udp 0.0.0.0:1701\nlistener udp [::]:1701\n", lns.dp.State())
		n.Hold(nil)
		stopAll(lac, lns)
	})
}
