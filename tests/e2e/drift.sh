# Changes made outside sparkform: reported as such, an ignore_drift
# attribute is not a diff, -refresh-only records reality, ignore_changes and
# prevent_destroy are honoured, create_before_destroy orders the
# replacement.
. "$ROOT/tests/e2e/lib.sh"
cat > stack.yaml <<'YAML'
apiVersion: sparkform/v1
kind: Stack
metadata: {name: drift}
variables:
  key: {type: string, default: k1}
resources:
  - {type: test_resource, name: a, with: {value: a, size: 3, tags: {team: data}}}
  - type: test_resource
    name: b
    with: {value: b, count: 1}
    lifecycle: {ignore_changes: [count]}
  - type: test_resource
    name: c
    with: {value: c, key: "${var.key}"}
    lifecycle: {create_before_destroy: true}
  - {type: test_resource, name: d, with: {value: "${test_resource.c.id}"}}
YAML
sft apply -f stack.yaml -auto-approve
expect_rc 0
obj() { echo "$SPARKFORM_TEST_STORE/$(jq -r ".resources[\"$1\"].attributes.id" sparkform.state.json).json"; }
edit() { jq "$2" "$1" >"$1.tmp" && mv "$1.tmp" "$1"; }

# size is like an autoscaled node count: drift there is no diff.
edit "$(obj test_resource.a)" '.attributes.size = 5'
sft plan -f stack.yaml -detailed-exitcode
expect_rc 0
expect_out "test_resource.a has changed"
expect_out "No changes."

# value drift is a diff; the plan says it was changed outside.
edit "$(obj test_resource.a)" '.attributes.value = "changed-by-hand"'
sft plan -f stack.yaml -detailed-exitcode
expect_rc 2
expect_out "Objects have changed outside of sparkform"
expect_out '"changed-by-hand" -> "a"'
# -refresh-only records reality without changing anything.
sft apply -f stack.yaml -refresh-only -auto-approve
expect_rc 0
[ "$(jq -r '.resources["test_resource.a"].attributes.value' sparkform.state.json)" = changed-by-hand ] || fail "refresh-only did not record"
jq -r '.attributes.value' "$(obj test_resource.a)" | grep -q changed-by-hand || fail "refresh-only changed the object"

# ignore_changes: a new count in the description is not applied.
sed -i 's/count: 1/count: 2/' stack.yaml
sft plan -f stack.yaml -target test_resource.b -detailed-exitcode
expect_rc 0

# create_before_destroy: the new c exists before the old is deleted, and d
# (which uses c's id) is updated in between.
old_c=$(jq -r '.resources["test_resource.c"].attributes.id' sparkform.state.json)
sft apply -f stack.yaml -var key=k2 -auto-approve -parallelism 1
expect_rc 0
expect_out "test_resource.c must be replaced"
create_line=$(grep -n "test_resource.c: Creation complete" "$WORK/.stdout" | cut -d: -f1)
update_line=$(grep -n "test_resource.d: Modifications complete" "$WORK/.stdout" | cut -d: -f1)
destroy_line=$(grep -n "test_resource.c: Destruction complete" "$WORK/.stdout" | cut -d: -f1)
[ -n "$create_line" ] && [ -n "$update_line" ] && [ -n "$destroy_line" ] || fail "missing steps: $(cat "$WORK/.stdout")"
[ "$create_line" -lt "$update_line" ] && [ "$update_line" -lt "$destroy_line" ] || fail "create_before_destroy order: create $create_line, update $update_line, destroy $destroy_line"
[ ! -f "$SPARKFORM_TEST_STORE/$old_c.json" ] || fail "old c not deleted"
[ "$(count_store)" = 4 ] || fail "store holds $(count_store)"

# prevent_destroy: a plan that would destroy it is an error.
sed -i 's/lifecycle: {create_before_destroy: true}/lifecycle: {create_before_destroy: true, prevent_destroy: true}/' stack.yaml
sft plan -f stack.yaml -var key=k3
expect_rc 1
expect_err "prevent_destroy"
sft destroy -f stack.yaml -var key=k2 -auto-approve
expect_rc 1
expect_err "prevent_destroy"
[ "$(count_store)" = 4 ] || fail "a refused destroy deleted objects"
