# State encryption: an encrypted local state, its backup, its journal and
# a saved plan hold neither the secret nor any attribute name in clear;
# plan, show, output, status and apply of a saved plan work through it; a
# wrong key is refused with a clear message and every file left
# byte-identical; a key is rotated with old_key; the S3 state object is
# sealed; `state migrate` moves a plain local state into the bucket,
# encrypted, and back.
. "$ROOT/tests/e2e/lib-localcloud.sh"
unset AWS_ENDPOINT_URL_S3 AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION AWS_CA_BUNDLE

SECRET="pw-$RANDOM-$RANDOM-never-in-clear"
export SF_PW="$SECRET"
export SF_STATE_KEY="correct horse battery staple $RANDOM"

# sealed FILE: an envelope, and nothing of the state readable in it.
sealed() {
  [ -f "$1" ] || fail "$1 does not exist"
  jq -e '.sparkform_encrypted == 1' "$1" >/dev/null || fail "$1 is not encrypted: $(head -c 300 "$1")"
  for word in "$SECRET" test_resource '"secret"' '"value"' computed_value lineage; do
    ! grep -qF -- "$word" "$1" || fail "$1 holds \"$word\" in clear"
  done
}

stack() { # stack STATE_BLOCK: the description with that state: block
  cat > stack.yaml <<YAML
apiVersion: sparkform/v1
kind: Stack
metadata: {name: crypt}
variables:
  pw: {type: string, env: SF_PW, sensitive: true}
  v: {type: string, default: one}
  latency: {type: number, default: 0}
  k: {type: string, default: k1}
state:
$1
resources:
  - {type: test_resource, name: a, with: {value: "\${var.v}", secret: "\${var.pw}", key: "\${var.k}", latency_ms: "\${var.latency}"}}
outputs:
  pw: {value: "\${var.pw}", sensitive: true}
  v: {value: "\${test_resource.a.value}"}
YAML
}
stack "  encryption: {key: {env: SF_STATE_KEY}}"

# ---- the description's checks
cp stack.yaml bad.yaml
sed -i 's/key: {env: SF_STATE_KEY}/key: "hunter2", kdf: md5/' bad.yaml
sft validate bad.yaml
expect_rc 1
expect_err "bad.yaml:10:"
expect_err "state.encryption.key is a secret and may not be written in the description"
expect_err 'state.encryption.kdf: expected pbkdf2'
expect_no hunter2
SF_STATE_KEY= sft plan -f stack.yaml
expect_rc 1
expect_err "the environment variable SF_STATE_KEY is not set"

# ---- apply: the state, then its backup, are sealed
sft apply -f stack.yaml -auto-approve
expect_rc 0
expect_no "$SECRET"
sealed sparkform.state.json
sft apply -f stack.yaml -var v=two -auto-approve
expect_rc 0
sealed sparkform.state.json
sealed sparkform.state.json.backup
[ "$(stat -c %a sparkform.state.json.backup)" = 600 ] || fail "backup mode"

# ---- reading works through the key
sft show -f stack.yaml
expect_rc 0
expect_out test_resource.a
expect_no "$SECRET"
sft output v -f stack.yaml
expect_rc 0
expect_out two
sft output -raw pw -f stack.yaml
expect_rc 0
[ "$(cat "$WORK/.stdout")" = "$SECRET" ] || fail "output -raw pw"
sft state list -f stack.yaml
expect_rc 0
expect_out test_resource.a
sft status -f stack.yaml
expect_rc 0
expect_out "value two"

# ---- a saved plan is sealed too, and applies
sft plan -f stack.yaml -var v=three -out next.plan
expect_rc 0
sealed next.plan
sft show next.plan
expect_rc 0
expect_out "1 to change"
sft apply next.plan
expect_rc 0
expect_out "Apply complete!"
SF_STATE_KEY= sft show next.plan
expect_rc 1
expect_err "set the environment variable SF_STATE_KEY"

# ---- a run that dies leaves a sealed journal (a replacement: the delete
# and the intent to create are recorded while the create still sleeps)
"$SPARKFORM_TEST" apply -f stack.yaml -var k=k2 -var latency=1500 -auto-approve >dying.out 2>&1 &
dying=$!; pids+=("$dying")
for _ in $(seq 200); do [ "$(wc -l < sparkform.state.json.journal 2>/dev/null || echo 0)" -ge 3 ] && break; sleep 0.05; done
[ "$(wc -l < sparkform.state.json.journal)" -ge 3 ] || fail "no journal record while the apply runs"
kill -9 "$dying"; wait "$dying" 2>/dev/null || true
head -1 sparkform.state.json.journal | jq -e '.encryption.kdf == "pbkdf2-sha256"' >/dev/null || fail "journal header"
sealed_journal() {
  for word in "$SECRET" test_resource '"secret"' '"op"'; do
    ! grep -qF -- "$word" sparkform.state.json.journal || fail "the journal holds \"$word\" in clear"
  done
}
sealed_journal

# ---- a wrong key: refused, and nothing written
mkdir before; cp -p sparkform.state.json sparkform.state.json.backup sparkform.state.json.journal before/
SF_STATE_KEY=wrong-key sft apply -f stack.yaml -var v=five -auto-approve
expect_rc 1
expect_err "cannot decrypt the state sparkform.state.json with the key from env SF_STATE_KEY"
expect_no wrong-key
for f in sparkform.state.json sparkform.state.json.backup sparkform.state.json.journal; do
  cmp -s "$f" "before/$f" || fail "$f changed after a wrong key"
done
[ ! -e sparkform.state.json.lock ] || fail "the lock was left after a wrong key"
# Without encryption set the state is refused rather than read as empty.
stack ""
sed -i '/^state:$/d' stack.yaml
sft plan -f stack.yaml
expect_rc 1
expect_err "is encrypted; set state.encryption"

# ---- rotation: key new, old_key the old one; then the old one dropped
export SF_NEW_KEY="$(head -c 32 /dev/urandom | base64)"
stack "  encryption: {key: {env: SF_NEW_KEY}, old_key: {env: SF_STATE_KEY}, kdf: hkdf}"
sft apply -f stack.yaml -var v=six -auto-approve
expect_rc 0
[ ! -e sparkform.state.json.journal ] || fail "the dead run's journal was not folded"
sealed sparkform.state.json
jq -e '.kdf == "hkdf-sha256" and .key_from == "env SF_NEW_KEY"' sparkform.state.json >/dev/null || fail "not rewritten with the new key"
stack "  encryption: {key: {env: SF_NEW_KEY}, kdf: hkdf}"
sft plan -f stack.yaml -var v=six -detailed-exitcode
expect_rc 0
expect_out "No changes."
stack "  encryption: {key: {env: SF_STATE_KEY}}"
sft plan -f stack.yaml -var v=six
expect_rc 1
expect_err "cannot decrypt the state"

# ---- the S3 backend on localcloud
lc_start lc --delay-ms 0 --tls-port -1
TOKEN=$(get_token)
USER_ID=$(body .token.user.id)
req POST "/identity/v3/users/$USER_ID/credentials/OS-EC2" '{"tenant_id":"local"}'
expect_code 201 "ec2 credentials"
export AWS_ACCESS_KEY_ID=$(body .credential.access) AWS_SECRET_ACCESS_KEY=$(body .credential.secret)
s3get() { # s3get KEY FILE: the object's bytes
  code=$(curl -s -o "$2" -w '%{http_code}' --aws-sigv4 "aws:amz:local:s3" \
    --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
    -X "${3:-GET}" "$URL/s3/sf-states${1:+/$1}")
}
s3get "" "$WORK/bucket" PUT
[ "$code" = 200 ] || fail "bucket not created: $code"
s3block() {
  printf '  backend: s3\n  bucket: sf-states\n  key: %s\n  endpoint: %s/s3\n  region: local\n  encryption: {key: {env: SF_NEW_KEY}, kdf: hkdf}\n' "$1" "$URL"
}

mkdir s3 && cd s3
stack "$(s3block envs/enc.json)"
sft apply -f stack.yaml -auto-approve
expect_rc 0
s3get envs/enc.json obj.json
[ "$code" = 200 ] || fail "no state object: HTTP $code"
sealed obj.json
sft output v -f stack.yaml
expect_rc 0
expect_out one
sft status -f stack.yaml
expect_rc 0
expect_out "value one"

# ---- migrate: a plain local state into the bucket, encrypted, and back
cd "$WORK" && mkdir mig && cd mig
stack "  backend: local"
sft apply -f stack.yaml -var v=mig -auto-approve
expect_rc 0
grep -qF "$SECRET" sparkform.state.json || fail "the plain state should hold the secret"
lineage=$(jq -r .lineage sparkform.state.json)
cp stack.yaml plain.yaml
stack "$(s3block envs/migrated.json)"
sft state migrate -f stack.yaml -from-state sparkform.state.json
expect_rc 0
expect_out "Migrated the state (lineage $lineage, serial 1, 1 resource) from sparkform.state.json to s3://sf-states/envs/migrated.json, encrypted."
expect_out "left in place"
[ -f sparkform.state.json ] || fail "the source was removed"
s3get envs/migrated.json obj.json
sealed obj.json
sft plan -f stack.yaml -var v=mig -detailed-exitcode
expect_rc 0
expect_out "No changes."
# The destination holds a state now: a second migration is refused.
sft state migrate -f stack.yaml -from-state sparkform.state.json
expect_rc 1
expect_err "already holds a state"
# And back: the bucket's state into a plain local file.
sft state migrate -f plain.yaml -state back.json -from-config stack.yaml
expect_rc 0
expect_out "from s3://sf-states/envs/migrated.json to back.json."
[ "$(jq -r .lineage back.json)" = "$lineage" ] || fail "lineage changed in the round trip"
grep -qF "$SECRET" back.json || fail "the plain copy lacks the secret"
sft plan -f plain.yaml -state back.json -var v=mig -detailed-exitcode
expect_rc 0
expect_out "No changes."
s3get envs/migrated.json.lock lock.json
[ "$code" = 404 ] || fail "a migration left the lock: HTTP $code"
