#!/usr/bin/env bash
# The main job, on a fresh machine: build vetted, start the local Docker Hub sandbox seeded with the
# demo organization, then validate, plan, apply and plan again (which must show no changes) using
# policy.example.toml. Everything runs on loopback; the sandbox is stopped on exit.
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
for _ in $(seq 1 100); do
  [ -s "$work/url" ] && break
  kill -0 "$sandbox_pid" 2>/dev/null || { cat "$work/sandbox.log" >&2; exit 1; }
  sleep 0.1
done
[ -s "$work/url" ] || { echo "the sandbox did not start within 10 s" >&2; cat "$work/sandbox.log" >&2; exit 1; }

# The sandbox's demo owner (a fake credential that exists only in sandbox/demo-seed.toml).
export VETTED_HUB_URL="$(head -n1 "$work/url")"
export DOCKERHUB_USERNAME=alice
export DOCKERHUB_TOKEN=sandbox-alice-token

echo "== vetted validate" >&2
"$VETTED" validate --policy policy.example.toml
echo "== vetted plan" >&2
"$VETTED" plan --policy policy.example.toml
echo "== vetted apply --yes" >&2
"$VETTED" apply --policy policy.example.toml --yes
echo "== vetted plan --detailed-exitcode (expect no changes)" >&2
"$VETTED" plan --policy policy.example.toml --detailed-exitcode
echo "demo complete: the sandbox organization matches policy.example.toml" >&2
