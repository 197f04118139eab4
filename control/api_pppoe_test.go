package control

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/probox/probox/config"
	"github.com/probox/probox/control/event"
	"github.com/probox/probox/kernel"
	"github.com/probox/probox/kernel/kerneltest"
	"github.com/probox/probox/ppp"
	"github.com/probox/probox/pppoe"
)

// pppoeBox runs a PPP and a PPPoE engine on dp until the test ends.
func pppoeBox(t *testing.T, dp kernel.Dataplane, doc string, bus *event.Bus) *pppoe.Engine {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secrets")
	if err := os.WriteFile(path, []byte("alice alice-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := config.Parse("test.toml", []byte(fmt.Sprintf("[system]\nsecrets_file = %q\n", path)+doc))
	if err != nil {
		t.Fatal(err)
	}
	pe, err := ppp.New(ppp.Config{Cfg: f.Config}, ppp.Deps{Dataplane: dp, Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	e, err := pppoe.New(pppoe.Config{Cfg: f.Config}, pppoe.Deps{Dataplane: dp, PPP: pe, Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pdone, edone := make(chan struct{}), make(chan struct{})
	go func() { pe.Run(ctx); close(pdone) }()
	go func() { e.Run(ctx); close(edone) }()
	t.Cleanup(func() { cancel(); <-edone; <-pdone })
	return e
}

const pppoeTestPPP = `
[ippool.default]
ranges = ["10.0.0.2-10.0.0.9"]
[ppp_profile.default]
local_address = "10.0.0.1"
ipv6 = false
lcp_echo_interval = "0s"
auth = ["chap-md5"]
[ppp_profile.client]
username = "alice"
password = "alice-secret"
unit = "dedicated"
`

func TestPPPoEAPI(t *testing.T) {
	n := kerneltest.NewNetwork()
	acDP, cliDP := n.Dataplane("ac"), n.Dataplane("client")
	n.Ethernet("lan").Join(acDP, "eth1").Join(cliDP, "eth0")
	bus := event.NewBus(nil)
	ups := bus.Subscribe(4, func(e *event.Event) bool { return e.Type == event.SessionUp && e.Engine == "ppp" })
	defer ups.Close()
	ac := pppoeBox(t, acDP, pppoeTestPPP+`
[pppoe]
ac_name = "bras1"
[pppoe.interface.eth1]
[pppoe.service.internet]
`, bus)
	pppoeBox(t, cliDP, pppoeTestPPP+`
[pppoe.client.home]
interface = "eth0"
service = "internet"
ppp_profile = "client"
`, nil)
	select {
	case <-ups.C():
	case <-time.After(20 * time.Second):
		t.Fatal("the session did not come up")
	}

	api := NewAPI(zap.NewNop())
	RegisterPPPoE(api, ac)
	path := filepath.Join(t.TempDir(), "c.sock")
	ln, err := ListenUnix(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { api.Serve(ctx, ln); close(served) }()
	defer func() { cancel(); <-served }()
	c, err := Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cctx, ccancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer ccancel()

	var list []pppoe.SessionInfo
	if err := c.Call(cctx, "pppoe sessions", nil, &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].User != "alice" || list[0].State != "up" || list[0].PPP == nil || list[0].PPP.PeerIP != "10.0.0.2" {
		t.Fatalf("pppoe sessions: %+v", list)
	}
	id := list[0].SessionID
	var si pppoe.SessionInfo
	if err := c.Call(cctx, "pppoe session", PPPoESessionArgs{SessionID: id}, &si); err != nil || si.MAC != list[0].MAC {
		t.Errorf("pppoe session: %v %+v", err, si)
	}
	var ifs []pppoe.InterfaceInfo
	if err := c.Call(cctx, "pppoe interfaces", nil, &ifs); err != nil || len(ifs) != 1 || ifs[0].Sessions != 1 {
		t.Errorf("pppoe interfaces: %v %+v", err, ifs)
	}
	var svcs []pppoe.ServiceInfo
	if err := c.Call(cctx, "pppoe services", nil, &svcs); err != nil || len(svcs) != 1 || svcs[0].Name != "internet" {
		t.Errorf("pppoe services: %v %+v", err, svcs)
	}
	var routes []pppoe.RouteInfo
	if err := c.Call(cctx, "pppoe routes", nil, &routes); err != nil || len(routes) != 0 {
		t.Errorf("pppoe routes: %v %+v", err, routes)
	}
	var st pppoe.Stats
	if err := c.Call(cctx, "pppoe statistics", nil, &st); err != nil || st.Sessions != 1 || st.Discovery["rx"]["PADR"] != 1 {
		t.Errorf("pppoe statistics: %v %+v", err, st)
	}

	for _, tc := range []struct {
		cmd  string
		args any
		want string
	}{
		{"pppoe session", nil, "session_id is required"},
		{"pppoe session", PPPoESessionArgs{SessionID: id + 1}, "pppoe: no such session"},
		{"pppoe disconnect", nil, "give either session_id or mac"},
		{"pppoe disconnect", PPPoESessionArgs{SessionID: id, MAC: "02:00:00:00:02:01"}, "give either session_id or mac"},
		{"pppoe disconnect", PPPoESessionArgs{MAC: "nope"}, `bad MAC address "nope"`},
		{"pppoe disconnect", PPPoESessionArgs{MAC: "02:00:00:00:09:09"}, "pppoe: no such session"},
	} {
		err := c.Call(cctx, tc.cmd, tc.args, nil)
		var re *RemoteError
		if !errors.As(err, &re) || !strings.HasPrefix(re.Msg, tc.want) {
			t.Errorf("%s %+v: %v, want %q", tc.cmd, tc.args, err, tc.want)
		}
	}

	var dr []pppoe.Disconnected
	if err := c.Call(cctx, "pppoe disconnect", PPPoESessionArgs{SessionID: id, Reason: "test"}, &dr); err != nil {
		t.Fatal(err)
	}
	if len(dr) != 1 || !dr[0].Ended || dr[0].SessionID != id {
		t.Errorf("pppoe disconnect: %+v", dr)
	}
}
