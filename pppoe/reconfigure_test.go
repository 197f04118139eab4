package pppoe

import (
	"testing"
	"time"
)

// TestACReconfigure changes the AC's services and limits under live sessions: sessions
// stay, cookies handed out before stay valid, and the new settings apply to new requests.
func TestACReconfigure(t *testing.T) {
	ac := newTestAC(t, ACConfig{ACName: "bras-1", Services: []string{"internet", "iptv"}, MaxSessionsPerMAC: 2})
	now := t0
	live := establish(t, ac, now, hostA, VLANs{}, "internet")
	pado := offerFor(t, ac, now, hostB, VLANs{}, padiPacket("iptv", []byte("b")))

	cfg := ACConfig{ACName: "bras-2", Services: []string{"internet"}, MaxSessionsPerMAC: 1,
		Interfaces: map[string]ACInterface{"eth1": {MaxSessions: 2}}}
	if err := ac.Reconfigure(cfg); err != nil {
		t.Fatal(err)
	}
	if _, ok := ac.Session("eth1", live.Session.ID); !ok {
		t.Fatal("the live session is gone")
	}
	// iptv is no longer offered: its PADR is refused, with the still valid cookie.
	res := ac.Handle(now, from(hostB, VLANs{}, mustEncode(t, padrFor(pado, "iptv", []byte("b")))))
	if res.Outcome != OutcomeRefused || res.Reason != ReasonUnknownService {
		t.Errorf("PADR for iptv: %v %v, want refused unknown_service", res.Outcome, res.Reason)
	}
	// The lowered per-MAC limit stops hostA's second session.
	res = ac.Handle(now, from(hostA, VLANs{}, mustEncode(t, padiPacket("internet", nil))))
	if res.Reason != ReasonLimitMAC {
		t.Errorf("second PADI of hostA: %v %v, want limit_mac", res.Outcome, res.Reason)
	}
	// The new AC-Name is used; the per-interface cap is 2.
	pado = offerFor(t, ac, now, hostB, VLANs{}, padiPacket("internet", nil))
	if pado.Tags.ACName != "bras-2" {
		t.Errorf("AC-Name %q, want bras-2", pado.Tags.ACName)
	}
	establish(t, ac, now, hostB, VLANs{}, "internet")
	res = ac.Handle(now, from(MAC{2, 0xcc, 0, 0, 0, 3}, VLANs{}, mustEncode(t, padiPacket("internet", nil))))
	if res.Reason != ReasonLimitInterface {
		t.Errorf("third session on eth1: %v %v, want limit_interface", res.Outcome, res.Reason)
	}

	// An invalid configuration changes nothing.
	if err := ac.Reconfigure(ACConfig{}); err == nil {
		t.Error("Reconfigure with no AC-Name succeeded")
	}
	if ac.cfg.ACName != "bras-2" || ac.ifaceLimit("eth1") != 2 {
		t.Errorf("settings after a failed Reconfigure: %+v", ac.cfg)
	}

	// A new cookie period keeps the key: a cookie made under the new period is accepted.
	if err := ac.Reconfigure(ACConfig{ACName: "bras-2", CookiePeriod: time.Minute}); err != nil {
		t.Fatal(err)
	}
	later := now.Add(90 * time.Second)
	pado = offerFor(t, ac, later, MAC{2, 0xee, 0, 0, 0, 5}, VLANs{}, padiPacket("", nil))
	res = ac.Handle(later.Add(30*time.Second), from(MAC{2, 0xee, 0, 0, 0, 5}, VLANs{}, mustEncode(t, padrFor(pado, "", nil))))
	if res.Outcome != OutcomeConfirmed {
		t.Errorf("PADR after the period change: %v %v %v", res.Outcome, res.Reason, res.Err)
	}
}

func TestACReconfigureRate(t *testing.T) {
	ac := newTestAC(t, ACConfig{ACName: "bras-1", PADIRate: 1})
	in := from(hostA, VLANs{}, mustEncode(t, padiPacket("", nil)))
	ac.Handle(t0, in)
	if res := ac.Handle(t0, in); res.Reason != ReasonRateLimited {
		t.Fatalf("second PADI: %v", res.Reason)
	}
	// The same rate keeps the buckets; another rate starts them afresh; none removes them.
	if err := ac.Reconfigure(ACConfig{ACName: "bras-1", PADIRate: 1}); err != nil {
		t.Fatal(err)
	}
	if res := ac.Handle(t0, in); res.Reason != ReasonRateLimited {
		t.Errorf("after an unchanged rate: %v, want rate_limited", res.Reason)
	}
	if err := ac.Reconfigure(ACConfig{ACName: "bras-1", PADIRate: 2}); err != nil {
		t.Fatal(err)
	}
	if res := ac.Handle(t0, in); res.Outcome != OutcomeOffered {
		t.Errorf("after a new rate: %v %v, want offered", res.Outcome, res.Reason)
	}
	if err := ac.Reconfigure(ACConfig{ACName: "bras-1"}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if res := ac.Handle(t0, in); res.Outcome != OutcomeOffered {
			t.Errorf("without a rate: %v %v, want offered", res.Outcome, res.Reason)
		}
	}
}
