// Package closeset keeps the open top-level objects of a data plane so that closing the
// data plane closes them all, users of a resource before the resource.
package closeset

import (
	"cmp"
	"errors"
	"io"
	"net"
	"slices"
	"sync"
)

// Rank orders closing: lower ranks close first.
type Rank uint8

// The ranks both data planes use: bridges use units' channels, units use sessions'
// channels, tunnels and ports carry those channels, listeners carry nothing of theirs.
const (
	Bridge Rank = iota
	Unit
	Tunnel
	Port
	Listener
)

// Set is a set of open objects. The zero Set is ready to use; it is safe for concurrent
// use.
type Set struct {
	mu     sync.Mutex // guards the fields below
	closed bool
	objs   map[io.Closer]Rank
}

// Add records an open object. Once the set is closed it returns net.ErrClosed and the
// caller closes the object itself.
func (s *Set) Add(c io.Closer, r Rank) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return net.ErrClosed
	}
	if s.objs == nil {
		s.objs = map[io.Closer]Rank{}
	}
	s.objs[c] = r
	return nil
}

// Remove forgets an object (it was closed by its owner).
func (s *Set) Remove(c io.Closer) {
	s.mu.Lock()
	delete(s.objs, c)
	s.mu.Unlock()
}

// Close closes every object still in the set, by rank, and refuses further Adds. The
// objects' Close methods may call Remove. It reports whether this call closed the set
// (false: it was already closed) and the objects' errors joined.
func (s *Set) Close() (bool, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false, nil
	}
	s.closed = true
	type obj struct {
		c io.Closer
		r Rank
	}
	objs := make([]obj, 0, len(s.objs))
	for c, r := range s.objs {
		objs = append(objs, obj{c, r})
	}
	s.mu.Unlock()
	slices.SortStableFunc(objs, func(a, b obj) int { return cmp.Compare(a.r, b.r) })
	var errs []error
	for _, o := range objs {
		errs = append(errs, o.c.Close())
	}
	return true, errors.Join(errs...)
}

// Closed reports whether Close was called.
func (s *Set) Closed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}
