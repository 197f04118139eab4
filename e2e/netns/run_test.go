package netns

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRunIDOf(t *testing.T) {
	for _, tt := range []struct {
		name   string
		in     string
		wantID string
		wantOK bool
	}{
		{name: "bed namespace", in: "pbxk3f91-ns1", wantID: "k3f9", wantOK: true},
		{name: "probe", in: "pbx00000-probe", wantID: "0000", wantOK: true},
		{name: "many beds", in: "pbxab12345-x-y", wantID: "ab12", wantOK: true},
		{name: "other prefix", in: "foo1234-ns1"},
		{name: "upper case run ID", in: "pbxK3F91-ns1"},
		{name: "no bed number", in: "pbxk3f9-ns1"},
		{name: "no dash", in: "pbxk3f91"},
		{name: "bad bed number", in: "pbxk3f9x-ns1"},
		{name: "short", in: "pbx"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			id, ok := runIDOf(tt.in)
			if diff := cmp.Diff([]any{tt.wantID, tt.wantOK}, []any{id, ok}); diff != "" {
				t.Errorf("runIDOf(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestProcStart(t *testing.T) {
	a, zombie, err := procStart(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := procStart(os.Getpid())
	if err != nil || a != b || a == 0 || zombie {
		t.Errorf("procStart = %d, %d, zombie %v, %v; want the same non-zero value twice, no zombie", a, b, zombie, err)
	}
	if _, _, err := procStart(4194305); err == nil {
		t.Error("procStart of an impossible pid succeeded")
	}
}

func TestProcStartZombie(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	// A child that has exited and is not yet waited for is a zombie.
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	defer cmd.Wait()
	WaitFor(t, 5*time.Second, func() bool {
		_, zombie, _ := procStart(cmd.Process.Pid)
		return zombie
	}, "the exited child to be reported as a zombie")
}

// FuzzRunIDOf checks that runIDOf never panics and that an accepted name
// starts with Prefix and the run ID it returns.
func FuzzRunIDOf(f *testing.F) {
	for _, s := range []string{"pbxk3f91-ns1", "pbx00000-probe", "pbx", "pbxk3f9-", "foo"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		id, ok := runIDOf(name)
		if ok && (len(id) != runIDLen || name[:len(Prefix)+runIDLen] != Prefix+id) {
			t.Errorf("runIDOf(%q) = %q, not the name's run ID", name, id)
		}
	})
}
