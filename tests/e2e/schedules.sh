# Schedules against localcloud: a small stack (network, subnet, cluster, a
# server and a config map inside the cluster) whose schedule hibernates it
# at 20:00 and wakes it at 08:00 Monday to Saturday in Europe/Berlin, and
# expires on 2026-10-31. `schedule run -now` steps hourly across the week
# of 2026-10-24, which holds the end of summer time (25 October, 03:00
# CEST -> 02:00 CET). After each run the cluster's and the server's status
# in localcloud must be what the local hour says (worked out here with
# date(1), not with sparkform's cron), each window acts once, a plan while
# hibernated has nothing to change, a wake by hand holds until the next
# transition, and at the expiry the stack is destroyed and the cloud is
# empty. Bad cron expressions and zones are errors at their line and column.
. "$ROOT/tests/e2e/lib-cloud.sh"
cloud_start

cat > stack.yaml <<'YAML'
apiVersion: sparkform/v1
kind: Stack
metadata: {name: sched}
resources:
  - {type: cloud_network, name: net, with: {name: sched-net}}
  - type: cloud_subnet
    name: sub
    with: {name: sched-sub, network_id: "${cloud_network.net.id}", cidr: 10.30.0.0/24}
  - type: cloud_k8s_cluster
    name: k8s
    with:
      name: sched-k8s
      version: "1.31"
      network_id: "${cloud_network.net.id}"
      subnet_id: "${cloud_subnet.sub.id}"
      master_flavor: STD3-4-8
  - type: cloud_server
    name: registry
    depends_on: [cloud_subnet.sub]
    with: {name: sched-registry, flavor: STD2-2-4, image: ubuntu-22.04, network_id: "${cloud_network.net.id}"}
  - type: kubernetes_config_map
    name: settings
    with:
      kubeconfig: "${cloud_k8s_cluster.k8s.kubeconfig}"
      name: settings
      data: {mode: batch}
schedules:
  hibernate: {cron: "0 20 * * *", timezone: Europe/Berlin}
  wake: {cron: "0 8 * * MON-SAT", timezone: Europe/Berlin}
  expires_at: "2026-10-31T12:00:00+01:00"
  resources: [cloud_k8s_cluster.k8s, cloud_server.registry]
YAML

# ---- errors at the user's line and column -------------------------------
sed -e 's/"0 20 \* \* \*"/"0 20 * * MON-FOO"/' stack.yaml > bad-cron.yaml
sf validate -f bad-cron.yaml
expect_rc 1
# Line 28: the expression starts at column 22; "FOO" of day-of-week is 13 characters in.
expect_err "bad-cron.yaml:28:35: error: schedules.hibernate.cron: day-of-week"
sed -e 's|timezone: Europe/Berlin}|timezone: Europe/Berlim}|' stack.yaml > bad-zone.yaml
sf validate -f bad-zone.yaml
expect_rc 1
expect_err "bad-zone.yaml:28:45: error: schedules.hibernate.timezone: unknown time zone \"Europe/Berlim\""
sed -e '/^  wake:/d' stack.yaml > no-wake.yaml
sf validate -f no-wake.yaml
expect_rc 1
expect_err "no-wake.yaml:28:14: error: schedules: hibernate needs a wake too"
sed -e 's/resources: \[cloud_k8s_cluster.k8s,/resources: [cloud_k8s_cluster.k9s,/' stack.yaml > bad-addr.yaml
sf validate -f bad-addr.yaml
expect_rc 1
expect_err "schedules.resources: cloud_k8s_cluster.k9s is not a resource of the description; did you mean cloud_k8s_cluster.k8s?"

# The SparkService's spec.schedules is checked at the user's own lines.
cat > spark.yaml <<'YAML'
apiVersion: sparkform/v1
kind: SparkService
metadata: {name: sched-spark}
spec:
  cluster: {version: "1.31"}
  registry: {password: not-a-secret-here}
  storage: {bucket: sched-spark-bucket}
  schedules:
    hibernate: {cron: "0 20 * * 1-5", timezone: Europe/Moscow}
    wake: {cron: "0 8 * 13 1-5", timezone: Mars/Olympus}
    delete_after: 14d
YAML
sf validate -f spark.yaml
expect_rc 1
expect_err "spark.yaml:10:25: error: schedules.wake.cron: month"
expect_err "spark.yaml:10:44: error: schedules.wake.timezone: unknown time zone \"Mars/Olympus\""
sed -i -e 's/"0 8 \* 13 1-5", timezone: Mars\/Olympus/"0 8 * * 1-5", timezone: Europe\/Moscow/' \
  -e 's/delete_after: 14d/delete_after: 14d\n    expires_at: "2026-11-01T00:00:00Z"/' spark.yaml
sf validate -f spark.yaml
expect_rc 1
expect_err "delete_after and expires_at both say when the service expires"
sed -i -e '/expires_at/d' spark.yaml
sf validate -f spark.yaml
expect_rc 0

# ---- a week, hour by hour -------------------------------------------------
sf apply -f stack.yaml -auto-approve
expect_rc 0
expect_out "Schedule: next hibernate"
jq -e '.schedule.created' sparkform.state.json >/dev/null || fail "the state does not record when the stack was created"

TOKEN=$(get_token)
k8s_status() { req GET /container-infra/v1/clusters/sched-k8s; expect_code 200 "the cluster"; body .status; }
vm_status() {
  local id; id=$(jq -r '.resources["cloud_server.registry"].attributes.id' sparkform.state.json)
  req GET "/compute/v2.1/servers/$id"; expect_code 200 "the server"; body .server.status
}
# expected TIME [OVERRIDE]: RUNNING inside the wake window by the Berlin
# wall clock (08:00 <= t < 20:00, Monday to Saturday), else SHUTOFF.
expected() {
  local dow hour
  dow=$(TZ=Europe/Berlin date -d "$1" +%u)
  hour=$(TZ=Europe/Berlin date -d "$1" +%H)
  if [ "$dow" -le 6 ] && [ "$((10#$hour))" -ge 8 ] && [ "$((10#$hour))" -lt 20 ]; then echo RUNNING; else echo SHUTOFF; fi
}

start=$(date -u -d 2026-10-24T00:00:00Z +%s)
expiry=$(date -u -d 2026-10-31T11:00:00Z +%s)
transitions=0 manual_from=$(date -u -d 2026-10-28T21:00:00Z +%s) manual_to=$(date -u -d 2026-10-29T07:00:00Z +%s)
dst_before=0 dst_after=0
for ((t = start; t < expiry; t += 3600)); do
  now=$(date -u -d "@$t" +%Y-%m-%dT%H:%M:%SZ)
  if [ "$t" -eq "$manual_from" ]; then
    # Woken by hand in a hibernate window: kept until the next transition.
    sf wake -f stack.yaml -now "$now"
    expect_rc 0
    expect_out "wake: by hand at 2026-10-28 22:00 CET (21:00 UTC)"
    [ "$(k8s_status)" = RUNNING ] || fail "$now: wake by hand left the cluster $(k8s_status)"
  fi
  sf schedule run -f stack.yaml -now "$now"
  expect_rc 0
  want=$(expected "$now")
  if [ "$t" -ge "$manual_from" ] && [ "$t" -lt "$manual_to" ]; then
    want=RUNNING
    expect_out "woken by hand at 2026-10-28 22:00 CET (21:00 UTC)"
  fi
  if grep -q '^hibernate: \|^wake: ' "$WORK/.stdout"; then
    transitions=$((transitions + 1))
    cp "$WORK/.stdout" "$WORK/transition.$transitions"
    # Each window acts once: the same hour again finds nothing due.
    sf schedule run -f stack.yaml -now "$now"
    expect_rc 0
    expect_out "Nothing due: the service is"
  else
    expect_out "Nothing due: the service is"
  fi
  got=$(k8s_status)
  [ "$got" = "$want" ] || { cat "$WORK/.stdout"; fail "$now ($(TZ=Europe/Berlin date -d "$now" '+%a %H:%M %Z')): cluster $got, expected $want"; }
  vm=$(vm_status)
  [ "$vm" = "$([ "$want" = RUNNING ] && echo ACTIVE || echo SHUTOFF)" ] || fail "$now: server $vm while the cluster is $want"
  if [ "$t" -eq "$(date -u -d 2026-10-24T19:00:00Z +%s)" ]; then
    # Hibernated: a plan changes nothing (the config map inside the
    # turned-off cluster is not read) and shows the schedule.
    sf plan -f stack.yaml -detailed-exitcode
    expect_rc 0
    expect_out "No changes."
    expect_out "Schedule: next hibernate"
    expect_err "1 object inside cloud_k8s_cluster.k8s was not refreshed"
    sf plan -f stack.yaml -json
    expect_rc 0
    jq -e '.schedule.hibernate.cron == "0 20 * * *" and .schedule.wake.timezone == "Europe/Berlin" and .schedule.expires_at.at == "2026-10-31T11:00:00Z"' "$WORK/.stdout" >/dev/null ||
      fail "plan -json lacks the schedule"
  fi
done

# The DST change shows in the log: hibernate at 20:00 Berlin time is 18:00
# UTC in summer time and 19:00 UTC after it.
grep -h '^hibernate: ' "$WORK"/transition.* > hibernations
grep -qF "hibernate: 0 20 * * * in Europe/Berlin was due at 2026-10-24 20:00 CEST (18:00 UTC)" hibernations ||
  { cat hibernations; fail "no summer-time hibernation logged"; }
grep -qF "hibernate: 0 20 * * * in Europe/Berlin was due at 2026-10-26 20:00 CET (19:00 UTC)" hibernations ||
  { cat hibernations; fail "no winter-time hibernation logged"; }
grep -h '^wake: ' "$WORK"/transition.* > wakes
grep -qF "wake: 0 8 * * MON-SAT in Europe/Berlin was due at 2026-10-24 08:00 CEST (06:00 UTC)" wakes || { cat wakes; fail "no summer-time wake"; }
grep -qF "wake: 0 8 * * MON-SAT in Europe/Berlin was due at 2026-10-26 08:00 CET (07:00 UTC)" wakes || { cat wakes; fail "no winter-time wake"; }
# Sunday has no wake: no transition on 2026-10-25 after the first hibernate.
! grep -q "was due at 2026-10-25 08:00" wakes || fail "woken on Sunday"
# Friday 23 20:00 (the first run), then 7 more hibernations (every evening)
# and 7 wakes (Saturday, Monday .. Saturday), the wake on Thursday finding the cluster
# awake already.
[ "$transitions" -eq 15 ] || { cat hibernations wakes; fail "$transitions transitions, expected 15"; }
grep -qF "cloud_k8s_cluster.k8s: already running, nothing to do" "$WORK"/transition.* ||
  fail "the wake after the manual one did not find the cluster running"

# ---- expiry -----------------------------------------------------------------
sf schedule run -f stack.yaml -now 2026-10-31T11:00:00Z
expect_rc 0
expect_out "expire: expires_at 2026-10-31T11:00:00Z was due at 2026-10-31 12:00 CET (11:00 UTC); destroying the stack"
expect_out "Destroy complete! Resources: 5 destroyed."
expect_inventory "" "after the expiry"
[ "$(jq '.resources | length' sparkform.state.json)" = 0 ] || fail "the state still records resources"
jq -e 'has("schedule") | not' sparkform.state.json >/dev/null || fail "the schedule record outlived the stack"
sf schedule run -f stack.yaml -now 2026-10-31T12:00:00Z
expect_rc 0
expect_out "Nothing to do: the state records nothing"
