package config

import (
	"fmt"
	"slices"
	"strings"
)

// Error is one problem found in a configuration file.
type Error struct {
	File string // the file, as the operator named it
	Line int    // line of the key in File; 0 when the key is not in the file (e.g. a default)
	Key  string // key path such as "tunnel_profile.lns.hello_interval"; empty for file-level errors
	Msg  string // what was wrong and what was expected
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors collects every problem found in one configuration file. Its Error method prints
// one problem per line, in file order.
type Errors struct {
	file   string
	locate func(path string) int
	list   []*Error
}

func (e *Errors) add(path, msg string) {
	line := 0
	if e.locate != nil {
		line = e.locate(path)
	}
	e.list = append(e.list, &Error{File: e.file, Line: line, Key: path, Msg: msg})
}

func (e *Errors) addf(path, format string, args ...any) { e.add(path, fmt.Sprintf(format, args...)) }

// List returns the problems, sorted by line then key.
func (e *Errors) List() []*Error {
	l := slices.Clone(e.list)
	slices.SortStableFunc(l, func(a, b *Error) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return strings.Compare(a.Key, b.Key)
	})
	return l
}

// Len is the number of problems.
func (e *Errors) Len() int { return len(e.list) }

func (e *Errors) Error() string {
	var b strings.Builder
	for i, err := range e.List() {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(err.Error())
	}
	return b.String()
}

// err returns e as an error, or nil when it holds no problem.
func (e *Errors) err() error {
	if len(e.list) == 0 {
		return nil
	}
	return e
}
