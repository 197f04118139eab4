package pppoe

import (
	"errors"
	"fmt"
	"io"
	"time"
)

// Defaults applied by NewClient to zero ClientConfig fields.
const (
	DefaultClientTimeout    = time.Second
	DefaultClientMaxTimeout = 16 * time.Second
	DefaultPADIAttempts     = 6
	DefaultPADRAttempts     = 3
	hostUniqLen             = 8
	maxOffersKept           = 8
)

// ClientConfig configures a PPPoE client's discovery.
type ClientConfig struct {
	// Interface and VLANs are copied into every Outbound the client returns.
	Interface string
	VLANs     VLANs
	// ServiceName is the service asked for; "" asks for any service.
	ServiceName string
	// ACName, when set, restricts the choice to offers from the AC of that name.
	ACName string
	// PPPMaxPayload, when not 0, asks for a PPP payload above 1492 (RFC 4638).
	PPPMaxPayload uint16
	// Timeout is the wait after the first PADI (and the first PADR); each retransmission
	// doubles it (RFC 2516 §5.1, §5.3) up to MaxTimeout. Defaults DefaultClientTimeout and
	// DefaultClientMaxTimeout.
	Timeout, MaxTimeout time.Duration
	// PADIAttempts bounds the PADIs sent in total, PADRAttempts the PADRs sent to one chosen
	// AC before discovery starts over with a PADI. Defaults DefaultPADIAttempts and
	// DefaultPADRAttempts.
	PADIAttempts, PADRAttempts int
}

// ClientState is the state of a Client.
type ClientState uint8

// Client states (RFC 2516 §5, host side).
const (
	ClientIdle        ClientState = iota // not started
	ClientDiscovering                    // PADI sent, waiting for a PADO
	ClientRequesting                     // PADR sent to the chosen AC, waiting for its PADS
	ClientEstablished                    // PADS received: the session is up
	ClientFailed                         // discovery failed (timeout or refusal): final
	ClientTerminated                     // session or discovery ended (PADT or Close): final
)

// String returns the state name.
func (s ClientState) String() string {
	switch s {
	case ClientIdle:
		return "idle"
	case ClientDiscovering:
		return "discovering"
	case ClientRequesting:
		return "requesting"
	case ClientEstablished:
		return "established"
	case ClientFailed:
		return "failed"
	case ClientTerminated:
		return "terminated"
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// ClientEvent reports a change the owner must act on.
type ClientEvent uint8

// Client events.
const (
	EventNone        ClientEvent = iota
	EventEstablished             // the session is up: see Client.Session
	EventFailed                  // discovery failed: ClientResult.Err says why
	EventTerminated              // the established session ended
)

// String returns the event name.
func (e ClientEvent) String() string {
	switch e {
	case EventNone:
		return "none"
	case EventEstablished:
		return "established"
	case EventFailed:
		return "failed"
	case EventTerminated:
		return "terminated"
	}
	return fmt.Sprintf("event(%d)", uint8(e))
}

// TimerAction tells the owner what to do with the client's single retransmission timer.
type TimerAction uint8

// Timer actions.
const (
	TimerKeep  TimerAction = iota // leave the timer as it is
	TimerStart                    // (re)start the timer to fire after ClientResult.Timeout
	TimerStop                     // stop the timer
)

// String returns the action name.
func (a TimerAction) String() string {
	switch a {
	case TimerKeep:
		return "keep"
	case TimerStart:
		return "start"
	case TimerStop:
		return "stop"
	}
	return fmt.Sprintf("timer(%d)", uint8(a))
}

// ClientResult is what a Client call asks of its owner.
type ClientResult struct {
	// Send is the frame to send, nil when none.
	Send *Outbound
	// Timer and Timeout drive the retransmission timer; when it fires, call Client.Timeout.
	Timer   TimerAction
	Timeout time.Duration
	// Event is the change to act on.
	Event ClientEvent
	// Err is why discovery failed (EventFailed), the AC's error tag on a PADT
	// (EventTerminated, as a *PeerError, or nil), or why an inbound frame or call was ignored
	// (EventNone).
	Err error
}

// ClientSession describes the session a Client established.
type ClientSession struct {
	ID          uint16
	AC          MAC
	ACName      string
	ServiceName string // the Service-Name of the PADS
	// PPPMaxPayload is the PPP payload agreed per RFC 4638, 0 when not agreed (the PPP MRU is
	// then at most 1492).
	PPPMaxPayload  uint16
	RelaySessionID []byte
}

// Offer is a PADO the client received.
type Offer struct {
	AC           MAC
	ACName       string
	ServiceNames []string
	// Chosen reports whether the client sent its PADR to this AC.
	Chosen bool
}

// PeerError is an error tag received from the AC.
type PeerError struct {
	Code Code // the packet that carried it
	Tag  ErrorTag
}

// Error returns e's tag type and message.
func (e *PeerError) Error() string { return fmt.Sprintf("pppoe: %v from AC: %v", e.Code, e.Tag) }

// Errors of the client.
var (
	ErrDiscoveryTimeout = errors.New("pppoe: discovery timed out")
	ErrClientState      = errors.New("pppoe: not expected in this client state")
	ErrHostUniq         = errors.New("pppoe: Host-Uniq does not match ours")
	ErrWrongAC          = errors.New("pppoe: frame not from the chosen AC")
	ErrOfferMismatch    = errors.New("pppoe: offer does not match the wanted AC-Name or service")
)

// Client is the pure discovery state machine of a PPPoE host (RFC 2516 §5): it broadcasts a
// PADI, takes the first PADO matching the wanted service and AC name, sends a PADR to that
// AC and waits for its PADS, retransmitting with exponential backoff. It does no I/O and
// reads no clock: the owner sends the frames it returns, feeds it received discovery frames
// with Handle and its timer's expiries with Timeout, and (re)arms or stops the timer as each
// ClientResult says. Every PADO and PADS must echo the client's random Host-Uniq.
//
// A Client is single-use (a failed or terminated one stays so) and not safe for concurrent
// use.
type Client struct {
	cfg      ClientConfig
	hostUniq []byte
	state    ClientState

	padiSent, padrSent int
	chosen             *Packet // the PADO answered
	chosenMAC          MAC
	offers             []Offer
	session            ClientSession
}

// Validate checks c, naming the offending field.
func (c *ClientConfig) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("pppoe: ClientConfig.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.Timeout < 0 {
		bad("Timeout", "must not be negative")
	}
	if c.MaxTimeout < 0 {
		bad("MaxTimeout", "must not be negative")
	}
	if c.MaxTimeout != 0 && c.MaxTimeout < c.Timeout {
		bad("MaxTimeout", "%v is shorter than Timeout %v", c.MaxTimeout, c.Timeout)
	}
	if c.PADIAttempts < 0 {
		bad("PADIAttempts", "must not be negative")
	}
	if c.PADRAttempts < 0 {
		bad("PADRAttempts", "must not be negative")
	}
	// RFC 2516 §5.1: a PADI must leave room for a relay agent's Relay-Session-Id.
	padi := HeaderLen + 4 + len(c.ServiceName) + 4 + hostUniqLen
	if c.PPPMaxPayload != 0 {
		padi += 4 + 2
	}
	if padi > MaxPADILen {
		bad("ServiceName", "makes a PADI of %d bytes, more than %d", padi, MaxPADILen)
	}
	return errors.Join(errs...)
}

// NewClient returns a client for cfg (defaults applied to zero fields), drawing its Host-Uniq
// from rand.
func NewClient(cfg ClientConfig, rand io.Reader) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultClientTimeout
	}
	if cfg.MaxTimeout == 0 {
		cfg.MaxTimeout = max(DefaultClientMaxTimeout, cfg.Timeout)
	}
	if cfg.PADIAttempts == 0 {
		cfg.PADIAttempts = DefaultPADIAttempts
	}
	if cfg.PADRAttempts == 0 {
		cfg.PADRAttempts = DefaultPADRAttempts
	}
	c := &Client{cfg: cfg, hostUniq: make([]byte, hostUniqLen)}
	if _, err := io.ReadFull(rand, c.hostUniq); err != nil {
		return nil, fmt.Errorf("pppoe: drawing Host-Uniq: %w", err)
	}
	return c, nil
}

// State returns the current state.
func (c *Client) State() ClientState { return c.state }

// HostUniq returns the client's Host-Uniq value.
func (c *Client) HostUniq() []byte { return c.hostUniq }

// Session returns the established session; it reports false before EventEstablished.
func (c *Client) Session() (ClientSession, bool) {
	return c.session, c.session.ID != 0
}

// Offers returns the PADOs received so far (the first few), in arrival order.
func (c *Client) Offers() []Offer { return c.offers }

// Start sends the first PADI. It is only valid in ClientIdle.
func (c *Client) Start() ClientResult {
	if c.state != ClientIdle {
		return ClientResult{Err: fmt.Errorf("%w: Start in %v", ErrClientState, c.state)}
	}
	return c.sendPADI()
}

// Timeout handles the expiry of the retransmission timer: it resends the PADI or PADR with
// twice the previous wait, starts discovery over when the chosen AC did not answer
// PADRAttempts PADRs, and fails when PADIAttempts PADIs went unanswered. In other states it
// does nothing (a timer that fired while a reply was being handled).
func (c *Client) Timeout() ClientResult {
	switch c.state {
	case ClientDiscovering:
		if c.padiSent >= c.cfg.PADIAttempts {
			return c.fail(fmt.Errorf("%w: no PADO after %d PADI(s)", ErrDiscoveryTimeout, c.padiSent))
		}
		return c.sendPADI()
	case ClientRequesting:
		if c.padrSent < c.cfg.PADRAttempts {
			return c.sendPADR()
		}
		if c.padiSent >= c.cfg.PADIAttempts {
			return c.fail(fmt.Errorf("%w: no PADS after %d PADR(s) and %d PADI(s)", ErrDiscoveryTimeout, c.padrSent, c.padiSent))
		}
		// The chosen AC went silent: look for an AC again (RFC 2516 §5.3 leaves the
		// number of PADR retries to the host).
		c.chosen = nil
		return c.sendPADI()
	}
	return ClientResult{}
}

// Handle processes a received discovery frame: a PADO while discovering, a PADS from the
// chosen AC while requesting, a PADT for the established session. Other frames are ignored
// with Err saying why and the timer kept.
func (c *Client) Handle(in Inbound) ClientResult {
	if !in.Src.IsUnicast() {
		return ignored(fmt.Errorf("pppoe: source %v is not a unicast address", in.Src))
	}
	pkt, err := ParsePacket(in.Payload)
	if err != nil {
		return ignored(err)
	}
	switch {
	case pkt.Code == CodePADO && c.state == ClientDiscovering:
		return c.handlePADO(in, &pkt)
	case pkt.Code == CodePADS && c.state == ClientRequesting:
		return c.handlePADS(in, &pkt)
	case pkt.Code == CodePADT && c.state == ClientEstablished:
		return c.handlePADT(in, &pkt)
	}
	return ignored(fmt.Errorf("%w: %v in %v", ErrClientState, pkt.Code, c.state))
}

// Close ends the client. An established session is torn down with a PADT to the AC, carrying
// message in a Generic-Error tag when it is not empty (EventTerminated); discovery in
// progress is abandoned with the timer stopped.
func (c *Client) Close(message string) ClientResult {
	switch c.state {
	case ClientEstablished:
		p := Packet{Code: CodePADT, SessionID: c.session.ID, Tags: Tags{RelaySessionID: c.session.RelaySessionID}}
		if message != "" {
			p.Tags.Errors = []ErrorTag{{Type: TagGenericError, Message: message}}
		}
		b, err := p.MarshalBinary()
		c.state = ClientTerminated
		res := ClientResult{Timer: TimerStop, Event: EventTerminated, Err: err}
		if err == nil {
			res.Send = c.out(c.session.AC, b)
		}
		return res
	case ClientIdle, ClientDiscovering, ClientRequesting:
		c.state = ClientTerminated
		return ClientResult{Timer: TimerStop}
	}
	return ClientResult{Err: fmt.Errorf("%w: Close in %v", ErrClientState, c.state)}
}

func ignored(err error) ClientResult { return ClientResult{Err: err} }

func (c *Client) fail(err error) ClientResult {
	c.state = ClientFailed
	return ClientResult{Timer: TimerStop, Event: EventFailed, Err: err}
}

func (c *Client) out(dst MAC, payload []byte) *Outbound {
	return &Outbound{Interface: c.cfg.Interface, Dst: dst, VLANs: c.cfg.VLANs, Payload: payload}
}

// backoff returns the wait after the n-th transmission (n ≥ 1): Timeout doubled n-1 times,
// at most MaxTimeout.
func (c *Client) backoff(n int) time.Duration {
	d := c.cfg.Timeout
	for i := 1; i < n && d < c.cfg.MaxTimeout; i++ {
		d *= 2
	}
	return min(d, c.cfg.MaxTimeout)
}

func (c *Client) padi() ([]byte, error) {
	p := Packet{Code: CodePADI, Tags: Tags{
		ServiceNames:  []string{c.cfg.ServiceName},
		HostUniq:      c.hostUniq,
		PPPMaxPayload: c.cfg.PPPMaxPayload,
	}}
	return p.MarshalBinary()
}

func (c *Client) sendPADI() ClientResult {
	b, err := c.padi()
	if err != nil { // cannot happen: Validate bounds the PADI size
		return c.fail(err)
	}
	c.state = ClientDiscovering
	c.padiSent++
	c.padrSent = 0
	return ClientResult{Send: c.out(BroadcastMAC, b), Timer: TimerStart, Timeout: c.backoff(c.padiSent)}
}

func (c *Client) sendPADR() ClientResult {
	// RFC 2516 §5.3: exactly one Service-Name; AC-Cookie and Relay-Session-Id returned
	// unmodified.
	p := Packet{Code: CodePADR, Tags: Tags{
		ServiceNames:   []string{c.cfg.ServiceName},
		HostUniq:       c.hostUniq,
		ACCookie:       c.chosen.Tags.ACCookie,
		RelaySessionID: c.chosen.Tags.RelaySessionID,
		PPPMaxPayload:  c.cfg.PPPMaxPayload,
	}}
	b, err := p.MarshalBinary()
	if err != nil {
		return c.fail(err)
	}
	c.state = ClientRequesting
	c.padrSent++
	return ClientResult{Send: c.out(c.chosenMAC, b), Timer: TimerStart, Timeout: c.backoff(c.padrSent)}
}

func (c *Client) handlePADO(in Inbound, pkt *Packet) ClientResult {
	if !sameOptional(pkt.Tags.HostUniq, c.hostUniq) {
		return ignored(fmt.Errorf("%w: PADO from %v", ErrHostUniq, in.Src))
	}
	o := Offer{AC: in.Src, ACName: pkt.Tags.ACName, ServiceNames: pkt.Tags.ServiceNames}
	var reject error
	switch {
	case len(pkt.Tags.Errors) > 0:
		reject = &PeerError{Code: CodePADO, Tag: pkt.Tags.Errors[0]}
	case c.cfg.ACName != "" && pkt.Tags.ACName != c.cfg.ACName:
		reject = fmt.Errorf("%w: AC-Name %q", ErrOfferMismatch, pkt.Tags.ACName)
	case c.cfg.ServiceName != "" && !pkt.Tags.HasServiceName(c.cfg.ServiceName):
		reject = fmt.Errorf("%w: %q not offered by %q", ErrOfferMismatch, c.cfg.ServiceName, pkt.Tags.ACName)
	}
	o.Chosen = reject == nil
	if len(c.offers) < maxOffersKept {
		c.offers = append(c.offers, o)
	}
	if reject != nil {
		return ignored(reject)
	}
	c.chosen, c.chosenMAC = pkt, in.Src
	c.padrSent = 0
	return c.sendPADR()
}

func (c *Client) handlePADS(in Inbound, pkt *Packet) ClientResult {
	if in.Src != c.chosenMAC {
		return ignored(fmt.Errorf("%w: PADS from %v, chose %v", ErrWrongAC, in.Src, c.chosenMAC))
	}
	if !sameOptional(pkt.Tags.HostUniq, c.hostUniq) {
		return ignored(fmt.Errorf("%w: PADS from %v", ErrHostUniq, in.Src))
	}
	if e, ok := pkt.Tags.FirstError(); ok || pkt.SessionID == 0 {
		// RFC 2516 §5.4: a refusal has SESSION_ID 0 and an error tag (Validate ensured one).
		return c.fail(&PeerError{Code: CodePADS, Tag: e})
	}
	c.state = ClientEstablished
	c.session = ClientSession{
		ID:             pkt.SessionID,
		AC:             in.Src,
		ACName:         c.chosen.Tags.ACName,
		ServiceName:    pkt.Tags.ServiceNames[0],
		RelaySessionID: pkt.Tags.RelaySessionID,
	}
	// RFC 4638: the AC echoes PPP-Max-Payload when it agrees; never exceed what we asked.
	if c.cfg.PPPMaxPayload != 0 && pkt.Tags.PPPMaxPayload != 0 {
		c.session.PPPMaxPayload = min(c.cfg.PPPMaxPayload, pkt.Tags.PPPMaxPayload)
	}
	return ClientResult{Timer: TimerStop, Event: EventEstablished}
}

func (c *Client) handlePADT(in Inbound, pkt *Packet) ClientResult {
	if in.Src != c.session.AC || pkt.SessionID != c.session.ID {
		return ignored(fmt.Errorf("%w: PADT for session 0x%04x from %v", ErrWrongAC, pkt.SessionID, in.Src))
	}
	c.state = ClientTerminated
	res := ClientResult{Timer: TimerStop, Event: EventTerminated}
	if e, ok := pkt.Tags.FirstError(); ok {
		res.Err = &PeerError{Code: CodePADT, Tag: e}
	}
	return res
}
