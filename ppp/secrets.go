package ppp

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
)

// ErrWorldReadable is returned by LoadSecrets for a secrets file that any user can read.
var ErrWorldReadable = errors.New("ppp: secrets file is world-readable")

// SecretsError is a syntax error in a secrets file: the file, the line and what was wrong.
// It never contains a secret.
type SecretsError struct {
	File string
	Line int
	Msg  string
}

func (e *SecretsError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// Secrets is a parsed local secrets file (format in the package documentation): each user's
// cleartext secret and optional static IPv4 address. It implements SecretStore and
// AddressStore, so a LocalBackend over it authenticates users and gives them their
// addresses. A Secrets is immutable and safe for concurrent use; String and GoString print
// no secret.
type Secrets struct {
	file  string
	users map[string]secretEntry
}

type secretEntry struct {
	secret string
	addr   netip.Addr
}

var (
	_ SecretStore  = (*Secrets)(nil)
	_ AddressStore = (*Secrets)(nil)
)

// Lookup returns the user's secret.
func (s *Secrets) Lookup(user string) (string, bool) {
	if s == nil {
		return "", false
	}
	e, ok := s.users[user]
	return e.secret, ok
}

// Address returns the user's static address, if the file gives one.
func (s *Secrets) Address(user string) (netip.Addr, bool) {
	if s == nil {
		return netip.Addr{}, false
	}
	e, ok := s.users[user]
	return e.addr, ok && e.addr.IsValid()
}

// Len is the number of users.
func (s *Secrets) Len() int {
	if s == nil {
		return 0
	}
	return len(s.users)
}

// File is the name the secrets were read from.
func (s *Secrets) File() string {
	if s == nil {
		return ""
	}
	return s.file
}

func (s *Secrets) String() string { return fmt.Sprintf("Secrets{file=%q users=%d}", s.File(), s.Len()) }

// GoString keeps %#v from printing the secrets.
func (s *Secrets) GoString() string { return "ppp." + s.String() }

// LoadSecrets reads the secrets file at path. It refuses a file that is not a regular file
// or that is world-readable (ErrWorldReadable), and reports syntax errors as *SecretsError.
// A missing file is an error wrapping os.ErrNotExist.
func LoadSecrets(path string) (*Secrets, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("ppp: secrets file %s is not a regular file", path)
	}
	// Checked on the open file, so that the file read is the file checked.
	if perm := fi.Mode().Perm(); perm&0o004 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o; make it readable by its owner only (chmod 600 %s)", ErrWorldReadable, path, perm, path)
	}
	return ParseSecrets(path, f)
}

// ParseSecrets parses a secrets file read from r; name is used in error messages.
func ParseSecrets(name string, r io.Reader) (*Secrets, error) {
	s := &Secrets{file: name, users: map[string]secretEntry{}}
	firstLine := map[string]int{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	line := 0
	for sc.Scan() {
		line++
		errf := func(format string, args ...any) error {
			return &SecretsError{File: name, Line: line, Msg: fmt.Sprintf(format, args...)}
		}
		fields, err := splitSecretsLine(strings.TrimSuffix(sc.Text(), "\r"))
		if err != nil {
			return nil, errf("%s", err.Error())
		}
		switch len(fields) {
		case 0:
			continue
		case 2, 3:
		default:
			return nil, errf("want USERNAME SECRET [ADDRESS], got %d fields", len(fields))
		}
		user, secret := fields[0], fields[1]
		if user == "" {
			return nil, errf("empty user name")
		}
		if secret == "" {
			return nil, errf("empty secret for user %q", user)
		}
		if len(user) > 255 || len(secret) > 255 {
			return nil, errf("user name and secret must be at most 255 bytes (user %q)", user)
		}
		if at, dup := firstLine[user]; dup {
			return nil, errf("user %q is listed again (first at line %d)", user, at)
		}
		e := secretEntry{secret: secret}
		if len(fields) == 3 && fields[2] != "*" {
			a, err := netip.ParseAddr(fields[2])
			if err != nil || !a.Is4() || a.IsUnspecified() {
				return nil, errf("ADDRESS %q of user %q: must be an IPv4 address or *", fields[2], user)
			}
			e.addr = a
		}
		firstLine[user] = line
		s.users[user] = e
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, &SecretsError{File: name, Line: line + 1, Msg: "line too long (limit 64 KiB)"}
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return s, nil
}

// splitSecretsLine splits a line into fields separated by spaces and tabs. A field may be
// double-quoted (with \" and \\ escapes) to hold spaces, '#' or quotes; '#' at the start of
// a field starts a comment. Errors never quote the line (it holds a secret).
func splitSecretsLine(line string) ([]string, error) {
	var fields []string
	i := 0
	for {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		if i == len(line) || line[i] == '#' {
			return fields, nil
		}
		if line[i] != '"' {
			start := i
			for i < len(line) && line[i] != ' ' && line[i] != '\t' {
				if line[i] == '"' {
					return nil, fmt.Errorf("field %d: a quote inside an unquoted field (quote the whole field)", len(fields)+1)
				}
				i++
			}
			fields = append(fields, line[start:i])
			continue
		}
		i++
		var b strings.Builder
		for {
			if i == len(line) {
				return nil, fmt.Errorf("field %d: unterminated quoted field", len(fields)+1)
			}
			c := line[i]
			if c == '"' {
				i++
				break
			}
			if c == '\\' {
				if i+1 == len(line) || (line[i+1] != '"' && line[i+1] != '\\') {
					return nil, fmt.Errorf(`field %d: a backslash must be followed by " or \ in a quoted field`, len(fields)+1)
				}
				c = line[i+1]
				i++
			}
			b.WriteByte(c)
			i++
		}
		if i < len(line) && line[i] != ' ' && line[i] != '\t' {
			return nil, fmt.Errorf("field %d: a closing quote must be followed by a space", len(fields)+1)
		}
		fields = append(fields, b.String())
	}
}

// secretsRef is the engine's current secrets, swapped whole on reload. It is the
// SecretStore of the engine's LocalBackend.
type secretsRef struct{ p atomic.Pointer[Secrets] }

func (r *secretsRef) Lookup(user string) (string, bool)      { return r.p.Load().Lookup(user) }
func (r *secretsRef) Address(user string) (netip.Addr, bool) { return r.p.Load().Address(user) }
