#!/usr/bin/env bash
# Builds the go.mod / go.work oracle (tools/oracle-modfile/main.go) from the installed Go
# toolchain's own golang.org/x/mod; prints the binary's path. Usage of the binary: see the
# comment at the top of main.go. See tools/lib/build-xmod-program.sh.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec bash "$here/../lib/build-xmod-program.sh" "$here" oracle-modfile \
  internal/lazyregexp modfile module semver
