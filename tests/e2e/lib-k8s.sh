# Helpers for the tests of localcloud's Kubernetes API: a running cluster
# and a kubectl of the test's own (own KUBECONFIG, own cache directory).
. "$ROOT/tests/e2e/lib-localcloud.sh"

CI_HDR="MCS-API-Version: container-infra 1.33"
# ci METHOD PATH [BODY]: container-infra, with its version header
ci() {
  local m=$1 p=$2; shift 2
  local args=(-s -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' -X "$m" -H "$CI_HDR")
  [ -n "$TOKEN" ] && args+=(-H "X-Auth-Token: $TOKEN")
  [ $# -gt 0 ] && args+=(-H 'Content-Type: application/json' --data-binary "$1")
  code=$(curl "${args[@]}" "$URL/container-infra/v1$p") || code=000
}

# k8s_cluster NAME: a RUNNING cluster (network, subnet and key pair made
# on first use); sets CLUSTER, writes $WORK/NAME.kubeconfig.
k8s_cluster() {
  [ -n "$TOKEN" ] || TOKEN=$(get_token)
  if [ -z "${K8S_NET:-}" ]; then
    req POST /network/v2.0/networks '{"network":{"name":"k8s"}}'
    K8S_NET=$(body .network.id)
    req POST /network/v2.0/subnets "{\"subnet\":{\"network_id\":\"$K8S_NET\",\"cidr\":\"10.1.0.0/24\"}}"
    expect_code 201 "subnet"
    K8S_SUB=$(body .subnet.id)
    ssh-keygen -q -t ed25519 -N '' -f "$WORK/k8s-key"
    req POST /compute/v2.1/os-keypairs "{\"keypair\":{\"name\":\"k8s\",\"public_key\":\"$(cat "$WORK/k8s-key.pub")\"}}"
    expect_code 200 "keypair"
  fi
  ci POST /clusters "{\"name\":\"$1\",\"version\":\"1.32\",\"master_count\":1,\"network_id\":\"$K8S_NET\",\"subnet_id\":\"$K8S_SUB\",\"keypair\":\"k8s\"}"
  expect_code 202 "cluster $1"
  CLUSTER=$(body .uuid)
  for _ in $(seq 100); do
    ci GET "/clusters/$CLUSTER"
    [ "$(body .status)" = RUNNING ] && break
    sleep 0.05
  done
  expect_body .status RUNNING
  ci GET "/clusters/$CLUSTER/kube_config"
  expect_code 200 "kube_config"
  cp "$WORK/body" "$WORK/$1.kubeconfig"
}

# kc ARGS...: kubectl against the cluster of $KUBECONFIG, output captured
# like run's ($WORK/.stdout, $WORK/.stderr, $rc).
kc() {
  run kubectl --cache-dir "$WORK/kube-cache" --request-timeout 20s "$@"
}
