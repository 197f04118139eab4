package ppp

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

// LCP codes beyond those shared with the NCPs (RFC 1661 §5.7–5.9, RFC 1570 §1).
const (
	CodeProtocolReject Code = 8
	CodeEchoRequest    Code = 9
	CodeEchoReply      Code = 10
	CodeDiscardRequest Code = 11
	CodeIdentification Code = 12
	CodeTimeRemaining  Code = 13
)

// LCP Configuration Option types (RFC 1661 §6, RFC 1570 §2, RFC 1990 §5.1).
const (
	LCPOptMRU                   uint8 = 1
	LCPOptACCM                  uint8 = 2
	LCPOptAuthProtocol          uint8 = 3
	LCPOptQualityProtocol       uint8 = 4
	LCPOptMagicNumber           uint8 = 5
	LCPOptPFC                   uint8 = 7
	LCPOptACFC                  uint8 = 8
	LCPOptFCSAlternatives       uint8 = 9
	LCPOptCallback              uint8 = 13
	LCPOptMRRU                  uint8 = 17
	LCPOptShortSequence         uint8 = 18
	LCPOptEndpointDiscriminator uint8 = 19
)

const (
	defaultMRU  = 1500       // RFC 1661 §6.1
	minMRU      = 128        // smallest MRU we agree to (RFC 1661 sets none)
	defaultACCM = 0xffffffff // RFC 1662 §7.1

	// DefaultMaxLoopback is how many Configure-Requests carrying our own Magic-Number we
	// Nak before declaring the link looped back.
	DefaultMaxLoopback = 5

	chapMD5      = 0x05 // CHAP Algorithm, RFC 1994 §3
	chapMSCHAPv2 = 0x81 // CHAP Algorithm, RFC 2759 §2
)

// ErrRenegotiate is returned by LCPConfig.ProxyLCP when the LCP state a LAC negotiated
// is not acceptable and LCP must be negotiated again with the peer.
var ErrRenegotiate = errors.New("ppp: proxy LCP not acceptable, renegotiate")

// LCPConfig configures the Link Control Protocol side of a session. The carrier decides the
// framing options: this package does not know whether frames come from L2TP or PPPoE.
//
// Over L2TP (RFC 2661) the LNS sees PPP frames without HDLC framing. ACCM matters only on
// the LAC's asynchronous line, and the LNS reports what was negotiated to the LAC in a
// Set-Link-Info message (RFC 2661 §4.4.6 ACCM AVP, §6.14), so AcceptACCM should be set.
// Both data planes accept frames with or without the address and control fields (Linux
// pppol2tp strips them when present; ParseFrame too) and with a one-octet protocol field
// (Linux ppp_input decompresses it; ParseFrame too), so AcceptACFC and AcceptPFC should be
// set. MaxMRU is the path MTU less the L2TP/UDP/IP overhead.
//
// Over PPPoE, RFC 2516 §7 says an implementation "MUST NOT request any of the following
// options, and MUST reject a request for such an option: Field Check Sequence (FCS)
// Alternatives, Address-and-Control-Field-Compression (ACFC), Asynchronous-Control-
// Character-Map (ACCM)", and that the MRU "MUST NOT be negotiated to a larger size than
// 1492": leave AcceptACCM and AcceptACFC unset and set MaxMRU to 1492, or to the
// PPP-Max-Payload agreed by RFC 4638. PFC is only NOT RECOMMENDED there; accepting it is
// harmless because this package never compresses what it sends.
//
// Whatever the carrier, this side never requests ACCM, PFC or ACFC; FCS-Alternatives,
// Quality-Protocol, Callback and the multilink options (MRRU, Short Sequence Number,
// Endpoint Discriminator) are always rejected, since no data plane here implements them.
type LCPConfig struct {
	// MRU is the Maximum-Receive-Unit we request; zero means MaxMRU. It is only sent when
	// it differs from the default of 1500 (RFC 1661 §6.1).
	MRU uint16
	// MaxMRU is the carrier's limit: the largest MRU we accept from the peer (larger
	// requests are Nak'd down to it) and the largest we agree to use for ourselves. Zero
	// means 1500.
	MaxMRU uint16
	// AcceptACCM acknowledges the peer's Async-Control-Character-Map (RFC 1662 §7.1);
	// unset, the option is rejected.
	AcceptACCM bool
	// AcceptPFC acknowledges the peer's Protocol-Field-Compression (RFC 1661 §6.5).
	AcceptPFC bool
	// AcceptACFC acknowledges the peer's Address-and-Control-Field-Compression (RFC 1661
	// §6.6).
	AcceptACFC bool
	// Auth lists the methods we require the peer to authenticate with, most preferred
	// first (authenticator role). When the peer Naks one we move to the one it suggests if
	// listed and not yet tried, else to the next in order; when none is left, or the peer
	// rejects the option, negotiation fails with ErrNotConverging. Empty: we do not
	// authenticate the peer.
	Auth []AuthMethod
	// AllowAuth lists the methods we agree to authenticate ourselves with when the peer
	// asks (peer role), most preferred first: a request for another method is Nak'd with
	// the first. Empty: the peer's Authentication-Protocol option is rejected.
	AllowAuth []AuthMethod
	// NoMagic disables the Magic-Number option: we neither request nor accept one.
	NoMagic bool
	// MaxLoopback is how many Configure-Requests carrying our own Magic-Number are Nak'd
	// before the link is declared looped back (ErrLoopback); zero means 5.
	MaxLoopback int
	// Rand is the source of Magic-Numbers; nil means crypto/rand.
	Rand io.Reader
}

// Validate checks the MRUs and the authentication lists.
func (c LCPConfig) Validate() error {
	limit := c.MaxMRU
	if limit == 0 {
		limit = defaultMRU
	}
	if limit < minMRU {
		return fmt.Errorf("ppp: lcp max-mru %d: must be at least %d", c.MaxMRU, minMRU)
	}
	if c.MRU != 0 && (c.MRU < minMRU || c.MRU > limit) {
		return fmt.Errorf("ppp: lcp mru %d: must be between %d and max-mru %d", c.MRU, minMRU, limit)
	}
	if c.MaxLoopback < 0 {
		return fmt.Errorf("ppp: lcp max-loopback %d: must not be negative", c.MaxLoopback)
	}
	for _, list := range []struct {
		name string
		m    []AuthMethod
	}{{"auth", c.Auth}, {"allow-auth", c.AllowAuth}} {
		for i, m := range list.m {
			if _, ok := authOption(m); !ok {
				return fmt.Errorf("ppp: lcp %s: method %v cannot be negotiated", list.name, m)
			}
			if slices.Contains(list.m[:i], m) {
				return fmt.Errorf("ppp: lcp %s: method %v listed twice", list.name, m)
			}
		}
	}
	return nil
}

func (c LCPConfig) withDefaults() LCPConfig {
	if c.MaxMRU == 0 {
		c.MaxMRU = defaultMRU
	}
	if c.MRU == 0 {
		c.MRU = c.MaxMRU
	}
	if c.MaxLoopback == 0 {
		c.MaxLoopback = DefaultMaxLoopback
	}
	if c.Rand == nil {
		c.Rand = rand.Reader
	}
	return c
}

// LCPResult is what LCP negotiated. "Local" values govern what we receive, "Peer" values
// what the peer receives (RFC 1661 §6: options apply to the receive direction of the
// Configure-Request's sender).
type LCPResult struct {
	// LocalMRU is the MRU the peer acknowledged for us (1500 when we did not request one).
	LocalMRU uint16
	// PeerMRU is the largest packet we may send: the peer's acknowledged MRU (1500 by
	// default), capped at the carrier's MaxMRU.
	PeerMRU uint16
	// LocalACCM is the ACCM the peer applies when sending to us (only a LAC negotiates
	// one, seen through proxy LCP), PeerACCM the one we acknowledged for the peer; both
	// 0xffffffff by default (RFC 1662 §7.1). An LNS reports them in Set-Link-Info.
	LocalACCM, PeerACCM uint32
	// PeerAuth is the method the peer must authenticate with (we are the authenticator),
	// LocalAuth the one we must authenticate with; AuthNone when not negotiated.
	PeerAuth, LocalAuth AuthMethod
	// LocalMagic and PeerMagic are the Magic-Numbers; zero when not negotiated, which is
	// also what Echo and Discard packets then carry (RFC 1661 §5.8).
	LocalMagic, PeerMagic uint32
	// LocalPFC and LocalACFC: the peer may compress what it sends us. PeerPFC and PeerACFC:
	// we may compress what we send (we never do).
	LocalPFC, LocalACFC, PeerPFC, PeerACFC bool
}

func defaultLCPResult(maxMRU uint16) LCPResult {
	return LCPResult{
		LocalMRU:  defaultMRU,
		PeerMRU:   min(defaultMRU, maxMRU),
		LocalACCM: defaultACCM,
		PeerACCM:  defaultACCM,
	}
}

// lcp is the LCP negotiator.
type lcp struct {
	cfg  LCPConfig // with defaults
	rand entropy

	// Our next Configure-Request.
	reqMRU   bool
	mru      uint16
	reqMagic bool
	magic    uint32
	reqAuth  bool
	auth     AuthMethod
	tried    []AuthMethod // methods the peer Nak'd in this negotiation

	loops  int // consecutive Configure-Requests received with our own Magic-Number
	res    LCPResult
	nakBuf []byte
}

var _ negotiator = (*lcp)(nil)

// newLCP returns an LCP negotiator; cfg must have passed Validate.
func newLCP(cfg LCPConfig) *lcp {
	cfg = cfg.withDefaults()
	l := &lcp{cfg: cfg, rand: entropy{r: cfg.Rand}}
	l.reset()
	return l
}

// result returns what has been negotiated; it is complete at thisLayerUp.
func (l *lcp) result() LCPResult { return l.res }

// applyProxy installs a result obtained through LCPConfig.ProxyLCP, before the automaton
// is moved to Opened with openByProxy.
func (l *lcp) applyProxy(res LCPResult) {
	l.res = res
	l.magic, l.reqMagic = res.LocalMagic, res.LocalMagic != 0
}

func (l *lcp) protocol() Protocol { return ProtoLCP }

func (l *lcp) reset() {
	l.res = defaultLCPResult(l.cfg.MaxMRU)
	l.mru = l.cfg.MRU
	l.reqMRU = l.mru != defaultMRU
	l.reqMagic = !l.cfg.NoMagic
	if l.reqMagic {
		l.magic = l.rand.nonzero32(l.magic)
	}
	l.reqAuth = len(l.cfg.Auth) > 0
	if l.reqAuth {
		l.auth = l.cfg.Auth[0]
	}
	l.tried = l.tried[:0]
	l.loops = 0
}

func (l *lcp) appendRequest(dst []byte) []byte {
	e := NewOptionEncoder(dst)
	if l.reqMRU {
		e.Uint16(LCPOptMRU, l.mru)
	}
	if l.reqAuth {
		opt, _ := authOption(l.auth)
		e.Bytes(LCPOptAuthProtocol, opt)
	}
	if l.reqMagic {
		e.Uint32(LCPOptMagicNumber, l.magic)
	}
	b, _ := e.Encode() // options of fixed size: cannot fail
	return b
}

// replyBuilder collects a Configure-Nak and a Configure-Reject at once; the reply is the
// Reject when anything is rejected (RFC 1661 §5.3–5.4: a Nak must only list options that
// are recognised and acceptable in kind).
type replyBuilder struct {
	rej, nak   *OptionEncoder
	dst        []byte
	rejectNaks bool
}

func newReplyBuilder(dst, nakBuf []byte, rejectNaks bool) *replyBuilder {
	return &replyBuilder{
		rej: NewOptionEncoder(dst), nak: NewOptionEncoder(nakBuf),
		dst: dst, rejectNaks: rejectNaks,
	}
}

func (r *replyBuilder) reject(raw []byte) { r.rej.Raw(raw) }

// naking reports whether a Nak may be added; otherwise the option is rejected (RFC 1661
// §4.6 Max-Failure).
func (r *replyBuilder) naking(raw []byte) bool {
	if r.rejectNaks {
		r.rej.Raw(raw)
		return false
	}
	return true
}

// finish returns the reply code and options: Reject, Nak or, when nothing was objected to,
// Ack with opts unchanged.
func (r *replyBuilder) finish(opts []byte) (Code, []byte) {
	rej, _ := r.rej.Encode()
	if len(rej) > len(r.dst) {
		return CodeConfigureReject, rej
	}
	nak, _ := r.nak.Encode()
	if len(nak) > 0 {
		return CodeConfigureNak, append(r.dst, nak...)
	}
	return CodeConfigureAck, append(r.dst, opts...)
}

func (l *lcp) judgeRequest(dst, opts []byte, rejectNaks bool) (Code, []byte, error) {
	if err := CheckOptions(opts); err != nil {
		return 0, dst, err
	}
	r := newReplyBuilder(dst, l.nakBuf[:0], rejectNaks)
	peer := defaultLCPResult(l.cfg.MaxMRU)
	var seen uint32
	d := NewOptionDecoder(opts)
	for d.Next() {
		t, raw := d.Type(), d.Raw()
		if t < 32 {
			// RFC 1661 §6: none of the LCP options may be listed more than once.
			if seen&(1<<t) != 0 {
				r.reject(raw)
				continue
			}
			seen |= 1 << t
		}
		switch t {
		case LCPOptMRU:
			if d.Len() != 2 {
				r.reject(raw)
				continue
			}
			switch v := d.Uint16(); {
			case v > l.cfg.MaxMRU: // RFC 2516 §7 for PPPoE; the carrier's limit in general
				if r.naking(raw) {
					r.nak.Uint16(t, l.cfg.MaxMRU)
				}
			case v < minMRU:
				if r.naking(raw) {
					r.nak.Uint16(t, minMRU)
				}
			default:
				peer.PeerMRU = v
			}
		case LCPOptACCM:
			if d.Len() != 4 || !l.cfg.AcceptACCM {
				r.reject(raw)
				continue
			}
			peer.PeerACCM = d.Uint32()
		case LCPOptAuthProtocol:
			if len(l.cfg.AllowAuth) == 0 {
				r.reject(raw)
				continue
			}
			if m, ok := parseAuthOption(d.Bytes()); ok && slices.Contains(l.cfg.AllowAuth, m) {
				peer.LocalAuth = m
				continue
			}
			if r.naking(raw) {
				opt, _ := authOption(l.cfg.AllowAuth[0])
				r.nak.Bytes(t, opt)
			}
		case LCPOptMagicNumber:
			if d.Len() != 4 || l.cfg.NoMagic {
				r.reject(raw)
				continue
			}
			v := d.Uint32()
			if l.reqMagic && v == l.magic {
				// RFC 1661 §6.4: possibly looped back; Nak with a different value, and
				// give up when it keeps happening.
				l.loops++
				if l.loops > l.cfg.MaxLoopback {
					return 0, dst, fmt.Errorf("%w: own Magic-Number %#08x received %d times", ErrLoopback, v, l.loops)
				}
				if r.naking(raw) {
					r.nak.Uint32(t, l.rand.nonzero32(l.magic, v))
				}
				continue
			}
			if v == 0 {
				// RFC 1661 §6.4: zero "MUST always be Nak'd, if it is not Rejected".
				if r.naking(raw) {
					r.nak.Uint32(t, l.rand.nonzero32(l.magic))
				}
				continue
			}
			l.loops = 0
			peer.PeerMagic = v
		case LCPOptPFC:
			if d.Len() != 0 || !l.cfg.AcceptPFC {
				r.reject(raw)
				continue
			}
			peer.PeerPFC = true
		case LCPOptACFC:
			if d.Len() != 0 || !l.cfg.AcceptACFC {
				r.reject(raw)
				continue
			}
			peer.PeerACFC = true
		default:
			// Quality-Protocol, FCS-Alternatives, Callback, multilink, unknown.
			r.reject(raw)
		}
	}
	code, reply := r.finish(opts)
	l.nakBuf, _ = r.nak.Encode()
	l.nakBuf = l.nakBuf[:0]
	if code == CodeConfigureAck {
		l.res.PeerMRU = peer.PeerMRU
		l.res.PeerACCM = peer.PeerACCM
		l.res.LocalAuth = peer.LocalAuth
		l.res.PeerMagic = peer.PeerMagic
		l.res.PeerPFC = peer.PeerPFC
		l.res.PeerACFC = peer.PeerACFC
	}
	return code, reply, nil
}

func (l *lcp) gotAck([]byte) {
	l.res.LocalMRU = defaultMRU
	if l.reqMRU {
		l.res.LocalMRU = l.mru
	}
	l.res.LocalMagic = 0
	if l.reqMagic {
		l.res.LocalMagic = l.magic
	}
	l.res.PeerAuth = AuthNone
	if l.reqAuth {
		l.res.PeerAuth = l.auth
	}
}

func (l *lcp) gotNak(opts []byte, treatAsReject bool) error {
	d := NewOptionDecoder(opts)
	for d.Next() {
		switch d.Type() {
		case LCPOptMRU:
			if d.Len() != 2 {
				continue
			}
			if treatAsReject {
				l.reqMRU = false
				continue
			}
			// A value we can receive is adopted (also as a hint to request one); a
			// larger one is not: we keep asking for ours.
			if v := d.Uint16(); v >= minMRU && v <= l.cfg.MaxMRU {
				l.mru, l.reqMRU = v, true
			}
		case LCPOptAuthProtocol:
			if !l.reqAuth {
				continue // a hint to authenticate the peer: we were not asked to
			}
			if treatAsReject {
				return fmt.Errorf("%w: peer keeps refusing %v", ErrNotConverging, l.auth)
			}
			if !slices.Contains(l.tried, l.auth) {
				l.tried = append(l.tried, l.auth)
			}
			next, ok := AuthNone, false
			if m, valid := parseAuthOption(d.Bytes()); valid && slices.Contains(l.cfg.Auth, m) && !slices.Contains(l.tried, m) {
				next, ok = m, true
			} else {
				for _, m := range l.cfg.Auth {
					if !slices.Contains(l.tried, m) {
						next, ok = m, true
						break
					}
				}
			}
			if !ok {
				return fmt.Errorf("%w: peer refuses every configured authentication method", ErrNotConverging)
			}
			l.auth = next
		case LCPOptMagicNumber:
			if d.Len() != 4 || !l.reqMagic {
				continue
			}
			if treatAsReject {
				l.reqMagic = false
				continue
			}
			// RFC 1661 §6.4: choose a new Magic-Number on a Nak.
			l.magic = l.rand.nonzero32(l.magic, d.Uint32())
		}
	}
	return d.Err()
}

func (l *lcp) gotReject(opts []byte) error {
	d := NewOptionDecoder(opts)
	for d.Next() {
		switch d.Type() {
		case LCPOptMRU:
			l.reqMRU = false
		case LCPOptAuthProtocol:
			if l.reqAuth {
				return fmt.Errorf("%w: peer rejects authentication", ErrNotConverging)
			}
		case LCPOptMagicNumber:
			l.reqMagic = false
		}
	}
	return d.Err()
}

func (l *lcp) classify(code Code) codeKind {
	switch code {
	case CodeProtocolReject:
		return codeProtocolReject
	case CodeEchoRequest, CodeEchoReply, CodeDiscardRequest, CodeIdentification, CodeTimeRemaining:
		return codeRXR // RFC 1570 §1: Identification and Time-Remaining cause RXR
	}
	return codeUnknown
}

func (l *lcp) appendEchoReply(dst, req []byte) ([]byte, bool) {
	magic, data, err := ParseMagicData(req)
	if err != nil {
		return dst, false
	}
	if l.res.LocalMagic != 0 && magic == l.res.LocalMagic {
		return dst, false // our own Echo-Request came back: looped back
	}
	// RFC 1661 §5.8: the reply carries our Magic-Number; keep it within the peer's MRU.
	if limit := max(0, int(l.res.PeerMRU)-ControlHeaderLen-4); len(data) > limit {
		data = data[:limit]
	}
	return AppendMagicData(dst, l.res.LocalMagic, data), true
}

// authOption returns the data of the Authentication-Protocol option for m (RFC 1661 §6.2,
// RFC 1334 §3.1, RFC 1994 §3, RFC 2759 §2).
func authOption(m AuthMethod) ([]byte, bool) {
	switch m {
	case AuthPAP:
		return []byte{0xc0, 0x23}, true
	case AuthCHAPMD5:
		return []byte{0xc2, 0x23, chapMD5}, true
	case AuthMSCHAPv2:
		return []byte{0xc2, 0x23, chapMSCHAPv2}, true
	}
	return nil, false
}

// parseAuthOption maps the data of an Authentication-Protocol option to a method this
// package implements.
func parseAuthOption(b []byte) (AuthMethod, bool) {
	switch {
	case len(b) == 2 && Protocol(binary.BigEndian.Uint16(b)) == ProtoPAP:
		return AuthPAP, true
	case len(b) == 3 && Protocol(binary.BigEndian.Uint16(b)) == ProtoCHAP && b[2] == chapMD5:
		return AuthCHAPMD5, true
	case len(b) == 3 && Protocol(binary.BigEndian.Uint16(b)) == ProtoCHAP && b[2] == chapMSCHAPv2:
		return AuthMSCHAPv2, true
	}
	return AuthNone, false
}

// ProxyLCP evaluates the LCP state an L2TP LAC negotiated with the peer and relayed in the
// Initial Received, Last Sent and Last Received LCP CONFREQ AVPs of its ICCN (RFC 2661
// §4.4.5; each value is the options of a Configure-Request). The LAC's last request, which
// the peer acknowledged, is taken as ours and must suit c (MRU within MaxMRU, a non-zero
// Magic-Number, an authentication method in c.Auth when c.Auth is set, framing options c
// accepts, nothing else); the peer's last request, which the LAC acknowledged, must be
// one c would acknowledge. The initial request is only checked for form. On success the
// result is as if this side had negotiated it, and the LCP automaton can start in Opened;
// otherwise the error wraps ErrRenegotiate and says why, and LCP must be negotiated anew.
func (c LCPConfig) ProxyLCP(initialReceived, lastSent, lastReceived []byte) (LCPResult, error) {
	if err := c.Validate(); err != nil {
		return LCPResult{}, err
	}
	for _, v := range []struct {
		name string
		b    []byte
	}{{"initial received", initialReceived}, {"last sent", lastSent}, {"last received", lastReceived}} {
		if err := CheckOptions(v.b); err != nil {
			return LCPResult{}, fmt.Errorf("%w: %s CONFREQ: %w", ErrRenegotiate, v.name, err)
		}
	}
	l := newLCP(c)
	res := defaultLCPResult(l.cfg.MaxMRU)
	auth := false
	d := NewOptionDecoder(lastSent)
	for d.Next() {
		switch t := d.Type(); {
		case t == LCPOptMRU && d.Len() == 2:
			v := d.Uint16()
			if v < minMRU || v > l.cfg.MaxMRU {
				return LCPResult{}, fmt.Errorf("%w: LAC requested MRU %d, limit %d", ErrRenegotiate, v, l.cfg.MaxMRU)
			}
			res.LocalMRU = v
		case t == LCPOptACCM && d.Len() == 4 && l.cfg.AcceptACCM:
			res.LocalACCM = d.Uint32()
		case t == LCPOptAuthProtocol:
			m, ok := parseAuthOption(d.Bytes())
			if !ok || (len(l.cfg.Auth) > 0 && !slices.Contains(l.cfg.Auth, m)) {
				return LCPResult{}, fmt.Errorf("%w: LAC authenticated with %x, not a configured method", ErrRenegotiate, d.Bytes())
			}
			res.PeerAuth, auth = m, true
		case t == LCPOptMagicNumber && d.Len() == 4 && !l.cfg.NoMagic:
			if res.LocalMagic = d.Uint32(); res.LocalMagic == 0 {
				return LCPResult{}, fmt.Errorf("%w: LAC requested Magic-Number 0", ErrRenegotiate)
			}
		case t == LCPOptPFC && d.Len() == 0 && l.cfg.AcceptPFC:
			res.LocalPFC = true
		case t == LCPOptACFC && d.Len() == 0 && l.cfg.AcceptACFC:
			res.LocalACFC = true
		default:
			return LCPResult{}, fmt.Errorf("%w: LAC requested option %d (%x), not supported here", ErrRenegotiate, t, d.Bytes())
		}
	}
	if len(l.cfg.Auth) > 0 && !auth {
		return LCPResult{}, fmt.Errorf("%w: LAC did not request authentication", ErrRenegotiate)
	}
	if res.LocalMRU > l.cfg.MaxMRU {
		// No MRU negotiated means 1500 (RFC 1661 §6.1), more than this carrier takes.
		return LCPResult{}, fmt.Errorf("%w: LAC left the MRU at %d, limit %d", ErrRenegotiate, res.LocalMRU, l.cfg.MaxMRU)
	}
	l.magic, l.reqMagic = res.LocalMagic, res.LocalMagic != 0
	code, reply, err := l.judgeRequest(nil, lastReceived, false)
	if err != nil {
		return LCPResult{}, fmt.Errorf("%w: %w", ErrRenegotiate, err)
	}
	if code != CodeConfigureAck {
		return LCPResult{}, fmt.Errorf("%w: would answer the peer's request with code %d (%x)", ErrRenegotiate, code, reply)
	}
	p := l.res
	res.PeerMRU, res.PeerACCM, res.LocalAuth = p.PeerMRU, p.PeerACCM, p.LocalAuth
	res.PeerMagic, res.PeerPFC, res.PeerACFC = p.PeerMagic, p.PeerPFC, p.PeerACFC
	return res, nil
}

// ParseMagicData splits the data of an Echo-Request, Echo-Reply, Discard-Request (RFC 1661
// §5.8–5.9) or Identification (RFC 1570 §1.1) into its Magic-Number and the rest (Data or
// Message).
func ParseMagicData(b []byte) (magic uint32, data []byte, err error) {
	if len(b) < 4 {
		return 0, nil, io.ErrUnexpectedEOF
	}
	return binary.BigEndian.Uint32(b), b[4:], nil
}

// AppendMagicData appends the data of an Echo-Request, Echo-Reply, Discard-Request or
// Identification to dst: the Magic-Number (zero until negotiated) and data.
func AppendMagicData(dst []byte, magic uint32, data []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, magic)
	return append(dst, data...)
}

// ParseTimeRemaining splits the data of a Time-Remaining packet (RFC 1570 §1.2).
func ParseTimeRemaining(b []byte) (magic, seconds uint32, message []byte, err error) {
	if len(b) < 8 {
		return 0, 0, nil, io.ErrUnexpectedEOF
	}
	return binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:]), b[8:], nil
}

// AppendTimeRemaining appends the data of a Time-Remaining packet to dst.
func AppendTimeRemaining(dst []byte, magic, seconds uint32, message []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, magic)
	dst = binary.BigEndian.AppendUint32(dst, seconds)
	return append(dst, message...)
}

// ParseProtocolReject splits the data of a Protocol-Reject (RFC 1661 §5.7) into the
// rejected protocol and the start of the rejected packet's information field.
func ParseProtocolReject(b []byte) (Protocol, []byte, error) {
	if len(b) < 2 {
		return 0, nil, io.ErrUnexpectedEOF
	}
	return Protocol(binary.BigEndian.Uint16(b)), b[2:], nil
}

// AppendProtocolReject appends the data of a Protocol-Reject for a frame of protocol p with
// information field info, truncated so that the whole LCP packet fits in peerMRU (RFC 1661
// §5.7). The packet may only be sent in the LCP Opened state, with a new Identifier each
// time (fsm.sendNew does both when given CodeProtocolReject).
func AppendProtocolReject(dst []byte, p Protocol, info []byte, peerMRU int) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(p))
	if limit := max(0, peerMRU-ControlHeaderLen-2); len(info) > limit {
		info = info[:limit]
	}
	return append(dst, info...)
}

// sendProtocolReject answers a received frame of protocol p, whose information field is
// info, with a Protocol-Reject (RFC 1661 §5.7), truncated to the peer's MRU. Only the LCP
// automaton sends it, and only in Opened ("Protocol-Reject packets can only be sent in the
// LCP Opened state"); it reports whether it did.
func (f *fsm) sendProtocolReject(p Protocol, info []byte) bool {
	if f.proto != ProtoLCP || f.state != StateOpened {
		return false
	}
	f.outBuf = AppendProtocolReject(f.outBuf[:0], p, info, f.peerMRU)
	f.sendNew(CodeProtocolReject, f.outBuf)
	return true
}

// ParseCodeReject returns the Code and Identifier of the packet a Code-Reject rejects (RFC
// 1661 §5.6); the rejected packet may be truncated, so its Length is not checked.
func ParseCodeReject(b []byte) (Code, uint8, error) {
	if len(b) < 2 {
		return 0, 0, io.ErrUnexpectedEOF
	}
	return Code(b[0]), b[1], nil
}

// entropy draws the random numbers of the negotiators (Magic-Numbers, Interface
// Identifiers). It never fails: when the reader does, it falls back to a SplitMix64
// sequence, which is not secret but still varies.
type entropy struct {
	r     io.Reader
	state uint64
}

func (e *entropy) uint64() uint64 {
	var b [8]byte
	if e.r != nil {
		if _, err := io.ReadFull(e.r, b[:]); err == nil {
			return binary.BigEndian.Uint64(b[:])
		}
	}
	e.state += 0x9e3779b97f4a7c15
	z := e.state
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// nonzero32 returns a random non-zero value outside avoid.
func (e *entropy) nonzero32(avoid ...uint32) uint32 {
	for range 16 {
		if v := uint32(e.uint64()); v != 0 && !slices.Contains(avoid, v) {
			return v
		}
	}
	v := uint32(1)
	for slices.Contains(avoid, v) {
		v++
	}
	return v
}

// nonzero64 returns a random non-zero value outside avoid, with mask applied.
func (e *entropy) nonzero64(mask uint64, avoid ...uint64) uint64 {
	for range 16 {
		if v := e.uint64() & mask; v != 0 && !slices.Contains(avoid, v) {
			return v
		}
	}
	v := uint64(1)
	for slices.Contains(avoid, v) {
		v++
	}
	return v
}
