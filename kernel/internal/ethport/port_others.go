//go:build !linux

package ethport

import (
	"fmt"
	"net"
	"runtime"
	"time"

	"github.com/probox/probox/kernel"
)

var errUnimplemented = fmt.Errorf("ethport: packet sockets not implemented on %s/%s", runtime.GOOS, runtime.GOARCH)

// Port is a packet socket on one interface; on this platform none can be opened.
type Port struct{}

// Open is not implemented on this platform.
func Open(ifname string, ethertypes ...uint16) (*Port, error) {
	return nil, &kernel.OpError{Op: "open packet socket", Object: ifname, Err: errUnimplemented}
}

// ReadFrame is not implemented on this platform.
func (p *Port) ReadFrame(b []byte) (Frame, error) { return Frame{}, errUnimplemented }

// WriteFrame is not implemented on this platform.
func (p *Port) WriteFrame(f Frame, scratch []byte) error { return errUnimplemented }

// AddUnicast is not implemented on this platform.
func (p *Port) AddUnicast(mac net.HardwareAddr) error { return errUnimplemented }

// SetReadDeadline is not implemented on this platform.
func (p *Port) SetReadDeadline(t time.Time) error { return errUnimplemented }

// HardwareAddr is the interface's MAC address.
func (p *Port) HardwareAddr() net.HardwareAddr { return nil }

// MTU is the interface's MTU.
func (p *Port) MTU() int { return 0 }

// Index is the interface index.
func (p *Port) Index() int { return 0 }

// Name is the interface name.
func (p *Port) Name() string { return "" }

// Dropped counts the frames ReadFrame dropped.
func (p *Port) Dropped() uint64 { return 0 }

// Close does nothing on this platform.
func (p *Port) Close() error { return nil }
