#!/usr/bin/env bash
# Installs vetted for the action (its "Install vetted" step), as the `install` input says:
#   release (default; `true` is the same): the released binary of VERSION for this runner, from the
#            GitHub release of RELEASE_REPOSITORY: the archive vetted-<version>-<target>.tar.gz is
#            checked against the release's SHA256SUMS before anything is unpacked, kept in a cache
#            (RUNNER_TOOL_CACHE/vetted/<version>/<target>) and checked again on every later use;
#            the binary is unpacked under RUNNER_TEMP and put first on PATH (GITHUB_PATH).
#   source:  builds the checkout the action was fetched from with `cargo install --locked --path`,
#            unless a `vetted` is already on PATH.
#   false:   installs nothing: a `vetted` on PATH is used.
# VERSION: a release tag (v1.2.3, or 1.2.3) or `latest`. Empty: the action's own ref (ACTION_REF,
# github.action_ref) when it is a version tag, else v<the version in Cargo.toml of the action's
# checkout> (an action pinned by commit, a branch or a major tag such as v1; github.action_ref is
# also empty in some composite-action runs).
# Downloads: GITHUB_API_URL (https only; plain http only to loopback, for tests), at most
# VETTED_MAX_DOWNLOAD_BYTES (default 256 MiB) and 5 minutes per file. GITHUB_TOKEN, when set, goes
# to curl on stdin as the Authorization header, never on a command line or in a log.
# VETTED_TARGET overrides the target triple picked from RUNNER_OS and RUNNER_ARCH.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
root=$(cd "$here/../../.." && pwd)

install_source() {
  if command -v vetted >/dev/null 2>&1; then
    log "using $(command -v vetted)"
    return 0
  fi
  command -v cargo >/dev/null 2>&1 ||
    die "vetted is not on PATH and cargo is missing: install a Rust toolchain first (install: source builds vetted with cargo)"
  cargo install --locked --path "$root"
}

# release_target: the release's target triple for this runner.
release_target() {
  if [ -n "${VETTED_TARGET:-}" ]; then
    printf '%s\n' "$VETTED_TARGET"
    return 0
  fi
  local os=${RUNNER_OS:-} arch=${RUNNER_ARCH:-}
  [ -n "$os" ] || os=$(uname -s)
  [ -n "$arch" ] || arch=$(uname -m)
  case "$os/$arch" in
    Linux/X64 | Linux/x86_64) echo x86_64-unknown-linux-musl ;;
    Linux/ARM64 | Linux/aarch64 | Linux/arm64) echo aarch64-unknown-linux-musl ;;
    macOS/ARM64 | Darwin/arm64 | Darwin/aarch64) echo aarch64-apple-darwin ;;
    macOS/X64 | Darwin/x86_64) echo x86_64-apple-darwin ;;
    *) die "vetted releases have no binary for $os $arch: set the action's input install: source to build vetted from source" ;;
  esac
}

# release_version: the tag to install (see VERSION above).
release_version() {
  local v=${VERSION:-} semver='^v?[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?$'
  if [ -z "$v" ]; then
    if [[ "${ACTION_REF:-}" =~ $semver ]]; then
      v=$ACTION_REF
    else
      v=$(sed -n '/^\[package\]/,/^\[/s/^version[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' "$root/Cargo.toml" 2>/dev/null | head -n 1)
      [ -n "$v" ] || die "cannot tell which vetted release to install: the action's ref '${ACTION_REF:-}' is not a version tag and $root/Cargo.toml has no version; set the action's input version: (e.g. v1.2.3)"
      log "the action's ref '${ACTION_REF:-}' is not a version tag: installing v$v, the version of the action's checkout"
      if [[ "${ACTION_REF:-}" =~ ^[0-9a-f]{40}$ ]]; then
        echo "::warning title=vetted::the action is pinned by commit, but the binary comes from release v$v, whose files can change after the commit; to pin what runs, use install: source (built from this commit), or a release repository with immutable releases" >&2
      fi
    fi
  fi
  [ "$v" = latest ] && { echo latest; return 0; }
  [[ "$v" =~ $semver ]] || die "version '$v' is not a release tag like v1.2.3 (or latest)"
  printf 'v%s\n' "${v#v}"
}

api=${GITHUB_API_URL:-https://api.github.com}
max_bytes=${VETTED_MAX_DOWNLOAD_BYTES:-268435456}

# check_url URL: https, or plain http to loopback only.
check_url() {
  local loopback='^http://(127(\.[0-9]{1,3}){3}|localhost|\[::1\])(:[0-9]{1,5})?(/|$)'
  case "$1" in
    https://*) return 0 ;;
  esac
  [[ "$1" =~ $loopback ]] ||
    die "refusing to download vetted from '$1': only https is used (plain http only on loopback, for tests)"
}

# fetch OUT_FILE MAX_BYTES PATH [CURL_ARGS...]: GETs GITHUB_API_URL/PATH into OUT_FILE, following
# redirects (release assets live on GitHub's storage, which gets no token: curl does not send it to
# another host); prints the HTTP status. Bounded in size and time.
fetch() {
  local out=$1 max=$2 path=$3
  shift 3
  local proto=(--proto "=https" --proto-redir "=https")
  case "$api" in http://*) proto=(--proto "=http,https" --proto-redir "=http,https") ;; esac
  {
    if [ -n "${GITHUB_TOKEN:-}" ]; then
      printf 'header = "Authorization: Bearer %s"\n' "$GITHUB_TOKEN"
    fi
  } | curl -K - --silent --show-error --location --max-redirs 5 "${proto[@]}" \
    --connect-timeout 30 --max-time 300 --max-filesize "$max" --retry 3 \
    -o "$out" -w '%{http_code}' -H 'X-GitHub-Api-Version: 2022-11-28' "$@" "$api$path"
}

# fetch_ok OUT_FILE MAX_BYTES PATH WHAT [CURL_ARGS...]: fetch, failing with WHAT on any error.
fetch_ok() {
  local out=$1 max=$2 path=$3 what=$4 status rc=0
  shift 4
  status=$(fetch "$out" "$max" "$path" "$@" 2>"$out.err") || rc=$?
  if [ "$rc" -eq 63 ]; then
    rm -f "$out"
    die "$what is larger than $max bytes (VETTED_MAX_DOWNLOAD_BYTES): refused, nothing installed"
  elif [ "$rc" -ne 0 ]; then
    rm -f "$out"
    die "downloading $what failed (curl exit $rc: $(tr -d '\000-\037' <"$out.err" | head -c 300)); nothing installed"
  fi
  rm -f "$out.err"
  if [ "$status" != 200 ]; then
    rm -f "$out"
    die "downloading $what: HTTP $status; nothing installed"
  fi
  [ "$(wc -c <"$out")" -le "$max" ] || { rm -f "$out"; die "$what is larger than $max bytes: refused, nothing installed"; }
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d ' ' -f 1
  else
    shasum -a 256 "$1" | cut -d ' ' -f 1
  fi
}

# clean TEXT: remote text for a log line (no control characters, at most 200 characters).
clean() { printf '%s' "$1" | tr -d '\000-\037\177' | head -c 200; }

install_release() {
  local repo=${RELEASE_REPOSITORY:-${ACTION_REPOSITORY:-}}
  [ -n "$repo" ] || die "cannot tell which repository's releases to install vetted from (github.action_repository is empty, as for a local action): set the action's input release-repository: (owner/name), or install: source"
  [[ "$repo" =~ ^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$ ]] || die "release-repository '$repo' is not owner/name"
  check_url "$api"
  [[ "$max_bytes" =~ ^[0-9]+$ ]] || die "VETTED_MAX_DOWNLOAD_BYTES '$max_bytes' is not a number of bytes"
  local tag target
  tag=$(release_version)
  target=$(release_target)
  [[ "$target" =~ ^[a-z0-9_]+(-[a-z0-9_]+){2,3}$ ]] || die "'$target' is not a target triple"

  local tmp
  tmp=$(mktemp -d "${RUNNER_TEMP:-/tmp}/vetted-install.XXXXXX")
  # shellcheck disable=SC2064 # expand now: the path is fixed
  trap "rm -rf '$tmp'" EXIT

  # The release and its assets. Only the asset ids are taken from the answer: the download URLs
  # are built here, on GITHUB_API_URL.
  local path
  if [ "$tag" = latest ]; then path="/repos/$repo/releases/latest"; else path="/repos/$repo/releases/tags/$tag"; fi
  local status rc=0
  status=$(fetch "$tmp/release.json" 4194304 "$path" -H 'Accept: application/vnd.github+json' 2>"$tmp/err") || rc=$?
  [ "$rc" -eq 0 ] || die "looking up vetted release $tag of $repo failed (curl exit $rc: $(clean "$(cat "$tmp/err")")); nothing installed"
  case "$status" in
    200) ;;
    404) die "$repo has no release $tag (for $target): set the action's input version: to a released version, or install: source to build vetted from source" ;;
    *) die "looking up vetted release $tag of $repo: HTTP $status; nothing installed" ;;
  esac
  if [ "$tag" = latest ]; then
    tag=$(jq -r '.tag_name // empty' "$tmp/release.json" 2>/dev/null || true)
    [[ "$tag" =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?$ ]] || die "the latest release of $repo has tag '$(clean "$tag")', not a version like v1.2.3"
  fi
  local version=${tag#v}
  local asset="vetted-$version-$target.tar.gz" sums=SHA256SUMS asset_id sums_id
  asset_id=$(jq -r --arg n "$asset" '[.assets[]? | select(.name == $n) | .id][0] // empty' "$tmp/release.json" 2>/dev/null || true)
  sums_id=$(jq -r --arg n "$sums" '[.assets[]? | select(.name == $n) | .id][0] // empty' "$tmp/release.json" 2>/dev/null || true)
  if [ -z "$asset_id" ]; then
    local have
    have=$(jq -r '[.assets[]?.name | strings] | join(", ")' "$tmp/release.json" 2>/dev/null || true)
    die "release $tag of $repo has no $asset (vetted $version for $target; its assets: $(clean "${have:-none}")): set the action's input install: source to build vetted from source, or version: to a release that has it"
  fi
  [ -n "$sums_id" ] || die "release $tag of $repo has no $sums: refusing to install a binary whose checksum cannot be checked (install: source builds from source)"
  [[ "$asset_id" =~ ^[0-9]+$ && "$sums_id" =~ ^[0-9]+$ ]] || die "GitHub answered release $tag with non-numeric asset ids"

  fetch_ok "$tmp/$sums" 1048576 "/repos/$repo/releases/assets/$sums_id" "$sums of release $tag" -H 'Accept: application/octet-stream'
  local want
  want=$(awk -v n="$asset" '$2 == n || $2 == "*" n { print $1 }' "$tmp/$sums")
  [[ "$want" =~ ^[0-9a-f]{64}$ ]] || die "$sums of release $tag has no single SHA-256 for $asset: refusing to install it"

  # The cache keeps the verified archive; every use checks it against the release's SHA256SUMS.
  local cache="${RUNNER_TOOL_CACHE:-${HOME:-/tmp}/.cache}/vetted/$version/$target"
  mkdir -p "$cache"
  local archive="$cache/$asset" got
  if [ -f "$archive" ]; then
    got=$(sha256_of "$archive")
    if [ "$got" = "$want" ]; then
      log "using the cached $asset (SHA-256 checked against $sums of release $tag)"
    else
      log "the cached $asset does not match $sums of release $tag (SHA-256 $got): downloading it again"
      rm -f "$archive"
    fi
  fi
  if [ ! -f "$archive" ]; then
    local part
    part=$(mktemp "$cache/.$asset.XXXXXX")
    fetch_ok "$part" "$max_bytes" "/repos/$repo/releases/assets/$asset_id" "$asset of release $tag" -H 'Accept: application/octet-stream'
    got=$(sha256_of "$part")
    if [ "$got" != "$want" ]; then
      rm -f "$part"
      die "checksum mismatch for $asset of release $tag: $sums says SHA-256 $want, the download has $got; refused, nothing installed"
    fi
    mv -f "$part" "$archive"
    log "downloaded $asset from release $tag of $repo (SHA-256 $got, as $sums says)"
  fi

  # Unpack only the binary, into a directory of this job.
  local dest="${RUNNER_TEMP:-$tmp}/vetted-bin/$version-$target"
  rm -rf "$dest" "$tmp/unpack"
  mkdir -p "$dest" "$tmp/unpack"
  # Unpack a private copy, checked again: the cache may be shared with other jobs (a self-hosted
  # runner), which could swap the file between the check above and tar.
  cp "$archive" "$tmp/$asset"
  got=$(sha256_of "$tmp/$asset")
  [ "$got" = "$want" ] || die "$asset changed in the cache while it was being installed (SHA-256 $got, $sums says $want); refused, nothing installed"
  tar -xzf "$tmp/$asset" -C "$tmp/unpack" "vetted-$version-$target/vetted" ||
    die "$asset of release $tag has no vetted-$version-$target/vetted"
  local bin="$tmp/unpack/vetted-$version-$target/vetted"
  { [ -f "$bin" ] && [ ! -L "$bin" ]; } || die "vetted-$version-$target/vetted in $asset is not a regular file"
  chmod 0755 "$bin"
  mv "$bin" "$dest/vetted"
  local reported
  reported=$("$dest/vetted" --version 2>&1 | head -n 1) || reported=""
  if [ "$reported" != "vetted $version" ]; then
    rm -rf "$dest"
    die "the vetted of $asset reports '$(clean "$reported")', not 'vetted $version'; nothing installed"
  fi
  if [ -n "${GITHUB_PATH:-}" ]; then
    printf '%s\n' "$dest" >>"$GITHUB_PATH"
  fi
  set_output vetted-path "$dest/vetted"
  set_output vetted-version "$version"
  log "installed $reported ($target) at $dest/vetted"
}

case "${INSTALL:-release}" in
  release | true) install_release ;;
  source) install_source ;;
  false) log "install: false: using the vetted on PATH" ;;
  *) die "install '${INSTALL}' is not one of release, source or false" ;;
esac
