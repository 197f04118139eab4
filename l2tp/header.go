package l2tp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Version is the L2TP version carried in the Ver field of every header.
type Version uint8

// L2TP versions.
const (
	Version2 Version = 2 // RFC 2661
	Version3 Version = 3 // RFC 3931
)

// String returns "L2TPv2" or "L2TPv3".
func (v Version) String() string {
	switch v {
	case Version2, Version3:
		return fmt.Sprintf("L2TPv%d", uint8(v))
	}
	return fmt.Sprintf("Version(%d)", uint8(v))
}

// First header word (RFC 2661 §3.1, RFC 3931 §3.2.1 and §10.5):
//
//	|T|L|x|x|S|x|O|P|x|x|x|x|  Ver  |
const (
	flagT       = 0x8000 // control message
	flagL       = 0x4000 // Length field present
	flagS       = 0x0800 // Ns and Nr present
	flagO       = 0x0200 // Offset Size present (L2TPv2 only)
	flagP       = 0x0100 // priority (L2TPv2 data only)
	versionMask = 0x000f
)

// ControlHeaderLen is the length of the control header this package writes: flags, Length,
// the tunnel and session IDs (v2) or Control Connection ID (v3), Ns and Nr.
const ControlHeaderLen = 12

// IPSessionIDLen is the length of the Session ID that starts every L2TPv3-over-IP packet;
// it is zero for control messages (RFC 3931 §4.1.1.2).
const IPSessionIDLen = 4

// Header errors. Truncated input is reported with io.ErrUnexpectedEOF.
var (
	// ErrVersion reports a Ver field other than 2 or 3.
	ErrVersion = errors.New("l2tp: unsupported version")
	// ErrNotControl reports a data message (T bit clear, or a non-zero L2TPv3-over-IP
	// Session ID) where a control message was expected.
	ErrNotControl = errors.New("l2tp: not a control message")
	// ErrNotData reports a control message (or a zero Session ID) where a data message was
	// expected.
	ErrNotData = errors.New("l2tp: not a data message")
	// ErrControlFlags reports a control header without the L or S bit, which RFC 2661 §3.1
	// and RFC 3931 §3.2.1 require.
	ErrControlFlags = errors.New("l2tp: control header lacks the L or S bit")
	// ErrBadLength reports a Length field smaller than the header or larger than the
	// packet.
	ErrBadLength = errors.New("l2tp: Length field does not match the packet")
	// ErrFieldRange reports a header field that does not fit the version being encoded.
	ErrFieldRange = errors.New("l2tp: header field out of range")
	// ErrMessageTooLong reports a message longer than the 16-bit Length field allows.
	ErrMessageTooLong = errors.New("l2tp: message too long")
)

// Header holds the fields of a control message header that the reliable transport uses.
type Header struct {
	Version Version
	// TunnelID is the L2TPv2 Tunnel ID (16 bits) or the L2TPv3 Control Connection ID (32
	// bits) of the recipient.
	TunnelID uint32
	// SessionID is the L2TPv2 Session ID of the recipient; L2TPv3 control headers have
	// none, so it must be 0 there.
	SessionID uint16
	Ns, Nr    uint16
}

func versionOf(b []byte) (Version, error) {
	v := Version(binary.BigEndian.Uint16(b) & versionMask)
	if v != Version2 && v != Version3 {
		return v, fmt.Errorf("%w: %d", ErrVersion, uint8(v))
	}
	return v, nil
}

// ClassifyUDP tells control from data for an L2TP-over-UDP datagram payload by its T bit
// and returns its version (RFC 2661 §3.1, RFC 3931 §4.1.2.1). Versions other than 2 and 3
// (for example L2F, version 1) give ErrVersion.
func ClassifyUDP(b []byte) (control bool, v Version, err error) {
	if len(b) < 2 {
		return false, 0, io.ErrUnexpectedEOF
	}
	v, err = versionOf(b)
	if err != nil {
		return false, v, err
	}
	return binary.BigEndian.Uint16(b)&flagT != 0, v, nil
}

// ClassifyIP tells control from data for an L2TPv3-over-IP (protocol 115) payload: control
// messages start with a zero Session ID (RFC 3931 §4.1.1.2).
func ClassifyIP(b []byte) (control bool, err error) {
	if len(b) < IPSessionIDLen {
		return false, io.ErrUnexpectedEOF
	}
	return binary.BigEndian.Uint32(b) == 0, nil
}

// StripIPSessionID returns the control message inside an L2TPv3-over-IP payload, after the
// zero Session ID. A non-zero Session ID gives ErrNotControl.
func StripIPSessionID(b []byte) ([]byte, error) {
	control, err := ClassifyIP(b)
	if err != nil {
		return nil, err
	}
	if !control {
		return nil, ErrNotControl
	}
	return b[IPSessionIDLen:], nil
}

// parseControlHeader parses the control header at the start of b. It returns the header,
// the offset of the first AVP and the message length from the Length field. An Offset
// field (O bit, L2TPv2), which RFC 2661 §3.1 forbids on control messages, is skipped
// rather than rejected.
func parseControlHeader(b []byte) (h Header, bodyOff, msgLen int, err error) {
	if len(b) < ControlHeaderLen {
		return h, 0, 0, io.ErrUnexpectedEOF
	}
	flags := binary.BigEndian.Uint16(b)
	if flags&flagT == 0 {
		return h, 0, 0, ErrNotControl
	}
	if h.Version, err = versionOf(b); err != nil {
		return h, 0, 0, err
	}
	if flags&flagL == 0 || flags&flagS == 0 {
		return h, 0, 0, ErrControlFlags
	}
	msgLen = int(binary.BigEndian.Uint16(b[2:]))
	if h.Version == Version2 {
		h.TunnelID = uint32(binary.BigEndian.Uint16(b[4:]))
		h.SessionID = binary.BigEndian.Uint16(b[6:])
	} else {
		h.TunnelID = binary.BigEndian.Uint32(b[4:])
	}
	h.Ns = binary.BigEndian.Uint16(b[8:])
	h.Nr = binary.BigEndian.Uint16(b[10:])
	bodyOff = ControlHeaderLen
	if h.Version == Version2 && flags&flagO != 0 {
		if len(b) < bodyOff+2 {
			return h, 0, 0, io.ErrUnexpectedEOF
		}
		bodyOff += 2 + int(binary.BigEndian.Uint16(b[bodyOff:]))
	}
	if msgLen < bodyOff || msgLen > len(b) {
		return h, 0, 0, fmt.Errorf("%w: Length %d, header %d, packet %d octets", ErrBadLength, msgLen, bodyOff, len(b))
	}
	return h, bodyOff, msgLen, nil
}

// appendControlHeader appends h with a zero Length field; the caller patches Length.
func appendControlHeader(dst []byte, h Header) ([]byte, error) {
	switch h.Version {
	case Version2:
		if h.TunnelID > 0xffff {
			return dst, fmt.Errorf("%w: L2TPv2 Tunnel ID %d", ErrFieldRange, h.TunnelID)
		}
	case Version3:
		if h.SessionID != 0 {
			return dst, fmt.Errorf("%w: L2TPv3 control header has no Session ID (%d)", ErrFieldRange, h.SessionID)
		}
	default:
		return dst, fmt.Errorf("%w: %d", ErrVersion, uint8(h.Version))
	}
	dst = binary.BigEndian.AppendUint16(dst, flagT|flagL|flagS|uint16(h.Version))
	dst = append(dst, 0, 0)
	if h.Version == Version2 {
		dst = binary.BigEndian.AppendUint16(dst, uint16(h.TunnelID))
		dst = binary.BigEndian.AppendUint16(dst, h.SessionID)
	} else {
		dst = binary.BigEndian.AppendUint32(dst, h.TunnelID)
	}
	dst = binary.BigEndian.AppendUint16(dst, h.Ns)
	dst = binary.BigEndian.AppendUint16(dst, h.Nr)
	return dst, nil
}
