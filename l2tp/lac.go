package l2tp

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/probox/probox/kernel"
)

// The LAC: placing incoming calls on configured tunnels for the PPPoE engine (and tests).

// CallRequest asks the LAC to place a call (an incoming call in RFC 2661 terms: ICRQ,
// ICRP, ICCN) on a configured tunnel.
type CallRequest struct {
	// Tunnel is the configured tunnel ([tunnel.NAME]) to the LNS; it is opened on demand
	// and shared by the calls placed on it.
	Tunnel string
	// Backup is a configured tunnel tried when Tunnel's LNS refuses the tunnel or the
	// call, or cannot be reached. Empty: none.
	Backup string
	// ProxyLCP and ProxyAuth are sent in the ICCN (RFC 2661 §4.4.5) when set.
	ProxyLCP  *ProxyLCP
	ProxyAuth *ProxyAuth
	// CallingNumber, CalledNumber and SubAddress go into the ICRQ (RFC 2661 §4.4.4).
	CallingNumber, CalledNumber, SubAddress string
	// ConnectSpeed is the (Tx) Connect Speed of the ICCN, in bits per second.
	ConnectSpeed uint64
	// PhysicalChannel is the Physical Channel ID of the ICRQ; 0 leaves it out.
	PhysicalChannel uint32
	// Info describes the call in the session's events.
	Info CallInfo
}

// CallInfo describes the subscriber of a LAC call for events and hook scripts.
type CallInfo struct {
	User, CallingMAC, Service, CircuitID, RemoteID string
}

// CallResult tells how a call ended, or why it was not placed.
type CallResult struct {
	// Result and Error are the CDN's (or, with Tunnel set, the StopCCN's) result and error
	// codes, sent or received; Message is its error message.
	Result, Error uint16
	Message       string
	// Reason says why in words.
	Reason string
	// Tunnel reports that the tunnel failed (refused, unreachable, cleared) rather than
	// the call alone.
	Tunnel bool
	// ByPeer reports that the peer ended it (CDN or StopCCN received).
	ByPeer bool
}

// CallError is the error of a call that could not be placed.
type CallError struct {
	Tunnel string // the configured tunnel tried last
	Result CallResult
}

// Error implements error.
func (e *CallError) Error() string {
	what := "CDN"
	if e.Result.Tunnel {
		what = "StopCCN"
	}
	return fmt.Sprintf("l2tp: call on tunnel %s failed (%s result %d, error %d): %s", e.Tunnel, what, e.Result.Result, e.Result.Error, e.Result.Reason)
}

// Call is a placed call. Its channel carries the session's PPP frames: the caller bridges
// it to the subscriber's channel.
type Call struct {
	e     *Engine
	t     *tunnel
	ready chan struct{} // closed when the call is connected or has ended
	done  chan struct{} // closed when the call has ended

	mu                 sync.Mutex // guards the fields below
	tid, sid, ptid, ps uint32
	ch                 kernel.Channel
	up                 bool
	result             CallResult
	readyClosed        bool
	doneClosed         bool
}

func newCall(e *Engine, t *tunnel) *Call {
	return &Call{e: e, t: t, ready: make(chan struct{}), done: make(chan struct{})}
}

// Channel returns the session's PPP channel.
func (c *Call) Channel() kernel.Channel {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ch
}

// TunnelID is our tunnel ID.
func (c *Call) TunnelID() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tid
}

// SessionID is our session ID.
func (c *Call) SessionID() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sid
}

// PeerIDs returns the LNS's tunnel and session IDs.
func (c *Call) PeerIDs() (tunnelID, sessionID uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ptid, c.ps
}

// Done is closed when the call has ended (CDN either way, the tunnel gone, Hangup).
func (c *Call) Done() <-chan struct{} { return c.done }

// Result tells how the call ended; before Done is closed it is the zero CallResult.
func (c *Call) Result() CallResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.result
}

// Hangup ends the call with a CDN, result 1, "loss of carrier or circuit disconnect"
// (RFC 2661 §4.4.2, RFC 3931 §5.4.2): the subscriber's circuit went away. It returns once
// the CDN is sent (or the call had already ended).
func (c *Call) Hangup(reason string) {
	sid := c.SessionID()
	_ = c.t.doWait(5*time.Second, func(t *tunnel) {
		for _, s := range t.sessions {
			if s.call == c || (sid != 0 && s.id == sid) {
				s.admin = true
				t.failSession(s, ResultError{Result: uint16(CDNLossOfCarrier), Message: reason}, "hangup: "+reason)
				return
			}
		}
	})
}

// connected is called by the actor when the call is established.
func (c *Call) connected(tid, sid, ptid, psid uint32, ch kernel.Channel) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tid, c.sid, c.ptid, c.ps, c.ch, c.up = tid, sid, ptid, psid, ch, true
	if !c.readyClosed {
		c.readyClosed = true
		close(c.ready)
	}
}

// finish is called by the actor when the call has ended.
func (c *Call) finish(r CallResult) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.doneClosed {
		return
	}
	c.result = r
	if !c.readyClosed {
		c.readyClosed = true
		close(c.ready)
	}
	c.doneClosed = true
	close(c.done)
}

func (c *Call) isUp() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.up && !c.doneClosed
}

// tunnelResult is the tunnel's end as a CallResult.
func (t *tunnel) tunnelResult() CallResult {
	r := CallResult{Tunnel: true, ByPeer: t.byPeer, Reason: t.reason}
	if t.result != nil {
		r.Result, r.Error, r.Message = t.result.Result, t.result.ErrorCode, t.result.Message
	}
	return r
}

// callResult turns a session's end into a CallResult.
func (t *tunnel) callResult(s *session) CallResult {
	r := CallResult{Reason: s.reason, ByPeer: s.byPeer}
	if s.result != nil {
		r.Result, r.Error, r.Message = s.result.Result, s.result.ErrorCode, s.result.Message
	}
	if t.state >= tunnelClosing && !s.byPeer {
		return t.tunnelResult()
	}
	return r
}

// PlaceCall places a call on configured tunnel req.Tunnel, opening the tunnel if it is not
// up, and returns once the call is connected (ICCN sent). When the LNS refuses the tunnel
// or the call, or cannot be reached, the call is placed on req.Backup if set. A failure is
// reported as a *CallError with the result and error codes.
func (e *Engine) PlaceCall(ctx context.Context, req CallRequest) (*Call, error) {
	if _, err := e.running(); err != nil {
		return nil, err
	}
	names := []string{req.Tunnel}
	if req.Backup != "" && req.Backup != req.Tunnel {
		names = append(names, req.Backup)
	}
	var last error
	for _, name := range names {
		c, err := e.placeOn(ctx, name, req)
		if err == nil {
			return c, nil
		}
		last = err
		if ctx.Err() != nil || errors.Is(err, ErrNotRunning) {
			break
		}
	}
	return nil, last
}

// placeOn places the call on one configured tunnel. A tunnel found closing is replaced by
// a new one; a tunnel we opened for the call that closes at once (the LNS refused it)
// fails the call with its result.
func (e *Engine) placeOn(ctx context.Context, name string, req CallRequest) (*Call, error) {
	for range 3 {
		t, fresh, err := e.lacTunnel(name)
		if err != nil {
			return nil, err
		}
		c := newCall(e, t)
		var perr error
		if err := t.do(ctx, func(t *tunnel) { perr = t.placeCall(c, req) }); err != nil {
			if errors.Is(err, errTunnelGone) && !fresh {
				continue
			}
			if errors.Is(err, errTunnelGone) {
				<-t.down
				return nil, &CallError{Tunnel: name, Result: t.outcome.result}
			}
			return nil, err
		}
		var ce *closingError
		if errors.As(perr, &ce) {
			if fresh {
				return nil, &CallError{Tunnel: name, Result: ce.result}
			}
			continue
		}
		if perr != nil {
			return nil, perr
		}
		select {
		case <-c.ready:
		case <-ctx.Done():
			c.Hangup("call setup cancelled")
			return nil, ctx.Err()
		}
		if c.isUp() {
			return c, nil
		}
		return nil, &CallError{Tunnel: name, Result: c.Result()}
	}
	return nil, &CallError{Tunnel: name, Result: CallResult{Tunnel: true, Reason: "tunnel kept closing"}}
}

// closingError is placeCall's refusal on a closing tunnel, with the tunnel's result.
type closingError struct{ result CallResult }

func (e *closingError) Error() string { return errTunnelClosing.Error() }
func (e *closingError) Unwrap() error { return errTunnelClosing }

// lacTunnel returns the live tunnel of configured tunnel name, opening it if needed; fresh
// reports that it was opened now.
func (e *Engine) lacTunnel(name string) (*tunnel, bool, error) {
	for range 3 {
		e.mu.Lock()
		t := e.named[name]
		e.mu.Unlock()
		if t != nil {
			return t, false, nil
		}
		t, err := e.startConfiguredOnce(name)
		if err == nil {
			return t, true, nil
		}
		if !errors.Is(err, ErrExists) {
			return nil, false, err
		}
	}
	return nil, false, fmt.Errorf("%w: tunnel %s", ErrNotFound, name)
}

// placeCall starts the LAC side of an incoming call for c (RFC 2661 §7.4.1): it waits for
// the tunnel if it is not up yet.
func (t *tunnel) placeCall(c *Call, req CallRequest) error {
	if t.state >= tunnelClosing {
		return &closingError{t.tunnelResult()}
	}
	sp := t.p.sessionParamsFor("")
	sp.pw = kernel.PWPPP
	s, err := t.newSession(roleICRQSender, sp, 0)
	if err != nil {
		return err
	}
	s.call, s.info = c, req.Info
	s.calling, s.called, s.sub = req.CallingNumber, req.CalledNumber, req.SubAddress
	s.txSpeed, s.physChan = req.ConnectSpeed, req.PhysicalChannel
	s.proxyLCP, s.proxyAuth = req.ProxyLCP, req.ProxyAuth
	s.bearer = BearerDigital
	c.mu.Lock()
	c.tid, c.sid = t.id, s.id
	c.mu.Unlock()
	t.sfsm(s, sevOpen)
	if t.state == tunnelEstablished {
		t.sfsm(s, sevTunnelUp)
	}
	return nil
}
