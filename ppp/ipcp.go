package ppp

import (
	"fmt"
	"net/netip"
)

// IPCP Configuration Option types (RFC 1332 §3, RFC 1877 §1).
const (
	IPCPOptAddresses     uint8 = 1 // IP-Addresses, deprecated (RFC 1332 §3.1)
	IPCPOptCompression   uint8 = 2 // IP-Compression-Protocol (RFC 1332 §3.2)
	IPCPOptAddress       uint8 = 3 // IP-Address (RFC 1332 §3.3)
	IPCPOptPrimaryDNS    uint8 = 129
	IPCPOptPrimaryNBNS   uint8 = 130
	IPCPOptSecondaryDNS  uint8 = 131
	IPCPOptSecondaryNBNS uint8 = 132
)

// IPCPConfig configures the IP Control Protocol (RFC 1332) with the name server options
// of RFC 1877. A server (LNS, PPPoE AC) sets Local, Peer and the servers it hands out; a
// client leaves Local unset and sets RequestDNS. IP-Compression-Protocol (Van Jacobson)
// and the deprecated IP-Addresses option are always rejected: no data plane here
// compresses headers, and RFC 1332 §3.1 replaced IP-Addresses by IP-Address.
type IPCPConfig struct {
	// Local is our address, requested in our Configure-Request. Unset (invalid or
	// 0.0.0.0), we request 0.0.0.0 and take the address the peer Naks back (client role);
	// if the peer rejects the option instead, negotiation fails with ErrNotConverging.
	Local netip.Addr
	// Peer is the address the peer must use (server role; the owner takes it from a pool
	// or the user's static address). A peer asking for 0.0.0.0 or another address is
	// Nak'd with it, and one that omits the option is prompted with it. Unset, we accept
	// any non-zero address the peer requests and reject a request for 0.0.0.0.
	Peer netip.Addr
	// DNS and NBNS are the primary and secondary servers handed out when the peer asks
	// (RFC 1877): a request with another value is Nak'd with ours, a request for a server
	// we do not have is rejected.
	DNS, NBNS [2]netip.Addr
	// RequestDNS and RequestNBNS ask the peer for its servers (client role): we request
	// 0.0.0.0 and adopt what the peer Naks back.
	RequestDNS, RequestNBNS bool
}

// Validate checks that the addresses are IPv4.
func (c IPCPConfig) Validate() error {
	for _, a := range []struct {
		name string
		a    netip.Addr
	}{
		{"local", c.Local}, {"peer", c.Peer},
		{"dns[0]", c.DNS[0]}, {"dns[1]", c.DNS[1]}, {"nbns[0]", c.NBNS[0]}, {"nbns[1]", c.NBNS[1]},
	} {
		if a.a.IsValid() && !a.a.Is4() {
			return fmt.Errorf("ppp: ipcp %s address %v: must be IPv4", a.name, a.a)
		}
	}
	if set(c.Local) && set(c.Peer) && c.Local == c.Peer {
		return fmt.Errorf("ppp: ipcp local and peer address are both %v", c.Local)
	}
	return nil
}

// set reports whether a is a usable IPv4 address (valid and not 0.0.0.0).
func set(a netip.Addr) bool { return a.IsValid() && a.Is4() && !a.IsUnspecified() }

// IPCPResult is what IPCP negotiated. Unset addresses are the zero netip.Addr.
type IPCPResult struct {
	// Local is our address (the one we requested, or the one the peer gave us).
	Local netip.Addr
	// Peer is the peer's address: the one it requested and we acknowledged, or the
	// configured Peer address when the peer did not ask for any.
	Peer netip.Addr
	// DNS and NBNS are the servers the peer gave us (client role) or the ones the peer
	// accepted from us (server role).
	DNS, NBNS [2]netip.Addr
}

// ipcpServer is one of the four RFC 1877 options, indexed 0..3 in ipcpServerOpts.
var ipcpServerOpts = [4]uint8{IPCPOptPrimaryDNS, IPCPOptSecondaryDNS, IPCPOptPrimaryNBNS, IPCPOptSecondaryNBNS}

func serverIndex(t uint8) (int, bool) {
	for i, o := range ipcpServerOpts {
		if o == t {
			return i, true
		}
	}
	return 0, false
}

// ipcp is the IPCP negotiator.
type ipcp struct {
	cfg IPCPConfig

	// Our next Configure-Request.
	reqAddr bool
	addr    netip.Addr
	reqSrv  [4]bool
	srv     [4]netip.Addr // DNS1, DNS2, NBNS1, NBNS2 as requested

	res    IPCPResult
	nakBuf []byte
}

var _ negotiator = (*ipcp)(nil)

// newIPCP returns an IPCP negotiator; cfg must have passed Validate.
func newIPCP(cfg IPCPConfig) *ipcp {
	n := &ipcp{cfg: cfg}
	n.reset()
	return n
}

// setPeerAddress sets the address to give the peer (server role) before or during the
// negotiation, e.g. once the pool allocation is known.
func (n *ipcp) setPeerAddress(a netip.Addr) { n.cfg.Peer = a }

// result returns what has been negotiated; it is complete at thisLayerUp.
func (n *ipcp) result() IPCPResult { return n.res }

func (n *ipcp) served(i int) netip.Addr {
	if i < 2 {
		return n.cfg.DNS[i]
	}
	return n.cfg.NBNS[i-2]
}

func (n *ipcp) protocol() Protocol { return ProtoIPCP }

func (n *ipcp) reset() {
	n.res = IPCPResult{}
	n.reqAddr = true
	n.addr = netip.IPv4Unspecified()
	if set(n.cfg.Local) {
		n.addr = n.cfg.Local
	}
	for i := range n.reqSrv {
		n.reqSrv[i] = (i < 2 && n.cfg.RequestDNS) || (i >= 2 && n.cfg.RequestNBNS)
		n.srv[i] = netip.IPv4Unspecified()
	}
}

func (n *ipcp) appendRequest(dst []byte) []byte {
	e := NewOptionEncoder(dst)
	if n.reqAddr {
		e.Addr(IPCPOptAddress, n.addr)
	}
	for _, i := range [4]int{0, 2, 1, 3} { // ascending option types: 129, 130, 131, 132
		if n.reqSrv[i] {
			e.Addr(ipcpServerOpts[i], n.srv[i])
		}
	}
	b, _ := e.Encode()
	return b
}

func (n *ipcp) judgeRequest(dst, opts []byte, rejectNaks bool) (Code, []byte, error) {
	if err := CheckOptions(opts); err != nil {
		return 0, dst, err
	}
	r := newReplyBuilder(dst, n.nakBuf[:0], rejectNaks)
	var peer IPCPResult
	var seen [256]bool
	gotAddr := false
	d := NewOptionDecoder(opts)
	for d.Next() {
		t, raw := d.Type(), d.Raw()
		if seen[t] {
			r.reject(raw)
			continue
		}
		seen[t] = true
		if t == IPCPOptAddress {
			if d.Len() != 4 {
				r.reject(raw)
				continue
			}
			gotAddr = true
			v := d.Addr()
			switch {
			case set(n.cfg.Peer) && v != n.cfg.Peer:
				// RFC 1332 §3.3: Nak with the address the peer must use.
				if r.naking(raw) {
					r.nak.Addr(t, n.cfg.Peer)
				}
			case set(n.cfg.Peer):
				peer.Peer = v
			case v.IsUnspecified() || (set(n.cfg.Local) && v == n.cfg.Local):
				r.reject(raw) // the peer wants an address and we have none to give
			default:
				peer.Peer = v
			}
			continue
		}
		if i, ok := serverIndex(t); ok && d.Len() == 4 {
			ours := n.served(i)
			if !set(ours) {
				r.reject(raw)
				continue
			}
			if v := d.Addr(); v != ours {
				// RFC 1877 §1.1–1.4: Nak with the server the peer should use.
				if r.naking(raw) {
					r.nak.Addr(t, ours)
				}
				continue
			}
			if i < 2 {
				peer.DNS[i] = ours
			} else {
				peer.NBNS[i-2] = ours
			}
			continue
		}
		r.reject(raw) // IP-Addresses, IP-Compression-Protocol, unknown, malformed
	}
	if !gotAddr && set(n.cfg.Peer) && !rejectNaks {
		// RFC 1661 §5.3: an option we want the peer to request may be appended to the
		// Nak. It only goes out if something else is Nak'd, or on its own when nothing
		// is objected to.
		r.nak.Addr(IPCPOptAddress, n.cfg.Peer)
	}
	code, reply := r.finish(opts)
	n.nakBuf, _ = r.nak.Encode()
	n.nakBuf = n.nakBuf[:0]
	if code == CodeConfigureAck {
		if !gotAddr && set(n.cfg.Peer) {
			peer.Peer = n.cfg.Peer
		}
		n.res.Peer, n.res.DNS, n.res.NBNS = peer.Peer, mergeServers(n.res.DNS, peer.DNS), mergeServers(n.res.NBNS, peer.NBNS)
	}
	return code, reply, nil
}

// mergeServers keeps the servers learned from our own request (client role) and adds the
// ones acknowledged to the peer (server role).
func mergeServers(have, acked [2]netip.Addr) [2]netip.Addr {
	for i := range have {
		if acked[i].IsValid() {
			have[i] = acked[i]
		}
	}
	return have
}

func (n *ipcp) gotAck([]byte) {
	if n.reqAddr && set(n.addr) {
		n.res.Local = n.addr
	}
	for i, a := range n.srv {
		if !n.reqSrv[i] || !set(a) {
			continue
		}
		if i < 2 {
			n.res.DNS[i] = a
		} else {
			n.res.NBNS[i-2] = a
		}
	}
}

func (n *ipcp) gotNak(opts []byte, treatAsReject bool) error {
	d := NewOptionDecoder(opts)
	for d.Next() {
		t := d.Type()
		if d.Len() != 4 {
			continue
		}
		v := d.Addr()
		if t == IPCPOptAddress {
			switch {
			case treatAsReject:
				if err := n.addressRefused(); err != nil {
					return err
				}
			case set(n.cfg.Local):
				// We have a configured address: keep requesting it (RFC 1332 §3.3 lets
				// the receiver of a Nak decide).
			case set(v):
				n.addr, n.reqAddr = v, true
			}
			continue
		}
		if i, ok := serverIndex(t); ok && n.reqSrv[i] {
			if treatAsReject {
				n.reqSrv[i] = false
			} else if set(v) {
				n.srv[i] = v
			}
		}
	}
	return d.Err()
}

func (n *ipcp) addressRefused() error {
	if !set(n.cfg.Local) {
		return fmt.Errorf("%w: peer does not assign us an IPv4 address", ErrNotConverging)
	}
	n.reqAddr = false
	n.res.Local = n.cfg.Local
	return nil
}

func (n *ipcp) gotReject(opts []byte) error {
	d := NewOptionDecoder(opts)
	for d.Next() {
		t := d.Type()
		if t == IPCPOptAddress {
			if err := n.addressRefused(); err != nil {
				return err
			}
			continue
		}
		if i, ok := serverIndex(t); ok {
			n.reqSrv[i] = false
		}
	}
	return d.Err()
}

func (n *ipcp) classify(Code) codeKind { return codeUnknown }

func (n *ipcp) appendEchoReply(dst, _ []byte) ([]byte, bool) { return dst, false }
