# localcloud's injected faults: a seeded 5xx share, 429 with Retry-After,
# latency, dropped connections, per path prefix; a 5xx or a drop after the
# request was processed (the change is made, the client cannot tell);
# DELETE clears them. Failures: servers, clusters and node groups picked
# by name end their creation or change in ERROR with the reason given, in
# the shape of the real APIs (Nova's fault.message, Magnum's
# status_reason), and can be deleted.
. "$ROOT/tests/e2e/lib-k8s.sh" # ci METHOD PATH [BODY]

lc_start data
TOKEN=$(get_token)
[ -n "$TOKEN" ] || fail "no token"

faults() { # BODY: sets the faults, fails unless accepted
  local code
  code=$(curl -s -o "$WORK/body" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary "$1" "$URL/_localcloud/faults")
  [ "$code" = 200 ] || { cat "$WORK/body"; fail "faults not accepted: $1"; }
}
# codes N PATH: the status of N requests in a row (one connection), one a line
codes() {
  local n=$1 path=$2 urls=()
  for _ in $(seq "$n"); do urls+=(-o /dev/null "$URL$path"); done
  curl -s -w '%{http_code}\n' -H "X-Auth-Token: $TOKEN" "${urls[@]}"
}

# ---- a 30% error share, repeatable with the seed
faults '{"rules":[{"prefix":"/compute","error_rate":0.3}],"seed":42}'
codes 400 /compute/v2.1/flavors >"$WORK/run1"
[ "$(wc -l <"$WORK/run1")" -eq 400 ] || fail "expected 400 answers"
errors=$(grep -c '^5' "$WORK/run1" || true)
others=$(grep -vc '^5\|^200$' "$WORK/run1" || true)
[ "$others" -eq 0 ] || fail "answers other than 200 and 5xx: $(sort "$WORK/run1" | uniq -c)"
awk -v e="$errors" 'BEGIN { s = e / 400; exit !(s >= 0.23 && s <= 0.37) }' ||
  fail "5xx share $errors/400, expected 0.3 +/- 0.07"
grep -q '^503$' "$WORK/run1" || fail "the default error status is not 503"
faults '{"rules":[{"prefix":"/compute","error_rate":0.3}],"seed":42}'
codes 400 /compute/v2.1/flavors >"$WORK/run2"
cmp -s "$WORK/run1" "$WORK/run2" || fail "the same seed gave different faults"
# other prefixes are untouched
[ "$(codes 50 /network/v2.0/networks | sort -u)" = 200 ] || fail "faults leaked to /network"
# the error is in the API's own shape
faults '{"rules":[{"prefix":"/compute","error_rate":1,"error_status":500}],"seed":1}'
code=$(curl -s -o "$WORK/body" -w '%{http_code}' -H "X-Auth-Token: $TOKEN" "$URL/compute/v2.1/servers")
[ "$code" = 500 ] || fail "error_rate 1 gave $code"
[ "$(jq -r .computeFault.code "$WORK/body")" = 500 ] || { cat "$WORK/body"; fail "error not in Nova's shape"; }

# ---- throttling
faults '{"rules":[{"prefix":"/network","throttle_rate":1,"retry_after":7}]}'
code=$(curl -s -D "$WORK/headers" -o "$WORK/body" -w '%{http_code}' -H "X-Auth-Token: $TOKEN" "$URL/network/v2.0/networks")
[ "$code" = 429 ] || fail "throttle gave $code"
grep -qi '^Retry-After: 7' "$WORK/headers" || { cat "$WORK/headers"; fail "no Retry-After: 7"; }
[ "$(jq -r .NeutronError.type "$WORK/body")" = HTTPTooManyRequests ] || { cat "$WORK/body"; fail "429 not in Neutron's shape"; }

# ---- latency
faults '{"rules":[{"prefix":"/compute/v2.1/flavors","latency_ms":400}]}'
t=$(curl -s -o /dev/null -w '%{time_total}' -H "X-Auth-Token: $TOKEN" "$URL/compute/v2.1/flavors")
awk -v t="$t" 'BEGIN { exit !(t >= 0.38 && t < 3) }' || fail "latency 400 ms took ${t}s"
t=$(curl -s -o /dev/null -w '%{time_total}' -H "X-Auth-Token: $TOKEN" "$URL/compute/v2.1/images")
awk -v t="$t" 'BEGIN { exit !(t < 0.3) }' || fail "a path outside the prefix took ${t}s"

# ---- dropped connections: an empty reply
faults '{"rules":[{"prefix":"/","drop_rate":1}]}'
set +e
curl -s -o /dev/null -H "X-Auth-Token: $TOKEN" "$URL/compute/v2.1/flavors"
rc=$?
set -e
[ "$rc" -eq 52 ] || fail "a dropped connection gave curl exit $rc, expected 52 (empty reply)"
# a drop before processing changes nothing
curl -s -o /dev/null -H "X-Auth-Token: $TOKEN" -H 'Content-Type: application/json' \
  --data-binary '{"network":{"name":"dropped-before"}}' "$URL/network/v2.0/networks" || true
[ "$(curl -s "$URL/_localcloud/inventory" | jq '[.network.networks // {} | .[] | select(.name=="dropped-before")] | length')" = 0 ] ||
  fail "a request dropped before processing made its change"

# ---- after processing: the change is made and persisted, the answer is
# lost (drop_after_rate) or replaced by a 5xx (error_after_rate)
faults '{"rules":[{"prefix":"/network","drop_after_rate":1}]}'
set +e
curl -s -o /dev/null -H "X-Auth-Token: $TOKEN" -H 'Content-Type: application/json' \
  --data-binary '{"network":{"name":"dropped-after"}}' "$URL/network/v2.0/networks"
rc=$?
set -e
[ "$rc" -eq 52 ] || fail "drop_after_rate gave curl exit $rc, expected 52 (empty reply)"
faults '{"rules":[{"prefix":"/network","error_after_rate":1,"error_status":502}]}'
code=$(curl -s -o "$WORK/body" -w '%{http_code}' -H "X-Auth-Token: $TOKEN" -H 'Content-Type: application/json' \
  --data-binary '{"network":{"name":"failed-after"}}' "$URL/network/v2.0/networks")
[ "$code" = 502 ] || fail "error_after_rate gave $code"
[ "$(jq -r .NeutronError.type "$WORK/body")" != null ] || { cat "$WORK/body"; fail "502 not in Neutron's shape"; }
for n in dropped-after failed-after; do
  [ "$(curl -s "$URL/_localcloud/inventory" | jq "[.network.networks | .[] | select(.name==\"$n\")] | length")" = 1 ] ||
    fail "the request answered with a fault after processing did not make its change ($n)"
done
faults '{"rules":[{"prefix":"/","drop_rate":1}]}'

# the test endpoints are never faulted
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/_localcloud/inventory")
[ "$code" = 200 ] || fail "inventory faulted: $code"

# ---- bad rules are refused and leave the faults as they were
for bad in '{"rules":[{"prefix":"/x","error_rate":2}]}' '{"rules":[{"error_rate":0.1}]}' \
           '{"rules":[{"prefix":"/x","error_rate":0.6,"drop_rate":0.6}]}' '{"rules":"all"}' '{"rules":[' ; do
  code=$(curl -s -o "$WORK/body" -w '%{http_code}' --data-binary "$bad" "$URL/_localcloud/faults")
  [ "$code" = 400 ] || fail "bad rules $bad gave $code"
done
[ "$(curl -s "$URL/_localcloud/faults" | jq -r '.rules[0].drop_rate')" = 1 ] || fail "bad rules replaced the faults"

# ---- DELETE clears
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$URL/_localcloud/faults")
[ "$code" = 204 ] || fail "DELETE faults gave $code"
[ "$(codes 40 /compute/v2.1/flavors | sort -u)" = 200 ] || fail "faults remain after DELETE"

# ---- failures: objects that end in ERROR
kill "$lc_pid"; wait "$lc_pid" 2>/dev/null || true
lc_start errs --delay-ms 200
TOKEN=$(get_token)
for bad in '{"failures":[{"kind":"volume","name":"x"}]}|failures[0].kind' \
           '{"failures":[{"kind":"server"}]}|name_prefix' \
           '{"failures":[{"kind":"server","name":"a","name_prefix":"a"}]}|name_prefix' \
           '{"failures":[{"kind":"server","name":"a","on":"delete"}]}|failures[0].on' \
           '{"failures":[{"kind":"server","name":"a","colour":"red"}]}|colour' \
           '{"failures":"all"}|failures' '{"seed":1}|rules'; do
  code=$(curl -s -o "$WORK/body" -w '%{http_code}' --data-binary "${bad%|*}" "$URL/_localcloud/faults")
  [ "$code" = 400 ] || fail "bad failures ${bad%|*} gave $code"
  grep -qF "${bad##*|}" "$WORK/body" || { cat "$WORK/body"; fail "400 does not name ${bad##*|}"; }
done
faults '{"failures":[
  {"kind":"server","name":"doomed","reason":"No valid host was found. There are not enough hosts available."},
  {"kind":"server","name_prefix":"rs-","on":"update","reason":"Resize error: disk too small"},
  {"kind":"cluster","name":"bad-k8s","reason":"Stack create failed: quota exceeded"},
  {"kind":"cluster","name":"up-k8s","on":"update","reason":"masters did not come back"},
  {"kind":"nodegroup","name":"bad-ng","reason":"node bootstrap failed"}]}'
req GET /_localcloud/faults
expect_body '.failures | length' 5
expect_body '.failures[1] | "\(.kind) \(.name_prefix) \(.on)"' "server rs- update"
expect_body '.failures[0].on' create

# servers: ERROR with Nova's fault instead of ACTIVE; on update, a resize
# ends in ERROR on the old flavor; a server in ERROR can be deleted
wait_server() { # ID STATUS
  for _ in $(seq 100); do
    req GET "/compute/v2.1/servers/$1"
    [ "$(body .server.status)" = "$2" ] && [ "$(body '.server["OS-EXT-STS:task_state"]')" = null ] && return 0
    sleep 0.05
  done
  cat "$WORK/body"; fail "server $1 never became $2"
}
new_server() { # NAME: its id in $SID
  req GET /compute/v2.1/flavors
  local f; f=$(body '.flavors[] | select(.name=="STD2-1-2") | .id')
  req POST /compute/v2.1/servers "{\"server\":{\"name\":\"$1\",\"flavorRef\":\"$f\",\"imageRef\":\"c4a3e2d1-7b6a-4c5d-8e9f-000000002204\",\"networks\":\"none\"}}"
  expect_code 202 "server $1"
  SID=$(body .server.id)
}
new_server doomed
DOOMED=$SID
expect_body .server.status BUILD
wait_server "$DOOMED" ERROR
expect_body .server.fault.message "No valid host was found. There are not enough hosts available."
expect_body .server.fault.code 500
expect_body '.server["OS-EXT-STS:vm_state"]' error
new_server fine
wait_server "$SID" ACTIVE
expect_body .server.fault null
new_server rs-1
RS=$SID
wait_server "$RS" ACTIVE
req GET /compute/v2.1/flavors
F48=$(body '.flavors[] | select(.name=="STD3-4-8") | .id')
req POST "/compute/v2.1/servers/$RS/action" "{\"resize\":{\"flavorRef\":\"$F48\"}}"
expect_code 202 "resize of a server set to fail"
wait_server "$RS" ERROR
expect_body .server.fault.message "Resize error: disk too small"
expect_body .server.flavor.original_name STD2-1-2
req POST "/compute/v2.1/servers/$RS/action" '{"os-stop":null}'
expect_code 409 "stop a server in ERROR"
for id in "$DOOMED" "$RS"; do
  req DELETE "/compute/v2.1/servers/$id"
  expect_code 204 "delete a server in ERROR"
done
for _ in $(seq 40); do req GET "/compute/v2.1/servers/$RS"; [ "$code" = 404 ] && break; sleep 0.05; done
expect_code 404 "a deleted server in ERROR"
req GET /compute/v2.1/servers
expect_body '[.servers[].name] | join(",")' fine

# clusters: ERROR with status_reason instead of RUNNING; on update, an
# action ends in ERROR without its change; node groups: state ERROR, the
# cluster back to RUNNING
req POST /network/v2.0/networks '{"network":{"name":"k8s"}}'
NET=$(body .network.id)
req POST /network/v2.0/subnets "{\"subnet\":{\"network_id\":\"$NET\",\"cidr\":\"10.1.0.0/24\"}}"
expect_code 201 "subnet"
SUB=$(body .subnet.id)
wait_cluster() { # ID STATE
  for _ in $(seq 100); do
    ci GET "/clusters/$1"
    [ "$(body .new_status)" = "$2" ] && return 0
    sleep 0.05
  done
  cat "$WORK/body"; fail "cluster $1 never became $2"
}
new_cluster() { # NAME: its uuid in $CID
  ci POST /clusters "{\"name\":\"$1\",\"version\":\"1.31\",\"network_id\":\"$NET\",\"subnet_id\":\"$SUB\"}"
  expect_code 202 "cluster $1"
  CID=$(body .uuid)
}
new_cluster bad-k8s
BAD=$CID
ci GET "/clusters/$BAD"
expect_body .status PROVISIONING
wait_cluster "$BAD" ERROR
expect_body .status ERROR
expect_body .status_reason "Stack create failed: quota exceeded"
ci POST /nodegroups "{\"cluster_id\":\"$BAD\",\"name\":\"w\"}"
expect_code 409 "a node group in a cluster in ERROR"
ci DELETE "/clusters/$BAD"
expect_code 204 "delete a cluster in ERROR"
for _ in $(seq 40); do ci GET "/clusters/$BAD"; [ "$code" = 404 ] && break; sleep 0.05; done
expect_code 404 "a deleted cluster in ERROR"

new_cluster up-k8s
UP=$CID
wait_cluster "$UP" RUNNING
expect_body .status_reason null
ci POST "/clusters/$UP/actions" '{"action":"resize_masters","payload":{"flavor":"STD3-8-16"}}'
expect_code 202 "resize_masters of a cluster set to fail on update"
ci GET "/clusters/$UP"
expect_body .status RECONCILING
wait_cluster "$UP" ERROR
expect_body .status_reason "masters did not come back"
expect_body .master_flavor_id "$F48"
ci POST "/clusters/$UP/actions" '{"action":"turn_off_cluster"}'
expect_code 409 "turn off a cluster in ERROR"

new_cluster good
GOOD=$CID
wait_cluster "$GOOD" RUNNING
ci POST /nodegroups "{\"cluster_id\":\"$GOOD\",\"name\":\"bad-ng\"}"
expect_code 202 "node group set to fail"
BADNG=$(body .uuid)
expect_body .state RUNNING
wait_cluster "$GOOD" RUNNING
ci GET "/nodegroups/$BADNG"
expect_body .state ERROR
expect_body .status_reason "node bootstrap failed"
ci POST /nodegroups "{\"cluster_id\":\"$GOOD\",\"name\":\"ok-ng\"}"
expect_code 202 "a node group not set to fail"
OKNG=$(body .uuid)
wait_cluster "$GOOD" RUNNING
ci GET "/nodegroups/$OKNG"
expect_body .state RUNNING
expect_body .status_reason null
ci PATCH "/nodegroups/$BADNG/actions/scale" '{"delta":1}'
expect_code 409 "scale a node group in ERROR"
ci DELETE "/nodegroups/$BADNG"
expect_code 204 "delete a node group in ERROR"
wait_cluster "$GOOD" RUNNING
ci GET "/nodegroups/$BADNG"
expect_code 404 "a deleted node group in ERROR"

# DELETE clears the failures too: the same name now builds
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$URL/_localcloud/faults")
[ "$code" = 204 ] || fail "DELETE faults gave $code"
req GET /_localcloud/faults
expect_body '.failures | length' 0
new_server doomed
wait_server "$SID" ACTIVE
echo ok
