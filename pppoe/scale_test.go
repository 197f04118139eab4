package pppoe

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/google/go-cmp/cmp"

	"github.com/probox/probox/kernel/kerneltest"
)

// manyClientsDoc is a client box with n clients, each on its own interface eN (so each
// has its own MAC address, 02:00:00:00:02:N+1).
func manyClientsDoc(n int, profile, service string) string {
	var b strings.Builder
	b.WriteString(clientBase)
	for i := range n {
		fmt.Fprintf(&b, "[pppoe.client.c%d]\ninterface = \"e%d\"\nppp_profile = %q\nservice = %q\n", i, i, profile, service)
	}
	return b.String()
}

// countLines counts the lines of s matching re.
func countLines(s, re string) int {
	return len(regexp.MustCompile("(?m)"+re).FindAllStringIndex(s, -1))
}

// TestManyClients brings 200 clients with distinct MAC addresses up through one AC, with
// local termination and through the LAC into one tunnel, then takes them all down and
// checks that every object is released.
func TestManyClients(t *testing.T) {
	if testing.Short() {
		t.Skip("200 sessions: skipped in -short")
	}
	const n = 200
	for _, tc := range []struct {
		name    string
		lac     bool
		profile string
		pool    string // the client addresses' prefix
	}{
		{"local", false, "alice", "10.64."},
		{"lac", true, "alice1", "10.1.0."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				net := kerneltest.NewNetwork()
				net.SetPathMTU(1600)
				acDP := net.Dataplane("ac", addr("192.0.2.1"))
				cliDP := net.Dataplane("client")
				seg := net.Ethernet("lan").Join(acDP, "eth1")
				for i := range n {
					seg.Join(cliDP, fmt.Sprintf("e%d", i))
				}
				var lac *fakeLAC
				var stopLNS func()
				acDoc := acLocalDoc
				if tc.lac {
					lac = newFakeLAC(acDP)
					lnsDP := net.Dataplane("lns1", addr("192.0.2.2"))
					pe, stop := startPPP(t, lnsDP, parseConfig(t, lnsDoc("10.1.0"), acSecrets), 10)
					lns := &fakeLNS{name: "lns1", dp: lnsDP, addr: addr("192.0.2.2"), ppp: pe, stop: stop}
					stopLNS = stop
					lac.lns["t1"] = lns
					acDoc = lacACDoc
				}
				var ac *box
				if lac != nil {
					ac = startBox(t, acDP, parseConfig(t, acDoc, acSecrets), lac, 1)
				} else {
					ac = startBox(t, acDP, parseConfig(t, acDoc, acSecrets), nil, 1)
				}
				synctest.Wait()
				cli := startBox(t, cliDP, parseConfig(t, manyClientsDoc(n, tc.profile, "internet"), ""), nil, 2)
				settle()

				cs := cliDP.State()
				if got := countLines(cs, `^unit ppp\d+ dedicated on pppoe e\d+/\d+ mtu 1492 ipv4 `+regexp.QuoteMeta(tc.pool)); got != n {
					t.Errorf("%d client units up, want %d", got, n)
				}
				list, err := ac.e.Sessions(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				up, macs := 0, map[string]bool{}
				for _, s := range list {
					if s.State == "up" {
						up++
					}
					macs[s.MAC] = true
				}
				if up != n || len(macs) != n {
					t.Errorf("AC: %d sessions up from %d MAC addresses, want %d and %d", up, len(macs), n, n)
				}
				as := acDP.State()
				if tc.lac {
					if got := countLines(as, `^bridge l2tp 1/\d+ <-> pppoe eth1/\d+$`); got != n {
						t.Errorf("AC: %d bridges into tunnel 1, want %d", got, n)
					}
					if got := countLines(as, `^tunnel `); got != 1 {
						t.Errorf("AC: %d tunnels, want 1", got)
					}
				} else if got := countLines(as, `^unit ppp0 shared on pppoe eth1/\d+ `); got != n {
					t.Errorf("AC: %d units, want %d", got, n)
				}

				cli.stop()
				synctest.Wait()
				if got := cliDP.State(); got != "" {
					t.Errorf("client left behind %d lines", strings.Count(got, "\n"))
				}
				want := acIdle
				if tc.lac {
					// The tunnel is the LAC's: it stays (idle) until the LAC closes it.
					want = acIdle + "tunnel 1 v2 udp 192.0.2.1:49152 -> 192.0.2.2:1701 peer_tunnel 101\n"
				}
				if diff := cmp.Diff(want, acDP.State()); diff != "" {
					t.Errorf("AC after all sessions ended (-want +got):\n%s", diff)
				}
				if got := ac.metric("probox_pppoe_sessions_total", "result", "peer_padt") +
					ac.metric("probox_pppoe_sessions_total", "result", "lns_ended"); got != n {
					t.Errorf("sessions ended by the clients: %v, want %d", got, n)
				}
				ac.stop()
				if lac != nil {
					lac.close()
					stopLNS()
				}
				if got := net.State(); got != "" {
					t.Errorf("left behind:\n%s", got)
				}
			})
		})
	}
}
