package pppoe

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/probox/probox/config"
	"github.com/probox/probox/kernel"
	"github.com/probox/probox/ppp"
)

// LAC places the L2TP calls that carry PPPoE sessions to an LNS. The PPPoE engine defines
// it in its own terms so that it does not depend on the L2TP engine; main.go adapts the
// L2TP engine to it.
type LAC interface {
	// PlaceCall places an incoming call (RFC 2661 §7.4.1: ICRQ, ICRP, ICCN) on the
	// configured tunnel req.Tunnel, opening the tunnel on demand, and returns once the
	// call is connected (the ICCN sent): the engine then bridges the call's channel at
	// once, before the LNS, which starts when the ICCN reaches it, can send. Frames the
	// LNS sends earlier still reach the subscriber, but possibly out of order. PlaceCall
	// must return promptly when ctx ends (the engine bounds each call by
	// pppoe.lac_timeout and cancels it when the subscriber leaves), hanging up a call it
	// was placing. An error means no call exists.
	PlaceCall(ctx context.Context, req LACCall) (LACSession, error)
}

// LACSession is a connected LAC call.
type LACSession interface {
	// Channel is the L2TP session's PPP channel, which the engine bridges to the PPPoE
	// session's channel. The LAC owns it: it closes it when the call ends.
	Channel() kernel.Channel
	// Done is closed when the call has ended (CDN either way, the tunnel gone, Hangup).
	Done() <-chan struct{}
	// Hangup ends the call (CDN result 1, loss of carrier: the subscriber left, RFC 2661
	// §4.4.2). It may block briefly while the CDN is sent; calls after the end do
	// nothing.
	Hangup(reason string)
	// Reason says why the call ended, once Done is closed.
	Reason() string
	// TunnelID and SessionID are our L2TP IDs of the call.
	TunnelID() uint32
	SessionID() uint32
}

// LACCall asks the LAC for a call.
type LACCall struct {
	// Tunnel is the configured tunnel ([tunnel.NAME]) to place the call on.
	Tunnel string
	// Backup is a configured tunnel the LAC may try itself when Tunnel fails. The PPPoE
	// engine leaves it empty: it tries the backup with a second PlaceCall, so that each
	// attempt is bounded, counted and logged on its own.
	Backup string
	// ProxyLCP and ProxyAuth are the LCP state and authentication the AC took from the
	// subscriber, for the ICCN's proxy AVPs (RFC 2661 §4.4.5), so that the LNS can take
	// over without renegotiating. Nil when not available.
	ProxyLCP  *ProxyLCP
	ProxyAuth *ProxyAuth
	// CallingNumber is the subscriber's access line: the Agent-Circuit-Id when the access
	// node reported one (RFC 4679), else the client's MAC address. CalledNumber is the
	// PPPoE service name. SubAddress is left empty. All go into the ICRQ (RFC 2661
	// §4.4.4).
	CallingNumber, CalledNumber, SubAddress string
	// ConnectSpeed is the (Tx) Connect Speed of the ICCN in bits per second: the access
	// line's actual downstream rate when reported (RFC 4679), else 0 (unknown; the LAC
	// picks a value).
	ConnectSpeed uint64
	// Info describes the subscriber for the L2TP engine's events and hooks.
	Info CallInfo
}

// CallInfo describes the subscriber of a LAC call.
type CallInfo struct {
	User, CallingMAC, Service, CircuitID, RemoteID string
}

// ProxyLCP holds the options (without the LCP header) of the Initial Received, Last Sent
// and Last Received LCP Configure-Requests (RFC 2661 §4.4.5, AVPs 26, 27 and 28).
type ProxyLCP struct {
	InitialReceived, LastSent, LastReceived []byte
}

// Proxy Authen Type values (RFC 2661 §4.4.5, AVP 29).
const (
	ProxyAuthenCHAP uint16 = 2 // PPP CHAP (also carries MS-CHAPv2: the LNS tells them apart)
	ProxyAuthenPAP  uint16 = 3
	ProxyAuthenNone uint16 = 4
)

// ProxyAuth is the authentication the AC took from the subscriber (RFC 2661 §4.4.5, AVPs
// 29 to 33).
type ProxyAuth struct {
	Type      uint16 // ProxyAuthenCHAP, ProxyAuthenPAP or ProxyAuthenNone
	Name      string
	Challenge []byte
	ID        uint8
	Response  []byte
}

// String prints no response (a PAP password).
func (p ProxyAuth) String() string {
	return fmt.Sprintf("ProxyAuth{type=%d name=%q id=%d challenge=[%d octets] response=[%d octets]}",
		p.Type, p.Name, p.ID, len(p.Challenge), len(p.Response))
}

// GoString keeps %#v from printing the response.
func (p ProxyAuth) GoString() string { return "pppoe." + p.String() }

// proxyAuthOf converts what the PPP engine took to the L2TP AVP form.
func proxyAuthOf(a ppp.ProxyAuth) *ProxyAuth {
	t := ProxyAuthenNone
	switch a.Method {
	case ppp.AuthPAP:
		t = ProxyAuthenPAP
	case ppp.AuthCHAPMD5, ppp.AuthMSCHAPv2:
		t = ProxyAuthenCHAP
	}
	return &ProxyAuth{Type: t, Name: a.Name, Challenge: a.Challenge, ID: a.ID, Response: a.Response}
}

// service is a [pppoe.service] block as a session uses it.
type service struct {
	name          string // the block's name; "" when no service is configured
	route         config.RouteKind
	profile       string
	tunnel        string
	backup        string
	localFallback bool
}

// realmRoute is a [pppoe.route] block.
type realmRoute struct {
	name, realm, tunnel, backup string
}

// router makes the routing decision of sessions. It is immutable: a reload makes a new
// one, and each session keeps the router of its creation.
type router struct {
	services map[string]service
	any      *service // the service named "any"
	first    *service // the first service in name order
	routes   []realmRoute
}

// anyService is the service name that serves requests for any service (config.PPPoE).
const anyService = "any"

func newRouter(c *config.Config) *router {
	r := &router{services: map[string]service{}}
	names := make([]string, 0, len(c.PPPoE.Services))
	for name := range c.PPPoE.Services {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		s := c.PPPoE.Services[name]
		route := s.Route
		if route == "" {
			route = config.RouteLocal
		}
		profile := s.PPPProfile
		if profile == "" {
			profile = config.DefaultProfile
		}
		r.services[name] = service{name: name, route: route, profile: profile, tunnel: s.Tunnel, backup: s.Backup, localFallback: s.LocalFallback}
	}
	if s, ok := r.services[anyService]; ok {
		r.any = &s
	}
	if len(names) > 0 {
		s := r.services[names[0]]
		r.first = &s
	}
	rnames := make([]string, 0, len(c.PPPoE.Routes))
	for name := range c.PPPoE.Routes {
		rnames = append(rnames, name)
	}
	slices.Sort(rnames)
	for _, name := range rnames {
		rt := c.PPPoE.Routes[name]
		r.routes = append(r.routes, realmRoute{name: name, realm: rt.Realm, tunnel: rt.Tunnel, backup: rt.Backup})
	}
	return r
}

// serviceFor returns the service that serves a request for the Service-Name name, which
// the AC accepted: the service of that name; else the service "any"; for the empty name
// (any service, RFC 2516 §5.1) the service "any" or else the first service in name order;
// with no service configured at all, local termination with the default PPP profile.
func (r *router) serviceFor(name string) service {
	if s, ok := r.services[name]; ok && name != "" {
		return s
	}
	if r.any != nil {
		return *r.any
	}
	if r.first != nil {
		return *r.first
	}
	return service{route: config.RouteLocal, profile: config.DefaultProfile}
}

// offered lists the service names the AC offers by name (every service but "any") and
// whether it accepts any name.
func (r *router) offered() (names []string, acceptAny bool) {
	for name := range r.services {
		if name == anyService {
			acceptAny = true
			continue
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return names, acceptAny
}

// realmOf returns the realm of a username: what follows its last '@' ("" when none).
func realmOf(user string) string {
	if i := strings.LastIndexByte(user, '@'); i >= 0 {
		return user[i+1:]
	}
	return ""
}

// tunnelsFor returns the configured tunnels to try, in order, for a LAC or realm session of
// user, and the name of the realm route that chose them ("" for a lac service). It reports
// false when a realm service finds no route for the user's realm (matched without regard
// to case, as DNS names are).
func (r *router) tunnelsFor(s service, user string) (route string, tunnels []string, ok bool) {
	pair := func(t, b string) []string {
		if b == "" || b == t {
			return []string{t}
		}
		return []string{t, b}
	}
	switch s.route {
	case config.RouteLAC:
		return "", pair(s.tunnel, s.backup), true
	case config.RouteRealm:
		realm := realmOf(user)
		if realm == "" {
			return "", nil, false
		}
		for _, rt := range r.routes {
			if strings.EqualFold(rt.realm, realm) {
				return rt.name, pair(rt.tunnel, rt.backup), true
			}
		}
	}
	return "", nil, false
}
