package l2tp

import (
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/probox/probox/kernel"
)

// Configured tunnels ([tunnel.NAME]): bringing them up, keeping persistent ones up, and
// tearing them down.

// supervisor keeps a persistent configured tunnel up: when the tunnel ends for any reason
// but an administrative delete or shutdown, it is brought up again after a backoff that
// doubles from persistMinBackoff to persistMaxBackoff and starts over once the tunnel has
// been established.
type supervisor struct {
	e    *Engine
	name string
	stop chan struct{}
	done chan struct{}
}

func (sv *supervisor) halt() {
	select {
	case <-sv.stop:
	default:
		close(sv.stop)
	}
	<-sv.done
}

// run keeps the tunnel up; first is the tunnel started by startConfigured (nil if that
// failed).
func (sv *supervisor) run(first *tunnel) {
	defer sv.e.wg.Done()
	defer close(sv.done)
	backoff := persistMinBackoff
	t := first
	for {
		if t != nil {
			// A closing tunnel lingers for its peer (RFC 2661 §5.7) but takes no calls: the
			// next one can start at once.
			select {
			case <-t.down:
				if t.outcome.wentUp {
					backoff = persistMinBackoff
				}
				if t.outcome.admin {
					sv.e.dropSupervisor(sv)
					return
				}
			case <-sv.stop:
				return
			}
		}
		timer := time.NewTimer(backoff)
		select {
		case <-timer.C:
		case <-sv.stop:
			timer.Stop()
			return
		}
		backoff = min(2*backoff, persistMaxBackoff)
		var err error
		if t, err = sv.e.startConfiguredOnce(sv.name); err != nil {
			sv.e.log.Warn("cannot bring up persistent tunnel", zap.String("tunnel", sv.name), zap.Error(err), zap.Duration("retry_in", backoff))
		}
	}
}

func (e *Engine) dropSupervisor(sv *supervisor) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.supervised[sv.name] == sv {
		delete(e.supervised, sv.name)
	}
}

// startConfigured brings up configured tunnel name: once, or under a supervisor when it is
// persistent. It fails with ErrExists when the tunnel is already up.
func (e *Engine) startConfigured(name string) error {
	e.mu.Lock()
	ct, ok := e.cfg.Tunnels[name]
	switch {
	case e.state != engineRunning:
		e.mu.Unlock()
		return ErrNotRunning
	case !ok:
		e.mu.Unlock()
		return fmt.Errorf("%w: no [tunnel.%s] in the configuration", ErrNotFound, name)
	case e.supervised[name] != nil || e.named[name] != nil:
		e.mu.Unlock()
		return fmt.Errorf("%w: tunnel %s is up", ErrExists, name)
	}
	if ct.Persist && !ct.Static {
		sv := &supervisor{e: e, name: name, stop: make(chan struct{}), done: make(chan struct{})}
		e.supervised[name] = sv
		e.wg.Add(1)
		e.mu.Unlock()
		t, err := e.startConfiguredOnce(name)
		if err != nil {
			e.log.Warn("cannot bring up persistent tunnel", zap.String("tunnel", name), zap.Error(err))
		}
		go sv.run(t)
		return nil
	}
	e.mu.Unlock()
	_, err := e.startConfiguredOnce(name)
	return err
}

// startConfiguredOnce starts one actor for configured tunnel name.
func (e *Engine) startConfiguredOnce(name string) (*tunnel, error) {
	e.mu.Lock()
	cfg := e.cfg
	e.mu.Unlock()
	ct, ok := cfg.Tunnels[name]
	if !ok {
		return nil, fmt.Errorf("%w: no [tunnel.%s] in the configuration", ErrNotFound, name)
	}
	tp := cfg.TunnelProfiles[ct.TunnelProfile]
	peer, err := resolvePeer(ct.Peer, tp.PeerPort)
	if err != nil {
		return nil, err
	}
	spec := tunnelSpec{
		initiator: !ct.Static,
		static:    ct.Static,
		name:      name,
		version:   Version(tp.Version),
		encap:     kernel.EncapUDP,
		peer:      peer,
		profile:   ct.TunnelProfile,
		peerProf:  matchPeer(cfg, peer.Addr(), ""),
	}
	if tp.Encap == "ip" {
		spec.encap = kernel.EncapIP
		spec.peer = netipPortless(peer)
	}
	if ct.Local != "" {
		if spec.local, err = parseLocal(ct.Local); err != nil {
			return nil, err
		}
	}
	if ct.Static {
		spec.fixedID = ct.TunnelID
		if spec.encap == kernel.EncapUDP && spec.local.Port() == 0 {
			// Both ends of a static tunnel name their ports; without one we use the peer
			// port, as the peer most likely does.
			spec.local = netipWithPort(spec.local, peer.Port())
		}
	}
	if spec.encap == kernel.EncapIP {
		spec.local = netipPortless(spec.local)
	}
	return e.startTunnel(spec)
}

// stopConfigured tears down configured tunnel name (administratively: a persistent tunnel
// is not brought up again). With wait, it waits until a static tunnel has released its
// fixed IDs, so that it can be brought up again at once.
func (e *Engine) stopConfigured(name, reason string, wait bool) {
	e.mu.Lock()
	sv := e.supervised[name]
	delete(e.supervised, name)
	var ts []*tunnel
	for _, t := range e.tunnels {
		if t.spec.name == name {
			ts = append(ts, t)
		}
	}
	e.mu.Unlock()
	if sv != nil {
		sv.halt()
	}
	for _, t := range ts {
		t.doWait(time.Second, func(t *tunnel) { t.adminClose(adminResult(t.spec.version), reason) })
		if wait && t.spec.static {
			<-t.done
		}
	}
}
