//go:build !linux

package userspace

import (
	"fmt"
	"runtime"
)

var errUnimplemented = fmt.Errorf("userspace data plane: not implemented on %s/%s", runtime.GOOS, runtime.GOARCH)

func newOSSystem(cfg Config) (system, error) { return nil, errUnimplemented }
