# plan -out / apply PLANFILE: applies exactly the saved plan, and refuses
# it once the state changed since.
. "$ROOT/tests/e2e/lib.sh"
cat > stack.yaml <<'YAML'
apiVersion: sparkform/v1
kind: Stack
metadata: {name: saved}
variables:
  v: {type: string, default: one}
resources:
  - {type: test_resource, name: a, with: {value: "${var.v}"}}
  - {type: test_resource, name: b, with: {value: "${test_resource.a.computed_value}"}}
YAML
sft plan -f stack.yaml -out first.plan
expect_rc 0
expect_out "Saved the plan to first.plan"
[ "$(stat -c %a first.plan)" = 600 ] || fail "plan file mode"
sft show first.plan
expect_rc 0
expect_out "Plan: 2 to add, 0 to change, 0 to destroy."
sft show -json first.plan
expect_rc 0
[ "$(jq -r '.resource_changes | length' "$WORK/.stdout")" = 2 ] || fail "show -json of a plan"

# The description changes after the plan: the saved plan still applies
# what was planned (value one), not what the file says now.
sed -i 's/default: one/default: two/' stack.yaml
sft apply first.plan
expect_rc 0
expect_out "Apply complete! Resources: 2 added"
[ "$(jq -r '.resources["test_resource.a"].attributes.value' sparkform.state.json)" = one ] || fail "saved plan not applied as planned"

# A plan made, then the state changes: the saved plan is refused.
sft plan -f stack.yaml -out second.plan
expect_rc 0
sft apply -f stack.yaml -auto-approve
expect_rc 0
cp sparkform.state.json before.json
sft apply second.plan
expect_rc 1
expect_err "the saved plan is stale"
cmp -s before.json sparkform.state.json || fail "a refused plan changed the state"

# A saved plan is applied once only.
sft plan -f stack.yaml -var v=three -out third.plan
expect_rc 0
sft apply third.plan
expect_rc 0
sft apply third.plan
expect_rc 1
expect_err "the saved plan is stale"
sft apply -target test_resource.a third.plan
expect_rc 1
