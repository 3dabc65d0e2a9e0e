#!/usr/bin/env bash
# Entry point of the vetted action's shell step: `run.sh plan|apply|drift|update`.
#   plan   (pull_request) validate, lock --locked, saved plan; sticky PR comment, job summary,
#          plan files for the artifact. Fork pull requests (no secrets) get the offline checks only.
#   apply  (push to main) saved plan to the job summary, then apply exactly that plan.
#   drift  (schedule) plan --detailed-exitcode; opens/updates one issue, closes it when in sync.
#   update (schedule) lock --upgrade; a branch and one pull request listing the moved digests.
# Inputs come from the environment (set by action.yml): POLICY, WORK_DIR, DRIFT_LABEL,
# UPDATE_BRANCH, BASE_BRANCH, FAIL_ON_DRIFT, plus GitHub's GITHUB_* variables.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

POLICY="${POLICY:-vetted.toml}"
[ -f "$POLICY" ] || die "policy file '$POLICY' not found (set the action's 'policy' input)"
WORK_DIR="${WORK_DIR:-${RUNNER_TEMP:-/tmp}/vetted}"
mkdir -p "$WORK_DIR"
ORG=$(policy_org)
ORG="${ORG:-unknown}"

fence() { # fence FILE: prints FILE inside a fenced code block
  printf '```\n'
  cat "$1"
  printf '```\n'
}

# is_fork_pr: the event is a pull request whose head lives in another repository.
is_fork_pr() {
  [ -n "${GITHUB_EVENT_PATH:-}" ] && [ -f "$GITHUB_EVENT_PATH" ] || return 1
  jq -e '(.pull_request.head.repo.full_name // "") as $h
         | (.pull_request.base.repo.full_name // "") as $b
         | .pull_request != null and ($h != $b or (.pull_request.head.repo.fork // false))' \
    "$GITHUB_EVENT_PATH" >/dev/null
}

pr_number() {
  jq -r '.pull_request.number // .number // empty' "$GITHUB_EVENT_PATH" 2>/dev/null || true
}

# ---------------------------------------------------------------------------------------------
mode_plan() {
  local summary="$WORK_DIR/summary.md" out="$WORK_DIR/checks.out" marker number body
  marker="<!-- vetted:plan org=$ORG -->"
  number=$(pr_number)
  : >"$summary"
  : >"$out"

  local checks_ok=true
  if ! vetted_validate >>"$out" 2>&1; then
    checks_ok=false
  elif ! vetted_lock_check >>"$out" 2>&1; then
    checks_ok=false
  fi
  cat "$out" >&2

  if is_fork_pr || [ -z "${DOCKERHUB_TOKEN:-}" ]; then
    set_output mode validate-only
    {
      printf '# vetted: validate-only\n\n'
      if is_fork_pr; then
        printf 'This pull request comes from a fork, so the Docker Hub credentials are not available to it. '
      else
        printf 'No Docker Hub token is configured (DOCKERHUB_TOKEN), so the live organization was not read. '
      fi
      printf 'Only the offline checks ran (`vetted validate`, `vetted lock --locked`); no plan was computed. '
      printf 'A maintainer can push the branch to this repository to get the plan.\n\n'
      if $checks_ok; then printf 'Offline checks passed.\n'; else
        printf 'Offline checks **failed**:\n\n'
        fence "$out"
      fi
    } >"$summary"
    summary_write "$summary"
    printf '::notice::vetted: validate-only run (no Docker Hub credentials for this pull request); see the job summary\n' >&2
    $checks_ok || die "validation failed"
    return 0
  fi
  set_output mode plan

  if ! $checks_ok; then
    {
      printf '%s\n# vetted plan: checks failed\n\n' "$marker"
      printf 'The policy did not pass `vetted validate` / `vetted lock --locked`; no plan was computed.\n\n'
      fence "$out"
    } >"$WORK_DIR/comment.md"
    summary_write "$WORK_DIR/comment.md"
    post_plan_comment "$number" "$marker" "$WORK_DIR/comment.md" || true
    die "validation failed"
  fi

  local plan="$WORK_DIR/plan.json" rendered="$WORK_DIR/plan.md"
  if ! vetted_plan_save "$plan" >"$WORK_DIR/plan.txt" 2>"$WORK_DIR/plan.err"; then
    cat "$WORK_DIR/plan.err" >&2
    {
      printf '%s\n# vetted plan failed\n\n' "$marker"
      fence "$WORK_DIR/plan.err"
    } >"$WORK_DIR/comment.md"
    summary_write "$WORK_DIR/comment.md"
    post_plan_comment "$number" "$marker" "$WORK_DIR/comment.md" || true
    die "vetted plan failed"
  fi
  cat "$WORK_DIR/plan.err" >&2
  vetted_show "$plan" markdown >"$rendered" || die "vetted show failed"
  vetted_show "$plan" json >"$WORK_DIR/plan-report.json" || die "vetted show failed"
  set_output plan-file "$plan"
  set_output artifact-dir "$WORK_DIR"

  # The comment starts with vetted's own marker; older output without one gets ours.
  body="$WORK_DIR/comment.md"
  if head -n 1 "$rendered" | grep -q '^<!-- vetted:plan'; then
    marker=$(head -n 1 "$rendered")
    cp "$rendered" "$body"
  else
    { printf '%s\n' "$marker"; cat "$rendered"; } >"$body"
  fi
  {
    cat "$body"
    printf '\n<details><summary>Full plan (text)</summary>\n\n'
    fence "$WORK_DIR/plan.txt"
    printf '\n</details>\n'
  } >"$summary"
  summary_write "$summary"
  post_plan_comment "$number" "$marker" "$body" || die "could not post the plan comment"
}

# post_plan_comment NUMBER MARKER FILE: one sticky comment per pull request.
post_plan_comment() {
  local number=$1 marker=$2 file=$3 limited id
  if [ -z "$number" ] || ! have_github_token; then
    log "no pull request number or GITHUB_TOKEN: not commenting"
    return 0
  fi
  limited="$WORK_DIR/comment.limited.md"
  truncate_to "$file" "$BODY_LIMIT" \
    "> **Truncated** to fit a comment: the full plan is in the job summary and the \`vetted-plan\` artifact." \
    >"$limited"
  id=$(upsert_comment "$number" "$marker" "$limited") || return 1
  set_output comment-id "$id"
}

# ---------------------------------------------------------------------------------------------
mode_apply() {
  local plan="$WORK_DIR/plan.json" summary="$WORK_DIR/summary.md" rc=0
  if ! vetted_plan_save "$plan" >"$WORK_DIR/plan.txt" 2>"$WORK_DIR/plan.err"; then
    cat "$WORK_DIR/plan.err" >&2
    { printf '# vetted plan failed: nothing applied\n\n'; fence "$WORK_DIR/plan.err"; } >"$summary"
    summary_write "$summary"
    die "vetted plan failed"
  fi
  cat "$WORK_DIR/plan.err" >&2
  set_output plan-file "$plan"
  set_output artifact-dir "$WORK_DIR"
  vetted_show "$plan" markdown >"$WORK_DIR/plan.md" || die "vetted show failed"
  vetted_apply_saved "$plan" >"$WORK_DIR/apply.out" 2>&1 || rc=$?
  cat "$WORK_DIR/apply.out" >&2
  {
    cat "$WORK_DIR/plan.md"
    if [ "$rc" -eq 0 ]; then printf '\n## Apply: done\n\n'; else printf '\n## Apply: FAILED (exit %s)\n\n' "$rc"; fi
    fence "$WORK_DIR/apply.out"
  } >"$summary"
  summary_write "$summary"
  [ "$rc" -eq 0 ] || die "vetted apply failed (exit $rc)"
}

# ---------------------------------------------------------------------------------------------
mode_drift() {
  local out="$WORK_DIR/drift.md" rc=0 marker label id body req title
  label="${DRIFT_LABEL:-vetted-drift}"
  marker="<!-- vetted:drift org=$ORG -->"
  title="vetted: organization $ORG drifted from the policy"
  vetted_plan_drift >"$out" || rc=$?
  case "$rc" in
    0 | 2) ;;
    *) die "vetted plan failed (exit $rc)" ;;
  esac
  have_github_token || die "GITHUB_TOKEN and GITHUB_REPOSITORY are needed to manage the drift issue"
  id=$(gh_api GET "/repos/$GITHUB_REPOSITORY/issues?state=open&labels=$(uri "$label")&per_page=100" |
    jq -r --arg m "$marker" '[.[] | select(.pull_request == null and ((.body // "") | startswith($m)))][0].number // empty')
  req="$WORK_DIR/drift.req.json"
  if [ "$rc" -eq 0 ]; then
    set_output drifted false
    printf '# vetted drift check: in sync\n\nThe organization %s matches the policy.\n' "$ORG" >"$WORK_DIR/summary.md"
    summary_write "$WORK_DIR/summary.md"
    if [ -n "$id" ]; then
      printf 'Back in sync with the policy (%s).\n' "$(run_url)" >"$WORK_DIR/close.md"
      json_body "$req" '{body: $b}' --rawfile b "$WORK_DIR/close.md"
      gh_api POST "/repos/$GITHUB_REPOSITORY/issues/$id/comments" "$req" >/dev/null
      json_body "$req" '{state: "closed", state_reason: "completed"}'
      gh_api PATCH "/repos/$GITHUB_REPOSITORY/issues/$id" "$req" >/dev/null
      log "closed drift issue #$id"
    fi
    return 0
  fi

  set_output drifted true
  body="$WORK_DIR/drift.body.md"
  {
    printf '%s\n' "$marker"
    printf 'The live organization differs from the policy (found by %s). Either apply the policy ' "$(run_url)"
    printf '(re-run the apply workflow) or change the policy to match. This issue closes itself once the '
    printf 'organization is back in sync.\n\n'
    cat "$out"
  } >"$WORK_DIR/drift.full.md"
  truncate_to "$WORK_DIR/drift.full.md" "$BODY_LIMIT" \
    "> **Truncated**: the full plan is in the job summary of the run above." >"$body"
  summary_write "$WORK_DIR/drift.full.md"
  if [ -n "$id" ]; then
    json_body "$req" '{title: $t, body: $b}' --arg t "$title" --rawfile b "$body"
    gh_api PATCH "/repos/$GITHUB_REPOSITORY/issues/$id" "$req" >/dev/null
    log "updated drift issue #$id"
  else
    json_body "$req" '{title: $t, body: $b, labels: [$l]}' --arg t "$title" --arg l "$label" --rawfile b "$body"
    id=$(gh_api POST "/repos/$GITHUB_REPOSITORY/issues" "$req" | jq -r '.number')
    log "opened drift issue #$id"
  fi
  set_output issue "$id"
  if [ "${FAIL_ON_DRIFT:-false}" = true ]; then
    die "the organization drifted from the policy (issue #$id)"
  fi
}

run_url() {
  if [ -n "${GITHUB_RUN_ID:-}" ]; then
    printf '%s/%s/actions/runs/%s' "${GITHUB_SERVER_URL:-https://github.com}" "${GITHUB_REPOSITORY:-}" "$GITHUB_RUN_ID"
  else
    printf 'a scheduled check'
  fi
}

# ---------------------------------------------------------------------------------------------
# lock_entries FILE: "repository:tag<TAB>digest" for every [[image]] of a vetted.lock, sorted.
lock_entries() {
  [ -f "$1" ] || return 0
  awk '
    function val(s) { sub(/^[^=]*=[ \t]*"/, "", s); sub(/".*$/, "", s); return s }
    function flush() { if (repo != "") print repo ":" tag "\t" digest; repo = ""; tag = ""; digest = "" }
    /^[ \t]*\[/ { flush(); next }
    /^[ \t]*repository[ \t]*=/ { repo = val($0) }
    /^[ \t]*tag[ \t]*=/ { tag = val($0) }
    /^[ \t]*digest[ \t]*=/ { digest = val($0) }
    END { flush() }
  ' "$1" | LC_ALL=C sort
}

short_digest() { # sha256:<64 hex> -> sha256:<12 hex>
  local d=$1
  case "$d" in
    *:*) printf '%s:%s' "${d%%:*}" "$(printf '%s' "${d#*:}" | cut -c1-12)" ;;
    *) printf '%s' "$d" ;;
  esac
}

# lock_changes OLD NEW: markdown list of the digests that changed between two lock files.
lock_changes() {
  local old new
  old=$(mktemp)
  new=$(mktemp)
  lock_entries "$1" >"$old"
  lock_entries "$2" >"$new"
  LC_ALL=C join -t "$(printf '\t')" -a 1 -a 2 -e '-' -o 0,1.2,2.2 "$old" "$new" |
    while IFS="$(printf '\t')" read -r image before after; do
      [ "$before" = "$after" ] && continue
      if [ "$before" = - ]; then
        printf -- '- `%s` added: %s\n' "$image" "$(short_digest "$after")"
      elif [ "$after" = - ]; then
        printf -- '- `%s` removed (was %s)\n' "$image" "$(short_digest "$before")"
      else
        printf -- '- `%s` %s -> %s\n' "$image" "$(short_digest "$before")" "$(short_digest "$after")"
      fi
    done
  rm -f "$old" "$new"
}

mode_update() {
  local lock before changes branch base marker body req number title
  lock="$(dirname "$POLICY")/vetted.lock"
  before="$WORK_DIR/vetted.lock.before"
  if [ -f "$lock" ]; then cp "$lock" "$before"; else : >"$before"; fi
  vetted_lock_upgrade || die "vetted lock --upgrade failed"
  if cmp -s "$before" "$lock"; then
    set_output changed false
    printf '# vetted update check\n\nvetted.lock is up to date: no upstream tag moved.\n' >"$WORK_DIR/summary.md"
    summary_write "$WORK_DIR/summary.md"
    return 0
  fi
  set_output changed true
  changes="$WORK_DIR/changes.md"
  lock_changes "$before" "$lock" >"$changes"
  branch="${UPDATE_BRANCH:-vetted/lock-update}"
  base="${BASE_BRANCH:-}"
  if [ -z "$base" ] && [ -n "${GITHUB_EVENT_PATH:-}" ] && [ -f "$GITHUB_EVENT_PATH" ]; then
    base=$(jq -r '.repository.default_branch // empty' "$GITHUB_EVENT_PATH")
  fi
  base="${base:-${GITHUB_REF_NAME:-main}}"
  marker="<!-- vetted:update org=$ORG -->"
  title="vetted: upstream updates for $ORG"
  body="$WORK_DIR/update.body.md"
  {
    printf '%s\n' "$marker"
    printf '`vetted lock --upgrade` found upstream tags that moved. Merging mirrors these digests; '
    printf 'review each one (release notes, scan results) before approving.\n\n'
    cat "$changes"
  } >"$WORK_DIR/update.full.md"
  truncate_to "$WORK_DIR/update.full.md" "$BODY_LIMIT" "> **Truncated**: see the diff of vetted.lock." >"$body"
  summary_write "$WORK_DIR/update.full.md"

  # The branch holds exactly one commit on top of the checked-out base: re-runs replace it.
  git add -- "$lock"
  git -c user.name="${GIT_USER_NAME:-github-actions[bot]}" \
    -c user.email="${GIT_USER_EMAIL:-41898282+github-actions[bot]@users.noreply.github.com}" \
    commit --quiet -m "Update vetted.lock: upstream tags moved" -m "$(cat "$changes")" -- "$lock" ||
    die "git commit of $lock failed"
  git push --quiet --force origin "HEAD:refs/heads/$branch" || die "git push of $branch failed"

  have_github_token || die "GITHUB_TOKEN and GITHUB_REPOSITORY are needed to open the pull request"
  req="$WORK_DIR/update.req.json"
  number=$(gh_api GET "/repos/$GITHUB_REPOSITORY/pulls?state=open&head=$(uri "${GITHUB_REPOSITORY%%/*}:$branch")&per_page=100" |
    jq -r --arg b "$branch" '[.[] | select(.head.ref == $b)][0].number // empty')
  if [ -n "$number" ]; then
    json_body "$req" '{title: $t, body: $b}' --arg t "$title" --rawfile b "$body"
    gh_api PATCH "/repos/$GITHUB_REPOSITORY/pulls/$number" "$req" >/dev/null
    log "updated pull request #$number"
  else
    json_body "$req" '{title: $t, head: $h, base: $base, body: $b}' \
      --arg t "$title" --arg h "$branch" --arg base "$base" --rawfile b "$body"
    number=$(gh_api POST "/repos/$GITHUB_REPOSITORY/pulls" "$req" | jq -r '.number')
    log "opened pull request #$number"
  fi
  set_output pull-request "$number"
}

case "${1:-}" in
  plan) mode_plan ;;
  apply) mode_apply ;;
  drift) mode_drift ;;
  update) mode_update ;;
  *) die "usage: run.sh plan|apply|drift|update (got '${1:-}')" ;;
esac
