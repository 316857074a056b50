# examples/ci/sparkform-ci.sh as two pipelines run it, against a git
# repository this test makes and one state in an S3 bucket (localcloud's):
# each merge request's pipeline plans its commit to a file, each merge
# applies exactly that file. Two merges applying at the same moment: one
# applies, the other fails naming the holder of the state's lock (or finds
# its plan stale once the first is done), and applies nothing. After 20
# such races the state is valid and its serial counts every apply that
# succeeded exactly once; the description of the last applied commit is
# what exists.
. "$ROOT/tests/e2e/lib-localcloud.sh"
unset AWS_ENDPOINT_URL_S3 AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION AWS_CA_BUNDLE
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.invalid GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.invalid
lc_start lc --delay-ms 0 --tls-port -1
TOKEN=$(get_token)
USER_ID=$(body .token.user.id)
req POST "/identity/v3/users/$USER_ID/credentials/OS-EC2" '{"tenant_id":"local"}'
expect_code 201 "ec2 credentials"
export AWS_ACCESS_KEY_ID=$(body .credential.access) AWS_SECRET_ACCESS_KEY=$(body .credential.secret)
code=$(curl -s -o /dev/null -w '%{http_code}' --aws-sigv4 "aws:amz:local:s3" \
  --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
  -X PUT "$URL/s3/ci-states")
[ "$code" = 200 ] || fail "bucket not created: $code"
KEY=envs/prod/sparkform.state.json
# state_json: the state object, into state.json.
state_json() {
  code=$(curl -s -o state.json -w '%{http_code}' --aws-sigv4 "aws:amz:local:s3" \
    --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
    "$URL/s3/ci-states/$KEY")
  [ "$code" = 200 ] || fail "no state object: HTTP $code"
  jq -e '.resources and (.serial | type == "number")' state.json >/dev/null || fail "the state object is not a state: $(head -c 300 state.json)"
}

# ---- the repository: a description whose value each commit changes
mkdir repo
git -C repo init -q -b main
commit() { # commit VALUE: a new commit of the description with that value; prints its hash
  cat > repo/sparkform.yaml <<YAML
apiVersion: sparkform/v1
kind: Stack
metadata: {name: ci}
state:
  backend: s3
  bucket: ci-states
  key: $KEY
  endpoint: $URL/s3
  region: local
resources:
  - {type: test_resource, name: app, with: {value: "$1", latency_ms: 400}}
YAML
  git -C repo add -A && git -C repo commit -qm "value $1" && git -C repo rev-parse HEAD
}
export SF_REPO_URL="file://$WORK/repo" SF_DESCRIPTION=sparkform.yaml SPARKFORM="$SPARKFORM_TEST"
CI="$ROOT/examples/ci/sparkform-ci.sh"

# pipeline DIR MODE [COMMIT]: one pipeline job in its own workspace.
pipeline() {
  local dir=$1; shift
  mkdir -p "$dir"
  (cd "$dir" && SF_OUT=. bash "$CI" "$@")
}

# ---- one merge request, then its merge
c=$(commit v0)
run pipeline p0 mr "$c"
expect_rc 0
[ "$(cat p0/changes.txt)" = yes ] || fail "the first plan has no changes"
grep -q 'test_resource.app will be created' p0/plan.txt || fail "plan.txt lacks the create: $(cat p0/plan.txt)"
run pipeline p0 merge
expect_rc 0
expect_out "applied sparkform.yaml at commit ${c:0:7}"
state_json
[ "$(jq -r .serial state.json)" = 1 ] || fail "serial $(jq -r .serial state.json) after the first apply"
[ "$(jq -r '.resources["test_resource.app"].attributes.value' state.json)" = v0 ] || fail "v0 not applied"
expect_no "$AWS_SECRET_ACCESS_KEY"

# ---- 20 races: two merge requests planned on the same state, merged at once
applied=1 locked=0
for i in $(seq 1 20); do
  ca=$(commit "a$i"); cb=$(commit "b$i")
  run pipeline "ra$i" mr "$ca"; expect_rc 0
  run pipeline "rb$i" mr "$cb"; expect_rc 0
  (set +e; cd "ra$i" && SF_OUT=. bash "$CI" merge >out 2>err; echo $? > rc) &
  pa=$!; pids+=("$pa")
  (set +e; cd "rb$i" && SF_OUT=. bash "$CI" merge >out 2>err; echo $? > rc) &
  pb=$!; pids+=("$pb")
  wait "$pa" "$pb"
  ra=$(cat "ra$i/rc") rb=$(cat "rb$i/rc")
  ok=0 winner=
  [ "$ra" = 0 ] && ok=$((ok + 1)) winner=a
  [ "$rb" = 0 ] && ok=$((ok + 1)) winner=b
  [ "$ok" = 1 ] || fail "race $i: $ok merges applied (exit $ra and $rb): $(cat "ra$i/err" "rb$i/err")"
  loser=$([ "$winner" = a ] && echo b || echo a)
  # The loser applied nothing, and said why: the lock's holder, or a stale plan.
  if grep -q "state is locked by" "r$loser$i/err"; then
    grep -q 'operation "apply"' "r$loser$i/err" || fail "race $i: the lock message names no operation: $(cat "r$loser$i/err")"
    locked=$((locked + 1))
  else
    [ "$(cat "r$loser$i/rc")" = 3 ] || fail "race $i: the loser failed otherwise: $(cat "r$loser$i/err")"
  fi
  applied=$((applied + 1))
  state_json
  [ "$(jq -r .serial state.json)" = "$applied" ] ||
    fail "race $i: serial $(jq -r .serial state.json), expected $applied (one per apply)"
  [ "$(jq -r '.resources["test_resource.app"].attributes.value' state.json)" = "$winner$i" ] ||
    fail "race $i: the state holds $(jq -r '.resources["test_resource.app"].attributes.value' state.json), the winner applied $winner$i"
  [ "$(jq -r '.resources | length' state.json)" = 1 ] || fail "race $i: $(jq -r '.resources | length' state.json) resources"
done
code=$(curl -s -o /dev/null -w '%{http_code}' --aws-sigv4 "aws:amz:local:s3" \
  --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
  "$URL/s3/ci-states/$KEY.lock")
[ "$code" = 404 ] || fail "a lock was left behind: HTTP $code"
# The merges overlapped: at least some found the lock held, not only a stale plan.
[ "$locked" -ge 5 ] || fail "only $locked of 20 races met the lock: the merges did not run at the same time"
echo "ci_s3 passed: $applied applies, serial $(jq -r .serial state.json), $locked losers refused by the lock"
