# The cloud provider when the cloud puts what it builds into ERROR
# (localcloud's failures, see localcloud/README.md "Test endpoints"): a
# server, then a cluster, whose creation ends in ERROR. The apply fails
# with the cloud's own reason and exit status 1, the object is recorded
# tainted, the next plan replaces it; with the failure cleared the apply
# replaces it and succeeds, and the cloud holds exactly one object per
# resource (the one in ERROR deleted).
. "$ROOT/tests/e2e/lib-cloud.sh"
LC_DELAY_MS=100 cloud_start
write_stack
TOKEN=$(get_token)

# failures JSON: what localcloud is to fail; "" clears it.
failures() {
  local code
  if [ -z "$1" ]; then
    code=$(curl -s -o "$WORK/body" -w '%{http_code}' -X DELETE "$URL/_localcloud/faults")
    [ "$code" = 204 ] || fail "clearing the failures gave $code"
  else
    code=$(curl -s -o "$WORK/body" -w '%{http_code}' --data-binary "{\"failures\": $1}" "$URL/_localcloud/faults")
    [ "$code" = 200 ] || { cat "$WORK/body"; fail "failures not accepted: $1"; }
  fi
}
state_status() { jq -r --arg a "$1" '.resources[$a].status' sparkform.state.json; }
id_of() { jq -r --arg a "$1" '.resources[$a].attributes.id' sparkform.state.json; }
# in_error API KIND: how many objects of that kind the cloud holds in ERROR
in_error() {
  curl -sf "$URL/_localcloud/inventory" | jq --arg a "$1" --arg k "$2" \
    '[.[$a][$k] // {} | .[] | select(.status == "ERROR" or .pending.status == "ERROR")] | length'
}

# ---- a server that ends in ERROR
failures '[{"kind": "server", "name": "ct-vm", "reason": "No valid host was found. There are not enough hosts available."}]'
sf apply -f stack.yaml -auto-approve
expect_rc 1
expect_err "No valid host was found. There are not enough hosts available."
expect_err "cloud_server.vm"
[ "$(state_status cloud_server.vm)" = tainted ] || fail "the server in ERROR is not recorded tainted"
[ "$(state_status cloud_k8s_cluster.k8s)" = ok ] || fail "the cluster, which did not fail, is not recorded ok"
BAD_VM=$(id_of cloud_server.vm)
req GET "/compute/v2.1/servers/$BAD_VM"
expect_body .server.status ERROR
expect_inventory "$FULL_INVENTORY" "after the failed apply"
sf show
expect_rc 0
expect_out "# cloud_server.vm: (tainted)"
sf plan -f stack.yaml -detailed-exitcode
expect_rc 2
[ "$(plan_counts)" = "1 0 1" ] || { cat "$WORK/.stdout"; fail "plan $(plan_counts), expected the one replacement"; }
expect_out "# cloud_server.vm must be replaced"
expect_out "# (because cloud_server.vm is tainted, so it must be replaced)"
expect_out "-/+ resource \"cloud_server\" \"vm\""

failures ""
sf apply -f stack.yaml -auto-approve
expect_rc 0
[ "$(state_status cloud_server.vm)" = ok ] || fail "the replacement server is not recorded ok"
[ "$(id_of cloud_server.vm)" != "$BAD_VM" ] || fail "the server in ERROR was kept"
req GET "/compute/v2.1/servers/$(id_of cloud_server.vm)"
expect_body .server.status ACTIVE
# the one in ERROR is gone once its deletion is over
for _ in $(seq 50); do req GET "/compute/v2.1/servers/$BAD_VM"; [ "$code" = 404 ] && break; sleep 0.1; done
expect_code 404 "the server in ERROR after the replacement"
expect_inventory "$FULL_INVENTORY" "after the replacement of the server"
sf plan -f stack.yaml -detailed-exitcode
expect_rc 0

# ---- a cluster that ends in ERROR (asked to be replaced): its node
# groups, which need it, are not made
failures '[{"kind": "cluster", "name": "ct-k8s", "reason": "Stack CREATE_FAILED: quota of floating IPs exceeded"}]'
OLD_CL=$(id_of cloud_k8s_cluster.k8s)
sf apply -f stack.yaml -auto-approve -replace cloud_k8s_cluster.k8s
expect_rc 1
expect_err "Stack CREATE_FAILED: quota of floating IPs exceeded"
[ "$(state_status cloud_k8s_cluster.k8s)" = tainted ] || fail "the cluster in ERROR is not recorded tainted"
BAD_CL=$(id_of cloud_k8s_cluster.k8s)
[ "$BAD_CL" != "$OLD_CL" ] || fail "the cluster was not replaced"
ci() { req "$1" "/container-infra/v1$2"; }
ci GET "/clusters/$BAD_CL"
expect_body .status ERROR
expect_body .status_reason "Stack CREATE_FAILED: quota of floating IPs exceeded"
[ "$(in_error container-infra clusters)" = 1 ] || fail "no cluster in ERROR in the cloud"
sf plan -f stack.yaml -detailed-exitcode
expect_rc 2
[ "$(plan_counts)" = "3 0 1" ] || { cat "$WORK/.stdout"; fail "plan $(plan_counts), expected the cluster replaced and its two node groups made"; }
expect_out "# cloud_k8s_cluster.k8s must be replaced"
expect_out "# (because cloud_k8s_cluster.k8s is tainted, so it must be replaced)"

failures ""
sf apply -f stack.yaml -auto-approve
expect_rc 0
[ "$(state_status cloud_k8s_cluster.k8s)" = ok ] || fail "the replacement cluster is not recorded ok"
ci GET "/clusters/$(id_of cloud_k8s_cluster.k8s)"
expect_body .status RUNNING
for _ in $(seq 50); do ci GET "/clusters/$BAD_CL"; [ "$code" = 404 ] && break; sleep 0.1; done
expect_code 404 "the cluster in ERROR after the replacement"
expect_inventory "$FULL_INVENTORY" "after the replacement of the cluster"
[ "$(in_error container-infra clusters)/$(in_error compute servers)" = 0/0 ] || fail "objects in ERROR left behind"
sf plan -f stack.yaml -detailed-exitcode
expect_rc 0

sf destroy -f stack.yaml -auto-approve
expect_rc 0
expect_inventory "" "after destroy"
