# The provider contract as the engine runs it: a provider is configured once
# per run before its first call (however many resources call at once), never
# when nothing uses it, from its providers: block or the environment; secrets
# only from the environment or sensitive variables; timeouts: bound a call;
# import brings an existing object under management.
. "$ROOT/tests/e2e/lib.sh"
log="$SPARKFORM_TEST_STORE/configure.log"

# Nothing of the test provider in the description: never configured.
cat > files.yaml <<'YAML'
apiVersion: sparkform/v1
kind: Stack
metadata: {name: files}
resources:
  - {type: local_file, name: a, with: {path: out/a.txt, content: "a\n"}}
YAML
sft apply -f files.yaml -auto-approve
expect_rc 0
[ ! -e "$log" ] || fail "the test provider was configured for a stack that does not use it"

# Eight resources in parallel: one configure per run, its settings reach the calls.
{
  printf 'apiVersion: sparkform/v1\nkind: Stack\nmetadata: {name: cfg}\n'
  printf 'variables:\n  token: {env: TOKEN, sensitive: true}\n'
  printf 'providers:\n  test: {label: from-block, token: "${var.token}"}\n'
  printf 'resources:\n'
  for i in 1 2 3 4 5 6 7 8; do printf '  - {type: test_resource, name: r%d, with: {value: v%d, latency_ms: 200}}\n' "$i" "$i"; done
} > stack.yaml
export TOKEN=s3cr3t-t0ken
sft apply -f stack.yaml -auto-approve
expect_rc 0
[ "$(wc -l < "$log")" -eq 1 ] || { cat "$log"; fail "apply configured the provider $(wc -l < "$log") times"; }
grep -qx "label=from-block token=set" "$log" || { cat "$log"; fail "settings did not reach configure"; }
n=$(grep -l '"provider_label": "from-block"' "$SPARKFORM_TEST_STORE"/*.json | wc -l)
[ "$n" -eq 8 ] || fail "$n of 8 objects saw the provider's context"
sft plan -f stack.yaml -detailed-exitcode
expect_rc 0
[ "$(wc -l < "$log")" -eq 2 ] || fail "plan did not configure exactly once"
expect_no "s3cr3t-t0ken"

# The environment is the default when the block does not set a key.
sed -i 's/{label: from-block, token: "${var.token}"}/{token: "${var.token}"}/' stack.yaml
SPARKFORM_TEST_LABEL=from-env run "$SPARKFORM_TEST" plan -f stack.yaml
expect_rc 0
tail -n1 "$log" | grep -qx "label=from-env token=set" || { cat "$log"; fail "environment default not used"; }

# A refused token: one error of the provider, the run fails, nothing changes.
TOKEN=wrong sft plan -f stack.yaml
expect_rc 1
expect_err "refused its token"
[ "$(grep -c "refused its token" "$WORK/.stderr")" -eq 1 ] || fail "the configure error was repeated"

# Secrets: never a literal, never a plain variable.
cat > literal.yaml <<'YAML'
apiVersion: sparkform/v1
kind: Stack
metadata: {name: lit}
providers:
  test:
    token: hunter2
resources: []
YAML
sft validate -f literal.yaml
expect_rc 1
expect_err "literal.yaml:6:12: error: providers.test.token is a secret and may not be written in the description; set it in the environment variable SPARKFORM_TEST_TOKEN or use a sensitive variable"
expect_no "hunter2"
cat > plainvar.yaml <<'YAML'
apiVersion: sparkform/v1
kind: Stack
metadata: {name: plain}
variables:
  tok: {default: abc}
providers:
  test: {token: "${var.tok}"}
resources:
  - {type: test_resource, name: x, with: {value: x}}
YAML
sft plan -f plainvar.yaml
expect_rc 1
expect_err "plainvar.yaml:7:17: error: providers.test.token is a secret: it must come from a sensitive variable or the environment variable SPARKFORM_TEST_TOKEN"

# Misspellings get a suggestion with the place.
cat > typo.yaml <<'YAML'
apiVersion: sparkform/v1
kind: Stack
metadata: {name: typo}
providers:
  tset: {}
  test: {lable: x}
resources: []
YAML
sft validate -f typo.yaml
expect_rc 1
expect_err 'typo.yaml:5:3: error: unknown key "tset" under providers; did you mean "test"?'
expect_err 'typo.yaml:6:10: error: unknown key "lable" in providers.test; did you mean "label"?'

# timeouts: bound each operation.
cat > slow.yaml <<'YAML'
apiVersion: sparkform/v1
kind: Stack
metadata: {name: slow}
resources:
  - type: test_resource
    name: slow
    with: {value: s, latency_ms: 5000}
    timeouts: {create: 1s}
YAML
start=$(date +%s)
sft apply -f slow.yaml -auto-approve -state slow.state.json
expect_rc 1
expect_err "timed out"
[ $(( $(date +%s) - start )) -lt 4 ] || fail "the create ran past its 1s timeout"
sed -i 's/{create: 1s}/{create: soon}/' slow.yaml
sft validate -f slow.yaml
expect_rc 1
expect_err 'slow.yaml:8:24: error: test_resource.slow: timeouts.create: expected a duration like 90s, 30m or 2h, got "soon"'

# import: forget an object, import it by id, and the plan has nothing to do.
id=$(jq -r '.resources["test_resource.r3"].attributes.id' sparkform.state.json)
sft state rm test_resource.r3
expect_rc 0
sft import -f stack.yaml test_resource.r3 "$id"
expect_rc 0
expect_out "test_resource.r3: Import complete"
sft plan -f stack.yaml -detailed-exitcode
expect_rc 0
sft import -f stack.yaml test_resource.r3 "$id"
expect_rc 1
expect_err "already manages test_resource.r3"
sft state rm test_resource.r4
sft import -f stack.yaml test_resource.r4 no-such-object
expect_rc 1
expect_err "import: no test_resource with id \"no-such-object\" exists"
sft import -f stack.yaml test_resource.r9 "$id"
expect_rc 1
expect_err "test_resource.r9 is not declared in stack.yaml"
