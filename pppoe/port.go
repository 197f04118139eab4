package pppoe

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/probox/probox/config"
	events "github.com/probox/probox/control/event"
	"github.com/probox/probox/kernel"
)

// acPort is an access interface open for the AC. Its reader goroutine (read) is the only
// reader of the port's discovery frames; every other field is the loop's.
type acPort struct {
	name string
	port kernel.PPPoEPort
	mac  net.HardwareAddr
	mtu  int

	// loop: the fields below.
	cfg      config.PPPoEIface
	sessions int  // session actors on this port that have not ended
	draining bool // removed from the configuration: closes when sessions reaches 0

	quit       chan struct{} // closed by the loop when the port closes
	readerDone chan struct{} // closed by the reader when it returns
}

// inbound is a discovery frame read from an access port (port set) or a client port.
type inbound struct {
	port *acPort
	data []byte
	info kernel.FrameInfo
}

// readBufSize holds any discovery frame: a PPPoE payload is at most the MTU, and 1500
// bytes are read at least.
func readBufSize(mtu int) int { return max(mtu, DefaultMTU) + 64 }

// openPort opens interface name and starts its reader.
func (e *Engine) openPort(name string, cfg config.PPPoEIface) (*acPort, error) {
	port, err := e.dp.OpenPPPoE(portConfig(name, cfg))
	if err != nil {
		return nil, fmt.Errorf("pppoe.interface.%s: %w", name, err)
	}
	p := &acPort{name: name, port: port, mac: port.HardwareAddr(), mtu: port.MTU(), cfg: cfg,
		quit: make(chan struct{}), readerDone: make(chan struct{})}
	if p.mtu <= 0 {
		p.mtu = DefaultMTU
	}
	e.ports[name] = p
	go p.read(e.inc, e.log)
	e.log.Info("access interface open", zap.String("interface", name), zap.Stringer("mac", p.mac),
		zap.Int("mtu", p.mtu), zap.Ints("vlans", cfg.VLANs), zap.Strings("qinq", cfg.QinQ))
	return p, nil
}

// read hands the port's discovery frames to the loop until the port closes.
func (p *acPort) read(inc chan<- inbound, log *zap.Logger) {
	defer close(p.readerDone)
	for {
		buf := make([]byte, readBufSize(p.mtu))
		n, info, err := p.port.ReadDiscovery(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			log.Warn("reading discovery frames", zap.String("interface", p.name), zap.Error(err))
			// A transient error (interface down): pause rather than spin.
			select {
			case <-time.After(100 * time.Millisecond):
				continue
			case <-p.quit:
				return
			}
		}
		select {
		case inc <- inbound{port: p, data: buf[:n], info: info}:
		case <-p.quit:
			return
		}
	}
}

// closePort closes the port (and with it its sessions' channels) and waits for its
// reader.
func (e *Engine) closePort(p *acPort) {
	if e.ports[p.name] == p {
		delete(e.ports, p.name)
	}
	select {
	case <-p.quit:
		return
	default:
	}
	close(p.quit)
	if err := p.port.Close(); err != nil {
		e.log.Warn("closing access interface", zap.String("interface", p.name), zap.Error(err))
	}
	<-p.readerDone
	e.log.Info("access interface closed", zap.String("interface", p.name))
}

// drainPort ends the port's sessions and closes it once they have ended.
func (e *Engine) drainPort(p *acPort, reason string) {
	p.draining = true
	for s := range e.actors {
		if s.port == p {
			s.stop(EndInterface, reason)
		}
	}
	if p.sessions == 0 {
		e.closePort(p)
	}
}

// portConfig is the data plane's description of access interface name.
func portConfig(name string, cfg config.PPPoEIface) kernel.PPPoEConfig {
	kc := kernel.PPPoEConfig{Interface: name, Untagged: cfg.Untagged}
	for _, v := range cfg.VLANs {
		kc.VLANs = append(kc.VLANs, uint16(v))
	}
	for _, r := range cfg.QinQRanges() {
		kc.QinQ = append(kc.QinQ, kernel.QinQ{Outer: uint16(r.Outer), InnerFirst: uint16(r.InnerFirst), InnerLast: uint16(r.InnerLast)})
	}
	return kc
}

// revlanPort gives an interface whose VLANs or QinQ changed its new ones in place: the
// sessions on tags still served go on; those on tags no longer served end (PADT first,
// while the port still sends on their tags). If the data plane cannot change the port,
// it is reopened, which ends all its sessions.
func (e *Engine) revlanPort(name string, cfg config.PPPoEIface) error {
	p := e.ports[name]
	kc := portConfig(name, cfg)
	for s := range e.actors {
		if s.port == p && !kc.Serves(frameTo(s.rec.Peer, s.rec.VLANs)) {
			e.terminateInAC(s, "VLAN removed from the configuration")
			s.stopAfterPADT(EndInterface, "VLAN removed from the configuration")
		}
	}
	if err := p.port.SetVLANs(kc); err != nil {
		e.log.Warn("cannot change the interface's VLANs in place: reopening it", zap.String("interface", name), zap.Error(err))
		return e.reopenPort(name, cfg)
	}
	e.log.Info("access interface VLANs changed", zap.String("interface", name), zap.Ints("vlans", cfg.VLANs), zap.Strings("qinq", cfg.QinQ))
	return nil
}

// reopenPort closes an interface, ending its sessions, and opens it again. The sessions' PADTs are sent before the port closes; their actors then see their
// channels closed.
func (e *Engine) reopenPort(name string, cfg config.PPPoEIface) error {
	p := e.ports[name]
	for s := range e.actors {
		if s.port == p {
			e.terminateInAC(s, "interface reconfigured")
			s.stopAfterPADT(EndInterface, "interface reconfigured")
		}
	}
	e.closePort(p)
	if _, err := e.openPort(name, cfg); err != nil {
		e.log.Error("reopening access interface", zap.String("interface", name), zap.Error(err))
		return err
	}
	return nil
}

// handleInbound runs a discovery frame through the AC and acts on its decision.
func (e *Engine) handleInbound(in inbound) {
	p := in.port
	if e.ports[p.name] != p {
		return // the port closed meanwhile
	}
	code := Code(0xff)
	if len(in.data) >= 2 {
		code = Code(in.data[1])
	}
	e.met.packet(code, dirRx)
	if (e.stopping || p.draining) && code != CodePADT {
		e.met.drop(dropNotServing)
		return
	}
	src, ok := macOf(in.info.Src)
	if !ok {
		e.dropped(p, ReasonBadSource.String(), src, nil)
		return
	}
	res := e.ac.Handle(time.Now(), Inbound{Interface: p.name, Src: src, VLANs: vlansOf(in.info), Payload: in.data})
	switch res.Outcome {
	case OutcomeConfirmed:
		e.startSession(p, res)
		return
	case OutcomeTerminated:
		if s := e.sessions[sessionKey{p.name, res.Session.ID}]; s != nil {
			delete(e.sessions, s.key)
			s.peerPADT(res.Message)
		}
	case OutcomeDropped, OutcomeRefused:
		e.dropped(p, res.Reason.String(), src, res.Err)
	}
	if res.Reply != nil {
		e.send(p, *res.Reply)
	}
}

// dropped counts a frame not served and logs it, rate-limited: hosts trigger these.
func (e *Engine) dropped(p *acPort, reason string, src MAC, err error) {
	e.met.drop(reason)
	if ok, suppressed := e.rlog.allow("drop " + reason); ok {
		fields := []zap.Field{zap.String("interface", p.name), zap.String("peer", src.String()), zap.String("reason", reason)}
		if err != nil {
			fields = append(fields, zap.Error(err))
		}
		if suppressed > 0 {
			fields = append(fields, zap.Int("suppressed", suppressed))
		}
		e.log.Info("discovery frame not served", fields...)
	}
}

// send writes a discovery frame on p.
func (e *Engine) send(p *acPort, out Outbound) bool {
	code := Code(0xff)
	if len(out.Payload) >= 2 {
		code = Code(out.Payload[1])
	}
	if err := p.port.WriteDiscovery(out.Payload, frameTo(out.Dst, out.VLANs)); err != nil {
		e.met.drop(dropWrite)
		if ok, _ := e.rlog.allow("write " + p.name); ok {
			e.log.Warn("sending discovery frame", zap.String("interface", p.name), zap.Stringer("code", code), zap.Error(err))
		}
		return false
	}
	e.met.packet(code, dirTx)
	return true
}

// sessionMTU is the MTU of a session's channel: the agreed PPP-Max-Payload (RFC 4638), or
// the interface MTU less the PPPoE and PPP headers capped at 1492 (RFC 2516 §7).
func sessionMTU(agreed uint16, ifMTU int) int {
	if agreed != 0 {
		return int(agreed)
	}
	return min(ifMTU-HeaderLen-2, DefaultMaxPayload)
}

// startSession opens the channel of a session the AC confirmed, sends the PADS and starts
// the session's actor. The channel exists before the host gets the PADS, so none of its
// first PPP frames is lost.
func (e *Engine) startSession(p *acPort, res ACResult) {
	rec := res.Session
	mtu := sessionMTU(rec.PPPMaxPayload, p.mtu)
	fi := frameTo(rec.Peer, rec.VLANs)
	ch, err := p.port.OpenSession(rec.ID, fi, mtu)
	if err != nil {
		// Forget the session and refuse the PADR (RFC 2516 §5.4), so that the host
		// starts over rather than retransmit to a session that does not exist.
		e.ac.Terminate(p.name, rec.ID, "")
		e.dropped(p, dropDataPlane, rec.Peer, err)
		if b, err := e.refusal(rec); err == nil {
			e.send(p, Outbound{Interface: p.name, Dst: rec.Peer, VLANs: rec.VLANs, Payload: b})
		}
		return
	}
	svc := e.router.serviceFor(rec.ServiceName)
	s := newSession(e, p, rec, ch, mtu, svc)
	e.sessions[s.key] = s
	e.actors[s] = struct{}{}
	p.sessions++
	e.met.move("", s.gauge)
	if res.Reply != nil {
		e.send(p, *res.Reply)
	}
	e.publish(s.event(events.SessionCreated))
	s.log.Info("session created", zap.String("service", rec.ServiceName), zap.String("route", string(svc.route)),
		zap.Int("mtu", mtu))
	go s.run()
}

// refusal is the PADS refusing a PADR with AC-System-Error.
func (e *Engine) refusal(rec Session) ([]byte, error) {
	pkt := Packet{Code: CodePADS, Tags: Tags{
		ServiceNames:   []string{rec.ServiceName},
		ACName:         e.ac.cfg.ACName,
		HasACName:      true,
		HostUniq:       rec.HostUniq,
		RelaySessionID: rec.RelaySessionID,
		Errors:         []ErrorTag{{Type: TagACSystemError, Message: "session could not be set up"}},
	}}
	return pkt.MarshalBinary()
}

// terminateInAC ends s in the AC and sends its PADT, with message in a Generic-Error tag,
// unless the host already ended it.
func (e *Engine) terminateInAC(s *session, message string) {
	if e.sessions[s.key] != s {
		return
	}
	delete(e.sessions, s.key)
	out, _, err := e.ac.Terminate(s.key.iface, s.key.id, message)
	if err != nil {
		return
	}
	if e.ports[s.port.name] == s.port {
		e.send(s.port, out)
	}
}

// sessionEnded finishes a session whose actor has ended: PADT, counts, events.
func (e *Engine) sessionEnded(s *session) {
	delete(e.actors, s)
	e.terminateInAC(s, s.end.reason)
	s.port.sessions--
	e.met.move(s.gauge, "")
	e.met.end(s.end.cause)
	if s.upPublished {
		e.publish(s.event(events.SessionDown))
	}
	e.publish(s.event(events.SessionDeleted))
	s.log.Info("session ended", zap.Stringer("cause", s.end.cause), zap.String("reason", s.end.reason),
		zap.Duration("duration", time.Since(s.created)))
	close(s.gone)
	if p := s.port; p.draining && p.sessions == 0 {
		e.closePort(p)
	}
}

// rateLog lets one message per key through per interval, counting what it suppressed, so
// that a flood from a misbehaving host cannot drown the log. The keys are bounded (reason
// names, interface names). It is safe for concurrent use.
type rateLog struct {
	every time.Duration

	mu         sync.Mutex // guards the fields below
	last       map[string]time.Time
	suppressed map[string]int
}

func newRateLog(every time.Duration) *rateLog {
	return &rateLog{every: every, last: map[string]time.Time{}, suppressed: map[string]int{}}
}

// allow reports whether a message for key may be logged now, and how many were
// suppressed since the last one.
func (r *rateLog) allow(key string) (bool, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if last, ok := r.last[key]; ok && now.Sub(last) < r.every {
		r.suppressed[key]++
		return false, 0
	}
	r.last[key] = now
	n := r.suppressed[key]
	delete(r.suppressed, key)
	return true, n
}

// vlansOf returns the VLAN tags of a received frame.
func vlansOf(fi kernel.FrameInfo) VLANs {
	if fi.OuterVLAN != 0 {
		return VLANs{Outer: fi.OuterVLAN, Inner: fi.VLAN}
	}
	return VLANs{Outer: fi.VLAN}
}

// frameTo returns the envelope of a frame to dst with tags v.
func frameTo(dst MAC, v VLANs) kernel.FrameInfo {
	fi := kernel.FrameInfo{Dst: net.HardwareAddr(dst[:])}
	if v.Inner != 0 {
		fi.VLAN, fi.OuterVLAN = v.Inner, v.Outer
	} else {
		fi.VLAN = v.Outer
	}
	return fi
}

func macOf(hw net.HardwareAddr) (MAC, bool) {
	var m MAC
	if len(hw) != 6 {
		return m, false
	}
	copy(m[:], hw)
	return m, true
}

// vlanString renders tags as SessionInfo.VLANs does.
func vlanString(v VLANs) string {
	switch {
	case v.Outer == 0 && v.Inner == 0:
		return ""
	case v.Inner == 0:
		return fmt.Sprint(v.Outer)
	}
	return fmt.Sprintf("%d.%d", v.Outer, v.Inner)
}

// portLabel names an access interface and VLANs as one string, "eth1", "eth1.100" or
// "eth1.10.100" (the NAS-Port-Id of the session).
func portLabel(iface string, v VLANs) string {
	if s := vlanString(v); s != "" {
		return iface + "." + s
	}
	return iface
}
