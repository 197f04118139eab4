package pppoe

import (
	"encoding/binary"
	"fmt"
)

// VendorBBF is the vendor ID of the ADSL Forum / DSL Forum / Broadband Forum (SMI enterprise
// number 3561, 0x00000DE9). A PPPoE intermediate agent in the access node (TR-101 §3.9.2)
// adds a Vendor-Specific tag with this ID to PADI and PADR, carrying the access-line
// sub-options below, which the AC passes on to AAA.
const VendorBBF uint32 = 3561

// DSLOption is the type of a sub-option inside the Broadband Forum Vendor-Specific tag. The
// numbers are those of the DSL Forum RADIUS attributes (RFC 4679 §3); inside the PPPoE tag
// each sub-option is type (1 octet), length of the value (1 octet), value.
type DSLOption uint8

// Sub-options of RFC 4679 §3 / TR-101.
const (
	DSLAgentCircuitID                     DSLOption = 0x01 // string, at most 63 bytes per TR-101
	DSLAgentRemoteID                      DSLOption = 0x02 // string, at most 63 bytes per TR-101
	DSLActualDataRateUpstream             DSLOption = 0x81 // bit/s
	DSLActualDataRateDownstream           DSLOption = 0x82 // bit/s
	DSLMinimumDataRateUpstream            DSLOption = 0x83 // bit/s
	DSLMinimumDataRateDownstream          DSLOption = 0x84 // bit/s
	DSLAttainableDataRateUpstream         DSLOption = 0x85 // bit/s
	DSLAttainableDataRateDownstream       DSLOption = 0x86 // bit/s
	DSLMaximumDataRateUpstream            DSLOption = 0x87 // bit/s
	DSLMaximumDataRateDownstream          DSLOption = 0x88 // bit/s
	DSLMinimumDataRateUpstreamLowPower    DSLOption = 0x89 // bit/s
	DSLMinimumDataRateDownstreamLowPower  DSLOption = 0x8a // bit/s
	DSLMaximumInterleavingDelayUpstream   DSLOption = 0x8b // ms
	DSLActualInterleavingDelayUpstream    DSLOption = 0x8c // ms
	DSLMaximumInterleavingDelayDownstream DSLOption = 0x8d // ms
	DSLActualInterleavingDelayDownstream  DSLOption = 0x8e // ms
	DSLAccessLoopEncapsulation            DSLOption = 0x90 // 3 octets
	DSLIWFSession                         DSLOption = 0xfe // empty
)

// String returns the RFC 4679 name of o, or its hex value.
func (o DSLOption) String() string {
	switch o {
	case DSLAgentCircuitID:
		return "Agent-Circuit-Id"
	case DSLAgentRemoteID:
		return "Agent-Remote-Id"
	case DSLAccessLoopEncapsulation:
		return "Access-Loop-Encapsulation"
	case DSLIWFSession:
		return "IWF-Session"
	}
	if name, ok := dslIntNames[o]; ok {
		return name
	}
	return fmt.Sprintf("0x%02x", uint8(o))
}

var dslIntNames = map[DSLOption]string{
	DSLActualDataRateUpstream:             "Actual-Data-Rate-Upstream",
	DSLActualDataRateDownstream:           "Actual-Data-Rate-Downstream",
	DSLMinimumDataRateUpstream:            "Minimum-Data-Rate-Upstream",
	DSLMinimumDataRateDownstream:          "Minimum-Data-Rate-Downstream",
	DSLAttainableDataRateUpstream:         "Attainable-Data-Rate-Upstream",
	DSLAttainableDataRateDownstream:       "Attainable-Data-Rate-Downstream",
	DSLMaximumDataRateUpstream:            "Maximum-Data-Rate-Upstream",
	DSLMaximumDataRateDownstream:          "Maximum-Data-Rate-Downstream",
	DSLMinimumDataRateUpstreamLowPower:    "Minimum-Data-Rate-Upstream-Low-Power",
	DSLMinimumDataRateDownstreamLowPower:  "Minimum-Data-Rate-Downstream-Low-Power",
	DSLMaximumInterleavingDelayUpstream:   "Maximum-Interleaving-Delay-Upstream",
	DSLActualInterleavingDelayUpstream:    "Actual-Interleaving-Delay-Upstream",
	DSLMaximumInterleavingDelayDownstream: "Maximum-Interleaving-Delay-Downstream",
	DSLActualInterleavingDelayDownstream:  "Actual-Interleaving-Delay-Downstream",
}

// DSLSubOption is a raw sub-option of the Broadband Forum tag.
type DSLSubOption struct {
	Type  DSLOption
	Value []byte
}

// LoopEncap is the value of Access-Loop-Encapsulation (RFC 4679 §3): data link, encaps 1
// and encaps 2 octets. It is kept as received: TR-101 and RFC 4679 number the data link
// values differently (TR-101: 0 ATM/AAL5, 1 Ethernet; RFC 4679: 1 AAL5, 2 Ethernet).
type LoopEncap struct {
	DataLink, Encaps1, Encaps2 uint8
}

// AccessLine is the decoded content of the Broadband Forum Vendor-Specific tag: the line
// identification and characteristics an intermediate agent reports. Empty strings and zero
// numbers mean absent (a sub-option present with an empty or zero value decodes the same).
type AccessLine struct {
	CircuitID string // Agent-Circuit-Id
	RemoteID  string // Agent-Remote-Id

	ActualDataRateUp, ActualDataRateDown           uint32 // bit/s
	MinDataRateUp, MinDataRateDown                 uint32 // bit/s
	AttainableDataRateUp, AttainableDataRateDown   uint32 // bit/s
	MaxDataRateUp, MaxDataRateDown                 uint32 // bit/s
	MinDataRateUpLowPower, MinDataRateDownLowPower uint32 // bit/s
	MaxInterleavingDelayUp                         uint32 // ms
	ActualInterleavingDelayUp                      uint32 // ms
	MaxInterleavingDelayDown                       uint32 // ms
	ActualInterleavingDelayDown                    uint32 // ms

	LoopEncap    LoopEncap
	HasLoopEncap bool
	// IWFSession reports the IWF-Session flag: the session was converted from PPPoA by the
	// access node, so many sessions legitimately share its MAC address.
	IWFSession bool

	// Other holds sub-options of unknown types in order.
	Other []DSLSubOption
}

// u32 returns the field holding the 32-bit sub-option o, or nil.
func (a *AccessLine) u32(o DSLOption) *uint32 {
	switch o {
	case DSLActualDataRateUpstream:
		return &a.ActualDataRateUp
	case DSLActualDataRateDownstream:
		return &a.ActualDataRateDown
	case DSLMinimumDataRateUpstream:
		return &a.MinDataRateUp
	case DSLMinimumDataRateDownstream:
		return &a.MinDataRateDown
	case DSLAttainableDataRateUpstream:
		return &a.AttainableDataRateUp
	case DSLAttainableDataRateDownstream:
		return &a.AttainableDataRateDown
	case DSLMaximumDataRateUpstream:
		return &a.MaxDataRateUp
	case DSLMaximumDataRateDownstream:
		return &a.MaxDataRateDown
	case DSLMinimumDataRateUpstreamLowPower:
		return &a.MinDataRateUpLowPower
	case DSLMinimumDataRateDownstreamLowPower:
		return &a.MinDataRateDownLowPower
	case DSLMaximumInterleavingDelayUpstream:
		return &a.MaxInterleavingDelayUp
	case DSLActualInterleavingDelayUpstream:
		return &a.ActualInterleavingDelayUp
	case DSLMaximumInterleavingDelayDownstream:
		return &a.MaxInterleavingDelayDown
	case DSLActualInterleavingDelayDownstream:
		return &a.ActualInterleavingDelayDown
	}
	return nil
}

// dslIntOrder is the encoding order of the 32-bit sub-options.
var dslIntOrder = []DSLOption{
	DSLActualDataRateUpstream, DSLActualDataRateDownstream,
	DSLMinimumDataRateUpstream, DSLMinimumDataRateDownstream,
	DSLAttainableDataRateUpstream, DSLAttainableDataRateDownstream,
	DSLMaximumDataRateUpstream, DSLMaximumDataRateDownstream,
	DSLMinimumDataRateUpstreamLowPower, DSLMinimumDataRateDownstreamLowPower,
	DSLMaximumInterleavingDelayUpstream, DSLActualInterleavingDelayUpstream,
	DSLMaximumInterleavingDelayDownstream, DSLActualInterleavingDelayDownstream,
}

// ParseAccessLine decodes the data of a Broadband Forum Vendor-Specific tag (the bytes after
// the 4-byte vendor ID). Strings and Other alias data. It fails on a truncated sub-option
// (ErrSubOptionOverrun), a known sub-option of the wrong length (ErrTagLength), or a known
// sub-option that repeats (ErrDuplicateTag).
func ParseAccessLine(data []byte) (AccessLine, error) {
	var a AccessLine
	var seen [256]bool
	for off := 0; off < len(data); {
		if len(data)-off < 2 {
			return AccessLine{}, fmt.Errorf("%w: 1 byte of sub-option header at offset %d", ErrSubOptionOverrun, off)
		}
		o, n := DSLOption(data[off]), int(data[off+1])
		if n > len(data)-off-2 {
			return AccessLine{}, fmt.Errorf("%w: %v of length %d at offset %d, %d byte(s) left", ErrSubOptionOverrun, o, n, off, len(data)-off-2)
		}
		v := data[off+2 : off+2+n : off+2+n]
		off += 2 + n
		if a.u32(o) != nil || o == DSLAgentCircuitID || o == DSLAgentRemoteID ||
			o == DSLAccessLoopEncapsulation || o == DSLIWFSession {
			if seen[o] {
				return AccessLine{}, fmt.Errorf("%w: DSL Forum sub-option %v", ErrDuplicateTag, o)
			}
			seen[o] = true
		}
		want := -1
		switch o {
		case DSLAgentCircuitID:
			a.CircuitID = string(v)
		case DSLAgentRemoteID:
			a.RemoteID = string(v)
		case DSLAccessLoopEncapsulation:
			want = 3
			if n == 3 {
				a.LoopEncap, a.HasLoopEncap = LoopEncap{v[0], v[1], v[2]}, true
			}
		case DSLIWFSession:
			want = 0
			a.IWFSession = true
		default:
			if p := a.u32(o); p != nil {
				want = 4
				if n == 4 {
					*p = binary.BigEndian.Uint32(v)
				}
			} else {
				a.Other = append(a.Other, DSLSubOption{Type: o, Value: v})
			}
		}
		if want >= 0 && n != want {
			return AccessLine{}, fmt.Errorf("%w: DSL Forum %v has %d bytes, needs %d", ErrTagLength, o, n, want)
		}
	}
	return a, nil
}

// AppendBinary appends the sub-options of a to b (without the vendor ID). It fails with
// ErrTooLong when a string or unknown value exceeds 255 bytes.
func (a *AccessLine) AppendBinary(b []byte) ([]byte, error) {
	start := len(b)
	str := func(o DSLOption, s string) error {
		if s == "" {
			return nil
		}
		if len(s) > 0xff {
			return fmt.Errorf("%w: DSL Forum %v of %d bytes", ErrTooLong, o, len(s))
		}
		b = append(b, byte(o), byte(len(s)))
		b = append(b, s...)
		return nil
	}
	if err := str(DSLAgentCircuitID, a.CircuitID); err != nil {
		return b[:start], err
	}
	if err := str(DSLAgentRemoteID, a.RemoteID); err != nil {
		return b[:start], err
	}
	for _, o := range dslIntOrder {
		if v := *a.u32(o); v != 0 {
			b = append(b, byte(o), 4)
			b = binary.BigEndian.AppendUint32(b, v)
		}
	}
	if a.HasLoopEncap {
		b = append(b, byte(DSLAccessLoopEncapsulation), 3, a.LoopEncap.DataLink, a.LoopEncap.Encaps1, a.LoopEncap.Encaps2)
	}
	if a.IWFSession {
		b = append(b, byte(DSLIWFSession), 0)
	}
	for _, o := range a.Other {
		if len(o.Value) > 0xff {
			return b[:start], fmt.Errorf("%w: DSL Forum %v of %d bytes", ErrTooLong, o.Type, len(o.Value))
		}
		b = append(b, byte(o.Type), byte(len(o.Value)))
		b = append(b, o.Value...)
	}
	return b, nil
}

// VendorTag returns a as a Broadband Forum Vendor-Specific tag.
func (a *AccessLine) VendorTag() (VendorTag, error) {
	data, err := a.AppendBinary(nil)
	if err != nil {
		return VendorTag{}, err
	}
	if data == nil {
		data = []byte{}
	}
	return VendorTag{VendorID: VendorBBF, Data: data}, nil
}

// AccessLine decodes the first Broadband Forum Vendor-Specific tag. It reports false when
// there is none.
func (t *Tags) AccessLine() (AccessLine, bool, error) {
	for _, v := range t.Vendor {
		if v.VendorID == VendorBBF {
			a, err := ParseAccessLine(v.Data)
			return a, true, err
		}
	}
	return AccessLine{}, false, nil
}
