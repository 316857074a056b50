# localcloud's S3 API driven by Debian's awscli (s3api, path-style, SigV4
# with EC2 credentials created through identity): buckets, objects with
# metadata and ranges, listings with delimiters and continuation tokens,
# versioning and delete markers, DeleteObjects, lifecycle / CORS / policy /
# tagging, the signature errors, conditional PUT (curl, concurrent writers),
# and a kill -9 restart that keeps buckets and objects.
#
# awscli starts slowly (about a second of CPU per call), so independent
# groups of calls run in parallel (par below), each with its own output
# files.
. "$ROOT/tests/e2e/lib-localcloud.sh"


cat >"$WORK/users.json" <<'EOF'
{"users": [{"name": "admin", "password": "localcloud-admin", "project_id": "local"},
           {"name": "bob", "password": "bob-secret", "project_id": "other"}]}
EOF
lc_start s3 --delay-ms 0 --users "$WORK/users.json"

# ---- S3 keys: EC2 credentials of identity, one per project
TOKEN=$(get_token)
USER_ID=$(body .token.user.id)
req POST "/identity/v3/users/$USER_ID/credentials/OS-EC2" '{"tenant_id":"local"}'
expect_code 201 "ec2 credential"
ACCESS=$(body .credential.access) SECRET=$(body .credential.secret)
req POST /identity/v3/auth/tokens '{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"bob","domain":{"name":"Default"},"password":"bob-secret"}}},"scope":{"project":{"id":"other"}}}}'
expect_code 201 "bob's token"
BOB_ID=$(body .token.user.id)
TOKEN=$(tr -d '\r' <"$WORK/headers" | awk -F': ' 'tolower($1)=="x-subject-token"{print $2}')
req POST "/identity/v3/users/$BOB_ID/credentials/OS-EC2" '{"tenant_id":"other"}'
expect_code 201 "bob's ec2 credential"
BOB_ACCESS=$(body .credential.access) BOB_SECRET=$(body .credential.secret)
TOKEN=

# ---- awscli (lib-localcloud.sh), as alice
aws_env "$ACCESS" "$SECRET"
expect_json() {
  local got; got=$(out "$1")
  [ "$got" = "$2" ] || { cat "$WORK/$tag.out"; fail "[$tag] $1 is '$got', expected '$2'"; }
}
# par FN...: runs the functions at once, each in a subshell with tag=FN.
par() {
  local p=() f st=0
  for f in "$@"; do ( tag=$f; "$f" ) & p+=($!); done
  for f in "${p[@]}"; do wait "$f" || st=1; done
  [ "$st" -eq 0 ] || fail "a parallel group failed (see above)"
}
# scurl ARGS...: curl signing with the S3 keys (x-amz-content-sha256 must be
# given, curl does not add it); status in $code, body in $WORK/body.
scurl() {
  code=$(curl -s -o "$WORK/body" -w '%{http_code}' --aws-sigv4 "aws:amz:local:s3" \
    --user "$ACCESS:$SECRET" "$@") || code=000
}
sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
md5b64() { printf '%s' "$1" | python3 -c 'import base64, hashlib, sys; print(base64.b64encode(hashlib.md5(sys.stdin.buffer.read()).digest()).decode())'; }

# ---- buckets
mk_data() { s3_ok create-bucket --bucket sf-data; }
mk_logs() {
  s3_ok create-bucket --bucket sf-logs --create-bucket-configuration LocationConstraint=local
  expect_json .Location /sf-logs
}
mk_objs() { s3_ok create-bucket --bucket sf-objs; }
mk_bad() { s3_err InvalidBucketName create-bucket --bucket Bad_Name; }
par mk_data mk_logs mk_objs mk_bad

# ---- requests awscli does not make: curl
# anonymous
code=$(curl -s -o "$WORK/body" -w '%{http_code}' "$URL/s3/sf-logs")
[ "$code" = 403 ] && grep -qF '<Code>AccessDenied</Code>' "$WORK/body" || { cat "$WORK/body"; fail "anonymous: HTTP $code"; }
grep -qF '<Resource>/sf-logs</Resource>' "$WORK/body" && grep -qF '<RequestId>' "$WORK/body" || fail "error shape: $(cat "$WORK/body")"
# a clock far off
scurl -H "x-amz-content-sha256: $(sha '')" -H "X-Amz-Date: 20200101T000000Z" "$URL/s3/sf-logs"
[ "$code" = 403 ] && grep -qF RequestTimeTooSkewed "$WORK/body" || { cat "$WORK/body"; fail "skew: HTTP $code"; }
# a body that is not the one signed
scurl -X PUT -H "x-amz-content-sha256: $(sha 'signed body')" --data-binary 'other body' "$URL/s3/sf-logs/x"
[ "$code" = 400 ] && grep -qF XAmzContentSHA256Mismatch "$WORK/body" || { cat "$WORK/body"; fail "sha256 mismatch: HTTP $code"; }
# DeleteObjects needs a Content-MD5 that is the body's ("?delete=": curl
# 7.88 signs a bare "?delete" wrongly)
del='<Delete><Object><Key>top.txt</Key></Object></Delete>'
scurl -X POST -H "x-amz-content-sha256: $(sha "$del")" --data-binary "$del" "$URL/s3/sf-logs?delete="
[ "$code" = 400 ] && grep -qF 'Content-MD5' "$WORK/body" || { cat "$WORK/body"; fail "delete without Content-MD5: HTTP $code"; }
scurl -X POST -H "x-amz-content-sha256: $(sha "$del")" -H "Content-MD5: nope" --data-binary "$del" "$URL/s3/sf-logs?delete="
[ "$code" = 400 ] && grep -qF InvalidDigest "$WORK/body" || { cat "$WORK/body"; fail "invalid Content-MD5: HTTP $code"; }
scurl -X POST -H "x-amz-content-sha256: $(sha "$del")" -H "Content-MD5: $(md5b64 x)" \
  --data-binary "$del" "$URL/s3/sf-logs?delete="
[ "$code" = 400 ] && grep -qF BadDigest "$WORK/body" || { cat "$WORK/body"; fail "wrong Content-MD5: HTTP $code"; }
# bodies over the S3 limit (64 MiB) are refused before they are sent
truncate -s $((64 * 1024 * 1024 + 1)) "$WORK/big"
code=$(curl -s -o "$WORK/body" -w '%{http_code}' -T "$WORK/big" "$URL/s3/sf-logs/big")
[ "$code" = 413 ] && grep -qF EntityTooLarge "$WORK/body" || { cat "$WORK/body"; fail "large body: HTTP $code"; }
rm -f "$WORK/big"

# conditional PUT (sparkform's state lock): of 6 writers racing for a new
# key exactly one wins
lockput() {
  curl -s -o /dev/null -w '%{http_code}\n' --aws-sigv4 "aws:amz:local:s3" --user "$ACCESS:$SECRET" \
    -X PUT -H 'If-None-Match: *' -H "x-amz-content-sha256: $(sha "$1")" --data-binary "$1" \
    "$URL/s3/sf-logs/state.lock"
}
racers=()
for i in 1 2 3 4 5 6; do lockput "holder-$i" >"$WORK/lock.$i" & racers+=($!); done
wait "${racers[@]}"
[ "$(cat "$WORK"/lock.* | grep -c '^200$')" -eq 1 ] && [ "$(cat "$WORK"/lock.* | grep -c '^412$')" -eq 5 ] ||
  fail "racing conditional PUTs: $(cat "$WORK"/lock.* | tr '\n' ' ')"
[ "$(lockput again)" = 412 ] || fail "a conditional PUT over an existing key is not 412"
scurl -H "x-amz-content-sha256: $(sha '')" "$URL/s3/sf-logs/state.lock"
[ "$code" = 200 ] && grep -q '^holder-[1-6]$' "$WORK/body" || fail "the lock holds '$(cat "$WORK/body")'"

# ---- everything else through awscli, in parallel groups
printf 'hello, sparkform\n' >"$WORK/readme.txt"
mkdir -p "$WORK/tree/events" "$WORK/tree/jars" "$WORK/tree/code"
for f in events/app-1 events/app-2 events/app-3 jars/a.jar jars/b.jar code/etl.py top.txt; do
  echo "$f" >"$WORK/tree/$f"
done

again() {
  s3_err BucketAlreadyOwnedByYou create-bucket --bucket sf-data
  s3_ok head-bucket --bucket sf-data
}
listing() {
  s3_ok list-buckets
  # (sf-objs goes away in object below)
  expect_json '[.Buckets[].Name | select(. != "sf-objs")] | join(",")' "sf-data,sf-logs"
  expect_json .Owner.ID local
  s3_ok get-bucket-location --bucket sf-logs
  expect_json .LocationConstraint local
}
other_project() {
  export AWS_ACCESS_KEY_ID="$BOB_ACCESS" AWS_SECRET_ACCESS_KEY="$BOB_SECRET"
  s3_err BucketAlreadyExists create-bucket --bucket sf-data
  s3_err 403 head-bucket --bucket sf-data
}
bad_keys() {
  AWS_SECRET_ACCESS_KEY="not-the-secret" s3_err SignatureDoesNotMatch list-buckets
  AWS_ACCESS_KEY_ID="AKIDUNKNOWN000000000" s3_err InvalidAccessKeyId list-buckets
}
object() {
  s3_ok put-object --bucket sf-objs --key "docs/read me.txt" --body "$WORK/readme.txt" \
    --content-type text/plain --metadata owner=team-a,Stage=dev
  expect_json .ETag "\"$(md5sum <"$WORK/readme.txt" | cut -d' ' -f1)\""
  s3_ok head-object --bucket sf-objs --key "docs/read me.txt"
  expect_json .ContentType text/plain
  expect_json .ContentLength 17
  expect_json .Metadata.owner team-a
  expect_json .Metadata.stage dev
  s3_ok get-object --bucket sf-objs --key "docs/read me.txt" --range bytes=7-15 "$WORK/range.out"
  expect_json .ContentRange "bytes 7-15/17"
  expect_json .ContentType text/plain
  [ "$(cat "$WORK/range.out")" = "sparkform" ] || fail "range read: $(cat "$WORK/range.out")"
  s3_ok delete-object --bucket sf-objs --key "docs/read me.txt"
  # gone: the bucket is empty and can be deleted
  s3_ok delete-bucket --bucket sf-objs
}
pages() {
  # one `aws s3 cp` uploads the tree (a PutObject per file)
  set +e
  "$AWS" --endpoint-url "$URL/s3" s3 cp --recursive --quiet "$WORK/tree" s3://sf-logs/ \
    >"$WORK/cp.out" 2>&1 </dev/null || { cat "$WORK/cp.out"; fail "aws s3 cp failed"; }
  set -e
  s3_ok list-objects-v2 --bucket sf-logs --max-keys 3 --no-paginate
  expect_json '[.Contents[].Key] | join(",")' "code/etl.py,events/app-1,events/app-2"
  expect_json .KeyCount 3
  expect_json .IsTruncated true
  local token; token=$(out .NextContinuationToken)
  [ -n "$token" ] && [ "$token" != null ] || fail "no NextContinuationToken"
  s3_ok list-objects-v2 --bucket sf-logs --max-keys 3 --no-paginate --continuation-token "$token"
  expect_json '[.Contents[].Key] | join(",")' "events/app-3,jars/a.jar,jars/b.jar"
  expect_json .ContinuationToken "$token"
  # awscli follows the tokens itself: two items a page
  s3_ok list-objects-v2 --bucket sf-logs --delimiter / --page-size 2
  expect_json '[.CommonPrefixes[].Prefix] | join(",")' "code/,events/,jars/"
  expect_json '[.Contents[].Key] | join(",")' "state.lock,top.txt"
  s3_ok list-objects-v2 --bucket sf-logs --prefix events/ --page-size 1 --max-items 2
  expect_json '[.Contents[].Key] | join(",")' "events/app-1,events/app-2"
  [ "$(out .NextToken)" != null ] || fail "no NextToken after --max-items 2"
  s3_ok list-objects-v2 --bucket sf-logs --start-after jars/a.jar
  expect_json '[.Contents[].Key] | join(",")' "jars/b.jar,state.lock,top.txt"
  # DeleteObjects, then the bucket is still not empty
  s3_ok delete-objects --bucket sf-logs --delete \
    'Objects=[{Key=code/etl.py},{Key=events/app-1},{Key=events/app-2},{Key=events/app-3},{Key=jars/a.jar},{Key=jars/b.jar},{Key=state.lock},{Key=never-there}]'
  expect_json '.Deleted | length' 8
  s3_err BucketNotEmpty delete-bucket --bucket sf-logs
}
versions() {
  s3_ok put-bucket-versioning --bucket sf-data --versioning-configuration Status=Enabled
  s3_ok get-bucket-versioning --bucket sf-data
  expect_json .Status Enabled
  printf 'one' >"$WORK/v1"; printf 'two!' >"$WORK/v2"
  s3_ok put-object --bucket sf-data --key state.json --body "$WORK/v1"
  local v1; v1=$(out .VersionId)
  s3_ok put-object --bucket sf-data --key state.json --body "$WORK/v2"
  local v2; v2=$(out .VersionId)
  [ -n "$v1" ] && [ "$v1" != null ] && [ "$v1" != "$v2" ] || fail "version ids '$v1' '$v2'"
  s3_ok delete-object --bucket sf-data --key state.json
  expect_json .DeleteMarker true
  local marker; marker=$(out .VersionId)
  s3_err NoSuchKey get-object --bucket sf-data --key state.json "$WORK/latest.out"
  s3_ok get-object --bucket sf-data --key state.json --version-id "$v1" "$WORK/v1.out"
  expect_json .VersionId "$v1"
  [ "$(cat "$WORK/v1.out")" = one ] || fail "version $v1 reads '$(cat "$WORK/v1.out")'"
  s3_ok list-object-versions --bucket sf-data --prefix state.json
  expect_json '[.Versions[].VersionId] | join(",")' "$v2,$v1"
  expect_json '[.Versions[].IsLatest | tostring] | join(",")' "false,false"
  expect_json '.DeleteMarkers[0].VersionId' "$marker"
  expect_json '.DeleteMarkers[0].IsLatest' true
  # versions keep the bucket from being deleted
  s3_err BucketNotEmpty delete-bucket --bucket sf-data
}
lifecycle() {
  s3_ok put-bucket-lifecycle-configuration --bucket sf-data --lifecycle-configuration \
    '{"Rules":[{"ID":"events","Filter":{"Prefix":"spark-events/"},"Status":"Enabled","Expiration":{"Days":30},"NoncurrentVersionExpiration":{"NoncurrentDays":7}}]}'
  s3_ok get-bucket-lifecycle-configuration --bucket sf-data
  expect_json '.Rules[0].ID + " " + .Rules[0].Filter.Prefix + " " + (.Rules[0].Expiration.Days|tostring)' \
    "events spark-events/ 30"
  s3_err MalformedXML put-bucket-lifecycle-configuration --bucket sf-data --lifecycle-configuration \
    '{"Rules":[{"ID":"x","Filter":{"Prefix":""},"Status":"Sometimes","Expiration":{"Days":1}}]}'
  s3_ok delete-bucket-lifecycle --bucket sf-data
  s3_err NoSuchLifecycleConfiguration get-bucket-lifecycle-configuration --bucket sf-data
}
cors() {
  s3_ok put-bucket-cors --bucket sf-data --cors-configuration \
    '{"CORSRules":[{"AllowedMethods":["GET","PUT"],"AllowedOrigins":["https://ui.example"],"MaxAgeSeconds":600}]}'
  s3_ok get-bucket-cors --bucket sf-data
  expect_json '.CORSRules[0].AllowedMethods | join(",")' "GET,PUT"
  expect_json '.CORSRules[0].MaxAgeSeconds' 600
  s3_ok delete-bucket-cors --bucket sf-data
  s3_err NoSuchCORSConfiguration get-bucket-cors --bucket sf-data
}
policy() {
  local p='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::sf-data/*"}]}'
  s3_ok put-bucket-policy --bucket sf-data --policy "$p"
  s3_ok get-bucket-policy --bucket sf-data
  expect_json '.Policy | fromjson | .Statement[0].Action' s3:GetObject
  s3_err MalformedPolicy put-bucket-policy --bucket sf-data --policy 'Statement: allow'
  s3_ok delete-bucket-policy --bucket sf-data
  s3_err NoSuchBucketPolicy get-bucket-policy --bucket sf-data
}
tagging() {
  s3_ok put-bucket-tagging --bucket sf-data --tagging 'TagSet=[{Key=team,Value=data},{Key=sparkform:stack,Value=dev}]'
  s3_ok get-bucket-tagging --bucket sf-data
  expect_json '[.TagSet[] | .Key + "=" + .Value] | sort | join(",")' "sparkform:stack=dev,team=data"
  s3_ok delete-bucket-tagging --bucket sf-data
  s3_err NoSuchTagSet get-bucket-tagging --bucket sf-data
}
par pages versions object lifecycle policy cors tagging again listing other_project bad_keys

# ---- kill -9 and a restart on the same data directory keep it all
req GET /_localcloud/inventory
expect_code 200 "inventory"
jq -S .s3 "$WORK/body" >"$WORK/inv1"
jq -e '(.buckets | keys) == ["sf-data", "sf-logs"] and (.objects | keys) == ["sf-data/state.json", "sf-logs/top.txt"]' \
  "$WORK/inv1" >/dev/null || { cat "$WORK/inv1"; fail "the inventory does not show the buckets and objects"; }
kill -9 "$lc_pid"
set +e; wait "$lc_pid" 2>/dev/null; set -e
lc_start s3 --delay-ms 0 --users "$WORK/users.json"
req GET /_localcloud/inventory
jq -S .s3 "$WORK/body" >"$WORK/inv2"
diff -u "$WORK/inv1" "$WORK/inv2" || fail "the S3 inventory changed across kill -9"

get_after() {
  s3_ok get-object --bucket sf-logs --key top.txt "$WORK/top.out"
  [ "$(cat "$WORK/top.out")" = top.txt ] || fail "top.txt reads '$(cat "$WORK/top.out")' after the restart"
}
versions_after() {
  s3_ok get-object --bucket sf-data --key state.json --version-id "$(jq -r '.objects["sf-data/state.json"].versions[1].version_id' "$WORK/inv2")" "$WORK/v2.out"
  [ "$(cat "$WORK/v2.out")" = 'two!' ] || fail "the second version reads '$(cat "$WORK/v2.out")' after the restart"
}
par get_after versions_after
# the only data files left are top.txt's and the two versions of state.json
[ "$(find "$WORK/s3/s3-data" -type f | wc -l)" -eq 3 ] || fail "data files: $(ls "$WORK/s3/s3-data")"
