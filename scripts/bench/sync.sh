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
# tools/oracle) and served by python's http.server on 127.0.0.1: an upstream that is not ours.
# BENCH_SYNC_JOBS (8) is sync's -j. Every process started here is stopped by its pid on exit.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/lib/tools.sh
. scripts/lib/tools.sh

N=${BENCH_SYNC_MODULES:-220}
JOBS=${BENCH_SYNC_JOBS:-8}
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

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

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
  for f in a b c; do
    {
      printf 'package m%03d\n\n' "$i"
      for k in $(seq 1 120); do printf 'func %s%d() int { return %d * %d }\n' "$f" "$k" "$k" "$i"; done
    } >"$src/$f.go"
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

PORT=$(free_port)
python3 -m http.server --bind 127.0.0.1 "$PORT" --directory "$UP" >"$WORK/http.log" 2>&1 &
PIDS+=($!)
URL="http://127.0.0.1:$PORT"
for _ in $(seq 1 100); do
  curl -fs -o /dev/null "$URL/" 2>/dev/null && break
  sleep 0.1
done

now() { date +%s.%N; }

# The anchor: go mod download all, fresh module cache.
log "anchor: go mod download all ($N modules)"
GOENV_VARS=(env -i PATH="$(dirname "$GO"):/usr/bin:/bin" HOME="$WORK/home" GOPATH="$WORK/gopath"
  GOMODCACHE="$WORK/modcache" GOCACHE="$WORK/gocache" GOTOOLCHAIN=local GOFLAGS=-mod=mod
  GOPROXY="$URL" GOSUMDB=off GOENV=off)
start=$(now)
(cd "$CONSUMER" && "${GOENV_VARS[@]}" "$GO" mod download all)
end=$(now)
T_GO=$(awk -v s="$start" -v e="$end" 'BEGIN{printf "%.2f", e-s}')
COUNT_GO=$(find "$WORK/modcache/cache/download" -name '*.zip' | wc -l)

log "modferry sync -j $JOBS ($N modules)"
start=$(now)
"$MODFERRY" sync --store "$WORK/store" --upstream "$URL" --sumdb-proxy off -j "$JOBS" \
  --go-version 1.27.3 --json "$CONSUMER/go.mod" >"$WORK/sync.json"
end=$(now)
T_SYNC=$(awk -v s="$start" -v e="$end" 'BEGIN{printf "%.2f", e-s}')
COUNT_SYNC=$(find "$WORK/store" -name '*.zip' | wc -l)

echo
echo "sync benchmark: $N modules, $(nproc) cores, $(date -u +%Y-%m-%d), load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-28s %8s s  (%s zips)\n' "go mod download all" "$T_GO" "$COUNT_GO"
printf '%-28s %8s s  (%s zips)\n' "modferry sync -j $JOBS" "$T_SYNC" "$COUNT_SYNC"
awk -v a="$T_SYNC" -v b="$T_GO" 'BEGIN{printf "ratio sync/go: %.2fx (target <= 0.5x)\n", a/b}'
