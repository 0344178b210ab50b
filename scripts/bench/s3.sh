#!/usr/bin/env bash
# S3 backend benchmarks (docs/benchmarks.md, "S3 backend"): a real SeaweedFS (`weed mini`) on
# loopback, one bucket, and `modferry serve --store s3://…`. Not part of CI; no test calls it.
#
#   scripts/bench/s3.sh                   # builds --release unless BENCH_SKIP_BUILD=1
#   MODFERRY_BIN=target/debug/modferry BENCH_SKIP_BUILD=1 scripts/bench/s3.sh
#
# What it measures:
#   1. warm zip throughput: wrk downloading a 10 MiB module zip over and over, with one client
#      and with BENCH_S3_CONNS (8) concurrent clients, from
#        - direct:      SeaweedFS's own S3 endpoint (the object itself, anonymous read),
#        - modferry-s3: `modferry serve` on the bucket (signed requests to the same endpoint),
#        - modferry-fs: `modferry serve` on a directory store holding the same zip,
#        - nginx-proxy: (when nginx is installed) nginx as a buffering reverse proxy in front of
#          the same SeaweedFS endpoint, the control for what one proxy hop costs on this machine;
#      prints MiB/s, the CPU (in cores) of the server in the middle and of SeaweedFS, and the
#      ratios (target: modferry-s3 >= 0.8x direct);
#   2. peak RSS (VmHWM) of a fresh S3-backed replica while BENCH_RSS_CLIENTS (200) clients
#      download a 100 MiB zip at once (wrk -c200 for BENCH_RSS_DURATION s; target < 64 MiB),
#      and, for reference, of a fresh replica on the directory store under the same load.
# Before measuring, every path (including a SigV4-signed curl request to SeaweedFS) must return
# the very bytes of the zip (sha256).
#
# Knobs (environment): BENCH_DURATION (10), BENCH_WARMUP (2), BENCH_REPEAT (2: measured runs per
# row, the best is kept), BENCH_S3_CONNS (8), BENCH_THREADS (2), BENCH_RSS_CLIENTS (200),
# BENCH_RSS_DURATION (15), BENCH_MAX_WAIT (300: seconds to wait for a busy machine to calm
# down), BENCH_SKIP_BUILD=1, MODFERRY_BIN, BENCH_RESULTS=FILE (append the summary there).
# The zips are real module zips (python's zipfile, stored entries of random bytes) so that
# `modferry store copy` loads them into the bucket with full verification.
# Every process started here is stopped by its pid on exit.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/lib/tools.sh
. scripts/lib/tools.sh
# shellcheck source=scripts/lib/bench.sh
. scripts/lib/bench.sh

DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
REPEAT=${BENCH_REPEAT:-2}
CONNS=${BENCH_S3_CONNS:-8}
THREADS=${BENCH_THREADS:-2}
RSS_CLIENTS=${BENCH_RSS_CLIENTS:-200}
RSS_DURATION=${BENCH_RSS_DURATION:-15}
MAX_WAIT=${BENCH_MAX_WAIT:-300}
LUA="$MODFERRY_ROOT/scripts/bench/report.lua"
CLK_TCK=$(getconf CLK_TCK)
NPROC=$(nproc)

ensure_apt_packages wrk=wrk curl=curl
ensure_weed >/dev/null
WEED=$MODFERRY_TEST_WEED
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
  log "cargo build --release -p modferry"
  cargo build --release -p modferry
fi
MODFERRY=${MODFERRY_BIN:-"${CARGO_TARGET_DIR:-$MODFERRY_ROOT/target}/release/modferry"}
[ -x "$MODFERRY" ] || { log "no binary at $MODFERRY"; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/modferry-s3-bench.XXXXXX")
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

wait_http() { # URL: up to 60 s for any HTTP answer
  local _
  for _ in $(seq 1 600); do
    curl -s -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  log "no answer from $1"
  return 1
}
stop_pid() {
  local p keep=()
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}
cpu_ticks() { # utime+stime clock ticks of a set of pids
  local total=0 p t
  for p in "$@"; do
    t=$(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null || echo 0)
    total=$((total + t))
  done
  echo "$total"
}
status_kb() { awk -v f="$1:" '$1 == f { print $2 }' "/proc/$2/status"; }
mib() { awk -v b="$1" 'BEGIN{printf "%.0f", b / 1048576}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
verdict() { # VALUE OP TARGET
  awk -v v="$1" -v t="$3" -v op="$2" 'BEGIN{ ok = (op == ">=") ? (v >= t) : (v < t); print ok ? "MET" : "MISSED" }'
}
# An S3 object key as it goes into a request path: everything but unreserved characters and
# `/` percent-encoded (`@` → %40), which is also how SigV4 canonicalizes the path. curl
# signs the path exactly as given, so a raw `@` would be signed as `@` while the server
# signs `%40`: SignatureDoesNotMatch (403).
s3_path() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe="/-_.~"))' "$1"; }

# SeaweedFS with credentials on (shared/notes/seaweedfs-for-s3-tests.md). modferry signs with the
# `bench` identity; the `anonymous` identity may only read this bucket, so that wrk (which cannot
# sign) can fetch the objects directly. Signing a GET costs microseconds; the objects are MiBs.
KEY=bench-key SECRET=bench-secret BUCKET=modferry-bench PREFIX=bench
printf '{"identities":[{"name":"bench","credentials":[{"accessKey":"%s","secretKey":"%s"}],"actions":["Admin","Read","Write","List","Tagging"]},{"name":"anonymous","actions":["Read:%s"]}]}' \
  "$KEY" "$SECRET" "$BUCKET" >"$WORK/s3.json"
BASE=$((20000 + RANDOM % 5000))
S3=$BASE
mkdir -p "$WORK/weed"
"$WEED" mini -dir="$WORK/weed" -ip=127.0.0.1 -ip.bind=127.0.0.1 -webdav=false -admin.ui=false \
  -s3.port.iceberg=0 -s3.port.lance=0 -admin.port=$((BASE + 4)) -s3.port=$S3 \
  -master.port=$((BASE + 1)) -volume.port=$((BASE + 2)) -filer.port=$((BASE + 3)) \
  -s3.config="$WORK/s3.json" -bucket=$BUCKET >"$WORK/weed.log" 2>&1 &
WEED_PID=$!
PIDS+=("$WEED_PID")
wait_http "http://127.0.0.1:$S3/"
# The S3 port answers before the -bucket flag's bucket exists: wait for a signed HEAD of it.
for _ in $(seq 1 300); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' -I --aws-sigv4 "aws:amz:us-east-1:s3" \
    --user "$KEY:$SECRET" "http://127.0.0.1:$S3/$BUCKET")" = 200 ] && break
  sleep 0.1
done
export AWS_ENDPOINT_URL=http://127.0.0.1:$S3 AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=$KEY AWS_SECRET_ACCESS_KEY=$SECRET

# A directory store with two real module zips (10 MiB and 100 MiB of stored random bytes).
STORE="$WORK/store"
make_module() { # MODULE MIB
  python3 - "$STORE" "$1" "$2" <<'PY'
import os, sys, zipfile
root, mod, mib = sys.argv[1], sys.argv[2], int(sys.argv[3])
d = os.path.join(root, mod, "@v"); os.makedirs(d, exist_ok=True)
gomod = f"module {mod}\n\ngo 1.21\n"
open(os.path.join(d, "v1.0.0.mod"), "w").write(gomod)
open(os.path.join(d, "v1.0.0.info"), "w").write('{"Version":"v1.0.0","Time":"2024-01-02T03:04:05Z"}\n')
with zipfile.ZipFile(os.path.join(d, "v1.0.0.zip"), "w", zipfile.ZIP_STORED) as z:
    z.writestr(f"{mod}@v1.0.0/go.mod", gomod)
    z.writestr(f"{mod}@v1.0.0/data.bin", os.urandom(mib << 20))
PY
}
log "generating modules and copying them into s3://$BUCKET/$PREFIX"
make_module example.com/bench 10
make_module example.com/big 100
"$MODFERRY" store copy --quiet --from "$STORE" --to "s3://$BUCKET/$PREFIX" >&2

serve() { # STORE → sets SERVE_URL and SERVE_PID (also recorded in PIDS)
  local port
  port=$(free_port)
  "$MODFERRY" serve --listen 127.0.0.1:"$port" --store "$1" --offline --log warn \
    --git-cache "$WORK/git" >"$WORK/serve-$port.log" 2>&1 &
  SERVE_PID=$!
  PIDS+=("$SERVE_PID")
  SERVE_URL="http://127.0.0.1:$port"
  wait_http "$SERVE_URL/healthz"
}
serve "s3://$BUCKET/$PREFIX"
S3_URL=$SERVE_URL S3_PID=$SERVE_PID
serve "$STORE"
FS_URL=$SERVE_URL FS_PID=$SERVE_PID
ZIP=/example.com/bench/@v/v1.0.0.zip
BIGZIP=/example.com/big/@v/v1.0.0.zip
DIRECT="http://127.0.0.1:$S3/$BUCKET/$(s3_path "$PREFIX$ZIP")"
DIRECT_BIG="http://127.0.0.1:$S3/$BUCKET/$(s3_path "$PREFIX$BIGZIP")"

# nginx as a reverse proxy in front of SeaweedFS (the same endpoint modferry reads), buffering
# each response in memory (4 x 128 KiB, never a temporary file): what any HTTP hop costs here.
NGINX_URL="" NGINX_PIDS=""
if [ -n "$(nginx_bin)" ]; then
  NGINX_PORT=$(free_port)
  run_nginx "$WORK/nginx" "
  access_log off;
  upstream seaweedfs { server 127.0.0.1:$S3; keepalive 64; }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    keepalive_requests 1000000;
    location / {
      proxy_pass http://seaweedfs;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
      proxy_buffer_size 128k;
      proxy_buffers 4 128k;
      proxy_busy_buffers_size 256k;
      proxy_max_temp_file_size 0;
    }
  }"
  NGINX_PREFIX="http://127.0.0.1:$NGINX_PORT/$BUCKET"
  NGINX_URL="$NGINX_PREFIX/$(s3_path "$PREFIX$ZIP")"
  wait_http "$NGINX_URL"
  NGINX_PIDS="$NGINX_PID $(ps -o pid= --ppid "$NGINX_PID" | tr -d ' ' | tr '\n' ' ')"
else
  log "nginx not installed: no nginx-proxy row (scripts/bench.sh installs it)"
fi

# Sanity: every path returns the zip's exact bytes, or the comparison means nothing.
for pair in "$ZIP $DIRECT" "$BIGZIP $DIRECT_BIG"; do
  path=${pair%% *} direct=${pair#* }
  want=$(sha256sum <"$STORE$path" | cut -d' ' -f1)
  for what in modferry-s3 modferry-fs direct-anonymous direct-signed nginx-proxy; do
    case $what in
      nginx-proxy)
        [ -n "$NGINX_URL" ] || continue
        args=("$NGINX_PREFIX/$(s3_path "$PREFIX$path")")
        ;;
      modferry-s3) args=("$S3_URL$path") ;;
      modferry-fs) args=("$FS_URL$path") ;;
      direct-anonymous) args=("$direct") ;;
      direct-signed) args=(--aws-sigv4 "aws:amz:us-east-1:s3" --user "$KEY:$SECRET" "$direct") ;;
    esac
    got=$(curl -fsS "${args[@]}" | sha256sum | cut -d' ' -f1)
    [ "$got" = "$want" ] || { log "$what served different bytes for $path ($got, want $want)"; exit 1; }
  done
done
log "modferry-s3, modferry-fs and SeaweedFS (signed and anonymous) serve identical bytes"

declare -A BPS RPS ERR MF_CPU WD_CPU
WRK_OUT="$WORK/wrk.out"
# Runs wrk against URL (warm-up, then REPEAT runs, keeping the best by bytes/s) and records
# bytes/s, req/s, errors, and the CPU (cores) of the modferry process (if any) and SeaweedFS.
measure() { # KEY URL CONNS DURATION WARMUP REPEAT "PID..."|- (the server in the middle)
  local key=$1 url=$2 conns=$3 dur=$4 warm=$5 repeat=$6 mfpids=$7
  local threads=$((conns < THREADS ? conns : THREADS)) run best=-1 line bps
  local m0 m1 w0 w1 t0 t1
  if [ "$warm" -gt 0 ]; then
    timeout $((warm + 60)) wrk -t"$threads" -c"$conns" -d"${warm}s" --timeout 60s -s "$LUA" "$url" >/dev/null
  fi
  for run in $(seq 1 "$repeat"); do
    m0=0 m1=0
    # shellcheck disable=SC2086 # a list of pids
    [ "$mfpids" = - ] || m0=$(cpu_ticks $mfpids)
    w0=$(cpu_ticks "$WEED_PID") t0=$(date +%s%N)
    timeout $((dur + 90)) wrk -t"$threads" -c"$conns" -d"${dur}s" --timeout 60s -s "$LUA" "$url" >"$WRK_OUT"
    t1=$(date +%s%N) w1=$(cpu_ticks "$WEED_PID")
    # shellcheck disable=SC2086
    [ "$mfpids" = - ] || m1=$(cpu_ticks $mfpids)
    line=$(grep '^WRKRESULT ' "$WRK_OUT" || true)
    [ -n "$line" ] || { log "wrk printed no result for $url:"; cat "$WRK_OUT" >&2; exit 1; }
    local -A w=()
    local kv
    for kv in ${line#WRKRESULT }; do w[${kv%%=*}]=${kv#*=}; done
    bps=$(awk -v b="${w[bytes]}" -v d="${w[duration_us]}" 'BEGIN{printf "%.0f", b / (d / 1e6)}')
    log "$key run $run/$repeat: $(mib "$bps") MiB/s, load $(loadavg)"
    [ "$bps" -gt "$best" ] || continue
    best=$bps
    BPS[$key]=$bps
    RPS[$key]=$(awk -v r="${w[requests]}" -v d="${w[duration_us]}" 'BEGIN{printf "%.1f", r / (d / 1e6)}')
    ERR[$key]=$((w[connect] + w[read] + w[write] + w[status] + w[timeout]))
    MF_CPU[$key]=$(awk -v c=$((m1 - m0)) -v hz="$CLK_TCK" -v ns=$((t1 - t0)) 'BEGIN{printf "%.2f", (c / hz) / (ns / 1e9)}')
    WD_CPU[$key]=$(awk -v c=$((w1 - w0)) -v hz="$CLK_TCK" -v ns=$((t1 - t0)) 'BEGIN{printf "%.2f", (c / hz) / (ns / 1e9)}')
  done
}

START_LOAD=$(loadavg)
wait_for_quiet
MEASURE_LOAD=$(loadavg)
log "load before measuring: $MEASURE_LOAD ($NPROC cores)"
TARGETS=(direct modferry-s3 modferry-fs)
declare -A T_URL=([direct]=$DIRECT [modferry-s3]=$S3_URL$ZIP [modferry-fs]=$FS_URL$ZIP)
declare -A T_PID=([direct]=- [modferry-s3]=$S3_PID [modferry-fs]=$FS_PID)
if [ -n "$NGINX_URL" ]; then
  TARGETS+=(nginx-proxy)
  T_URL[nginx-proxy]=$NGINX_URL T_PID[nginx-proxy]=$NGINX_PIDS
fi
for c in 1 "$CONNS"; do
  log "10 MiB zip, $c client(s), ${DURATION}s per run, best of $REPEAT"
  for t in "${TARGETS[@]}"; do
    measure "$t|$c" "${T_URL[$t]}" "$c" "$DURATION" "$WARMUP" "$REPEAT" "${T_PID[$t]}"
  done
done
stop_pid "$S3_PID"
stop_pid "$FS_PID"

# Peak RSS: a fresh replica, so VmHWM covers only this test.
log "RSS test: $RSS_CLIENTS clients downloading the 100 MiB zip from the bucket for ${RSS_DURATION}s"
serve "s3://$BUCKET/$PREFIX"
measure "rss" "$SERVE_URL$BIGZIP" "$RSS_CLIENTS" "$RSS_DURATION" 0 1 "$SERVE_PID"
HWM_KB=$(status_kb VmHWM "$SERVE_PID")
IDLE_KB=$(status_kb VmRSS "$SERVE_PID")
NTHREADS=$(status_kb Threads "$SERVE_PID")
stop_pid "$SERVE_PID"
# The same test on a directory store, for reference (docs/benchmarks.md has its own row for it).
serve "$STORE"
measure "rss-fs" "$SERVE_URL$BIGZIP" "$RSS_CLIENTS" "$RSS_DURATION" 0 1 "$SERVE_PID"
FS_HWM_KB=$(status_kb VmHWM "$SERVE_PID")
stop_pid "$SERVE_PID"
END_LOAD=$(loadavg)

summary() {
  echo
  echo "S3 backend: SeaweedFS $("$WEED" version 2>/dev/null | head -n1 | awk '{print $3}') (weed mini) on loopback, warm 10 MiB zip, wrk ${DURATION}s after a ${WARMUP}s warm-up, best of $REPEAT"
  echo "machine: $NPROC cores, $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "load (1/5/15 min): at start $START_LOAD; when measuring began $MEASURE_LOAD; at end $END_LOAD"
  echo "CPU = cores used during the run by the server in the middle (modferry, or nginx's workers) and by SeaweedFS (wrk shares the same $NPROC cores)"
  echo
  printf '%-8s %-12s %9s %8s %8s %8s %5s\n' clients path "MiB/s" "req/s" "mid CPU" "weed CPU" errs
  local c t k
  for c in 1 "$CONNS"; do
    for t in "${TARGETS[@]}"; do
      k="$t|$c"
      printf '%-8s %-12s %9s %8s %8s %8s %5s\n' "$c" "$t" "$(mib "${BPS[$k]}")" "${RPS[$k]}" \
        "$([ "$t" = direct ] && echo - || echo "${MF_CPU[$k]}")" "${WD_CPU[$k]}" "${ERR[$k]}"
    done
  done
  echo
  local r
  for c in 1 "$CONNS"; do
    r=$(ratio "${BPS[modferry-s3|$c]}" "${BPS[direct|$c]}")
    printf 'RATIO %-36s %5sx  (target >= 0.80x) %s\n' "modferry-s3 / direct, $c client(s)" "$r" "$(verdict "$r" ">=" 0.8)"
    printf 'RATIO %-36s %5sx\n' "modferry-s3 / modferry-fs, $c client(s)" "$(ratio "${BPS[modferry-s3|$c]}" "${BPS[modferry-fs|$c]}")"
    [ -z "$NGINX_URL" ] || printf 'RATIO %-36s %5sx  (control: one proxy hop)\n' "nginx-proxy / direct, $c client(s)" "$(ratio "${BPS[nginx-proxy|$c]}" "${BPS[direct|$c]}")"
  done
  local peak
  peak=$(awk -v k="$HWM_KB" 'BEGIN{printf "%.1f", k / 1024}')
  printf 'RSS   %-36s %5s MiB (target < 64 MiB)  %s\n' "modferry-s3 peak, $RSS_CLIENTS clients" "$peak" "$(verdict "$peak" "<" 64)"
  printf 'RSS   %-36s %5s MiB (reference)\n' "modferry-fs peak, $RSS_CLIENTS clients" "$(awk -v k="$FS_HWM_KB" 'BEGIN{printf "%.1f", k / 1024}')"
  echo "      (100 MiB zip, wrk -c$RSS_CLIENTS -d${RSS_DURATION}s: $(mib "${BPS[rss]}") MiB/s, ${ERR[rss]} errors; RSS after $(awk -v k="$IDLE_KB" 'BEGIN{printf "%.1f", k / 1024}') MiB, $NTHREADS threads; modferry ${MF_CPU[rss]} cores, weed ${WD_CPU[rss]} cores)"
}
if [ -n "${BENCH_RESULTS:-}" ]; then
  summary | tee -a "$BENCH_RESULTS"
else
  summary
fi
