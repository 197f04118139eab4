package ppp

import (
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
	"slices"
	"sync"

	"github.com/probox/probox/config"
)

// Errors of the address pools.
var (
	// ErrPoolExhausted is returned by Pools.Allocate when every address of the pool is in
	// use.
	ErrPoolExhausted = errors.New("ppp: address pool exhausted")
	// ErrNoPool is returned for a pool name that is not configured.
	ErrNoPool = errors.New("ppp: no such address pool")
	// ErrAddressInUse is returned by Pools.Reserve for an address that is already leased.
	ErrAddressInUse = errors.New("ppp: address already in use")
)

// Pools are the named IPv4 address pools of the configuration (ippool.NAME.ranges). Each
// range is a bitmap of its addresses, so memory is one bit per configured address whatever
// the number of sessions. An address is leased by Allocate (the next free address of a
// pool, searched from where the last search stopped so that a released address is not
// handed out again at once) or by Reserve (a given address: a user's static address, or a
// local address that must never be handed out), and returned by Release. Addresses outside
// every pool can be reserved too, so that no address is ever leased twice.
//
// Pools are safe for concurrent use: every session actor allocates and releases its own
// address.
type Pools struct {
	mu      sync.Mutex // guards the fields below; never held while calling out
	pools   map[string]*pool
	names   []string // sorted
	outside map[netip.Addr]struct{}
	fixed   map[netip.Addr]struct{} // reserved for the box itself, not session leases
}

type pool struct {
	name   string
	texts  []string // the ranges as configured
	blocks []*addrBlock
	next   int // block where the next search starts
}

// addrBlock is one range: addresses first .. first+n-1, bit i of bits set when first+i is
// leased. hint is where the next search starts.
type addrBlock struct {
	first uint32
	n     uint32
	used  uint32
	hint  uint32
	bits  []uint64
}

// PoolInfo describes a pool's usage.
type PoolInfo struct {
	Name   string   `json:"name"`
	Ranges []string `json:"ranges"`
	Size   int      `json:"size"`
	Used   int      `json:"used"`
	Free   int      `json:"free"`
}

// NewPools builds the pools of cfg (config.Config.IPPools). Errors name the key path of the
// bad range.
func NewPools(cfg map[string]config.IPPool) (*Pools, error) {
	p := &Pools{outside: map[netip.Addr]struct{}{}, fixed: map[netip.Addr]struct{}{}}
	pools, names, err := buildPools(cfg)
	if err != nil {
		return nil, err
	}
	p.pools, p.names = pools, names
	return p, nil
}

func buildPools(cfg map[string]config.IPPool) (map[string]*pool, []string, error) {
	pools := make(map[string]*pool, len(cfg))
	var names []string
	for name, c := range cfg {
		names = append(names, name)
		pl := &pool{name: name}
		for i, s := range c.Ranges {
			r, err := config.ParseRange(s)
			if err != nil {
				return nil, nil, fmt.Errorf("ippool.%s.ranges[%d]: %w", name, i, err)
			}
			size := r.Size()
			if size > 1<<24 {
				return nil, nil, fmt.Errorf("ippool.%s.ranges[%d]: %d addresses, at most %d per range", name, i, size, 1<<24)
			}
			pl.texts = append(pl.texts, s)
			pl.blocks = append(pl.blocks, &addrBlock{
				first: addrU32(r.First),
				n:     uint32(size),
				bits:  make([]uint64, (size+63)/64),
			})
		}
		pools[name] = pl
	}
	slices.Sort(names)
	return pools, names, nil
}

func addrU32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func u32Addr(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// Has reports whether a pool named name is configured.
func (p *Pools) Has(name string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.pools[name]
	return ok
}

// Allocate leases the next free address of the named pool.
func (p *Pools) Allocate(name string) (netip.Addr, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pl, ok := p.pools[name]
	if !ok {
		return netip.Addr{}, fmt.Errorf("%w: %q", ErrNoPool, name)
	}
	for i := range pl.blocks {
		k := (pl.next + i) % len(pl.blocks)
		if v, ok := pl.blocks[k].alloc(); ok {
			pl.next = k
			return u32Addr(v), nil
		}
	}
	return netip.Addr{}, fmt.Errorf("%w: %q", ErrPoolExhausted, name)
}

// Reserve leases the address a, in a pool or outside of every pool, and returns the name of
// the pool it belongs to ("" for none). An address already leased is ErrAddressInUse.
func (p *Pools) Reserve(a netip.Addr) (string, error) {
	if !a.Is4() {
		return "", fmt.Errorf("ppp: %v is not an IPv4 address", a)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reserveLocked(a)
}

func (p *Pools) reserveLocked(a netip.Addr) (string, error) {
	v := addrU32(a)
	if pl, b := p.findLocked(v); b != nil {
		if !b.set(v - b.first) {
			return pl.name, fmt.Errorf("%w: %v", ErrAddressInUse, a)
		}
		return pl.name, nil
	}
	if _, ok := p.outside[a]; ok {
		return "", fmt.Errorf("%w: %v", ErrAddressInUse, a)
	}
	p.outside[a] = struct{}{}
	return "", nil
}

// Release returns a leased address; releasing an address that is not leased does nothing.
func (p *Pools) Release(a netip.Addr) {
	if !a.Is4() {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.fixed[a]; ok {
		return
	}
	v := addrU32(a)
	if _, b := p.findLocked(v); b != nil {
		b.clear(v - b.first)
		return
	}
	delete(p.outside, a)
}

// setFixed reserves the box's own addresses (local addresses of PPP links), which are
// never handed out, and frees those no longer listed.
func (p *Pools) setFixed(addrs []netip.Addr) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for a := range p.fixed {
		if !slices.Contains(addrs, a) {
			delete(p.fixed, a)
			v := addrU32(a)
			if _, b := p.findLocked(v); b != nil {
				b.clear(v - b.first)
			} else {
				delete(p.outside, a)
			}
		}
	}
	for _, a := range addrs {
		if _, ok := p.fixed[a]; ok || !a.Is4() {
			continue
		}
		// A local address already leased to a session stays leased; the session's
		// release then keeps it reserved.
		p.reserveLocked(a)
		p.fixed[a] = struct{}{}
	}
}

func (p *Pools) findLocked(v uint32) (*pool, *addrBlock) {
	for _, name := range p.names {
		pl := p.pools[name]
		for _, b := range pl.blocks {
			if v >= b.first && v-b.first < b.n {
				return pl, b
			}
		}
	}
	return nil, nil
}

// Reload replaces the pools by those of cfg. Every address leased before stays leased:
// in its new pool if a range still holds it, otherwise outside of every pool until it is
// released. On error nothing changes.
func (p *Pools) Reload(cfg map[string]config.IPPool) error {
	pools, names, err := buildPools(cfg)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var leased []netip.Addr
	for _, name := range p.names {
		for _, b := range p.pools[name].blocks {
			b.each(func(v uint32) { leased = append(leased, u32Addr(v)) })
		}
	}
	for a := range p.outside {
		leased = append(leased, a)
	}
	p.pools, p.names = pools, names
	p.outside = map[netip.Addr]struct{}{}
	for _, a := range leased {
		p.reserveLocked(a)
	}
	return nil
}

// Info describes every pool, sorted by name.
func (p *Pools) Info() []PoolInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]PoolInfo, 0, len(p.names))
	for _, name := range p.names {
		pl := p.pools[name]
		pi := PoolInfo{Name: name, Ranges: slices.Clone(pl.texts)}
		for _, b := range pl.blocks {
			pi.Size += int(b.n)
			pi.Used += int(b.used)
		}
		pi.Free = pi.Size - pi.Used
		out = append(out, pi)
	}
	return out
}

// alloc leases the first free address at or after hint (wrapping) and returns it.
func (b *addrBlock) alloc() (uint32, bool) {
	if b.used >= b.n {
		return 0, false
	}
	off := b.hint
	if off >= b.n {
		off = 0
	}
	nw := len(b.bits)
	w := int(off / 64)
	mask := ^uint64(0) << (off % 64)
	for range nw + 1 {
		if free := ^b.bits[w] & mask; free != 0 {
			if cand := uint32(w)*64 + uint32(bits.TrailingZeros64(free)); cand < b.n {
				b.bits[cand/64] |= 1 << (cand % 64)
				b.used++
				b.hint = cand + 1
				return b.first + cand, true
			}
		}
		mask = ^uint64(0)
		if w++; w == nw {
			w = 0
		}
	}
	return 0, false
}

// set leases offset off and reports whether it was free.
func (b *addrBlock) set(off uint32) bool {
	w, m := off/64, uint64(1)<<(off%64)
	if b.bits[w]&m != 0 {
		return false
	}
	b.bits[w] |= m
	b.used++
	return true
}

func (b *addrBlock) clear(off uint32) {
	w, m := off/64, uint64(1)<<(off%64)
	if b.bits[w]&m != 0 {
		b.bits[w] &^= m
		b.used--
	}
}

// each calls fn with every leased address.
func (b *addrBlock) each(fn func(uint32)) {
	for w, word := range b.bits {
		for word != 0 {
			i := bits.TrailingZeros64(word)
			word &^= 1 << i
			fn(b.first + uint32(w)*64 + uint32(i))
		}
	}
}
