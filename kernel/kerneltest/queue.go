package kerneltest

import (
	"net"
	"sync"
)

// queueLimit bounds every queue of the fake, as socket buffers bound real ones: a frame
// that finds its queue full is dropped and counted (kernel.DropQueueFull).
const queueLimit = 4096

// queue is the receive buffer of one fake socket or tap. Its reader blocks on channels
// only (never on a mutex or a timer), so a goroutine waiting in a read is durably blocked
// inside a testing/synctest bubble when the queue was created inside that bubble.
//
// The fields are guarded by the Network's mutex, which pop takes itself.
type queue[T any] struct {
	items []T
	// notify holds one token while the queue may have items for a waiting reader.
	notify chan struct{}
	// done is closed when the queue ends (closed or at end of input).
	done chan struct{}
	// closed ends the queue at once: reads return net.ErrClosed even with items left.
	closed bool
	// eof ends the queue after its last item: reads drain what is left, then return
	// net.ErrClosed.
	eof bool
}

func newQueue[T any]() *queue[T] {
	return &queue[T]{notify: make(chan struct{}, 1), done: make(chan struct{})}
}

// pushLocked appends v and reports whether the queue took it (false when the queue is
// full or has ended).
func (q *queue[T]) pushLocked(v T) bool {
	if q.closed || q.eof || len(q.items) >= queueLimit {
		return false
	}
	q.items = append(q.items, v)
	q.signal()
	return true
}

func (q *queue[T]) signal() {
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// closeLocked ends the queue at once; it is idempotent.
func (q *queue[T]) closeLocked() {
	if q.closed {
		return
	}
	q.closed = true
	q.items = nil
	if !q.eof {
		close(q.done)
	}
}

// eofLocked ends the queue after the items it holds; it is idempotent.
func (q *queue[T]) eofLocked() {
	if q.closed || q.eof {
		return
	}
	q.eof = true
	close(q.done)
}

// pop blocks until an item is there or the queue has ended, taking mu itself.
func (q *queue[T]) pop(mu *sync.Mutex) (T, error) {
	var zero T
	for {
		mu.Lock()
		switch {
		case q.closed:
			mu.Unlock()
			return zero, net.ErrClosed
		case len(q.items) > 0:
			v := q.items[0]
			q.items[0] = zero
			q.items = q.items[1:]
			if len(q.items) > 0 {
				q.signal() // another reader may be waiting
			}
			mu.Unlock()
			return v, nil
		case q.eof:
			mu.Unlock()
			return zero, net.ErrClosed
		}
		mu.Unlock()
		select {
		case <-q.notify:
		case <-q.done:
		}
	}
}

// lenLocked is the number of queued items.
func (q *queue[T]) lenLocked() int { return len(q.items) }
