package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// APIVersion is the version of the management protocol spoken on the unix socket.
//
// The protocol is newline-delimited JSON. A client sends one Request per line and reads one
// Response per line; a connection may carry any number of requests in turn. A streaming
// command (such as "watch") answers with Response lines carrying Event until the client
// closes the connection.
const APIVersion = 1

// Request is one management API call.
type Request struct {
	Version int             `json:"version"`
	Command string          `json:"command"`
	Args    json.RawMessage `json:"args,omitempty"`
}

// Response answers a Request. Exactly one of Result, Event and Error is meaningful: Error
// when OK is false, Event on the lines of a stream, Result otherwise.
type Response struct {
	Version int             `json:"version"`
	OK      bool            `json:"ok"`
	Error   string          `json:"error,omitempty"`
	Result  json.RawMessage `json:"result,omitempty"`
	Event   json.RawMessage `json:"event,omitempty"`
}

// Handler serves one command. args is the request's raw "args" (possibly empty); the
// returned value is sent as the result.
type Handler func(ctx context.Context, args json.RawMessage) (any, error)

// StreamHandler serves a streaming command: it calls send for each item until ctx ends
// (the client went away or the daemon stops) or send fails.
type StreamHandler func(ctx context.Context, args json.RawMessage, send func(any) error) error

// ArgsError is returned by handlers for a request whose arguments are wrong; the message is
// shown to the operator as is.
type ArgsError struct{ Msg string }

func (e *ArgsError) Error() string { return e.Msg }

// API is the management API server.
type API struct {
	log *zap.Logger

	mu      sync.Mutex // guards the fields below
	cmds    map[string]Handler
	streams map[string]StreamHandler
}

// NewAPI returns an API with no commands.
func NewAPI(log *zap.Logger) *API {
	return &API{log: log, cmds: map[string]Handler{}, streams: map[string]StreamHandler{}}
}

// Handle registers a command. Registering a name twice panics: the command table is
// built once at start and a duplicate is a programming error.
func (a *API) Handle(name string, h Handler) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.mustBeNew(name)
	a.cmds[name] = h
}

// HandleStream registers a streaming command.
func (a *API) HandleStream(name string, h StreamHandler) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.mustBeNew(name)
	a.streams[name] = h
}

func (a *API) mustBeNew(name string) {
	if _, ok := a.cmds[name]; ok {
		panic("control: duplicate API command " + name)
	}
	if _, ok := a.streams[name]; ok {
		panic("control: duplicate API command " + name)
	}
}

// Commands lists the registered command names.
func (a *API) Commands() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var names []string
	for n := range a.cmds {
		names = append(names, n)
	}
	for n := range a.streams {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// ListenUnix creates the management socket at path with mode 0600, creating its directory
// (mode 0755) if needed. A socket file left by a dead daemon is replaced; one that still
// answers is an error.
func ListenUnix(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	if _, err := os.Lstat(path); err == nil {
		c, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			c.Close()
			return nil, fmt.Errorf("control socket %s is in use by another process", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("removing stale control socket: %w", err)
		}
	}
	// The umask makes the socket 0600 from the moment it exists; the daemon calls this
	// before it starts any other goroutine that creates files.
	old := syscall.Umask(0o177)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, err
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(true)
	return ln, nil
}

// Serve accepts connections on ln until ctx is done, then closes ln and waits for the
// connections it serves to finish.
func (a *API) Serve(ctx context.Context, ln net.Listener) error {
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		wg.Wait()
	}()
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("control socket: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.serveConn(ctx, c)
		}()
	}
}

// maxRequest bounds one request line, so that a confused client cannot make the daemon
// buffer without limit.
const maxRequest = 1 << 20

func (a *API) serveConn(ctx context.Context, c net.Conn) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		<-ctx.Done()
		c.Close()
	}()
	r := bufio.NewReaderSize(c, 4096)
	enc := json.NewEncoder(c)
	for {
		line, err := readLine(r, maxRequest)
		if err != nil {
			if errors.Is(err, errLineTooLong) {
				enc.Encode(Response{Version: APIVersion, Error: "request too long (limit 1 MiB)"})
			}
			return
		}
		if len(strings.TrimSpace(string(line))) == 0 {
			continue
		}
		var req Request
		if err := json.Unmarshal(line, &req); err != nil {
			enc.Encode(Response{Version: APIVersion, Error: "bad request: " + err.Error()})
			return
		}
		if req.Version != APIVersion {
			enc.Encode(Response{Version: APIVersion, Error: fmt.Sprintf("unsupported protocol version %d (this daemon speaks %d)", req.Version, APIVersion)})
			return
		}
		a.mu.Lock()
		h, sh := a.cmds[req.Command], a.streams[req.Command]
		a.mu.Unlock()
		switch {
		case h != nil:
			resp := Response{Version: APIVersion, OK: true}
			res, err := h(ctx, req.Args)
			if err == nil {
				resp.Result, err = json.Marshal(res)
			}
			if err != nil {
				resp = Response{Version: APIVersion, Error: err.Error()}
			}
			if enc.Encode(resp) != nil {
				return
			}
		case sh != nil:
			a.stream(ctx, c, enc, sh, req)
			return
		default:
			enc.Encode(Response{Version: APIVersion, Error: fmt.Sprintf("unknown command %q (this daemon knows: %s)", req.Command, strings.Join(a.Commands(), ", "))})
		}
	}
}

func (a *API) stream(ctx context.Context, c net.Conn, enc *json.Encoder, h StreamHandler, req Request) {
	// The client says nothing more on a stream; a read returning means it hung up, which
	// ends the handler through its context.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		io.Copy(io.Discard, c)
		cancel()
	}()
	send := func(v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		return enc.Encode(Response{Version: APIVersion, OK: true, Event: b})
	}
	if err := h(ctx, req.Args, send); err != nil && ctx.Err() == nil {
		enc.Encode(Response{Version: APIVersion, Error: err.Error()})
	}
}

var errLineTooLong = errors.New("line too long")

func readLine(r *bufio.Reader, limit int) ([]byte, error) {
	var line []byte
	for {
		chunk, isPrefix, err := r.ReadLine()
		if err != nil {
			return nil, err
		}
		line = append(line, chunk...)
		if len(line) > limit {
			return nil, errLineTooLong
		}
		if !isPrefix {
			return line, nil
		}
	}
}

// Client is a connection to the management API.
type Client struct {
	conn net.Conn
	r    *bufio.Reader
}

// Dial connects to the management socket at path.
func Dial(path string) (*Client, error) {
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		var hint string
		switch {
		case errors.Is(err, os.ErrNotExist):
			hint = " (is the probox daemon running? see control.socket in its configuration)"
		case errors.Is(err, os.ErrPermission):
			hint = " (the socket is mode 0600: run as the daemon's user, usually root)"
		case errors.Is(err, syscall.ECONNREFUSED):
			hint = " (no daemon is listening)"
		}
		return nil, fmt.Errorf("cannot reach the probox daemon at %s: %w%s", path, err, hint)
	}
	return &Client{conn: c, r: bufio.NewReader(c)}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// RemoteError is an error the daemon answered with.
type RemoteError struct{ Msg string }

func (e *RemoteError) Error() string { return e.Msg }

func (c *Client) send(ctx context.Context, cmd string, args any) error {
	req := Request{Version: APIVersion, Command: cmd}
	if args != nil {
		b, err := json.Marshal(args)
		if err != nil {
			return err
		}
		req.Args = b
	}
	return json.NewEncoder(c.conn).Encode(req)
}

func (c *Client) recv() (Response, error) {
	line, err := readLine(c.r, 64<<20)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = errors.New("the daemon closed the connection")
		}
		return Response{}, err
	}
	var resp Response
	if err := json.Unmarshal(line, &resp); err != nil {
		return Response{}, fmt.Errorf("bad response from the daemon: %w", err)
	}
	if !resp.OK {
		return resp, &RemoteError{resp.Error}
	}
	return resp, nil
}

// Call sends one command and decodes its result into result (which may be nil, or a
// *json.RawMessage to keep it raw).
func (c *Client) Call(ctx context.Context, cmd string, args, result any) error {
	if dl, ok := ctx.Deadline(); ok {
		c.conn.SetDeadline(dl)
		defer c.conn.SetDeadline(time.Time{})
	}
	if err := c.send(ctx, cmd, args); err != nil {
		return err
	}
	resp, err := c.recv()
	if err != nil {
		return err
	}
	if result == nil {
		return nil
	}
	return json.Unmarshal(resp.Result, result)
}

// Stream sends a streaming command and calls fn with each item until fn returns an error,
// the daemon ends the stream, or ctx is done (which returns nil).
func (c *Client) Stream(ctx context.Context, cmd string, args any, fn func(json.RawMessage) error) error {
	if err := c.send(ctx, cmd, args); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { c.conn.Close() })
	defer stop()
	for {
		resp, err := c.recv()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if err := fn(resp.Event); err != nil {
			return err
		}
	}
}
