package userspace

import (
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/probox/probox/kernel"
)

// ethHeaderLen is the Ethernet header an Ethernet pseudowire carries (RFC 4719 §2.1: the
// frame without preamble and FCS).
const ethHeaderLen = 14

// defaultEthName is the name template of Ethernet pseudowire devices.
const defaultEthName = "l2tpeth%d"

// ethPW is an L2TPv3 Ethernet pseudowire's TAP device: frames read from it are sent on the
// session, and the session's payloads are written to it.
type ethPW struct {
	s   *session
	dev device
	mtu atomic.Int32 // the device's MTU; the reader's buffer follows it
	wg  sync.WaitGroup
}

// newEthPW creates the TAP device of session s; mtu is the MTU derived from the tunnel,
// used when cfg.MTU is 0.
func (d *Dataplane) newEthPW(s *session, cfg kernel.SessionConfig, mtu int) (*ethPW, error) {
	if cfg.MTU > 0 {
		mtu = cfg.MTU
	}
	name := cfg.IfName
	if name == "" {
		name = defaultEthName
	}
	dev, err := d.sys.openTun(name, true, mtu)
	if err != nil {
		return nil, err
	}
	e := &ethPW{s: s, dev: dev}
	e.mtu.Store(int32(mtu))
	e.wg.Add(1)
	go e.run()
	return e, nil
}

// output writes a frame received from the peer to the device.
func (e *ethPW) output(frame []byte) {
	if err := e.dev.write(frame); err != nil {
		e.s.ctr.drop(kernel.DropWrite)
	}
}

func (e *ethPW) run() {
	defer e.wg.Done()
	var buf []byte
	for {
		// Room for the largest frame of the MTU, with two 802.1Q tags.
		if need := headroom + int(e.mtu.Load()) + ethHeaderLen + 8 + 64; cap(buf) < need {
			buf = make([]byte, need)
		}
		buf = buf[:cap(buf)]
		n, err := e.dev.read(buf[headroom:])
		if err != nil {
			if isClosed(err) {
				return
			}
			if isTransient(err) {
				continue
			}
			e.s.t.log.Error("ethernet pseudowire device failed", zap.Uint32("session_id", e.s.id), zap.Error(err))
			return
		}
		if n == len(buf)-headroom {
			e.s.ctr.drop(kernel.DropTooBig)
			continue
		}
		if n < ethHeaderLen {
			e.s.ctr.drop(kernel.DropMalformed)
			continue
		}
		e.s.xmit(buf[:headroom+n], headroom)
	}
}

// close deletes the device and waits for its reader.
func (e *ethPW) close() {
	e.dev.close()
	e.wg.Wait()
}
