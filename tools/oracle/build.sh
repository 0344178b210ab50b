#!/usr/bin/env bash
# Builds the x/mod oracle (tools/oracle/*.go: zips, h1 hashes, sumdb notes and logs) from the
# installed Go toolchain's own golang.org/x/mod; prints the binary's path. See
# tools/lib/build-xmod-program.sh.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec bash "$here/../lib/build-xmod-program.sh" "$here" oracle \
  internal/lazyregexp modfile module semver sumdb/dirhash sumdb/note sumdb/tlog zip
