package l2tp

import (
	"encoding/hex"
	"strings"
	"testing"
)

// unhex decodes a commented hex dump: on each line, text after '#' is a comment and
// whitespace is ignored.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	var sb strings.Builder
	for line := range strings.SplitSeq(s, "\n") {
		line, _, _ = strings.Cut(line, "#")
		sb.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(sb.String())
	if err != nil {
		t.Fatalf("bad hex in test: %v", err)
	}
	return b
}

// h decodes a plain hex string (panics on bad input; for literals in tables).
func h(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// countingReader is a deterministic io.Reader for random vectors: 0x00, 0x01, 0x02, ...
type countingReader struct{ n byte }

func (r *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.n
		r.n++
	}
	return len(p), nil
}

// withM returns a with its M bit set as given.
func withM(a AVP, m bool) AVP {
	a.Mandatory = m
	return a
}
