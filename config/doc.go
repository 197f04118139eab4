// Package config reads probox's one configuration file.
//
// The file is TOML, read with koanf and merged over embedded defaults (defaults.toml) that
// describe a working all-in-one box, so a file only says what differs. Its model is
// ProL2TP's in TOML clothes: [system], named peer, tunnel, session, PPP and Ethernet
// profiles (each kind has a built-in "default" profile that the others start from), named
// tunnels and sessions that probox brings up itself, IP pools, [pppoe], [radius], [hooks],
// [control], [log] and [kernel].
//
//	f, err := config.Load("/etc/probox/probox.toml")
//	if err != nil {
//		// err is a *config.Errors listing every problem as
//		// "file:line: key.path: what was wrong"
//	}
//	cfg := f.Config
//
// Unknown keys, wrong types, bad values and dangling references are all errors; nothing is
// silently ignored. Diff compares two configurations block by block so that a reload
// touches only what changed. Reference renders the key reference that README.md embeds.
//
// This package imports no engine: engines read the parts of Config that concern them.
package config
