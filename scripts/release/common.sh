#!/usr/bin/env bash
# Shared by the release scripts (sourced): the version in Cargo.toml, the host's target triple, the
# archive names and SHA-256. The names here are the contract with the action's installer
# (.github/actions/vetted/install.sh), which downloads `vetted-<version>-<target>.tar.gz` and checks
# it against `SHA256SUMS` of the same release.
# shellcheck shell=bash

RELEASE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# The checksum file attached to every release: `sha256sum -c SHA256SUMS` checks the archives.
# shellcheck disable=SC2034 # used by the scripts that source this file
SUMS_NAME=SHA256SUMS
# The targets a release ships (the release workflow's build matrix).
# shellcheck disable=SC2034
RELEASE_TARGETS=(x86_64-unknown-linux-musl aarch64-unknown-linux-musl aarch64-apple-darwin x86_64-apple-darwin)

fail() { printf 'release: error: %s\n' "$*" >&2; exit 1; }
note() { printf 'release: %s\n' "$*" >&2; }

# cargo_version: the package version in Cargo.toml (the first `version = "..."` of [package]).
cargo_version() {
  local v
  v=$(sed -n '/^\[package\]/,/^\[/s/^version[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' "$RELEASE_ROOT/Cargo.toml" | head -n 1)
  [[ "$v" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?$ ]] || fail "no semantic version in $RELEASE_ROOT/Cargo.toml (found '$v')"
  printf '%s\n' "$v"
}

host_triple() { rustc -vV | sed -n 's/^host: //p'; }

archive_name() { printf 'vetted-%s-%s.tar.gz\n' "$1" "$2"; }

# sha256_of FILE: the hex SHA-256 of FILE (sha256sum on Linux, shasum on macOS).
sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d ' ' -f 1
  else
    shasum -a 256 "$1" | cut -d ' ' -f 1
  fi
}

# check_url URL: only https, or plain http to a loopback address (the tests' fake GitHub).
check_url() {
  local loopback='^http://(127(\.[0-9]{1,3}){3}|localhost|\[::1\])(:[0-9]{1,5})?(/|$)'
  case "$1" in
    https://*) return 0 ;;
  esac
  [[ "$1" =~ $loopback ]] ||
    fail "refusing '$1': GitHub URLs must be https (plain http only on loopback, for tests)"
}

# gh_request OUT_FILE METHOD URL [CURL_ARGS...]: one GitHub API request, bounded in time (5 min)
# and size (1 GiB: the largest release asset we upload is far smaller); prints the HTTP status. The
# token goes to curl on stdin, never on its command line or in a log.
gh_request() {
  local out=$1 method=$2 url=$3
  shift 3
  check_url "$url"
  local proto=(--proto "=https" --proto-redir "=https")
  case "$url" in http://*) proto=(--proto "=http,https" --proto-redir "=http,https") ;; esac
  printf 'header = "Authorization: Bearer %s"\n' "${GITHUB_TOKEN:?GITHUB_TOKEN is not set}" |
    curl -K - --silent --show-error "${proto[@]}" --connect-timeout 30 --max-time 300 \
      --max-filesize 1073741824 -X "$method" -o "$out" -w '%{http_code}' \
      -H 'Accept: application/vnd.github+json' -H 'X-GitHub-Api-Version: 2022-11-28' "$@" "$url"
}
