package ppp

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// dumpSecrets renders s as sorted "user secret address" lines, for comparisons.
func dumpSecrets(s *Secrets) []string {
	var out []string
	for u, e := range s.users {
		out = append(out, fmt.Sprintf("%q %q %v", u, e.secret, e.addr))
	}
	if out == nil {
		return []string{}
	}
	slices.Sort(out)
	return out
}

func TestParseSecrets(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{name: "empty", in: "", want: []string{}},
		{name: "comments and blank lines", in: "# users\n\n   \t\n# more\n", want: []string{}},
		{
			name: "fields",
			in:   "alice s1\nbob\ts2\t10.0.0.7\ncarol s3 *   # no address\r\n",
			want: []string{`"alice" "s1" invalid IP`, `"bob" "s2" 10.0.0.7`, `"carol" "s3" invalid IP`},
		},
		{
			name: "quoted ok",
			in:   `"dave jones" "a \"b\" \\ c # d" 192.0.2.1` + "\n" + `e#f "#g"` + "\n",
			want: []string{`"dave jones" "a \"b\" \\ c # d" 192.0.2.1`, `"e#f" "#g" invalid IP`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSecrets("secrets", strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, dumpSecrets(s)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseSecretsErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"one field", "alice pw1\nbob\n", "f:2: want USERNAME SECRET [ADDRESS], got 1 fields"},
		{"four fields", "alice pw1 10.0.0.1 extra\n", "f:1: want USERNAME SECRET [ADDRESS], got 4 fields"},
		{"duplicate", "alice pw1\n\nalice pw1\n", `f:3: user "alice" is listed again (first at line 1)`},
		{"bad address", "alice pw1 10.0.0.300\n", `f:1: ADDRESS "10.0.0.300" of user "alice": must be an IPv4 address or *`},
		{"IPv6 address", "alice pw1 ::1\n", `f:1: ADDRESS "::1" of user "alice": must be an IPv4 address or *`},
		{"unterminated quote", "# c\n\"alice pw1\n", "f:2: field 1: unterminated quoted field"},
		{"bad escape", `alice "pw1\n"`, `f:1: field 2: a backslash must be followed by " or \ in a quoted field`},
		{"quote in field", `alice pw"1`, "f:1: field 2: a quote inside an unquoted field (quote the whole field)"},
		{"text after quote", `"alice"x pw1`, "f:1: field 1: a closing quote must be followed by a space"},
		{"empty user", `"" pw1`, "f:1: empty user name"},
		{"empty secret", `alice ""`, `f:1: empty secret for user "alice"`},
		{"long line", "alice pw1" + strings.Repeat("x", 70000) + "\n", "f:1: line too long (limit 64 KiB)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSecrets("f", strings.NewReader(tt.in))
			var se *SecretsError
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			if !errors.As(err, &se) {
				t.Errorf("%T is not a *SecretsError", err)
			}
			if strings.Contains(err.Error(), "pw") {
				t.Errorf("the error shows the secret: %v", err)
			}
		})
	}
}

func TestLoadSecrets(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "secrets")
	if err := os.WriteFile(path, []byte("alice hunter2 10.0.0.9\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	s, err := LoadSecrets(path)
	if err != nil {
		t.Fatal(err)
	}
	if sec, ok := s.Lookup("alice"); !ok || sec != "hunter2" {
		t.Errorf("Lookup: %q %t", sec, ok)
	}
	if a, ok := s.Address("alice"); !ok || a != netip.MustParseAddr("10.0.0.9") {
		t.Errorf("Address: %v %t", a, ok)
	}
	if _, ok := s.Lookup("bob"); ok {
		t.Error("Lookup of an unknown user")
	}
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		if out := fmt.Sprintf(f, s); strings.Contains(out, "hunter2") {
			t.Errorf("%s prints the secret: %s", f, out)
		}
	}

	if err := os.Chmod(path, 0o604); err != nil {
		t.Fatal(err)
	}
	_, err = LoadSecrets(path)
	if !errors.Is(err, ErrWorldReadable) || !strings.Contains(err.Error(), "mode 0604") {
		t.Errorf("world-readable file: %v", err)
	}
	if _, err := LoadSecrets(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: %v", err)
	}
	if _, err := LoadSecrets(filepath.Join(dir, "none")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestLocalBackendAddress(t *testing.T) {
	s, err := ParseSecrets("s", strings.NewReader("alice pw 10.0.0.9\nbob pw\n"))
	if err != nil {
		t.Fatal(err)
	}
	b := LocalBackend{Secrets: s}
	ctx := context.Background()
	tests := []struct {
		name string
		req  AuthRequest
		want AuthResult
	}{
		{"static address", AuthRequest{Method: AuthPAP, Username: "alice", Password: "pw"}, AuthResult{Accept: true, IPv4Address: netip.MustParseAddr("10.0.0.9")}},
		{"no address", AuthRequest{Method: AuthPAP, Username: "bob", Password: "pw"}, AuthResult{Accept: true}},
		{"rejected: no address", AuthRequest{Method: AuthPAP, Username: "alice", Password: "no"}, AuthResult{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := b.Authenticate(ctx, tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmpAddrs); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParseSecrets(f *testing.F) {
	f.Add([]byte(testSecrets))
	f.Add([]byte(`"a b" "c \" \\ d" 10.0.0.1` + "\n# x\n\"unterminated"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSecrets("fuzz", strings.NewReader(string(data)))
		if err != nil {
			return
		}
		for u, e := range s.users {
			if u == "" || e.secret == "" {
				t.Errorf("empty user or secret accepted")
			}
		}
	})
}

// TestSecretsExample parses the annotated example shipped in deploy/.
func TestSecretsExample(t *testing.T) {
	f, err := os.Open("../deploy/secrets.example")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := ParseSecrets("secrets.example", f)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`"alice" "alice-secret-change-me" invalid IP`,
		`"bob@example.net" "pass phrase with spaces" 100.64.10.20`,
		`"carol smith" "she said \"hi\"" invalid IP`,
		`"dave" "d4ve-change-me" invalid IP`,
	}
	if diff := cmp.Diff(want, dumpSecrets(s)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
