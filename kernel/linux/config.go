package linux

import (
	"errors"

	"go.uber.org/zap"

	"github.com/probox/probox/kernel"
)

// Config configures the kernel data plane.
type Config struct {
	// Log is the parent logger; nil logs nothing.
	Log *zap.Logger
	// InterfaceGroup is the interface group (IFLA_GROUP) given to every interface the data
	// plane creates: PPP units, Ethernet pseudowire interfaces, and the VLAN subinterfaces
	// (802.1Q, and 802.1ad for QinQ) and macvlan interfaces of PPPoE ports. It is how probox tells its own interfaces from the others; 0 leaves
	// the default group and disables CleanupStale's interface cleanup.
	InterfaceGroup uint32
	// CleanupStale makes New remove the interfaces that a probox that ended without
	// cleaning up (kill -9, crash) left behind: links of InterfaceGroup of the kinds the
	// data plane creates. Kernel L2TP tunnels and sessions, PPPoE sessions and PPP units
	// cannot outlive the process (see the package documentation).
	CleanupStale bool
}

// ErrBridgeUnsupported is returned (wrapped) by Dataplane.Bridge on kernels without
// PPPIOCBRIDGECHAN (Linux before 5.11).
var ErrBridgeUnsupported = errors.New("linux: this kernel cannot bridge PPP channels (PPPIOCBRIDGECHAN needs Linux 5.11 or later)")

// ErrNotEstablished is returned (wrapped in a *kernel.OpError) by Tunnel.EnsureSession
// before Tunnel.Establish.
var ErrNotEstablished = errors.New("linux: tunnel not established")

// ErrMacvlan is returned (wrapped) by PPPoEPort.OpenSession for a session from an extra
// MAC address (kernel.FrameInfo.Src) on a kernel without macvlan support: a kernel PPPoE
// socket always sends with its device's address, so each extra address needs a macvlan
// interface of its own.
var ErrMacvlan = errors.New("linux: PPPoE sessions from an extra MAC address need macvlan interfaces, which this kernel cannot create")

// opErr wraps err as a *kernel.OpError unless it is nil or already one.
func opErr(op, object string, err error) error { return kernel.WrapOp(op, object, err) }
