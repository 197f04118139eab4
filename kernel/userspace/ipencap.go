package userspace

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/probox/probox/kernel"
	"github.com/probox/probox/l2tp"
)

// ipDemux owns the raw IP socket (protocol 115) of one address family, shared by every
// L2TPv3 IP-encapsulation listener and tunnel of the data plane, and demultiplexes what it
// reads in userspace (RFC 3931 §4.1.1):
//
//   - Session ID 0: a control message, routed by the Control Connection ID in its header
//     to the tunnel that owns that ID (if the message comes from the tunnel's peer), and
//     otherwise (ID 0: a new SCCRQ; or an unknown ID) to a listener for the destination
//     address.
//   - any other Session ID: a data message, routed by session ID (L2TPv3 session IDs are
//     unique per LCCE, not per tunnel, RFC 3931 §4.1).
type ipDemux struct {
	d   *Dataplane
	v6  bool
	c   packetConn
	ctr counters
	wg  sync.WaitGroup

	refs int // guarded by Dataplane.mu: listeners and tunnels using the socket

	mu        sync.Mutex // guards changes of the three maps below
	tunnels   cowMap[uint32, *tunnel]
	sessions  cowMap[uint32, *session]
	listeners atomic.Pointer[[]*ipListener]

	wmu  sync.Mutex // guards wbuf
	wbuf []byte     // control messages with the zero session ID prepended
}

// acquireDemux returns the raw IP socket of the family, opening it on first use.
func (d *Dataplane) acquireDemux(v6 bool) (*ipDemux, error) {
	i := 0
	if v6 {
		i = 1
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, errClosed
	}
	if dm := d.demux[i]; dm != nil {
		dm.refs++
		return dm, nil
	}
	c, err := d.sys.openIPEncap(v6)
	if err != nil {
		return nil, err
	}
	dm := &ipDemux{d: d, v6: v6, c: c, refs: 1}
	d.demux[i] = dm
	dm.wg.Add(1)
	go dm.run()
	return dm, nil
}

// releaseDemux drops a reference; the last one closes the socket.
func (d *Dataplane) releaseDemux(dm *ipDemux) {
	d.mu.Lock()
	dm.refs--
	last := dm.refs == 0
	if last {
		for i := range d.demux {
			if d.demux[i] == dm {
				d.demux[i] = nil
			}
		}
	}
	d.mu.Unlock()
	if last {
		dm.shutdown()
	}
}

// shutdown closes the socket and waits for the reader.
func (dm *ipDemux) shutdown() {
	dm.c.close()
	dm.wg.Wait()
}

func (dm *ipDemux) addListener(l *ipListener) {
	dm.mu.Lock()
	defer dm.mu.Unlock()
	var ls []*ipListener
	if p := dm.listeners.Load(); p != nil {
		ls = append(ls, *p...)
	}
	ls = append(ls, l)
	dm.listeners.Store(&ls)
}

func (dm *ipDemux) removeListener(l *ipListener) {
	dm.mu.Lock()
	defer dm.mu.Unlock()
	var ls []*ipListener
	if p := dm.listeners.Load(); p != nil {
		for _, x := range *p {
			if x != l {
				ls = append(ls, x)
			}
		}
	}
	dm.listeners.Store(&ls)
}

func (dm *ipDemux) addTunnel(t *tunnel) error {
	dm.mu.Lock()
	defer dm.mu.Unlock()
	if _, ok := dm.tunnels.get(t.id); ok {
		return errExist
	}
	dm.tunnels.set(t.id, t)
	return nil
}

func (dm *ipDemux) removeTunnel(t *tunnel) {
	dm.mu.Lock()
	defer dm.mu.Unlock()
	if x, _ := dm.tunnels.get(t.id); x == t {
		dm.tunnels.remove(t.id)
	}
}

func (dm *ipDemux) addSession(s *session) error {
	dm.mu.Lock()
	defer dm.mu.Unlock()
	if x, ok := dm.sessions.get(s.id); ok && x != s {
		return errExist
	}
	dm.sessions.set(s.id, s)
	return nil
}

func (dm *ipDemux) removeSession(s *session) {
	dm.mu.Lock()
	defer dm.mu.Unlock()
	if x, _ := dm.sessions.get(s.id); x == s {
		dm.sessions.remove(s.id)
	}
}

// writeControl sends a control message to the peer, prepending the zero session ID.
func (dm *ipDemux) writeControl(b []byte, to, from netip.Addr) error {
	dm.wmu.Lock()
	defer dm.wmu.Unlock()
	dm.wbuf = append(dm.wbuf[:0], 0, 0, 0, 0)
	dm.wbuf = append(dm.wbuf, b...)
	return dm.c.writeTo(dm.wbuf, netip.AddrPortFrom(to, 0), from)
}

func (dm *ipDemux) run() {
	defer dm.wg.Done()
	ms := newBatch(batchSize, sockBufSize)
	for {
		for i := range ms {
			ms[i].off = headroom
		}
		n, err := dm.c.readBatch(ms)
		if err != nil {
			if isClosed(err) {
				return
			}
			if isTransient(err) {
				continue
			}
			dm.d.log.Error("raw IP socket failed", zap.Bool("ipv6", dm.v6), zap.Error(err))
			return
		}
		for i := range ms[:n] {
			dm.handle(&ms[i])
		}
	}
}

// handle routes one packet read from the raw socket.
func (dm *ipDemux) handle(m *msg) {
	if m.trunc {
		dm.ctr.drop(kernel.DropTooBig)
		return
	}
	p := m.buf[m.off : m.off+m.n]
	control, err := l2tp.ClassifyIP(p)
	if err != nil {
		dm.ctr.drop(kernel.DropMalformed)
		return
	}
	src := m.src.Addr().Unmap()
	if !control {
		sid := binary.BigEndian.Uint32(p)
		s, ok := dm.sessions.get(sid)
		if !ok {
			dm.ctr.drop(kernel.DropNoSession)
			return
		}
		s.t.recvV3(s, m.buf[:m.off+m.n], m.off, false)
		return
	}
	body := p[l2tp.IPSessionIDLen:]
	// The L2TPv3 control header: flags and version (2), Length (2), Control Connection
	// ID (4), RFC 3931 §3.2.1.
	if len(body) < 8 {
		dm.ctr.drop(kernel.DropMalformed)
		return
	}
	dm.ctr.rx(len(p))
	if ccid := binary.BigEndian.Uint32(body[4:]); ccid != 0 {
		if t, ok := dm.tunnels.get(ccid); ok && t.peerAddr() == src {
			t.controlIn(body, netip.AddrPortFrom(src, 0))
			return
		}
	}
	if p := dm.listeners.Load(); p != nil {
		dst := m.dst.Unmap()
		for _, l := range *p {
			if l.accepts(dst) {
				if !l.q.push(nil, body, queued{src: netip.AddrPortFrom(src, 0), dst: dst}) {
					l.ctr.drop(kernel.DropQueueFull)
				} else {
					l.ctr.rx(len(body))
				}
				return
			}
		}
	}
	dm.ctr.drop(kernel.DropNoSession)
}

// newBatch allocates n datagram buffers of size bytes after the headroom.
func newBatch(n, size int) []msg {
	ms := make([]msg, n)
	for i := range ms {
		ms[i].buf = make([]byte, headroom+size)
		ms[i].off = headroom
	}
	return ms
}
