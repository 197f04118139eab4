package l2tp

import (
	"fmt"
	"hash/fnv"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/probox/probox/config"
	"github.com/probox/probox/kernel"
)

// Resolution of the configuration into what tunnels and sessions use.

func sortedKeys[T any](m map[string]T) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// hostNameOf returns the Host Name we send: system.host_name, else the machine's name.
func hostNameOf(cfg *config.Config) string {
	if cfg.System.HostName != "" {
		return cfg.System.HostName
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "probox"
}

// routerIDOf returns the L2TPv3 Router ID (RFC 3931 §5.4.3): system.router_id, else the
// first specific IPv4 address we listen on, else a non-zero hash of the host name.
func routerIDOf(cfg *config.Config, host string) uint32 {
	if a, err := netip.ParseAddr(cfg.System.RouterID); err == nil && a.Is4() {
		return ipv4ToUint32(a)
	}
	for _, l := range cfg.System.L2TPListen {
		if ap, err := netip.ParseAddrPort(l); err == nil && ap.Addr().Is4() && !ap.Addr().IsUnspecified() {
			return ipv4ToUint32(ap.Addr())
		}
	}
	for _, l := range cfg.System.L2TPIPListen {
		if a, err := netip.ParseAddr(l); err == nil && a.Is4() && !a.IsUnspecified() {
			return ipv4ToUint32(a)
		}
	}
	h := fnv.New32a()
	h.Write([]byte(host))
	if id := h.Sum32(); id != 0 {
		return id
	}
	return 1
}

func ipv4ToUint32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// splitHostPort parses "host" or "host:port" (IPv6 as "[addr]:port" or a bare address).
func splitHostPort(s string, defPort int) (string, uint16, error) {
	if s == "" {
		return "", 0, fmt.Errorf("no address")
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.String(), uint16(defPort), nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return s, uint16(defPort), nil // a DNS name without a port
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return "", 0, fmt.Errorf("bad port in %q", s)
	}
	return host, uint16(p), nil
}

// parseLocal parses a tunnel's local address: an IP address with an optional port.
func parseLocal(s string) (netip.AddrPort, error) {
	host, port, err := splitHostPort(s, 0)
	if err != nil {
		return netip.AddrPort{}, err
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("local address %q is not an IP address", s)
	}
	return netip.AddrPortFrom(a.Unmap(), port), nil
}

// resolvePeer turns a configured peer (an address, or a DNS name resolved now) into an
// address and port.
func resolvePeer(s string, defPort int) (netip.AddrPort, error) {
	host, port, err := splitHostPort(s, defPort)
	if err != nil {
		return netip.AddrPort{}, err
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return netip.AddrPortFrom(a.Unmap(), port), nil
	}
	addrs, err := net.LookupHost(host)
	if err != nil || len(addrs) == 0 {
		return netip.AddrPort{}, fmt.Errorf("resolving %q: %v", host, err)
	}
	a, err := netip.ParseAddr(addrs[0])
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(a.Unmap(), port), nil
}

// matchPeer returns the peer profile for a peer: among the profiles whose host_name (if
// set) equals host and whose match list (if set) contains addr, the one with the longest
// matching prefix, a host-name match counting as longer than any prefix; "default" when
// none matches.
func matchPeer(cfg *config.Config, addr netip.Addr, host string) string {
	best, bestLen := config.DefaultProfile, -1
	for _, name := range sortedKeys(cfg.PeerProfiles) {
		if name == config.DefaultProfile {
			continue
		}
		p := cfg.PeerProfiles[name]
		if p.HostName == "" && len(p.Match) == 0 {
			continue
		}
		if p.HostName != "" && !strings.EqualFold(p.HostName, host) {
			continue
		}
		l := -1
		if len(p.Match) == 0 {
			l = 0
		}
		for _, pfx := range p.Match {
			if pfx.Contains(addr.Unmap()) && pfx.Bits() > l {
				l = pfx.Bits()
			}
		}
		if l < 0 {
			continue
		}
		if p.HostName != "" {
			l += 256 // a host name match is more specific than any prefix
		}
		if l > bestLen {
			best, bestLen = name, l
		}
	}
	return best
}

// tunnelParams is what a tunnel takes from the configuration when it starts; a reload does
// not change it.
type tunnelParams struct {
	cfg         *config.Config // the configuration at the tunnel's start (read-only)
	profileName string
	prof        config.TunnelProfile
	peerProf    config.PeerProfile
	hostName    string
	routerID    uint32
	secret      []byte
	hide        []AVPType
	static      bool
	persist     bool
	configured  config.Tunnel // for configured tunnels
}

// hiddenAVPs are hidden when a tunnel profile has hide_avps: the AVPs RFC 2661 §4.3 has in
// mind (user and call identities, proxy authentication) and the session identifiers.
var hiddenAVPs = []AVPType{
	AVPAssignedSessionID, AVPCallSerialNumber, AVPCalledNumber, AVPCallingNumber, AVPSubAddress,
	AVPInitialReceivedLCPConfReq, AVPLastSentLCPConfReq, AVPLastReceivedLCPConfReq,
	AVPProxyAuthenType, AVPProxyAuthenName, AVPProxyAuthenChallenge, AVPProxyAuthenID, AVPProxyAuthenResponse,
	AVPLocalSessionID, AVPRemoteSessionID, AVPAssignedCookie, AVPRemoteEndID,
}

func newTunnelParams(cfg *config.Config, spec tunnelSpec, host string, rid uint32) tunnelParams {
	p := tunnelParams{cfg: cfg, profileName: spec.profile, hostName: host, routerID: rid}
	p.prof = cfg.TunnelProfiles[spec.profile]
	p.peerProf = cfg.PeerProfiles[spec.peerProf]
	if p.prof.HostName != "" {
		p.hostName = p.prof.HostName
	}
	if p.prof.Secret != "" {
		p.secret = []byte(p.prof.Secret)
	}
	if p.prof.HideAVPs && p.secret != nil {
		p.hide = hiddenAVPs
	}
	if spec.name != "" {
		p.configured = cfg.Tunnels[spec.name]
		p.static = p.configured.Static
		p.persist = p.configured.Persist
	}
	return p
}

// transportConfig returns the reliable transport's settings from the tunnel profile.
func (p *tunnelParams) transportConfig(v Version, explicitAck bool) TransportConfig {
	return TransportConfig{
		Version:         v,
		RxWindow:        uint16(min(max(p.prof.RxWindowSize, 1), MaxTransportWindow)),
		RetryTimeout:    p.prof.RetryTimeout,
		MaxRetryTimeout: p.prof.MaxRetryTime,
		MaxRetries:      p.prof.MaxRetries,
		AckDelay:        min(DefaultAckDelay, p.prof.RetryTimeout/2),
		HelloInterval:   p.prof.HelloInterval,
		ExplicitAck:     explicitAck,
	}
}

func (p *tunnelParams) digestType() (DigestType, bool) {
	switch p.prof.Digest {
	case config.DigestMD5:
		return DigestHMACMD5, true
	case config.DigestSHA1:
		return DigestHMACSHA1, true
	}
	return 0, false
}

// sessionParams is what a session takes from the configuration.
type sessionParams struct {
	name           string // configured session name
	profileName    string
	prof           config.SessionProfile
	pppProfile     string
	ethProfile     string
	eth            config.EthernetProfile
	pw             kernel.PWType
	ifName         string // interface name or template of an Ethernet pseudowire
	pppClient      bool
	configured     *config.Session
	establishAfter time.Duration
}

// sessionParamsFor resolves a session's profiles. For sessions of the peer (network
// initiated) the peer profile's session profile applies, and the peer profile's PPP and
// Ethernet profiles win over the session profile's when they are not "default"; a
// configured session names its own profiles.
func (p *tunnelParams) sessionParamsFor(name string) sessionParams {
	cfg := p.cfg
	sp := sessionParams{name: name, establishAfter: cfg.System.SessionEstablishTimeout}
	var cs *config.Session
	if name != "" {
		if s, ok := p.configured.Sessions[name]; ok {
			cs = &s
		}
	}
	sp.configured = cs
	if cs != nil {
		sp.profileName = cs.SessionProfile
	} else {
		sp.profileName = p.peerProf.SessionProfile
	}
	if sp.profileName == "" {
		sp.profileName = config.DefaultProfile
	}
	sp.prof = cfg.SessionProfiles[sp.profileName]
	sp.pppProfile, sp.ethProfile = sp.prof.PPPProfile, sp.prof.EthernetProfile
	if cs == nil {
		if p.peerProf.PPPProfile != "" && p.peerProf.PPPProfile != config.DefaultProfile {
			sp.pppProfile = p.peerProf.PPPProfile
		}
		if p.peerProf.EthernetProfile != "" && p.peerProf.EthernetProfile != config.DefaultProfile {
			sp.ethProfile = p.peerProf.EthernetProfile
		}
	} else if cs.PPPProfile != "" {
		sp.pppProfile = cs.PPPProfile
	}
	if sp.pppProfile == "" {
		sp.pppProfile = config.DefaultProfile
	}
	if sp.ethProfile == "" {
		sp.ethProfile = config.DefaultProfile
	}
	sp.eth = cfg.EthernetProfiles[sp.ethProfile]
	sp.pw = kernel.PWPPP
	if sp.prof.PWType == config.PWEthernet {
		sp.pw = kernel.PWEthernet
	}
	sp.ifName = sp.eth.InterfaceName
	if cs != nil && cs.InterfaceName != "" {
		sp.ifName = cs.InterfaceName
	}
	// The L2TP PPP client use case: a PPP profile with client credentials.
	sp.pppClient = cfg.PPPProfiles[sp.pppProfile].Username != ""
	return sp
}

// pwTypeOf maps a pseudowire type to the IANA value (RFC 3931 §10.6).
func pwTypeOf(pw kernel.PWType) PseudowireType {
	if pw == kernel.PWEthernet {
		return PWEthernet
	}
	return PWPPP
}

// overhead returns the octets that IP, UDP (if any), the L2TP data header, the cookie and
// the L2-Specific Sublayer add to a frame (RFC 2661 §3.1, RFC 3931 §4.1, §4.6).
func overhead(v Version, encap kernel.Encap, ipv6 bool, cookieLen int, l2spec kernel.L2Spec, seq bool) int {
	n := 20
	if ipv6 {
		n = 40
	}
	if encap == kernel.EncapUDP {
		n += 8
	}
	switch {
	case v == Version2:
		n += 6
		if seq {
			n += 4
		}
	case encap == kernel.EncapUDP:
		n += 8
	default:
		n += 4
	}
	n += cookieLen
	if l2spec == kernel.L2SpecDefault {
		n += 4
	}
	return n
}

// netipPortless drops the port (L2TPv3 over IP has none).
func netipPortless(ap netip.AddrPort) netip.AddrPort {
	if !ap.Addr().IsValid() {
		return ap
	}
	return netip.AddrPortFrom(ap.Addr(), 0)
}

// netipWithPort sets the port of a possibly unspecified address.
func netipWithPort(ap netip.AddrPort, port uint16) netip.AddrPort {
	a := ap.Addr()
	if !a.IsValid() {
		a = netip.IPv4Unspecified()
	}
	return netip.AddrPortFrom(a, port)
}
