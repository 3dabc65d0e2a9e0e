#!/usr/bin/env bash
# Attaches the release files in DIR (SHA256SUMS and the archives it lists) to the GitHub release of
# TAG, through the GitHub REST API (GITHUB_API_URL, GITHUB_REPOSITORY, GITHUB_TOKEN with
# contents: write):
#   bash scripts/release/publish.sh TAG DIR
# The release is created as a draft, the files uploaded, and only then published, so nobody (and no
# action installing vetted) sees a release without its checksum file. A draft left by an earlier
# failed run is reused (its files replaced); a published release is never changed.
set -euo pipefail
# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

[ "$#" -eq 2 ] || fail "usage: publish.sh TAG DIR"
tag=$1 dir=$2
[ "$tag" = "v$(cargo_version)" ] || fail "tag '$tag' does not match the version in Cargo.toml ($(cargo_version))"
: "${GITHUB_REPOSITORY:?GITHUB_REPOSITORY (owner/name) is not set}"
[[ "$GITHUB_REPOSITORY" =~ ^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$ ]] || fail "GITHUB_REPOSITORY '$GITHUB_REPOSITORY' is not owner/name"
api="${GITHUB_API_URL:-https://api.github.com}"
repo_url="$api/repos/$GITHUB_REPOSITORY"
cd "$dir"
[ -f "$SUMS_NAME" ] || fail "$dir/$SUMS_NAME is missing (run scripts/release/checksums.sh first)"
if command -v sha256sum >/dev/null 2>&1; then
  sha256sum -c --quiet "$SUMS_NAME" || fail "$dir/$SUMS_NAME does not match the archives"
else
  shasum -a 256 -c --quiet "$SUMS_NAME" || fail "$dir/$SUMS_NAME does not match the archives"
fi
files=("$SUMS_NAME")
while read -r _ name; do
  [[ "$name" =~ ^vetted-[0-9A-Za-z._-]+\.tar\.gz$ ]] || fail "unexpected file '$name' in $SUMS_NAME"
  files+=("$name")
done <"$SUMS_NAME"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# api_call METHOD URL [BODY_JSON]: prints the response body; fails on HTTP errors with the status
# and GitHub's message (control characters removed).
api_call() {
  local method=$1 url=$2 body=${3:-} status args=()
  if [ -n "$body" ]; then
    printf '%s' "$body" >"$tmp/body.json"
    args=(-H 'Content-Type: application/json' --data-binary "@$tmp/body.json")
  fi
  status=$(gh_request "$tmp/out" "$method" "$url" "${args[@]}") || fail "GitHub API $method ${url#"$api"}: request failed"
  if [ "$status" -ge 400 ]; then
    fail "GitHub API $method ${url#"$api"}: HTTP $status: $(jq -r '.message // empty' "$tmp/out" 2>/dev/null | tr -d '\000-\037' | head -c 300)"
  fi
  cat "$tmp/out"
}

# The published release of the tag, if any: never changed.
status=$(gh_request "$tmp/out" GET "$repo_url/releases/tags/$tag")
case "$status" in
  200) fail "release $tag of $GITHUB_REPOSITORY is already published; it is left as it is (tag a new version to release again)" ;;
  404) ;;
  *) fail "GitHub API GET /repos/$GITHUB_REPOSITORY/releases/tags/$tag: HTTP $status" ;;
esac
# A draft of the tag from an earlier run (drafts are not found by tag), or a new draft.
release=$(api_call GET "$repo_url/releases?per_page=100" | jq -c --arg t "$tag" '[.[] | select(.draft and .tag_name == $t)][0] // empty')
if [ -z "$release" ]; then
  release=$(api_call POST "$repo_url/releases" "$(jq -cn --arg t "$tag" '{tag_name: $t, name: $t, draft: true, generate_release_notes: true}')")
  note "created draft release $tag"
else
  note "reusing draft release $tag"
fi
id=$(jq -r '.id' <<<"$release")
[[ "$id" =~ ^[0-9]+$ ]] || fail "GitHub answered a release without a numeric id"
upload_url=$(jq -r '.upload_url // empty' <<<"$release")
upload_url=${upload_url%%\{*}
[ -n "$upload_url" ] || fail "GitHub answered release $id without an upload_url"

for f in "${files[@]}"; do
  old=$(jq -r --arg n "$f" '.assets[]? | select(.name == $n) | .id' <<<"$release")
  for a in $old; do
    [[ "$a" =~ ^[0-9]+$ ]] || fail "GitHub answered an asset without a numeric id"
    api_call DELETE "$repo_url/releases/assets/$a" >/dev/null
    note "replaced $f of the draft"
  done
  size=$(wc -c <"$f" | tr -d ' ')
  status=$(gh_request "$tmp/out" POST "$upload_url?name=$f" -H 'Content-Type: application/octet-stream' \
    --data-binary "@$f") || fail "uploading $f to release $tag: request failed"
  [ "$status" = 201 ] || fail "uploading $f to release $tag: HTTP $status: $(jq -r '.message // empty' "$tmp/out" 2>/dev/null | tr -d '\000-\037' | head -c 300)"
  [ "$(jq -r '.size // empty' "$tmp/out")" = "$size" ] || fail "uploading $f to release $tag: GitHub did not confirm its $size bytes"
  note "uploaded $f ($size bytes)"
done

published=$(api_call PATCH "$repo_url/releases/$id" '{"draft":false}')
note "published release $tag: $(jq -r '.html_url // empty' <<<"$published" | tr -d '\000-\037')"
