package ppp

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// RFC 1320 §A.5 test suite.
var md4Suite = []struct {
	name string
	in   string
	want string
}{
	{name: "empty", in: "", want: "31d6cfe0d16ae931b73c59d7e0c089c0"},
	{name: "a", in: "a", want: "bde52cb31de33e46245e05fbdbd6fb24"},
	{name: "abc", in: "abc", want: "a448017aaf21d8525fc10ae87aa6729d"},
	{name: "message digest", in: "message digest", want: "d9130a8164549fe818874806e1c7014b"},
	{name: "alphabet", in: "abcdefghijklmnopqrstuvwxyz", want: "d79e1c308aa5bbcdeea8ed63df412da9"},
	{name: "alphanumeric", in: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", want: "043f8582f241db351ce627e153e7f0e4"},
	{name: "digits", in: strings.Repeat("1234567890", 8), want: "e33b4ddc9c38f2199c3e7b164fcc0536"},
}

func TestMD4RFC1320Suite(t *testing.T) {
	for _, tt := range md4Suite {
		t.Run(tt.name, func(t *testing.T) {
			got := MD4Sum([]byte(tt.in))
			if diff := cmp.Diff(tt.want, hex.EncodeToString(got[:])); diff != "" {
				t.Errorf("MD4(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// TestMD4Streaming feeds the suite in chunks of every size, so the block buffering and the
// padding at every offset modulo 64 are exercised against the one-shot digest.
func TestMD4Streaming(t *testing.T) {
	long := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 7) // 315 octets
	for _, in := range []string{md4Suite[6].in, long} {
		want := MD4Sum([]byte(in))
		for chunk := 1; chunk <= 70; chunk++ {
			d := newMD4()
			for b := []byte(in); len(b) > 0; {
				n := min(chunk, len(b))
				d.write(b[:n])
				b = b[n:]
			}
			if got := d.sum(); got != want {
				t.Fatalf("chunk %d: got %x, want %x", chunk, got, want)
			}
		}
	}
	// Every length from 0 to 130 crosses the 56-octet padding boundary.
	for n := range 131 {
		b := []byte(strings.Repeat("x", n))
		d := newMD4()
		d.write(b)
		s1 := d.sum()
		s2 := d.sum() // sum must not disturb the state
		if s1 != s2 || s1 != MD4Sum(b) {
			t.Fatalf("length %d: inconsistent digests", n)
		}
	}
}
