#!/usr/bin/env bash
# Builds vetted for one target and packages it (package.sh) as
# OUT_DIR/vetted-<version>-<target>.tar.gz. The release workflow runs it once per target; it runs
# the same way locally (default: the host's target, release profile, ./dist):
#   bash scripts/release/build.sh [--target TRIPLE] [--profile release|dev] [--tag vX.Y.Z] [--out DIR]
# CARGO_TARGET_DIR is honoured (the tests build in their own, apart from the binary they test).
# --tag (the release workflow passes the pushed tag) refuses a tag other than v<Cargo.toml version>.
# Linux targets are *-linux-musl: built with musl-gcc for the C parts (aws-lc), the binary is
# static and is checked to be (no ELF interpreter). A binary this machine can run must report
# `vetted <version>`.
set -euo pipefail
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

target="" profile=release tag="" out="$RELEASE_ROOT/dist"
while [ "$#" -gt 0 ]; do
  case "$1" in
    --target) target=${2:?--target needs a triple}; shift ;;
    --profile) profile=${2:?--profile needs a name}; shift ;;
    --tag) tag=${2:?--tag needs a tag}; shift ;;
    --out) out=${2:?--out needs a directory}; shift ;;
    *) fail "unknown argument '$1' (usage: build.sh [--target TRIPLE] [--profile NAME] [--tag vX.Y.Z] [--out DIR])" ;;
  esac
  shift
done

version=$(cargo_version)
if [ -n "$tag" ] && [ "$tag" != "v$version" ]; then
  fail "tag '$tag' does not match the version in Cargo.toml ($version): tag v$version, or bump Cargo.toml first"
fi
host=$(host_triple)
target=${target:-$host}
[[ "$target" =~ ^[a-z0-9_]+(-[a-z0-9_]+){2,3}$ ]] || fail "'$target' is not a target triple"

args=(build --locked --bin vetted --profile "$profile")
case "$profile" in
  dev) profile_dir=debug ;;
  *) profile_dir=$profile ;;
esac
target_dir=${CARGO_TARGET_DIR:-$RELEASE_ROOT/target}
if [ "$target" = "$host" ]; then
  bin="$target_dir/$profile_dir/vetted"
else
  args+=(--target "$target")
  bin="$target_dir/$target/$profile_dir/vetted"
fi
case "$target" in
  *-linux-musl)
    # aws-lc's C code must be compiled against musl, not the runner's glibc headers.
    if command -v musl-gcc >/dev/null 2>&1; then
      cc_var="CC_${target//-/_}"
      export "$cc_var=${!cc_var:-musl-gcc}"
    else
      note "musl-gcc not found (Debian/Ubuntu: apt-get install musl-tools); building with the default C compiler"
    fi
    ;;
esac

# Shipped binaries keep symbol names (backtraces name functions) but not the line tables of the
# release profile: 83 MB becomes 18 MB on x86_64 Linux.
if [ "$profile" = release ]; then
  export CARGO_PROFILE_RELEASE_STRIP="${CARGO_PROFILE_RELEASE_STRIP:-debuginfo}"
fi
note "building vetted $version for $target ($profile profile)"
(cd "$RELEASE_ROOT" && cargo "${args[@]}")
[ -x "$bin" ] || fail "cargo did not produce $bin"

case "$target" in
  *-linux-musl)
    if command -v readelf >/dev/null 2>&1; then
      if readelf -lW "$bin" | grep -q 'Requesting program interpreter'; then
        fail "$bin is dynamically linked; a $target release must be static"
      fi
    fi
    ;;
esac

# Run the binary when this machine can: same architecture and OS.
arch=$(uname -m)
[ "$arch" = arm64 ] && arch=aarch64
os=$(uname -s | tr '[:upper:]' '[:lower:]')
case "$target" in
  "$arch"-*-"$os"*)
    reported=$("$bin" --version)
    [ "$reported" = "vetted $version" ] || fail "$bin --version says '$reported', not 'vetted $version'"
    note "$bin --version: $reported"
    ;;
esac

bash "$(dirname "${BASH_SOURCE[0]}")/package.sh" "$bin" "$version" "$target" "$out"
