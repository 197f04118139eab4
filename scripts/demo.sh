#!/usr/bin/env bash
# make demo: the main job of a BRAS, on this machine, in three network namespaces:
#
#   [subscriber] --PPPoE--> [bras: access concentrator + LAC] --L2TPv2--> [lns]
#    probox PPPoE client     probox proacd                        probox prol2tpd
#
# The subscriber's PPP session is carried through the L2TP tunnel and terminated on the
# LNS, which authenticates alice@isp.example (CHAP) and gives her an address from its pool.
# Everything runs on probox's userspace data plane when the kernel lacks L2TP/PPP (as
# here), or on the kernel's when it has them. Needs root and iproute2; installs ping
# (iputils-ping) with apt-get if it is missing. Everything is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${PROBOX_BIN:-$PWD/bin/probox}
[ -x "$BIN" ] || { echo "demo: build first (make demo does)"; exit 1; }
if [ "$(id -u)" != 0 ]; then echo "demo: needs root (network namespaces)"; exit 1; fi
command -v ip >/dev/null || { echo "demo: needs iproute2 (apt-get install iproute2)"; exit 1; }
if ! command -v ping >/dev/null; then
  echo "demo: installing iputils-ping ..."
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q iputils-ping >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -q iputils-ping >/dev/null; }
fi

P=pboxdemo$$         # namespace prefix, unique per run (not "pbx": the e2e test bed owns those)
W=$(mktemp -d /tmp/probox-demo.XXXXXX)
PIDS=()
cleanup() {
  for p in ${PIDS[@]+"${PIDS[@]}"}; do kill "$p" 2>/dev/null || true; done
  for p in ${PIDS[@]+"${PIDS[@]}"}; do wait "$p" 2>/dev/null || true; done
  for ns in sub bras lns; do ip netns del "$P-$ns" 2>/dev/null || true; done
  rm -rf "$W"
}
trap cleanup EXIT INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
nsx() { local ns=$1; shift; ip netns exec "$P-$ns" "$@"; }

say "three namespaces: subscriber -- bras -- lns"
for ns in sub bras lns; do ip netns add "$P-$ns"; ip -n "$P-$ns" link set lo up; done
ip -n "$P-sub" link add eth0 type veth peer name eth0 netns "$P-bras"
ip -n "$P-bras" link add eth1 type veth peer name eth0 netns "$P-lns"
ip -n "$P-sub" link set eth0 up
ip -n "$P-bras" link set eth0 up
ip -n "$P-bras" addr add 192.0.2.1/24 dev eth1 && ip -n "$P-bras" link set eth1 up
ip -n "$P-lns" addr add 192.0.2.2/24 dev eth0 && ip -n "$P-lns" link set eth0 up
echo "subscriber eth0 <-> eth0 bras eth1 (192.0.2.1) <-> eth0 lns (192.0.2.2)"

common() { # NAME: the part of each daemon's configuration that keeps it in $W
  cat <<EOF
[system]
runtime_dir = "$W/$1"
secrets_file = "$W/$1/secrets"
$2
[control]
socket = "$W/$1/control.sock"
http_listen = "127.0.0.1:9107"
[hooks]
dir = "$W/$1/hooks"
EOF
}

mkdir -p "$W"/{sub,bras,lns}/hooks
common lns 'l2tp_listen = ["192.0.2.2:1701"]' > "$W/lns/probox.toml"
cat >> "$W/lns/probox.toml" <<'EOF'
[tunnel_profile.default]
secret = "demo-tunnel-secret"
[ppp_profile.default]
auth = ["chap-md5"]
local_address = "100.64.0.1"
dns = ["192.0.2.53"]
[ippool.default]
ranges = ["100.64.0.10-100.64.0.250"]
EOF
echo 'alice@isp.example  alice-secret' > "$W/lns/secrets"; chmod 600 "$W/lns/secrets"

common bras 'l2tp_listen = []' > "$W/bras/probox.toml"
cat >> "$W/bras/probox.toml" <<'EOF'
[pppoe]
ac_name = "bras1"
[pppoe.interface.eth0]
[pppoe.service.internet]
route = "realm"
ppp_profile = "lac"
[pppoe.route.isp]
realm = "isp.example"
tunnel = "lns"
[ppp_profile.lac]
auth = ["chap-md5"]
[tunnel_profile.default]
secret = "demo-tunnel-secret"
[tunnel.lns]
peer = "192.0.2.2"
EOF

common sub 'l2tp_listen = []' > "$W/sub/probox.toml"
cat >> "$W/sub/probox.toml" <<'EOF'
[pppoe.client.home]
interface = "eth0"
service = "internet"
ppp_profile = "home"
[ppp_profile.home]
username = "alice@isp.example"
password = "alice-secret"
auth = []
unit = "dedicated"
interface_name = "ppp0"
EOF

for n in lns bras sub; do "$BIN" config check "$W/$n/probox.toml" >/dev/null; done

start() { # NS MODE: run the daemon in the foreground, logging to a file
  ip netns exec "$P-$1" "$BIN" "$2" -f -d -c "$W/$1/probox.toml" >"$W/$1.log" 2>&1 &
  PIDS+=($!)
}
say "starting probox: prol2tpd (lns), proacd (bras: AC + LAC), propppd (subscriber: PPPoE client)"
start lns prol2tpd; start bras proacd; start sub propppd
for n in lns bras sub; do
  for _ in $(seq 100); do [ -S "$W/$n/control.sock" ] && break; sleep 0.1; done
done
"$BIN" prol2tp -s "$W/lns/control.sock" show system | sed -n '1p;/data plane/p'

say "waiting for the subscriber's ppp0 (PPPoE discovery, LCP + CHAP at the LAC, L2TP tunnel, proxy AVPs, IPCP at the LNS)"
addr=
for _ in $(seq 150); do
  addr=$(nsx sub ip -4 -o addr show dev ppp0 2>/dev/null | awk '{print $4}') && [ -n "$addr" ] && break
  sleep 0.2
done
if [ -z "$addr" ]; then
  echo "demo: the session did not come up; the daemons' logs:"
  for n in sub bras lns; do echo "--- $n"; tail -n 20 "$W/$n.log"; done
  exit 1
fi
nsx sub ip -4 addr show dev ppp0 | sed 's/^/  /'

say "ping the LNS (100.64.0.1) from the subscriber, across PPPoE -> L2TP"
nsx sub ping -c 3 -i 0.2 -W 2 100.64.0.1

say "prol2tp show tunnels (bras, the LAC)"
"$BIN" prol2tp -s "$W/bras/control.sock" show tunnels
say "prol2tp show sessions (lns)"
"$BIN" prol2tp -s "$W/lns/control.sock" show sessions
say "proac_info sessions (bras)"
"$BIN" proac_info -s "$W/bras/control.sock" sessions
say "propppctl list (lns)"
"$BIN" propppctl -s "$W/lns/control.sock" list

say "a few /metrics lines (lns and bras)"
metrics() { # NS: GET /metrics over bash's /dev/tcp inside the namespace
  nsx "$1" bash -c 'exec 3<>/dev/tcp/127.0.0.1/9107; printf "GET /metrics HTTP/1.0\r\n\r\n" >&3; cat <&3'
}
metrics lns | grep -E '^probox_(l2tp_tunnels|l2tp_sessions|ppp_sessions|dataplane_info)' | grep -v ' 0$'
metrics bras | grep -E '^probox_(pppoe_sessions|l2tp_tunnels)' | grep -v ' 0$'

say "tear down: SIGTERM to every daemon (PADT, CDN, StopCCN), then the namespaces"
for p in "${PIDS[@]}"; do kill "$p"; done
rc=0
for p in "${PIDS[@]}"; do wait "$p" || rc=$?; done
PIDS=()
for n in sub bras lns; do printf '  %-5s %s\n' "$n" "$(grep -h -o 'probox stopped.*' "$W/$n.log" || echo 'did not stop cleanly')"; done
[ "$rc" = 0 ] || { echo "demo: a daemon exited with status $rc"; exit 1; }
echo "done."
