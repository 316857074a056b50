# Helpers for the tests of the cloud provider (tests/e2e/cloud_*.sh): a
# localcloud with the OS_* environment pointing at it, one stack that uses
# every cloud type (written from variables, so a test changes one attribute
# at a time), and the inventory counted per kind.
. "$ROOT/tests/e2e/lib-localcloud.sh"

# cloud_start [LOCALCLOUD ARGS...]: localcloud with short transitions, and
# the credentials of its default user in the environment.
cloud_start() {
  lc_start lc --delay-ms "${LC_DELAY_MS:-150}" "$@"
  export OS_AUTH_URL="$URL/identity/v3" OS_USERNAME=admin OS_PASSWORD=localcloud-admin \
         OS_PROJECT_ID=local
  unset OS_REGION_NAME OS_USER_DOMAIN_NAME OS_PROJECT_NAME OS_CACERT
}

# The stack: every attribute a test changes is a variable with a default.
write_stack() {
  cat > "${1:-stack.yaml}" <<YAML
apiVersion: sparkform/v1
kind: Stack
metadata: {name: cloudtest}
resources:
  - {type: local_ssh_key, name: ssh, with: {comment: cloudtest}}
  - type: cloud_keypair
    name: key
    with: {name: ${KEY_NAME:-ct-key}, public_key: "${KEY_PUB:-\${local_ssh_key.ssh.public_key_openssh\}}"}
  - {type: cloud_network, name: net, with: {name: ${NET_NAME:-ct-net}}}
  - type: cloud_subnet
    name: sub
    with:
      name: ${SUB_NAME:-ct-sub}
      network_id: "\${cloud_network.net.id}"
      cidr: 10.10.0.0/24
      dns_nameservers: ${SUB_DNS:-[8.8.8.8]}
  # On a network of its own: a server on a network with two subnets may
  # get its address from either, which would keep this one in use.
  - {type: cloud_network, name: spare, with: {name: ct-spare}}
  - type: cloud_subnet
    name: spare
    with: {name: ct-spare, network_id: "\${cloud_network.${SPARE_NET:-spare}.id}", cidr: ${SPARE_CIDR:-10.20.0.0/24}}
  - type: cloud_server
    name: vm
    depends_on: [cloud_subnet.sub]
    with:
      name: ${VM_NAME:-ct-vm}
      flavor: ${VM_FLAVOR:-STD2-2-4}
      image: ${VM_IMAGE:-ubuntu-22.04}
      network_id: "\${cloud_network.${VM_NET:-net}.id}"
      metadata: ${VM_META:-{role: registry\}}
      power_state: ${VM_POWER:-active}
  - type: cloud_k8s_cluster
    name: k8s
    with:
      name: ${K8S_NAME:-ct-k8s}
      version: "${K8S_VERSION:-1.31}"
      network_id: "\${cloud_network.${K8S_NET:-net}.id}"
      subnet_id: "\${cloud_subnet.${K8S_NET:-sub}.id}"
      master_count: ${K8S_MASTERS:-1}
      cluster_type: ${K8S_TYPE:-standard}
      pods_network_cidr: ${K8S_PODS:-10.100.0.0/16}
      availability_zones: ${K8S_ZONES:-[nova]}
      master_flavor: ${K8S_FLAVOR:-STD3-4-8}
      labels: ${K8S_LABELS:-{team: data\}}
      security_policy_sync_enabled: ${K8S_SPS:-false}
      status: ${K8S_STATUS:-RUNNING}
  - type: cloud_node_group
    name: workers
    with:
      cluster_id: "\${cloud_k8s_cluster.k8s.id}"
      name: ${NG_NAME:-workers}
      flavor: ${NG_FLAVOR:-STD3-4-8}
      node_count: ${NG_COUNT:-2}
      volume_size: ${NG_VOLUME:-40}
      labels: ${NG_LABELS:-{pool: workers\}}
      taints: ${NG_TAINTS:-[]}
      max_node_unavailable: ${NG_MNU:-1}
      availability_zones: ${NG_ZONES:-[nova]}
  - type: cloud_node_group
    name: auto
    with:
      cluster_id: "\${cloud_k8s_cluster.k8s.id}"
      name: auto
      flavor: STD3-4-8
      node_count: 1
      autoscaling_enabled: ${AUTO_ON:-true}
      min_nodes: ${AUTO_MIN:-0}
      max_nodes: ${AUTO_MAX:-3}
YAML
  # NO_S3=1 leaves the credentials out (see cloud_crash.sh).
  [ -n "${NO_S3:-}" ] && { echo 'outputs: {kubeconfig: {value: "${cloud_k8s_cluster.k8s.kubeconfig}", sensitive: true}}' >> "${1:-stack.yaml}"; return; }
  cat >> "${1:-stack.yaml}" <<'YAML'
  - {type: cloud_s3_credentials, name: s3, with: {}}
outputs:
  access_key: "${cloud_s3_credentials.s3.access_key}"
  secret_key: {value: "${cloud_s3_credentials.s3.secret_key}", sensitive: true}
  kubeconfig: {value: "${cloud_k8s_cluster.k8s.kubeconfig}", sensitive: true}
YAML
}

# What the stack leaves in the cloud, one object per resource.
FULL_INVENTORY="compute/keypairs=1 compute/servers=1 container-infra/clusters=1 container-infra/nodegroups=2 identity/credentials=1 network/networks=2 network/subnets=2"

# inventory: "api/kind=count ..." of everything localcloud holds but the
# Kubernetes objects inside clusters.
inventory() {
  curl -sf "$URL/_localcloud/inventory" |
    jq -r 'to_entries[] | select(.key != "kubernetes") | .key as $a | .value | to_entries[]
           | "\($a)/\(.key)=\(.value | length)"' | sort | tr '\n' ' ' | sed 's/ $//'
}
expect_inventory() {
  local got; got=$(inventory)
  [ "$got" = "$1" ] || fail "${2:-inventory}: '$got', expected '$1'"
}

# plan_counts: "ADD CHANGE DESTROY" from the last command's "Plan:" line.
plan_counts() {
  sed -n 's/^Plan: \([0-9]*\) to add, \([0-9]*\) to change, \([0-9]*\) to destroy\./\1 \2 \3/p' "$WORK/.stdout" | head -n1
}
