package l2tp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/probox/probox/control/metricstest"
)

// lnsDoc is an LNS accepting tunnels on every address, UDP and IP.
func lnsDoc(extra string) string {
	return `
[system]
host_name = "lns"
router_id = "192.0.2.2"
l2tp_listen = ["0.0.0.0:1701", "[::]:1701"]
l2tp_ip_listen = ["0.0.0.0", "::"]
` + extra
}

// lacDoc is a LAC with configured tunnel "lns" to peer, using tunnel profile lines prof.
func lacDoc(peer, prof, extra string) string {
	return `
[system]
host_name = "lac"
router_id = "192.0.2.1"
l2tp_listen = []
[tunnel_profile.to-lns]
` + prof + `
[tunnel.lns]
peer = "` + peer + `"
tunnel_profile = "to-lns"
` + extra
}

// TestLACLNS brings a tunnel and a session up between a LAC and an LNS and tears them
// down, for every version, encapsulation and address family, checking the kernel objects
// on both hosts after each step.
func TestLACLNS(t *testing.T) {
	tests := []struct {
		name     string
		prof     string
		lac, lns string
		encap    string
	}{
		{name: "v2 udp ipv4", prof: "version = 2", lac: "192.0.2.1", lns: "192.0.2.2", encap: "udp"},
		{name: "v2 udp ipv6", prof: "version = 2", lac: "2001:db8::1", lns: "2001:db8::2", encap: "udp"},
		{name: "v3 udp ipv4", prof: "version = 3", lac: "192.0.2.1", lns: "192.0.2.2", encap: "udp"},
		{name: "v3 ip ipv4", prof: "version = 3\nencap = \"ip\"", lac: "192.0.2.1", lns: "192.0.2.2", encap: "ip"},
		{name: "v3 ip ipv6", prof: "version = 3\nencap = \"ip\"", lac: "2001:db8::1", lns: "2001:db8::2", encap: "ip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			within(t, func(t *testing.T) {
				n := kerneltestNetwork()
				lns := newNode(t, n, "lns", lnsDoc(""), "192.0.2.2", "2001:db8::2").start()
				lac := newNode(t, n, "lac", lacDoc(tt.lns, tt.prof, ""), "192.0.2.1", "2001:db8::1").start()
				lns.takeEvents()

				call, err := lac.e.PlaceCall(context.Background(), CallRequest{Tunnel: "lns", CallingNumber: "02:00:00:00:09:01",
					ConnectSpeed: 1e9, Info: CallInfo{User: "alice@isp", CallingMAC: "02:00:00:00:09:01"}})
				if err != nil {
					t.Fatalf("PlaceCall: %v", err)
				}
				synctest.Wait()
				lt, nt := lac.only(), lns.only()
				if lt.State != "established" || nt.State != "established" || !nt.NetworkInitiated || lt.NetworkInitiated {
					t.Fatalf("tunnels: lac %+v, lns %+v", lt, nt)
				}
				ls, ns := lac.sessions(), lns.sessions()
				if len(ls) != 1 || len(ns) != 1 || ls[0].State != "established" || ns[0].State != "established" {
					t.Fatalf("sessions: lac %+v, lns %+v", ls, ns)
				}
				v := strings.Fields(tt.prof)[2]
				lacAddr, lnsAddr := fmt.Sprintf("%s:49152", hostPort(tt.lac)), fmt.Sprintf("%s:1701", hostPort(tt.lns))
				if tt.encap == "ip" {
					lacAddr, lnsAddr = tt.lac, tt.lns
				}
				lnsListen := "listener ip 0.0.0.0\nlistener ip ::\nlistener udp 0.0.0.0:1701\nlistener udp [::]:1701\n"
				pppSess := func(tid, sid, peer uint32) string {
					if v == "2" {
						return fmt.Sprintf("session %d/%d peer %d pw ppp cookie - peer_cookie - l2spec none seq send=false recv=false\n", tid, sid, peer)
					}
					return fmt.Sprintf("session %d/%d peer %d pw ppp cookie - peer_cookie - l2spec none seq send=false recv=false\n", tid, sid, peer)
				}
				chanMTU := 1500 - overhead(Version(v[0]-'0'), encapOf(tt.encap), strings.Contains(tt.lns, ":"), 0, 0, false) - 4
				wantLAC := fmt.Sprintf("channel l2tp %d/%d mtu %d\n", lt.ID, ls[0].ID, chanMTU) +
					pppSess(lt.ID, ls[0].ID, ns[0].ID) +
					fmt.Sprintf("tunnel %d v%s %s %s -> %s peer_tunnel %d\n", lt.ID, v, tt.encap, lacAddr, lnsAddr, nt.ID)
				wantLNS := fmt.Sprintf("channel l2tp %d/%d mtu %d\n", nt.ID, ns[0].ID, chanMTU) + lnsListen +
					pppSess(nt.ID, ns[0].ID, ls[0].ID) +
					fmt.Sprintf("tunnel %d v%s %s %s -> %s peer_tunnel %d\n", nt.ID, v, tt.encap, lnsAddr, lacAddr, lt.ID)
				checkState(t, "LAC", sortLines(wantLAC), lac.dp.State())
				checkState(t, "LNS", sortLines(wantLNS), lns.dp.State())

				// The LNS handed the session to PPP as the server, with the call's data.
				reqs := lns.ppp.requests()
				if len(reqs) != 1 || reqs[0].Client || reqs[0].CallingNumber != "02:00:00:00:09:01" || reqs[0].Profile != "default" ||
					reqs[0].SessionID != ns[0].ID || reqs[0].PeerSessionID != ls[0].ID || reqs[0].MaxMRU != chanMTU-40 {
					t.Errorf("LNS PPP requests: %+v", reqs)
				}
				// PPP frames cross from the LAC's channel to the LNS's.
				if err := call.Channel().WriteFrame([]byte{0xc0, 0x21, 1, 1, 0, 4}); err != nil {
					t.Fatal(err)
				}
				buf := make([]byte, 100)
				if k, err := reqs[0].Channel.ReadFrame(buf); err != nil || k != 6 {
					t.Errorf("LNS read %d bytes, %v", k, err)
				}

				// The LAC hangs up: CDN, result 1.
				call.Hangup("PADT")
				synctest.Wait()
				<-call.Done()
				if len(lns.sessions()) != 0 {
					t.Errorf("LNS still has sessions: %+v", lns.sessions())
				}
				checkState(t, "LAC after hangup", fmt.Sprintf("tunnel %d v%s %s %s -> %s peer_tunnel %d\n", lt.ID, v, tt.encap, lacAddr, lnsAddr, nt.ID), lac.dp.State())
				wantEvents := []string{
					"tunnel-created v" + v + " " + tt.encap + " N",
					"tunnel-up v" + v + " " + tt.encap + " N peer_host=lac",
					"session-created pw=ppp",
					"session-up pw=ppp user=user1 if=ppp0",
					"session-down pw=ppp user=user1 if=ppp0 result=1/0 (peer sent CDN: loss of carrier: PADT)",
					"session-deleted pw=ppp user=user1 if=ppp0 result=1/0 (peer sent CDN: loss of carrier: PADT)",
				}
				if diff := cmp.Diff(wantEvents, lns.takeEvents()); diff != "" {
					t.Errorf("LNS events (-want +got):\n%s", diff)
				}

				// The LAC deletes the tunnel: StopCCN, result 1; both sides linger for the
				// retransmission cycle and are gone after it.
				if err := lac.e.DeleteTunnel(context.Background(), "lns", ""); err != nil {
					t.Fatal(err)
				}
				synctest.Wait()
				if got := lns.only().State; got != "closing" {
					t.Errorf("LNS tunnel state %q, want closing", got)
				}
				time.Sleep(32 * time.Second)
				synctest.Wait()
				checkState(t, "LAC after delete", "", lac.dp.State())
				checkState(t, "LNS after delete", lnsListen, lns.dp.State())
				wantEvents = []string{
					"tunnel-down v" + v + " " + tt.encap + " N peer_host=lac result=1/0 (peer sent StopCCN: general request to clear control connection)",
					"tunnel-deleted v" + v + " " + tt.encap + " N peer_host=lac result=1/0 (peer sent StopCCN: general request to clear control connection)",
				}
				if diff := cmp.Diff(wantEvents, lns.takeEvents()); diff != "" {
					t.Errorf("LNS events (-want +got):\n%s", diff)
				}
				wantMetrics := `probox_l2tp_sessions_total{result="established"} 1
probox_l2tp_sessions_total{result="failed"} 0
probox_l2tp_tunnels_total{result="established"} 1
probox_l2tp_tunnels_total{result="failed"} 0
probox_l2tp_tunnels{state="closing"} 0
probox_l2tp_tunnels{state="established"} 0
probox_l2tp_tunnels{state="establishing"} 0
`
				if diff := cmp.Diff(wantMetrics, metricstest.Scrape(t, lns.reg, "probox_l2tp_tunnels", "probox_l2tp_tunnels_total", "probox_l2tp_sessions_total")); diff != "" {
					t.Errorf("LNS metrics (-want +got):\n%s", diff)
				}
				for _, typ := range []string{"SCCRQ", "SCCCN", "ICRQ", "ICCN", "CDN", "StopCCN"} {
					if got := metricstest.Value(t, lns.reg, "probox_l2tp_control_messages_total", `dir="rx",type="`+typ+`"`); got != "1" {
						t.Errorf("LNS rx %s = %v, want 1", typ, got)
					}
				}
				for _, typ := range []string{"SCCRP", "ICRP"} {
					if got := metricstest.Value(t, lns.reg, "probox_l2tp_control_messages_total", `dir="tx",type="`+typ+`"`); got != "1" {
						t.Errorf("LNS tx %s = %v, want 1", typ, got)
					}
				}
				lac.stop()
				lns.stop()
				checkState(t, "network after stop", "", n.State())
			})
		})
	}
}

func hostPort(a string) string {
	if strings.Contains(a, ":") {
		return "[" + a + "]"
	}
	return a
}

func checkState(t *testing.T, what, want, got string) {
	t.Helper()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s state (-want +got):\n%s", what, diff)
	}
}

func sortLines(s string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	for i := range lines {
		for j := i + 1; j < len(lines); j++ {
			if lines[j] < lines[i] {
				lines[i], lines[j] = lines[j], lines[i]
			}
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

var _ = errors.New
