package ppp

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
)

// IPv6CP Configuration Option types (RFC 5072 §4).
const (
	IPv6CPOptInterfaceID uint8 = 1 // Interface-Identifier (RFC 5072 §4.1)
	IPv6CPOptCompression uint8 = 2 // IPv6-Compression-Protocol (RFC 5072 §4.2)
)

// iidMask clears the "u" (universal/local) bit of a random Interface Identifier: RFC 5072
// Appendix A says a randomly generated identifier has it set to zero, i.e. local scope
// in the modified EUI-64 format of RFC 4291 §2.5.1.
const iidMask = ^(uint64(0x02) << 56)

// IPv6CPConfig configures the IPv6 Control Protocol (RFC 5072). IPv6-Compression-Protocol
// is always rejected. Router advertisements and DHCPv6 prefix delegation, which give the
// peer its global addresses, are the engine's business once IPv6CP is up.
type IPv6CPConfig struct {
	// InterfaceID is our Interface Identifier; zero means a random one (non-zero, "u" bit
	// clear), drawn again for each negotiation.
	InterfaceID uint64
	// PeerInterfaceID is the identifier suggested to a peer that asks for zero or for our
	// own; zero means a random one.
	PeerInterfaceID uint64
	// Rand is the source of random identifiers; nil means crypto/rand.
	Rand io.Reader
}

// Validate reports a configured peer identifier equal to ours, which RFC 5072 §4.1 forbids
// suggesting.
func (c IPv6CPConfig) Validate() error {
	if c.InterfaceID != 0 && c.InterfaceID == c.PeerInterfaceID {
		return fmt.Errorf("ppp: ipv6cp interface identifiers: local and peer are both %#x", c.InterfaceID)
	}
	return nil
}

// IPv6CPResult is what IPv6CP negotiated, with the link-local addresses (fe80::/64, RFC
// 5072 §5) built from the identifiers.
type IPv6CPResult struct {
	// LocalID is our Interface Identifier, PeerID the peer's (zero when the peer did not
	// negotiate one).
	LocalID, PeerID uint64
	// LocalLinkLocal and PeerLinkLocal are fe80::/64 plus the identifiers; PeerLinkLocal
	// is the zero Addr when PeerID is zero.
	LocalLinkLocal, PeerLinkLocal netip.Addr
}

// LinkLocal returns the link-local address fe80::/64 with Interface Identifier id (RFC 5072
// §5, RFC 4291 §2.5.6).
func LinkLocal(id uint64) netip.Addr {
	var a [16]byte
	a[0], a[1] = 0xfe, 0x80
	binary.BigEndian.PutUint64(a[8:], id)
	return netip.AddrFrom16(a)
}

// ipv6cp is the IPv6CP negotiator.
type ipv6cp struct {
	cfg  IPv6CPConfig
	rand entropy

	reqID   bool
	id      uint64 // our tentative Interface Identifier
	lastNak uint64 // the identifier we last suggested to the peer in a Nak

	res    IPv6CPResult
	nakBuf []byte
}

var _ negotiator = (*ipv6cp)(nil)

// newIPv6CP returns an IPv6CP negotiator.
func newIPv6CP(cfg IPv6CPConfig) *ipv6cp {
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	n := &ipv6cp{cfg: cfg, rand: entropy{r: cfg.Rand}}
	n.reset()
	return n
}

// result returns what has been negotiated; it is complete at thisLayerUp.
func (n *ipv6cp) result() IPv6CPResult { return n.res }

func (n *ipv6cp) protocol() Protocol { return ProtoIPv6CP }

func (n *ipv6cp) reset() {
	n.reqID = true
	n.lastNak = 0
	n.id = n.cfg.InterfaceID
	if n.id == 0 {
		n.id = n.rand.nonzero64(iidMask)
	}
	n.res = IPv6CPResult{LocalID: n.id, LocalLinkLocal: LinkLocal(n.id)}
}

func (n *ipv6cp) appendRequest(dst []byte) []byte {
	if !n.reqID {
		return dst
	}
	e := NewOptionEncoder(dst)
	e.Uint64(IPv6CPOptInterfaceID, n.id)
	b, _ := e.Encode()
	return b
}

// suggestion picks an identifier for the peer, different from ours and from what it sent.
func (n *ipv6cp) suggestion(theirs uint64) uint64 {
	if s := n.cfg.PeerInterfaceID; s != 0 && s != n.id && s != theirs {
		return s
	}
	return n.rand.nonzero64(iidMask, n.id, theirs)
}

func (n *ipv6cp) judgeRequest(dst, opts []byte, rejectNaks bool) (Code, []byte, error) {
	if err := CheckOptions(opts); err != nil {
		return 0, dst, err
	}
	r := newReplyBuilder(dst, n.nakBuf[:0], rejectNaks)
	var peerID uint64
	seen := false
	d := NewOptionDecoder(opts)
	for d.Next() {
		t, raw := d.Type(), d.Raw()
		if t != IPv6CPOptInterfaceID || d.Len() != 8 || seen {
			r.reject(raw) // IPv6-Compression-Protocol, unknown, malformed, repeated
			continue
		}
		seen = true
		// RFC 5072 §4.1: compare with the identifier of our last Configure-Request.
		switch v := d.Uint64(); {
		case v == 0 && n.id == 0:
			r.reject(raw) // both zero: no unique identifier can be negotiated
		case v == 0 || v == n.id:
			// Zero: suggest one. Equal: a collision, suggest a different one.
			if r.naking(raw) {
				n.lastNak = n.suggestion(v)
				r.nak.Uint64(t, n.lastNak)
			}
		default:
			peerID = v
		}
	}
	code, reply := r.finish(opts)
	n.nakBuf, _ = r.nak.Encode()
	n.nakBuf = n.nakBuf[:0]
	if code == CodeConfigureAck {
		n.res.PeerID = peerID
		n.res.PeerLinkLocal = netip.Addr{}
		if peerID != 0 {
			n.res.PeerLinkLocal = LinkLocal(peerID)
		}
	}
	return code, reply, nil
}

func (n *ipv6cp) gotAck([]byte) {
	n.res.LocalID = n.id
	n.res.LocalLinkLocal = LinkLocal(n.id)
}

func (n *ipv6cp) gotNak(opts []byte, treatAsReject bool) error {
	d := NewOptionDecoder(opts)
	for d.Next() {
		if d.Type() != IPv6CPOptInterfaceID || d.Len() != 8 || !n.reqID {
			continue
		}
		if treatAsReject {
			n.reqID = false
			continue
		}
		// RFC 5072 §4.1: adopt the peer's suggestion, unless it is zero or the one we
		// last suggested to the peer (a sign of a looped link): then draw a new one.
		if v := d.Uint64(); v != 0 && v != n.lastNak && v != n.res.PeerID {
			n.id = v
		} else {
			n.id = n.rand.nonzero64(iidMask, n.id, v, n.lastNak)
		}
		n.res.LocalID, n.res.LocalLinkLocal = n.id, LinkLocal(n.id)
	}
	return d.Err()
}

func (n *ipv6cp) gotReject(opts []byte) error {
	d := NewOptionDecoder(opts)
	for d.Next() {
		if d.Type() == IPv6CPOptInterfaceID {
			// RFC 5072 §4.1: stop requesting it; we keep our tentative identifier for
			// the link-local address.
			n.reqID = false
		}
	}
	return d.Err()
}

func (n *ipv6cp) classify(Code) codeKind { return codeUnknown }

func (n *ipv6cp) appendEchoReply(dst, _ []byte) ([]byte, bool) { return dst, false }
