package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/probox/probox/control"
	"github.com/probox/probox/control/daemon"
)

// Prol2tp is the prol2tp tool: L2TP and system state, and the daemon's configuration.
func Prol2tp(args []string, env Env) int {
	return prol2tpTool().run(args, env)
}

func prol2tpTool() *tool {
	t := &tool{
		name:  "prol2tp",
		about: "Shows and changes the state of the probox daemon's L2TP engine and system.",
		verbs: []verb{
			{words: []string{"show", "system"}, usage: "version, uptime, configuration, data plane, counts", build: fixed("show system"), print: printSystem},
			{words: []string{"show", "system", "config"}, usage: "the effective configuration (defaults merged), as TOML", build: fixed("show config"), print: printString},
			{words: []string{"reload"}, usage: "re-read the configuration file and apply the changes", build: fixed("reload"), print: printReload},
			{words: []string{"show", "tunnels"}, usage: "every tunnel (flag N: opened by the peer)", build: fixed("show tunnels"), print: printTunnels},
			{words: []string{"show", "tunnel", "ARG"}, arg: "NAME|@ID", usage: "one tunnel in detail, with its sessions", build: tunnelRef("show tunnel"), print: printTunnel},
			{words: []string{"show", "sessions"}, usage: "every session of every tunnel", build: fixed("show sessions"), print: printSessions},
			{words: []string{"show", "sessions", "ARG"}, arg: "TUNNEL", usage: "the sessions of one tunnel (NAME or @ID)", build: sessionsOf, print: printSessions},
			{words: []string{"show", "session", "ARG", "ARG"}, arg: "TUNNEL SESSION", usage: "one session in detail", build: sessionRef("show session"), print: printSession},
			{words: []string{"show", "statistics"}, usage: "L2TP engine counts and control channel counters", build: fixed("show l2tp statistics"), print: printL2TPStats},
			{words: []string{"create", "tunnel", "ARG"}, arg: "NAME", usage: "bring up configured tunnel NAME now", build: createTunnel, print: printTunnelCreated},
			{words: []string{"delete", "tunnel", "ARG"}, arg: "NAME|@ID", usage: "tear a tunnel down (StopCCN)", build: tunnelRef("delete tunnel"), print: printDone("tunnel deleted")},
			{words: []string{"create", "session", "ARG", "ARG"}, arg: "TUNNEL NAME", usage: "bring up configured session NAME of a tunnel", build: createSession, print: printSessionCreated},
			{words: []string{"delete", "session", "ARG", "ARG"}, arg: "TUNNEL SESSION", usage: "disconnect a session (CDN)", build: sessionRef("delete session"), print: printDone("session deleted")},
			{words: []string{"create", "call", "ARG", "ARG"}, arg: "TUNNEL NUMBER", usage: "ask the peer (a LAC) to place an outgoing call (OCRQ)", build: outgoingCall, print: printSessionCreated},
		},
	}
	for _, kind := range control.ProfileKinds {
		t.verbs = append(t.verbs,
			verb{words: []string{"show", kind, "profile"}, usage: "every " + kind + " profile", build: profiles(kind), print: printProfiles},
			verb{words: []string{"show", kind, "profile", "ARG"}, arg: "NAME", usage: "one " + kind + " profile", build: profiles(kind), print: printProfiles},
		)
	}
	return t
}

func printSystem(w io.Writer, raw json.RawMessage) error {
	st, err := decode[daemon.Status](raw)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	rev := ""
	if st.Revision != "" {
		rev = " (" + shortRev(st.Revision) + ")"
	}
	fmt.Fprintf(tw, "probox %s%s %s\n", st.Version, rev, st.GoVersion)
	fmt.Fprintf(tw, "  mode:\t%s (pid %d), up %s\n", st.Mode, st.PID, (time.Duration(st.UptimeSeconds) * time.Second).String())
	loaded := ""
	if !st.Config.Loaded.IsZero() {
		loaded = " (loaded " + st.Config.Loaded.Format(time.RFC3339) + ")"
	}
	fmt.Fprintf(tw, "  configuration:\t%s%s\n", st.Config.Path, loaded)
	fmt.Fprintf(tw, "  host name:\t%s\n", st.HostName)
	if st.RouterID != "" {
		fmt.Fprintf(tw, "  router id:\t%s\n", st.RouterID)
	}
	listen := strings.Join(st.L2TPListen, ", ")
	if listen == "" {
		listen = "(not accepting tunnels)"
	}
	fmt.Fprintf(tw, "  l2tp listen:\t%s\n", listen)
	fmt.Fprintf(tw, "  log level:\t%s\n", st.LogLevel)
	fmt.Fprintf(tw, "  data plane:\t%s (%s)\n", st.Dataplane.Name, st.Dataplane.Reason)
	var engines []string
	for _, e := range st.Engines {
		engines = append(engines, e.Name+" "+e.State)
	}
	if len(engines) == 0 {
		engines = []string{"none"}
	}
	fmt.Fprintf(tw, "  engines:\t%s\n", strings.Join(engines, ", "))
	keys := make([]string, 0, len(st.Counts))
	for k := range st.Counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(tw, "  %s:\t%d\n", k, st.Counts[k])
	}
	return tw.Flush()
}

func printString(w io.Writer, raw json.RawMessage) error {
	s, err := decode[string](raw)
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, s)
	return err
}

func printReload(w io.Writer, raw json.RawMessage) error {
	r, err := decode[daemon.ReloadResult](raw)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "configuration reloaded from %s: %d changes\n", r.Path, len(r.Changes))
	for _, c := range r.Changes {
		fmt.Fprintf(w, "  %s\n", c)
	}
	for _, c := range r.Restart {
		fmt.Fprintf(w, "  note: %s changes take effect at the next restart\n", c)
	}
	return nil
}

func shortRev(r string) string {
	if len(r) > 12 {
		return r[:12]
	}
	return r
}
