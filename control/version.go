package control

import (
	"runtime"
	"runtime/debug"
)

// version and revision are set at build time:
//
//	go build -ldflags "-X github.com/probox/probox/control.version=v1.2.3 -X github.com/probox/probox/control.revision=abc123"
//
// The Makefile does this from `git describe`.
var (
	version  = "dev"
	revision = ""
)

// BuildInfo describes the running binary.
type BuildInfo struct {
	Version   string `json:"version"`
	Revision  string `json:"revision,omitempty"`
	GoVersion string `json:"go_version"`
}

// Build returns the version of the running binary.
func Build() BuildInfo {
	b := BuildInfo{Version: version, Revision: revision, GoVersion: runtime.Version()}
	if b.Revision == "" {
		if info, ok := debug.ReadBuildInfo(); ok {
			for _, s := range info.Settings {
				if s.Key == "vcs.revision" {
					b.Revision = s.Value
				}
			}
		}
	}
	return b
}

// String formats the build for `-v`.
func (b BuildInfo) String() string {
	s := "probox " + b.Version
	if b.Revision != "" {
		r := b.Revision
		if len(r) > 12 {
			r = r[:12]
		}
		s += " (" + r + ")"
	}
	return s + " " + b.GoVersion
}
