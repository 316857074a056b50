# A description read from git (-f git::file://REPO//envs/dev.yaml?ref=main)
# with a relative module and files: a saved plan applies the commit it was
# made from even after main moved on; the state records that commit and
# show prints it; examples/ci/sparkform-ci.sh's mr and merge modes work end
# to end and refuse a stale plan; a plain file removes the record; git
# modules come from the lock file committed beside the description; a bad
# ref, a missing path and a URL with a password fail clearly, without it.
. "$ROOT/tests/e2e/lib.sh"
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.invalid GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.invalid

mkdir repo run
git -C repo init -q -b main
mkdir -p repo/envs repo/modules/app
cat > repo/modules/app/module.yaml <<'YAML'
apiVersion: sparkform/v1
kind: Module
inputs:
  greeting: {type: string}
resources:
  - type: test_resource
    name: app
    with: {value: "${input.greeting} ${file(\"motd.txt\")}"}
outputs:
  value: "${test_resource.app.value}"
YAML
cat > repo/envs/dev.yaml <<'YAML'
apiVersion: sparkform/v1
kind: Stack
metadata: {name: gitops}
modules:
  - name: app
    source: ../modules/app
    inputs: {greeting: "${file(\"greeting.txt\")}"}
resources:
  - {type: test_resource, name: top, with: {value: "${module.app.value}"}}
YAML
printf hello > repo/envs/greeting.txt
printf v1 > repo/modules/app/motd.txt
git -C repo add -A && git -C repo commit -qm one
C1=$(git -C repo rev-parse HEAD)
URL="file://$WORK/repo"
SRC="git::$URL//envs/dev.yaml?ref=main"
value_of() { jq -r ".resources[\"$1\"].attributes.value" sparkform.state.json; }

cd run
sft plan -f "$SRC" -detailed-exitcode -out plan.bin
expect_rc 2
expect_out "Description from $URL//envs/dev.yaml at main (commit ${C1:0:7})"
expect_out 'value          = "hello v1"'
expect_out "Plan: 2 to add, 0 to change, 0 to destroy."
[ -d ".sparkform/modules/trees/$C1" ] || fail "the commit's tree is not in the cache of the current directory"

# main moves on before the apply: the saved plan still applies commit one.
printf v2 > ../repo/modules/app/motd.txt
git -C ../repo commit -qam two
C2=$(git -C ../repo rev-parse HEAD)
sft show plan.bin
expect_rc 0
expect_out "Description from $URL//envs/dev.yaml at commit $C1 (ref main)"
sft apply plan.bin
expect_rc 0
expect_out "at commit ${C1:0:7}, as planned"
expect_out "Apply complete! Resources: 2 added"
[ "$(value_of test_resource.top)" = "hello v1" ] || fail "the saved plan did not apply commit one: $(value_of test_resource.top)"
[ "$(value_of module.app.test_resource.app)" = "hello v1" ] || fail "module resource not from commit one"
grep -rqF '"hello v1"' "$SPARKFORM_TEST_STORE" || fail "the object made is not commit one's"
! grep -rqF '"hello v2"' "$SPARKFORM_TEST_STORE" || fail "commit two's content was applied"
[ "$(jq -r .source.commit sparkform.state.json)" = "$C1" ] || fail "the state does not record commit one"
[ "$(jq -r .source.url sparkform.state.json)" = "$URL" ] || fail "state source url"
[ "$(jq -r .source.path sparkform.state.json)" = envs/dev.yaml ] || fail "state source path"
[ "$(jq -r .source.ref sparkform.state.json)" = main ] || fail "state source ref"
sft show
expect_rc 0
expect_out "Applied from $URL//envs/dev.yaml at commit $C1 (ref main)"
sft show -json
[ "$(jq -r .source.commit "$WORK/.stdout")" = "$C1" ] || fail "show -json lacks the source"

# The CI script: mr plans commit two, merge applies exactly that plan.
export SPARKFORM="$SPARKFORM_TEST" SF_REPO_URL="$URL" SF_DESCRIPTION=envs/dev.yaml
CI="$ROOT/examples/ci/sparkform-ci.sh"
CI_COMMIT_SHA=$C2 run "$CI" mr
expect_rc 0
[ -f plan.bin ] && [ -f plan.txt ] || fail "mr keeps plan.bin and plan.txt"
grep -qF "Description from $URL//envs/dev.yaml at $C2" plan.txt || fail "plan.txt does not name the commit"
grep -qF '"hello v1" -> "hello v2"' plan.txt || { cat plan.txt; fail "plan.txt lacks the change"; }
[ "$(cat changes.txt)" = yes ] || fail "changes.txt"
run "$CI" merge
expect_rc 0
expect_out "applied envs/dev.yaml at commit $C2"
[ "$(value_of test_resource.top)" = "hello v2" ] || fail "merge did not apply commit two"
[ "$(jq -r .source.commit sparkform.state.json)" = "$C2" ] || fail "the state does not record commit two"
CI_COMMIT_SHA=$C2 run "$CI" mr
expect_rc 0
[ "$(cat changes.txt)" = no ] || fail "a second mr of the same commit has changes"

# A plan made, then another apply: the plan is stale and refused, by
# apply and by the CI script's merge, and the state stays as it was.
printf v3 > ../repo/modules/app/motd.txt
git -C ../repo commit -qam three
C3=$(git -C ../repo rev-parse HEAD)
sft plan -f "$SRC" -out stale.bin
expect_rc 0
CI_COMMIT_SHA=$C3 run "$CI" mr
expect_rc 0
sft apply -auto-approve -f "git::$URL//envs/dev.yaml?ref=${C3:0:10}"
expect_rc 0
expect_out "(commit ${C3:0:7})"
cp sparkform.state.json before.json
sft apply stale.bin
expect_rc 1
expect_err "the saved plan is stale"
run "$CI" merge
expect_rc 3
expect_err "the state moved on since this plan was made"
cmp -s before.json sparkform.state.json || fail "a refused plan changed the state"
[ "$(jq -r .source.commit sparkform.state.json)" = "$C3" ] || fail "state source after a short commit ref"

# Applied from a plain file: the record of a git source goes.
git clone -q ../repo checkout
sft apply -auto-approve -f checkout/envs/dev.yaml
expect_rc 0
[ "$(jq -r '.source // "none"' sparkform.state.json)" = none ] || fail "a plain file left the git source in the state"
sft show
expect_no_out "Applied from"

# Clear errors: a ref that does not exist, a path not in the commit, a
# URL with a password (never printed).
sft plan -f "git::$URL//envs/dev.yaml?ref=nope"
expect_rc 1
expect_err "git: $URL has no tag, branch or commit \"nope\""
sft validate -f "git::$URL//envs/prod.yaml?ref=main"
expect_rc 1
expect_err "git::$URL: envs/prod.yaml does not exist in commit ${C3:0:12} (ref main)"
sft plan -f "git::https://ci:hunter2@127.0.0.1:1/infra.git//envs/dev.yaml?ref=main"
expect_rc 1
expect_err "cannot clone https://127.0.0.1:1/infra.git"
expect_no hunter2
sft plan -f "git::https://ci:hunter2@127.0.0.1:1/infra.git?ref=main"
expect_rc 1
expect_err "name the description file"
expect_no hunter2
! grep -rqF hunter2 .sparkform sparkform.state.json || fail "the password was stored"

# A git module: taken from the lock file committed beside the description.
mkdir ../lib
git -C ../lib init -q -b main
cat > ../lib/module.yaml <<'YAML'
apiVersion: sparkform/v1
kind: Module
resources:
  - {type: test_resource, name: lib, with: {value: from-lib}}
YAML
git -C ../lib add -A && git -C ../lib commit -qm lib
git -C ../repo checkout -q -b withlib
cat >> ../repo/envs/dev.yaml <<YAML
  - {type: test_resource, name: extra, with: {value: x}}
YAML
sed -i "s|^modules:|modules:\n  - {name: lib, source: \"git::file://$WORK/lib?ref=main\"}|" ../repo/envs/dev.yaml
git -C ../repo commit -qam "a git module, no lock"
sft plan -f "git::$URL//envs/dev.yaml?ref=withlib"
expect_rc 1
expect_err "is not in the sparkform.lock.json committed beside the description in its repository"
(cd ../repo && "$SPARKFORM_TEST" init -f envs/dev.yaml >/dev/null)
git -C ../repo add envs/sparkform.lock.json && git -C ../repo commit -qm "lock"
rm -rf .sparkform
sft init -f "git::$URL//envs/dev.yaml?ref=withlib"
expect_rc 0
expect_out "is not rewritten"
sft plan -f "git::$URL//envs/dev.yaml?ref=withlib"
expect_rc 0
expect_out 'module.lib.test_resource.lib will be created'
[ ! -e .sparkform/modules/trees/*/envs/.sparkform ] || fail "a run wrote into an extracted tree"
