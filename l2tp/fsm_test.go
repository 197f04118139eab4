package l2tp

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestTunnelFSM checks every state and event of the control connection state machine
// against RFC 2661 §7.2.1 (plus the closing state of §5.7).
func TestTunnelFSM(t *testing.T) {
	type result struct {
		Next    string
		Actions []string
	}
	stop := []string{"send-stopccn", "cleanup"}
	// want lists the transitions; anything absent must leave the state alone and do nothing.
	want := map[tunnelState]map[tunnelEvent]result{
		tunnelIdle: {
			tevOpen:           {"wait-ctl-reply", []string{"send-sccrq"}},
			tevRxSCCRQ:        {"wait-ctl-conn", []string{"send-sccrp"}},
			tevRxSCCRQBad:     {"closing", stop},
			tevRxSCCRQTieLost: {"closing", stop},
			tevRxSCCRP:        {"closing", stop},
			tevRxSCCRPBad:     {"closing", stop},
			tevRxSCCCN:        {"closed", []string{"cleanup"}},
			tevRxSCCCNBad:     {"closed", []string{"cleanup"}},
			tevRxStopCCN:      {"closing", []string{"cleanup", "drain"}},
			tevClose:          {"closed", []string{"cleanup"}},
			tevPeerDead:       {"closed", []string{"cleanup"}},
		},
		tunnelWaitCtlReply: {
			tevRxSCCRQ:        {"closing", stop},
			tevRxSCCRQBad:     {"closing", stop},
			tevRxSCCRQTieLost: {"closed", []string{"cleanup"}},
			tevRxSCCRP:        {"established", []string{"send-scccn", "up"}},
			tevRxSCCRPBad:     {"closing", stop},
			tevRxSCCCN:        {"closing", stop},
			tevRxSCCCNBad:     {"closing", stop},
			tevRxStopCCN:      {"closing", []string{"cleanup", "drain"}},
			tevClose:          {"closing", stop},
			tevPeerDead:       {"closed", []string{"cleanup"}},
		},
		tunnelWaitCtlConn: {
			tevRxSCCRQ:        {"closing", stop},
			tevRxSCCRQBad:     {"closing", stop},
			tevRxSCCRQTieLost: {"closing", stop},
			tevRxSCCRP:        {"closing", stop},
			tevRxSCCRPBad:     {"closing", stop},
			tevRxSCCCN:        {"established", []string{"up"}},
			tevRxSCCCNBad:     {"closing", stop},
			tevRxStopCCN:      {"closing", []string{"cleanup", "drain"}},
			tevClose:          {"closing", stop},
			tevPeerDead:       {"closed", []string{"cleanup"}},
		},
		tunnelEstablished: {
			tevRxSCCRQ:        {"closing", stop},
			tevRxSCCRQBad:     {"closing", stop},
			tevRxSCCRQTieLost: {"closing", stop},
			tevRxSCCRP:        {"closing", stop},
			tevRxSCCRPBad:     {"closing", stop},
			tevRxSCCCN:        {"closing", stop},
			tevRxSCCCNBad:     {"closing", stop},
			tevRxStopCCN:      {"closing", []string{"cleanup", "drain"}},
			tevClose:          {"closing", stop},
			tevPeerDead:       {"closed", []string{"cleanup"}},
		},
		tunnelClosing: {
			tevDrained:  {"closed", nil},
			tevPeerDead: {"closed", nil},
		},
		tunnelClosed: {},
	}
	for s := tunnelIdle; s <= tunnelClosed; s++ {
		for ev := tevOpen; ev <= tevDrained; ev++ {
			t.Run(fmt.Sprintf("%v/%v", s, ev), func(t *testing.T) {
				w, ok := want[s][ev]
				if !ok {
					w = result{Next: s.String()}
				}
				next, acts := s.on(ev)
				got := result{Next: next.String()}
				for _, a := range acts {
					got.Actions = append(got.Actions, a.String())
				}
				if diff := cmp.Diff(w, got); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			})
		}
	}
}

// TestSessionFSM checks every role, state and event of the call state machines against
// RFC 2661 §7.4.1, §7.4.2, §7.5.1 and §7.5.2.
func TestSessionFSM(t *testing.T) {
	type result struct {
		Next    string
		Actions []string
	}
	cdn := result{"closed", []string{"send-cdn", "cleanup"}}
	clean := result{"closed", []string{"cleanup"}}
	type key struct {
		s  sessionState
		ev sessionEvent
	}
	// Rows common to every role.
	common := func(rows map[key]result, states ...sessionState) map[key]result {
		for _, s := range states {
			rows[key{s, sevRxCDN}] = clean
			if _, ok := rows[key{s, sevClose}]; !ok {
				rows[key{s, sevClose}] = cdn
			}
			for ev := sevRxICRQ; ev < sevRxCDN; ev++ {
				if _, ok := rows[key{s, ev}]; !ok {
					rows[key{s, ev}] = cdn
				}
			}
		}
		return rows
	}
	all := []sessionState{sessIdle, sessWaitTunnel, sessWaitReply, sessWaitConnect, sessWaitCSAnswer, sessEstablished}
	want := map[callRole]map[key]result{
		roleICRQSender: common(map[key]result{
			{sessIdle, sevOpen}:           {"wait-tunnel", nil},
			{sessIdle, sevClose}:          clean,
			{sessWaitTunnel, sevTunnelUp}: {"wait-reply", []string{"send-icrq"}},
			{sessWaitTunnel, sevClose}:    clean,
			{sessWaitReply, sevRxICRP}:    {"established", []string{"send-iccn", "connect"}},
		}, all...),
		roleICRQRecipient: common(map[key]result{
			{sessIdle, sevRxICRQ}:        {"wait-connect", []string{"send-icrp"}},
			{sessIdle, sevRxICCN}:        clean,
			{sessIdle, sevRxICCNBad}:     clean,
			{sessIdle, sevClose}:         clean,
			{sessWaitTunnel, sevClose}:   clean,
			{sessWaitConnect, sevRxICCN}: {"established", []string{"connect"}},
		}, all...),
		roleOCRQRecipient: common(map[key]result{
			{sessIdle, sevRxOCRQ}:             {"wait-cs-answer", []string{"send-ocrp", "answer"}},
			{sessIdle, sevRxOCCN}:             clean,
			{sessIdle, sevRxOCCNBad}:          clean,
			{sessIdle, sevClose}:              clean,
			{sessWaitTunnel, sevClose}:        clean,
			{sessWaitCSAnswer, sevAnswer}:     {"established", []string{"send-occn", "connect"}},
			{sessWaitCSAnswer, sevAnswerFail}: cdn,
		}, all...),
		roleOCRQSender: common(map[key]result{
			{sessIdle, sevOpen}:           {"wait-tunnel", nil},
			{sessIdle, sevRxOCRP}:         clean,
			{sessIdle, sevRxOCCN}:         clean,
			{sessIdle, sevClose}:          clean,
			{sessWaitTunnel, sevTunnelUp}: {"wait-reply", []string{"send-ocrq"}},
			{sessWaitTunnel, sevClose}:    clean,
			{sessWaitReply, sevRxOCRP}:    {"wait-connect", nil},
			{sessWaitConnect, sevRxOCCN}:  {"established", []string{"connect"}},
		}, all...),
	}
	for role := roleICRQSender; role <= roleOCRQSender; role++ {
		for s := sessIdle; s <= sessClosed; s++ {
			for ev := sevOpen; ev <= sevClose; ev++ {
				t.Run(fmt.Sprintf("%v/%v/%v", role, s, ev), func(t *testing.T) {
					w, ok := want[role][key{s, ev}]
					if !ok || s == sessClosed {
						w = result{Next: s.String()}
					}
					next, acts := sessionFSM{role: role, state: s}.on(ev)
					got := result{Next: next.String()}
					for _, a := range acts {
						got.Actions = append(got.Actions, a.String())
					}
					if diff := cmp.Diff(w, got); diff != "" {
						t.Errorf("(-want +got):\n%s", diff)
					}
				})
			}
		}
	}
}

func TestFSMNames(t *testing.T) {
	for _, s := range []fmt.Stringer{tunnelState(99), tunnelEvent(99), tunnelAction(99), sessionState(99),
		sessionEvent(99), sessionAction(99), callRole(99)} {
		if s.String() == "" {
			t.Errorf("%T(99) has no name", s)
		}
	}
}
