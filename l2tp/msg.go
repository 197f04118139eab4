package l2tp

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

// MessageType is the value of the Message Type AVP (RFC 2661 §3.2, RFC 3931 §3.1).
type MessageType uint16

// Control message types. ACK is defined by RFC 3931 only; the rest by both RFCs.
const (
	MsgSCCRQ   MessageType = 1  // Start-Control-Connection-Request
	MsgSCCRP   MessageType = 2  // Start-Control-Connection-Reply
	MsgSCCCN   MessageType = 3  // Start-Control-Connection-Connected
	MsgStopCCN MessageType = 4  // Stop-Control-Connection-Notification
	MsgHELLO   MessageType = 6  // Hello
	MsgOCRQ    MessageType = 7  // Outgoing-Call-Request
	MsgOCRP    MessageType = 8  // Outgoing-Call-Reply
	MsgOCCN    MessageType = 9  // Outgoing-Call-Connected
	MsgICRQ    MessageType = 10 // Incoming-Call-Request
	MsgICRP    MessageType = 11 // Incoming-Call-Reply
	MsgICCN    MessageType = 12 // Incoming-Call-Connected
	MsgCDN     MessageType = 14 // Call-Disconnect-Notify
	MsgWEN     MessageType = 15 // WAN-Error-Notify
	MsgSLI     MessageType = 16 // Set-Link-Info
	MsgACK     MessageType = 20 // Explicit-Acknowledgement (RFC 3931 §6.15)
)

var messageNames = map[MessageType]string{
	MsgSCCRQ: "SCCRQ", MsgSCCRP: "SCCRP", MsgSCCCN: "SCCCN", MsgStopCCN: "StopCCN",
	MsgHELLO: "HELLO", MsgOCRQ: "OCRQ", MsgOCRP: "OCRP", MsgOCCN: "OCCN", MsgICRQ: "ICRQ",
	MsgICRP: "ICRP", MsgICCN: "ICCN", MsgCDN: "CDN", MsgWEN: "WEN", MsgSLI: "SLI", MsgACK: "ACK",
}

// String returns the RFC abbreviation of t ("SCCRQ"), "ZLB" for 0, or "MessageType(n)".
func (t MessageType) String() string {
	if s, ok := messageNames[t]; ok {
		return s
	}
	if t == 0 {
		return "ZLB"
	}
	return fmt.Sprintf("MessageType(%d)", uint16(t))
}

// Known reports whether t is a message type of version v.
func (t MessageType) Known(v Version) bool {
	if t == MsgACK {
		return v == Version3
	}
	_, ok := messageNames[t]
	return ok
}

// IsSession reports whether t belongs to a session rather than to the tunnel (control
// connection). An unknown M-bit AVP in a session message tears down only the session
// (RFC 2661 §4.1, RFC 3931 §5.2).
func (t MessageType) IsSession() bool {
	switch t {
	case MsgOCRQ, MsgOCRP, MsgOCCN, MsgICRQ, MsgICRP, MsgICCN, MsgCDN, MsgWEN, MsgSLI:
		return true
	}
	return false
}

// Errors about control message bodies.
var (
	// ErrNoMessageType reports a message whose first AVP is not the Message Type AVP
	// (RFC 2661 §4.4.1, RFC 3931 §5.4.1).
	ErrNoMessageType = errors.New("l2tp: first AVP is not Message Type")
	// ErrBadMessageType reports a malformed Message Type AVP: hidden, of the wrong length,
	// or carrying the reserved value 0.
	ErrBadMessageType = errors.New("l2tp: malformed Message Type AVP")
)

// Message is a control message. A message with Type 0 and no AVPs is a Zero-Length Body
// acknowledgement (ZLB, RFC 2661 §5.8, RFC 3931 §6.15).
type Message struct {
	Header
	Type MessageType
	// Vendor is the Vendor ID of the Message Type AVP: non-zero for a vendor-specific
	// message (RFC 3931 §5.4.1).
	Vendor uint16
	// TypeOptional reports that the Message Type AVP's M bit is clear, so a receiver may
	// ignore the message if it does not know Type instead of clearing the tunnel
	// (RFC 2661 §4.4.1). Marshal sets the M bit unless TypeOptional is true.
	TypeOptional bool
	// AVPs are the AVPs after the Message Type AVP, in order, with hidden values revealed.
	// Random Vector AVPs are consumed by Parse and written by Marshal as needed.
	AVPs []AVP
}

// IsZLB reports whether m is a Zero-Length Body message.
func (m *Message) IsZLB() bool { return m.Type == 0 && len(m.AVPs) == 0 }

// Find returns the first IETF AVP of type t.
func (m *Message) Find(t AVPType) (AVP, bool) {
	for _, a := range m.AVPs {
		if a.Is(t) {
			return a, true
		}
	}
	return AVP{}, false
}

// ParseOptions carries what Parse needs besides the bytes.
type ParseOptions struct {
	// Secret is the tunnel's shared secret, used to reveal hidden AVPs. Without it a hidden
	// AVP fails the parse with ErrNoSecret.
	Secret []byte
}

// Parse decodes a control message that starts with the control header: an L2TP-over-UDP
// payload, or an L2TPv3-over-IP payload after the zero Session ID (see ParseIP). opts may
// be nil.
//
// Octets after the Length field's end are ignored. The returned message does not alias b.
// An L2TPv2 AVP with reserved header bits set is treated as unrecognised (RFC 2661 §4.1):
// skipped if its M bit is clear, an *UnknownAVPError if set.
func Parse(b []byte, opts *ParseOptions) (Message, error) {
	h, off, n, err := parseControlHeader(b)
	if err != nil {
		return Message{}, err
	}
	m := Message{Header: h}
	if off == n {
		return m, nil // ZLB
	}
	body := append([]byte{}, b[off:n]...)
	// Look at the first AVP's raw header before decoding, so that a hidden or misplaced
	// Message Type is reported as such rather than as a hiding error.
	if len(body) >= avpHeaderLen {
		if t := AVPType(binary.BigEndian.Uint16(body[4:])); t != AVPMessageType {
			return Message{}, fmt.Errorf("%w: got %v", ErrNoMessageType, t)
		}
		if binary.BigEndian.Uint16(body)&avpFlagH != 0 {
			return Message{}, fmt.Errorf("%w: hidden", ErrBadMessageType) // RFC 2661 §4.4.1: MUST NOT be hidden
		}
	}
	d := NewAVPDecoder(body)
	if opts != nil {
		d.Key = HidingKey(h.Version, opts.Secret)
	}
	if !d.Next() {
		return Message{}, d.Err()
	}
	if d.Type() != AVPMessageType {
		return Message{}, fmt.Errorf("%w: got %v", ErrNoMessageType, d.Type())
	}
	if d.Hidden() || d.Len() != 2 {
		return Message{}, fmt.Errorf("%w: hidden=%v length %d", ErrBadMessageType, d.Hidden(), d.Len())
	}
	m.Type = MessageType(d.Uint16())
	if m.Type == 0 {
		return Message{}, fmt.Errorf("%w: reserved type 0", ErrBadMessageType)
	}
	m.Vendor = d.Vendor()
	m.TypeOptional = !d.Mandatory()
	for d.Next() {
		a := d.view()
		if a.Is(AVPRandomVector) {
			continue
		}
		if h.Version == Version2 && d.Reserved() != 0 {
			if a.Mandatory {
				return Message{}, &UnknownAVPError{Message: m.Type, AVP: d.AVP()}
			}
			continue
		}
		m.AVPs = append(m.AVPs, a)
	}
	if err := d.Err(); err != nil {
		return Message{}, err
	}
	return m, nil
}

// ParseIP decodes an L2TPv3-over-IP control packet, whose control header follows a zero
// Session ID (RFC 3931 §4.1.1.2).
func ParseIP(b []byte, opts *ParseOptions) (Message, error) {
	b, err := StripIPSessionID(b)
	if err != nil {
		return Message{}, err
	}
	return Parse(b, opts)
}

// MarshalOptions carries what Marshal needs besides the message.
type MarshalOptions struct {
	// Secret is the tunnel's shared secret, needed to hide AVPs.
	Secret []byte
	// Rand is the source of Random Vectors; nil means crypto/rand.Reader.
	Rand io.Reader
	// Hide lists the IETF AVP types to hide when the RFC allows it (AVPType.Hideable).
	// AVPs with Hidden set are hidden in any case.
	Hide []AVPType
}

// randomVectorLen is the Random Vector length Marshal uses (RFC 2661 §4.4.3 recommends at
// least 16 octets).
const randomVectorLen = 16

// Marshal encodes m; see Append.
func (m *Message) Marshal(opts *MarshalOptions) ([]byte, error) { return m.Append(nil, opts) }

// Append appends the encoded m to dst, starting with the control header (UDP form; see
// AppendIP). The Message Type AVP is written first, then m.AVPs in order. If any AVP is
// hidden, one Random Vector AVP read from opts.Rand is written just before the first
// hidden AVP. opts may be nil when nothing is hidden.
func (m *Message) Append(dst []byte, opts *MarshalOptions) ([]byte, error) {
	if opts == nil {
		opts = &MarshalOptions{}
	}
	start := len(dst)
	dst, err := appendControlHeader(dst, m.Header)
	if err != nil {
		return dst[:start], err
	}
	if m.Type == 0 && len(m.AVPs) > 0 {
		return dst[:start], fmt.Errorf("%w: reserved type 0 with %d AVPs", ErrBadMessageType, len(m.AVPs))
	}
	e := NewAVPEncoder(dst)
	if m.Type != 0 {
		e.AVP(AVP{Vendor: m.Vendor, Type: AVPMessageType, Mandatory: !m.TypeOptional,
			Value: binary.BigEndian.AppendUint16(nil, uint16(m.Type))})
	}
	for _, a := range m.AVPs {
		if !a.Hidden && a.Vendor == 0 && a.Type.Hideable() && slices.Contains(opts.Hide, a.Type) {
			a.Hidden = true
		}
		if a.Hidden && e.Key == nil {
			if opts.Secret == nil {
				return dst[:start], fmt.Errorf("%w: hiding %v", ErrNoSecret, a.Type)
			}
			e.Key = HidingKey(m.Version, opts.Secret)
		}
		if a.Hidden && e.rv == nil {
			r := opts.Rand
			if r == nil {
				r = rand.Reader
			}
			rv := make([]byte, randomVectorLen)
			if _, err := io.ReadFull(r, rv); err != nil {
				return dst[:start], fmt.Errorf("l2tp: reading random vector: %w", err)
			}
			e.RandomVector(rv)
		}
		e.AVP(a)
	}
	dst, err = e.Bytes()
	if err != nil {
		return dst[:start], err
	}
	n := len(dst) - start
	if n > 0xffff {
		return dst[:start], fmt.Errorf("%w: %d octets", ErrMessageTooLong, n)
	}
	binary.BigEndian.PutUint16(dst[start+2:], uint16(n))
	return dst, nil
}

// AppendIP appends m as an L2TPv3-over-IP control packet: a zero Session ID, then the
// control message (RFC 3931 §4.1.1.2).
func (m *Message) AppendIP(dst []byte, opts *MarshalOptions) ([]byte, error) {
	start := len(dst)
	dst, err := m.Append(append(dst, 0, 0, 0, 0), opts)
	if err != nil {
		return dst[:start], err
	}
	return dst, nil
}
