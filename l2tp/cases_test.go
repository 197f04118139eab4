package l2tp

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/probox/probox/control/metricstest"
	"github.com/probox/probox/kernel/kerneltest"
)

// pair starts an LNS (192.0.2.2) and a LAC (192.0.2.1) with configured tunnel "lns".
func pair(t *testing.T, lnsExtra, lacProf, lacExtra string) (*kerneltest.Network, *node, *node) {
	t.Helper()
	n := kerneltestNetwork()
	lns := newNode(t, n, "lns", lnsDoc(lnsExtra), "192.0.2.2").start()
	lac := newNode(t, n, "lac", lacDoc("192.0.2.2", lacProf, lacExtra), "192.0.2.1").start()
	return n, lac, lns
}

func stopAll(nodes ...*node) {
	for _, nd := range nodes {
		nd.stop()
	}
}

// callErr asserts that PlaceCall failed with a *CallError and returns it.
func callErr(t *testing.T, err error) *CallError {
	t.Helper()
	var ce *CallError
	if !errors.As(err, &ce) {
		t.Fatalf("PlaceCall error %v (%T), want a *CallError", err, err)
	}
	return ce
}

// TestTunnelAuth covers RFC 2661 §5.1.1 tunnel authentication.
func TestTunnelAuth(t *testing.T) {
	tests := []struct {
		name      string
		lnsSecret string
		lacSecret string
		ok        bool
		result    uint16 // StopCCN result seen by the LAC's call
	}{
		{name: "same secret", lnsSecret: "s3cret", lacSecret: "s3cret", ok: true},
		{name: "different secrets", lnsSecret: "s3cret", lacSecret: "other", result: uint16(StopCCNNotAuthorized)},
		{name: "LNS challenges, LAC has no secret", lnsSecret: "s3cret", result: uint16(StopCCNNotAuthorized)},
		{name: "LAC challenges, LNS has no secret", lacSecret: "s3cret", result: uint16(StopCCNNotAuthorized)},
		{name: "no secrets", ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			within(t, func(t *testing.T) {
				lnsProf, lacProf := "", "version = 2"
				if tt.lnsSecret != "" {
					lnsProf = "[tunnel_profile.default]\nsecret = \"" + tt.lnsSecret + "\"\n"
				}
				if tt.lacSecret != "" {
					lacProf += "\nsecret = \"" + tt.lacSecret + "\""
				}
				n, lac, lns := pair(t, lnsProf, lacProf, "")
				_, err := lac.e.PlaceCall(context.Background(), CallRequest{Tunnel: "lns"})
				if tt.ok {
					if err != nil {
						t.Fatalf("PlaceCall: %v", err)
					}
					if d, _ := lns.e.Tunnel(context.Background(), ref(lns.only().ID)); tt.lnsSecret != "" && d.Auth != "challenge" {
						t.Errorf("LNS tunnel auth %q, want challenge", d.Auth)
					}
				} else {
					ce := callErr(t, err)
					if !ce.Result.Tunnel || ce.Result.Result != tt.result {
						t.Errorf("call error %+v, want tunnel result %d", ce, tt.result)
					}
					if got := metricstest.Value(t, lns.reg, "probox_l2tp_auth_failures_total", "") + metricstest.Value(t, lac.reg, "probox_l2tp_auth_failures_total", ""); got == "00" {
						t.Errorf("no authentication failure counted")
					}
				}
				time.Sleep(40 * time.Second)
				synctest.Wait()
				if !tt.ok && (len(lac.tunnels()) != 0 || len(lns.tunnels()) != 0) {
					t.Errorf("tunnels left: lac %+v lns %+v", lac.tunnels(), lns.tunnels())
				}
				stopAll(lac, lns)
				checkState(t, "network", "", n.State())
			})
		})
	}
}

// ref is the "@ID" reference of a tunnel.
func ref(id uint32) string { return "@" + strconv.FormatUint(uint64(id), 10) }

// TestHiddenAVPs checks that with hide_avps the session AVPs travel hidden (RFC 2661 §4.3)
// and the peer reveals them with the secret.
func TestHiddenAVPs(t *testing.T) {
	within(t, func(t *testing.T) {
		n := kerneltestNetwork()
		var hiddenICRQ, clearICRQ int
		n.SetLoss(func(p kerneltest.Packet) bool {
			if p.Kind != kerneltest.L2TPControl {
				return false
			}
			if typ, _, _ := peekControl(p.Data); typ == MsgICRQ {
				_, err := Parse(p.Data, nil)
				if errors.Is(err, ErrNoSecret) {
					hiddenICRQ++
				} else if err == nil {
					clearICRQ++
				}
			}
			return false
		})
		lns := newNode(t, n, "lns", lnsDoc("[tunnel_profile.default]\nsecret = \"k\"\nhide_avps = true\n"), "192.0.2.2").start()
		lac := newNode(t, n, "lac", lacDoc("192.0.2.2", "secret = \"k\"\nhide_avps = true", ""), "192.0.2.1").start()
		c, err := lac.e.PlaceCall(context.Background(), CallRequest{Tunnel: "lns", CallingNumber: "0123", CalledNumber: "999",
			ProxyAuth: &ProxyAuth{Type: ProxyAuthenCHAP, Name: "alice", Challenge: []byte{1, 2, 3}, ID: 7, Response: []byte{9, 9}},
			ProxyLCP:  &ProxyLCP{InitialReceived: []byte{1}, LastSent: []byte{2}, LastReceived: []byte{3}}})
		if err != nil {
			t.Fatalf("PlaceCall: %v", err)
		}
		synctest.Wait()
		if hiddenICRQ != 1 || clearICRQ != 0 {
			t.Errorf("ICRQs on the wire: %d hidden, %d clear; want 1 hidden", hiddenICRQ, clearICRQ)
		}
		reqs := lns.ppp.requests()
		if len(reqs) != 1 {
			t.Fatalf("PPP requests %+v", reqs)
		}
		want := PPPRequest{CallingNumber: "0123", CalledNumber: "999",
			ProxyAuth: &ProxyAuth{Type: ProxyAuthenCHAP, Name: "alice", Challenge: []byte{1, 2, 3}, ID: 7, Response: []byte{9, 9}},
			ProxyLCP:  &ProxyLCP{InitialReceived: []byte{1}, LastSent: []byte{2}, LastReceived: []byte{3}}}
		got := PPPRequest{CallingNumber: reqs[0].CallingNumber, CalledNumber: reqs[0].CalledNumber, ProxyAuth: reqs[0].ProxyAuth, ProxyLCP: reqs[0].ProxyLCP}
		if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(PPPRequest{}, "Peer", "Channel")); diff != "" {
			t.Errorf("PPP request revealed from hidden AVPs (-want +got):\n%s", diff)
		}
		c.Hangup("done")
		stopAll(lac, lns)
	})
}

// TestDigest covers L2TPv3 control message authentication (RFC 3931 §5.4.1).
func TestDigest(t *testing.T) {
	tests := []struct {
		name     string
		lns, lac string
		ok       bool
		auth     string
	}{
		{name: "both md5", lns: "digest = \"md5\"\nsecret = \"k\"", lac: "digest = \"md5\"\nsecret = \"k\"", ok: true, auth: "digest HMAC-MD5"},
		{name: "both sha1", lns: "digest = \"sha1\"\nsecret = \"k\"", lac: "digest = \"sha1\"\nsecret = \"k\"", ok: true, auth: "digest HMAC-SHA-1"},
		{name: "LAC signs, LNS follows", lns: "secret = \"k\"", lac: "digest = \"md5\"\nsecret = \"k\"", ok: true, auth: "digest HMAC-MD5"},
		{name: "different secrets", lns: "digest = \"md5\"\nsecret = \"k\"", lac: "digest = \"md5\"\nsecret = \"x\""},
		{name: "LNS requires, LAC does not sign", lns: "digest = \"md5\"\nsecret = \"k\"", lac: "secret = \"k\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			within(t, func(t *testing.T) {
				n, lac, lns := pair(t, "[tunnel_profile.default]\nversion = 3\n"+tt.lns+"\n", "version = 3\n"+tt.lac, "")
				_ = n
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				c, err := lac.e.PlaceCall(ctx, CallRequest{Tunnel: "lns"})
				if !tt.ok {
					if err == nil {
						t.Fatal("PlaceCall succeeded, want failure")
					}
					if got := metricstest.Value(t, lns.reg, "probox_l2tp_tunnels_total", `result="established"`); got != "0" {
						t.Errorf("LNS established %s tunnels", got)
					}
					stopAll(lac, lns)
					return
				}
				if err != nil {
					t.Fatalf("PlaceCall: %v", err)
				}
				d, err := lns.e.Tunnel(context.Background(), ref(lns.only().ID))
				if err != nil || d.Auth != tt.auth {
					t.Errorf("LNS auth %q (%v), want %q", d.Auth, err, tt.auth)
				}
				// Retransmissions are signed over their new Nr: lose one HELLO's first copy.
				time.Sleep(2 * time.Minute)
				synctest.Wait()
				if lns.only().State != "established" || lac.only().State != "established" {
					t.Errorf("tunnels not established after hellos")
				}
				if got := metricstest.Value(t, lns.reg, "probox_l2tp_dropped_messages_total", `reason="digest"`); got != "absent" {
					t.Errorf("LNS dropped %s messages for bad digests", got)
				}
				c.Hangup("done")
				stopAll(lac, lns)
			})
		})
	}
}
