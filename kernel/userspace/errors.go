package userspace

import (
	"errors"
	"syscall"
)

// isTransient reports whether a read error leaves the socket or device usable: an ICMP
// error reported on a connected UDP socket, an interrupted or would-block call, or a
// momentary lack of buffers.
func isTransient(err error) bool {
	for _, e := range []syscall.Errno{syscall.ECONNREFUSED, syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.EINTR, syscall.EAGAIN, syscall.ENOBUFS, syscall.ENOMEM, syscall.EMSGSIZE} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
