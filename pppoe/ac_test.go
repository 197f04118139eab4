package pppoe

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var (
	hostA = MAC{0x02, 0xaa, 0, 0, 0, 1}
	hostB = MAC{0x02, 0xbb, 0, 0, 0, 2}
	acMAC = MAC{0x02, 0xac, 0, 0, 0, 1}
	vlan  = VLANs{Outer: 100, Inner: 10}
)

func baseACConfig() ACConfig {
	return ACConfig{ACName: "bras-1", Services: []string{"internet", "iptv"}}
}

func newTestAC(t testing.TB, cfg ACConfig) *AC {
	t.Helper()
	ac, err := NewAC(cfg, testRand(7))
	if err != nil {
		t.Fatalf("NewAC: %v", err)
	}
	return ac
}

func mustEncode(t testing.TB, p Packet) []byte {
	t.Helper()
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatalf("MarshalBinary: %v", err)
	}
	return b
}

func from(src MAC, vlans VLANs, payload []byte) Inbound {
	return Inbound{Interface: "eth1", Src: src, VLANs: vlans, Payload: payload}
}

func padiPacket(service string, hu []byte) Packet {
	return Packet{Code: CodePADI, Tags: Tags{ServiceNames: []string{service}, HostUniq: hu}}
}

// replyPacket checks that res carries a reply to in and returns it parsed.
func replyPacket(t testing.TB, res ACResult, in Inbound) Packet {
	t.Helper()
	if res.Reply == nil {
		t.Fatalf("no reply; result %+v", res)
	}
	if res.Reply.Interface != in.Interface || res.Reply.Dst != in.Src || res.Reply.VLANs != in.VLANs {
		t.Errorf("reply addressed to %s %v %v, want %s %v %v", res.Reply.Interface, res.Reply.Dst, res.Reply.VLANs, in.Interface, in.Src, in.VLANs)
	}
	p, err := ParsePacket(res.Reply.Payload)
	if err != nil {
		t.Fatalf("reply does not parse: %v", err)
	}
	return p
}

// offerFor sends a PADI and returns the PADO.
func offerFor(t testing.TB, ac *AC, now time.Time, src MAC, vlans VLANs, padi Packet) Packet {
	t.Helper()
	in := from(src, vlans, mustEncode(t, padi))
	res := ac.Handle(now, in)
	if res.Outcome != OutcomeOffered {
		t.Fatalf("PADI outcome %v (%v, %v), want offered", res.Outcome, res.Reason, res.Err)
	}
	return replyPacket(t, res, in)
}

func padrFor(pado Packet, service string, hu []byte) Packet {
	return Packet{Code: CodePADR, Tags: Tags{
		ServiceNames:   []string{service},
		HostUniq:       hu,
		ACCookie:       pado.Tags.ACCookie,
		RelaySessionID: pado.Tags.RelaySessionID,
	}}
}

// establish runs PADI, PADO, PADR, PADS for a host and returns the PADS result.
func establish(t testing.TB, ac *AC, now time.Time, src MAC, vlans VLANs, service string) ACResult {
	t.Helper()
	hu := []byte(src.String())
	pado := offerFor(t, ac, now, src, vlans, padiPacket(service, hu))
	res := ac.Handle(now, from(src, vlans, mustEncode(t, padrFor(pado, service, hu))))
	if res.Outcome != OutcomeConfirmed {
		t.Fatalf("PADR outcome %v (%v, %v), want confirmed", res.Outcome, res.Reason, res.Err)
	}
	return res
}

func TestACOffer(t *testing.T) {
	bbf := VendorTag{VendorID: VendorBBF, Data: []byte{0x01, 0x02, 'p', '1'}}
	tests := []struct {
		name   string
		config func(*ACConfig)
		padi   Packet
		want   Tags // the PADO's tags, AC-Cookie checked separately
	}{
		{
			name: "any service",
			padi: padiPacket("", hostUniq8),
			want: Tags{ServiceNames: []string{"", "internet", "iptv"}, ACName: "bras-1", HasACName: true, HostUniq: hostUniq8},
		},
		{
			name: "named service comes first",
			padi: padiPacket("iptv", hostUniq8),
			want: Tags{ServiceNames: []string{"iptv", "internet"}, ACName: "bras-1", HasACName: true, HostUniq: hostUniq8},
		},
		{
			name: "no Host-Uniq, none echoed",
			padi: padiPacket("internet", nil),
			want: Tags{ServiceNames: []string{"internet", "iptv"}, ACName: "bras-1", HasACName: true},
		},
		{
			name:   "unknown service accepted with AcceptAnyService",
			config: func(c *ACConfig) { c.AcceptAnyService = true },
			padi:   padiPacket("vod", hostUniq8),
			want:   Tags{ServiceNames: []string{"vod", "internet", "iptv"}, ACName: "bras-1", HasACName: true, HostUniq: hostUniq8},
		},
		{
			name:   "no services configured, any service",
			config: func(c *ACConfig) { c.Services = nil },
			padi:   padiPacket("", hostUniq8),
			want:   Tags{ServiceNames: []string{""}, ACName: "bras-1", HasACName: true, HostUniq: hostUniq8},
		},
		{
			name:   "Relay-Session-Id echoed and PPP-Max-Payload agreed on a jumbo interface",
			config: func(c *ACConfig) { c.Interfaces = map[string]ACInterface{"eth1": {MTU: 1508}} },
			padi: Packet{Code: CodePADI, Tags: Tags{
				ServiceNames: []string{""}, HostUniq: hostUniq8, RelaySessionID: []byte{9, 9}, PPPMaxPayload: 1500,
			}},
			want: Tags{
				ServiceNames: []string{"", "internet", "iptv"}, ACName: "bras-1", HasACName: true,
				HostUniq: hostUniq8, RelaySessionID: []byte{9, 9}, PPPMaxPayload: 1500,
			},
		},
		{
			name: "PPP-Max-Payload beyond the MTU not agreed",
			padi: Packet{Code: CodePADI, Tags: Tags{ServiceNames: []string{""}, PPPMaxPayload: 1500}},
			want: Tags{ServiceNames: []string{"", "internet", "iptv"}, ACName: "bras-1", HasACName: true},
		},
		{
			name: "PPP-Max-Payload of 1492 agreed on a 1500 MTU",
			padi: Packet{Code: CodePADI, Tags: Tags{ServiceNames: []string{""}, PPPMaxPayload: 1492}},
			want: Tags{ServiceNames: []string{"", "internet", "iptv"}, ACName: "bras-1", HasACName: true, PPPMaxPayload: 1492},
		},
		{
			name: "DSL Forum tag and unknown tags not echoed",
			padi: Packet{Code: CodePADI, Tags: Tags{
				ServiceNames: []string{""}, Vendor: []VendorTag{bbf}, Other: []Tag{{Type: TagCredits, Value: []byte{0, 0, 0, 0}}},
			}},
			want: Tags{ServiceNames: []string{"", "internet", "iptv"}, ACName: "bras-1", HasACName: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := baseACConfig()
			if tt.config != nil {
				tt.config(&cfg)
			}
			ac := newTestAC(t, cfg)
			pado := offerFor(t, ac, t0, hostA, vlan, tt.padi)
			if pado.Code != CodePADO || pado.SessionID != 0 {
				t.Errorf("reply is %v session %#04x, want PADO session 0", pado.Code, pado.SessionID)
			}
			if err := ac.cookies.Verify(t0, "eth1", vlan, hostA, pado.Tags.ACCookie); err != nil {
				t.Errorf("PADO cookie does not verify: %v", err)
			}
			pado.Tags.ACCookie = nil
			if diff := cmp.Diff(tt.want, pado.Tags); diff != "" {
				t.Errorf("PADO tags (-want +got):\n%s", diff)
			}
			if ac.Len() != 0 {
				t.Errorf("a PADI created %d sessions", ac.Len())
			}
		})
	}
}

func TestACDrops(t *testing.T) {
	pado := mustEncode(t, Packet{Code: CodePADO, Tags: Tags{ServiceNames: []string{""}, HasACName: true}})
	pads := mustEncode(t, Packet{Code: CodePADS, SessionID: 1, Tags: Tags{ServiceNames: []string{""}}})
	huge := padiPacket("", make([]byte, 1450))
	tests := []struct {
		name    string
		config  func(*ACConfig)
		in      Inbound
		want    Reason
		wantErr error
	}{
		{name: "multicast source", in: from(MAC{0x01, 0, 0x5e, 0, 0, 1}, vlan, mustEncode(t, padiPacket("", nil))), want: ReasonBadSource},
		{name: "zero source", in: from(MAC{}, vlan, mustEncode(t, padiPacket("", nil))), want: ReasonBadSource},
		{name: "truncated", in: from(hostA, vlan, []byte{0x11, 0x09, 0}), want: ReasonMalformed, wantErr: io.ErrUnexpectedEOF},
		{name: "PADI with session id", in: from(hostA, vlan, unhex(t, `11 09 0001 0004 0101 0000`)), want: ReasonMalformed, wantErr: ErrSessionID},
		{name: "PADO sent to the AC", in: from(hostA, vlan, pado), want: ReasonUnexpectedCode, wantErr: ErrCode},
		{name: "PADS sent to the AC", in: from(hostA, vlan, pads), want: ReasonUnexpectedCode, wantErr: ErrCode},
		{name: "unknown service", in: from(hostA, vlan, mustEncode(t, padiPacket("vod", nil))), want: ReasonUnknownService},
		{name: "PADO would exceed the MTU", in: from(hostA, vlan, mustEncode(t, huge)), want: ReasonReplyTooLarge},
		{
			name:   "PADO would exceed a small MTU",
			config: func(c *ACConfig) { c.Interfaces = map[string]ACInterface{"eth1": {MTU: 128}} },
			in:     from(hostA, vlan, mustEncode(t, padiPacket("", make([]byte, 80)))),
			want:   ReasonReplyTooLarge,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := baseACConfig()
			if tt.config != nil {
				tt.config(&cfg)
			}
			res := newTestAC(t, cfg).Handle(t0, tt.in)
			if res.Outcome != OutcomeDropped || res.Reason != tt.want || res.Reply != nil {
				t.Errorf("result %v/%v reply %v, want dropped/%v without reply", res.Outcome, res.Reason, res.Reply != nil, tt.want)
			}
			if tt.wantErr != nil && !errors.Is(res.Err, tt.wantErr) {
				t.Errorf("Err = %v, want %v", res.Err, tt.wantErr)
			}
		})
	}
}

func TestACPADIRateLimit(t *testing.T) {
	cfg := baseACConfig()
	cfg.PADIRate, cfg.PADIBurst = 1, 2
	ac := newTestAC(t, cfg)
	steps := []struct {
		at    time.Duration
		src   MAC
		vlans VLANs
		want  Outcome
	}{
		{0, hostA, vlan, OutcomeOffered},
		{0, hostA, vlan, OutcomeOffered},
		{0, hostA, vlan, OutcomeDropped}, // burst of 2 used up
		{0, hostB, vlan, OutcomeOffered}, // another host has its own bucket
		{0, hostA, VLANs{Outer: 200}, OutcomeOffered},
		{500 * time.Millisecond, hostA, vlan, OutcomeDropped}, // half a token
		{time.Second, hostA, vlan, OutcomeOffered},
		{time.Second, hostA, vlan, OutcomeDropped},
		{0, hostA, vlan, OutcomeDropped}, // time going back refills nothing
		{10 * time.Second, hostA, vlan, OutcomeOffered},
		{10 * time.Second, hostA, vlan, OutcomeOffered}, // refilled to the burst, not beyond
		{10 * time.Second, hostA, vlan, OutcomeDropped},
	}
	for i, s := range steps {
		res := ac.Handle(t0.Add(s.at), from(s.src, s.vlans, mustEncode(t, padiPacket("", nil))))
		if res.Outcome != s.want {
			t.Fatalf("step %d (%v %v at %v): outcome %v/%v, want %v", i, s.src, s.vlans, s.at, res.Outcome, res.Reason, s.want)
		}
		if res.Outcome == OutcomeDropped && res.Reason != ReasonRateLimited {
			t.Fatalf("step %d: reason %v, want rate_limited", i, res.Reason)
		}
	}
}

func TestACPADIFloodBoundedMemory(t *testing.T) {
	cfg := baseACConfig()
	cfg.PADIRate, cfg.PADIRateTable = 1, 8
	ac := newTestAC(t, cfg)
	padi := mustEncode(t, padiPacket("", nil))
	for i := range 1000 {
		src := MAC{0x02, 0, 0, 0, byte(i >> 8), byte(i)}
		if res := ac.Handle(t0, from(src, vlan, padi)); res.Outcome != OutcomeOffered {
			t.Fatalf("PADI %d: outcome %v/%v, want offered", i, res.Outcome, res.Reason)
		}
	}
	if got := ac.limiter.len(); got != 8 {
		t.Errorf("rate table holds %d hosts after a flood, want the bound 8", got)
	}
	if len(ac.limiter.index) != 8 {
		t.Errorf("rate index holds %d hosts, want 8", len(ac.limiter.index))
	}
	if ac.Len() != 0 {
		t.Errorf("PADI flood created %d sessions", ac.Len())
	}
}

func TestACConfirm(t *testing.T) {
	cfg := baseACConfig()
	cfg.Interfaces = map[string]ACInterface{"eth1": {MTU: 1508}}
	ac := newTestAC(t, cfg)
	line := AccessLine{CircuitID: "ge-1/0/3:100", RemoteID: "cpe-42", ActualDataRateUp: 1_000_000, ActualDataRateDown: 16_000_000}
	vt, err := line.VendorTag()
	if err != nil {
		t.Fatalf("VendorTag: %v", err)
	}
	padi := Packet{Code: CodePADI, Tags: Tags{
		ServiceNames: []string{"internet"}, HostUniq: hostUniq8, RelaySessionID: []byte{7}, PPPMaxPayload: 1500, Vendor: []VendorTag{vt},
	}}
	pado := offerFor(t, ac, t0, hostA, vlan, padi)
	padr := padrFor(pado, "internet", hostUniq8)
	padr.Tags.PPPMaxPayload = 1500
	padr.Tags.Vendor = []VendorTag{vt}
	in := from(hostA, vlan, mustEncode(t, padr))
	now := t0.Add(2 * time.Second)
	res := ac.Handle(now, in)
	if res.Outcome != OutcomeConfirmed || res.Err != nil {
		t.Fatalf("PADR outcome %v/%v err %v, want confirmed", res.Outcome, res.Reason, res.Err)
	}
	pads := replyPacket(t, res, in)
	if pads.SessionID == 0 || pads.SessionID == ReservedSessionID {
		t.Fatalf("PADS session ID %#04x", pads.SessionID)
	}
	wantPADS := Packet{Code: CodePADS, SessionID: pads.SessionID, Tags: Tags{
		ServiceNames: []string{"internet"}, ACName: "bras-1", HasACName: true,
		HostUniq: hostUniq8, RelaySessionID: []byte{7}, PPPMaxPayload: 1500,
	}}
	if diff := cmp.Diff(wantPADS, pads); diff != "" {
		t.Errorf("PADS (-want +got):\n%s", diff)
	}
	wantSession := Session{
		Interface: "eth1", ID: pads.SessionID, Peer: hostA, VLANs: vlan, ServiceName: "internet",
		HostUniq: hostUniq8, RelaySessionID: []byte{7}, PPPMaxPayload: 1500,
		AccessLine: line, HasAccessLine: true, Created: now,
	}
	if diff := cmp.Diff(wantSession, res.Session); diff != "" {
		t.Errorf("Session (-want +got):\n%s", diff)
	}
	got, ok := ac.Session("eth1", pads.SessionID)
	if !ok {
		t.Fatal("Session lookup failed")
	}
	if diff := cmp.Diff(wantSession, got); diff != "" {
		t.Errorf("Session lookup (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]Session{wantSession}, ac.Sessions()); diff != "" {
		t.Errorf("Sessions (-want +got):\n%s", diff)
	}
	if _, ok := ac.Session("eth2", pads.SessionID); ok {
		t.Error("Session found on another interface")
	}
}

func TestACConfirmBadAccessLine(t *testing.T) {
	ac := newTestAC(t, baseACConfig())
	pado := offerFor(t, ac, t0, hostA, vlan, padiPacket("", nil))
	padr := padrFor(pado, "", nil)
	padr.Tags.Vendor = []VendorTag{{VendorID: VendorBBF, Data: []byte{0x81, 3, 0, 0, 1}}}
	res := ac.Handle(t0, from(hostA, vlan, mustEncode(t, padr)))
	if res.Outcome != OutcomeConfirmed {
		t.Fatalf("outcome %v/%v, want confirmed", res.Outcome, res.Reason)
	}
	if !errors.Is(res.Err, ErrTagLength) {
		t.Errorf("Err = %v, want ErrTagLength", res.Err)
	}
	if res.Session.HasAccessLine {
		t.Error("HasAccessLine set for an undecodable tag")
	}
}

func TestACPADRRefusals(t *testing.T) {
	tests := []struct {
		name string
		cfg  func(*ACConfig)
		// before runs after host A got its PADO and before its PADR.
		before      func(t *testing.T, ac *AC)
		padr        func(pado Packet) Packet
		at          time.Duration
		src         MAC
		wantOutcome Outcome
		wantReason  Reason
		wantError   ErrorTag // the PADS error tag for OutcomeRefused
	}{
		{
			name:        "cookie missing",
			padr:        func(p Packet) Packet { q := padrFor(p, "", nil); q.Tags.ACCookie = nil; return q },
			wantOutcome: OutcomeDropped, wantReason: ReasonCookieMissing,
		},
		{
			name: "cookie forged",
			padr: func(p Packet) Packet {
				q := padrFor(p, "", nil)
				q.Tags.ACCookie = bytes.Clone(q.Tags.ACCookie)
				q.Tags.ACCookie[3] ^= 0x80
				return q
			},
			wantOutcome: OutcomeDropped, wantReason: ReasonCookieInvalid,
		},
		{
			name:        "cookie of another host",
			padr:        func(p Packet) Packet { return padrFor(p, "", nil) },
			src:         hostB,
			wantOutcome: OutcomeDropped, wantReason: ReasonCookieInvalid,
		},
		{
			name:        "cookie of the previous bucket accepted",
			padr:        func(p Packet) Packet { return padrFor(p, "", nil) },
			at:          45 * time.Second,
			wantOutcome: OutcomeConfirmed,
		},
		{
			name:        "cookie expired",
			padr:        func(p Packet) Packet { return padrFor(p, "", nil) },
			at:          60 * time.Second,
			wantOutcome: OutcomeRefused, wantReason: ReasonCookieExpired,
			wantError: ErrorTag{Type: TagGenericError, Message: "AC-Cookie expired"},
		},
		{
			name:        "unknown service",
			padr:        func(p Packet) Packet { return padrFor(p, "vod", nil) },
			wantOutcome: OutcomeRefused, wantReason: ReasonUnknownService,
			wantError: ErrorTag{Type: TagServiceNameError, Message: "service not offered"},
		},
		{
			name:        "total limit",
			cfg:         func(c *ACConfig) { c.MaxSessions = 1 },
			before:      func(t *testing.T, ac *AC) { establishOn(t, ac, "eth2", hostB, vlan) },
			padr:        func(p Packet) Packet { return padrFor(p, "", nil) },
			wantOutcome: OutcomeRefused, wantReason: ReasonLimitTotal,
			wantError: ErrorTag{Type: TagACSystemError, Message: "session limit reached"},
		},
		{
			name:        "interface limit",
			cfg:         func(c *ACConfig) { c.MaxSessionsPerInterface = 1 },
			before:      func(t *testing.T, ac *AC) { establish(t, ac, t0, hostB, vlan, "") },
			padr:        func(p Packet) Packet { return padrFor(p, "", nil) },
			wantOutcome: OutcomeRefused, wantReason: ReasonLimitInterface,
			wantError: ErrorTag{Type: TagACSystemError, Message: "session limit reached"},
		},
		{
			name:        "interface limit not hit by another interface",
			cfg:         func(c *ACConfig) { c.MaxSessionsPerInterface = 1 },
			before:      func(t *testing.T, ac *AC) { establishOn(t, ac, "eth2", hostB, vlan) },
			padr:        func(p Packet) Packet { return padrFor(p, "", nil) },
			wantOutcome: OutcomeConfirmed,
		},
		{
			name: "MAC limit",
			cfg:  func(c *ACConfig) { c.MaxSessionsPerMAC = 1 },
			before: func(t *testing.T, ac *AC) {
				establish(t, ac, t0, hostA, vlan, "iptv")
			},
			padr:        func(p Packet) Packet { return padrFor(p, "", nil) },
			wantOutcome: OutcomeRefused, wantReason: ReasonLimitMAC,
			wantError: ErrorTag{Type: TagACSystemError, Message: "session limit reached"},
		},
		{
			name:        "MAC limit not hit by the same MAC on another VLAN",
			cfg:         func(c *ACConfig) { c.MaxSessionsPerMAC = 1 },
			before:      func(t *testing.T, ac *AC) { establish(t, ac, t0, hostA, VLANs{Outer: 200}, "") },
			padr:        func(p Packet) Packet { return padrFor(p, "", nil) },
			wantOutcome: OutcomeConfirmed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := baseACConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			ac := newTestAC(t, cfg)
			pado := offerFor(t, ac, t0, hostA, vlan, padiPacket("", nil))
			if tt.before != nil {
				tt.before(t, ac)
			}
			src := hostA
			if tt.src != (MAC{}) {
				src = tt.src
			}
			sessions := ac.Len()
			padr := tt.padr(pado)
			in := from(src, vlan, mustEncode(t, padr))
			res := ac.Handle(t0.Add(tt.at), in)
			if res.Outcome != tt.wantOutcome || res.Reason != tt.wantReason {
				t.Fatalf("outcome %v/%v (err %v), want %v/%v", res.Outcome, res.Reason, res.Err, tt.wantOutcome, tt.wantReason)
			}
			switch tt.wantOutcome {
			case OutcomeDropped:
				if res.Reply != nil {
					t.Error("dropped PADR got a reply")
				}
				if ac.Len() != sessions {
					t.Errorf("sessions %d -> %d on a dropped PADR", sessions, ac.Len())
				}
			case OutcomeRefused:
				pads := replyPacket(t, res, in)
				want := Packet{Code: CodePADS, Tags: Tags{
					ServiceNames: padr.Tags.ServiceNames, ACName: "bras-1", HasACName: true,
					Errors: []ErrorTag{tt.wantError},
				}}
				if diff := cmp.Diff(want, pads); diff != "" {
					t.Errorf("refusal PADS (-want +got):\n%s", diff)
				}
				if ac.Len() != sessions {
					t.Errorf("sessions %d -> %d on a refused PADR", sessions, ac.Len())
				}
			case OutcomeConfirmed:
				if ac.Len() != sessions+1 {
					t.Errorf("sessions %d -> %d on a confirmed PADR", sessions, ac.Len())
				}
			}
		})
	}
}

// establishOn establishes a session of src on iface.
func establishOn(t *testing.T, ac *AC, iface string, src MAC, vlans VLANs) {
	t.Helper()
	in := Inbound{Interface: iface, Src: src, VLANs: vlans, Payload: mustEncode(t, padiPacket("", nil))}
	res := ac.Handle(t0, in)
	pado := replyPacket(t, res, in)
	in.Payload = mustEncode(t, padrFor(pado, "", nil))
	if res := ac.Handle(t0, in); res.Outcome != OutcomeConfirmed {
		t.Fatalf("PADR on %s: %v/%v", iface, res.Outcome, res.Reason)
	}
}

func TestACPADILimits(t *testing.T) {
	tests := []struct {
		name   string
		cfg    func(*ACConfig)
		before func(t *testing.T, ac *AC)
		want   Reason
	}{
		{
			name:   "total",
			cfg:    func(c *ACConfig) { c.MaxSessions = 1 },
			before: func(t *testing.T, ac *AC) { establishOn(t, ac, "eth2", hostB, vlan) },
			want:   ReasonLimitTotal,
		},
		{
			name:   "interface",
			cfg:    func(c *ACConfig) { c.MaxSessionsPerInterface = 1 },
			before: func(t *testing.T, ac *AC) { establish(t, ac, t0, hostB, vlan, "") },
			want:   ReasonLimitInterface,
		},
		{
			name: "MAC",
			cfg:  func(c *ACConfig) { c.MaxSessionsPerMAC = 2 },
			before: func(t *testing.T, ac *AC) {
				establish(t, ac, t0, hostA, vlan, "")
				establish(t, ac, t0, hostA, vlan, "iptv")
			},
			want: ReasonLimitMAC,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := baseACConfig()
			tt.cfg(&cfg)
			ac := newTestAC(t, cfg)
			tt.before(t, ac)
			res := ac.Handle(t0, from(hostA, vlan, mustEncode(t, padiPacket("", nil))))
			if res.Outcome != OutcomeDropped || res.Reason != tt.want || res.Reply != nil {
				t.Errorf("PADI outcome %v/%v, want dropped/%v without a PADO", res.Outcome, res.Reason, tt.want)
			}
		})
	}
}

func TestACDuplicatePADR(t *testing.T) {
	ac := newTestAC(t, baseACConfig())
	pado := offerFor(t, ac, t0, hostA, vlan, padiPacket("internet", hostUniq8))
	padr := mustEncode(t, padrFor(pado, "internet", hostUniq8))
	first := ac.Handle(t0, from(hostA, vlan, padr))
	if first.Outcome != OutcomeConfirmed {
		t.Fatalf("first PADR: %v/%v", first.Outcome, first.Reason)
	}
	again := ac.Handle(t0.Add(2*time.Second), from(hostA, vlan, padr))
	if again.Outcome != OutcomeReconfirmed {
		t.Fatalf("retransmitted PADR: %v/%v, want reconfirmed", again.Outcome, again.Reason)
	}
	if diff := cmp.Diff(first.Reply, again.Reply); diff != "" {
		t.Errorf("PADS for the retransmission differs (-first +again):\n%s", diff)
	}
	if diff := cmp.Diff(first.Session, again.Session); diff != "" {
		t.Errorf("session differs (-first +again):\n%s", diff)
	}
	if ac.Len() != 1 {
		t.Errorf("%d sessions after a retransmitted PADR, want 1", ac.Len())
	}

	// Another Host-Uniq is another session.
	other := padrFor(pado, "internet", []byte("other"))
	if res := ac.Handle(t0.Add(3*time.Second), from(hostA, vlan, mustEncode(t, other))); res.Outcome != OutcomeConfirmed || res.Session.ID == first.Session.ID {
		t.Errorf("PADR with another Host-Uniq: %v, session %#04x (first %#04x), want a new session", res.Outcome, res.Session.ID, first.Session.ID)
	}
	// After the window the same PADR is a new session (the cookie is still valid).
	late := ac.Handle(t0.Add(DefaultDuplicatePADRWindow+time.Second), from(hostA, vlan, padr))
	if late.Outcome != OutcomeConfirmed || late.Session.ID == first.Session.ID {
		t.Errorf("PADR after the window: %v, session %#04x, want a new session", late.Outcome, late.Session.ID)
	}
	if ac.Len() != 3 {
		t.Errorf("%d sessions, want 3", ac.Len())
	}
}

func TestACPADT(t *testing.T) {
	padt := func(id uint16, msg string) []byte {
		p := Packet{Code: CodePADT, SessionID: id}
		if msg != "" {
			p.Tags.Errors = []ErrorTag{{Type: TagGenericError, Message: msg}}
		}
		return mustEncode(t, p)
	}
	tests := []struct {
		name        string
		in          func(id uint16) Inbound
		wantOutcome Outcome
		wantMessage string
	}{
		{name: "from the host", in: func(id uint16) Inbound { return from(hostA, vlan, padt(id, "")) }, wantOutcome: OutcomeTerminated},
		{name: "from the host with a message", in: func(id uint16) Inbound { return from(hostA, vlan, padt(id, "user request")) }, wantOutcome: OutcomeTerminated, wantMessage: "user request"},
		{name: "from another MAC", in: func(id uint16) Inbound { return from(hostB, vlan, padt(id, "")) }, wantOutcome: OutcomeDropped},
		{name: "from another VLAN", in: func(id uint16) Inbound { return from(hostA, VLANs{Outer: 5}, padt(id, "")) }, wantOutcome: OutcomeDropped},
		{name: "on another interface", in: func(id uint16) Inbound {
			in := from(hostA, vlan, padt(id, ""))
			in.Interface = "eth2"
			return in
		}, wantOutcome: OutcomeDropped},
		{name: "unknown session", in: func(id uint16) Inbound { return from(hostA, vlan, padt(id^0x5555, "")) }, wantOutcome: OutcomeDropped},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ac := newTestAC(t, baseACConfig())
			s := establish(t, ac, t0, hostA, vlan, "").Session
			res := ac.Handle(t0.Add(time.Minute), tt.in(s.ID))
			if res.Outcome != tt.wantOutcome || res.Reply != nil {
				t.Fatalf("outcome %v/%v reply %v, want %v without reply", res.Outcome, res.Reason, res.Reply != nil, tt.wantOutcome)
			}
			_, live := ac.Session("eth1", s.ID)
			switch tt.wantOutcome {
			case OutcomeTerminated:
				if diff := cmp.Diff(s, res.Session); diff != "" {
					t.Errorf("terminated session (-want +got):\n%s", diff)
				}
				if res.Message != tt.wantMessage {
					t.Errorf("Message = %q, want %q", res.Message, tt.wantMessage)
				}
				if live || ac.Len() != 0 || len(ac.byPeer) != 0 || len(ac.perIface) != 0 {
					t.Errorf("session left behind: live %v, %d sessions, %d peers, %d interfaces", live, ac.Len(), len(ac.byPeer), len(ac.perIface))
				}
			case OutcomeDropped:
				if res.Reason != ReasonUnknownSession {
					t.Errorf("reason %v, want unknown_session", res.Reason)
				}
				if !live {
					t.Error("a PADT that is not the host's ended the session")
				}
			}
		})
	}
}

func TestACTerminate(t *testing.T) {
	ac := newTestAC(t, baseACConfig())
	pado := offerFor(t, ac, t0, hostA, vlan, Packet{Code: CodePADI, Tags: Tags{ServiceNames: []string{""}, RelaySessionID: []byte{1, 2}}})
	res := ac.Handle(t0, from(hostA, vlan, mustEncode(t, padrFor(pado, "", nil))))
	if res.Outcome != OutcomeConfirmed {
		t.Fatalf("PADR: %v/%v", res.Outcome, res.Reason)
	}
	id := res.Session.ID
	out, s, err := ac.Terminate("eth1", id, "admin disconnect")
	if err != nil {
		t.Fatalf("Terminate: %v", err)
	}
	if diff := cmp.Diff(res.Session, s); diff != "" {
		t.Errorf("terminated session (-want +got):\n%s", diff)
	}
	if out.Interface != "eth1" || out.Dst != hostA || out.VLANs != vlan {
		t.Errorf("PADT addressed to %s %v %v", out.Interface, out.Dst, out.VLANs)
	}
	got, err := ParsePacket(out.Payload)
	if err != nil {
		t.Fatalf("PADT does not parse: %v", err)
	}
	want := Packet{Code: CodePADT, SessionID: id, Tags: Tags{
		RelaySessionID: []byte{1, 2},
		Errors:         []ErrorTag{{Type: TagGenericError, Message: "admin disconnect"}},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("PADT (-want +got):\n%s", diff)
	}
	if ac.Len() != 0 {
		t.Errorf("%d sessions after Terminate", ac.Len())
	}
	if _, _, err := ac.Terminate("eth1", id, ""); !errors.Is(err, ErrNoSession) {
		t.Errorf("second Terminate error = %v, want ErrNoSession", err)
	}

	s2 := establish(t, ac, t0, hostB, vlan, "").Session
	out, _, err = ac.Terminate("eth1", s2.ID, "")
	if err != nil {
		t.Fatalf("Terminate: %v", err)
	}
	if diff := cmp.Diff(unhex(t, fmt.Sprintf("11 a7 %04x 0000", s2.ID)), out.Payload); diff != "" {
		t.Errorf("PADT without message (-want +got):\n%s", diff)
	}
	if _, _, err := ac.Terminate("eth1", s2.ID, string(make([]byte, 0x10000))); !errors.Is(err, ErrNoSession) {
		t.Errorf("Terminate of an ended session = %v, want ErrNoSession", err)
	}
	s3 := establish(t, ac, t0, hostB, vlan, "").Session
	if _, _, err := ac.Terminate("eth1", s3.ID, string(make([]byte, 0x10000))); !errors.Is(err, ErrTooLong) {
		t.Errorf("Terminate with an oversized message = %v, want ErrTooLong", err)
	}
	if _, live := ac.Session("eth1", s3.ID); !live {
		t.Error("a failed Terminate removed the session")
	}
}

// scriptedReader returns the bytes of script, then fails.
type scriptedReader struct{ script []byte }

func (r *scriptedReader) Read(p []byte) (int, error) {
	if len(r.script) == 0 {
		return 0, errors.New("random source exhausted")
	}
	n := copy(p, r.script)
	r.script = r.script[n:]
	return n, nil
}

func TestACSessionIDs(t *testing.T) {
	t.Run("skips 0, 0xffff and live IDs", func(t *testing.T) {
		ac := newTestAC(t, baseACConfig())
		ac.insert(&acSession{Session: Session{Interface: "eth1", ID: 0x0102, Peer: hostB}})
		ac.rand = &scriptedReader{[]byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x02, 0x12, 0x34}}
		id, err := ac.allocID("eth1")
		if err != nil || id != 0x1234 {
			t.Errorf("allocID = %#04x, %v, want 0x1234", id, err)
		}
		// The same ID is free on another interface.
		ac.rand = &scriptedReader{[]byte{0x01, 0x02}}
		if id, err := ac.allocID("eth2"); err != nil || id != 0x0102 {
			t.Errorf("allocID on eth2 = %#04x, %v, want 0x0102", id, err)
		}
	})
	t.Run("scans when nearly full, fails when full", func(t *testing.T) {
		ac := newTestAC(t, baseACConfig())
		for id := 1; id < 0xffff; id++ {
			if id != 0x4242 {
				ac.insert(&acSession{Session: Session{Interface: "eth1", ID: uint16(id), Peer: hostB}})
			}
		}
		ac.rand = testRand(3)
		id, err := ac.allocID("eth1")
		if err != nil || id != 0x4242 {
			t.Fatalf("allocID = %#04x, %v, want the one free ID 0x4242", id, err)
		}
		ac.insert(&acSession{Session: Session{Interface: "eth1", ID: id, Peer: hostB}})
		if _, err := ac.allocID("eth1"); !errors.Is(err, errNoFreeID) {
			t.Errorf("allocID when full = %v, want errNoFreeID", err)
		}
		// A PADR then gets AC-System-Error.
		in := Inbound{Interface: "eth1", Src: hostA, Payload: mustEncode(t, padiPacket("", nil))}
		pado := replyPacket(t, ac.Handle(t0, in), in)
		in.Payload = mustEncode(t, padrFor(pado, "", nil))
		res := ac.Handle(t0, in)
		if res.Outcome != OutcomeRefused || res.Reason != ReasonNoSessionID || !errors.Is(res.Err, errNoFreeID) {
			t.Errorf("PADR when full: %v/%v %v, want refused/no_session_id", res.Outcome, res.Reason, res.Err)
		}
	})
	t.Run("random source failure refuses the PADR", func(t *testing.T) {
		ac := newTestAC(t, baseACConfig())
		pado := offerFor(t, ac, t0, hostA, vlan, padiPacket("", nil))
		ac.rand = &scriptedReader{}
		in := from(hostA, vlan, mustEncode(t, padrFor(pado, "", nil)))
		res := ac.Handle(t0, in)
		if res.Outcome != OutcomeRefused || res.Reason != ReasonNoSessionID || res.Err == nil {
			t.Fatalf("outcome %v/%v err %v, want refused/no_session_id with an error", res.Outcome, res.Reason, res.Err)
		}
		pads := replyPacket(t, res, in)
		if e, _ := pads.Tags.FirstError(); e.Type != TagACSystemError {
			t.Errorf("PADS error tag %v, want AC-System-Error", e)
		}
	})
	t.Run("many sessions get distinct valid IDs", func(t *testing.T) {
		ac := newTestAC(t, baseACConfig())
		seen := make(map[uint16]bool)
		for i := range 2000 {
			s := establish(t, ac, t0, MAC{0x02, 0, 0, 0, byte(i >> 8), byte(i)}, vlan, "").Session
			if s.ID == 0 || s.ID == ReservedSessionID || seen[s.ID] {
				t.Fatalf("session %d got ID %#04x (seen before: %v)", i, s.ID, seen[s.ID])
			}
			seen[s.ID] = true
		}
	})
}

func TestACConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  func(*ACConfig)
		want string // substring of the error, "" for valid
	}{
		{name: "valid", cfg: func(*ACConfig) {}},
		{name: "no AC name", cfg: func(c *ACConfig) { c.ACName = "" }, want: "ACConfig.ACName"},
		{name: "empty service", cfg: func(c *ACConfig) { c.Services = []string{"a", ""} }, want: "ACConfig.Services[1]"},
		{name: "duplicate service", cfg: func(c *ACConfig) { c.Services = []string{"a", "a"} }, want: `duplicate service name "a"`},
		{name: "MTU too small", cfg: func(c *ACConfig) { c.Interfaces = map[string]ACInterface{"eth1": {MTU: 100}} }, want: `Interfaces["eth1"].MTU`},
		{name: "negative limit", cfg: func(c *ACConfig) { c.MaxSessionsPerMAC = -1 }, want: "ACConfig.MaxSessionsPerMAC"},
		{name: "negative rate", cfg: func(c *ACConfig) { c.PADIRate = -1 }, want: "ACConfig.PADIRate"},
		{name: "negative cookie period", cfg: func(c *ACConfig) { c.CookiePeriod = -time.Second }, want: "ACConfig.CookiePeriod"},
		{name: "negative window", cfg: func(c *ACConfig) { c.DuplicatePADRWindow = -time.Second }, want: "ACConfig.DuplicatePADRWindow"},
		{name: "services too long for a PADO", cfg: func(c *ACConfig) { c.Services = []string{strings.Repeat("s", 1400)} }, want: "ACConfig.Services"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := baseACConfig()
			tt.cfg(&cfg)
			err := cfg.Validate()
			if tt.want == "" {
				if err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.want)
			}
			if _, err := NewAC(cfg, testRand(1)); err == nil {
				t.Error("NewAC accepted an invalid config")
			}
		})
	}
	if _, err := NewAC(baseACConfig(), &scriptedReader{}); err == nil {
		t.Error("NewAC with a failing random source succeeded")
	}
}

func TestOutcomeReasonStrings(t *testing.T) {
	for o := OutcomeDropped; o <= OutcomeTerminated; o++ {
		if s := o.String(); strings.HasPrefix(s, "outcome(") {
			t.Errorf("Outcome %d has no name", o)
		}
	}
	for r := ReasonNone; r <= ReasonReplyTooLarge; r++ {
		if s := r.String(); strings.HasPrefix(s, "reason(") || strings.ContainsAny(s, " -") {
			t.Errorf("Reason %d has no metric-label name: %q", r, s)
		}
	}
	if got := Outcome(99).String(); got != "outcome(99)" {
		t.Errorf("Outcome(99) = %q", got)
	}
	if got := Reason(99).String(); got != "reason(99)" {
		t.Errorf("Reason(99) = %q", got)
	}
}

// FuzzACHandle feeds arbitrary discovery payloads to an AC: it must never panic, every reply
// must parse and be a PADO or PADS addressed to the sender, and the session table must stay
// consistent.
func FuzzACHandle(f *testing.F) {
	seedAC := func() *AC {
		cfg := baseACConfig()
		cfg.PADIRate, cfg.MaxSessionsPerMAC = 100, 2
		ac, err := NewAC(cfg, testRand(42))
		if err != nil {
			f.Fatal(err)
		}
		return ac
	}
	for _, g := range goldenPackets {
		f.Add(unhex(f, g.hex), byte(0))
	}
	// A PADR with a valid cookie for the fuzzed source MAC, so the session path is reached.
	pado := offerFor(f, seedAC(), t0, hostA, vlan, padiPacket("internet", hostUniq8))
	f.Add(mustEncode(f, padrFor(pado, "internet", hostUniq8)), byte(0))
	f.Add(mustEncode(f, padrFor(pado, "vod", nil)), byte(0))
	f.Fuzz(func(t *testing.T, payload []byte, srcLow byte) {
		ac := seedAC()
		src := hostA
		src[5] ^= srcLow
		in := from(src, vlan, payload)
		for round := range 2 { // the second round exercises retransmission handling
			res := ac.Handle(t0, in)
			if res.Reply != nil {
				p, err := ParsePacket(res.Reply.Payload)
				if err != nil {
					t.Fatalf("round %d: reply does not parse: %v", round, err)
				}
				if p.Code != CodePADO && p.Code != CodePADS {
					t.Fatalf("round %d: reply code %v", round, p.Code)
				}
				if res.Reply.Dst != src || len(res.Reply.Payload) > DefaultMTU {
					t.Fatalf("round %d: reply to %v of %d bytes", round, res.Reply.Dst, len(res.Reply.Payload))
				}
				if (res.Outcome == OutcomeConfirmed || res.Outcome == OutcomeReconfirmed) && p.SessionID != res.Session.ID {
					t.Fatalf("round %d: PADS session %#04x, result session %#04x", round, p.SessionID, res.Session.ID)
				}
			}
			if res.Outcome == OutcomeDropped && res.Reply != nil {
				t.Fatalf("round %d: dropped with a reply", round)
			}
			if len(ac.Sessions()) != ac.Len() {
				t.Fatalf("round %d: session table inconsistent", round)
			}
		}
		for _, s := range ac.Sessions() {
			if _, _, err := ac.Terminate(s.Interface, s.ID, "fuzz"); err != nil {
				t.Fatalf("Terminate: %v", err)
			}
		}
		if ac.Len() != 0 || len(ac.byPeer) != 0 || len(ac.perIface) != 0 {
			t.Fatalf("state left after terminating every session")
		}
	})
}
