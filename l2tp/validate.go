package l2tp

import "fmt"

// MessageSpec lists the AVPs a control message type must and may carry. Message Type is
// implied; Random Vector (and, for L2TPv3, Message Digest) may appear in every message.
type MessageSpec struct {
	Required []AVPType
	Optional []AVPType
}

// v2Specs is RFC 2661 §6.1-§6.14, plus the PPP Disconnect Cause Code AVP that RFC 3145 §2
// allows in the CDN.
var v2Specs = map[MessageType]MessageSpec{
	MsgSCCRQ: {
		Required: []AVPType{AVPProtocolVersion, AVPHostName, AVPFramingCapabilities, AVPAssignedTunnelID},
		Optional: []AVPType{AVPBearerCapabilities, AVPReceiveWindowSize, AVPChallenge, AVPTieBreaker,
			AVPFirmwareRevision, AVPVendorName},
	},
	MsgSCCRP: {
		Required: []AVPType{AVPProtocolVersion, AVPFramingCapabilities, AVPHostName, AVPAssignedTunnelID},
		Optional: []AVPType{AVPBearerCapabilities, AVPFirmwareRevision, AVPVendorName, AVPReceiveWindowSize,
			AVPChallenge, AVPChallengeResponse},
	},
	MsgSCCCN: {
		Optional: []AVPType{AVPChallengeResponse},
	},
	MsgStopCCN: {
		Required: []AVPType{AVPAssignedTunnelID, AVPResultCode},
	},
	MsgHELLO: {},
	MsgOCRQ: {
		Required: []AVPType{AVPAssignedSessionID, AVPCallSerialNumber, AVPMinimumBPS, AVPMaximumBPS,
			AVPBearerType, AVPFramingType, AVPCalledNumber},
		Optional: []AVPType{AVPSubAddress},
	},
	MsgOCRP: {
		Required: []AVPType{AVPAssignedSessionID},
		Optional: []AVPType{AVPPhysicalChannelID},
	},
	MsgOCCN: {
		Required: []AVPType{AVPTxConnectSpeed, AVPFramingType},
		Optional: []AVPType{AVPRxConnectSpeed, AVPSequencingRequired},
	},
	MsgICRQ: {
		Required: []AVPType{AVPAssignedSessionID, AVPCallSerialNumber},
		Optional: []AVPType{AVPBearerType, AVPPhysicalChannelID, AVPCallingNumber, AVPCalledNumber, AVPSubAddress},
	},
	MsgICRP: {
		Required: []AVPType{AVPAssignedSessionID},
	},
	MsgICCN: {
		Required: []AVPType{AVPTxConnectSpeed, AVPFramingType},
		Optional: []AVPType{AVPInitialReceivedLCPConfReq, AVPLastSentLCPConfReq, AVPLastReceivedLCPConfReq,
			AVPProxyAuthenType, AVPProxyAuthenName, AVPProxyAuthenChallenge, AVPProxyAuthenID,
			AVPProxyAuthenResponse, AVPPrivateGroupID, AVPRxConnectSpeed, AVPSequencingRequired},
	},
	MsgCDN: {
		Required: []AVPType{AVPResultCode, AVPAssignedSessionID},
		Optional: []AVPType{AVPQ931CauseCode, AVPPPPDisconnectCauseCode},
	},
	MsgWEN: {
		Required: []AVPType{AVPCallErrors},
	},
	MsgSLI: {
		Required: []AVPType{AVPACCM},
	},
}

// v3Specs is RFC 3931 §6.1-§6.15.
var v3Specs = map[MessageType]MessageSpec{
	MsgSCCRQ: {
		Required: []AVPType{AVPHostName, AVPRouterID, AVPAssignedControlConnID, AVPPseudowireCapabilities},
		Optional: []AVPType{AVPControlMessageAuthNonce, AVPControlConnTieBreaker, AVPVendorName,
			AVPReceiveWindowSize, AVPPreferredLanguage},
	},
	MsgSCCRP: {
		Required: []AVPType{AVPHostName, AVPRouterID, AVPAssignedControlConnID, AVPPseudowireCapabilities},
		Optional: []AVPType{AVPControlMessageAuthNonce, AVPVendorName, AVPReceiveWindowSize, AVPPreferredLanguage},
	},
	MsgSCCCN: {},
	MsgStopCCN: {
		Required: []AVPType{AVPResultCode},
		Optional: []AVPType{AVPAssignedControlConnID},
	},
	MsgHELLO: {},
	MsgICRQ: {
		Required: []AVPType{AVPLocalSessionID, AVPRemoteSessionID, AVPSerialNumber, AVPPseudowireType,
			AVPRemoteEndID, AVPCircuitStatus},
		Optional: []AVPType{AVPAssignedCookie, AVPSessionTieBreaker, AVPL2SpecificSublayer, AVPDataSequencing,
			AVPTxConnectSpeedBPS, AVPRxConnectSpeedBPS, AVPPhysicalChannelID},
	},
	MsgICRP: {
		Required: []AVPType{AVPLocalSessionID, AVPRemoteSessionID, AVPCircuitStatus},
		Optional: []AVPType{AVPAssignedCookie, AVPL2SpecificSublayer, AVPDataSequencing, AVPTxConnectSpeedBPS,
			AVPRxConnectSpeedBPS, AVPPhysicalChannelID},
	},
	MsgICCN: {
		Required: []AVPType{AVPLocalSessionID, AVPRemoteSessionID},
		Optional: []AVPType{AVPL2SpecificSublayer, AVPDataSequencing, AVPTxConnectSpeedBPS, AVPRxConnectSpeedBPS,
			AVPCircuitStatus},
	},
	MsgOCRQ: {
		Required: []AVPType{AVPLocalSessionID, AVPRemoteSessionID, AVPSerialNumber, AVPPseudowireType,
			AVPRemoteEndID, AVPCircuitStatus},
		Optional: []AVPType{AVPAssignedCookie, AVPTxConnectSpeedBPS, AVPRxConnectSpeedBPS, AVPSessionTieBreaker,
			AVPL2SpecificSublayer, AVPDataSequencing},
	},
	MsgOCRP: {
		Required: []AVPType{AVPLocalSessionID, AVPRemoteSessionID, AVPCircuitStatus},
		Optional: []AVPType{AVPAssignedCookie, AVPL2SpecificSublayer, AVPTxConnectSpeedBPS, AVPRxConnectSpeedBPS,
			AVPDataSequencing, AVPPhysicalChannelID},
	},
	MsgOCCN: {
		Required: []AVPType{AVPLocalSessionID, AVPRemoteSessionID},
		Optional: []AVPType{AVPL2SpecificSublayer, AVPTxConnectSpeedBPS, AVPRxConnectSpeedBPS, AVPDataSequencing,
			AVPCircuitStatus},
	},
	MsgCDN: {
		Required: []AVPType{AVPResultCode, AVPLocalSessionID, AVPRemoteSessionID},
	},
	MsgWEN: {
		Required: []AVPType{AVPLocalSessionID, AVPRemoteSessionID, AVPCircuitErrors},
	},
	MsgSLI: {
		Required: []AVPType{AVPLocalSessionID, AVPRemoteSessionID},
		Optional: []AVPType{AVPCircuitStatus},
	},
	MsgACK: {},
}

// LookupSpec returns the AVP rules for message type t in version v.
func LookupSpec(v Version, t MessageType) (MessageSpec, bool) {
	var s MessageSpec
	var ok bool
	switch v {
	case Version2:
		s, ok = v2Specs[t]
	case Version3:
		s, ok = v3Specs[t]
	}
	return s, ok
}

// maxCount returns how many IETF AVPs of type t one message may carry.
func maxCount(t AVPType) int {
	switch t {
	case AVPRandomVector, AVPExtendedVendorID:
		return 1 << 30
	case AVPMessageDigest:
		return 2 // RFC 3931 §5.4.1: a second digest eases secret or algorithm changes
	}
	return 1
}

// UnknownMessageError reports a message type the receiver does not know. With Mandatory set
// the tunnel must be cleared; otherwise the message may be ignored (RFC 2661 §4.4.1,
// RFC 3931 §5.4.1).
type UnknownMessageError struct {
	Type      MessageType
	Vendor    uint16
	Mandatory bool
}

// Error implements error.
func (e *UnknownMessageError) Error() string {
	return fmt.Sprintf("l2tp: unknown message type %d (vendor %d, mandatory %v)", uint16(e.Type), e.Vendor, e.Mandatory)
}

// UnknownAVPError reports an unrecognised AVP with the M bit set. The receiver must shut
// down the session (if Message.IsSession) with a CDN, or else the tunnel with a StopCCN,
// using Result (RFC 2661 §4.1, RFC 3931 §5.2). Unknown AVPs with the M bit clear are
// ignored and never reported.
type UnknownAVPError struct {
	Message MessageType
	AVP     AVP
}

// Error implements error.
func (e *UnknownAVPError) Error() string {
	return fmt.Sprintf("l2tp: %v carries unknown mandatory AVP (vendor %d, type %d)",
		e.Message, e.AVP.Vendor, uint16(e.AVP.Type))
}

// Result returns the Result Code to send: general error, error code 8, with the offending
// attribute named in the message (RFC 3931 §5.4.2).
func (e *UnknownAVPError) Result() ResultError {
	return ResultError{
		Result:    uint16(StopCCNGeneralError), // 2 in both the StopCCN and CDN tables
		ErrorCode: uint16(ErrorUnknownMandatoryAVP),
		Message:   fmt.Sprintf("unknown mandatory AVP vendor %d type %d", e.AVP.Vendor, uint16(e.AVP.Type)),
	}
}

// MalformedAVPError reports a known AVP with the M bit set whose value has the wrong
// length. RFC 3931 §7.1 treats it like an unknown M-bit AVP; malformed AVPs with the M bit
// clear are ignored (and so count as absent).
type MalformedAVPError struct {
	Message MessageType
	AVP     AVP
}

// Error implements error.
func (e *MalformedAVPError) Error() string {
	return fmt.Sprintf("l2tp: %v carries malformed %v AVP (%d octets)", e.Message, e.AVP.Type, len(e.AVP.Value))
}

// MissingAVPError reports an AVP the message type requires but the message lacks.
type MissingAVPError struct {
	Message MessageType
	Type    AVPType
}

// Error implements error.
func (e *MissingAVPError) Error() string {
	return fmt.Sprintf("l2tp: %v lacks the required %v AVP", e.Message, e.Type)
}

// DuplicateAVPError reports an AVP that appears more often than the RFC allows.
type DuplicateAVPError struct {
	Message MessageType
	Type    AVPType
}

// Error implements error.
func (e *DuplicateAVPError) Error() string {
	return fmt.Sprintf("l2tp: %v carries %v more than once", e.Message, e.Type)
}

// Validate checks m against the RFC rules of its version and returns the first problem, in
// this order of precedence: *UnknownMessageError, *UnknownAVPError, *MalformedAVPError,
// *DuplicateAVPError, *MissingAVPError. A ZLB is valid. Known AVPs that the RFC does not
// list for the message type are tolerated. The catalogue of known AVPs is shared by both
// versions, so an L2TPv2 AVP in an L2TPv3 message is not "unknown".
func (m *Message) Validate() error {
	if m.IsZLB() {
		return nil
	}
	spec, ok := LookupSpec(m.Version, m.Type)
	if !ok || m.Vendor != 0 {
		return &UnknownMessageError{Type: m.Type, Vendor: m.Vendor, Mandatory: !m.TypeOptional}
	}
	for _, a := range m.AVPs {
		if !a.Known() && a.Mandatory {
			return &UnknownAVPError{Message: m.Type, AVP: a}
		}
	}
	counts := make(map[AVPType]int, len(m.AVPs))
	counts[AVPMessageType] = 1 // the one Parse consumed; a second is a duplicate
	for _, a := range m.AVPs {
		if !a.Known() {
			continue
		}
		if !validValueLen(a.Type, len(a.Value)) {
			if a.Mandatory {
				return &MalformedAVPError{Message: m.Type, AVP: a}
			}
			continue
		}
		counts[a.Type]++
		if counts[a.Type] > maxCount(a.Type) {
			return &DuplicateAVPError{Message: m.Type, Type: a.Type}
		}
	}
	for _, t := range spec.Required {
		if counts[t] == 0 {
			return &MissingAVPError{Message: m.Type, Type: t}
		}
	}
	return nil
}
