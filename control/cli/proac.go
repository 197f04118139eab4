package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/probox/probox/pppoe"
)

// ProacInfo is the proac_info tool: PPPoE access concentrator information.
func ProacInfo(args []string, env Env) int {
	return (&tool{
		name:  "proac_info",
		about: "Shows the probox daemon's PPPoE access concentrator: sessions, interfaces, services, routes and statistics.",
		verbs: []verb{
			{words: []string{"sessions"}, usage: "every PPPoE session", build: fixed("pppoe sessions"), print: printPPPoESessions},
			{words: []string{"session", "ARG"}, usage: "one session by ID", build: pppoeSession("pppoe session"), print: printPPPoESession},
			{words: []string{"interfaces"}, usage: "access interfaces and their state", build: fixed("pppoe interfaces"), print: printPPPoEInterfaces},
			{words: []string{"services"}, usage: "offered service names and where they route", build: fixed("pppoe services"), print: printPPPoEServices},
			{words: []string{"routes"}, usage: "realm routes to LNS tunnels", build: fixed("pppoe routes"), print: printPPPoERoutes},
			{words: []string{"statistics"}, usage: "discovery and session counters", build: fixed("pppoe statistics"), print: printPPPoEStats},
		},
	}).run(args, env)
}

// ProacManage is the proac_manage tool: PPPoE access concentrator control.
func ProacManage(args []string, env Env) int {
	return (&tool{
		name:  "proac_manage",
		about: "Controls the probox daemon's PPPoE access concentrator.",
		verbs: []verb{
			{words: []string{"disconnect", "ARG"}, usage: "end a session (PADT) by session ID", build: pppoeSession("pppoe disconnect"), print: printPPPoEDisconnect},
			{words: []string{"disconnect", "mac", "ARG"}, arg: "MAC", usage: "end every session of a client MAC address", build: pppoeMAC, print: printPPPoEDisconnect},
			{words: []string{"reload"}, usage: "re-read the configuration file (interfaces, services, routes)", build: fixed("reload")},
		},
	}).run(args, env)
}

func pppoeSession(cmd string) func([]string) (string, any, error) {
	return func(ops []string) (string, any, error) {
		var id uint16
		if _, err := fmt.Sscan(ops[0], &id); err != nil || id == 0 {
			return "", nil, fmt.Errorf("bad session ID %q: want a number from 1 to 65535", ops[0])
		}
		return cmd, map[string]any{"session_id": id}, nil
	}
}

func pppoeMAC(ops []string) (string, any, error) {
	mac, err := net.ParseMAC(ops[0])
	if err != nil {
		return "", nil, fmt.Errorf("bad MAC address %q", ops[0])
	}
	return "pppoe disconnect", map[string]any{"mac": mac.String()}, nil
}

// sessionWhere says where a session's PPP goes: the peer address of a local session, the
// tunnel of a LAC session.
func sessionWhere(s pppoe.SessionInfo) string {
	switch {
	case s.Tunnel != "":
		return "tunnel " + s.Tunnel
	case s.PPP != nil && s.PPP.PeerIP != "":
		return s.PPP.PeerIP
	}
	return "-"
}

func ifaceVLAN(s pppoe.SessionInfo) string {
	if s.VLANs == "" {
		return s.Interface
	}
	return s.Interface + "." + s.VLANs
}

// printPPPoESessions prints one line per session.
func printPPPoESessions(w io.Writer, raw json.RawMessage) error {
	list, err := decode[[]pppoe.SessionInfo](raw)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		_, err := fmt.Fprintln(w, "no PPPoE sessions")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SESSION\tINTERFACE\tMAC\tSERVICE\tSTATE\tUSER\tROUTE\tTO")
	for _, s := range list {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.SessionID, ifaceVLAN(s), s.MAC, orDash(s.Service), s.State,
			orDash(s.User), s.Route, sessionWhere(s))
	}
	return tw.Flush()
}

// printPPPoESession prints one session in detail.
func printPPPoESession(w io.Writer, raw json.RawMessage) error {
	s, err := decode[pppoe.SessionInfo](raw)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "session %d on %s (%s, route %s)\n", s.SessionID, ifaceVLAN(s), s.State, s.Route)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "  %s:\t%s\n", k, v)
		}
	}
	row("client MAC", s.MAC)
	svc := orDash(s.Service)
	if s.ServiceConfig != "" && s.ServiceConfig != s.Service {
		svc += " (served by " + s.ServiceConfig + ")"
	}
	row("service", svc)
	row("user", s.User)
	row("circuit id", s.CircuitID)
	row("remote id", s.RemoteID)
	row("MTU", fmt.Sprint(s.MTU))
	if s.Tunnel != "" {
		t := s.Tunnel
		if s.RealmRoute != "" {
			t += " (realm route " + s.RealmRoute + ")"
		}
		if s.L2TPTunnelID != 0 {
			t += fmt.Sprintf(", l2tp %d/%d", s.L2TPTunnelID, s.L2TPSessionID)
		}
		row("tunnel", t)
	}
	row("created", s.Created.Format(time.RFC3339))
	if !s.Up.IsZero() {
		row("up", s.Up.Format(time.RFC3339))
	}
	if p := s.PPP; p != nil {
		row("PPP", fmt.Sprintf("%s (%s, %s)", p.Instance, p.Phase, p.Role))
		if p.LocalIP != "" || p.PeerIP != "" {
			row("IPv4", orDash(p.LocalIP)+" -> "+orDash(p.PeerIP))
		}
		row("interface", p.Interface)
	}
	return tw.Flush()
}

// printPPPoEInterfaces prints the access interfaces.
func printPPPoEInterfaces(w io.Writer, raw json.RawMessage) error {
	list, err := decode[[]pppoe.InterfaceInfo](raw)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		_, err := fmt.Fprintln(w, "no access interfaces")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "INTERFACE\tVLANS\tMAC\tMTU\tSESSIONS\tSTATE")
	for _, i := range list {
		var vs []string
		if i.Untagged {
			vs = append(vs, "untagged")
		}
		for _, v := range i.VLANs {
			vs = append(vs, fmt.Sprint(v))
		}
		vl := strings.Join(append(vs, i.QinQ...), ",")
		sessions := fmt.Sprint(i.Sessions)
		if i.MaxSessions > 0 {
			sessions += fmt.Sprintf("/%d", i.MaxSessions)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", i.Name, vl, i.MAC, i.MTU, sessions, i.State)
	}
	return tw.Flush()
}

// printPPPoEServices prints the configured services.
func printPPPoEServices(w io.Writer, raw json.RawMessage) error {
	list, err := decode[[]pppoe.ServiceInfo](raw)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		_, err := fmt.Fprintln(w, "no services configured: any service name is served locally with the default PPP profile")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tROUTE\tPPP PROFILE\tTUNNEL\tBACKUP")
	for _, s := range list {
		route := s.Route
		if s.LocalFallback {
			route += " (else local)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Name, route, s.PPPProfile, orDash(s.Tunnel), orDash(s.Backup))
	}
	return tw.Flush()
}

// printPPPoERoutes prints the realm routes.
func printPPPoERoutes(w io.Writer, raw json.RawMessage) error {
	list, err := decode[[]pppoe.RouteInfo](raw)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		_, err := fmt.Fprintln(w, "no realm routes")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ROUTE\tREALM\tTUNNEL\tBACKUP")
	for _, r := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, r.Realm, r.Tunnel, orDash(r.Backup))
	}
	return tw.Flush()
}

// counts formats a map of counters as "a 1, b 2" in key order ("-" when empty or all
// zero).
func counts[V int | uint64](m map[string]V) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if m[k] != 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

// printPPPoEStats prints the engine's counters and clients.
func printPPPoEStats(w io.Writer, raw json.RawMessage) error {
	st, err := decode[pppoe.Stats](raw)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "sessions:\t%d\n", st.Sessions)
	fmt.Fprintf(tw, "by route:\t%s\n", counts(st.ByRoute))
	fmt.Fprintf(tw, "discovery received:\t%s\n", counts(st.Discovery["rx"]))
	fmt.Fprintf(tw, "discovery sent:\t%s\n", counts(st.Discovery["tx"]))
	fmt.Fprintf(tw, "discovery not served:\t%s\n", counts(st.Drops))
	fmt.Fprintf(tw, "sessions ended:\t%s\n", counts(st.Ended))
	fmt.Fprintf(tw, "LAC failures:\t%s\n", counts(st.LACFailures))
	for _, c := range st.Clients {
		s := c.State
		if c.SessionID != 0 {
			s += fmt.Sprintf(", session %d with %s (%s)", c.SessionID, c.AC, orDash(c.ACName))
		}
		if c.PPP != "" {
			s += ", " + c.PPP
		}
		fmt.Fprintf(tw, "client %s:\t%s on %s, %s\n", c.Name, c.MAC, c.Interface, s)
	}
	return tw.Flush()
}

// printPPPoEDisconnect prints what a disconnect ended.
func printPPPoEDisconnect(w io.Writer, raw json.RawMessage) error {
	list, err := decode[[]pppoe.Disconnected](raw)
	if err != nil {
		return err
	}
	for _, d := range list {
		state := "ended"
		if !d.Ended {
			state = "terminating (PPP has not finished yet)"
		}
		if _, err := fmt.Fprintf(w, "session %d on %s (%s): %s\n", d.SessionID, d.Interface, d.MAC, state); err != nil {
			return err
		}
	}
	return nil
}
