package pppoe

import (
	"encoding/binary"
	"fmt"
)

// TagType is the TAG_TYPE of a discovery tag (RFC 2516 Appendix A).
type TagType uint16

// Tag types of RFC 2516 Appendix A, RFC 4638, and the IANA "PPPoE TAG Values" registry set
// up by RFC 4937. Credits, Metrics, Sequence-Number, Credit-Scale-Factor (RFC 5578), HURL,
// MOTM and IP-Route-Add (draft-carrel-info-pppoe-ext) are named for diagnostics only: they
// decode into Tags.Other.
const (
	TagEndOfList         TagType = 0x0000
	TagServiceName       TagType = 0x0101
	TagACName            TagType = 0x0102
	TagHostUniq          TagType = 0x0103
	TagACCookie          TagType = 0x0104
	TagVendorSpecific    TagType = 0x0105
	TagCredits           TagType = 0x0106
	TagMetrics           TagType = 0x0107
	TagSequenceNumber    TagType = 0x0108
	TagCreditScaleFactor TagType = 0x0109
	TagRelaySessionID    TagType = 0x0110
	TagHURL              TagType = 0x0111
	TagMOTM              TagType = 0x0112
	TagPPPMaxPayload     TagType = 0x0120
	TagIPRouteAdd        TagType = 0x0121
	TagServiceNameError  TagType = 0x0201
	TagACSystemError     TagType = 0x0202
	TagGenericError      TagType = 0x0203
)

// String returns the registry name of t, or its hex value.
func (t TagType) String() string {
	switch t {
	case TagEndOfList:
		return "End-Of-List"
	case TagServiceName:
		return "Service-Name"
	case TagACName:
		return "AC-Name"
	case TagHostUniq:
		return "Host-Uniq"
	case TagACCookie:
		return "AC-Cookie"
	case TagVendorSpecific:
		return "Vendor-Specific"
	case TagCredits:
		return "Credits"
	case TagMetrics:
		return "Metrics"
	case TagSequenceNumber:
		return "Sequence-Number"
	case TagCreditScaleFactor:
		return "Credit-Scale-Factor"
	case TagRelaySessionID:
		return "Relay-Session-Id"
	case TagHURL:
		return "HURL"
	case TagMOTM:
		return "MOTM"
	case TagPPPMaxPayload:
		return "PPP-Max-Payload"
	case TagIPRouteAdd:
		return "IP-Route-Add"
	case TagServiceNameError:
		return "Service-Name-Error"
	case TagACSystemError:
		return "AC-System-Error"
	case TagGenericError:
		return "Generic-Error"
	}
	return fmt.Sprintf("0x%04x", uint16(t))
}

// IsError reports whether t is one of the three error tags of RFC 2516 Appendix A.
func (t TagType) IsError() bool {
	return t == TagServiceNameError || t == TagACSystemError || t == TagGenericError
}

// Tag is one raw discovery tag.
type Tag struct {
	Type  TagType
	Value []byte
}

// TagDecoder reads the tags of a discovery payload one at a time, in the style of the netlink
// AttributeDecoder: call Next until it returns false, read the current tag with Type and the
// typed getters, then check Err. Decoding stops at the end of the payload or at an End-Of-List
// tag (RFC 2516 Appendix A: no further tags follow it). Values alias the payload.
type TagDecoder struct {
	b   []byte
	off int
	typ TagType
	val []byte
	err error
}

// NewTagDecoder returns a decoder over the tags in b, the payload of a discovery packet.
func NewTagDecoder(b []byte) *TagDecoder { return &TagDecoder{b: b} }

// Next advances to the next tag. It returns false at the end of the tags or on an error.
func (d *TagDecoder) Next() bool {
	if d.err != nil || d.off >= len(d.b) {
		return false
	}
	rest := d.b[d.off:]
	if len(rest) < 4 {
		d.err = fmt.Errorf("%w: %d byte(s) of tag header at offset %d", ErrTagOverrun, len(rest), d.off)
		return false
	}
	typ := TagType(binary.BigEndian.Uint16(rest[0:2]))
	n := int(binary.BigEndian.Uint16(rest[2:4]))
	if n > len(rest)-4 {
		d.err = fmt.Errorf("%w: %v of length %d at offset %d, %d byte(s) left", ErrTagOverrun, typ, n, d.off, len(rest)-4)
		return false
	}
	if typ == TagEndOfList {
		if n != 0 {
			d.err = fmt.Errorf("%w: length %d at offset %d", ErrEndOfListLength, n, d.off)
		}
		d.off = len(d.b)
		return false
	}
	d.typ, d.val = typ, rest[4:4+n:4+n]
	d.off += 4 + n
	return true
}

// Type returns the type of the current tag.
func (d *TagDecoder) Type() TagType { return d.typ }

// Bytes returns the value of the current tag, aliasing the payload.
func (d *TagDecoder) Bytes() []byte { return d.val }

// String returns the value of the current tag as a string.
func (d *TagDecoder) String() string { return string(d.val) }

// Uint16 returns the value of the current tag as a big-endian 16-bit integer. A value of any
// other length than 2 records ErrTagLength in Err and returns 0.
func (d *TagDecoder) Uint16() uint16 {
	if len(d.val) != 2 {
		if d.err == nil {
			d.err = fmt.Errorf("%w: %v has %d bytes, needs 2", ErrTagLength, d.typ, len(d.val))
		}
		return 0
	}
	return binary.BigEndian.Uint16(d.val)
}

// Err returns the first error met while decoding, if any. It is sticky.
func (d *TagDecoder) Err() error { return d.err }

// TagEncoder builds the tags of a discovery payload, the counterpart of TagDecoder. The zero
// value is ready to use.
type TagEncoder struct {
	b   []byte
	err error
}

// Bytes appends a tag with value v.
func (e *TagEncoder) Bytes(t TagType, v []byte) {
	if e.err != nil {
		return
	}
	e.b, e.err = appendTag(e.b, t, v)
}

// String appends a tag with the text value s.
func (e *TagEncoder) String(t TagType, s string) {
	if e.err != nil {
		return
	}
	if len(s) > 0xffff {
		e.err = fmt.Errorf("%w: %v of %d bytes", ErrTooLong, t, len(s))
		return
	}
	e.b = binary.BigEndian.AppendUint16(e.b, uint16(t))
	e.b = binary.BigEndian.AppendUint16(e.b, uint16(len(s)))
	e.b = append(e.b, s...)
}

// Uint16 appends a tag with a big-endian 16-bit value.
func (e *TagEncoder) Uint16(t TagType, v uint16) {
	if e.err != nil {
		return
	}
	e.b = binary.BigEndian.AppendUint16(e.b, uint16(t))
	e.b = binary.BigEndian.AppendUint16(e.b, 2)
	e.b = binary.BigEndian.AppendUint16(e.b, v)
}

// Encode returns the encoded tags, or the first error met.
func (e *TagEncoder) Encode() ([]byte, error) {
	if e.err != nil {
		return nil, e.err
	}
	return e.b, nil
}

func appendTag(b []byte, t TagType, v []byte) ([]byte, error) {
	if len(v) > 0xffff {
		return b, fmt.Errorf("%w: %v of %d bytes", ErrTooLong, t, len(v))
	}
	b = binary.BigEndian.AppendUint16(b, uint16(t))
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...), nil
}

// VendorTag is a Vendor-Specific tag (RFC 2516 Appendix A): a 32-bit vendor ID, whose high
// octet is 0 and whose low three octets are the vendor's SMI enterprise number, and opaque
// data. ParseAccessLine decodes the data of the Broadband Forum's (VendorBBF).
type VendorTag struct {
	VendorID uint32
	Data     []byte
}

// ErrorTag is a Service-Name-Error, AC-System-Error or Generic-Error tag with its optional
// UTF-8 explanation (RFC 2516 Appendix A).
type ErrorTag struct {
	Type    TagType
	Message string
}

// String formats e as "Generic-Error: message" or the bare tag name.
func (e ErrorTag) String() string {
	if e.Message == "" {
		return e.Type.String()
	}
	return e.Type.String() + ": " + e.Message
}

// Tags is the typed view of the tags of a discovery packet. Decoding keeps every tag; encoding
// writes them in a fixed order (the order of the fields), which RFC 2516 allows since it
// gives tag order no meaning.
type Tags struct {
	// ServiceNames holds every Service-Name tag in order. The empty string is the zero-length
	// Service-Name, which asks for (or offers) any service.
	ServiceNames []string
	// ACName is the AC-Name tag; HasACName reports whether it is present (an empty AC-Name is
	// encoded too when ACName is set or HasACName is true).
	ACName    string
	HasACName bool
	// HostUniq, ACCookie and RelaySessionID are nil when absent. A present tag with an empty
	// value decodes to a non-nil empty slice.
	HostUniq       []byte
	ACCookie       []byte
	RelaySessionID []byte
	// PPPMaxPayload is the RFC 4638 PPP-Max-Payload value; 0 means absent.
	PPPMaxPayload uint16
	// Vendor holds the Vendor-Specific tags in order.
	Vendor []VendorTag
	// Errors holds the Service-Name-Error, AC-System-Error and Generic-Error tags in order.
	Errors []ErrorTag
	// Other holds tags of any other type in order, so they survive a decode/encode cycle.
	Other []Tag
}

// ParseTags decodes the tags of a discovery payload. Byte-valued fields alias b. It fails on a
// truncated tag (ErrTagOverrun), a non-empty End-Of-List (ErrEndOfListLength), a repeated
// AC-Name, Host-Uniq, AC-Cookie, Relay-Session-Id or PPP-Max-Payload (ErrDuplicateTag), or a
// PPP-Max-Payload other than 2 bytes or Vendor-Specific shorter than 4 bytes (ErrTagLength).
func ParseTags(b []byte) (Tags, error) {
	var t Tags
	var seen uint8 // bits for the single-valued tags
	const (
		seenACName = 1 << iota
		seenHostUniq
		seenCookie
		seenRelay
		seenMaxPayload
	)
	once := func(bit uint8, typ TagType) error {
		if seen&bit != 0 {
			return fmt.Errorf("%w: %v", ErrDuplicateTag, typ)
		}
		seen |= bit
		return nil
	}
	d := NewTagDecoder(b)
	for d.Next() {
		var err error
		switch typ := d.Type(); typ {
		case TagServiceName:
			t.ServiceNames = append(t.ServiceNames, d.String())
		case TagACName:
			err = once(seenACName, typ)
			t.ACName, t.HasACName = d.String(), true
		case TagHostUniq:
			err = once(seenHostUniq, typ)
			t.HostUniq = d.Bytes()
		case TagACCookie:
			err = once(seenCookie, typ)
			t.ACCookie = d.Bytes()
		case TagRelaySessionID:
			err = once(seenRelay, typ)
			t.RelaySessionID = d.Bytes()
		case TagPPPMaxPayload:
			err = once(seenMaxPayload, typ)
			t.PPPMaxPayload = d.Uint16()
		case TagVendorSpecific:
			v := d.Bytes()
			if len(v) < 4 {
				err = fmt.Errorf("%w: Vendor-Specific has %d bytes, needs at least 4", ErrTagLength, len(v))
				break
			}
			t.Vendor = append(t.Vendor, VendorTag{VendorID: binary.BigEndian.Uint32(v), Data: v[4:]})
		case TagServiceNameError, TagACSystemError, TagGenericError:
			t.Errors = append(t.Errors, ErrorTag{Type: typ, Message: d.String()})
		default:
			t.Other = append(t.Other, Tag{Type: typ, Value: d.Bytes()})
		}
		if err != nil {
			return Tags{}, err
		}
	}
	if err := d.Err(); err != nil {
		return Tags{}, err
	}
	return t, nil
}

// AppendBinary appends the encoded tags to b, without End-Of-List (RFC 2516 Appendix A: its
// use is not required). It fails with ErrTooLong when a value exceeds 65535 bytes.
func (t *Tags) AppendBinary(b []byte) ([]byte, error) {
	e := TagEncoder{b: b}
	for _, s := range t.ServiceNames {
		e.String(TagServiceName, s)
	}
	if t.HasACName || t.ACName != "" {
		e.String(TagACName, t.ACName)
	}
	if t.HostUniq != nil {
		e.Bytes(TagHostUniq, t.HostUniq)
	}
	if t.ACCookie != nil {
		e.Bytes(TagACCookie, t.ACCookie)
	}
	if t.RelaySessionID != nil {
		e.Bytes(TagRelaySessionID, t.RelaySessionID)
	}
	if t.PPPMaxPayload != 0 {
		e.Uint16(TagPPPMaxPayload, t.PPPMaxPayload)
	}
	for _, v := range t.Vendor {
		if len(v.Data) > 0xffff-4 {
			return b, fmt.Errorf("%w: Vendor-Specific of %d bytes", ErrTooLong, len(v.Data)+4)
		}
		e.b = binary.BigEndian.AppendUint16(e.b, uint16(TagVendorSpecific))
		e.b = binary.BigEndian.AppendUint16(e.b, uint16(4+len(v.Data)))
		e.b = binary.BigEndian.AppendUint32(e.b, v.VendorID)
		e.b = append(e.b, v.Data...)
	}
	for _, er := range t.Errors {
		e.String(er.Type, er.Message)
	}
	for _, o := range t.Other {
		e.Bytes(o.Type, o.Value)
	}
	out, err := e.Encode()
	if err != nil {
		return b, err
	}
	return out, nil
}

// MarshalBinary returns the encoded tags (see AppendBinary).
func (t *Tags) MarshalBinary() ([]byte, error) { return t.AppendBinary(nil) }

// FirstError returns the first error tag, if any.
func (t *Tags) FirstError() (ErrorTag, bool) {
	if len(t.Errors) == 0 {
		return ErrorTag{}, false
	}
	return t.Errors[0], true
}

// HasServiceName reports whether name is among the Service-Name tags.
func (t *Tags) HasServiceName(name string) bool {
	for _, s := range t.ServiceNames {
		if s == name {
			return true
		}
	}
	return false
}
