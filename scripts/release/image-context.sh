#!/usr/bin/env bash
# Lays out the build context of the container image (the Dockerfile at the repository root) from
# checked release archives: DIST/SHA256SUMS must match (sha256sum -c), then the static Linux
# binaries are unpacked as OUT/linux/amd64/vetted and OUT/linux/arm64/vetted (the Dockerfile's
# COPY ${TARGETPLATFORM}/vetted), with the Dockerfile beside them:
#   bash scripts/release/image-context.sh DIST OUT
#   docker buildx build --platform linux/amd64,linux/arm64 -t vetted OUT
# A platform whose archive is not in DIST is left out (a local build has the host's only).
set -euo pipefail
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

[ "$#" -eq 2 ] || fail "usage: image-context.sh DIST OUT"
dist=$(cd "$1" && pwd) out=$2
[ -f "$dist/$SUMS_NAME" ] || fail "$dist/$SUMS_NAME is missing (run scripts/release/checksums.sh first)"
(cd "$dist" && sha256sum -c --quiet "$SUMS_NAME") || fail "$dist/$SUMS_NAME does not match the archives: refusing to build an image from them"
version=$(cargo_version)
mkdir -p "$out"
out=$(cd "$out" && pwd)
found=0
for pair in x86_64-unknown-linux-musl:amd64 aarch64-unknown-linux-musl:arm64; do
  target=${pair%%:*} arch=${pair##*:}
  name=$(archive_name "$version" "$target")
  [ -f "$dist/$name" ] || continue
  grep -q "  $name\$" "$dist/$SUMS_NAME" || fail "$name is not listed in $dist/$SUMS_NAME"
  rm -rf "$out/linux/$arch"
  mkdir -p "$out/linux/$arch"
  tar -xzf "$dist/$name" -C "$out/linux/$arch" --strip-components 1 "vetted-$version-$target/vetted"
  { [ -f "$out/linux/$arch/vetted" ] && [ ! -L "$out/linux/$arch/vetted" ]; } || fail "$name holds no regular vetted binary"
  note "linux/$arch: $name"
  found=$((found + 1))
done
[ "$found" -gt 0 ] || fail "no Linux release archive (vetted-$version-*-linux-musl.tar.gz) in $dist"
cp "$RELEASE_ROOT/Dockerfile" "$out/Dockerfile"
note "image context in $out ($found platforms)"
