package cli

import "fmt"

// Propppctl is the propppctl tool: PPP sessions of the daemon's PPP engine.
func Propppctl(args []string, env Env) int {
	return propppctlTool().run(args, env)
}

func propppctlTool() *tool {
	return &tool{
		name:  "propppctl",
		about: "Shows and controls the PPP sessions of the probox daemon (instances are named session-N).",
		verbs: []verb{
			{words: []string{"list"}, usage: "every PPP instance", build: fixed("ppp list")},
			{words: []string{"list", "up"}, usage: "instances whose network layer is up", build: pppList("up")},
			{words: []string{"list", "down"}, usage: "instances not (yet) up", build: pppList("down")},
			{words: []string{"show", "ARG"}, arg: "INSTANCE", usage: "one instance (ID: session-N or N)", build: pppInstance("ppp show")},
			{words: []string{"status"}, usage: "instance counts, authentication and pool statistics", build: fixed("ppp status")},
			{words: []string{"show", "pools"}, usage: "address pools and their usage", build: fixed("ppp pools")},
			{words: []string{"destroy", "ARG"}, arg: "INSTANCE", usage: "terminate an instance (LCP Terminate, then tear down)", build: pppInstance("ppp destroy")},
			{words: []string{"disconnect", "ARG"}, arg: "INSTANCE", usage: "the same as destroy", build: pppInstance("ppp destroy")},
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
