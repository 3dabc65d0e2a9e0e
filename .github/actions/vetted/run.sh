#!/usr/bin/env bash
# Entry point of the vetted action's shell step: `run.sh plan|apply|drift|update`.
#   plan   (pull_request) validate, lock --locked, saved plan; sticky PR comment, job summary,
#          plan files for the artifact. Fork pull requests (no secrets) get the offline checks and
#          a plan against the newest snapshot the drift or apply workflow saved (never applied).
#   apply  (push to main) finds the plan the merged pull request's plan job saved (its artifact),
#          prints it to the job summary and applies exactly that plan; vetted refuses it when it
#          went stale. The result comes from vetted's JSON apply report (apply.json). PLAN_SOURCE=file applies PLAN_FILE (a plan an earlier job of the run saved
#          and the environment's reviewers approved); PLAN_SOURCE=fresh plans now and applies that.
#   drift  (schedule) plan --detailed-exitcode --drift (drift left alone counts); opens/updates one
#          issue, closes it when in sync. Drift and apply also save a snapshot of the organization
#          (the vetted-snapshot artifact) for fork pull requests.
#   update (schedule) lock --upgrade; a branch and one pull request listing the moved digests.
# Inputs come from the environment (set by action.yml): POLICY, WORK_DIR, PLAN_SOURCE, PLAN_FILE,
# PULL_REQUEST, DRIFT_LABEL, UPDATE_BRANCH, BASE_BRANCH, FAIL_ON_DRIFT, plus GitHub's GITHUB_*
# variables.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

POLICY="${POLICY:-vetted.toml}"
PLAN_WORKFLOW="${PLAN_WORKFLOW:-.github/workflows/vetted-plan.yml}"
PLAN_WORKFLOW="${PLAN_WORKFLOW#./}"
SNAPSHOT_ARTIFACT="${SNAPSHOT_ARTIFACT:-vetted-snapshot}"
SNAPSHOT_WORKFLOWS="${SNAPSHOT_WORKFLOWS:-.github/workflows/vetted-drift.yml .github/workflows/vetted-apply.yml}"
[ -f "$POLICY" ] || die "policy file '$POLICY' not found (set the action's 'policy' input)"
WORK_DIR="${WORK_DIR:-${RUNNER_TEMP:-/tmp}/vetted}"
mkdir -p "$WORK_DIR"
ORG=$(policy_org)
ORG="${ORG:-unknown}"

# fence FILE: prints FILE inside a fenced code block whose fence is longer than any run of backticks
# in FILE (vetted's output quotes registries and Docker Hub: nothing in it can close the block).
fence() {
  local ticks
  ticks=$({ grep -o '`\+' "$1" || true; } | awk '{ if (length($0) > n) n = length($0) } END { n = n + 1; if (n < 3) n = 3; s = ""; for (i = 0; i < n; i++) s = s "`"; print s }')
  printf '%s\n' "$ticks"
  cat "$1"
  [ ! -s "$1" ] || [ -z "$(tail -c 1 "$1")" ] || printf '\n'
  printf '%s\n' "$ticks"
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

# plan_artifact_name: the name of the artifact the plan job uploads. On a pull request it carries
# the head commit, which is how the apply job finds the plan that was reviewed for what got merged;
# elsewhere (a manual apply run's plan job) it carries the run.
plan_artifact_name() {
  local sha
  sha=$(jq -r '.pull_request.head.sha // empty' "$GITHUB_EVENT_PATH" 2>/dev/null || true)
  if [ -n "$sha" ]; then
    printf 'vetted-plan-%s\n' "$sha"
  else
    printf 'vetted-plan-run-%s\n' "${GITHUB_RUN_ID:-local}"
  fi
}

# ---------------------------------------------------------------------------------------------
mode_plan() {
  ARTIFACT=$(plan_artifact_name)
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
  log_untrusted "$out"

  if is_fork_pr || [ -z "${DOCKERHUB_TOKEN:-}" ]; then
    if $checks_ok && plan_from_snapshot "$number" "$marker"; then
      return 0
    fi
    set_output mode validate-only
    {
      printf '# vetted: validate-only\n\n'
      if is_fork_pr; then
        printf 'This pull request comes from a fork, so the Docker Hub credentials are not available to it. '
      else
        printf 'No Docker Hub token is configured (DOCKERHUB_TOKEN), so the live organization was not read. '
      fi
      printf 'Only the offline checks ran (`vetted validate`, `vetted lock --locked`); no plan was computed'
      if $checks_ok; then printf ' (no snapshot of the organization to plan against: %s)' "$(cat "$WORK_DIR/snapshot.why" 2>/dev/null || printf 'none found')"; fi
      printf '. A maintainer can push the branch to this repository to get the plan.\n\n'
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

  local plan="$WORK_DIR/plan.json" rendered="$WORK_DIR/plan.md" ack rc=0 gated=false
  ack=$(review_acknowledgement "$number") || die "could not read the pull request's labels from the GitHub API"
  rm -f "$plan"
  vetted_plan_save "$plan" "$ack" >"$WORK_DIR/plan.txt" 2>"$WORK_DIR/plan.err" || rc=$?
  # Refused by [review] require_acknowledgement: the plan was saved; comment it, then fail.
  if [ "$rc" -ne 0 ] && [ -s "$plan" ] && grep -q 'this plan needs acknowledgement' "$WORK_DIR/plan.err"; then
    gated=true
  fi
  if [ "$rc" -ne 0 ] && ! $gated; then
    log_untrusted "$WORK_DIR/plan.err"
    {
      printf '%s\n# vetted plan failed\n\n' "$marker"
      fence "$WORK_DIR/plan.err"
    } >"$WORK_DIR/comment.md"
    summary_write "$WORK_DIR/comment.md"
    post_plan_comment "$number" "$marker" "$WORK_DIR/comment.md" || true
    die "vetted plan failed"
  fi
  log_untrusted "$WORK_DIR/plan.err"
  vetted_show "$plan" markdown >"$rendered" || die "vetted show failed"
  vetted_show "$plan" markdown "$SUMMARY_LIMIT" >"$WORK_DIR/plan.summary.md" || die "vetted show failed"
  vetted_show "$plan" json >"$WORK_DIR/plan-report.json" || die "vetted show failed"
  set_output plan-file "$plan"
  set_output artifact-name "$ARTIFACT"

  # The comment starts with vetted's own marker; older output without one gets ours.
  body="$WORK_DIR/comment.md"
  if head -n 1 "$rendered" | grep -q '^<!-- vetted:plan'; then
    marker=$(head -n 1 "$rendered")
    tail -n +2 "$rendered" >"$body.rest"
  else
    cp "$rendered" "$body.rest"
  fi
  {
    printf '%s\n' "$marker"
    if $gated; then acknowledgement_notice; fi
    cat "$body.rest"
  } >"$body"
  rm -f "$body.rest"
  # The job summary holds up to 1 MiB: vetted renders the plan for that limit, then the text plan
  # follows as far as it fits.
  if $gated; then
    acknowledgement_notice >"$WORK_DIR/gate.md"
    summary_write "$WORK_DIR/gate.md"
  fi
  summary_write "$WORK_DIR/plan.summary.md"
  {
    printf '\n<details><summary>Full plan (text)</summary>\n\n'
    fence "$WORK_DIR/plan.txt"
    printf '\n</details>\n'
  } >"$summary"
  summary_write "$summary"
  post_plan_comment "$number" "$marker" "$body" || die "could not post the plan comment"
  if $gated; then
    die "the plan holds changes the policy's [review] asks a reviewer to acknowledge (see the plan comment)"
  fi
}

# review_acknowledgement NUMBER: prints the classes to pass as --acknowledge: all of them when the
# policy's [review] ack_label is a label of pull request NUMBER, else nothing. The label is read
# from the GitHub API (the event's copy is stale after a re-run); no label, no acknowledgement.
# New commits (a `synchronize` event) take the label off: it acknowledged the plan before them.
review_acknowledgement() {
  local number=$1 label pr action
  label=$(policy_ack_label)
  [ -n "$label" ] && [ -n "$number" ] && have_github_token || return 0
  pr=$(gh_api GET "/repos/$GITHUB_REPOSITORY/pulls/$(uri "$number")") || return 1
  jq -e --arg l "$label" '[.labels[]?.name] | index($l) != null' <<<"$pr" >/dev/null || return 0
  action=$(jq -r '.action // empty' "$GITHUB_EVENT_PATH" 2>/dev/null || true)
  if [ "$action" = synchronize ]; then
    gh_api DELETE "/repos/$GITHUB_REPOSITORY/issues/$(uri "$number")/labels/$(uri "$label")" >/dev/null || return 1
    log "new commits: took the acknowledgement label off; add it again after reading the new plan"
    return 0
  fi
  log "the pull request's label acknowledges the plan's risky changes"
  printf 'privilege,exposure,destruction\n'
}

# acknowledgement_notice: the note that opens a refused plan's comment (vetted's reason, fenced).
acknowledgement_notice() {
  printf '\n> [!IMPORTANT]\n> **Acknowledgement required.** The policy'"'"'s `[review] require_acknowledgement` '
  printf 'lists a class of the changes under "Needs attention", so this check fails until a reviewer acknowledges them.\n\n'
  grep 'this plan needs acknowledgement' "$WORK_DIR/plan.err" >"$WORK_DIR/gate.txt" || true
  fence "$WORK_DIR/gate.txt"
}

# plan_from_snapshot NUMBER MARKER: the plan of a run without Docker Hub credentials (a fork's
# pull request): against the newest snapshot the drift or apply workflow saved, offline. Posts it
# as the sticky comment (where the token may: a fork's is read-only on public repositories, then
# the job summary holds it) and writes the job summary. Returns 1, with the reason in
# $WORK_DIR/snapshot.why, when there is no usable snapshot or vetted could not plan against it.
plan_from_snapshot() {
  local number=$1 marker=$2 artifact zip snap="$WORK_DIR/snapshot.json" rendered="$WORK_DIR/plan.md" body="$WORK_DIR/comment.md"
  : >"$WORK_DIR/snapshot.why"
  if ! have_github_token; then
    printf 'GITHUB_TOKEN and GITHUB_REPOSITORY are needed to find it' >"$WORK_DIR/snapshot.why"
    return 1
  fi
  artifact=$(snapshot_artifact) || {
    printf 'the artifact listing could not be read' >"$WORK_DIR/snapshot.why"
    return 1
  }
  if [ -z "$artifact" ]; then
    printf 'no unexpired `%s` artifact from %s on the default branch' "$SNAPSHOT_ARTIFACT" "$SNAPSHOT_WORKFLOWS" >"$WORK_DIR/snapshot.why"
    return 1
  fi
  zip="$WORK_DIR/snapshot.zip"
  if ! gh_download "/repos/$GITHUB_REPOSITORY/actions/artifacts/$artifact/zip" "$zip" ||
    ! extract_bounded "$zip" snapshot.json "$snap" "$SNAPSHOT_MAX_BYTES"; then
    printf 'artifact %s could not be downloaded or holds no snapshot.json' "$artifact" >"$WORK_DIR/snapshot.why"
    return 1
  fi
  if ! vetted_plan_snapshot "$snap" >"$rendered" 2>"$WORK_DIR/plan.err"; then
    log_untrusted "$WORK_DIR/plan.err"
    printf 'vetted could not plan against it (see the log)' >"$WORK_DIR/snapshot.why"
    return 1
  fi
  log_untrusted "$WORK_DIR/plan.err"
  set_output mode plan-from-snapshot
  set_output snapshot-artifact "$artifact"
  ARTIFACT="$SNAPSHOT_ARTIFACT"
  # vetted's marker stays the first line; the explanation follows it.
  if head -n 1 "$rendered" | grep -q '^<!-- vetted:plan'; then
    marker=$(head -n 1 "$rendered")
  fi
  {
    printf '%s\n' "$marker"
    printf '> This pull request comes from a fork (or the run has no Docker Hub token), so this plan was computed '
    printf 'offline against the snapshot of the organization the drift or apply workflow saved (artifact %s), ' "$artifact"
    printf 'not the live organization. It is never applied: after the merge, the apply workflow plans against the live organization.\n\n'
    if head -n 1 "$rendered" | grep -q '^<!-- vetted:plan'; then tail -n +2 "$rendered"; else cat "$rendered"; fi
  } >"$body"
  summary_write "$body"
  if ! post_plan_comment "$number" "$marker" "$body"; then
    log "could not post the plan comment (a fork's token is read-only on public repositories); the plan is in the job summary"
  fi
  printf '::notice::vetted: planned against a snapshot of the organization (no Docker Hub credentials for this pull request); see the job summary\n' >&2
}

# snapshot_artifact: prints the id of the newest unexpired SNAPSHOT_ARTIFACT artifact that a run of
# one of SNAPSHOT_WORKFLOWS made on the repository's default branch, from this repository, on a
# schedule, push or manual run. A pull request's run (a fork's among them) can upload an artifact of
# that name, so the name alone proves nothing: the run says who made it. At most 20 candidates.
snapshot_artifact() {
  local candidates id run_id run path event default count=0
  default=$(jq -r '.repository.default_branch // empty' "$GITHUB_EVENT_PATH" 2>/dev/null || true)
  default="${default:-main}"
  candidates=$(gh_api GET "/repos/$GITHUB_REPOSITORY/actions/artifacts?name=$(uri "$SNAPSHOT_ARTIFACT")&per_page=100" |
    jq -r --arg n "$SNAPSHOT_ARTIFACT" \
      '[.artifacts[]? | select(.name == $n and (.expired | not)
          and .workflow_run.head_repository_id == .workflow_run.repository_id)]
       | sort_by(.created_at) | reverse | .[] | "\(.id) \(.workflow_run.id)"') || return 1
  while read -r id run_id; do
    [ -n "$id" ] || continue
    count=$((count + 1))
    [ "$count" -le 20 ] || break
    run=$(gh_api GET "/repos/$GITHUB_REPOSITORY/actions/runs/$(uri "$run_id")") || return 1
    path=$(jq -r '(.path // "") | sub("@.*$"; "") | gsub("[^A-Za-z0-9._/-]"; "?")' <<<"$run")
    event=$(jq -r '(.event // "") | gsub("[^a-z_]"; "?")' <<<"$run")
    if ! printf ' %s ' "$SNAPSHOT_WORKFLOWS" | grep -qF " $path "; then
      log "snapshot artifact $id refused: made by the workflow \`$path\` (run $run_id)"
    elif [ "$event" != schedule ] && [ "$event" != push ] && [ "$event" != workflow_dispatch ]; then
      log "snapshot artifact $id refused: made by a \`$event\` run (run $run_id)"
    elif ! jq -e --arg repo "$GITHUB_REPOSITORY" --arg b "$default" \
      '.repository.full_name == $repo and .head_repository.full_name == $repo and .head_branch == $b' \
      <<<"$run" >/dev/null; then
      log "snapshot artifact $id refused: made by a run on another branch or repository (run $run_id)"
    else
      printf '%s\n' "$id"
      return 0
    fi
  done <<<"$candidates"
}

# save_snapshot: `vetted snapshot` into $WORK_DIR/snapshot.json for the vetted-snapshot artifact
# (drift and apply jobs). A failure is logged, never fails the job.
save_snapshot() {
  local snap="$WORK_DIR/snapshot.json"
  rm -f "$snap"
  if vetted_snapshot "$snap" >"$WORK_DIR/snapshot.log" 2>&1; then
    set_output snapshot-file "$snap"
    set_output snapshot-artifact "$SNAPSHOT_ARTIFACT"
  else
    rm -f "$snap"
    log "could not save a snapshot of the organization (fork pull requests keep the previous one):"
  fi
  log_untrusted "$WORK_DIR/snapshot.log"
}

# post_plan_comment NUMBER MARKER FILE: one sticky comment per pull request.
post_plan_comment() {
  local number=$1 marker=$2 file=$3 id
  if [ -z "$number" ] || ! have_github_token; then
    log "no pull request number or GITHUB_TOKEN: not commenting"
    return 0
  fi
  id=$(upsert_comment "$number" "$marker" "$file" \
    "> **Truncated** to fit a comment: the full plan is in the job summary and the \`$ARTIFACT\` artifact.") ||
    return 1
  set_output comment-id "$id"
}

# ---------------------------------------------------------------------------------------------
# What to do when a merge's reviewed plan was not applied (docs/workflows/apply.yml's manual run).
MANUAL_RUN_HINT="To apply the policy as it is on the branch now, run the vetted apply workflow by hand \
(Actions → vetted apply → Run workflow): its plan job plans afresh and shows the plan in its job summary, \
and the apply job applies exactly that plan once the environment's reviewers approve it."

mode_apply() {
  ARTIFACT="vetted-apply-${GITHUB_RUN_ID:-local}"
  rm -f "$WORK_DIR/apply.json" "$WORK_DIR/apply.log" "$WORK_DIR/apply.md"
  case "${PLAN_SOURCE:-pull-request}" in
    pull-request) apply_reviewed ;;
    file) apply_file ;;
    fresh) apply_fresh ;;
    *) die "plan-source must be 'pull-request', 'file' or 'fresh' (got '${PLAN_SOURCE}')" ;;
  esac
}

# apply_file: applies the saved plan PLAN_FILE, made by an earlier job of this run (manual runs:
# its job summary is what the environment's reviewers approved).
apply_file() {
  [ -n "${PLAN_FILE:-}" ] || die "plan-source 'file' needs the plan-file input"
  [ -f "$PLAN_FILE" ] || die "plan file '$PLAN_FILE' not found (did the plan job upload it, and was it downloaded?)"
  apply_plan_file "$PLAN_FILE" "The plan saved by this run's plan job (\`$(basename "$PLAN_FILE")\`)." ||
    die "vetted apply failed (exit $APPLY_RC)"
}

# apply_fresh: plans now and applies exactly that plan, in one job (for setups without a separate
# plan job: the environment's reviewers then approve before the plan exists).
apply_fresh() {
  local plan="$WORK_DIR/plan.json"
  if ! vetted_plan_save "$plan" "$ACK_ALL" >"$WORK_DIR/plan.txt" 2>"$WORK_DIR/plan.err"; then
    log_untrusted "$WORK_DIR/plan.err"
    { printf '# vetted plan failed: nothing applied\n\n'; fence "$WORK_DIR/plan.err"; } >"$WORK_DIR/summary.md"
    summary_write "$WORK_DIR/summary.md"
    die "vetted plan failed"
  fi
  log_untrusted "$WORK_DIR/plan.err"
  apply_plan_file "$plan" 'Planned now (`plan-source: fresh`) from the policy on this commit.' ||
    die "vetted apply failed (exit $APPLY_RC)"
}

# apply_reviewed: applies the plan that was reviewed on the pull request merged as this commit (or
# PULL_REQUEST): the plan job's saved plan for the pull request's last commit, fetched from its
# artifact. vetted re-reads the policy, vetted.lock and the organization and refuses the plan when
# any of them moved on since it was reviewed. Every outcome is reported on the pull request.
apply_reviewed() {
  local pr number head name artifact zip plan="$WORK_DIR/plan.json"
  have_github_token || refuse_apply "" "GITHUB_TOKEN and GITHUB_REPOSITORY are needed to find the reviewed plan."
  pr=$(merged_pull_request) || die "could not read the pull request from the GitHub API"
  if [ -z "$pr" ]; then
    refuse_apply "" "Commit ${GITHUB_SHA:-?} was not merged from a pull request, so there is no reviewed plan to apply."
  fi
  number=$(jq -r '.number' <<<"$pr")
  if ! jq -e --arg b "${GITHUB_REF_NAME:-}" '.merged_at != null and ($b == "" or .base.ref == $b)' <<<"$pr" >/dev/null; then
    refuse_apply "" "Pull request #$number is not merged into ${GITHUB_REF_NAME:-this branch}, so its plan cannot be applied here."
  fi
  head=$(jq -r '.head.sha // empty' <<<"$pr")
  base=$(jq -r '.base.ref // empty' <<<"$pr")
  set_output pull-request "$number"
  name="vetted-plan-$head"
  artifact=$(reviewed_artifact "$name" "$head" "$number" "$base") ||
    die "could not list the workflow artifacts and their runs from the GitHub API"
  if [ -z "$artifact" ]; then
    refuse_apply "$number" "Pull request #$number has no saved plan for its last commit $(short_sha "$head") (artifact \`$name\` from a \`pull_request\` run of \`$PLAN_WORKFLOW\` in $GITHUB_REPOSITORY): the plan job did not run on that commit, ran validate-only (a fork, or no Docker Hub token), failed, or its artifact expired.$(cat "$WORK_DIR/refused-artifacts" 2>/dev/null)"
  fi
  zip="$WORK_DIR/reviewed-plan.zip"
  gh_download "/repos/$GITHUB_REPOSITORY/actions/artifacts/$artifact/zip" "$zip" ||
    die "could not download artifact $artifact ($name)"
  extract_member "$zip" plan.json "$plan" ||
    refuse_apply "$number" "Artifact \`$name\` holds no plan.json."
  log "applying the plan reviewed on #$number (artifact $name)"
  if apply_plan_file "$plan" "The plan reviewed on pull request #$number (its last commit $(short_sha "$head"), artifact \`$name\`)."; then
    report_on_pr "$number" "Applied the plan reviewed on this pull request" ||
      log "could not comment the result on #$number"
  else
    report_on_pr "$number" "**Not applied**: vetted apply of the plan reviewed on this pull request failed (exit $APPLY_RC)" \
      "When the plan went stale (the policy on the branch, vetted.lock or the organization changed since it was reviewed), nothing was changed. $MANUAL_RUN_HINT" ||
      log "could not comment the result on #$number"
    die "vetted apply failed (exit $APPLY_RC)"
  fi
}

# reviewed_artifact NAME HEAD_SHA NUMBER BASE: prints the id of the newest unexpired artifact NAME
# that the plan workflow made for pull request NUMBER: its run is a `pull_request` run of the
# workflow file PLAN_WORKFLOW, on HEAD_SHA, in this repository (head and base), for pull request
# NUMBER into BASE. Anyone who can push a branch can run a workflow of their own that uploads an
# artifact of that name, so the name alone proves nothing; the run says who made it. The pull
# request matters too: a `pull_request` run takes its workflow file from the pull request's base
# branch, so a pusher could open another pull request with the same head into a branch whose
# PLAN_WORKFLOW they rewrote. Only the merged pull request's own runs (into BASE, the protected
# branch it merged into) count. Refused candidates are listed in $WORK_DIR/refused-artifacts.
reviewed_artifact() {
  local name=$1 head=$2 number=$3 base=$4 candidates id run_id run path event why
  : >"$WORK_DIR/refused-artifacts"
  candidates=$(gh_api GET "/repos/$GITHUB_REPOSITORY/actions/artifacts?name=$(uri "$name")&per_page=100" |
    jq -r --arg n "$name" --arg sha "$head" \
      '[.artifacts[]? | select(.name == $n and (.expired | not)
          and .workflow_run.head_repository_id == .workflow_run.repository_id
          and .workflow_run.head_sha == $sha)]
       | sort_by(.created_at) | reverse | .[] | "\(.id) \(.workflow_run.id)"') || return 1
  while read -r id run_id; do
    [ -n "$id" ] || continue
    run=$(gh_api GET "/repos/$GITHUB_REPOSITORY/actions/runs/$(uri "$run_id")") || return 1
    # Shown in messages: only the characters a workflow path or an event name has.
    path=$(jq -r '(.path // "") | sub("@.*$"; "") | gsub("[^A-Za-z0-9._/-]"; "?")' <<<"$run")
    event=$(jq -r '(.event // "") | gsub("[^a-z_]"; "?")' <<<"$run")
    why=""
    if [ "$path" != "$PLAN_WORKFLOW" ]; then
      why="made by the workflow \`$path\`"
    elif [ "$event" != pull_request ]; then
      why="made by a \`$event\` run"
    elif ! jq -e --arg sha "$head" --arg repo "$GITHUB_REPOSITORY" \
      '.head_sha == $sha and .repository.full_name == $repo and .head_repository.full_name == $repo' \
      <<<"$run" >/dev/null; then
      why="made by a run on another commit or repository"
    elif ! jq -e --argjson n "$number" --arg base "$base" \
      '[.pull_requests[]? | select(.number == $n and .base.ref == $base)] | length > 0' \
      <<<"$run" >/dev/null; then
      why="made by a run for another pull request or base branch"
    fi
    if [ -z "$why" ]; then
      printf '%s\n' "$id"
      return 0
    fi
    log "artifact $id ($name) refused: $why (run $run_id)"
    printf ' Refused: artifact %s, %s (run %s).' "$id" "$why" "$run_id" >>"$WORK_DIR/refused-artifacts"
  done <<<"$candidates"
}

# merged_pull_request: prints the pull request PULL_REQUEST, or the one merged as GITHUB_SHA, or
# nothing when the commit came from no pull request.
merged_pull_request() {
  if [ -n "${PULL_REQUEST:-}" ]; then
    gh_api GET "/repos/$GITHUB_REPOSITORY/pulls/$(uri "$PULL_REQUEST")" | jq -c .
    return
  fi
  gh_api GET "/repos/$GITHUB_REPOSITORY/commits/$(uri "${GITHUB_SHA:-}")/pulls?per_page=100" |
    jq -c --arg sha "${GITHUB_SHA:-}" \
      '[.[] | select(.merged_at != null)] | (map(select(.merge_commit_sha == $sha)) + .)[0] // empty'
}

# refuse_apply PR_NUMBER MESSAGE: says why nothing was applied (job summary, the pull request when
# known) and fails the job.
refuse_apply() {
  local number=$1 message=$2
  {
    printf '# vetted apply: nothing applied\n\n%s\n\n%s\n' "$message" "$MANUAL_RUN_HINT"
  } >"$WORK_DIR/summary.md"
  summary_write "$WORK_DIR/summary.md"
  if [ -n "$number" ]; then
    report_on_pr "$number" "**Not applied**: $message" "$MANUAL_RUN_HINT" ||
      log "could not comment the result on #$number"
  fi
  die "$message"
}

# apply_plan_file PLAN HOW: renders PLAN to the job summary, applies it with vetted and adds the
# result. Returns apply's exit code (also in APPLY_RC); vetted's report is $WORK_DIR/apply.json
# (docs/apply-json.md), its log (plan, progress, errors) $WORK_DIR/apply.log, and the result as
# markdown $WORK_DIR/apply.md.
APPLY_RC=0
apply_plan_file() {
  local plan=$1 how=$2 status
  set_output plan-file "$plan"
  set_output artifact-name "$ARTIFACT"
  vetted_show "$plan" markdown "$SUMMARY_LIMIT" >"$WORK_DIR/plan.md" || die "vetted show $plan failed"
  APPLY_RC=0
  vetted_apply_saved "$plan" >"$WORK_DIR/apply.json" 2>"$WORK_DIR/apply.log" || APPLY_RC=$?
  log_untrusted "$WORK_DIR/apply.log"
  # The organization as the apply left it (done, failed or refused), for fork pull requests.
  save_snapshot
  status=$(apply_status "$WORK_DIR/apply.json")
  set_output apply-status "${status:-unknown}"
  [ -z "$status" ] || set_output apply-report "$WORK_DIR/apply.json"
  apply_markdown "$status" "$WORK_DIR/apply.json" "$WORK_DIR/apply.log" "$APPLY_RC" >"$WORK_DIR/apply.md"
  {
    printf '%s\n\n' "$how"
    cat "$WORK_DIR/apply.md"
    printf '\n'
  } >"$WORK_DIR/summary.md"
  summary_write "$WORK_DIR/summary.md"
  summary_write "$WORK_DIR/plan.md"
  return "$APPLY_RC"
}

# apply_status REPORT: the report's status (applied, no_changes, incomplete, refused, error), or
# nothing when REPORT is not an apply report of format 1 (vetted printed none, or an unknown one).
apply_status() {
  jq -er 'select(type == "object" and .format_version == "1") | .status
          | select(. == "applied" or . == "no_changes" or . == "incomplete" or . == "refused" or . == "error")' \
    "$1" 2>/dev/null || true
}

# apply_markdown STATUS REPORT LOG RC: the result of an apply as markdown, from vetted's report
# (STATUS: its apply_status, empty without a report): the outcome, the counts, the image copy
# totals, what failed or was skipped and why; then vetted's log.
# Every text vetted did not write (addresses, error bodies) stays inside fenced blocks. Without a
# report (an older vetted, or none printed) the log alone says what happened.
apply_markdown() {
  local status=$1 report=$2 log=$3 rc=$4 list="$WORK_DIR/apply.failed" why="$WORK_DIR/apply.message"
  case "$status" in
    applied) printf '## Apply: done\n\n' ;;
    no_changes) printf '## Apply: done, nothing to change\n\n' ;;
    incomplete) printf '## Apply: FAILED (exit %s): some changes failed or were skipped\n\n' "$rc" ;;
    refused) printf '## Apply: FAILED (exit %s): refused, nothing was changed\n\n' "$rc" ;;
    *) printf '## Apply: FAILED (exit %s)\n\n' "$rc" ;;
  esac
  if [ -z "$status" ]; then
    fence "$log"
    return 0
  fi
  # Numbers only: jq prints them, nothing else reaches the prose.
  jq -r '.summary | "\(.add | tonumber) added, \(.change | tonumber) changed, \(.destroy | tonumber) destroyed; \(.failed | tonumber) failed, \(.skipped | tonumber) skipped."' "$report"
  jq -r '.copy | select(.images > 0)
         | "\nImages: \(.images | tonumber) copied; blobs: \(.blobs_copied | tonumber) copied, \(.blobs_mounted | tonumber) mounted, \(.blobs_skipped | tonumber) already present; \(.bytes_copied | tonumber) bytes transferred."' "$report"
  jq -r '.message // empty' "$report" >"$why"
  if [ -s "$why" ]; then
    printf '\n'
    fence "$why"
  fi
  jq -r '.results[] | select(.status != "done")
         | "\(.address): \(.status | ascii_upcase): \(.message // "")"' "$report" >"$list"
  if [ -s "$list" ]; then
    printf '\n### Failed or skipped\n\n'
    fence "$list"
  fi
  printf '\n<details><summary>vetted apply log</summary>\n\n'
  fence "$log"
  printf '\n</details>\n'
}

# report_on_pr NUMBER HEADLINE [ADVICE]: the pull request's one apply comment (created or updated),
# with the apply result (apply_markdown).
report_on_pr() {
  local number=$1 headline=$2 advice=${3:-} marker body
  marker="<!-- vetted:apply org=$ORG -->"
  body="$WORK_DIR/apply-comment.md"
  {
    printf '%s\n### vetted apply\n\n%s (%s).\n\n' "$marker" "$headline" "$(run_url)"
    [ -z "$advice" ] || printf '%s\n\n' "$advice"
    if [ -s "$WORK_DIR/apply.md" ]; then cat "$WORK_DIR/apply.md"; fi
  } >"$body"
  upsert_comment "$number" "$marker" "$body" \
    "> **Truncated**: the full output is in the job summary of the run above." >/dev/null
}

short_sha() { printf '%s' "${1:0:12}"; }

# The largest snapshot.json taken from an artifact (vetted reads none larger either).
SNAPSHOT_MAX_BYTES=$((64 * 1024 * 1024))

# extract_bounded ZIP NAME OUT MAX: like extract_member, refusing a member larger than MAX bytes.
extract_bounded() {
  local zip=$1 name=$2 out=$3 max=$4
  if command -v unzip >/dev/null 2>&1; then
    { unzip -p "$zip" "$name" 2>/dev/null || true; } | head -c "$((max + 1))" >"$out"
  else
    python3 -c 'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).open(sys.argv[2]).read(int(sys.argv[3]) + 1))' \
      "$zip" "$name" "$max" >"$out" 2>/dev/null || true
  fi
  [ -s "$out" ] && [ "$(wc -c <"$out")" -le "$max" ]
}

# extract_member ZIP NAME OUT: writes the member NAME of ZIP to OUT (unzip, or Python's zipfile).
extract_member() {
  local zip=$1 name=$2 out=$3
  if command -v unzip >/dev/null 2>&1; then
    unzip -p "$zip" "$name" >"$out" 2>/dev/null && [ -s "$out" ]
  else
    python3 -c 'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))' \
      "$zip" "$name" >"$out" 2>/dev/null && [ -s "$out" ]
  fi
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
  save_snapshot
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
    printf '(run the vetted apply workflow by hand: Actions → vetted apply → Run workflow) or change the '
    printf 'policy to match in a pull request. This issue closes itself once the organization is back in sync.\n\n'
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
  local lock before facts changes branch base marker body req number title
  lock="$(dirname "$POLICY")/vetted.lock"
  before="$WORK_DIR/vetted.lock.before"
  if [ -f "$lock" ]; then cp "$lock" "$before"; else : >"$before"; fi
  # To stderr, where the stop-commands markers are.
  facts="$WORK_DIR/facts.md"
  : >"$facts"
  vetted_lock_upgrade "$facts" >&2 || die "vetted lock --upgrade failed"
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
    if [ -s "$facts" ]; then
      printf '\n'
      cat "$facts"
    fi
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
