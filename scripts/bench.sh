#!/usr/bin/env bash
# Benchmarks `modferry serve --offline` against nginx serving the very same store directory,
# on loopback only, with bounded wrk runs. Not part of CI; no test calls it.
#
#   scripts/bench.sh            # installs nginx + wrk (apt) if missing, builds --release, runs
#
# What it measures (see docs/benchmarks.md):
#   1. req/s on a module's .info and .mod, and req/s + bytes/s on its 10 MiB .zip, with wrk
#      (64 connections, 2 threads, BENCH_DURATION seconds after a BENCH_WARMUP-second warm-up),
#      against modferry and nginx, each with access logging on and off:
#        modferry --log info (the default: one access line per request) vs nginx access_log on
#        modferry --log warn (no access lines)                           vs nginx access_log off
#   2. peak RSS (VmHWM) of a fresh modferry process while 200 concurrent clients download a
#      100 MiB zip (wrk -c200 for BENCH_RSS_DURATION seconds), with nginx's figure for reference.
#
# Knobs (environment): BENCH_DURATION (10), BENCH_WARMUP (2), BENCH_CONNS (64), BENCH_THREADS (2),
# BENCH_REPEAT (2: measured runs per row, the best is kept), BENCH_RSS_CLIENTS (200),
# BENCH_RSS_DURATION (15), BENCH_MAX_WAIT (300: seconds to wait for a busy machine to calm down
# before measuring), BENCH_SKIP_BUILD=1 (use the existing binary), BENCH_RESULTS=FILE (also
# write the summary there).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/tools.sh
. scripts/lib/tools.sh
# shellcheck source=scripts/lib/bench.sh
. scripts/lib/bench.sh

DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
CONNS=${BENCH_CONNS:-64}
THREADS=${BENCH_THREADS:-2}
RSS_CLIENTS=${BENCH_RSS_CLIENTS:-200}
RSS_DURATION=${BENCH_RSS_DURATION:-15}
MAX_WAIT=${BENCH_MAX_WAIT:-300}
REPEAT=${BENCH_REPEAT:-2}
LUA="$MODFERRY_ROOT/scripts/bench/report.lua"
CLK_TCK=$(getconf CLK_TCK)
NPROC=$(nproc)

# ---------------------------------------------------------------------------------------------
# Tools.

ensure_bench_tools() {
  local missing=()
  command -v wrk >/dev/null 2>&1 || missing+=(wrk)
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo)
  log "installing ${missing[*]} (apt)"
  "${sudo[@]}" apt-get update -qq
  local pkgs=(wrk curl)
  # nginx-light is the small build on older Debian releases; plain nginx elsewhere.
  if apt-cache show nginx-light >/dev/null 2>&1; then pkgs+=(nginx-light); else pkgs+=(nginx); fi
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${pkgs[@]}" >/dev/null
}
ensure_bench_tools

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
  log "cargo build --release -p modferry"
  cargo build --release -p modferry
fi
MODFERRY="${CARGO_TARGET_DIR:-$MODFERRY_ROOT/target}/release/modferry"
[ -x "$MODFERRY" ] || { log "no binary at $MODFERRY"; exit 1; }

# ---------------------------------------------------------------------------------------------
# Clean-up: every process this script starts is recorded here and ended by its pid.

WORK=$(mktemp -d "${TMPDIR:-/tmp}/modferry-bench.XXXXXX")
chmod 755 "$WORK"
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

wait_http() { # URL: wait up to 10 s for a 200
  local _
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  log "server at $1 did not come up"
  return 1
}


# ---------------------------------------------------------------------------------------------
# The store: a warm $GOMODCACHE/cache/download-style tree, written just now (so in page cache).

STORE="$WORK/store"
make_module() { # MODULE ZIP_MIB
  # A real module zip (stored entries of random bytes) with its .ziphash, as modferry stores
  # it: the server serves a zip only once its .ziphash says it was verified.
  python3 - "$STORE" "$1" "$2" <<'PY'
import base64, hashlib, os, sys, zipfile
root, mod, mib = sys.argv[1], sys.argv[2], int(sys.argv[3])
d = os.path.join(root, mod, "@v"); os.makedirs(d, exist_ok=True)
gomod = f"module {mod}\n\ngo 1.21\n"
open(os.path.join(d, "v1.0.0.mod"), "w").write(gomod)
open(os.path.join(d, "v1.0.0.info"), "w").write('{"Version":"v1.0.0","Time":"2024-01-02T03:04:05Z"}\n')
open(os.path.join(d, "list"), "w").write("v1.0.0\n")
files = {f"{mod}@v1.0.0/go.mod": gomod.encode(), f"{mod}@v1.0.0/data.bin": os.urandom(mib << 20)}
with zipfile.ZipFile(os.path.join(d, "v1.0.0.zip"), "w", zipfile.ZIP_STORED) as z:
    for name, data in files.items():
        z.writestr(name, data)
summary = "".join(f"{hashlib.sha256(files[n]).hexdigest()}  {n}\n" for n in sorted(files))
h1 = "h1:" + base64.b64encode(hashlib.sha256(summary.encode()).digest()).decode()
open(os.path.join(d, "v1.0.0.ziphash"), "w").write(h1)
PY
}
log "generating the store in $STORE"
make_module example.com/bench 10
make_module example.com/big 100
chmod -R a+rX "$WORK"

INFO=/example.com/bench/@v/v1.0.0.info
MOD=/example.com/bench/@v/v1.0.0.mod
ZIP=/example.com/bench/@v/v1.0.0.zip
BIGZIP=/example.com/big/@v/v1.0.0.zip

# ---------------------------------------------------------------------------------------------
# Servers.

declare -A PORT PID
start_modferry() { # NAME LOGLEVEL -> sets PORT[NAME], PID[NAME]
  local name=$1 level=$2 port
  port=$(free_port)
  "$MODFERRY" serve --listen "127.0.0.1:$port" --store "$STORE" --offline --log "$level" \
    >"$WORK/$name.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  PORT[$name]=$port
  PID[$name]=$pid
  wait_http "http://127.0.0.1:$port/healthz"
}

# One nginx (2 workers) with two servers on the same root: access_log off, and on (the default
# combined format to a file, unbuffered, like modferry's per-request line).
start_nginx() { # -> NGINX_PID, NGINX_FAMILY, PORT[nginx_nolog], PORT[nginx_log]
  local prefix="$WORK/nginx"
  PORT[nginx_nolog]=$(free_port)
  PORT[nginx_log]=$(free_port)
  run_nginx "$prefix" "
  types { application/json info; text/plain mod; application/zip zip; }
  default_type text/plain;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:${PORT[nginx_nolog]};
    root $STORE;
    access_log off;
  }
  server {
    listen 127.0.0.1:${PORT[nginx_log]};
    root $STORE;
    access_log $prefix/access.log combined;
  }"
  wait_http "http://127.0.0.1:${PORT[nginx_nolog]}$INFO"
  wait_http "http://127.0.0.1:${PORT[nginx_log]}$INFO"
  mapfile -t NGINX_FAMILY < <(family "$NGINX_PID")
}

stop_pid() {
  local p keep=()
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  for p in "${PIDS[@]}"; do
    [ "$p" = "$1" ] || keep+=("$p")
  done
  PIDS=("${keep[@]}")
}

# The pid and its direct children (nginx's workers).
family() {
  echo "$1"
  ps -o pid= --ppid "$1" | tr -d ' '
}

# utime+stime clock ticks of a set of pids.
cpu_ticks() {
  local total=0 p t
  for p in "$@"; do
    t=$(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null || echo 0)
    total=$((total + t))
  done
  echo "$total"
}

# Sum of a /proc/<pid>/status field (kB) over a set of pids.
status_kb() { # FIELD PID...
  local field=$1 total=0 p v
  shift
  for p in "$@"; do
    v=$(awk -v f="$field:" '$1 == f { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0)
    total=$((total + ${v:-0}))
  done
  echo "$total"
}

# ---------------------------------------------------------------------------------------------
# Sanity: both servers answer 200 with identical bytes, or the comparison means nothing.

check_same() { # PATH PORT...
  local path=$1 want got port
  shift
  want=$(sha256sum <"$STORE$path" | cut -d' ' -f1)
  for port in "$@"; do
    got=$(curl -fsS "http://127.0.0.1:$port$path" | sha256sum | cut -d' ' -f1)
    if [ "$got" != "$want" ]; then
      log "port $port served different bytes for $path"
      exit 1
    fi
  done
}

# ---------------------------------------------------------------------------------------------
# Load.

declare -A RPS BPS P50 P99 CPU ERR
WRK_OUT="$WORK/wrk.out"

# Runs wrk against URL (warm-up, then REPEAT measured runs) and keeps the best run by bytes/s
# in RPS/BPS/P50/P99/ERR/CPU[key]: other processes on the machine only ever make a run slower.
# CPU is the server's CPU use in cores (1.00 = one core fully busy) over the measured run.
measure() { # KEY URL CONNS DURATION TIMEOUT PID...
  local key=$1 url=$2 conns=$3 dur=$4 to=$5
  shift 5
  local pids=("$@") line c0 c1 t0 t1 run bps best=-1
  if [ "$WARMUP" -gt 0 ]; then
    timeout $((WARMUP + 60)) wrk -t"$THREADS" -c"$conns" -d"${WARMUP}s" --timeout "${to}s" \
      -s "$LUA" "$url" >/dev/null
  fi
  for run in $(seq 1 "$REPEAT"); do
    c0=$(cpu_ticks "${pids[@]}")
    t0=$(date +%s%N)
    timeout $((dur + 60)) wrk -t"$THREADS" -c"$conns" -d"${dur}s" --timeout "${to}s" \
      -s "$LUA" "$url" >"$WRK_OUT"
    t1=$(date +%s%N)
    c1=$(cpu_ticks "${pids[@]}")
    line=$(grep '^WRKRESULT ' "$WRK_OUT" || true)
    if [ -z "$line" ]; then
      log "wrk printed no result for $url:"
      cat "$WRK_OUT" >&2
      exit 1
    fi
    local -A w=()
    local kv
    for kv in ${line#WRKRESULT }; do
      w[${kv%%=*}]=${kv#*=}
    done
    bps=$(awk -v b="${w[bytes]}" -v d="${w[duration_us]}" 'BEGIN{printf "%.0f", b / (d / 1e6)}')
    log "$key run $run/$REPEAT: $(awk -v r="${w[requests]}" -v d="${w[duration_us]}" 'BEGIN{printf "%.0f", r / (d / 1e6)}') req/s, $(mib "$bps") MiB/s, load $(loadavg)"
    [ "$bps" -gt "$best" ] || continue
    best=$bps
    RPS[$key]=$(awk -v r="${w[requests]}" -v d="${w[duration_us]}" 'BEGIN{printf "%.0f", r / (d / 1e6)}')
    BPS[$key]=$bps
    P50[$key]=${w[p50_us]}
    P99[$key]=${w[p99_us]}
    ERR[$key]=$((w[connect] + w[read] + w[write] + w[status] + w[timeout]))
    CPU[$key]=$(awk -v c=$((c1 - c0)) -v hz="$CLK_TCK" -v ns=$((t1 - t0)) \
      'BEGIN{printf "%.2f", (c / hz) / (ns / 1e9)}')
  done
  log "$key best: ${RPS[$key]} req/s, $(mib "${BPS[$key]}") MiB/s, p50 $(ms "${P50[$key]}") ms, p99 $(ms "${P99[$key]}") ms, server CPU ${CPU[$key]} cores, errors ${ERR[$key]}"
}

mib() { awk -v b="$1" 'BEGIN{printf "%.0f", b / 1048576}'; }
ms() { awk -v u="$1" 'BEGIN{printf "%.2f", u / 1000}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
verdict() { # VALUE OP TARGET
  awk -v v="$1" -v t="$3" -v op="$2" 'BEGIN{
    ok = (op == ">=") ? (v >= t) : (v < t); print ok ? "MET" : "MISSED" }'
}

# ---------------------------------------------------------------------------------------------
# Run.

START_LOAD=$(loadavg)
wait_for_quiet
MEASURE_LOAD=$(loadavg)
log "load before measuring: $MEASURE_LOAD ($NPROC cores)"

start_modferry mf_log info
start_modferry mf_nolog warn
start_nginx
for p in "$INFO" "$MOD" "$ZIP" "$BIGZIP"; do
  check_same "$p" "${PORT[mf_log]}" "${PORT[mf_nolog]}" "${PORT[nginx_nolog]}" "${PORT[nginx_log]}"
done
log "all servers serve identical bytes; measuring ($DURATION s per run, $CONNS connections, $THREADS wrk threads)"

ENDPOINTS=(info mod zip)
declare -A EP_PATH=([info]=$INFO [mod]=$MOD [zip]=$ZIP)
declare -A EP_TIMEOUT=([info]=5 [mod]=5 [zip]=30)
for ep in "${ENDPOINTS[@]}"; do
  for logging in on off; do
    if [ "$logging" = on ]; then
      mfp=${PORT[mf_log]} mfpid=${PID[mf_log]} ngp=${PORT[nginx_log]}
    else
      mfp=${PORT[mf_nolog]} mfpid=${PID[mf_nolog]} ngp=${PORT[nginx_nolog]}
    fi
    measure "mf|$ep|$logging" "http://127.0.0.1:$mfp${EP_PATH[$ep]}" "$CONNS" "$DURATION" \
      "${EP_TIMEOUT[$ep]}" "$mfpid"
    measure "ng|$ep|$logging" "http://127.0.0.1:$ngp${EP_PATH[$ep]}" "$CONNS" "$DURATION" \
      "${EP_TIMEOUT[$ep]}" "${NGINX_FAMILY[@]}"
  done
done
stop_pid "${PID[mf_log]}"
stop_pid "${PID[mf_nolog]}"
stop_pid "$NGINX_PID"

# Peak RSS: fresh processes, so VmHWM covers only this test.
log "RSS test: $RSS_CLIENTS clients downloading the 100 MiB zip for $RSS_DURATION s"
SAVED_WARMUP=$WARMUP SAVED_REPEAT=$REPEAT
WARMUP=0 REPEAT=1
start_modferry mf_rss info
measure "mf|bigzip|on" "http://127.0.0.1:${PORT[mf_rss]}$BIGZIP" "$RSS_CLIENTS" "$RSS_DURATION" 60 \
  "${PID[mf_rss]}"
MF_HWM_KB=$(status_kb VmHWM "${PID[mf_rss]}")
MF_IDLE_KB=$(status_kb VmRSS "${PID[mf_rss]}")
MF_THREADS=$(awk '$1 == "Threads:" { print $2 }' "/proc/${PID[mf_rss]}/status")
stop_pid "${PID[mf_rss]}"
start_nginx
measure "ng|bigzip|on" "http://127.0.0.1:${PORT[nginx_log]}$BIGZIP" "$RSS_CLIENTS" "$RSS_DURATION" 60 \
  "${NGINX_FAMILY[@]}"
NG_HWM_KB=$(status_kb VmHWM "${NGINX_FAMILY[@]}")
stop_pid "$NGINX_PID"
WARMUP=$SAVED_WARMUP REPEAT=$SAVED_REPEAT
END_LOAD=$(loadavg)

# ---------------------------------------------------------------------------------------------
# Summary.

summary() {
  echo
  echo "modferry vs nginx: same store, loopback, wrk -t$THREADS -c$CONNS -d${DURATION}s after a ${WARMUP}s warm-up, best of $REPEAT runs"
  echo "machine: $NPROC cores, $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "load (1/5/15 min): at start $START_LOAD; when measuring began $MEASURE_LOAD; at end $END_LOAD"
  echo "logging on = modferry --log info (access line per request) vs nginx access_log on"
  echo "logging off = modferry --log warn vs nginx access_log off"
  echo "CPU = server's CPU use in cores during the run (wrk shares the same $NPROC cores)"
  echo
  printf '%-9s %-4s %13s %13s %6s %10s %10s %6s %8s %8s %9s %9s %5s\n' \
    endpoint log "modferry r/s" "nginx r/s" ratio "mf MiB/s" "ng MiB/s" ratio "mf CPU" "ng CPU" "mf p99ms" "ng p99ms" errs
  local ep logging k1 k2
  for ep in "${ENDPOINTS[@]}" bigzip; do
    for logging in on off; do
      k1="mf|$ep|$logging" k2="ng|$ep|$logging"
      [ -n "${RPS[$k1]:-}" ] || continue
      printf '%-9s %-4s %13s %13s %6s %10s %10s %6s %8s %8s %9s %9s %5s\n' \
        ".$ep" "$logging" "${RPS[$k1]}" "${RPS[$k2]}" "$(ratio "${RPS[$k1]}" "${RPS[$k2]}")" \
        "$(mib "${BPS[$k1]}")" "$(mib "${BPS[$k2]}")" "$(ratio "${BPS[$k1]}" "${BPS[$k2]}")" \
        "${CPU[$k1]}" "${CPU[$k2]}" "$(ms "${P99[$k1]}")" "$(ms "${P99[$k2]}")" \
        "$((ERR[$k1] + ERR[$k2]))"
    done
  done
  echo "(.bigzip = the 100 MiB zip with $RSS_CLIENTS clients for ${RSS_DURATION}s, no warm-up: the RSS test)"
  echo
  echo "peak RSS (VmHWM) during the $RSS_CLIENTS-client 100 MiB zip test:"
  echo "  modferry: $(awk -v k="$MF_HWM_KB" 'BEGIN{printf "%.1f", k / 1024}') MiB (RSS after the test $(awk -v k="$MF_IDLE_KB" 'BEGIN{printf "%.1f", k / 1024}') MiB, $MF_THREADS threads)"
  echo "  nginx:    $(awk -v k="$NG_HWM_KB" 'BEGIN{printf "%.1f", k / 1024}') MiB (master + 2 workers, summed)"
  echo
  local r
  for ep in info mod; do
    for logging in on off; do
      r=$(ratio "${RPS[mf|$ep|$logging]}" "${RPS[ng|$ep|$logging]}")
      printf 'RATIO %-30s %5sx nginx  (target >= 0.80x) %s\n' ".$ep req/s, logging $logging" "$r" "$(verdict "$r" ">=" 0.8)"
    done
  done
  for ep in zip bigzip; do
    for logging in on off; do
      [ -n "${BPS[mf|$ep|$logging]:-}" ] || continue
      r=$(ratio "${BPS[mf|$ep|$logging]}" "${BPS[ng|$ep|$logging]}")
      printf 'RATIO %-30s %5sx nginx  (target >= 0.90x) %s\n' ".$ep bytes/s, logging $logging" "$r" "$(verdict "$r" ">=" 0.9)"
    done
  done
  local peak
  peak=$(awk -v k="$MF_HWM_KB" 'BEGIN{printf "%.1f", k / 1024}')
  printf 'RSS   %-30s %5s MiB    (target < 64 MiB)  %s\n' "modferry peak, $RSS_CLIENTS clients" "$peak" "$(verdict "$peak" "<" 64)"
}
if [ -n "${BENCH_RESULTS:-}" ]; then
  summary | tee "$BENCH_RESULTS"
else
  summary
fi
# Cold fetch from git vs `go mod download` in direct mode (docs/benchmarks.md, "Building from git").
BENCH_SKIP_BUILD=1 MODFERRY_BIN="$MODFERRY" "$MODFERRY_ROOT/scripts/bench/git-cold.sh" || log "git cold-fetch benchmark failed"
# S3 backend: warm zips from a bucket vs SeaweedFS direct vs a directory; RSS (docs/benchmarks.md, "S3 backend").
BENCH_SKIP_BUILD=1 MODFERRY_BIN="$MODFERRY" "$MODFERRY_ROOT/scripts/bench/s3.sh" || log "S3 benchmark failed"
