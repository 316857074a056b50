# The s3 provider against s3rver, an S3 server sparkform did not write (npm,
# pinned by tests/peers; $S3RVER is its command, set by `make test-e2e`):
# buckets and objects are made, read back, updated, listed, emptied by
# force_destroy and deleted, the way they are against localcloud. s3rver
# has no versioning, lifecycle, policy or bucket tagging: those are left
# out of the description, and the provider reads them as absent without
# retrying the 501 answers. (s3rver's DeleteObjects may answer 500 when it
# races itself removing a directory; the retry of it is expected.)
. "$ROOT/tests/e2e/lib.sh"
: "${S3RVER:=$ROOT/build/peers/node_modules/.bin/s3rver}"
[ -e "$S3RVER" ] || fail "no s3rver at $S3RVER (make build/peers/node_modules/.bin/s3rver)"
command -v node >/dev/null || fail "node is not installed"

mkdir -p "$WORK/s3rver"
node --openssl-legacy-provider "$S3RVER" -d "$WORK/s3rver" -a 127.0.0.1 -p 0 \
  >"$WORK/s3rver.log" 2>&1 </dev/null &
pids+=($!)
port=
for _ in $(seq 100); do
  port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$WORK/s3rver.log")
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { cat "$WORK/s3rver.log"; fail "s3rver did not start"; }
S3="http://127.0.0.1:$port"

# s3rver's keys; the endpoint is the providers: block's.
unset AWS_ENDPOINT_URL_S3 AWS_REGION AWS_CA_BUNDLE
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
printf 'x = 1\n' >app.py
write_stack() {
  cat >stack.yaml <<YAML
apiVersion: sparkform/v1
kind: Stack
metadata: {name: s3rvertest}
providers:
  s3: {endpoint: "$S3", region: us-east-1}
resources:
  - type: s3_bucket
    name: data
    with:
      name: sr-data
      cors: [{allowed_origins: ["https://ui.example"], allowed_methods: [GET, ${CORS_METHOD:-HEAD}]}]
      force_destroy: ${FORCE:-false}
  - {type: s3_bucket, name: empty, with: {name: sr-empty}}
  - type: s3_object
    name: app
    with: {bucket: "\${s3_bucket.data.name}", key: "code/app v1.py", source: app.py}
  - type: s3_object
    name: conf
    with: {bucket: "\${s3_bucket.data.name}", key: conf/app.json, content: '{"level": "${LEVEL:-info}"}'}
YAML
}
write_stack
sha() { sha256sum "$1" | cut -d' ' -f1; }

SF_LOG=debug sf apply -f stack.yaml -auto-approve
expect_rc 0
expect_out "Apply complete! Resources: 4 added"
# What s3rver lacks answers 501 once, and is not asked again.
grep -q -- '?lifecycle -> 501 (.*attempt 1)' "$WORK/.stderr" || { cat "$WORK/.stderr"; fail "no 501 for ?lifecycle"; }
! grep -E -- '-> 501 .*attempt [2-9]' "$WORK/.stderr" || fail "a 501 answer was retried"
sf plan -f stack.yaml -detailed-exitcode
expect_rc 0

# ---- read back by s3rver itself (it answers unsigned requests)
code=$(curl -s -o "$WORK/list.xml" -w '%{http_code}' "$S3/sr-data?list-type=2")
[ "$code" = 200 ] || fail "listing: HTTP $code"
for k in "code/app v1.py" conf/app.json; do
  grep -qF "<Key>$k</Key>" "$WORK/list.xml" || { cat "$WORK/list.xml"; fail "the listing lacks $k"; }
done
curl -sfI "$S3/sr-data/code/app%20v1.py" | tr -d '\r' >"$WORK/head.txt" || fail "HEAD of the object"
grep -qi "^content-type: text/x-python" "$WORK/head.txt" &&
  grep -qi "^x-amz-meta-sha256: $(sha app.py)" "$WORK/head.txt" || { cat "$WORK/head.txt"; fail "object headers"; }
[ "$(curl -sf "$S3/sr-data/conf/app.json")" = '{"level": "info"}' ] || fail "content object"
curl -sf "$S3/sr-data?cors" >"$WORK/cors.xml" || fail "GET ?cors"
grep -qF "<AllowedOrigin>https://ui.example</AllowedOrigin>" "$WORK/cors.xml" &&
  grep -qF "<AllowedMethod>HEAD</AllowedMethod>" "$WORK/cors.xml" || { cat "$WORK/cors.xml"; fail "cors"; }

# ---- updates: a source file, a content, a CORS rule; one update each
printf 'x = 2\n' >app.py
LEVEL=debug CORS_METHOD=PUT write_stack
sf plan -f stack.yaml
expect_rc 0
[ "$(sed -n 's/^Plan: \(.*\)\.$/\1/p' "$WORK/.stdout")" = "0 to add, 3 to change, 0 to destroy" ] ||
  { cat "$WORK/.stdout"; fail "three updates expected"; }
sf apply -f stack.yaml -auto-approve
expect_rc 0
[ "$(curl -sf "$S3/sr-data/code/app%20v1.py")" = "x = 2" ] || fail "source not uploaded again"
[ "$(curl -sf "$S3/sr-data/conf/app.json")" = '{"level": "debug"}' ] || fail "content not uploaded again"
curl -sf "$S3/sr-data?cors" | grep -qF "<AllowedMethod>PUT</AllowedMethod>" || fail "cors not updated"
export LEVEL=debug CORS_METHOD=PUT
sf plan -f stack.yaml -detailed-exitcode
expect_rc 0

# ---- an object changed behind sparkform's back shows, and apply undoes it
curl -sf -X PUT --data-binary 'tampered' "$S3/sr-data/conf/app.json" >/dev/null || fail "PUT by curl"
sf plan -f stack.yaml -detailed-exitcode
expect_rc 2
expect_out "s3_object.conf has changed"
sf apply -f stack.yaml -auto-approve
expect_rc 0
[ "$(curl -sf "$S3/sr-data/conf/app.json")" = '{"level": "debug"}' ] || fail "drift not undone"

# ---- emptying: objects put by others block the destroy unless force_destroy
for k in logs/1 logs/2 logs/3; do
  curl -sf -X PUT --data-binary "$k" "$S3/sr-data/$k" >/dev/null || fail "PUT $k"
done
sf destroy -f stack.yaml -auto-approve
expect_rc 1
expect_err 'destroying the bucket "sr-data": it is not empty: it holds 3 objects, and force_destroy is not set; nothing was deleted'
[ "$(curl -s -o /dev/null -w '%{http_code}' "$S3/sr-data/logs/2")" = 200 ] || fail "the refused destroy deleted objects"
FORCE=true write_stack
sf apply -f stack.yaml -auto-approve
expect_rc 0
sf destroy -f stack.yaml -auto-approve
expect_rc 0
curl -sf "$S3/" >"$WORK/buckets.xml" || fail "ListBuckets"
! grep -q "<Name>sr-" "$WORK/buckets.xml" || { cat "$WORK/buckets.xml"; fail "buckets left behind"; }
