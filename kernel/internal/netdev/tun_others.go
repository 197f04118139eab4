//go:build !linux

package netdev

import (
	"fmt"
	"runtime"
	"time"

	"github.com/probox/probox/kernel"
)

var errUnimplemented = fmt.Errorf("netdev: TUN/TAP not implemented on %s/%s", runtime.GOOS, runtime.GOARCH)

// Tun is an open TUN or TAP device; on this platform none can be opened.
type Tun struct{}

// OpenTun is not implemented on this platform.
func OpenTun(h *Handle, cfg TunConfig) (*Tun, error) {
	return nil, &kernel.OpError{Op: "open tun", Object: cfg.Name, Err: errUnimplemented}
}

// Name is the interface name.
func (t *Tun) Name() string { return "" }

// Index is the interface index.
func (t *Tun) Index() int { return 0 }

// Read is not implemented on this platform.
func (t *Tun) Read(b []byte) (int, error) { return 0, errUnimplemented }

// Write is not implemented on this platform.
func (t *Tun) Write(b []byte) (int, error) { return 0, errUnimplemented }

// SetReadDeadline is not implemented on this platform.
func (t *Tun) SetReadDeadline(d time.Time) error { return errUnimplemented }

// Close does nothing on this platform.
func (t *Tun) Close() error { return nil }
