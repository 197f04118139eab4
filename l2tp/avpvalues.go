package l2tp

import (
	"encoding/binary"
	"fmt"
)

// CallErrors is the content of a Call Errors AVP (RFC 2661 §4.4.6), called Circuit Errors
// in RFC 3931 §5.4.5. RFC 3931's figure drops the CRC and framing counters; such an AVP
// decodes with those two left at zero.
type CallErrors struct {
	CRCErrors        uint32
	FramingErrors    uint32
	HardwareOverruns uint32
	BufferOverruns   uint32
	TimeoutErrors    uint32
	AlignmentErrors  uint32
}

const (
	callErrorsLen    = 2 + 6*4 // reserved + six counters (RFC 2661)
	circuitErrorsLen = 2 + 4*4 // reserved + four counters (RFC 3931 figure)
)

// AVP encodes c as a Call Errors AVP in the RFC 2661 layout (Length 32, which is also the
// length RFC 3931 gives).
func (c CallErrors) AVP() AVP {
	v := make([]byte, 2, callErrorsLen)
	for _, n := range []uint32{c.CRCErrors, c.FramingErrors, c.HardwareOverruns, c.BufferOverruns, c.TimeoutErrors, c.AlignmentErrors} {
		v = binary.BigEndian.AppendUint32(v, n)
	}
	return newAVP(AVPCallErrors, v)
}

// CallErrors decodes a Call Errors (Circuit Errors) AVP.
func (a AVP) CallErrors() (CallErrors, error) {
	v := a.Value
	u := func(i int) uint32 { return binary.BigEndian.Uint32(v[2+4*i:]) }
	switch len(v) {
	case callErrorsLen:
		return CallErrors{u(0), u(1), u(2), u(3), u(4), u(5)}, nil
	case circuitErrorsLen:
		return CallErrors{HardwareOverruns: u(0), BufferOverruns: u(1), TimeoutErrors: u(2), AlignmentErrors: u(3)}, nil
	}
	return CallErrors{}, a.lenErr(fmt.Sprintf("%d or %d", callErrorsLen, circuitErrorsLen))
}

// ACCM is the content of an ACCM AVP (RFC 2661 §4.4.6): the async control character maps
// the LAC should use when sending to and receiving from the remote system.
type ACCM struct {
	Send    uint32
	Receive uint32
}

// AVP encodes c as an ACCM AVP (2 reserved octets, then the two maps).
func (c ACCM) AVP() AVP {
	v := make([]byte, 2, 10)
	v = binary.BigEndian.AppendUint32(v, c.Send)
	return newAVP(AVPACCM, binary.BigEndian.AppendUint32(v, c.Receive))
}

// ACCM decodes an ACCM AVP.
func (a AVP) ACCM() (ACCM, error) {
	if len(a.Value) != 10 {
		return ACCM{}, a.lenErr("10")
	}
	return ACCM{Send: binary.BigEndian.Uint32(a.Value[2:]), Receive: binary.BigEndian.Uint32(a.Value[6:])}, nil
}
