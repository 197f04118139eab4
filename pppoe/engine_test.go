package pppoe

import (
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	events "github.com/probox/probox/control/event"
	"github.com/probox/probox/kernel/kerneltest"
)

const acLocalDoc = pppBase + `
[pppoe]
ac_name = "bras1"
[pppoe.interface.eth1]
[pppoe.service.internet]
route = "local"
`

const clientAliceDoc = clientBase + `
[pppoe.client.home]
interface = "eth0"
service = "internet"
ppp_profile = "alice"
`

// localBed is an AC with local termination and a client box with one client, on one
// Ethernet segment: AC host 1 (eth1, 02:00:00:00:01:01), client host 2 (eth0,
// 02:00:00:00:02:01).
type localBed struct {
	n       *kerneltest.Network
	acDP    *kerneltest.Fake
	cliDP   *kerneltest.Fake
	ac, cli *box
}

func newLocalBed(t *testing.T, acDoc, cliDoc string) *localBed {
	n := kerneltest.NewNetwork()
	b := &localBed{n: n, acDP: n.Dataplane("ac"), cliDP: n.Dataplane("client")}
	n.Ethernet("lan").Join(b.acDP, "eth1").Join(b.cliDP, "eth0")
	b.ac = startBox(t, b.acDP, parseConfig(t, acDoc, acSecrets), nil, 1)
	synctest.Wait() // the AC's interface is open before the client's first PADI
	b.cli = startBox(t, b.cliDP, parseConfig(t, cliDoc, ""), nil, 2)
	return b
}

// acUp and clientUp are the hosts' objects while the client is up with address peer.
func acUp(peer string) string {
	return `channel pppoe eth1/S peer 02:00:00:00:02:01 mtu 1492
pppoe eth1 vlans untagged
unit ppp0 shared on pppoe eth1/S mtu 1492 ipv4 10.64.0.1 -> ` + peer + ` ipv6 - routes -
`
}

func clientUp(peer string) string {
	return `channel pppoe eth0/S peer 02:00:00:00:01:01 mtu 1492
pppoe eth0 vlans untagged
unit ppp0 dedicated on pppoe eth0/S mtu 1492 ipv4 ` + peer + ` -> 10.64.0.1 ipv6 - routes -
`
}

const (
	acIdle     = "pppoe eth1 vlans untagged\n"
	clientIdle = "pppoe eth0 vlans untagged\n"
)

// settle lets the bubble run until every goroutine waits for something other than the
// AC's LCP delay (and its retransmission timers, which are longer).
func settle() {
	synctest.Wait()
	time.Sleep(200 * time.Millisecond)
	synctest.Wait()
}

func checkState(t *testing.T, what string, f *kerneltest.Fake, want string) {
	t.Helper()
	if diff := cmp.Diff(want, normState(f.State())); diff != "" {
		t.Errorf("%s state (-want +got):\n%s", what, diff)
	}
}

// eventTypes lists "type/result-message" of the pppoe engine's session events.
func eventTypes(evs []events.Event) []string {
	var out []string
	for _, ev := range evs {
		s := ev.Type.String()
		if ev.Result != nil {
			s += "/" + ev.Result.Message
		}
		out = append(out, s)
	}
	return out
}

// TestLocalTermination brings a PPPoE client up through an AC that terminates PPP locally,
// checks both hosts' objects and the AC's view, and ends the session from the client
// (PADT), from the AC (Disconnect) and by stopping the AC.
func TestLocalTermination(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newLocalBed(t, acLocalDoc, clientAliceDoc)
		settle()
		checkState(t, "AC", b.acDP, acUp("10.64.0.2"))
		checkState(t, "client", b.cliDP, clientUp("10.64.0.2"))

		list, err := b.ac.e.Sessions(ctx())
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 {
			t.Fatalf("%d sessions, want 1", len(list))
		}
		s := list[0]
		if s.PPP == nil || s.PPP.PeerIP != "10.64.0.2" || s.PPP.User != "alice" {
			t.Errorf("PPP of the session: %+v", s.PPP)
		}
		s.PPP, s.SessionID, s.Created = nil, 0, time.Time{}
		want := SessionInfo{Interface: "eth1", MAC: "02:00:00:00:02:01", Service: "internet", ServiceConfig: "internet",
			Route: "local", State: "up", User: "alice", MTU: 1492}
		if diff := cmp.Diff(want, s); diff != "" {
			t.Errorf("session (-want +got):\n%s", diff)
		}
		if got := eventTypes(b.ac.events("pppoe")); !cmp.Equal(got, []string{"session-created"}) {
			t.Errorf("AC pppoe events %v", got)
		}
		if got := b.ac.metric("probox_pppoe_sessions", "route", "local"); got != 1 {
			t.Errorf("sessions{route=local} = %v, want 1", got)
		}
		if got := b.cli.metric("probox_pppoe_sessions", "route", "client"); got != 1 {
			t.Errorf("client sessions{route=client} = %v, want 1", got)
		}

		// The client's PPP ends (LCP Terminate): the client sends its PADT at once, and
		// the AC ends the session on it.
		pl, err := b.cli.ppp.List(ctx(), "")
		if err != nil || len(pl) != 1 {
			t.Fatalf("client PPP sessions %v, %v", pl, err)
		}
		if _, err := b.cli.ppp.Destroy(ctx(), pl[0].Instance, "bye"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		checkState(t, "AC after the client's PADT", b.acDP, acIdle)
		checkState(t, "client after its PADT", b.cliDP, clientIdle)
		if got := b.ac.metric("probox_pppoe_sessions_total", "result", "peer_padt"); got != 1 {
			t.Errorf("sessions_total{peer_padt} = %v, want 1", got)
		}
		if got := eventTypes(b.ac.events("pppoe")); !cmp.Equal(got, []string{"session-deleted/peer_padt"}) {
			t.Errorf("AC pppoe events %v", got)
		}

		// The client redials after its backoff.
		time.Sleep(redialMin)
		settle()
		checkState(t, "AC after the redial", b.acDP, acUp("10.64.0.3"))
		checkState(t, "client after the redial", b.cliDP, clientUp("10.64.0.3"))

		// The operator disconnects the client's MAC: LCP Terminate, then PADT.
		got, err := b.ac.e.Disconnect(ctx(), Selector{MAC: "02:00:00:00:02:01"}, "maintenance")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || !got[0].Ended {
			t.Errorf("Disconnect = %+v, want one ended session", got)
		}
		synctest.Wait()
		checkState(t, "AC after Disconnect", b.acDP, acIdle)
		checkState(t, "client after Disconnect", b.cliDP, clientIdle)
		evs := b.ac.events("pppoe")
		if got := eventTypes(evs); !cmp.Equal(got, []string{"session-created", "session-deleted/admin"}) {
			t.Errorf("AC pppoe events %v", got)
		}
		if ev := evs[len(evs)-1]; ev.Result.Reason != "maintenance" || ev.Session.CallingMAC != "02:00:00:00:02:01" ||
			ev.Session.Service != "internet" || ev.Session.Interface != "eth1" || ev.Session.User != "alice" {
			t.Errorf("deleted event %+v %+v", ev.Session, ev.Result)
		}
		if got := b.cli.metric("probox_pppoe_sessions_total", "result", "peer_padt"); got != 1 {
			t.Errorf("client sessions_total{peer_padt} = %v, want 1", got)
		}

		// Up again, then the AC stops: PADT with "AC shutting down" to the client.
		time.Sleep(redialMin)
		settle()
		checkState(t, "AC before the stop", b.acDP, acUp("10.64.0.4"))
		var padts []string
		b.n.SetLoss(func(p kerneltest.Packet) bool {
			if p.Kind == kerneltest.PPPoEDiscovery && p.Host == "ac" {
				var pkt Packet
				if pkt.UnmarshalBinary(p.Data) == nil && pkt.Code == CodePADT {
					e, _ := pkt.Tags.FirstError()
					padts = append(padts, e.String())
				}
			}
			return false
		})
		b.ac.stop()
		synctest.Wait()
		if diff := cmp.Diff([]string{"Generic-Error: AC shutting down"}, padts); diff != "" {
			t.Errorf("PADTs from the AC (-want +got):\n%s", diff)
		}
		checkState(t, "AC after the stop", b.acDP, "")
		checkState(t, "client after the AC stopped", b.cliDP, clientIdle)
		if _, err := b.ac.e.Sessions(ctx()); !errors.Is(err, ErrStopped) {
			t.Errorf("Sessions after stop: %v, want ErrStopped", err)
		}
		b.cli.stop()
		if got := b.n.State(); got != "" {
			t.Errorf("left behind:\n%s", got)
		}
		// synctest.Test fails if a goroutine of the bubble is still blocked here.
	})
}

// TestClientStop stops the client box: PPP is stopped with an LCP Terminate-Request, then
// the client sends its PADT, and the AC cleans up.
func TestClientStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newLocalBed(t, acLocalDoc, clientAliceDoc)
		settle()
		checkState(t, "AC", b.acDP, acUp("10.64.0.2"))
		b.cli.stop()
		synctest.Wait()
		checkState(t, "client after the stop", b.cliDP, "")
		checkState(t, "AC after the client stopped", b.acDP, acIdle)
		evs := b.ac.events("pppoe")
		if got := eventTypes(evs); !cmp.Equal(got, []string{"session-created", "session-deleted/peer_padt"}) {
			t.Errorf("AC pppoe events %v", got)
		}
		// The PPP engine's own events tell the session's PPP story at the AC.
		var pppTypes []string
		for _, ev := range b.ac.events("ppp") {
			if ev.Type.IsSession() {
				pppTypes = append(pppTypes, ev.Type.String())
			}
		}
		if diff := cmp.Diff([]string{"session-created", "session-up", "session-down", "session-deleted"}, pppTypes); diff != "" {
			t.Errorf("AC PPP session events (-want +got):\n%s", diff)
		}
	})
}

// TestClientVLANs runs three clients of one box on one interface, untagged, on VLAN 100
// and on QinQ 10.250, against an AC that serves all three (vlans, qinq, untagged): each
// session comes up on its own tags, and the client port serves the union of its
// clients' tags, which a reload that removes one client shrinks.
func TestClientVLANs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		acDoc := pppBase + `
[pppoe]
ac_name = "bras1"
[pppoe.interface.eth1]
vlans = [100]
qinq = ["10.200-299"]
untagged = true
[pppoe.service.internet]
route = "local"
`
		client := func(name, tags string) string {
			return "[pppoe.client." + name + "]\ninterface = \"eth0\"\nservice = \"internet\"\nppp_profile = \"alice\"\n" + tags
		}
		cliDoc := clientBase + client("plain", "") + client("v100", "vlan = 100\n") + client("q", "vlan = 250\nservice_vlan = 10\n")
		b := newLocalBed(t, acDoc, cliDoc)
		settle()
		list, err := b.ac.e.Sessions(ctx())
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range list {
			got = append(got, s.VLANs+"/"+s.State)
		}
		if diff := cmp.Diff([]string{"/up", "10.250/up", "100/up"}, sortedCopy(got)); diff != "" {
			t.Errorf("AC sessions' tags (-want +got):\n%s", diff)
		}
		if st := b.cliDP.State(); !strings.Contains(st, "pppoe eth0 vlans untagged,100,10.250\n") {
			t.Errorf("client state:\n%s", st)
		}

		if err := b.cli.e.Reload(parseConfig(t, clientBase+client("plain", "")+client("q", "vlan = 250\nservice_vlan = 10\n"), ""), nil); err != nil {
			t.Fatalf("Reload: %v", err)
		}
		time.Sleep(10 * time.Second)
		settle()
		if st := b.cliDP.State(); !strings.Contains(st, "pppoe eth0 vlans untagged,10.250\n") {
			t.Errorf("client state after v100 was removed:\n%s", st)
		}
		if list, _ := b.ac.e.Sessions(ctx()); len(list) != 2 {
			t.Errorf("AC has %d sessions after v100 was removed, want 2", len(list))
		}
		b.cli.stop()
		b.ac.stop()
	})
}
