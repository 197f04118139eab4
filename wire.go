package main

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/probox/probox/config"
	"github.com/probox/probox/control"
	"github.com/probox/probox/control/daemon"
	"github.com/probox/probox/kernel"
	"github.com/probox/probox/kernel/userspace"
	"github.com/probox/probox/ppp"
)

// The engines satisfy the daemon's life-cycle interfaces.
var (
	_ daemon.Engine     = (*ppp.Engine)(nil)
	_ daemon.Reloader   = (*ppp.Engine)(nil)
	_ daemon.Summarizer = (*ppp.Engine)(nil)
)

// openDataplane opens the data plane that kernel.Choose picked.
func openDataplane(name string, cfg *config.Config, log *zap.Logger, reg *prometheus.Registry) (kernel.Dataplane, error) {
	switch name {
	case kernel.NameUserspace:
		return userspace.New(userspace.Config{Log: log, SharedUnit: cfg.Kernel.SharedUnit, InterfaceGroup: uint32(cfg.Kernel.InterfaceGroup)})
	}
	return nil, fmt.Errorf("the %s data plane is not built into this binary", name)
}

// wire builds the engines for a daemon run, in start order: PPP first (the others hand it
// sessions), then L2TP, then PPPoE; they stop in reverse order.
func wire(d daemon.Deps) ([]daemon.Engine, error) {
	if d.Dataplane == nil {
		return nil, fmt.Errorf("no data plane is open")
	}
	pe, err := ppp.New(ppp.Config{Cfg: d.File.Config}, ppp.Deps{Dataplane: d.Dataplane, Log: d.Log, Registry: d.Registry, Bus: d.Bus})
	if err != nil {
		return nil, err
	}
	control.RegisterPPP(d.API, pe)
	return []daemon.Engine{pe}, nil
}
