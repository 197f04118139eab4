package config

import (
	"encoding"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// decoder assigns a raw TOML tree (nested map[string]any as the TOML parser produces it) to
// a typed value, checking every key and type on the way. It never stops at the first error:
// every problem is added to errs with the key path it concerns.
type decoder struct {
	errs *Errors
}

var (
	durationType        = reflect.TypeFor[time.Duration]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()

	// profileName is what names of profiles, tunnels, pools and the like may look like: they
	// are used on command lines and in metrics-free status output, so keep them plain.
	profileName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$`)
	// ifaceName is what a Linux interface name may look like (IFNAMSIZ-1 bytes, no '/', no
	// white space).
	ifaceName = regexp.MustCompile(`^[^/\s:]{1,15}$`)
)

func (d *decoder) decode(path string, raw any, v reflect.Value) {
	t := v.Type()
	switch {
	case t == durationType:
		s, ok := raw.(string)
		if !ok {
			d.typeErr(path, `a duration string such as "30s" or "1m30s"`, raw)
			return
		}
		dur, err := time.ParseDuration(s)
		if err != nil || dur < 0 {
			d.errs.add(path, fmt.Sprintf(`expected a duration such as "30s" or "1m30s", got %q`, s))
			return
		}
		v.SetInt(int64(dur))
		return
	case reflect.PointerTo(t).Implements(textUnmarshalerType):
		s, ok := raw.(string)
		if !ok {
			d.typeErr(path, "a string", raw)
			return
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			d.errs.add(path, cleanTextErr(err, s))
		}
		return
	}

	switch t.Kind() {
	case reflect.Struct:
		m, ok := raw.(map[string]any)
		if !ok {
			d.typeErr(path, "a table", raw)
			return
		}
		d.decodeStruct(path, m, v)
	case reflect.Map:
		m, ok := raw.(map[string]any)
		if !ok {
			d.typeErr(path, "a table of named entries", raw)
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(t))
		}
		for _, name := range sortedKeys(m) {
			p := join(path, name)
			if !validName(path, name) {
				d.errs.add(p, fmt.Sprintf("invalid name %q: %s", name, nameRule(path)))
				continue
			}
			elem := reflect.New(t.Elem()).Elem()
			if old := v.MapIndex(reflect.ValueOf(name)); old.IsValid() {
				elem.Set(old)
			}
			d.decode(p, m[name], elem)
			v.SetMapIndex(reflect.ValueOf(name), elem)
		}
	case reflect.Slice:
		list, ok := raw.([]any)
		if !ok {
			d.typeErr(path, "an array", raw)
			return
		}
		s := reflect.MakeSlice(t, len(list), len(list))
		for i, item := range list {
			d.decode(fmt.Sprintf("%s[%d]", path, i), item, s.Index(i))
		}
		v.Set(s)
	case reflect.String:
		s, ok := raw.(string)
		if !ok {
			d.typeErr(path, "a string", raw)
			return
		}
		v.SetString(s)
	case reflect.Bool:
		b, ok := raw.(bool)
		if !ok {
			d.typeErr(path, "true or false", raw)
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := raw.(int64)
		if !ok {
			d.typeErr(path, "an integer", raw)
			return
		}
		if v.OverflowInt(n) {
			d.errs.add(path, fmt.Sprintf("%d is out of range for this key", n))
			return
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := raw.(int64)
		if !ok {
			d.typeErr(path, "a non-negative integer", raw)
			return
		}
		if n < 0 || v.OverflowUint(uint64(n)) {
			d.errs.add(path, fmt.Sprintf("%d is out of range (0..%d)", n, maxUint(t)))
			return
		}
		v.SetUint(uint64(n))
	default:
		// Only reachable if a field of an unsupported kind is added to Config; the
		// schema test walks every field, so this shows up in tests, not in production.
		d.errs.add(path, fmt.Sprintf("internal error: unsupported field kind %s", t.Kind()))
	}
}

func (d *decoder) decodeStruct(path string, m map[string]any, v reflect.Value) {
	t := v.Type()
	for _, key := range sortedKeys(m) {
		i := fieldByKey(t, key)
		if i < 0 {
			msg := "unknown key"
			if s := suggest(key, keysOf(t)); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			d.errs.add(join(path, key), msg)
			continue
		}
		d.decode(join(path, key), m[key], v.Field(i))
	}
}

func (d *decoder) typeErr(path, want string, got any) {
	d.errs.add(path, fmt.Sprintf("expected %s, got %s", want, describe(got)))
}

// describe names the TOML type of a raw value for an error message.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("string %q", x)
	case int64:
		return fmt.Sprintf("integer %d", x)
	case float64:
		return "float " + strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return fmt.Sprintf("boolean %t", x)
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	case nil:
		return "nothing"
	}
	return fmt.Sprintf("%T", v) // dates and times
}

// cleanTextErr turns the error of a standard library UnmarshalText into a message without
// the package prefix, naming the value once.
func cleanTextErr(err error, s string) string {
	msg := err.Error()
	if strings.HasPrefix(msg, "must be") {
		return msg
	}
	// netip's errors repeat the input: `ParseAddr("zz"): unable to parse IP`.
	if i := strings.LastIndex(msg, "): "); i >= 0 && strings.HasPrefix(msg, "Parse") {
		msg = msg[i+3:]
	}
	return fmt.Sprintf("invalid value %q: %s", s, msg)
}

func maxUint(t reflect.Type) uint64 {
	return math.MaxUint64 >> (64 - t.Bits())
}

// fieldByKey returns the index of the field of struct type t whose toml tag is key, or -1.
func fieldByKey(t reflect.Type, key string) int {
	for i := range t.NumField() {
		if tomlKey(t.Field(i)) == key {
			return i
		}
	}
	return -1
}

func tomlKey(f reflect.StructField) string {
	k, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
	return k
}

func keysOf(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		keys = append(keys, tomlKey(t.Field(i)))
	}
	return keys
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// validName checks the name of a named entry in the table at path.
func validName(path, name string) bool {
	if strings.HasSuffix(path, "pppoe.interface") {
		return ifaceName.MatchString(name)
	}
	return profileName.MatchString(name)
}

func nameRule(path string) string {
	if strings.HasSuffix(path, "pppoe.interface") {
		return "an interface name has 1 to 15 characters and no '/', ':' or white space"
	}
	return "names start with a letter or digit and contain only letters, digits, '_' and '-' (at most 63)"
}

// suggest returns the candidate closest to key when it is close enough to be a typo.
func suggest(key string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := editDistance(key, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
