# Helpers for the tests that drive localcloud: start it on a free port
# (killed by PID when the test ends, see lib.sh) and talk to it with curl.
. "$ROOT/tests/e2e/lib.sh"
: "${LOCALCLOUD:?LOCALCLOUD must name the localcloud binary}"

# lc_start NAME ARGS...: localcloud on a free port with the data directory
# $WORK/NAME; sets URL and lc_pid once its ready file exists.
lc_start() {
  local name=$1; shift
  rm -f "$WORK/$name.ready"
  "$LOCALCLOUD" --listen 127.0.0.1:0 --data "$WORK/$name" --ready-file "$WORK/$name.ready" \
    --verbose "$@" 2>>"$WORK/$name.log" &
  lc_pid=$!
  pids+=("$lc_pid")
  for _ in $(seq 200); do
    [ -s "$WORK/$name.ready" ] && break
    kill -0 "$lc_pid" 2>/dev/null || { cat "$WORK/$name.log"; fail "localcloud $name exited"; }
    sleep 0.05
  done
  [ -s "$WORK/$name.ready" ] || fail "localcloud $name never wrote its ready file"
  URL="http://$(cat "$WORK/$name.ready")"
}

# req METHOD PATH [BODY]: the answer's status in $code, body in $WORK/body,
# headers in $WORK/headers; sends $TOKEN when set.
TOKEN=
req() {
  local m=$1 p=$2; shift 2
  local args=(-s -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' -X "$m")
  [ -n "$TOKEN" ] && args+=(-H "X-Auth-Token: $TOKEN")
  [ $# -gt 0 ] && args+=(-H 'Content-Type: application/json' --data-binary "$1")
  code=$(curl "${args[@]}" "$URL$p") || code=000
}
expect_code() {
  [ "$code" = "$1" ] || { cat "$WORK/body"; echo; fail "$2: HTTP $code, expected $1"; }
}
body() { jq -r "$1" "$WORK/body"; }
expect_body() {
  local got; got=$(body "$1")
  [ "$got" = "$2" ] || { cat "$WORK/body"; echo; fail "$1 is '$got', expected '$2'"; }
}
expect_body_has() { grep -qF -- "$1" "$WORK/body" || { cat "$WORK/body"; echo; fail "body lacks: $1"; }; }

auth_body() { # USER PASSWORD
  printf '{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"%s","domain":{"name":"Default"},"password":"%s"}}},"scope":{"project":{"id":"local"}}}}' "$1" "$2"
}
get_token() {
  req POST /identity/v3/auth/tokens "$(auth_body admin localcloud-admin)"
  expect_code 201 "token"
  tr -d '\r' <"$WORK/headers" | awk -F': ' 'tolower($1)=="x-subject-token"{print $2}'
}


# aws_env ACCESS SECRET: Debian's awscli ($AWS; another aws may come first
# on PATH) pointed at this localcloud's S3 with those keys: path-style,
# region "local" (the catalog's), no metadata service, nothing from the
# real home directory or this machine's AWS_* settings (a CA bundle there
# also makes docker-registry's SDK refuse to start).
AWS=/usr/bin/aws
aws_env() {
  [ -x "$AWS" ] || fail "Debian's awscli is not installed at $AWS (run scripts/install-deps)"
  unset AWS_CA_BUNDLE AWS_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 AWS_SESSION_TOKEN AWS_REGION
  printf '[default]\ns3 =\n    addressing_style = path\n' >"$WORK/aws.config"
  export AWS_CONFIG_FILE="$WORK/aws.config" AWS_SHARED_CREDENTIALS_FILE="$WORK/aws.credentials"
  export AWS_ACCESS_KEY_ID="$1" AWS_SECRET_ACCESS_KEY="$2"
  export AWS_DEFAULT_REGION=local AWS_EC2_METADATA_DISABLED=true AWS_PAGER="" HOME="$WORK"
}

# s3 ARGS...: one `aws s3api` call; output in $WORK/$tag.out / .err, status
# in $rc. tag names the caller (tests run groups of calls in parallel).
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
out() { jq -r "$1" "$WORK/$tag.out"; }
