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
	"github.com/probox/probox/ppp"
)

// Propppctl is the propppctl tool: PPP sessions of the daemon's PPP engine.
func Propppctl(args []string, env Env) int {
	return propppctlTool().run(args, env)
}

func propppctlTool() *tool {
	return &tool{
		name:  "propppctl",
		about: "Shows and controls the PPP sessions of the probox daemon (instances are named session-N).",
		// "show pools" comes before "show ARG": the first matching verb wins.
		verbs: []verb{
			{words: []string{"list"}, usage: "every PPP instance", build: fixed("ppp list"), print: printPPPList},
			{words: []string{"list", "up"}, usage: "instances whose network layer is up", build: pppList("up"), print: printPPPList},
			{words: []string{"list", "down"}, usage: "instances not (yet) up", build: pppList("down"), print: printPPPList},
			{words: []string{"status"}, usage: "instance counts, authentication and pool statistics", build: fixed("ppp status"), print: printPPPStatus},
			{words: []string{"show", "pools"}, usage: "address pools and their usage", build: fixed("ppp pools"), print: printPPPPools},
			{words: []string{"show", "sessions"}, usage: "the same as list", build: fixed("ppp list"), print: printPPPList},
			{words: []string{"show", "statistics"}, usage: "the same as status", build: fixed("ppp status"), print: printPPPStatus},
			{words: []string{"show", "session", "ARG"}, arg: "INSTANCE", usage: "the same as show INSTANCE", build: pppInstance("ppp show"), print: printPPPShow},
			{words: []string{"show", "ARG"}, arg: "INSTANCE", usage: "one instance (ID: session-N or N)", build: pppInstance("ppp show"), print: printPPPShow},
			{words: []string{"destroy", "ARG"}, arg: "INSTANCE", usage: "terminate an instance (LCP Terminate, then tear down)", build: pppInstance("ppp destroy"), print: printPPPDestroy},
			{words: []string{"disconnect", "ARG"}, arg: "INSTANCE", usage: "the same as destroy", build: pppInstance("ppp destroy"), print: printPPPDestroy},
		},
	}
}

func pppList(state string) func([]string) (string, any, error) {
	return func([]string) (string, any, error) {
		return "ppp list", map[string]string{"state": state}, nil
	}
}

func pppInstance(cmd string) func([]string) (string, any, error) {
	return func(ops []string) (string, any, error) {
		if ops[0] == "" {
			return "", nil, fmt.Errorf("missing instance")
		}
		return cmd, map[string]string{"instance": ops[0]}, nil
	}
}

// orDash returns s, or "-" when it is empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func seconds(n int64) string { return (time.Duration(n) * time.Second).String() }

// printPPPList prints one line per instance.
func printPPPList(w io.Writer, raw json.RawMessage) error {
	list, err := decode[[]ppp.SessionInfo](raw)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		_, err := fmt.Fprintln(w, "no PPP instances")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "INSTANCE\tSTATE\tUSER\tINTERFACE\tPEER\tUPTIME")
	for _, s := range list {
		uptime := "-"
		if s.State == "up" {
			uptime = seconds(s.UptimeSeconds)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Instance, s.Phase, orDash(s.User), orDash(s.Interface), orDash(s.PeerIP), uptime)
	}
	return tw.Flush()
}

// printPPPShow prints one instance in detail.
func printPPPShow(w io.Writer, raw json.RawMessage) error {
	s, err := decode[ppp.SessionInfo](raw)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "%s (%s, %s over %s, profile %s)\n", s.Instance, s.Phase, s.Role, s.Carrier, s.Profile)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "  %s:\t%s\n", k, v)
		}
	}
	row("user", s.User)
	row("authentication", s.Auth)
	row("interface", s.Interface)
	if s.LocalIP != "" || s.PeerIP != "" {
		row("IPv4", orDash(s.LocalIP)+" -> "+orDash(s.PeerIP))
	}
	if s.LocalIPv6 != "" || s.PeerIPv6 != "" {
		row("IPv6", orDash(s.LocalIPv6)+" -> "+orDash(s.PeerIPv6))
	}
	row("DNS", strings.Join(s.DNS, ", "))
	row("pool", s.Pool)
	if s.LocalMRU != 0 {
		row("MRU", fmt.Sprintf("%d (peer %d)", s.LocalMRU, s.PeerMRU))
	}
	lcp := s.LCP
	if s.ProxyLCP {
		lcp += " (proxy LCP)"
	}
	states := []string{"LCP " + lcp}
	if s.IPCP != "" {
		states = append(states, "IPCP "+s.IPCP)
	}
	if s.IPv6CP != "" {
		states = append(states, "IPv6CP "+s.IPv6CP)
	}
	row("protocols", strings.Join(states, ", "))
	row("started", s.Started.Format(time.RFC3339))
	if s.State == "up" {
		row("up", fmt.Sprintf("%s (%s)", s.Up.Format(time.RFC3339), seconds(s.UptimeSeconds)))
	}
	ci := s.CarrierInfo
	if ci.TunnelID != 0 || ci.SessionID != 0 {
		row("carrier", fmt.Sprintf("tunnel %d/%d session %d/%d %s", ci.TunnelID, ci.PeerTunnelID, ci.SessionID, ci.PeerSessionID, ci.Peer))
	}
	row("calling station", ci.CallingStation)
	row("called number", ci.CalledNumber)
	row("service", ci.Service)
	row("circuit id", ci.CircuitID)
	row("remote id", ci.RemoteID)
	row("link", counters(s.Link))
	row("network", counters(s.Network))
	return tw.Flush()
}

func counters(c ppp.Counters) string {
	return fmt.Sprintf("rx %d packets %d bytes, tx %d packets %d bytes", c.RxPackets, c.RxBytes, c.TxPackets, c.TxBytes)
}

// printPPPStatus prints the engine's counts.
func printPPPStatus(w io.Writer, raw json.RawMessage) error {
	st, err := decode[ppp.Status](raw)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "instances:\t%d (%d up)\n", st.Sessions, st.Up)
	var phases []string
	for _, p := range []string{"establish", "authenticate", "network", "running", "terminate"} {
		if n := st.Phases[p]; n > 0 {
			phases = append(phases, fmt.Sprintf("%s %d", p, n))
		}
	}
	if len(phases) > 0 {
		fmt.Fprintf(tw, "by phase:\t%s\n", strings.Join(phases, ", "))
	}
	users := fmt.Sprintf("%d", st.LocalUsers)
	if st.SecretsFile != "" {
		users += " (" + st.SecretsFile + ")"
	}
	fmt.Fprintf(tw, "local users:\t%s\n", users)
	for _, a := range st.Auth {
		fmt.Fprintf(tw, "auth %s:\t%d success, %d failure, %d timeout\n", a.Method, a.Success, a.Failure, a.Timeout)
	}
	causes := make([]string, 0, len(st.Ended))
	for c := range st.Ended {
		causes = append(causes, c)
	}
	slices.Sort(causes)
	for _, c := range causes {
		fmt.Fprintf(tw, "ended %s:\t%d\n", c, st.Ended[c])
	}
	for _, p := range st.Pools {
		fmt.Fprintf(tw, "pool %s:\t%d of %d used\n", p.Name, p.Used, p.Size)
	}
	return tw.Flush()
}

// printPPPPools prints the address pools.
func printPPPPools(w io.Writer, raw json.RawMessage) error {
	pools, err := decode[[]ppp.PoolInfo](raw)
	if err != nil {
		return err
	}
	if len(pools) == 0 {
		_, err := fmt.Fprintln(w, "no address pools")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "POOL\tSIZE\tUSED\tFREE\tRANGES")
	for _, p := range pools {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\n", p.Name, p.Size, p.Used, p.Free, strings.Join(p.Ranges, ", "))
	}
	return tw.Flush()
}

// printPPPDestroy says how the instance ended.
func printPPPDestroy(w io.Writer, raw json.RawMessage) error {
	r, err := decode[control.PPPDestroyResult](raw)
	if err != nil {
		return err
	}
	if !r.Ended || r.Result == nil {
		_, err := fmt.Fprintf(w, "%s: terminating (the peer has not acknowledged yet)\n", r.Instance)
		return err
	}
	_, err = fmt.Fprintf(w, "%s: ended: %s (%s)\n", r.Instance, r.Result.Reason, r.Result.Cause)
	return err
}
