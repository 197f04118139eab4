#!/bin/bash
# kernel-tests.sh - runs test binaries that need the real Linux L2TP/PPP/PPPoE data plane.
# It runs INSIDE the kernel VM, where KERNEL_VM=1 (`make test-kernel` builds the binaries
# on the host and boots the VM once for all of them):
#
#     ../shared/vm/kernel-vm -- ./scripts/kernel-tests.sh PKGDIR=BINARY...
#
# Each BINARY (a `go test -c` binary of package directory PKGDIR, relative to the current
# directory) runs in PKGDIR, so that testdata/ works, with -test.v. KERNEL_TEST_ARGS adds
# arguments (e.g. KERNEL_TEST_ARGS='-test.run TestKernelPPPoE'). The last line is a
# summary; the exit status is 0 only if every binary passed.
set -u

if [ "${KERNEL_VM:-}" != 1 ]; then
  echo "kernel-tests.sh: refusing to run outside a kernel-vm guest (the tests create" >&2
  echo "namespaces and kernel objects). Use: make test-kernel" >&2
  exit 2
fi
if [ $# -eq 0 ]; then
  echo "usage: kernel-tests.sh PKGDIR=BINARY..." >&2
  exit 2
fi

root=$(pwd)
uptime() { cut -d' ' -f1 /proc/uptime; }
passed=() failed=()

# digest prints, for each failed test of a go test -v log, the last file:line messages it
# logged (its errors among them; netns state dumps left out), so that the reason of a
# failure is still in the tail of a long log, which is all some CI reports keep.
digest() {
  awk '
    /^=== RUN / { n[$3] = 0 }
    /^=== (RUN|CONT|PAUSE|NAME) / { cur = $3; next }
    /^ *--- FAIL: / {
      t = $3; out = out "--- digest of " t " (its last messages):\n"
      for (k = (n[t] > 25 ? n[t] - 24 : 1); k <= n[t]; k++) out = out msg[t, k] "\n"
      next
    }
    /^ +[A-Za-z0-9_]+\.go:[0-9]+: / && !/^ +netns\.go:/ && cur != "" {
      k = ++n[cur]; msg[cur, k] = substr($0, 1, 400)
    }
    END { printf "%s", out }' "$1"
}
t0=$(uptime)
for arg in "$@"; do
  dir=${arg%%=*} bin=${arg#*=}
  echo "=== $dir"
  start=$(uptime)
  log=$(mktemp)
  # shellcheck disable=SC2086 # KERNEL_TEST_ARGS is a list of arguments
  (cd "$root/$dir" && "$root/$bin" -test.v -test.count=1 -test.timeout=1500s ${KERNEL_TEST_ARGS:-}) 2>&1 | tee "$log"
  if [ "${PIPESTATUS[0]}" -eq 0 ]; then
    passed+=("$dir")
    res=ok
  else
    failed+=("$dir")
    res=FAIL
    digest "$log"
  fi
  rm -f "$log"
  echo "--- $res $dir ($(awk -v a="$start" -v b="$(uptime)" 'BEGIN { printf "%.1f", b-a }')s)"
done
echo "kernel tests: ${#passed[@]} packages passed, ${#failed[@]} failed${failed[*]:+ (${failed[*]})} in $(awk -v a="$t0" -v b="$(uptime)" 'BEGIN { printf "%.1f", b-a }')s"
[ ${#failed[@]} -eq 0 ]
