package pppoe

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// t0 starts a 30-second cookie bucket (its Unix time is a multiple of 30).
var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func testRand(seed byte) *rand.ChaCha8 { return rand.NewChaCha8([32]byte{seed}) }

func TestCookie(t *testing.T) {
	s, err := NewCookieSigner(testRand(1), 30*time.Second)
	if err != nil {
		t.Fatalf("NewCookieSigner: %v", err)
	}
	host := MAC{0x02, 0, 0, 0, 0, 1}
	vl := VLANs{Outer: 100, Inner: 7}
	cookie := s.Make(t0, "eth1", vl, host)
	if len(cookie) != CookieLen {
		t.Fatalf("cookie length %d, want %d", len(cookie), CookieLen)
	}
	flipped := append([]byte(nil), cookie...)
	flipped[5] ^= 1
	other, err := NewCookieSigner(testRand(2), 30*time.Second)
	if err != nil {
		t.Fatalf("NewCookieSigner: %v", err)
	}

	tests := []struct {
		name   string
		now    time.Time
		iface  string
		vlans  VLANs
		mac    MAC
		cookie []byte
		want   error
	}{
		{name: "same bucket", now: t0.Add(29 * time.Second), iface: "eth1", vlans: vl, mac: host, cookie: cookie},
		{name: "previous bucket", now: t0.Add(59 * time.Second), iface: "eth1", vlans: vl, mac: host, cookie: cookie},
		{name: "two buckets old", now: t0.Add(60 * time.Second), iface: "eth1", vlans: vl, mac: host, cookie: cookie, want: ErrCookieExpired},
		{name: "255 buckets old", now: t0.Add(255 * 30 * time.Second), iface: "eth1", vlans: vl, mac: host, cookie: cookie, want: ErrCookieExpired},
		{name: "256 buckets old wraps to invalid", now: t0.Add(256 * 30 * time.Second), iface: "eth1", vlans: vl, mac: host, cookie: cookie, want: ErrCookieInvalid},
		{name: "from the future", now: t0.Add(-time.Second), iface: "eth1", vlans: vl, mac: host, cookie: cookie, want: ErrCookieInvalid},
		{name: "other MAC", now: t0, iface: "eth1", vlans: vl, mac: MAC{0x02, 0, 0, 0, 0, 2}, cookie: cookie, want: ErrCookieInvalid},
		{name: "other outer VLAN", now: t0, iface: "eth1", vlans: VLANs{101, 7}, mac: host, cookie: cookie, want: ErrCookieInvalid},
		{name: "other inner VLAN", now: t0, iface: "eth1", vlans: VLANs{100, 8}, mac: host, cookie: cookie, want: ErrCookieInvalid},
		{name: "other interface", now: t0, iface: "eth2", vlans: vl, mac: host, cookie: cookie, want: ErrCookieInvalid},
		{name: "bit flipped", now: t0, iface: "eth1", vlans: vl, mac: host, cookie: flipped, want: ErrCookieInvalid},
		{name: "other AC's key", now: t0, iface: "eth1", vlans: vl, mac: host, cookie: other.Make(t0, "eth1", vl, host), want: ErrCookieInvalid},
		{name: "truncated", now: t0, iface: "eth1", vlans: vl, mac: host, cookie: cookie[:8], want: ErrCookieInvalid},
		{name: "empty", now: t0, iface: "eth1", vlans: vl, mac: host, cookie: []byte{}, want: ErrCookieInvalid},
		{name: "missing", now: t0, iface: "eth1", vlans: vl, mac: host, cookie: nil, want: ErrCookieMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Verify(tt.now, tt.iface, tt.vlans, tt.mac, tt.cookie)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Errorf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestCookieDiffersPerBucket(t *testing.T) {
	s, err := NewCookieSigner(testRand(1), 30*time.Second)
	if err != nil {
		t.Fatalf("NewCookieSigner: %v", err)
	}
	host := MAC{0x02, 0, 0, 0, 0, 1}
	a := s.Make(t0, "eth1", VLANs{}, host)
	b := s.Make(t0.Add(29*time.Second), "eth1", VLANs{}, host)
	c := s.Make(t0.Add(30*time.Second), "eth1", VLANs{}, host)
	if string(a) != string(b) {
		t.Error("cookies of one bucket differ")
	}
	if string(a[1:]) == string(c[1:]) {
		t.Error("cookies of consecutive buckets share their MAC")
	}
	// Before 1970 the bucket is floored, not truncated toward zero.
	old := time.Unix(-1, 0)
	if err := s.Verify(old, "eth1", VLANs{}, host, s.Make(old, "eth1", VLANs{}, host)); err != nil {
		t.Errorf("Verify of a pre-1970 cookie: %v", err)
	}
}

func TestNewCookieSignerErrors(t *testing.T) {
	if _, err := NewCookieSigner(strings.NewReader("short"), time.Second); err == nil {
		t.Error("NewCookieSigner with a 5-byte random source succeeded")
	}
	if _, err := NewCookieSigner(testRand(1), 0); err == nil {
		t.Error("NewCookieSigner with a zero period succeeded")
	}
}
