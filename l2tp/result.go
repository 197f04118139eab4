package l2tp

import (
	"encoding/binary"
	"fmt"
)

// StopCCNResult is a Result Code value of a StopCCN (RFC 2661 §4.4.2, RFC 3931 §5.4.2).
type StopCCNResult uint16

// StopCCN result codes.
const (
	StopCCNReserved        StopCCNResult = 0
	StopCCNGeneralRequest  StopCCNResult = 1 // general request to clear the control connection
	StopCCNGeneralError    StopCCNResult = 2 // general error, the Error Code tells which
	StopCCNAlreadyExists   StopCCNResult = 3 // control connection already exists
	StopCCNNotAuthorized   StopCCNResult = 4 // requester is not authorized
	StopCCNBadVersion      StopCCNResult = 5 // protocol version not supported; Error Code is the highest supported
	StopCCNShuttingDown    StopCCNResult = 6 // requester is being shut down
	StopCCNFSMError        StopCCNResult = 7 // finite state machine error (RFC 3931: or timeout)
	stopCCNLastDefined                   = StopCCNFSMError
	stopCCNUnnamedBoundary               = stopCCNLastDefined + 1
)

var stopCCNNames = [stopCCNUnnamedBoundary]string{
	"reserved",
	"general request to clear control connection",
	"general error",
	"control connection already exists",
	"requester not authorized",
	"protocol version not supported",
	"requester is being shut down",
	"finite state machine error or timeout",
}

// String returns the RFC meaning of r.
func (r StopCCNResult) String() string {
	if r < stopCCNUnnamedBoundary {
		return stopCCNNames[r]
	}
	return fmt.Sprintf("StopCCN result %d", uint16(r))
}

// CDNResult is a Result Code value of a CDN (RFC 2661 §4.4.2, RFC 3931 §5.4.2).
type CDNResult uint16

// CDN result codes. 1-11 are RFC 2661's, 13-16 RFC 3931's.
const (
	CDNReserved            CDNResult = 0
	CDNLossOfCarrier       CDNResult = 1  // loss of carrier or circuit disconnect
	CDNGeneralError        CDNResult = 2  // the Error Code tells why
	CDNAdministrative      CDNResult = 3  // administrative reasons
	CDNTemporaryFacilities CDNResult = 4  // no appropriate facilities, temporary
	CDNPermanentFacilities CDNResult = 5  // no appropriate facilities, permanent
	CDNInvalidDestination  CDNResult = 6  // RFC 2661
	CDNNoCarrier           CDNResult = 7  // RFC 2661: no carrier detected
	CDNBusy                CDNResult = 8  // RFC 2661: busy signal
	CDNNoDialTone          CDNResult = 9  // RFC 2661: no dial tone
	CDNTimeout             CDNResult = 10 // RFC 2661: not established within the time allotted by the LAC
	CDNNoFraming           CDNResult = 11 // RFC 2661: connected but no appropriate framing
	CDNLostTieBreaker      CDNResult = 13 // RFC 3931: session lost the tie breaker
	CDNUnsupportedPW       CDNResult = 14 // RFC 3931: unsupported pseudowire type
	CDNSequencingNoL2SS    CDNResult = 15 // RFC 3931: sequencing required without a valid L2-Specific Sublayer
	CDNFSMError            CDNResult = 16 // RFC 3931: finite state machine error or timeout
)

var cdnNames = map[CDNResult]string{
	CDNReserved:            "reserved",
	CDNLossOfCarrier:       "loss of carrier",
	CDNGeneralError:        "general error",
	CDNAdministrative:      "administrative disconnect",
	CDNTemporaryFacilities: "no facilities available (temporary)",
	CDNPermanentFacilities: "no facilities available (permanent)",
	CDNInvalidDestination:  "invalid destination",
	CDNNoCarrier:           "no carrier detected",
	CDNBusy:                "busy signal",
	CDNNoDialTone:          "no dial tone",
	CDNTimeout:             "call not established in time",
	CDNNoFraming:           "no appropriate framing detected",
	CDNLostTieBreaker:      "lost tie breaker",
	CDNUnsupportedPW:       "unsupported pseudowire type",
	CDNSequencingNoL2SS:    "sequencing required without L2-Specific Sublayer",
	CDNFSMError:            "finite state machine error or timeout",
}

// String returns the RFC meaning of r.
func (r CDNResult) String() string {
	if s, ok := cdnNames[r]; ok {
		return s
	}
	return fmt.Sprintf("CDN result %d", uint16(r))
}

// ErrorCode is a General Error Code carried with Result Code 2 (RFC 2661 §4.4.2,
// RFC 3931 §5.4.2).
type ErrorCode uint16

// General error codes.
const (
	ErrorNone                  ErrorCode = 0 // no general error
	ErrorNoControlConnection   ErrorCode = 1 // no control connection exists yet for this pair of peers
	ErrorLength                ErrorCode = 2 // length is wrong
	ErrorOutOfRange            ErrorCode = 3 // a field value was out of range or a reserved field non-zero
	ErrorInsufficientResources ErrorCode = 4 // insufficient resources to handle this operation now
	ErrorInvalidSessionID      ErrorCode = 5 // invalid Session ID
	ErrorVendorSpecific        ErrorCode = 6 // a generic vendor-specific error occurred
	ErrorTryAnother            ErrorCode = 7 // try another peer
	ErrorUnknownMandatoryAVP   ErrorCode = 8 // shut down for an unknown AVP with the M bit set
	ErrorTryAnotherDirected    ErrorCode = 9 // RFC 3931: try one of the addresses in the Error Message
	errorUnnamedBoundary                 = ErrorTryAnotherDirected + 1
)

var errorNames = [errorUnnamedBoundary]string{
	"no general error",
	"no control connection exists yet",
	"length is wrong",
	"field value out of range",
	"insufficient resources",
	"invalid session ID",
	"vendor-specific error",
	"try another",
	"unknown mandatory AVP",
	"try another directed",
}

// String returns the RFC meaning of e.
func (e ErrorCode) String() string {
	if e < errorUnnamedBoundary {
		return errorNames[e]
	}
	return fmt.Sprintf("error code %d", uint16(e))
}

// ResultError is the content of a Result Code AVP: why a StopCCN or CDN was sent. Result is
// a StopCCNResult or CDNResult depending on the message; ErrorCode is an ErrorCode. (The
// field cannot be called Error: that is the method that makes ResultError an error.)
type ResultError struct {
	Result    uint16
	ErrorCode uint16
	Message   string
}

// Error implements error.
func (e ResultError) Error() string {
	s := fmt.Sprintf("l2tp: result code %d", e.Result)
	if e.ErrorCode != 0 {
		s += fmt.Sprintf(", error code %d (%v)", e.ErrorCode, ErrorCode(e.ErrorCode))
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// AVP encodes e as a Result Code AVP. The Error Code is omitted when it and the message are
// empty, so the AVP is 8, 10 or 10+len(Message) octets long (RFC 2661 §4.4.2).
func (e ResultError) AVP() AVP {
	v := binary.BigEndian.AppendUint16(nil, e.Result)
	if e.ErrorCode != 0 || e.Message != "" {
		v = binary.BigEndian.AppendUint16(v, e.ErrorCode)
		v = append(v, e.Message...)
	}
	return newAVP(AVPResultCode, v)
}

// ResultCode decodes a Result Code AVP.
func (a AVP) ResultCode() (ResultError, error) {
	var e ResultError
	switch n := len(a.Value); {
	case n < 2, n == 3:
		return e, a.lenErr("2 or at least 4")
	case n >= 4:
		e.ErrorCode = binary.BigEndian.Uint16(a.Value[2:])
		e.Message = string(a.Value[4:])
	}
	e.Result = binary.BigEndian.Uint16(a.Value)
	return e, nil
}

// Q931Cause is the content of a Q.931 Cause Code AVP (RFC 2661 §4.4.2): the Q.931 cause
// code, the Q.931 message type that carried it, and an optional advisory text.
type Q931Cause struct {
	Cause    uint16
	Msg      uint8
	Advisory string
}

// AVP encodes c as a Q.931 Cause Code AVP.
func (c Q931Cause) AVP() AVP {
	v := binary.BigEndian.AppendUint16(nil, c.Cause)
	v = append(v, c.Msg)
	return newAVP(AVPQ931CauseCode, append(v, c.Advisory...))
}

// Q931Cause decodes a Q.931 Cause Code AVP.
func (a AVP) Q931Cause() (Q931Cause, error) {
	if len(a.Value) < 3 {
		return Q931Cause{}, a.lenErr("at least 3")
	}
	return Q931Cause{
		Cause:    binary.BigEndian.Uint16(a.Value),
		Msg:      a.Value[2],
		Advisory: string(a.Value[3:]),
	}, nil
}

// PPP Disconnect Cause Code directions (RFC 3145 §2).
const (
	PPPDisconnectGlobal uint8 = 0 // global error
	PPPDisconnectPeer   uint8 = 1 // at the peer
	PPPDisconnectLocal  uint8 = 2 // local
)

// PPPDisconnectCause is the content of a PPP Disconnect Cause Code AVP (RFC 3145 §2). The
// AVP is informational and its M bit must be 0.
type PPPDisconnectCause struct {
	Code uint16
	// Protocol is the PPP control protocol number (e.g. 0xc021 for LCP), or 0.
	Protocol  uint16
	Direction uint8
	Message   string
}

// AVP encodes c as a PPP Disconnect Cause Code AVP.
func (c PPPDisconnectCause) AVP() AVP {
	v := binary.BigEndian.AppendUint16(nil, c.Code)
	v = binary.BigEndian.AppendUint16(v, c.Protocol)
	v = append(v, c.Direction)
	return newAVP(AVPPPPDisconnectCauseCode, append(v, c.Message...))
}

// PPPDisconnectCause decodes a PPP Disconnect Cause Code AVP.
func (a AVP) PPPDisconnectCause() (PPPDisconnectCause, error) {
	if len(a.Value) < 5 {
		return PPPDisconnectCause{}, a.lenErr("at least 5")
	}
	return PPPDisconnectCause{
		Code:      binary.BigEndian.Uint16(a.Value),
		Protocol:  binary.BigEndian.Uint16(a.Value[2:]),
		Direction: a.Value[4],
		Message:   string(a.Value[5:]),
	}, nil
}
