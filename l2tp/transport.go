package l2tp

// The reliable control channel (RFC 2661 §5.8, RFC 3931 §4.2): sequencing, acknowledgement,
// retransmission, windows and keepalive timing for one control connection.
//
// The transport is pure: it does no I/O, never reads the clock, starts no goroutines and is
// not safe for concurrent use. Its owner (the tunnel actor) calls it with the current time
// and carries out what each call returns:
//
//	t := newTransport(cfg, controlMarshaler(opts, false, nil))
//	out, err := t.Send(now, &Message{Header: Header{Version: Version2, TunnelID: peerTID}, Type: MsgSCCRQ, ...})
//	for each call's out:
//		write every out.Packets[i] to the peer, in order;
//		hand every out.Delivered[i] to the tunnel FSM, in order;
//		if out.HelloDue { t.Send(now, HELLO) }
//		if out.Err != nil { tear the tunnel down: the peer is unresponsive (or marshalling failed) }
//		if out.Closed { forget the tunnel: the post-StopCCN hold time is over }
//		arm the one timer for out.Deadline (stop it if zero); when it fires, call t.Tick(now).
//
// # Sequencing
//
// Every message except a ZLB (and an L2TPv3 ACK message) takes the next Ns. The transport
// owns the Ns and Nr fields of outgoing messages: Send stamps Ns once, and every
// (re)transmission stamps the current Nr and re-marshals the message through the owner's
// marshal function when Nr has changed since the last encoding. That matters for L2TPv3
// control message authentication: the Message Digest covers the whole message from the
// control header on, Ns and Nr included (RFC 3931 §5.4.1; see computeDigest), so a
// retransmission with a new Nr needs a new digest; re-marshalling also draws a fresh Random
// Vector for hidden AVPs.
//
// A received message with Ns in [Nr, Nr+32767] (modulo 2^16) is new, anything else a
// duplicate (RFC 2661 §5.8). New messages within our receive window are delivered in order,
// out-of-order ones held until the gap fills; new messages beyond our window are dropped
// without an acknowledgement so the peer retransmits them. A duplicate is acknowledged at
// once (RFC 2661 §5.8 requires duplicates to be acknowledged), so a peer whose ZLB was lost
// stops retransmitting.
//
// Every received message, ZLBs included, carries an Nr that acknowledges our messages below
// it; it is processed before anything else in the message.
//
// # Acknowledgements
//
// A delivered message is acknowledged by the Nr of the next packet we transmit, or by a ZLB
// (RFC 2661 §5.8 allows either). The transport holds the acknowledgement for AckDelay so
// that the owner's reply can carry it; if nothing is transmitted by then it sends a ZLB, or
// with ExplicitAck (L2TPv3 only) an ACK message (RFC 3931 §6.15), which unlike a ZLB can
// carry a Message Digest. A received StopCCN is acknowledged at once whatever AckDelay
// says: its sender waits for that ZLB and nothing else will carry it (RFC 2661 §5.7).
//
// # Window and retransmission
//
// At most PeerRxWindow messages are unacknowledged at any time (RFC 2661 §5.8); later ones
// wait in the send queue and go out as acknowledgements open the window. The oldest
// unacknowledged message is retransmitted after RetryTimeout, then after twice that, and so
// on, capped at MaxRetryTimeout (RFC 2661 §5.8 requires the exponential backoff and a cap of
// at least 8 s). The retransmission carries the same Ns and the current Nr. After
// MaxRetries retransmissions of the same message time out without the peer acknowledging
// it, the transport reports the peer unresponsive, and the owner clears the tunnel and its
// sessions (RFC 2661 §5.8). With the defaults (1 s doubling to 8 s, 5 retries) the
// retransmissions go out 1, 3, 7, 15 and 23 s after the first transmission and the peer is
// declared dead at 31 s, the full retransmission cycle of RFC 2661 §5.7.
//
// RFC 2661 §5.8 retransmits the message at the front of the queue; so does the transport.
// A timeout retransmits only the oldest message: the transport goes back to it and treats
// the later messages of the window as not sent (go-back-N with the congestion window
// collapsed to one message, as RFC 2661 Appendix A does on a retransmission). When the peer
// acknowledges it, the window opens fully again and the later messages that the same
// acknowledgement did not cover are retransmitted then, with the current Nr. A peer that
// queued them out of order acknowledges them all at once and they are not resent; a peer
// that discarded them gets them back without waiting for further timeouts. Appendix A's
// gradual slow-start growth is not implemented: control traffic is small and windows are a
// handful of messages.
//
// # Keepalive
//
// With HelloInterval set, the output's HelloDue flag asks the owner to send a HELLO
// (through Send, so it is retransmitted like any message) when nothing has been received
// for HelloInterval (RFC 2661 §5.5: Hellos are injected after a period without any data
// or control message received) and nothing is queued: while messages are in flight, the
// retransmission timer already detects a dead peer. Data packets count as activity; the
// owner reports them with NoteActivity when it can observe them.
//
// # Teardown
//
// To close the connection the owner Sends the StopCCN and then calls Stop. The transport
// accepts no further Sends but keeps retransmitting and acknowledging; once everything is
// acknowledged it holds its state for RetransmitCycle (the full retransmission cycle of
// RFC 2661 §5.7 and §5.8) so it can acknowledge a retransmitted StopCCN or a crossing
// message, and then reports Closed. The receiver of a StopCCN, whose transport has already
// acknowledged it, calls Stop as well and is Closed after the same hold time.

import (
	"errors"
	"fmt"
	"time"
)

// Transport defaults.
const (
	// DefaultRetryTimeout is the first retransmission timeout, the default RFC 2661 §5.8
	// recommends.
	DefaultRetryTimeout = time.Second
	// DefaultMaxRetryTimeout caps the exponential backoff; RFC 2661 §5.8 forbids a cap below
	// 8 seconds, so it is also the minimum.
	DefaultMaxRetryTimeout = 8 * time.Second
	// DefaultMaxRetries is the number of retransmissions after which the peer is declared
	// unresponsive, the default RFC 2661 §5.8 recommends.
	DefaultMaxRetries = 5
	// DefaultRxWindow is the receive window assumed for a peer that sends no Receive Window
	// Size AVP (RFC 2661 §4.4.3, RFC 3931 §5.4.3), and our own default.
	DefaultRxWindow = 4
	// DefaultAckDelay is the recommended AckDelay for tunnel profiles; TransportConfig's zero
	// AckDelay means an immediate acknowledgement.
	DefaultAckDelay = 100 * time.Millisecond
	// DefaultHelloInterval is the recommended HelloInterval for tunnel profiles (60 s, the
	// usual choice; RFC 2661 §5.5 leaves it to the implementation); TransportConfig's zero
	// HelloInterval disables Hellos.
	DefaultHelloInterval = 60 * time.Second
	// DefaultSendQueueLen bounds the messages waiting for the peer's acknowledgement.
	DefaultSendQueueLen = 512
	// MaxTransportWindow is the largest window the transport uses, in either direction: with
	// more than half the sequence space outstanding, new and old numbers become ambiguous
	// (RFC 2661 §5.8 compares sequence numbers over 32768 values).
	MaxTransportWindow = 32767
)

// TransportConfig configures the reliable control channel of one control connection. The
// zero value of a field means its default, except where stated.
type TransportConfig struct {
	// Version is the L2TP version, used for the transport's own acknowledgements; required.
	Version Version
	// RxWindow is our receive window: the number of messages the peer may have
	// unacknowledged, which the owner advertises in the Receive Window Size AVP. It bounds
	// the out-of-order receive queue. Default DefaultRxWindow; at most MaxTransportWindow.
	RxWindow uint16
	// PeerRxWindow is the peer's receive window until SetPeerWindow says otherwise. Default
	// DefaultRxWindow, the value RFC 2661 §4.4.3 assumes without the AVP; values above
	// MaxTransportWindow are clamped.
	PeerRxWindow uint16
	// RetryTimeout is the first retransmission timeout. Default DefaultRetryTimeout.
	RetryTimeout time.Duration
	// MaxRetryTimeout caps the doubled timeout. Default DefaultMaxRetryTimeout; RFC 2661
	// §5.8 requires at least 8 seconds, and it must not be below RetryTimeout.
	MaxRetryTimeout time.Duration
	// MaxRetries is the number of retransmissions of one message before the peer is declared
	// unresponsive. Default DefaultMaxRetries.
	MaxRetries int
	// AckDelay is how long an acknowledgement may wait for an outgoing message to ride on
	// before a ZLB is sent. Zero sends the ZLB at once. DefaultAckDelay is a good value.
	AckDelay time.Duration
	// HelloInterval is the idle time after which the output asks for a HELLO. Zero disables
	// Hellos. DefaultHelloInterval is a good value.
	HelloInterval time.Duration
	// SendQueueLen bounds the messages queued or in flight; Send refuses more. Default
	// DefaultSendQueueLen; at most MaxTransportWindow.
	SendQueueLen int
	// ExplicitAck makes the transport acknowledge with an L2TPv3 ACK message (RFC 3931
	// §6.15) instead of a ZLB, so that the marshal function can add a Message Digest to it.
	// L2TPv3 only.
	ExplicitAck bool
}

// ErrTransportConfig reports an invalid TransportConfig.
var ErrTransportConfig = errors.New("l2tp: invalid transport config")

// Validate reports whether c, with its defaults applied, is usable.
func (c TransportConfig) Validate() error {
	c = c.withDefaults()
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrTransportConfig, fmt.Sprintf(format, a...))
	}
	switch {
	case c.Version != Version2 && c.Version != Version3:
		return bad("version %d", uint8(c.Version))
	case c.RxWindow > MaxTransportWindow:
		return bad("receive window %d above %d", c.RxWindow, MaxTransportWindow)
	case c.RetryTimeout < 0:
		return bad("negative retry timeout %v", c.RetryTimeout)
	case c.MaxRetryTimeout < DefaultMaxRetryTimeout:
		return bad("max retry timeout %v below 8s (RFC 2661 §5.8)", c.MaxRetryTimeout)
	case c.MaxRetryTimeout < c.RetryTimeout:
		return bad("max retry timeout %v below retry timeout %v", c.MaxRetryTimeout, c.RetryTimeout)
	case c.MaxRetries < 0:
		return bad("negative max retries %d", c.MaxRetries)
	case c.AckDelay < 0:
		return bad("negative ack delay %v", c.AckDelay)
	case c.AckDelay >= c.RetryTimeout:
		return bad("ack delay %v not below retry timeout %v", c.AckDelay, c.RetryTimeout)
	case c.HelloInterval < 0:
		return bad("negative hello interval %v", c.HelloInterval)
	case c.SendQueueLen < 0 || c.SendQueueLen > MaxTransportWindow:
		return bad("send queue length %d not in 1..%d", c.SendQueueLen, MaxTransportWindow)
	case c.ExplicitAck && c.Version != Version3:
		return bad("explicit ACK messages are L2TPv3 only")
	}
	return nil
}

func (c TransportConfig) withDefaults() TransportConfig {
	if c.RxWindow == 0 {
		c.RxWindow = DefaultRxWindow
	}
	if c.PeerRxWindow == 0 {
		c.PeerRxWindow = DefaultRxWindow
	}
	c.PeerRxWindow = min(c.PeerRxWindow, MaxTransportWindow)
	if c.RetryTimeout == 0 {
		c.RetryTimeout = DefaultRetryTimeout
	}
	if c.MaxRetryTimeout == 0 {
		c.MaxRetryTimeout = max(DefaultMaxRetryTimeout, c.RetryTimeout)
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = DefaultMaxRetries
	}
	if c.SendQueueLen == 0 {
		c.SendQueueLen = DefaultSendQueueLen
	}
	return c
}

// RetransmitCycle returns the time from a message's first transmission until the
// transport gives up on it: the sum of the MaxRetries+1 backed-off timeouts (31 s with the
// defaults). It is also how long a stopped transport holds its state (RFC 2661 §5.8).
func (c TransportConfig) RetransmitCycle() time.Duration {
	c = c.withDefaults()
	var sum time.Duration
	rto := c.RetryTimeout
	for range c.MaxRetries + 1 {
		sum += rto
		rto = min(2*rto, c.MaxRetryTimeout)
	}
	return sum
}

// Transport errors.
var (
	// errPeerUnresponsive is the terminal error of a transport whose oldest message went
	// unacknowledged through every retransmission (RFC 2661 §5.8).
	errPeerUnresponsive = errors.New("l2tp: peer unresponsive: no acknowledgement after max retries")
	// errSendQueueFull reports a Send refused because SendQueueLen messages are queued.
	errSendQueueFull = errors.New("l2tp: control message send queue full")
	// errTransportStopped reports a Send after Stop, or a call after the transport ended.
	errTransportStopped = errors.New("l2tp: control channel stopped")
	// errSendZLB reports a Send of a ZLB (or L2TPv3 ACK): acknowledgements are the
	// transport's own business.
	errSendZLB = errors.New("l2tp: ZLB and ACK messages are sent by the transport itself")
)

// transportOutput is what one call into the transport asks its owner to do.
type transportOutput struct {
	// Packets are encoded messages to write to the peer now, in order. They come from the
	// marshal function and are kept for retransmission: the owner must not modify them.
	Packets [][]byte
	// Delivered are the new messages received in order, without duplicates, ZLBs or ACK
	// messages, to hand to the tunnel FSM in this order.
	Delivered []*Message
	// Deadline is when the owner must call Tick next; zero means no timer is needed. A Tick
	// that comes early or late is harmless.
	Deadline time.Time
	// HelloDue asks the owner to Send a HELLO: nothing has been received for HelloInterval
	// and nothing is in flight.
	HelloDue bool
	// Err is terminal: errPeerUnresponsive, or a marshal failure while (re)transmitting.
	// The owner tears the tunnel down; the transport does nothing more.
	Err error
	// Closed reports that a stopped transport has delivered everything and held its state
	// for the full retransmission cycle: the owner can forget the tunnel.
	Closed bool
}

// transportStats counts what the transport did, for metrics and the status page.
type transportStats struct {
	Transmitted   uint64 // first transmissions of queued messages
	Retransmitted uint64 // retransmissions
	AcksSent      uint64 // ZLBs or ACK messages sent
	Received      uint64 // messages passed to Receive, ZLBs included
	Delivered     uint64 // messages delivered in order
	Duplicates    uint64 // duplicates received (each acknowledged at once)
	OutOfOrder    uint64 // new messages received ahead of a gap and queued
	OutOfWindow   uint64 // new messages beyond our receive window, dropped
}

// sendEntry is one message in the send queue; its Ns is the queue's una plus its index.
type sendEntry struct {
	msg   *Message
	pkt   []byte // last encoding, with Nr pktNr
	pktNr uint16
}

// transport is the reliable control channel of one control connection; see the comment at
// the top of this file. Its zero value is not usable: use newTransport.
type transport struct {
	cfg     TransportConfig // defaults applied
	marshal func(*Message) ([]byte, error)

	peerTunnelID uint32  // Tunnel ID (Control Connection ID) written on our acknowledgements
	peerWindow   int     // 1..MaxTransportWindow
	scratch      Message // the acknowledgement being marshalled

	// Send side. queue[i] has Ns una+i. Messages in [una, nxt) are in flight, those in
	// [nxt, una+len(queue)) wait for the window. max is one past the highest Ns ever
	// transmitted: after a timeout nxt goes back to una+1 while [nxt, max) may still
	// arrive, and their acknowledgements are valid.
	queue         []sendEntry
	una, nxt, max uint16
	goBack        bool // after a timeout, only one message in flight until the next acknowledgement
	rto           time.Duration
	retries       int       // retransmissions of the oldest message so far
	rtoAt         time.Time // when the oldest message is retransmitted; zero if nothing in flight

	// Receive side. rxq holds out-of-order messages: offset d = Ns-rxNr in 1..RxWindow-1 at
	// rxq[(rxHead+d) % len(rxq)]; it is allocated on first use.
	rxNr   uint16
	rxq    []*Message
	rxHead int

	ackOwed  bool      // a delivered message has not been acknowledged yet
	owed     int       // messages delivered since the last acknowledgement
	ackNow   bool      // acknowledge in this call (duplicate or StopCCN received)
	ackAt    time.Time // when ackOwed turns into a ZLB; zero if not owed
	lastRecv time.Time // last receipt of anything from the peer, or last HelloDue
	started  bool      // lastRecv has been initialised

	stopping bool
	lingerAt time.Time // when a stopping, drained transport reports Closed
	closed   bool
	err      error // terminal

	stats transportStats
}

// newTransport returns the transport of one control connection. marshal encodes a message
// whose Ns and Nr the transport has stamped (see controlMarshaler); the transport keeps the
// returned slice for retransmission and never modifies it, and marshal must not keep the
// *Message it is given. cfg must be valid (TransportConfig.Validate); an invalid value is
// replaced by its nearest valid setting rather than causing a panic.
func newTransport(cfg TransportConfig, marshal func(*Message) ([]byte, error)) *transport {
	c := cfg.withDefaults()
	c.RxWindow = min(c.RxWindow, MaxTransportWindow)
	c.MaxRetryTimeout = max(c.MaxRetryTimeout, c.RetryTimeout)
	c.SendQueueLen = min(max(c.SendQueueLen, 1), MaxTransportWindow)
	c.MaxRetries = max(c.MaxRetries, 0)
	return &transport{cfg: c, marshal: marshal, peerWindow: int(c.PeerRxWindow), rto: c.RetryTimeout}
}

// SetPeerWindow sets the peer's receive window from its Receive Window Size AVP; n == 0
// (AVP absent) means DefaultRxWindow. The owner rejects an explicit 0, which RFC 2661
// §4.4.3 forbids, before calling. A larger window may release queued messages at once.
func (t *transport) SetPeerWindow(now time.Time, n uint16) transportOutput {
	if n == 0 {
		n = DefaultRxWindow
	}
	t.peerWindow = int(min(n, MaxTransportWindow))
	var out transportOutput
	if t.done(&out) {
		return out
	}
	t.start(now)
	t.fill(now, &out)
	return t.finish(&out)
}

// SetPeerTunnelID sets the Tunnel ID (L2TPv3: Control Connection ID) the transport writes
// on its own acknowledgements: the peer's Assigned Tunnel ID, once known.
func (t *transport) SetPeerTunnelID(id uint32) { t.peerTunnelID = id }

// Send queues m for reliable delivery and transmits it if the peer's window allows. The
// transport takes m over: it sets m.Ns now and m.Nr at every transmission, and the caller
// must not touch m afterwards. m is marshalled once here so that an encoding error is
// returned to the caller, with nothing queued; errSendQueueFull and errTransportStopped
// (after Stop or a terminal error) also leave the state unchanged. The output is valid in
// every case (its Deadline stands).
func (t *transport) Send(now time.Time, m *Message) (transportOutput, error) {
	var out transportOutput
	switch {
	case t.done(&out), t.stopping:
		return t.finish(&out), errTransportStopped
	case m == nil || m.IsZLB() || t.isAck(m):
		return t.finish(&out), errSendZLB
	case len(t.queue) >= t.cfg.SendQueueLen:
		return t.finish(&out), errSendQueueFull
	}
	t.start(now)
	m.Ns = t.una + uint16(len(t.queue))
	m.Nr = t.rxNr
	pkt, err := t.marshal(m)
	if err != nil {
		return t.finish(&out), fmt.Errorf("l2tp: marshalling %v: %w", m.Type, err)
	}
	t.queue = append(t.queue, sendEntry{msg: m, pkt: pkt, pktNr: t.rxNr})
	t.fill(now, &out)
	return t.finish(&out), nil
}

// Receive processes a parsed message from the peer (after any Message Digest check): its
// Nr acknowledges our messages, then its Ns decides whether it is delivered, queued,
// acknowledged as a duplicate or dropped. ZLBs and L2TPv3 ACK messages only acknowledge.
// The transport keeps m if it delivers or queues it.
func (t *transport) Receive(now time.Time, m *Message) transportOutput {
	var out transportOutput
	if m == nil || t.done(&out) {
		return out
	}
	t.start(now)
	t.stats.Received++
	t.lastRecv = now
	t.ack(now, m.Nr)
	if !m.IsZLB() && !t.isAck(m) {
		t.receiveSequenced(m, &out)
	}
	t.fill(now, &out)
	t.flushAck(now, &out)
	return t.finish(&out)
}

// Tick runs the timers that are due at now: retransmission, delayed acknowledgement,
// Hello and the post-Stop hold time.
func (t *transport) Tick(now time.Time) transportOutput {
	var out transportOutput
	if t.done(&out) {
		return out
	}
	t.start(now)
	if !t.rtoAt.IsZero() && !now.Before(t.rtoAt) {
		if t.retries >= t.cfg.MaxRetries {
			t.err = errPeerUnresponsive
			t.done(&out)
			return out
		}
		t.retries++
		t.rto = min(2*t.rto, t.cfg.MaxRetryTimeout)
		t.nxt = t.una // go back: only the oldest is in flight again (RFC 2661 Appendix A)
		t.goBack = true
		t.rtoAt = time.Time{}
		t.fill(now, &out)
	}
	if t.ackOwed && !t.ackAt.IsZero() && !now.Before(t.ackAt) {
		t.ackNow = true
	}
	t.flushAck(now, &out)
	if at, ok := t.helloAt(); ok && !now.Before(at) {
		out.HelloDue = true
		t.lastRecv = now
	}
	if t.stopping && len(t.queue) == 0 && !t.lingerAt.IsZero() && !now.Before(t.lingerAt) {
		t.closed = true
		return transportOutput{Packets: out.Packets, Closed: true}
	}
	return t.finish(&out)
}

// NoteActivity records that something (a data packet) arrived from the peer at now, which
// postpones the next Hello (RFC 2661 §5.5).
func (t *transport) NoteActivity(now time.Time) {
	t.start(now)
	if now.After(t.lastRecv) {
		t.lastRecv = now
	}
}

// Stop begins the teardown: Send is refused from now on, Hellos stop, and the transport
// reports Closed once everything queued is acknowledged and RetransmitCycle has passed
// since: RFC 2661 §5.8 keeps reliable delivery running for a full retransmission interval
// after the final message exchange of a teardown, and §5.7 makes the receiver of a StopCCN
// keep enough state to acknowledge its retransmissions for that long. Send the StopCCN
// before calling Stop. Calling Stop again changes nothing.
func (t *transport) Stop(now time.Time) transportOutput {
	var out transportOutput
	if t.done(&out) {
		return out
	}
	t.start(now)
	if !t.stopping {
		t.stopping = true
		if len(t.queue) == 0 {
			t.lingerAt = now.Add(t.cfg.RetransmitCycle())
		}
	}
	return t.finish(&out)
}

// DiscardUnsent drops the queued messages that were never transmitted (those waiting for
// the peer's window), for a StopCCN that makes them moot: it then follows the messages
// already sent instead of waiting behind the rest. Messages transmitted once keep their
// place, since the peer may hold their sequence numbers.
func (t *transport) DiscardUnsent() int {
	keep := int(t.max - t.una)
	n := len(t.queue) - keep
	if n <= 0 {
		return 0
	}
	clear(t.queue[keep:])
	t.queue = t.queue[:keep]
	return n
}

// Idle reports whether nothing is queued or waiting for an acknowledgement.
func (t *transport) Idle() bool { return len(t.queue) == 0 }

// Stats returns the transport's counters.
func (t *transport) Stats() transportStats { return t.stats }

// NextNs returns the Ns the next message given to Send will carry.
func (t *transport) NextNs() uint16 { return t.una + uint16(len(t.queue)) }

// ExpectedNr returns the Ns of the next message expected from the peer: the Nr we send.
func (t *transport) ExpectedNr() uint16 { return t.rxNr }

// InFlight returns the number of messages transmitted and not yet acknowledged, not
// counting those given up on by a go-back after a timeout.
func (t *transport) InFlight() int { return int(t.nxt - t.una) }

// PeerWindow returns the peer's receive window in use.
func (t *transport) PeerWindow() int { return t.peerWindow }

// isAck reports whether m is an L2TPv3 Explicit Acknowledgement, which like a ZLB takes no
// sequence number: it only acknowledges, and acknowledging it would never end.
func (t *transport) isAck(m *Message) bool {
	return t.cfg.Version == Version3 && m.Type == MsgACK && m.Vendor == 0
}

func (t *transport) start(now time.Time) {
	if !t.started {
		t.started = true
		t.lastRecv = now
	}
}

// done fills out for a finished transport and reports whether it is finished.
func (t *transport) done(out *transportOutput) bool {
	switch {
	case t.err != nil:
		*out = transportOutput{Packets: out.Packets, Delivered: out.Delivered, Err: t.err}
		return true
	case t.closed:
		*out = transportOutput{Closed: true}
		return true
	}
	return false
}

// ack processes an acknowledgement: the peer has received every message before nr. An nr
// that acknowledges nothing new, or something never transmitted, is ignored.
func (t *transport) ack(now time.Time, nr uint16) {
	n := int(nr - t.una)
	if n == 0 || n > int(t.max-t.una) {
		return
	}
	if int(t.nxt-t.una) < n {
		t.nxt = nr // acknowledged messages beyond nxt arrived before the go-back
	}
	clear(t.queue[:n])
	t.queue = t.queue[n:]
	if len(t.queue) == 0 {
		t.queue = t.queue[:0:0] // let the backing array go while idle
	}
	t.una = nr
	t.retries = 0
	t.rto = t.cfg.RetryTimeout
	t.goBack = false
	t.rtoAt = time.Time{}
	if t.nxt != t.una {
		t.rtoAt = now.Add(t.rto)
	}
	if t.stopping && len(t.queue) == 0 {
		t.lingerAt = now.Add(t.cfg.RetransmitCycle())
	}
}

// receiveSequenced handles a message that takes a sequence number.
func (t *transport) receiveSequenced(m *Message, out *transportOutput) {
	d := int(m.Ns - t.rxNr)
	w := int(t.cfg.RxWindow)
	switch {
	case d >= 32768: // RFC 2661 §5.8: at or below the last received number
		t.stats.Duplicates++
		t.ackNow = true
	case d >= w:
		t.stats.OutOfWindow++ // dropped and not acknowledged: the peer overran our window
	case d > 0:
		if t.rxq == nil {
			t.rxq = make([]*Message, w)
		}
		i := (t.rxHead + d) % w
		if t.rxq[i] == nil {
			t.rxq[i] = m
			t.stats.OutOfOrder++
		} else {
			t.stats.Duplicates++
		}
	default:
		t.deliver(m, out)
		for t.rxq != nil && t.rxq[t.rxHead] != nil {
			q := t.rxq[t.rxHead]
			t.rxq[t.rxHead] = nil
			t.deliver(q, out)
		}
	}
}

func (t *transport) deliver(m *Message, out *transportOutput) {
	out.Delivered = append(out.Delivered, m)
	t.stats.Delivered++
	t.rxNr++
	if t.rxq != nil {
		t.rxHead = (t.rxHead + 1) % len(t.rxq)
	}
	t.ackOwed = true
	t.owed++
	if m.Type == MsgStopCCN && m.Vendor == 0 {
		t.ackNow = true // RFC 2661 §5.7: the sender waits for this ZLB and nothing else will carry it
	}
}

// fill transmits queued messages while the window allows.
func (t *transport) fill(now time.Time, out *transportOutput) {
	for t.err == nil {
		i := int(t.nxt - t.una)
		if i >= len(t.queue) || i >= t.sendWindow() {
			return
		}
		e := &t.queue[i]
		if e.pktNr != t.rxNr {
			e.msg.Nr = t.rxNr
			pkt, err := t.marshal(e.msg)
			if err != nil {
				t.err = fmt.Errorf("l2tp: marshalling %v Ns %d: %w", e.msg.Type, e.msg.Ns, err)
				return
			}
			e.pkt, e.pktNr = pkt, t.rxNr
		}
		out.Packets = append(out.Packets, e.pkt)
		t.acked()
		if t.nxt == t.max {
			t.max++
			t.stats.Transmitted++
		} else {
			t.stats.Retransmitted++
		}
		t.nxt++
		if t.rtoAt.IsZero() {
			t.rtoAt = now.Add(t.rto)
		}
	}
}

// sendWindow returns how many messages may be in flight now.
func (t *transport) sendWindow() int {
	if t.goBack {
		return 1
	}
	return t.peerWindow
}

// acked records that a packet carrying the current Nr is going out.
func (t *transport) acked() {
	t.ackOwed, t.ackNow, t.ackAt, t.owed = false, false, time.Time{}, 0
}

// flushAck sends a ZLB (or ACK message) if an acknowledgement is due now, and otherwise
// arms the delayed acknowledgement.
func (t *transport) flushAck(now time.Time, out *transportOutput) {
	if t.err != nil || (!t.ackOwed && !t.ackNow) {
		return
	}
	if !t.ackNow && t.cfg.AckDelay > 0 {
		if t.ackAt.IsZero() {
			t.ackAt = now.Add(t.cfg.AckDelay)
		}
		// Once half our receive window is owed, the peer is about to stall on its send
		// window: the acknowledgement is due now (at the owner's next Tick, so a reply the
		// owner sends meanwhile still carries it), not after AckDelay.
		if t.owed >= max(1, int(t.cfg.RxWindow)/2) && now.Before(t.ackAt) {
			t.ackAt = now
		}
		return
	}
	t.scratch = Message{Header: Header{Version: t.cfg.Version, TunnelID: t.peerTunnelID, Ns: t.max, Nr: t.rxNr}}
	if t.cfg.ExplicitAck {
		t.scratch.Type = MsgACK
	}
	pkt, err := t.marshal(&t.scratch)
	t.scratch = Message{}
	if err != nil {
		t.err = fmt.Errorf("l2tp: marshalling acknowledgement: %w", err)
		return
	}
	out.Packets = append(out.Packets, pkt)
	t.stats.AcksSent++
	t.acked()
}

// helloAt returns when a Hello is due, if one can be.
func (t *transport) helloAt() (time.Time, bool) {
	if t.cfg.HelloInterval <= 0 || t.stopping || len(t.queue) > 0 || !t.started {
		return time.Time{}, false
	}
	return t.lastRecv.Add(t.cfg.HelloInterval), true
}

// finish sets out's Deadline (or its terminal error) and returns it.
func (t *transport) finish(out *transportOutput) transportOutput {
	if t.done(out) {
		return *out
	}
	var d time.Time
	earliest := func(at time.Time) {
		if !at.IsZero() && (d.IsZero() || at.Before(d)) {
			d = at
		}
	}
	earliest(t.rtoAt)
	if t.ackOwed {
		earliest(t.ackAt)
	}
	if at, ok := t.helloAt(); ok {
		earliest(at)
	}
	if t.stopping && len(t.queue) == 0 {
		earliest(t.lingerAt)
	}
	out.Deadline = d
	return *out
}
