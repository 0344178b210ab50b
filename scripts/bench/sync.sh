#!/usr/bin/env bash
# `modferry sync` benchmark (docs/benchmarks.md, "sync"): fill an empty store with a module
# graph of BENCH_SYNC_MODULES (220) modules from a local upstream, against the anchor measured in
# the same run: `go mod download all` of the same graph from the same upstream into an empty
# module cache. Target: sync ≤ 0.5× go. Not part of CI; no test calls it.
#
#   scripts/bench/sync.sh                 # builds --release unless BENCH_SKIP_BUILD=1
#   MODFERRY_BIN=target/debug/modferry BENCH_SKIP_BUILD=1 scripts/bench/sync.sh
#
# The modules (example.com/bench/mNNN v1.0.0, go 1.21, a few Go files each; each requires the
# next three, the consumer requires them all, so `all` is the N modules) are zipped by Go's own x/mod code (the oracle,
# tools/oracle) and served as static files on 127.0.0.1 by nginx (python's http.server only
# when nginx is missing; the script prints which): an upstream that is not ours.
# BENCH_SYNC_JOBS (16, sync's default) is sync's -j; BENCH_SYNC_ROUNDS (3) rounds of both
# sides, the best of each side is compared. Every process started here is stopped by its pid on exit.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/lib/tools.sh
. scripts/lib/tools.sh
# shellcheck source=scripts/lib/bench.sh
. scripts/lib/bench.sh

N=${BENCH_SYNC_MODULES:-220}
# Module size: BENCH_SYNC_FILES Go files of BENCH_SYNC_FUNCS one-line functions each
# (3 × 120 ≈ 12 KiB of source per module, a 5 KiB zip; 40 × 400 ≈ 650 KiB, a 100 KiB zip).
FILES=${BENCH_SYNC_FILES:-40}
FUNCS=${BENCH_SYNC_FUNCS:-400}
JOBS=${BENCH_SYNC_JOBS:-16}
ROUNDS=${BENCH_SYNC_ROUNDS:-3}
ensure_oracle >/dev/null
GO=$MODFERRY_TEST_GO
ORACLE=$MODFERRY_TEST_ORACLE
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
  log "cargo build --release -p modferry"
  cargo build --release -p modferry
fi
MODFERRY=${MODFERRY_BIN:-"${CARGO_TARGET_DIR:-$MODFERRY_ROOT/target}/release/modferry"}
[ -x "$MODFERRY" ] || { log "no binary at $MODFERRY"; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/modferry-sync-bench.XXXXXX")
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  chmod -R u+w "$WORK" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM


# ---------------------------------------------------------------------------------------------
# The upstream: N modules laid out as a GOPROXY.
log "generating $N modules with the oracle"
UP="$WORK/upstream"
name() { printf 'example.com/bench/m%03d' "$1"; }
for i in $(seq 0 $((N - 1))); do
  mod=$(name "$i")
  src="$WORK/src/$i"
  mkdir -p "$src" "$UP/$mod/@v"
  {
    printf 'module %s\n\ngo 1.21\n' "$mod"
    deps=()
    for j in 1 2 3; do
      [ $((i + j)) -lt "$N" ] && deps+=("$(name $((i + j)))")
    done
    if [ ${#deps[@]} -gt 0 ]; then
      printf '\nrequire (\n'
      for d in "${deps[@]}"; do printf '\t%s v1.0.0\n' "$d"; done
      printf ')\n'
    fi
  } >"$src/go.mod"
  for f in $(seq 1 "$FILES"); do
    {
      printf 'package m%03d\n\n' "$i"
      seq 1 "$FUNCS" | awk -v f="$f" -v i="$i" '{printf "func f%d_%d() int { return %d * %d }\n", f, $1, $1, i}'
    } >"$src/f$f.go"
  done
  cp "$src/go.mod" "$UP/$mod/@v/v1.0.0.mod"
  printf '{"Version":"v1.0.0","Time":"2024-01-02T03:04:05Z"}\n' >"$UP/$mod/@v/v1.0.0.info"
  printf 'v1.0.0\n' >"$UP/$mod/@v/list"
  "$ORACLE" create "$mod" v1.0.0 "$src" "$UP/$mod/@v/v1.0.0.zip"
done
CONSUMER="$WORK/consumer"
mkdir -p "$CONSUMER"
{
  printf 'module example.com/consumer\n\ngo 1.21\n\nrequire (\n'
  for i in $(seq 0 $((N - 1))); do printf '\t%s v1.0.0\n' "$(name "$i")"; done
  printf ')\n'
} >"$CONSUMER/go.mod"
printf 'package consumer\n' >"$CONSUMER/c.go"

# The upstream is static files (the GOPROXY protocol needs nothing else), served by nginx so
# that both sides are limited by their own work, not by the server; python's http.server
# (HTTP/1.0, so a new connection per request, and all its threads behind one interpreter lock)
# only when nginx is missing (or BENCH_SYNC_UPSTREAM=python).
PORT=$(free_port)
URL="http://127.0.0.1:$PORT"
if [ -n "$(nginx_bin)" ] && [ "${BENCH_SYNC_UPSTREAM:-nginx}" = nginx ]; then
  UPSTREAM_KIND="nginx (2 workers)"
  chmod 755 "$WORK"
  run_nginx "$WORK/nginx" "
  types { application/json info; text/plain mod; application/zip zip; }
  default_type text/plain;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  access_log off;
  server {
    listen 127.0.0.1:$PORT;
    root $UP;
  }"
else
  UPSTREAM_KIND="python3 http.server (the server is the bottleneck: the ratio is not meaningful)"
  python3 -m http.server --bind 127.0.0.1 "$PORT" --directory "$UP" >"$WORK/http.log" 2>&1 &
  PIDS+=($!)
fi
PROBE="$URL/$(name 0)/@v/list"
for _ in $(seq 1 100); do
  curl -fs -o /dev/null "$PROBE" 2>/dev/null && break
  sleep 0.1
done
curl -fs -o /dev/null "$PROBE" || { log "the upstream ($UPSTREAM_KIND) does not answer"; exit 1; }
log "upstream: $UPSTREAM_KIND at $URL"

now() { date +%s.%N; }
elapsed() { awk -v s="$1" -v e="$2" 'BEGIN{printf "%.3f", e-s}'; }
# The best (smallest) and the median of a list of seconds.
best() { tr ' ' '\n' | grep . | sort -n | head -1; }
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END{print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# Each round runs both sides from scratch (an empty module cache, an empty store), go first,
# so a burst of load on the machine hits both sides of a round alike; the ratio is taken from
# the best time of each side over BENCH_SYNC_ROUNDS rounds, with the medians for reference.
# Every round gets new directories and nothing is deleted before the end: freshly deleted
# inodes make ext4 slower at allocating new ones, which would tax the later runs.
TIMES_GO="" TIMES_SYNC=""
for round in $(seq 1 "$ROUNDS"); do
  R="$WORK/round$round"
  mkdir -p "$R"
  log "round $round/$ROUNDS: go mod download all ($N modules)"
  start=$(now)
  (cd "$CONSUMER" && env -i PATH="$(dirname "$GO"):/usr/bin:/bin" HOME="$WORK/home" \
    GOPATH="$R/gopath" GOMODCACHE="$R/modcache" GOCACHE="$R/gocache" GOTOOLCHAIN=local \
    GOFLAGS=-mod=mod GOPROXY="$URL" GOSUMDB=off GOENV=off "$GO" mod download all)
  end=$(now)
  TIMES_GO+="$(elapsed "$start" "$end") "
  COUNT_GO=$(find "$R/modcache/cache/download" -name '*.zip' | wc -l)

  log "round $round/$ROUNDS: modferry sync -j $JOBS ($N modules)"
  start=$(now)
  "$MODFERRY" sync --store "$R/store" --upstream "$URL" --sumdb-proxy off -j "$JOBS" \
    --go-version 1.27.3 --json "$CONSUMER/go.mod" >"$R/sync.json"
  end=$(now)
  TIMES_SYNC+="$(elapsed "$start" "$end") "
  COUNT_SYNC=$(find "$R/store" -name '*.zip' | wc -l)
done
T_GO=$(best <<<"$TIMES_GO")
T_SYNC=$(best <<<"$TIMES_SYNC")

echo
echo "sync benchmark: $N modules ($FILES files x $FUNCS funcs each; $(du -sb --apparent-size "$UP" | cut -f1) bytes upstream), $(nproc) cores, $(date -u +%Y-%m-%d), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "upstream: $UPSTREAM_KIND; $ROUNDS rounds, best of each side (all runs, s: go $TIMES_GO| sync $TIMES_SYNC)"
printf '%-28s %8s s best, %8s s median  (%s zips)\n' "go mod download all" "$T_GO" "$(median <<<"$TIMES_GO")" "$COUNT_GO"
printf '%-28s %8s s best, %8s s median  (%s zips)\n' "modferry sync -j $JOBS" "$T_SYNC" "$(median <<<"$TIMES_SYNC")" "$COUNT_SYNC"
awk -v a="$T_SYNC" -v b="$T_GO" 'BEGIN{printf "ratio sync/go: %.2fx (target <= 0.5x)\n", a/b}'
