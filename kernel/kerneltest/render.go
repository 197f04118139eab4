package kerneltest

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/probox/probox/kernel"
)

// State renders the objects that exist on the Fake as sorted lines, one object per line,
// each ending in a newline ("" when nothing exists). The formats, with "-" for an absent
// value:
//
//	listener udp 0.0.0.0:1701
//	listener ip 192.0.2.1
//	tunnel 1234 v2 udp 192.0.2.1:49152 -> 192.0.2.2:1701 peer_tunnel 5678
//	tunnel 1234 v3 ip 192.0.2.1 -> 192.0.2.2 peer_tunnel -
//	session 1234/77 peer 88 pw ppp cookie - peer_cookie - l2spec none seq send=false recv=false
//	session 9/10 peer 11 pw ethernet if l2tpeth0 mtu 1430 cookie 0a0b0c0d peer_cookie 01020304 l2spec default seq send=true recv=true
//	channel l2tp 1234/77 mtu 1462
//	channel pppoe eth1/5 vlan 100 peer 02:00:00:00:01:01 mtu 1492
//	unit ppp0 dedicated on l2tp 1234/77 mtu 1500 ipv4 100.64.0.1 -> 100.64.0.5 ipv6 fe80::1 -> fe80::2 routes 0.0.0.0/0
//	unit probox0 shared on pppoe eth1/5 (closed) mtu 1492 ipv4 - ipv6 - routes -
//	channel pppoe eth0/9 from 02:00:00:00:0a:01 peer 02:00:00:00:01:01 mtu 1492
//	pppoe eth1 vlans 100,200
//	pppoe eth0 vlans untagged extra 02:00:00:00:0a:01,02:00:00:00:0a:02
//	bridge l2tp 1234/77 <-> pppoe eth1/5
//
// A tunnel line gets " csum" at the end when UDP checksums are on; "peer_tunnel -" means
// not yet established. Sessions and channels are keyed by our tunnel and session IDs;
// PPPoE channels by interface and session ID (and "from MAC" when our address is an
// extra one), with "vlan OUTER.INNER" for QinQ; a PPPoE port lists the extra addresses
// it acts for. A unit
// names the channel it was made on, with " (closed)" once that channel is gone (the unit
// itself stays until closed, so that a leaked unit shows). Routes are sorted. A bridge
// names its channels in sorted order. Tunnel IDs sort as text, not as numbers.
func (f *Fake) State() string {
	f.n.mu.Lock()
	defer f.n.mu.Unlock()
	lines := f.stateLinesLocked()
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}

func (f *Fake) stateLinesLocked() []string {
	var lines []string
	for _, l := range f.listeners {
		lines = append(lines, l.name())
	}
	for _, t := range f.tunnels {
		lines = append(lines, t.line())
		for _, s := range t.sessions {
			lines = append(lines, "session "+sessionConfigString(t.cfg.TunnelID, s.cfg, s.ifname, s.ethMTU()))
		}
	}
	for _, c := range f.channels {
		lines = append(lines, c.line())
	}
	for _, u := range f.units {
		lines = append(lines, u.line())
	}
	for _, p := range f.ports {
		lines = append(lines, p.line())
	}
	for _, b := range f.bridges {
		lines = append(lines, "bridge "+b.name())
	}
	slices.Sort(lines)
	return lines
}

func (t *tunnel) line() string {
	peerID := "-"
	if t.established {
		peerID = fmt.Sprint(t.peerID)
	}
	s := fmt.Sprintf("tunnel %d v%d %s %s -> %s peer_tunnel %s", t.cfg.TunnelID, t.cfg.Version, t.encap,
		addrString(t.encap, t.local), addrString(t.encap, t.peer), peerID)
	if t.cfg.UDPChecksums && t.encap == kernel.EncapUDP {
		s += " csum"
	}
	return s
}

// sessionConfigString renders a session after the word "session". For an Ethernet
// pseudowire it includes the interface name and MTU given.
func sessionConfigString(tunnelID uint32, c kernel.SessionConfig, ifname string, mtu int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d/%d peer %d pw %s", tunnelID, c.SessionID, c.PeerSessionID, c.PWType)
	if c.PWType == kernel.PWEthernet {
		if ifname == "" {
			ifname = "-"
		}
		fmt.Fprintf(&b, " if %s mtu %d", ifname, mtu)
	}
	l2spec := "none"
	if c.L2Spec == kernel.L2SpecDefault {
		l2spec = "default"
	}
	fmt.Fprintf(&b, " cookie %s peer_cookie %s l2spec %s seq send=%t recv=%t",
		cookieString(c.Cookie), cookieString(c.PeerCookie), l2spec, c.SendSeq, c.RecvSeq)
	return b.String()
}

func cookieString(c []byte) string {
	if len(c) == 0 {
		return "-"
	}
	return hex.EncodeToString(c)
}

func (c *channel) line() string {
	if c.port != nil {
		return fmt.Sprintf("channel %s%s peer %s mtu %d", c.key, vlanSuffix(c.peer), c.peer.Dst, c.mtuLocked())
	}
	return fmt.Sprintf("channel %s mtu %d", c.key, c.mtuLocked())
}

func (u *unit) line() string {
	mode := "dedicated"
	if u.shared {
		mode = "shared"
	}
	on := u.chKey
	if u.ch == nil {
		on += " (closed)"
	}
	return fmt.Sprintf("unit %s %s on %s %s", u.name, mode, on, unitStateString(u.mtu(u.st), u.st))
}

// unitStateString renders a unit's configuration: "mtu N ipv4 L -> P ipv6 L -> P routes
// R,R".
func unitStateString(mtu int, s kernel.UnitState) string {
	routes := "-"
	if len(s.Routes) > 0 {
		rs := make([]string, len(s.Routes))
		for i, r := range s.Routes {
			rs[i] = r.String()
		}
		slices.Sort(rs)
		routes = strings.Join(rs, ",")
	}
	return fmt.Sprintf("mtu %d ipv4 %s ipv6 %s routes %s", mtu, pair(s.IPv4Local, s.IPv4Peer), pair(s.IPv6Local, s.IPv6Peer), routes)
}

func pair(local, peer netip.Addr) string {
	if !local.IsValid() && !peer.IsValid() {
		return "-"
	}
	return addrOrDash(local) + " -> " + addrOrDash(peer)
}

func addrOrDash(a netip.Addr) string {
	if !a.IsValid() {
		return "-"
	}
	return a.String()
}
