package cli

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/probox/probox/control/daemon"
	"github.com/probox/probox/control/event"
)

// Prol2tpwatch prints L2TP tunnel and session events as they happen, ProL2TP style.
func Prol2tpwatch(args []string, env Env) int {
	return watch("prol2tpwatch", "l2tp", args, env)
}

// Propppwatch prints PPP session events as they happen.
func Propppwatch(args []string, env Env) int {
	return watch("propppwatch", "ppp", args, env)
}

var maskWords = []string{"created", "deleted", "up", "down"}

// parseMask turns "created,up" into the set of verbs; "all" is every verb.
func parseMask(s string) (map[string]bool, error) {
	m := map[string]bool{}
	for w := range strings.SplitSeq(s, ",") {
		w = strings.TrimSpace(w)
		switch {
		case w == "all":
			for _, x := range maskWords {
				m[x] = true
			}
		case slices.Contains(maskWords, w):
			m[w] = true
		default:
			return nil, fmt.Errorf("bad mask word %q (want a comma list of %s, or all)", w, strings.Join(maskWords, ","))
		}
	}
	return m, nil
}

func watch(name, engine string, args []string, env Env) int {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var (
		c          common
		timeout    = fs.Int("T", 0, "exit after `SECONDS` (0: never)")
		maxEvents  = fs.Int("n", 0, "exit after `N` events (0: never)")
		verbose    = fs.Bool("v", false, "verbose: protocol version, encapsulation, peer, pseudowire type, interface")
		timestamps = fs.Bool("p", false, "prefix each event with a timestamp")
		csvOut     = fs.Bool("c", false, "print comma-separated values")
		tunnelMask = fs.String("t", "", "tunnel events to show: comma list of created,deleted,up,down (default: all)")
		sessMask   = fs.String("s", "", "session events to show: comma list of created,deleted,up,down (default: all)")
	)
	fs.StringVar(&c.socket, "socket", "", "management `SOCKET` of the daemon (default: control.socket of -config, $"+SocketEnv+", or /run/probox/control.sock)")
	fs.StringVar(&c.cfgPath, "config", "", "read the socket path from this configuration `FILE`")
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "usage: %s [-T SECONDS] [-n N] [-v] [-p] [-c] [-t MASK] [-s MASK]\n\n", name)
		fmt.Fprintf(w, "Prints the probox daemon's %s events as they happen.\n\nflags:\n", strings.ToUpper(engine))
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	if err := fs.Parse(ExpandFlags(args, "vpc")); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(env.Stdout)
			return 0
		}
		fmt.Fprintf(env.Stderr, "%s: %v\n", name, err)
		usage(env.Stderr)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.Stderr, "%s: unexpected argument %q\n", name, fs.Arg(0))
		return 2
	}
	masks := map[string]map[string]bool{}
	for kind, s := range map[string]string{"tunnel": *tunnelMask, "session": *sessMask} {
		if s == "" {
			continue
		}
		m, err := parseMask(s)
		if err != nil {
			fmt.Fprintf(env.Stderr, "%s: -%c: %v\n", name, kind[0], err)
			return 2
		}
		masks[kind] = m
	}
	// With only one mask given, show only that kind (as prol2tpwatch -s shows sessions).
	var types []string
	for _, kind := range []string{"tunnel", "session"} {
		if engine == "ppp" && kind == "tunnel" {
			continue
		}
		m := masks[kind]
		if m == nil && len(masks) > 0 {
			continue
		}
		for _, w := range maskWords {
			if m == nil || m[w] {
				types = append(types, kind+"-"+w)
			}
		}
	}
	if engine == "ppp" && *verbose {
		types = append(types, event.PPPPhase.String())
	}

	cl, err := c.dial(env)
	if err != nil {
		fmt.Fprintf(env.Stderr, "%s: %v\n", name, err)
		return 1
	}
	defer cl.Close()
	ctx := context.Background()
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*timeout)*time.Second)
		defer cancel()
	}
	p := &eventPrinter{w: env.Stdout, verbose: *verbose, timestamps: *timestamps}
	if *csvOut {
		p.csv = csv.NewWriter(env.Stdout)
	}
	seen := 0
	errStop := errors.New("enough events")
	err = cl.Stream(ctx, "watch", daemon.WatchArgs{Types: types, Engines: []string{engine, "daemon"}}, func(raw json.RawMessage) error {
		var e event.Event
		if err := json.Unmarshal(raw, &e); err != nil {
			return fmt.Errorf("bad event from the daemon: %w", err)
		}
		if e.Type == event.ConfigReloaded {
			return nil
		}
		p.print(&e)
		if e.Type != 0 {
			seen++
		}
		if *maxEvents > 0 && seen >= *maxEvents {
			return errStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		fmt.Fprintf(env.Stderr, "%s: %v\n", name, err)
		return 1
	}
	return 0
}

// ExpandFlags splits grouped boolean flags ("-vp") into separate ones.
func ExpandFlags(args []string, bools string) []string {
	return daemon.ExpandShortFlags(args, bools)
}

// eventPrinter renders events in ProL2TP's watch format, or as CSV.
type eventPrinter struct {
	w          io.Writer
	csv        *csv.Writer
	verbose    bool
	timestamps bool

	csvHeaderDone bool
}

var csvHeader = []string{"time", "event", "tid", "sid", "peer_tid", "peer_sid", "name", "profile", "user", "result", "error", "message", "version", "encap", "peer", "pw_type", "ifname"}

func (p *eventPrinter) print(e *event.Event) {
	if e.Type == 0 { // a notice from the daemon (e.g. lost events)
		if p.csv == nil {
			fmt.Fprintf(p.w, "NOTICE: %s\n", e.Message)
		}
		return
	}
	f := eventFields(e)
	if p.csv != nil {
		if !p.csvStarted() {
			p.csv.Write(csvHeader)
		}
		row := make([]string, len(csvHeader))
		row[0], row[1] = e.Time.Format(time.RFC3339Nano), e.Type.String()
		for i, h := range csvHeader[2:] {
			row[i+2] = f.get(h)
		}
		p.csv.Write(row)
		p.csv.Flush()
		return
	}
	var b strings.Builder
	if p.timestamps {
		b.WriteString(e.Time.Format("2006-01-02 15:04:05.000 "))
	}
	head := strings.ToUpper(strings.ReplaceAll(e.Type.String(), "-", " "))
	if e.Engine == "ppp" && e.Type.IsSession() {
		head = "PPP " + strings.ToUpper(e.Type.Verb())
	}
	b.WriteString(head + ":")
	keys := []string{"tid", "sid", "name", "profile", "user"}
	if e.Type == event.TunnelUp || e.Type == event.SessionUp {
		keys = append(keys, "peer_tid", "peer_sid")
	}
	if e.Type.Verb() == "down" || e.Type.Verb() == "deleted" {
		keys = append(keys, "result", "error", "message")
	}
	if e.Type == event.PPPPhase {
		keys = []string{"instance", "phase", "user"}
	}
	if p.verbose {
		keys = append(keys, "version", "encap", "peer", "pw_type", "ifname", "local_ip", "peer_ip")
	}
	for _, k := range keys {
		if v := f.get(k); v != "" {
			fmt.Fprintf(&b, " %s=%s", k, v)
		}
	}
	fmt.Fprintln(p.w, b.String())
}

func (p *eventPrinter) csvStarted() bool {
	started := p.csvHeaderDone
	p.csvHeaderDone = true
	return started
}

type fields map[string]string

func (f fields) get(k string) string { return f[k] }

// eventFields flattens an event into the named fields the watch formats print.
func eventFields(e *event.Event) fields {
	f := fields{}
	num := func(k string, v uint32) {
		if v != 0 {
			f[k] = strconv.FormatUint(uint64(v), 10)
		}
	}
	if t := e.Tunnel; t != nil {
		num("tid", t.ID)
		num("peer_tid", t.PeerID)
		f["name"], f["profile"] = t.Name, t.Profile
		if t.Version != 0 {
			f["version"] = strconv.Itoa(t.Version)
		}
		f["encap"], f["peer"] = t.Encap, t.Peer
	}
	if s := e.Session; s != nil {
		num("tid", s.TunnelID)
		num("sid", s.ID)
		num("peer_tid", s.PeerTunnelID)
		num("peer_sid", s.PeerID)
		f["name"], f["profile"] = s.Name, s.Profile
		f["pw_type"], f["ifname"], f["user"] = s.PWType, s.Interface, s.User
	}
	if p := e.PPP; p != nil {
		f["instance"], f["phase"] = p.Instance, p.Phase
		if p.User != "" {
			f["user"] = p.User
		}
		if p.Interface != "" {
			f["ifname"] = p.Interface
		}
		f["local_ip"], f["peer_ip"] = p.LocalIP, p.PeerIP
	}
	if r := e.Result; r != nil {
		f["result"] = strconv.Itoa(int(r.Code))
		f["error"] = strconv.Itoa(int(r.Error))
		msg := r.Message
		if r.Reason != "" {
			if msg != "" {
				msg += "; "
			}
			msg += r.Reason
		}
		f["message"] = strconv.Quote(msg)
	}
	return f
}
