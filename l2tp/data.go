package l2tp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The data-message headers below are parsed and built on the userspace data plane's hot
// path: parsing returns the payload as a sub-slice of the input and appending writes into
// the caller's buffer, so neither allocates.

// ErrCookieLength reports an L2TPv3 cookie length other than 0, 4 or 8 octets
// (RFC 3931 §4.1).
var ErrCookieLength = errors.New("l2tp: cookie length must be 0, 4 or 8")

// V2DataHeader is an L2TPv2 data message header (RFC 2661 §3.1):
//
//	|T|L|x|x|S|x|O|P|x|x|x|x|  Ver  |          Length (opt)         |
//	|           Tunnel ID           |           Session ID          |
//	|             Ns (opt)          |             Nr (opt)          |
//	|      Offset Size (opt)        |    Offset pad... (opt)
type V2DataHeader struct {
	TunnelID  uint16
	SessionID uint16
	// HasLength is the L bit: the Length field is present.
	HasLength bool
	// HasSequence is the S bit: Ns and Nr are present.
	HasSequence bool
	Ns, Nr      uint16
	// HasOffset is the O bit: OffsetSize octets of padding precede the payload.
	HasOffset  bool
	OffsetSize uint16
	// Priority is the P bit (RFC 2661 §3.1: preferential treatment, e.g. for LCP).
	Priority bool
}

// Len returns the encoded length of h, including any offset padding.
func (h *V2DataHeader) Len() int {
	n := 6
	if h.HasLength {
		n += 2
	}
	if h.HasSequence {
		n += 4
	}
	if h.HasOffset {
		n += 2 + int(h.OffsetSize)
	}
	return n
}

// ParseV2Data parses the L2TPv2 data header at the start of b and returns it with the
// payload, a sub-slice of b that ends at the Length field when there is one.
func ParseV2Data(b []byte) (h V2DataHeader, payload []byte, err error) {
	if len(b) < 6 {
		return h, nil, io.ErrUnexpectedEOF
	}
	flags := binary.BigEndian.Uint16(b)
	if flags&flagT != 0 {
		return h, nil, ErrNotData
	}
	if Version(flags&versionMask) != Version2 {
		return h, nil, fmt.Errorf("%w: %d in an L2TPv2 data header", ErrVersion, flags&versionMask)
	}
	h.HasLength = flags&flagL != 0
	h.HasSequence = flags&flagS != 0
	h.HasOffset = flags&flagO != 0
	h.Priority = flags&flagP != 0
	off := 2
	length := 0
	if h.HasLength {
		length = int(binary.BigEndian.Uint16(b[off:]))
		off += 2
	}
	if len(b) < off+4 {
		return h, nil, io.ErrUnexpectedEOF
	}
	h.TunnelID = binary.BigEndian.Uint16(b[off:])
	h.SessionID = binary.BigEndian.Uint16(b[off+2:])
	off += 4
	if h.HasSequence {
		if len(b) < off+4 {
			return h, nil, io.ErrUnexpectedEOF
		}
		h.Ns = binary.BigEndian.Uint16(b[off:])
		h.Nr = binary.BigEndian.Uint16(b[off+2:])
		off += 4
	}
	if h.HasOffset {
		if len(b) < off+2 {
			return h, nil, io.ErrUnexpectedEOF
		}
		h.OffsetSize = binary.BigEndian.Uint16(b[off:])
		off += 2 + int(h.OffsetSize)
	}
	end := len(b)
	if h.HasLength {
		if length < off || length > len(b) {
			return h, nil, ErrBadLength
		}
		end = length
	}
	if off > end {
		return h, nil, io.ErrUnexpectedEOF
	}
	return h, b[off:end], nil
}

// Append appends h to dst for a payload of payloadLen octets (which the caller appends
// next). Offset padding is written as zeros.
func (h *V2DataHeader) Append(dst []byte, payloadLen int) ([]byte, error) {
	total := h.Len() + payloadLen
	if payloadLen < 0 {
		return dst, fmt.Errorf("%w: negative payload length", ErrFieldRange)
	}
	if h.HasLength && total > 0xffff {
		return dst, ErrMessageTooLong
	}
	flags := uint16(Version2)
	if h.HasLength {
		flags |= flagL
	}
	if h.HasSequence {
		flags |= flagS
	}
	if h.HasOffset {
		flags |= flagO
	}
	if h.Priority {
		flags |= flagP
	}
	dst = binary.BigEndian.AppendUint16(dst, flags)
	if h.HasLength {
		dst = binary.BigEndian.AppendUint16(dst, uint16(total))
	}
	dst = binary.BigEndian.AppendUint16(dst, h.TunnelID)
	dst = binary.BigEndian.AppendUint16(dst, h.SessionID)
	if h.HasSequence {
		dst = binary.BigEndian.AppendUint16(dst, h.Ns)
		dst = binary.BigEndian.AppendUint16(dst, h.Nr)
	}
	if h.HasOffset {
		dst = binary.BigEndian.AppendUint16(dst, h.OffsetSize)
		for range h.OffsetSize {
			dst = append(dst, 0)
		}
	}
	return dst, nil
}

// V3DataHeader is an L2TPv3 session header with the optional Default L2-Specific Sublayer
// (RFC 3931 §4.1.1.1 over IP, §4.1.2.1 over UDP, §4.6):
//
//	over UDP only: |T|x|x|x|x|x|x|x|x|x|x|x|  Ver  |          Reserved             |
//	               |                           Session ID                          |
//	               |               Cookie (optional, maximum 64 bits)...
//	sublayer:      |x|S|x|x|x|x|x|x|              Sequence Number                  |
type V3DataHeader struct {
	SessionID uint32
	// Cookie holds CookieLen (0, 4 or 8) octets.
	Cookie    [8]byte
	CookieLen uint8
	// Sublayer reports the Default L2-Specific Sublayer.
	Sublayer bool
	// Sequenced is the sublayer's S bit: Seq holds a valid sequence number.
	Sequenced bool
	// Seq is the 24-bit sequence number; higher bits are dropped when encoding.
	Seq uint32
}

const (
	v3UDPPrefixLen = 4 // flags, Ver and Reserved before the Session ID
	sublayerLen    = 4
	sublayerS      = 0x40000000
	seqMask        = 0x00ffffff
)

// CookieBytes returns the cookie as a slice of h.Cookie.
func (h *V3DataHeader) CookieBytes() []byte { return h.Cookie[:h.CookieLen] }

// SetCookie sets the cookie; it must be 0, 4 or 8 octets.
func (h *V3DataHeader) SetCookie(c []byte) error {
	if !validCookieLen(len(c)) {
		return ErrCookieLength
	}
	h.CookieLen = uint8(copy(h.Cookie[:], c))
	return nil
}

func validCookieLen(n int) bool { return n == 0 || n == 4 || n == 8 }

// V3SessionIDUDP returns the Session ID of an L2TPv3-over-UDP data message, so the data
// plane can find the session (and its cookie length) before parsing the rest.
func V3SessionIDUDP(b []byte) (uint32, error) {
	if len(b) < v3UDPPrefixLen+4 {
		return 0, io.ErrUnexpectedEOF
	}
	flags := binary.BigEndian.Uint16(b)
	if flags&flagT != 0 {
		return 0, ErrNotData
	}
	if Version(flags&versionMask) != Version3 {
		return 0, fmt.Errorf("%w: %d in an L2TPv3 data header", ErrVersion, flags&versionMask)
	}
	sid := binary.BigEndian.Uint32(b[v3UDPPrefixLen:])
	if sid == 0 {
		return 0, ErrNotData
	}
	return sid, nil
}

// V3SessionIDIP returns the Session ID of an L2TPv3-over-IP data message. A zero Session
// ID marks a control message and gives ErrNotData.
func V3SessionIDIP(b []byte) (uint32, error) {
	if len(b) < 4 {
		return 0, io.ErrUnexpectedEOF
	}
	sid := binary.BigEndian.Uint32(b)
	if sid == 0 {
		return 0, ErrNotData
	}
	return sid, nil
}

// ParseV3DataUDP parses an L2TPv3-over-UDP data header. The session's cookie length and
// whether it uses the Default L2-Specific Sublayer are session state, so the caller passes
// them (RFC 3931 §4.1: the Session ID alone gives that context).
func ParseV3DataUDP(b []byte, cookieLen int, sublayer bool) (V3DataHeader, []byte, error) {
	sid, err := V3SessionIDUDP(b)
	if err != nil {
		return V3DataHeader{}, nil, err
	}
	return parseV3Rest(b, v3UDPPrefixLen+4, sid, cookieLen, sublayer)
}

// ParseV3DataIP parses an L2TPv3-over-IP data header; see ParseV3DataUDP.
func ParseV3DataIP(b []byte, cookieLen int, sublayer bool) (V3DataHeader, []byte, error) {
	sid, err := V3SessionIDIP(b)
	if err != nil {
		return V3DataHeader{}, nil, err
	}
	return parseV3Rest(b, 4, sid, cookieLen, sublayer)
}

func parseV3Rest(b []byte, off int, sid uint32, cookieLen int, sublayer bool) (h V3DataHeader, payload []byte, err error) {
	if !validCookieLen(cookieLen) {
		return h, nil, ErrCookieLength
	}
	need := off + cookieLen
	if sublayer {
		need += sublayerLen
	}
	if len(b) < need {
		return h, nil, io.ErrUnexpectedEOF
	}
	h.SessionID = sid
	h.CookieLen = uint8(copy(h.Cookie[:], b[off:off+cookieLen]))
	off += cookieLen
	if sublayer {
		w := binary.BigEndian.Uint32(b[off:])
		h.Sublayer = true
		h.Sequenced = w&sublayerS != 0
		h.Seq = w & seqMask
		off += sublayerLen
	}
	return h, b[off:], nil
}

// Len returns the encoded length of h over IP; over UDP it is 4 octets more.
func (h *V3DataHeader) Len() int {
	n := 4 + int(h.CookieLen)
	if h.Sublayer {
		n += sublayerLen
	}
	return n
}

// AppendUDP appends h as an L2TPv3-over-UDP data header.
func (h *V3DataHeader) AppendUDP(dst []byte) ([]byte, error) {
	dst = binary.BigEndian.AppendUint16(dst, uint16(Version3)) // T=0, Ver=3
	dst = append(dst, 0, 0)                                    // Reserved
	return h.AppendIP(dst)
}

// AppendIP appends h as an L2TPv3-over-IP data header.
func (h *V3DataHeader) AppendIP(dst []byte) ([]byte, error) {
	if !validCookieLen(int(h.CookieLen)) {
		return dst, ErrCookieLength
	}
	if h.SessionID == 0 {
		return dst, fmt.Errorf("%w: data Session ID must be non-zero", ErrFieldRange)
	}
	dst = binary.BigEndian.AppendUint32(dst, h.SessionID)
	dst = append(dst, h.Cookie[:h.CookieLen]...)
	if h.Sublayer {
		w := h.Seq & seqMask
		if h.Sequenced {
			w |= sublayerS
		}
		dst = binary.BigEndian.AppendUint32(dst, w)
	}
	return dst, nil
}
