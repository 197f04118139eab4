package pppoe

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/probox/probox/kernel"
	"github.com/probox/probox/kernel/kerneltest"
	"github.com/probox/probox/ppp"
)

// fakeLAC is the L2TP LAC of the tests. PlaceCall records the call and fails it when the
// test says so; otherwise it makes an L2TP tunnel (one per configured tunnel name, kept
// until close) and a session in it between the AC's Fake and the Fake of the tunnel's
// LNS, and runs the LNS's PPP engine on the LNS end as an LNS does: RoleServer with the
// proxy LCP and authentication of the call. The AC end is the call's channel, which the
// engine bridges, so the bridge shows in the AC's State.
type fakeLAC struct {
	acDP *kerneltest.Fake
	lns  map[string]*fakeLNS // by tunnel name

	mu      sync.Mutex
	calls   []LACCall
	fail    map[string]error
	block   map[string]bool // PlaceCall waits for its context
	tunnels map[string]*fakeTunnel
	nextID  uint32
	hangups []string
}

type fakeLNS struct {
	name string
	dp   *kerneltest.Fake
	addr netip.Addr
	ppp  *ppp.Engine
	stop func()
}

type fakeTunnel struct {
	id      uint32
	ac, lns kernel.Tunnel
}

type fakeCall struct {
	l            *fakeLAC
	tid, sid     uint32
	acS, lnsS    kernel.Session
	ch           kernel.Channel
	h            *ppp.Handle   // the LNS's PPP, once started is closed
	started      chan struct{} // closed when the LNS's PPP started (or failed to)
	done         chan struct{}
	once         sync.Once
	reasonString string
}

func newFakeLAC(acDP *kerneltest.Fake) *fakeLAC {
	return &fakeLAC{acDP: acDP, lns: map[string]*fakeLNS{}, fail: map[string]error{}, block: map[string]bool{},
		tunnels: map[string]*fakeTunnel{}}
}

func (l *fakeLAC) setFail(tunnel string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fail[tunnel] = err
}

func (l *fakeLAC) recorded() []LACCall {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.calls)
}

func (l *fakeLAC) tunnel(name string, lns *fakeLNS) (*fakeTunnel, error) {
	if t := l.tunnels[name]; t != nil {
		return t, nil
	}
	l.nextID++
	id := l.nextID
	at, err := l.acDP.OpenTunnel(kernel.TunnelConfig{Version: 2, Peer: netip.AddrPortFrom(lns.addr, 1701), TunnelID: id})
	if err != nil {
		return nil, err
	}
	lt, err := lns.dp.OpenTunnel(kernel.TunnelConfig{Version: 2, Local: netip.AddrPortFrom(lns.addr, 1701), Peer: at.LocalAddr(), TunnelID: 100 + id})
	if err != nil {
		return nil, err
	}
	if err := at.Establish(100+id, netip.AddrPortFrom(lns.addr, 1701)); err != nil {
		return nil, err
	}
	if err := lt.Establish(id, at.LocalAddr()); err != nil {
		return nil, err
	}
	t := &fakeTunnel{id: id, ac: at, lns: lt}
	l.tunnels[name] = t
	return t, nil
}

func (l *fakeLAC) PlaceCall(ctx context.Context, req LACCall) (LACSession, error) {
	l.mu.Lock()
	l.calls = append(l.calls, req)
	ferr, block := l.fail[req.Tunnel], l.block[req.Tunnel]
	l.mu.Unlock()
	if block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if ferr != nil {
		return nil, ferr
	}
	lns := l.lns[req.Tunnel]
	if lns == nil {
		return nil, fmt.Errorf("fake LAC: no LNS for tunnel %q", req.Tunnel)
	}
	l.mu.Lock()
	t, err := l.tunnel(req.Tunnel, lns)
	l.nextID++
	sid := l.nextID
	l.mu.Unlock()
	if err != nil {
		return nil, err
	}
	c := &fakeCall{l: l, tid: t.id, sid: sid, done: make(chan struct{}), started: make(chan struct{})}
	c.acS = must(t.ac.EnsureSession(kernel.SessionConfig{SessionID: sid, PeerSessionID: 1000 + sid, PWType: kernel.PWPPP}))
	c.lnsS = must(t.lns.EnsureSession(kernel.SessionConfig{SessionID: 1000 + sid, PeerSessionID: sid, PWType: kernel.PWPPP}))
	c.ch = must(c.acS.Channel())
	lnsCh := must(c.lnsS.Channel())
	var pa *ppp.ProxyAuth
	if a := req.ProxyAuth; a != nil {
		m := ppp.AuthNone
		switch a.Type {
		case ProxyAuthenPAP:
			m = ppp.AuthPAP
		case ProxyAuthenCHAP:
			m = ppp.AuthCHAPMD5
		}
		pa = &ppp.ProxyAuth{Method: m, Name: a.Name, ID: a.ID, Challenge: a.Challenge, Response: a.Response}
	}
	var pl *ppp.ProxyLCP
	if p := req.ProxyLCP; p != nil {
		pl = &ppp.ProxyLCP{InitialReceived: p.InitialReceived, LastSent: p.LastSent, LastReceived: p.LastReceived}
	}
	// The LNS starts its PPP when the ICCN reaches it, a little after PlaceCall returns.
	go func() {
		time.Sleep(iccnDelay)
		h, err := lns.ppp.Start(ppp.StartRequest{Channel: lnsCh, Role: ppp.RoleServer, Carrier: ppp.CarrierL2TP,
			ProxyLCP: pl, ProxyAuth: pa, Info: ppp.CarrierInfo{TunnelID: 100 + t.id, SessionID: 1000 + sid, CallingStation: req.CallingNumber}})
		c.h = h
		close(c.started)
		if err != nil {
			c.end("LNS: " + err.Error())
			return
		}
		<-h.Done()
		c.end("LNS: PPP ended: " + h.Result().Reason)
	}()
	return c, nil
}

// iccnDelay is the fake LAC's ICCN propagation time to the LNS.
const iccnDelay = time.Millisecond

// close closes the tunnels (the test's end).
func (l *fakeLAC) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, t := range l.tunnels {
		t.ac.Close()
		t.lns.Close()
	}
}

func (c *fakeCall) end(reason string) {
	c.once.Do(func() {
		c.reasonString = reason
		c.lnsS.Close()
		c.acS.Close()
		close(c.done)
	})
}

func (c *fakeCall) Channel() kernel.Channel { return c.ch }
func (c *fakeCall) Done() <-chan struct{}   { return c.done }
func (c *fakeCall) Reason() string          { <-c.done; return c.reasonString }
func (c *fakeCall) TunnelID() uint32        { return c.tid }
func (c *fakeCall) SessionID() uint32       { return c.sid }

func (c *fakeCall) Hangup(reason string) {
	c.l.mu.Lock()
	c.l.hangups = append(c.l.hangups, reason)
	c.l.mu.Unlock()
	c.end("hangup: " + reason)
	<-c.started
	if c.h != nil {
		<-c.h.Done()
	}
}

// lacBed is an AC/LAC, a client box, and two LNSs on one network: AC host 1
// (192.0.2.1, eth1), client host 2, LNS hosts 3 (192.0.2.2) and 4 (192.0.2.3).
type lacBed struct {
	n       *kerneltest.Network
	acDP    *kerneltest.Fake
	cliDP   *kerneltest.Fake
	ac, cli *box
	lac     *fakeLAC
	lns1    *fakeLNS
	lns2    *fakeLNS
}

const lacACDoc = pppBase + `
[tunnel.t1]
peer = "192.0.2.2"
[tunnel.t1b]
peer = "192.0.2.2"
[tunnel.t2]
peer = "192.0.2.3"
[pppoe]
ac_name = "bras1"
lac_timeout = "2s"
[pppoe.interface.eth1]
[pppoe.service.internet]
route = "realm"
[pppoe.service.corp]
route = "lac"
tunnel = "t2"
[pppoe.route.isp1]
realm = "isp1"
tunnel = "t1"
backup_tunnel = "t1b"
[pppoe.route.isp2]
realm = "ISP2"
tunnel = "t2"
`

func lnsDoc(net string) string {
	return `
[system]
secrets_file = "%SECRETS%"
[ppp_profile.default]
auth = ["chap-md5"]
ipv6 = false
lcp_echo_interval = "0s"
local_address = "` + net + `.1"
[ippool.default]
ranges = ["` + net + `.2-` + net + `.254"]
`
}

// clientDoc makes a client box with one client per (interface, profile, service).
func clientDoc(clients ...[3]string) string {
	doc := clientBase
	for i, c := range clients {
		doc += fmt.Sprintf("[pppoe.client.c%d]\ninterface = %q\nppp_profile = %q\nservice = %q\n", i, c[0], c[1], c[2])
	}
	return doc
}

func newLACBed(t *testing.T, acDoc string, clients ...[3]string) *lacBed {
	return newLACBedWith(t, acDoc, nil, clients...)
}

// newLACBedWith is newLACBed with setup run (on the fake LAC, the network) before the
// boxes start: the clients dial at once, and can have their calls placed before the test
// goroutine runs again (synctest fakes time, not the order of the goroutines).
func newLACBedWith(t *testing.T, acDoc string, setup func(*lacBed), clients ...[3]string) *lacBed {
	n := kerneltest.NewNetwork()
	n.SetPathMTU(1600) // room for the PPPoE MRU of 1492 in L2TP: the LNS accepts proxy LCP
	b := &lacBed{n: n, acDP: n.Dataplane("ac", addr("192.0.2.1")), cliDP: n.Dataplane("client")}
	seg := n.Ethernet("lan").Join(b.acDP, "eth1")
	for _, c := range clients {
		seg.Join(b.cliDP, c[0])
	}
	b.lac = newFakeLAC(b.acDP)
	for i, l := range []struct {
		host, addr, net string
	}{{"lns1", "192.0.2.2", "10.1.0"}, {"lns2", "192.0.2.3", "10.2.0"}} {
		dp := n.Dataplane(l.host, addr(l.addr))
		pe, stop := startPPP(t, dp, parseConfig(t, lnsDoc(l.net), acSecrets), byte(10+i))
		lns := &fakeLNS{name: l.host, dp: dp, addr: addr(l.addr), ppp: pe, stop: stop}
		if i == 0 {
			b.lns1 = lns
			b.lac.lns["t1"], b.lac.lns["t1b"] = lns, lns
		} else {
			b.lns2 = lns
			b.lac.lns["t2"] = lns
		}
	}
	t.Cleanup(b.lac.close)
	if setup != nil {
		setup(b)
	}
	b.ac = startBox(t, b.acDP, parseConfig(t, acDoc, acSecrets), b.lac, 1)
	synctest.Wait() // the AC's interface is open before the clients' first PADIs
	b.cli = startBox(t, b.cliDP, parseConfig(t, clientDoc(clients...), ""), nil, 2)
	return b
}

// clientUnits lists the client host's units as "interface address".
func (b *lacBed) clientUnits() []string {
	re := regexp.MustCompile(`unit \S+ dedicated on pppoe (\S+)/\d+ mtu \d+ ipv4 (\S+) ->`)
	var out []string
	for _, m := range re.FindAllStringSubmatch(b.cliDP.State(), -1) {
		out = append(out, m[1]+" "+m[2])
	}
	slices.Sort(out)
	return out
}

// callSummary lists the recorded calls as "tunnel user called calling type".
func (b *lacBed) callSummary() []string {
	var out []string
	for _, c := range b.lac.recorded() {
		out = append(out, fmt.Sprintf("%s %s %s %s %d", c.Tunnel, c.ProxyAuth.Name, c.CalledNumber, c.CallingNumber, c.ProxyAuth.Type))
	}
	slices.Sort(out)
	return out
}

// stopAll stops the client box, then the AC, then the LAC's tunnels and the LNSs, and
// checks that nothing is left anywhere.
func (b *lacBed) stopAll(t *testing.T) {
	t.Helper()
	b.cli.stop()
	synctest.Wait()
	b.ac.stop()
	b.lac.close()
	b.lns1.stop()
	b.lns2.stop()
	if got := b.n.State(); got != "" {
		t.Errorf("left behind:\n%s", got)
	}
}

// TestLACRealmRouting carries two subscribers of two realms to their LNSs: each call is
// placed on its realm's tunnel with the proxy LCP and CHAP data, the LNS accepts the
// proxy LCP, and each client gets an address from its LNS's pool.
func TestLACRealmRouting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newLACBed(t, lacACDoc, [3]string{"eth0", "alice1", "internet"}, [3]string{"eth1", "bob2", "internet"})
		settle()
		if diff := cmp.Diff([]string{"eth0 10.1.0.2", "eth1 10.2.0.2"}, b.clientUnits()); diff != "" {
			t.Errorf("client units (-want +got):\n%s", diff)
		}
		want := []string{
			"t1 alice@isp1 internet 02:00:00:00:02:01 2",
			"t2 bob@isp2 internet 02:00:00:00:02:02 2",
		}
		if diff := cmp.Diff(want, b.callSummary()); diff != "" {
			t.Errorf("calls (-want +got):\n%s", diff)
		}
		for _, lns := range []*fakeLNS{b.lns1, b.lns2} {
			list := must(lns.ppp.List(context.Background(), "up"))
			if len(list) != 1 || !list[0].ProxyLCP {
				t.Errorf("%s: PPP sessions %+v, want one up with proxy LCP", lns.name, list)
			}
		}
		acState := b.acDP.State()
		if n := strings.Count("\n"+acState, "\nbridge l2tp "); n != 2 {
			t.Errorf("AC has %d bridges, want 2:\n%s", n, acState)
		}
		list := must(b.ac.e.Sessions(context.Background()))
		var got []string
		for _, s := range list {
			got = append(got, fmt.Sprintf("%s %s %s %s %s", s.User, s.State, s.Tunnel, s.RealmRoute, s.Route))
		}
		slices.Sort(got)
		if diff := cmp.Diff([]string{"alice@isp1 up t1 isp1 realm", "bob@isp2 up t2 isp2 realm"}, got); diff != "" {
			t.Errorf("sessions (-want +got):\n%s", diff)
		}
		if got := b.ac.metric("probox_pppoe_sessions", "route", "lac"); got != 2 {
			t.Errorf("sessions{route=lac} = %v, want 2", got)
		}
		if got := eventTypes(b.ac.events("pppoe")); !cmp.Equal(got, []string{"session-created", "session-created", "session-up", "session-up"}) &&
			!cmp.Equal(got, []string{"session-created", "session-up", "session-created", "session-up"}) {
			t.Errorf("AC pppoe events %v", got)
		}
		b.stopAll(t)
	})
}

// TestLACServiceRoute carries a session by its service's tunnel, whatever the user.
func TestLACServiceRoute(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newLACBed(t, lacACDoc, [3]string{"eth0", "alice1", "corp"})
		settle()
		if diff := cmp.Diff([]string{"eth0 10.2.0.2"}, b.clientUnits()); diff != "" {
			t.Errorf("client units (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"t2 alice@isp1 corp 02:00:00:00:02:01 2"}, b.callSummary()); diff != "" {
			t.Errorf("calls (-want +got):\n%s", diff)
		}
		b.stopAll(t)
	})
}

// TestLACBackup fails the primary tunnel: the call goes to the backup.
func TestLACBackup(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setup  func(l *fakeLAC)
		reason string
	}{
		{"refused", func(l *fakeLAC) { l.setFail("t1", errors.New("LNS refused the call")) }, "call_failed"},
		{"timeout", func(l *fakeLAC) { l.mu.Lock(); l.block["t1"] = true; l.mu.Unlock() }, "timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := newLACBedWith(t, lacACDoc, func(b *lacBed) { tc.setup(b.lac) }, [3]string{"eth0", "alice1", "internet"})
				settle()
				time.Sleep(3 * time.Second) // lac_timeout
				synctest.Wait()
				if diff := cmp.Diff([]string{"eth0 10.1.0.2"}, b.clientUnits()); diff != "" {
					t.Errorf("client units (-want +got):\n%s", diff)
				}
				var tunnels []string
				for _, c := range b.lac.recorded() {
					tunnels = append(tunnels, c.Tunnel)
				}
				if diff := cmp.Diff([]string{"t1", "t1b"}, tunnels); diff != "" {
					t.Errorf("calls (-want +got):\n%s", diff)
				}
				if got := b.ac.metric("probox_pppoe_lac_failures_total", "reason", tc.reason); got != 1 {
					t.Errorf("lac_failures{%s} = %v, want 1", tc.reason, got)
				}
				s := must(b.ac.e.Sessions(context.Background()))
				if len(s) != 1 || s[0].Tunnel != "t1b" || s[0].State != "up" {
					t.Errorf("sessions %+v, want one up on t1b", s)
				}
				b.stopAll(t)
			})
		})
	}
}

// refusalObserver records what the AC sends a client: LCP Terminate-Requests on session
// frames and PADTs.
type refusalObserver struct {
	mu  sync.Mutex
	got []string
}

func (o *refusalObserver) watch(p kerneltest.Packet) bool {
	if p.Host != "ac" {
		return false
	}
	var s string
	switch p.Kind {
	case kerneltest.PPPoESession:
		proto, info, err := ppp.ParseFrame(p.Data)
		if err != nil || proto != ppp.ProtoLCP {
			return false
		}
		h, data, err := ppp.ParseControl(info)
		if err != nil || h.Code != ppp.CodeTerminateRequest {
			return false
		}
		s = "LCP Terminate-Request: " + string(data)
	case kerneltest.PPPoEDiscovery:
		var pkt Packet
		if pkt.UnmarshalBinary(p.Data) != nil || pkt.Code != CodePADT {
			return false
		}
		e, _ := pkt.Tags.FirstError()
		s = "PADT " + e.String()
	default:
		return false
	}
	o.mu.Lock()
	o.got = append(o.got, s)
	o.mu.Unlock()
	return false
}

// TestLACRefused covers the sessions the AC cannot carry: both LNSs failing, and a realm
// without a route. The subscriber gets an LCP Terminate-Request with the reason and then
// a PADT with it in a Generic-Error tag, and the event says why.
func TestLACRefused(t *testing.T) {
	for _, tc := range []struct {
		name    string
		profile string
		fail    []string
		want    string // the reason
		cause   string
		label   string
		count   float64
	}{
		{"both LNSs fail", "alice1", []string{"t1", "t1b"},
			"no LNS took the call (t1: LNS unreachable; t1b: LNS unreachable)", "lac_failed", "call_failed", 2},
		{"no route", "carol", nil, `no route for realm "nowhere"`, "no_route", "no_route", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var obs refusalObserver
				b := newLACBedWith(t, lacACDoc, func(b *lacBed) {
					for _, f := range tc.fail {
						b.lac.setFail(f, errors.New("LNS unreachable"))
					}
					b.n.SetLoss(obs.watch)
				}, [3]string{"eth0", tc.profile, "internet"})
				settle()
				time.Sleep(lcpTerminateWait)
				synctest.Wait()
				want := []string{"LCP Terminate-Request: " + tc.want, "PADT Generic-Error: " + tc.want}
				obs.mu.Lock()
				if diff := cmp.Diff(want, obs.got); diff != "" {
					t.Errorf("sent to the client (-want +got):\n%s", diff)
				}
				obs.mu.Unlock()
				evs := b.ac.events("pppoe")
				if got := eventTypes(evs); !cmp.Equal(got, []string{"session-created", "session-deleted/" + tc.cause}) {
					t.Errorf("events %v", got)
				} else if r := evs[1].Result.Reason; r != tc.want {
					t.Errorf("event reason %q, want %q", r, tc.want)
				}
				if got := b.ac.metric("probox_pppoe_lac_failures_total", "reason", tc.label); got != tc.count {
					t.Errorf("lac_failures{%s} = %v, want %v", tc.label, got, tc.count)
				}
				if got := b.ac.metric("probox_pppoe_sessions_total", "result", tc.cause); got != 1 {
					t.Errorf("sessions_total{%s} = %v, want 1", tc.cause, got)
				}
				checkState(t, "AC", b.acDP, acIdle)
				b.stopAll(t)
			})
		})
	}
}

// TestRealmLocalFallback terminates locally a user whose realm has no route, when the
// service says so: the AC's PPP takes over the LCP and authentication it already did.
func TestRealmLocalFallback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		doc := strings.Replace(lacACDoc, "route = \"realm\"\n", "route = \"realm\"\nlocal_fallback = true\n", 1)
		b := newLACBed(t, doc, [3]string{"eth0", "carol", "internet"})
		settle()
		if diff := cmp.Diff([]string{"eth0 10.64.0.2"}, b.clientUnits()); diff != "" {
			t.Errorf("client units (-want +got):\n%s", diff)
		}
		if calls := b.lac.recorded(); len(calls) != 0 {
			t.Errorf("calls placed: %v", calls)
		}
		s := must(b.ac.e.Sessions(context.Background()))
		if len(s) != 1 || s[0].State != "up" || s[0].PPP == nil || !s[0].PPP.ProxyLCP || s[0].User != "carol@nowhere" {
			t.Errorf("sessions %+v", s)
		}
		if got := b.ac.metric("probox_pppoe_sessions", "route", "local"); got != 1 {
			t.Errorf("sessions{route=local} = %v, want 1", got)
		}
		b.stopAll(t)
	})
}

// TestLACEnds ends LAC sessions from the LNS (the call ends: PADT to the client) and by
// Disconnect (the call is hung up).
func TestLACEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newLACBed(t, lacACDoc, [3]string{"eth0", "alice1", "internet"}, [3]string{"eth1", "bob2", "internet"})
		settle()
		if n := len(b.clientUnits()); n != 2 {
			t.Fatalf("%d clients up, want 2", n)
		}
		b.ac.events("pppoe")
		// The LNS of isp1 ends alice's PPP.
		l1 := must(b.lns1.ppp.List(context.Background(), ""))
		if _, err := b.lns1.ppp.Destroy(context.Background(), l1[0].Instance, "LNS maintenance"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		evs := b.ac.events("pppoe")
		if got := eventTypes(evs); !cmp.Equal(got, []string{"session-down/lns_ended", "session-deleted/lns_ended"}) {
			t.Errorf("events after the LNS ended the call: %v", got)
		}
		// The operator disconnects bob: the call is hung up.
		s := must(b.ac.e.Sessions(context.Background()))
		var bob SessionInfo
		for _, x := range s {
			if x.User == "bob@isp2" {
				bob = x
			}
		}
		d, err := b.ac.e.Disconnect(context.Background(), Selector{SessionID: bob.SessionID}, "")
		if err != nil || len(d) != 1 || !d[0].Ended {
			t.Errorf("Disconnect = %+v, %v", d, err)
		}
		b.lac.mu.Lock()
		if diff := cmp.Diff([]string{"disconnected by operator"}, b.lac.hangups); diff != "" {
			t.Errorf("hangups (-want +got):\n%s", diff)
		}
		b.lac.mu.Unlock()
		if got := eventTypes(b.ac.events("pppoe")); !cmp.Equal(got, []string{"session-down/admin", "session-deleted/admin"}) {
			t.Errorf("events after Disconnect: %v", got)
		}
		b.stopAll(t)
	})
}

// TestLACAccessLine carries a session whose PADR has the Broadband Forum access-line tag:
// the call's calling number is the Agent-Circuit-Id, its connect speed the actual
// downstream rate, and the events and the session snapshot carry the line's IDs.
func TestLACAccessLine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newLACBed(t, lacACDoc)
		b.n.Ethernet("lan").Join(b.cliDP, "s0")
		st := newStation(t, b.cliDP, "s0")
		line := AccessLine{CircuitID: "olt1 eth 1/1/1:100", RemoteID: "cpe-42", ActualDataRateDown: 20_000_000}
		vt := must(line.VendorTag())
		acHW := kernel.FrameInfo{Dst: b.acDP.HardwareAddr("eth1")}
		st.send(Packet{Code: CodePADI, Tags: Tags{ServiceNames: []string{"corp"}, Vendor: []VendorTag{vt}}}, bcast(VLANs{}))
		synctest.Wait()
		pado := st.recvOne().pkt
		st.send(Packet{Code: CodePADR, Tags: Tags{ServiceNames: []string{"corp"}, ACCookie: pado.Tags.ACCookie, Vendor: []VendorTag{vt}}}, acHW)
		synctest.Wait()
		pads := st.recvOne().pkt
		acMAC, _ := macOf(acHW.Dst)
		ch := must(st.port.OpenSession(pads.SessionID, frameTo(acMAC, VLANs{}), 1492))
		h := must(b.cli.ppp.Start(ppp.StartRequest{Channel: ch, Role: ppp.RoleClient, Carrier: ppp.CarrierPPPoE, Profile: "alice1", MaxMRU: 1492}))
		settle()
		calls := b.lac.recorded()
		if len(calls) != 1 {
			t.Fatalf("calls %+v", calls)
		}
		c := calls[0]
		got := fmt.Sprintf("%s %s %d %s %s", c.CallingNumber, c.CalledNumber, c.ConnectSpeed, c.Info.CircuitID, c.Info.RemoteID)
		if want := "olt1 eth 1/1/1:100 corp 20000000 olt1 eth 1/1/1:100 cpe-42"; got != want {
			t.Errorf("call %q, want %q", got, want)
		}
		s := must(b.ac.e.Sessions(context.Background()))
		if len(s) != 1 || s[0].CircuitID != line.CircuitID || s[0].RemoteID != line.RemoteID || s[0].State != "up" {
			t.Errorf("sessions %+v", s)
		}
		evs := b.ac.events("pppoe")
		if len(evs) != 2 || evs[1].Type.String() != "session-up" || evs[1].Session.CircuitID != line.CircuitID ||
			evs[1].Session.RemoteID != line.RemoteID || evs[1].Session.TunnelID == 0 {
			t.Errorf("events %+v", evs)
		}
		h.Stop("")
		synctest.Wait()
		st.port.Close()
		b.stopAll(t)
	})
}
