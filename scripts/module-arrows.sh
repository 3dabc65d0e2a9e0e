#!/bin/sh
# Prints, for each top-level module of src/, the other top-level modules its non-test code names
# as `crate::X` (one line per module: `plan -> model`). Run by hand to check the import graph, e.g.
# that src/plan/ reaches nothing but the model: sh scripts/module-arrows.sh | grep '^plan '
set -eu
cd "$(dirname "$0")/../src"
for entry in *; do
  m=${entry%.rs}
  [ "$m" = main ] && continue
  [ "$entry" != "$m.rs" ] && [ -f "$m.rs" ] && continue
  files=$(find "$m" "$m.rs" -name '*.rs' 2>/dev/null || true)
  targets=$(for f in $files; do awk '/^#\[cfg\(test\)\]/{exit} {print}' "$f"; done \
    | grep -v '^[[:space:]]*//' | grep -o 'crate::[a-z_]*' | sed 's/crate:://' \
    | sort -u | grep -vx "$m" | tr '\n' ' ' || true)
  echo "$m -> $targets"
done
