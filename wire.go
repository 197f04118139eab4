package main

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/probox/probox/config"
	"github.com/probox/probox/control"
	"github.com/probox/probox/control/daemon"
	"github.com/probox/probox/kernel"
	"github.com/probox/probox/kernel/linux"
	"github.com/probox/probox/kernel/userspace"
	"github.com/probox/probox/l2tp"
	"github.com/probox/probox/ppp"
	"github.com/probox/probox/pppoe"
)

// The engines satisfy the daemon's life-cycle interfaces.
var (
	_ daemon.Engine     = (*ppp.Engine)(nil)
	_ daemon.Reloader   = (*ppp.Engine)(nil)
	_ daemon.Summarizer = (*ppp.Engine)(nil)
	_ daemon.Engine     = (*l2tp.Engine)(nil)
	_ daemon.Reloader   = (*l2tp.Engine)(nil)
	_ daemon.Summarizer = (*l2tp.Engine)(nil)
	_ daemon.Engine     = (*pppoe.Engine)(nil)
	_ daemon.Reloader   = (*pppoe.Engine)(nil)
	_ daemon.Summarizer = (*pppoe.Engine)(nil)
	_ l2tp.PPPStarter   = pppForL2TP{}
	_ pppoe.LAC         = lacForPPPoE{}
)

// openDataplane opens the data plane that kernel.Choose picked.
func openDataplane(name string, cfg *config.Config, log *zap.Logger, reg *prometheus.Registry) (kernel.Dataplane, error) {
	group := uint32(cfg.Kernel.InterfaceGroup)
	switch name {
	case kernel.NameUserspace:
		return userspace.New(userspace.Config{Log: log, SharedUnit: cfg.Kernel.SharedUnit, InterfaceGroup: group})
	case kernel.NameKernel:
		return linux.New(linux.Config{Log: log, InterfaceGroup: group, CleanupStale: cfg.Kernel.CleanupStale})
	}
	return nil, fmt.Errorf("the %s data plane is not built into this binary", name)
}

// wire builds the engines for a daemon run, in start order: PPP first (the others hand it
// sessions), then L2TP, then PPPoE; they stop in reverse order.
func wire(d daemon.Deps) ([]daemon.Engine, error) {
	if d.Dataplane == nil {
		return nil, fmt.Errorf("no data plane is open")
	}
	pe, err := ppp.New(ppp.Config{Cfg: d.File.Config}, ppp.Deps{Dataplane: d.Dataplane, Log: d.Log, Registry: d.Registry, Bus: d.Bus})
	if err != nil {
		return nil, err
	}
	control.RegisterPPP(d.API, pe)
	le, err := l2tp.New(l2tp.Config{Cfg: d.File.Config}, l2tp.Deps{Dataplane: d.Dataplane, Log: d.Log, Registry: d.Registry, Bus: d.Bus, PPP: pppForL2TP{pe}})
	if err != nil {
		return nil, err
	}
	control.RegisterL2TP(d.API, le)
	oe, err := pppoe.New(pppoe.Config{Cfg: d.File.Config}, pppoe.Deps{Dataplane: d.Dataplane, Log: d.Log, Registry: d.Registry, Bus: d.Bus, PPP: pe, LAC: lacForPPPoE{le}})
	if err != nil {
		return nil, err
	}
	control.RegisterPPPoE(d.API, oe)
	return []daemon.Engine{pe, le, oe}, nil
}

// pppForL2TP lets the L2TP engine hand PPP sessions to the PPP engine.
type pppForL2TP struct{ e *ppp.Engine }

func (p pppForL2TP) StartPPP(req l2tp.PPPRequest) (l2tp.PPPSession, error) {
	role := ppp.RoleServer
	if req.Client {
		role = ppp.RoleClient
	}
	sr := ppp.StartRequest{
		Channel: req.Channel, Role: role, Carrier: ppp.CarrierL2TP, Profile: req.Profile, MaxMRU: req.MaxMRU,
		Info: ppp.CarrierInfo{
			TunnelID: req.TunnelID, PeerTunnelID: req.PeerTunnelID, SessionID: req.SessionID, PeerSessionID: req.PeerSessionID,
			Peer: req.Peer.String(), CallingStation: req.CallingNumber, CalledNumber: req.CalledNumber,
		},
	}
	if l := req.ProxyLCP; l != nil {
		sr.ProxyLCP = &ppp.ProxyLCP{InitialReceived: l.InitialReceived, LastSent: l.LastSent, LastReceived: l.LastReceived}
	}
	if a := req.ProxyAuth; a != nil {
		sr.ProxyAuth = &ppp.ProxyAuth{Method: proxyAuthMethod(a.Type), Name: a.Name, ID: a.ID, Challenge: a.Challenge, Response: a.Response}
	}
	h, err := p.e.Start(sr)
	if err != nil {
		return nil, err
	}
	return pppSession{h}, nil
}

// proxyAuthMethod maps an L2TP Proxy Authen Type (RFC 2661 §4.4.5) to the PPP engine's
// method. Type 2 (CHAP) also carries MS-CHAPv2; the PPP engine tells them apart.
func proxyAuthMethod(t uint16) ppp.AuthMethod {
	switch t {
	case 1, 3: // textual username/password, PPP PAP
		return ppp.AuthPAP
	case 2:
		return ppp.AuthCHAPMD5
	}
	return ppp.AuthNone // 4 no authentication; 5 MS-CHAPv1 is not supported: the LNS authenticates itself
}

// pppSession adapts a PPP engine handle to what the L2TP engine needs.
type pppSession struct{ h *ppp.Handle }

func (s pppSession) Done() <-chan struct{} { return s.h.Done() }
func (s pppSession) Stop(reason string)    { s.h.Stop(reason) }
func (s pppSession) Reason() string        { return s.h.Result().Reason }

func (s pppSession) info() ppp.SessionInfo {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	i, _ := s.h.Info(ctx)
	return i
}

func (s pppSession) Interface() string { return s.info().Interface }

func (s pppSession) User() string {
	if u := s.info().User; u != "" {
		return u
	}
	return s.h.Result().User
}

// lacForPPPoE lets the PPPoE engine place LAC calls on the L2TP engine.
type lacForPPPoE struct{ e *l2tp.Engine }

func (l lacForPPPoE) PlaceCall(ctx context.Context, c pppoe.LACCall) (pppoe.LACSession, error) {
	req := l2tp.CallRequest{
		Tunnel: c.Tunnel, Backup: c.Backup,
		CallingNumber: c.CallingNumber, CalledNumber: c.CalledNumber, SubAddress: c.SubAddress,
		ConnectSpeed: c.ConnectSpeed,
		Info:         l2tp.CallInfo(c.Info),
	}
	if p := c.ProxyLCP; p != nil {
		req.ProxyLCP = &l2tp.ProxyLCP{InitialReceived: p.InitialReceived, LastSent: p.LastSent, LastReceived: p.LastReceived}
	}
	if p := c.ProxyAuth; p != nil {
		req.ProxyAuth = &l2tp.ProxyAuth{Type: p.Type, Name: p.Name, Challenge: p.Challenge, ID: p.ID, Response: p.Response}
	}
	call, err := l.e.PlaceCall(ctx, req)
	if err != nil {
		return nil, err
	}
	return lacCall{call}, nil
}

// lacCall adapts an L2TP call to what the PPPoE engine needs.
type lacCall struct{ *l2tp.Call }

func (c lacCall) Reason() string { return c.Result().Reason }
