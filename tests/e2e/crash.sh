# A run killed between "created" and "recorded": the next run finds the
# object through adopt instead of creating a duplicate.
. "$ROOT/tests/e2e/lib.sh"
cat > stack.yaml <<'YAML'
apiVersion: sparkform/v1
kind: Stack
metadata: {name: crash}
resources:
  - {type: test_resource, name: a, with: {value: a}}
  - {type: test_resource, name: b, with: {value: "${test_resource.a.id}"}}
  - {type: test_resource, name: c, with: {value: c}}
YAML
SPARKFORM_TEST_CRASH_AFTER_CREATE=test_resource.b sft apply -f stack.yaml -auto-approve -parallelism 1
expect_rc 137
[ -f sparkform.state.json.journal ] || fail "no journal left by the killed run"
[ -f sparkform.state.json.lock ] || fail "the killed run's lock is gone"
objects_before=$(count_store)

# The killed run's lock is taken over by the next run, which names the
# dead holder; no force-unlock is needed.
lock_id=$(jq -r .id sparkform.state.json.lock)
dead_pid=$(jq -r .pid sparkform.state.json.lock)
sft plan -f stack.yaml -detailed-exitcode
expect_err "warning: took over the state lock left by a run that died:"
expect_err "(pid $dead_pid, operation \"apply\","
expect_err "lock id $lock_id); process $dead_pid is gone"
[ ! -f sparkform.state.json.lock ] || fail "the plan left a lock"
# b was adopted: only what was never created remains to do.
grep -q "test_resource.b will be created" "$WORK/.stdout" && fail "adopted object planned again"
sft apply -f stack.yaml -auto-approve
expect_rc 0
[ "$(count_store)" = 3 ] || fail "store holds $(count_store) objects (had $objects_before after the crash), expected 3"
[ ! -f sparkform.state.json.journal ] || fail "journal not folded"
sft plan -f stack.yaml -detailed-exitcode
expect_rc 0
[ "$(jq -r '.resources["test_resource.b"].attributes.value' sparkform.state.json)" = "$(jq -r '.resources["test_resource.a"].attributes.id' sparkform.state.json)" ] || fail "adopted object wrong"

# Killed after creating the last object still to make: the next apply has
# nothing to change, and records the adopted object all the same.
cat > one.yaml <<'YAML'
apiVersion: sparkform/v1
kind: Stack
metadata: {name: crash-one}
resources:
  - {type: test_resource, name: only, with: {value: x}}
YAML
SPARKFORM_TEST_CRASH_AFTER_CREATE=test_resource.only sft apply -f one.yaml -state one.json -auto-approve
expect_rc 137
sft apply -f one.yaml -state one.json -auto-approve
expect_rc 0
expect_err "took over the state lock left by a run that died"
expect_out "No changes."
expect_out "Recorded in the state what the refresh found for 1 resource"
[ "$(jq -r '.resources["test_resource.only"].attributes.value' one.json)" = x ] || fail "the adopted object was not recorded"
jq -e '.resources["test_resource.only"] | has("intent") | not' one.json >/dev/null || fail "the intent is still recorded"
sft apply -f one.yaml -state one.json -auto-approve
expect_rc 0
expect_no_out "Recorded in the state"
