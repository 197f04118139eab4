package userspace

import (
	"sync/atomic"

	"github.com/probox/probox/kernel"
)

// numDrops is the number of drop reasons kernel.Counters has room for.
const numDrops = len(kernel.Counters{}.Drops)

// counters are the atomic data counters of one data-plane object. Every goroutine that
// moves a packet of the object updates them; Stats reads a snapshot.
type counters struct {
	rxPackets, rxBytes atomic.Uint64
	txPackets, txBytes atomic.Uint64
	drops              [numDrops]atomic.Uint64
}

func (c *counters) rx(n int) {
	c.rxPackets.Add(1)
	c.rxBytes.Add(uint64(n))
}

func (c *counters) tx(n int) {
	c.txPackets.Add(1)
	c.txBytes.Add(uint64(n))
}

func (c *counters) drop(r kernel.DropReason) {
	if int(r) < numDrops {
		c.drops[r].Add(1)
	}
}

func (c *counters) snapshot() kernel.Counters {
	s := kernel.Counters{
		RxPackets: c.rxPackets.Load(),
		RxBytes:   c.rxBytes.Load(),
		TxPackets: c.txPackets.Load(),
		TxBytes:   c.txBytes.Load(),
	}
	for i := range c.drops {
		s.Drops[i] = c.drops[i].Load()
	}
	return s
}
