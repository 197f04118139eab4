package pppoe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Ethernet types of PPPoE frames (RFC 2516 §4).
const (
	EtherTypeDiscovery uint16 = 0x8863
	EtherTypeSession   uint16 = 0x8864
)

// Header layout constants (RFC 2516 §4).
const (
	// HeaderLen is the length of the PPPoE header: VER/TYPE, CODE, SESSION_ID, LENGTH.
	HeaderLen = 6
	// Version and Type are the only VER and TYPE values RFC 2516 defines.
	Version = 1
	Type    = 1
	verType = Version<<4 | Type

	// MaxPADILen is the largest PADI a host may send, PPPoE header included (RFC 2516 §5.1):
	// it leaves room for a relay agent to add a Relay-Session-Id tag with a 12-octet value.
	MaxPADILen = 1484

	// DefaultMaxPayload is the PPP payload (MRU) that fits a 1500-byte Ethernet payload after
	// the 6-byte PPPoE header and the 2-byte PPP protocol field (RFC 2516 §7, RFC 4638 §1).
	DefaultMaxPayload = 1492

	// ReservedSessionID must never be used as a session ID (RFC 2516 §4).
	ReservedSessionID = 0xffff
)

// Code is the CODE field of the PPPoE header.
type Code uint8

// Codes of RFC 2516 §5 and those of the IANA "PPPoE Active Discovery Codes" registry
// (RFC 4937). probox speaks only the RFC 2516 ones; the others are named for diagnostics.
const (
	CodeSession Code = 0x00 // session stage (ether type 0x8864)
	CodePADO    Code = 0x07
	CodePADI    Code = 0x09
	CodePADG    Code = 0x0a // RFC 5578 grant, not supported
	CodePADC    Code = 0x0b // RFC 5578 credit response, not supported
	CodePADQ    Code = 0x0c // RFC 5578 quality, not supported
	CodePADR    Code = 0x19
	CodePADS    Code = 0x65
	CodePADT    Code = 0xa7
	CodePADM    Code = 0xd3 // message (draft-carrel-info-pppoe-ext), not supported
	CodePADN    Code = 0xd4 // network (draft-carrel-info-pppoe-ext), not supported
)

// String returns the RFC name of c, or its hex value.
func (c Code) String() string {
	switch c {
	case CodeSession:
		return "Session"
	case CodePADO:
		return "PADO"
	case CodePADI:
		return "PADI"
	case CodePADG:
		return "PADG"
	case CodePADC:
		return "PADC"
	case CodePADQ:
		return "PADQ"
	case CodePADR:
		return "PADR"
	case CodePADS:
		return "PADS"
	case CodePADT:
		return "PADT"
	case CodePADM:
		return "PADM"
	case CodePADN:
		return "PADN"
	}
	return fmt.Sprintf("0x%02x", uint8(c))
}

// MAC is an Ethernet address. It is an array so it can key maps and be copied without
// allocating.
type MAC [6]byte

// BroadcastMAC is the destination of PADI frames (RFC 2516 §5.1).
var BroadcastMAC = MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// String formats m as six colon-separated lower-case hex octets.
func (m MAC) String() string {
	const hexdigits = "0123456789abcdef"
	b := make([]byte, 0, 17)
	for i, o := range m {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, hexdigits[o>>4], hexdigits[o&0x0f])
	}
	return string(b)
}

// IsUnicast reports whether m can be the source of a frame: not all zero and not a group
// address (IEEE 802 I/G bit clear).
func (m MAC) IsUnicast() bool { return m != MAC{} && m[0]&1 == 0 }

// VLANs holds the 802.1Q VLAN IDs a frame was received with or must be sent with. Outer is
// the only tag of a single-tagged frame, or the S-tag of a QinQ frame; Inner is the C-tag of
// a QinQ frame. Zero means no tag.
type VLANs struct {
	Outer, Inner uint16
}

// String formats v as "untagged", "vlan 10" or "vlan 100.10".
func (v VLANs) String() string {
	switch {
	case v.Outer == 0 && v.Inner == 0:
		return "untagged"
	case v.Inner == 0:
		return fmt.Sprintf("vlan %d", v.Outer)
	}
	return fmt.Sprintf("vlan %d.%d", v.Outer, v.Inner)
}

// truncError is a truncation error that also matches io.ErrUnexpectedEOF with errors.Is, so
// callers may test for either the specific sentinel or truncation in general.
type truncError struct{ msg string }

func (e *truncError) Error() string        { return e.msg }
func (e *truncError) Is(target error) bool { return target == io.ErrUnexpectedEOF }

// Errors returned by the decoders and encoders. The truncation errors (ErrShortHeader,
// ErrLengthOverrun, ErrTagOverrun, ErrSubOptionOverrun) also match io.ErrUnexpectedEOF.
var (
	ErrShortHeader      error = &truncError{"pppoe: frame shorter than the 6-byte PPPoE header"}
	ErrLengthOverrun    error = &truncError{"pppoe: LENGTH field exceeds the frame"}
	ErrTagOverrun       error = &truncError{"pppoe: tag exceeds the payload"}
	ErrSubOptionOverrun error = &truncError{"pppoe: DSL Forum sub-option exceeds the tag"}

	ErrVersion          = errors.New("pppoe: VER is not 1")
	ErrType             = errors.New("pppoe: TYPE is not 1")
	ErrCode             = errors.New("pppoe: unexpected CODE")
	ErrSessionID        = errors.New("pppoe: SESSION_ID not allowed for this CODE")
	ErrServiceNameCount = errors.New("pppoe: wrong number of Service-Name tags")
	ErrMissingTag       = errors.New("pppoe: mandatory tag missing")
	ErrDuplicateTag     = errors.New("pppoe: tag must not repeat")
	ErrTagLength        = errors.New("pppoe: tag value has the wrong length")
	ErrEndOfListLength  = errors.New("pppoe: End-Of-List tag with non-zero length")
	ErrTooLong          = errors.New("pppoe: value too long to encode")
	ErrShortBuffer      = errors.New("pppoe: buffer too short")
)

// Packet is a decoded PPPoE discovery packet: the header fields and the tags. The VER and TYPE
// fields are always 1 and the LENGTH field is computed on encoding.
type Packet struct {
	Code      Code
	SessionID uint16
	Tags      Tags
}

// ParsePacket decodes the PPPoE discovery packet at the start of b (the Ethernet payload of a
// frame of ether type 0x8863) and checks it against the rules RFC 2516 §5 sets for its code
// (see Packet.Validate). Bytes after LENGTH (Ethernet padding) are ignored. The result does
// not alias b.
func ParsePacket(b []byte) (Packet, error) {
	var p Packet
	if err := p.UnmarshalBinary(b); err != nil {
		return Packet{}, err
	}
	if err := p.Validate(); err != nil {
		return Packet{}, err
	}
	return p, nil
}

// UnmarshalBinary decodes the header and tags of a discovery packet without the per-code
// checks of Validate. The result does not alias b.
func (p *Packet) UnmarshalBinary(b []byte) error {
	code, sid, payload, err := parseHeader(b)
	if err != nil {
		return err
	}
	tags, err := ParseTags(clone(payload))
	if err != nil {
		return err
	}
	*p = Packet{Code: code, SessionID: sid, Tags: tags}
	return nil
}

// parseHeader checks VER, TYPE and LENGTH and returns the payload trimmed to LENGTH. It does
// not allocate.
func parseHeader(b []byte) (Code, uint16, []byte, error) {
	if len(b) < HeaderLen {
		return 0, 0, nil, ErrShortHeader
	}
	if b[0]>>4 != Version {
		return 0, 0, nil, ErrVersion
	}
	if b[0]&0x0f != Type {
		return 0, 0, nil, ErrType
	}
	n := int(binary.BigEndian.Uint16(b[4:6]))
	if n > len(b)-HeaderLen {
		return 0, 0, nil, ErrLengthOverrun
	}
	return Code(b[1]), binary.BigEndian.Uint16(b[2:4]), b[HeaderLen : HeaderLen+n], nil
}

// MarshalBinary encodes p. It does not call Validate.
func (p *Packet) MarshalBinary() ([]byte, error) {
	return p.AppendBinary(make([]byte, 0, 64))
}

// AppendBinary appends the encoding of p to b. It fails with ErrTooLong when a tag value or
// the payload does not fit its 16-bit length field.
func (p *Packet) AppendBinary(b []byte) ([]byte, error) {
	start := len(b)
	b = append(b, verType, byte(p.Code), 0, 0, 0, 0)
	binary.BigEndian.PutUint16(b[start+2:], p.SessionID)
	b, err := p.Tags.AppendBinary(b)
	if err != nil {
		return b[:start], err
	}
	n := len(b) - start - HeaderLen
	if n > 0xffff {
		return b[:start], fmt.Errorf("%w: payload of %d bytes", ErrTooLong, n)
	}
	binary.BigEndian.PutUint16(b[start+4:], uint16(n))
	return b, nil
}

// Validate checks p against the rules of RFC 2516 §5 for its code:
//
//   - PADI: SESSION_ID 0 and exactly one Service-Name (§5.1).
//   - PADO: SESSION_ID 0, an AC-Name and at least one Service-Name (§5.2).
//   - PADR: SESSION_ID 0 and exactly one Service-Name (§5.3).
//   - PADS: a session ID other than 0 and 0xffff with exactly one Service-Name, or SESSION_ID 0
//     with at least one error tag (§5.4).
//   - PADT: a session ID other than 0 and 0xffff (§5.5).
//
// Other codes (including session data) fail with ErrCode.
func (p *Packet) Validate() error {
	n := len(p.Tags.ServiceNames)
	switch p.Code {
	case CodePADI, CodePADR:
		if p.SessionID != 0 {
			return fmt.Errorf("%w: %v with session ID 0x%04x", ErrSessionID, p.Code, p.SessionID)
		}
		if n != 1 {
			return fmt.Errorf("%w: %v has %d, needs exactly 1", ErrServiceNameCount, p.Code, n)
		}
	case CodePADO:
		if p.SessionID != 0 {
			return fmt.Errorf("%w: PADO with session ID 0x%04x", ErrSessionID, p.SessionID)
		}
		if !p.Tags.HasACName {
			return fmt.Errorf("%w: PADO without AC-Name", ErrMissingTag)
		}
		if n == 0 {
			return fmt.Errorf("%w: PADO has none, needs at least 1", ErrServiceNameCount)
		}
	case CodePADS:
		switch {
		case p.SessionID == ReservedSessionID:
			return fmt.Errorf("%w: PADS with reserved session ID 0xffff", ErrSessionID)
		case p.SessionID == 0:
			// §5.4: a refusal carries SESSION_ID 0 and an error tag.
			if len(p.Tags.Errors) == 0 {
				return fmt.Errorf("%w: PADS with session ID 0 and no error tag", ErrSessionID)
			}
		case n != 1:
			return fmt.Errorf("%w: PADS has %d, needs exactly 1", ErrServiceNameCount, n)
		}
	case CodePADT:
		if p.SessionID == 0 || p.SessionID == ReservedSessionID {
			return fmt.Errorf("%w: PADT with session ID 0x%04x", ErrSessionID, p.SessionID)
		}
	default:
		return fmt.Errorf("%w: %v is not a discovery code probox handles", ErrCode, p.Code)
	}
	return nil
}

// SessionHeader is a view of the 6-byte PPPoE header at the start of a session-stage packet
// (ether type 0x8864), for the userspace data plane's per-packet path. Its accessors do not
// allocate and read fixed offsets, so they must only be used on at least HeaderLen bytes, for
// example SessionHeader(b) after ParseSession(b) succeeded.
type SessionHeader []byte

// Code returns the CODE field (0 for session data).
func (h SessionHeader) Code() Code { return Code(h[1]) }

// SessionID returns the SESSION_ID field.
func (h SessionHeader) SessionID() uint16 { return binary.BigEndian.Uint16(h[2:4]) }

// Length returns the LENGTH field: the length of the PPP frame that follows the header.
func (h SessionHeader) Length() int { return int(binary.BigEndian.Uint16(h[4:6])) }

// ParseSession checks the PPPoE session header at the start of b and returns the session ID
// and the PPP frame (protocol field onward) trimmed to LENGTH, aliasing b. It rejects a bad
// VER or TYPE, a CODE other than 0, session IDs 0 and 0xffff, and a LENGTH beyond b. It does
// not allocate, also on error.
func ParseSession(b []byte) (sid uint16, ppp []byte, err error) {
	code, sid, ppp, err := parseHeader(b)
	if err != nil {
		return 0, nil, err
	}
	if code != CodeSession {
		return 0, nil, ErrCode
	}
	if sid == 0 || sid == ReservedSessionID {
		return 0, nil, ErrSessionID
	}
	return sid, ppp, nil
}

// PutSessionHeader writes a session-stage header for a PPP frame of pppLen bytes into b[:6],
// typically headroom reserved in front of the PPP frame. It does not allocate.
func PutSessionHeader(b []byte, sid uint16, pppLen int) error {
	if len(b) < HeaderLen {
		return ErrShortBuffer
	}
	if pppLen < 0 || pppLen > 0xffff {
		return ErrTooLong
	}
	b[0] = verType
	b[1] = byte(CodeSession)
	binary.BigEndian.PutUint16(b[2:4], sid)
	binary.BigEndian.PutUint16(b[4:6], uint16(pppLen))
	return nil
}

// AppendSessionHeader appends a session-stage header for a PPP frame of pppLen bytes to b. It
// allocates only when b lacks capacity.
func AppendSessionHeader(b []byte, sid uint16, pppLen int) ([]byte, error) {
	if pppLen < 0 || pppLen > 0xffff {
		return b, ErrTooLong
	}
	return append(b, verType, byte(CodeSession), byte(sid>>8), byte(sid), byte(pppLen>>8), byte(pppLen)), nil
}

func clone(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}
