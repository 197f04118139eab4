package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"

	"github.com/probox/probox/pppoe"
)

// PPPoE access concentrator commands (proac_info, proac_manage). Their results are JSON
// encodings of the pppoe package's types:
//
//	"pppoe sessions"                                            → []pppoe.SessionInfo
//	"pppoe session"     args {"session_id": N, "interface": I}  → pppoe.SessionInfo
//	"pppoe interfaces"                                          → []pppoe.InterfaceInfo
//	"pppoe services"                                            → []pppoe.ServiceInfo
//	"pppoe routes"                                              → []pppoe.RouteInfo
//	"pppoe statistics"                                          → pppoe.Stats
//	"pppoe disconnect"  args {"session_id": N | "mac": M, "interface": I, "reason": R}
//	                                                            → []pppoe.Disconnected
//
// "interface" is needed only when the same session ID is live on several interfaces.

// PPPoESessionArgs are the arguments of "pppoe session" and "pppoe disconnect".
type PPPoESessionArgs struct {
	SessionID uint16 `json:"session_id,omitempty"`
	Interface string `json:"interface,omitempty"`
	MAC       string `json:"mac,omitempty"`
	// Reason goes into the PADT's Generic-Error tag and the LCP Terminate-Request
	// (disconnect only; default "disconnected by operator").
	Reason string `json:"reason,omitempty"`
}

// RegisterPPPoE registers the PPPoE engine's commands on api.
func RegisterPPPoE(api *API, e *pppoe.Engine) {
	api.Handle("pppoe sessions", func(ctx context.Context, _ json.RawMessage) (any, error) {
		return e.Sessions(ctx)
	})
	api.Handle("pppoe session", func(ctx context.Context, raw json.RawMessage) (any, error) {
		var args PPPoESessionArgs
		if err := decodeArgs(raw, &args); err != nil {
			return nil, err
		}
		if args.SessionID == 0 {
			return nil, &ArgsError{Msg: "session_id is required (1 to 65535)"}
		}
		return e.Session(ctx, pppoe.Selector{SessionID: args.SessionID, Interface: args.Interface})
	})
	api.Handle("pppoe interfaces", func(ctx context.Context, _ json.RawMessage) (any, error) {
		return e.Interfaces(ctx)
	})
	api.Handle("pppoe services", func(context.Context, json.RawMessage) (any, error) {
		return e.Services(), nil
	})
	api.Handle("pppoe routes", func(context.Context, json.RawMessage) (any, error) {
		return e.Routes(), nil
	})
	api.Handle("pppoe statistics", func(ctx context.Context, _ json.RawMessage) (any, error) {
		return e.Stats(ctx)
	})
	api.Handle("pppoe disconnect", func(ctx context.Context, raw json.RawMessage) (any, error) {
		var args PPPoESessionArgs
		if err := decodeArgs(raw, &args); err != nil {
			return nil, err
		}
		switch {
		case (args.SessionID == 0) == (args.MAC == ""):
			return nil, &ArgsError{Msg: "give either session_id or mac"}
		case args.MAC != "":
			if hw, err := net.ParseMAC(args.MAC); err != nil || len(hw) != 6 {
				return nil, &ArgsError{Msg: fmt.Sprintf("bad MAC address %q", args.MAC)}
			}
		}
		// Wait for the sessions to end as "ppp destroy" does; those still terminating
		// are reported with ended false.
		wctx, cancel := context.WithTimeout(ctx, pppDestroyWait)
		defer cancel()
		res, err := e.Disconnect(wctx, pppoe.Selector{SessionID: args.SessionID, Interface: args.Interface, MAC: args.MAC}, args.Reason)
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return nil, errors.New("pppoe: the engine did not answer in time")
		}
		return res, err
	})
}
