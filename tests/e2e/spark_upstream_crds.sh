# A SparkService with the Spark Operator's upstream CRDs (operator.crds: a
# git source) on localcloud, a real sshd and the real docker-registry. The
# test makes the repository itself (file://): a directory of three CRDs
# with the upstream names, groups, versions and status subresources, at
# tag v2.1.0, and v2.2.0 where one of them changed. init locks the source;
# one apply makes the service with those CRDs Established (kubectl) and the
# declared job COMPLETED; a second plan has nothing to do. Moving the ref
# without init is an error that says to run it; after init the plan is
# exactly one update, that CRD's, and applying it changes it in the cluster.
. "$ROOT/tests/e2e/lib-cloud.sh"
. "$ROOT/tests/e2e/lib-ssh.sh"
. "$ROOT/tests/e2e/lib-registry.sh"
. "$ROOT/tests/e2e/lib-k8s.sh"

AUTH="$WORK/authorized_keys"
sshd_start "$AUTH"
cloud_start --ssh "127.0.0.1:$SSHD_PORT" --ssh-host-key "$SSHD_HOST_KEY.pub" --ssh-authorized-keys "$AUTH"
unset AWS_ENDPOINT_URL_S3 AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION AWS_CA_BUNDLE AWS_PROFILE
BASE="$WORK/registry"
REG_PORT=$(free_port)
export REG_PW=crds-Secret-1
trap 'stop_registry; cleanup' EXIT

# ---- the operator's repository: charts/spark-operator-chart/crds
CRDS=charts/spark-operator-chart/crds
crd() { # KIND PLURAL SHORT VERSION STATE-PATH: one CRD file
  cat > "repo/$CRDS/sparkoperator.k8s.io_$2.yaml" <<YAML
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: $2.sparkoperator.k8s.io
  annotations: {controller-gen.kubebuilder.io/version: v0.17.1}
spec:
  group: sparkoperator.k8s.io
  scope: Namespaced
  names:
    kind: $1
    listKind: ${1}List
    plural: $2
    singular: $(echo "$1" | tr 'A-Z' 'a-z')
    shortNames: [$3]
  versions:
    - name: $4
      served: true
      storage: true
      subresources: {status: {}}
      additionalPrinterColumns:
        - {name: Status, type: string, jsonPath: $5}
        - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
      schema:
        openAPIV3Schema:
          type: object
          properties:
            apiVersion: {type: string}
            kind: {type: string}
            metadata: {type: object}
            spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
            status: {type: object, x-kubernetes-preserve-unknown-fields: true}
YAML
}
git_commit() { git -C repo -c user.email=dev@example.com -c user.name=dev commit -qam "$1"; }
mkdir -p "repo/$CRDS"
git -C repo init -q .
crd SparkApplication sparkapplications sparkapp v1beta2 .status.applicationState.state
crd ScheduledSparkApplication scheduledsparkapplications scheduledsparkapp v1beta2 .status.scheduleState
crd SparkConnect sparkconnects sparkconn v1alpha1 .status.state
printf '# charts\n' > repo/README.md
git -C repo add .
git_commit "CRDs"
git -C repo tag v2.1.0
# v2.2.0: the ScheduledSparkApplication's list shows its last run too.
sed -i 's|^        - {name: Age,|        - {name: Last Run, type: date, jsonPath: .status.lastRun}\n&|' \
  "repo/$CRDS/sparkoperator.k8s.io_scheduledsparkapplications.yaml"
git_commit "ScheduledSparkApplication: Last Run column"
git -C repo tag v2.2.0

REF=v2.1.0
write_service() {
  cat > svc.yaml <<YAML
apiVersion: sparkform/v1
kind: SparkService
metadata: {name: up}
variables:
  registry_password: {env: REG_PW, sensitive: true}
spec:
  cluster:
    node_groups: [{name: executors, flavor: STD3-4-8, count: 1}]
  registry:
    ssh_user: "$(id -un)"
    base_dir: "$BASE"
    listen_address: 127.0.0.1
    port: $REG_PORT
    password: "\${var.registry_password}"
  storage: {bucket: up-spark, force_destroy: true}
  operator:
    crds: "git::file://$WORK/repo//$CRDS?ref=$REF"
  history_server: {enabled: false}
  jobs:
    - name: pi
      namespace: spark-jobs
      wait: true
      spec: {type: Python, mainApplicationFile: "local:///opt/spark/examples/src/main/python/pi.py"}
YAML
}

# ---- before init: the source is not locked
write_service
sf plan -f svc.yaml
expect_rc 1
expect_err "is not in the lock file yet; run sparkform init"
expect_err "svc.yaml:17:11"
sf init -f svc.yaml
expect_rc 0
expect_out "Wrote"
jq -e --arg s "git::file://$WORK/repo//$CRDS?ref=v2.1.0" '.modules[$s].commit | length == 40' sparkform.lock.json > /dev/null ||
  fail "the lock lacks the CRDs' source: $(cat sparkform.lock.json)"

# ---- one apply; kubectl sees the upstream CRDs; the job ran
sf apply -f svc.yaml -auto-approve
expect_rc 0
expect_out "Apply complete!"
expect_no "$REG_PW"
grep -qF 'kubernetes_manifest.upstream_crds[CustomResourceDefinition/sparkconnects.sparkoperator.k8s.io]' sparkform.state.json ||
  fail "no upstream CRD in the state"
! grep -qF 'kubernetes_manifest.crd[' sparkform.state.json || fail "the own CRDs were applied too"
sf plan -f svc.yaml -detailed-exitcode
expect_rc 0
(umask 077 && "$SPARKFORM" output -raw kubeconfig > "$WORK/admin.kubeconfig")
export KUBECONFIG="$WORK/admin.kubeconfig"
for c in sparkapplications:v1beta2 scheduledsparkapplications:v1beta2 sparkconnects:v1alpha1; do
  kc get crd "${c%%:*}.sparkoperator.k8s.io" \
    -o jsonpath='{.status.conditions[?(@.type=="Established")].status} {.spec.versions[0].name} {.metadata.annotations}'
  expect_rc 0
  case "$(cat "$WORK/.stdout")" in
    "True ${c#*:} "*controller-gen*) ;;
    *) fail "CRD ${c%%:*}: $(cat "$WORK/.stdout" "$WORK/.stderr")" ;;
  esac
done
kc get sparkapplication pi -n spark-jobs -o jsonpath='{.status.applicationState.state}'
[ "$(cat "$WORK/.stdout")" = COMPLETED ] || fail "job pi: $(cat "$WORK/.stdout" "$WORK/.stderr")"

# ---- another ref: an error until init, then exactly that CRD's update
REF=v2.2.0
write_service
sf plan -f svc.yaml
expect_rc 1
expect_err "does not match the lock file"
expect_err "run sparkform init"
expect_err "svc.yaml:17:11"
sf init -f svc.yaml
expect_rc 0
sf plan -f svc.yaml -detailed-exitcode
expect_rc 2
[ "$(plan_counts)" = "0 1 0" ] || { cat "$WORK/.stdout"; fail "plan $(plan_counts), expected 0 1 0"; }
expect_out "# module.operator.kubernetes_manifest.upstream_crds[CustomResourceDefinition/scheduledsparkapplications.sparkoperator.k8s.io] will be updated in place"
expect_out "Last Run"
sf apply -f svc.yaml -auto-approve
expect_rc 0
kc get crd scheduledsparkapplications.sparkoperator.k8s.io -o jsonpath='{.spec.versions[0].additionalPrinterColumns[1].name}'
[ "$(cat "$WORK/.stdout")" = "Last Run" ] || fail "the CRD was not updated: $(cat "$WORK/.stdout" "$WORK/.stderr")"
sf plan -f svc.yaml -detailed-exitcode
expect_rc 0
sshd_stop
