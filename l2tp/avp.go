package l2tp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// AVP header layout (RFC 2661 §4.1, RFC 3931 §5.1):
//
//	|M|H| rsvd  |      Length       |           Vendor ID           |
//	|         Attribute Type        |        Attribute Value ...
const (
	avpHeaderLen    = 6
	avpFlagM        = 0x8000
	avpFlagH        = 0x4000
	avpReservedMask = 0x3c00
	avpLengthMask   = 0x03ff
	// MaxAVPValueLen is the longest value an AVP can carry: the 10-bit Length field counts
	// the 6-octet header too.
	MaxAVPValueLen = avpLengthMask - avpHeaderLen
)

// Errors about AVP encoding. Truncation is reported with io.ErrUnexpectedEOF.
var (
	// ErrAVPLength reports an AVP whose Length field is below the 6-octet minimum.
	ErrAVPLength = errors.New("l2tp: AVP length below 6")
	// ErrAVPTooLong reports a value longer than MaxAVPValueLen.
	ErrAVPTooLong = errors.New("l2tp: AVP value too long")
	// ErrValueLength reports an AVP value whose length is wrong for its type.
	ErrValueLength = errors.New("l2tp: bad AVP value length")
)

// AVP is one attribute-value pair. Hidden reports (after decoding) or requests (when
// encoding) the RFC 2661 §4.3 hiding of the value; Value always holds the cleartext.
type AVP struct {
	Vendor    uint16
	Type      AVPType
	Mandatory bool
	Hidden    bool
	Value     []byte
}

// Known reports whether a is an IETF AVP this package recognises. Vendor-specific AVPs are
// never known.
func (a AVP) Known() bool { return a.Vendor == 0 && a.Type.Known() }

// Is reports whether a is the IETF AVP of type t.
func (a AVP) Is(t AVPType) bool { return a.Vendor == 0 && a.Type == t }

// String describes a for logs, without its value.
func (a AVP) String() string {
	flags := ""
	if a.Mandatory {
		flags += "M"
	}
	if a.Hidden {
		flags += "H"
	}
	name := a.Type.String()
	if a.Vendor != 0 {
		name = fmt.Sprintf("vendor %d type %d", a.Vendor, uint16(a.Type))
	}
	return fmt.Sprintf("%s[%s] len=%d", name, flags, len(a.Value))
}

func newAVP(t AVPType, v []byte) AVP {
	return AVP{Type: t, Mandatory: t.DefaultMandatory(), Value: v}
}

// NewUint16 returns an IETF AVP of type t carrying a 2-octet value, with the default M bit.
func NewUint16(t AVPType, v uint16) AVP { return newAVP(t, binary.BigEndian.AppendUint16(nil, v)) }

// NewUint32 returns an IETF AVP of type t carrying a 4-octet value, with the default M bit.
func NewUint32(t AVPType, v uint32) AVP { return newAVP(t, binary.BigEndian.AppendUint32(nil, v)) }

// NewUint64 returns an IETF AVP of type t carrying an 8-octet value, with the default M bit.
// Tie Breaker values are 8 octets compared as unsigned big-endian numbers, so they fit here.
func NewUint64(t AVPType, v uint64) AVP { return newAVP(t, binary.BigEndian.AppendUint64(nil, v)) }

// NewString returns an IETF AVP of type t carrying s, with the default M bit.
func NewString(t AVPType, s string) AVP { return newAVP(t, []byte(s)) }

// NewBytes returns an IETF AVP of type t carrying a copy of b, with the default M bit.
func NewBytes(t AVPType, b []byte) AVP { return newAVP(t, append([]byte{}, b...)) }

// NewEmpty returns an IETF AVP of type t without a value (Sequencing Required).
func NewEmpty(t AVPType) AVP { return newAVP(t, []byte{}) }

// NewProtocolVersion returns a Protocol Version AVP (RFC 2661 §4.4.3).
func NewProtocolVersion(ver, rev uint8) AVP { return newAVP(AVPProtocolVersion, []byte{ver, rev}) }

// NewProxyAuthenID returns a Proxy Authen ID AVP (RFC 2661 §4.4.5: one reserved octet, then
// the PPP authentication identifier).
func NewProxyAuthenID(id uint8) AVP { return newAVP(AVPProxyAuthenID, []byte{0, id}) }

// NewExtendedVendor returns an Extended Vendor ID AVP (RFC 3931 §5.1) wrapping a
// vendor-specific attribute with a 32-bit vendor ID. Its M bit is 0, as the RFC requires.
func NewExtendedVendor(vendor uint32, typ uint16, value []byte) AVP {
	v := binary.BigEndian.AppendUint32(nil, vendor)
	v = binary.BigEndian.AppendUint16(v, typ)
	return AVP{Type: AVPExtendedVendorID, Value: append(v, value...)}
}

// NewPseudowireCapabilities returns a Pseudowire Capabilities List AVP (RFC 3931 §5.4.3).
func NewPseudowireCapabilities(types ...PseudowireType) AVP {
	v := make([]byte, 0, 2*len(types))
	for _, t := range types {
		v = binary.BigEndian.AppendUint16(v, uint16(t))
	}
	return newAVP(AVPPseudowireCapabilities, v)
}

func (a AVP) lenErr(want string) error {
	return fmt.Errorf("%w: %v value is %d octets, want %s", ErrValueLength, a.Type, len(a.Value), want)
}

// Uint16 returns a 2-octet value.
func (a AVP) Uint16() (uint16, error) {
	if len(a.Value) != 2 {
		return 0, a.lenErr("2")
	}
	return binary.BigEndian.Uint16(a.Value), nil
}

// Uint32 returns a 4-octet value.
func (a AVP) Uint32() (uint32, error) {
	if len(a.Value) != 4 {
		return 0, a.lenErr("4")
	}
	return binary.BigEndian.Uint32(a.Value), nil
}

// Uint64 returns an 8-octet value.
func (a AVP) Uint64() (uint64, error) {
	if len(a.Value) != 8 {
		return 0, a.lenErr("8")
	}
	return binary.BigEndian.Uint64(a.Value), nil
}

// Text returns the value as a string.
func (a AVP) Text() string { return string(a.Value) }

// Empty returns an error unless the value is empty (Sequencing Required).
func (a AVP) Empty() error {
	if len(a.Value) != 0 {
		return a.lenErr("0")
	}
	return nil
}

// MessageType returns the value of a Message Type AVP.
func (a AVP) MessageType() (MessageType, error) {
	v, err := a.Uint16()
	return MessageType(v), err
}

// ProtocolVersion returns the version and revision of a Protocol Version AVP.
func (a AVP) ProtocolVersion() (ver, rev uint8, err error) {
	if len(a.Value) != 2 {
		return 0, 0, a.lenErr("2")
	}
	return a.Value[0], a.Value[1], nil
}

// ChallengeResponse returns the 16-octet value of a Challenge Response AVP.
func (a AVP) ChallengeResponse() ([16]byte, error) {
	var r [16]byte
	if len(a.Value) != 16 {
		return r, a.lenErr("16")
	}
	copy(r[:], a.Value)
	return r, nil
}

// ProxyAuthenID returns the identifier of a Proxy Authen ID AVP.
func (a AVP) ProxyAuthenID() (uint8, error) {
	if len(a.Value) != 2 {
		return 0, a.lenErr("2")
	}
	return a.Value[1], nil
}

// Cookie returns the value of an Assigned Cookie AVP: 0, 4 or 8 octets (RFC 3931 §5.4.4).
func (a AVP) Cookie() ([]byte, error) {
	switch len(a.Value) {
	case 0, 4, 8:
		return a.Value, nil
	}
	return nil, a.lenErr("0, 4 or 8")
}

// PseudowireCapabilities returns the types of a Pseudowire Capabilities List AVP.
func (a AVP) PseudowireCapabilities() ([]PseudowireType, error) {
	if len(a.Value) == 0 || len(a.Value)%2 != 0 {
		return nil, a.lenErr("a positive even number")
	}
	out := make([]PseudowireType, len(a.Value)/2)
	for i := range out {
		out[i] = PseudowireType(binary.BigEndian.Uint16(a.Value[2*i:]))
	}
	return out, nil
}

// ExtendedVendor splits an Extended Vendor ID AVP (RFC 3931 §5.1). The returned value
// aliases a.Value.
func (a AVP) ExtendedVendor() (vendor uint32, typ uint16, value []byte, err error) {
	if len(a.Value) < 6 {
		return 0, 0, nil, a.lenErr("at least 6")
	}
	return binary.BigEndian.Uint32(a.Value), binary.BigEndian.Uint16(a.Value[4:]), a.Value[6:], nil
}

// AVPDecoder reads the AVPs of a control message body one at a time, in the style of
// netlink's AttributeDecoder:
//
//	d := l2tp.NewAVPDecoder(body)
//	for d.Next() {
//		switch d.Type() {
//		case l2tp.AVPHostName:
//			name = d.String()
//		}
//	}
//	if err := d.Err(); err != nil { ... }
//
// Errors are sticky: after the first one Next returns false and Err reports it.
// Random Vector AVPs are returned like any other AVP and also remembered, so that a later
// hidden AVP is revealed with the most recent one (RFC 2661 §4.3).
type AVPDecoder struct {
	// Key is the hiding key (see HidingKey) used to reveal hidden AVPs. With a nil Key a
	// hidden AVP stops decoding with ErrNoSecret.
	Key []byte

	b     []byte
	off   int
	err   error
	flags uint16
	ven   uint16
	typ   AVPType
	val   []byte // cleartext value of the current AVP (aliases b unless it was hidden)
	rv    []byte // most recent Random Vector value
}

// NewAVPDecoder returns a decoder over b, a sequence of AVPs. The decoder keeps b.
func NewAVPDecoder(b []byte) *AVPDecoder { return &AVPDecoder{b: b} }

// Next advances to the next AVP and reports whether there is one.
func (d *AVPDecoder) Next() bool {
	if d.err != nil || d.off >= len(d.b) {
		return false
	}
	rest := d.b[d.off:]
	if len(rest) < avpHeaderLen {
		d.err = fmt.Errorf("l2tp: %d trailing octets after last AVP: %w", len(rest), io.ErrUnexpectedEOF)
		return false
	}
	d.flags = binary.BigEndian.Uint16(rest)
	n := int(d.flags & avpLengthMask)
	d.ven = binary.BigEndian.Uint16(rest[2:])
	d.typ = AVPType(binary.BigEndian.Uint16(rest[4:]))
	if n < avpHeaderLen {
		d.err = fmt.Errorf("%w: AVP %d at offset %d has length %d", ErrAVPLength, d.typ, d.off, n)
		return false
	}
	if n > len(rest) {
		d.err = fmt.Errorf("l2tp: AVP %d at offset %d (length %d) overruns message (%d octets left): %w",
			d.typ, d.off, n, len(rest), io.ErrUnexpectedEOF)
		return false
	}
	d.off += n
	d.val = rest[avpHeaderLen:n:n]
	isRV := d.ven == 0 && d.typ == AVPRandomVector
	if d.flags&avpFlagH != 0 {
		if isRV {
			d.err = fmt.Errorf("%w: Random Vector AVP is hidden", ErrHidden)
			return false
		}
		v, err := d.reveal()
		if err != nil {
			d.err = err
			return false
		}
		d.val = v
	}
	if isRV {
		d.rv = d.val
	}
	return true
}

func (d *AVPDecoder) reveal() ([]byte, error) {
	if d.Key == nil {
		return nil, fmt.Errorf("%w: hidden AVP %v", ErrNoSecret, d.typ)
	}
	if d.rv == nil {
		return nil, fmt.Errorf("%w: hidden AVP %v", ErrNoRandomVector, d.typ)
	}
	return RevealValue(d.typ, d.Key, d.rv, d.val)
}

// Err returns the first error met, or nil.
func (d *AVPDecoder) Err() error { return d.err }

// Type returns the Attribute Type of the current AVP.
func (d *AVPDecoder) Type() AVPType { return d.typ }

// Vendor returns the Vendor ID of the current AVP.
func (d *AVPDecoder) Vendor() uint16 { return d.ven }

// Mandatory reports the M bit of the current AVP.
func (d *AVPDecoder) Mandatory() bool { return d.flags&avpFlagM != 0 }

// Hidden reports the H bit of the current AVP. Its value has already been revealed.
func (d *AVPDecoder) Hidden() bool { return d.flags&avpFlagH != 0 }

// Reserved returns the four reserved header bits of the current AVP. RFC 2661 §4.1 treats
// an AVP with any of them set as unrecognised; RFC 3931 §5.1 ignores them.
func (d *AVPDecoder) Reserved() uint8 { return uint8((d.flags & avpReservedMask) >> 10) }

// Len returns the length of the current (cleartext) value.
func (d *AVPDecoder) Len() int { return len(d.val) }

// Bytes returns a copy of the current value.
func (d *AVPDecoder) Bytes() []byte { return append([]byte{}, d.val...) }

// AVP returns the current AVP with a copy of its value.
func (d *AVPDecoder) AVP() AVP {
	return AVP{Vendor: d.ven, Type: d.typ, Mandatory: d.Mandatory(), Hidden: d.Hidden(), Value: d.Bytes()}
}

// view returns the current AVP with a value that aliases the decoder's input.
func (d *AVPDecoder) view() AVP {
	return AVP{Vendor: d.ven, Type: d.typ, Mandatory: d.Mandatory(), Hidden: d.Hidden(), Value: d.val}
}

func (d *AVPDecoder) fail(err error) {
	if d.err == nil {
		d.err = err
		d.off = len(d.b)
	}
}

// String returns the current value as a string.
func (d *AVPDecoder) String() string { return string(d.val) }

// Uint16 returns a 2-octet value; a value of another length sets the sticky error.
func (d *AVPDecoder) Uint16() uint16 {
	v, err := d.view().Uint16()
	if err != nil {
		d.fail(err)
	}
	return v
}

// Uint32 returns a 4-octet value; a value of another length sets the sticky error.
func (d *AVPDecoder) Uint32() uint32 {
	v, err := d.view().Uint32()
	if err != nil {
		d.fail(err)
	}
	return v
}

// Uint64 returns an 8-octet value; a value of another length sets the sticky error.
func (d *AVPDecoder) Uint64() uint64 {
	v, err := d.view().Uint64()
	if err != nil {
		d.fail(err)
	}
	return v
}

// ResultCode decodes a Result Code AVP; a malformed value sets the sticky error.
func (d *AVPDecoder) ResultCode() ResultError {
	v, err := d.view().ResultCode()
	if err != nil {
		d.fail(err)
	}
	return v
}

// AVPEncoder appends AVPs to a buffer, the counterpart of AVPDecoder. Errors are sticky and
// reported by Bytes.
type AVPEncoder struct {
	// Key is the hiding key (see HidingKey) used for AVPs with Hidden set.
	Key []byte

	b   []byte
	rv  []byte
	err error
}

// NewAVPEncoder returns an encoder that appends to dst.
func NewAVPEncoder(dst []byte) *AVPEncoder { return &AVPEncoder{b: dst} }

// Bytes returns the encoded buffer and the first error met.
func (e *AVPEncoder) Bytes() ([]byte, error) { return e.b, e.err }

// AVP appends a. If a.Hidden is set the value is hidden with Key and the most recent
// RandomVector; without them the encoder fails with ErrNoSecret or ErrNoRandomVector.
func (e *AVPEncoder) AVP(a AVP) {
	if e.err != nil {
		return
	}
	if a.Is(AVPRandomVector) {
		if a.Hidden {
			e.err = fmt.Errorf("%w: Random Vector AVP cannot be hidden", ErrHidden)
			return
		}
		e.rv = append(e.rv[:0], a.Value...)
	}
	if !a.Hidden {
		e.appendRaw(a.Vendor, a.Type, a.Mandatory, false, a.Value)
		return
	}
	switch {
	case e.Key == nil:
		e.err = fmt.Errorf("%w: hiding %v", ErrNoSecret, a.Type)
		return
	case e.rv == nil:
		e.err = fmt.Errorf("%w: hiding %v", ErrNoRandomVector, a.Type)
		return
	case len(a.Value)+2 > MaxAVPValueLen:
		e.err = fmt.Errorf("%w: hidden %v", ErrAVPTooLong, a.Type)
		return
	}
	start := len(e.b)
	e.b = append(e.b, 0, 0, 0, 0, 0, 0)
	e.b = appendHidden(e.b, a.Type, e.Key, e.rv, a.Value, nil)
	e.putHeader(start, a.Vendor, a.Type, a.Mandatory, true)
}

// RandomVector appends a Random Vector AVP; later hidden AVPs are hidden with rv.
func (e *AVPEncoder) RandomVector(rv []byte) { e.AVP(newAVP(AVPRandomVector, rv)) }

// Uint16 appends an IETF AVP with a 2-octet value and the default M bit.
func (e *AVPEncoder) Uint16(t AVPType, v uint16) {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	e.appendRaw(0, t, t.DefaultMandatory(), false, b[:])
}

// Uint32 appends an IETF AVP with a 4-octet value and the default M bit.
func (e *AVPEncoder) Uint32(t AVPType, v uint32) {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	e.appendRaw(0, t, t.DefaultMandatory(), false, b[:])
}

// Uint64 appends an IETF AVP with an 8-octet value and the default M bit.
func (e *AVPEncoder) Uint64(t AVPType, v uint64) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	e.appendRaw(0, t, t.DefaultMandatory(), false, b[:])
}

// String appends an IETF AVP carrying s with the default M bit.
func (e *AVPEncoder) String(t AVPType, s string) {
	e.appendRaw(0, t, t.DefaultMandatory(), false, []byte(s))
}

// Raw appends an IETF AVP carrying b with the default M bit.
func (e *AVPEncoder) Raw(t AVPType, b []byte) { e.appendRaw(0, t, t.DefaultMandatory(), false, b) }

func (e *AVPEncoder) appendRaw(vendor uint16, t AVPType, m, h bool, v []byte) {
	if e.err != nil {
		return
	}
	if len(v) > MaxAVPValueLen {
		e.err = fmt.Errorf("%w: %v value is %d octets", ErrAVPTooLong, t, len(v))
		return
	}
	start := len(e.b)
	e.b = append(e.b, 0, 0, 0, 0, 0, 0)
	e.b = append(e.b, v...)
	e.putHeader(start, vendor, t, m, h)
}

// putHeader fills the 6-octet header at b[start:], using everything after it as the value.
func (e *AVPEncoder) putHeader(start int, vendor uint16, t AVPType, m, h bool) {
	flags := uint16(len(e.b)-start) & avpLengthMask
	if m {
		flags |= avpFlagM
	}
	if h {
		flags |= avpFlagH
	}
	binary.BigEndian.PutUint16(e.b[start:], flags)
	binary.BigEndian.PutUint16(e.b[start+2:], vendor)
	binary.BigEndian.PutUint16(e.b[start+4:], uint16(t))
}
