package l2tp

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// goldenCase is a control message written by hand from the RFC layouts. In the hex, every
// AVP starts with its flags-and-length word: 0x80nn is M=1 with Length nn, 0x00nn is M=0.
type goldenCase struct {
	name string
	hex  string
	msg  Message
}

func v2hdr(tid, sid, ns, nr uint16) Header {
	return Header{Version: Version2, TunnelID: uint32(tid), SessionID: sid, Ns: ns, Nr: nr}
}

func v3hdr(ccid uint32, ns, nr uint16) Header {
	return Header{Version: Version3, TunnelID: ccid, Ns: ns, Nr: nr}
}

// goldenV2 covers every RFC 2661 message type (§6.1-§6.14) and the ZLB (§5.8).
var goldenV2 = []goldenCase{
	{
		name: "SCCRQ",
		hex: `
			c802 0075 0000 0000 0000 0000    # T,L,S Ver=2, Length 117, Tunnel 0, Session 0, Ns 0, Nr 0
			8008 0000 0000 0001              # Message Type SCCRQ
			8008 0000 0002 0100              # Protocol Version 1.0
			8009 0000 0007 6c6163            # Host Name "lac"
			800a 0000 0003 00000003          # Framing Capabilities sync|async
			8008 0000 0009 1234              # Assigned Tunnel ID 0x1234
			8008 0000 000a 0008              # Receive Window Size 8
			000e 0000 0005 0102030405060708  # Tie Breaker
			0008 0000 0006 0100              # Firmware Revision 0x0100
			000c 0000 0008 70726f626f78      # Vendor Name "probox"
			800a 0000 0004 00000002          # Bearer Capabilities analog
			800a 0000 000b deadbeef          # Challenge`,
		msg: Message{Header: v2hdr(0, 0, 0, 0), Type: MsgSCCRQ, AVPs: []AVP{
			NewProtocolVersion(ProtocolVersionV2, ProtocolRevisionV2),
			NewString(AVPHostName, "lac"),
			NewUint32(AVPFramingCapabilities, FramingSync|FramingAsync),
			NewUint16(AVPAssignedTunnelID, 0x1234),
			NewUint16(AVPReceiveWindowSize, 8),
			NewUint64(AVPTieBreaker, 0x0102030405060708),
			NewUint16(AVPFirmwareRevision, 0x0100),
			NewString(AVPVendorName, "probox"),
			NewUint32(AVPBearerCapabilities, BearerAnalog),
			NewBytes(AVPChallenge, h("deadbeef")),
		}},
	},
	{
		name: "SCCRP",
		hex: `
			c802 0057 1234 0000 0000 0001    # Length 87, Tunnel 0x1234, Ns 0, Nr 1
			8008 0000 0000 0002              # Message Type SCCRP
			8008 0000 0002 0100              # Protocol Version 1.0
			8009 0000 0007 6c6e73            # Host Name "lns"
			800a 0000 0003 00000001          # Framing Capabilities sync
			8008 0000 0009 5678              # Assigned Tunnel ID 0x5678
			8016 0000 000d 000102030405060708090a0b0c0d0e0f  # Challenge Response
			800a 0000 000b cafebabe          # Challenge`,
		msg: Message{Header: v2hdr(0x1234, 0, 0, 1), Type: MsgSCCRP, AVPs: []AVP{
			NewProtocolVersion(1, 0),
			NewString(AVPHostName, "lns"),
			NewUint32(AVPFramingCapabilities, FramingSync),
			NewUint16(AVPAssignedTunnelID, 0x5678),
			NewBytes(AVPChallengeResponse, h("000102030405060708090a0b0c0d0e0f")),
			NewBytes(AVPChallenge, h("cafebabe")),
		}},
	},
	{
		name: "SCCCN",
		hex: `
			c802 002a 5678 0000 0001 0001    # Length 42
			8008 0000 0000 0003              # Message Type SCCCN
			8016 0000 000d f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff  # Challenge Response`,
		msg: Message{Header: v2hdr(0x5678, 0, 1, 1), Type: MsgSCCCN, AVPs: []AVP{
			NewBytes(AVPChallengeResponse, h("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")),
		}},
	},
	{
		name: "StopCCN",
		hex: `
			c802 0029 5678 0000 0002 0001    # Length 41
			8008 0000 0000 0004              # Message Type StopCCN
			8008 0000 0009 1234              # Assigned Tunnel ID 0x1234
			800d 0000 0001 0002 0008 627965  # Result Code 2, Error Code 8, "bye"`,
		msg: Message{Header: v2hdr(0x5678, 0, 2, 1), Type: MsgStopCCN, AVPs: []AVP{
			NewUint16(AVPAssignedTunnelID, 0x1234),
			ResultError{Result: 2, ErrorCode: 8, Message: "bye"}.AVP(),
		}},
	},
	{
		name: "HELLO",
		hex: `
			c802 0014 5678 0000 0003 0002    # Length 20
			8008 0000 0000 0006              # Message Type HELLO`,
		msg: Message{Header: v2hdr(0x5678, 0, 3, 2), Type: MsgHELLO},
	},
	{
		name: "OCRQ",
		hex: `
			c802 0063 1234 0000 0001 0002    # Length 99
			8008 0000 0000 0007              # Message Type OCRQ
			8008 0000 000e 0001              # Assigned Session ID 1
			800a 0000 000f 00000064          # Call Serial Number 100
			800a 0000 0010 0000fa00          # Minimum BPS 64000
			800a 0000 0011 05f5e100          # Maximum BPS 100000000
			800a 0000 0012 00000001          # Bearer Type digital
			800a 0000 0013 00000001          # Framing Type sync
			800d 0000 0015 35353531323334    # Called Number "5551234"
			8008 0000 0017 3132              # Sub-Address "12"`,
		msg: Message{Header: v2hdr(0x1234, 0, 1, 2), Type: MsgOCRQ, AVPs: []AVP{
			NewUint16(AVPAssignedSessionID, 1),
			NewUint32(AVPCallSerialNumber, 100),
			NewUint32(AVPMinimumBPS, 64000),
			NewUint32(AVPMaximumBPS, 100000000),
			NewUint32(AVPBearerType, BearerDigital),
			NewUint32(AVPFramingType, FramingSync),
			NewString(AVPCalledNumber, "5551234"),
			NewString(AVPSubAddress, "12"),
		}},
	},
	{
		name: "OCRP",
		hex: `
			c802 0026 5678 0001 0002 0002    # Length 38, Session 1
			8008 0000 0000 0008              # Message Type OCRP
			8008 0000 000e 0002              # Assigned Session ID 2
			000a 0000 0019 00000007          # Physical Channel ID 7`,
		msg: Message{Header: v2hdr(0x5678, 1, 2, 2), Type: MsgOCRP, AVPs: []AVP{
			NewUint16(AVPAssignedSessionID, 2),
			NewUint32(AVPPhysicalChannelID, 7),
		}},
	},
	{
		name: "OCCN",
		hex: `
			c802 0038 5678 0001 0003 0002    # Length 56
			8008 0000 0000 0009              # Message Type OCCN
			800a 0000 0018 05f5e100          # (Tx) Connect Speed 100000000
			800a 0000 0013 00000001          # Framing Type sync
			000a 0000 0026 02faf080          # Rx Connect Speed 50000000
			8006 0000 0027                   # Sequencing Required`,
		msg: Message{Header: v2hdr(0x5678, 1, 3, 2), Type: MsgOCCN, AVPs: []AVP{
			NewUint32(AVPTxConnectSpeed, 100000000),
			NewUint32(AVPFramingType, FramingSync),
			NewUint32(AVPRxConnectSpeed, 50000000),
			NewEmpty(AVPSequencingRequired),
		}},
	},
	{
		name: "ICRQ",
		hex: `
			c802 0055 5678 0000 0004 0003    # Length 85
			8008 0000 0000 000a              # Message Type ICRQ
			8008 0000 000e 0003              # Assigned Session ID 3
			800a 0000 000f 00000001          # Call Serial Number 1
			800a 0000 0012 00000002          # Bearer Type analog
			000a 0000 0019 00000009          # Physical Channel ID 9
			800a 0000 0016 30313233          # Calling Number "0123"
			800a 0000 0015 34353637          # Called Number "4567"
			8007 0000 0017 39                # Sub-Address "9"`,
		msg: Message{Header: v2hdr(0x5678, 0, 4, 3), Type: MsgICRQ, AVPs: []AVP{
			NewUint16(AVPAssignedSessionID, 3),
			NewUint32(AVPCallSerialNumber, 1),
			NewUint32(AVPBearerType, BearerAnalog),
			NewUint32(AVPPhysicalChannelID, 9),
			NewString(AVPCallingNumber, "0123"),
			NewString(AVPCalledNumber, "4567"),
			NewString(AVPSubAddress, "9"),
		}},
	},
	{
		name: "ICRP",
		hex: `
			c802 001c 1234 0003 0002 0005    # Length 28, Session 3
			8008 0000 0000 000b              # Message Type ICRP
			8008 0000 000e 0004              # Assigned Session ID 4`,
		msg: Message{Header: v2hdr(0x1234, 3, 2, 5), Type: MsgICRP, AVPs: []AVP{
			NewUint16(AVPAssignedSessionID, 4),
		}},
	},
	{
		name: "ICCN with proxy LCP and proxy authentication",
		hex: `
			c802 008f 5678 0004 0005 0003    # Length 143, Session 4
			8008 0000 0000 000c              # Message Type ICCN
			800a 0000 0018 00989680          # (Tx) Connect Speed 10000000
			800a 0000 0013 00000001          # Framing Type sync
			000a 0000 001a 010405d4          # Initial Received LCP CONFREQ: MRU 1492
			000c 0000 001b 050612345678      # Last Sent LCP CONFREQ: Magic-Number
			000a 0000 001c 010405dc          # Last Received LCP CONFREQ: MRU 1500
			0008 0000 001d 0002              # Proxy Authen Type: PPP CHAP
			000a 0000 001e 75736572          # Proxy Authen Name "user"
			000a 0000 001f 11223344          # Proxy Authen Challenge
			0008 0000 0020 0005              # Proxy Authen ID: reserved octet, ID 5
			000a 0000 0021 aabbccdd          # Proxy Authen Response
			0009 0000 0025 677270            # Private Group ID "grp"
			000a 0000 0026 00989680          # Rx Connect Speed 10000000
			8006 0000 0027                   # Sequencing Required`,
		msg: Message{Header: v2hdr(0x5678, 4, 5, 3), Type: MsgICCN, AVPs: []AVP{
			NewUint32(AVPTxConnectSpeed, 10000000),
			NewUint32(AVPFramingType, FramingSync),
			NewBytes(AVPInitialReceivedLCPConfReq, h("010405d4")),
			NewBytes(AVPLastSentLCPConfReq, h("050612345678")),
			NewBytes(AVPLastReceivedLCPConfReq, h("010405dc")),
			NewUint16(AVPProxyAuthenType, ProxyAuthenCHAP),
			NewString(AVPProxyAuthenName, "user"),
			NewBytes(AVPProxyAuthenChallenge, h("11223344")),
			NewProxyAuthenID(5),
			NewBytes(AVPProxyAuthenResponse, h("aabbccdd")),
			NewString(AVPPrivateGroupID, "grp"),
			NewUint32(AVPRxConnectSpeed, 10000000),
			NewEmpty(AVPSequencingRequired),
		}},
	},
	{
		name: "CDN with Q.931 and PPP disconnect causes",
		hex: `
			c802 003b 1234 0003 0003 0006    # Length 59, Session 3
			8008 0000 0000 000e              # Message Type CDN
			8008 0000 0001 0003              # Result Code 3 (administrative), no Error Code
			8008 0000 000e 0004              # Assigned Session ID 4
			800b 0000 000c 0010 45 6f6b      # Q.931 Cause Code 16, message 0x45, advisory "ok"
			000c 0000 002e 0003 c021 02 78   # PPP Disconnect Cause 3, protocol LCP, local, "x"`,
		msg: Message{Header: v2hdr(0x1234, 3, 3, 6), Type: MsgCDN, AVPs: []AVP{
			ResultError{Result: uint16(CDNAdministrative)}.AVP(),
			NewUint16(AVPAssignedSessionID, 4),
			Q931Cause{Cause: 16, Msg: 0x45, Advisory: "ok"}.AVP(),
			PPPDisconnectCause{Code: 3, Protocol: 0xc021, Direction: PPPDisconnectLocal, Message: "x"}.AVP(),
		}},
	},
	{
		name: "WEN",
		hex: `
			c802 0034 1234 0003 0004 0006    # Length 52
			8008 0000 0000 000f              # Message Type WEN
			8020 0000 0022 0000 00000001 00000002 00000003 00000004 00000005 00000006  # Call Errors`,
		msg: Message{Header: v2hdr(0x1234, 3, 4, 6), Type: MsgWEN, AVPs: []AVP{
			CallErrors{1, 2, 3, 4, 5, 6}.AVP(),
		}},
	},
	{
		name: "SLI",
		hex: `
			c802 0024 1234 0003 0005 0006    # Length 36
			8008 0000 0000 0010              # Message Type SLI
			8010 0000 0023 0000 ffffffff 00000000  # ACCM: send all, receive none`,
		msg: Message{Header: v2hdr(0x1234, 3, 5, 6), Type: MsgSLI, AVPs: []AVP{
			ACCM{Send: 0xffffffff}.AVP(),
		}},
	},
	{
		name: "ZLB",
		hex:  `c802 000c 5678 0000 0004 0003  # Length 12: header only`,
		msg:  Message{Header: v2hdr(0x5678, 0, 4, 3)},
	},
}

// goldenV3 covers every RFC 3931 message type (§6.1-§6.15) and the ZLB, over UDP.
var goldenV3 = []goldenCase{
	{
		name: "SCCRQ",
		hex: `
			c803 0080 00000000 0000 0000     # T,L,S Ver=3, Length 128, Control Connection ID 0, Ns 0, Nr 0
			8008 0000 0000 0001              # Message Type SCCRQ
			800c 0000 0007 6c6363652d61      # Host Name "lcce-a"
			800a 0000 003c 0a000001          # Router ID
			800a 0000 003d 11223344          # Assigned Control Connection ID
			800c 0000 003e 0005 0004 0007    # Pseudowire Capabilities: Ethernet, Ethernet VLAN, PPP
			8008 0000 000a 0010              # Receive Window Size 16
			000e 0000 0005 0102030405060708  # Control Connection Tie Breaker
			000c 0000 0008 70726f626f78      # Vendor Name "probox"
			0008 0000 0048 656e              # Preferred Language "en"
			8016 0000 0049 000102030405060708090a0b0c0d0e0f  # Control Message Authentication Nonce`,
		msg: Message{Header: v3hdr(0, 0, 0), Type: MsgSCCRQ, AVPs: []AVP{
			NewString(AVPHostName, "lcce-a"),
			NewUint32(AVPRouterID, 0x0a000001),
			NewUint32(AVPAssignedControlConnID, 0x11223344),
			NewPseudowireCapabilities(PWEthernet, PWEthernetVLAN, PWPPP),
			NewUint16(AVPReceiveWindowSize, 16),
			NewUint64(AVPControlConnTieBreaker, 0x0102030405060708),
			NewString(AVPVendorName, "probox"),
			NewString(AVPPreferredLanguage, "en"),
			NewNonce(h("000102030405060708090a0b0c0d0e0f")),
		}},
	},
	{
		name: "SCCRP",
		hex: `
			c803 0046 11223344 0000 0001     # Length 70
			8008 0000 0000 0002              # Message Type SCCRP
			800c 0000 0007 6c6363652d62      # Host Name "lcce-b"
			800a 0000 003c 0a000002          # Router ID
			800a 0000 003d 55667788          # Assigned Control Connection ID
			8008 0000 003e 0005              # Pseudowire Capabilities: Ethernet
			800a 0000 0049 a1a2a3a4          # Control Message Authentication Nonce`,
		msg: Message{Header: v3hdr(0x11223344, 0, 1), Type: MsgSCCRP, AVPs: []AVP{
			NewString(AVPHostName, "lcce-b"),
			NewUint32(AVPRouterID, 0x0a000002),
			NewUint32(AVPAssignedControlConnID, 0x55667788),
			NewPseudowireCapabilities(PWEthernet),
			NewNonce(h("a1a2a3a4")),
		}},
	},
	{
		name: "SCCCN with zeroed Message Digest",
		hex: `
			c803 002b 55667788 0001 0001     # Length 43
			8008 0000 0000 0003              # Message Type SCCCN
			8017 0000 003b 00 00000000000000000000000000000000  # Message Digest, HMAC-MD5`,
		msg: Message{Header: v3hdr(0x55667788, 1, 1), Type: MsgSCCCN, AVPs: []AVP{
			NewMessageDigest(DigestHMACMD5),
		}},
	},
	{
		name: "StopCCN",
		hex: `
			c803 0026 55667788 0002 0001     # Length 38
			8008 0000 0000 0004              # Message Type StopCCN
			8008 0000 0001 0001              # Result Code 1 (general request)
			800a 0000 003d 11223344          # Assigned Control Connection ID`,
		msg: Message{Header: v3hdr(0x55667788, 2, 1), Type: MsgStopCCN, AVPs: []AVP{
			ResultError{Result: uint16(StopCCNGeneralRequest)}.AVP(),
			NewUint32(AVPAssignedControlConnID, 0x11223344),
		}},
	},
	{
		name: "HELLO",
		hex: `
			c803 0014 55667788 0003 0001     # Length 20
			8008 0000 0000 0006              # Message Type HELLO`,
		msg: Message{Header: v3hdr(0x55667788, 3, 1), Type: MsgHELLO},
	},
	{
		name: "ICRQ",
		hex: `
			c803 009d 55667788 0004 0001     # Length 157
			8008 0000 0000 000a              # Message Type ICRQ
			800a 0000 003f aabbccdd          # Local Session ID
			800a 0000 0040 00000000          # Remote Session ID (not known yet)
			800a 0000 000f 0000002a          # Serial Number 42
			8008 0000 0044 0005              # Pseudowire Type Ethernet
			8009 0000 0042 707731            # Remote End ID "pw1"
			8008 0000 0047 0003              # Circuit Status New, Active
			800e 0000 0041 0102030405060708  # Assigned Cookie, 64 bits
			000e 0000 0005 1112131415161718  # Session Tie Breaker
			8008 0000 0045 0001              # L2-Specific Sublayer: default
			8008 0000 0046 0002              # Data Sequencing: all packets
			000e 0000 004a 000000003b9aca00  # Tx Connect Speed 1e9 b/s
			000e 0000 004b 000000003b9aca00  # Rx Connect Speed 1e9 b/s
			000a 0000 0019 00000001          # Physical Channel ID 1`,
		msg: Message{Header: v3hdr(0x55667788, 4, 1), Type: MsgICRQ, AVPs: []AVP{
			NewUint32(AVPLocalSessionID, 0xaabbccdd),
			NewUint32(AVPRemoteSessionID, 0),
			NewUint32(AVPSerialNumber, 42),
			NewUint16(AVPPseudowireType, uint16(PWEthernet)),
			NewString(AVPRemoteEndID, "pw1"),
			NewUint16(AVPCircuitStatus, CircuitNew|CircuitActive),
			NewBytes(AVPAssignedCookie, h("0102030405060708")),
			NewUint64(AVPSessionTieBreaker, 0x1112131415161718),
			NewUint16(AVPL2SpecificSublayer, L2SSDefault),
			NewUint16(AVPDataSequencing, DataSeqAll),
			NewUint64(AVPTxConnectSpeedBPS, 1e9),
			NewUint64(AVPRxConnectSpeedBPS, 1e9),
			NewUint32(AVPPhysicalChannelID, 1),
		}},
	},
	{
		name: "ICRP",
		hex: `
			c803 004a 11223344 0001 0005     # Length 74
			8008 0000 0000 000b              # Message Type ICRP
			800a 0000 003f 01020304          # Local Session ID
			800a 0000 0040 aabbccdd          # Remote Session ID
			8008 0000 0047 0001              # Circuit Status Active
			800a 0000 0041 c0c1c2c3          # Assigned Cookie, 32 bits
			8008 0000 0045 0001              # L2-Specific Sublayer: default
			8008 0000 0046 0000              # Data Sequencing: none`,
		msg: Message{Header: v3hdr(0x11223344, 1, 5), Type: MsgICRP, AVPs: []AVP{
			NewUint32(AVPLocalSessionID, 0x01020304),
			NewUint32(AVPRemoteSessionID, 0xaabbccdd),
			NewUint16(AVPCircuitStatus, CircuitActive),
			NewBytes(AVPAssignedCookie, h("c0c1c2c3")),
			NewUint16(AVPL2SpecificSublayer, L2SSDefault),
			NewUint16(AVPDataSequencing, DataSeqNone),
		}},
	},
	{
		name: "ICCN",
		hex: `
			c803 003e 55667788 0005 0002     # Length 62
			8008 0000 0000 000c              # Message Type ICCN
			800a 0000 003f aabbccdd          # Local Session ID
			800a 0000 0040 01020304          # Remote Session ID
			8008 0000 0047 0001              # Circuit Status Active
			000e 0000 004a 000000003b9aca00  # Tx Connect Speed`,
		msg: Message{Header: v3hdr(0x55667788, 5, 2), Type: MsgICCN, AVPs: []AVP{
			NewUint32(AVPLocalSessionID, 0xaabbccdd),
			NewUint32(AVPRemoteSessionID, 0x01020304),
			NewUint16(AVPCircuitStatus, CircuitActive),
			NewUint64(AVPTxConnectSpeedBPS, 1e9),
		}},
	},
	{
		name: "OCRQ",
		hex: `
			c803 0049 11223344 0002 0006     # Length 73
			8008 0000 0000 0007              # Message Type OCRQ
			800a 0000 003f 0a0b0c0d          # Local Session ID
			800a 0000 0040 00000000          # Remote Session ID
			800a 0000 000f 00000007          # Serial Number 7
			8008 0000 0044 0007              # Pseudowire Type PPP
			8007 0000 0042 78                # Remote End ID "x"
			8008 0000 0047 0003              # Circuit Status New, Active`,
		msg: Message{Header: v3hdr(0x11223344, 2, 6), Type: MsgOCRQ, AVPs: []AVP{
			NewUint32(AVPLocalSessionID, 0x0a0b0c0d),
			NewUint32(AVPRemoteSessionID, 0),
			NewUint32(AVPSerialNumber, 7),
			NewUint16(AVPPseudowireType, uint16(PWPPP)),
			NewString(AVPRemoteEndID, "x"),
			NewUint16(AVPCircuitStatus, CircuitNew|CircuitActive),
		}},
	},
	{
		name: "OCRP",
		hex: `
			c803 003a 55667788 0006 0003     # Length 58
			8008 0000 0000 0008              # Message Type OCRP
			800a 0000 003f 01010101          # Local Session ID
			800a 0000 0040 0a0b0c0d          # Remote Session ID
			8008 0000 0047 0001              # Circuit Status Active
			000a 0000 0019 00000003          # Physical Channel ID 3`,
		msg: Message{Header: v3hdr(0x55667788, 6, 3), Type: MsgOCRP, AVPs: []AVP{
			NewUint32(AVPLocalSessionID, 0x01010101),
			NewUint32(AVPRemoteSessionID, 0x0a0b0c0d),
			NewUint16(AVPCircuitStatus, CircuitActive),
			NewUint32(AVPPhysicalChannelID, 3),
		}},
	},
	{
		name: "OCCN",
		hex: `
			c803 0030 55667788 0007 0003     # Length 48
			8008 0000 0000 0009              # Message Type OCCN
			800a 0000 003f 01010101          # Local Session ID
			800a 0000 0040 0a0b0c0d          # Remote Session ID
			8008 0000 0047 0001              # Circuit Status Active`,
		msg: Message{Header: v3hdr(0x55667788, 7, 3), Type: MsgOCCN, AVPs: []AVP{
			NewUint32(AVPLocalSessionID, 0x01010101),
			NewUint32(AVPRemoteSessionID, 0x0a0b0c0d),
			NewUint16(AVPCircuitStatus, CircuitActive),
		}},
	},
	{
		name: "CDN",
		hex: `
			c803 0030 55667788 0008 0003     # Length 48
			8008 0000 0000 000e              # Message Type CDN
			8008 0000 0001 000e              # Result Code 14 (unsupported PW type)
			800a 0000 003f 01010101          # Local Session ID
			800a 0000 0040 0a0b0c0d          # Remote Session ID`,
		msg: Message{Header: v3hdr(0x55667788, 8, 3), Type: MsgCDN, AVPs: []AVP{
			ResultError{Result: uint16(CDNUnsupportedPW)}.AVP(),
			NewUint32(AVPLocalSessionID, 0x01010101),
			NewUint32(AVPRemoteSessionID, 0x0a0b0c0d),
		}},
	},
	{
		name: "WEN",
		hex: `
			c803 0048 55667788 0009 0003     # Length 72
			8008 0000 0000 000f              # Message Type WEN
			800a 0000 003f 01010101          # Local Session ID
			800a 0000 0040 0a0b0c0d          # Remote Session ID
			8020 0000 0022 0000 00000000 00000000 0000000a 00000000 00000000 00000001  # Circuit Errors`,
		msg: Message{Header: v3hdr(0x55667788, 9, 3), Type: MsgWEN, AVPs: []AVP{
			NewUint32(AVPLocalSessionID, 0x01010101),
			NewUint32(AVPRemoteSessionID, 0x0a0b0c0d),
			CallErrors{HardwareOverruns: 10, AlignmentErrors: 1}.AVP(),
		}},
	},
	{
		name: "SLI",
		hex: `
			c803 0030 55667788 000a 0003     # Length 48
			8008 0000 0000 0010              # Message Type SLI
			800a 0000 003f 01010101          # Local Session ID
			800a 0000 0040 0a0b0c0d          # Remote Session ID
			8008 0000 0047 0000              # Circuit Status: inactive`,
		msg: Message{Header: v3hdr(0x55667788, 10, 3), Type: MsgSLI, AVPs: []AVP{
			NewUint32(AVPLocalSessionID, 0x01010101),
			NewUint32(AVPRemoteSessionID, 0x0a0b0c0d),
			NewUint16(AVPCircuitStatus, 0),
		}},
	},
	{
		name: "ACK",
		hex: `
			c803 0014 55667788 000b 0003     # Length 20
			8008 0000 0000 0014              # Message Type ACK (20)`,
		msg: Message{Header: v3hdr(0x55667788, 11, 3), Type: MsgACK},
	},
	{
		name: "ZLB",
		hex:  `c803 000c 55667788 000b 0004  # Length 12: header only`,
		msg:  Message{Header: v3hdr(0x55667788, 11, 4)},
	},
}

var cmpMsg = cmpopts.EquateEmpty()

func TestGoldenMessages(t *testing.T) {
	for _, set := range []struct {
		name  string
		cases []goldenCase
	}{{"v2", goldenV2}, {"v3", goldenV3}} {
		for _, tc := range set.cases {
			t.Run(set.name+"/"+tc.name, func(t *testing.T) {
				wire := unhex(t, tc.hex)

				got, err := Parse(wire, nil)
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if diff := cmp.Diff(tc.msg, got, cmpMsg); diff != "" {
					t.Errorf("Parse mismatch (-want +got):\n%s", diff)
				}

				b, err := tc.msg.Marshal(nil)
				if err != nil {
					t.Fatalf("Marshal: %v", err)
				}
				if diff := cmp.Diff(wire, b); diff != "" {
					t.Errorf("Marshal mismatch (-want +got):\n%s", diff)
				}

				if err := got.Validate(); err != nil {
					t.Errorf("Validate: %v", err)
				}

				control, v, err := ClassifyUDP(wire)
				if err != nil || !control || v != tc.msg.Version {
					t.Errorf("ClassifyUDP = %v, %v, %v; want true, %v, nil", control, v, err, tc.msg.Version)
				}
			})
		}
	}
}

// TestGoldenOverIP checks the L2TPv3-over-IP control form: a zero Session ID before the
// header, not counted by Length (RFC 3931 §4.1.1.2).
func TestGoldenOverIP(t *testing.T) {
	wire := unhex(t, `
		00000000                         # Session ID 0: control
		c803 0014 55667788 0003 0001     # Length 20 (excludes the Session ID)
		8008 0000 0000 0006              # Message Type HELLO`)
	want := Message{Header: v3hdr(0x55667788, 3, 1), Type: MsgHELLO}

	control, err := ClassifyIP(wire)
	if err != nil || !control {
		t.Fatalf("ClassifyIP = %v, %v; want true, nil", control, err)
	}
	got, err := ParseIP(wire, nil)
	if err != nil {
		t.Fatalf("ParseIP: %v", err)
	}
	if diff := cmp.Diff(want, got, cmpMsg); diff != "" {
		t.Errorf("ParseIP mismatch (-want +got):\n%s", diff)
	}
	b, err := want.AppendIP([]byte{0xee}, nil)
	if err != nil {
		t.Fatalf("AppendIP: %v", err)
	}
	if diff := cmp.Diff(append([]byte{0xee}, wire...), b); diff != "" {
		t.Errorf("AppendIP mismatch (-want +got):\n%s", diff)
	}
	if _, err := ParseIP(h("00000001 c803"), nil); err != ErrNotControl {
		t.Errorf("ParseIP(data) error = %v, want ErrNotControl", err)
	}
}
