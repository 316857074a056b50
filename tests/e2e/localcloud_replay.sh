# e2e: alone
# (alone: its checks need the GET right after a request to come within the 2 s transition)
# Replays the request bodies of VK Cloud's own client (localcloud_replay.json)
# against a fresh localcloud, in order: each answer's status, the states
# the cluster goes through (RUNNING <-> SHUTOFF directly, RECONCILING while
# a node group changes, the node group itself RUNNING throughout), and that
# a GET returns every field that was sent with the value sent.
#
# --delay-ms 2000 leaves every transition long enough for the GET right
# after a request to see its first state.
. "$ROOT/tests/e2e/lib-k8s.sh" # CI_HDR, get_token, expect_code, body

DATA="$ROOT/tests/e2e/localcloud_replay.json"
lc_start replay --delay-ms 2000
TOKEN=$(get_token)
ssh-keygen -q -t ed25519 -N '' -f "$WORK/key"
export PUBKEY; PUBKEY=$(cat "$WORK/key.pub")

# send METHOD PATH [BODY]: every request carries the container-infra version
# header, as VK Cloud's client sends it (the other APIs ignore it)
send() {
  local m=$1 p=$2; shift 2
  local args=(-s -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' -X "$m" -H "$CI_HDR"
              -H "X-Auth-Token: $TOKEN")
  [ $# -gt 0 ] && args+=(-H 'Content-Type: application/json' --data-binary "$1")
  code=$(curl "${args[@]}" "$URL$p") || code=000
}
# The saved values are environment variables; @NAME in a string is one.
subst_json() { jq -c 'walk(if type == "string" and test("^@[A-Z0-9_]+$") then ($ENV[.[1:]] // error("unset " + .)) else . end)'; }
subst_path() { jq -rn --arg p "$1" '$p | gsub("@(?<n>[A-Z0-9_]+)"; $ENV[.n])'; }
# The value sent and the value read back agree: VK Cloud's client sends
# some flags as the strings "true" / "false", the API answers booleans.
NORM='def norm: walk(if . == "true" then true elif . == "false" then false else . end);'

state_of() { # PATH: new_status of a cluster, GONE when 404
  send GET "$1"
  case $code in
    200) body .new_status ;;
    404) echo GONE ;;
    *) cat "$WORK/body"; fail "GET $1: HTTP $code" ;;
  esac
}

# follow NAME STATES NG_RUNNING: polls the cluster until it shows the last
# of STATES; the first GET must show the first one and every one must be
# in STATES, in order. With NG_RUNNING, the node group answers RUNNING (or
# 404 once it is deleted) every time.
follow() {
  local name=$1 states=$2 ng=$3 i=0 last="" st
  local -a want; read -r -a want <<<"$states"
  for _ in $(seq 400); do
    st=$(state_of "/container-infra/v1/clusters/$CLUSTER")
    if [ "$st" != "$last" ]; then
      while [ "$i" -lt "${#want[@]}" ] && [ "${want[$i]}" != "$st" ]; do
        [ -z "$last" ] && fail "$name: the cluster is $st right after the request, expected ${want[0]}"
        i=$((i + 1))
      done
      [ "$i" -lt "${#want[@]}" ] || fail "$name: the cluster went ${last:-?} -> $st, expected only $states"
      last=$st
    fi
    if [ "$ng" = true ]; then
      send GET "/container-infra/v1/nodegroups/$NG"
      [ "$code" = 404 ] || [ "$(body .state)" = RUNNING ] ||
        { cat "$WORK/body"; fail "$name: node group state $(body .state) (HTTP $code), expected RUNNING"; }
    fi
    [ "$st" = "${want[-1]}" ] && return 0
    sleep 0.1
  done
  fail "$name: the cluster never became ${want[-1]} (last $last)"
}

n=$(jq '.steps | length' "$DATA")
for ((s = 0; s < n; s++)); do
  step=$(jq -c ".steps[$s]" "$DATA")
  name=$(jq -r .name <<<"$step")
  method=$(jq -r .method <<<"$step")
  path=$(subst_path "$(jq -r .path <<<"$step")")
  if jq -e 'has("body")' <<<"$step" >/dev/null; then
    sent=$(jq -c .body <<<"$step" | subst_json) || fail "$name: cannot fill in the body"
    send "$method" "$path" "$sent"
  else
    sent=null
    send "$method" "$path"
  fi
  expect_code "$(jq -r .status <<<"$step")" "$name"
  grep -qi '^x-openstack-request-id: req-' "$WORK/headers" || fail "$name: no X-Openstack-Request-Id"
  cp "$WORK/body" "$WORK/answer"
  for var in $(jq -r '.save // {} | keys[]' <<<"$step"); do
    val=$(jq -r "$(jq -r ".save.$var" <<<"$step")" "$WORK/answer")
    [ -n "$val" ] && [ "$val" != null ] || { cat "$WORK/answer"; fail "$name: nothing to save as $var"; }
    export "$var=$val"
  done
  if jq -e 'has("k8s_version")' <<<"$step" >/dev/null; then
    server=$(python3 -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["clusters"][0]["cluster"]["server"])' "$WORK/answer")
    ktoken=$(python3 -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["users"][0]["user"]["token"])' "$WORK/answer")
    got=$(curl -sk -H "Authorization: Bearer $ktoken" "$server/version" | jq -r .gitVersion)
    [ "$got" = "$(jq -r .k8s_version <<<"$step")" ] || fail "$name: the Kubernetes API reports $got"
  fi
  states=$(jq -r '.cluster // [] | join(" ")' <<<"$step")
  [ -z "$states" ] || follow "$name" "$states" "$(jq -r '.nodegroup_running // false' <<<"$step")"
  if jq -e 'has("echo")' <<<"$step" >/dev/null; then
    send GET "$(subst_path "$(jq -r .echo <<<"$step")")"
    expect_code 200 "$name: read back"
    diff=$(jq -c --argjson sent "$sent" "$NORM"'. as $got | [$sent | to_entries[] | select((.value | norm) != ($got[.key] | norm)) | {key, sent: .value, got: $got[.key]}]' "$WORK/body")
    [ "$diff" = "[]" ] || fail "$name: read back differs from what was sent: $diff"
  fi
  if jq -e 'has("expect")' <<<"$step" >/dev/null; then
    get=$(jq -r ".get // \"$(jq -r .path <<<"$step")\"" <<<"$step")
    send GET "$(subst_path "$get")"
    expect_code 200 "$name: read back"
    for f in $(jq -r '.expect | keys[] | @base64' <<<"$step"); do
      filter=$(base64 -d <<<"$f")
      want=$(jq -c --arg f "$filter" '.expect[$f]' <<<"$step" | subst_json)
      got=$(jq -c "$filter" "$WORK/body")
      [ "$(jq -c "$NORM"' norm' <<<"$got")" = "$(jq -c "$NORM"' norm' <<<"$want")" ] ||
        { cat "$WORK/body"; echo; fail "$name: $filter is $got, expected $want"; }
    done
  fi
done
echo ok
