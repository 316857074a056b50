# localcloud's Kubernetes API driven by the real kubectl (the version of the
# cluster, 1.32) over https with the cluster's kubeconfig: namespaces,
# apply -f of tests/e2e/k8s-manifests (a CRD and its custom resource, and
# the built-in kinds), server-side apply and its conflicts, get in every
# form (-o yaml/json, short names, label and field selectors, chunks),
# diff --server-side, rollout status, a Job completing, watches, deletes
# with --wait, the API's errors (Conflict, Invalid, Forbidden,
# Unauthorized), the cluster turned off and on, a restart on the same data
# and the cluster's deletion.
. "$ROOT/tests/e2e/lib-k8s.sh"
command -v kubectl >/dev/null || fail "kubectl is not installed"

lc_start lc --delay-ms 500
k8s_cluster c1
export KUBECONFIG="$WORK/c1.kubeconfig"
M="$ROOT/tests/e2e/k8s-manifests"
# jqo FILTER: jq over the last command's stdout
jqo() { jq -r "$1" "$WORK/.stdout"; }
expect_jq() {
  local got; got=$(jqo "$1")
  [ "$got" = "$2" ] || { cat "$WORK/.stdout"; fail "$1 is '$got', expected '$2'"; }
}
# wait_for CMD...: retries the check (a function) for up to 10 s
wait_for() {
  for _ in $(seq 100); do "$@" && return 0; sleep 0.1; done
  fail "timed out waiting for: $*"
}
# kcurl PATH: a request to the cluster's API as the kubeconfig makes it
# (its CA, its token); status in $code, body in $WORK/body
kcurl() {
  jq -r '.clusters[0].cluster["certificate-authority-data"] | @base64d' "$KUBECONFIG" >"$WORK/ca.pem"
  code=$(curl -s -o "$WORK/body" -w '%{http_code}' --cacert "$WORK/ca.pem" \
    -H "Authorization: Bearer $(jq -r '.users[0].user.token' "$KUBECONFIG")" \
    "$(jq -r '.clusters[0].cluster.server' "$KUBECONFIG")$1") || code=000
}
cluster_is() { ci GET "/clusters/$CLUSTER"; [ "$(body .new_status)" = "$1" ]; }

# ---- the kubeconfig: https with the cluster's CA and bearer token
server=$(jq -r '.clusters[0].cluster.server' "$KUBECONFIG")
case $server in
  "https://127.0.0.1:"*"/k8s/$CLUSTER") ;;
  *) cat "$KUBECONFIG"; fail "kubeconfig server: $server" ;;
esac
[ "$(jq -r '.clusters[0].cluster["certificate-authority-data"] | @base64d' "$KUBECONFIG" | head -1)" \
  = "-----BEGIN CERTIFICATE-----" ] || fail "kubeconfig has no CA"

# ---- namespaces
kc get ns
expect_rc 0
expect_out default
expect_out kube-system
expect_out kube-public
kc create ns demo
expect_rc 0
expect_out "namespace/demo created"
kc get ns demo -o json
expect_rc 0
expect_jq .metadata.name demo
expect_jq .status.phase Active
kc create ns demo
expect_rc 1
expect_err 'namespaces "demo" already exists'

# ---- apply -f of the directory. With a fresh discovery cache kubectl maps
# every kind first: the Widget's kind is unknown until the CRD exists.
kc apply -f "$M"
expect_rc 1
expect_err 'ensure CRDs are installed first'
kc apply -f "$M/00-crd.yaml"
expect_rc 0
kc wait --for condition=Established crd/widgets.example.com --timeout 20s
expect_rc 0
expect_out "condition met"
kc apply -f "$M"
expect_rc 0
expect_out "widget.example.com/gizmo created"
expect_out "deployment.apps/web"
kc apply -f "$M"
expect_rc 0
for o in customresourcedefinition.apiextensions.k8s.io/widgets.example.com widget.example.com/gizmo \
    deployment.apps/web service/web configmap/settings serviceaccount/runner \
    role.rbac.authorization.k8s.io/pod-reader rolebinding.rbac.authorization.k8s.io/runner-reads-pods \
    cronjob.batch/cleanup; do
  expect_out "$o unchanged"
done

# ---- get: every kind, the CRD's plural and short name, output formats
for k in deployments services configmaps secrets serviceaccounts roles rolebindings cronjobs widgets wdg; do
  kc get "$k" -n demo
  expect_rc 0
done
kc get wdg -n demo -o name
expect_rc 0
expect_out "widget.example.com/gizmo"
kc get widgets gizmo -n demo -o json
expect_rc 0
expect_jq .spec.size 3
expect_jq .spec.colour blue
expect_jq .metadata.namespace demo
kc get deploy web -n demo -o yaml
expect_rc 0
expect_out "replicas: 2"
expect_out "image: nginx:1.27"
kc get deploy web -n demo -o json
expect_rc 0
expect_jq '.spec.template.spec.containers[0].env[0].value' demo
expect_jq '.spec.template.spec.serviceAccountName' runner
expect_jq '.metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"] | fromjson | .spec.replicas' 2
kc get secret credentials -n demo -o json
expect_rc 0
expect_jq '.data.password | @base64d' s3cr3t-value
expect_jq '.stringData' null
kc get cm settings -n demo -o json
expect_rc 0
expect_jq '.data["spark.eventLog.enabled"]' true
kc get rolebinding runner-reads-pods -n demo -o json
expect_rc 0
expect_jq '.roleRef.name' pod-reader
expect_jq '.subjects[0].name' runner
kc get cronjob cleanup -n demo -o json
expect_rc 0
expect_jq '.spec.schedule' '*/15 * * * *'
kc get svc web -n demo -o json
expect_rc 0
expect_jq '.spec.ports[0].port' 80
[ -n "$(jqo .spec.clusterIP)" ] && [ "$(jqo .spec.clusterIP)" != null ] || fail "service has no clusterIP"
# label and field selectors
kc get deploy,svc,cm -n demo -l app=web -o name
expect_rc 0
[ "$(cat "$WORK/.stdout")" = "deployment.apps/web" ] || { cat "$WORK/.stdout"; fail "-l app=web"; }
kc get deploy -n demo -l app=nothing
expect_rc 0
expect_err "No resources found in demo namespace."
kc get svc,deploy -n demo --field-selector metadata.name=web -o name
expect_rc 0
expect_out "service/web"
expect_out "deployment.apps/web"
kc get cm -n demo --field-selector metadata.name=settings -o name
expect_rc 0
[ "$(cat "$WORK/.stdout")" = "configmap/settings" ] || { cat "$WORK/.stdout"; fail "--field-selector"; }
# several pages of 2 (--raw paths are absolute: they carry the server's /k8s/ID) (limit and continue)
for i in 1 2 3 4 5; do
  kc create configmap "page-$i" -n demo --from-literal "n=$i"
  expect_rc 0
done
kc get cm -n demo --chunk-size=2 -o name -v=6
expect_rc 0
expect_err "/namespaces/demo/configmaps?limit=2"
expect_err "/namespaces/demo/configmaps?continue="
for i in 1 2 3 4 5; do expect_out "configmap/page-$i"; done
expect_out "configmap/settings"
[ "$(wc -l <"$WORK/.stdout")" -eq "$(grep -c . "$WORK/.stdout")" ] || fail "blank lines in chunked output"
n_chunked=$(wc -l <"$WORK/.stdout")
kc get cm -n demo -o name
[ "$(wc -l <"$WORK/.stdout")" -eq "$n_chunked" ] || fail "chunked list differs from the whole list"
kc get --raw "/k8s/$CLUSTER/api/v1/namespaces/demo/configmaps?limit=2"
expect_rc 0
expect_jq '.items | length' 2
cont=$(jqo .metadata.continue)
[ -n "$cont" ] && [ "$cont" != null ] || { cat "$WORK/.stdout"; fail "no continue token with limit=2"; }
kc get --raw "/k8s/$CLUSTER/api/v1/namespaces/demo/configmaps?limit=100&continue=$cont"
expect_rc 0
[ "$(jqo '.items | length')" -eq $((n_chunked - 2)) ] || { cat "$WORK/.stdout"; fail "second page"; }

# ---- server-side apply into a second namespace
kc create ns demo2
expect_rc 0
mkdir "$WORK/m2"
for f in "$M"/[1-9]*.yaml; do
  sed 's/namespace: demo$/namespace: demo2/' "$f" >"$WORK/m2/$(basename "$f")"
done
kc apply --server-side -f "$WORK/m2"
expect_rc 0
expect_out "deployment.apps/web serverside-applied"
expect_out "widget.example.com/gizmo serverside-applied"
kc get deploy web -n demo2 -o json --show-managed-fields
expect_rc 0
expect_jq '.metadata.managedFields[] | select(.manager=="kubectl") | .operation' Apply
expect_jq '.metadata.managedFields[] | select(.manager=="kubectl") | .fieldsV1["f:spec"] | has("f:replicas")' true
kc get rolebinding runner-reads-pods -n demo2 -o json
expect_jq '.subjects[0].namespace' demo2
# diff: nothing after the apply, the replicas after an edit (once the
# rollout is over: the status the controller writes meanwhile is a change)
kc rollout status deployment/web -n demo2 --timeout 30s
expect_rc 0
kc diff --server-side -f "$WORK/m2/20-deployment.yaml"
expect_rc 0
sed 's/replicas: 2/replicas: 3/' "$WORK/m2/20-deployment.yaml" >"$WORK/deploy3.yaml"
kc diff --server-side -f "$WORK/deploy3.yaml"
expect_rc 1
expect_out "-  replicas: 2"
expect_out "+  replicas: 3"
# a second field manager: conflict on spec.replicas, then forced
sed 's/replicas: 2/replicas: 5/' "$WORK/m2/20-deployment.yaml" >"$WORK/deploy5.yaml"
kc apply --server-side --field-manager other -f "$WORK/deploy5.yaml"
expect_rc 1
expect_err 'conflict with "kubectl"'
expect_err '.spec.replicas'
kc get deploy web -n demo2 -o json
expect_jq .spec.replicas 2
kc apply --server-side --field-manager other --force-conflicts -f "$WORK/deploy5.yaml"
expect_rc 0
expect_out "deployment.apps/web serverside-applied"
kc get deploy web -n demo2 -o json --show-managed-fields
expect_rc 0
expect_jq .spec.replicas 5
expect_jq '.metadata.managedFields[] | select(.manager=="other") | .fieldsV1["f:spec"] | has("f:replicas")' true
expect_jq '.metadata.managedFields[] | select(.manager=="kubectl") | .fieldsV1["f:spec"] | has("f:replicas")' false

# ---- rollout status waits for the replicas (--delay-ms 500), a Job completes
# kubectl create deployment / job send protobuf, which localcloud reads for
# namespaces, config maps, secrets and service accounts only: create -f
sed "s/name: web$/name: roll/" $M/20-deployment.yaml | sed "s/app: web/app: roll/" >$WORK/roll.yaml
kc create -f $WORK/roll.yaml
expect_rc 0
kc rollout status deployment/roll -n demo --timeout 30s
expect_rc 0
expect_out "Waiting for deployment \"roll\" rollout to finish"
expect_out 'deployment "roll" successfully rolled out'
kc get deploy roll -n demo -o json
expect_jq .status.availableReplicas 2
kc rollout status deployment/web -n demo --timeout 30s
expect_rc 0
expect_out 'deployment "web" successfully rolled out'
printf 'apiVersion: batch/v1\nkind: Job\nmetadata: {name: once, namespace: demo}\nspec: {template: {spec: {restartPolicy: Never, containers: [{name: a, image: busybox}]}}}\n' >$WORK/job.yaml
kc create -f $WORK/job.yaml
expect_rc 0
kc wait --for=condition=complete job/once -n demo --timeout 30s
expect_rc 0
expect_out "job.batch/once condition met"
kc get job once -n demo -o json
expect_jq .status.succeeded 1
# a StatefulSet and a DaemonSet roll out too (the update strategy defaulted)
cat >$WORK/sts-ds.yaml <<'EOF2'
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: demo}
spec:
  serviceName: db
  replicas: 2
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: postgres:16}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: demo}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: agent, image: busybox:1.36}]}
EOF2
kc apply -f $WORK/sts-ds.yaml
expect_rc 0
kc rollout status statefulset/db -n demo --timeout 30s
expect_rc 0
expect_out "roll out complete: 2 new pods have been updated"
kc get sts db -n demo -o json
expect_jq .status.readyReplicas 2
kc rollout status daemonset/agent -n demo --timeout 30s
expect_rc 0
expect_out 'daemon set "agent" successfully rolled out'

# ---- watches: ADDED, MODIFIED, DELETED as they happen (-o name does not
# print the event types: a jsonpath over the WatchEvent does)
EV='jsonpath={.type} {.object.kind}/{.object.metadata.name}{"\n"}'
kubectl --cache-dir "$WORK/kube-cache" get widgets -n demo -w --output-watch-events -o "$EV" \
  >"$WORK/watch-w.out" 2>"$WORK/watch-w.err" &
watch_w=$!
pids+=("$watch_w")
kubectl --cache-dir "$WORK/kube-cache" get deploy -n demo -w --output-watch-events -o "$EV" \
  >"$WORK/watch-d.out" 2>"$WORK/watch-d.err" &
watch_d=$!
pids+=("$watch_d")
has() { grep -qxF -- "$2" "$1"; }
wait_for has "$WORK/watch-w.out" "ADDED Widget/gizmo"
wait_for has "$WORK/watch-d.out" "ADDED Deployment/web"
printf 'apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: spinner, namespace: demo}\nspec: {size: 1}\n' >"$WORK/spinner.yaml"
kc apply -f "$WORK/spinner.yaml"
expect_rc 0
kc patch widget spinner -n demo --type merge -p '{"spec":{"size":7}}'
expect_rc 0
expect_out "widget.example.com/spinner patched"
kc delete widget spinner -n demo
expect_rc 0
kc patch deploy roll -n demo --type merge -p '{"spec":{"replicas":1}}'
expect_rc 0
kc delete deploy roll -n demo
expect_rc 0
wait_for has "$WORK/watch-w.out" "DELETED Widget/spinner"
wait_for has "$WORK/watch-d.out" "DELETED Deployment/roll"
kill "$watch_w" "$watch_d" 2>/dev/null || true
wait "$watch_w" "$watch_d" 2>/dev/null || true
has "$WORK/watch-w.out" "ADDED Widget/spinner" || { cat "$WORK/watch-w.out"; fail "watch: no ADDED"; }
has "$WORK/watch-w.out" "MODIFIED Widget/spinner" || { cat "$WORK/watch-w.out"; fail "watch: no MODIFIED"; }
has "$WORK/watch-d.out" "MODIFIED Deployment/roll" || { cat "$WORK/watch-d.out"; fail "watch: no MODIFIED"; }
# the events come in order: the spinner's ADDED, MODIFIED..., DELETED
[ "$(grep spinner "$WORK/watch-w.out" | head -1)" = "ADDED Widget/spinner" ] &&
  [ "$(grep spinner "$WORK/watch-w.out" | tail -1)" = "DELETED Widget/spinner" ] ||
  { cat "$WORK/watch-w.out"; fail "watch events out of order"; }

# ---- the API's errors
# a stale resourceVersion: Conflict
kc get cm settings -n demo -o json
jq '.data.level = "debug" | del(.metadata.managedFields)' "$WORK/.stdout" >"$WORK/stale.json"
kc label cm settings -n demo touched=yes
expect_rc 0
kc apply -f "$WORK/stale.json"
expect_rc 1
expect_err "the object has been modified"
kc replace -f "$WORK/stale.json"
expect_rc 1
expect_err "Conflict"
expect_err "the object has been modified"
kc get cm settings -n demo -o json
expect_jq .data.level info
# a Deployment without spec.selector: Invalid, naming the field
grep -v -e '^  selector:' -e '^    matchLabels:' -e '^      app: web' "$M/20-deployment.yaml" |
  sed 's/name: web$/name: nosel/' >"$WORK/nosel.yaml"
grep -q selector "$WORK/nosel.yaml" && fail "nosel.yaml still has a selector"
kc apply -f "$WORK/nosel.yaml"
expect_rc 1
expect_err 'The Deployment "nosel" is invalid'
expect_err "spec.selector"
kc get deploy nosel -n demo
expect_rc 1
expect_err NotFound
# a Widget without its required spec.size
printf 'apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: nosize, namespace: demo}\nspec: {colour: red}\n' >"$WORK/nosize.yaml"
kc apply -f "$WORK/nosize.yaml"
expect_rc 1
expect_err 'The Widget "nosize" is invalid'
expect_err "spec.size"
# a value outside the schema's enum
printf 'apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: pink, namespace: demo}\nspec: {size: 1, colour: pink}\n' >"$WORK/pink.yaml"
kc apply -f "$WORK/pink.yaml"
expect_rc 1
expect_err 'is invalid'
expect_err "spec.colour"
# the default namespace cannot be deleted
kc delete ns default
expect_rc 1
expect_err "Forbidden"
kc get ns default
expect_rc 0
# a wrong token
sed "s/\"token\": *\"[0-9a-f]*\"/\"token\": \"$(printf '0%.0s' $(seq 64))\"/" "$KUBECONFIG" >"$WORK/bad.kubeconfig"
cmp -s "$KUBECONFIG" "$WORK/bad.kubeconfig" && fail "could not change the token in the kubeconfig"
KUBECONFIG="$WORK/bad.kubeconfig" kc get ns
expect_rc 1
expect_err "You must be logged in to the server"
grep -q Unauthorized "$WORK/.stderr" || expect_err "Unauthorized"

# ---- delete -f with --wait, delete ns with --wait
kc delete -f "$M/30-service.yaml" --wait
expect_rc 0
expect_out 'service "web" deleted'
kc get svc web -n demo
expect_rc 1
expect_err 'services "web" not found'
# a ConfigMap with a finalizer keeps demo2 Terminating until it is let go
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: held, namespace: demo2, finalizers: [example.com/hold]}\n' >"$WORK/held.yaml"
kc apply -f "$WORK/held.yaml"
expect_rc 0
kubectl --cache-dir "$WORK/kube-cache" delete ns demo2 --wait --timeout 30s \
  >"$WORK/delns.out" 2>"$WORK/delns.err" &
delns=$!
pids+=("$delns")
ns_terminating() {
  run kubectl --cache-dir "$WORK/kube-cache" get ns demo2 -o jsonpath='{.status.phase}'
  [ "$rc" -eq 0 ] && [ "$(cat "$WORK/.stdout")" = Terminating ]
}
wait_for ns_terminating
kc get ns demo2 -o json
expect_jq '.metadata.deletionTimestamp != null' true
kc get cm held -n demo2 -o json
expect_rc 0
expect_jq '.metadata.deletionTimestamp != null' true
kill -0 "$delns" 2>/dev/null || fail "delete ns --wait returned while the namespace was Terminating"
kc patch cm held -n demo2 --type merge -p '{"metadata":{"finalizers":null}}'
expect_rc 0
if wait "$delns"; then :; else cat "$WORK/delns.out" "$WORK/delns.err"; fail "delete ns --wait failed"; fi
grep -qF 'namespace "demo2" deleted' "$WORK/delns.out" || { cat "$WORK/delns.out"; fail "delete ns output"; }
kc get ns demo2
expect_rc 1
expect_err 'namespaces "demo2" not found'
kc get deploy,cm,widgets -n demo2 -o name
expect_rc 0
[ ! -s "$WORK/.stdout" ] || { cat "$WORK/.stdout"; fail "objects left in the deleted namespace"; }
kc get deploy web -n demo2
expect_rc 1
expect_err NotFound

# ---- the inventory, and a restart on the same data
req GET /_localcloud/inventory
expect_code 200 inventory
expect_body ".kubernetes[\"$CLUSTER.deployments.apps\"][\"demo/web\"].metadata.name" web
expect_body ".kubernetes[\"$CLUSTER.widgets.example.com\"][\"demo/gizmo\"].spec.size" 3
expect_body ".kubernetes[\"$CLUSTER.namespaces\"] | has(\"demo2\")" false
kc get deploy,widgets,cm,secrets -n demo -o json
expect_rc 0
jq -S '[.items[] | {kind, name: .metadata.name, uid: .metadata.uid, rv: .metadata.resourceVersion}]' \
  "$WORK/.stdout" >"$WORK/before.json"
[ "$(jq length "$WORK/before.json")" -ge 9 ] || { cat "$WORK/before.json"; fail "too few objects"; }
kill -TERM "$lc_pid"
wait "$lc_pid" || fail "localcloud did not exit cleanly"
lc_start lc --delay-ms 500
ci GET "/clusters/$CLUSTER/kube_config"
expect_code 200 "kube_config after the restart"
cp "$WORK/body" "$KUBECONFIG"
kc get deploy,widgets,cm,secrets -n demo -o json
expect_rc 0
jq -S '[.items[] | {kind, name: .metadata.name, uid: .metadata.uid, rv: .metadata.resourceVersion}]' \
  "$WORK/.stdout" >"$WORK/after.json"
diff -u "$WORK/before.json" "$WORK/after.json" || fail "objects changed across the restart"
kc get widgets gizmo -n demo -o json
expect_rc 0
expect_jq .spec.size 3

# ---- kubectl scale (the scale subresource), server-side printing (Table)
kc scale deploy web -n demo --replicas 3
expect_rc 0
expect_out "deployment.apps/web scaled"
kc get deploy web -n demo -o json
expect_jq .spec.replicas 3
kc get ns
expect_rc 0
head -1 "$WORK/.stdout" | grep -qE '^NAME +STATUS +AGE$' || { cat "$WORK/.stdout"; fail "get ns: no STATUS column"; }
kc get deploy web -n demo
expect_rc 0
head -1 "$WORK/.stdout" | grep -qE '^NAME +READY +UP-TO-DATE +AVAILABLE +AGE$' ||
  { cat "$WORK/.stdout"; fail "get deploy: not the Deployment's columns"; }

# ---- the cluster turned off and on
ci POST "/clusters/$CLUSTER/actions" '{"action":"turn_off_cluster"}'
expect_code 202 "turn_off_cluster"
wait_for cluster_is SHUTOFF
kcurl "/api/v1/namespaces"
[ "$code" = 503 ] || { cat "$WORK/body"; fail "turned off: HTTP $code, expected 503"; }
expect_body .reason ServiceUnavailable
# kubectl must give up with the 503 within its request timeout (client-go
# retries a 503 that has a Retry-After, at most 10 times)
run timeout 30 kubectl --cache-dir "$WORK/kube-cache" --request-timeout 8s get ns
expect_rc 1
expect_err "ServiceUnavailable"
ci POST "/clusters/$CLUSTER/actions" '{"action":"turn_on_cluster"}'
expect_code 202 "turn_on_cluster"
wait_for cluster_is RUNNING
kc get deploy web -n demo -o name
expect_rc 0
expect_out "deployment.apps/web"

# ---- the cluster deleted: its API is gone
ci DELETE "/clusters/$CLUSTER"
expect_code 204 "delete cluster"
cluster_gone() { ci GET "/clusters/$CLUSTER"; [ "$code" = 404 ]; }
wait_for cluster_gone
kcurl "/api/v1/namespaces"
[ "$code" = 404 ] || { cat "$WORK/body"; fail "deleted: HTTP $code, expected 404"; }
expect_body .reason NotFound
kc get ns
expect_rc 1
expect_err "the server could not find the requested resource"
req GET /_localcloud/inventory
expect_code 200 inventory
expect_body ".kubernetes // {} | keys | map(select(startswith(\"$CLUSTER\"))) | length" 0
