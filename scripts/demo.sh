#!/usr/bin/env bash
# The main job, on a fresh machine: build vetted, start the local Docker Hub sandbox (hub API and a
# real registry seeded with community images) with the demo organization, then validate, lock, plan,
# apply (mirroring the vetted community images into the organization, with progress) and plan again
# (which must show no changes) using policy.example.toml; finally skopeo, an independent client,
# checks every mirrored tag against its source. Everything runs on loopback; the sandbox is stopped
# on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cargo build --locked --quiet
VETTED=target/debug/vetted

work="$(mktemp -d)"
sandbox_pid=""
cleanup() {
  if [ -n "$sandbox_pid" ]; then kill "$sandbox_pid" 2>/dev/null || true; wait "$sandbox_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

"$VETTED" sandbox --port 0 --seed sandbox/demo-seed.toml --state "$work/state.json" >"$work/url" 2>"$work/sandbox.log" &
sandbox_pid=$!
# Two lines when ready: the hub API URL, then the registry URL (the registry seeds its images first).
for _ in $(seq 1 600); do
  [ "$(wc -l <"$work/url")" -ge 2 ] && break
  kill -0 "$sandbox_pid" 2>/dev/null || { cat "$work/sandbox.log" >&2; exit 1; }
  sleep 0.1
done
[ "$(wc -l <"$work/url")" -ge 2 ] || { echo "the sandbox did not start within 60 s" >&2; cat "$work/sandbox.log" >&2; exit 1; }

# The sandbox's demo owner (a fake credential that exists only in sandbox/demo-seed.toml).
export VETTED_HUB_URL="$(sed -n 1p "$work/url")"
# docker.io references (the community images and the organization's repositories) go to the sandbox.
export VETTED_DOCKER_IO_REGISTRY="$(sed -n 2p "$work/url")"
export DOCKERHUB_USERNAME=alice
export DOCKERHUB_TOKEN=sandbox-alice-token

# vetted lock writes vetted.lock beside the policy: work on a copy, not the repository's file.
policy="$work/vetted.toml"
cp policy.example.toml "$policy"

echo "== vetted validate" >&2
"$VETTED" validate --policy "$policy"
echo "== vetted lock" >&2
"$VETTED" lock --policy "$policy"
echo "== vetted plan --locked" >&2
"$VETTED" plan --policy "$policy" --locked
echo "== vetted apply --locked --yes" >&2
"$VETTED" apply --policy "$policy" --locked --yes
echo "== vetted plan --locked --detailed-exitcode (expect no changes)" >&2
"$VETTED" plan --policy "$policy" --locked --detailed-exitcode

echo "== skopeo inspect --raw: every mirrored tag against its source" >&2
registry="${VETTED_DOCKER_IO_REGISTRY#http://}"
registry="${registry%/}"
raw() { skopeo inspect --raw --tls-verify=false --creds alice:sandbox-alice-token "docker://$registry/$1"; }
digest() { raw "$1" | sha256sum | awk '{print "sha256:" $1}'; }
checked=0
# vetted.lock lists repository, tag, source and digest per [[image]].
while read -r repo tag source locked; do
  src="${source#docker.io/}:$tag"
  dst="acme/$repo:$tag"
  [ "$(digest "$src")" = "$locked" ] || { echo "$src is not at the locked digest $locked" >&2; exit 1; }
  mirrored="$(digest "$dst")"
  if [ "$mirrored" = "$locked" ]; then
    echo "  $dst = $src ($mirrored)" >&2
  else
    # A platform-filtered mirror is a new index: each of its children must be the source's, byte for byte.
    for child in $(raw "$dst" | jq -r '.manifests[].digest'); do
      raw "$src" | jq -e --arg d "$child" '[.manifests[].digest] | index($d) != null' >/dev/null \
        || { echo "$dst lists $child, which $src does not" >&2; exit 1; }
      [ "$(digest "${dst%%:*}@$child")" = "$child" ] || { echo "$dst: child $child differs" >&2; exit 1; }
    done
    echo "  $dst = platforms of $src (new index $mirrored)" >&2
  fi
  checked=$((checked + 1))
done < <(awk -F' = ' '
  /^repository = / {r=$2} /^tag = / {t=$2} /^source = / {s=$2}
  /^digest = / {d=$2; gsub(/"/, "", r); gsub(/"/, "", t); gsub(/"/, "", s); gsub(/"/, "", d); print r, t, s, d}
' "$work/vetted.lock")
[ "$checked" -gt 0 ] || { echo "no mirrored tag was checked" >&2; exit 1; }
echo "demo complete: the sandbox organization matches policy.example.toml; $checked mirrored tag(s) verified with skopeo" >&2
