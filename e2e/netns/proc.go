package netns

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// DefaultGrace is how long a Proc gets to exit after SIGTERM at cleanup
// before it is killed.
const DefaultGrace = 5 * time.Second

// Command returns a command that runs program name with args inside the
// namespace ("ip netns exec", which also mounts the namespace's /sys). The
// process is killed if the test binary dies. Callers may set Env, Dir,
// Stdin, Stdout and Stderr before starting it.
func (ns *NS) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, run.ip, append([]string{"netns", "exec", ns.full, name}, args...)...)
	cmd.WaitDelay = time.Second
	setProcAttr(cmd)
	return cmd
}

// Run runs program name with args inside the namespace, waits for it and
// returns its combined stdout and stderr. The error, if any, names the
// namespace and the command line.
func (ns *NS) Run(ctx context.Context, name string, args ...string) (string, error) {
	out, err := ns.Command(ctx, name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("netns %s: %s: %w", ns.full, strings.Join(append([]string{name}, args...), " "), err)
	}
	return string(out), nil
}

var pingReceived = regexp.MustCompile(`(\d+) packets transmitted, (\d+) received`)

// TryPing pings addr from the namespace count times, 0.2 s apart, and
// returns ping's output and an error unless all count echoes are answered
// within count×0.2 s + 2 s (rounded up to whole seconds). It suits WaitFor
// conditions.
//
// The deadline (-w) matters: with -c alone, once one reply has come ping
// waits only two round-trip times for the rest, so a reply delayed by a
// scheduling hiccup (common in the kernel VM) would count as lost.
func (ns *NS) TryPing(ctx context.Context, addr string, count int) (string, error) {
	deadline := (count*200+999)/1000 + 2
	// The context only guards against a hung exec; ping ends by itself.
	ctx, cancel := context.WithTimeout(ctx, time.Duration(deadline)*time.Second+30*time.Second)
	defer cancel()
	out, err := ns.Run(ctx, "ping", "-n", "-c", strconv.Itoa(count), "-i", "0.2", "-W", "2",
		"-w", strconv.Itoa(deadline), addr)
	if err != nil {
		return out, err
	}
	m := pingReceived.FindStringSubmatch(out)
	if m == nil || m[2] != strconv.Itoa(count) {
		return out, fmt.Errorf("netns %s: ping %s: not every echo answered", ns.full, addr)
	}
	return out, nil
}

// Ping pings addr from the namespace (see TryPing) and fails t with ping's
// output unless all count echoes are answered.
func (ns *NS) Ping(t testing.TB, addr string, count int) {
	t.Helper()
	if out, err := ns.TryPing(t.Context(), addr, count); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}

// Proc is a long-running process (a daemon) started in a namespace with
// NS.Start. Its stdout and stderr go to a file.
type Proc struct {
	cmd  *exec.Cmd
	path string
	done chan struct{}
	code int // exit code, valid once done is closed
}

// Start starts program name with args inside the namespace and registers a
// cleanup on t that stops it (Stop with DefaultGrace) and, if t failed, logs
// the end of its output. It fails t if the program cannot be started.
func (ns *NS) Start(t testing.TB, name string, args ...string) *Proc {
	t.Helper()
	return StartCmd(t, ns.Command(context.Background(), name, args...))
}

// StartCmd is Start for a command made with NS.Command, for callers that
// need to set its environment or working directory. Stdout and Stderr are
// replaced with the output file.
func StartCmd(t testing.TB, cmd *exec.Cmd) *Proc {
	t.Helper()
	dir := t.TempDir() // its removal is registered before, so runs after, the stop below
	f, err := os.CreateTemp(dir, "output-*.log")
	if err != nil {
		t.Fatalf("netns: %v", err)
	}
	cmd.Stdout, cmd.Stderr = f, f
	err = cmd.Start()
	f.Close() // the child has its own copy
	if err != nil {
		t.Fatalf("netns: start %s: %v", strings.Join(cmd.Args, " "), err)
	}
	p := &Proc{cmd: cmd, path: f.Name(), done: make(chan struct{})}
	go func() {
		cmd.Wait()
		p.code = exitCode(cmd.ProcessState)
		close(p.done)
	}()
	t.Cleanup(func() {
		code, err := p.Stop(DefaultGrace)
		if err != nil {
			t.Errorf("netns: %v", err)
		}
		if t.Failed() {
			t.Logf("netns: %s exited with %d; output (%s):\n%s", p, code, p.path, tail(p.Output(), 16<<10))
		}
	})
	return p
}

// exitCode returns the exit status, or 128+signal number if a signal ended
// the process (the shell convention: 143 for SIGTERM, 137 for SIGKILL).
func exitCode(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "...\n" + s[len(s)-n:]
}

// String returns the command line.
func (p *Proc) String() string { return strings.Join(p.cmd.Args, " ") }

// Pid returns the process ID.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// OutputPath returns the file that holds the process's stdout and stderr.
// It is removed with the test's temporary directory.
func (p *Proc) OutputPath() string { return p.path }

// Output returns what the process has written to stdout and stderr so far.
func (p *Proc) Output() string {
	b, _ := os.ReadFile(p.path)
	return string(b)
}

// Done returns a channel that is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Signal sends sig to the process. Signalling an exited process is not an
// error.
func (p *Proc) Signal(sig os.Signal) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("netns: signal %s: %w", p, err)
	}
	return nil
}

// Wait waits up to timeout for the process to exit and returns its exit code
// (128+signal if a signal ended it). If it is still running, Wait returns an
// error wrapping ErrTimeout.
func (p *Proc) Wait(timeout time.Duration) (int, error) {
	select {
	case <-p.done: // first, so that an exited process wins over timeout 0
		return p.code, nil
	default:
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-p.done:
		return p.code, nil
	case <-timer.C:
		return 0, fmt.Errorf("%w: %s still running after %v", ErrTimeout, p, timeout)
	}
}

// Stop sends SIGTERM, waits up to grace for the process to exit, then sends
// SIGKILL. It returns the exit code. Stopping an exited process just returns
// its exit code.
func (p *Proc) Stop(grace time.Duration) (int, error) {
	if err := p.Signal(syscall.SIGTERM); err != nil {
		return 0, err
	}
	if code, err := p.Wait(grace); err == nil {
		return code, nil
	}
	if err := p.Signal(syscall.SIGKILL); err != nil {
		return 0, err
	}
	return p.Wait(10 * time.Second)
}
