package closeset

import (
	"errors"
	"net"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type rec struct {
	name string
	log  *[]string
	set  *Set
	err  error
}

func (r *rec) Close() error {
	*r.log = append(*r.log, r.name)
	r.set.Remove(r) // owners forget themselves on Close
	return r.err
}

func TestCloseOrderAndErrors(t *testing.T) {
	var s Set
	var log []string
	boom := errors.New("boom")
	add := func(name string, r Rank, err error) *rec {
		o := &rec{name: name, log: &log, set: &s, err: err}
		if e := s.Add(o, r); e != nil {
			t.Fatal(e)
		}
		return o
	}
	add("listener", Listener, nil)
	add("tunnel", Tunnel, boom)
	add("bridge", Bridge, nil)
	gone := add("unit-closed-early", Unit, nil)
	add("unit", Unit, nil)
	add("port", Port, nil)
	gone.Close()
	log = nil

	first, err := s.Close()
	if !first || !errors.Is(err, boom) {
		t.Errorf("Close = %t, %v; want true and the tunnel's error", first, err)
	}
	if diff := cmp.Diff([]string{"bridge", "unit", "tunnel", "port", "listener"}, log); diff != "" {
		t.Errorf("close order (-want +got):\n%s", diff)
	}
	if again, err := s.Close(); again || err != nil {
		t.Errorf("second Close = %t, %v", again, err)
	}
	if err := s.Add(&rec{log: &log, set: &s}, Unit); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Add after Close = %v, want net.ErrClosed", err)
	}
	if !s.Closed() {
		t.Errorf("Closed = false")
	}
}
