package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/probox/probox/ppp"
)

// PPP management commands (propppctl). Their results are JSON encodings of the ppp
// package's types:
//
//	"ppp list"     args {"state": "up"|"down"|""}      → []ppp.SessionInfo
//	"ppp show"     args {"instance": "session-N"|"N"}  → ppp.SessionInfo
//	"ppp destroy"  args {"instance": "session-N"|"N"}  → PPPDestroyResult
//	"ppp status"                                       → ppp.Status
//	"ppp pools"                                        → []ppp.PoolInfo

// PPPInstanceArgs are the arguments of "ppp show" and "ppp destroy".
type PPPInstanceArgs struct {
	Instance string `json:"instance"`
}

// PPPListArgs are the arguments of "ppp list".
type PPPListArgs struct {
	State string `json:"state"`
}

// PPPDestroyResult answers "ppp destroy": the session's end, or Ended false when it was
// still terminating (LCP Terminate-Request unanswered) when the command gave up waiting.
type PPPDestroyResult struct {
	Instance string         `json:"instance"`
	Ended    bool           `json:"ended"`
	Result   *ppp.EndResult `json:"result,omitempty"`
}

// pppDestroyWait bounds how long "ppp destroy" waits for the session to end: longer than
// the two Terminate-Requests of the default restart timer (2 × 3 s), shorter than the CLIs'
// default timeout (10 s).
const pppDestroyWait = 8 * time.Second

// RegisterPPP registers the PPP engine's commands on api.
func RegisterPPP(api *API, e *ppp.Engine) {
	api.Handle("ppp list", func(ctx context.Context, raw json.RawMessage) (any, error) {
		var args PPPListArgs
		if err := decodeArgs(raw, &args); err != nil {
			return nil, err
		}
		switch args.State {
		case "", "up", "down":
		default:
			return nil, &ArgsError{Msg: `state must be "up", "down" or empty, got "` + args.State + `"`}
		}
		return e.List(ctx, args.State)
	})
	api.Handle("ppp show", func(ctx context.Context, raw json.RawMessage) (any, error) {
		id, err := instanceArg(raw)
		if err != nil {
			return nil, err
		}
		return e.Show(ctx, id)
	})
	api.Handle("ppp destroy", func(ctx context.Context, raw json.RawMessage) (any, error) {
		id, err := instanceArg(raw)
		if err != nil {
			return nil, err
		}
		wctx, cancel := context.WithTimeout(ctx, pppDestroyWait)
		defer cancel()
		res, err := e.Destroy(wctx, id, "destroyed by operator")
		switch {
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
			return PPPDestroyResult{Instance: id, Ended: false}, nil
		case err != nil:
			return nil, err
		}
		return PPPDestroyResult{Instance: id, Ended: true, Result: &res}, nil
	})
	api.Handle("ppp status", func(context.Context, json.RawMessage) (any, error) {
		return e.Status(), nil
	})
	api.Handle("ppp pools", func(context.Context, json.RawMessage) (any, error) {
		return e.Pools(), nil
	})
}

// instanceArg returns the instance argument, checked with ppp.ParseInstance, as
// "session-N".
func instanceArg(raw json.RawMessage) (string, error) {
	var args PPPInstanceArgs
	if err := decodeArgs(raw, &args); err != nil {
		return "", err
	}
	id, err := ppp.ParseInstance(args.Instance)
	if err != nil {
		return "", &ArgsError{Msg: err.Error()}
	}
	return fmt.Sprintf("session-%d", id), nil
}

// decodeArgs decodes a command's arguments; empty arguments leave v as it is.
func decodeArgs(raw json.RawMessage, v any) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return &ArgsError{Msg: "bad arguments: " + err.Error()}
	}
	return nil
}
