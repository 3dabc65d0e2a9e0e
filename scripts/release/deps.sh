#!/usr/bin/env bash
# Installs what building vetted for TARGET needs beyond a Rust toolchain: the target's standard
# library (rustup) and, for *-linux-musl, musl-gcc (Debian/Ubuntu's musl-tools) for the C parts.
#   bash scripts/release/deps.sh TARGET
set -euo pipefail
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

[ "$#" -eq 1 ] || fail "usage: deps.sh TARGET"
target=$1
if command -v rustup >/dev/null 2>&1; then
  rustup target add "$target"
elif [ "$target" != "$(host_triple)" ]; then
  fail "rustup is missing: install the standard library for $target another way"
fi
case "$target" in
  *-linux-musl)
    if ! command -v musl-gcc >/dev/null 2>&1; then
      SUDO=""
      [ "$(id -u)" -eq 0 ] || SUDO="sudo"
      $SUDO apt-get update -qq
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends musl-tools
    fi
    ;;
esac
