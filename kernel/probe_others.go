//go:build !linux

package kernel

import (
	"fmt"
	"runtime"
)

// Probe reports that nothing is available: probox's data planes are Linux-only.
func Probe() Capabilities {
	err := fmt.Errorf("not supported on %s/%s", runtime.GOOS, runtime.GOARCH)
	return Capabilities{err, err, err, err, err, err, err}
}
