package netns

import (
	"errors"
	"fmt"
	"net"
	"os/exec"
	"runtime"
	"slices"
	"syscall"

	"golang.org/x/sys/unix"
)

// Do runs fn on the calling goroutine with its OS thread switched into the
// namespace, then switches the thread back. Sockets, TUN/TAP devices and
// netlink sockets that fn opens belong to the namespace and stay there after
// Do returns; /proc/sys/net written by fn is the namespace's.
//
// fn must do its work on the calling goroutine: goroutines it starts run on
// other threads, in the original namespace.
//
// Do locks the goroutine to its thread for the duration. If switching back
// fails, Do returns an error and does NOT unlock the thread: the goroutine
// stays wired to a thread that is in the wrong namespace, and when the
// goroutine exits (a test's t.Fatal ends it) the runtime terminates that
// thread instead of reusing it. Treat such an error as fatal.
func (ns *NS) Do(fn func() error) error {
	return doIn(ns.Path(), fn)
}

func doIn(path string, fn func() error) (err error) {
	target, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("netns: open %s: %w", path, err)
	}
	defer unix.Close(target)

	runtime.LockOSThread()
	orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns: open current namespace: %w", err)
	}
	defer unix.Close(orig)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns: setns %s: %w", path, err)
	}
	// Deferred so that the thread is switched back even if fn panics.
	defer func() {
		if serr := unix.Setns(orig, unix.CLONE_NEWNET); serr != nil {
			// Leave the thread locked; see Do.
			err = errors.Join(err, fmt.Errorf("netns: switching back from %s: %w", path, serr))
			return
		}
		runtime.UnlockOSThread()
	}()
	return fn()
}

// interfacesAt returns the sorted interface names of the namespace bound at
// path.
func interfacesAt(path string) ([]string, error) {
	var names []string
	err := doIn(path, func() error {
		ifs, err := net.Interfaces()
		for _, ifc := range ifs {
			names = append(names, ifc.Name)
		}
		return err
	})
	slices.Sort(names)
	return names, err
}

// setProcAttr makes the kernel kill cmd's process if this process dies
// without cleanup (a timeout panic), so no daemon outlives the test binary.
// The signal is tied to the forking thread (prctl PR_SET_PDEATHSIG), which
// the Go runtime keeps alive except after a failed Do.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

func checkPlatform() error { return nil }
