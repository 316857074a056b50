# The engine of `sparkform status`, with the test provider (whose objects
# are files a test can change): only types with a status hook are looked
# at and the others counted; looks run in parallel (-parallelism); a
# stored object turned off is unhealthy (exit 2), one deleted is MISSING
# (exit 2); a hook that fails and a provider that cannot be configured are
# errors (exit 1) while the rest is still shown; a string of an answer
# holding a sensitive attribute's value never reaches the output; the table
# and -json agree. The providers against the local cloud: status.sh.
. "$ROOT/tests/e2e/lib.sh"
export SECRET=hunter2-Status-Token
cat > stack.yaml <<'YAML'
apiVersion: sparkform/v1
kind: Stack
metadata: {name: statusengine}
variables:
  secret: {env: SECRET, sensitive: true}
  lat: {type: number, default: 0}
resources:
  - {type: test_resource, name: a, with: {value: alpha, latency_ms: "${var.lat}"}}
  - {type: test_resource, name: b, with: {value: "${var.secret}", secret: "${var.secret}", latency_ms: "${var.lat}"}}
  - {type: test_resource, name: c, with: {value: gamma, latency_ms: "${var.lat}"}}
  - {type: test_resource, name: d, with: {value: delta, latency_ms: "${var.lat}"}}
  - {type: local_file, name: f, with: {path: out.txt, content: hi}}
YAML
sft apply -f stack.yaml -auto-approve -var lat=1000
expect_rc 0
obj() { echo "$SPARKFORM_TEST_STORE/$(jq -r ".resources[\"$1\"].attributes.id" sparkform.state.json).json"; }
edit() { jq "$2" "$1" >"$1.tmp" && mv "$1.tmp" "$1"; }

# ---- all up: four looked at, the file counted; parallel
start=$(date +%s%N)
sft status -f stack.yaml -var lat=1000
took=$(( ($(date +%s%N) - start) / 1000000 ))
expect_rc 0
expect_out "Other"
for r in a c d; do grep -qE "^  test_resource\.$r +UP +value " "$WORK/.stdout" || { cat "$WORK/.stdout"; fail "no UP row for $r"; }; done
expect_out "value alpha"
expect_out "4 resources, all healthy. (1 more in the state has no live status to show.)"
expect_no_out "local_file.f"
expect_no "$SECRET"
grep -qE '^  test_resource\.b +UP +\(sensitive value\)$' "$WORK/.stdout" || { cat "$WORK/.stdout"; fail "b's summary is not redacted"; }
[ "$took" -lt 3500 ] || fail "four looks of 1 s each took ${took} ms: not in parallel"
start=$(date +%s%N)
sft status -f stack.yaml -var lat=1000 -parallelism 1
took=$(( ($(date +%s%N) - start) / 1000000 ))
expect_rc 0
[ "$took" -ge 4000 ] || fail "-parallelism 1: four looks of 1 s each took only ${took} ms"

# ---- JSON: the same, for scripts
sft status -f stack.yaml -json
expect_rc 0
expect_no "$SECRET"
cp "$WORK/.stdout" s.json
[ "$(jq -r '[.resources[].address] | join(",")' s.json)" = "test_resource.a,test_resource.b,test_resource.c,test_resource.d" ] ||
  { cat s.json; fail "-json: addresses"; }
[ "$(jq -r '[.resources[] | .type + ":" + .group + ":" + .state + ":" + (.healthy | tostring)] | unique | join(",")' s.json)" = "test_resource:other:UP:true" ] ||
  { cat s.json; fail "-json: fields"; }
[ "$(jq -r '.resources[] | select(.address == "test_resource.a") | .summary' s.json)" = "value alpha" ] || fail "-json: summary"
[ "$(jq -r .healthy s.json)" = true ] || fail "-json: healthy"

# ---- one turned off, one deleted: exit 2, the rest still up
edit "$(obj test_resource.a)" '.attributes.enabled = false'
rm "$(obj test_resource.c)"
sft status -f stack.yaml
expect_rc 2
grep -qE '^  test_resource\.a +DOWN +value alpha$' "$WORK/.stdout" || { cat "$WORK/.stdout"; fail "a is not DOWN"; }
grep -qE '^  test_resource\.c +MISSING +not found' "$WORK/.stdout" || { cat "$WORK/.stdout"; fail "c is not MISSING"; }
grep -qE '^  test_resource\.d +UP ' "$WORK/.stdout" || fail "d is not UP"
expect_out "2 of 4 resources are not healthy."
sft status -f stack.yaml -json
expect_rc 2
[ "$(jq -r '[.resources[] | select(.healthy | not) | .address] | join(",")' "$WORK/.stdout")" = "test_resource.a,test_resource.c" ] ||
  { cat "$WORK/.stdout"; fail "-json: unhealthy ones"; }

# ---- a hook that fails: exit 1, the error said, the others shown
cat > fails.yaml <<'YAML'
apiVersion: sparkform/v1
kind: Stack
metadata: {name: statusfails}
resources:
  - {type: test_resource, name: ok, with: {value: fine}}
  - {type: test_resource, name: broken, with: {value: x, fail_on: status}}
YAML
sft apply -f fails.yaml -state fails.json -auto-approve
expect_rc 0
sft status -f fails.yaml -state fails.json
expect_rc 1
expect_err "error: test_resource.broken: injected failure on status"
grep -qE '^  test_resource\.broken +ERROR ' "$WORK/.stdout" || { cat "$WORK/.stdout"; fail "broken is not ERROR"; }
grep -qE '^  test_resource\.ok +UP ' "$WORK/.stdout" || fail "ok is not shown UP"

# ---- a provider that cannot be configured: exit 1, its error
SPARKFORM_TEST_TOKEN=wrong sft status -f fails.yaml -state fails.json
expect_rc 1
expect_err "the test provider refused its token"
expect_out "the test provider could not be set up"

# ---- nothing applied: exit 1; a state with nothing in it: exit 1
sft status -f stack.yaml -state none.json
expect_rc 1
expect_err "no state at none.json"
[ ! -e none.json ] || fail "status wrote a state"
sft destroy -f fails.yaml -state fails.json -auto-approve
expect_rc 0
sft status -f fails.yaml -state fails.json
expect_rc 1
expect_err "records no resources"

# ---- it takes no lock: it runs while another run holds one
echo '{"id":"held","operation":"apply","who":"someone","host":"h","pid":1,"created":"now"}' > sparkform.state.json.lock
sft status -f stack.yaml
expect_rc 2
rm sparkform.state.json.lock
echo "status_engine passed"
