#!/usr/bin/env bash
# `modferry bundle import` benchmark (docs/benchmarks.md, "bundle import"): import a bundle of
# about BENCH_BUNDLE_MIB (1024) MiB into an empty store, against the anchor measured in the same
# run: `tar -x` (with zstd) of the very same .tar.zst file, which unpacks the same bytes without
# verifying anything. Target: import ≤ 1.5× tar. Not part of CI; no test calls it.
#
#   scripts/bench/bundle.sh               # builds --release unless BENCH_SKIP_BUILD=1
#   MODFERRY_BIN=target/debug/modferry BENCH_SKIP_BUILD=1 scripts/bench/bundle.sh
#   BENCH_BUNDLE_MIB=256 BENCH_RUNS=5 BENCH_SKIP_BUILD=1 scripts/bench/bundle.sh
#
# The store holds BENCH_BUNDLE_MODULES (64) real module zips of stored random bytes (python's
# zipfile, as scripts/bench/s3.sh makes them), exported with `modferry bundle export --all`.
# The page cache is warm for both runs (each reads the bundle once before it is timed). Each is
# timed BENCH_RUNS (3) times, alternating, and the medians are compared.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/lib/tools.sh
. scripts/lib/tools.sh

MIB=${BENCH_BUNDLE_MIB:-1024}
MODS=${BENCH_BUNDLE_MODULES:-64}
RUNS=${BENCH_RUNS:-3}
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
  log "cargo build --release -p modferry"
  cargo build --release -p modferry
fi
MODFERRY=${MODFERRY_BIN:-"${CARGO_TARGET_DIR:-$MODFERRY_ROOT/target}/release/modferry"}
[ -x "$MODFERRY" ] || { log "no binary at $MODFERRY"; exit 1; }
command -v zstd >/dev/null || ensure_apt_packages zstd=zstd

WORK=$(mktemp -d "${TMPDIR:-/tmp}/modferry-bundle-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

log "generating $MODS modules, $MIB MiB in all"
python3 - "$WORK/store" "$MODS" "$MIB" <<'PY'
import os, sys, zipfile
root, n, mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
per = (mib << 20) // n
for i in range(n):
    mod = f"example.com/bundle/m{i:03d}"
    d = os.path.join(root, mod, "@v"); os.makedirs(d, exist_ok=True)
    gomod = f"module {mod}\n\ngo 1.21\n"
    open(os.path.join(d, "v1.0.0.mod"), "w").write(gomod)
    open(os.path.join(d, "v1.0.0.info"), "w").write('{"Version":"v1.0.0","Time":"2024-01-02T03:04:05Z"}\n')
    with zipfile.ZipFile(os.path.join(d, "v1.0.0.zip"), "w", zipfile.ZIP_STORED) as z:
        z.writestr(f"{mod}@v1.0.0/go.mod", gomod)
        z.writestr(f"{mod}@v1.0.0/data.bin", os.urandom(per))
    open(os.path.join(d, "list"), "w").write("v1.0.0\n")
PY
log "bundle export --all"
"$MODFERRY" bundle export --store "$WORK/store" --all --out "$WORK/b.tar.zst" >&2
BYTES=$(stat -c %s "$WORK/b.tar.zst")

now() { date +%s.%N; }
cat "$WORK/b.tar.zst" >/dev/null

# Each run times tar, then import, each ending with a sync of what it wrote (both must reach the
# disk: import syncs as it commits, tar's data is synced by `sync -f`). Runs alternate the two so
# a burst of load from elsewhere hits both; the medians are reported.
secs() { awk -v s="$1" -v e="$2" 'BEGIN{printf "%.2f", e-s}'; }
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
TARS=() IMPORTS=()
for run in $(seq "$RUNS"); do
  log "run $run/$RUNS: tar -x (zstd) of the bundle"
  mkdir "$WORK/tar"
  start=$(now)
  tar -x -I zstd -f "$WORK/b.tar.zst" -C "$WORK/tar"
  sync -f "$WORK/tar" 2>/dev/null || true
  end=$(now)
  TARS+=("$(secs "$start" "$end")")
  rm -rf "$WORK/tar"

  log "run $run/$RUNS: modferry bundle import"
  start=$(now)
  "$MODFERRY" bundle import --store "$WORK/imported" "$WORK/b.tar.zst" >&2
  sync -f "$WORK/imported" 2>/dev/null || true
  end=$(now)
  IMPORTS+=("$(secs "$start" "$end")")
  rm -rf "$WORK/imported"
done
T_TAR=$(echo "${TARS[*]}" | median)
T_IMPORT=$(echo "${IMPORTS[*]}" | median)

echo
echo "bundle import benchmark: $MODS modules, $((BYTES >> 20)) MiB bundle, $(nproc) cores, $(date -u +%Y-%m-%d), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "runs (s): tar ${TARS[*]}; import ${IMPORTS[*]}"
printf '%-24s %8s s (median of %s)\n' "tar -x (zstd)" "$T_TAR" "$RUNS"
printf '%-24s %8s s (median of %s)\n' "modferry bundle import" "$T_IMPORT" "$RUNS"
awk -v a="$T_IMPORT" -v b="$T_TAR" 'BEGIN{printf "ratio import/tar: %.2fx (target <= 1.5x)\n", a/b}'
