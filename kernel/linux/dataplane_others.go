//go:build !linux

package linux

import (
	"fmt"
	"io"
	"runtime"

	"github.com/probox/probox/kernel"
)

var errUnimplemented = fmt.Errorf("linux: the kernel data plane is not implemented on %s/%s", runtime.GOOS, runtime.GOARCH)

// Dataplane is the kernel data plane; on this platform none can be opened.
type Dataplane struct{}

var _ kernel.Dataplane = (*Dataplane)(nil)

// New is not implemented on this platform.
func New(cfg Config) (*Dataplane, error) {
	return nil, &kernel.OpError{Op: "open kernel data plane", Err: errUnimplemented}
}

// Name returns "kernel".
func (d *Dataplane) Name() string { return kernel.NameKernel }

// Listen is not implemented on this platform.
func (d *Dataplane) Listen(kernel.ListenConfig) (kernel.Listener, error) {
	return nil, errUnimplemented
}

// OpenTunnel is not implemented on this platform.
func (d *Dataplane) OpenTunnel(kernel.TunnelConfig) (kernel.Tunnel, error) {
	return nil, errUnimplemented
}

// OpenPPPoE is not implemented on this platform.
func (d *Dataplane) OpenPPPoE(kernel.PPPoEConfig) (kernel.PPPoEPort, error) {
	return nil, errUnimplemented
}

// NewUnit is not implemented on this platform.
func (d *Dataplane) NewUnit(kernel.Channel, kernel.UnitConfig) (kernel.Unit, error) {
	return nil, errUnimplemented
}

// Bridge is not implemented on this platform.
func (d *Dataplane) Bridge(a, b kernel.Channel) (io.Closer, error) { return nil, errUnimplemented }

// Close does nothing on this platform.
func (d *Dataplane) Close() error { return nil }
