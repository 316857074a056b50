# `state rm` and `state mv` beside an apply: they wait for the apply's lock
# and only then read the state, so what the apply recorded survives their
# commit and their own change is made on top of it.
# e2e: alone
. "$ROOT/tests/e2e/lib.sh"
stack() {
  cat > stack.yaml <<YAML
apiVersion: sparkform/v1
kind: Stack
metadata: {name: race}
resources:
  - {type: test_resource, name: keep, with: {value: k}}
  - {type: test_resource, name: old1, with: {value: o1}}
  - {type: test_resource, name: old2, with: {value: o2}}
$1
YAML
}
attr() { jq -r --arg a "$1" --arg k "$2" '.resources[$a].attributes[$k] // "MISSING"' sparkform.state.json; }

# Waits until the background apply holds the lock and has journaled the
# start of ADDR's create, so the state command below surely runs while the
# apply is in the middle of its slow create.
wait_in_flight() {
  for _ in $(seq 100); do
    [ -f sparkform.state.json.lock ] && grep -qF "\"$1\"" sparkform.state.json.journal 2>/dev/null && return 0
    sleep 0.05
  done
  fail "the apply never started creating $1"
}

stack ""
sft apply -f stack.yaml -auto-approve
expect_rc 0

# rm while an apply creates b.
stack '  - {type: test_resource, name: b, with: {value: b, latency_ms: 2500}}'
"$SPARKFORM_TEST" apply -f stack.yaml -auto-approve >apply1.out 2>&1 &
first=$!; pids+=("$first")
wait_in_flight test_resource.b
sft state rm test_resource.old1 -lock-timeout 20s
wait "$first" || fail "apply failed: $(cat apply1.out)"
expect_rc 0
expect_out "Removed test_resource.old1"
[ "$(attr test_resource.b id)" != MISSING ] || fail "the apply's record of b was lost: $(jq -c '.resources["test_resource.b"]' sparkform.state.json)"
[ "$(attr test_resource.b value)" = b ] || fail "b has the wrong attributes"
jq -e '.resources["test_resource.b"] | has("intent") | not' sparkform.state.json >/dev/null ||
  fail "b still has its intent"
jq -e '.resources | has("test_resource.old1") | not' sparkform.state.json >/dev/null ||
  fail "state rm had no effect"
[ "$(attr test_resource.keep value)" = k ] || fail "keep was lost"

# mv while an apply creates c.
stack '  - {type: test_resource, name: b, with: {value: b, latency_ms: 2500}}
  - {type: test_resource, name: c, with: {value: c, latency_ms: 2500}}'
"$SPARKFORM_TEST" apply -f stack.yaml -auto-approve >apply2.out 2>&1 &
second=$!; pids+=("$second")
wait_in_flight test_resource.c
old2_id=$(attr test_resource.old2 id)
sft state mv test_resource.old2 test_resource.moved -lock-timeout 20s
wait "$second" || fail "apply failed: $(cat apply2.out)"
expect_rc 0
expect_out "Moved test_resource.old2 to test_resource.moved"
[ "$(attr test_resource.c id)" != MISSING ] || fail "the apply's record of c was lost: $(jq -c '.resources["test_resource.c"]' sparkform.state.json)"
[ "$(attr test_resource.c value)" = c ] || fail "c has the wrong attributes"
[ "$(attr test_resource.moved id)" = "$old2_id" ] || fail "state mv had no effect"
jq -e '.resources | has("test_resource.old2") | not' sparkform.state.json >/dev/null ||
  fail "old2 still in the state after mv"
# old1 (re-created by the second apply, it is still described) and b keep theirs.
[ "$(attr test_resource.b value)" = b ] || fail "b was lost"
[ ! -f sparkform.state.json.journal ] || fail "journal left behind"
[ ! -f sparkform.state.json.lock ] || fail "lock left behind"
