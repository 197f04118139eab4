package config

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"reflect"

	"github.com/knadh/koanf/maps"
	ktoml "github.com/knadh/koanf/parsers/toml/v2"
	"github.com/knadh/koanf/providers/rawbytes"
	"github.com/knadh/koanf/v2"
	"github.com/pelletier/go-toml/v2"
)

// DefaultPath is where the daemons look for their configuration file.
const DefaultPath = "/etc/probox/probox.toml"

//go:embed defaults.toml
var defaultsTOML []byte

// DefaultsTOML returns the embedded defaults, the configuration of a working all-in-one box.
func DefaultsTOML() []byte { return append([]byte(nil), defaultsTOML...) }

// profileKinds are the tables of named profiles whose entries inherit from their "default"
// entry.
var profileKinds = []string{"peer_profile", "tunnel_profile", "session_profile", "ppp_profile", "ethernet_profile"}

// File is a loaded, validated configuration.
type File struct {
	// Path is the file the configuration came from; empty when only the embedded defaults
	// are in use.
	Path string
	// Config is the effective configuration: the file merged over the embedded defaults.
	Config *Config

	tree map[string]any // the merged TOML tree that Config was decoded from
}

// Embedded reports whether the configuration is the embedded defaults alone.
func (f *File) Embedded() bool { return f.Path == "" }

// TOML renders the effective configuration (defaults merged) as a TOML document.
func (f *File) TOML() ([]byte, error) {
	return ktoml.Parser().Marshal(maps.Copy(f.tree))
}

// Default returns the embedded defaults as a File.
func Default() *File {
	f, err := parse("", nil)
	if err != nil {
		panic("config: embedded defaults do not validate: " + err.Error())
	}
	return f
}

// Load reads, checks and validates the configuration file at path. On any problem it
// returns a *Errors listing all of them (each with file, line and key where known), or the
// error of reading the file.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parse(path, data)
}

// LoadOrDefault is Load, except that when path is DefaultPath and that file does not exist,
// it returns the embedded defaults (File.Embedded reports it). A missing file named
// explicitly is an error.
func LoadOrDefault(path string) (*File, error) {
	f, err := Load(path)
	if errors.Is(err, os.ErrNotExist) && path == DefaultPath {
		return Default(), nil
	}
	return f, err
}

// Parse checks and validates a configuration document; name is used in error messages.
func Parse(name string, data []byte) (*File, error) {
	if name == "" {
		name = "config"
	}
	return parse(name, data)
}

func parse(name string, data []byte) (*File, error) {
	lines := locateKeys(data)
	errs := &Errors{file: name, locate: lines.line}
	if name == "" {
		errs.file = "(embedded defaults)"
	}

	user := koanf.New(".")
	if err := user.Load(rawbytes.Provider(data), ktoml.Parser()); err != nil {
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, col := de.Position()
			errs.list = append(errs.list, &Error{File: errs.file, Line: row, Msg: fmt.Sprintf("syntax error at column %d: %s", col, de.Error())})
		} else {
			errs.list = append(errs.list, &Error{File: errs.file, Msg: "syntax error: " + err.Error()})
		}
		return nil, errs
	}

	// Check the file's own keys and types first, so that each mistake is reported once,
	// at its own line, and not again for every profile that inherits it.
	(&decoder{errs: errs}).decode("", user.Raw(), reflect.ValueOf(&Config{}).Elem())
	if errs.Len() > 0 {
		return nil, errs
	}

	merged := koanf.New(".")
	if err := merged.Load(rawbytes.Provider(defaultsTOML), ktoml.Parser()); err != nil {
		panic("config: embedded defaults do not parse: " + err.Error())
	}
	if err := merged.Merge(user); err != nil {
		return nil, err
	}
	tree := merged.Raw()
	inheritProfiles(tree)

	cfg := &Config{}
	(&decoder{errs: errs}).decode("", tree, reflect.ValueOf(cfg).Elem())
	if errs.Len() == 0 {
		cfg.validate(errs)
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return &File{Path: name, Config: cfg, tree: tree}, nil
}

// inheritProfiles makes every named profile start from the "default" profile of its kind:
// the named profile's keys are merged over a copy of the default's.
func inheritProfiles(tree map[string]any) {
	for _, kind := range profileKinds {
		tbl, ok := tree[kind].(map[string]any)
		if !ok {
			continue
		}
		def, ok := tbl[DefaultProfile].(map[string]any)
		if !ok {
			continue
		}
		for name, p := range tbl {
			pm, ok := p.(map[string]any)
			if name == DefaultProfile || !ok {
				continue
			}
			np := maps.Copy(def)
			maps.Merge(pm, np)
			tbl[name] = np
		}
	}
}
