package control

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"

	"github.com/probox/probox/config"
	"github.com/probox/probox/control/event"
	"github.com/probox/probox/kernel"
	"github.com/probox/probox/ppp"
)

// pipeEnd is one end of an in-memory PPP channel pair.
type pipeEnd struct {
	in     chan []byte
	peer   *pipeEnd
	closed chan struct{}
	once   sync.Once
}

func newPipeEnds() (*pipeEnd, *pipeEnd) {
	a := &pipeEnd{in: make(chan []byte, 64), closed: make(chan struct{})}
	b := &pipeEnd{in: make(chan []byte, 64), closed: make(chan struct{})}
	a.peer, b.peer = b, a
	return a, b
}

func (p *pipeEnd) ReadFrame(b []byte) (int, error) {
	select {
	case f := <-p.in:
		return copy(b, f), nil
	case <-p.closed:
		return 0, net.ErrClosed
	}
}

func (p *pipeEnd) WriteFrame(b []byte) error {
	select {
	case <-p.closed:
		return net.ErrClosed
	default:
	}
	select {
	case p.peer.in <- append([]byte(nil), b...):
	case <-p.peer.closed:
	}
	return nil
}

func (p *pipeEnd) MTU() int               { return 1500 }
func (p *pipeEnd) Stats() kernel.Counters { return kernel.Counters{} }
func (p *pipeEnd) Close() error {
	p.once.Do(func() { close(p.closed) })
	return nil
}

// unitDP is a data plane that only makes units, which accept every state.
type unitDP struct{}

type nopUnit struct{ name string }

func (unitDP) Name() string                                        { return "fake" }
func (unitDP) Listen(kernel.ListenConfig) (kernel.Listener, error) { return nil, errors.ErrUnsupported }
func (unitDP) OpenTunnel(kernel.TunnelConfig) (kernel.Tunnel, error) {
	return nil, errors.ErrUnsupported
}
func (unitDP) OpenPPPoE(kernel.PPPoEConfig) (kernel.PPPoEPort, error) {
	return nil, errors.ErrUnsupported
}
func (unitDP) Bridge(a, b kernel.Channel) (io.Closer, error) { return nil, errors.ErrUnsupported }
func (unitDP) Close() error                                  { return nil }
func (unitDP) NewUnit(ch kernel.Channel, cfg kernel.UnitConfig) (kernel.Unit, error) {
	return nopUnit{name: strings.Replace(cfg.Name, "%d", "0", 1)}, nil
}
func (u nopUnit) Name() string             { return u.name }
func (nopUnit) Set(kernel.UnitState) error { return nil }
func (nopUnit) Stats() kernel.Counters     { return kernel.Counters{} }
func (nopUnit) Close() error               { return nil }

func pppTestConfig(t *testing.T) *config.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secrets")
	if err := os.WriteFile(path, []byte("alice alice-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := config.Parse("test.toml", []byte(fmt.Sprintf(`
[system]
secrets_file = %q
[ippool.default]
ranges = ["10.0.0.2-10.0.0.9"]
[ppp_profile.default]
local_address = "10.0.0.1"
ipv6 = false
lcp_echo_interval = "0s"
[ppp_profile.client]
username = "alice"
password = "alice-secret"
unit = "dedicated"
`, path)))
	if err != nil {
		t.Fatal(err)
	}
	return f.Config
}

func startPPP(t *testing.T, cfg *config.Config, bus *event.Bus) *ppp.Engine {
	t.Helper()
	e, err := ppp.New(ppp.Config{Cfg: cfg}, ppp.Deps{Dataplane: unitDP{}, Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return e
}

func TestPPPAPI(t *testing.T) {
	cfg := pppTestConfig(t)
	bus := event.NewBus(nil)
	ups := bus.Subscribe(4, func(e *event.Event) bool { return e.Type == event.SessionUp })
	defer ups.Close()
	srv, cli := startPPP(t, cfg, bus), startPPP(t, cfg, nil)
	a, b := newPipeEnds()
	if _, err := srv.Start(ppp.StartRequest{Channel: a, Role: ppp.RoleServer, Info: ppp.CarrierInfo{TunnelID: 3, SessionID: 4}}); err != nil {
		t.Fatal(err)
	}
	hc, err := cli.Start(ppp.StartRequest{Channel: b, Role: ppp.RoleClient, Profile: "client"})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-ups.C():
	case <-time.After(10 * time.Second):
		t.Fatal("the session did not come up")
	}

	api := NewAPI(zap.NewNop())
	RegisterPPP(api, srv)
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

	var list []ppp.SessionInfo
	if err := c.Call(cctx, "ppp list", PPPListArgs{State: "up"}, &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		t.Fatalf("ppp list up: %+v", list)
	}
	got := []string{list[0].Instance, list[0].State, list[0].User, list[0].Auth, list[0].PeerIP, list[0].Interface}
	if diff := cmp.Diff([]string{"session-1", "up", "alice", "chap-md5", "10.0.0.2", "ppp0"}, got); diff != "" {
		t.Errorf("ppp list (-want +got):\n%s", diff)
	}
	if err := c.Call(cctx, "ppp list", PPPListArgs{State: "down"}, &list); err != nil || len(list) != 0 {
		t.Errorf("ppp list down: %v %+v", err, list)
	}
	var si ppp.SessionInfo
	if err := c.Call(cctx, "ppp show", PPPInstanceArgs{Instance: "1"}, &si); err != nil || si.CarrierInfo.TunnelID != 3 || si.LCP != "Opened" {
		t.Errorf("ppp show 1: %v %+v", err, si)
	}
	var st ppp.Status
	if err := c.Call(cctx, "ppp status", nil, &st); err != nil || st.Sessions != 1 || st.Up != 1 || st.LocalUsers != 1 {
		t.Errorf("ppp status: %v %+v", err, st)
	}
	var pools []ppp.PoolInfo
	if err := c.Call(cctx, "ppp pools", nil, &pools); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]ppp.PoolInfo{{Name: "default", Ranges: []string{"10.0.0.2-10.0.0.9"}, Size: 8, Used: 1, Free: 7}}, pools); diff != "" {
		t.Errorf("ppp pools (-want +got):\n%s", diff)
	}

	for _, tc := range []struct {
		cmd  string
		args any
		want string
	}{
		{"ppp show", PPPInstanceArgs{Instance: "session-9"}, "ppp: no such instance: session-9"},
		{"ppp show", PPPInstanceArgs{Instance: "ppp0"}, `ppp: bad instance "ppp0": want session-N or N`},
		{"ppp destroy", nil, `ppp: bad instance "": want session-N or N`},
		{"ppp list", PPPListArgs{State: "sideways"}, `state must be "up", "down" or empty, got "sideways"`},
		{"ppp list", []int{1}, "bad arguments: json: cannot unmarshal array"},
	} {
		err := c.Call(cctx, tc.cmd, tc.args, nil)
		var re *RemoteError
		if !errors.As(err, &re) || !strings.HasPrefix(re.Msg, tc.want) {
			t.Errorf("%s %v: %v, want %q", tc.cmd, tc.args, err, tc.want)
		}
	}

	var dr PPPDestroyResult
	if err := c.Call(cctx, "ppp destroy", PPPInstanceArgs{Instance: "session-1"}, &dr); err != nil {
		t.Fatal(err)
	}
	if !dr.Ended || dr.Result == nil || dr.Result.Cause != ppp.CauseAdmin || dr.Result.Reason != "destroyed by operator" {
		t.Errorf("ppp destroy: %+v", dr)
	}
	if err := c.Call(cctx, "ppp list", nil, &list); err != nil || len(list) != 0 {
		t.Errorf("ppp list after destroy: %v %+v", err, list)
	}
	b.Close()
	<-hc.Done()
}
