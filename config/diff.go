package config

import (
	"reflect"
	"slices"
)

// ChangeKind says how a block changed between two configurations.
type ChangeKind uint8

// Kinds of change.
const (
	Added ChangeKind = iota + 1
	Removed
	Modified
)

func (k ChangeKind) String() string {
	switch k {
	case Added:
		return "added"
	case Removed:
		return "removed"
	case Modified:
		return "modified"
	}
	return "unknown"
}

// Change is one block that differs between two configurations: a section ("system"), or a
// named entry of a table of named blocks ("tunnel_profile.lns", "pppoe.service.internet").
type Change struct {
	Path string
	Kind ChangeKind
}

// Diff lists the blocks that differ from old to new, sorted by path. Engines apply a reload
// by looking only at the blocks that concern them, so sessions that a change does not
// concern are left alone.
func Diff(old, new *Config) []Change {
	var out []Change
	diffValue("", reflect.ValueOf(*old), reflect.ValueOf(*new), &out)
	slices.SortFunc(out, func(a, b Change) int {
		switch {
		case a.Path < b.Path:
			return -1
		case a.Path > b.Path:
			return 1
		}
		return 0
	})
	return out
}

// diffValue descends into structs and maps of named blocks and reports at the granularity
// of sections and named entries.
func diffValue(path string, a, b reflect.Value, out *[]Change) {
	switch a.Kind() {
	case reflect.Struct:
		// Descend into a struct only where it holds tables of named blocks; otherwise
		// report it as one block.
		if path != "" && !hasNamedTables(a.Type()) {
			if !reflect.DeepEqual(a.Interface(), b.Interface()) {
				*out = append(*out, Change{path, Modified})
			}
			return
		}
		var scalarsDiffer bool
		for i := range a.NumField() {
			f := a.Type().Field(i)
			fa, fb := a.Field(i), b.Field(i)
			if f.Type.Kind() == reflect.Struct || f.Type.Kind() == reflect.Map {
				diffValue(join(path, tomlKey(f)), fa, fb, out)
			} else if !reflect.DeepEqual(fa.Interface(), fb.Interface()) {
				scalarsDiffer = true
			}
		}
		if scalarsDiffer {
			*out = append(*out, Change{path, Modified})
		}
	case reflect.Map:
		for _, k := range a.MapKeys() {
			p := join(path, k.String())
			if vb := b.MapIndex(k); !vb.IsValid() {
				*out = append(*out, Change{p, Removed})
			} else if !reflect.DeepEqual(a.MapIndex(k).Interface(), vb.Interface()) {
				*out = append(*out, Change{p, Modified})
			}
		}
		for _, k := range b.MapKeys() {
			if !a.MapIndex(k).IsValid() {
				*out = append(*out, Change{join(path, k.String()), Added})
			}
		}
	default:
		if !reflect.DeepEqual(a.Interface(), b.Interface()) {
			*out = append(*out, Change{path, Modified})
		}
	}
}

func hasNamedTables(t reflect.Type) bool {
	for i := range t.NumField() {
		if t.Field(i).Type.Kind() == reflect.Map {
			return true
		}
	}
	return false
}
