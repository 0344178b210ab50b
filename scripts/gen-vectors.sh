#!/usr/bin/env bash
# Regenerates the module zip and dirhash test vectors from Go's own implementation.
#
# Builds the oracle (tools/oracle, golang.org/x/mod vendored from the Go toolchain) and asks it to
# rewrite the want.* lines of every vector under crates/formats/tests/data/{zip,dirhash}; tree
# vectors with zip= and zip vectors also get their Go-made zip rewritten next to them, and
# fold_classes.txt is Go's Unicode case-folding table; note/*.json and tlog/*.json are the
# checksum database vectors (keys, signed notes, hashes, proofs, tiles; see
# tools/oracle/sumdb.go). Inputs (the sections and key=value lines) are written by hand; never
# edit want.* lines or the JSON files by hand.
#
# Usage: scripts/gen-vectors.sh [vector.txtar...]   (default: all vectors)
# Needs a Go toolchain: $GO, the project's .tools/go, or go on PATH (see tools/oracle/build.sh).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="$repo/crates/formats/tests/data"
oracle="$("$repo/tools/oracle/build.sh")"

if [[ $# -gt 0 ]]; then
  vectors=("$@")
else
  vectors=("$data"/zip/*.txtar "$data"/dirhash/*.txtar)
fi

"$oracle" vector "${vectors[@]}"
"$oracle" foldclasses >"$data/zip/fold_classes.txt"
# Checksum database formats (x/mod sumdb/note, sumdb/tlog): JSON files whose inputs are built by
# the oracle itself (tools/oracle/sumdb.go), so they are always rewritten whole.
mkdir -p "$data/note" "$data/tlog"
"$oracle" notevectors "$data/note"
"$oracle" tlogvectors "$data/tlog"
echo "regenerated ${#vectors[@]} vectors, fold_classes.txt, note/*.json and tlog/*.json under $data" >&2
