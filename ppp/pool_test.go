package ppp

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/probox/probox/config"
)

func TestPools(t *testing.T) {
	p, err := NewPools(map[string]config.IPPool{
		"a": {Ranges: []string{"10.0.0.1-10.0.0.3", "10.0.1.0/30"}}, // 3 + 2 addresses
		"b": {Ranges: []string{"192.0.2.9/32"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for range 5 {
		a, err := p.Allocate("a")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, a.String())
	}
	want := []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.1.1", "10.0.1.2"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("allocations (-want +got):\n%s", diff)
	}
	if _, err := p.Allocate("a"); !errors.Is(err, ErrPoolExhausted) {
		t.Errorf("exhausted pool: %v", err)
	}
	if _, err := p.Allocate("c"); !errors.Is(err, ErrNoPool) {
		t.Errorf("unknown pool: %v", err)
	}
	// A released address is handed out again once the search comes round to it.
	p.Release(netip.MustParseAddr("10.0.0.2"))
	p.Release(netip.MustParseAddr("10.0.0.2")) // twice: no effect
	if a, err := p.Allocate("a"); err != nil || a.String() != "10.0.0.2" {
		t.Errorf("after release: %v %v", a, err)
	}
	// Reserve: in a pool, outside of every pool, twice.
	for _, tc := range []struct {
		addr, pool string
		err        error
	}{
		{"192.0.2.9", "b", nil},
		{"192.0.2.9", "b", ErrAddressInUse},
		{"10.0.0.1", "a", ErrAddressInUse},
		{"198.51.100.1", "", nil},
		{"198.51.100.1", "", ErrAddressInUse},
	} {
		pool, err := p.Reserve(netip.MustParseAddr(tc.addr))
		if pool != tc.pool || !errors.Is(err, tc.err) {
			t.Errorf("Reserve(%s) = %q, %v; want %q, %v", tc.addr, pool, err, tc.pool, tc.err)
		}
	}
	if _, err := p.Allocate("b"); !errors.Is(err, ErrPoolExhausted) {
		t.Errorf("pool b after reserving its address: %v", err)
	}
	wantInfo := []PoolInfo{
		{Name: "a", Ranges: []string{"10.0.0.1-10.0.0.3", "10.0.1.0/30"}, Size: 5, Used: 5},
		{Name: "b", Ranges: []string{"192.0.2.9/32"}, Size: 1, Used: 1},
	}
	if diff := cmp.Diff(wantInfo, p.Info()); diff != "" {
		t.Errorf("Info (-want +got):\n%s", diff)
	}

	// Reload: leases survive, in their new pool or outside of every pool.
	if err := p.Reload(map[string]config.IPPool{"a": {Ranges: []string{"10.0.0.0/29"}}}); err != nil {
		t.Fatal(err)
	}
	wantInfo = []PoolInfo{{Name: "a", Ranges: []string{"10.0.0.0/29"}, Size: 6, Used: 3, Free: 3}}
	if diff := cmp.Diff(wantInfo, p.Info()); diff != "" {
		t.Errorf("Info after reload (-want +got):\n%s", diff)
	}
	for _, a := range []string{"10.0.1.1", "192.0.2.9", "198.51.100.1", "10.0.0.3"} {
		if _, err := p.Reserve(netip.MustParseAddr(a)); !errors.Is(err, ErrAddressInUse) {
			t.Errorf("lease of %s lost in the reload: %v", a, err)
		}
	}
	p.Release(netip.MustParseAddr("10.0.1.1"))
	if _, err := p.Reserve(netip.MustParseAddr("10.0.1.1")); err != nil {
		t.Errorf("released orphan lease: %v", err)
	}
	// A bad reload changes nothing.
	if err := p.Reload(map[string]config.IPPool{"x": {Ranges: []string{"bad"}}}); err == nil {
		t.Error("bad reload accepted")
	}
	if !p.Has("a") || p.Has("x") {
		t.Error("pools changed by a bad reload")
	}
}

func TestPoolFixed(t *testing.T) {
	p, err := NewPools(map[string]config.IPPool{"a": {Ranges: []string{"10.0.0.1-10.0.0.2"}}})
	if err != nil {
		t.Fatal(err)
	}
	p.setFixed([]netip.Addr{netip.MustParseAddr("10.0.0.1")})
	if a, err := p.Allocate("a"); err != nil || a.String() != "10.0.0.2" {
		t.Errorf("allocation next to a local address: %v %v", a, err)
	}
	p.Release(netip.MustParseAddr("10.0.0.1")) // not a lease: stays reserved
	if _, err := p.Allocate("a"); !errors.Is(err, ErrPoolExhausted) {
		t.Errorf("local address handed out: %v", err)
	}
	p.setFixed(nil)
	if a, err := p.Allocate("a"); err != nil || a.String() != "10.0.0.1" {
		t.Errorf("former local address: %v %v", a, err)
	}
}

func TestPoolLarge(t *testing.T) {
	// The default pool: 65533 addresses, a bitmap of 1024 words.
	p, err := NewPools(map[string]config.IPPool{"d": {Ranges: []string{"100.64.0.2-100.64.255.254"}}})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[netip.Addr]bool{}
	for i := range 65533 {
		a, err := p.Allocate("d")
		if err != nil {
			t.Fatalf("allocation %d: %v", i, err)
		}
		if seen[a] {
			t.Fatalf("%v allocated twice", a)
		}
		seen[a] = true
	}
	if _, err := p.Allocate("d"); !errors.Is(err, ErrPoolExhausted) {
		t.Errorf("full pool: %v", err)
	}
	p.Release(netip.MustParseAddr("100.64.128.7"))
	if a, err := p.Allocate("d"); err != nil || a.String() != "100.64.128.7" {
		t.Errorf("the one free address: %v %v", a, err)
	}
	if _, err := NewPools(map[string]config.IPPool{"huge": {Ranges: []string{"10.0.0.0/7"}}}); err == nil {
		t.Error("a range of 2^25 addresses accepted")
	}
}

func BenchmarkPoolAllocateRelease(b *testing.B) {
	p, err := NewPools(map[string]config.IPPool{"d": {Ranges: []string{"100.64.0.2-100.64.255.254"}}})
	if err != nil {
		b.Fatal(err)
	}
	for range 60000 {
		p.Allocate("d")
	}
	b.ReportAllocs()
	for b.Loop() {
		a, err := p.Allocate("d")
		if err != nil {
			b.Fatal(err)
		}
		p.Release(a)
	}
}
