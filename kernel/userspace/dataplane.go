package userspace

import (
	"errors"
	"io"
	"net"
	"sync"
	"syscall"

	"github.com/probox/probox/kernel/internal/closeset"

	"go.uber.org/zap"

	"github.com/probox/probox/kernel"
)

// Config configures the userspace data plane.
type Config struct {
	// Log is the parent logger; nil logs nothing.
	Log *zap.Logger
	// SharedUnit names the TUN device that all shared units use; default "probox0".
	SharedUnit string
	// SharedMTU is the shared device's MTU; default 1500.
	SharedMTU int
	// InterfaceGroup is the interface group (IFLA_GROUP) given to every device the data
	// plane creates, so that probox's interfaces can be told from others; 0 leaves the
	// default group.
	InterfaceGroup uint32
}

// Default names.
const (
	DefaultSharedUnit = "probox0"
	defaultUnitName   = "ppp%d"
	defaultSharedMTU  = 1500
)

// ErrNotEstablished is returned (wrapped in a *kernel.OpError) by Tunnel.EnsureSession
// before Tunnel.Establish.
var ErrNotEstablished = errors.New("userspace: tunnel not established")

// Dataplane is the userspace kernel.Dataplane. Its methods are safe for concurrent use.
type Dataplane struct {
	cfg Config
	log *zap.Logger
	sys system

	objs closeset.Set // every open top-level object

	mu     sync.Mutex  // guards the following fields
	closed bool        // set by Close: no shared unit or raw socket is created afterwards
	demux  [2]*ipDemux // raw IP sockets, IPv4 and IPv6
	shared *sharedDev  // created at first use
}

var _ kernel.Dataplane = (*Dataplane)(nil)

// New opens the userspace data plane. It fails where the operating system offers no
// TUN devices or netlink (it is implemented for Linux only).
func New(cfg Config) (*Dataplane, error) {
	sys, err := newOSSystem(cfg)
	if err != nil {
		return nil, &kernel.OpError{Op: "open userspace data plane", Err: err}
	}
	return newDataplane(cfg, sys), nil
}

func newDataplane(cfg Config, sys system) *Dataplane {
	if cfg.SharedUnit == "" {
		cfg.SharedUnit = DefaultSharedUnit
	}
	if cfg.SharedMTU <= 0 {
		cfg.SharedMTU = defaultSharedMTU
	}
	log := cfg.Log
	if log == nil {
		log = zap.NewNop()
	}
	return &Dataplane{
		cfg: cfg,
		log: log.Named("userspace"),
		sys: sys,
	}
}

// Name returns "userspace".
func (d *Dataplane) Name() string { return kernel.NameUserspace }

// register records an open object so that Close closes it. It fails once the data plane
// is closed; the caller then closes the object itself.
func (d *Dataplane) register(c io.Closer, r closeset.Rank) error { return d.objs.Add(c, r) }

func (d *Dataplane) forget(c io.Closer) { d.objs.Remove(c) }

// Close closes every object that is still open (bridges, units, tunnels with their
// sessions, PPPoE ports, listeners), the shared unit, the raw IP sockets and the netlink
// handle, and waits for every goroutine. It is idempotent.
func (d *Dataplane) Close() error {
	first, err := d.objs.Close()
	if !first {
		return nil
	}
	errs := []error{err}
	d.mu.Lock()
	d.closed = true
	shared, demux := d.shared, d.demux
	d.shared, d.demux = nil, [2]*ipDemux{}
	d.mu.Unlock()
	if shared != nil {
		errs = append(errs, shared.close())
	}
	for _, dm := range demux {
		if dm != nil {
			dm.shutdown()
		}
	}
	errs = append(errs, d.sys.close())
	return errors.Join(errs...)
}

// opErr wraps err as a *kernel.OpError unless it is nil or already one.
func opErr(op, object string, err error) error { return kernel.WrapOp(op, object, err) }

// Errors for bad arguments, as errnos so that callers can test them with errors.Is.
var (
	errInval  = syscall.EINVAL
	errExist  = syscall.EEXIST
	errBusy   = syscall.EBUSY
	errTooBig = syscall.EMSGSIZE
	errClosed = net.ErrClosed
)

// isClosed reports whether err means that the socket or device was closed.
func isClosed(err error) bool { return errors.Is(err, net.ErrClosed) }
