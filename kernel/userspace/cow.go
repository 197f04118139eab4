package userspace

import "sync/atomic"

// cowMap is a map read without locks on the data path: readers load an immutable map
// through an atomic pointer, and writers (holding the owner's mutex) replace it with an
// updated copy. Changes are rare (sessions come and go) and reads are per packet.
type cowMap[K comparable, V any] struct {
	p atomic.Pointer[map[K]V]
}

// load returns the current map; it must not be modified.
func (m *cowMap[K, V]) load() map[K]V {
	if p := m.p.Load(); p != nil {
		return *p
	}
	return nil
}

func (m *cowMap[K, V]) get(k K) (V, bool) {
	v, ok := m.load()[k]
	return v, ok
}

// set stores k→v; the caller holds the owner's mutex.
func (m *cowMap[K, V]) set(k K, v V) {
	old := m.load()
	n := make(map[K]V, len(old)+1)
	for k2, v2 := range old {
		n[k2] = v2
	}
	n[k] = v
	m.p.Store(&n)
}

// remove deletes k; the caller holds the owner's mutex.
func (m *cowMap[K, V]) remove(k K) {
	old := m.load()
	if _, ok := old[k]; !ok {
		return
	}
	n := make(map[K]V, len(old))
	for k2, v2 := range old {
		if k2 != k {
			n[k2] = v2
		}
	}
	m.p.Store(&n)
}

// clear empties the map and returns what it held; the caller holds the owner's mutex.
func (m *cowMap[K, V]) clear() map[K]V {
	old := m.load()
	m.p.Store(nil)
	return old
}
