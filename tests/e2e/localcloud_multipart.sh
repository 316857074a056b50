# localcloud's S3 multipart uploads, driven by the clients that send them:
# Debian's awscli (`aws s3 cp` of 20 MB and 100 MB files and of a folder,
# both ways, signed and UNSIGNED-PAYLOAD parts; s3api on uploads left
# open: listings, part listings, the errors of Complete, abort, part copies
# with ranges, a versioned bucket; a Complete whose answer a fault
# replaced; a kill -9 restart with an upload open) and the real
# docker-registry with its s3 storage driver (a layer of 13 MB pushed in
# chunks, a manifest, both read back). Deleting a bucket with uploads open
# leaves no part files, and at the end every data file belongs to an
# object version or to a part of an open upload.
#
# awscli starts slowly (about a second of CPU per call), so independent
# groups of calls run in parallel (par below), each in a bucket of its own.
. "$ROOT/tests/e2e/lib-localcloud.sh"

AWS=/usr/bin/aws
[ -x "$AWS" ] || fail "Debian's awscli is not installed at $AWS (run scripts/install-deps)"
REGISTRY=/usr/bin/docker-registry
[ -x "$REGISTRY" ] || fail "docker-registry is not installed at $REGISTRY (run scripts/install-deps)"

lc_start mp --delay-ms 0

# ---- S3 keys: an EC2 credential of identity
TOKEN=$(get_token)
USER_ID=$(body .token.user.id)
req POST "/identity/v3/users/$USER_ID/credentials/OS-EC2" '{"tenant_id":"local"}'
expect_code 201 "ec2 credential"
ACCESS=$(body .credential.access) SECRET=$(body .credential.secret)
TOKEN=

# ---- awscli: path-style, region "local", nothing from the real home
# directory or the machine's AWS_* settings (a CA bundle there makes the
# registry's SDK refuse to start)
unset AWS_CA_BUNDLE AWS_PROFILE AWS_ENDPOINT_URL AWS_SESSION_TOKEN
printf '[default]\ns3 =\n    addressing_style = path\n' >"$WORK/aws.config"
# the same with UNSIGNED-PAYLOAD bodies (Content-MD5 instead), as awscli
# sends them over https
printf '[default]\ns3 =\n    addressing_style = path\n    payload_signing_enabled = false\n' \
  >"$WORK/aws-unsigned.config"
export AWS_CONFIG_FILE="$WORK/aws.config" AWS_SHARED_CREDENTIALS_FILE="$WORK/aws.credentials"
export AWS_ACCESS_KEY_ID="$ACCESS" AWS_SECRET_ACCESS_KEY="$SECRET"
export AWS_DEFAULT_REGION=local AWS_EC2_METADATA_DISABLED=true AWS_PAGER="" HOME="$WORK"

# s3 ARGS...: one `aws s3api` call; output in $WORK/$tag.out / .err, status in $rc.
tag=main
s3() {
  set +e
  "$AWS" --endpoint-url "$URL/s3" --cli-connect-timeout 5 --cli-read-timeout 60 --output json \
    s3api "$@" >"$WORK/$tag.out" 2>"$WORK/$tag.err" </dev/null
  rc=$?
  set -e
}
s3_ok() { s3 "$@"; [ "$rc" -eq 0 ] || { cat "$WORK/$tag.err"; fail "[$tag] s3api $1 exited $rc"; }; }
# s3_err CODE ARGS...: the call fails with that S3 error code (or HTTP status, for HEAD).
s3_err() {
  local code=$1; shift
  s3 "$@"
  { [ "$rc" -ne 0 ] && grep -qF "($code)" "$WORK/$tag.err"; } ||
    { cat "$WORK/$tag.out" "$WORK/$tag.err"; fail "[$tag] s3api $1: expected the error $code"; }
}
# cp_ok ARGS...: one `aws s3 cp`, which fails the test when it fails.
cp_ok() {
  "$AWS" --endpoint-url "$URL/s3" --cli-read-timeout 60 s3 cp --only-show-errors "$@" \
    </dev/null >"$WORK/$tag.cp" 2>&1 || { cat "$WORK/$tag.cp"; fail "[$tag] aws s3 cp $*"; }
}
out() { jq -r "$1" "$WORK/$tag.out"; }
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
md5() { md5sum "$1" | cut -d' ' -f1; }
# inventory: localcloud's inventory into $WORK/$tag.inv
inventory() { curl -sf -o "$WORK/$tag.inv" "$URL/_localcloud/inventory" || fail "[$tag] inventory"; }
# The ETag S3 gives an object uploaded in parts of SIZE bytes: the MD5 of
# the parts' binary MD5s, "-" and the number of parts.
mp_etag() {
  python3 -c 'import hashlib, sys
size, ds = int(sys.argv[2]), []
with open(sys.argv[1], "rb") as f:
    for b in iter(lambda: f.read(size), b""):
        ds.append(hashlib.md5(b).digest())
print("\"%s-%d\"" % (hashlib.md5(b"".join(ds)).hexdigest(), len(ds)))' "$1" "$2"
}
# slice FILE OFFSET LENGTH: those bytes of the file, to stdout
slice() { dd if="$1" bs=1M iflag=skip_bytes,count_bytes skip="$2" count="$3" status=none; }
# seconds since $1 (a `date +%s.%N`), with 2 decimals
since() { echo "$(date +%s.%N) $1" | awk '{printf "%.2f", $1 - $2}'; }
MiB=1048576
AWSPART=$((8 * MiB)) # awscli's multipart_chunksize

# ---- the data
mkdir -p "$WORK/tree/jars/deep" "$WORK/tree/events"
head -c 20000000 /dev/urandom >"$WORK/f20"
head -c 100000000 /dev/urandom >"$WORK/f100"
head -c $((9 * MiB + 7)) /dev/urandom >"$WORK/tree/jars/app.jar"
head -c $((17 * MiB)) /dev/urandom >"$WORK/tree/jars/deep/deps.jar"
head -c $((3 * MiB)) /dev/urandom >"$WORK/tree/events/app-1"
printf 'print("etl")\n' >"$WORK/tree/etl.py"
head -c $((5 * MiB)) /dev/urandom >"$WORK/p1"
head -c 1234 /dev/urandom >"$WORK/p2"
head -c $((6 * MiB)) /dev/urandom >"$WORK/src"
printf 'version one\n' >"$WORK/v1"

# (the buckets with curl, which signs too and starts faster than awscli)
for b in mp-big mp-tree mp-open mp-err mp-ver mp-faults mp-gone mp-registry; do
  code=$(curl -s -o "$WORK/body" -w '%{http_code}' --aws-sigv4 "aws:amz:local:s3" --user "$ACCESS:$SECRET" \
    -X PUT -H "x-amz-content-sha256: $(printf '' | sha256sum | cut -d' ' -f1)" "$URL/s3/$b") || code=000
  [ "$code" = 200 ] || { cat "$WORK/body"; fail "create bucket $b: HTTP $code"; }
done

# ---- aws s3 cp: 20 MB (signed parts) and 100 MB (UNSIGNED-PAYLOAD parts)
big() {
  local t
  t=$(date +%s.%N); cp_ok "$WORK/f20" s3://mp-big/f20; echo "20 MB up in $(since "$t") s"
  t=$(date +%s.%N); AWS_CONFIG_FILE="$WORK/aws-unsigned.config" cp_ok "$WORK/f100" s3://mp-big/f100
  echo "100 MB up in $(since "$t") s"
  s3_ok head-object --bucket mp-big --key f20
  expect_json .ETag "$(mp_etag "$WORK/f20" $AWSPART)"
  expect_json .ContentLength 20000000
  s3_ok head-object --bucket mp-big --key f100
  expect_json .ETag "$(mp_etag "$WORK/f100" $AWSPART)"
  case $(out .ETag) in *-12\") ;; *) fail "f100's ETag $(out .ETag) is not of 12 parts" ;; esac
  t=$(date +%s.%N); cp_ok s3://mp-big/f20 "$WORK/f20.back"; echo "20 MB down in $(since "$t") s"
  t=$(date +%s.%N); cp_ok s3://mp-big/f100 "$WORK/f100.back"; echo "100 MB down in $(since "$t") s"
  cmp "$WORK/f20" "$WORK/f20.back" || fail "f20 came back different"
  cmp "$WORK/f100" "$WORK/f100.back" || fail "f100 came back different"
  rm -f "$WORK/f100.back" "$WORK/f20.back"
}

# ---- aws s3 cp --recursive of a folder, both ways
folder() {
  cp_ok --recursive "$WORK/tree" s3://mp-tree/tree/
  cp_ok --recursive s3://mp-tree/tree/ "$WORK/tree.back"
  diff -r "$WORK/tree" "$WORK/tree.back" || fail "the folder came back different"
  s3_ok list-objects-v2 --bucket mp-tree --prefix tree/
  expect_json '[.Contents[] | .Key + "=" + (.Size | tostring)] | join(",")' \
    "tree/etl.py=13,tree/events/app-1=$((3 * MiB)),tree/jars/app.jar=$((9 * MiB + 7)),tree/jars/deep/deps.jar=$((17 * MiB))"
  expect_json '.Contents[] | select(.Key == "tree/jars/deep/deps.jar") | .ETag' \
    "$(mp_etag "$WORK/tree/jars/deep/deps.jar" $AWSPART)"
  expect_json '.Contents[] | select(.Key == "tree/events/app-1") | .ETag' \
    "\"$(md5 "$WORK/tree/events/app-1")\""
}

# ---- s3api on uploads left open: the listings
uploads() {
  s3_ok create-multipart-upload --bucket mp-open --key logs/open.bin --content-type text/x-test \
    --metadata stage=open
  expect_json .Key logs/open.bin
  local up; up=$(out .UploadId)
  echo "$up" >"$WORK/open.id"
  s3_ok upload-part --bucket mp-open --key logs/open.bin --upload-id "$up" --part-number 1 --body "$WORK/p1"
  expect_json .ETag "\"$(md5 "$WORK/p1")\""
  s3_ok upload-part --bucket mp-open --key logs/open.bin --upload-id "$up" --part-number 2 --body "$WORK/p2"
  s3_ok create-multipart-upload --bucket mp-open --key logs/other.bin
  s3_ok create-multipart-upload --bucket mp-open --key data/x.bin
  local x; x=$(out .UploadId)
  # nothing of it is an object yet
  s3_err 404 head-object --bucket mp-open --key logs/open.bin
  s3_ok list-objects-v2 --bucket mp-open --no-paginate
  expect_json .KeyCount 0
  # ListParts: all, a page, after a marker
  s3_ok list-parts --bucket mp-open --key logs/open.bin --upload-id "$up"
  expect_json '[.Parts[] | "\(.PartNumber):\(.Size):\(.ETag)"] | join(",")' \
    "1:$((5 * MiB)):\"$(md5 "$WORK/p1")\",2:1234:\"$(md5 "$WORK/p2")\""
  expect_json .Initiator.ID "$USER_ID"
  s3_ok list-parts --bucket mp-open --key logs/open.bin --upload-id "$up" --max-parts 1 --no-paginate
  expect_json '[.Parts[].PartNumber] | join(",")' 1
  expect_json .IsTruncated true
  expect_json .NextPartNumberMarker 1
  s3_ok list-parts --bucket mp-open --key logs/open.bin --upload-id "$up" --part-number-marker 1
  expect_json '[.Parts[].PartNumber] | join(",")' 2
  # ListMultipartUploads: prefix, delimiter, pages with markers
  s3_ok list-multipart-uploads --bucket mp-open --prefix logs/
  expect_json '[.Uploads[].Key] | join(",")' "logs/open.bin,logs/other.bin"
  s3_ok list-multipart-uploads --bucket mp-open --delimiter /
  expect_json '[.CommonPrefixes[].Prefix] | join(",")' "data/,logs/"
  s3_ok list-multipart-uploads --bucket mp-open --max-uploads 1 --no-paginate
  expect_json '[.Uploads[].Key] | join(",")' data/x.bin
  expect_json .IsTruncated true
  expect_json .NextKeyMarker data/x.bin
  expect_json .NextUploadIdMarker "$x"
  s3_ok list-multipart-uploads --bucket mp-open --max-uploads 1 --no-paginate \
    --key-marker data/x.bin --upload-id-marker "$x"
  expect_json '[.Uploads[] | .Key + " " + .UploadId] | join(",")' "logs/open.bin $up"
  # awscli follows the markers itself: one upload a page
  s3_ok list-multipart-uploads --bucket mp-open --page-size 1
  expect_json '[.Uploads[].Key] | join(",")' "data/x.bin,logs/open.bin,logs/other.bin"
}

# ---- the errors of UploadPart and Complete, and abort
errors() {
  s3_ok create-multipart-upload --bucket mp-err --key e.bin
  local up; up=$(out .UploadId)
  s3_ok upload-part --bucket mp-err --key e.bin --upload-id "$up" --part-number 1 --body "$WORK/p2"
  s3_ok upload-part --bucket mp-err --key e.bin --upload-id "$up" --part-number 2 --body "$WORK/p1"
  local e1 e2
  e1="{\"PartNumber\":1,\"ETag\":\"$(md5 "$WORK/p2")\"}" e2="{\"PartNumber\":2,\"ETag\":\"$(md5 "$WORK/p1")\"}"
  s3_err NoSuchUpload upload-part --bucket mp-err --key e.bin --upload-id no-such-upload \
    --part-number 1 --body "$WORK/p2"
  s3_err NoSuchUpload list-parts --bucket mp-err --key other.bin --upload-id "$up"
  s3_err InvalidArgument upload-part --bucket mp-err --key e.bin --upload-id "$up" \
    --part-number 10001 --body "$WORK/p2"
  s3_err InvalidPart complete-multipart-upload --bucket mp-err --key e.bin --upload-id "$up" \
    --multipart-upload '{"Parts":[{"PartNumber":1,"ETag":"\"0123456789abcdef0123456789abcdef\""}]}'
  s3_err InvalidPart complete-multipart-upload --bucket mp-err --key e.bin --upload-id "$up" \
    --multipart-upload '{"Parts":[{"PartNumber":3,"ETag":"0123456789abcdef0123456789abcdef"}]}'
  s3_err InvalidPartOrder complete-multipart-upload --bucket mp-err --key e.bin --upload-id "$up" \
    --multipart-upload "{\"Parts\":[$e2,$e1]}"
  s3_err MalformedXML complete-multipart-upload --bucket mp-err --key e.bin --upload-id "$up" \
    --multipart-upload '{"Parts":[]}'
  # every part but the last is 5 MiB at least (part 1 is 1234 bytes)
  s3_err EntityTooSmall complete-multipart-upload --bucket mp-err --key e.bin --upload-id "$up" \
    --multipart-upload "{\"Parts\":[$e1,$e2]}"
  # abort: the upload is gone, and so are its parts' files (checked at the end)
  s3_ok abort-multipart-upload --bucket mp-err --key e.bin --upload-id "$up"
  s3_err NoSuchUpload list-parts --bucket mp-err --key e.bin --upload-id "$up"
  s3_err NoSuchUpload complete-multipart-upload --bucket mp-err --key e.bin --upload-id "$up" \
    --multipart-upload "{\"Parts\":[$e2]}"
}

# ---- a versioned bucket: the completed object is a new version; parts
# copied from objects, with ranges
versioned() {
  s3_ok put-bucket-versioning --bucket mp-ver --versioning-configuration Status=Enabled
  s3_ok put-object --bucket mp-ver --key obj --body "$WORK/v1"
  local v1; v1=$(out .VersionId)
  s3_ok put-object --bucket mp-ver --key src --body "$WORK/src"
  s3_ok create-multipart-upload --bucket mp-ver --key obj --content-type application/x-parts
  local up; up=$(out .UploadId)
  s3_ok upload-part-copy --bucket mp-ver --key obj --upload-id "$up" --part-number 1 \
    --copy-source mp-ver/src --copy-source-range bytes=1000-$((1000 + 5 * MiB - 1))
  slice "$WORK/src" 1000 $((5 * MiB)) >"$WORK/ver.expected"
  expect_json .CopyPartResult.ETag "\"$(md5 "$WORK/ver.expected")\""
  local e1; e1=$(out .CopyPartResult.ETag)
  s3_ok upload-part-copy --bucket mp-ver --key obj --upload-id "$up" --part-number 2 \
    --copy-source "mp-ver/obj?versionId=$v1"
  cat "$WORK/v1" >>"$WORK/ver.expected"
  local e2; e2=$(out .CopyPartResult.ETag)
  expect_json .CopySourceVersionId "$v1"
  s3_err InvalidArgument upload-part-copy --bucket mp-ver --key obj --upload-id "$up" --part-number 3 \
    --copy-source mp-ver/src --copy-source-range bytes=0-$((6 * MiB))
  s3_err NoSuchKey upload-part-copy --bucket mp-ver --key obj --upload-id "$up" --part-number 3 \
    --copy-source mp-ver/nothing
  s3_ok complete-multipart-upload --bucket mp-ver --key obj --upload-id "$up" \
    --multipart-upload "{\"Parts\":[{\"PartNumber\":1,\"ETag\":$e1},{\"PartNumber\":2,\"ETag\":$e2}]}"
  local v2; v2=$(out .VersionId)
  [ -n "$v2" ] && [ "$v2" != null ] && [ "$v2" != "$v1" ] || fail "[$tag] version ids '$v1' '$v2'"
  case $(out .ETag) in *-2\") ;; *) fail "[$tag] the ETag $(out .ETag) is not of 2 parts" ;; esac
  s3_ok get-object --bucket mp-ver --key obj "$WORK/ver.got"
  expect_json .VersionId "$v2"
  expect_json .ContentType application/x-parts
  cmp "$WORK/ver.expected" "$WORK/ver.got" || fail "[$tag] the assembled object differs"
  s3_ok get-object --bucket mp-ver --key obj --version-id "$v1" "$WORK/ver.v1"
  cmp "$WORK/v1" "$WORK/ver.v1" || fail "[$tag] the first version changed"
  s3_ok list-object-versions --bucket mp-ver --prefix obj
  expect_json '[.Versions[].VersionId] | join(",")' "$v2,$v1"
}

# ---- faults apply to these routes: a Complete whose answer is replaced
# by a 503 did complete, and sending it again gets the same answer; a
# part whose connection is dropped before it is processed is not stored
faults() {
  s3_ok create-multipart-upload --bucket mp-faults --key f.bin
  local up; up=$(out .UploadId)
  s3_ok create-multipart-upload --bucket mp-faults --key g.bin
  local up2; up2=$(out .UploadId)
  s3_ok upload-part --bucket mp-faults --key f.bin --upload-id "$up" --part-number 1 --body "$WORK/p2"
  local parts="{\"Parts\":[{\"PartNumber\":1,\"ETag\":\"$(md5 "$WORK/p2")\"}]}"
  # (only this bucket's paths: the other groups go on undisturbed)
  req POST /_localcloud/faults '{"rules":[{"prefix":"/s3/mp-faults/","error_after_rate":1}],"seed":1}'
  expect_code 200 "faults"
  AWS_MAX_ATTEMPTS=1 s3_err ServiceUnavailable complete-multipart-upload --bucket mp-faults --key f.bin \
    --upload-id "$up" --multipart-upload "$parts"
  req POST /_localcloud/faults '{"rules":[{"prefix":"/s3/mp-faults/","drop_rate":1}],"seed":1}'
  expect_code 200 "faults"
  AWS_MAX_ATTEMPTS=1 s3 upload-part --bucket mp-faults --key g.bin --upload-id "$up2" --part-number 1 \
    --body "$WORK/p2"
  [ "$rc" -ne 0 ] || fail "[$tag] a dropped connection answered"
  req DELETE /_localcloud/faults
  expect_code 204 "faults off"
  s3_ok head-object --bucket mp-faults --key f.bin
  expect_json .ContentLength 1234
  local etag; etag=$(out .ETag)
  s3_ok complete-multipart-upload --bucket mp-faults --key f.bin --upload-id "$up" --multipart-upload "$parts"
  expect_json .ETag "$etag"
  # not with other parts, and not as a live upload
  s3_err NoSuchUpload complete-multipart-upload --bucket mp-faults --key f.bin --upload-id "$up" \
    --multipart-upload "{\"Parts\":[{\"PartNumber\":1,\"ETag\":\"$(md5 "$WORK/p1")\"}]}"
  s3_err NoSuchUpload list-parts --bucket mp-faults --key f.bin --upload-id "$up"
  s3_ok list-parts --bucket mp-faults --key g.bin --upload-id "$up2" --no-paginate
  expect_json .IsTruncated false
  expect_json '.Parts | length' 0
  s3_ok abort-multipart-upload --bucket mp-faults --key g.bin --upload-id "$up2"
}

# ---- the real docker-registry on the s3 storage driver
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
digest() { echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"; }
hdr() { tr -d '\r' <"$WORK/$tag.hdr" | awk -v h="$1" -F': ' 'tolower($1)==h{print $2}'; }
# rcurl METHOD URL ARGS...: status in $code, headers in $WORK/$tag.hdr, body in $WORK/$tag.body
rcurl() {
  local m=$1 u=$2; shift 2
  code=$(curl -s -X "$m" -D "$WORK/$tag.hdr" -o "$WORK/$tag.body" -w '%{http_code}' "$@" "$u") || code=000
}
# push_blob FILE SIZE...: POST an upload, PATCH the file in chunks of the
# sizes given (the last one for the rest), PUT ?digest=
push_blob() {
  local f=$1 chunk=$2 size off=0 loc
  shift 2
  size=$(stat -c %s "$f")
  rcurl POST "$REG/v2/test/spark/blobs/uploads/"
  [ "$code" = 202 ] || { cat "$WORK/$tag.body"; fail "[$tag] start of a blob upload: HTTP $code"; }
  loc=$(hdr location)
  while [ "$off" -lt "$size" ]; do
    local n=$((size - off < chunk ? size - off : chunk))
    slice "$f" "$off" "$n" >"$WORK/$tag.chunk"
    rcurl PATCH "$loc" -H 'Content-Type: application/octet-stream' \
      -H "Content-Range: $off-$((off + n - 1))" --data-binary @"$WORK/$tag.chunk"
    [ "$code" = 202 ] || { cat "$WORK/$tag.body"; fail "[$tag] chunk at $off: HTTP $code"; }
    loc=$(hdr location)
    off=$((off + n))
    [ $# -eq 0 ] || { chunk=$1; shift; }
  done
  case $loc in *\?*) loc="$loc&" ;; *) loc="$loc?" ;; esac
  rcurl PUT "${loc}digest=$(digest "$f")"
  [ "$code" = 201 ] || { cat "$WORK/$tag.body"; fail "[$tag] end of a blob upload: HTTP $code"; }
}
# (started here, not in a group of par, so that its pid is killed at the end)
# parts of 5 MiB, and copies (the final move of a blob) in parts of 5 MiB
# too, so that a 13 MB layer goes through UploadPartCopy with ranges
registry_start() {
  local port; port=$(free_port)
  REG="http://127.0.0.1:$port"
  cat >"$WORK/registry.yml" <<EOF
version: 0.1
log: {level: info, accesslog: {disabled: true}}
storage:
  s3:
    accesskey: $ACCESS
    secretkey: $SECRET
    region: local
    regionendpoint: $URL/s3
    bucket: mp-registry
    secure: false
    v4auth: true
    chunksize: 5242880
    multipartcopythresholdsize: 5242880
    multipartcopychunksize: 5242880
    rootdirectory: /registry
  redirect: {disable: true}
http:
  addr: 127.0.0.1:$port
EOF
  chmod 600 "$WORK/registry.yml"
  "$REGISTRY" serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
  reg_pid=$!
  pids+=("$reg_pid")
  for _ in $(seq 100); do
    curl -s -o /dev/null "$REG/v2/" && break
    kill -0 "$reg_pid" 2>/dev/null || { cat "$WORK/registry.log"; fail "docker-registry exited"; }
    sleep 0.1
  done
}
registry() {
  rcurl GET "$REG/v2/"
  [ "$code" = 200 ] || { cat "$WORK/registry.log"; fail "[$tag] the registry answers HTTP $code"; }
  head -c $((13 * MiB)) /dev/urandom >"$WORK/layer"
  local layer cfg
  layer=$(digest "$WORK/layer")
  # chunks of 6, 3 and 4 MiB: parts of a size, parts too small to stay
  # parts, and an upload taken up again after each chunk
  push_blob "$WORK/layer" $((6 * MiB)) $((3 * MiB)) $((4 * MiB))
  printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["%s"]}}' \
    "$layer" >"$WORK/config.json"
  cfg=$(digest "$WORK/config.json")
  push_blob "$WORK/config.json" 4096
  printf '{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":%d,"digest":"%s"},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":%d,"digest":"%s"}]}' \
    "$(stat -c %s "$WORK/config.json")" "$cfg" "$(stat -c %s "$WORK/layer")" "$layer" >"$WORK/manifest.json"
  local mt=application/vnd.docker.distribution.manifest.v2+json
  rcurl PUT "$REG/v2/test/spark/manifests/v1" -H "Content-Type: $mt" --data-binary @"$WORK/manifest.json"
  [ "$code" = 201 ] || { cat "$WORK/$tag.body"; fail "[$tag] manifest PUT: HTTP $code"; }
  rcurl GET "$REG/v2/test/spark/manifests/v1" -H "Accept: $mt"
  [ "$code" = 200 ] || fail "[$tag] manifest GET: HTTP $code"
  cmp "$WORK/manifest.json" "$WORK/$tag.body" || fail "[$tag] the manifest came back different"
  [ "$(hdr docker-content-digest)" = "$(digest "$WORK/manifest.json")" ] || fail "[$tag] manifest digest"
  rcurl GET "$REG/v2/test/spark/blobs/$layer"
  [ "$code" = 200 ] || fail "[$tag] layer GET: HTTP $code"
  cmp "$WORK/layer" "$WORK/$tag.body" || fail "[$tag] the layer came back different"
  # the layer is an object of the bucket, assembled from parts
  local key="registry/docker/registry/v2/blobs/sha256/${layer:7:2}/${layer:7}/data"
  "$AWS" --endpoint-url "$URL/s3" s3 ls --recursive s3://mp-registry/registry/ >"$WORK/$tag.ls" </dev/null ||
    fail "[$tag] aws s3 ls"
  grep -qE " $((13 * MiB)) $key\$" "$WORK/$tag.ls" || { cat "$WORK/$tag.ls"; fail "[$tag] the layer is not in the bucket"; }
  s3_ok head-object --bucket mp-registry --key "$key"
  case $(out .ETag) in *-3\") ;; *) fail "[$tag] the layer's ETag $(out .ETag) is not of 3 parts" ;; esac
}

# ---- a bucket with uploads open and aborted can be deleted, and their
# part files go with it
gone() {
  local gone_a gone_b
  s3_ok create-multipart-upload --bucket mp-gone --key a
  gone_a=$(out .UploadId)
  s3_ok upload-part --bucket mp-gone --key a --upload-id "$gone_a" --part-number 1 --body "$WORK/p1"
  s3_ok upload-part --bucket mp-gone --key a --upload-id "$gone_a" --part-number 2 --body "$WORK/p2"
  s3_ok create-multipart-upload --bucket mp-gone --key b
  gone_b=$(out .UploadId)
  s3_ok upload-part --bucket mp-gone --key b --upload-id "$gone_b" --part-number 1 --body "$WORK/p2"
  inventory
  jq -r '.s3.uploads[] | select(.bucket == "mp-gone") | .parts[].blob' "$WORK/$tag.inv" >"$WORK/gone.blobs"
  jq -r --arg id "$gone_b" '.s3.uploads[$id].parts[].blob' "$WORK/$tag.inv" >"$WORK/gone_b.blobs"
  [ "$(wc -l <"$WORK/gone.blobs")" -eq 3 ] || fail "[$tag] mp-gone's uploads have $(wc -l <"$WORK/gone.blobs") parts"
  while read -r b; do [ -f "$WORK/mp/s3-data/$b" ] || fail "[$tag] part file $b missing"; done <"$WORK/gone.blobs"
  s3_ok abort-multipart-upload --bucket mp-gone --key b --upload-id "$gone_b"
  [ ! -f "$WORK/mp/s3-data/$(cat "$WORK/gone_b.blobs")" ] || fail "[$tag] an aborted upload's part file remains"
  s3_ok delete-bucket --bucket mp-gone
  while read -r b; do [ ! -f "$WORK/mp/s3-data/$b" ] || fail "[$tag] part file $b outlived its bucket"; done <"$WORK/gone.blobs"
  inventory
  jq -e '[.s3.uploads[] | select(.bucket == "mp-gone")] | length == 0' "$WORK/$tag.inv" >/dev/null ||
    fail "[$tag] the deleted bucket's uploads remain"
  # nor does a bucket made again under the name have them
  s3_ok create-bucket --bucket mp-gone
  s3_err NoSuchUpload list-parts --bucket mp-gone --key a --upload-id "$gone_a"
}

registry_start
par big folder uploads errors versioned faults gone registry
kill "$reg_pid"

# ---- kill -9 with an upload open: its parts survive, and it completes
up=$(cat "$WORK/open.id")
req GET /_localcloud/inventory
jq -S .s3 "$WORK/body" >"$WORK/inv1"
kill -9 "$lc_pid"
set +e; wait "$lc_pid" 2>/dev/null; set -e
lc_start mp --delay-ms 0
req GET /_localcloud/inventory
jq -S .s3 "$WORK/body" >"$WORK/inv2"
diff -u "$WORK/inv1" "$WORK/inv2" || fail "the S3 inventory changed across kill -9"
s3_ok list-parts --bucket mp-open --key logs/open.bin --upload-id "$up"
expect_json '[.Parts[] | "\(.PartNumber):\(.Size):\(.ETag)"] | join(",")' \
  "1:$((5 * MiB)):\"$(md5 "$WORK/p1")\",2:1234:\"$(md5 "$WORK/p2")\""
s3_ok list-multipart-uploads --bucket mp-open
expect_json '[.Uploads[].Key] | join(",")' "data/x.bin,logs/open.bin,logs/other.bin"
s3_ok complete-multipart-upload --bucket mp-open --key logs/open.bin --upload-id "$up" \
  --multipart-upload "{\"Parts\":[{\"PartNumber\":1,\"ETag\":\"$(md5 "$WORK/p1")\"},{\"PartNumber\":2,\"ETag\":\"$(md5 "$WORK/p2")\"}]}"
s3_ok get-object --bucket mp-open --key logs/open.bin "$WORK/open.got"
expect_json .ContentType text/x-test
expect_json .Metadata.stage open
cat "$WORK/p1" "$WORK/p2" | cmp - "$WORK/open.got" || fail "the upload completed after the restart differs"

# ---- every data file is an object version's or a part's of an open upload
req GET /_localcloud/inventory
jq -r '(.s3.objects[].versions[].blob // empty), (.s3.uploads[]?.parts[]?.blob)' "$WORK/body" |
  sort >"$WORK/blobs.used"
ls "$WORK/mp/s3-data" | sort >"$WORK/blobs.files"
diff -u "$WORK/blobs.used" "$WORK/blobs.files" || fail "the data files are not exactly those in use"
