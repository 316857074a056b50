# Values only the cloud's catalogs can judge are checked when the plan is
# made: a SparkService whose second worker group asks for a flavor the
# cloud does not have (and whose registry names an image it does not have)
# is refused by plan and by apply with both errors at once, each at the
# line and column of the description that wrote the value, with a
# suggestion and never a secret value, and nothing is created: localcloud
# stays empty and no state is written. A plain Stack's server with an unknown image gets its own
# line. The same descriptions with valid values plan, asking for the
# flavor list once.
. "$ROOT/tests/e2e/lib-cloud.sh"
cloud_start
export REG_PW=svc-Secret-1

GROUP_FLAVOR=STD9-9-9 REG_IMAGE=ubuntu-22.4
write_service() {
  cat > svc.yaml <<YAML
apiVersion: sparkform/v1
kind: SparkService
metadata: {name: svc}
variables:
  registry_password: {env: REG_PW, sensitive: true}
spec:
  cluster:
    node_groups:
      - {name: executors, flavor: STD3-8-16}
      - name: big
        flavor: $GROUP_FLAVOR
        count: 2
  registry:
    image: $REG_IMAGE
    password: "\${var.registry_password}"
  storage:
    bucket: svc-spark
YAML
}
write_service

nothing_made() {
  expect_inventory "" "$1"
  [ ! -e sparkform.state.json ] || fail "$1: a state was written"
}

for cmd in plan "apply -auto-approve"; do
  # shellcheck disable=SC2086
  sf $cmd -f svc.yaml
  expect_rc 1
  expect_err 'svc.yaml:11:17: error: cloud_node_group.group[big]: flavor "STD9-9-9": the cloud has no flavor of that name or id (did you mean "'
  # The registry's settings share an input with its password: the image,
  # written literally, is named; the password never is.
  expect_err 'svc.yaml:14:12: error: cloud_server.registry: image "ubuntu-22.4": the cloud has no image of that name or id (did you mean "ubuntu-22.04"?)'
  expect_no "$REG_PW"
  [ "$(grep -c ': error: ' "$WORK/.stderr")" -eq 2 ] || { cat "$WORK/.stderr"; fail "$cmd: expected exactly the two errors"; }
  expect_no_out "Apply complete"
  nothing_made "after $cmd"
done

# A Stack: the server's image on its own line; the valid flavor passes.
cat > stack.yaml <<'YAML'
apiVersion: sparkform/v1
kind: Stack
metadata: {name: st}
resources:
  - {type: cloud_network, name: net, with: {name: st-net}}
  - type: cloud_server
    name: vm
    with:
      name: st-vm
      flavor: STD2-2-4
      image: centos-7
      network_id: "${cloud_network.net.id}"
YAML
sf plan -f stack.yaml
expect_rc 1
expect_err 'stack.yaml:11:14: error: cloud_server.vm: image "centos-7": the cloud has no image of that name or id (it has '
[ "$(grep -c ': error: ' "$WORK/.stderr")" -eq 1 ] || { cat "$WORK/.stderr"; fail "stack: expected one error"; }
nothing_made "after the stack's plan"

# Valid values plan as before, and the flavor list is asked for once
# however many resources name a flavor.
GROUP_FLAVOR=STD3-16-32 REG_IMAGE=ubuntu-24.04 write_service
before=$(grep -c "GET /compute/v2.1/flavors " "$WORK/lc.log" || true)
sf plan -f svc.yaml -detailed-exitcode
expect_rc 2
after=$(grep -c "GET /compute/v2.1/flavors " "$WORK/lc.log" || true)
[ $((after - before)) -eq 1 ] || fail "the flavor list was fetched $((after - before)) times in one plan"
nothing_made "after a valid plan"
