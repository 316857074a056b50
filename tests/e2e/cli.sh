# The command line: help, approval, JSON, graph, cycles, state commands,
# colors, secrets.
. "$ROOT/tests/e2e/lib.sh"
for c in validate plan apply destroy show output graph state force-unlock; do
  sf "$c" -help
  expect_rc 0
  expect_out "Usage: sparkform $c"
done
sf --help
expect_rc 0
expect_out "Commands:"
sf plna
expect_rc 1
expect_err 'unknown command "plna"; did you mean "plan"?'
sf apply -auto-aprove
expect_rc 1
expect_err "did you mean -auto-approve?"

cat > stack.yaml <<'YAML'
apiVersion: sparkform/v1
kind: Stack
metadata: {name: cli}
variables:
  token: {env: E2E_TOKEN, sensitive: true}
resources:
  - {type: test_resource, name: a, with: {value: a, secret: "${var.token}"}}
  - type: test_resource
    name: b
    with: {value: "${test_resource.a.id}"}
  - type: test_resource
    name: c
    with: {value: c}
    depends_on: [test_resource.a, test_resource.b]
outputs:
  b_id: "${test_resource.b.id}"
  token: {value: "${var.token}", sensitive: true}
YAML
export E2E_TOKEN=hunter2-very-secret

sft validate -f stack.yaml
expect_rc 0
expect_out "The description is valid."

# No terminal and no -auto-approve: refused, nothing done.
sft apply -f stack.yaml
expect_rc 1
expect_err "-auto-approve"
[ "$(count_store)" = 0 ] || fail "an unapproved apply created objects"

sft plan -f stack.yaml -json
expect_rc 0
jq -e '.format_version == "1.0" and (.resource_changes | length) == 3 and .summary.add == 3' "$WORK/.stdout" >/dev/null || fail "plan -json: $(cat "$WORK/.stdout")"
jq -e '.resource_changes[] | select(.address == "test_resource.a") | .change.after_sensitive.secret == true' "$WORK/.stdout" >/dev/null || fail "secret not flagged sensitive"
expect_no hunter2

sft plan -f stack.yaml
expect_out "(sensitive value)"
expect_no hunter2
if grep -q $'\033\[' "$WORK/.stdout"; then fail "color with NO_COLOR set"; fi

sft graph -f stack.yaml
expect_rc 0
expect_out 'digraph'
expect_out '"test_resource.a" -> "test_resource.b"'
# The reduced graph drops a -> c (implied through b).
expect_no_out '"test_resource.a" -> "test_resource.c"'
dot -Tsvg "$WORK/.stdout" >graph.svg || fail "dot cannot draw the graph"
grep -q "<svg" graph.svg || fail "no svg"

sft apply -f stack.yaml -auto-approve -parallelism 2
expect_rc 0
expect_no hunter2
grep -q hunter2 sparkform.state.json || fail "the state must keep the secret (it is 0600)"
sft show
expect_rc 0
expect_out 'resource "test_resource" "a"'
expect_no hunter2
sft show -json
expect_rc 0
expect_no hunter2
jq -e '.values.resources | length == 3' "$WORK/.stdout" >/dev/null || fail "show -json"
sft output -json
expect_rc 0
jq -e '.token.sensitive == true and (.token | has("value") | not) and (.b_id.value | length) > 0' "$WORK/.stdout" >/dev/null || fail "output -json: $(cat "$WORK/.stdout")"
sft output nope
expect_rc 1
expect_err 'no output named "nope"'
sft state show test_resource.a
expect_rc 0
expect_out 'resource "test_resource" "a"'
expect_no hunter2

# state mv / rm
sft state mv test_resource.c test_resource.d
expect_rc 0
sft state list
expect_out test_resource.d
sft state mv test_resource.d other_type.d
expect_rc 1
expect_err "the type must stay test_resource"
sft state mv test_resource.d test_resource.c
expect_rc 0
sft state rm test_resource.c
expect_rc 0
sft state rm test_resource.nope
expect_rc 1
expect_err "no resource test_resource.nope in the state"
# c forgotten: the next plan creates it again.
sft plan -f stack.yaml -detailed-exitcode
expect_rc 2
expect_out "Plan: 1 to add, 0 to change, 0 to destroy."

# -target limits the plan to the target and what it needs.
sft plan -f stack.yaml -var x=1
expect_rc 1
expect_err 'x'
sft plan -f stack.yaml -replace test_resource.a -target test_resource.a -detailed-exitcode
expect_rc 2
expect_out "(because -replace asked for it)"
expect_out "Plan: 1 to add, 0 to change, 1 to destroy."
expect_err "resource targeting is in effect"

# A cycle names every member with its line.
cat > cycle.yaml <<'YAML'
apiVersion: sparkform/v1
kind: Stack
metadata: {name: cycle}
resources:
  - {type: test_resource, name: x, with: {value: "${test_resource.z.id}"}}
  - {type: test_resource, name: y, with: {value: "${test_resource.x.id}"}}
  - {type: test_resource, name: z, with: {value: "${test_resource.y.id}"}}
YAML
sft validate -f cycle.yaml
expect_rc 1
expect_err "dependency cycle between 3 resources"
expect_err "test_resource.x at cycle.yaml:5"
expect_err "test_resource.y at cycle.yaml:6"
expect_err "test_resource.z at cycle.yaml:7"
