//go:build linux

package linux

import (
	"go.uber.org/zap"
)

// What a probox that ended without cleaning up (kill -9, a crash, an OOM kill) can leave
// behind, and how New(CleanupStale) finds it:
//
//   - L2TP tunnels: nothing. Every kernel tunnel the data plane creates is managed (it
//     was created with the data plane's own socket, L2TP_ATTR_FD), and the kernel deletes
//     a managed tunnel with all its sessions (PPP and Ethernet pseudowires, and so their
//     l2tpethN interfaces) when that socket is closed, which the kernel does for a dead
//     process (l2tp_udp_encap_destroy, l2tp_ip_destroy_sock → l2tp_tunnel_delete). The
//     deletion runs on a workqueue, so a dump right after the death may still list them
//     for a moment. A tunnel that does exist therefore belongs to something else (a static
//     "ip l2tp add tunnel", which has no socket, or another daemon) and is left alone; a
//     range of tunnel IDs would not tell ours apart, and a state file would only repeat
//     what the kernel already guarantees.
//   - PPPoE sessions and PPP channels: nothing; they live as long as their PPPoX sockets.
//   - PPP units: nothing; a pppN interface is unregistered when the /dev/ppp file that
//     created it is closed (ppp_release).
//   - VLAN subinterfaces (802.1Q, and for QinQ 802.1ad ones with 802.1Q ones on them)
//     and macvlan interfaces (extra MAC addresses) that PPPoE ports created: these
//     persist. They are in Config.InterfaceGroup, and cleanup deletes the links of that
//     group of the kinds the data plane creates ("vlan", "macvlan", and "ppp" for
//     completeness). Deleting a link also unregisters the vlan and macvlan links on it,
//     whichever order the dump lists them in; deleting one already gone is no error
//     (netdev.Handle.DeleteLink). With InterfaceGroup 0 nothing can be told apart and
//     nothing is deleted.
//
// Only one probox may use an interface group in a network namespace: cleanup deletes
// such links whoever created them.
func (d *Dataplane) cleanupStale() error {
	if tunnels, err := d.genl.tunnels(); err == nil && len(tunnels) > 0 {
		ids := make([]uint32, len(tunnels))
		for i, t := range tunnels {
			ids[i] = t.ID
		}
		d.log.Info("kernel L2TP tunnels exist; they are not probox's (its tunnels end with its sockets) and are left alone", zap.Uint32s("tunnel_ids", ids))
	}
	group := d.cfg.InterfaceGroup
	if group == 0 {
		d.log.Warn("CleanupStale without an interface group: stale interfaces cannot be told apart and are left alone")
		return nil
	}
	links, err := d.h.Links()
	if err != nil {
		return err
	}
	for _, l := range links {
		if l.Group != group || !staleKind(l.Kind) {
			continue
		}
		if err := d.h.DeleteLink(l.Index); err != nil {
			return err
		}
		d.log.Info("stale interface removed", zap.String("interface", l.Name), zap.String("kind", l.Kind))
	}
	return nil
}

// staleKind reports whether links of kind may be the data plane's.
func staleKind(kind string) bool { return kind == "vlan" || kind == "macvlan" || kind == "ppp" }
