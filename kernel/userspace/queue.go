package userspace

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// Control queue depths: control traffic is light, and a queue that stays full means the
// engine is stuck, so excess frames are dropped (kernel.DropQueueFull).
const (
	tunnelQueueDepth    = 64
	listenerQueueDepth  = 128
	channelQueueDepth   = 32
	discoveryQueueDepth = 256
	ctrlBufSize         = 2048 // a queue buffer; grown for longer messages
)

// queued is one message in a control queue: its bytes and where it came from.
type queued struct {
	buf []byte
	src netip.AddrPort
	dst netip.Addr
	eth ethFrame // PPPoE discovery: the Ethernet envelope (payload unset)
}

// ctrlQueue is a bounded queue of control messages from a reader goroutine (the data path)
// to the engine. push copies the message into one of at most depth buffers, allocated on
// first use and recycled after the engine read them, so the data path never blocks on the
// engine and a steady control flow allocates nothing.
type ctrlQueue struct {
	q     chan queued
	free  chan []byte
	done  chan struct{}
	once  sync.Once
	depth int32
	alloc atomic.Int32 // buffers allocated so far
}

func newCtrlQueue(depth int) *ctrlQueue {
	return &ctrlQueue{
		q:     make(chan queued, depth),
		free:  make(chan []byte, depth),
		done:  make(chan struct{}),
		depth: int32(depth),
	}
}

// buffer returns a free buffer of at least n bytes, or nil when all are in use.
func (q *ctrlQueue) buffer(n int) []byte {
	var b []byte
	select {
	case b = <-q.free:
	default:
		if q.alloc.Add(1) > q.depth {
			q.alloc.Add(-1)
			return nil
		}
		b = make([]byte, max(ctrlBufSize, n))
	}
	if cap(b) < n {
		b = make([]byte, n)
	}
	return b[:n]
}

// push queues a copy of prefix followed by body, with m's addresses. It returns false
// when the queue is full or closed.
func (q *ctrlQueue) push(prefix, body []byte, m queued) bool {
	select {
	case <-q.done:
		return false
	default:
	}
	b := q.buffer(len(prefix) + len(body))
	if b == nil {
		return false
	}
	copy(b[copy(b, prefix):], body)
	m.buf = b
	select {
	case q.q <- m:
		return true
	default: // unreachable: there are never more messages than buffers
		q.release(b)
		return false
	}
}

// pop returns the next message, or net.ErrClosed once the queue is closed. The caller
// hands the buffer back with release.
func (q *ctrlQueue) pop() (queued, error) {
	select {
	case <-q.done:
		return queued{}, net.ErrClosed
	default:
	}
	select {
	case m := <-q.q:
		return m, nil
	case <-q.done:
		return queued{}, net.ErrClosed
	}
}

// read pops the next message into b (truncating it as recvfrom does) and returns its
// length and envelope.
func (q *ctrlQueue) read(b []byte) (int, queued, error) {
	m, err := q.pop()
	if err != nil {
		return 0, m, err
	}
	n := copy(b, m.buf)
	q.release(m.buf)
	m.buf = nil
	return n, m, nil
}

func (q *ctrlQueue) release(b []byte) {
	select {
	case q.free <- b[:cap(b)]:
	default:
	}
}

// close makes pop fail with net.ErrClosed; queued messages are dropped.
func (q *ctrlQueue) close() { q.once.Do(func() { close(q.done) }) }
