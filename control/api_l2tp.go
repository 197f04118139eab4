package control

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/probox/probox/config"
	"github.com/probox/probox/l2tp"
)

// L2TP management commands (prol2tp). Their results are JSON encodings of the l2tp
// package's types:
//
//	"show tunnels"                                        → []l2tp.TunnelInfo
//	"show tunnel"          {"ref": "NAME"|"@ID"}          → l2tp.TunnelDetail
//	"show sessions"        {"tunnel": "NAME"|"@ID"|""}    → []l2tp.SessionInfo
//	"show session"         {"tunnel": ..., "session": N}  → l2tp.SessionInfo
//	"show l2tp statistics"                                → l2tp.EngineStats
//	"create tunnel"        {"name": "NAME"}               → l2tp.TunnelInfo
//	"delete tunnel"        {"ref": ..., "reason": ...}    → OK
//	"create session"       {"tunnel": ..., "name": NAME}  → l2tp.SessionInfo
//	"delete session"       {"tunnel": ..., "session": N}  → OK
//	"create outgoing call" {"tunnel": ..., "called_number": ...} → l2tp.SessionInfo
//	"show profile"         {"kind": "peer"|"tunnel"|"session"|"ppp"|"ethernet", "name": ""}
//	                       → ProfileResult

// L2TPTunnelArgs name a tunnel.
type L2TPTunnelArgs struct {
	Ref    string `json:"ref"`
	Name   string `json:"name,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// L2TPSessionArgs name a session of a tunnel.
type L2TPSessionArgs struct {
	Tunnel       string `json:"tunnel"`
	Session      uint32 `json:"session,omitempty"`
	Name         string `json:"name,omitempty"`
	Reason       string `json:"reason,omitempty"`
	CalledNumber string `json:"called_number,omitempty"`
}

// ProfileArgs select profiles: one kind, and one name or all ("").
type ProfileArgs struct {
	Kind string `json:"kind"`
	Name string `json:"name,omitempty"`
}

// ProfileResult answers "show profile": the profiles of one kind by name, each as its
// configuration keys (secrets and passwords masked).
type ProfileResult struct {
	Kind     string                    `json:"kind"`
	Profiles map[string]map[string]any `json:"profiles"`
}

// OK is the result of commands that only succeed or fail.
type OK struct {
	OK bool `json:"ok"`
}

// RegisterL2TP registers the L2TP engine's commands on api.
func RegisterL2TP(api *API, e *l2tp.Engine) {
	api.Handle("show tunnels", func(ctx context.Context, _ json.RawMessage) (any, error) {
		return e.Tunnels(ctx)
	})
	api.Handle("show tunnel", func(ctx context.Context, raw json.RawMessage) (any, error) {
		var a L2TPTunnelArgs
		if err := l2tpArgs(raw, &a); err != nil {
			return nil, err
		}
		if a.Ref == "" {
			return nil, &ArgsError{Msg: "missing tunnel (NAME or @ID)"}
		}
		return e.Tunnel(ctx, a.Ref)
	})
	api.Handle("show sessions", func(ctx context.Context, raw json.RawMessage) (any, error) {
		var a L2TPSessionArgs
		if err := l2tpArgs(raw, &a); err != nil {
			return nil, err
		}
		return e.Sessions(ctx, a.Tunnel)
	})
	api.Handle("show session", func(ctx context.Context, raw json.RawMessage) (any, error) {
		var a L2TPSessionArgs
		if err := l2tpArgs(raw, &a); err != nil {
			return nil, err
		}
		if a.Tunnel == "" || a.Session == 0 {
			return nil, &ArgsError{Msg: "missing tunnel or session"}
		}
		return e.Session(ctx, a.Tunnel, a.Session)
	})
	api.Handle("show l2tp statistics", func(ctx context.Context, _ json.RawMessage) (any, error) {
		return e.Stats(ctx)
	})
	api.Handle("create tunnel", func(ctx context.Context, raw json.RawMessage) (any, error) {
		var a L2TPTunnelArgs
		if err := l2tpArgs(raw, &a); err != nil {
			return nil, err
		}
		if a.Name == "" {
			a.Name = a.Ref
		}
		if a.Name == "" {
			return nil, &ArgsError{Msg: "missing tunnel name"}
		}
		return e.CreateTunnel(ctx, a.Name)
	})
	api.Handle("delete tunnel", func(ctx context.Context, raw json.RawMessage) (any, error) {
		var a L2TPTunnelArgs
		if err := l2tpArgs(raw, &a); err != nil {
			return nil, err
		}
		if a.Ref == "" {
			return nil, &ArgsError{Msg: "missing tunnel (NAME or @ID)"}
		}
		if err := e.DeleteTunnel(ctx, a.Ref, a.Reason); err != nil {
			return nil, err
		}
		return OK{true}, nil
	})
	api.Handle("create session", func(ctx context.Context, raw json.RawMessage) (any, error) {
		var a L2TPSessionArgs
		if err := l2tpArgs(raw, &a); err != nil {
			return nil, err
		}
		if a.Tunnel == "" || a.Name == "" {
			return nil, &ArgsError{Msg: "missing tunnel or session name"}
		}
		return e.CreateSession(ctx, a.Tunnel, a.Name)
	})
	api.Handle("delete session", func(ctx context.Context, raw json.RawMessage) (any, error) {
		var a L2TPSessionArgs
		if err := l2tpArgs(raw, &a); err != nil {
			return nil, err
		}
		if a.Tunnel == "" || a.Session == 0 {
			return nil, &ArgsError{Msg: "missing tunnel or session"}
		}
		if err := e.DeleteSession(ctx, a.Tunnel, a.Session, a.Reason); err != nil {
			return nil, err
		}
		return OK{true}, nil
	})
	api.Handle("create outgoing call", func(ctx context.Context, raw json.RawMessage) (any, error) {
		var a L2TPSessionArgs
		if err := l2tpArgs(raw, &a); err != nil {
			return nil, err
		}
		if a.Tunnel == "" || a.CalledNumber == "" {
			return nil, &ArgsError{Msg: "missing tunnel or called number"}
		}
		return e.OutgoingCall(ctx, a.Tunnel, l2tp.OutgoingCallRequest{CalledNumber: a.CalledNumber})
	})
	api.Handle("show profile", func(_ context.Context, raw json.RawMessage) (any, error) {
		var a ProfileArgs
		if err := l2tpArgs(raw, &a); err != nil {
			return nil, err
		}
		return Profiles(e.CurrentConfig(), a.Kind, a.Name)
	})
}

// l2tpArgs decodes a command's arguments; empty arguments leave v as it is.
func l2tpArgs(raw json.RawMessage, v any) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return &ArgsError{Msg: "bad arguments: " + err.Error()}
	}
	return nil
}

// ProfileKinds are the kinds "show profile" knows.
var ProfileKinds = []string{"peer", "tunnel", "session", "ppp", "ethernet"}

// Profiles returns the profiles of one kind from cfg: one (name) or all (""). Each profile
// is rendered as its configuration keys; secrets and passwords are masked.
func Profiles(cfg *config.Config, kind, name string) (ProfileResult, error) {
	var table reflect.Value
	switch kind {
	case "peer":
		table = reflect.ValueOf(cfg.PeerProfiles)
	case "tunnel":
		table = reflect.ValueOf(cfg.TunnelProfiles)
	case "session":
		table = reflect.ValueOf(cfg.SessionProfiles)
	case "ppp":
		table = reflect.ValueOf(cfg.PPPProfiles)
	case "ethernet":
		table = reflect.ValueOf(cfg.EthernetProfiles)
	default:
		return ProfileResult{}, &ArgsError{Msg: fmt.Sprintf("profile kind must be one of %s, got %q", strings.Join(ProfileKinds, ", "), kind)}
	}
	res := ProfileResult{Kind: kind, Profiles: map[string]map[string]any{}}
	for _, k := range table.MapKeys() {
		if name != "" && k.String() != name {
			continue
		}
		res.Profiles[k.String()] = profileKeys(table.MapIndex(k))
	}
	if name != "" && len(res.Profiles) == 0 {
		names := make([]string, 0, table.Len())
		for _, k := range table.MapKeys() {
			names = append(names, k.String())
		}
		slices.Sort(names)
		return ProfileResult{}, fmt.Errorf("no %s profile named %q (there are: %s)", kind, name, strings.Join(names, ", "))
	}
	return res, nil
}

// profileKeys renders a profile struct as its TOML keys.
func profileKeys(v reflect.Value) map[string]any {
	out := map[string]any{}
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if key == "" || key == "-" {
			continue
		}
		val := v.Field(i).Interface()
		if d, ok := val.(time.Duration); ok {
			val = d.String() // as written in the file: "30s"
		}
		if (key == "secret" || key == "password") && v.Field(i).String() != "" {
			val = "********"
		}
		out[key] = val
	}
	return out
}
