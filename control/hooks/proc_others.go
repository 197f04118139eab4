//go:build !unix

package hooks

import (
	"fmt"
	"runtime"
	"time"
)

// errUnimplemented is what hook scripts get on systems without process groups.
var errUnimplemented = fmt.Errorf("hook scripts are not implemented on %s/%s", runtime.GOOS, runtime.GOARCH)

func checkScript(dir, path string) error {
	return fmt.Errorf("%w: %w", errRefused, errUnimplemented)
}

func runScript(path, dir string, env []string, timeout time.Duration, running func(float64)) outcome {
	return outcome{result: resultFailed, status: errUnimplemented.Error()}
}
