package kerneltest

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/probox/probox/kernel"
)

// Kind says what a Packet carries.
type Kind uint8

// Packet kinds.
const (
	L2TPControl    Kind = iota // an L2TP control message (UDP or IP)
	L2TPData                   // an L2TP data message carrying one session's frame
	PPPoEDiscovery             // a PPPoE discovery frame (ethertype 0x8863)
	PPPoESession               // a PPPoE session frame (ethertype 0x8864)
)

var kindNames = [...]string{"control", "data", "discovery", "session"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind-%d", uint8(k))
}

// Packet is one packet or frame in flight on a Network. Hooks, Pending and Release see
// it; they must not modify Data.
type Packet struct {
	Kind Kind
	// Host is the name of the sending Fake.
	Host string

	// Encap, From and To address the L2TP kinds. For EncapIP the ports are zero.
	Encap    kernel.Encap
	From, To netip.AddrPort
	// Tunnel is the receiver's tunnel ID on an L2TPv2 data message; Session is the
	// receiver's L2TP session ID (L2TPData) or the PPPoE session ID (PPPoESession).
	Tunnel, Session uint32
	// Cookie is the L2TPv3 cookie on a data message.
	Cookie []byte

	// Segment and Eth address the PPPoE kinds: the Ethernet segment's name and the
	// frame's MAC addresses and VLAN tags.
	Segment string
	Eth     kernel.FrameInfo

	// Data is the control message (as WriteControl or WriteTo got it), the PPP frame or
	// Ethernet frame of a data message (protocol field first for PPP), or the PPPoE
	// packet of a discovery frame (PPPoE header and payload).
	Data []byte

	srcFake *Fake  // sender of an Ethernet frame, which does not get its own broadcast
	srcIf   string // the sender's interface
}

func (p Packet) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", p.Kind, p.Host)
	switch p.Kind {
	case L2TPControl, L2TPData:
		if p.Encap == kernel.EncapIP {
			fmt.Fprintf(&b, " ip %s -> %s", p.From.Addr(), p.To.Addr())
		} else {
			fmt.Fprintf(&b, " udp %s -> %s", p.From, p.To)
		}
		if p.Kind == L2TPData {
			fmt.Fprintf(&b, " session %d/%d", p.Tunnel, p.Session)
		}
	default:
		fmt.Fprintf(&b, " %s %s -> %s", p.Segment, p.Eth.Src, p.Eth.Dst)
		if p.Eth.VLAN != 0 || p.Eth.OuterVLAN != 0 {
			fmt.Fprintf(&b, " vlan %s", vlanString(p.Eth))
		}
		if p.Kind == PPPoESession {
			fmt.Fprintf(&b, " sid %d", p.Session)
		}
	}
	fmt.Fprintf(&b, " len %d", len(p.Data))
	return b.String()
}

// All matches every packet; n.Hold(All) holds all traffic.
func All(Packet) bool { return true }

// NetCounters count what a Network did with the packets sent on it.
type NetCounters struct {
	Sent        uint64 // packets handed to the network (before loss)
	Delivered   uint64 // packets that reached a socket, channel or port
	Lost        uint64 // dropped by the loss hook or by Drop
	Duplicated  uint64 // extra copies made by the duplicate hook
	Unreachable uint64 // no host, socket, session or port took the packet
}

// Network is an in-memory IP network and set of Ethernet segments joining the Fakes
// made by Dataplane. Delivery is synchronous: a write returns after the packet is queued
// at its receiver, unless a hook holds or delays it.
//
// All methods are safe for concurrent use. Hooks run without the Network's lock held and
// may call the Network's methods.
type Network struct {
	mu sync.Mutex
	// mu guards every field below and all state of the Fakes, their objects and queues
	// (one lock for the whole simulated world; it is never held while a hook runs or a
	// reader waits).
	fakes    []*Fake
	owners   map[netip.Addr]*Fake
	segments map[string]*Segment
	pathMTU  int

	loss, dup, hold func(Packet) bool
	delay           func(Packet) time.Duration
	pending         []Packet
	counters        NetCounters
}

// NewNetwork returns an empty network with a path MTU of 1500.
func NewNetwork() *Network {
	return &Network{
		owners:   make(map[netip.Addr]*Fake),
		segments: make(map[string]*Segment),
		pathMTU:  1500,
	}
}

// New is NewNetwork().Dataplane("fake", addrs...): a Fake for tests that need only one.
func New(addrs ...netip.Addr) *Fake {
	return NewNetwork().Dataplane("fake", addrs...)
}

// Dataplane returns a new simulated host named host that owns addrs: packets sent to
// them are delivered to its sockets. Hosts are numbered 1, 2, … in the order of the
// calls; the number appears in their MAC addresses (see Fake.HardwareAddr). It panics if
// an address is invalid or already owned, which is a mistake in the test's setup.
func (n *Network) Dataplane(host string, addrs ...netip.Addr) *Fake {
	n.mu.Lock()
	defer n.mu.Unlock()
	f := newFake(n, host, len(n.fakes)+1)
	for _, a := range addrs {
		a = a.Unmap()
		if !a.IsValid() || a.IsUnspecified() {
			panic(fmt.Sprintf("kerneltest: host %s: bad address %v", host, a))
		}
		if o := n.owners[a]; o != nil {
			panic(fmt.Sprintf("kerneltest: host %s: address %s already belongs to host %s", host, a, o.host))
		}
		n.owners[a] = f
		f.addrs = append(f.addrs, a)
	}
	n.fakes = append(n.fakes, f)
	return f
}

// SetPathMTU sets the IP path MTU from which L2TP channel and pseudowire MTUs are
// derived (default 1500). It affects objects created afterwards.
func (n *Network) SetPathMTU(mtu int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.pathMTU = mtu
}

// SetLoss makes the network drop every packet for which loss returns true (nil: no
// loss).
func (n *Network) SetLoss(loss func(p Packet) bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.loss = loss
}

// SetDuplicate makes the network deliver every packet for which dup returns true twice
// (nil: no duplication).
func (n *Network) SetDuplicate(dup func(p Packet) bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.dup = dup
}

// SetDelay delays every packet by the duration delay returns for it (nil or <= 0: at
// once). It uses time.AfterFunc, so inside a testing/synctest bubble the delay passes on
// the bubble's fake clock, and packets with different delays arrive reordered.
func (n *Network) SetDelay(delay func(p Packet) time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.delay = delay
}

// Hold makes the network keep every packet for which match returns true in the pending
// list until the test calls Release or Drop (nil: hold nothing). Turning holding off
// leaves the packets already held pending.
func (n *Network) Hold(match func(p Packet) bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.hold = match
}

// Pending returns the held packets, oldest first.
func (n *Network) Pending() []Packet {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.pending)
}

// Release delivers the held packet at index i of Pending and removes it from the list
// (so indexes after i shift down). It returns false if there is no such packet.
func (n *Network) Release(i int) bool {
	p, ok := n.takePending(i)
	if ok {
		n.deliver(p)
	}
	return ok
}

// ReleaseAll delivers every held packet in order and returns how many there were.
func (n *Network) ReleaseAll() int {
	n.mu.Lock()
	ps := n.pending
	n.pending = nil
	n.mu.Unlock()
	for _, p := range ps {
		n.deliver(p)
	}
	return len(ps)
}

// Drop discards the held packet at index i of Pending (counted as lost). It returns
// false if there is no such packet.
func (n *Network) Drop(i int) bool {
	_, ok := n.takePending(i)
	if ok {
		n.mu.Lock()
		n.counters.Lost++
		n.mu.Unlock()
	}
	return ok
}

func (n *Network) takePending(i int) (Packet, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if i < 0 || i >= len(n.pending) {
		return Packet{}, false
	}
	p := n.pending[i]
	n.pending = slices.Delete(n.pending, i, i+1)
	return p, true
}

// Counters returns the network's counters.
func (n *Network) Counters() NetCounters {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.counters
}

// State renders the state of every Fake on the network, each line prefixed with its
// host name and a colon, hosts in the order they were made.
func (n *Network) State() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var b strings.Builder
	for _, f := range n.fakes {
		for _, l := range f.stateLinesLocked() {
			fmt.Fprintf(&b, "%s: %s\n", f.host, l)
		}
	}
	return b.String()
}

// send passes packets through the hooks and delivers them. It must be called without
// n.mu held; packets that deliveries produce (bridged frames) are sent in turn.
func (n *Network) send(pkts ...Packet) {
	for len(pkts) > 0 {
		p := pkts[0]
		pkts = pkts[1:]
		n.mu.Lock()
		n.counters.Sent++
		loss, dup, hold, delay := n.loss, n.dup, n.hold, n.delay
		n.mu.Unlock()

		if loss != nil && loss(p) {
			n.count(func(c *NetCounters) { c.Lost++ })
			continue
		}
		copies := 1
		if dup != nil && dup(p) {
			copies = 2
			n.count(func(c *NetCounters) { c.Duplicated++ })
		}
		for range copies {
			if hold != nil && hold(p) {
				n.mu.Lock()
				n.pending = append(n.pending, p)
				n.mu.Unlock()
				continue
			}
			if delay != nil {
				if d := delay(p); d > 0 {
					time.AfterFunc(d, func() { n.deliver(p) })
					continue
				}
			}
			pkts = append(pkts, n.deliverOnce(p)...)
		}
	}
}

func (n *Network) count(f func(*NetCounters)) {
	n.mu.Lock()
	f(&n.counters)
	n.mu.Unlock()
}

// deliver delivers p and sends what the delivery produced.
func (n *Network) deliver(p Packet) {
	n.send(n.deliverOnce(p)...)
}

func (n *Network) deliverOnce(p Packet) []Packet {
	n.mu.Lock()
	defer n.mu.Unlock()
	var (
		out []Packet
		ok  bool
	)
	switch p.Kind {
	case L2TPControl, L2TPData:
		if f := n.owners[p.To.Addr()]; f != nil && !f.closed {
			out, ok = f.receiveIPLocked(p)
		}
	case PPPoEDiscovery, PPPoESession:
		if s := n.segments[p.Segment]; s != nil {
			out, ok = s.deliverLocked(p)
		}
	}
	if ok {
		n.counters.Delivered++
	} else {
		n.counters.Unreachable++
	}
	return out
}
