package l2tp

import (
	"encoding/hex"
	"fmt"

	"go.uber.org/zap"

	"github.com/probox/probox/control/event"
	"github.com/probox/probox/kernel"
)

// Static ("unmanaged") L2TPv3 tunnels: [tunnel.NAME] with static = true. There is no
// control connection: the tunnel and its sessions are created in the data plane from the
// IDs and cookies of the configuration, and both ends must agree on them. The tunnel actor
// still owns them, so that snapshots, deletes and shutdown work as for any tunnel.

// startStatic establishes a static tunnel and its sessions.
func (t *tunnel) startStatic() error {
	ct := t.p.configured
	if err := t.kt.Establish(ct.PeerTunnelID, t.spec.peer); err != nil {
		return err
	}
	t.peerID = ct.PeerTunnelID
	t.setState(tunnelEstablished)
	t.outcome.wentUp = true
	t.upEvent = true
	t.e.m.tunnelsTotal.WithLabelValues("established").Inc()
	t.publish(event.TunnelUp, nil)
	for _, name := range sortedKeys(ct.Sessions) {
		if _, err := t.openStaticSession(name); err != nil {
			t.log.Warn("cannot create static session", zap.String("session", name), zap.Error(err))
		}
	}
	return nil
}

// openStaticSession creates configured session name of a static tunnel.
func (t *tunnel) openStaticSession(name string) (*session, error) {
	cs := t.p.configured.Sessions[name]
	if t.state != tunnelEstablished {
		return nil, errTunnelClosing
	}
	cookie, err1 := hex.DecodeString(cs.Cookie)
	peerCookie, err2 := hex.DecodeString(cs.PeerCookie)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("bad cookie in tunnel.%s.session.%s", t.spec.name, name)
	}
	sp := t.p.sessionParamsFor(name)
	sp.establishAfter = 0
	s, err := t.newSession(roleICRQSender, sp, cs.SessionID)
	if err != nil {
		return nil, err
	}
	s.peerID = cs.PeerSessionID
	s.cookie, s.peerCookie = cookie, peerCookie
	s.remoteEnd = name
	s.fsm.state = sessEstablished
	// Both ends are configured alike: whatever sequencing our profile asks of the peer, the
	// peer's profile asks of us.
	s.peerSeq = s.recvSeq
	if err := t.ensureKernelSession(s); err != nil {
		t.failSession(s, ResultError{Result: uint16(CDNGeneralError), ErrorCode: uint16(ErrorInsufficientResources), Message: "data plane error"}, "data plane: "+err.Error())
		return nil, err
	}
	if s.pw == kernel.PWPPP {
		if err := t.startPPP(s, s.params.pppClient); err != nil {
			t.failSession(s, ResultError{Result: uint16(CDNTemporaryFacilities), Message: "PPP unavailable"}, "ppp: "+err.Error())
			return nil, err
		}
	}
	t.markUp(s)
	return s, nil
}
