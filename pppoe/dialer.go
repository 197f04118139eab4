package pppoe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/probox/probox/config"
	"github.com/probox/probox/kernel"
	"github.com/probox/probox/ppp"
)

// Redial backoff of a client: the wait after a failed attempt starts at redialMin and
// doubles with each further failure up to redialMax; a session whose network layer came
// up resets it.
const (
	redialMin = time.Second
	redialMax = 64 * time.Second
	// dialerQueue bounds the discovery frames waiting for one dialer; more are dropped
	// (the discovery exchange retransmits).
	dialerQueue = 16
)

// clientPort is an interface opened for our PPPoE clients. Its reader goroutine hands each
// discovery frame to the dialers it is addressed to; several dialers may share a port (each
// with its own Host-Uniq, and possibly its own MAC address).
type clientPort struct {
	name string
	port kernel.PPPoEPort
	mac  net.HardwareAddr
	mtu  int

	refs       int           // loop: dialers using the port
	tags       map[VLANs]int // loop: the dialers' VLAN tags, with how many use each
	readerDone chan struct{}

	mu   sync.Mutex // guards subs; taken by the reader and the dialers, never held while calling out
	subs map[*dialer]struct{}
}

func (e *Engine) clientPortFor(name string) (*clientPort, error) {
	if cp := e.cports[name]; cp != nil {
		cp.refs++
		return cp, nil
	}
	port, err := e.dp.OpenPPPoE(kernel.PPPoEConfig{Interface: name})
	if err != nil {
		return nil, err
	}
	cp := &clientPort{name: name, port: port, mac: port.HardwareAddr(), mtu: port.MTU(), refs: 1,
		tags: map[VLANs]int{}, readerDone: make(chan struct{}), subs: map[*dialer]struct{}{}}
	if cp.mtu <= 0 {
		cp.mtu = DefaultMTU
	}
	e.cports[name] = cp
	go cp.read(e.met)
	return cp, nil
}

// releaseClientPort drops a dialer's reference and closes the port with the last.
func (e *Engine) releaseClientPort(cp *clientPort) {
	if cp.refs--; cp.refs > 0 {
		return
	}
	delete(e.cports, cp.name)
	if err := cp.port.Close(); err != nil {
		e.log.Warn("closing client interface", zap.String("interface", cp.name), zap.Error(err))
	}
	<-cp.readerDone
}

// read dispatches discovery frames until the port closes, to the dialers whose address
// is the destination. Frames to a group address are other hosts' PADIs: everything an AC
// sends a host is unicast (RFC 2516 §5.2-§5.5).
func (cp *clientPort) read(met *metrics) {
	defer close(cp.readerDone)
	for {
		buf := make([]byte, readBufSize(cp.mtu))
		n, info, err := cp.port.ReadDiscovery(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(100 * time.Millisecond) // a transient error (interface down): do not spin
			continue
		}
		if len(info.Dst) != 6 || info.Dst[0]&1 == 1 {
			continue
		}
		cp.mu.Lock()
		for d := range cp.subs {
			if !bytes.Equal(info.Dst, d.mac) {
				continue
			}
			select {
			case d.frames <- inbound{data: buf[:n], info: info}:
			default:
				met.drop(dropQueueFull)
			}
		}
		cp.mu.Unlock()
	}
}

// useTags counts one more (n = 1) or one fewer (n = -1) dialer on VLAN tags v and, when
// the set of tags changes, has the port serve the new set (loop).
func (cp *clientPort) useTags(v VLANs, n int) error {
	old := cp.tags[v]
	if old+n > 0 {
		cp.tags[v] = old + n
	} else {
		delete(cp.tags, v)
	}
	if (old == 0) == (old+n <= 0) {
		return nil // the set is the same
	}
	kc := kernel.PPPoEConfig{Interface: cp.name}
	for t := range cp.tags {
		switch {
		case t.Outer == 0:
			kc.Untagged = true
		case t.Inner == 0:
			kc.VLANs = append(kc.VLANs, t.Outer)
		default:
			kc.QinQ = append(kc.QinQ, kernel.QinQ{Outer: t.Outer, InnerFirst: t.Inner, InnerLast: t.Inner})
		}
	}
	return cp.port.SetVLANs(kc)
}

func (cp *clientPort) subscribe(d *dialer) {
	cp.mu.Lock()
	cp.subs[d] = struct{}{}
	cp.mu.Unlock()
}

func (cp *clientPort) unsubscribe(d *dialer) {
	cp.mu.Lock()
	delete(cp.subs, d)
	cp.mu.Unlock()
}

// dialer is the actor of one PPPoE client: discovery with the pure Client (its timer
// owned here), the session's channel, PPP as a client through the PPP engine, PADT, and
// redialing with backoff. One goroutine (run) owns everything below "actor state"; the
// loop starts it, cancels it, and learns on dialc that it ended.
type dialer struct {
	e       *Engine
	name    string
	cfg     config.PPPoEClient
	cp      *clientPort
	mac     net.HardwareAddr // our address: the port's, or an override
	vlans   VLANs
	service string
	acName  string
	profile string
	log     *zap.Logger

	ctx    context.Context
	cancel context.CancelFunc
	frames chan inbound
	infoc  chan chan ClientInfo
	done   chan struct{}

	// loop: a stop was asked for (reload).
	stopping bool

	// Actor state.
	state    string
	session  ClientSession
	h        *ppp.Handle
	attempts int
}

// startClient starts the dialer of [pppoe.client.NAME].
func (e *Engine) startClient(name string, cfg config.PPPoEClient) error {
	cp, err := e.clientPortFor(cfg.Interface)
	if err != nil {
		return fmt.Errorf("pppoe.client.%s.interface: %w", name, err)
	}
	profile := cfg.PPPProfile
	if profile == "" {
		profile = config.DefaultProfile
	}
	var mac net.HardwareAddr
	if cfg.MAC != "" {
		if mac, err = net.ParseMAC(cfg.MAC); err != nil || !kernel.IsUnicastMAC(mac) {
			e.releaseClientPort(cp)
			return fmt.Errorf("pppoe.client.%s.mac: %q is not a unicast MAC address", name, cfg.MAC)
		}
	}
	v := VLANs{Outer: uint16(cfg.VLAN)}
	if cfg.ServiceVLAN != 0 {
		v = VLANs{Outer: uint16(cfg.ServiceVLAN), Inner: uint16(cfg.VLAN)}
	}
	if err := cp.useTags(v, 1); err != nil {
		cp.useTags(v, -1)
		e.releaseClientPort(cp)
		return fmt.Errorf("pppoe.client.%s.vlan: %w", name, err)
	}
	d := e.newDialer(name, cp, mac, v, cfg.Service, cfg.ACName, profile)
	d.cfg = cfg
	return nil
}

// newDialer starts a dialer on cp (loop). mac overrides the port's address as our source
// (nil: the port's): the dialer's discovery frames and session are sent from it, and the
// port receives for it (an extra address, kernel.PPPoEPort).
func (e *Engine) newDialer(name string, cp *clientPort, mac net.HardwareAddr, vlans VLANs, service, acName, profile string) *dialer {
	if mac == nil {
		mac = cp.mac
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := &dialer{
		e: e, name: name, cp: cp, mac: mac, vlans: vlans, service: service, acName: acName, profile: profile,
		ctx: ctx, cancel: cancel,
		frames: make(chan inbound, dialerQueue),
		infoc:  make(chan chan ClientInfo),
		done:   make(chan struct{}),
		state:  ClientIdle.String(),
		log:    e.log.With(zap.String("client", name), zap.String("interface", cp.name)),
	}
	e.dialers[d] = struct{}{}
	cp.subscribe(d)
	go d.run()
	return d
}

func (e *Engine) dialerNamed(name string) *dialer {
	for d := range e.dialers {
		if d.name == name && !d.stopping {
			return d
		}
	}
	return nil
}

// dialerEnded forgets a dialer that has ended (loop).
func (e *Engine) dialerEnded(d *dialer) {
	delete(e.dialers, d)
	d.cp.unsubscribe(d)
	if d.cp.refs > 1 {
		if err := d.cp.useTags(d.vlans, -1); err != nil {
			e.log.Warn("changing a client interface's VLANs", zap.String("interface", d.cp.name), zap.Error(err))
		}
	}
	e.releaseClientPort(d.cp)
}

// info asks the dialer for its state.
func (d *dialer) info(ctx context.Context) (ClientInfo, error) {
	c := make(chan ClientInfo, 1)
	select {
	case d.infoc <- c:
	case <-d.done:
		return ClientInfo{}, ErrStopped
	case <-ctx.Done():
		return ClientInfo{}, ctx.Err()
	}
	return <-c, nil
}

func (d *dialer) snapshot() ClientInfo {
	ci := ClientInfo{Name: d.name, Interface: d.cp.name, MAC: d.mac.String(), State: d.state, Attempts: d.attempts}
	if d.session.ID != 0 {
		ci.SessionID, ci.AC, ci.ACName = d.session.ID, d.session.AC.String(), d.session.ACName
	}
	if d.h != nil {
		ci.PPP = d.h.Instance()
	}
	return ci
}

// run is the actor: attempts until the dialer is cancelled, with backoff between them.
func (d *dialer) run() {
	defer func() {
		close(d.done)
		d.e.dialc <- d
	}()
	wait := redialMin
	for {
		d.attempts++
		up := d.attempt()
		if d.ctx.Err() != nil {
			return
		}
		if up {
			wait, d.attempts = redialMin, 0
		}
		d.state, d.session, d.h = "waiting", ClientSession{}, nil
		d.log.Debug("redialing", zap.Duration("after", wait))
		t := time.NewTimer(wait)
	sleep:
		for {
			select {
			case <-t.C:
				break sleep
			case <-d.ctx.Done():
				t.Stop()
				return
			case <-d.frames: // not listening
			case c := <-d.infoc:
				c <- d.snapshot()
			}
		}
		wait = min(2*wait, redialMax)
	}
}

// attempt runs one discovery and, when it succeeds, one session. It reports whether the
// session's network layer came up.
func (d *dialer) attempt() bool {
	cc := ClientConfig{Interface: d.cp.name, VLANs: d.vlans, ServiceName: d.service, ACName: d.acName}
	if p := d.cp.mtu - HeaderLen - 2; p > DefaultMaxPayload {
		cc.PPPMaxPayload = uint16(min(p, 0xffff)) // RFC 4638: ask for what the interface takes
	}
	c, err := NewClient(cc, d.e.rand)
	if err != nil {
		d.log.Warn("starting discovery", zap.Error(err))
		return false
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var last ClientResult
	apply := func(r ClientResult) ClientEvent {
		last = r
		if r.Send != nil {
			d.send(*r.Send)
		}
		switch r.Timer {
		case TimerStart:
			timer.Reset(r.Timeout)
		case TimerStop:
			timer.Stop()
		}
		d.state = c.State().String()
		return r.Event
	}
	ev := apply(c.Start())
	for ev == EventNone {
		select {
		case in := <-d.frames:
			ev = apply(d.handle(c, in))
		case <-timer.C:
			ev = apply(c.Timeout())
		case <-d.ctx.Done():
			apply(c.Close(""))
			return false
		case ch := <-d.infoc:
			ch <- d.snapshot()
		}
	}
	if ev != EventEstablished {
		d.log.Info("discovery failed", zap.Error(last.Err))
		return false
	}
	sess, _ := c.Session()
	d.session = sess
	return d.established(c, sess, apply)
}

// handle feeds a received frame to the client, ignoring frames for other VLANs.
func (d *dialer) handle(c *Client, in inbound) ClientResult {
	v := vlansOf(in.info)
	if v != d.vlans {
		return ClientResult{}
	}
	if len(in.data) >= 2 {
		d.e.met.packet(Code(in.data[1]), dirRx)
	}
	src, _ := macOf(in.info.Src)
	r := c.Handle(Inbound{Interface: d.cp.name, Src: src, VLANs: v, Payload: in.data})
	if r.Err != nil && r.Event == EventNone {
		if ce := d.log.Check(zap.DebugLevel, "discovery frame ignored"); ce != nil {
			ce.Write(zap.Error(r.Err))
		}
	}
	return r
}

func (d *dialer) send(out Outbound) {
	fi := frameTo(out.Dst, out.VLANs)
	fi.Src = d.mac
	if err := d.cp.port.WriteDiscovery(out.Payload, fi); err != nil {
		d.e.met.drop(dropWrite)
		// A few per attempt at most (the discovery backoff): an operator must see why
		// a client never gets anywhere, e.g. a MAC address the data plane cannot use.
		if !errors.Is(err, net.ErrClosed) {
			d.log.Warn("sending discovery frame", zap.Error(err))
		}
		return
	}
	if len(out.Payload) >= 2 {
		d.e.met.packet(Code(out.Payload[1]), dirTx)
	}
}

// established runs PPP on the session until it ends: PPP ending sends our PADT, the AC's
// PADT closes the channel (PPP then ends as carrier loss), and cancellation stops PPP
// with an LCP Terminate-Request and then sends the PADT.
func (d *dialer) established(c *Client, sess ClientSession, apply func(ClientResult) ClientEvent) bool {
	mtu := sessionMTU(sess.PPPMaxPayload, d.cp.mtu)
	log := d.log.With(zap.Uint16("session_id", sess.ID), zap.String("peer", sess.AC.String()))
	peer := frameTo(sess.AC, d.vlans)
	peer.Src = d.mac
	ch, err := d.cp.port.OpenSession(sess.ID, peer, mtu)
	if err != nil {
		log.Warn("opening the session channel", zap.Error(err))
		apply(c.Close("session could not be set up"))
		return false
	}
	defer ch.Close()
	h, err := d.e.ppp.Start(ppp.StartRequest{
		Channel: ch,
		Role:    ppp.RoleClient,
		Carrier: ppp.CarrierPPPoE,
		Profile: d.profile,
		MaxMRU:  mtu,
		Info: ppp.CarrierInfo{SessionID: uint32(sess.ID), Peer: sess.AC.String(), CallingStation: d.mac.String(),
			Service: sess.ServiceName, Interface: portLabel(d.cp.name, d.vlans)},
	})
	if err != nil {
		log.Warn("starting PPP", zap.Error(err))
		apply(c.Close("PPP could not start"))
		d.e.met.end(EndError)
		return false
	}
	d.h = h
	d.e.met.move("", gaugeClient)
	defer d.e.met.move(gaugeClient, "")
	log.Info("session established", zap.String("ac_name", sess.ACName), zap.String("instance", h.Instance()))
	cause, reason := EndNone, ""
	cancelled := d.ctx.Done()
	for {
		select {
		case <-h.Done():
			r := h.Result()
			if cause == EndNone {
				cause, reason = EndPPP, "PPP ended: "+r.Reason
			}
			if c.State() == ClientEstablished {
				apply(c.Close(reason))
			}
			d.e.met.end(cause)
			log.Info("session ended", zap.Stringer("cause", cause), zap.String("reason", reason))
			return !r.Up.IsZero()
		case in := <-d.frames:
			if apply(d.handle(c, in)) == EventTerminated && cause == EndNone {
				cause, reason = EndPeerPADT, "PADT from AC"
				ch.Close()
			}
		case <-cancelled:
			cancelled = nil
			if cause == EndNone {
				cause, reason = EndShutdown, "client shutting down"
			}
			h.Stop(reason)
		case ci := <-d.infoc:
			ci <- d.snapshot()
		}
	}
}
