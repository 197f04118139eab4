// Command probox is an L2TP / PPP / PPPoE access server in one binary. It is invoked
// busybox-style: the name it is run under (argv[0], following symlinks) selects the mode,
// or `probox MODE ARGS...` names it. `probox install-links DIR` creates the symlinks.
package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/probox/probox/control/cli"
	"github.com/probox/probox/control/daemon"
)

// modeEnv overrides the mode selection (tests run the binary under its own name).
const modeEnv = "PROBOX_MODE"

// A mode is one face of the binary.
type mode struct {
	about string
	run   func(name string, args []string, stdout, stderr io.Writer) int
}

func daemonMode(name string, args []string, stdout, stderr io.Writer) int {
	return daemon.Main(name, args, stdout, stderr, wire, openDataplane)
}

func cliMode(f func([]string, cli.Env) int) func(string, []string, io.Writer, io.Writer) int {
	return func(_ string, args []string, stdout, stderr io.Writer) int {
		return f(args, cli.Env{Stdout: stdout, Stderr: stderr})
	}
}

// modes is the table of faces. newModes panics on a duplicate name.
var modes = newModes(map[string]mode{
	"prol2tpd":      {about: "the daemon, as the L2TP daemon", run: daemonMode},
	"propppd":       {about: "the daemon, as the PPP daemon", run: daemonMode},
	"proacd":        {about: "the daemon, as the PPPoE access concentrator", run: daemonMode},
	"daemon":        {about: "the daemon (all engines)", run: daemonMode},
	"prol2tp":       {about: "show and control L2TP and system state", run: cliMode(cli.Prol2tp)},
	"prol2tpwatch":  {about: "print L2TP events as they happen", run: cliMode(cli.Prol2tpwatch)},
	"propppctl":     {about: "show and control PPP sessions", run: cliMode(cli.Propppctl)},
	"propppwatch":   {about: "print PPP events as they happen", run: cliMode(cli.Propppwatch)},
	"proac_manage":  {about: "control the PPPoE access concentrator", run: cliMode(cli.ProacManage)},
	"proac_info":    {about: "show PPPoE access concentrator state", run: cliMode(cli.ProacInfo)},
	"config":        {about: "check, show and document configuration files", run: cliMode(cli.ConfigCmd)},
	"install-links": {about: "create the mode symlinks in a directory", run: installLinksMode},
})

func newModes(m map[string]mode) map[string]mode {
	seen := map[string]bool{}
	for name := range m {
		if seen[name] {
			panic("duplicate mode " + name)
		}
		seen[name] = true
	}
	return m
}

func main() {
	os.Exit(dispatch(os.Args, os.Stdout, os.Stderr))
}

// dispatch selects the mode from argv[0] (following symlinks to the last link whose name
// is a mode), $PROBOX_MODE, or the first argument, and runs it.
func dispatch(argv []string, stdout, stderr io.Writer) int {
	if name := os.Getenv(modeEnv); name != "" {
		if m, ok := modes[name]; ok {
			return m.run(name, argv[1:], stdout, stderr)
		}
	}
	if name, ok := modeFromArgv0(argv[0]); ok {
		return modes[name].run(name, argv[1:], stdout, stderr)
	}
	if len(argv) < 2 {
		usage(stderr)
		return 2
	}
	switch argv[1] {
	case "-h", "--help", "help":
		usage(stdout)
		return 0
	case "-v", "--version", "version":
		return daemonMode("probox", []string{"-v"}, stdout, stderr)
	}
	name := argv[1]
	m, ok := modes[name]
	if !ok {
		fmt.Fprintf(stderr, "probox: unknown mode %q\n\n", name)
		usage(stderr)
		return 2
	}
	return m.run(name, argv[2:], stdout, stderr)
}

// modeFromArgv0 follows argv0 through a chain of symlinks and returns the last name on the
// way that is a mode.
func modeFromArgv0(argv0 string) (string, bool) {
	path := argv0
	if !strings.ContainsRune(path, '/') {
		if p, err := exec.LookPath(path); err == nil {
			path = p
		}
	}
	found := ""
	for range 16 {
		if _, ok := modes[filepath.Base(path)]; ok {
			found = filepath.Base(path)
		}
		target, err := os.Readlink(path)
		if err != nil {
			break
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(path), target)
		}
		path = target
	}
	return found, found != ""
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "usage: probox MODE [ARGS...]   (or run it as one of the mode names)\n\nmodes:\n")
	names := make([]string, 0, len(modes))
	for n := range modes {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-14s %s\n", n, modes[n].about)
	}
	fmt.Fprintf(w, "\nEvery mode takes -h for its own help.\n")
}

func installLinksMode(_ string, args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintf(stderr, "usage: probox install-links DIR\n\nCreates the symlinks %s in DIR, pointing at this binary.\n", strings.Join(linkNames(), ", "))
		if len(args) == 1 && (args[0] == "-h" || args[0] == "--help") {
			return 0
		}
		return 2
	}
	self, err := os.Executable()
	if err == nil {
		self, err = filepath.EvalSymlinks(self)
	}
	if err != nil {
		fmt.Fprintf(stderr, "probox install-links: cannot find this binary: %v\n", err)
		return 1
	}
	if err := installLinks(args[0], self, stdout); err != nil {
		fmt.Fprintf(stderr, "probox install-links: %v\n", err)
		return 1
	}
	return 0
}

// linkNames are the modes that install-links makes symlinks for (the ProL2TP names).
func linkNames() []string {
	return []string{"proac_info", "proac_manage", "proacd", "prol2tp", "prol2tpd", "prol2tpwatch", "propppctl", "propppd", "propppwatch"}
}

// installLinks makes DIR/NAME a symlink to target for every linked mode. A link that
// already points at target is left alone; any other file is not overwritten.
func installLinks(dir, target string, out io.Writer) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var refused []string
	for _, n := range linkNames() {
		p := filepath.Join(dir, n)
		if fi, err := os.Lstat(p); err == nil {
			if fi.Mode()&os.ModeSymlink != 0 {
				if dst, err := filepath.EvalSymlinks(p); err == nil && dst == target {
					continue
				}
			}
			refused = append(refused, p)
			continue
		}
		if err := os.Symlink(target, p); err != nil {
			return err
		}
		fmt.Fprintf(out, "%s -> %s\n", p, target)
	}
	if len(refused) > 0 {
		return fmt.Errorf("refusing to overwrite %s: not a link to %s", strings.Join(refused, ", "), target)
	}
	return nil
}
