//go:build !linux

package netns

import (
	"fmt"
	"os/exec"
	"runtime"
)

// errUnimplemented is returned on platforms without network namespaces;
// Require skips there, so tests never reach the other stubs.
var errUnimplemented = fmt.Errorf("netns: network namespaces are not available on %s/%s", runtime.GOOS, runtime.GOARCH)

// Do is only available on Linux; elsewhere it returns an error.
func (ns *NS) Do(fn func() error) error { return errUnimplemented }

func interfacesAt(path string) ([]string, error) { return nil, errUnimplemented }

func setProcAttr(cmd *exec.Cmd) {}

func checkPlatform() error { return errUnimplemented }
