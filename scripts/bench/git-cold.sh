#!/usr/bin/env bash
# Cold fetch from git: how long `modferry serve` takes to answer .info, .mod and .zip of a
# module version straight from a local git repository (empty store, empty git cache), against
# `go mod download` with GOPROXY=direct on the same repository (empty module cache). Prints
# both times (median of BENCH_GIT_ROUNDS rounds) and the ratio modferry/go (target <= 1.0).
#
#   scripts/bench/git-cold.sh                  # builds --release unless BENCH_SKIP_BUILD=1
#   MODFERRY_BIN=target/debug/modferry BENCH_SKIP_BUILD=1 scripts/bench/git-cold.sh
#
# The repository holds a copy of the Go standard library's net/ tree (about 5.5 MB, 700 files)
# as module example.com/bench/net.git at tag v1.0.0. go reaches it through a git
# `url.<base>.insteadOf` rule pointing https://example.com/bench/ at the local directory;
# modferry through `--vcs example.com/bench/net.git=file://…`. Both run git the same way
# (clone, then `git archive`), so this compares the work around git. Loopback only; every
# process started here is stopped by its pid on exit.
#
# Knobs: BENCH_GIT_ROUNDS (3), BENCH_SKIP_BUILD=1, MODFERRY_BIN (default
# target/release/modferry), BENCH_RESULTS=FILE (append the summary line).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/lib/tools.sh
. scripts/lib/tools.sh
# shellcheck source=scripts/lib/bench.sh
. scripts/lib/bench.sh

ROUNDS=${BENCH_GIT_ROUNDS:-3}
ensure_go >/dev/null
GO=${MODFERRY_TEST_GO:-$(ls "$MODFERRY_ROOT"/.tools/go/lib/python3*/site-packages/go/bin/go | head -n1)}
GOROOT_DIR=$(dirname "$(dirname "$GO")")

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
  log "cargo build --release -p modferry"
  cargo build --release -p modferry
fi
MODFERRY=${MODFERRY_BIN:-"${CARGO_TARGET_DIR:-$MODFERRY_ROOT/target}/release/modferry"}
[ -x "$MODFERRY" ] || { log "no binary at $MODFERRY"; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/modferry-git-bench.XXXXXX")
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# ---------------------------------------------------------------------------------------------
# The repository.

MODULE=example.com/bench/net.git
SRC="$WORK/src"
mkdir -p "$SRC" "$WORK/repos" "$WORK/home"
cp -r "$GOROOT_DIR/src/net" "$SRC/net"
printf 'module %s\n\ngo 1.21\n' "$MODULE" >"$SRC/go.mod"
export GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com \
  GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com \
  GIT_AUTHOR_DATE='@1700000000 +0000' GIT_COMMITTER_DATE='@1700000000 +0000'
(
  cd "$SRC"
  GIT_CONFIG_GLOBAL=/dev/null git init -q -b main
  GIT_CONFIG_GLOBAL=/dev/null git add -A
  GIT_CONFIG_GLOBAL=/dev/null git commit -q -m import
  GIT_CONFIG_GLOBAL=/dev/null git tag v1.0.0
)
GIT_CONFIG_GLOBAL=/dev/null git clone -q --bare "$SRC" "$WORK/repos/net.git"
printf '[url "file://%s/repos/"]\n\tinsteadOf = https://example.com/bench/\n' "$WORK" >"$WORK/gitconfig"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# ---------------------------------------------------------------------------------------------
# modferry: a fresh store and git cache per round; the server's start-up is not timed.


modferry_round() {
  local i=$1 port store
  port=$(free_port)
  store="$WORK/store-$i"
  env -i PATH=/usr/bin:/bin HOME="$WORK/home" GIT_CONFIG_NOSYSTEM=1 \
    "$MODFERRY" serve --listen "127.0.0.1:$port" --store "$store" --upstream off \
    --sumdb-proxy off --log warn \
    --vcs "$MODULE=file://$WORK/repos/net.git" 2>"$WORK/modferry-$i.log" &
  SERVER_PID=$!
  for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  local base="http://127.0.0.1:$port/$MODULE/@v/v1.0.0" t0 t1
  t0=$(now)
  curl -fsS "$base.info" >/dev/null
  curl -fsS "$base.mod" >/dev/null
  curl -fsS "$base.zip" -o "$WORK/modferry-$i.zip"
  t1=$(now)
  kill "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
  elapsed "$t0" "$t1"
}

go_round() {
  local i=$1 t0 t1
  mkdir -p "$WORK/go-$i"
  t0=$(now)
  (
    cd "$WORK/go-$i"
    env -i PATH="$(dirname "$GO"):/usr/bin:/bin" HOME="$WORK/home" GOPATH="$WORK/go-$i/gopath" \
      GOMODCACHE="$WORK/go-$i/modcache" GOCACHE="$WORK/gocache" GOTOOLCHAIN=local GOFLAGS=-mod=mod \
      GOPROXY=direct GOSUMDB=off GOENV=off GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL="$WORK/gitconfig" \
      "$GO" mod download -json "$MODULE@v1.0.0" >"$WORK/go-$i.json"
  )
  t1=$(now)
  elapsed "$t0" "$t1"
}

ours=()
theirs=()
for i in $(seq "$ROUNDS"); do
  ours+=("$(modferry_round "$i")")
  theirs+=("$(go_round "$i")")
  log "round $i: modferry ${ours[-1]} s, go ${theirs[-1]} s"
done

# Same content: the h1 of the zip modferry served equals the Sum go computed.
want=$(sed -n 's/.*"Sum": "\(h1:[^"]*\)".*/\1/p' "$WORK/go-1.json")
ensure_oracle >/dev/null 2>&1 || true
if [ -x "$MODFERRY_ROOT/tools/oracle/bin/oracle" ]; then
  got=$("$MODFERRY_ROOT/tools/oracle/bin/oracle" hashzip "$WORK/modferry-1.zip")
  [ "$got" = "$want" ] || { log "zip hash differs: modferry $got, go $want"; exit 1; }
fi

m=$(printf '%s\n' "${ours[@]}" | median)
g=$(printf '%s\n' "${theirs[@]}" | median)
ratio=$(awk -v a="$m" -v b="$g" 'BEGIN { printf "%.2f", a / b }')
line="git cold fetch ($MODULE@v1.0.0, GOROOT/src/net, $ROUNDS rounds, median): modferry ${m} s, go mod download ${g} s, ratio ${ratio}x (target <= 1.0)"
echo "$line"
[ -z "${BENCH_RESULTS:-}" ] || echo "$line" >>"$BENCH_RESULTS"
