#!/usr/bin/env bash
# Packages a built vetted binary as OUT_DIR/vetted-<version>-<target>.tar.gz: one directory of the
# same name holding `vetted` and README.md. Prints the archive's path.
#   bash scripts/release/package.sh BINARY VERSION TARGET OUT_DIR
# Called by build.sh; the tests also package the binary they built with it.
set -euo pipefail
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

[ "$#" -eq 4 ] || fail "usage: package.sh BINARY VERSION TARGET OUT_DIR"
bin=$1 version=$2 target=$3 out=$4
{ [ -f "$bin" ] && [ -x "$bin" ]; } || fail "$bin is not an executable file"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?$ ]] || fail "'$version' is not a version like 1.2.3"
[[ "$target" =~ ^[a-z0-9_]+(-[a-z0-9_]+){2,3}$ ]] || fail "'$target' is not a target triple"

name="vetted-$version-$target"
mkdir -p "$out"
out=$(cd "$out" && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir "$stage/$name"
cp "$bin" "$stage/$name/vetted"
chmod 0755 "$stage/$name/vetted"
cp "$RELEASE_ROOT/README.md" "$stage/$name/README.md"
chmod 0644 "$stage/$name/README.md"
# GNU tar (Linux runners) can drop the builder's user and sort; bsdtar (macOS) takes the plain form.
tar_args=()
if tar --version 2>/dev/null | grep -q 'GNU tar'; then
  tar_args=(--sort=name --owner=0 --group=0 --numeric-owner)
fi
tar "${tar_args[@]}" -czf "$out/$name.tar.gz.part" -C "$stage" "$name"
mv "$out/$name.tar.gz.part" "$out/$name.tar.gz"
printf '%s\n' "$out/$name.tar.gz"
