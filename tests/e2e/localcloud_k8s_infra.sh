# localcloud's container-infra v1 API driven with curl: the cluster life
# cycle (PROVISIONING -> RUNNING, names unique (409), lookups by name, labels by JSON patch,
# kubeconfig, turn_off / turn_on, resize_masters, upgrade, delete), node
# groups (create, patch, scale, resize, delete: the node group stays
# RUNNING, its cluster reconciles), the wrong-state 409s, bad bodies (400
# naming the field), the MCS-API-Version header (406), and a kill -9
# restart. The real client's own request bodies are replayed by
# localcloud_replay.sh.
#
# The first part runs with --delay-ms 300 and waits for every transition to
# end. The states in between (PROVISIONING, RECONCILING, a turn off under
# way, ...) and what they refuse are checked after a restart on the same
# data with --delay-ms 30000, so that no check races the clock on a busy
# machine.
. "$ROOT/tests/e2e/lib-k8s.sh" # ci METHOD PATH [BODY]

lc_start k --delay-ms 300
TOKEN=$(get_token)
CI=/container-infra/v1

# expect_error STATUS WHAT TEXT: Magnum's error shape, the detail naming TEXT
expect_error() {
  expect_code "$1" "$2"
  expect_body '.errors[0].status' "$1"
  [ -z "${3:-}" ] || expect_body_has "$3"
}
# wait_cluster ID STATE: poll until the state shows
wait_cluster() {
  for _ in $(seq 50); do
    ci GET "/clusters/$1"
    [ "$(body .new_status)" = "$2" ] && return 0
    sleep 0.05
  done
  cat "$WORK/body"; fail "cluster $1 never became $2"
}
flavor_id() { # NAME
  req GET /compute/v2.1/flavors
  body ".flavors[] | select(.name==\"$1\") | .id"
}
F48=$(flavor_id STD3-4-8) F816=$(flavor_id STD3-8-16) F1632=$(flavor_id STD3-16-32)

# ---- network, subnet and key pair the clusters use
req POST /network/v2.0/networks '{"network":{"name":"k8s"}}'
NET=$(body .network.id)
req POST /network/v2.0/subnets "{\"subnet\":{\"network_id\":\"$NET\",\"cidr\":\"10.1.0.0/24\"}}"
expect_code 201 "subnet"
SUB=$(body .subnet.id)
ssh-keygen -q -t ed25519 -N '' -f "$WORK/key"
req POST /compute/v2.1/os-keypairs "{\"keypair\":{\"name\":\"k1\",\"public_key\":\"$(cat "$WORK/key.pub")\"}}"
expect_code 200 "keypair"

# ---- version header, auth, version document, templates
code=$(curl -s -o "$WORK/body" -w '%{http_code}' -H "X-Auth-Token: $TOKEN" \
  -H "MCS-API-Version: container-infra 1.2" "$URL$CI/clusters")
expect_error 406 "old MCS-API-Version" "container-infra 1.33"
expect_body '.errors[0].title' "Not Acceptable"
code=$(curl -s -o "$WORK/body" -w '%{http_code}' -H "X-Auth-Token: $TOKEN" "$URL$CI/clusters")
expect_code 200 "no MCS-API-Version header"
expect_body '.clusters | length' 0
saved=$TOKEN; TOKEN=
ci GET /clusters
expect_code 401 "no token"
TOKEN=$saved
ci GET ""
expect_code 200 "version document"
expect_body .max_version "container-infra 1.33"
ci GET /clustertemplates
expect_code 200 "templates"
TPL=$(body '.clustertemplates[] | select(.version=="1.31") | .uuid')
[ -n "$TPL" ] || fail "no template for Kubernetes 1.31"
TPL32=$(body '.clustertemplates[] | select(.version=="1.32") | .uuid')
for ref in "$TPL" 1.31 v1.31 Kubernetes-v1.31; do
  ci GET "/clustertemplates/$ref"
  expect_code 200 "template by $ref"
  expect_body .uuid "$TPL"
done
ci GET /clustertemplates/1.5
expect_error 404 "template of a version not offered" "1.5"
ci GET /clusters/00000000-0000-0000-0000-000000000000
expect_error 404 "unknown cluster" "could not be found"
expect_body '.errors[0].title' "Not Found"
ci GET /nodegroups/nope
expect_error 404 "unknown node group"

# ---- invalid cluster bodies: 400 naming the field
cluster_body() { # NAME [EXTRA JSON MEMBERS]
  printf '{"name":"%s","version":"1.31","master_count":1,"master_flavor":"STD3-4-8","network_id":"%s","subnet_id":"%s","keypair":"k1","floating_ip_enabled":true%s}' "$1" "$NET" "$SUB" "${2:-}"
}
for bad in '{"version":"1.31"}|name' \
           "$(cluster_body 9lives)|name" \
           "$(cluster_body c ',"colour":"red"')|colour" \
           "$(cluster_body c | sed 's/"master_count":1/"master_count":2/')|master_count" \
           "$(cluster_body c | sed 's/"master_flavor":"STD3-4-8"/"master_flavor_id":"STD9-1-1"/')|master_flavor_id" \
           "$(cluster_body c ',"labels":{"a":1}')|labels.a" \
           "$(cluster_body c ',"pods_network_cidr":"10.0.0.1/16"')|pods_network_cidr" \
           "{\"name\":\"c\",\"version\":\"1.5\",\"network_id\":\"$NET\",\"subnet_id\":\"$SUB\"}|version" \
           "{\"name\":\"c\",\"network_id\":\"$NET\",\"subnet_id\":\"$SUB\"}|cluster_template_id" \
           "{\"name\":\"c\",\"version\":\"1.31\",\"network_id\":\"nope\",\"subnet_id\":\"$SUB\"}|network_id" \
           "{\"name\":\"c\",\"version\":\"1.31\",\"network_id\":\"$NET\"}|subnet_id" \
           "$(cluster_body c ',"keypair":"nokey"' | sed 's/"keypair":"k1",//')|keypair" \
           "$(cluster_body c ',"floating_ip_enabled":"yes"' | sed 's/"floating_ip_enabled":true,//')|floating_ip_enabled"; do
  ci POST /clusters "${bad%|*}"
  expect_error 400 "bad cluster body (${bad##*|})" "field ${bad##*|}"
done
ci POST /clusters '{"name": '
expect_error 400 "malformed JSON" "Malformed request body"

# ---- create: 202 {uuid}, then RUNNING (PROVISIONING is checked below)
ci POST /clusters "$(cluster_body main ',"labels":{"sparkform/lineage":"abc123","sparkform/address":"cluster.main"}' | sed 's/"master_count":1,//')"
expect_code 202 "cluster create"
CL=$(body .uuid)
[ "$(body 'keys | join(",")')" = uuid ] || { cat "$WORK/body"; fail "create answers more than the uuid"; }
# names are unique in a project
ci POST /clusters "$(cluster_body main)"
expect_error 409 "duplicate cluster name" "main"
ci GET "/clusters/$CL"
expect_code 200 "cluster get"
wait_cluster "$CL" RUNNING
expect_body .status RUNNING
expect_body .name main
expect_body .project_id local
expect_body .cluster_template_id "$TPL"
expect_body .master_count 1
expect_body .master_flavor_id "$F48"
expect_body .keypair k1
expect_body .network_id "$NET"
expect_body .subnet_id "$SUB"
expect_body .floating_ip_enabled true
expect_body '.labels["sparkform/lineage"]' abc123
expect_body '.labels["sparkform/address"]' cluster.main
# the Kubernetes API is served over https (kubectl sends tokens only over TLS)
[[ "$(body .api_address)" =~ ^https://127\.0\.0\.1:[0-9]+/k8s/$CL$ ]] || fail "api_address $(body .api_address)"
API=$(body .api_address)
expect_body '.master_addresses | join(",")' 10.1.0.254
expect_body '.node_addresses | length' 0
[ "$(body .stack_id)" != null ] && [ "$(body .created_at)" != null ] && [ "$(body .updated_at)" != null ] ||
  fail "stack_id / created_at / updated_at missing"
expect_no_token() { ! grep -q '"kube_token"' "$WORK/body" || fail "the API shows the cluster's token"; }
expect_no_token
ci GET /clusters
expect_body '.clusters | length' 1
expect_body '.clusters[0].uuid' "$CL"
ci GET /clusters/main
expect_code 200 "cluster by name"
expect_body .uuid "$CL"

# ---- JSON patch of the labels
ci PATCH "/clusters/$CL" '[{"op":"add","path":"/labels/team","value":"data"},{"op":"remove","path":"/labels/sparkform~1address"},{"op":"replace","path":"/labels/sparkform~1lineage","value":"def456"}]'
expect_code 202 "cluster patch"
expect_body .uuid "$CL"
ci GET "/clusters/$CL"
expect_body '.labels | to_entries | map("\(.key)=\(.value)") | join(",")' "sparkform/lineage=def456,team=data"
for bad in '[{"op":"replace","path":"/node_count","value":3}]|/node_count' \
           '[{"op":"move","path":"/labels","from":"/x"}]|patch[0].from' \
           '[{"op":"copy","path":"/labels"}]|patch[0].op' \
           '[{"op":"add","path":"/labels/x"}]|patch[0].value' \
           '[{"op":"remove","path":"/labels/nothing"}]|nothing' \
           '[{"op":"replace","path":"/labels","value":{"a":false}}]|labels.a' \
           '[{"path":"/labels"}]|patch[0].op' \
           '{"op":"replace"}|JSON-patch list'; do
  ci PATCH "/clusters/$CL" "${bad%|*}"
  expect_error 400 "bad cluster patch (${bad##*|})" "${bad##*|}"
done
ci GET "/clusters/$CL"
expect_body '.labels | keys | join(",")' "sparkform/lineage,team"
ci PATCH "/clusters/$CL" '[{"op":"replace","path":"/labels","value":{"sparkform/lineage":"abc123","sparkform/address":"cluster.main"}}]'
expect_code 202 "replace all labels"
ci GET "/clusters/$CL"
expect_body '.labels | keys | join(",")' "sparkform/address,sparkform/lineage"

# ---- kubeconfig: YAML, this localcloud's /k8s/<uuid>, the cluster's bearer token
ci GET "/clusters/$CL/kube_config"
expect_code 200 "kube_config"
grep -qi '^content-type: text/yaml' "$WORK/headers" || { cat "$WORK/headers"; fail "kube_config is not text/yaml"; }
cp "$WORK/body" "$WORK/kubeconfig"
kc() { python3 -c 'import sys, yaml; d = yaml.safe_load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$WORK/kubeconfig" "$1"; }
[ "$(kc 'd["kind"]')" = Config ] || fail "kubeconfig kind"
[ "$(kc 'd["clusters"][0]["cluster"]["server"]')" = "$API" ] || fail "kubeconfig server"
kc 'd["clusters"][0]["cluster"]["certificate-authority-data"]' | base64 -d | grep -q "BEGIN CERTIFICATE" ||
  fail "the kubeconfig lacks the CA of the https listener"
KTOKEN=$(kc 'd["users"][0]["user"]["token"]')
[ ${#KTOKEN} -eq 64 ] || fail "kubeconfig token '$KTOKEN'"
ctx=$(kc 'd["current-context"]')
[ "$(kc "[c for c in d['contexts'] if c['name'] == '$ctx'][0]['context']['user']")" = "$(kc 'd["users"][0]["name"]')" ] ||
  fail "the current context does not use the token user"
if command -v kubectl >/dev/null; then
  [ "$(kubectl --kubeconfig "$WORK/kubeconfig" config view --raw -o jsonpath='{.clusters[0].cluster.server}')" = "$API" ] ||
    fail "kubectl reads another server"
fi
req GET /_localcloud/inventory
expect_body ".[\"container-infra\"].clusters[\"$CL\"].kube_token" "$KTOKEN"

# ---- node groups
ng_body() { # NAME [EXTRA JSON MEMBERS]
  printf '{"cluster_id":"%s","name":"%s","node_count":2,"min_nodes":1,"max_nodes":5,"autoscaling_enabled":false,"flavor_id":"STD3-8-16","labels":[{"key":"role","value":"spark"}],"taints":[{"key":"dedicated","value":"spark","effect":"NoSchedule"}]%s}' "$CL" "$1" "${2:-}"
}
for bad in "$(ng_body w ',"colour":"red"')|colour" \
           "$(ng_body Bad_Name)|name" \
           "$(ng_body w | sed 's/"node_count":2/"node_count":0/')|node_count" \
           "$(ng_body w | sed 's/NoSchedule/Sometimes/')|taints[0].effect" \
           "$(ng_body w | sed 's/"key":"role",//')|labels[0].key" \
           "$(ng_body w | sed 's/STD3-8-16/STD9-9-9/')|flavor_id" \
           "$(ng_body w | sed 's/"max_nodes":5/"max_nodes":1/')|max_nodes" \
           "$(ng_body w | sed 's/"min_nodes":1/"min_nodes":3/; s/"autoscaling_enabled":false/"autoscaling_enabled":true/')|min_nodes" \
           "$(ng_body w | sed 's/"cluster_id":"[^"]*"/"cluster_id":"nope"/')|cluster_id"; do
  ci POST /nodegroups "${bad%|*}"
  expect_error 400 "bad node group body (${bad##*|})" "field ${bad##*|}"
done
ci POST /nodegroups "$(ng_body workers)"
expect_code 202 "node group create"
NG=$(body .uuid)
expect_body .cluster_id "$CL"
expect_body .state RUNNING
wait_cluster "$CL" RUNNING
ci GET "/nodegroups/$NG"
expect_body .name workers
expect_body .node_count 2
expect_body .min_nodes 1
expect_body .max_nodes 5
expect_body .autoscaling_enabled false
expect_body .flavor_id "$F816"
expect_body '.labels[0] | "\(.key)=\(.value)"' role=spark
expect_body '.taints[0] | "\(.key)=\(.value):\(.effect)"' dedicated=spark:NoSchedule
expect_body '.nodes | length' 2
ci POST /nodegroups "$(ng_body workers)"
expect_error 409 "duplicate node group name" "workers"
ci GET "/clusters/$CL/nodegroups"
expect_code 200 "cluster's node groups"
expect_body '.nodegroups | length' 1
expect_body '.nodegroups[0].uuid' "$NG"
ci GET "/clusters/$CL"
expect_body '.node_addresses | join(",")' 10.1.0.253,10.1.0.252

# patch: sizes, autoscaling (VK Cloud's client sends it as a string), labels, taints
ci PATCH "/nodegroups/$NG" '[{"op":"replace","path":"/max_nodes","value":6},{"op":"replace","path":"/min_nodes","value":2},{"op":"replace","path":"/autoscaling_enabled","value":"true"}]'
expect_code 200 "node group patch"
expect_body .autoscaling_enabled true
expect_body .min_nodes 2
expect_body .max_nodes 6
expect_body .state RUNNING
wait_cluster "$CL" RUNNING
ci PATCH "/nodegroups/$NG" '[{"op":"replace","path":"/labels","value":[{"key":"tier","value":"batch"}]},{"op":"remove","path":"/taints"}]'
expect_code 200 "node group labels and taints"
expect_body '.labels | map(.key) | join(",")' tier
expect_body '.taints | length' 0
wait_cluster "$CL" RUNNING
for bad in '[{"op":"replace","path":"/node_count","value":3}]|/node_count' \
           '[{"op":"replace","path":"/flavor_id","value":"STD3-16-32"}]|/flavor_id' \
           '[{"op":"test","path":"/min_nodes","value":2}]|patch[0].op' \
           '[{"op":"replace","path":"/min_nodes","value":3}]|field min_nodes' \
           '[{"op":"replace","path":"/max_nodes","value":"six"}]|field max_nodes' \
           '[{"op":"replace","path":"/autoscaling_enabled","value":"maybe"}]|field autoscaling_enabled' \
           '[{"op":"replace","path":"/taints","value":[{"key":"x"}]}]|taints[0].effect' \
           '[{"op":"remove","path":"/max_nodes"}]|field autoscaling_enabled'; do
  ci PATCH "/nodegroups/$NG" "${bad%|*}"
  expect_error 400 "bad node group patch (${bad##*|})" "${bad##*|}"
done
ci GET "/nodegroups/$NG"
expect_body '"\(.min_nodes) \(.max_nodes) \(.autoscaling_enabled)"' "2 6 true"

# scale: within min..max with autoscaling, 1..max without
ci PATCH "/nodegroups/$NG/actions/scale" '{"delta":5}'
expect_error 400 "scale above max_nodes" "field delta"
ci PATCH "/nodegroups/$NG/actions/scale" '{"delta":-1}'
expect_error 400 "scale below min_nodes" "expected 2 to 6"
ci PATCH "/nodegroups/$NG/actions/scale" '{"size":1}'
expect_error 400 "scale without delta" "size"
ci PATCH "/nodegroups/$NG/actions/scale" '{"delta":2}'
expect_code 202 "scale"
expect_body .state RUNNING
wait_cluster "$CL" RUNNING
ci GET "/nodegroups/$NG"
expect_body .node_count 4
expect_body '.nodes | length' 4
ci PATCH "/nodegroups/$NG" '[{"op":"replace","path":"/autoscaling_enabled","value":false}]'
expect_code 200 "autoscaling off"
wait_cluster "$CL" RUNNING
ci PATCH "/nodegroups/$NG/actions/scale" '{"delta":-4}'
expect_error 400 "scale to zero nodes" "expected 1 to 6"
ci PATCH "/nodegroups/$NG/actions/scale" '{"delta":-3}'
expect_code 202 "scale down to one node"
wait_cluster "$CL" RUNNING
ci GET "/nodegroups/$NG"
expect_body .node_count 1

# resize: another compute flavor
ci PATCH "/nodegroups/$NG/actions/resize" '{"flavor_id":"STD9-9-9"}'
expect_error 400 "resize to an unknown flavor" "field flavor_id"
ci PATCH "/nodegroups/$NG/actions/resize" "{\"flavor_id\":\"$F1632\"}"
expect_code 202 "resize"
expect_body .state RUNNING
wait_cluster "$CL" RUNNING
ci GET "/nodegroups/$NG"
expect_body .flavor_id "$F1632"

# a spare node group for the checks after the restart
ci POST /nodegroups "{\"cluster_id\":\"$CL\",\"name\":\"spare\"}"
expect_code 202 "spare node group"
NG3=$(body .uuid)
expect_body .flavor_id "$F48"
expect_body .node_count 1
expect_body .min_nodes null
wait_cluster "$CL" RUNNING

# delete one node group: 204, then 404
ci POST /nodegroups "{\"cluster_id\":\"$CL\",\"name\":\"extra\"}"
expect_code 202 "second node group"
NG2=$(body .uuid)
wait_cluster "$CL" RUNNING
ci DELETE "/nodegroups/$NG2"
expect_code 204 "node group delete"
for _ in $(seq 40); do ci GET "/nodegroups/$NG2"; [ "$code" = 404 ] && break; sleep 0.05; done
expect_error 404 "node group after delete"
wait_cluster "$CL" RUNNING

# ---- turn off, SHUTOFF, and what a SHUTOFF cluster refuses; turn on
ci POST "/clusters/$CL/actions" '{"action":"turn_off_cluster"}'
expect_code 202 "turn off"
expect_body .uuid "$CL"
wait_cluster "$CL" SHUTOFF
ci POST "/clusters/$CL/actions" '{"action":"turn_off_cluster"}'
expect_error 409 "turn off a SHUTOFF cluster" "SHUTOFF"
ci POST /nodegroups "{\"cluster_id\":\"$CL\",\"name\":\"late\"}"
expect_error 409 "node group create on a SHUTOFF cluster" "SHUTOFF"
ci PATCH "/nodegroups/$NG" '[{"op":"replace","path":"/max_nodes","value":8}]'
expect_error 409 "node group patch on a SHUTOFF cluster" "SHUTOFF"
ci PATCH "/nodegroups/$NG/actions/scale" '{"delta":1}'
expect_error 409 "node group scale on a SHUTOFF cluster" "SHUTOFF"
ci PATCH "/nodegroups/$NG/actions/resize" '{"flavor_id":"STD3-8-16"}'
expect_error 409 "node group resize on a SHUTOFF cluster" "SHUTOFF"
ci POST "/clusters/$CL/actions" '{"action":"resize_masters","payload":{"flavor":"STD3-8-16"}}'
expect_error 409 "resize_masters on a SHUTOFF cluster" "SHUTOFF"
ci POST "/clusters/$CL/actions" '{"action":"turn_on_cluster"}'
expect_code 202 "turn on"
wait_cluster "$CL" RUNNING
ci POST "/clusters/$CL/actions" '{"action":"turn_on_cluster"}'
expect_error 409 "turn on a RUNNING cluster" "RUNNING"

# ---- resize_masters: then RUNNING with the new flavor
for bad in '{"action":"explode"}|field action' \
           '{"action":"resize_masters"}|field payload' \
           '{"action":"resize_masters","payload":{"flavor":"STD9-9-9"}}|payload.flavor' \
           '{"action":"turn_off_cluster","payload":{"x":1}}|field payload' \
           '{"action":"turn_off_cluster","force":true}|field force'; do
  ci POST "/clusters/$CL/actions" "${bad%|*}"
  expect_error 400 "bad action (${bad##*|})" "${bad##*|}"
done
ci POST "/clusters/$CL/actions" '{"action":"resize_masters","payload":{"flavor":"STD3-8-16"}}'
expect_code 202 "resize_masters"
wait_cluster "$CL" RUNNING
expect_body .master_flavor_id "$F816"

# ---- upgrade: RECONCILING, then RUNNING on the newer template; never down
for bad in '{"rolling_enabled":true}|field cluster_template_id' \
           '{"cluster_template_id":"nope"}|field cluster_template_id' \
           "{\"cluster_template_id\":\"$TPL32\",\"rolling_enabled\":\"maybe\"}|field rolling_enabled" \
           "{\"cluster_template_id\":\"$TPL32\",\"force\":true}|field force"; do
  ci PATCH "/clusters/$CL/actions/upgrade" "${bad%|*}"
  expect_error 400 "bad upgrade (${bad##*|})" "${bad##*|}"
done
ci PATCH "/clusters/$CL/actions/upgrade" "{\"cluster_template_id\":\"$TPL\",\"rolling_enabled\":true}"
expect_error 409 "upgrade to the same version" "newer"
ci PATCH "/clusters/$CL/actions/upgrade" "{\"cluster_template_id\":\"$TPL32\",\"rolling_enabled\":true}"
expect_code 202 "upgrade"
expect_body .uuid "$CL"
wait_cluster "$CL" RUNNING
expect_body .cluster_template_id "$TPL32"
expect_body .version 1.32
ci PATCH "/clusters/$CL/actions/upgrade" "{\"cluster_template_id\":\"$TPL\",\"rolling_enabled\":false}"
expect_error 409 "downgrade" "1.31"

# ---- delete a cluster: then 404, and its node groups with it
ci POST /clusters "$(cluster_body doomed)"
expect_code 202 "cluster to delete"
DOOMED=$(body .uuid)
wait_cluster "$DOOMED" RUNNING
ci POST /nodegroups "{\"cluster_id\":\"$DOOMED\",\"name\":\"w\"}"
expect_code 202 "node group of the cluster to delete"
DNG=$(body .uuid)
wait_cluster "$DOOMED" RUNNING
ci DELETE "/clusters/$DOOMED"
expect_code 204 "cluster delete"
for _ in $(seq 40); do ci GET "/clusters/$DOOMED"; [ "$code" = 404 ] && break; sleep 0.05; done
expect_error 404 "cluster after delete"
ci GET "/nodegroups/$DNG"
expect_error 404 "node group of a deleted cluster"
ci GET "/nodegroups?cluster_id=$DOOMED"
expect_body '.nodegroups | length' 0
req GET /_localcloud/inventory
expect_body ".[\"container-infra\"].clusters[\"$DOOMED\"]" null
expect_body "[.[\"container-infra\"].nodegroups[].cluster_id] | unique | join(\",\")" "$CL"
# the name of a deleted cluster is free again
ci POST /clusters "$(cluster_body doomed)"
expect_code 202 "a cluster with the name of a deleted one"
DOOMED=$(body .uuid)
wait_cluster "$DOOMED" RUNNING
ci DELETE "/clusters/$DOOMED"
expect_code 204 "delete it again"
for _ in $(seq 40); do ci GET "/clusters/$DOOMED"; [ "$code" = 404 ] && break; sleep 0.05; done

# ---- kill -9 and restart on the same data, now with slow transitions:
# everything is still there, and a transition under way at the kill
# finishes from its timestamps
ci POST /clusters "$(cluster_body fourth)"
expect_code 202 "fourth cluster"
CL4=$(body .uuid)
wait_cluster "$CL4" RUNNING
ci POST /nodegroups "{\"cluster_id\":\"$CL4\",\"name\":\"w4\"}"
expect_code 202 "node group of the fourth cluster"
NG4=$(body .uuid)
wait_cluster "$CL4" RUNNING
ci POST /clusters "$(cluster_body fifth)"
expect_code 202 "fifth cluster"
CL5=$(body .uuid)
wait_cluster "$CL5" RUNNING
ci POST /clusters "$(cluster_body second)"
expect_code 202 "second cluster"
CL2=$(body .uuid)
kill -9 "$lc_pid"
wait "$lc_pid" 2>/dev/null || true
lc_start k --delay-ms 30000
ci GET "/clusters/$CL"
expect_code 200 "cluster after restart"
expect_body .new_status RUNNING
expect_body .master_flavor_id "$F816"
expect_body '.labels["sparkform/lineage"]' abc123
ci GET "/nodegroups/$NG"
expect_code 200 "node group after restart"
expect_body .flavor_id "$F1632"
expect_body .node_count 1
ci GET "/clusters/$CL/kube_config"
expect_code 200 "kubeconfig after restart"
expect_body_has "$KTOKEN"
wait_cluster "$CL2" RUNNING
ci GET /clusters
expect_body '.clusters | map(.name) | join(",")' main,fourth,fifth,second

# ---- the states in between, and what they refuse
ci POST /clusters "$(cluster_body third)"
expect_code 202 "third cluster"
CL3=$(body .uuid)
ci GET "/clusters/$CL3"
expect_body .status PROVISIONING
expect_body .new_status PROVISIONING
expect_body .status_reason "the cluster is being created"
expect_body .api_address null
ci GET "/clusters/$CL3/kube_config"
expect_error 409 "kubeconfig while provisioning" "PROVISIONING"
ci POST "/clusters/$CL3/actions" '{"action":"turn_off_cluster"}'
expect_error 409 "turn off while provisioning" "PROVISIONING"
ci POST /nodegroups "{\"cluster_id\":\"$CL3\",\"name\":\"early\"}"
expect_error 409 "node group on a provisioning cluster" "PROVISIONING"

# a node group change: the node group stays RUNNING (the new size comes
# when it is done), the cluster is RECONCILING and refuses other changes
ci PATCH "/nodegroups/$NG/actions/scale" '{"delta":2}'
expect_code 202 "scale (slow)"
expect_body .state RUNNING
expect_body .node_count 1
ci GET "/nodegroups/$NG"
expect_body .state RUNNING
ci GET "/clusters/$CL"
expect_body .new_status RECONCILING
ci PATCH "/nodegroups/$NG/actions/scale" '{"delta":1}'
expect_error 409 "scale while reconciling" "RECONCILING"
ci PATCH "/nodegroups/$NG" '[{"op":"replace","path":"/max_nodes","value":8}]'
expect_error 409 "patch while reconciling" "RECONCILING"
ci PATCH "/nodegroups/$NG3/actions/resize" "{\"flavor_id\":\"$F816\"}"
expect_error 409 "resize while reconciling" "RECONCILING"
ci DELETE "/nodegroups/$NG3"
expect_error 409 "node group delete while reconciling" "RECONCILING"
ci POST /nodegroups "{\"cluster_id\":\"$CL\",\"name\":\"late\"}"
expect_error 409 "node group create on a reconciling cluster" "RECONCILING"

ci POST /nodegroups "{\"cluster_id\":\"$CL2\",\"name\":\"fresh\"}"
expect_code 202 "node group create (slow)"
expect_body .state RUNNING
ci GET "/clusters/$CL2"
expect_body .new_status RECONCILING
ci POST "/clusters/$CL2/actions" '{"action":"resize_masters","payload":{"flavor":"STD3-16-32"}}'
expect_error 409 "resize_masters while reconciling" "RECONCILING"
ci POST "/clusters/$CL2/actions" '{"action":"turn_off_cluster"}'
expect_error 409 "turn off while reconciling" "RECONCILING"
ci PATCH "/clusters/$CL2/actions/upgrade" "{\"cluster_template_id\":\"$TPL32\"}"
expect_error 409 "upgrade while reconciling" "RECONCILING"

ci DELETE "/nodegroups/$NG4"
expect_code 204 "node group delete (slow)"
ci GET "/nodegroups/$NG4"
expect_code 200 "node group being deleted"
expect_body .state RUNNING
ci GET "/clusters/$CL4"
expect_body .new_status RECONCILING
ci DELETE "/nodegroups/$NG4"
expect_code 204 "node group delete twice"
ci PATCH "/nodegroups/$NG4" '[{"op":"replace","path":"/max_nodes","value":8}]'
expect_error 409 "patch a node group being deleted" "being deleted"

# turn off goes straight from RUNNING to SHUTOFF: RUNNING until it is done
ci POST "/clusters/$CL5/actions" '{"action":"turn_off_cluster"}'
expect_code 202 "turn off (slow)"
ci GET "/clusters/$CL5"
expect_body .new_status RUNNING
ci POST "/clusters/$CL5/actions" '{"action":"turn_off_cluster"}'
expect_error 409 "turn off twice" "SHUTOFF"
ci POST "/clusters/$CL5/actions" '{"action":"turn_on_cluster"}'
expect_error 409 "turn on while turning off" "RUNNING"
ci POST /nodegroups "{\"cluster_id\":\"$CL5\",\"name\":\"late\"}"
expect_error 409 "node group create while turning off" "SHUTOFF"

ci DELETE "/clusters/$CL"
expect_code 204 "cluster delete (slow)"
ci GET "/clusters/$CL"
expect_body .status DELETING
expect_body .new_status DELETING
ci GET "/nodegroups/$NG"
expect_body .state RUNNING
ci DELETE "/nodegroups/$NG"
expect_code 204 "node group delete while its cluster is deleted"
ci GET "/clusters/$CL/kube_config"
expect_error 409 "kubeconfig while deleting" "DELETING"
ci POST "/clusters/$CL/actions" '{"action":"turn_on_cluster"}'
expect_error 409 "action on a deleting cluster" "DELETING"
ci PATCH "/clusters/$CL" '[{"op":"add","path":"/labels/x","value":"y"}]'
expect_error 409 "patch a deleting cluster" "deleted"
ci DELETE "/clusters/$CL"
expect_code 204 "delete twice"
echo ok
