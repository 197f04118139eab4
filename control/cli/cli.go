// Package cli implements probox's management command-line tools: prol2tp, propppctl,
// proac_manage and proac_info (commands over the management API), and prol2tpwatch and
// propppwatch (the live event stream). Each tool is a function of its arguments and its
// output streams that returns an exit status, so main only dispatches and tests run the
// tools in process.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/probox/probox/config"
	"github.com/probox/probox/control"
)

// SocketEnv names the environment variable that overrides the default socket path.
const SocketEnv = "PROBOX_SOCKET"

// Env is what a tool runs with.
type Env struct {
	Stdout, Stderr io.Writer
	// Getenv reads the environment (nil: os.Getenv).
	Getenv func(string) string
}

func (e Env) getenv(k string) string {
	if e.Getenv == nil {
		return os.Getenv(k)
	}
	return e.Getenv(k)
}

// common holds the flags every API tool takes.
type common struct {
	socket  string
	cfgPath string
	json    bool
	timeout time.Duration
}

func (c *common) register(fs *flag.FlagSet, withJSON bool) {
	fs.StringVar(&c.socket, "s", "", "management `SOCKET` of the daemon (default: control.socket of -c, $"+SocketEnv+", or /run/probox/control.sock)")
	fs.StringVar(&c.cfgPath, "c", "", "read the socket path from this configuration `FILE`")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "give up on the daemon after this long")
	if withJSON {
		fs.BoolVar(&c.json, "j", false, "print JSON")
	}
}

// socketPath finds the management socket: -s, else control.socket of -c, else the
// environment, else the built-in default.
func (c *common) socketPath(env Env) (string, error) {
	switch {
	case c.socket != "":
		return c.socket, nil
	case c.cfgPath != "":
		f, err := config.Load(c.cfgPath)
		if err != nil {
			return "", err
		}
		return f.Config.Control.Socket, nil
	case env.getenv(SocketEnv) != "":
		return env.getenv(SocketEnv), nil
	}
	return config.Default().Config.Control.Socket, nil
}

func (c *common) dial(env Env) (*control.Client, error) {
	path, err := c.socketPath(env)
	if err != nil {
		return nil, err
	}
	return control.Dial(path)
}

// verb is one command of an API tool: the words that select it, the API command it sends,
// and how its arguments and result are handled.
type verb struct {
	words []string // e.g. {"show", "system"}; a word "ARG" takes an operand
	usage string   // one line for the help text
	arg   string   // how the help text names the operands, space-separated (default ID)
	// build turns the operands (the words that matched "ARG") into the API command name
	// and arguments.
	build func(operands []string) (cmd string, args any, err error)
	// print renders the raw result for people; nil prints it as indented JSON.
	print func(w io.Writer, raw json.RawMessage) error
}

// tool is an API tool: a name, its verbs and help text.
type tool struct {
	name  string
	about string
	verbs []verb
}

// match finds the verb whose words match args, with its operands.
func (t *tool) match(args []string) (*verb, []string, bool) {
	for i := range t.verbs {
		v := &t.verbs[i]
		if len(v.words) != len(args) {
			continue
		}
		var ops []string
		ok := true
		for j, w := range v.words {
			switch {
			case w == "ARG":
				ops = append(ops, args[j])
			case w != args[j]:
				ok = false
			}
		}
		if ok {
			return v, ops, true
		}
	}
	return nil, nil, false
}

func (t *tool) usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: %s [flags] COMMAND...\n\n%s\n\ncommands:\n", t.name, t.about)
	for _, v := range t.verbs {
		fmt.Fprintf(w, "  %-40s %s\n", v.synopsis(), v.usage)
	}
	fmt.Fprintf(w, "\nflags:\n")
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// synopsis is the verb's words with each ARG replaced by its name: the words of arg in
// turn ("TUNNEL SESSION"), the last one repeating.
func (v *verb) synopsis() string {
	names := strings.Fields(v.argName())
	words := slices.Clone(v.words)
	k := 0
	for i, w := range words {
		if w == "ARG" {
			words[i] = names[min(k, len(names)-1)]
			k++
		}
	}
	return strings.Join(words, " ")
}

func (v *verb) argName() string {
	if v.arg != "" {
		return v.arg
	}
	return "ID"
}

// run parses flags, finds the verb and performs it.
func (t *tool) run(args []string, env Env) int {
	fs := flag.NewFlagSet(t.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var c common
	c.register(fs, true)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			t.usage(env.Stdout, fs)
			return 0
		}
		fmt.Fprintf(env.Stderr, "%s: %v\n", t.name, err)
		t.usage(env.Stderr, fs)
		return 2
	}
	rest := fs.Args()
	if len(rest) == 0 || (len(rest) == 1 && slices.Contains([]string{"help", "-h", "--help"}, rest[0])) {
		if len(rest) == 0 {
			t.usage(env.Stderr, fs)
			return 2
		}
		t.usage(env.Stdout, fs)
		return 0
	}
	v, ops, ok := t.match(rest)
	if !ok {
		fmt.Fprintf(env.Stderr, "%s: unknown command %q; run '%s help' for the list\n", t.name, strings.Join(rest, " "), t.name)
		return 2
	}
	cmd, cargs, err := v.build(ops)
	if err != nil {
		fmt.Fprintf(env.Stderr, "%s: %v\n", t.name, err)
		return 2
	}
	cl, err := c.dial(env)
	if err != nil {
		fmt.Fprintf(env.Stderr, "%s: %v\n", t.name, err)
		return 1
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	var raw json.RawMessage
	if err := cl.Call(ctx, cmd, cargs, &raw); err != nil {
		fmt.Fprintf(env.Stderr, "%s: %v\n", t.name, err)
		return 1
	}
	if c.json || v.print == nil {
		return printJSON(env, t.name, raw)
	}
	if err := v.print(env.Stdout, raw); err != nil {
		fmt.Fprintf(env.Stderr, "%s: %v\n", t.name, err)
		return 1
	}
	return 0
}

func printJSON(env Env, name string, raw json.RawMessage) int {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		fmt.Fprintf(env.Stderr, "%s: bad result: %v\n", name, err)
		return 1
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	fmt.Fprintln(env.Stdout, string(b))
	return 0
}

// fixed returns a build function for a verb without operands.
func fixed(cmd string) func([]string) (string, any, error) {
	return func([]string) (string, any, error) { return cmd, nil, nil }
}

// decode is a helper for printers.
func decode[T any](raw json.RawMessage) (T, error) {
	var v T
	err := json.Unmarshal(raw, &v)
	return v, err
}
