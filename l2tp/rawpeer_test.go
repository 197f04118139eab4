package l2tp

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/probox/probox/kernel"
	"github.com/probox/probox/kernel/kerneltest"
)

// Tests that drive the engine with hand-built messages from a raw peer, to reach the error
// paths the RFCs name.

const rawTID = 77

// sccrq returns the AVPs of a minimal SCCRQ of version v.
func sccrq(v Version, extra ...AVP) []AVP {
	var avps []AVP
	if v == Version2 {
		avps = []AVP{NewProtocolVersion(1, 0), NewString(AVPHostName, "raw"), NewUint32(AVPFramingCapabilities, FramingSync),
			NewUint16(AVPAssignedTunnelID, rawTID)}
	} else {
		avps = []AVP{NewString(AVPHostName, "raw"), NewUint32(AVPRouterID, 9), NewUint32(AVPAssignedControlConnID, rawTID),
			NewPseudowireCapabilities(PWEthernet, PWPPP)}
	}
	return append(avps, extra...)
}

// rawLNS starts an LNS and a raw peer (192.0.2.9) with tunnel ID rawTID.
func rawLNS(t *testing.T, v Version, encap kernel.Encap, lnsExtra string) (*kerneltest.Network, *node, *rawPeer) {
	t.Helper()
	n := kerneltestNetwork()
	lns := newNode(t, n, "lns", lnsDoc(lnsExtra), "192.0.2.2").start()
	return n, lns, newRawPeer(t, n, v, encap, rawTID, "192.0.2.9", "192.0.2.2:1701")
}

// establish runs SCCRQ, SCCRP, SCCCN from the raw peer.
func (r *rawPeer) establish(t *testing.T) {
	t.Helper()
	r.send(MsgSCCRQ, 0, sccrq(r.v)...)
	got := r.recv()
	if len(got) != 1 || got[0].Type != MsgSCCRP {
		t.Fatalf("after SCCRQ got %v, want SCCRP", types(got))
	}
	r.peerTID = assignedTunnelID(&got[0])
	r.send(MsgSCCCN, 0)
	r.recv()
}

// v2ICRQ returns an L2TPv2 ICRQ's AVPs for peer session sid.
func v2ICRQ(sid uint16, extra ...AVP) []AVP {
	return append([]AVP{NewUint16(AVPAssignedSessionID, sid), NewUint32(AVPCallSerialNumber, 1)}, extra...)
}

func v3ICRQ(sid uint32, pw PseudowireType, extra ...AVP) []AVP {
	return append([]AVP{NewUint32(AVPLocalSessionID, sid), NewUint32(AVPRemoteSessionID, 0), NewUint32(AVPSerialNumber, 1),
		NewUint16(AVPPseudowireType, uint16(pw)), NewString(AVPRemoteEndID, ""), NewUint16(AVPCircuitStatus, CircuitActive|CircuitNew)}, extra...)
}

var unknownM = AVP{Vendor: 9999, Type: 1, Mandatory: true, Value: []byte{1}}

// TestDuplicateSCCRQ: a retransmitted SCCRQ (same source, same Assigned Tunnel ID)
// reaches the tunnel it opened and is acknowledged, and no second tunnel is made; over IP
// both copies reach the listener, which finds the tunnel by its index.
func TestDuplicateSCCRQ(t *testing.T) {
	for _, tt := range []struct {
		name  string
		v     Version
		encap kernel.Encap
	}{{"v2 udp", Version2, kernel.EncapUDP}, {"v3 udp", Version3, kernel.EncapUDP}, {"v3 ip", Version3, kernel.EncapIP}} {
		t.Run(tt.name, func(t *testing.T) {
			within(t, func(t *testing.T) {
				_, lns, r := rawLNS(t, tt.v, tt.encap, "")
				first := Message{Header: Header{Version: tt.v}, Type: MsgSCCRQ, AVPs: sccrq(tt.v)}
				r.sendMsg(first)
				r.sendMsg(first)
				got := r.recv()
				if diff := cmp.Diff([]string{"SCCRP", "ZLB"}, types(got)); diff != "" {
					t.Errorf("replies (-want +got):\n%s", diff)
				}
				if len(lns.tunnels()) != 1 {
					t.Errorf("LNS has %d tunnels, want 1", len(lns.tunnels()))
				}
				// A new SCCRQ with another tunnel ID from the same peer is another tunnel.
				r2 := rawPeerOn(t, r.dp, tt.v, tt.encap, 78, "192.0.2.2:1701")
				second := sccrq(tt.v)
				for i, a := range second {
					switch {
					case a.Is(AVPAssignedTunnelID):
						second[i] = NewUint16(a.Type, 78)
					case a.Is(AVPAssignedControlConnID):
						second[i] = NewUint32(a.Type, 78)
					}
				}
				r2.send(MsgSCCRQ, 0, second...)
				if got := types(r2.recv()); len(got) != 1 || got[0] != "SCCRP" {
					t.Errorf("second tunnel got %v", got)
				}
				if len(lns.tunnels()) != 2 {
					t.Errorf("LNS has %d tunnels, want 2", len(lns.tunnels()))
				}
				lns.stop()
			})
		})
	}
}

// TestRawErrors drives RFC error paths and checks the StopCCN or CDN the engine answers.
func TestRawErrors(t *testing.T) {
	type reply struct {
		Type    string
		Result  uint16
		Error   uint16
		Session uint32 // the session the CDN is addressed to (our raw session ID)
	}
	tests := []struct {
		name  string
		v     Version
		lns   string
		setup bool // establish the tunnel first
		drive func(r *rawPeer)
		want  reply
		// tunnelLeft is the LNS tunnel count afterwards.
		tunnelLeft int
	}{
		{name: "SCCRQ with unknown M-bit AVP", v: Version2,
			drive: func(r *rawPeer) { r.send(MsgSCCRQ, 0, sccrq(Version2, unknownM)...) },
			// RFC 2661 §4.1: an unknown M-bit AVP in a tunnel message clears the tunnel.
			want: reply{Type: "StopCCN", Result: 2, Error: 8}},
		{name: "HELLO with unknown M-bit AVP", v: Version2, setup: true,
			drive: func(r *rawPeer) { r.send(MsgHELLO, 0, unknownM) },
			want:  reply{Type: "StopCCN", Result: 2, Error: 8}, tunnelLeft: 1},
		{name: "HELLO with reserved bits and M", v: Version2, setup: true,
			drive: func(r *rawPeer) {
				b, _ := (&Message{Header: Header{Version: Version2, TunnelID: r.peerTID, Ns: r.ns, Nr: r.nr}, Type: MsgHELLO,
					AVPs: []AVP{NewString(AVPHostName, "x")}}).Marshal(nil)
				b[12+8] |= 0x04 // a reserved bit of the second AVP's header (RFC 2661 §4.1)
				r.tn.WriteControl(b)
				r.ns++
			},
			want: reply{Type: "StopCCN", Result: 2, Error: 8}, tunnelLeft: 1},
		{name: "ICRQ with unknown M-bit AVP", v: Version2, setup: true,
			drive: func(r *rawPeer) { r.send(MsgICRQ, 0, v2ICRQ(5, unknownM)...) },
			// ... and in a session message clears only the session.
			want: reply{Type: "CDN", Result: 2, Error: 8, Session: 5}, tunnelLeft: 1},
		{name: "ICRQ with unknown optional AVP is accepted", v: Version2, setup: true,
			drive: func(r *rawPeer) { r.send(MsgICRQ, 0, v2ICRQ(5, AVP{Vendor: 9999, Type: 1, Value: []byte{1}})...) },
			want:  reply{Type: "ICRP", Session: 5}, tunnelLeft: 1},
		{name: "unknown mandatory message", v: Version2, setup: true,
			drive: func(r *rawPeer) { r.send(MessageType(50), 0) },
			want:  reply{Type: "StopCCN", Result: 2, Error: 3}, tunnelLeft: 1},
		{name: "bad protocol version", v: Version2,
			drive: func(r *rawPeer) {
				avps := sccrq(Version2)
				avps[0] = NewProtocolVersion(2, 0)
				r.send(MsgSCCRQ, 0, avps...)
			},
			// RFC 2661 §4.4.2: result 5, the Error Code is the highest version supported.
			want: reply{Type: "StopCCN", Result: 5, Error: 0x0100}, tunnelLeft: 1},
		{name: "receive window 0", v: Version2,
			drive: func(r *rawPeer) { r.send(MsgSCCRQ, 0, sccrq(Version2, NewUint16(AVPReceiveWindowSize, 0))...) },
			want:  reply{Type: "StopCCN", Result: 2, Error: 3}, tunnelLeft: 1},
		{name: "SCCRQ in an established tunnel", v: Version2, setup: true,
			drive: func(r *rawPeer) { r.send(MsgSCCRQ, 0, sccrq(Version2)...) },
			// RFC 2661 §7.2.1 established: "Receive SCCRQ → Send StopCCN, clean up".
			want: reply{Type: "StopCCN", Result: 7}, tunnelLeft: 1},
		{name: "ICRQ before SCCCN", v: Version2,
			drive: func(r *rawPeer) {
				r.send(MsgSCCRQ, 0, sccrq(Version2)...)
				got := r.recv()
				r.peerTID = assignedTunnelID(&got[0])
				r.send(MsgICRQ, 0, v2ICRQ(5)...)
			},
			// RFC 2661 §4.4.2: CDN result 2, error 1, "no control connection exists yet".
			want: reply{Type: "CDN", Result: 2, Error: 1, Session: 5}, tunnelLeft: 1},
		{name: "ICCN for no ICRP", v: Version2, setup: true,
			drive: func(r *rawPeer) {
				r.send(MsgICRQ, 0, v2ICRQ(5)...)
				got := r.recv()
				sid := uint16(peerSessionIDOf(&got[len(got)-1]))
				r.send(MsgICRP, sid, NewUint16(AVPAssignedSessionID, 5))
			},
			// RFC 2661 §7.4.2 wait-connect: "Receive ICRQ, ICRP → Send CDN, clean up".
			want: reply{Type: "CDN", Result: 2, Session: 5}, tunnelLeft: 1},
		{name: "OCRQ on a network-initiated tunnel", v: Version2, setup: true,
			drive: func(r *rawPeer) {
				r.send(MsgOCRQ, 0, NewUint16(AVPAssignedSessionID, 5), NewUint32(AVPCallSerialNumber, 1), NewUint32(AVPMinimumBPS, 0),
					NewUint32(AVPMaximumBPS, 1), NewUint32(AVPBearerType, 1), NewUint32(AVPFramingType, 1), NewString(AVPCalledNumber, "1"))
			},
			want: reply{Type: "CDN", Result: 5, Session: 5}, tunnelLeft: 1},
		{name: "v3 unsupported pseudowire", v: Version3, setup: true,
			drive: func(r *rawPeer) { r.send(MsgICRQ, 0, v3ICRQ(5, PWHDLC)...) },
			// RFC 3931 §5.4.2 result 14.
			want: reply{Type: "CDN", Result: 14, Session: 5}, tunnelLeft: 1},
		{name: "v3 sequencing without sublayer", v: Version3, setup: true,
			drive: func(r *rawPeer) {
				r.send(MsgICRQ, 0, v3ICRQ(5, PWEthernet, NewUint16(AVPDataSequencing, DataSeqAll), NewUint16(AVPL2SpecificSublayer, L2SSNone))...)
			},
			// RFC 3931 §5.4.2 result 15.
			want: reply{Type: "CDN", Result: 15, Session: 5}, tunnelLeft: 1},
		{name: "v3 SCCRQ without the digest the profile requires", v: Version3,
			lns:   "[tunnel_profile.default]\nversion = 3\ndigest = \"md5\"\nsecret = \"k\"\n",
			drive: func(r *rawPeer) { r.send(MsgSCCRQ, 0, sccrq(Version3)...) },
			want:  reply{Type: "StopCCN", Result: 4}},
		{name: "max_sessions", v: Version2, setup: true, lns: "[tunnel_profile.default]\nmax_sessions = 1\n",
			drive: func(r *rawPeer) {
				r.send(MsgICRQ, 0, v2ICRQ(4)...)
				r.recv()
				r.send(MsgICRQ, 0, v2ICRQ(5)...)
			},
			want: reply{Type: "CDN", Result: 4, Session: 5}, tunnelLeft: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			within(t, func(t *testing.T) {
				_, lns, r := rawLNS(t, tt.v, kernel.EncapUDP, tt.lns)
				if tt.setup {
					r.establish(t)
				}
				tt.drive(r)
				var got reply
				for _, m := range r.recv() {
					if m.IsZLB() {
						continue
					}
					got = reply{Type: m.Type.String()}
					if m.Type == MsgStopCCN || m.Type == MsgCDN {
						res := resultOf(t, m)
						got.Result, got.Error = res.Result, res.ErrorCode
					}
					if m.Type.IsSession() {
						got.Session = uint32(m.SessionID)
						if m.Version == Version3 {
							got.Session = (&tunnel{}).sessionIDOf(&m)
						}
					}
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("last reply (-want +got):\n%s", diff)
				}
				if n := len(lns.tunnels()); n != tt.tunnelLeft {
					t.Errorf("LNS has %d tunnels, want %d", n, tt.tunnelLeft)
				}
				lns.stop()
			})
		})
	}
}

// TestWENAndSLI: WAN-Error-Notify counters are recorded in the session's statistics and
// Set-Link-Info is accepted (RFC 2661 §6.15, §6.16); both are only acknowledged.
func TestWENAndSLI(t *testing.T) {
	within(t, func(t *testing.T) {
		_, lns, r := rawLNS(t, Version2, kernel.EncapUDP, "")
		r.establish(t)
		r.send(MsgICRQ, 0, v2ICRQ(5)...)
		got := r.recv()
		sid := uint16(peerSessionIDOf(&got[len(got)-1]))
		r.send(MsgICCN, sid, NewUint32(AVPTxConnectSpeed, 1e6), NewUint32(AVPFramingType, FramingSync))
		r.send(MsgWEN, sid, CallErrors{CRCErrors: 3, AlignmentErrors: 1}.AVP())
		r.send(MsgSLI, sid, ACCM{Send: 0xffffffff, Receive: 0}.AVP())
		if got := types(r.recv()); len(got) != 0 && (len(got) != 1 || got[0] != "ZLB") {
			t.Errorf("replies %v, want only an acknowledgement", got)
		}
		ss := lns.sessions()
		if len(ss) != 1 || ss[0].State != "established" || ss[0].SLIs != 1 || ss[0].TxConnectSpeed != 1e6 {
			t.Fatalf("session %+v", ss)
		}
		if diff := cmp.Diff(&CallErrors{CRCErrors: 3, AlignmentErrors: 1}, ss[0].WANErrors); diff != "" {
			t.Errorf("WAN errors (-want +got):\n%s", diff)
		}
		lns.stop()
	})
}

// TestLACFollowsAnswerPort has the LNS answer the LAC's SCCRQ (sent to port 1701) from
// another port, as RFC 2661 §8.1 allows: the LAC takes the SCCRP, sends its SCCCN and
// everything after to that port, and its data plane tunnel is connected there.
func TestLACFollowsAnswerPort(t *testing.T) {
	within(t, func(t *testing.T) {
		n := kerneltestNetwork()
		lnsDP := n.Dataplane("raw", netip.MustParseAddr("192.0.2.2"))
		l, err := lnsDP.Listen(kernel.ListenConfig{Encap: kernel.EncapUDP, Addr: netip.MustParseAddrPort("192.0.2.2:1701")})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		lac := newNode(t, n, "lac", lacDoc("192.0.2.2", "", ""), "192.0.2.1").start()
		if _, err := lac.e.CreateTunnel(context.Background(), "lns"); err != nil {
			t.Fatalf("CreateTunnel: %v", err)
		}
		synctest.Wait()
		b := make([]byte, 4096)
		k, src, _, err := l.ReadFrom(b)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Parse(b[:k], nil)
		if err != nil || m.Type != MsgSCCRQ {
			t.Fatalf("listener got %v (%v), want SCCRQ", m.Type, err)
		}
		answer := netip.MustParseAddrPort("192.0.2.2:40000")
		r := rawPeerAt(t, lnsDP, Version2, kernel.EncapUDP, rawTID, answer, src)
		r.peerTID, r.nr = assignedTunnelID(&m), 1
		r.send(MsgSCCRP, 0, sccrq(Version2)...)
		if got := types(r.recv()); len(got) != 1 || got[0] != "SCCCN" {
			t.Fatalf("after the SCCRP from port 40000 got %v, want SCCCN", got)
		}
		ti := lac.only()
		if ti.State != "established" || ti.Peer != answer.String() {
			t.Errorf("LAC tunnel %s with peer %s, want established with %v", ti.State, ti.Peer, answer)
		}
		if st := lac.dp.State(); !strings.Contains(st, "-> "+answer.String()) {
			t.Errorf("LAC data plane not connected to %v:\n%s", answer, st)
		}
		// The HELLO and everything after go to the new port too.
		r.send(MsgHELLO, 0)
		time.Sleep(time.Second) // the delayed acknowledgement
		if got := types(r.recv()); len(got) != 1 || got[0] != "ZLB" {
			t.Errorf("after a HELLO got %v, want ZLB", got)
		}
		stopAll(lac)
	})
}
