package ppp

import (
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
)

// Configuration Options (RFC 1661 §6): every Configure-Request, -Ack, -Nak and -Reject of
// LCP, IPCP and IPv6CP carries a list of Type-Length-Value options, Length counting the
// Type and Length octets themselves. OptionDecoder walks such a list and OptionEncoder
// builds one, in the shape of the netlink attribute decoder and encoder.

// ErrBadOption is returned for a Configuration Option whose Length field is below 2 (RFC
// 1661 §6: "Length ... indicates the length of this Configuration Option including the
// Type, Length and Data fields"), for a typed getter used on an option of the wrong size,
// and for an option too long to encode.
var ErrBadOption = errors.New("ppp: malformed configuration option")

// OptionHeaderLen is the size of an option's Type and Length fields.
const OptionHeaderLen = 2

// MaxOptionData is the largest Data field an option can carry (the Length field is one
// octet and counts the two header octets).
const MaxOptionData = 255 - OptionHeaderLen

// OptionDecoder scans a list of Configuration Options. Call Next until it returns false,
// then check Err. The slices it returns alias the input.
type OptionDecoder struct {
	b    []byte
	off  int
	typ  uint8
	raw  []byte
	data []byte
	err  error
}

// NewOptionDecoder returns a decoder for the options in b (the Data field of a
// Configure-Request, -Ack, -Nak or -Reject).
func NewOptionDecoder(b []byte) *OptionDecoder {
	return &OptionDecoder{b: b}
}

// Next advances to the next option and reports whether there is one. It returns false at
// the end of the list and on the first error: a truncated option is io.ErrUnexpectedEOF, a
// Length below 2 is ErrBadOption.
func (d *OptionDecoder) Next() bool {
	if d.err != nil || d.off >= len(d.b) {
		return false
	}
	rest := d.b[d.off:]
	if len(rest) < OptionHeaderLen {
		d.err = io.ErrUnexpectedEOF
		return false
	}
	n := int(rest[1])
	if n < OptionHeaderLen {
		d.err = ErrBadOption
		return false
	}
	if n > len(rest) {
		d.err = io.ErrUnexpectedEOF
		return false
	}
	d.typ = rest[0]
	d.raw = rest[:n:n]
	d.data = rest[OptionHeaderLen:n:n]
	d.off += n
	return true
}

// Err returns the first error met by Next or by a typed getter.
func (d *OptionDecoder) Err() error { return d.err }

// Type returns the Type field of the current option.
func (d *OptionDecoder) Type() uint8 { return d.typ }

// Bytes returns the Data field of the current option.
func (d *OptionDecoder) Bytes() []byte { return d.data }

// Raw returns the whole current option, Type and Length included, as it appeared on the
// wire (a Configure-Reject copies rejected options unmodified, RFC 1661 §5.4).
func (d *OptionDecoder) Raw() []byte { return d.raw }

// Len returns the size of the current option's Data field.
func (d *OptionDecoder) Len() int { return len(d.data) }

func (d *OptionDecoder) sized(n int) bool {
	if len(d.data) != n {
		if d.err == nil {
			d.err = ErrBadOption
		}
		return false
	}
	return true
}

// Uint8 returns the Data field of a one-octet option. On any other size it sets Err to
// ErrBadOption and returns 0.
func (d *OptionDecoder) Uint8() uint8 {
	if !d.sized(1) {
		return 0
	}
	return d.data[0]
}

// Uint16 returns the big-endian Data field of a two-octet option (e.g. the LCP
// Maximum-Receive-Unit). On any other size it sets Err to ErrBadOption and returns 0.
func (d *OptionDecoder) Uint16() uint16 {
	if !d.sized(2) {
		return 0
	}
	return binary.BigEndian.Uint16(d.data)
}

// Uint32 returns the big-endian Data field of a four-octet option (e.g. the LCP
// Magic-Number). On any other size it sets Err to ErrBadOption and returns 0.
func (d *OptionDecoder) Uint32() uint32 {
	if !d.sized(4) {
		return 0
	}
	return binary.BigEndian.Uint32(d.data)
}

// Uint64 returns the big-endian Data field of an eight-octet option (the IPv6CP
// Interface-Identifier). On any other size it sets Err to ErrBadOption and returns 0.
func (d *OptionDecoder) Uint64() uint64 {
	if !d.sized(8) {
		return 0
	}
	return binary.BigEndian.Uint64(d.data)
}

// Addr returns the Data field of a four-octet option as an IPv4 address (the IPCP address
// options). On any other size it sets Err to ErrBadOption and returns the zero Addr.
func (d *OptionDecoder) Addr() netip.Addr {
	if !d.sized(4) {
		return netip.Addr{}
	}
	return netip.AddrFrom4([4]byte(d.data))
}

// CheckOptions reports whether b is a well-formed option list: nil, or the error
// OptionDecoder would return.
func CheckOptions(b []byte) error {
	d := NewOptionDecoder(b)
	for d.Next() {
	}
	return d.Err()
}

// OptionEncoder builds a list of Configuration Options. The methods append in call order;
// an option whose Data field does not fit in the one-octet Length field sets a sticky
// ErrBadOption, reported by Encode.
type OptionEncoder struct {
	b   []byte
	err error
}

// NewOptionEncoder returns an encoder that appends to dst.
func NewOptionEncoder(dst []byte) *OptionEncoder {
	return &OptionEncoder{b: dst}
}

// Bytes appends an option with the given Data field.
func (e *OptionEncoder) Bytes(typ uint8, data []byte) {
	if len(data) > MaxOptionData {
		if e.err == nil {
			e.err = ErrBadOption
		}
		return
	}
	e.b = append(e.b, typ, byte(OptionHeaderLen+len(data)))
	e.b = append(e.b, data...)
}

// Empty appends an option without a Data field (e.g. LCP Protocol-Field-Compression).
func (e *OptionEncoder) Empty(typ uint8) {
	e.b = append(e.b, typ, OptionHeaderLen)
}

// Uint8 appends an option with a one-octet Data field.
func (e *OptionEncoder) Uint8(typ, v uint8) {
	e.b = append(e.b, typ, OptionHeaderLen+1, v)
}

// Uint16 appends an option with a big-endian two-octet Data field.
func (e *OptionEncoder) Uint16(typ uint8, v uint16) {
	e.b = append(e.b, typ, OptionHeaderLen+2)
	e.b = binary.BigEndian.AppendUint16(e.b, v)
}

// Uint32 appends an option with a big-endian four-octet Data field.
func (e *OptionEncoder) Uint32(typ uint8, v uint32) {
	e.b = append(e.b, typ, OptionHeaderLen+4)
	e.b = binary.BigEndian.AppendUint32(e.b, v)
}

// Uint64 appends an option with a big-endian eight-octet Data field.
func (e *OptionEncoder) Uint64(typ uint8, v uint64) {
	e.b = append(e.b, typ, OptionHeaderLen+8)
	e.b = binary.BigEndian.AppendUint64(e.b, v)
}

// Addr appends an option whose Data field is an IPv4 address. An invalid Addr is encoded
// as 0.0.0.0; an IPv6 address sets ErrBadOption.
func (e *OptionEncoder) Addr(typ uint8, a netip.Addr) {
	var v [4]byte
	switch {
	case !a.IsValid():
	case a.Is4():
		v = a.As4()
	default:
		if e.err == nil {
			e.err = ErrBadOption
		}
		return
	}
	e.Bytes(typ, v[:])
}

// Raw appends an option exactly as OptionDecoder.Raw returned it.
func (e *OptionEncoder) Raw(option []byte) {
	if len(option) < OptionHeaderLen || int(option[1]) != len(option) {
		if e.err == nil {
			e.err = ErrBadOption
		}
		return
	}
	e.b = append(e.b, option...)
}

// Len returns the number of octets encoded so far, including any prefix given to
// NewOptionEncoder.
func (e *OptionEncoder) Len() int { return len(e.b) }

// Encode returns the encoded options and the first error met.
func (e *OptionEncoder) Encode() ([]byte, error) { return e.b, e.err }
