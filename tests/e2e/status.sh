# `sparkform status` against localcloud, a real sshd and the real
# docker-registry: a stack of a network, a cluster, an autoscaling node
# group, the registry VM and its registry, S3 credentials and a bucket, and
# in the cluster a CRD, a Deployment and a SparkApplication (of a CRD the
# stack makes; its status is written through the status subresource, as
# the operator would). After apply every resource shows its live state,
# the table and -json agree, and status exits 0. Then, one at a time, each
# change made outside sparkform shows: the node group scaled through the
# cloud's API, the job FAILED (exit 2) and COMPLETED again, the registry
# stopped (unreachable, exit 2), the cluster turned off (exit 2, and the
# objects inside it unreachable). No secret is ever printed; without a
# state, or with the cloud gone, status fails with exit 1 and says why.
. "$ROOT/tests/e2e/lib-cloud.sh"
. "$ROOT/tests/e2e/lib-k8s.sh"
. "$ROOT/tests/e2e/lib-ssh.sh"
. "$ROOT/tests/e2e/lib-registry.sh"
command -v kubectl >/dev/null || fail "kubectl is not installed"

AUTH="$WORK/authorized_keys"
sshd_start "$AUTH"
LC_DELAY_MS=100 cloud_start --ssh "127.0.0.1:$SSHD_PORT" --ssh-host-key "$SSHD_HOST_KEY.pub" \
  --ssh-authorized-keys "$AUTH"
unset AWS_ENDPOINT_URL_S3 AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION AWS_CA_BUNDLE AWS_PROFILE

BASE="$WORK/registry"
REG_PORT=$(free_port)
REG="http://127.0.0.1:$REG_PORT"
export REG_PW=status-Secret-Pw-1
trap 'stop_registry; cleanup' EXIT

cat > stack.yaml <<YAML
apiVersion: sparkform/v1
kind: Stack
metadata: {name: statustest}
variables:
  pw: {env: REG_PW, sensitive: true}
resources:
  - {type: local_ssh_key, name: k, with: {comment: statustest}}
  - type: cloud_keypair
    name: kp
    with: {name: st-key, public_key: "\${local_ssh_key.k.public_key_openssh}"}
  - {type: cloud_network, name: net, with: {name: st-net}}
  - type: cloud_subnet
    name: sub
    with: {name: st-sub, network_id: "\${cloud_network.net.id}", cidr: 10.50.0.0/24}
  - type: cloud_k8s_cluster
    name: k8s
    with:
      name: st-k8s
      version: "1.32"
      network_id: "\${cloud_network.net.id}"
      subnet_id: "\${cloud_subnet.sub.id}"
      master_flavor: STD3-4-8
  - type: cloud_node_group
    name: workers
    with:
      cluster_id: "\${cloud_k8s_cluster.k8s.id}"
      name: workers
      flavor: STD3-4-8
      node_count: 1
      autoscaling_enabled: true
      min_nodes: 1
      max_nodes: 4
  - type: cloud_server
    name: registry
    depends_on: [cloud_subnet.sub]
    with:
      name: st-registry
      flavor: STD2-2-4
      image: ubuntu-22.04
      network_id: "\${cloud_network.net.id}"
      keypair: "\${cloud_keypair.kp.name}"
  - type: ssh_registry
    name: reg
    with:
      host: "\${cloud_server.registry.ssh_host}"
      ssh_port: "\${cloud_server.registry.ssh_port}"
      ssh_user: "$(id -un)"
      host_key_fingerprint: "\${cloud_server.registry.host_key_fingerprint}"
      private_key: "\${local_ssh_key.k.private_key_openssh}"
      base_dir: "$BASE"
      listen_address: 127.0.0.1
      port: $REG_PORT
      users: {builder: "\${var.pw}"}
  - {type: cloud_s3_credentials, name: s3, with: {}}
  - type: s3_bucket
    name: events
    with:
      name: st-events
      versioning: true
      force_destroy: true
      access_key: "\${cloud_s3_credentials.s3.access_key}"
      secret_key: "\${cloud_s3_credentials.s3.secret_key}"
  - type: s3_object
    name: code
    with:
      bucket: "\${s3_bucket.events.name}"
      key: code/etl.py
      content: "print('etl')"
      access_key: "\${cloud_s3_credentials.s3.access_key}"
      secret_key: "\${cloud_s3_credentials.s3.secret_key}"
  - type: kubernetes_manifest
    name: crd
    with:
      kubeconfig: "\${cloud_k8s_cluster.k8s.kubeconfig}"
      manifest:
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata: {name: sparkapplications.sparkoperator.k8s.io}
        spec:
          group: sparkoperator.k8s.io
          scope: Namespaced
          names: {plural: sparkapplications, singular: sparkapplication, kind: SparkApplication}
          versions:
            - name: v1beta2
              served: true
              storage: true
              subresources: {status: {}}
              schema:
                openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
  - type: kubernetes_manifest
    name: web
    with:
      kubeconfig: "\${cloud_k8s_cluster.k8s.kubeconfig}"
      wait: {rollout: true}
      manifest:
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web, namespace: default}
        spec:
          replicas: 2
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec: {containers: [{name: web, image: "nginx:1.27"}]}
  - type: kubernetes_manifest
    name: etl
    with:
      kubeconfig: "\${cloud_k8s_cluster.k8s.kubeconfig}"
      manifest:
        apiVersion: sparkoperator.k8s.io/v1beta2
        kind: SparkApplication
        metadata: {name: etl, namespace: default}
        spec: {type: Python, mode: cluster, mainApplicationFile: "local:///code/etl.py"}
outputs:
  kubeconfig: {value: "\${cloud_k8s_cluster.k8s.kubeconfig}", sensitive: true}
  secret_key: {value: "\${cloud_s3_credentials.s3.secret_key}", sensitive: true}
YAML

sf apply -f stack.yaml -auto-approve
expect_rc 0

# What must never be printed: the registry's password, the S3 secret key,
# the kubeconfig's token and its client key.
"$SPARKFORM" output -raw secret_key > s3secret.txt
(umask 077; "$SPARKFORM" output -raw kubeconfig > kc.json)
export KUBECONFIG="$WORK/kc.json"
S3_SECRET=$(cat s3secret.txt)
[ -n "$S3_SECRET" ] || fail "no S3 secret key in the outputs"
KUBE_TOKEN=$(kubectl config view --raw -o jsonpath='{.users[0].user.token}')
no_secrets() {
  expect_no "$REG_PW"
  expect_no "$S3_SECRET"
  [ -z "$KUBE_TOKEN" ] || expect_no "$KUBE_TOKEN"
  expect_no "BEGIN"   # no PEM block: private keys, certificates
}

# status_json: `status -json` into status.json; rc as run's.
status_json() {
  sf status -f stack.yaml -json
  cp "$WORK/.stdout" status.json
  no_secrets
}
# field ADDRESS EXPR: a field of one resource of status.json.
field() { jq -r --arg a "$1" ".resources[] | select(.address == \$a) | $2" status.json; }
expect_field() {
  local got; got=$(field "$1" "$2")
  [ "$got" = "$3" ] || { cat status.json; fail "$1 $2 is '$got', expected '$3'"; }
}
# row ADDRESS STATE: the table has that row with that state.
expect_row() {
  grep -qE "^  $(printf '%s' "$1" | sed 's/[.[]/\\&/g') +$2 " "$WORK/.stdout" ||
    { cat "$WORK/.stdout"; fail "the table has no row $1 in state $2"; }
}

# ---- the job's status, as the operator would write it
set_job_state() {
  kc patch sparkapplication etl -n default --subresource=status --type=merge \
    -p "{\"status\":{\"applicationState\":{\"state\":\"$1\",\"errorMessage\":\"${2:-}\"},\"driverInfo\":{\"podName\":\"etl-driver\"}}}"
  expect_rc 0
}
set_job_state COMPLETED

# ---- everything healthy: the table
sf status -f stack.yaml
expect_rc 0
no_secrets
expect_row cloud_k8s_cluster.k8s RUNNING
expect_row cloud_node_group.workers RUNNING
expect_row cloud_server.registry ACTIVE
expect_row ssh_registry.reg READY
expect_row s3_bucket.events EXISTS
expect_row kubernetes_manifest.crd ESTABLISHED
expect_row kubernetes_manifest.web AVAILABLE
expect_row kubernetes_manifest.etl COMPLETED
expect_out "Kubernetes 1.32, API at https://"
expect_out "1 node, autoscaling 1..4"
expect_out "1 object, versioning on"
expect_out "2/2 replicas ready"
expect_out "401 without credentials, 200 for 1 user"
expect_out "8 resources, all healthy."
# kinds no hook looks at are counted, not shown
expect_no_out "cloud_network.net"
expect_out "(6 more in the state have no live status to show.)"
# grouped the way a service reads: cluster, registry, buckets, objects, jobs
order=$(grep -nE '^(Cluster and node groups|Registry|Buckets|Kubernetes objects|Spark jobs)$' "$WORK/.stdout" | cut -d: -f2 | tr '\n' '|')
[ "$order" = "Cluster and node groups|Registry|Buckets|Kubernetes objects|Spark jobs|" ] ||
  { cat "$WORK/.stdout"; fail "groups in the order '$order'"; }
line_of() { grep -n -m1 -F -- "$1" "$WORK/.stdout" | cut -d: -f1; }
[ "$(line_of kubernetes_manifest.etl)" -gt "$(line_of 'Spark jobs')" ] || fail "the job is not under Spark jobs"
! grep -q $'\033' "$WORK/.stdout" || fail "colors with NO_COLOR set"
# no terminal: no colors either, NO_COLOR or not
NO_COLOR= run env -u NO_COLOR "$SPARKFORM" status -f stack.yaml
expect_rc 0
! grep -q $'\033' "$WORK/.stdout" || fail "colors on a pipe"

# ---- the same as JSON
status_json
expect_rc 0
[ "$(jq -r '.resources | length' status.json)" = 8 ] || { cat status.json; fail "-json: not 8 resources"; }
[ "$(jq -r '[.resources[] | select(.healthy != true)] | length' status.json)" = 0 ] || fail "-json: unhealthy resources"
[ "$(jq -r '.healthy' status.json)" = true ] || fail "-json: healthy is not true"
expect_field cloud_k8s_cluster.k8s .state RUNNING
expect_field cloud_k8s_cluster.k8s .version 1.32
expect_field cloud_k8s_cluster.k8s '.api_address | startswith("https://")' true
expect_field cloud_k8s_cluster.k8s .group cluster
expect_field cloud_node_group.workers .node_count 1
expect_field cloud_node_group.workers .min_nodes 1
expect_field cloud_node_group.workers .max_nodes 4
expect_field cloud_node_group.workers .autoscaling true
expect_field cloud_server.registry .status ACTIVE
expect_field ssh_registry.reg .anonymous_status 401
expect_field ssh_registry.reg .users_accepted 1
expect_field ssh_registry.reg .url "$REG"
expect_field s3_bucket.events .versioning true
expect_field s3_bucket.events .objects 1
expect_field kubernetes_manifest.crd .state ESTABLISHED
expect_field kubernetes_manifest.web .ready_replicas 2
expect_field kubernetes_manifest.web .group kubernetes
expect_field kubernetes_manifest.etl .application_state COMPLETED
expect_field kubernetes_manifest.etl .driver_pod etl-driver
expect_field kubernetes_manifest.etl .group jobs
# the table and the JSON agree on every state
sf status -f stack.yaml
for a in $(jq -r '.resources[].address' status.json); do expect_row "$a" "$(field "$a" .state)"; done

# ---- the node group scaled through the cloud's API: the new size shows
TOKEN=$(get_token)
NG=$(jq -r '.resources["cloud_node_group.workers"].attributes.id' sparkform.state.json)
ci PATCH "/nodegroups/$NG/actions/scale" '{"delta": 2}'
expect_code 202 "scale"
for _ in $(seq 100); do
  status_json
  # the cluster's reconciling ends when the new size takes effect; the two
  # are read one after the other, so wait for both
  [ "$(field cloud_node_group.workers .node_count)" = 3 ] && [ "$(field cloud_node_group.workers .state)" = RUNNING ] &&
    [ "$(field cloud_k8s_cluster.k8s .state)" = RUNNING ] && break
  sleep 0.1
done
expect_field cloud_node_group.workers .node_count 3
expect_rc 0
sf status -f stack.yaml
expect_out "3 nodes, autoscaling 1..4"

# ---- a failed job: exit 2, the reason shown; completed again: exit 0
set_job_state FAILED "driver exited with code 1"
sf status -f stack.yaml
expect_rc 2
expect_row kubernetes_manifest.etl FAILED
expect_out "the job failed: driver exited with code 1"
expect_out "1 of 8 resources is not healthy."
status_json
expect_rc 2
expect_field kubernetes_manifest.etl .healthy false
[ "$(jq -r '.healthy' status.json)" = false ] || fail "-json: healthy is not false"
set_job_state COMPLETED
sf status -f stack.yaml
expect_rc 0

# ---- the job deleted outside sparkform: MISSING, still among the jobs
kc delete sparkapplication etl -n default
expect_rc 0
status_json
expect_rc 2
expect_field kubernetes_manifest.etl .state MISSING
expect_field kubernetes_manifest.etl .group jobs

# ---- the registry stopped: unreachable, with the reason
stop_registry
for _ in $(seq 50); do [ "$(v2 "$REG")" = 000 ] && break; sleep 0.1; done
status_json
expect_rc 2
expect_field ssh_registry.reg .state UNREACHABLE
expect_field ssh_registry.reg .healthy false
expect_field ssh_registry.reg '.summary | startswith("GET '"$REG"'/v2/: ")' true
expect_field cloud_server.registry .healthy true

# ---- the cluster turned off through the API: exit 2, objects unreachable
CL=$(jq -r '.resources["cloud_k8s_cluster.k8s"].attributes.id' sparkform.state.json)
ci POST "/clusters/$CL/actions" '{"action": "turn_off_cluster"}'
expect_code 202 "turn_off_cluster"
for _ in $(seq 100); do
  status_json
  [ "$(field cloud_k8s_cluster.k8s .state)" = SHUTOFF ] && break
  sleep 0.1
done
expect_rc 2
expect_field cloud_k8s_cluster.k8s .state SHUTOFF
expect_field cloud_k8s_cluster.k8s .healthy false
expect_field kubernetes_manifest.web .state UNREACHABLE
expect_field kubernetes_manifest.web '.summary | test("the cluster is SHUTOFF")' true
expect_field kubernetes_manifest.etl .state UNREACHABLE
expect_field ssh_registry.reg .state UNREACHABLE

# ---- help says what the exit statuses mean
sf status -help
expect_rc 0
expect_out "2 when one is not"

# ---- errors: no state; the cloud gone
sf status -f stack.yaml -state nothing-here.json
expect_rc 1
expect_err "no state at nothing-here.json"
kill "$lc_pid"
wait "$lc_pid" 2>/dev/null || true
sf status -f stack.yaml
expect_rc 1
expect_err "error:"
no_secrets
echo "status passed"
