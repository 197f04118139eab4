package pppoe

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/google/go-cmp/cmp"
)

// TestClientMAC runs clients with their own MAC addresses (pppoe.client.NAME.mac) on one
// interface, next to a client with the interface's address, through a local AC: each
// session is the AC's session with that address, the client's data plane acts for the
// extra addresses, and everything goes away when the client box stops.
func TestClientMAC(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		macs := []string{"02:00:00:00:0a:01", "02:00:00:00:0a:02", ""}
		var doc strings.Builder
		doc.WriteString(clientBase)
		for i, mac := range macs {
			fmt.Fprintf(&doc, "[pppoe.client.c%d]\ninterface = \"eth0\"\nservice = \"internet\"\nppp_profile = \"alice\"\n", i)
			if mac != "" {
				fmt.Fprintf(&doc, "mac = %q\n", strings.ToUpper(mac))
			}
		}
		b := newLocalBed(t, acLocalDoc, doc.String())
		settle()

		list, err := b.ac.e.Sessions(ctx())
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range list {
			if s.State != "up" {
				t.Errorf("AC session %d from %s is %s, want up", s.SessionID, s.MAC, s.State)
			}
			got = append(got, s.MAC)
		}
		slices.Sort(got)
		want := []string{"02:00:00:00:02:01", "02:00:00:00:0a:01", "02:00:00:00:0a:02"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("AC sessions' MAC addresses (-want +got):\n%s", diff)
		}
		st, err := b.cli.e.Stats(ctx())
		if err != nil {
			t.Fatal(err)
		}
		clientMACs := map[string]string{}
		for _, ci := range st.Clients {
			clientMACs[ci.Name] = ci.MAC
		}
		if diff := cmp.Diff(map[string]string{"c0": macs[0], "c1": macs[1], "c2": "02:00:00:00:02:01"}, clientMACs); diff != "" {
			t.Errorf("clients' MAC addresses (-want +got):\n%s", diff)
		}
		cs := b.cliDP.State()
		for _, want := range []string{
			"pppoe eth0 vlans untagged extra 02:00:00:00:0a:01,02:00:00:00:0a:02\n",
			"from 02:00:00:00:0a:01 peer 02:00:00:00:01:01 mtu 1492\n",
			"from 02:00:00:00:0a:02 peer 02:00:00:00:01:01 mtu 1492\n",
		} {
			if !strings.Contains(cs, want) {
				t.Errorf("client state lacks %q:\n%s", want, cs)
			}
		}
		if got := countLines(cs, `^unit ppp\d+ dedicated on pppoe eth0/\d+.* ipv4 10\.64\.`); got != 3 {
			t.Errorf("%d client units up, want 3:\n%s", got, cs)
		}

		b.cli.stop()
		synctest.Wait()
		if got := b.cliDP.State(); got != "" {
			t.Errorf("client left behind:\n%s", got)
		}
		checkState(t, "AC after the clients stopped", b.acDP, acIdle)
	})
}
