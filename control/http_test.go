package control

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"go.uber.org/zap"
)

func TestHTTPEndpoints(t *testing.T) {
	reg := NewRegistry()
	healthy := true
	h := NewHTTPHandler(reg,
		func(ctx context.Context) (any, error) { return map[string]string{"mode": "test"}, nil },
		func() error {
			if healthy {
				return nil
			}
			return errors.New("unhealthy: l2tp: failed")
		},
		zap.NewNop())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeHTTP(ctx, ln, h, zap.NewNop()) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeHTTP: %v", err)
		}
	}()
	base := "http://" + ln.Addr().String()
	get := func(path string) (int, string, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}

	code, ctype, body := get("/metrics")
	if code != 200 || !strings.Contains(body, `probox_build_info{goversion="go`) || !strings.Contains(body, "go_goroutines ") || !strings.Contains(body, "process_start_time_seconds") {
		t.Errorf("/metrics: %d %s\n%.500s", code, ctype, body)
	}
	code, ctype, body = get("/status")
	if code != 200 || ctype != "application/json" || !strings.Contains(body, `"mode": "test"`) {
		t.Errorf("/status: %d %s %s", code, ctype, body)
	}
	if code, _, body = get("/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	healthy = false
	if code, _, body = get("/healthz"); code != 503 || body != "unhealthy: l2tp: failed\n" {
		t.Errorf("/healthz when unhealthy: %d %q", code, body)
	}
	if code, _, _ = get("/nope"); code != 404 {
		t.Errorf("/nope: %d, want 404", code)
	}
	if code, _, body = get("/"); code != 200 || !strings.Contains(body, `href="/metrics"`) {
		t.Errorf("/: %d %s", code, body)
	}
}
