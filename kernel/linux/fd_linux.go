//go:build linux

package linux

import (
	"errors"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// pollFD is a non-blocking file descriptor (a socket or a /dev/ppp file) registered with
// Go's runtime poller: a read that has to wait parks the goroutine in the poller, and
// close wakes it, after which every call returns net.ErrClosed. The os.File reference
// count keeps the descriptor number valid for the duration of each call, also when close
// runs concurrently, so that a number passed to the kernel (L2TP_ATTR_FD) inside control
// never refers to another file.
type pollFD struct {
	f      *os.File
	rc     syscall.RawConn
	closed atomic.Bool
}

// newPollFD takes ownership of fd, which must be non-blocking.
func newPollFD(fd int, name string) (*pollFD, error) {
	f := os.NewFile(uintptr(fd), name)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &pollFD{f: f, rc: rc}, nil
}

// fdErr maps the errors of a closed file to net.ErrClosed.
func (p *pollFD) fdErr(err error) error {
	if err == nil {
		return nil
	}
	if p.closed.Load() || errors.Is(err, os.ErrClosed) {
		return net.ErrClosed
	}
	return err
}

// recvmsg reads one datagram into b with its control messages into oob. trunc reports
// that the datagram did not fit into b.
func (p *pollFD) recvmsg(b, oob []byte) (n, oobn int, trunc bool, from unix.Sockaddr, err error) {
	var (
		flags int
		errno error
	)
	rerr := p.rc.Read(func(fd uintptr) bool {
		for {
			n, oobn, flags, from, errno = unix.Recvmsg(int(fd), b, oob, unix.MSG_TRUNC)
			switch errno {
			case unix.EINTR:
				continue
			case unix.EAGAIN:
				return false
			}
			return true
		}
	})
	if rerr == nil {
		rerr = errno
	}
	if rerr != nil {
		return 0, 0, false, nil, p.fdErr(rerr)
	}
	// With MSG_TRUNC, n is the datagram's real length.
	if n > len(b) {
		return len(b), oobn, true, from, nil
	}
	return n, oobn, flags&unix.MSG_TRUNC != 0, from, nil
}

// write writes b as one datagram or frame.
func (p *pollFD) write(b []byte) error {
	var errno error
	err := p.rc.Write(func(fd uintptr) bool {
		for {
			_, errno = unix.Write(int(fd), b)
			switch errno {
			case unix.EINTR:
				continue
			case unix.EAGAIN:
				return false
			}
			return true
		}
	})
	if err == nil {
		err = errno
	}
	return p.fdErr(err)
}

// sendto sends b to to, with the control messages oob.
func (p *pollFD) sendto(b, oob []byte, to unix.Sockaddr) error {
	var errno error
	err := p.rc.Write(func(fd uintptr) bool {
		for {
			_, errno = unix.SendmsgN(int(fd), b, oob, to, 0)
			switch errno {
			case unix.EINTR:
				continue
			case unix.EAGAIN:
				return false
			}
			return true
		}
	})
	if err == nil {
		err = errno
	}
	return p.fdErr(err)
}

// control runs fn with the descriptor; the descriptor stays open while fn runs.
func (p *pollFD) control(fn func(fd int) error) error {
	var ferr error
	err := p.rc.Control(func(fd uintptr) { ferr = fn(int(fd)) })
	if err == nil {
		err = ferr
	}
	return p.fdErr(err)
}

// ioctlPtr runs ioctl(fd, req, arg) with a pointer argument.
func (p *pollFD) ioctlPtr(req uint, arg unsafe.Pointer) error {
	return p.control(func(fd int) error { return ioctlPtr(fd, req, arg) })
}

// ioctlInt runs ioctl(fd, req, &v) for the PPP ioctls that take an int by pointer and
// returns v afterwards (for the ones that write it back).
func (p *pollFD) ioctlInt(req uint, v int32) (int32, error) {
	err := p.ioctlPtr(req, unsafe.Pointer(&v))
	return v, err
}

func ioctlPtr(fd int, req uint, arg unsafe.Pointer) error {
	for {
		_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(arg))
		switch e {
		case 0:
			return nil
		case unix.EINTR:
			continue
		}
		return e
	}
}

// close closes the descriptor; it is idempotent.
func (p *pollFD) close() error {
	if p.closed.Swap(true) {
		return nil
	}
	return p.f.Close()
}
