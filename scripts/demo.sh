#!/usr/bin/env bash
# make demo: shows probox at work on this machine. Today it runs the daemon with its
# control surface (the engines arrive with their issues; the full PPPoE -> LAC -> LNS demo
# replaces this script then).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$PWD/bin
W=$(mktemp -d /tmp/probox-demo.XXXXXX)
PID=
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT INT TERM

./bin/probox install-links "$W/bin" >/dev/null
cat > "$W/probox.toml" <<CONF
[system]
runtime_dir = "$W/run"
[control]
socket = "$W/run/control.sock"
http_listen = "127.0.0.1:19107"
CONF

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "probox config check"
"$BIN/probox" config check "$W/probox.toml"

say "starting prol2tpd -f (log: $W/daemon.log)"
"$W/bin/prol2tpd" -f -c "$W/probox.toml" >"$W/daemon.log" 2>&1 &
PID=$!
for _ in $(seq 50); do [ -S "$W/run/control.sock" ] && break; sleep 0.1; done

say "prol2tp show system"
"$W/bin/prol2tp" -c "$W/probox.toml" show system

say "curl /metrics (probox lines)"
curl -s http://127.0.0.1:19107/metrics | grep '^probox_'

say "a broken configuration is rejected whole on reload"
echo 'max_tunels = 3' >> "$W/probox.toml"
"$W/bin/prol2tp" -c "$W/probox.toml" reload || true

say "SIGTERM"
kill "$PID"; wait "$PID"; PID=
tail -n 3 "$W/daemon.log"
