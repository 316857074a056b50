# localcloud's S3 multipart uploads, driven by the clients that send them:
# Debian's awscli (`aws s3 cp` of 20 MB and 100 MB files and of a folder,
# both ways, with signed and with UNSIGNED-PAYLOAD parts; s3api on uploads
# left open: list-multipart-uploads, list-parts, abort; a Complete retried
# after a fault replaced its answer; a kill -9 restart with an upload
# open; delete-bucket with uploads open) and the real docker-registry on
# its s3 storage driver (a 13 MB layer pushed in chunks, a manifest, both
# read back). The errors of UploadPart and Complete, part copies with
# ranges, a versioned bucket and parts racing each other are requests
# awscli has no reason to make; curl signs those. At the end every data
# file belongs to an object version or to a part of an open upload.
#
# awscli starts slowly (about a second of CPU per call), so independent
# groups of calls run in parallel (par below), each in a bucket of its own.
. "$ROOT/tests/e2e/lib-localcloud.sh"

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

# ---- awscli (lib-localcloud.sh); also a config that sends parts with
# UNSIGNED-PAYLOAD bodies (and Content-MD5), as awscli does over https
aws_env "$ACCESS" "$SECRET"
printf '[default]\ns3 =\n    addressing_style = path\n    payload_signing_enabled = false\n' \
  >"$WORK/aws-unsigned.config"
# cp_ok ARGS...: one `aws s3 cp`, which fails the test when it fails.
cp_ok() {
  "$AWS" --endpoint-url "$URL/s3" --cli-read-timeout 60 s3 cp --only-show-errors "$@" \
    </dev/null >"$WORK/$tag.cp" 2>&1 || { cat "$WORK/$tag.cp"; fail "[$tag] aws s3 cp $*"; }
}
expect_json() {
  local got; got=$(out "$1")
  [ "$got" = "$2" ] || { cat "$WORK/$tag.out"; fail "[$tag] $1 is '$got', expected '$2'"; }
}

# sc METHOD PATH [FILE [CURL-ARGS...]]: one request signed by curl, the
# body from FILE ("-" or none: no body; else with its Content-MD5 unless
# CURL-ARGS give one); status in $code, body in $WORK/$tag.xml, headers in
# $WORK/$tag.hdr. curl 7.88 signs the query
# as written: give its parameters sorted, each with a "=".
EMPTY_SHA256=$(printf '' | sha256sum | cut -d' ' -f1)
sc() {
  local m=$1 p=$2 f=${3:--}
  shift $(($# < 3 ? $# : 3))
  local data=() sha=$EMPTY_SHA256
  if [ "$f" != - ]; then
    data=(--data-binary @"$f")
    # Content-MD5 with every body (S3 wants it on configuration PUTs),
    # unless the caller sends one of its own.
    case "$*" in *Content-MD5*) ;; *) data+=(-H "Content-MD5: $(openssl md5 -binary <"$f" | base64)") ;; esac
    sha=$(sha256sum <"$f" | cut -d' ' -f1)
  fi
  code=$(curl -s -o "$WORK/$tag.xml" -D "$WORK/$tag.hdr" -w '%{http_code}' \
    --aws-sigv4 "aws:amz:local:s3" --user "$ACCESS:$SECRET" -X "$m" \
    -H "x-amz-content-sha256: $sha" "${data[@]}" "$@" "$URL/s3$p") || code=000
}
# sc_is STATUS METHOD PATH ...: sc, and the answer has that status
sc_is() {
  local want=$1; shift
  sc "$@"
  [ "$code" = "$want" ] || { cat "$WORK/$tag.xml"; echo; fail "[$tag] $1 $2: HTTP $code, expected $want"; }
}
# sc_err STATUS CODE METHOD PATH ...: sc, and the answer is that S3 error
sc_err() {
  local want=$1 err=$2; shift 2
  sc "$@"
  [ "$code" = "$want" ] && [ "$(xv Code)" = "$err" ] ||
    { cat "$WORK/$tag.xml"; echo; fail "[$tag] $1 $2: HTTP $code, expected $want $err"; }
}
# xv NAME: the text of the first element NAME of the answer; xl NAME: of
# every one, joined by commas; hdr NAME: a header of the answer
xv() { xmllint --xpath "string((//*[local-name()='$1'])[1])" "$WORK/$tag.xml" 2>/dev/null || true; }
xl() { { xmllint --xpath "//*[local-name()='$1']/text()" "$WORK/$tag.xml" 2>/dev/null || true; } | paste -sd, -; }
hdr() { tr -d '\r' <"$WORK/$tag.hdr" | awk -v h="$(echo "$1" | tr A-Z a-z)" -F': ' 'tolower($1)==h{v=$2} END{print v}'; }
# complete_body N:ETAG...: a CompleteMultipartUpload document in $WORK/$tag.parts
complete_body() {
  {
    printf '<CompleteMultipartUpload>'
    for pe in "$@"; do printf '<Part><PartNumber>%s</PartNumber><ETag>%s</ETag></Part>' "${pe%%:*}" "${pe#*:}"; done
    printf '</CompleteMultipartUpload>'
  } >"$WORK/$tag.parts"
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
# mp_etag FILE SIZE: the ETag S3 gives FILE uploaded in parts of SIZE
# bytes: the MD5 of the parts' binary MD5s, "-" and the number of parts
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
# since T: seconds since T (a `date +%s.%N`), with 2 decimals
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
P1=\"$(md5 "$WORK/p1")\" P2=\"$(md5 "$WORK/p2")\"

for b in mp-big mp-tree mp-open mp-err mp-ver mp-race mp-faults mp-gone mp-registry; do
  sc_is 200 PUT "/$b"
done
# uploads the awscli groups below list: open.bin gets its parts there
sc_is 200 POST "/mp-open/logs/open.bin?uploads=" - -H 'Content-Type: text/x-test' -H 'x-amz-meta-stage: open'
OPEN=$(xv UploadId)
sc_is 200 POST "/mp-open/logs/other.bin?uploads="
OTHER=$(xv UploadId)
sc_is 200 POST "/mp-open/data/x.bin?uploads="
X=$(xv UploadId)

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
  case $(out .ETag) in *-12\") ;; *) fail "[$tag] f100's ETag $(out .ETag) is not of 12 parts" ;; esac
  t=$(date +%s.%N); cp_ok s3://mp-big/f20 "$WORK/f20.back"; echo "20 MB down in $(since "$t") s"
  t=$(date +%s.%N); cp_ok s3://mp-big/f100 "$WORK/f100.back"; echo "100 MB down in $(since "$t") s"
  cmp "$WORK/f20" "$WORK/f20.back" || fail "[$tag] f20 came back different"
  cmp "$WORK/f100" "$WORK/f100.back" || fail "[$tag] f100 came back different"
  rm -f "$WORK/f100.back" "$WORK/f20.back"
}

# ---- aws s3 cp --recursive of a folder, both ways
folder() {
  cp_ok --recursive "$WORK/tree" s3://mp-tree/tree/
  cp_ok --recursive s3://mp-tree/tree/ "$WORK/tree.back"
  diff -r "$WORK/tree" "$WORK/tree.back" || fail "[$tag] the folder came back different"
  s3_ok list-objects-v2 --bucket mp-tree --prefix tree/
  expect_json '[.Contents[] | .Key + "=" + (.Size | tostring)] | join(",")' \
    "tree/etl.py=13,tree/events/app-1=$((3 * MiB)),tree/jars/app.jar=$((9 * MiB + 7)),tree/jars/deep/deps.jar=$((17 * MiB))"
  expect_json '.Contents[] | select(.Key == "tree/jars/deep/deps.jar") | .ETag' \
    "$(mp_etag "$WORK/tree/jars/deep/deps.jar" $AWSPART)"
  expect_json '.Contents[] | select(.Key == "tree/events/app-1") | .ETag' "\"$(md5 "$WORK/tree/events/app-1")\""
}

# ---- s3api on an upload left open: its parts, nothing of it visible yet
parts() {
  s3_ok upload-part --bucket mp-open --key logs/open.bin --upload-id "$OPEN" --part-number 1 --body "$WORK/p1"
  expect_json .ETag "$P1"
  s3_ok upload-part --bucket mp-open --key logs/open.bin --upload-id "$OPEN" --part-number 2 --body "$WORK/p2"
  s3_ok list-parts --bucket mp-open --key logs/open.bin --upload-id "$OPEN"
  expect_json '[.Parts[] | "\(.PartNumber):\(.Size):\(.ETag)"] | join(",")' "1:$((5 * MiB)):$P1,2:1234:$P2"
  expect_json .Initiator.ID "$USER_ID"
  expect_json .Owner.ID local
  s3_ok list-parts --bucket mp-open --key logs/open.bin --upload-id "$OPEN" --max-parts 1 --no-paginate
  expect_json '[.Parts[].PartNumber] | join(",")' 1
  expect_json .IsTruncated true
  expect_json .NextPartNumberMarker 1
  # awscli follows the markers itself: one part a page
  s3_ok list-parts --bucket mp-open --key logs/open.bin --upload-id "$OPEN" --page-size 1
  expect_json '[.Parts[].PartNumber] | join(",")' 1,2
  sc_err 404 NoSuchKey GET /mp-open/logs/open.bin
  sc_is 200 GET "/mp-open?list-type=2"
  [ "$(xv KeyCount)" = 0 ] || fail "[$tag] the bucket lists $(xv KeyCount) objects"
}

# ---- s3api list-multipart-uploads (prefix, delimiter, pages), abort
listing() {
  s3_ok list-multipart-uploads --bucket mp-open --prefix logs/
  expect_json '[.Uploads[] | .Key + " " + .UploadId] | join(",")' "logs/open.bin $OPEN,logs/other.bin $OTHER"
  expect_json .Uploads[0].Initiator.ID "$USER_ID"
  s3_ok list-multipart-uploads --bucket mp-open --delimiter /
  expect_json '[.CommonPrefixes[].Prefix] | join(",")' "data/,logs/"
  s3_ok list-multipart-uploads --bucket mp-open --max-uploads 1 --no-paginate --key-marker data/x.bin \
    --upload-id-marker "$X"
  expect_json '[.Uploads[].Key] | join(",")' logs/open.bin
  expect_json .IsTruncated true
  expect_json .NextKeyMarker logs/open.bin
  expect_json .NextUploadIdMarker "$OPEN"
  # awscli follows the markers itself: one upload a page
  s3_ok list-multipart-uploads --bucket mp-open --page-size 1
  expect_json '[.Uploads[].Key] | join(",")' "data/x.bin,logs/open.bin,logs/other.bin"
  s3_ok abort-multipart-upload --bucket mp-open --key logs/other.bin --upload-id "$OTHER"
  s3_ok list-multipart-uploads --bucket mp-open
  expect_json '[.Uploads[].Key] | join(",")' "data/x.bin,logs/open.bin"
}

# ---- the errors of UploadPart and Complete, and abort
errors() {
  sc_is 200 POST "/mp-err/e.bin?uploads="
  local up; up=$(xv UploadId)
  sc_is 200 PUT "/mp-err/e.bin?partNumber=1&uploadId=$up" "$WORK/p2"
  [ "$(hdr ETag)" = "$P2" ] || fail "[$tag] part 1's ETag is $(hdr ETag)"
  sc_is 200 PUT "/mp-err/e.bin?partNumber=2&uploadId=$up" "$WORK/p1"
  sc_err 404 NoSuchUpload PUT "/mp-err/e.bin?partNumber=1&uploadId=no-such-upload" "$WORK/p2"
  sc_err 404 NoSuchUpload GET "/mp-err/other.bin?uploadId=$up"
  sc_err 404 NoSuchBucket POST "/mp-none/e.bin?uploads="
  sc_err 400 InvalidArgument PUT "/mp-err/e.bin?partNumber=10001&uploadId=$up" "$WORK/p2"
  sc_err 400 InvalidArgument PUT "/mp-err/e.bin?partNumber=0&uploadId=$up" "$WORK/p2"
  sc_err 400 InvalidArgument PUT "/mp-err/e.bin?uploadId=$up" "$WORK/p2"
  sc_err 400 BadDigest PUT "/mp-err/e.bin?partNumber=3&uploadId=$up" "$WORK/p2" \
    -H "Content-MD5: $(openssl dgst -md5 -binary "$WORK/p1" | base64)"
  sc_err 405 MethodNotAllowed PUT "/mp-err/e.bin?uploads="
  complete_body '1:"0123456789abcdef0123456789abcdef"'
  sc_err 400 InvalidPart POST "/mp-err/e.bin?uploadId=$up" "$WORK/$tag.parts"
  [ "$(xv PartNumber)" = 1 ] || fail "[$tag] InvalidPart names part '$(xv PartNumber)'"
  complete_body "3:$P2"
  sc_err 400 InvalidPart POST "/mp-err/e.bin?uploadId=$up" "$WORK/$tag.parts"
  complete_body "2:$P1" "1:$P2"
  sc_err 400 InvalidPartOrder POST "/mp-err/e.bin?uploadId=$up" "$WORK/$tag.parts"
  complete_body "1:$P2" "1:$P2"
  sc_err 400 InvalidPartOrder POST "/mp-err/e.bin?uploadId=$up" "$WORK/$tag.parts"
  printf '<CompleteMultipartUpload/>' >"$WORK/$tag.parts"
  sc_err 400 MalformedXML POST "/mp-err/e.bin?uploadId=$up" "$WORK/$tag.parts"
  printf '<CompleteMultipartUpload><Part><PartNumber>one</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>' \
    >"$WORK/$tag.parts"
  sc_err 400 MalformedXML POST "/mp-err/e.bin?uploadId=$up" "$WORK/$tag.parts"
  # every part but the last is 5 MiB at least (part 1 has 1234 bytes)
  complete_body "1:$P2" "2:$P1"
  sc_err 400 EntityTooSmall POST "/mp-err/e.bin?uploadId=$up" "$WORK/$tag.parts"
  [ "$(xv ProposedSize) $(xv MinSizeAllowed)" = "1234 5242880" ] || fail "[$tag] EntityTooSmall: $(cat "$WORK/$tag.xml")"
  # nothing was made of it; then abort: the upload is gone (its parts'
  # files too: checked at the end)
  sc_err 404 NoSuchKey GET /mp-err/e.bin
  sc_is 204 DELETE "/mp-err/e.bin?uploadId=$up"
  sc_err 404 NoSuchUpload GET "/mp-err/e.bin?uploadId=$up"
  sc_err 404 NoSuchUpload DELETE "/mp-err/e.bin?uploadId=$up"
  complete_body "2:$P1"
  sc_err 404 NoSuchUpload POST "/mp-err/e.bin?uploadId=$up" "$WORK/$tag.parts"
}

# ---- parts racing: 8 part numbers, two writers each, all at once; every
# part holds one writer's bytes, and a Complete of the last part alone
# keeps it and discards the others (their files are checked at the end)
racing() {
  sc_is 200 POST "/mp-race/race.bin?uploads="
  local up i w writers=()
  up=$(xv UploadId)
  for i in 1 2 3 4 5 6 7 8; do
    for w in a b; do
      head -c $((1000 + i)) /dev/urandom >"$WORK/race.$i$w"
      ( tag=race.$i$w; sc PUT "/mp-race/race.bin?partNumber=$i&uploadId=$up" "$WORK/race.$i$w"
        echo "$code" >"$WORK/race.$i$w.code" ) &
      writers+=($!)
    done
  done
  wait "${writers[@]}"
  [ "$(cat "$WORK"/race.*.code | sort | uniq -c | awk '{print $1 " " $2}')" = "16 200" ] ||
    fail "[$tag] racing parts answered $(cat "$WORK"/race.*.code | tr '\n' ' ')"
  sc_is 200 GET "/mp-race/race.bin?uploadId=$up"
  [ "$(xl PartNumber)" = 1,2,3,4,5,6,7,8 ] || fail "[$tag] the parts are $(xl PartNumber)"
  local etags=() etag
  IFS=, read -r -a etags <<<"$(xl ETag)"
  for i in 1 2 3 4 5 6 7 8; do
    etag=${etags[$((i - 1))]}
    [ "$etag" = "\"$(md5 "$WORK/race.${i}a")\"" ] || [ "$etag" = "\"$(md5 "$WORK/race.${i}b")\"" ] ||
      fail "[$tag] part $i's ETag $etag is neither writer's"
  done
  complete_body "8:$etag"
  sc_is 200 POST "/mp-race/race.bin?uploadId=$up" "$WORK/$tag.parts"
  sc_is 200 GET /mp-race/race.bin
  cmp -s "$WORK/$tag.xml" "$WORK/race.8a" || cmp -s "$WORK/$tag.xml" "$WORK/race.8b" ||
    fail "[$tag] the completed object is neither writer's part 8"
}

# ---- a versioned bucket: the completed object is a new version; parts
# copied from objects (UploadPartCopy), with and without a range
versioned() {
  printf '<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>' >"$WORK/$tag.conf"
  sc_is 200 PUT "/mp-ver?versioning=" "$WORK/$tag.conf"
  sc_is 200 PUT /mp-ver/obj "$WORK/v1"
  local v1; v1=$(hdr x-amz-version-id)
  sc_is 200 PUT /mp-ver/src "$WORK/src"
  sc_is 200 POST "/mp-ver/obj?uploads=" - -H 'Content-Type: application/x-parts'
  local up; up=$(xv UploadId)
  sc_is 200 PUT "/mp-ver/obj?partNumber=1&uploadId=$up" - -H 'x-amz-copy-source: /mp-ver/src' \
    -H "x-amz-copy-source-range: bytes=1000-$((1000 + 5 * MiB - 1))"
  slice "$WORK/src" 1000 $((5 * MiB)) >"$WORK/ver.expected"
  local e1; e1=$(xv ETag)
  [ "$e1" = "\"$(md5 "$WORK/ver.expected")\"" ] || fail "[$tag] the copied range's ETag is $e1"
  sc_is 200 PUT "/mp-ver/obj?partNumber=2&uploadId=$up" - -H "x-amz-copy-source: mp-ver/obj?versionId=$v1"
  local e2; e2=$(xv ETag)
  [ "$(hdr x-amz-copy-source-version-id)" = "$v1" ] || fail "[$tag] copied from version $(hdr x-amz-copy-source-version-id)"
  cat "$WORK/v1" >>"$WORK/ver.expected"
  sc_err 400 InvalidArgument PUT "/mp-ver/obj?partNumber=3&uploadId=$up" - -H 'x-amz-copy-source: /mp-ver/src' \
    -H "x-amz-copy-source-range: bytes=0-$((6 * MiB))"
  sc_err 400 InvalidArgument PUT "/mp-ver/obj?partNumber=3&uploadId=$up" - -H 'x-amz-copy-source: /mp-ver/src' \
    -H 'x-amz-copy-source-range: bytes=10-'
  sc_err 404 NoSuchKey PUT "/mp-ver/obj?partNumber=3&uploadId=$up" - -H 'x-amz-copy-source: /mp-ver/nothing'
  complete_body "1:$e1" "2:$e2"
  sc_is 200 POST "/mp-ver/obj?uploadId=$up" "$WORK/$tag.parts"
  local v2; v2=$(hdr x-amz-version-id)
  [ -n "$v2" ] && [ "$v2" != "$v1" ] || fail "[$tag] version ids '$v1' '$v2'"
  case $(xv ETag) in *-2\") ;; *) fail "[$tag] the ETag $(xv ETag) is not of 2 parts" ;; esac
  sc_is 200 GET /mp-ver/obj
  cmp "$WORK/ver.expected" "$WORK/$tag.xml" || fail "[$tag] the assembled object differs"
  [ "$(hdr x-amz-version-id) $(hdr Content-Type)" = "$v2 application/x-parts" ] ||
    fail "[$tag] the new version is $(hdr x-amz-version-id), $(hdr Content-Type)"
  sc_is 200 GET "/mp-ver/obj?versionId=$v1"
  cmp "$WORK/v1" "$WORK/$tag.xml" || fail "[$tag] the first version changed"
  sc_is 200 GET "/mp-ver?prefix=obj&versions="
  [ "$(xl VersionId)" = "$v2,$v1" ] || fail "[$tag] the versions are $(xl VersionId)"
}

# ---- faults apply to these routes: awscli's Complete whose first answer
# is replaced by a 503 (the upload did complete) is retried and gets the
# same answer; a part whose connection is dropped before it is processed
# is not stored
faults() {
  sc_is 200 POST "/mp-faults/f.bin?uploads="
  local up; up=$(xv UploadId)
  sc_is 200 POST "/mp-faults/g.bin?uploads="
  local up2; up2=$(xv UploadId)
  sc_is 200 PUT "/mp-faults/f.bin?partNumber=1&uploadId=$up" "$WORK/p2"
  # (only this bucket's paths: the other groups go on undisturbed; with
  # seed 3 the first draw fails and the second does not)
  req POST /_localcloud/faults '{"rules":[{"prefix":"/s3/mp-faults/","error_after_rate":0.5}],"seed":3}'
  expect_code 200 "faults"
  s3_ok complete-multipart-upload --bucket mp-faults --key f.bin --upload-id "$up" \
    --multipart-upload "{\"Parts\":[{\"PartNumber\":1,\"ETag\":$(jq -n --arg e "$P2" '$e')}]}"
  local etag; etag=$(out .ETag)
  grep -q "POST /s3/mp-faults/f.bin -> 503" "$WORK/mp.log" || fail "[$tag] the fault did not apply"
  req POST /_localcloud/faults '{"rules":[{"prefix":"/s3/mp-faults/","drop_rate":1}],"seed":1}'
  expect_code 200 "faults"
  sc PUT "/mp-faults/g.bin?partNumber=1&uploadId=$up2" "$WORK/p2"
  [ "$code" = 000 ] || fail "[$tag] a dropped connection answered HTTP $code"
  req DELETE /_localcloud/faults
  expect_code 204 "faults off"
  sc_is 200 GET /mp-faults/f.bin
  cmp "$WORK/p2" "$WORK/$tag.xml" || fail "[$tag] the object differs"
  [ "$(hdr ETag)" = "$etag" ] || fail "[$tag] the object's ETag $(hdr ETag), the Complete's $etag"
  sc_is 200 GET "/mp-faults/g.bin?uploadId=$up2"
  [ -z "$(xl PartNumber)" ] || fail "[$tag] a dropped part was stored"
  sc_is 204 DELETE "/mp-faults/g.bin?uploadId=$up2"
  # the same Complete again: the same answer; with other parts: no such upload
  complete_body "1:$P2"
  sc_is 200 POST "/mp-faults/f.bin?uploadId=$up" "$WORK/$tag.parts"
  [ "$(xv ETag)" = "$etag" ] || fail "[$tag] the Complete sent again answers $(xv ETag)"
  complete_body "1:$P1"
  sc_err 404 NoSuchUpload POST "/mp-faults/f.bin?uploadId=$up" "$WORK/$tag.parts"
  sc_err 404 NoSuchUpload GET "/mp-faults/f.bin?uploadId=$up"
}

# ---- a bucket with uploads open and aborted can be deleted (awscli), and
# their part files go with it
gone() {
  local a b
  sc_is 200 POST "/mp-gone/a?uploads="
  a=$(xv UploadId)
  sc_is 200 PUT "/mp-gone/a?partNumber=1&uploadId=$a" "$WORK/p1"
  sc_is 200 PUT "/mp-gone/a?partNumber=2&uploadId=$a" "$WORK/p2"
  sc_is 200 POST "/mp-gone/b?uploads="
  b=$(xv UploadId)
  sc_is 200 PUT "/mp-gone/b?partNumber=1&uploadId=$b" "$WORK/p2"
  inventory
  jq -r '.s3.uploads[] | select(.bucket == "mp-gone") | .parts[].blob' "$WORK/$tag.inv" >"$WORK/gone.blobs"
  jq -r --arg id "$b" '.s3.uploads[$id].parts[].blob' "$WORK/$tag.inv" >"$WORK/gone_b.blobs"
  [ "$(wc -l <"$WORK/gone.blobs")" -eq 3 ] || fail "[$tag] mp-gone's uploads have $(wc -l <"$WORK/gone.blobs") parts"
  while read -r f; do [ -f "$WORK/mp/s3-data/$f" ] || fail "[$tag] part file $f missing"; done <"$WORK/gone.blobs"
  s3_ok abort-multipart-upload --bucket mp-gone --key b --upload-id "$b"
  [ ! -f "$WORK/mp/s3-data/$(cat "$WORK/gone_b.blobs")" ] || fail "[$tag] an aborted upload's part file remains"
  s3_ok delete-bucket --bucket mp-gone
  while read -r f; do [ ! -f "$WORK/mp/s3-data/$f" ] || fail "[$tag] part file $f outlived its bucket"; done \
    <"$WORK/gone.blobs"
  inventory
  jq -e '[.s3.uploads[] | select(.bucket == "mp-gone")] | length == 0' "$WORK/$tag.inv" >/dev/null ||
    fail "[$tag] the deleted bucket's uploads remain"
  # nor does a bucket made again under the name have them
  sc_is 200 PUT /mp-gone
  sc_err 404 NoSuchUpload GET "/mp-gone/a?uploadId=$a"
}

# ---- the real docker-registry on the s3 storage driver: parts of 5 MiB,
# and copies (the final move of a blob) in parts of 5 MiB too, so that a
# 13 MB layer also goes through UploadPartCopy with ranges. Started here,
# not in a group of par, so that its pid is killed at the end.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
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
digest() { echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"; }
# rcurl METHOD URL ARGS...: to the registry; status in $code, headers in
# $WORK/$tag.hdr, body in $WORK/$tag.body
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
  # the layer is an object of the bucket, assembled from 3 parts
  local key="registry/docker/registry/v2/blobs/sha256/${layer:7:2}/${layer:7}/data"
  "$AWS" --endpoint-url "$URL/s3" s3 ls --recursive s3://mp-registry/registry/ >"$WORK/$tag.ls" </dev/null ||
    fail "[$tag] aws s3 ls"
  grep -qE " $((13 * MiB)) $key\$" "$WORK/$tag.ls" || { cat "$WORK/$tag.ls"; fail "[$tag] the layer is not in the bucket"; }
  sc_is 206 GET "/mp-registry/$key" - -r 0-0
  case $(hdr ETag) in *-3\") ;; *) fail "[$tag] the layer's ETag $(hdr ETag) is not of 3 parts" ;; esac
}

registry_start
par big folder parts listing errors racing versioned faults gone registry
kill "$reg_pid"

# ---- kill -9 with an upload open: its parts survive, and it completes
req GET /_localcloud/inventory
jq -S .s3 "$WORK/body" >"$WORK/inv1"
kill -9 "$lc_pid"
set +e; wait "$lc_pid" 2>/dev/null; set -e
lc_start mp --delay-ms 0
req GET /_localcloud/inventory
jq -S .s3 "$WORK/body" >"$WORK/inv2"
diff -u "$WORK/inv1" "$WORK/inv2" || fail "the S3 inventory changed across kill -9"
s3_ok list-parts --bucket mp-open --key logs/open.bin --upload-id "$OPEN"
expect_json '[.Parts[] | "\(.PartNumber):\(.Size):\(.ETag)"] | join(",")' "1:$((5 * MiB)):$P1,2:1234:$P2"
s3_ok complete-multipart-upload --bucket mp-open --key logs/open.bin --upload-id "$OPEN" \
  --multipart-upload "$(jq -cn --arg a "$P1" --arg b "$P2" '{Parts: [{PartNumber: 1, ETag: $a}, {PartNumber: 2, ETag: $b}]}')"
s3_ok get-object --bucket mp-open --key logs/open.bin "$WORK/open.got"
expect_json .ContentType text/x-test
expect_json .Metadata.stage open
cat "$WORK/p1" "$WORK/p2" | cmp - "$WORK/open.got" || fail "the upload completed after the restart differs"
s3_ok list-multipart-uploads --bucket mp-open
expect_json '[.Uploads[].Key] | join(",")' data/x.bin

# ---- every data file is an object version's or a part's of an open upload
req GET /_localcloud/inventory
jq -r '(.s3.objects[].versions[].blob // empty), (.s3.uploads[]?.parts[]?.blob)' "$WORK/body" |
  sort >"$WORK/blobs.used"
ls "$WORK/mp/s3-data" | sort >"$WORK/blobs.files"
diff -u "$WORK/blobs.used" "$WORK/blobs.files" || fail "the data files are not exactly those in use"
