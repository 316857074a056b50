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

