package config

import (
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// validate checks the values of a decoded configuration and the references between its
// blocks, adding every problem to errs. It also fills in references left empty with the
// name of the default profile.
func (c *Config) validate(errs *Errors) {
	v := validator{errs}
	c.validateSystem(v)
	c.validateProfiles(v)
	c.validateTunnels(v)
	c.validatePools(v)
	c.validatePPPoE(v)
	c.validateRADIUS(v)
}

type validator struct{ errs *Errors }

func (v validator) check(ok bool, path, format string, args ...any) {
	if !ok {
		v.errs.addf(path, format, args...)
	}
}

func (v validator) intRange(path string, n, lo, hi int) {
	v.check(n >= lo && n <= hi, path, "must be between %d and %d, got %d", lo, hi, n)
}

func (v validator) minDuration(path string, d, lo time.Duration) {
	v.check(d >= lo, path, "must be at least %s, got %s", lo, d)
}

func (v validator) absPath(path, p string) {
	v.check(p != "" && filepath.IsAbs(p), path, "must be an absolute path, got %q", p)
}

// ref checks that name (defaulted to "default" when empty) names an entry of table and
// stores the defaulted name back.
func ref[T any](v validator, path string, name *string, kind string, table map[string]T) {
	if *name == "" {
		*name = DefaultProfile
	}
	if _, ok := table[*name]; !ok {
		v.errs.addf(path, "no %s named %q", kind, *name)
	}
}

// optRef is ref for references that may stay empty.
func optRef[T any](v validator, path string, name string, kind string, table map[string]T) {
	if name == "" {
		return
	}
	if _, ok := table[name]; !ok {
		v.errs.addf(path, "no %s named %q", kind, name)
	}
}

func (c *Config) validateSystem(v validator) {
	s := &c.System
	if s.RouterID != "" {
		a, err := netip.ParseAddr(s.RouterID)
		v.check(err == nil && a.Is4(), "system.router_id", "must be an IPv4 address, got %q", s.RouterID)
	}
	for i, l := range s.L2TPListen {
		_, err := netip.ParseAddrPort(l)
		v.check(err == nil, fmt.Sprintf("system.l2tp_listen[%d]", i), `must be an IP address and port such as "0.0.0.0:1701" or "[::]:1701", got %q`, l)
	}
	for i, l := range s.L2TPIPListen {
		_, err := netip.ParseAddr(l)
		v.check(err == nil, fmt.Sprintf("system.l2tp_ip_listen[%d]", i), `must be an IP address such as "0.0.0.0" or "::" (no port: L2TPv3 over IP has none), got %q`, l)
	}
	v.check(s.MaxTunnels >= 0, "system.max_tunnels", "must not be negative, got %d", s.MaxTunnels)
	v.check(s.MaxSessions >= 0, "system.max_sessions", "must not be negative, got %d", s.MaxSessions)
	v.minDuration("system.tunnel_establish_timeout", s.TunnelEstablishTimeout, time.Second)
	v.minDuration("system.session_establish_timeout", s.SessionEstablishTimeout, time.Second)
	v.absPath("system.secrets_file", s.SecretsFile)
	v.absPath("system.runtime_dir", s.RuntimeDir)

	v.check(slices.Contains(syslogFacilities, c.Log.Facility), "log.facility", "must be one of %s, got %q", strings.Join(syslogFacilities, ", "), c.Log.Facility)

	v.check(ifaceName.MatchString(c.Kernel.SharedUnit), "kernel.shared_unit", "must be an interface name of 1 to 15 characters, got %q", c.Kernel.SharedUnit)
	v.check(c.Kernel.InterfaceGroup >= 0, "kernel.interface_group", "must not be negative, got %d", c.Kernel.InterfaceGroup)

	if c.Control.HTTPListen != "" {
		_, port, err := net.SplitHostPort(c.Control.HTTPListen)
		if err == nil {
			_, err = strconv.ParseUint(port, 10, 16)
		}
		v.check(err == nil, "control.http_listen", `must be host:port such as "127.0.0.1:9107" (or empty to disable), got %q`, c.Control.HTTPListen)
	}
	v.absPath("control.socket", c.Control.Socket)

	v.absPath("hooks.dir", c.Hooks.Dir)
	v.minDuration("hooks.timeout", c.Hooks.Timeout, time.Second)
	v.check(c.Hooks.MaxConcurrent >= 1, "hooks.max_concurrent", "must be at least 1, got %d", c.Hooks.MaxConcurrent)

}

var syslogFacilities = []string{"daemon", "user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"}

func (c *Config) validateProfiles(v validator) {
	for _, name := range sortedNames(c.PeerProfiles) {
		p := c.PeerProfiles[name]
		path := "peer_profile." + name
		ref(v, path+".tunnel_profile", &p.TunnelProfile, "tunnel_profile", c.TunnelProfiles)
		ref(v, path+".session_profile", &p.SessionProfile, "session_profile", c.SessionProfiles)
		ref(v, path+".ppp_profile", &p.PPPProfile, "ppp_profile", c.PPPProfiles)
		ref(v, path+".ethernet_profile", &p.EthernetProfile, "ethernet_profile", c.EthernetProfiles)
		c.PeerProfiles[name] = p
	}
	for _, name := range sortedNames(c.TunnelProfiles) {
		t := c.TunnelProfiles[name]
		path := "tunnel_profile." + name
		v.check(t.Version == 2 || t.Version == 3, path+".version", "must be 2 or 3, got %d", t.Version)
		v.check(t.Encap != EncapIP || t.Version == 3, path+".encap", `"ip" encapsulation needs version = 3`)
		v.intRange(path+".peer_port", t.PeerPort, 1, 65535)
		v.check(!t.HideAVPs || t.Secret != "", path+".hide_avps", "needs a secret")
		if t.Digest != DigestNone {
			v.check(t.Version == 3, path+".digest", "control message authentication needs version = 3")
			v.check(t.Secret != "", path+".digest", "needs a secret")
		}
		v.check(t.HelloInterval == 0 || t.HelloInterval >= time.Second, path+".hello_interval", "must be 0 (off) or at least 1s, got %s", t.HelloInterval)
		v.minDuration(path+".retry_timeout", t.RetryTimeout, 100*time.Millisecond)
		// RFC 2661 Appendix A: the cap of the retransmission timeout is at least 8 seconds.
		v.check(t.MaxRetryTime >= 8*time.Second && t.MaxRetryTime >= t.RetryTimeout, path+".max_retry_timeout", "must be at least 8s and at least retry_timeout (%s), got %s", t.RetryTimeout, t.MaxRetryTime)
		v.intRange(path+".max_retries", t.MaxRetries, 1, 100)
		v.intRange(path+".rx_window_size", t.RxWindowSize, 1, 65535)
		v.check(t.IdleTimeout >= 0, path+".idle_timeout", "must not be negative")
		v.check(t.MaxSessions >= 0, path+".max_sessions", "must not be negative, got %d", t.MaxSessions)
		v.intRange(path+".mtu", t.MTU, 576, 65535)
	}
	for _, name := range sortedNames(c.SessionProfiles) {
		s := c.SessionProfiles[name]
		path := "session_profile." + name
		v.check(s.CookieLength == 0 || s.CookieLength == 4 || s.CookieLength == 8, path+".cookie_length", "must be 0, 4 or 8, got %d", s.CookieLength)
		ref(v, path+".ppp_profile", &s.PPPProfile, "ppp_profile", c.PPPProfiles)
		ref(v, path+".ethernet_profile", &s.EthernetProfile, "ethernet_profile", c.EthernetProfiles)
		c.SessionProfiles[name] = s
	}
	for _, name := range sortedNames(c.PPPProfiles) {
		p := c.PPPProfiles[name]
		path := "ppp_profile." + name
		v.intRange(path+".mru", p.MRU, 128, 65535)
		seen := map[AuthMethod]bool{}
		for i, a := range p.Auth {
			v.check(!seen[a], fmt.Sprintf("%s.auth[%d]", path, i), "%q is listed twice", a)
			seen[a] = true
		}
		v.check(p.LCPEchoInterval == 0 || p.LCPEchoInterval >= time.Second, path+".lcp_echo_interval", "must be 0 (off) or at least 1s, got %s", p.LCPEchoInterval)
		v.intRange(path+".lcp_echo_failure", p.LCPEchoFailure, 1, 100)
		v.check(p.ChapInterval == 0 || p.ChapInterval >= 10*time.Second, path+".chap_interval", "must be 0 (off) or at least 10s, got %s", p.ChapInterval)
		optRef(v, path+".ip_pool", p.IPPool, "ippool", c.IPPools)
		if p.LocalAddress != "" {
			a, err := netip.ParseAddr(p.LocalAddress)
			v.check(err == nil && a.Is4(), path+".local_address", "must be an IPv4 address, got %q", p.LocalAddress)
		}
		for key, list := range map[string][]netip.Addr{"dns": p.DNS, "nbns": p.NBNS} {
			v.check(len(list) <= 2, path+"."+key, "at most two servers, got %d", len(list))
			for i, a := range list {
				v.check(a.Is4(), fmt.Sprintf("%s.%s[%d]", path, key, i), "must be an IPv4 address, got %q", a.String())
			}
		}
		v.check(validTemplate(p.InterfaceName), path+".interface_name", "must be an interface name of at most 15 characters with at most one %%d, got %q", p.InterfaceName)
		v.check(p.AuthBackend != BackendRADIUS || len(c.RADIUS.Servers) > 0, path+".auth_backend", `"radius" needs at least one [radius.server.NAME]`)
		v.intRange(path+".max_auth_failures", p.MaxAuthFailures, 1, 100)
		v.minDuration(path+".auth_timeout", p.AuthTimeout, time.Second)
		v.intRange(path+".max_configure", p.MaxConfigureRequest, 1, 100)
		v.minDuration(path+".restart_timer", p.RestartTimer, 100*time.Millisecond)
		v.check(p.Password == "" || p.Username != "", path+".password", "is set but username is empty")
	}
	for _, name := range sortedNames(c.EthernetProfiles) {
		e := c.EthernetProfiles[name]
		path := "ethernet_profile." + name
		v.check(validTemplate(e.InterfaceName), path+".interface_name", "must be an interface name of at most 15 characters with at most one %%d, got %q", e.InterfaceName)
		v.check(e.MTU == 0 || (e.MTU >= 68 && e.MTU <= 65535), path+".mtu", "must be 0 (derive) or between 68 and 65535, got %d", e.MTU)
		v.check(e.Bridge == "" || ifaceName.MatchString(e.Bridge), path+".bridge", "must be an interface name, got %q", e.Bridge)
	}
}

// validTemplate checks an interface name template: at most one %d, and short enough for
// IFNAMSIZ once the number (up to 5 digits) is in.
func validTemplate(t string) bool {
	n := strings.Count(t, "%d")
	if n > 1 || strings.Count(t, "%") != n {
		return false
	}
	name := strings.Replace(t, "%d", "99999", 1)
	return ifaceName.MatchString(name)
}

func (c *Config) validateTunnels(v validator) {
	for _, name := range sortedNames(c.Tunnels) {
		t := c.Tunnels[name]
		path := "tunnel." + name
		v.check(t.Peer != "", path+".peer", "is required")
		if t.Peer != "" {
			v.check(validHostPort(t.Peer), path+".peer", "must be a host or host:port, got %q", t.Peer)
		}
		if t.Local != "" {
			v.check(validHostPort(t.Local), path+".local", "must be an address or address:port, got %q", t.Local)
		}
		ref(v, path+".tunnel_profile", &t.TunnelProfile, "tunnel_profile", c.TunnelProfiles)
		prof, haveProf := c.TunnelProfiles[t.TunnelProfile]
		if t.Static {
			v.check(!haveProf || prof.Version == 3, path+".static", "static tunnels are L2TPv3: the tunnel profile must have version = 3")
			v.check(t.TunnelID != 0, path+".tunnel_id", "is required for a static tunnel")
			v.check(t.PeerTunnelID != 0, path+".peer_tunnel_id", "is required for a static tunnel")
		}
		if haveProf && prof.Version == 2 {
			v.check(t.TunnelID <= 0xffff, path+".tunnel_id", "L2TPv2 tunnel IDs are 16 bits, got %d", t.TunnelID)
		}
		for _, sname := range sortedNames(t.Sessions) {
			s := t.Sessions[sname]
			spath := path + ".session." + sname
			ref(v, spath+".session_profile", &s.SessionProfile, "session_profile", c.SessionProfiles)
			optRef(v, spath+".ppp_profile", s.PPPProfile, "ppp_profile", c.PPPProfiles)
			if t.Static {
				v.check(s.SessionID != 0, spath+".session_id", "is required in a static tunnel")
				v.check(s.PeerSessionID != 0, spath+".peer_session_id", "is required in a static tunnel")
			}
			for key, ck := range map[string]string{"cookie": s.Cookie, "peer_cookie": s.PeerCookie} {
				b, err := hex.DecodeString(ck)
				v.check(err == nil && (len(b) == 0 || len(b) == 4 || len(b) == 8), spath+"."+key, "must be 0, 4 or 8 bytes of hex, got %q", ck)
			}
			if s.InterfaceName != "" {
				v.check(ifaceName.MatchString(s.InterfaceName), spath+".interface_name", "must be an interface name of 1 to 15 characters, got %q", s.InterfaceName)
			}
			t.Sessions[sname] = s
		}
		c.Tunnels[name] = t
	}
}

func validHostPort(s string) bool {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		host, port = s, ""
	}
	if port != "" {
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return false
		}
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	// A DNS name, resolved when the tunnel is brought up.
	return host != "" && !strings.ContainsAny(host, " /[]")
}

// AddrRange is an inclusive range of IPv4 addresses.
type AddrRange struct{ First, Last netip.Addr }

// Contains reports whether a is in r.
func (r AddrRange) Contains(a netip.Addr) bool {
	return a.Is4() && r.First.Compare(a) <= 0 && a.Compare(r.Last) <= 0
}

// Size is the number of addresses in r.
func (r AddrRange) Size() uint64 {
	f, l := r.First.As4(), r.Last.As4()
	return uint64(be32(l[:])) - uint64(be32(f[:])) + 1
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// ParseRange parses one pool range: an IPv4 CIDR prefix (whose network and broadcast
// addresses are left out when it is shorter than /31) or "first-last".
func ParseRange(s string) (AddrRange, error) {
	if first, last, ok := strings.Cut(s, "-"); ok {
		f, err1 := netip.ParseAddr(strings.TrimSpace(first))
		l, err2 := netip.ParseAddr(strings.TrimSpace(last))
		if err1 != nil || err2 != nil || !f.Is4() || !l.Is4() {
			return AddrRange{}, fmt.Errorf("range %q: both ends must be IPv4 addresses", s)
		}
		if l.Less(f) {
			return AddrRange{}, fmt.Errorf("range %q: the last address is below the first", s)
		}
		return AddrRange{f, l}, nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() {
		return AddrRange{}, fmt.Errorf("%q is neither an IPv4 prefix (10.0.0.0/24) nor a range (10.0.0.10-10.0.0.99)", s)
	}
	p = p.Masked()
	f := p.Addr()
	a := f.As4()
	n := be32(a[:]) | (1<<(32-p.Bits()) - 1)
	l := netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
	if p.Bits() < 31 {
		f, l = f.Next(), l.Prev()
	}
	return AddrRange{f, l}, nil
}

func (c *Config) validatePools(v validator) {
	type owned struct {
		r    AddrRange
		path string
		text string
	}
	var all []owned
	for _, name := range sortedNames(c.IPPools) {
		p := c.IPPools[name]
		path := "ippool." + name
		v.check(len(p.Ranges) > 0, path+".ranges", "must list at least one range")
		for i, s := range p.Ranges {
			rpath := fmt.Sprintf("%s.ranges[%d]", path, i)
			r, err := ParseRange(s)
			if err != nil {
				v.errs.add(rpath, err.Error())
				continue
			}
			for _, o := range all {
				if r.First.Compare(o.r.Last) > 0 || o.r.First.Compare(r.Last) > 0 {
					continue
				}
				// Report on the range the operator wrote: a clash with the built-in
				// default pool is reported at the operator's range, with a hint.
				at, other, hint := rpath, o.path, ""
				atText := s
				if v.errs.locate(rpath) == 0 && strings.HasPrefix(rpath, "ippool.default.") {
					at, other, atText = o.path, rpath, o.text
				}
				if strings.HasPrefix(other, "ippool.default.") && v.errs.locate(other) == 0 {
					hint = " (the built-in default pool; set [ippool.default] ranges to move it)"
				}
				v.errs.addf(at, "%s overlaps %s%s", atText, other, hint)
			}
			all = append(all, owned{r, rpath, s})
		}
	}
}

func (c *Config) validatePPPoE(v validator) {
	p := &c.PPPoE
	for _, name := range sortedNames(p.Interfaces) {
		ifc := p.Interfaces[name]
		path := "pppoe.interface." + name
		seen := map[int]bool{}
		for i, id := range ifc.VLANs {
			ipath := fmt.Sprintf("%s.vlans[%d]", path, i)
			v.intRange(ipath, id, 1, 4094)
			v.check(!seen[id], ipath, "VLAN %d is listed twice", id)
			seen[id] = true
		}
		type entry struct {
			QinQRange
			i int
		}
		var ranges []entry
		for i, q := range ifc.QinQ {
			ipath := fmt.Sprintf("%s.qinq[%d]", path, i)
			r, err := ParseQinQ(q)
			if err != nil {
				v.errs.addf(ipath, "%v", err)
				continue
			}
			for _, o := range ranges {
				if o.Outer == r.Outer && o.InnerFirst <= r.InnerLast && r.InnerFirst <= o.InnerLast {
					v.errs.addf(ipath, "%q overlaps %s.qinq[%d] %q", q, path, o.i, ifc.QinQ[o.i])
					break
				}
			}
			ranges = append(ranges, entry{r, i})
		}
		v.check(ifc.MaxSessions >= 0, path+".max_sessions", "must not be negative, got %d", ifc.MaxSessions)
	}
	for _, name := range sortedNames(p.Services) {
		s := p.Services[name]
		path := "pppoe.service." + name
		ref(v, path+".ppp_profile", &s.PPPProfile, "ppp_profile", c.PPPProfiles)
		switch s.Route {
		case RouteLAC:
			v.check(s.Tunnel != "", path+".tunnel", `is required when route = "lac"`)
			optRef(v, path+".tunnel", s.Tunnel, "tunnel", c.Tunnels)
		case RouteRealm:
			v.check(len(p.Routes) > 0, path+".route", `"realm" needs at least one [pppoe.route.NAME]`)
		case "":
			s.Route = RouteLocal
		}
		optRef(v, path+".backup_tunnel", s.Backup, "tunnel", c.Tunnels)
		v.check(!s.LocalFallback || s.Route == RouteRealm, path+".local_fallback", `is only meaningful with route = "realm"`)
		p.Services[name] = s
	}
	realms := map[string]string{}
	for _, name := range sortedNames(p.Routes) {
		r := p.Routes[name]
		path := "pppoe.route." + name
		v.check(r.Realm != "", path+".realm", "is required")
		if other, dup := realms[strings.ToLower(r.Realm)]; dup && r.Realm != "" {
			v.errs.addf(path+".realm", "realm %q is already routed by pppoe.route.%s", r.Realm, other)
		}
		realms[strings.ToLower(r.Realm)] = name
		v.check(r.Tunnel != "", path+".tunnel", "is required")
		optRef(v, path+".tunnel", r.Tunnel, "tunnel", c.Tunnels)
		optRef(v, path+".backup_tunnel", r.Backup, "tunnel", c.Tunnels)
	}
	macs := map[string]string{} // interface and address -> the client using it
	for _, name := range sortedNames(p.Clients) {
		cl := p.Clients[name]
		path := "pppoe.client." + name
		v.check(ifaceName.MatchString(cl.Interface), path+".interface", "must be an interface name, got %q", cl.Interface)
		ref(v, path+".ppp_profile", &cl.PPPProfile, "ppp_profile", c.PPPProfiles)
		v.intRange(path+".vlan", cl.VLAN, 0, 4094)
		v.intRange(path+".service_vlan", cl.ServiceVLAN, 0, 4094)
		v.check(cl.ServiceVLAN == 0 || cl.VLAN != 0, path+".service_vlan", "needs vlan, the customer tag inside the service tag")
		if cl.MAC != "" {
			if mac, ok := v.clientMAC(path+".mac", cl.MAC); ok {
				cl.MAC = mac
				k := cl.Interface + " " + mac
				if other, dup := macs[k]; dup {
					v.errs.addf(path+".mac", "%s is also the address of pppoe.client.%s on %s", mac, other, cl.Interface)
				} else {
					macs[k] = name
				}
			}
		}
		p.Clients[name] = cl
	}
	v.check(p.MaxSessions >= 0, "pppoe.max_sessions", "must not be negative, got %d", p.MaxSessions)
	v.check(p.MaxSessionsPerMAC >= 0, "pppoe.max_sessions_per_mac", "must not be negative, got %d", p.MaxSessionsPerMAC)
	v.check(p.PADIRate >= 0, "pppoe.padi_rate", "must not be negative, got %d", p.PADIRate)
	v.minDuration("pppoe.cookie_period", p.CookiePeriod, time.Second)
	v.minDuration("pppoe.lac_timeout", p.LACTimeout, time.Second)
	v.check(p.LCPDelay >= 0 && p.LCPDelay <= 10*time.Second, "pppoe.lcp_delay", "must be between 0s and 10s, got %s", p.LCPDelay)
}

// clientMAC checks a PPPoE client's MAC address and returns it in canonical form
// (lower-case, colon-separated).
func (v validator) clientMAC(path, s string) (string, bool) {
	hw, err := net.ParseMAC(s)
	switch {
	case err != nil || len(hw) != 6:
		v.errs.addf(path, `must be a MAC address such as "02:00:00:00:01:05", got %q`, s)
	case hw[0]&1 != 0:
		v.errs.addf(path, "%s is a group (multicast) address; a source address must be unicast", hw)
	case hw[0]|hw[1]|hw[2]|hw[3]|hw[4]|hw[5] == 0:
		v.errs.addf(path, "must not be all zeros")
	default:
		return hw.String(), true
	}
	return "", false
}

func (c *Config) validateRADIUS(v validator) {
	r := &c.RADIUS
	v.minDuration("radius.timeout", r.Timeout, 100*time.Millisecond)
	v.intRange("radius.retries", r.Retries, 0, 10)
	for _, name := range sortedNames(r.Servers) {
		s := r.Servers[name]
		path := "radius.server." + name
		v.check(s.Address != "" && validHostPort(s.Address), path+".address", "must be a host or host:port, got %q", s.Address)
		v.check(s.Secret != "", path+".secret", "is required")
	}
}

func sortedNames[T any](m map[string]T) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}
