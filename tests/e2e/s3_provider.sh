# The s3 provider against localcloud, its endpoint taken from the cloud's
# catalog (no endpoint set) and its keys from a cloud_s3_credentials
# resource of the same stack: two buckets (one versioned, with lifecycle and
# CORS rules, a policy and tags) and an object from a file. Checked with
# Debian's awscli (/usr/bin/aws): what was made; one update per changed
# lifecycle rule or source file; drift made outside (versioning, a tag)
# shows and is undone, while a policy rewritten with the same meaning is no
# drift; a bucket of someone else is never taken (an import takes it on);
# S3's errors read as what S3 said; a run killed after the create is
# adopted, never duplicated; a non-empty bucket is destroyed only with
# force_destroy, versions and delete markers included; and under injected
# 5xx and 429 the apply converges with no bucket made twice. No secret
# shows, SF_LOG=debug included.
. "$ROOT/tests/e2e/lib-cloud.sh"
cloud_start
unset AWS_ENDPOINT_URL_S3 AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION AWS_CA_BUNDLE
: >"$WORK/all.txt"
keep() { cat "$WORK/.stdout" "$WORK/.stderr" >>"$WORK/all.txt"; }

printf 'print("etl v1")\n' >job.py
POLICY='{"Version": "2012-10-17", "Statement": [{"Sid": "read", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::sp-data/*"}]}'

# The stack; what a step changes comes from the environment.
write_s3_stack() {
  cat >stack.yaml <<YAML
apiVersion: sparkform/v1
kind: Stack
metadata: {name: s3test}
resources:
  - {type: cloud_s3_credentials, name: s3, with: {}}
  - type: s3_bucket
    name: data
    with:
      name: sp-data
      versioning: true
      lifecycle:
        - {id: events, prefix: spark-events/, expiration_days: ${EVENTS_DAYS:-30}}
        - {id: old-versions, noncurrent_expiration_days: 7}
      cors: [{allowed_origins: ["https://ui.example"], allowed_methods: [get, HEAD], max_age_seconds: 600}]
      policy: '${POLICY_TEXT:-$POLICY}'
      tags: {team: data, env: dev}
      force_destroy: ${FORCE:-false}
      access_key: "\${cloud_s3_credentials.s3.access_key}"
      secret_key: "\${cloud_s3_credentials.s3.secret_key}"
  - type: s3_bucket
    name: raw
    with:
      name: sp-raw
      access_key: "\${cloud_s3_credentials.s3.access_key}"
      secret_key: "\${cloud_s3_credentials.s3.secret_key}"
  - type: s3_object
    name: job
    with:
      bucket: "\${s3_bucket.raw.name}"
      key: "jobs/etl job+v1.py"
      source: job.py
      access_key: "\${cloud_s3_credentials.s3.access_key}"
      secret_key: "\${cloud_s3_credentials.s3.secret_key}"
${EXTRA:-}
YAML
}
write_s3_stack

s3_counts() {
  curl -sf "$URL/_localcloud/inventory" |
    jq -r '"buckets=\(.s3.buckets // {} | length) objects=\(.s3.objects // {} | length)"'
}
expect_s3() { local got; got=$(s3_counts); [ "$got" = "$1" ] || fail "$2: $got, expected $1"; }

sf apply -f stack.yaml -auto-approve
expect_rc 0
keep
expect_s3 "buckets=2 objects=1" "after apply"
sf plan -f stack.yaml -detailed-exitcode
expect_rc 0
keep

# ---- what awscli sees (Debian's, not whichever aws is first on PATH)
AWS=/usr/bin/aws
[ -x "$AWS" ] || fail "/usr/bin/aws is missing (Debian's awscli; run scripts/install-deps)"
printf '[default]\ns3 =\n    addressing_style = path\n' >"$WORK/aws.config"
access=$(jq -r '.resources["cloud_s3_credentials.s3"].attributes.access_key' sparkform.state.json)
secret=$(jq -r '.resources["cloud_s3_credentials.s3"].attributes.secret_key' sparkform.state.json)
[ ${#secret} -ge 16 ] || fail "no secret key recorded"
aws_env=(env AWS_CONFIG_FILE="$WORK/aws.config" AWS_SHARED_CREDENTIALS_FILE="$WORK/none"
         AWS_ACCESS_KEY_ID="$access" AWS_SECRET_ACCESS_KEY="$secret" AWS_DEFAULT_REGION=local
         AWS_EC2_METADATA_DISABLED=true AWS_PAGER="" HOME="$WORK")
# s3api TAG ARGS...: one call, its JSON in $WORK/TAG.json.
s3api() {
  local tag=$1; shift
  "${aws_env[@]}" "$AWS" --endpoint-url "$URL/s3" --output json s3api "$@" \
    >"$WORK/$tag.json" 2>"$WORK/$tag.err" </dev/null || { cat "$WORK/$tag.err"; fail "s3api $1"; }
}
js() { jq -r "$2" "$WORK/$1.json"; }
# awscli starts slowly: independent calls run together (bg ... ; joined).
bg_pids=()
bg() { "$@" & bg_pids+=($!); }
joined() {
  local p st=0
  for p in "${bg_pids[@]}"; do wait "$p" || st=1; done
  bg_pids=()
  [ "$st" -eq 0 ] || fail "an awscli call failed (see above)"
}
bg s3api ver get-bucket-versioning --bucket sp-data
bg s3api lc get-bucket-lifecycle-configuration --bucket sp-data
bg s3api cors get-bucket-cors --bucket sp-data
bg s3api obj head-object --bucket sp-raw --key "jobs/etl job+v1.py"
joined
[ "$(js ver .Status)" = Enabled ] || fail "versioning: $(cat "$WORK/ver.json")"
[ "$(js lc '[.Rules[] | "\(.ID):\(.Filter.Prefix):\(.Expiration.Days // "-"):\(.NoncurrentVersionExpiration.NoncurrentDays // "-")"] | join(" ")')" = \
  "events:spark-events/:30:- old-versions::-:7" ] || fail "lifecycle: $(cat "$WORK/lc.json")"
[ "$(js cors '.CORSRules[0] | "\(.AllowedOrigins | join(",")) \(.AllowedMethods | join(",")) \(.MaxAgeSeconds)"')" = \
  "https://ui.example GET,HEAD 600" ] || fail "cors: $(cat "$WORK/cors.json")"
[ "$(js obj .ContentType)" = text/x-python ] && [ "$(js obj .Metadata.sha256)" = "$(sha256sum <job.py | cut -d' ' -f1)" ] ||
  fail "object: $(cat "$WORK/obj.json")"

# localcloud, as S3, refuses a configuration without an integrity header:
# the provider's Content-MD5 is what made the ones above pass
body='<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>'
code=$(curl -s -o "$WORK/body" -w '%{http_code}' --aws-sigv4 "aws:amz:local:s3" --user "$access:$secret" \
  -X PUT -H "x-amz-content-sha256: $(printf '%s' "$body" | sha256sum | cut -d' ' -f1)" \
  --data-binary "$body" "$URL/s3/sp-data?versioning=")
[ "$code" = 400 ] && grep -qF 'Missing required header for this request: Content-MD5' "$WORK/body" ||
  { cat "$WORK/body"; fail "a configuration without Content-MD5: HTTP $code"; }

# ---- a changed lifecycle rule is one update in place
export EVENTS_DAYS=45
write_s3_stack
sf plan -f stack.yaml
expect_rc 0
[ "$(plan_counts)" = "0 1 0" ] || { cat "$WORK/.stdout"; fail "lifecycle change: plan $(plan_counts)"; }
expect_out "s3_bucket.data will be updated in place"
sf apply -f stack.yaml -auto-approve
expect_rc 0
keep

# ---- a changed source file is one update, and the apply uploads it
printf 'print("etl v2")\n' >job.py
sf plan -f stack.yaml
expect_rc 0
[ "$(plan_counts)" = "0 1 0" ] || { cat "$WORK/.stdout"; fail "source change: plan $(plan_counts)"; }
expect_out "s3_object.job will be updated in place"
sf apply -f stack.yaml -auto-approve
expect_rc 0
keep
bg s3api lc get-bucket-lifecycle-configuration --bucket sp-data
bg s3api get get-object --bucket sp-raw --key "jobs/etl job+v1.py" "$WORK/got.py"
joined
[ "$(js lc '.Rules[] | select(.ID == "events") | .Expiration.Days')" = 45 ] || fail "lifecycle not updated: $(cat "$WORK/lc.json")"
cmp -s "$WORK/got.py" job.py || fail "the object holds '$(cat "$WORK/got.py")', not the new source"
sf plan -f stack.yaml -detailed-exitcode
expect_rc 0

# ---- drift made with awscli shows, and apply undoes it
bg s3api d1 put-bucket-versioning --bucket sp-data --versioning-configuration Status=Suspended
bg s3api d2 put-bucket-tagging --bucket sp-data --tagging \
  "TagSet=[{Key=team,Value=ops},{Key=env,Value=dev},{Key=sparkform_lineage,Value=$(jq -r .lineage sparkform.state.json)},{Key=sparkform_address,Value=s3_bucket.data}]"
joined
sf plan -f stack.yaml -detailed-exitcode
expect_rc 2
keep
expect_out "versioning    = true -> false"
expect_out '"team" = "data" -> "ops"'
[ "$(plan_counts)" = "0 1 0" ] || { cat "$WORK/.stdout"; fail "drift: plan $(plan_counts)"; }
sf apply -f stack.yaml -auto-approve
expect_rc 0
sf plan -f stack.yaml -detailed-exitcode
expect_rc 0

# ---- a policy is compared by meaning: rewritten outside with the action as
# a list, or in the description with other spacing and order, is no change
s3api pol put-bucket-policy --bucket sp-data --policy \
  '{"Statement":[{"Resource":"arn:aws:s3:::sp-data/*","Action":["s3:GetObject"],"Principal":"*","Effect":"Allow","Sid":"read"}],"Version":"2012-10-17"}'
POLICY_TEXT='{ "Statement": [ { "Effect": "Allow", "Sid": "read", "Principal": "*", "Resource": "arn:aws:s3:::sp-data/*", "Action": "s3:GetObject" } ], "Version": "2012-10-17" }' write_s3_stack
sf plan -f stack.yaml -detailed-exitcode
[ "$rc" -eq 0 ] || { cat "$WORK/.stdout" "$WORK/.stderr"; fail "a policy of the same meaning plans a change"; }
write_s3_stack

# ---- a bucket of that name that is not this stack's is never taken; an
# import takes it on (with the provider's keys, for the import and the
# apply after it: the bucket's own keys are recorded by that apply)
s3api taken create-bucket --bucket sp-taken
export EXTRA='  - {type: s3_bucket, name: taken, with: {name: sp-taken, access_key: "${cloud_s3_credentials.s3.access_key}", secret_key: "${cloud_s3_credentials.s3.secret_key}"}}'
write_s3_stack
sf apply -f stack.yaml -auto-approve
expect_rc 1
keep
expect_err 'a bucket named "sp-taken" already exists in this account and was not made by this stack'
expect_err "sparkform import s3_bucket.taken sp-taken"
[ "$(jq -r '.resources["s3_bucket.taken"].attributes // "none"' sparkform.state.json)" = none ] ||
  fail "the foreign bucket was recorded"
AWS_ACCESS_KEY_ID="$access" AWS_SECRET_ACCESS_KEY="$secret" sf import -f stack.yaml s3_bucket.taken sp-taken
expect_rc 0
keep
AWS_ACCESS_KEY_ID="$access" AWS_SECRET_ACCESS_KEY="$secret" sf apply -f stack.yaml -auto-approve
expect_rc 0
keep
[ "$(jq -r '.resources["s3_bucket.taken"].attributes.access_key' sparkform.state.json)" = "$access" ] ||
  fail "the imported bucket's keys were not recorded"
sf plan -f stack.yaml -detailed-exitcode
expect_rc 0

# ---- S3's own errors: the step, the request, Code, Message and request id;
# a create that failed after the bucket was tagged is adopted next time
write_errs() {
  printf '%s\n' 'apiVersion: sparkform/v1' 'kind: Stack' 'metadata: {name: errs}' 'resources:' \
    "  - {type: s3_bucket, name: b, with: {name: sp-errs, $1}}" >errs.yaml
}
write_errs "policy: '{\"Version\": \"2012-10-17\"}'"
export AWS_ACCESS_KEY_ID="$access" AWS_SECRET_ACCESS_KEY="$secret"
sf apply -f errs.yaml -state errs.state.json -auto-approve
expect_rc 1
keep
expect_err "error: s3_bucket.b: setting the policy: PUT $URL/s3/sp-errs?policy: HTTP 400: MalformedPolicy: Missing required field Statement (request id "
write_errs "policy: '${POLICY//sp-data/sp-errs}'"
sf apply -f errs.yaml -state errs.state.json -auto-approve
expect_rc 0
keep
expect_out "Plan: 0 to add, 1 to change, 0 to destroy."
AWS_SECRET_ACCESS_KEY=not-the-secret-5d1f sf plan -f errs.yaml -state errs.state.json
expect_rc 1
keep
expect_err "reading the bucket: HEAD $URL/s3/sp-errs: HTTP 403"
expect_err "check the S3 keys"
expect_no "not-the-secret-5d1f"
sf destroy -f errs.yaml -state errs.state.json -auto-approve
expect_rc 0
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY

# ---- a run killed after the create: the next apply adopts what it made
# (the state such a run leaves: the entries' intents, no attributes)
jq '(.resources["s3_bucket.raw", "s3_object.job"]) |= {type, status, dependencies,
      intent: {desired: (.attributes | del(.id, .arn, .url, .region, .etag, .version_id, .size)),
               dependencies}}' sparkform.state.json >cut.json
mv cut.json sparkform.state.json
sf apply -f stack.yaml -auto-approve
expect_rc 0
keep
expect_s3 "buckets=3 objects=1" "after adopting"
[ "$(jq -r '.resources["s3_bucket.raw"].attributes.id' sparkform.state.json)" = sp-raw ] &&
  [ "$(jq -r '.resources["s3_object.job"].attributes.sha256' sparkform.state.json)" = "$(sha256sum <job.py | cut -d' ' -f1)" ] ||
  { jq .resources sparkform.state.json; fail "not adopted"; }
sf plan -f stack.yaml -detailed-exitcode
expect_rc 0
sf show
expect_rc 0
keep

# ---- destroying a bucket that holds objects needs force_destroy
printf 'a1' >a1; printf 'a2' >a2
s3api p1 put-object --bucket sp-data --key logs/a.txt --body a1
bg s3api p2 put-object --bucket sp-data --key logs/a.txt --body a2
bg s3api p3 put-object --bucket sp-data --key logs/b.txt --body a1
joined
s3api p4 delete-object --bucket sp-data --key logs/b.txt
sf destroy -f stack.yaml -auto-approve
expect_rc 1
keep
expect_err 'destroying the bucket "sp-data": it is not empty: it holds 1 object (4 object versions and delete markers in all), and force_destroy is not set; nothing was deleted'
expect_err "set force_destroy: true"
curl -sf "$URL/_localcloud/inventory" >"$WORK/inv.json"
jq -e '.s3.buckets["sp-data"] and (.s3.objects | [keys[] | select(startswith("sp-data/"))] | length == 2)' \
  "$WORK/inv.json" >/dev/null || { cat "$WORK/inv.json"; fail "the refused destroy touched the bucket"; }
[ "$(jq -r '.resources["s3_bucket.data"].attributes.id' sparkform.state.json)" = sp-data ] || fail "sp-data left the state"

FORCE=true write_s3_stack
sf apply -f stack.yaml -auto-approve
expect_rc 0
sf destroy -f stack.yaml -auto-approve
expect_rc 0
keep
expect_s3 "buckets=0 objects=0" "after the forced destroy"

# ---- no keys anywhere: a clear error
cat >nokeys.yaml <<'YAML'
apiVersion: sparkform/v1
kind: Stack
metadata: {name: nokeys}
resources:
  - {type: s3_bucket, name: b, with: {name: sp-nokeys}}
YAML
sf apply -f nokeys.yaml -state nokeys.state.json -auto-approve
expect_rc 1
expect_err "no S3 keys: set access_key and secret_key on the resource"

# ---- faults: 10% 5xx and 5% 429 on S3, the endpoint set explicitly
curl -sf -X POST "$URL/_localcloud/faults" -H 'Content-Type: application/json' --data-binary '{
  "seed": 20261201,
  "rules": [{"prefix": "/s3", "error_rate": 0.10, "error_status": 503,
             "throttle_rate": 0.05, "retry_after": 0}]}' >/dev/null || fail "faults not set"
export SF_LOG=debug AWS_ENDPOINT_URL_S3="$URL/s3"
FORCE=true write_s3_stack
sf apply -f stack.yaml -auto-approve
expect_rc 0
keep
grep -q "http: PUT $URL/s3/sp-data" "$WORK/.stderr" || fail "SF_LOG=debug logged no S3 request"
grep -q -- "-> 503" "$WORK/.stderr" && grep -q -- "-> 429" "$WORK/.stderr" || fail "no fault was met"
expect_s3 "buckets=3 objects=1" "after the apply under faults"
secret2=$(jq -r '.resources["cloud_s3_credentials.s3"].attributes.secret_key' sparkform.state.json)
[ ${#secret2} -ge 16 ] || fail "no secret key recorded"
sf plan -f stack.yaml -detailed-exitcode
expect_rc 0
keep
unset SF_LOG
sf destroy -f stack.yaml -auto-approve
expect_rc 0
keep
curl -sf -X DELETE "$URL/_localcloud/faults" >/dev/null
expect_s3 "buckets=0 objects=0" "after the destroy under faults"

# ---- the secret keys never showed (the access key did, so output was seen)
grep -qF -- "$access" "$WORK/all.txt" || fail "the access key is shown nowhere"
for s in "$secret" "$secret2"; do
  ! grep -qF -- "$s" "$WORK/all.txt" || fail "an S3 secret key (${s:0:4}...) was shown"
done
