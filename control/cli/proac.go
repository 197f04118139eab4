package cli

import (
	"fmt"
	"net"
)

// ProacInfo is the proac_info tool: PPPoE access concentrator information.
func ProacInfo(args []string, env Env) int {
	return (&tool{
		name:  "proac_info",
		about: "Shows the probox daemon's PPPoE access concentrator: sessions, interfaces, services, routes and statistics.",
		verbs: []verb{
			{words: []string{"sessions"}, usage: "every PPPoE session", build: fixed("pppoe sessions")},
			{words: []string{"session", "ARG"}, usage: "one session by ID", build: pppoeSession("pppoe session")},
			{words: []string{"interfaces"}, usage: "access interfaces and their state", build: fixed("pppoe interfaces")},
			{words: []string{"services"}, usage: "offered service names and where they route", build: fixed("pppoe services")},
			{words: []string{"routes"}, usage: "realm routes to LNS tunnels", build: fixed("pppoe routes")},
			{words: []string{"statistics"}, usage: "discovery and session counters", build: fixed("pppoe statistics")},
		},
	}).run(args, env)
}

// ProacManage is the proac_manage tool: PPPoE access concentrator control.
func ProacManage(args []string, env Env) int {
	return (&tool{
		name:  "proac_manage",
		about: "Controls the probox daemon's PPPoE access concentrator.",
		verbs: []verb{
			{words: []string{"disconnect", "ARG"}, usage: "end a session (PADT) by session ID", build: pppoeSession("pppoe disconnect")},
			{words: []string{"disconnect", "mac", "ARG"}, arg: "MAC", usage: "end every session of a client MAC address", build: pppoeMAC},
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
