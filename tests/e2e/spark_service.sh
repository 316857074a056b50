# The whole SparkService lifecycle on localcloud, a real sshd and the real
# docker-registry: one apply makes the service; kubectl sees the operator
# and History Server Available, the CRDs Established, the job namespace
# and the access accounts; the registry asks for credentials; awscli finds
# the buckets; each access token means its role for kubectl auth can-i, for
# real requests and for the History Server proxy's reviews; the declared
# job COMPLETED; a second plan has nothing to do. Then, one at a time, each
# planning exactly that: a node group's max raised (one update in place),
# a worker flavor changed (one in-place resize), a node group added (one
# create), the History Server disabled (exactly its objects deleted), an
# access entry added (its objects created). Destroy leaves localcloud
# empty and nothing of the test running.
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
REG="http://127.0.0.1:$REG_PORT"
export REG_PW=svc-Secret-1
trap 'stop_registry; cleanup' EXIT
mkdir -p jobs
printf 'print("etl")\n' > jobs/etl.py

# The description; the parts a step changes come from shell variables.
MAX=4 FLAVOR=STD3-8-16 MORE_GROUPS="" HISTORY=true MORE_ACCESS=""
write_service() {
  cat > svc.yaml <<YAML
apiVersion: sparkform/v1
kind: SparkService
metadata: {name: svc, labels: {team: data}}
variables:
  registry_password: {env: REG_PW, sensitive: true}
spec:
  cluster:
    node_groups:
      - {name: executors, flavor: $FLAVOR, autoscaling: {min: 0, max: $MAX}}$MORE_GROUPS
  registry:
    ssh_user: "$(id -un)"
    base_dir: "$BASE"
    listen_address: 127.0.0.1
    port: $REG_PORT
    password: "\${var.registry_password}"
  storage:
    bucket: svc-spark
    force_destroy: true
    extra_buckets: [{name: svc-raw}]
  history_server: {enabled: $HISTORY}
  access:
    - {name: ci, role: submitter}
    - {name: analysts, role: viewer}$MORE_ACCESS
  config_maps:
    - {name: etl-code, namespace: spark-jobs, files: [jobs/etl.py]}
  jobs:
    - name: pi
      namespace: spark-jobs
      wait: true
      spec: {type: Python, mainApplicationFile: "local:///opt/spark/examples/src/main/python/pi.py"}
YAML
}

# step: the plan has exactly ADD CHANGE DESTROY; apply it; nothing after.
step() {
  write_service
  sf plan -f svc.yaml -detailed-exitcode
  expect_rc 2
  [ "$(plan_counts)" = "$1" ] || { cat "$WORK/.stdout"; fail "plan $(plan_counts), expected $1"; }
  cp "$WORK/.stdout" "$WORK/step.plan"
  sf apply -f svc.yaml -auto-approve
  expect_rc 0
  sf plan -f svc.yaml -detailed-exitcode
  expect_rc 0
}
in_plan() { grep -qF -- "$1" "$WORK/step.plan" || { cat "$WORK/step.plan"; fail "the plan lacks: $1"; }; }

# ---- one apply makes the service; a second plan has nothing to do
write_service
sf apply -f svc.yaml -auto-approve
expect_rc 0
expect_out "Apply complete!"
expect_no "$REG_PW"
sf plan -f svc.yaml -detailed-exitcode
expect_rc 0

# ---- the cluster, as kubectl sees it through the kubeconfig output
(umask 077 && "$SPARKFORM" output -raw kubeconfig > "$WORK/admin.kubeconfig")
[ "$(stat -c %a "$WORK/admin.kubeconfig")" = 600 ] || fail "the kubeconfig is not 0600"
export KUBECONFIG="$WORK/admin.kubeconfig"
for d in spark-operator-controller spark-operator-webhook spark-history-server; do
  kc get deployment "$d" -n spark-operator -o jsonpath='{.status.conditions[?(@.type=="Available")].status}'
  [ "$(cat "$WORK/.stdout")" = True ] || fail "deployment $d is not Available: $(cat "$WORK/.stdout" "$WORK/.stderr")"
done
for c in sparkapplications scheduledsparkapplications sparkconnects; do
  kc get crd "$c.sparkoperator.k8s.io" -o jsonpath='{.status.conditions[?(@.type=="Established")].status}'
  [ "$(cat "$WORK/.stdout")" = True ] || fail "CRD $c is not Established"
done
kc get namespace spark-jobs -o jsonpath='{.status.phase}'
[ "$(cat "$WORK/.stdout")" = Active ] || fail "no job namespace"
kc get serviceaccounts -n spark-operator -o name
expect_out serviceaccount/access-ci
expect_out serviceaccount/access-analysts
kc get serviceaccount spark -n spark-jobs -o name
expect_rc 0
kc get mutatingwebhookconfiguration svc-spark-operator-webhook -o jsonpath='{.webhooks[0].clientConfig.caBundle}'
[ -n "$(cat "$WORK/.stdout")" ] || fail "the webhook has no caBundle"
kc get configmap etl-code -n spark-jobs -o jsonpath='{.data.etl\.py}'
[ "$(cat "$WORK/.stdout")" = 'print("etl")' ] || fail "the job's code is not in its config map"
# The declared job ran to the end (the apply waited for it).
kc get sparkapplication pi -n spark-jobs -o jsonpath='{.status.applicationState.state}'
[ "$(cat "$WORK/.stdout")" = COMPLETED ] || fail "job pi: $(cat "$WORK/.stdout")"
kc get sparkapplication pi -n spark-jobs -o jsonpath='{.spec.sparkConf.spark\.eventLog\.dir}'
[ "$(cat "$WORK/.stdout")" = s3a://svc-spark/spark-events ] || fail "the job's event log: $(cat "$WORK/.stdout")"

# ---- the registry: credentials required
[ "$(v2 "$REG")" = 401 ] || fail "the registry answers without credentials"
[ "$(v2 "$REG" "spark:$REG_PW")" = 200 ] || fail "the registry refuses its user"

# ---- the buckets, with Debian's awscli and the service's keys
state_attr() { jq -r ".resources[\"$1\"].attributes.$2" sparkform.state.json; }
printf '[default]\ns3 =\n    addressing_style = path\n' > aws-config
s3api() {
  AWS_ACCESS_KEY_ID=$(state_attr cloud_s3_credentials.service access_key) \
  AWS_SECRET_ACCESS_KEY=$(state_attr cloud_s3_credentials.service secret_key) \
  AWS_DEFAULT_REGION=ru-msk AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE="$WORK/aws-config" \
    /usr/bin/aws --endpoint-url "$URL/s3" s3api "$@"
}
for b in svc-spark svc-raw; do
  s3api head-bucket --bucket "$b" > /dev/null 2>&1 || fail "head-bucket $b"
done
s3api list-objects-v2 --bucket svc-spark --query 'Contents[].Key' --output text > keys.txt
for p in spark-events/ deps/ code/; do grep -qF "$p" keys.txt || fail "no $p in the bucket: $(cat keys.txt)"; done

# ---- the tokens mean their roles
(umask 077 && "$SPARKFORM" output -raw tokens > "$WORK/tokens.json")
jq -r .analysts "$WORK/tokens.json" > "$WORK/viewer-token"
jq -r .ci "$WORK/tokens.json" > "$WORK/submitter-token"
[ -s "$WORK/viewer-token" ] && [ -s "$WORK/submitter-token" ] || fail "no tokens in the output"
as() { local t; t=$(cat "$WORK/$1-token"); shift; kc --token="$t" "$@"; }
can() {
  as "$1" auth can-i "$2" "$3" -n "$4"
  [ "$(cat "$WORK/.stdout")" = "$5" ] || { cat "$WORK/.stdout" "$WORK/.stderr"; fail "$1 can-i $2 $3 -n $4: expected $5"; }
}
can viewer list sparkapplications.sparkoperator.k8s.io spark-jobs yes
can viewer get pods/log spark-jobs yes
can viewer create sparkapplications.sparkoperator.k8s.io spark-jobs no
can viewer get secrets spark-jobs no
can submitter create sparkapplications.sparkoperator.k8s.io spark-jobs yes
can submitter get secrets spark-jobs no
can submitter get secrets spark-operator no
can submitter list sparkapplications.sparkoperator.k8s.io spark-operator no
# Real requests agree.
as viewer get sparkapplications -n spark-jobs -o name
expect_rc 0
expect_out sparkapplication.sparkoperator.k8s.io/pi
cat > adhoc.yaml <<'YAML'
apiVersion: sparkoperator.k8s.io/v1beta2
kind: SparkApplication
metadata: {name: adhoc, namespace: spark-jobs}
spec: {type: Python, mode: cluster, mainApplicationFile: "local:///opt/spark/examples/src/main/python/pi.py"}
YAML
as viewer create -f adhoc.yaml
[ "$rc" -ne 0 ] || fail "the viewer created a SparkApplication"
expect_err 'cannot create resource "sparkapplications" in API group "sparkoperator.k8s.io" in the namespace "spark-jobs"'
as submitter create -f adhoc.yaml
expect_rc 0
as submitter delete sparkapplication adhoc -n spark-jobs
expect_rc 0
as viewer get secret spark-s3 -n spark-jobs
[ "$rc" -ne 0 ] || fail "the viewer read a secret"
as submitter get secret spark-s3 -n spark-operator
[ "$rc" -ne 0 ] || fail "the submitter read a secret outside its namespaces"
expect_err "forbidden"

# ---- the History Server's proxy decides as kube-rbac-proxy does: a
# TokenReview of the caller's token, then the SubjectAccessReview its
# configuration names, sent with the proxy's own account's token.
kc get configmap spark-history-server-proxy -n spark-operator -o jsonpath='{.data.config\.yaml}'
expect_out "resource: \"sparkapplications\""
expect_out "namespace: \"spark-jobs\""
cat > proxy-token.yaml <<'YAML'
apiVersion: v1
kind: Secret
metadata:
  name: proxy-review-token
  namespace: spark-operator
  annotations: {kubernetes.io/service-account.name: spark-history-server}
type: kubernetes.io/service-account-token
YAML
kc apply -f proxy-token.yaml
expect_rc 0
for _ in $(seq 50); do
  kc get secret proxy-review-token -n spark-operator -o jsonpath='{.data.token}'
  [ -s "$WORK/.stdout" ] && break
  sleep 0.1
done
base64 -d "$WORK/.stdout" > "$WORK/proxy-token"
proxy_post() { # PATH BODY: as the proxy's account; the answer in $WORK/body
  code=$(curl -s -o "$WORK/body" -w '%{http_code}' --cacert "$WORK/ca.crt" \
    -H "Authorization: Bearer $(cat "$WORK/proxy-token")" -H 'Content-Type: application/json' \
    --data-binary "$2" "$(jq -r '.clusters[0].cluster.server' "$KUBECONFIG")$1") || code=000
}
jq -r '.clusters[0].cluster["certificate-authority-data"]' "$KUBECONFIG" | base64 -d > "$WORK/ca.crt"
review() { # TOKEN-FILE: a TokenReview, then the SubjectAccessReview for its user
  proxy_post /apis/authentication.k8s.io/v1/tokenreviews \
    "$(jq -cn --rawfile t "$1" '{apiVersion:"authentication.k8s.io/v1",kind:"TokenReview",spec:{token:($t|rtrimstr("\n"))}}')"
  [ "$code" = 201 ] || fail "TokenReview: HTTP $code $(cat "$WORK/body")"
  [ "$(jq -r .status.authenticated "$WORK/body")" = true ] || { echo denied; return; }
  proxy_post /apis/authorization.k8s.io/v1/subjectaccessreviews "$(jq -c '{apiVersion:"authorization.k8s.io/v1",kind:"SubjectAccessReview",
    spec:{user:.status.user.username,uid:.status.user.uid,groups:.status.user.groups,
      resourceAttributes:{namespace:"spark-jobs",group:"sparkoperator.k8s.io",resource:"sparkapplications",verb:"list"}}}' "$WORK/body")"
  [ "$code" = 201 ] || fail "SubjectAccessReview: HTTP $code $(cat "$WORK/body")"
  [ "$(jq -r .status.allowed "$WORK/body")" = true ] && echo allowed || echo denied
}
[ "$(review "$WORK/viewer-token")" = allowed ] || fail "the proxy would refuse the viewer"
echo not-a-token > "$WORK/bad-token"
[ "$(review "$WORK/bad-token")" = denied ] || fail "the proxy would let an unknown token in"
kc delete secret proxy-review-token -n spark-operator
expect_rc 0

# ---- one change at a time, each planning exactly that
MAX=8
step "0 1 0"
in_plan "# cloud_node_group.group[executors] will be updated in place"
in_plan "max_nodes"
FLAVOR=STD3-16-32
step "0 1 0"
in_plan "# cloud_node_group.group[executors] will be updated in place"
in_plan '"STD3-8-16" -> "STD3-16-32"'
MORE_GROUPS="
      - {name: gpu, flavor: STD3-4-8, count: 1, labels: {role: gpu}}"
step "1 0 0"
in_plan "# cloud_node_group.group[gpu] will be created"
HISTORY=false
write_service
sf plan -f svc.yaml -detailed-exitcode
expect_rc 2
destroyed=$(grep -c '^  # .* will be destroyed$' "$WORK/.stdout")
history=$(grep -c '^  # module\.history\..* will be destroyed$' "$WORK/.stdout")
[ "$destroyed" -gt 0 ] && [ "$destroyed" = "$history" ] ||
  { cat "$WORK/.stdout"; fail "disabling the History Server destroys $destroyed objects, $history of them its own"; }
[ "$(plan_counts)" = "0 0 $history" ] || fail "disabling the History Server: plan $(plan_counts)"
sf apply -f svc.yaml -auto-approve
expect_rc 0
kc get deployment spark-history-server -n spark-operator
[ "$rc" -ne 0 ] || fail "the History Server is still there"
MORE_ACCESS="
    - {name: admins, role: admin}"
step "4 0 0"
in_plan "# module.access[admins].kubernetes_service_account_token.token will be created"
in_plan "# module.access[admins].kubernetes_manifest.role[spark-jobs] will be created"
(umask 077 && "$SPARKFORM" output -raw tokens > "$WORK/tokens.json")
jq -r .admins "$WORK/tokens.json" > "$WORK/admin-role-token"
can admin-role get secrets spark-jobs yes
can admin-role get secrets spark-operator no

# ---- destroy: nothing left in localcloud, no registry running
sf destroy -f svc.yaml -auto-approve
expect_rc 0
expect_inventory "" "after destroy"
[ "$(v2 "$REG")" = 000 ] || fail "the registry still answers after destroy"
sshd_stop
