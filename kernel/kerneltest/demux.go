package kerneltest

import (
	"bytes"
	"encoding/binary"
	"net/netip"

	"github.com/probox/probox/kernel"
)

// receiveIPLocked delivers an L2TP packet addressed to one of the host's addresses and
// reports whether a socket, session or channel took it.
//
// UDP is demultiplexed like Linux UDP: a tunnel (a connected socket) whose local and
// peer address and port match exactly, else a listener on the destination port and
// address or on the unspecified address of the family. L2TP over IP is demultiplexed
// like the kernel's l2tp_ip: a control message (session ID 0 on the wire) goes to the
// socket bound to the Control Connection ID in its header (RFC 3931 §3.2.1), which is a
// tunnel's ID or 0 for the listener; a data message goes to the session by its ID.
func (f *Fake) receiveIPLocked(p Packet) ([]Packet, bool) {
	if p.Encap == kernel.EncapUDP {
		t := f.udpTunnelLocked(p.To, p.From)
		switch {
		case t != nil && p.Kind == L2TPControl:
			return nil, t.ctl.pushLocked(ctlMsg{data: bytes.Clone(p.Data), src: p.From, dst: p.To.Addr()})
		case t != nil:
			return t.receiveDataLocked(p)
		case p.Kind == L2TPControl:
			if l := f.listenerLocked(kernel.EncapUDP, p.To); l != nil {
				return nil, l.q.pushLocked(ctlMsg{data: bytes.Clone(p.Data), src: p.From, dst: p.To.Addr()})
			}
		}
		return nil, false
	}
	if p.Kind == L2TPData {
		s := f.v3[p.Session]
		if s == nil || s.t.encap != kernel.EncapIP {
			return nil, false
		}
		return s.receiveLocked(p), true
	}
	// The kernel wants the fixed 12-byte control header with T and L set.
	if len(p.Data) < 12 || p.Data[0]&0xc0 != 0xc0 {
		return nil, false
	}
	if id := binary.BigEndian.Uint32(p.Data[4:8]); id != 0 {
		t := f.tunnels[id]
		if t == nil || t.encap != kernel.EncapIP || t.local.Addr() != p.To.Addr() || t.peer.Addr() != p.From.Addr() {
			return nil, false
		}
		return nil, t.ctl.pushLocked(ctlMsg{data: bytes.Clone(p.Data), src: p.From, dst: p.To.Addr()})
	}
	if l := f.listenerLocked(kernel.EncapIP, p.To); l != nil {
		return nil, l.q.pushLocked(ctlMsg{data: bytes.Clone(p.Data), src: p.From, dst: p.To.Addr()})
	}
	return nil, false
}

func (f *Fake) udpTunnelLocked(local, peer netip.AddrPort) *tunnel {
	var anyPort *tunnel
	for _, t := range f.tunnels {
		if t.encap != kernel.EncapUDP || t.local != local {
			continue
		}
		if t.peer == peer {
			return t
		}
		if t.takesFrom(peer) {
			anyPort = t
		}
	}
	return anyPort
}

// listenerLocked finds the listener for a packet to dst: bound to dst's address, else
// to the unspecified address of its family (for UDP, on dst's port).
func (f *Fake) listenerLocked(encap kernel.Encap, dst netip.AddrPort) *listener {
	var wild *listener
	for _, l := range f.listeners {
		if l.encap != encap || (encap == kernel.EncapUDP && l.addr.Port() != dst.Port()) {
			continue
		}
		switch a := l.addr.Addr(); {
		case a == dst.Addr():
			return l
		case a.IsUnspecified() && a.Is4() == dst.Addr().Is4():
			wild = l
		}
	}
	return wild
}

// receiveDataLocked delivers a data message that arrived on UDP tunnel t's socket: by
// tunnel and session ID for L2TPv2, by session ID alone for L2TPv3.
func (t *tunnel) receiveDataLocked(p Packet) ([]Packet, bool) {
	var s *session
	if t.cfg.Version == 2 {
		if o := t.f.tunnels[p.Tunnel]; o != nil && o.cfg.Version == 2 {
			s = o.sessions[p.Session]
		}
	} else if s = t.f.v3[p.Session]; s != nil && s.t.encap != kernel.EncapUDP {
		s = nil
	}
	if s == nil {
		t.stats.Drops[kernel.DropNoSession]++
		return nil, false
	}
	return s.receiveLocked(p), true
}
