# The state kept in an S3 bucket (localcloud's): applies leave the state
# object there and nothing local but the journal while they run; a second
# apply fails at once naming the holder, or waits with -lock-timeout; 20
# races of two applies leave a valid state whose serial counts every
# successful apply once; a killed apply's lock is reported until its
# (shortened) lease runs out and then taken over; force-unlock removes a
# lock, and the run that held it stops before writing the state.
# e2e: alone
. "$ROOT/tests/e2e/lib-localcloud.sh"
unset AWS_ENDPOINT_URL_S3 AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION AWS_CA_BUNDLE
lc_start lc --delay-ms 0 --tls-port -1
TOKEN=$(get_token)
USER_ID=$(body .token.user.id)
req POST "/identity/v3/users/$USER_ID/credentials/OS-EC2" '{"tenant_id":"local"}'
expect_code 201 "ec2 credentials"
export AWS_ACCESS_KEY_ID=$(body .credential.access) AWS_SECRET_ACCESS_KEY=$(body .credential.secret)

KEY=envs/dev/sparkform.state.json
# s3req METHOD KEY: a signed request; status in $code, body in $WORK/obj.
s3req() {
  code=$(curl -s -o "$WORK/obj" -w '%{http_code}' --aws-sigv4 "aws:amz:local:s3" \
    --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
    -X "$1" "$URL/s3/sf-states${2:+/$2}")
}
s3req PUT ""
[ "$code" = 200 ] || { cat "$WORK/obj"; fail "bucket not created: $code"; }
state() { s3req GET "$KEY"; [ "$code" = 200 ] || fail "no state object: HTTP $code"; jq -r "$1" "$WORK/obj"; }
lock_id() { s3req GET "$KEY.lock"; [ "$code" = 200 ] && jq -r .id "$WORK/obj"; }
wait_lock() {
  for _ in $(seq 100); do s3req GET "$KEY.lock"; [ "$code" = 200 ] && return 0; sleep 0.05; done
  fail "the apply never took the lock"
}
no_local_state() {
  [ -z "$(ls sparkform.state.json* 2>/dev/null)" ] || fail "a local state file appeared: $(ls sparkform.state.json*)"
}

cat > stack.yaml <<YAML
apiVersion: sparkform/v1
kind: Stack
metadata: {name: s3state}
variables:
  value: {type: string, default: one}
  latency: {type: number, default: 0}
state:
  backend: s3
  bucket: sf-states
  key: $KEY
  endpoint: $URL/s3
  region: local
resources:
  - {type: test_resource, name: slow, with: {value: "\${var.value}", latency_ms: "\${var.latency}"}}
YAML

# ---- the description's checks
cp stack.yaml bad.yaml
sed -i 's/^  region: local/  regoin: local\n  secret_key: plain/' bad.yaml
sft validate bad.yaml
expect_rc 1
expect_err "bad.yaml:12:3"
expect_err 'unknown key "regoin" under state; did you mean "region"?'
expect_err "state.secret_key is a secret and may not be written in the description"
expect_no plain

# ---- an apply keeps the state in the bucket
sft apply -f stack.yaml -auto-approve
expect_rc 0
[ "$(state .serial)" = 1 ] || fail "serial $(state .serial) after the first apply"
[ "$(state '.resources["test_resource.slow"].attributes.value')" = one ] || fail "the state object lacks the resource"
s3req GET "$KEY.lock"; [ "$code" = 404 ] || fail "the lock was left behind: HTTP $code"
no_local_state
[ -z "$(ls .sparkform/*.journal 2>/dev/null)" ] || fail "the journal was left behind"
expect_no "$AWS_SECRET_ACCESS_KEY"
sft state list -f stack.yaml
expect_rc 0
expect_out test_resource.slow

# ---- a second apply fails at once naming the holder; -lock-timeout waits
"$SPARKFORM_TEST" apply -f stack.yaml -var value=two -var latency=2500 -auto-approve >first.out 2>&1 &
first=$!; pids+=("$first")
wait_lock
id=$(lock_id)
for _ in $(seq 50); do ls .sparkform/*.journal >/dev/null 2>&1 && break; sleep 0.05; done
ls .sparkform/*.journal >/dev/null 2>&1 || fail "no local journal while the apply runs"
no_local_state
start=$(date +%s%N)
sft apply -f stack.yaml -var value=three -auto-approve
expect_rc 1
expect_err "state is locked by"
expect_err "operation \"apply\""
expect_err "lock id $id"
expect_err "lease until"
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$elapsed_ms" -lt 2000 ] || fail "a locked apply took ${elapsed_ms}ms to fail"
sft state rm -f stack.yaml test_resource.slow
expect_rc 1
expect_err "state is locked by"
sft plan -f stack.yaml -var value=two -var latency=2500 -lock-timeout 20s -detailed-exitcode
wait "$first" || fail "first apply failed: $(cat first.out)"
expect_rc 0
expect_out "No changes."
[ "$(state .serial)" = 2 ] || fail "serial $(state .serial) after the second apply"

# ---- 20 races of two applies at once
serial=$(state .serial)
ok=0
for i in $(seq 20); do
  "$SPARKFORM_TEST" apply -f stack.yaml -var value="$i-a" -var latency=100 -auto-approve >a.out 2>&1 & a=$!
  "$SPARKFORM_TEST" apply -f stack.yaml -var value="$i-b" -var latency=100 -auto-approve >b.out 2>&1 & b=$!
  pids+=("$a" "$b")
  ra=0; wait "$a" || ra=$?
  rb=0; wait "$b" || rb=$?
  for r in a b; do
    rr=$([ "$r" = a ] && echo "$ra" || echo "$rb")
    if [ "$rr" = 0 ]; then ok=$((ok + 1));
    else grep -qF "state is locked by" "$r.out" || fail "race $i: apply $r failed otherwise: $(cat "$r.out")"; fi
  done
  [ "$ra" = 0 ] || [ "$rb" = 0 ] || fail "race $i: neither apply succeeded"
done
[ "$(state .serial)" = $((serial + ok)) ] || fail "serial $(state .serial) after $ok successful applies from $serial"
state '.lineage' >/dev/null
s3req GET "$KEY.lock"; [ "$code" = 404 ] || fail "a race left the lock behind"
no_local_state

# ---- kill -9 of an apply: its lock is reported until the lease runs out,
# then taken over
export SPARKFORM_LOCK_LEASE=3s
"$SPARKFORM_TEST" apply -f stack.yaml -var value=killed -var latency=5000 -auto-approve >killed.out 2>&1 &
victim=$!; pids+=("$victim")
wait_lock
dead=$(lock_id)
sleep 0.5
kill -9 "$victim"
wait "$victim" 2>/dev/null || true
sft apply -f stack.yaml -var value=after -auto-approve
expect_rc 1
expect_err "state is locked by"
expect_err "lock id $dead"
sleep 4
sft apply -f stack.yaml -var value=after -auto-approve
expect_rc 0
expect_err "took over the state lock left by a run that died"
expect_err "lock id $dead"
[ "$(state '.resources["test_resource.slow"].attributes.value')" = after ] || fail "the apply after the takeover did not record its change"
s3req GET "$KEY.lock"; [ "$code" = 404 ] || fail "the lock was left behind after the takeover"
[ -z "$(ls .sparkform/*.journal 2>/dev/null)" ] || fail "the killed run's journal was not folded"

# ---- force-unlock: a wrong id leaves the lock alone; the right one
# removes it, and the run that held it stops before writing the state
serial=$(state .serial)
"$SPARKFORM_TEST" apply -f stack.yaml -var value=unlocked -var latency=3000 -auto-approve >held.out 2>&1 &
held=$!; pids+=("$held")
wait_lock
id=$(lock_id)
sft force-unlock -f stack.yaml 00000000-0000-0000-0000-000000000000
expect_rc 1
expect_err "nothing was removed"
sft force-unlock -f stack.yaml "$id"
expect_rc 0
expect_out "The state lock $id was removed."
rh=0; wait "$held" || rh=$?
[ "$rh" = 1 ] || fail "the apply whose lock was removed exited $rh: $(cat held.out)"
grep -qF "was lost" held.out || fail "the apply did not say its lock was lost: $(cat held.out)"
[ "$(state .serial)" = "$serial" ] || fail "the apply that lost its lock wrote the state"
ls .sparkform/*.journal >/dev/null 2>&1 || fail "the journal of the apply that lost its lock is gone"
# The next run replays that journal and uploads it.
sft apply -f stack.yaml -var value=unlocked -var latency=3000 -auto-approve
expect_out "No changes."
expect_rc 0
[ "$(state .serial)" = $((serial + 1)) ] || fail "serial $(state .serial) after the replay from $serial"
[ "$(state '.resources["test_resource.slow"].attributes.value')" = unlocked ] || fail "the replayed change is missing"
[ -z "$(ls .sparkform/*.journal 2>/dev/null)" ] || fail "the replayed journal was left behind"
sft force-unlock -f stack.yaml whatever
expect_rc 1
expect_err "no lock is held on s3://sf-states/$KEY"
no_local_state
