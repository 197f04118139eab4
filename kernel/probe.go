package kernel

import (
	"fmt"
	"slices"
	"strings"
)

// Capabilities is what the running kernel offers for probox's data planes, as found by
// Probe. Each field is nil when the feature is there and otherwise the error that showed
// it is not.
type Capabilities struct {
	L2TPNetlink error // generic netlink family "l2tp" (l2tp_netlink)
	PPPoL2TP    error // AF_PPPOX / PX_PROTO_OL2TP sockets (l2tp_ppp)
	PPPoE       error // AF_PPPOX / PX_PROTO_OE sockets (pppoe)
	L2TPIP      error // L2TPv3 IP encapsulation sockets (l2tp_ip)
	DevPPP      error // /dev/ppp (ppp_generic)
	TUN         error // /dev/net/tun
	Packet      error // AF_PACKET sockets (needs CAP_NET_RAW)
}

type capability struct {
	name string
	err  error
}

func (c Capabilities) list() []capability {
	return []capability{
		{"generic netlink family l2tp", c.L2TPNetlink},
		{"PPPoL2TP sockets", c.PPPoL2TP},
		{"PPPoE sockets", c.PPPoE},
		{"L2TP/IP sockets", c.L2TPIP},
		{"/dev/ppp", c.DevPPP},
		{"/dev/net/tun", c.TUN},
		{"AF_PACKET sockets", c.Packet},
	}
}

// kernelNeeds names what the kernel data plane cannot work without.
var kernelNeeds = []string{"generic netlink family l2tp", "PPPoL2TP sockets", "PPPoE sockets", "/dev/ppp", "AF_PACKET sockets"}

// userspaceNeeds names what the userspace data plane cannot work without.
var userspaceNeeds = []string{"/dev/net/tun", "AF_PACKET sockets"}

// Missing describes each of the named features that is absent, with its error.
func (c Capabilities) missing(needs []string) []string {
	var out []string
	for _, cp := range c.list() {
		if cp.err != nil && slices.Contains(needs, cp.name) {
			out = append(out, fmt.Sprintf("%s (%v)", cp.name, cp.err))
		}
	}
	return out
}

// String summarises the capabilities in one line, e.g. for the start-up log.
func (c Capabilities) String() string {
	var parts []string
	for _, cp := range c.list() {
		state := "yes"
		if cp.err != nil {
			state = "no"
		}
		parts = append(parts, cp.name+"="+state)
	}
	return strings.Join(parts, ", ")
}

// Map returns the capabilities as feature name → "ok" or the error, for the status page.
func (c Capabilities) Map() map[string]string {
	m := map[string]string{}
	for _, cp := range c.list() {
		if cp.err != nil {
			m[cp.name] = cp.err.Error()
		} else {
			m[cp.name] = "ok"
		}
	}
	return m
}

// Data plane names, as Dataplane.Name returns them and as kernel.dataplane selects them.
const (
	NameKernel    = "kernel"
	NameUserspace = "userspace"
)

// Choose picks the data plane for mode ("auto", "kernel" or "userspace") given the probed
// capabilities, and says why. For "kernel" on a kernel that lacks something, and for any
// mode when even the userspace data plane cannot work, it returns an error naming what is
// missing.
func Choose(mode string, c Capabilities) (name, reason string, err error) {
	kmiss, umiss := c.missing(kernelNeeds), c.missing(userspaceNeeds)
	switch mode {
	case "kernel":
		if len(kmiss) > 0 {
			return "", "", fmt.Errorf("kernel.dataplane = \"kernel\", but this kernel lacks: %s (load the l2tp_netlink, l2tp_ppp, pppoe and ppp_generic modules, or use \"auto\" or \"userspace\")", strings.Join(kmiss, "; "))
		}
		return NameKernel, "configured", nil
	case "userspace":
		if len(umiss) > 0 {
			return "", "", fmt.Errorf("the userspace data plane needs: %s", strings.Join(umiss, "; "))
		}
		return NameUserspace, "configured", nil
	case "auto", "":
		if len(kmiss) == 0 {
			return NameKernel, "auto: the kernel has L2TP, PPP and PPPoE", nil
		}
		if len(umiss) > 0 {
			return "", "", fmt.Errorf("no data plane can work here: the kernel lacks %s, and the userspace data plane needs %s", strings.Join(kmiss, "; "), strings.Join(umiss, "; "))
		}
		return NameUserspace, "auto: the kernel lacks " + strings.Join(kmiss, "; "), nil
	}
	return "", "", fmt.Errorf("unknown kernel.dataplane %q (want auto, kernel or userspace)", mode)
}
