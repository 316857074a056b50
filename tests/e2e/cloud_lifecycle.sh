# The cloud provider against localcloud, through the whole life of a stack
# that uses every cloud type: apply, a plan with no changes, every in-place
# attribute changed alone (exactly one update, which the cloud then shows),
# every force-new attribute changed alone (exactly one replacement; a
# cluster's takes its node groups along). The S3 credentials' project is
# the one force-new attribute left out: localcloud's user has one project.
# Then the cluster turned off and on, a node group scaled from outside
# under autoscaling (no change), import of every type (then no changes),
# and a destroy that leaves the cloud empty.
. "$ROOT/tests/e2e/lib-cloud.sh"
# The servers' SSH endpoint and the host keys of the sshd behind it (RSA
# first: the ED25519 one is the fingerprint to export).
ssh-keygen -q -t rsa -b 3072 -N '' -f host_rsa
ssh-keygen -q -t ed25519 -N '' -f host_ed25519
cat host_rsa.pub host_ed25519.pub > host_keys.pub
cloud_start --ssh 127.0.0.1:2222 --ssh-host-key "$WORK/host_keys.pub"
write_stack

sf apply -f stack.yaml -auto-approve
expect_rc 0
expect_inventory "$FULL_INVENTORY" "after the first apply"
vm_attr() { jq -r ".resources[\"cloud_server.vm\"].attributes.$1" sparkform.state.json; }
[ "$(vm_attr host_key_fingerprint)" = "$(ssh-keygen -lf host_ed25519.pub | cut -d' ' -f2)" ] ||
  fail "host key fingerprint $(vm_attr host_key_fingerprint), expected the ED25519 key's"
[ "$(vm_attr ssh_host):$(vm_attr ssh_port)" = 127.0.0.1:2222 ] || fail "SSH endpoint not exported"
# The console shows each key as cloud-init does: size and fingerprint as ssh-keygen -l.
curl -sf -H "X-Auth-Token: $(get_token)" -H 'Content-Type: application/json' \
  -d '{"os-getConsoleOutput": {}}' "$URL/compute/v2.1/servers/$(vm_attr id)/action" | jq -r .output > console.txt
for k in host_rsa host_ed25519; do
  grep -qF "$(ssh-keygen -lf $k.pub | cut -d' ' -f1,2)" console.txt || { cat console.txt; fail "the console lacks $k's fingerprint"; }
done
sf plan -f stack.yaml -detailed-exitcode
expect_rc 0

# step update|replace ADDR VAR=VALUE...: change the description, plan exactly
# that one change of that one resource, apply it, and plan nothing after.
step() {
  local what=$1 addr=$2; shift 2
  export "$@"
  write_stack
  sf plan -f stack.yaml -detailed-exitcode
  expect_rc 2
  if [ "$what" = update ]; then
    [ "$(plan_counts)" = "0 1 0" ] || { cat "$WORK/.stdout"; fail "$*: plan $(plan_counts), expected one update"; }
    expect_out "# $addr will be updated in place"
  elif [ "$what" = replace ]; then
    [ "$(plan_counts)" = "1 0 1" ] || { cat "$WORK/.stdout"; fail "$*: plan $(plan_counts), expected one replacement"; }
    expect_out "# $addr must be replaced"
  else
    # A cluster's replacement takes its two node groups along (their
    # cluster_id is force-new), and nothing else.
    [ "$(plan_counts)" = "3 0 3" ] || { cat "$WORK/.stdout"; fail "$*: plan $(plan_counts), expected the cluster and its node groups replaced"; }
    expect_out "# $addr must be replaced"
    expect_out "# cloud_node_group.workers must be replaced"
    expect_out "# cloud_node_group.auto must be replaced"
  fi
  sf apply -f stack.yaml -auto-approve
  expect_rc 0
  sf plan -f stack.yaml -detailed-exitcode
  [ "$rc" -eq 0 ] || { cat "$WORK/.stdout" "$WORK/.stderr"; fail "$*: the plan after apply is not empty"; }
}

TOKEN=$(get_token)
# cloud GET PATH JQ: a value as the cloud's API shows it.
cloud() { req GET "$1"; expect_code 200 "GET $1"; body "$2"; }
id_of() { jq -r --arg a "$1" '.resources[$a].attributes.id' sparkform.state.json; }

# Lineage and address ride on the objects (adopt finds them by these).
cloud "/network/v2.0/networks/$(id_of cloud_network.net)" '.network.tags[]' | grep -q '^sparkform-[0-9a-f]\{24\}$' ||
  fail "the network has no sparkform tag"
cloud "/network/v2.0/subnets/$(id_of cloud_subnet.sub)" .subnet.description | grep -qF "sparkform cloud_subnet.sub (lineage " ||
  fail "the subnet's description does not name its address"
[ "$(cloud /container-infra/v1/clusters/ct-k8s .labels.sparkform_address)" = cloud_k8s_cluster.k8s ] ||
  fail "the cluster's labels do not carry its address"

step update cloud_network.net NET_NAME=ct-net-2
[ "$(cloud "/network/v2.0/networks/$(id_of cloud_network.net)" .network.name)" = ct-net-2 ] || fail "network not renamed"
step update cloud_subnet.sub SUB_NAME=ct-sub-2
step update cloud_subnet.sub 'SUB_DNS=[1.1.1.1, 8.8.4.4]'
[ "$(cloud "/network/v2.0/subnets/$(id_of cloud_subnet.sub)" '.subnet.dns_nameservers | join(",")')" = 1.1.1.1,8.8.4.4 ] ||
  fail "subnet DNS servers not changed"

vm() { cloud "/compute/v2.1/servers/$(id_of cloud_server.vm)" "$1"; }
step update cloud_server.vm VM_NAME=ct-vm-2
[ "$(vm .server.name)" = ct-vm-2 ] || fail "server not renamed"
step update cloud_server.vm 'VM_META={role: registry, tier: dev}'
[ "$(vm .server.metadata.tier)" = dev ] || fail "server metadata not set"
step update cloud_server.vm VM_POWER=shutoff
[ "$(vm .server.status)" = SHUTOFF ] || fail "server not stopped"
step update cloud_server.vm VM_POWER=active
[ "$(vm .server.status)" = ACTIVE ] || fail "server not started"
# A flavor change is a resize in place (Nova's resize, then confirmResize).
step update cloud_server.vm VM_FLAVOR=STD2-4-8
[ "$(vm .server.flavor.original_name)/$(vm .server.status)" = STD2-4-8/ACTIVE ] || fail "server not resized"

k8s() { cloud /container-infra/v1/clusters/ct-k8s "$1"; }
step update cloud_k8s_cluster.k8s 'K8S_LABELS={team: ml}'
[ "$(k8s .labels.team)" = ml ] || fail "cluster labels not changed"
step update cloud_k8s_cluster.k8s K8S_SPS=true
[ "$(k8s .security_policy_sync_enabled)" = true ] || fail "security policy sync not turned on"
step update cloud_k8s_cluster.k8s K8S_FLAVOR=STD3-8-16
[ "$(k8s .master_flavor_id)" = 5a8b3b58-1d2c-4f6e-9a02-000000000816 ] || fail "masters not resized"
step update cloud_k8s_cluster.k8s K8S_VERSION=1.32
[ "$(k8s .cluster_template_id)" = 0b4d5e9a-6f1c-4a57-9e3d-000000000132 ] || fail "cluster not upgraded"
step update cloud_k8s_cluster.k8s K8S_STATUS=SHUTOFF
[ "$(k8s .status)" = SHUTOFF ] || fail "cluster not turned off"
step update cloud_k8s_cluster.k8s K8S_STATUS=RUNNING
[ "$(k8s .status)" = RUNNING ] || fail "cluster not turned on"

ng() { cloud "/container-infra/v1/nodegroups/$(id_of "cloud_node_group.$1")" "$2"; }
step update cloud_node_group.workers NG_COUNT=3
[ "$(ng workers .node_count)" = 3 ] || fail "node group not scaled"
step update cloud_node_group.workers NG_FLAVOR=STD3-8-16
[ "$(ng workers .flavor_id)" = 5a8b3b58-1d2c-4f6e-9a02-000000000816 ] || fail "node group not resized"
step update cloud_node_group.workers 'NG_LABELS={pool: big}'
ng workers '.labels[] | select(.key == "pool") | .value' | grep -qx big || fail "node labels not changed"
step update cloud_node_group.workers 'NG_TAINTS=[{key: dedicated, value: spark, effect: NoSchedule}]'
[ "$(ng workers '.taints[0].key')" = dedicated ] || fail "taints not set"
step update cloud_node_group.workers NG_MNU=2
[ "$(ng workers .max_node_unavailable)" = 2 ] || fail "max_node_unavailable not changed"

# Under autoscaling the autoscaler owns the size: a scale from outside is
# no change.
req PATCH "/container-infra/v1/nodegroups/$(id_of cloud_node_group.auto)/actions/scale" '{"delta": 2}'
expect_code 202 "scaling from outside"
for _ in $(seq 50); do [ "$(ng auto .state)/$(ng auto .node_count)" = RUNNING/3 ] && break; sleep 0.1; done
[ "$(ng auto .node_count)" = 3 ] || fail "the outside scale did not happen"
sf plan -f stack.yaml -detailed-exitcode
expect_rc 0
step update cloud_node_group.auto AUTO_MAX=5
[ "$(ng auto .max_nodes)" = 5 ] || fail "max_nodes not changed"
step update cloud_node_group.auto AUTO_MIN=1
[ "$(ng auto .min_nodes)" = 1 ] || fail "min_nodes not changed"
# Autoscaling off: node_count is ours again, and the group goes back to it.
step update cloud_node_group.auto AUTO_ON=false
[ "$(ng auto .autoscaling_enabled)/$(ng auto .node_count)" = false/1 ] || fail "autoscaling not turned off"

step replace cloud_keypair.key KEY_NAME=ct-key-2
step replace cloud_subnet.spare SPARE_CIDR=10.30.0.0/24
step replace cloud_server.vm VM_IMAGE=debian-12
step replace cloud_node_group.workers NG_VOLUME=60
step replace cloud_node_group.workers NG_NAME=workers-2
step replace cloud_node_group.workers 'NG_ZONES=[ms1]'
ssh-keygen -q -t ed25519 -N '' -C other -f other_key
step replace cloud_keypair.key "KEY_PUB=$(cat other_key.pub)"
[ "$(cloud /compute/v2.1/os-keypairs/ct-key-2 .keypair.public_key | cut -d' ' -f2)" = "$(cut -d' ' -f2 other_key.pub)" ] ||
  fail "the key pair does not hold the new public key"
step replace cloud_subnet.spare SPARE_NET=net
step replace cloud_subnet.spare SPARE_NET=spare
step replace cloud_server.vm VM_NET=spare
step replace-cluster cloud_k8s_cluster.k8s K8S_NAME=ct-k8s-2
step replace-cluster cloud_k8s_cluster.k8s K8S_MASTERS=3
step replace-cluster cloud_k8s_cluster.k8s K8S_TYPE=regional
step replace-cluster cloud_k8s_cluster.k8s K8S_PODS=10.200.0.0/16
step replace-cluster cloud_k8s_cluster.k8s 'K8S_ZONES=[ms1]'
step replace-cluster cloud_k8s_cluster.k8s K8S_NET=spare
[ "$(cloud /container-infra/v1/clusters/ct-k8s-2 .subnet_id)" = "$(id_of cloud_subnet.spare)" ] ||
  fail "the cluster is not on the other subnet"
expect_inventory "$FULL_INVENTORY" "after the changes"

# Import: forget every cloud object, bring each back by its id; the plan
# then has nothing to do.
addrs="cloud_keypair.key cloud_network.net cloud_network.spare cloud_subnet.sub cloud_subnet.spare cloud_server.vm
       cloud_k8s_cluster.k8s cloud_node_group.workers cloud_node_group.auto cloud_s3_credentials.s3"
declare -A ids
for a in $addrs; do ids[$a]=$(id_of "$a"); done
for a in $addrs; do
  sf state rm "$a"
  expect_rc 0
done
for a in $addrs; do
  sf import -f stack.yaml "$a" "${ids[$a]}"
  expect_rc 0
done
sf plan -f stack.yaml -detailed-exitcode
[ "$rc" -eq 0 ] || { cat "$WORK/.stdout" "$WORK/.stderr"; fail "the plan after import is not empty"; }

sf destroy -f stack.yaml -auto-approve
expect_rc 0
expect_inventory "" "after destroy"
