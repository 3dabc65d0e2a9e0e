#!/usr/bin/env bash
# Installs vetted for the action when no `vetted` is on PATH: builds the checkout the action was
# fetched from (the same ref as the action itself) with cargo.
set -euo pipefail
if command -v vetted >/dev/null 2>&1; then
  echo "vetted-action: using $(command -v vetted)" >&2
  exit 0
fi
command -v cargo >/dev/null 2>&1 ||
  { echo "::error::vetted is not on PATH and cargo is missing: install a Rust toolchain first" >&2; exit 1; }
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
cargo install --locked --path "$root"
