#!/usr/bin/env bash
# S3 backend benchmarks (docs/benchmarks.md, "S3 backend"): a real SeaweedFS (`weed mini`) on
# loopback, one bucket, and `modferry serve --store s3://…`. Not part of CI; no test calls it.
#
#   scripts/bench/s3.sh                   # builds --release unless BENCH_SKIP_BUILD=1
#   MODFERRY_BIN=target/debug/modferry BENCH_SKIP_BUILD=1 scripts/bench/s3.sh
#
# What it measures:
#   1. warm zip serving: BENCH_S3_ROUNDS sequential downloads of a 10 MiB zip (curl) from
#      modferry on the bucket, straight from SeaweedFS's S3 endpoint (curl --aws-sigv4), and from
#      modferry on a directory store; prints MiB/s of each and the ratios (target s3/direct >= 0.8);
#   2. peak RSS (VmHWM) of the S3-backed replica while BENCH_RSS_CLIENTS (200) curl clients
#      download a 100 MiB zip at once (target < 64 MiB).
# The zips are real module zips (made with python's zipfile, stored entries of random bytes)
# so `modferry store copy` can load them into the bucket with full verification.
# Every process started here is stopped by its pid on exit.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/lib/tools.sh
. scripts/lib/tools.sh

ROUNDS=${BENCH_S3_ROUNDS:-20}
RSS_CLIENTS=${BENCH_RSS_CLIENTS:-200}
ensure_weed >/dev/null
WEED=$MODFERRY_TEST_WEED
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
  log "cargo build --release -p modferry"
  cargo build --release -p modferry
fi
MODFERRY=${MODFERRY_BIN:-"${CARGO_TARGET_DIR:-$MODFERRY_ROOT/target}/release/modferry"}
[ -x "$MODFERRY" ] || { log "no binary at $MODFERRY"; exit 1; }
command -v curl >/dev/null || { log "curl is needed"; exit 1; }

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

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_http() { # URL: up to 60 s for any HTTP answer
  local _
  for _ in $(seq 1 600); do
    curl -s -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  log "no answer from $1"; return 1
}

# SeaweedFS with credentials on (shared/notes/seaweedfs-for-s3-tests.md).
KEY=bench-key SECRET=bench-secret BUCKET=modferry-bench
printf '{"identities":[{"name":"bench","credentials":[{"accessKey":"%s","secretKey":"%s"}],"actions":["Admin","Read","Write","List","Tagging"]}]}' \
  "$KEY" "$SECRET" >"$WORK/s3.json"
BASE=$((20000 + RANDOM % 5000))
S3=$BASE
mkdir -p "$WORK/weed"
"$WEED" mini -dir="$WORK/weed" -ip=127.0.0.1 -ip.bind=127.0.0.1 -webdav=false -admin.ui=false \
  -s3.port.iceberg=0 -s3.port.lance=0 -admin.port=$((BASE + 4)) -s3.port=$S3 \
  -master.port=$((BASE + 1)) -volume.port=$((BASE + 2)) -filer.port=$((BASE + 3)) \
  -s3.config="$WORK/s3.json" -bucket=$BUCKET >"$WORK/weed.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$S3/"
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
log "generating modules and copying them into s3://$BUCKET/bench"
make_module example.com/bench 10
make_module example.com/big 100
"$MODFERRY" store copy --quiet --from "$STORE" --to "s3://$BUCKET/bench" >&2

serve() { # STORE → sets SERVE_URL and SERVE_PID (also recorded in PIDS)
  local port; port=$(free_port)
  "$MODFERRY" serve --listen 127.0.0.1:"$port" --store "$1" --offline --log warn \
    --git-cache "$WORK/git" >"$WORK/serve-$port.log" 2>&1 &
  SERVE_PID=$!
  PIDS+=("$SERVE_PID")
  SERVE_URL="http://127.0.0.1:$port"
  wait_http "$SERVE_URL/healthz"
}
serve "s3://$BUCKET/bench"; S3_URL=$SERVE_URL; S3_PID=$SERVE_PID
serve "$STORE"; FS_URL=$SERVE_URL
ZIP=/example.com/bench/@v/v1.0.0.zip
BIGZIP=/example.com/big/@v/v1.0.0.zip

rate() { # curl args… → MiB/s over ROUNDS sequential downloads (after one warm-up)
  curl -fsS -o /dev/null "$@"
  local start end
  start=$(date +%s.%N)
  for _ in $(seq 1 "$ROUNDS"); do curl -fsS -o /dev/null "$@"; done
  end=$(date +%s.%N)
  awk -v s="$start" -v e="$end" -v n="$ROUNDS" 'BEGIN{printf "%.1f", n*10/(e-s)}'
}
log "warm zip serving, $ROUNDS x 10 MiB each"
R_S3=$(rate "$S3_URL$ZIP")
# S3 wants the payload hash header on every request; curl signs x-amz-* headers it is given.
EMPTY_SHA=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
R_DIRECT=$(rate --aws-sigv4 "aws:amz:us-east-1:s3" --user "$KEY:$SECRET" \
  -H "x-amz-content-sha256: $EMPTY_SHA" "http://127.0.0.1:$S3/$BUCKET/bench$ZIP")
R_FS=$(rate "$FS_URL$ZIP")

log "peak RSS: $RSS_CLIENTS clients x 100 MiB from the bucket"
CPIDS=()
for _ in $(seq 1 "$RSS_CLIENTS"); do
  curl -fsS -o /dev/null "$S3_URL$BIGZIP" & CPIDS+=($!)
done
FAILED=0
for pid in "${CPIDS[@]}"; do wait "$pid" || FAILED=$((FAILED + 1)); done
HWM=$(awk '/VmHWM/{print $2}' "/proc/$S3_PID/status")

SUMMARY=$(printf 'zip MiB/s: modferry-s3 %s, seaweedfs-direct %s, modferry-fs %s; s3/direct %s (target >= 0.8), s3/fs %s; peak RSS %d MiB with %d clients (%d failed; target < 64 MiB)' \
  "$R_S3" "$R_DIRECT" "$R_FS" \
  "$(awk -v a="$R_S3" -v b="$R_DIRECT" 'BEGIN{printf "%.2f", a/b}')" \
  "$(awk -v a="$R_S3" -v b="$R_FS" 'BEGIN{printf "%.2f", a/b}')" \
  $((HWM / 1024)) "$RSS_CLIENTS" "$FAILED")
echo "$SUMMARY"
if [ -n "${BENCH_RESULTS:-}" ]; then echo "s3: $SUMMARY" >>"$BENCH_RESULTS"; fi
