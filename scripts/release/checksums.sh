#!/usr/bin/env bash
# Writes DIR/SHA256SUMS for the release archives in DIR (vetted-<version>-<target>.tar.gz) and checks
# it with `sha256sum -c`. With --complete, every target of a release must be there, all of one
# version (the release workflow passes it; a local build of the host target does not). Every
# archive must be of the version in Cargo.toml.
#   bash scripts/release/checksums.sh [--complete] DIR
set -euo pipefail
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

complete=false
if [ "${1:-}" = --complete ]; then
  complete=true
  shift
fi
[ "$#" -eq 1 ] || fail "usage: checksums.sh [--complete] DIR"
dir=$1
[ -d "$dir" ] || fail "$dir is not a directory"
cd "$dir"
shopt -s nullglob
archives=(vetted-*.tar.gz)
[ "${#archives[@]}" -gt 0 ] || fail "no vetted-<version>-<target>.tar.gz in $dir (run scripts/release/build.sh first)"

version=$(cargo_version)
for a in "${archives[@]}"; do
  case "$a" in
    "vetted-$version-"*) ;;
    *) fail "$a is not of version $version (Cargo.toml): remove it from $dir" ;;
  esac
done
if $complete; then
  for t in "${RELEASE_TARGETS[@]}"; do
    [ -f "$(archive_name "$version" "$t")" ] || fail "$(archive_name "$version" "$t") is missing from $dir"
  done
fi

: >"$SUMS_NAME.part"
for a in "${archives[@]}"; do
  printf '%s  %s\n' "$(sha256_of "$a")" "$a" >>"$SUMS_NAME.part"
done
mv "$SUMS_NAME.part" "$SUMS_NAME"
if command -v sha256sum >/dev/null 2>&1; then
  sha256sum -c --quiet "$SUMS_NAME"
else
  shasum -a 256 -c --quiet "$SUMS_NAME"
fi
note "wrote $dir/$SUMS_NAME (${#archives[@]} archives)"
cat "$SUMS_NAME"
