# Two applies at once: the second fails fast naming the holder, or waits
# with -lock-timeout.
# e2e: alone
. "$ROOT/tests/e2e/lib.sh"
cat > stack.yaml <<'YAML'
apiVersion: sparkform/v1
kind: Stack
metadata: {name: lock}
variables:
  latency: {type: number, default: 2500}
resources:
  - {type: test_resource, name: slow, with: {value: s, latency_ms: "${var.latency}"}}
YAML
"$SPARKFORM_TEST" apply -f stack.yaml -auto-approve >first.out 2>&1 &
first=$!; pids+=("$first")
for _ in $(seq 50); do [ -f sparkform.state.json.lock ] && break; sleep 0.1; done
[ -f sparkform.state.json.lock ] || fail "first apply never took the lock"

start=$(date +%s%N)
sft apply -f stack.yaml -auto-approve
expect_rc 1
expect_err "state is locked by"
expect_err "operation \"apply\""
expect_err "lock id $(jq -r .id sparkform.state.json.lock)"
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$elapsed_ms" -lt 2000 ] || fail "a locked apply took ${elapsed_ms}ms to fail"
# state rm and mv change the state: they are refused the same way, and
# leave it alone.
sft state rm test_resource.slow
expect_rc 1
expect_err "state is locked by"
expect_err "operation \"apply\""
sft state mv test_resource.slow test_resource.moved
expect_rc 1
expect_err "state is locked by"
# Reading needs no lock.
sft state list
expect_rc 0

# With a timeout it waits for the first one to finish.
sft plan -f stack.yaml -lock-timeout 20s -detailed-exitcode
wait "$first" || fail "first apply failed: $(cat first.out)"
expect_rc 0
expect_out "No changes."

# force-unlock with the wrong id leaves a lock alone.
"$SPARKFORM_TEST" apply -f stack.yaml -var latency=2000 -auto-approve >second.out 2>&1 &
second=$!; pids+=("$second")
for _ in $(seq 50); do [ -f sparkform.state.json.lock ] && break; sleep 0.1; done
sft force-unlock 00000000-0000-0000-0000-000000000000
expect_rc 1
expect_err "nothing was removed"
wait "$second" || fail "second apply failed: $(cat second.out)"
[ ! -f sparkform.state.json.lock ] || fail "lock left behind"
sft force-unlock whatever
expect_rc 1
expect_err "no lock"
