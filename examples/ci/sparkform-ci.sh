#!/usr/bin/env bash
# The GitOps pipeline of a service described in a git repository, as one
# plain script a CI system runs (see README.md beside it).
#
#   sparkform-ci.sh mr [COMMIT]   on a merge request: plan the description at
#                                 COMMIT ($CI_COMMIT_SHA / $GITHUB_SHA when not
#                                 given) into plan.bin, its text into plan.txt
#   sparkform-ci.sh merge         on merge: apply plan.bin, exactly that plan;
#                                 refused when the state moved on since
#
# Settings (environment):
#   SF_REPO_URL      the repository (default $CI_REPOSITORY_URL, or GitHub's
#                    $GITHUB_SERVER_URL/$GITHUB_REPOSITORY.git); it may hold a
#                    token, which is never printed
#   SF_DESCRIPTION   the description's path in it (default sparkform.yaml)
#   SF_STATE         the state file (default: sparkform's own default)
#   SPARKFORM        the sparkform binary (default: sparkform on PATH)
#   SF_OUT           where plan.bin and plan.txt go (default .)
#
# Exit status: 0 when done (mr: whether or not there are changes; the file
# changes.txt says "yes" or "no"), 1 on errors, 3 when merge found the plan
# stale.
set -euo pipefail
# The repository URL may carry a CI token: nothing below is traced.
{ set +x; } 2>/dev/null

die() { echo "sparkform-ci: $*" >&2; exit 1; }

SPARKFORM=${SPARKFORM:-sparkform}
OUT=${SF_OUT:-.}
DESC=${SF_DESCRIPTION:-sparkform.yaml}
if [ -n "${SF_REPO_URL:-}" ]; then
  REPO=$SF_REPO_URL
elif [ -n "${CI_REPOSITORY_URL:-}" ]; then
  REPO=$CI_REPOSITORY_URL
elif [ -n "${GITHUB_REPOSITORY:-}" ]; then
  REPO=${GITHUB_SERVER_URL:-https://github.com}/$GITHUB_REPOSITORY.git
else
  die "set SF_REPO_URL to the repository that holds $DESC"
fi
state=()
[ -n "${SF_STATE:-}" ] && state=(-state "$SF_STATE")

# The description at a commit, as sparkform reads it.
source_at() { printf 'git::%s//%s?ref=%s' "$REPO" "$DESC" "$1"; }

mr() {
  local commit=${1:-${CI_COMMIT_SHA:-${GITHUB_SHA:-}}}
  [ -n "$commit" ] || die "mr needs the commit to plan (an argument, \$CI_COMMIT_SHA or \$GITHUB_SHA)"
  mkdir -p "$OUT"
  rm -f "$OUT/plan.bin" "$OUT/plan.txt" "$OUT/changes.txt"
  # init fetches the commit and the git modules its lock file names.
  "$SPARKFORM" init -no-color -f "$(source_at "$commit")" >/dev/null || die "cannot fetch $DESC at $commit"
  local rc=0
  "$SPARKFORM" plan -no-color "${state[@]}" -f "$(source_at "$commit")" \
      -detailed-exitcode -out "$OUT/plan.bin" >"$OUT/plan.txt" || rc=$?
  cat "$OUT/plan.txt"
  case $rc in
    0) echo no >"$OUT/changes.txt"; echo "sparkform-ci: no changes at $commit" ;;
    2) echo yes >"$OUT/changes.txt"; echo "sparkform-ci: plan of $commit saved to $OUT/plan.bin (text in $OUT/plan.txt)" ;;
    *) die "plan of $commit failed" ;;
  esac
}

merge() {
  local plan="$OUT/plan.bin"
  [ -f "$plan" ] || die "no $plan: the merge request's plan job keeps it as an artifact"
  # The commit the plan was made from (it names it), fetched with the
  # URL's credentials, so that apply reads exactly that tree.
  local commit
  commit=$("$SPARKFORM" show -no-color "$plan" | sed -n 's/^Description from .* at commit \([0-9a-f]\{7,\}\).*/\1/p' | head -n1)
  [ -n "$commit" ] || die "$plan was not made from a git description"
  "$SPARKFORM" init -no-color -f "$(source_at "$commit")" >/dev/null || die "cannot fetch $DESC at $commit"
  local err rc=0
  err=$(mktemp)
  "$SPARKFORM" apply -no-color "${state[@]}" "$plan" 2>"$err" || rc=$?
  cat "$err" >&2
  if [ "$rc" -ne 0 ] && grep -q "saved plan is stale" "$err"; then
    rm -f "$err"
    echo "sparkform-ci: the state moved on since this plan was made: nothing was applied; run the merge request's pipeline again for a new plan" >&2
    exit 3
  fi
  rm -f "$err"
  [ "$rc" -eq 0 ] || die "apply of $plan failed"
  echo "sparkform-ci: applied $DESC at commit $commit"
}

case ${1:-} in
  mr) shift; mr "$@" ;;
  merge) merge ;;
  *) echo "usage: sparkform-ci.sh mr [COMMIT] | merge" >&2; exit 1 ;;
esac
