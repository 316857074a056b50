# localcloud's injected faults: a seeded 5xx share, 429 with Retry-After,
# latency, dropped connections, per path prefix; a 5xx or a drop after the
# request was processed (the change is made, the client cannot tell);
# DELETE clears them.
. "$ROOT/tests/e2e/lib-localcloud.sh"

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
echo ok
