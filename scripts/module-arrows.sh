#!/bin/sh
# Prints, for each top-level module of src/, the other top-level modules its non-test code names
# as `crate::X` (one line per module: `plan -> model`). Test code is left out: a module's
# `tests.rs` files and whatever follows the first `#[cfg(test)]` of a file.
#
# With --check, prints nothing on success and fails (exit 1, naming the arrows) when the import
# graph holds a circle or when src/plan/ names src/policy/ or src/hub/ (the plan is pure data over
# the model). tests/it/imports.rs runs the check, so `cargo nextest run` keeps it fixed.
set -eu
check=false
[ "${1:-}" = --check ] && check=true
cd "$(dirname "$0")/../src"

arrows() {
  for entry in *; do
    m=${entry%.rs}
    [ "$m" = main ] && continue
    [ "$entry" != "$m.rs" ] && [ -f "$m.rs" ] && continue
    files=$(find "$m" "$m.rs" -name '*.rs' ! -name tests.rs ! -path '*/tests/*' 2>/dev/null || true)
    targets=$(for f in $files; do awk '/^#\[cfg\(test\)\]/{exit} {print}' "$f"; done \
      | grep -v '^[[:space:]]*//' | grep -o 'crate::[a-z_]*' | sed 's/crate:://' \
      | sort -u | grep -vx "$m" | tr '\n' ' ' || true)
    echo "$m -> $targets"
  done
}

if ! $check; then
  arrows
  exit 0
fi

graph=$(arrows)
status=0
# tsort names the modules of a circle on stderr and fails when there is one.
pairs=$(echo "$graph" | awk '{ print $1, $1; for (i = 3; i <= NF; i++) print $1, $i }')
if ! loop=$(echo "$pairs" | tsort 2>&1 >/dev/null); then
  echo "the modules of src/ import each other in a circle:" >&2
  echo "$loop" | awk '/input contains a loop/ { if (c) print "  " c; c = ""; next }
    { sub(/^tsort: /, ""); c = c ? c " -> " $0 : $0 } END { if (c) print "  " c }' >&2
  echo "the arrows (module -> what it names):" >&2
  echo "$graph" | sed 's/^/  /' >&2
  echo "move the shared type or function to the module that owns it (often model.rs or a small leaf module)" >&2
  status=1
fi
plan=$(echo "$graph" | awk '$1 == "plan"')
for forbidden in policy hub; do
  if echo "$plan" | tr ' ' '\n' | grep -qx "$forbidden"; then
    echo "src/plan/ names crate::$forbidden ($plan): the plan works on the model only" >&2
    status=1
  fi
done
exit $status
