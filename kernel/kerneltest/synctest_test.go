package kerneltest

import (
	"errors"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/probox/probox/kernel"
)

// TestSynctest shows that the fake works inside a synctest bubble: a goroutine blocked in
// a read is durably blocked (synctest.Wait returns), sleeps take no real time, and
// SetDelay delays and reorders packets on the bubble's clock.
func TestSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, 2, kernel.EncapUDP)
		type result struct {
			Msg string
			At  time.Duration
			Err error
		}
		start := time.Now()
		got := make(chan result, 10)
		go func() {
			b := make([]byte, 100)
			for {
				n, _, err := p.lnsT.ReadControl(b)
				got <- result{string(b[:n]), time.Since(start), err}
				if err != nil {
					return
				}
			}
		}()
		synctest.Wait() // returns only because the reader is durably blocked
		select {
		case r := <-got:
			t.Fatalf("read returned early: %+v", r)
		default:
		}

		time.Sleep(time.Hour)
		if d := time.Since(start); d != time.Hour {
			t.Errorf("slept %v, want 1h", d)
		}

		p.n.SetDelay(func(pk Packet) time.Duration {
			if string(pk.Data) == "slow" {
				return 2 * time.Second
			}
			return time.Second
		})
		noErr(t, p.lacT.WriteControl([]byte("slow")))
		noErr(t, p.lacT.WriteControl([]byte("fast")))
		synctest.Wait()
		if len(got) != 0 {
			t.Fatal("a delayed packet arrived at once")
		}
		time.Sleep(3 * time.Second)
		synctest.Wait()
		noErr(t, p.lacT.Close())
		noErr(t, p.lnsT.Close())
		var rs []result
		for range 3 {
			rs = append(rs, <-got)
		}
		want := []result{
			{"fast", time.Hour + time.Second, nil},
			{"slow", time.Hour + 2*time.Second, nil},
			{"", time.Hour + 3*time.Second, net.ErrClosed},
		}
		if diff := cmp.Diff(want, rs, cmp.Comparer(func(a, b error) bool { return errors.Is(a, b) })); diff != "" {
			t.Errorf("reads (-want +got):\n%s", diff)
		}
	})
}
