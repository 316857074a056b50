# Spark jobs on localcloud, as the Spark Operator runs them, driven by
# sparkform and looked at with the real kubectl: the operator's CRDs (open
# schemas, a status subresource) and a namespace, then a SparkApplication
# through a kubernetes_manifest with wait complete: the apply returns once
# it is COMPLETED, its driver pod Succeeded, and a second plan finds no
# change (the controller's status is not drift). Its states go SUBMITTED,
# RUNNING, COMPLETED, and a changed spec plans one update that runs it
# again (INVALIDATING first, a new driver). An application annotated to
# fail makes the apply fail with the operator's errorMessage; taking it out
# of the description deletes it and its driver pod. kubectl get shows the
# state; an application kubectl deletes takes its driver along; a
# ScheduledSparkApplication is Scheduled; a SparkConnect gets its server
# Service on port 15002 and is Ready. Destroy leaves nothing. After a
# restart of localcloud, applications go on from where they were.
. "$ROOT/tests/e2e/lib-cloud.sh"
. "$ROOT/tests/e2e/lib-k8s.sh"
command -v kubectl >/dev/null || fail "kubectl is not installed"
# a run takes two delays: the driver pod starting, then the job
LC_DELAY_MS=700 cloud_start

mkdir objs
# crd PLURAL KIND VERSION SHORT [COLUMNS]: an open-schema CRD of the
# operator's group (COLUMNS: its additionalPrinterColumns, flow style)
crd() {
  cat <<Y
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: $1.sparkoperator.k8s.io}
spec:
  group: sparkoperator.k8s.io
  scope: Namespaced
  names: {kind: $2, listKind: ${2}List, plural: $1, singular: ${1%s}, shortNames: [$4]}
  versions:
    - name: $3
      served: true
      storage: true
      subresources: {status: {}}
      additionalPrinterColumns: ${5:-[]}
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
            status: {type: object, x-kubernetes-preserve-unknown-fields: true}
Y
}
crd sparkapplications SparkApplication v1beta2 sparkapp \
  '[{name: Status, type: string, jsonPath: .status.applicationState.state}, {name: Attempts, type: string, jsonPath: .status.executionAttempts}, {name: Age, type: date, jsonPath: .metadata.creationTimestamp}]' \
  > objs/crd-app.yaml
crd scheduledsparkapplications ScheduledSparkApplication v1beta2 scheduledsparkapp > objs/crd-sched.yaml
crd sparkconnects SparkConnect v1alpha1 sparkconn > objs/crd-connect.yaml
cat > objs/ns.yaml <<'Y'
apiVersion: v1
kind: Namespace
metadata: {name: spark-jobs}
Y
# app NAME ARGUMENT [ANNOTATIONS]: a SparkApplication (SparkPi)
app() {
  cat <<Y
apiVersion: sparkoperator.k8s.io/v1beta2
kind: SparkApplication
metadata:
  name: $1
  namespace: spark-jobs
  annotations: {${3:-}}
spec:
  type: Scala
  mode: cluster
  image: spark:3.5.5
  mainClass: org.apache.spark.examples.SparkPi
  mainApplicationFile: local:///opt/spark/examples/jars/spark-examples.jar
  arguments: ["$2"]
  sparkVersion: 3.5.5
  driver: {cores: 1, memory: 512m, serviceAccount: spark}
  executor: {instances: 1, cores: 1, memory: 512m}
Y
}
cat > objs/sched.yaml <<'Y'
apiVersion: sparkoperator.k8s.io/v1beta2
kind: ScheduledSparkApplication
metadata: {name: nightly, namespace: spark-jobs}
spec:
  schedule: "0 2 * * *"
  concurrencyPolicy: Forbid
  template:
    type: Python
    mode: cluster
    image: spark:3.5.5
    mainApplicationFile: local:///opt/spark/examples/src/main/python/pi.py
    sparkVersion: 3.5.5
Y

# obj NAME FILE [EXTRA LINES]: a kubernetes_manifest of the file's text
obj() {
  echo "  - type: kubernetes_manifest"
  echo "    name: $1"
  echo "    with:"
  echo "      kubeconfig: \"\${cloud_k8s_cluster.k8s.kubeconfig}\""
  [ -n "${3:-}" ] && echo "      $3"
  echo "      manifest:"
  sed 's/^/        /' "objs/$2.yaml"
}
write_spark_stack() {
  app pi "${PI_ARG:-1000}" > objs/pi.yaml
  app broken 10 "localcloud.sparkform.dev/outcome: failed" > objs/broken.yaml
  {
    cat <<'Y'
apiVersion: sparkform/v1
kind: Stack
metadata: {name: sparktest}
resources:
  - {type: cloud_network, name: net, with: {name: spark-net}}
  - type: cloud_subnet
    name: sub
    with: {name: spark-sub, network_id: "${cloud_network.net.id}", cidr: 10.10.0.0/24}
  - type: cloud_k8s_cluster
    name: k8s
    with:
      name: spark
      version: "1.32"
      network_id: "${cloud_network.net.id}"
      subnet_id: "${cloud_subnet.sub.id}"
      master_flavor: STD3-4-8
Y
    obj ns ns
    obj crd_app crd-app
    obj crd_sched crd-sched
    obj pi pi "wait: {complete: true}"
    obj nightly sched
    [ -n "${BROKEN:-}" ] && obj broken broken "wait: {complete: true}"
    echo 'outputs: {kubeconfig: {value: "${cloud_k8s_cluster.k8s.kubeconfig}", sensitive: true}}'
  } > stack.yaml
}
# jqo FILTER: jq over the last command's stdout
jqo() { jq -r "$1" "$WORK/.stdout"; }
expect_jq() {
  local got; got=$(jqo "$1")
  [ "$got" = "$2" ] || { cat "$WORK/.stdout"; fail "$1 is '$got', expected '$2'"; }
}
# wait_for CMD...: retries the check (a function) for up to 15 s
wait_for() {
  for _ in $(seq 150); do "$@" && return 0; sleep 0.1; done
  fail "timed out waiting for: $*"
}
state_of() { # NAME: the application's state
  kubectl --cache-dir "$WORK/kube-cache" get sparkapplication "$1" -n spark-jobs \
    -o jsonpath='{.status.applicationState.state}' 2>/dev/null
}
gone() { # KIND NAME: it is not there
  ! kubectl --cache-dir "$WORK/kube-cache" get "$1" "$2" -n spark-jobs >/dev/null 2>&1
}

# ---- one apply: the cluster, the CRDs, the namespace, the job run to its end
export SPARKFORM_PROGRESS_INTERVAL=1
write_spark_stack
sf apply -f stack.yaml -auto-approve
expect_rc 0
expect_out "kubernetes_manifest.pi: Creation complete"
grep -qE 'kubernetes_manifest\.pi: Still creating\.\.\. \[[0-9]+s elapsed\] \(waiting for the SparkApplication to complete \((SUBMITTED|RUNNING)\)\)' "$WORK/.stdout" ||
  { cat "$WORK/.stdout"; fail "no progress line of the SparkApplication's wait"; }
(umask 077; "$SPARKFORM" output -raw kubeconfig > kc.json) || fail "output -raw kubeconfig"
export KUBECONFIG="$WORK/kc.json"

kc get sparkapplication pi -n spark-jobs -o json --show-managed-fields
expect_rc 0
expect_jq .status.applicationState.state COMPLETED
expect_jq .status.submissionAttempts 1
expect_jq .status.executionAttempts 1
expect_jq .status.driverInfo.podName pi-driver
[ "$(jqo .status.terminationTime)" != null ] || fail "no terminationTime"
[ "$(jqo .status.lastSubmissionAttemptTime)" != null ] || fail "no lastSubmissionAttemptTime"
app_id=$(jqo .status.sparkApplicationId)
[[ $app_id =~ ^spark-[0-9a-f]{32}$ ]] || fail "sparkApplicationId: $app_id"
app_uid=$(jqo .metadata.uid)
# the controller wrote the status through the status subresource
jqo '.metadata.managedFields[] | select(.manager == "spark-operator") | .subresource' > sub.txt
[ "$(cat sub.txt)" = status ] || { cat "$WORK/.stdout"; fail "the status is not the operator's: $(cat sub.txt)"; }

kc get pod pi-driver -n spark-jobs -o json
expect_rc 0
expect_jq .status.phase Succeeded
expect_jq '.metadata.labels["spark-role"]' driver
expect_jq '.metadata.labels["sparkoperator.k8s.io/app-name"]' pi
expect_jq '.metadata.ownerReferences[0].kind' SparkApplication
expect_jq '.metadata.ownerReferences[0].uid' "$app_uid"
expect_jq '.spec.containers[0].image' spark:3.5.5
expect_jq '.spec.serviceAccountName' spark
expect_jq '.status.containerStatuses[0].state.terminated.exitCode' 0
pod_uid=$(jqo .metadata.uid)
kc get pods -n spark-jobs -l spark-role=driver,sparkoperator.k8s.io/app-name=pi -o name
expect_rc 0
[ "$(cat "$WORK/.stdout")" = pod/pi-driver ] || fail "driver pods by label: $(cat "$WORK/.stdout")"

kc get scheduledsparkapplication nightly -n spark-jobs -o jsonpath='{.status.scheduleState}'
expect_rc 0
[ "$(cat "$WORK/.stdout")" = Scheduled ] || fail "scheduleState: $(cat "$WORK/.stdout")"

# ---- status is not drift
sf plan -f stack.yaml -detailed-exitcode
[ "$rc" -eq 0 ] || { cat "$WORK/.stdout" "$WORK/.stderr"; fail "the plan after apply is not empty"; }

# ---- an application that fails: the apply fails with the operator's message
BROKEN=1 write_spark_stack
sf apply -f stack.yaml -auto-approve
expect_rc 1
expect_err "the SparkApplication failed: driver container failed with ExitCode: 1, Reason: Error"
kc get sparkapplication broken -n spark-jobs -o jsonpath='{.status.applicationState.state}'
[ "$(cat "$WORK/.stdout")" = FAILED ] || fail "broken: $(cat "$WORK/.stdout")"
kc get pod broken-driver -n spark-jobs -o jsonpath='{.status.phase}/{.status.containerStatuses[0].state.terminated.exitCode}'
[ "$(cat "$WORK/.stdout")" = Failed/1 ] || fail "broken's driver: $(cat "$WORK/.stdout")"
# out of the description: the application goes, and its driver with it
write_spark_stack
sf apply -f stack.yaml -auto-approve
expect_rc 0
expect_out "kubernetes_manifest.broken: Destruction complete"
gone sparkapplication broken || fail "the failed application is still there"
gone pod broken-driver || fail "the failed application's driver pod is still there"
kc get pod pi-driver -n spark-jobs
expect_rc 0

# ---- kubectl get shows the state
kc get sparkapplications -n spark-jobs
expect_rc 0
grep -E '^pi +COMPLETED' "$WORK/.stdout" >/dev/null || { cat "$WORK/.stdout"; fail "kubectl get does not show the state"; }

# ---- a changed spec: one update, and the job runs again
PI_ARG=2000 write_spark_stack
sf plan -f stack.yaml -detailed-exitcode
expect_rc 2
[ "$(plan_counts)" = "0 1 0" ] || { cat "$WORK/.stdout"; fail "spec change: plan $(plan_counts)"; }
expect_out "kubernetes_manifest.pi will be updated in place"
kubectl --cache-dir "$WORK/kube-cache" get sparkapplication pi -n spark-jobs --watch \
  -o jsonpath='{.status.applicationState.state}{"\n"}' > states.txt 2>states.err &
watch_pid=$!
pids+=("$watch_pid")
watching() { [ -s states.txt ]; } # it printed the current state
wait_for watching
sf apply -f stack.yaml -auto-approve
expect_rc 0
# the last event may come a moment after the apply's own read
for _ in $(seq 50); do [ "$(uniq states.txt | wc -l)" -ge 5 ] && break; sleep 0.1; done
kill "$watch_pid" 2>/dev/null || true
# the states it went through, each once, in order
uniq states.txt | tr '\n' ' ' > seq.txt
[ "$(cat seq.txt)" = "COMPLETED INVALIDATING SUBMITTED RUNNING COMPLETED " ] ||
  { cat states.err; fail "states of the rerun: $(cat seq.txt)"; }
kc get sparkapplication pi -n spark-jobs -o json --show-managed-fields
expect_rc 0
expect_jq .status.applicationState.state COMPLETED
expect_jq .status.submissionAttempts 1
expect_jq '.spec.arguments[0]' 2000
[ "$(jqo .status.sparkApplicationId)" != "$app_id" ] || fail "the rerun kept the application id"
kc get pod pi-driver -n spark-jobs -o json
expect_rc 0
expect_jq .status.phase Succeeded
[ "$(jqo .metadata.uid)" != "$pod_uid" ] || fail "the rerun kept the old driver pod"
sf plan -f stack.yaml -detailed-exitcode
[ "$rc" -eq 0 ] || { cat "$WORK/.stdout" "$WORK/.stderr"; fail "the plan after the rerun is not empty"; }

# ---- an application kubectl makes and deletes (background propagation)
app adhoc 5 > adhoc.yaml
kc apply -f adhoc.yaml
expect_rc 0
adhoc_done() { [ "$(state_of adhoc)" = COMPLETED ]; }
wait_for adhoc_done
kc get pod adhoc-driver -n spark-jobs -o jsonpath='{.status.phase}'
[ "$(cat "$WORK/.stdout")" = Succeeded ] || fail "adhoc's driver: $(cat "$WORK/.stdout")"
kc delete sparkapplication adhoc -n spark-jobs --wait=false
expect_rc 0
adhoc_driver_gone() { gone pod adhoc-driver; }
wait_for adhoc_driver_gone

# ---- SparkConnect: its server Service on 15002, Ready
kc apply -f objs/crd-connect.yaml
expect_rc 0
kc wait --for condition=Established crd/sparkconnects.sparkoperator.k8s.io --timeout 20s
expect_rc 0
cat > connect.yaml <<'Y'
apiVersion: sparkoperator.k8s.io/v1alpha1
kind: SparkConnect
metadata: {name: sc, namespace: spark-jobs}
spec:
  sparkVersion: 3.5.5
  image: spark:3.5.5
  server: {cores: 1, memory: 512m}
  executor: {instances: 1, cores: 1, memory: 512m}
Y
kc apply -f connect.yaml
expect_rc 0
kc wait --for jsonpath='{.status.state}'=Ready sparkconnect/sc -n spark-jobs --timeout 20s
expect_rc 0
kc get svc sc-server -n spark-jobs -o json
expect_rc 0
expect_jq '.spec.ports[0].port' 15002
expect_jq '.spec.selector["spark-role"]' connect-server
expect_jq '.metadata.ownerReferences[0].kind' SparkConnect
kc get sparkconnect sc -n spark-jobs -o json
expect_rc 0
expect_jq .status.server.serviceName sc-server
expect_jq '.status.conditions[0].type' ServerPodReady
expect_jq '.status.conditions[0].status' True
kc delete sparkconnect sc -n spark-jobs
expect_rc 0
sc_gone() { gone svc sc-server && gone pod sc-server; }
wait_for sc_gone
kc delete crd sparkconnects.sparkoperator.k8s.io
expect_rc 0

# ---- destroy: the job and its driver, then everything else
sf destroy -f stack.yaml -auto-approve
expect_rc 0
expect_inventory "" "after destroy"

# ---- a restart on the same data: a finished application stays as it was,
# a running one goes on to its end
k8s_cluster again
export KUBECONFIG="$WORK/again.kubeconfig"
kc apply -f objs/crd-app.yaml -f objs/ns.yaml
expect_rc 0
kc wait --for condition=Established crd/sparkapplications.sparkoperator.k8s.io --timeout 20s
expect_rc 0
app done 1 > done.yaml
kc apply -f done.yaml
expect_rc 0
done_done() { [ "$(state_of done)" = COMPLETED ]; }
wait_for done_done
kc get sparkapplication done -n spark-jobs -o jsonpath='{.status.sparkApplicationId}'
done_id=$(cat "$WORK/.stdout")
app running 1 > running.yaml
kc apply -f running.yaml
expect_rc 0
running_runs() { [ "$(state_of running)" = RUNNING ]; }
wait_for running_runs
kill -TERM "$lc_pid"
wait "$lc_pid" || fail "localcloud did not exit cleanly"
lc_start lc --delay-ms 700
ci GET "/clusters/$CLUSTER/kube_config"
expect_code 200 "kube_config after the restart"
cp "$WORK/body" "$KUBECONFIG"
running_done() { [ "$(state_of running)" = COMPLETED ]; }
wait_for running_done
kc get pod running-driver -n spark-jobs -o jsonpath='{.status.phase}'
[ "$(cat "$WORK/.stdout")" = Succeeded ] || fail "after the restart: $(cat "$WORK/.stdout")"
kc get sparkapplication done -n spark-jobs -o jsonpath='{.status.applicationState.state} {.status.sparkApplicationId}'
[ "$(cat "$WORK/.stdout")" = "COMPLETED $done_id" ] || fail "the finished application after the restart: $(cat "$WORK/.stdout")"
