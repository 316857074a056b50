# The kubernetes provider's kubernetes_manifest against localcloud: ONE
# apply makes the network, the cluster and, inside it, a namespace, a CRD
# and a custom resource of it, a ConfigMap from a source file, a
# Deployment (wait rollout), a Service, a ServiceAccount, a Role and its
# RoleBinding, a Job (wait complete), a Secret and a ConfigMap from a
# file, with the kubeconfig unknown at plan time. The real kubectl sees them and `kubectl diff --server-side`
# finds nothing; drift by another field manager shows only where sparkform
# manages; a conflict fails naming the manager, force_conflicts takes the
# fields over; a changed source file plans one update; a source of several
# documents is one resource per document (one edited: one update; one
# removed: one destroy); import of an object plans nothing after; destroy
# leaves nothing. No object says depends_on:
# the provider's order keys put the namespace before what lives in it, the
# CRD before its Widget, the ServiceAccount and Role before the binding,
# and destroy deletes in reverse.
. "$ROOT/tests/e2e/lib-cloud.sh"
. "$ROOT/tests/e2e/lib-k8s.sh"
command -v kubectl >/dev/null || fail "kubectl is not installed"
LC_DELAY_MS=100 cloud_start

mkdir objs
cat > objs/ns.yaml <<'Y'
apiVersion: v1
kind: Namespace
metadata: {name: apps}
Y
cp "$ROOT/tests/e2e/k8s-manifests/00-crd.yaml" objs/crd.yaml
cat > objs/widget.yaml <<'Y'
apiVersion: example.com/v1
kind: Widget
metadata: {name: gizmo, namespace: apps}
spec: {size: 3, colour: green}
Y
cat > objs/cm.yaml <<'Y'
apiVersion: v1
kind: ConfigMap
metadata: {name: app-config, namespace: apps, labels: {app: web}}
data: {mode: fast, level: "3"}
Y
cat > objs/deploy.yaml <<'Y'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: apps}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: nginx:1.27
          ports: [{containerPort: 80}]
Y
cat > objs/svc.yaml <<'Y'
apiVersion: v1
kind: Service
metadata: {name: web, namespace: apps}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80}]
Y
cat > objs/sa.yaml <<'Y'
apiVersion: v1
kind: ServiceAccount
metadata: {name: runner, namespace: apps}
Y
cat > objs/role.yaml <<'Y'
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: reader, namespace: apps}
rules:
  - apiGroups: [""]
    resources: [configmaps]
    verbs: [get, list]
Y
cat > objs/binding.yaml <<'Y'
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: runner-reader, namespace: apps}
subjects: [{kind: ServiceAccount, name: runner, namespace: apps}]
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}
Y
cat > objs/job.yaml <<'Y'
apiVersion: batch/v1
kind: Job
metadata: {name: once, namespace: apps}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: once, image: busybox:1.36, command: [echo, hi]}]
Y

# obj NAME FILE [EXTRA LINES]: a kubernetes_manifest resource whose
# manifest is the file's text (the same text kubectl diff reads)
obj() {
  echo "  - type: kubernetes_manifest"
  echo "    name: $1"
  echo "    with:"
  echo "      kubeconfig: \"\${cloud_k8s_cluster.k8s.kubeconfig}\""
  [ -n "${3:-}" ] && echo "      $3"
  echo "      manifest:"
  sed 's/^/        /' "objs/$2.yaml"
}
write_k8s_stack() {
  {
    cat <<'Y'
apiVersion: sparkform/v1
kind: Stack
metadata: {name: k8stest}
variables:
  s3_secret: {env: S3_SECRET, sensitive: true}
resources:
  - {type: cloud_network, name: net, with: {name: k8s-net}}
  - type: cloud_subnet
    name: sub
    with: {name: k8s-sub, network_id: "${cloud_network.net.id}", cidr: 10.10.0.0/24}
  - type: cloud_k8s_cluster
    name: k8s
    with:
      name: k8s
      version: "1.32"
      network_id: "${cloud_network.net.id}"
      subnet_id: "${cloud_subnet.sub.id}"
      master_flavor: STD3-4-8
Y
    obj ns ns
    obj crd crd
    obj widget widget
    cat <<Y
  - type: kubernetes_manifest
    name: cm
    with:
      kubeconfig: "\${cloud_k8s_cluster.k8s.kubeconfig}"
      source: objs/cm.yaml
      force_conflicts: ${FORCE:-false}
Y
    obj deploy deploy "wait: {rollout: true}"
    obj svc svc
    obj sa sa
    obj role role
    obj binding binding
    obj job job "wait: {complete: true}"
    cat <<'Y'
  - type: kubernetes_secret
    name: creds
    with:
      kubeconfig: "${cloud_k8s_cluster.k8s.kubeconfig}"
      namespace: apps
      name: s3-creds
      data: {access_key: AKIAEXAMPLE, secret_key: "${var.s3_secret}"}
  - type: kubernetes_config_map
    name: code
    with:
      kubeconfig: "${cloud_k8s_cluster.k8s.kubeconfig}"
      namespace: apps
      name: job-code
      files: {etl.py: objs/etl.py}
Y
    [ -n "${MULTI:-}" ] && cat <<'Y'
  - type: kubernetes_manifest
    name: bundle
    with:
      kubeconfig: "${cloud_k8s_cluster.k8s.kubeconfig}"
      source: objs-multi/bundle.yaml
Y
    [ -n "${EXTRA:-}" ] && cat <<'Y'
  - type: kubernetes_manifest
    name: extra
    with:
      manifest: {apiVersion: v1, kind: ConfigMap, metadata: {name: extra, namespace: default}, data: {a: "1"}}
Y
    echo 'outputs: {kubeconfig: {value: "${cloud_k8s_cluster.k8s.kubeconfig}", sensitive: true}}'
  } > stack.yaml
}
export S3_SECRET=k8stest-secret-value-1
printf 'print("etl")\n' > objs/etl.py
write_k8s_stack
grep -q depends_on stack.yaml && fail "the stack still says depends_on"

# first_line PATTERN: the line number of PATTERN's first match in the
# last command's output (0 when none)
first_line() {
  local n
  n=$(grep -n -m1 -F -- "$1" "$WORK/.stdout" | cut -d: -f1)
  echo "${n:-0}"
}
# before A B: A's first line comes before B's, both present
before() {
  local a b
  a=$(first_line "$1"); b=$(first_line "$2")
  [ "$a" -gt 0 ] && [ "$b" -gt 0 ] && [ "$a" -lt "$b" ] ||
    { cat "$WORK/.stdout"; fail "order: \"$1\" (line $a) is not before \"$2\" (line $b)"; }
}

# ---- the graph has the order edges
"$SPARKFORM" graph -f stack.yaml > graph.dot || fail "sparkform graph"
for e in '"kubernetes_manifest.ns" -> "kubernetes_manifest.cm"' \
         '"kubernetes_manifest.crd" -> "kubernetes_manifest.widget"' \
         '"kubernetes_manifest.sa" -> "kubernetes_manifest.binding"' \
         '"kubernetes_manifest.role" -> "kubernetes_manifest.binding"'; do
  grep -qF -- "$e" graph.dot || { cat graph.dot; fail "graph: no edge $e"; }
done

# ---- plan with the cluster not there: the bodies, the kubeconfig unknown
sf plan -f stack.yaml
expect_rc 0
expect_out "# kubernetes_manifest.deploy will be created"
expect_out "nginx:1.27"
expect_out "app-config"
[ "$(plan_counts)" = "15 0 0" ] || { cat "$WORK/.stdout"; fail "plan $(plan_counts), expected 15 creates"; }

# ---- one apply: the cluster, then everything inside it
start=$(date +%s)
sf apply -f stack.yaml -auto-approve
expect_rc 0
echo "apply took $(( $(date +%s) - start )) s" >&2
for o in cm deploy svc sa role job widget; do
  before "kubernetes_manifest.ns: Creation complete" "kubernetes_manifest.$o: Creating"
done
before "kubernetes_manifest.crd: Creation complete" "kubernetes_manifest.widget: Creating"
before "kubernetes_manifest.sa: Creation complete" "kubernetes_manifest.binding: Creating"
before "kubernetes_manifest.role: Creation complete" "kubernetes_manifest.binding: Creating"
before "kubernetes_manifest.ns: Creation complete" "kubernetes_secret.creds: Creating"
before "kubernetes_manifest.ns: Creation complete" "kubernetes_config_map.code: Creating"
expect_no "$S3_SECRET"
(umask 077; "$SPARKFORM" output -raw kubeconfig > kc.json) || fail "output -raw kubeconfig"
[ "$(stat -c %a kc.json)" = 600 ] || fail "kc.json is not 0600"
export KUBECONFIG="$WORK/kc.json"
token=$(jq -r '.users[0].user.token' kc.json)
[ -n "$token" ] && [ "$token" != null ] || fail "the kubeconfig output has no token"
expect_no "$token"
SF_LOG=debug sf plan -f stack.yaml
expect_rc 0
expect_out "No changes"
expect_no "$token"

for o in ns/apps crd/widgets.example.com "widget/gizmo -n apps" "cm/app-config -n apps" \
         "deploy/web -n apps" "svc/web -n apps" "sa/runner -n apps" "role/reader -n apps" \
         "rolebinding/runner-reader -n apps" "job/once -n apps"; do
  kc get $o -o json
  expect_rc 0
done
kc get secret/s3-creds -n apps -o jsonpath='{.data.secret_key}'
[ "$(base64 -d < "$WORK/.stdout")" = "$S3_SECRET" ] || fail "the secret's value is not the variable's"
kc get cm/job-code -n apps -o jsonpath='{.data.etl\.py}'
[ "$(cat "$WORK/.stdout")" = 'print("etl")' ] || fail "the config map does not hold the file"
kc get deploy/web -n apps -o jsonpath='{.status.availableReplicas}'
[ "$(cat "$WORK/.stdout")" = 2 ] || fail "the rollout was not waited for"
kc get job/once -n apps -o jsonpath='{.status.conditions[?(@.type=="Complete")].status}'
[ "$(cat "$WORK/.stdout")" = True ] || fail "the job was not waited for"
kc diff --server-side -f objs
[ "$rc" -eq 0 ] || { cat "$WORK/.stdout" "$WORK/.stderr"; fail "kubectl diff shows differences"; }

sf plan -f stack.yaml -detailed-exitcode
[ "$rc" -eq 0 ] || { cat "$WORK/.stdout" "$WORK/.stderr"; fail "the plan after apply is not empty"; }

# ---- drift by another field manager: only where sparkform manages
kc patch cm app-config -n apps --field-manager intruder --type merge \
  -p '{"data":{"mode":"slow","other":"theirs"}}'
expect_rc 0
sf plan -f stack.yaml -detailed-exitcode
expect_rc 2
[ "$(plan_counts)" = "0 1 0" ] || { cat "$WORK/.stdout"; fail "drift: plan $(plan_counts)"; }
expect_out "kubernetes_manifest.cm will be updated in place"
expect_out '"slow"'
expect_no_out theirs

# ---- the conflict: named without force_conflicts, taken over with it
sf apply -f stack.yaml -auto-approve
expect_rc 1
expect_err '"intruder"'
expect_err ".data.mode"
expect_err "force_conflicts"
FORCE=true write_k8s_stack
sf apply -f stack.yaml -auto-approve
expect_rc 0
kc get cm app-config -n apps -o jsonpath='{.data.mode}/{.data.other}'
[ "$(cat "$WORK/.stdout")" = fast/theirs ] || fail "force: $(cat "$WORK/.stdout")"
FORCE=true write_k8s_stack
sf plan -f stack.yaml -detailed-exitcode
expect_rc 0

# ---- a changed source file plans one update
sed -i 's/mode: fast/mode: quick/' objs/cm.yaml
sf plan -f stack.yaml -detailed-exitcode
expect_rc 2
[ "$(plan_counts)" = "0 1 0" ] || { cat "$WORK/.stdout"; fail "source: plan $(plan_counts)"; }
sf apply -f stack.yaml -auto-approve
expect_rc 0
kc get cm app-config -n apps -o jsonpath='{.data.mode}'
[ "$(cat "$WORK/.stdout")" = quick ] || fail "source update not applied"

# ---- import through the provider-level connection (KUBECONFIG)
FORCE=true EXTRA=1 write_k8s_stack
sf apply -f stack.yaml -auto-approve
expect_rc 0
sf state rm kubernetes_manifest.extra
expect_rc 0
sf import -f stack.yaml kubernetes_manifest.extra v1/ConfigMap/default/extra
expect_rc 0
sf plan -f stack.yaml -detailed-exitcode
[ "$rc" -eq 0 ] || { cat "$WORK/.stdout" "$WORK/.stderr"; fail "the plan after import is not empty"; }

# ---- a source of several documents: one resource per document
mkdir -p objs-multi
cat > objs-multi/bundle.yaml <<'Y'
apiVersion: v1
kind: ConfigMap
metadata: {name: first, namespace: apps}
data: {n: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: second, namespace: apps}
data: {n: "2"}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: bundled, namespace: apps}
---
Y
FORCE=true EXTRA=1 MULTI=1 write_k8s_stack
sf plan -f stack.yaml -detailed-exitcode
expect_rc 2
[ "$(plan_counts)" = "3 0 0" ] || { cat "$WORK/.stdout"; fail "bundle: plan $(plan_counts), expected 3 to add"; }
for k in ConfigMap/apps/first ConfigMap/apps/second ServiceAccount/apps/bundled; do
  expect_out "# kubernetes_manifest.bundle[$k] will be created"
done
sf apply -f stack.yaml -auto-approve
expect_rc 0
for o in cm/first cm/second sa/bundled; do
  kc get $o -n apps -o json
  expect_rc 0
done
sf plan -f stack.yaml -detailed-exitcode
expect_rc 0
# one document changed: that resource alone
sed -i 's/n: "2"/n: "two"/' objs-multi/bundle.yaml
sf plan -f stack.yaml -detailed-exitcode
expect_rc 2
[ "$(plan_counts)" = "0 1 0" ] || { cat "$WORK/.stdout"; fail "bundle edit: plan $(plan_counts)"; }
expect_out "# kubernetes_manifest.bundle[ConfigMap/apps/second] will be updated in place"
sf apply -f stack.yaml -auto-approve
expect_rc 0
kc get cm second -n apps -o jsonpath='{.data.n}'
[ "$(cat "$WORK/.stdout")" = two ] || fail "the edited document was not applied"
# one document removed from the file: that object is destroyed
head -n 10 objs-multi/bundle.yaml > objs-multi/two.yaml && mv objs-multi/two.yaml objs-multi/bundle.yaml
sf plan -f stack.yaml -detailed-exitcode
expect_rc 2
[ "$(plan_counts)" = "0 0 1" ] || { cat "$WORK/.stdout"; fail "bundle removal: plan $(plan_counts)"; }
expect_out "# kubernetes_manifest.bundle[ServiceAccount/apps/bundled] will be destroyed"
sf apply -f stack.yaml -auto-approve
expect_rc 0
kc get sa bundled -n apps
[ "$rc" -ne 0 ] || fail "the removed document's object is still there"

# ---- destroy: everything, the cluster last
sf destroy -f stack.yaml -auto-approve
expect_rc 0
for o in cm deploy svc sa role job widget "bundle[ConfigMap/apps/first]"; do
  before "kubernetes_manifest.$o: Destruction complete" "kubernetes_manifest.ns: Destroying"
done
before "kubernetes_manifest.widget: Destruction complete" "kubernetes_manifest.crd: Destroying"
before "kubernetes_manifest.binding: Destruction complete" "kubernetes_manifest.sa: Destroying"
expect_inventory "" "after destroy"
