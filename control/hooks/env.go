package hooks

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/probox/probox/control/event"
)

// basePath is the whole PATH a hook script gets; nothing of the daemon's own environment
// is passed on.
const basePath = "PATH=/usr/sbin:/usr/bin:/sbin:/bin"

// maxValueLen bounds one variable's value in bytes. Values can come from peers (host
// names, user names, PPPoE tags), and no legitimate one comes near this.
const maxValueLen = 1024

// environ returns the environment of the hook script run for e: basePath followed by the
// PROBOX_* variables of doc.go, in a fixed order, with empty values left out.
func environ(e *event.Event) []string {
	env := make([]string, 0, 48)
	env = append(env, basePath)
	add := func(name, value string) {
		if value = sanitize(value); value != "" {
			env = append(env, name+"="+value)
		}
	}
	num := func(name string, v uint64) {
		if v != 0 {
			env = append(env, name+"="+strconv.FormatUint(v, 10))
		}
	}

	add("PROBOX_EVENT", e.Type.String())
	add("PROBOX_ENGINE", e.Engine)
	env = append(env, "PROBOX_SEQ="+strconv.FormatUint(e.Seq, 10))
	if !e.Time.IsZero() {
		add("PROBOX_TIME", e.Time.UTC().Format(time.RFC3339))
	}
	add("PROBOX_MESSAGE", e.Message)

	t, s, p := e.Tunnel, e.Session, e.PPP
	if t == nil {
		t = &event.Tunnel{}
	}
	if s == nil {
		s = &event.Session{}
	}
	if p == nil {
		p = &event.PPP{}
	}

	// Tunnel. A session event names its tunnel in Session even when it carries no Tunnel.
	num("PROBOX_TUNNEL_ID", uint64(first(t.ID, s.TunnelID)))
	num("PROBOX_PEER_TUNNEL_ID", uint64(first(t.PeerID, s.PeerTunnelID)))
	add("PROBOX_TUNNEL_NAME", t.Name)
	add("PROBOX_TUNNEL_PROFILE", t.Profile)
	if t.Version > 0 {
		num("PROBOX_L2TP_VERSION", uint64(t.Version))
	}
	add("PROBOX_ENCAP", t.Encap)
	add("PROBOX_LOCAL_ADDR", t.Local)
	add("PROBOX_PEER_ADDR", t.Peer)
	add("PROBOX_PEER_HOSTNAME", t.PeerHost)
	if t.Created {
		add("PROBOX_NETWORK_INITIATED", "1")
	}

	// Session.
	num("PROBOX_SESSION_ID", uint64(s.ID))
	num("PROBOX_PEER_SESSION_ID", uint64(s.PeerID))
	add("PROBOX_SESSION_NAME", s.Name)
	add("PROBOX_SESSION_PROFILE", s.Profile)
	add("PROBOX_PW_TYPE", s.PWType)
	iface := first(p.Interface, s.Interface)
	add("PROBOX_INTERFACE", iface)
	if s.Interface != iface {
		add("PROBOX_SESSION_INTERFACE", s.Interface)
	}
	add("PROBOX_USER", first(p.User, s.User))
	add("PROBOX_CALLING_MAC", s.CallingMAC)
	add("PROBOX_SERVICE", s.Service)
	add("PROBOX_CIRCUIT_ID", s.CircuitID)
	add("PROBOX_REMOTE_ID", s.RemoteID)

	// PPP link.
	add("PROBOX_PPP_INSTANCE", p.Instance)
	add("PROBOX_PPP_PHASE", p.Phase)
	add("PROBOX_PPP_ROLE", p.Role)
	add("PROBOX_PPP_CARRIER", p.Carrier)
	add("PROBOX_AUTH", p.Auth)
	add("PROBOX_LOCAL_IP", p.LocalIP)
	add("PROBOX_PEER_IP", p.PeerIP)
	add("PROBOX_LOCAL_IPV6", p.LocalIPv6)
	add("PROBOX_PEER_IPV6", p.PeerIPv6)
	add("PROBOX_DNS", strings.Join(p.DNS, " "))
	if !p.Started.IsZero() {
		add("PROBOX_SESSION_START", p.Started.UTC().Format(time.RFC3339))
		if !e.Time.IsZero() {
			d := max(e.Time.Sub(p.Started), 0)
			env = append(env, "PROBOX_SESSION_DURATION="+strconv.FormatInt(int64(d/time.Second), 10))
		}
	}
	if c := p.Stats; c != nil {
		// Counters are given even when zero: 0 bytes is an accounting fact.
		env = append(env,
			"PROBOX_RX_PACKETS="+strconv.FormatUint(c.RxPackets, 10),
			"PROBOX_RX_BYTES="+strconv.FormatUint(c.RxBytes, 10),
			"PROBOX_TX_PACKETS="+strconv.FormatUint(c.TxPackets, 10),
			"PROBOX_TX_BYTES="+strconv.FormatUint(c.TxBytes, 10),
		)
	}

	// Result.
	if r := e.Result; r != nil {
		num("PROBOX_RESULT_CODE", uint64(r.Code))
		num("PROBOX_ERROR_CODE", uint64(r.Error))
		add("PROBOX_RESULT_MESSAGE", r.Message)
		add("PROBOX_REASON", r.Reason)
	}
	return env
}

// first returns a unless it is the zero value, and b otherwise.
func first[T comparable](a, b T) T {
	var zero T
	if a != zero {
		return a
	}
	return b
}

// sanitize makes s safe to hand to a shell script as one environment value: NUL bytes
// are removed (they would end the C string early), every other control character (CR,
// LF, TAB, ESC, DEL, C1, ...) becomes a space, invalid UTF-8 becomes U+FFFD, and the
// result is cut to maxValueLen bytes on a character boundary. Quoting is still the
// script's job: the value may hold any printable character, including quotes, $ and `.
func sanitize(s string) string { return sanitizeN(s, maxValueLen) }

// sanitizeN is sanitize with a limit of limit bytes.
func sanitizeN(s string, limit int) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c >= utf8.RuneSelf {
			clean = false
			break
		}
	}
	if clean && len(s) <= limit {
		return s
	}
	var b strings.Builder
	b.Grow(min(len(s), limit))
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch {
		case r == 0:
			continue
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			r = ' '
		}
		if b.Len()+utf8.RuneLen(r) > limit {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}
