package l2tp

import "fmt"

// AVPType is the Attribute Type of an AVP. Its meaning depends on the AVP's Vendor ID; the
// constants below are the IETF (Vendor ID 0) attribute types.
type AVPType uint16

// IETF attribute types from RFC 2661 §4.4 (0-39), RFC 3145 §2 (46) and RFC 3931 §5.4 and
// §10.1 (58-75). RFC 3931 reuses several RFC 2661 numbers under new names; the aliases
// below give those names.
const (
	AVPMessageType               AVPType = 0  // RFC 2661 §4.4.1, RFC 3931 §5.4.1
	AVPResultCode                AVPType = 1  // RFC 2661 §4.4.2, RFC 3931 §5.4.2
	AVPProtocolVersion           AVPType = 2  // RFC 2661 §4.4.3
	AVPFramingCapabilities       AVPType = 3  // RFC 2661 §4.4.3
	AVPBearerCapabilities        AVPType = 4  // RFC 2661 §4.4.3
	AVPTieBreaker                AVPType = 5  // RFC 2661 §4.4.3, RFC 3931 §5.4.3 and §5.4.4
	AVPFirmwareRevision          AVPType = 6  // RFC 2661 §4.4.3
	AVPHostName                  AVPType = 7  // RFC 2661 §4.4.3, RFC 3931 §5.4.3
	AVPVendorName                AVPType = 8  // RFC 2661 §4.4.3, RFC 3931 §5.4.3
	AVPAssignedTunnelID          AVPType = 9  // RFC 2661 §4.4.3
	AVPReceiveWindowSize         AVPType = 10 // RFC 2661 §4.4.3, RFC 3931 §5.4.3
	AVPChallenge                 AVPType = 11 // RFC 2661 §4.4.3
	AVPQ931CauseCode             AVPType = 12 // RFC 2661 §4.4.2
	AVPChallengeResponse         AVPType = 13 // RFC 2661 §4.4.3
	AVPAssignedSessionID         AVPType = 14 // RFC 2661 §4.4.4
	AVPCallSerialNumber          AVPType = 15 // RFC 2661 §4.4.4, RFC 3931 §5.4.4 (Serial Number)
	AVPMinimumBPS                AVPType = 16 // RFC 2661 §4.4.4
	AVPMaximumBPS                AVPType = 17 // RFC 2661 §4.4.4
	AVPBearerType                AVPType = 18 // RFC 2661 §4.4.4
	AVPFramingType               AVPType = 19 // RFC 2661 §4.4.4
	AVPCalledNumber              AVPType = 21 // RFC 2661 §4.4.4
	AVPCallingNumber             AVPType = 22 // RFC 2661 §4.4.4
	AVPSubAddress                AVPType = 23 // RFC 2661 §4.4.4
	AVPTxConnectSpeed            AVPType = 24 // RFC 2661 §4.4.4 ("(Tx) Connect Speed", 32 bits)
	AVPPhysicalChannelID         AVPType = 25 // RFC 2661 §4.4.4, RFC 3931 §5.4.4
	AVPInitialReceivedLCPConfReq AVPType = 26 // RFC 2661 §4.4.5
	AVPLastSentLCPConfReq        AVPType = 27 // RFC 2661 §4.4.5
	AVPLastReceivedLCPConfReq    AVPType = 28 // RFC 2661 §4.4.5
	AVPProxyAuthenType           AVPType = 29 // RFC 2661 §4.4.5
	AVPProxyAuthenName           AVPType = 30 // RFC 2661 §4.4.5
	AVPProxyAuthenChallenge      AVPType = 31 // RFC 2661 §4.4.5
	AVPProxyAuthenID             AVPType = 32 // RFC 2661 §4.4.5
	AVPProxyAuthenResponse       AVPType = 33 // RFC 2661 §4.4.5
	AVPCallErrors                AVPType = 34 // RFC 2661 §4.4.6, RFC 3931 §5.4.5 (Circuit Errors)
	AVPACCM                      AVPType = 35 // RFC 2661 §4.4.6
	AVPRandomVector              AVPType = 36 // RFC 2661 §4.4.3, RFC 3931 §5.4.1
	AVPPrivateGroupID            AVPType = 37 // RFC 2661 §4.4.4
	AVPRxConnectSpeed            AVPType = 38 // RFC 2661 §4.4.4 (32 bits)
	AVPSequencingRequired        AVPType = 39 // RFC 2661 §4.4.4
	AVPPPPDisconnectCauseCode    AVPType = 46 // RFC 3145 §2
	AVPExtendedVendorID          AVPType = 58 // RFC 3931 §5.1
	AVPMessageDigest             AVPType = 59 // RFC 3931 §5.4.1
	AVPRouterID                  AVPType = 60 // RFC 3931 §5.4.3
	AVPAssignedControlConnID     AVPType = 61 // RFC 3931 §5.4.3
	AVPPseudowireCapabilities    AVPType = 62 // RFC 3931 §5.4.3
	AVPLocalSessionID            AVPType = 63 // RFC 3931 §5.4.4
	AVPRemoteSessionID           AVPType = 64 // RFC 3931 §5.4.4
	AVPAssignedCookie            AVPType = 65 // RFC 3931 §5.4.4
	AVPRemoteEndID               AVPType = 66 // RFC 3931 §5.4.4
	AVPPseudowireType            AVPType = 68 // RFC 3931 §5.4.4
	AVPL2SpecificSublayer        AVPType = 69 // RFC 3931 §5.4.4
	AVPDataSequencing            AVPType = 70 // RFC 3931 §5.4.4
	AVPCircuitStatus             AVPType = 71 // RFC 3931 §5.4.5
	AVPPreferredLanguage         AVPType = 72 // RFC 3931 §5.4.3
	AVPControlMessageAuthNonce   AVPType = 73 // RFC 3931 §5.4.1
	AVPTxConnectSpeedBPS         AVPType = 74 // RFC 3931 §5.4.4 (64 bits)
	AVPRxConnectSpeedBPS         AVPType = 75 // RFC 3931 §5.4.4 (64 bits)

	// RFC 3931 names for reused attribute types.
	AVPControlConnTieBreaker = AVPTieBreaker       // in control connection messages
	AVPSessionTieBreaker     = AVPTieBreaker       // in ICRQ and OCRQ
	AVPSerialNumber          = AVPCallSerialNumber // RFC 3931 §5.4.4
	AVPCircuitErrors         = AVPCallErrors       // RFC 3931 §5.4.5
)

// avpInfo describes one IETF attribute type.
type avpInfo struct {
	name string
	// mandatory is the M bit the constructors set. Where the RFC text differs between
	// versions, the value from the RFC that first defined the attribute is used; the M bit
	// of a recognised AVP has no effect on the receiver (RFC 3931 §5.2).
	mandatory bool
	// hideable reports that the RFC allows the H bit on this attribute.
	hideable bool
	// min and max bound the value length in octets; max < 0 means unbounded.
	min, max int
	// sizes, when non-nil, lists the only valid value lengths.
	sizes []int
}

const unbounded = -1

// avpCatalogue holds every IETF attribute type this package knows. Value lengths and the
// M/H rules come from the per-AVP text of RFC 2661 §4.4, RFC 3145 §2 and RFC 3931 §5.4.
var avpCatalogue = map[AVPType]avpInfo{
	AVPMessageType:               {name: "Message Type", mandatory: true, min: 2, max: 2},
	AVPResultCode:                {name: "Result Code", mandatory: true, min: 2, max: unbounded},
	AVPProtocolVersion:           {name: "Protocol Version", mandatory: true, min: 2, max: 2},
	AVPFramingCapabilities:       {name: "Framing Capabilities", mandatory: true, hideable: true, min: 4, max: 4},
	AVPBearerCapabilities:        {name: "Bearer Capabilities", mandatory: true, hideable: true, min: 4, max: 4},
	AVPTieBreaker:                {name: "Tie Breaker", min: 8, max: 8},
	AVPFirmwareRevision:          {name: "Firmware Revision", hideable: true, min: 2, max: 2},
	AVPHostName:                  {name: "Host Name", mandatory: true, min: 1, max: unbounded},
	AVPVendorName:                {name: "Vendor Name", hideable: true, min: 0, max: unbounded},
	AVPAssignedTunnelID:          {name: "Assigned Tunnel ID", mandatory: true, hideable: true, min: 2, max: 2},
	AVPReceiveWindowSize:         {name: "Receive Window Size", mandatory: true, min: 2, max: 2},
	AVPChallenge:                 {name: "Challenge", mandatory: true, hideable: true, min: 1, max: unbounded},
	AVPQ931CauseCode:             {name: "Q.931 Cause Code", mandatory: true, min: 3, max: unbounded},
	AVPChallengeResponse:         {name: "Challenge Response", mandatory: true, hideable: true, min: 16, max: 16},
	AVPAssignedSessionID:         {name: "Assigned Session ID", mandatory: true, hideable: true, min: 2, max: 2},
	AVPCallSerialNumber:          {name: "Call Serial Number", mandatory: true, hideable: true, min: 4, max: 4},
	AVPMinimumBPS:                {name: "Minimum BPS", mandatory: true, hideable: true, min: 4, max: 4},
	AVPMaximumBPS:                {name: "Maximum BPS", mandatory: true, hideable: true, min: 4, max: 4},
	AVPBearerType:                {name: "Bearer Type", mandatory: true, hideable: true, min: 4, max: 4},
	AVPFramingType:               {name: "Framing Type", mandatory: true, hideable: true, min: 4, max: 4},
	AVPCalledNumber:              {name: "Called Number", mandatory: true, hideable: true, min: 0, max: unbounded},
	AVPCallingNumber:             {name: "Calling Number", mandatory: true, hideable: true, min: 0, max: unbounded},
	AVPSubAddress:                {name: "Sub-Address", mandatory: true, hideable: true, min: 0, max: unbounded},
	AVPTxConnectSpeed:            {name: "Tx Connect Speed", mandatory: true, hideable: true, min: 4, max: 4},
	AVPPhysicalChannelID:         {name: "Physical Channel ID", hideable: true, min: 4, max: 4},
	AVPInitialReceivedLCPConfReq: {name: "Initial Received LCP CONFREQ", hideable: true, min: 0, max: unbounded},
	AVPLastSentLCPConfReq:        {name: "Last Sent LCP CONFREQ", hideable: true, min: 0, max: unbounded},
	AVPLastReceivedLCPConfReq:    {name: "Last Received LCP CONFREQ", hideable: true, min: 0, max: unbounded},
	AVPProxyAuthenType:           {name: "Proxy Authen Type", hideable: true, min: 2, max: 2},
	AVPProxyAuthenName:           {name: "Proxy Authen Name", hideable: true, min: 0, max: unbounded},
	AVPProxyAuthenChallenge:      {name: "Proxy Authen Challenge", hideable: true, min: 0, max: unbounded},
	AVPProxyAuthenID:             {name: "Proxy Authen ID", hideable: true, min: 2, max: 2},
	AVPProxyAuthenResponse:       {name: "Proxy Authen Response", hideable: true, min: 0, max: unbounded},
	// RFC 2661 defines six counters (value 26 octets); the RFC 3931 figure shows four
	// (18 octets) although its text keeps Length 32. Both are accepted.
	AVPCallErrors:              {name: "Call Errors", mandatory: true, hideable: true, sizes: []int{callErrorsLen, circuitErrorsLen}},
	AVPACCM:                    {name: "ACCM", mandatory: true, hideable: true, min: 10, max: 10},
	AVPRandomVector:            {name: "Random Vector", mandatory: true, min: 0, max: unbounded},
	AVPPrivateGroupID:          {name: "Private Group ID", hideable: true, min: 0, max: unbounded},
	AVPRxConnectSpeed:          {name: "Rx Connect Speed", hideable: true, min: 4, max: 4},
	AVPSequencingRequired:      {name: "Sequencing Required", mandatory: true, min: 0, max: 0},
	AVPPPPDisconnectCauseCode:  {name: "PPP Disconnect Cause Code", hideable: true, min: 5, max: unbounded},
	AVPExtendedVendorID:        {name: "Extended Vendor ID", hideable: true, min: 6, max: unbounded},
	AVPMessageDigest:           {name: "Message Digest", mandatory: true, sizes: []int{1 + 16, 1 + 20}},
	AVPRouterID:                {name: "Router ID", mandatory: true, min: 4, max: 4},
	AVPAssignedControlConnID:   {name: "Assigned Control Connection ID", mandatory: true, hideable: true, min: 4, max: 4},
	AVPPseudowireCapabilities:  {name: "Pseudowire Capabilities List", mandatory: true, hideable: true, min: 2, max: unbounded},
	AVPLocalSessionID:          {name: "Local Session ID", mandatory: true, hideable: true, min: 4, max: 4},
	AVPRemoteSessionID:         {name: "Remote Session ID", mandatory: true, hideable: true, min: 4, max: 4},
	AVPAssignedCookie:          {name: "Assigned Cookie", mandatory: true, hideable: true, sizes: []int{0, 4, 8}},
	AVPRemoteEndID:             {name: "Remote End ID", mandatory: true, hideable: true, min: 0, max: unbounded},
	AVPPseudowireType:          {name: "Pseudowire Type", mandatory: true, hideable: true, min: 2, max: 2},
	AVPL2SpecificSublayer:      {name: "L2-Specific Sublayer", mandatory: true, hideable: true, min: 2, max: 2},
	AVPDataSequencing:          {name: "Data Sequencing", mandatory: true, hideable: true, min: 2, max: 2},
	AVPCircuitStatus:           {name: "Circuit Status", mandatory: true, hideable: true, min: 2, max: 2},
	AVPPreferredLanguage:       {name: "Preferred Language", hideable: true, min: 0, max: unbounded},
	AVPControlMessageAuthNonce: {name: "Control Message Authentication Nonce", mandatory: true, min: 0, max: unbounded},
	AVPTxConnectSpeedBPS:       {name: "Tx Connect Speed BPS", hideable: true, min: 8, max: 8},
	AVPRxConnectSpeedBPS:       {name: "Rx Connect Speed BPS", hideable: true, min: 8, max: 8},
}

// Known reports whether t is an IETF attribute type this package recognises.
func (t AVPType) Known() bool {
	_, ok := avpCatalogue[t]
	return ok
}

// Hideable reports whether the RFC allows the H bit on an IETF AVP of type t.
func (t AVPType) Hideable() bool { return avpCatalogue[t].hideable }

// DefaultMandatory reports the M bit the constructors in this package set for type t.
func (t AVPType) DefaultMandatory() bool { return avpCatalogue[t].mandatory }

// String returns the RFC name of an IETF attribute type, or "AVP(n)".
func (t AVPType) String() string {
	if info, ok := avpCatalogue[t]; ok {
		return info.name
	}
	return fmt.Sprintf("AVP(%d)", uint16(t))
}

// validValueLen reports whether n is a valid value length for IETF type t. Unknown types
// accept any length.
func validValueLen(t AVPType, n int) bool {
	info, ok := avpCatalogue[t]
	if !ok {
		return true
	}
	if info.sizes != nil {
		for _, s := range info.sizes {
			if n == s {
				return true
			}
		}
		return false
	}
	if t == AVPPseudowireCapabilities && n%2 != 0 {
		return false
	}
	return n >= info.min && (info.max == unbounded || n <= info.max)
}

// Framing capability and Framing Type bits (RFC 2661 §4.4.3, §4.4.4).
const (
	FramingSync  uint32 = 0x00000001
	FramingAsync uint32 = 0x00000002
)

// Bearer capability and Bearer Type bits (RFC 2661 §4.4.3, §4.4.4).
const (
	BearerDigital uint32 = 0x00000001
	BearerAnalog  uint32 = 0x00000002
)

// Protocol Version AVP values for L2TPv2 (RFC 2661 §4.4.3: Ver 1, Rev 0).
const (
	ProtocolVersionV2  uint8 = 1
	ProtocolRevisionV2 uint8 = 0
)

// DefaultReceiveWindow is the window a peer must assume when the Receive Window Size AVP is
// absent (RFC 2661 §4.4.3, RFC 3931 §5.4.3).
const DefaultReceiveWindow = 4

// ProxyAuthenType values (RFC 2661 §4.4.5).
const (
	ProxyAuthenReserved    uint16 = 0
	ProxyAuthenText        uint16 = 1 // textual username/password exchange
	ProxyAuthenCHAP        uint16 = 2 // PPP CHAP
	ProxyAuthenPAP         uint16 = 3 // PPP PAP
	ProxyAuthenNone        uint16 = 4 // no authentication
	ProxyAuthenMSCHAPv1    uint16 = 5 // Microsoft CHAP version 1
	proxyAuthenLastDefined        = ProxyAuthenMSCHAPv1
)

// PseudowireType is an IANA pseudowire type (RFC 3931 §10.6, values from the RFC 4446
// registry shared with MPLS).
type PseudowireType uint16

// Pseudowire types probox uses. PPP over L2TPv3 is RFC 4591, Ethernet and Ethernet VLAN
// are RFC 4719; the values come from the RFC 4446 registry.
const (
	PWEthernetVLAN PseudowireType = 0x0004 // "Ethernet Tagged Mode"
	PWEthernet     PseudowireType = 0x0005
	PWHDLC         PseudowireType = 0x0006
	PWPPP          PseudowireType = 0x0007
)

// String returns a short name for the pseudowire type.
func (p PseudowireType) String() string {
	switch p {
	case PWEthernetVLAN:
		return "Ethernet VLAN"
	case PWEthernet:
		return "Ethernet"
	case PWHDLC:
		return "HDLC"
	case PWPPP:
		return "PPP"
	}
	return fmt.Sprintf("PW(0x%04x)", uint16(p))
}

// L2-Specific Sublayer types (RFC 3931 §5.4.4, §10.9).
const (
	L2SSNone    uint16 = 0 // no L2-Specific Sublayer
	L2SSDefault uint16 = 1 // the default sublayer of RFC 3931 §4.6
)

// Data Sequencing levels (RFC 3931 §5.4.4, §10.10).
const (
	DataSeqNone  uint16 = 0 // no incoming data packets require sequencing
	DataSeqNonIP uint16 = 1 // only non-IP data packets require sequencing
	DataSeqAll   uint16 = 2 // all incoming data packets require sequencing
)

// Circuit Status bits (RFC 3931 §5.4.5, §10.7: bit 15 is A, bit 14 is N).
const (
	CircuitActive uint16 = 0x0001 // A: the circuit is up
	CircuitNew    uint16 = 0x0002 // N: the status is for a new circuit
)
