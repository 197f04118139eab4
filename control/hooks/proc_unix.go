//go:build unix

package hooks

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// checkScript applies the rules of doc.go to the hook script at path in dir. It returns
// an error wrapping fs.ErrNotExist when there is no script, one wrapping errRefused when
// the script must not be run, and nil when it may be.
//
// The daemon runs as root, so a script that someone else could have written would be a
// way to root. Symbolic links are followed and their targets checked; the check and the
// exec are not atomic, which is safe because only root or the daemon's user can change
// a directory that passes the check.
func checkScript(dir, path string) error {
	euid := uint32(os.Geteuid())
	trusted := func(what, p string, fi os.FileInfo) error {
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("%w: cannot read the owner of %s %s", errRefused, what, p)
		}
		if st.Uid != 0 && st.Uid != euid {
			return fmt.Errorf("%w: %s %s is owned by uid %d, not by root or the daemon's user", errRefused, what, p, st.Uid)
		}
		if fi.Mode().Perm()&0o002 != 0 {
			return fmt.Errorf("%w: %s %s is world-writable (mode %v)", errRefused, what, p, fi.Mode().Perm())
		}
		return nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return err
		}
		return fmt.Errorf("%w: %w", errRefused, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: %s is not a regular file (%v)", errRefused, path, fi.Mode().Type())
	}
	if fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%w: %s is not executable (mode %v)", errRefused, path, fi.Mode().Perm())
	}
	if err := trusted("script", path, fi); err != nil {
		return err
	}
	di, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("%w: %w", errRefused, err)
	}
	return trusted("directory", dir, di)
}

// runScript runs the executable at path in dir with env, stdin from /dev/null and
// stdout+stderr into one pipe whose tail it keeps, in a process group of its own. At
// timeout the group gets SIGTERM and, after the grace period, SIGKILL. The run ends when
// the script has exited and its output pipe is closed, that is when every process that
// inherited the pipe is gone too (a background process that must outlive its hook
// redirects its output or leaves the process group). running is called with +1 when the
// process has started and -1 when the run is over.
func runScript(path, dir string, env []string, timeout time.Duration, running func(float64)) outcome {
	pr, pw, err := os.Pipe()
	if err != nil {
		return outcome{result: resultFailed, status: err.Error()}
	}
	defer pr.Close()
	cmd := &exec.Cmd{
		Path:        path,
		Args:        []string{path},
		Dir:         dir,
		Env:         env,
		Stdout:      pw, // an *os.File: Wait does not wait for a copier
		Stderr:      pw,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	start := time.Now()
	err = cmd.Start()
	pw.Close()
	if err != nil {
		return outcome{result: resultFailed, status: err.Error()}
	}
	running(1)
	defer running(-1)
	pgid := cmd.Process.Pid

	out := &tailBuffer{max: outputLimit}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(out, pr)
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	grace := min(timeout, maxGrace)
	var (
		waitErr  error
		timedOut bool
		killC    <-chan time.Time // SIGKILL due
		abandonC <-chan time.Time // stop reading output held by a process outside the group
		exitedC  = exited
		copiedC  = (<-chan struct{})(copied)
	)
	for exitedC != nil || copiedC != nil {
		select {
		case waitErr = <-exitedC:
			exitedC = nil
		case <-copiedC:
			copiedC = nil
		case <-deadline.C:
			// The group outlives its leader while any member is alive, and its ID is not
			// reused meanwhile, so signalling it after the leader was reaped is safe.
			timedOut = true
			_ = unix.Kill(-pgid, unix.SIGTERM)
			killC = time.After(grace)
		case <-killC:
			killC = nil
			_ = unix.Kill(-pgid, unix.SIGKILL)
			abandonC = time.After(grace)
		case <-abandonC:
			abandonC = nil
			_ = pr.SetReadDeadline(time.Now())
		}
	}
	o := outcome{duration: time.Since(start), output: out.String(), truncated: out.truncated, started: true}
	switch {
	case timedOut:
		o.result = resultTimeout
		o.status = fmt.Sprintf("timed out after %v", timeout)
		if waitErr != nil {
			o.status += ": " + waitErr.Error()
		}
	case waitErr != nil:
		o.result = resultFailed
		o.status = waitErr.Error()
	default:
		o.result = resultOK
		o.status = "exit status 0"
	}
	return o
}
