#!/usr/bin/env bash
# Shared helpers of the vetted action: the one place that calls the vetted CLI, the GitHub REST
# client, step outputs and the job summary. Sourced by run.sh; every function is side-effect free
# beyond what its comment says.
# shellcheck shell=bash

# GitHub's limits: a comment, issue or pull request body holds 65,536 characters; one step's job
# summary holds 1 MiB.
# shellcheck disable=SC2034 # used by run.sh
BODY_LIMIT=65536
SUMMARY_LIMIT=1048576

log() { printf 'vetted-action: %s\n' "$*" >&2; }
die() { printf '::error::%s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# Workflow commands. GitHub runs any line of a step's output that starts with `::` as a workflow
# command (::warning::, ::add-mask::, ...). What vetted prints quotes registries, Docker Hub and the
# pull request's policy, so it is shown only between `::stop-commands::TOKEN` and `::TOKEN::`, with a
# TOKEN nobody can guess: nothing vetted prints can start a command. The markers go to the step's
# stderr as it was when the action started (fd 9), also when vetted's own output goes to a file.
# ---------------------------------------------------------------------------------------------
exec 9>&2
STOP_TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
[ "${#STOP_TOKEN}" -eq 32 ] || die "could not read 16 random bytes for the stop-commands token"
commands_off() { printf '::stop-commands::%s\n' "$STOP_TOKEN" >&9; }
commands_on() { printf '::%s::\n' "$STOP_TOKEN" >&9; }

# log_untrusted FILE: shows FILE (vetted's output) on stderr with workflow commands stopped.
log_untrusted() {
  commands_off
  cat "$1" >&9
  commands_on
}

# ---------------------------------------------------------------------------------------------
# The vetted CLI. Every call the action makes goes through these functions, so the contract with
# the CLI lives here and nowhere else. The Docker Hub token reaches vetted only through the
# DOCKERHUB_TOKEN environment variable, never as an argument.
# ---------------------------------------------------------------------------------------------
VETTED_BIN="${VETTED_BIN:-vetted}"

# vetted_run ARGS...: runs vetted with workflow commands stopped around whatever it prints.
vetted_run() {
  local rc=0
  commands_off
  "$VETTED_BIN" "$@" || rc=$?
  commands_on
  return "$rc"
}

vetted_validate() { vetted_run validate --policy "$POLICY"; }
vetted_lock_check() { vetted_run lock --policy "$POLICY" --locked; }
# lock --upgrade REPORT: re-resolves every tag and writes what changed upstream for each moved tag
# (markdown: created, labels, platforms, sizes, layers, signature; empty when none moved) to REPORT.
vetted_lock_upgrade() { vetted_run lock --policy "$POLICY" --upgrade --report "$1"; }
# plan FILE [CLASSES]: computes the plan against the live organization and saves it (with the
# fingerprint of policy, lock and live state) for `apply`; CLASSES (privilege,exposure,destruction)
# are acknowledged for the policy's [review] require_acknowledgement.
vetted_plan_save() {
  if [ -n "${2:-}" ]; then
    vetted_run plan --policy "$POLICY" --locked --out "$1" --acknowledge "$2"
  else
    vetted_run plan --policy "$POLICY" --locked --out "$1"
  fi
}
# Every risk class: the drift check and `plan-source: fresh` are no review, so nothing is gated.
ACK_ALL=privilege,exposure,destruction
# show FILE FORMAT [MAX_CHARS]: renders a saved plan (markdown starts with the
# `<!-- vetted:plan ... -->` marker and fits MAX_CHARS, by default a comment's 65,536).
vetted_show() {
  if [ -n "${3:-}" ]; then
    vetted_run show "$1" --format "$2" --max-chars "$3"
  else
    vetted_run show "$1" --format "$2"
  fi
}
# apply FILE: applies exactly the saved plan; refuses when it is stale. stdout is the apply report
# (docs/apply-json.md: one JSON document, however apply ends); the plan and progress go to stderr.
vetted_apply_saved() { vetted_run apply --policy "$POLICY" --yes --format json "$1"; }
# snapshot FILE: reads the live organization as plan does and saves it (no secrets, fingerprinted)
# for fork pull requests' offline plans.
vetted_snapshot() { vetted_run snapshot --policy "$POLICY" --locked --out "$1"; }
# plan against a snapshot FILE, offline (no Docker Hub token needed): markdown with vetted's marker,
# saying the snapshot's age. Never saved: a plan from a snapshot cannot be applied.
vetted_plan_snapshot() { vetted_run plan --policy "$POLICY" --locked --format markdown --snapshot "$1"; }
# drift check: exit 0 in sync, 2 drifted, anything else an error.
vetted_plan_drift() { vetted_run plan --policy "$POLICY" --locked --format markdown --detailed-exitcode --drift --acknowledge "$ACK_ALL"; }

# ---------------------------------------------------------------------------------------------
# Step outputs and the job summary
# ---------------------------------------------------------------------------------------------
set_output() {
  if [ -n "${GITHUB_OUTPUT:-}" ]; then
    printf '%s=%s\n' "$1" "$2" >>"$GITHUB_OUTPUT"
  fi
}

# truncate_to FILE LIMIT NOTE: prints FILE, cut at a line boundary so that the output plus NOTE
# stays within LIMIT bytes, followed by NOTE when a cut was needed.
truncate_to() {
  local file=$1 limit=$2 note=$3 size keep
  size=$(wc -c <"$file")
  if [ "$size" -le "$limit" ]; then
    cat "$file"
    return 0
  fi
  keep=$((limit - ${#note} - 2))
  [ "$keep" -gt 0 ] || return 0
  head -c "$keep" "$file" | sed '$d'
  printf '\n%s\n' "$note"
}

# summary_write FILE: appends FILE to the job summary, truncated to GitHub's 1 MiB per step. Once
# a part was cut, later parts are left out, so the cut notice stays last.
SUMMARY_FULL=false
summary_write() {
  local file=$1
  if [ -z "${GITHUB_STEP_SUMMARY:-}" ] || $SUMMARY_FULL; then
    return 0
  fi
  local used room
  used=0
  [ -f "$GITHUB_STEP_SUMMARY" ] && used=$(wc -c <"$GITHUB_STEP_SUMMARY")
  room=$((SUMMARY_LIMIT - used))
  [ "$(wc -c <"$file")" -le "$room" ] || SUMMARY_FULL=true
  truncate_to "$file" "$room" \
    "> **Truncated** to fit the 1 MiB job summary: the full plan is in the \`${ARTIFACT:-vetted-plan}\` artifact." \
    >>"$GITHUB_STEP_SUMMARY"
}

# ---------------------------------------------------------------------------------------------
# GitHub REST API (GITHUB_API_URL, GITHUB_REPOSITORY, GITHUB_TOKEN)
# ---------------------------------------------------------------------------------------------

# gh_curl OUT_FILE METHOD PATH [CURL_ARGS...]: one GitHub API request, its body written to OUT_FILE;
# prints the HTTP status. The token goes to curl on stdin (a config line), never on its command line;
# when GitHub redirects to its storage (artifact downloads), curl does not send it to the other host.
gh_curl() {
  local out=$1 method=$2 path=$3
  shift 3
  printf 'header = "Authorization: Bearer %s"\n' "$GITHUB_TOKEN" |
    curl -K - --silent --show-error --max-time 300 --retry 3 -X "$method" -o "$out" -w '%{http_code}' \
      -H 'Accept: application/vnd.github+json' -H 'X-GitHub-Api-Version: 2022-11-28' "$@" \
      "${GITHUB_API_URL:-https://api.github.com}$path"
}

# gh_api METHOD PATH [BODY_FILE]: prints the response body; fails on HTTP errors.
gh_api() {
  local method=$1 path=$2 body=${3:-} out status
  out=$(mktemp)
  local args=()
  if [ -n "$body" ]; then
    args+=(-H 'Content-Type: application/json' --data-binary "@$body")
  fi
  if ! status=$(gh_curl "$out" "$method" "$path" "${args[@]}"); then
    rm -f "$out"
    log "GitHub API $method $path: request failed"
    return 1
  fi
  if [ "$status" -ge 400 ]; then
    log "GitHub API $method $path: HTTP $status: $(head -c 500 "$out")"
    rm -f "$out"
    return 1
  fi
  cat "$out"
  rm -f "$out"
}

# gh_download PATH OUT_FILE: GETs PATH into OUT_FILE, following redirects; fails on HTTP errors.
gh_download() {
  local path=$1 dest=$2 status
  if ! status=$(gh_curl "$dest" GET "$path" --location); then
    log "GitHub API GET $path: request failed"
    return 1
  fi
  if [ "$status" -ge 400 ]; then
    log "GitHub API GET $path: HTTP $status"
    return 1
  fi
}

uri() { jq -rn --arg v "$1" '$v | @uri'; }

have_github_token() { [ -n "${GITHUB_TOKEN:-}" ] && [ -n "${GITHUB_REPOSITORY:-}" ]; }

# json_body OUT_FILE JQ_FILTER [jq args...]: writes a JSON request body built by jq.
json_body() {
  local out=$1 filter=$2
  shift 2
  jq -n "$@" "$filter" >"$out"
}

# find_comment ISSUE_NUMBER PREFIX: prints the id of the first comment whose body starts with PREFIX.
find_comment() {
  local number=$1 prefix=$2 page page_json id count
  for page in 1 2 3 4 5 6 7 8 9 10; do
    page_json=$(gh_api GET "/repos/$GITHUB_REPOSITORY/issues/$number/comments?per_page=100&page=$page") || return 1
    id=$(jq -r --arg p "$prefix" '[.[] | select((.body // "") | startswith($p))][0].id // empty' <<<"$page_json")
    if [ -n "$id" ]; then
      printf '%s\n' "$id"
      return 0
    fi
    count=$(jq 'length' <<<"$page_json")
    [ "$count" -lt 100 ] && return 0
  done
}

# upsert_comment ISSUE_NUMBER PREFIX BODY_FILE TRUNCATION_NOTE: updates the comment that starts
# with PREFIX, or creates it, with BODY_FILE cut to GitHub's comment limit (TRUNCATION_NOTE then
# ends it). Prints the comment id.
upsert_comment() {
  local number=$1 prefix=$2 file=$3 note=$4 id req limited
  req=$(mktemp)
  limited=$(mktemp)
  truncate_to "$file" "$BODY_LIMIT" "$note" >"$limited"
  json_body "$req" '{body: $body}' --rawfile body "$limited"
  rm -f "$limited"
  id=$(find_comment "$number" "$prefix") || return 1
  if [ -n "$id" ]; then
    gh_api PATCH "/repos/$GITHUB_REPOSITORY/issues/comments/$id" "$req" >/dev/null || return 1
    log "updated comment $id on #$number"
  else
    id=$(gh_api POST "/repos/$GITHUB_REPOSITORY/issues/$number/comments" "$req" | jq -r '.id') || return 1
    log "created comment $id on #$number"
  fi
  rm -f "$req"
  printf '%s\n' "$id"
}

# policy_ack_label: the policy's [review] ack_label, or nothing (read with Python's tomllib after
# `vetted validate` passed; without Python 3.11 there is no label, so nothing is acknowledged).
policy_ack_label() {
  python3 -c 'import sys, tomllib
label = tomllib.load(open(sys.argv[1], "rb")).get("review", {}).get("ack_label", "")
print(label if isinstance(label, str) else "")' "$POLICY" 2>/dev/null || true
}

# policy_org: the organization the policy governs (for markers written before vetted ran).
policy_org() {
  sed -n 's/^[[:space:]]*org[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' "$POLICY" 2>/dev/null | head -n 1
}
