package config

import (
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// keyLines maps each key path of a TOML document ("a.b.c", tables included) to the line
// where it is defined, so errors found after decoding can point into the file.
type keyLines map[string]int

// locateKeys parses doc and records the line of every key and table header. It never
// fails: a document that does not parse yields the lines found before the error (the
// syntax error itself is reported by the decoder, with its own position).
func locateKeys(doc []byte) keyLines {
	lines := keyLines{}
	p := unstable.Parser{KeepComments: false}
	p.Reset(doc)
	var table []string
	for p.NextExpression() {
		n := p.Expression()
		switch n.Kind {
		case unstable.Table, unstable.ArrayTable:
			table = keyParts(n.Key())
			lines.set(&p, strings.Join(table, "."), n)
		case unstable.KeyValue:
			lines.keyValue(&p, table, n)
		}
	}
	return lines
}

func (l keyLines) keyValue(p *unstable.Parser, prefix []string, n *unstable.Node) {
	path := append(append([]string(nil), prefix...), keyParts(n.Key())...)
	l.set(p, strings.Join(path, "."), n)
	if v := n.Value(); v.Kind == unstable.InlineTable {
		it := v.Children()
		for it.Next() {
			l.keyValue(p, path, it.Node())
		}
	}
}

func (l keyLines) set(p *unstable.Parser, path string, n *unstable.Node) {
	if _, ok := l[path]; ok {
		return
	}
	// The node's own range is not always set (tables); its first key part's always is.
	r := n.Raw
	if it := n.Key(); it.Next() {
		r = it.Node().Raw
	}
	if r.Length == 0 && r.Offset == 0 {
		return
	}
	l[path] = p.Shape(r).Start.Line
}

func keyParts(it unstable.Iterator) []string {
	var parts []string
	for it.Next() {
		parts = append(parts, string(it.Node().Data))
	}
	return parts
}

// line returns the line of path, or of its closest enclosing key that is in the document
// (an array element is located at its key; a bad entry of a table at the table).
func (l keyLines) line(path string) int {
	for {
		if n, ok := l[path]; ok {
			return n
		}
		if i := strings.LastIndexAny(path, ".["); i > 0 {
			path = path[:i]
			continue
		}
		return 0
	}
}
