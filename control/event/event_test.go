package event

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestBusFanOutAndFilter(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	b := NewBus(func() time.Time { return now })
	all := b.Subscribe(10, nil)
	sessions := b.Subscribe(10, func(e *Event) bool { return e.Type.IsSession() })

	b.Publish(Event{Type: TunnelUp, Engine: "l2tp", Tunnel: &Tunnel{ID: 7}})
	b.Publish(Event{Type: SessionUp, Engine: "l2tp", Session: &Session{ID: 9, TunnelID: 7}})

	got := []Event{<-all.C(), <-all.C()}
	want := []Event{
		{Seq: 1, Time: now, Type: TunnelUp, Engine: "l2tp", Tunnel: &Tunnel{ID: 7}},
		{Seq: 2, Time: now, Type: SessionUp, Engine: "l2tp", Session: &Session{ID: 9, TunnelID: 7}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("all subscriber (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want[1], <-sessions.C()); diff != "" {
		t.Errorf("filtered subscriber (-want +got):\n%s", diff)
	}
	select {
	case e := <-sessions.C():
		t.Errorf("filtered subscriber got unexpected %v", e.Type)
	default:
	}
}

func TestSlowSubscriberDropsAndPublishNeverBlocks(t *testing.T) {
	b := NewBus(nil)
	s := b.Subscribe(2, nil)
	for range 5 {
		b.Publish(Event{Type: SessionCreated})
	}
	if got := s.Dropped(); got != 3 {
		t.Errorf("Dropped = %d, want 3", got)
	}
	if e := <-s.C(); e.Seq != 1 {
		t.Errorf("first event Seq = %d, want 1", e.Seq)
	}
	s.Close()
	s.Close() // idempotent
	if b.Subscribers() != 0 {
		t.Errorf("Subscribers after Close = %d", b.Subscribers())
	}
	b.Publish(Event{Type: SessionCreated}) // no subscriber: must not panic on a closed channel
	if _, ok := <-s.C(); !ok {
		return
	}
	if _, ok := <-s.C(); ok {
		t.Errorf("channel still open after Close")
	}
}

func TestTypeNames(t *testing.T) {
	for ty := TunnelCreated; ty <= ConfigReloaded; ty++ {
		got, err := ParseType(ty.String())
		if err != nil || got != ty {
			t.Errorf("ParseType(%q) = %v, %v", ty.String(), got, err)
		}
	}
	if _, err := ParseType("session-exploded"); err == nil {
		t.Errorf("ParseType of an unknown name succeeded")
	}
	if got := SessionDown.Verb(); got != "down" {
		t.Errorf("Verb = %q", got)
	}
	b, err := json.Marshal(Event{Type: TunnelDeleted, Result: &Result{Code: 1, Reason: "admin"}})
	if err != nil {
		t.Fatal(err)
	}
	var e Event
	if err := json.Unmarshal(b, &e); err != nil || e.Type != TunnelDeleted || e.Result.Reason != "admin" {
		t.Errorf("JSON round trip = %+v, %v (%s)", e, err, b)
	}
}
