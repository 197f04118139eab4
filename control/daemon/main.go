package daemon

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"

	"github.com/probox/probox/config"
	"github.com/probox/probox/control"
)

// Environment variables of the background start: the child learns the readiness pipe's
// file descriptor from readyFDEnv.
const readyFDEnv = "PROBOX_READY_FD"

// countFlag is a flag that counts its repetitions (-d -d).
type countFlag int

func (c *countFlag) String() string   { return strconv.Itoa(int(*c)) }
func (c *countFlag) Set(string) error { *c++; return nil }
func (c *countFlag) IsBoolFlag() bool { return true }

// Main is the entry point of the daemon modes (prol2tpd, propppd, proacd, probox daemon).
// It parses ProL2TP's flags and returns the exit status.
func Main(mode string, args []string, stdout, stderr io.Writer, wire Wiring, open DataplaneOpener) int {
	fs := flag.NewFlagSet(mode, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		foreground = fs.Bool("f", false, "stay in the foreground and log to stderr")
		debug      countFlag
		cfgPath    = fs.String("c", config.DefaultPath, "configuration `FILE`")
		check      = fs.Bool("n", false, "parse and validate the configuration, print the result and exit")
		logFile    = fs.String("o", "", "log to `FILE` instead of syslog or stderr")
		version    = fs.Bool("v", false, "print the version and exit")
	)
	fs.Var(&debug, "d", "log debug messages (repeat for per-packet detail)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s [-f] [-d]... [-c FILE] [-o FILE] [-n] [-v]\n\n", mode)
		fmt.Fprintf(stderr, "Starts the probox daemon (L2TP, PPP and PPPoE engines in one process).\n"+
			"Without -f it detaches and logs to syslog. SIGHUP reloads the configuration;\n"+
			"SIGTERM stops it cleanly.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(ExpandShortFlags(args, "fdnvh")); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected argument %q\n", mode, fs.Arg(0))
		fs.Usage()
		return 2
	}
	if *version {
		fmt.Fprintln(stdout, control.Build())
		return 0
	}
	if *check {
		f, err := config.LoadOrDefault(*cfgPath)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		if f.Embedded() {
			fmt.Fprintf(stdout, "%s does not exist: the embedded defaults would be used; they are valid\n", *cfgPath)
		} else {
			fmt.Fprintf(stdout, "%s: ok\n", f.Path)
		}
		return 0
	}

	opts := Options{
		Mode: mode, ConfigPath: *cfgPath, Foreground: *foreground, Debug: int(debug),
		LogFile: *logFile, Wire: wire, Open: open, Stderr: stderr,
	}
	if !*foreground && os.Getenv(readyFDEnv) == "" {
		return background(mode, stderr)
	}
	ready := readyNotifier()
	opts.Ready = ready
	if err := Run(opts); err != nil {
		if ready != nil {
			ready(err)
		}
		fmt.Fprintf(stderr, "%s: %v\n", mode, err)
		return 1
	}
	return 0
}

// ExpandShortFlags splits grouped single-letter flags ("-fdd") into separate ones ("-f",
// "-d", "-d") when every letter is one of the boolean flags in bools.
func ExpandShortFlags(args []string, bools string) []string {
	var out []string
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if len(a) > 2 && a[0] == '-' && a[1] != '-' && strings.Trim(a[1:], bools) == "" {
			for _, c := range a[1:] {
				out = append(out, "-"+string(c))
			}
			continue
		}
		out = append(out, a)
	}
	return out
}

// background starts the daemon again as a detached child (new session, standard streams on
// /dev/null) and waits until it reports that it started, or why it could not.
func background(mode string, stderr io.Writer) int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "%s: cannot find my own executable to detach: %v\n", mode, err)
		return 1
	}
	r, w, err := os.Pipe()
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", mode, err)
		return 1
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", mode, err)
		return 1
	}
	defer devnull.Close()
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Args[0] = os.Args[0] // keep the mode name (argv[0] dispatch)
	cmd.Env = append(os.Environ(), readyFDEnv+"=3")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "%s: starting the daemon: %v\n", mode, err)
		return 1
	}
	w.Close()
	msg, _ := io.ReadAll(r)
	r.Close()
	if s := strings.TrimSpace(string(msg)); s != "ready" {
		if s == "" {
			s = "the daemon exited during start-up"
		}
		fmt.Fprintf(stderr, "%s: %s\n", mode, s)
		return 1
	}
	cmd.Process.Release()
	return 0
}

// readyNotifier returns the function the daemon calls once it has started (nil error) or
// failed to: it tells the waiting parent of a background start through the readiness pipe,
// and systemd through $NOTIFY_SOCKET (Type=notify). It returns nil when nobody waits.
func readyNotifier() func(error) {
	var pipe *os.File
	if v := os.Getenv(readyFDEnv); v != "" {
		if fd, err := strconv.Atoi(v); err == nil {
			pipe = os.NewFile(uintptr(fd), "ready")
		}
		os.Unsetenv(readyFDEnv)
	}
	notify := os.Getenv("NOTIFY_SOCKET")
	if pipe == nil && notify == "" {
		return nil
	}
	done := false
	return func(err error) {
		if done {
			return
		}
		done = true
		if pipe != nil {
			if err != nil {
				fmt.Fprintln(pipe, err)
			} else {
				fmt.Fprintln(pipe, "ready")
			}
			pipe.Close()
		}
		if notify != "" && err == nil {
			sdNotify(notify, "READY=1")
		}
	}
}

// sdNotify sends state to systemd's notification socket (sd_notify(3)).
func sdNotify(socket, state string) {
	if strings.HasPrefix(socket, "@") {
		socket = "\x00" + socket[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: socket, Net: "unixgram"})
	if err != nil {
		return
	}
	defer c.Close()
	c.Write([]byte(state))
}
