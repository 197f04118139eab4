package pppoe

import (
	"bytes"
	"cmp"
	"container/list"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"time"
)

// Defaults applied by NewAC to zero ACConfig fields.
const (
	DefaultMTU                 = 1500
	DefaultCookiePeriod        = 30 * time.Second
	DefaultPADIRateTable       = 4096
	DefaultDuplicatePADRWindow = 10 * time.Second
)

// ACConfig configures the access-concentrator discovery logic.
type ACConfig struct {
	// ACName is sent in every PADO and PADS (AC-Name tag). Required.
	ACName string
	// Services lists the service names offered. A PADI or PADR with the zero-length
	// Service-Name (any service) is always served; one naming a service is served when the
	// name is listed or AcceptAnyService is set. Names must be non-empty and distinct.
	Services []string
	// AcceptAnyService makes the AC offer (PADO) and accept (PADS) service names it does not
	// list, echoing the requested name.
	AcceptAnyService bool
	// Interfaces holds per-interface settings keyed by interface name. An interface not listed
	// uses the defaults.
	Interfaces map[string]ACInterface

	// MaxSessions caps the live sessions in total, MaxSessionsPerInterface those on one
	// interface, and MaxSessionsPerMAC those of one host, a host being one MAC address on one
	// interface and VLAN pair (a MAC address identifies a host only within its broadcast
	// domain). Zero means no limit. A PADI meeting a full limit gets no PADO (RFC 2516 §5.2:
	// an AC that cannot serve a PADI must not answer it); a PADR gets a PADS with
	// AC-System-Error.
	MaxSessions             int
	MaxSessionsPerInterface int
	MaxSessionsPerMAC       int

	// PADIRate is the sustained rate of PADIs per second answered for one host, PADIBurst the
	// bucket depth (default 1 when PADIRate is set). Zero PADIRate disables rate limiting.
	PADIRate  float64
	PADIBurst int
	// PADIRateTable bounds the number of hosts whose token buckets are remembered (least
	// recently seen evicted first), so a PADI flood from random MAC addresses cannot grow
	// memory. Default DefaultPADIRateTable.
	PADIRateTable int

	// CookiePeriod is the AC-Cookie time bucket: a cookie is accepted for one to two periods.
	// Default DefaultCookiePeriod.
	CookiePeriod time.Duration
	// DuplicatePADRWindow is how long after a session was created an identical PADR (same
	// host, cookie, Host-Uniq, Relay-Session-Id and service) is taken as a retransmission and
	// answered with the same PADS instead of a second session. Default
	// DefaultDuplicatePADRWindow.
	DuplicatePADRWindow time.Duration
}

// ACInterface holds per-interface settings.
type ACInterface struct {
	// MTU is the interface's Ethernet payload size, default DefaultMTU. It bounds the PADO and
	// PADS the AC sends and the PPP-Max-Payload (RFC 4638) it agrees to (MTU - 8).
	MTU int
	// MaxSessions caps the live sessions on this interface; 0 leaves the cap to
	// ACConfig.MaxSessionsPerInterface.
	MaxSessions int
}

// Validate checks c, naming the offending field.
func (c *ACConfig) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("pppoe: ACConfig.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.ACName == "" {
		bad("ACName", "must not be empty")
	}
	seen := make(map[string]bool, len(c.Services))
	for i, s := range c.Services {
		switch {
		case s == "":
			bad(fmt.Sprintf("Services[%d]", i), "must not be empty (the empty service name is always accepted)")
		case seen[s]:
			bad(fmt.Sprintf("Services[%d]", i), "duplicate service name %q", s)
		}
		seen[s] = true
	}
	for name, ifc := range c.Interfaces {
		if ifc.MTU != 0 && (ifc.MTU < 128 || ifc.MTU > 0xffff) {
			bad(fmt.Sprintf("Interfaces[%q].MTU", name), "%d out of range 128..65535", ifc.MTU)
		}
		if ifc.MaxSessions < 0 {
			bad(fmt.Sprintf("Interfaces[%q].MaxSessions", name), "must not be negative")
		}
	}
	for _, l := range []struct {
		name string
		v    int
	}{
		{"MaxSessions", c.MaxSessions},
		{"MaxSessionsPerInterface", c.MaxSessionsPerInterface},
		{"MaxSessionsPerMAC", c.MaxSessionsPerMAC},
		{"PADIBurst", c.PADIBurst},
		{"PADIRateTable", c.PADIRateTable},
	} {
		if l.v < 0 {
			bad(l.name, "must not be negative")
		}
	}
	if c.PADIRate < 0 || math.IsNaN(c.PADIRate) || math.IsInf(c.PADIRate, 0) {
		bad("PADIRate", "must be a finite non-negative number")
	}
	if c.CookiePeriod < 0 {
		bad("CookiePeriod", "must not be negative")
	}
	if c.DuplicatePADRWindow < 0 {
		bad("DuplicatePADRWindow", "must not be negative")
	}
	// A PADO carries the AC-Name, every service, a cookie and the host's echoed tags; keep
	// 64 bytes of room for the echoes on the smallest interface.
	fixed := HeaderLen + 4 + len(c.ACName) + 4 + CookieLen + 4 + 2
	for _, s := range c.Services {
		fixed += 4 + len(s)
	}
	if mtu := c.minMTU(); fixed+64 > mtu {
		bad("Services", "AC-Name and service names need %d bytes, more than a PADO on a %d-byte MTU allows", fixed, mtu)
	}
	return errors.Join(errs...)
}

func (c *ACConfig) minMTU() int {
	m := DefaultMTU
	for _, ifc := range c.Interfaces {
		if ifc.MTU != 0 && ifc.MTU < m {
			m = ifc.MTU
		}
	}
	return m
}

// Inbound is a discovery frame (ether type 0x8863) handed over by the data plane.
type Inbound struct {
	Interface string // receiving interface
	Src       MAC    // Ethernet source address
	VLANs     VLANs  // VLAN tags the frame carried (from the frame or from PACKET_AUXDATA)
	Payload   []byte // Ethernet payload: PPPoE header and tags; trailing padding is allowed
}

// Outbound is a discovery frame for the data plane to send with ether type 0x8863, the
// interface's own source address and the given VLAN tags.
type Outbound struct {
	Interface string
	Dst       MAC
	VLANs     VLANs
	Payload   []byte // PPPoE header and tags
}

// Session is the record of a PPPoE session the AC established.
type Session struct {
	Interface   string
	ID          uint16 // PPPoE session ID, unique among live sessions on Interface
	Peer        MAC
	VLANs       VLANs
	ServiceName string // the service the host requested ("" for any)
	// HostUniq and RelaySessionID are the host's and the relay agent's tags from the PADR,
	// nil when absent.
	HostUniq       []byte
	RelaySessionID []byte
	// PPPMaxPayload is the PPP payload agreed per RFC 4638, 0 when the host did not ask or
	// the interface MTU does not allow it (the PPP MRU is then at most 1492).
	PPPMaxPayload uint16
	// AccessLine holds the Broadband Forum tag of the PADR (circuit ID, remote ID, line
	// rates) when HasAccessLine is set.
	AccessLine    AccessLine
	HasAccessLine bool
	Created       time.Time
}

// Outcome says what the AC did with an inbound frame.
type Outcome uint8

// Outcomes of AC.Handle.
const (
	OutcomeDropped     Outcome = iota + 1 // nothing sent; Reason says why
	OutcomeOffered                        // PADO sent
	OutcomeConfirmed                      // PADS sent; a new session was created
	OutcomeReconfirmed                    // PADS re-sent for a retransmitted PADR; no new session
	OutcomeRefused                        // PADS with an error tag sent; Reason says why
	OutcomeTerminated                     // a PADT from the host ended a session
)

// String returns a short name usable as a metric label.
func (o Outcome) String() string {
	switch o {
	case OutcomeDropped:
		return "dropped"
	case OutcomeOffered:
		return "offered"
	case OutcomeConfirmed:
		return "confirmed"
	case OutcomeReconfirmed:
		return "reconfirmed"
	case OutcomeRefused:
		return "refused"
	case OutcomeTerminated:
		return "terminated"
	}
	return fmt.Sprintf("outcome(%d)", uint8(o))
}

// Reason says why a frame was dropped or refused.
type Reason uint8

// Reasons of AC.Handle.
const (
	ReasonNone           Reason = iota
	ReasonMalformed             // the packet does not parse or breaks RFC 2516 §5; Err says how
	ReasonBadSource             // the source MAC is zero or a group address
	ReasonUnexpectedCode        // a PADO, PADS or unknown code sent to the AC
	ReasonRateLimited           // the host exceeded PADIRate
	ReasonUnknownService        // the service is not offered (PADS: Service-Name-Error)
	ReasonLimitTotal            // MaxSessions reached (PADS: AC-System-Error)
	ReasonLimitInterface        // MaxSessionsPerInterface reached (PADS: AC-System-Error)
	ReasonLimitMAC              // MaxSessionsPerMAC reached (PADS: AC-System-Error)
	ReasonCookieMissing         // PADR without AC-Cookie
	ReasonCookieInvalid         // PADR with a cookie this AC did not make for this host
	ReasonCookieExpired         // PADR with an old cookie of ours (PADS: Generic-Error)
	ReasonNoSessionID           // no session ID free or the random source failed (PADS: AC-System-Error)
	ReasonUnknownSession        // PADT for no live session of this host
	ReasonReplyTooLarge         // the reply would exceed the interface MTU
)

// String returns a short name usable as a metric label.
func (r Reason) String() string {
	switch r {
	case ReasonNone:
		return "none"
	case ReasonMalformed:
		return "malformed"
	case ReasonBadSource:
		return "bad_source"
	case ReasonUnexpectedCode:
		return "unexpected_code"
	case ReasonRateLimited:
		return "rate_limited"
	case ReasonUnknownService:
		return "unknown_service"
	case ReasonLimitTotal:
		return "limit_total"
	case ReasonLimitInterface:
		return "limit_interface"
	case ReasonLimitMAC:
		return "limit_mac"
	case ReasonCookieMissing:
		return "cookie_missing"
	case ReasonCookieInvalid:
		return "cookie_invalid"
	case ReasonCookieExpired:
		return "cookie_expired"
	case ReasonNoSessionID:
		return "no_session_id"
	case ReasonUnknownSession:
		return "unknown_session"
	case ReasonReplyTooLarge:
		return "reply_too_large"
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// ACResult is the decision of AC.Handle for one inbound frame.
type ACResult struct {
	Outcome Outcome
	// Reason is set for OutcomeDropped and OutcomeRefused.
	Reason Reason
	// Err gives detail: the parse error for ReasonMalformed, the cookie or random-source error,
	// and, for OutcomeConfirmed, why a Broadband Forum tag in the PADR could not be decoded
	// (the session is then created without AccessLine).
	Err error
	// Reply is the frame to send, nil when none.
	Reply *Outbound
	// Session is the session created (OutcomeConfirmed), found again (OutcomeReconfirmed) or
	// ended (OutcomeTerminated). Its slices are shared with the AC: do not modify them.
	Session Session
	// Message is the text of the first error tag of a PADT from the host, if any.
	Message string
}

// ErrNoSession is returned by AC.Terminate for a session that is not live.
var ErrNoSession = errors.New("pppoe: no such session")

// AC is the pure discovery logic of a PPPoE access concentrator (RFC 2516 §5, server side).
// It keeps the table of live sessions, the per-host PADI token buckets and the AC-Cookie key,
// and does no I/O: the engine feeds it received discovery frames with Handle and sends the
// frames it returns. Time is passed in explicitly.
//
// An AC is not safe for concurrent use: one goroutine (the PPPoE engine) owns it.
type AC struct {
	cfg      ACConfig
	services map[string]bool
	cookies  *CookieSigner
	rand     io.Reader
	limiter  *padiLimiter

	// sessions indexes the live sessions by interface and session ID; byPeer lists each
	// host's sessions; perIface counts sessions per interface. All three always agree.
	sessions map[sessionKey]*acSession
	byPeer   map[peerKey][]*acSession
	perIface map[string]int
}

type sessionKey struct {
	iface string
	id    uint16
}

type peerKey struct {
	iface string
	vlans VLANs
	mac   MAC
}

type acSession struct {
	Session
	cookie []byte // the AC-Cookie of the PADR, to recognise retransmissions
}

// NewAC returns an AC for cfg (defaults applied to zero fields). It reads the AC-Cookie key
// from rand and later draws random session IDs from it; pass crypto/rand.Reader outside tests.
func NewAC(cfg ACConfig, rand io.Reader) (*AC, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.applyDefaults()
	cookies, err := NewCookieSigner(rand, cfg.CookiePeriod)
	if err != nil {
		return nil, err
	}
	ac := &AC{
		cookies:  cookies,
		rand:     rand,
		sessions: make(map[sessionKey]*acSession),
		byPeer:   make(map[peerKey][]*acSession),
		perIface: make(map[string]int),
	}
	ac.setConfig(cfg)
	return ac, nil
}

// applyDefaults fills zero fields with their defaults and copies the slices and maps.
func (c *ACConfig) applyDefaults() {
	if c.CookiePeriod == 0 {
		c.CookiePeriod = DefaultCookiePeriod
	}
	if c.DuplicatePADRWindow == 0 {
		c.DuplicatePADRWindow = DefaultDuplicatePADRWindow
	}
	if c.PADIRateTable == 0 {
		c.PADIRateTable = DefaultPADIRateTable
	}
	if c.PADIBurst == 0 {
		c.PADIBurst = 1
	}
	c.Services = slices.Clone(c.Services)
	c.Interfaces = maps.Clone(c.Interfaces)
}

// setConfig installs cfg (validated, defaults applied). The PADI token buckets are kept
// when the rate settings did not change.
func (ac *AC) setConfig(cfg ACConfig) {
	old := ac.cfg
	ac.cfg = cfg
	ac.services = make(map[string]bool, len(cfg.Services))
	for _, s := range cfg.Services {
		ac.services[s] = true
	}
	switch {
	case cfg.PADIRate <= 0:
		ac.limiter = nil
	case ac.limiter == nil || old.PADIRate != cfg.PADIRate || old.PADIBurst != cfg.PADIBurst || old.PADIRateTable != cfg.PADIRateTable:
		ac.limiter = newPADILimiter(cfg.PADIRate, cfg.PADIBurst, cfg.PADIRateTable)
	}
}

// Reconfigure replaces the AC's settings with cfg (defaults applied to zero fields) while
// keeping its live sessions and its AC-Cookie key: cookies handed out before stay valid
// when CookiePeriod is unchanged (a new period moves the time buckets, so a host caught in
// between gets its PADR dropped and starts discovery again). Limits apply to new sessions
// only: sessions beyond a lowered limit stay. The PADI token buckets start afresh when the
// rate settings changed. On error nothing changes.
func (ac *AC) Reconfigure(cfg ACConfig) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg.applyDefaults()
	if cfg.CookiePeriod != ac.cfg.CookiePeriod {
		ac.cookies = &CookieSigner{key: ac.cookies.key, period: cfg.CookiePeriod}
	}
	ac.setConfig(cfg)
	return nil
}

// Handle decides what to do with a discovery frame received at time now:
//
//   - PADI: answer with a PADO to the host (AC-Name, the requested Service-Name first and
//     then the other offered ones, Host-Uniq and Relay-Session-Id echoed, a fresh AC-Cookie,
//     PPP-Max-Payload when asked for and the MTU allows), or drop it when the host is rate
//     limited, the service is not offered, or a session limit is full. No state is kept
//     beyond the host's token bucket.
//   - PADR: check the AC-Cookie (missing or forged: drop; expired: PADS with Generic-Error),
//     answer a retransmitted PADR with the same PADS, refuse an unknown service (PADS with
//     Service-Name-Error) or a full limit (PADS with AC-System-Error), otherwise allocate a
//     random session ID, record the session and answer with a PADS.
//   - PADT from the host of a live session: forget the session.
//   - Anything else: drop.
func (ac *AC) Handle(now time.Time, in Inbound) ACResult {
	if !in.Src.IsUnicast() {
		return dropped(ReasonBadSource, nil)
	}
	pkt, err := ParsePacket(in.Payload)
	if err != nil {
		return dropped(ReasonMalformed, err)
	}
	switch pkt.Code {
	case CodePADI:
		return ac.handlePADI(now, in, &pkt)
	case CodePADR:
		return ac.handlePADR(now, in, &pkt)
	case CodePADT:
		return ac.handlePADT(in, &pkt)
	}
	return dropped(ReasonUnexpectedCode, fmt.Errorf("%w: %v sent to the AC", ErrCode, pkt.Code))
}

func dropped(r Reason, err error) ACResult {
	return ACResult{Outcome: OutcomeDropped, Reason: r, Err: err}
}

func (ac *AC) handlePADI(now time.Time, in Inbound, pkt *Packet) ACResult {
	key := peerKey{in.Interface, in.VLANs, in.Src}
	if !ac.limiter.allow(key, now) {
		return dropped(ReasonRateLimited, nil)
	}
	req := pkt.Tags.ServiceNames[0]
	if !ac.serves(req) {
		return dropped(ReasonUnknownService, nil)
	}
	if r := ac.checkLimits(key); r != ReasonNone {
		return dropped(r, nil)
	}
	offer := Packet{Code: CodePADO, Tags: Tags{
		ServiceNames:   ac.offered(req),
		ACName:         ac.cfg.ACName,
		HasACName:      true,
		HostUniq:       pkt.Tags.HostUniq,
		ACCookie:       ac.cookies.Make(now, in.Interface, in.VLANs, in.Src),
		RelaySessionID: pkt.Tags.RelaySessionID,
		PPPMaxPayload:  ac.maxPayload(in.Interface, pkt.Tags.PPPMaxPayload),
	}}
	return ac.reply(in, &offer, OutcomeOffered)
}

func (ac *AC) handlePADR(now time.Time, in Inbound, pkt *Packet) ACResult {
	key := peerKey{in.Interface, in.VLANs, in.Src}
	req := pkt.Tags.ServiceNames[0]
	switch err := ac.cookies.Verify(now, in.Interface, in.VLANs, in.Src, pkt.Tags.ACCookie); {
	case err == nil:
	case errors.Is(err, ErrCookieExpired):
		// The cookie is genuinely ours, so the sender is a real host that was too slow:
		// tell it to start again rather than let it retransmit in vain.
		return ac.refuse(in, pkt, ReasonCookieExpired, ErrorTag{TagGenericError, "AC-Cookie expired"}, err)
	case errors.Is(err, ErrCookieMissing):
		return dropped(ReasonCookieMissing, err)
	default:
		// Forged or foreign cookies get no answer: replying would serve spoofed floods.
		return dropped(ReasonCookieInvalid, err)
	}
	for _, s := range ac.byPeer[key] {
		if now.Sub(s.Created) < ac.cfg.DuplicatePADRWindow && s.ServiceName == req &&
			bytes.Equal(s.cookie, pkt.Tags.ACCookie) &&
			sameOptional(s.HostUniq, pkt.Tags.HostUniq) &&
			sameOptional(s.RelaySessionID, pkt.Tags.RelaySessionID) {
			res := ac.reply(in, ac.pads(&s.Session), OutcomeReconfirmed)
			if res.Outcome == OutcomeReconfirmed {
				res.Session = s.Session
			}
			return res
		}
	}
	if !ac.serves(req) {
		return ac.refuse(in, pkt, ReasonUnknownService, ErrorTag{TagServiceNameError, "service not offered"}, nil)
	}
	if r := ac.checkLimits(key); r != ReasonNone {
		return ac.refuse(in, pkt, r, ErrorTag{TagACSystemError, "session limit reached"}, nil)
	}
	id, err := ac.allocID(in.Interface)
	if err != nil {
		return ac.refuse(in, pkt, ReasonNoSessionID, ErrorTag{TagACSystemError, "no session available"}, err)
	}
	s := &acSession{
		Session: Session{
			Interface:      in.Interface,
			ID:             id,
			Peer:           in.Src,
			VLANs:          in.VLANs,
			ServiceName:    req,
			HostUniq:       pkt.Tags.HostUniq,
			RelaySessionID: pkt.Tags.RelaySessionID,
			PPPMaxPayload:  ac.maxPayload(in.Interface, pkt.Tags.PPPMaxPayload),
			Created:        now,
		},
		cookie: pkt.Tags.ACCookie,
	}
	line, ok, lineErr := pkt.Tags.AccessLine()
	if ok && lineErr == nil {
		s.AccessLine, s.HasAccessLine = line, true
	}
	res := ac.reply(in, ac.pads(&s.Session), OutcomeConfirmed)
	if res.Outcome != OutcomeConfirmed {
		return res
	}
	ac.insert(s)
	res.Session = s.Session
	res.Err = lineErr
	return res
}

func (ac *AC) handlePADT(in Inbound, pkt *Packet) ACResult {
	s := ac.sessions[sessionKey{in.Interface, pkt.SessionID}]
	if s == nil || s.Peer != in.Src || s.VLANs != in.VLANs {
		// A PADT naming another host's session must not end it.
		return dropped(ReasonUnknownSession, nil)
	}
	ac.remove(s)
	res := ACResult{Outcome: OutcomeTerminated, Session: s.Session}
	if e, ok := pkt.Tags.FirstError(); ok {
		res.Message = e.Message
	}
	return res
}

// pads builds the PADS confirming s (RFC 2516 §5.4).
func (ac *AC) pads(s *Session) *Packet {
	return &Packet{Code: CodePADS, SessionID: s.ID, Tags: Tags{
		ServiceNames:   []string{s.ServiceName},
		ACName:         ac.cfg.ACName,
		HasACName:      true,
		HostUniq:       s.HostUniq,
		RelaySessionID: s.RelaySessionID,
		PPPMaxPayload:  s.PPPMaxPayload,
	}}
}

// refuse answers a PADR with a PADS of session ID 0 carrying an error tag (RFC 2516 §5.4).
func (ac *AC) refuse(in Inbound, pkt *Packet, r Reason, e ErrorTag, err error) ACResult {
	p := Packet{Code: CodePADS, Tags: Tags{
		ServiceNames:   pkt.Tags.ServiceNames[:1],
		ACName:         ac.cfg.ACName,
		HasACName:      true,
		HostUniq:       pkt.Tags.HostUniq,
		RelaySessionID: pkt.Tags.RelaySessionID,
		Errors:         []ErrorTag{e},
	}}
	res := ac.reply(in, &p, OutcomeRefused)
	if res.Outcome == OutcomeRefused {
		res.Reason, res.Err = r, err
	}
	return res
}

// reply encodes p as a frame back to the sender of in.
func (ac *AC) reply(in Inbound, p *Packet, o Outcome) ACResult {
	b, err := p.MarshalBinary()
	if err != nil {
		return dropped(ReasonReplyTooLarge, err)
	}
	if mtu := ac.mtu(in.Interface); len(b) > mtu {
		return dropped(ReasonReplyTooLarge, fmt.Errorf("pppoe: %v of %d bytes exceeds the %d-byte MTU of %s", p.Code, len(b), mtu, in.Interface))
	}
	return ACResult{Outcome: o, Reply: &Outbound{Interface: in.Interface, Dst: in.Src, VLANs: in.VLANs, Payload: b}}
}

func (ac *AC) serves(name string) bool {
	return name == "" || ac.cfg.AcceptAnyService || ac.services[name]
}

// offered lists the Service-Names of a PADO: the requested one first (RFC 2516 §5.2: "a
// Service-Name TAG identical to the one in the PADI"), then the other services offered.
func (ac *AC) offered(req string) []string {
	names := make([]string, 0, 1+len(ac.cfg.Services))
	names = append(names, req)
	for _, s := range ac.cfg.Services {
		if s != req {
			names = append(names, s)
		}
	}
	return names
}

func (ac *AC) mtu(iface string) int {
	if m := ac.cfg.Interfaces[iface].MTU; m != 0 {
		return m
	}
	return DefaultMTU
}

// maxPayload returns the PPP-Max-Payload to agree to for a host asking for asked: the same
// value when the interface MTU fits it with the PPPoE header and PPP protocol field, else 0
// (no tag, so the host keeps the RFC 2516 MRU of 1492).
func (ac *AC) maxPayload(iface string, asked uint16) uint16 {
	if asked == 0 || int(asked)+HeaderLen+2 > ac.mtu(iface) {
		return 0
	}
	return asked
}

func (ac *AC) checkLimits(key peerKey) Reason {
	switch {
	case ac.cfg.MaxSessions > 0 && len(ac.sessions) >= ac.cfg.MaxSessions:
		return ReasonLimitTotal
	case ac.ifaceLimit(key.iface) > 0 && ac.perIface[key.iface] >= ac.ifaceLimit(key.iface):
		return ReasonLimitInterface
	case ac.cfg.MaxSessionsPerMAC > 0 && len(ac.byPeer[key]) >= ac.cfg.MaxSessionsPerMAC:
		return ReasonLimitMAC
	}
	return ReasonNone
}

// ifaceLimit is the session cap of iface: its own, else MaxSessionsPerInterface (0: none).
func (ac *AC) ifaceLimit(iface string) int {
	if n := ac.cfg.Interfaces[iface].MaxSessions; n > 0 {
		return n
	}
	return ac.cfg.MaxSessionsPerInterface
}

// errNoFreeID is returned by allocID when every session ID of an interface is live.
var errNoFreeID = errors.New("pppoe: every session ID is in use")

// allocID picks a random session ID that is not 0, not 0xffff (RFC 2516 §4) and not live on
// iface. Random IDs make a new session unlikely to reuse the ID of one that just ended, whose
// stray frames could otherwise be taken for the new session's.
func (ac *AC) allocID(iface string) (uint16, error) {
	var b [2]byte
	for range 32 {
		if _, err := io.ReadFull(ac.rand, b[:]); err != nil {
			return 0, fmt.Errorf("pppoe: drawing a session ID: %w", err)
		}
		id := binary.BigEndian.Uint16(b[:])
		if id == 0 || id == ReservedSessionID {
			continue
		}
		if _, live := ac.sessions[sessionKey{iface, id}]; !live {
			return id, nil
		}
	}
	// The interface is nearly full: scan from the last random draw.
	start := binary.BigEndian.Uint16(b[:])
	for i := range 0xffff {
		id := uint16((int(start) + i) % 0xffff)
		if id == 0 {
			continue
		}
		if _, live := ac.sessions[sessionKey{iface, id}]; !live {
			return id, nil
		}
	}
	return 0, errNoFreeID
}

func (ac *AC) insert(s *acSession) {
	key := peerKey{s.Interface, s.VLANs, s.Peer}
	ac.sessions[sessionKey{s.Interface, s.ID}] = s
	ac.byPeer[key] = append(ac.byPeer[key], s)
	ac.perIface[s.Interface]++
}

func (ac *AC) remove(s *acSession) {
	key := peerKey{s.Interface, s.VLANs, s.Peer}
	delete(ac.sessions, sessionKey{s.Interface, s.ID})
	list := slices.DeleteFunc(ac.byPeer[key], func(x *acSession) bool { return x == s })
	if len(list) == 0 {
		delete(ac.byPeer, key)
	} else {
		ac.byPeer[key] = list
	}
	if ac.perIface[s.Interface]--; ac.perIface[s.Interface] <= 0 {
		delete(ac.perIface, s.Interface)
	}
}

// Terminate ends a live session on the AC's initiative and returns the PADT to send to the
// host (RFC 2516 §5.5), with a Generic-Error tag carrying message when it is not empty and
// the session's Relay-Session-Id, so a relay agent can forward it. It returns ErrNoSession
// when the session is not live.
func (ac *AC) Terminate(iface string, id uint16, message string) (Outbound, Session, error) {
	s := ac.sessions[sessionKey{iface, id}]
	if s == nil {
		return Outbound{}, Session{}, fmt.Errorf("%w: %s session 0x%04x", ErrNoSession, iface, id)
	}
	p := Packet{Code: CodePADT, SessionID: id, Tags: Tags{RelaySessionID: s.RelaySessionID}}
	if message != "" {
		p.Tags.Errors = []ErrorTag{{Type: TagGenericError, Message: message}}
	}
	b, err := p.MarshalBinary()
	if err != nil {
		return Outbound{}, Session{}, err
	}
	ac.remove(s)
	return Outbound{Interface: iface, Dst: s.Peer, VLANs: s.VLANs, Payload: b}, s.Session, nil
}

// Session returns the live session id on iface.
func (ac *AC) Session(iface string, id uint16) (Session, bool) {
	s := ac.sessions[sessionKey{iface, id}]
	if s == nil {
		return Session{}, false
	}
	return s.Session, true
}

// Sessions returns the live sessions ordered by interface and session ID.
func (ac *AC) Sessions() []Session {
	out := make([]Session, 0, len(ac.sessions))
	for _, s := range ac.sessions {
		out = append(out, s.Session)
	}
	slices.SortFunc(out, func(a, b Session) int {
		return cmp.Or(cmp.Compare(a.Interface, b.Interface), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// Len returns the number of live sessions.
func (ac *AC) Len() int { return len(ac.sessions) }

func sameOptional(a, b []byte) bool {
	return (a == nil) == (b == nil) && bytes.Equal(a, b)
}

// padiLimiter is a per-host token bucket whose table holds at most size hosts, evicting the
// least recently seen, so its memory is bounded whatever the number of source addresses.
type padiLimiter struct {
	rate, burst float64
	size        int
	lru         *list.List // of *padiBucket, most recently seen first
	index       map[peerKey]*list.Element
}

type padiBucket struct {
	key    peerKey
	tokens float64
	last   time.Time
}

func newPADILimiter(rate float64, burst, size int) *padiLimiter {
	return &padiLimiter{
		rate:  rate,
		burst: float64(burst),
		size:  size,
		lru:   list.New(),
		index: make(map[peerKey]*list.Element, size),
	}
}

// allow takes a token from the bucket of key at time now. A nil limiter allows everything.
func (l *padiLimiter) allow(key peerKey, now time.Time) bool {
	if l == nil {
		return true
	}
	var b *padiBucket
	if e, ok := l.index[key]; ok {
		l.lru.MoveToFront(e)
		b = e.Value.(*padiBucket)
		if dt := now.Sub(b.last); dt > 0 {
			b.tokens = min(l.burst, b.tokens+dt.Seconds()*l.rate)
			b.last = now
		}
	} else {
		if l.lru.Len() >= l.size {
			old := l.lru.Back()
			l.lru.Remove(old)
			delete(l.index, old.Value.(*padiBucket).key)
		}
		b = &padiBucket{key: key, tokens: l.burst, last: now}
		l.index[key] = l.lru.PushFront(b)
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// len returns the number of hosts remembered.
func (l *padiLimiter) len() int { return l.lru.Len() }
