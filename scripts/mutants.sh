#!/usr/bin/env bash
# Mutation testing of the guards and the saved-plan format: runs cargo-mutants on
# src/plan/safety.rs (mass-deletion guard, last owner, identity, owner for mirroring) and
# src/plan/saved.rs (saved-plan file, fingerprints, staleness, the recomputed-plan comparison),
# with the unit tests only (`--cargo-arg=--lib`: builds and runs `cargo test --lib`, fast, no
# sandbox, no registry). Every mutant that
# survives is a change to a guard that no test notices: add the test that kills it.
#
# Installs cargo-mutants from the crate registry when missing (`cargo install --locked`).
# Extra arguments go to cargo-mutants, e.g. `scripts/mutants.sh --list` (what it would try) or
# `scripts/mutants.sh --in-place` (mutate this tree and reuse its target/ instead of building a copy
# from scratch; do not edit the tree meanwhile). Results land in mutants.out/ (missed.txt lists the
# survivors). Slow (one build and test run per mutant), so not part of .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! cargo mutants --version >/dev/null 2>&1; then
  cargo install --locked cargo-mutants
fi
exec cargo mutants \
  --file src/plan/safety.rs \
  --file src/plan/saved.rs \
  --cargo-arg=--lib \
  "$@"
