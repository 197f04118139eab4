//go:build linux

package linux

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/probox/probox/kernel/internal/closeset"

	"github.com/mdlayher/genetlink"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/probox/probox/kernel"
	"github.com/probox/probox/kernel/internal/netdev"
)

// Dataplane is the kernel implementation of kernel.Dataplane. Its methods are safe for
// concurrent use.
type Dataplane struct {
	cfg       Config
	log       *zap.Logger
	ns        *netNS
	genl      *genl
	h         *netdev.Handle
	ioc       *pollFD // an AF_INET datagram socket for interface ioctls
	bridgeErr error   // why PPPIOCBRIDGECHAN cannot work here, or nil

	objs closeset.Set // every open top-level object
}

var _ kernel.Dataplane = (*Dataplane)(nil)

// New opens the kernel data plane in the network namespace of the calling thread. Every
// later call creates its sockets and devices in that namespace, whichever thread makes
// it. It fails when the kernel lacks the generic netlink family "l2tp" or rtnetlink; the
// other features (PPPoX, /dev/ppp) fail when first used, with errors naming them.
func New(cfg Config) (*Dataplane, error) {
	log := cfg.Log
	if log == nil {
		log = zap.NewNop()
	}
	d := &Dataplane{cfg: cfg, log: log.Named("kernel")}

	// Everything below is created on one thread so that it all lands in the namespace
	// recorded first.
	runtime.LockOSThread()
	err := d.open()
	runtime.UnlockOSThread()
	if err != nil {
		d.closeHandles()
		return nil, err
	}
	if cfg.CleanupStale {
		if err := d.cleanupStale(); err != nil {
			d.closeHandles()
			return nil, err
		}
	}
	d.log.Info("kernel data plane ready",
		zap.Uint32("interface_group", cfg.InterfaceGroup),
		zap.Bool("bridge", d.bridgeErr == nil))
	return d, nil
}

// open opens the handles; the caller has locked the OS thread.
func (d *Dataplane) open() error {
	ns, err := currentNetNS()
	if err != nil {
		return &kernel.OpError{Op: "open network namespace", Err: err}
	}
	d.ns = ns
	c, err := genetlink.Dial(nil)
	if err != nil {
		return &kernel.OpError{Op: "open generic netlink", Err: unwrapNetlink(err)}
	}
	if d.genl, err = newGenl(c); err != nil {
		return err
	}
	if d.h, err = netdev.Open(); err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return &kernel.OpError{Op: "open ioctl socket", Err: err}
	}
	if d.ioc, err = newPollFD(fd, "ioctl socket"); err != nil {
		return &kernel.OpError{Op: "open ioctl socket", Err: err}
	}
	d.bridgeErr = probeBridge()
	return nil
}

// probeBridge tells from the kernel release whether PPPIOCBRIDGECHAN exists (Linux 5.11,
// drivers/net/ppp/ppp_generic.c). Bridge also maps ENOTTY from the ioctl itself, for
// kernels whose release says otherwise.
func probeBridge() error {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return nil // let the ioctl decide
	}
	rel := unix.ByteSliceToString(u.Release[:])
	major, minor, ok := parseRelease(rel)
	if !ok || major > 5 || major == 5 && minor >= 11 {
		return nil
	}
	return fmt.Errorf("%w (kernel %s)", ErrBridgeUnsupported, rel)
}

// parseRelease reads "major.minor" from the front of a kernel release string.
func parseRelease(rel string) (major, minor int, ok bool) {
	parts := strings.SplitN(rel, ".", 3)
	if len(parts) < 2 {
		return 0, 0, false
	}
	end := strings.IndexFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' })
	if end >= 0 {
		parts[1] = parts[1][:end]
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	return major, minor, err1 == nil && err2 == nil
}

// Name returns "kernel".
func (d *Dataplane) Name() string { return kernel.NameKernel }

// register records an open object so that Close closes it. It fails once the data plane
// is closed; the caller then closes the object itself.
func (d *Dataplane) register(c io.Closer, r closeset.Rank) error { return d.objs.Add(c, r) }

func (d *Dataplane) forget(c io.Closer) { d.objs.Remove(c) }

// Close closes every object that is still open (bridges, units, tunnels with their
// sessions, PPPoE ports, listeners) and then the data plane's own handles. It is
// idempotent.
func (d *Dataplane) Close() error {
	first, err := d.objs.Close()
	if !first {
		return nil
	}
	return errors.Join(err, d.closeHandles())
}

func (d *Dataplane) closeHandles() error {
	var errs []error
	if d.genl != nil {
		errs = append(errs, d.genl.close())
	}
	if d.h != nil {
		errs = append(errs, d.h.Close())
	}
	if d.ioc != nil {
		errs = append(errs, d.ioc.close())
	}
	if d.ns != nil {
		errs = append(errs, d.ns.close())
	}
	return errors.Join(errs...)
}

// inNS runs fn on a thread in the data plane's network namespace: sockets fn creates
// belong to it, and the /dev/ppp ioctls that look channels and units up by number
// (PPPIOCATTCHAN, PPPIOCNEWUNIT, PPPIOCBRIDGECHAN use current->nsproxy->net_ns) find the
// data plane's.
func (d *Dataplane) inNS(fn func() error) error { return d.ns.do(fn) }

// netNS is a network namespace, held open by a file.
type netNS struct {
	f        *os.File
	dev, ino uint64
}

const threadNetNS = "/proc/thread-self/ns/net"

// currentNetNS opens the calling thread's network namespace; the caller has locked the
// thread.
func currentNetNS() (*netNS, error) {
	f, err := os.Open(threadNetNS)
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, os.NewSyscallError("fstat", err)
	}
	return &netNS{f: f, dev: st.Dev, ino: st.Ino}, nil
}

func (n *netNS) close() error { return n.f.Close() }

// do runs fn on a thread in the namespace: on the calling thread if it is in there
// already (the common case: one namespace per process), otherwise on the calling thread
// switched into it and back.
func (n *netNS) do(fn func() error) error {
	runtime.LockOSThread()
	var st unix.Stat_t
	if err := unix.Stat(threadNetNS, &st); err != nil {
		runtime.UnlockOSThread()
		return os.NewSyscallError("stat", err)
	}
	if st.Dev == n.dev && st.Ino == n.ino {
		defer runtime.UnlockOSThread()
		return fn()
	}
	orig, err := os.Open(threadNetNS)
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	if err := unix.Setns(int(n.f.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return os.NewSyscallError("setns", err)
	}
	defer func() {
		// A thread that cannot switch back stays locked; the runtime discards it when
		// the goroutine ends.
		if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
	}()
	return fn()
}

// openSocket creates a non-blocking socket in the data plane's namespace.
func (d *Dataplane) openSocket(domain, typ, proto int) (int, error) {
	fd := -1
	err := d.inNS(func() error {
		var err error
		fd, err = unix.Socket(domain, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
		return err
	})
	return fd, err
}
