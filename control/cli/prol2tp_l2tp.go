package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/probox/probox/control"
	"github.com/probox/probox/l2tp"
)

// prol2tp's L2TP verbs: tunnels, sessions, statistics, profiles, create and delete.

// prol2tpNow is the clock the printers measure ages with (tests replace it).
var prol2tpNow = time.Now

func tunnelRef(cmd string) func([]string) (string, any, error) {
	return func(ops []string) (string, any, error) {
		return cmd, control.L2TPTunnelArgs{Ref: ops[0]}, nil
	}
}

func sessionsOf(ops []string) (string, any, error) {
	return "show sessions", control.L2TPSessionArgs{Tunnel: ops[0]}, nil
}

func sessionRef(cmd string) func([]string) (string, any, error) {
	return func(ops []string) (string, any, error) {
		id, err := strconv.ParseUint(ops[1], 10, 32)
		if err != nil || id == 0 {
			return "", nil, fmt.Errorf("session must be a session ID (a positive number), got %q", ops[1])
		}
		return cmd, control.L2TPSessionArgs{Tunnel: ops[0], Session: uint32(id)}, nil
	}
}

func createTunnel(ops []string) (string, any, error) {
	return "create tunnel", control.L2TPTunnelArgs{Name: ops[0]}, nil
}

func createSession(ops []string) (string, any, error) {
	return "create session", control.L2TPSessionArgs{Tunnel: ops[0], Name: ops[1]}, nil
}

func outgoingCall(ops []string) (string, any, error) {
	return "create outgoing call", control.L2TPSessionArgs{Tunnel: ops[0], CalledNumber: ops[1]}, nil
}

func profiles(kind string) func([]string) (string, any, error) {
	return func(ops []string) (string, any, error) {
		a := control.ProfileArgs{Kind: kind}
		if len(ops) > 0 {
			a.Name = ops[0]
		}
		return "show profile", a, nil
	}
}

// age renders the time since t as ProL2TP does: hh:mm:ss, with days when longer.
func age(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := max(prol2tpNow().Sub(t), 0).Truncate(time.Second)
	days := int(d / (24 * time.Hour))
	d -= time.Duration(days) * 24 * time.Hour
	s := fmt.Sprintf("%02d:%02d:%02d", int(d/time.Hour), int(d/time.Minute)%60, int(d/time.Second)%60)
	if days > 0 {
		s = fmt.Sprintf("%dd ", days) + s
	}
	return s
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func printTunnels(w io.Writer, raw json.RawMessage) error {
	ts, err := decode[[]l2tp.TunnelInfo](raw)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  TunId\tName\tState\tTime\tPeer\tSessions")
	for _, t := range ts {
		flag := " "
		if t.NetworkInitiated {
			flag = "N"
		}
		fmt.Fprintf(tw, "%s %d\t%s\t%s\t%s\t%s\t%d\n", flag, t.ID, dash(t.Name), t.State, age(t.Created), t.Peer, t.Sessions)
	}
	return tw.Flush()
}

func printTunnel(w io.Writer, raw json.RawMessage) error {
	d, err := decode[l2tp.TunnelDetail](raw)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	origin := "local"
	if d.NetworkInitiated {
		origin = "network"
	}
	if d.Static {
		origin = "static"
	}
	fmt.Fprintf(tw, "Tunnel %d, name %s (%s)\n", d.ID, dash(d.Name), origin)
	fmt.Fprintf(tw, "  state:\t%s for %s, up %s\n", d.State, age(d.Since), age(d.Created))
	fmt.Fprintf(tw, "  version:\tL2TPv%d over %s\n", d.Version, d.Encap)
	fmt.Fprintf(tw, "  local:\t%s\n", d.Local)
	fmt.Fprintf(tw, "  peer:\t%s, tunnel %d, host %s\n", d.Peer, d.PeerID, dash(d.PeerHost))
	if d.PeerVendor != "" || d.PeerRouterID != "" {
		fmt.Fprintf(tw, "  peer vendor:\t%s firmware 0x%04x router id %s\n", dash(d.PeerVendor), d.PeerFirmware, dash(d.PeerRouterID))
	}
	fmt.Fprintf(tw, "  profiles:\ttunnel %s, peer %s\n", d.Profile, dash(d.PeerProfile))
	fmt.Fprintf(tw, "  auth:\t%s, hidden AVPs %v\n", d.Auth, d.HideAVPs)
	tr := d.Transport
	fmt.Fprintf(tw, "  control:\t%d sent, %d retransmitted, %d received, %d duplicates, %d acks, %d hellos, window %d, %d in flight, %d queued\n",
		tr.Transmitted, tr.Retransmitted, tr.Received, tr.Duplicates, tr.AcksSent, tr.HellosSent, d.PeerWindow, tr.InFlight, tr.Queued)
	fmt.Fprintf(tw, "  data:\trx %d packets %d bytes, tx %d packets %d bytes, %d dropped\n", d.Data.RxPackets, d.Data.RxBytes, d.Data.TxPackets, d.Data.TxBytes, d.Data.Dropped)
	if r := d.Result; r != nil {
		fmt.Fprintf(tw, "  result:\t%d error %d %q (%s)\n", r.Code, r.Error, r.Message, r.Reason)
	}
	fmt.Fprintf(tw, "  sessions:\t%d\n", len(d.SessionList))
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(d.SessionList) == 0 {
		return nil
	}
	b, _ := json.Marshal(d.SessionList)
	return printSessions(w, b)
}

func printSessions(w io.Writer, raw json.RawMessage) error {
	ss, err := decode[[]l2tp.SessionInfo](raw)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TunId\tSesId\tName\tState\tTime\tType\tPW\tUser\tInterface")
	for _, s := range ss {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.TunnelID, s.ID, dash(s.Name), s.State, age(s.Created), s.Role, s.PWType, dash(s.User), dash(s.Interface))
	}
	return tw.Flush()
}

func printSession(w io.Writer, raw json.RawMessage) error {
	s, err := decode[l2tp.SessionInfo](raw)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Session %d in tunnel %d (%s), name %s\n", s.ID, s.TunnelID, dash(s.TunnelName), dash(s.Name))
	fmt.Fprintf(tw, "  state:\t%s for %s, created %s ago\n", s.State, age(s.Since), age(s.Created))
	fmt.Fprintf(tw, "  call:\t%s, serial %d\n", s.Role, s.CallSerial)
	fmt.Fprintf(tw, "  peer:\ttunnel %d session %d\n", s.PeerTunnelID, s.PeerID)
	fmt.Fprintf(tw, "  pseudowire:\t%s, profile %s", s.PWType, s.Profile)
	if s.PPPProfile != "" {
		fmt.Fprintf(tw, ", ppp profile %s", s.PPPProfile)
	}
	fmt.Fprintln(tw)
	if s.L2Spec != "" {
		fmt.Fprintf(tw, "  data channel:\tcookies %d/%d bytes, l2spec %s, seq send %v recv %v\n", s.CookieLen, s.PeerCookieLen, s.L2Spec, s.SendSeq, s.RecvSeq)
	} else {
		fmt.Fprintf(tw, "  data channel:\tseq send %v recv %v\n", s.SendSeq, s.RecvSeq)
	}
	if s.User != "" || s.Interface != "" {
		fmt.Fprintf(tw, "  user:\t%s on %s\n", dash(s.User), dash(s.Interface))
	}
	if s.CallingNumber != "" || s.CalledNumber != "" {
		fmt.Fprintf(tw, "  numbers:\tcalling %s called %s\n", dash(s.CallingNumber), dash(s.CalledNumber))
	}
	if s.TxConnectSpeed != 0 {
		fmt.Fprintf(tw, "  speed:\ttx %d rx %d bit/s\n", s.TxConnectSpeed, s.RxConnectSpeed)
	}
	if s.ProxyLCP || s.ProxyAuth {
		fmt.Fprintf(tw, "  proxy:\tlcp %v auth %v\n", s.ProxyLCP, s.ProxyAuth)
	}
	if e := s.WANErrors; e != nil {
		fmt.Fprintf(tw, "  wan errors:\tcrc %d framing %d hw overruns %d buffer overruns %d timeouts %d alignment %d\n",
			e.CRCErrors, e.FramingErrors, e.HardwareOverruns, e.BufferOverruns, e.TimeoutErrors, e.AlignmentErrors)
	}
	fmt.Fprintf(tw, "  data:\trx %d packets %d bytes, tx %d packets %d bytes, %d dropped\n", s.Data.RxPackets, s.Data.RxBytes, s.Data.TxPackets, s.Data.TxBytes, s.Data.Dropped)
	if r := s.Result; r != nil {
		fmt.Fprintf(tw, "  result:\t%d error %d %q (%s)\n", r.Code, r.Error, r.Message, r.Reason)
	}
	return tw.Flush()
}

func printL2TPStats(w io.Writer, raw json.RawMessage) error {
	st, err := decode[l2tp.EngineStats](raw)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "host name:\t%s\n", st.HostName)
	fmt.Fprintf(tw, "router id:\t%s\n", st.RouterID)
	fmt.Fprintf(tw, "listening:\t%s\n", dash(strings.Join(st.Listeners, ", ")))
	counts := func(name string, m map[string]int) {
		keys := make([]string, 0, len(m))
		total := 0
		for k, n := range m {
			keys = append(keys, k)
			total += n
		}
		slices.Sort(keys)
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%d %s", m[k], k))
		}
		detail := ""
		if len(parts) > 0 {
			detail = " (" + strings.Join(parts, ", ") + ")"
		}
		fmt.Fprintf(tw, "%s:\t%d%s\n", name, total, detail)
	}
	counts("tunnels", st.Tunnels)
	counts("sessions", st.Sessions)
	tr := st.Transport
	fmt.Fprintf(tw, "control messages:\t%d sent, %d retransmitted, %d received, %d delivered, %d duplicates, %d out of order, %d out of window\n",
		tr.Transmitted, tr.Retransmitted, tr.Received, tr.Delivered, tr.Duplicates, tr.OutOfOrder, tr.OutOfWindow)
	fmt.Fprintf(tw, "acknowledgements:\t%d, hellos %d, in flight %d, queued %d\n", tr.AcksSent, tr.HellosSent, tr.InFlight, tr.Queued)
	return tw.Flush()
}

func printTunnelCreated(w io.Writer, raw json.RawMessage) error {
	t, err := decode[l2tp.TunnelInfo](raw)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "tunnel %s created: id %d, %s, peer %s\n", dash(t.Name), t.ID, t.State, t.Peer)
	return err
}

func printSessionCreated(w io.Writer, raw json.RawMessage) error {
	s, err := decode[l2tp.SessionInfo](raw)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "session %d created in tunnel %d: %s, %s\n", s.ID, s.TunnelID, s.Role, s.State)
	return err
}

func printDone(msg string) func(io.Writer, json.RawMessage) error {
	return func(w io.Writer, _ json.RawMessage) error {
		_, err := fmt.Fprintln(w, msg)
		return err
	}
}

func printProfiles(w io.Writer, raw json.RawMessage) error {
	r, err := decode[control.ProfileResult](raw)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(r.Profiles))
	for n := range r.Profiles {
		names = append(names, n)
	}
	slices.Sort(names)
	for i, n := range names {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s profile %s\n", r.Kind, n)
		p := r.Profiles[n]
		keys := make([]string, 0, len(p))
		for k := range p {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, k := range keys {
			b, _ := json.Marshal(p[k])
			fmt.Fprintf(tw, "  %s\t%s\n", k, b)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}
