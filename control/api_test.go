package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
)

// startAPI serves a test API on a temporary socket and stops it at cleanup.
func startAPI(t *testing.T) (*API, string) {
	t.Helper()
	a := NewAPI(zap.NewNop())
	a.Handle("echo", func(ctx context.Context, args json.RawMessage) (any, error) {
		var v struct{ Say string }
		if err := json.Unmarshal(args, &v); err != nil {
			return nil, &ArgsError{Msg: "bad arguments: " + err.Error()}
		}
		return map[string]string{"said": v.Say}, nil
	})
	a.Handle("fail", func(ctx context.Context, args json.RawMessage) (any, error) {
		return nil, errors.New("it failed")
	})
	a.HandleStream("count", func(ctx context.Context, args json.RawMessage, send func(any) error) error {
		for i := 1; ; i++ {
			if err := send(i); err != nil {
				return err
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Millisecond):
			}
		}
	})
	path := filepath.Join(t.TempDir(), "run", "control.sock")
	ln, err := ListenUnix(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("socket left behind after Serve returned: %v", err)
		}
	})
	return a, path
}

func TestAPICalls(t *testing.T) {
	_, path := startAPI(t)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %o, want 600", fi.Mode().Perm())
	}
	c, err := Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	var res map[string]string
	if err := c.Call(ctx, "echo", map[string]string{"say": "hi"}, &res); err != nil || res["said"] != "hi" {
		t.Errorf("echo = %v, %v", res, err)
	}
	// Several requests on one connection, errors included.
	tests := []struct {
		cmd  string
		args any
		want string
	}{
		{"fail", nil, "it failed"},
		{"echo", []int{1}, "bad arguments: json: cannot unmarshal array into Go value of type struct { Say string }"},
		{"nope", nil, `unknown command "nope" (this daemon knows: count, echo, fail)`},
	}
	for _, tt := range tests {
		err := c.Call(ctx, tt.cmd, tt.args, nil)
		var re *RemoteError
		if !errors.As(err, &re) || re.Msg != tt.want {
			t.Errorf("Call(%s) error = %v, want %q", tt.cmd, err, tt.want)
		}
	}
	if err := c.Call(ctx, "echo", map[string]string{"say": "still here"}, &res); err != nil || res["said"] != "still here" {
		t.Errorf("connection unusable after errors: %v, %v", res, err)
	}
}

func TestAPIProtocolErrors(t *testing.T) {
	_, path := startAPI(t)
	tests := []struct {
		name string
		send string
		want string
	}{
		{"not JSON", "hello\n", `"error":"bad request: invalid character 'h' looking for beginning of value"`},
		{"wrong version", `{"version":7,"command":"echo"}` + "\n", `"error":"unsupported protocol version 7 (this daemon speaks 1)"`},
		{"too long", `{"version":1,"command":"` + strings.Repeat("x", 2<<20) + "\"}\n", `"error":"request too long (limit 1 MiB)"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			go fmt.Fprint(c, tt.send)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(line, tt.want) {
				t.Errorf("response %s, want it to contain %s", line, tt.want)
			}
		})
	}
}

func TestAPIStream(t *testing.T) {
	_, path := startAPI(t)
	c, err := Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var got []int
	stop := errors.New("stop")
	err = c.Stream(context.Background(), "count", nil, func(raw json.RawMessage) error {
		var n int
		if err := json.Unmarshal(raw, &n); err != nil {
			return err
		}
		got = append(got, n)
		if len(got) == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || fmt.Sprint(got) != "[1 2 3]" {
		t.Errorf("Stream = %v, %v", got, err)
	}
	// The client hanging up ends the handler; the cleanup's Serve wait checks that
	// nothing stays behind.
}

func TestListenUnixStaleAndBusy(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.sock")
	// A stale socket file (nobody listening) is replaced.
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	ln2, err := ListenUnix(path)
	if err != nil {
		t.Fatalf("ListenUnix over a stale socket: %v", err)
	}
	defer ln2.Close()
	// A live one is not.
	if _, err := ListenUnix(path); err == nil || !strings.Contains(err.Error(), "in use by another process") {
		t.Errorf("ListenUnix over a live socket: %v", err)
	}
}

func TestDialErrors(t *testing.T) {
	_, err := Dial(filepath.Join(t.TempDir(), "absent.sock"))
	if err == nil || !strings.Contains(err.Error(), "is the probox daemon running?") {
		t.Errorf("Dial(absent) = %v", err)
	}
}
