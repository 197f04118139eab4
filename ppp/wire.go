package ppp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Protocol is a PPP protocol number (RFC 1661 §2, assigned numbers in RFC 1700 and the IANA
// "PPP DLL Protocol Numbers" registry).
type Protocol uint16

// PPP protocol numbers probox handles.
const (
	ProtoIPv4   Protocol = 0x0021
	ProtoIPv6   Protocol = 0x0057
	ProtoIPCP   Protocol = 0x8021
	ProtoIPv6CP Protocol = 0x8057
	ProtoCCP    Protocol = 0x80fd
	ProtoLCP    Protocol = 0xc021
	ProtoPAP    Protocol = 0xc023
	ProtoLQR    Protocol = 0xc025
	ProtoCHAP   Protocol = 0xc223
	ProtoEAP    Protocol = 0xc227
)

func (p Protocol) String() string {
	switch p {
	case ProtoIPv4:
		return "IPv4"
	case ProtoIPv6:
		return "IPv6"
	case ProtoIPCP:
		return "IPCP"
	case ProtoIPv6CP:
		return "IPv6CP"
	case ProtoCCP:
		return "CCP"
	case ProtoLCP:
		return "LCP"
	case ProtoPAP:
		return "PAP"
	case ProtoLQR:
		return "LQR"
	case ProtoCHAP:
		return "CHAP"
	case ProtoEAP:
		return "EAP"
	}
	return fmt.Sprintf("0x%04x", uint16(p))
}

// IsNetwork reports whether p carries network-layer data (as opposed to a control protocol).
// RFC 1661 §2: protocol numbers 0x0***-0x3*** are network-layer protocols, 0x8***-0xb*** their
// network control protocols, 0xc***-0xf*** link-layer control protocols.
func (p Protocol) IsNetwork() bool { return p < 0x4000 }

// Errors returned by the decoders in this package.
var (
	// ErrBadProtocol is returned for a protocol field that is not a valid PPP protocol number
	// (RFC 1661 §2: the least significant bit of the least significant octet is 1, and of the
	// most significant octet 0).
	ErrBadProtocol = errors.New("ppp: invalid protocol field")
	// ErrBadLength is returned when a control packet's Length field disagrees with the frame.
	ErrBadLength = errors.New("ppp: bad length field")
)

// ParseFrame splits a PPP frame as the data plane hands it over (address and control fields
// already removed or absent) into its protocol and information fields. It accepts the
// protocol field compressed to one octet (RFC 1661 §6.5, PFC), and also skips a leading
// 0xff 0x03 address/control pair if a carrier left one in place (RFC 1662 §3.1).
func ParseFrame(b []byte) (Protocol, []byte, error) {
	if len(b) >= 2 && b[0] == 0xff && b[1] == 0x03 {
		b = b[2:]
	}
	if len(b) < 1 {
		return 0, nil, io.ErrUnexpectedEOF
	}
	if b[0]&1 == 1 { // compressed one-octet protocol field
		return Protocol(b[0]), b[1:], nil
	}
	if len(b) < 2 {
		return 0, nil, io.ErrUnexpectedEOF
	}
	p := Protocol(binary.BigEndian.Uint16(b))
	if b[1]&1 == 0 {
		return 0, nil, ErrBadProtocol
	}
	return p, b[2:], nil
}

// AppendFrame appends a PPP frame with an uncompressed protocol field and no address/control
// fields (the carriers add what they need) to dst.
func AppendFrame(dst []byte, p Protocol, info []byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(p))
	return append(dst, info...)
}

// Code is the Code field of an LCP-like control packet (RFC 1661 §5) and of the
// authentication protocols (PAP, CHAP), whose codes overlap in value but not in meaning.
type Code uint8

// ControlHeader is the common header of LCP, NCP, PAP and CHAP packets (RFC 1661 §5):
// Code, Identifier and a Length that covers the header itself.
type ControlHeader struct {
	Code       Code
	Identifier uint8
	Length     uint16
}

// ControlHeaderLen is the size of ControlHeader on the wire.
const ControlHeaderLen = 4

// ParseControl decodes the header of a control packet and returns it with its data field.
// Octets past Length are padding and are dropped (RFC 1661 §5: "Octets outside the range of
// the Length field are treated as padding and are ignored on reception"); a Length shorter
// than the header or longer than the packet is ErrBadLength.
func ParseControl(b []byte) (ControlHeader, []byte, error) {
	if len(b) < ControlHeaderLen {
		return ControlHeader{}, nil, io.ErrUnexpectedEOF
	}
	h := ControlHeader{Code: Code(b[0]), Identifier: b[1], Length: binary.BigEndian.Uint16(b[2:])}
	if int(h.Length) < ControlHeaderLen || int(h.Length) > len(b) {
		return h, nil, ErrBadLength
	}
	return h, b[ControlHeaderLen:h.Length], nil
}

// AppendControl appends a control packet with the given code, identifier and data to dst,
// computing the Length field.
func AppendControl(dst []byte, code Code, id uint8, data []byte) []byte {
	dst = append(dst, byte(code), id)
	dst = binary.BigEndian.AppendUint16(dst, uint16(ControlHeaderLen+len(data)))
	return append(dst, data...)
}
