package config

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/knadh/koanf/maps"
	ktoml "github.com/knadh/koanf/parsers/toml/v2"
)

// Reference renders the configuration reference as Markdown: every section and key with
// its type, built-in default and meaning, generated from the Config structs and the
// embedded defaults. README.md embeds it between the markers
// "<!-- config-reference:begin -->" and "<!-- config-reference:end -->", and a test checks
// that the two agree.
func Reference() string {
	defaults, err := ktoml.Parser().Unmarshal(defaultsTOML)
	if err != nil {
		panic("config: embedded defaults do not parse: " + err.Error())
	}
	var b strings.Builder
	refStruct(&b, "", reflect.TypeFor[Config](), defaults)
	return b.String()
}

func refStruct(b *strings.Builder, path string, t reflect.Type, defaults map[string]any) {
	// Keys of this table first, then its sub-tables.
	var keys, tables []reflect.StructField
	for i := range t.NumField() {
		f := t.Field(i)
		if isTable(f.Type) {
			tables = append(tables, f)
		} else {
			keys = append(keys, f)
		}
	}
	if len(keys) > 0 {
		b.WriteString("| key | type | default | meaning |\n| --- | --- | --- | --- |\n")
		for _, f := range keys {
			def := "—"
			if v, ok := defaults[tomlKey(f)]; ok {
				def = "`" + renderDefault(v) + "`"
			}
			fmt.Fprintf(b, "| `%s` | %s | %s | %s |\n", tomlKey(f), typeName(f.Type), def, f.Tag.Get("doc"))
		}
		b.WriteString("\n")
	}
	for _, f := range tables {
		key := join(path, tomlKey(f))
		sub, _ := defaults[tomlKey(f)].(map[string]any)
		if f.Type.Kind() == reflect.Map {
			fmt.Fprintf(b, "### `[%s.NAME]`\n\n%s", key, f.Tag.Get("doc"))
			if def, ok := sub[DefaultProfile].(map[string]any); ok && isProfileKind(key) {
				fmt.Fprintf(b, " A profile named `default` is built in; other profiles start from it.\n\n")
				sub = def
			} else {
				b.WriteString("\n\n")
				sub = nil
			}
			refStruct(b, key+".NAME", f.Type.Elem(), sub)
			continue
		}
		fmt.Fprintf(b, "### `[%s]`\n\n%s\n\n", key, f.Tag.Get("doc"))
		refStruct(b, key, f.Type, sub)
	}
}

func isProfileKind(key string) bool {
	for _, k := range profileKinds {
		if k == key {
			return true
		}
	}
	return false
}

// isTable reports whether a field is rendered as a TOML table of its own.
func isTable(t reflect.Type) bool {
	if t.Kind() == reflect.Map {
		return true
	}
	return t.Kind() == reflect.Struct && !reflect.PointerTo(t).Implements(textUnmarshalerType) && t != durationType
}

func typeName(t reflect.Type) string {
	if e, ok := reflect.Zero(t).Interface().(enum); ok {
		return "one of " + strings.Join(e.Values(), ", ")
	}
	switch {
	case t == durationType:
		return "duration"
	case t.String() == "netip.Addr":
		return "IP address"
	case t.String() == "netip.Prefix":
		return "IP prefix"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice:
		return "list of " + typeName(t.Elem())
	}
	return "integer"
}

func renderDefault(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("%q", x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = renderDefault(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		return fmt.Sprint(maps.Copy(x))
	}
	return fmt.Sprint(v)
}
