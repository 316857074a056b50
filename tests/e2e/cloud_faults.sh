# The cloud provider on a bad network: localcloud answers 10% of the
# requests with 503 and drops 3% of the connections (half of each after
# doing the work, so that a create's answer is lost), answers 5% with 429
# and Retry-After, and adds 50 ms to every request. Apply, plan and destroy
# still converge, with exactly one object per resource: no create is
# repeated blindly.
. "$ROOT/tests/e2e/lib-cloud.sh"
cloud_start
write_stack

curl -sf -X POST "$URL/_localcloud/faults" -H 'Content-Type: application/json' --data-binary '{
  "seed": 20261130,
  "rules": [{"prefix": "/", "latency_ms": 50,
             "error_rate": 0.05, "error_after_rate": 0.05, "error_status": 503,
             "throttle_rate": 0.05, "retry_after": 1,
             "drop_rate": 0.015, "drop_after_rate": 0.015}]}' >/dev/null || fail "faults not set"

sf apply -f stack.yaml -auto-approve
expect_rc 0
expect_inventory "$FULL_INVENTORY" "after apply under faults"
grep -i "retr" "$WORK/.stdout" "$WORK/.stderr" || fail "apply reported no retries under faults"

sf plan -f stack.yaml -detailed-exitcode
[ "$rc" -eq 0 ] || { cat "$WORK/.stdout" "$WORK/.stderr"; fail "the plan under faults is not empty"; }

sf destroy -f stack.yaml -auto-approve
expect_rc 0
grep -i "retr" "$WORK/.stdout" "$WORK/.stderr" || true
curl -sf -X DELETE "$URL/_localcloud/faults" >/dev/null
expect_inventory "" "after destroy under faults"
