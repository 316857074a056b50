# Crash safety of the cloud provider: sparkform is killed with SIGKILL at
# 20 moments spread over an apply of the stack (mid-request included), and
# the next apply finishes the job. Every time the cloud then holds exactly
# one object per resource: what a killed run created and never recorded is
# adopted by its tag, never made twice, never left behind.
# e2e: alone
. "$ROOT/tests/e2e/lib-cloud.sh"
LC_DELAY_MS=100 cloud_start
write_stack
expected=$FULL_INVENTORY

# The state a run killed right after the cloud made the S3 credentials
# leaves: the entry's intent, no attributes. The next apply adopts the
# credential by the tag in its blob instead of making a second one.
sf apply -f stack.yaml -auto-approve
expect_rc 0
access=$(jq -r '.resources["cloud_s3_credentials.s3"].attributes.access_key' sparkform.state.json)
jq '.resources["cloud_s3_credentials.s3"] |= {type, status, dependencies,
      intent: {desired: {}, dependencies: []}}' sparkform.state.json > cut.json
mv cut.json sparkform.state.json
sf apply -f stack.yaml -auto-approve
expect_rc 0
expect_inventory "$expected" "after adopting the S3 credentials"
[ "$(jq -r '.resources["cloud_s3_credentials.s3"].attributes.access_key' sparkform.state.json)" = "$access" ] ||
  { cat "$WORK/.stdout"; jq '.resources["cloud_s3_credentials.s3"]' sparkform.state.json; fail "the S3 credentials were not adopted"; }
sf destroy -f stack.yaml -auto-approve
expect_rc 0

# How long an undisturbed apply takes sets the spread of the kills.
start=$(date +%s%N)
sf apply -f stack.yaml -auto-approve
expect_rc 0
span_ms=$(( ($(date +%s%N) - start) / 1000000 ))
expect_inventory "$expected" "after the undisturbed apply"
sf destroy -f stack.yaml -auto-approve
expect_rc 0
expect_inventory "" "after the undisturbed destroy"
echo "an apply takes ${span_ms} ms"

for i in $(seq 1 20); do
  at=$(( span_ms * i / 21 ))
  "$SPARKFORM" apply -f stack.yaml -auto-approve >"$WORK/killed.out" 2>&1 </dev/null &
  victim=$!
  sleep "$(printf '%d.%03d' $((at / 1000)) $((at % 1000)))"
  kill -9 "$victim" 2>/dev/null || true
  wait "$victim" 2>/dev/null || true
  # The killed run's lock stays behind; the next apply takes it over.
  left=; [ ! -f sparkform.state.json.lock ] || left=$(jq -r .id sparkform.state.json.lock)
  sf apply -f stack.yaml -auto-approve
  [ "$rc" -eq 0 ] || { cat "$WORK/.stdout" "$WORK/.stderr"; fail "kill $i at ${at} ms: the next apply failed"; }
  [ -z "$left" ] || expect_err "lock id $left); process"
  expect_inventory "$expected" "kill $i at ${at} ms"
  sf plan -f stack.yaml -detailed-exitcode
  [ "$rc" -eq 0 ] || { cat "$WORK/.stdout" "$WORK/.stderr"; fail "kill $i at ${at} ms: changes after the apply"; }
  sf destroy -f stack.yaml -auto-approve
  expect_rc 0
  expect_inventory "" "kill $i: after destroy"
done
