//go:build linux

package netdev

import (
	"errors"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/probox/probox/kernel"
)

// Tun is an open TUN or TAP device. It is not persistent: the interface exists while the
// Tun is open. Read and Write may be called concurrently with each other and with Close.
type Tun struct {
	h     *Handle // the handle it was opened with; Close uses it to see the link go
	f     *os.File
	name  string
	index int

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error // set by closeOnce
}

// tunGoneTimeout bounds how long Close waits for the interface to disappear.
const tunGoneTimeout = 5 * time.Second

// OpenTun creates a TUN (IFF_TUN) or TAP (IFF_TAP) device, always without packet
// information (IFF_NO_PI) and not persistent, in the calling thread's network namespace
// (which must be h's). It sets the MTU and group from cfg and brings the link up. The
// device's file descriptor is non-blocking and registered with Go's poller, so a blocked
// Read returns when the Tun is closed. h must stay open until the Tun is closed.
func OpenTun(h *Handle, cfg TunConfig) (*Tun, error) {
	const op = "open tun"
	object := cfg.Name
	if object == "" {
		object = "/dev/net/tun"
	}
	if len(cfg.Name) >= ifNameSize {
		return nil, &kernel.OpError{Op: op, Object: object, Err: unix.EINVAL}
	}
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &kernel.OpError{Op: op, Object: "/dev/net/tun", Err: err}
	}
	ifr, err := unix.NewIfreq(cfg.Name)
	if err != nil {
		unix.Close(fd)
		return nil, &kernel.OpError{Op: op, Object: object, Err: err}
	}
	flags := uint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if cfg.TAP {
		flags = unix.IFF_TAP | unix.IFF_NO_PI
	}
	ifr.SetUint16(flags)
	// TUNSETIFF creates the device (a "%d" in the name is replaced by the kernel) and
	// writes the final name back into ifr.
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return nil, &kernel.OpError{Op: op, Object: object, Err: err}
	}
	t := &Tun{h: h, name: ifr.Name()}
	// os.NewFile sees O_NONBLOCK and registers the descriptor with the runtime poller.
	t.f = os.NewFile(uintptr(fd), "/dev/net/tun:"+t.name)
	l, err := h.LinkByName(t.name)
	if err != nil {
		t.closed.Store(true)
		t.f.Close()
		return nil, err
	}
	t.index = l.Index
	if err := t.configure(cfg); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

func (t *Tun) configure(cfg TunConfig) error {
	if cfg.MTU > 0 {
		if err := t.h.SetMTU(t.index, cfg.MTU); err != nil {
			return err
		}
	}
	if cfg.Group != 0 {
		if err := t.h.SetGroup(t.index, cfg.Group); err != nil {
			return err
		}
	}
	return t.h.SetUp(t.index, true)
}

// Name is the interface name (with the number the kernel chose for a template).
func (t *Tun) Name() string { return t.name }

// Index is the interface index.
func (t *Tun) Index() int { return t.index }

// Read reads one packet into b: an IP packet for TUN, an Ethernet frame for TAP. A packet
// longer than b is truncated to len(b). After Close it returns an error wrapping
// ErrClosed, which matches net.ErrClosed and os.ErrClosed.
func (t *Tun) Read(b []byte) (int, error) {
	n, err := t.f.Read(b)
	if err != nil {
		return n, t.ioError("read", err)
	}
	return n, nil
}

// Write writes one packet (TUN: IP packet; TAP: Ethernet frame).
func (t *Tun) Write(b []byte) (int, error) {
	n, err := t.f.Write(b)
	if err != nil {
		return n, t.ioError("write", err)
	}
	return n, nil
}

// SetReadDeadline sets the deadline for Read; a Read past it returns an error wrapping
// os.ErrDeadlineExceeded. The zero time means no deadline.
func (t *Tun) SetReadDeadline(d time.Time) error { return t.f.SetReadDeadline(d) }

func (t *Tun) ioError(op string, err error) error {
	if t.closed.Load() || errors.Is(err, os.ErrClosed) {
		err = ErrClosed
	} else if pe, ok := err.(*fs.PathError); ok {
		err = pe.Err
	}
	return &kernel.OpError{Op: op, Object: t.name, Err: err}
}

// Close closes the device and waits until its interface is gone. It unblocks a pending
// Read. It is idempotent: later calls return the first call's result.
func (t *Tun) Close() error {
	t.closeOnce.Do(func() {
		t.closed.Store(true)
		// For a descriptor in the poller, File.Close returns only after close(2), which
		// (for a non-persistent device) unregisters the interface.
		if err := t.f.Close(); err != nil {
			t.closeErr = &kernel.OpError{Op: "close tun", Object: t.name, Err: err}
			return
		}
		t.closeErr = t.waitGone()
	})
	return t.closeErr
}

// waitGone polls until the interface has disappeared. It normally returns at the first
// look; the loop covers a kernel that unregisters the device later.
func (t *Tun) waitGone() error {
	deadline := time.Now().Add(tunGoneTimeout)
	delay := 100 * time.Microsecond
	for {
		l, err := t.h.LinkByIndex(t.index)
		switch {
		case IsNotExist(err), err == nil && l.Name != t.name:
			return nil
		case err != nil:
			return &kernel.OpError{Op: "close tun", Object: t.name, Err: err}
		case time.Now().After(deadline):
			return &kernel.OpError{Op: "close tun", Object: t.name, Err: errTunStillThere}
		}
		time.Sleep(delay)
		delay = min(2*delay, 10*time.Millisecond)
	}
}

var errTunStillThere = errors.New("netdev: interface still present after close")
