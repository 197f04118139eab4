package userspace

import (
	"net"
	"net/netip"
	"sync"

	"github.com/probox/probox/kernel/internal/closeset"

	"github.com/probox/probox/kernel"
	"github.com/probox/probox/l2tp"
)

// Listen opens a socket where peers open new tunnels. For EncapUDP it is a UDP socket with
// SO_REUSEADDR, so that each tunnel's own socket can bind the same port and, being
// connected, receive its peer's packets instead; the listener then sees only the control
// packets of peers without a tunnel and drops data packets. For EncapIP it is a share of
// the data plane's raw IP socket of the address family, which passes it the control
// messages with connection ID 0 or one that no tunnel owns.
func (d *Dataplane) Listen(cfg kernel.ListenConfig) (kernel.Listener, error) {
	object := cfg.Encap.String() + " " + cfg.Addr.String()
	if !cfg.Addr.Addr().IsValid() {
		return nil, opErr("listen", object, errInval)
	}
	cfg.Addr = netip.AddrPortFrom(cfg.Addr.Addr().Unmap(), cfg.Addr.Port())
	var l kernel.Listener
	switch cfg.Encap {
	case kernel.EncapUDP:
		c, err := d.sys.listenUDP(cfg.Addr)
		if err != nil {
			return nil, opErr("listen", object, err)
		}
		l = &udpListener{d: d, c: c, addr: c.localAddr(), ms: [1]msg{{buf: make([]byte, headroom+sockBufSize)}}}
	case kernel.EncapIP:
		dm, err := d.acquireDemux(cfg.Addr.Addr().Is6())
		if err != nil {
			return nil, opErr("listen", object, err)
		}
		il := &ipListener{d: d, dm: dm, addr: netip.AddrPortFrom(cfg.Addr.Addr(), 0), q: newCtrlQueue(listenerQueueDepth)}
		dm.addListener(il)
		l = il
	default:
		return nil, opErr("listen", object, errInval)
	}
	if err := d.register(l, closeset.Listener); err != nil {
		l.Close()
		return nil, opErr("listen", object, err)
	}
	return l, nil
}

// udpListener is a UDP listening socket; ReadFrom reads the socket itself.
type udpListener struct {
	d    *Dataplane
	c    packetConn
	addr netip.AddrPort
	ctr  counters

	rmu sync.Mutex // serialises ReadFrom, guards ms
	ms  [1]msg

	once sync.Once
}

// ReadFrom reads the next control packet; data packets (of peers without a tunnel
// socket) and malformed packets are dropped and counted.
func (l *udpListener) ReadFrom(b []byte) (int, netip.AddrPort, netip.Addr, error) {
	l.rmu.Lock()
	defer l.rmu.Unlock()
	for {
		m := &l.ms[0]
		m.off = headroom
		if _, err := l.c.readBatch(l.ms[:]); err != nil {
			if isClosed(err) {
				return 0, netip.AddrPort{}, netip.Addr{}, net.ErrClosed
			}
			if isTransient(err) {
				continue
			}
			return 0, netip.AddrPort{}, netip.Addr{}, opErr("read", "listener "+l.addr.String(), err)
		}
		p := m.buf[m.off : m.off+m.n]
		if m.trunc {
			l.ctr.drop(kernel.DropTooBig)
			continue
		}
		control, _, err := l2tp.ClassifyUDP(p)
		if err != nil {
			l.ctr.drop(kernel.DropMalformed)
			continue
		}
		if !control {
			l.ctr.drop(kernel.DropNoSession)
			continue
		}
		l.ctr.rx(len(p))
		dst := m.dst
		if !dst.IsValid() {
			dst = l.addr.Addr()
		}
		src := netip.AddrPortFrom(m.src.Addr().Unmap(), m.src.Port())
		return copy(b, p), src, dst.Unmap(), nil
	}
}

// WriteTo sends a control message from the listening socket.
func (l *udpListener) WriteTo(b []byte, dst netip.AddrPort) error {
	if err := l.c.writeTo(b, dst, netip.Addr{}); err != nil {
		if isClosed(err) {
			return net.ErrClosed
		}
		return opErr("write", "listener "+l.addr.String(), err)
	}
	l.ctr.tx(len(b))
	return nil
}

func (l *udpListener) Addr() netip.AddrPort { return l.addr }

func (l *udpListener) Close() error {
	l.once.Do(func() {
		l.c.close()
		l.d.forget(l)
	})
	return nil
}

// ipListener receives, from the shared raw IP socket, the control messages that no
// L2TPv3 IP-encapsulation tunnel owns.
type ipListener struct {
	d    *Dataplane
	dm   *ipDemux
	addr netip.AddrPort
	q    *ctrlQueue
	ctr  counters

	once sync.Once
}

// accepts reports whether a message sent to dst is for this listener.
func (l *ipListener) accepts(dst netip.Addr) bool {
	return l.addr.Addr().IsUnspecified() || !dst.IsValid() || l.addr.Addr() == dst
}

func (l *ipListener) ReadFrom(b []byte) (int, netip.AddrPort, netip.Addr, error) {
	n, m, err := l.q.read(b)
	if err != nil {
		return 0, netip.AddrPort{}, netip.Addr{}, err
	}
	dst := m.dst
	if !dst.IsValid() {
		dst = l.addr.Addr()
	}
	return n, m.src, dst, nil
}

// WriteTo sends a control message (the data plane adds the zero session ID).
func (l *ipListener) WriteTo(b []byte, dst netip.AddrPort) error {
	select {
	case <-l.q.done:
		return net.ErrClosed
	default:
	}
	from := l.addr.Addr()
	if from.IsUnspecified() {
		from = netip.Addr{}
	}
	if err := l.dm.writeControl(b, dst.Addr(), from); err != nil {
		return opErr("write", "listener "+l.addr.String(), err)
	}
	l.ctr.tx(len(b))
	return nil
}

func (l *ipListener) Addr() netip.AddrPort { return l.addr }

func (l *ipListener) Close() error {
	l.once.Do(func() {
		l.q.close()
		l.dm.removeListener(l)
		l.d.releaseDemux(l.dm)
		l.d.forget(l)
	})
	return nil
}
