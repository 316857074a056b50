# A failing resource: independent branches go on, its dependents are
# skipped, what succeeded is recorded, and the failed object is tainted and
# replaced by the next apply.
. "$ROOT/tests/e2e/lib.sh"
cat > stack.yaml <<'YAML'
apiVersion: sparkform/v1
kind: Stack
metadata: {name: failures}
variables:
  fail: {type: string, default: create}
resources:
  - {type: test_resource, name: root, with: {value: r}}
  - {type: test_resource, name: bad, with: {value: "${test_resource.root.id}", fail_on: "${var.fail}"}}
  - {type: test_resource, name: child, with: {value: "${test_resource.bad.id}"}}
  - {type: test_resource, name: grandchild, with: {value: "${test_resource.child.id}"}}
  - {type: test_resource, name: other, with: {value: "${test_resource.root.id}", latency_ms: 300}}
  - {type: test_resource, name: lone, with: {value: lone}}
YAML
sft apply -f stack.yaml -auto-approve
expect_rc 1
expect_err "error: test_resource.bad: injected failure on create"
expect_out "test_resource.child: Skipped (upstream failed: test_resource.bad)"
expect_out "test_resource.grandchild: Skipped (upstream failed: test_resource.child)"
expect_out "test_resource.other: Creation complete"
expect_out "test_resource.lone: Creation complete"
expect_out "Apply failed. Resources: 3 added"
[ "$(jq -r '.resources | keys | join(",")' sparkform.state.json)" = "test_resource.bad,test_resource.lone,test_resource.other,test_resource.root" ] \
  || fail "state after a partial apply: $(jq -c '.resources | keys' sparkform.state.json)"
[ "$(jq -r '.resources["test_resource.bad"].status' sparkform.state.json)" = tainted ] || fail "bad not tainted"
[ "$(count_store)" = 4 ] || fail "store holds $(count_store) objects, expected 4"

# The next plan replaces the tainted object and creates what was skipped.
sft plan -f stack.yaml -var fail= -detailed-exitcode
expect_rc 2
expect_out "(because test_resource.bad is tainted, so it must be replaced)"
expect_out "Plan: 3 to add, 0 to change, 1 to destroy."
sft apply -f stack.yaml -var fail= -auto-approve
expect_rc 0
[ "$(count_store)" = 6 ] || fail "store holds $(count_store) objects, expected 6"
sft plan -f stack.yaml -var fail= -detailed-exitcode
expect_rc 0

# An update failure keeps the old object recorded and fails the run.
sft apply -f stack.yaml -var fail=update -auto-approve
expect_rc 1
expect_err "injected failure on update"
[ "$(jq -r '.resources["test_resource.bad"].status' sparkform.state.json)" = ok ] || fail "update failure changed the status"

# A delete failure leaves the resource in the state.
sft apply -f stack.yaml -var fail=delete -auto-approve
sft destroy -f stack.yaml -var fail=delete -auto-approve
expect_rc 1
expect_err "injected failure on delete"
jq -e '.resources["test_resource.bad"]' sparkform.state.json >/dev/null || fail "failed delete dropped the resource"
# root is needed by bad, which could not be deleted: it stays too.
jq -e '.resources["test_resource.root"]' sparkform.state.json >/dev/null || fail "root deleted before its dependent"
expect_out "test_resource.root: Skipped (upstream failed: test_resource.bad)"
