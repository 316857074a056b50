# localcloud's HTTP APIs driven with curl alone: identity (tokens, expiry,
# catalog, EC2 credentials), network, compute (flavors, images, keypairs,
# the server life cycle, actions and resize, metadata), bad input of every kind, the
# inventory, and a clean shutdown on SIGTERM.
. "$ROOT/tests/e2e/lib-localcloud.sh"

# ---- refusing anything but loopback
run "$LOCALCLOUD" --listen 0.0.0.0:0 --data "$WORK/never"
expect_rc 2
expect_err "only loopback addresses"

lc_start a --delay-ms 700

# ---- identity
req POST /identity/v3/auth/tokens "$(auth_body admin wrong)"
expect_code 401 "wrong password"
expect_body .error.code 401
expect_body .error.title Unauthorized
req POST /identity/v3/auth/tokens "$(auth_body nobody localcloud-admin)"
expect_code 401 "unknown user"
TOKEN=$(get_token)
[ ${#TOKEN} -ge 32 ] || fail "no X-Subject-Token header"
expect_body .token.project.id local
expect_body .token.user.name admin
USER_ID=$(body .token.user.id)
for svc in "compute /compute/v2.1" "network /network" "identity /identity/v3" "image /image" \
           "container-infra /container-infra/v1" "object-store /s3"; do
  set -- $svc
  for region in RegionOne local; do
    expect_body "[.token.catalog[] | select(.type==\"$1\") | .endpoints[] | select(.interface==\"public\" and .region==\"$region\") | .url] | first" "$URL$2"
  done
done
grep -qi '^x-openstack-request-id: req-' "$WORK/headers" || { cat "$WORK/headers"; fail "no X-Openstack-Request-Id"; }
[ "$(body .token.expires_at)" \> "$(body .token.issued_at)" ] || fail "token expires before it is issued"
req GET /identity/v3/auth/tokens
expect_code 404 "token check without X-Subject-Token"
# VK Cloud's clients name the user domain "users" and scope by project id
req POST /identity/v3/auth/tokens '{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"name":"users"},"password":"localcloud-admin"}}},"scope":{"project":{"id":"local"}}}}'
expect_code 201 "token in the user domain users"
req POST /identity/v3/auth/tokens '{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"name":"elsewhere"},"password":"localcloud-admin"}}},"scope":{"project":{"id":"local"}}}}'
expect_code 401 "token in an unknown domain"

saved=$TOKEN
TOKEN=
req GET /compute/v2.1/flavors
expect_code 401 "no token"
expect_body .error.code 401
TOKEN=not-a-token
req GET /network/v2.0/networks
expect_code 401 "bogus token"
TOKEN=$saved

# ---- EC2 credentials
req POST "/identity/v3/users/$USER_ID/credentials/OS-EC2" '{"tenant_id":"local"}'
expect_code 201 "ec2 create"
ACCESS=$(body .credential.access)
[ ${#ACCESS} -eq 32 ] && [ "$(body .credential.secret | wc -c)" -eq 33 ] || fail "ec2 keys malformed"
expect_body .credential.user_id "$USER_ID"
expect_body .credential.tenant_id local
req POST "/identity/v3/users/$USER_ID/credentials/OS-EC2" '{"tenant_id":42}'
expect_code 400 "ec2 tenant_id type"
expect_body_has "tenant_id"
req POST "/identity/v3/users/$USER_ID/credentials/OS-EC2" '{"tenant_id":"other"}'
expect_code 403 "ec2 for another project"
req GET "/identity/v3/users/$USER_ID/credentials/OS-EC2"
expect_code 200 "ec2 list"
expect_body '.credentials | length' 1
expect_body '.credentials[0].access' "$ACCESS"
req GET "/identity/v3/users/someone-else/credentials/OS-EC2"
expect_code 403 "ec2 of another user"
req POST "/identity/v3/users/$USER_ID/credentials/OS-EC2" '{"tenant_id":"local"}'
expect_code 201 "second ec2 credential"
KEEP_ACCESS=$(body .credential.access)
req DELETE "/identity/v3/users/$USER_ID/credentials/OS-EC2/$ACCESS"
expect_code 204 "ec2 delete"
req GET "/identity/v3/users/$USER_ID/credentials/OS-EC2/$ACCESS"
expect_code 404 "ec2 after delete"
expect_body .error.code 404
req GET "/identity/v3/users/$USER_ID/credentials/OS-EC2"
expect_body '.credentials | length' 1

# The generic credentials API: the client's own access key, a blob kept as sent.
blob='{\"access\":\"mykey01\",\"secret\":\"mysecret01\",\"tag\":\"t-1\"}'
req POST /identity/v3/credentials "{\"credential\":{\"type\":\"ec2\",\"user_id\":\"$USER_ID\",\"project_id\":\"local\",\"blob\":\"$blob\"}}"
expect_code 201 "generic ec2 credential"
CRED_ID=$(body .credential.id)
[ "$CRED_ID" = "$(printf mykey01 | sha256sum | cut -d' ' -f1)" ] || fail "credential id is not the access key's SHA-256"
[ "$(body .credential.blob | jq -r .tag)" = t-1 ] || fail "blob not kept as sent"
req POST /identity/v3/credentials "{\"credential\":{\"type\":\"ec2\",\"user_id\":\"$USER_ID\",\"project_id\":\"local\",\"blob\":\"$blob\"}}"
expect_code 409 "the same access key twice"
req POST /identity/v3/credentials "{\"credential\":{\"type\":\"cert\",\"user_id\":\"$USER_ID\",\"project_id\":\"local\",\"blob\":\"x\"}}"
expect_code 400 "a type not emulated"
req POST /identity/v3/credentials "{\"credential\":{\"type\":\"ec2\",\"user_id\":\"$USER_ID\",\"project_id\":\"local\",\"blob\":\"{}\"}}"
expect_code 400 "a blob without keys"
req GET "/identity/v3/users/$USER_ID/credentials/OS-EC2/mykey01"
expect_code 200 "the generic credential through OS-EC2"
expect_body .credential.secret mysecret01
req GET "/identity/v3/credentials?user_id=$USER_ID&type=ec2"
expect_code 200 "generic list"
expect_body '.credentials | length' 2
req GET "/identity/v3/credentials/$CRED_ID"
expect_code 200 "generic get"
req DELETE "/identity/v3/credentials/$CRED_ID"
expect_code 204 "generic delete"
req GET "/identity/v3/users/$USER_ID/credentials/OS-EC2/mykey01"
expect_code 404 "deleted through the generic API"

# ---- network
req POST /network/v2.0/networks '{"network":{"name":"net1","tags":["stack:demo"]}}'
expect_code 201 "network create"
NET=$(body .network.id)
expect_body .network.status ACTIVE
req POST /network/v2.0/networks '{"network":{"name":42}}'
expect_code 400 "network name type"
expect_body .NeutronError.type HTTPBadRequest
expect_body_has "network.name"
req POST /network/v2.0/networks '{"network":{"name":"x","colour":"red"}}'
expect_code 400 "unknown network attribute"
expect_body_has "colour"
for bad in 10.0.0.1/24 banana 10.0.0.0/33 300.0.0.0/8; do
  req POST /network/v2.0/subnets "{\"subnet\":{\"network_id\":\"$NET\",\"cidr\":\"$bad\",\"ip_version\":4}}"
  expect_code 400 "bad cidr $bad"
  expect_body_has "subnet.cidr"
done
req POST /network/v2.0/subnets '{"subnet":{"network_id":"no-such-net","cidr":"10.0.0.0/24"}}'
expect_code 404 "subnet on a missing network"
expect_body .NeutronError.type NetworkNotFound
req POST /network/v2.0/subnets "{\"subnet\":{\"network_id\":\"$NET\",\"cidr\":\"10.0.0.0/24\",\"ip_version\":4,\"name\":\"sub1\",\"dns_nameservers\":[\"8.8.8.8\"]}}"
expect_code 201 "subnet create"
SUB=$(body .subnet.id)
expect_body .subnet.gateway_ip 10.0.0.1
expect_body '.subnet.allocation_pools[0].start' 10.0.0.2
expect_body '.subnet.allocation_pools[0].end' 10.0.0.254
req POST /network/v2.0/subnets "{\"subnet\":{\"network_id\":\"$NET\",\"cidr\":\"10.0.0.128/25\",\"ip_version\":4}}"
expect_code 400 "overlapping subnet"
expect_body_has "overlaps"
req GET "/network/v2.0/networks/$NET"
expect_code 200 "network get"
expect_body '.network.subnets[0]' "$SUB"
expect_body '.network.tags[0]' stack:demo
req GET "/network/v2.0/subnets/$SUB"
expect_code 200 "subnet get"
expect_body .subnet.cidr 10.0.0.0/24
req GET "/network/v2.0/networks?name=net1"
expect_code 200 "network list by name"
expect_body '.networks | length' 1
req GET "/network/v2.0/networks?tags=stack:demo"
expect_body '.networks[0].id' "$NET"
req GET "/network/v2.0/networks?name=nothing"
expect_body '.networks | length' 0
req GET "/network/v2.0/subnets?network_id=$NET"
expect_body '.subnets[0].id' "$SUB"
req GET "/network/v2.0/subnets?name=sub1&network_id=$NET"
expect_body '[.subnets[].id] | join(",")' "$SUB"
# Neutron's tag extension: one tag at a time, or the whole list
req PUT "/network/v2.0/networks/$NET/tags/owner:sparkform"
expect_code 201 "add a network tag"
req GET "/network/v2.0/networks/$NET/tags"
expect_body '.tags | join(",")' "stack:demo,owner:sparkform"
req GET "/network/v2.0/networks?tags=stack:demo,owner:sparkform"
expect_body '[.networks[].id] | join(",")' "$NET"
req GET "/network/v2.0/networks/$NET/tags/owner:sparkform"
expect_code 204 "network has the tag"
req DELETE "/network/v2.0/networks/$NET/tags/owner:sparkform"
expect_code 204 "remove a network tag"
req GET "/network/v2.0/networks/$NET/tags/owner:sparkform"
expect_code 404 "the tag is gone"
req PUT "/network/v2.0/subnets/$SUB/tags" '{"tags":["a","b"]}'
expect_code 200 "replace the subnet tags"
req GET "/network/v2.0/subnets?tags=b"
expect_body '[.subnets[].id] | join(",")' "$SUB"
req PUT "/network/v2.0/subnets/$SUB/tags/a,b"
expect_code 400 "a tag with a comma"
req DELETE "/network/v2.0/subnets/$SUB/tags"
expect_code 204 "remove every subnet tag"
req GET "/network/v2.0/subnets/$SUB"
expect_body '.subnet.tags | length' 0
req GET "/network/v2.0/networks?colour=red"
expect_code 400 "filter on an unknown attribute"
req PUT "/network/v2.0/networks/$NET" '{"network":{"description":"the service network"}}'
expect_code 200 "network update"
expect_body .network.description "the service network"
expect_body .network.name net1
req DELETE "/network/v2.0/networks/$NET"
expect_code 409 "delete a network with a subnet"
expect_body .NeutronError.type NetworkInUse
req GET /network/v2.0/networks/00000000-0000-0000-0000-000000000000
expect_code 404 "missing network"
expect_body .NeutronError.type NetworkNotFound

# ---- flavors and images
req GET /compute/v2.1/flavors/detail
expect_code 200 "flavors"
for f in "STD2-2-4 2 4096" "STD3-4-8 4 8192" "STD3-8-16 8 16384"; do
  set -- $f
  expect_body ".flavors[] | select(.name==\"$1\") | \"\(.vcpus) \(.ram)\"" "$2 $3"
done
FLAVOR=$(body '.flavors[] | select(.name=="STD2-2-4") | .id')
req GET "/compute/v2.1/flavors/$FLAVOR"
expect_code 200 "one flavor"
expect_body .flavor.disk 20
req GET /compute/v2.1/images
expect_code 200 "images"
IMAGE=$(body '.images[] | select(.name=="ubuntu-22.04") | .id')
[ -n "$IMAGE" ] || fail "no ubuntu-22.04 image"
expect_body '[.images[].name] | index("debian-12") != null' true
req GET "/image/v2/images?name=ubuntu-22.04"
expect_code 200 "image service lookup by name"
expect_body '.images | length' 1
expect_body '.images[0].id' "$IMAGE"
expect_body '.images[0].status' active
req GET "/image/v2/images"
expect_body '[.images[].name] | sort | join(",")' "debian-12,ubuntu-22.04,ubuntu-24.04"
req GET "/image/v2/images/$IMAGE"
expect_code 200 "image service get"
expect_body .name ubuntu-22.04
req GET "/image/v2/images/00000000-0000-0000-0000-000000000000"
expect_code 404 "image service unknown image"
req GET "/compute/v2.1/images/$IMAGE"
expect_code 200 "one image"
expect_body .image.status ACTIVE
req GET /compute/v2.1/flavors/nope
expect_code 404 "missing flavor"
expect_body .itemNotFound.code 404

# ---- keypairs
ssh-keygen -q -t ed25519 -N '' -C 'deploy@test' -f "$WORK/key"
PUB=$(cat "$WORK/key.pub")
req POST /compute/v2.1/os-keypairs "{\"keypair\":{\"name\":\"k1\",\"public_key\":\"$PUB\"}}"
expect_code 200 "keypair import"
want_fp=$(ssh-keygen -l -E md5 -f "$WORK/key.pub" | awk '{print $2}' | sed 's/^MD5://')
expect_body .keypair.fingerprint "$want_fp"
req POST /compute/v2.1/os-keypairs "{\"keypair\":{\"name\":\"k1\",\"public_key\":\"$PUB\"}}"
expect_code 409 "duplicate keypair"
expect_body .conflictingRequest.code 409
blob=$(awk '{print $2}' "$WORK/key.pub")
for bad in "ssh-ed25519 not*base64" "ssh-dss $blob" "ssh-rsa $blob" "ssh-ed25519 ${blob%????}" "ssh-ed25519"; do
  req POST /compute/v2.1/os-keypairs "{\"keypair\":{\"name\":\"bad\",\"public_key\":\"$bad\"}}"
  expect_code 400 "bad key: $bad"
  expect_body_has "keypair.public_key"
done
req POST /compute/v2.1/os-keypairs '{"keypair":{"name":"bad/name","public_key":"x"}}'
expect_code 400 "bad keypair name"
req GET /compute/v2.1/os-keypairs
expect_body '.keypairs | length' 1
expect_body '.keypairs[0].keypair.name' k1
req GET /compute/v2.1/os-keypairs/k1
expect_code 200 "keypair get"
expect_body .keypair.public_key "$PUB"

# ---- servers
server_body() { # NAME
  printf '{"server":{"name":"%s","flavorRef":"%s","imageRef":"%s","networks":[{"uuid":"%s"}],"key_name":"k1","metadata":{"role":"registry"}}}' "$1" "$FLAVOR" "$IMAGE" "$NET"
}
req POST /compute/v2.1/servers "$(server_body vm1)"
expect_code 202 "server create"
VM=$(body .server.id)
expect_body .server.status BUILD
expect_body '.server.addresses.net1[0].addr' 10.0.0.2
req GET "/compute/v2.1/servers/$VM"
expect_body .server.status BUILD
expect_body '.server["OS-EXT-STS:task_state"]' spawning
wait_status() { # ID STATUS
  for _ in $(seq 60); do
    req GET "/compute/v2.1/servers/$1"
    [ "$(body .server.status)" = "$2" ] && [ "$(body '.server["OS-EXT-STS:task_state"]')" = null ] && return 0
    sleep 0.1
  done
  cat "$WORK/body"; fail "server $1 never became $2"
}
wait_status "$VM" ACTIVE
expect_body '.server.metadata.role' registry
expect_body .server.key_name k1
expect_body .server.flavor.original_name STD2-2-4
req POST /compute/v2.1/servers "$(server_body vm2)"
expect_code 202 "second server"
VM2=$(body .server.id)
expect_body '.server.addresses.net1[0].addr' 10.0.0.3
req GET /compute/v2.1/servers
expect_body '.servers | length' 2
req GET "/compute/v2.1/servers/detail?name=^vm1\$"
expect_body '.servers | length' 1
expect_body '.servers[0].id' "$VM"

req POST /compute/v2.1/servers "{\"server\":{\"flavorRef\":\"$FLAVOR\",\"imageRef\":\"$IMAGE\"}}"
expect_code 400 "server without a name"
expect_body_has "server.name"
expect_body .badRequest.code 400
req POST /compute/v2.1/servers "{\"server\":{\"name\":\"x\",\"flavorRef\":\"nope\",\"imageRef\":\"$IMAGE\",\"networks\":\"none\"}}"
expect_code 400 "unknown flavor"
req POST /compute/v2.1/servers "{\"server\":{\"name\":\"x\",\"flavorRef\":\"$FLAVOR\",\"imageRef\":\"$IMAGE\",\"networks\":\"none\",\"metadata\":{\"a\":1}}}"
expect_code 400 "metadata value type"
expect_body_has "server.metadata.a"
req POST /compute/v2.1/servers "{\"server\":{\"name\":\"x\",\"flavorRef\":\"$FLAVOR\",\"imageRef\":\"$IMAGE\",\"networks\":[{\"uuid\":\"nope\"}]}}"
expect_code 400 "unknown network"
req POST /compute/v2.1/servers "{\"server\":{\"name\":\"x\",\"flavorRef\":\"$FLAVOR\",\"imageRef\":\"$IMAGE\",\"key_name\":\"nope\",\"networks\":\"none\"}}"
expect_code 400 "unknown key_name"

# actions
action() { req POST "/compute/v2.1/servers/$VM/action" "$1"; }
action '{"os-start":null}'
expect_code 409 "start an active server"
expect_body .conflictingRequest.code 409
action '{"os-stop":null}'
expect_code 202 "stop"
action '{"os-start":null}'
expect_code 409 "start while powering off"
wait_status "$VM" SHUTOFF
expect_body '.server["OS-EXT-STS:power_state"]' 4
action '{"os-stop":null}'
expect_code 409 "stop a stopped server"
action '{"os-start":null}'
expect_code 202 "start"
wait_status "$VM" ACTIVE
action '{"reboot":{"type":"SOFT"}}'
expect_code 202 "reboot"
req GET "/compute/v2.1/servers/$VM"
expect_body .server.status REBOOT
wait_status "$VM" ACTIVE
action '{"os-explode":null}'
expect_code 400 "unknown action"

# resize: RESIZE on the old flavor, VERIFY_RESIZE on the new one, then
# confirmResize (204, ACTIVE) or revertResize (REVERT_RESIZE, then ACTIVE
# on the old flavor)
F48=5a8b3b58-1d2c-4f6e-9a02-000000000408
action "{\"resize\":{\"flavorRef\":\"$FLAVOR\"}}"
expect_code 400 "resize to the flavor it has"
action '{"resize":{"flavorRef":"nope"}}'
expect_code 400 "resize to an unknown flavor"
action '{"resize":{"flavor":"x"}}'
expect_code 400 "resize without flavorRef"
expect_body_has "resize.flavor"
action '{"confirmResize":null}'
expect_code 409 "confirm without a resize"
action "{\"resize\":{\"flavorRef\":\"$F48\"}}"
expect_code 202 "resize"
req GET "/compute/v2.1/servers/$VM"
expect_body .server.status RESIZE
expect_body '.server["OS-EXT-STS:task_state"]' resize_prep
expect_body .server.flavor.original_name STD2-2-4
action '{"confirmResize":null}'
expect_code 409 "confirm while resizing"
wait_status "$VM" VERIFY_RESIZE
expect_body .server.flavor.original_name STD3-4-8
expect_body '.server["OS-EXT-STS:vm_state"]' resized
req GET "/compute/v2.1/servers/detail?flavor=$F48"
expect_body '[.servers[].id] | join(",")' "$VM"
action '{"os-stop":null}'
expect_code 409 "stop while waiting for the confirmation"
action '{"confirmResize":{}}'
expect_code 400 "confirmResize with a body"
action '{"confirmResize":null}'
expect_code 204 "confirm"
req GET "/compute/v2.1/servers/$VM"
expect_body .server.status ACTIVE
expect_body .server.flavor.original_name STD3-4-8
action "{\"resize\":{\"flavorRef\":\"$FLAVOR\"}}"
expect_code 202 "second resize"
wait_status "$VM" VERIFY_RESIZE
expect_body .server.flavor.original_name STD2-2-4
action '{"revertResize":null}'
expect_code 202 "revert"
req GET "/compute/v2.1/servers/$VM"
expect_body .server.status REVERT_RESIZE
wait_status "$VM" ACTIVE
expect_body .server.flavor.original_name STD3-4-8
# a stopped server is resized too, and stays stopped
action '{"os-stop":null}'
wait_status "$VM" SHUTOFF
action "{\"resize\":{\"flavorRef\":\"$FLAVOR\"}}"
expect_code 202 "resize a stopped server"
wait_status "$VM" VERIFY_RESIZE
expect_body '.server["OS-EXT-STS:power_state"]' 4
action '{"confirmResize":null}'
expect_code 204 "confirm the resize of a stopped server"
wait_status "$VM" SHUTOFF
expect_body .server.flavor.original_name STD2-2-4
action '{"os-start":null}'
wait_status "$VM" ACTIVE

# metadata
req GET "/compute/v2.1/servers/$VM/metadata"
expect_code 200 "metadata get"
expect_body .metadata.role registry
req POST "/compute/v2.1/servers/$VM/metadata" '{"metadata":{"tier":"web"}}'
expect_code 200 "metadata merge"
expect_body '.metadata | keys | join(",")' role,tier
req PUT "/compute/v2.1/servers/$VM/metadata" '{"metadata":{"only":"this"}}'
expect_code 200 "metadata replace"
expect_body '.metadata | keys | join(",")' only
req PUT "/compute/v2.1/servers/$VM/metadata/extra" '{"meta":{"extra":"1"}}'
expect_code 200 "metadata item put"
req GET "/compute/v2.1/servers/$VM/metadata/extra"
expect_body .meta.extra 1
req DELETE "/compute/v2.1/servers/$VM/metadata/extra"
expect_code 204 "metadata item delete"
req GET "/compute/v2.1/servers/$VM"
expect_body '.server.metadata | keys | join(",")' only
req PUT "/compute/v2.1/servers/$VM/metadata" '{"metadata":["x"]}'
expect_code 400 "metadata not an object"

# in use
req DELETE "/network/v2.0/subnets/$SUB"
expect_code 409 "delete a subnet servers use"
expect_body .NeutronError.type SubnetInUse

# delete: 204, then 404 once the deletion is over
req DELETE "/compute/v2.1/servers/$VM"
expect_code 204 "server delete"
for _ in $(seq 40); do
  req GET "/compute/v2.1/servers/$VM"
  [ "$code" = 404 ] && break
  expect_body '.server["OS-EXT-STS:task_state"]' deleting
  sleep 0.1
done
expect_code 404 "server after delete"
expect_body .itemNotFound.code 404

# ---- bad input
req POST /compute/v2.1/servers '{"server": {'
expect_code 400 "malformed JSON (compute)"
expect_body_has "Malformed request body"
expect_body .badRequest.code 400
req POST /network/v2.0/networks '{"network": [}'
expect_code 400 "malformed JSON (network)"
expect_body .NeutronError.type HTTPBadRequest
req POST /identity/v3/auth/tokens 'nonsense'
expect_code 400 "malformed JSON (identity)"
expect_body .error.code 400
req POST /compute/v2.1/servers '[1,2]'
expect_code 400 "not an object"
req POST /compute/v2.1/servers ''
expect_code 400 "empty body"
printf '{"network":{"name":"\xff\xfe"}}' >"$WORK/badutf8.json"
code=$(curl -s -o "$WORK/body" -w '%{http_code}' -H "X-Auth-Token: $TOKEN" \
  -H 'Content-Type: application/json' --data-binary @"$WORK/badutf8.json" "$URL/network/v2.0/networks")
expect_code 400 "invalid UTF-8"
expect_body .NeutronError.type HTTPBadRequest
code=$(curl -s -o "$WORK/body" -w '%{http_code}' -H "X-Auth-Token: $TOKEN" "$URL/compute/v2.1/servers/%ff")
expect_code 400 "invalid UTF-8 in the path"
req GET /compute/v2.1/nothing/here
expect_code 404 "unknown compute path"
expect_body .itemNotFound.code 404
req GET /network/v2.0/ports
expect_code 404 "unknown network path"
expect_body .NeutronError.type HTTPNotFound
req GET /nowhere
expect_code 404 "unknown top-level path"
expect_body .error.code 404
req PATCH /compute/v2.1/servers
expect_code 405 "wrong method"
head -c 2200000 /dev/zero | tr '\0' 'a' >"$WORK/huge"
for expect_hdr in "Expect:" "Expect: 100-continue"; do
  code=$(curl -s -o "$WORK/body" -w '%{http_code}' -H "X-Auth-Token: $TOKEN" -H "$expect_hdr" \
    -H 'Content-Type: application/json' --data-binary @"$WORK/huge" "$URL/compute/v2.1/servers") || code=000
  expect_code 413 "huge body ($expect_hdr)"
  expect_body .overLimit.code 413
done
req GET /compute/v2.1/flavors
expect_code 200 "still serving after bad input"

# ---- concurrent clients
for i in $(seq 16); do
  curl -s -o /dev/null -w '%{http_code}\n' -H "X-Auth-Token: $TOKEN" -H 'Content-Type: application/json' \
    --data-binary "{\"network\":{\"name\":\"par$i\"}}" "$URL/network/v2.0/networks" >>"$WORK/par.codes" &
done
wait_pids=$(jobs -p | grep -v "^$lc_pid\$" || true)
for p in $wait_pids; do wait "$p"; done
[ "$(grep -c '^201$' "$WORK/par.codes")" = 16 ] || { cat "$WORK/par.codes"; fail "parallel creates failed"; }
req GET /network/v2.0/networks
expect_body '[.networks[].name | select(startswith("par"))] | length' 16

# ---- inventory
req GET /_localcloud/inventory
expect_code 200 "inventory"
expect_body ".network.networks[\"$NET\"].name" net1
expect_body ".network.subnets[\"$SUB\"].cidr" 10.0.0.0/24
expect_body ".compute.servers[\"$VM2\"].name" vm2
expect_body ".compute.servers[\"$VM\"]" null
expect_body '[.compute.keypairs[].name] | join(",")' k1
expect_body ".identity.credentials[\"$KEEP_ACCESS\"].user_id" "$USER_ID"
expect_body '.identity._tokens' null

# ---- token expiry (its own server with a 1 s lifetime)
main_url=$URL main_pid=$lc_pid
lc_start short --token-ttl 1
TOKEN=
TOKEN=$(get_token)
req GET /compute/v2.1/flavors
expect_code 200 "fresh token"
sleep 1.2
req GET /compute/v2.1/flavors
expect_code 401 "expired token"

# ---- --ssh: every server reports the SSH endpoint
lc_start ssh --ssh 127.0.0.1:2222 --delay-ms 0
TOKEN=
TOKEN=$(get_token)
req POST /network/v2.0/networks '{"network":{"name":"n"}}'
N=$(body .network.id)
req POST /network/v2.0/subnets "{\"subnet\":{\"network_id\":\"$N\",\"cidr\":\"172.16.0.0/16\"}}"
expect_code 201 "subnet (ssh)"
req POST /compute/v2.1/servers "{\"server\":{\"name\":\"reg\",\"flavorRef\":\"$FLAVOR\",\"imageRef\":\"$IMAGE\"}}"
expect_code 202 "server (ssh)"
req GET "/compute/v2.1/servers/$(body .server.id)"
expect_body .server.status ACTIVE
expect_body '.server["localcloud:ssh"].port' 2222
expect_body '.server["localcloud:ssh"].host' 127.0.0.1
expect_body .server.accessIPv4 127.0.0.1
expect_body '[.server.addresses.n[].addr] | join(",")' 172.16.0.2,127.0.0.1

# ---- --ssh-authorized-keys: the keys of the servers' key pairs, each while
# a server has it (deleting the key pair does not take it off a server).
lc_start sshkeys --ssh 127.0.0.1:2222 --ssh-authorized-keys "$WORK/authorized" --delay-ms 0
[ -f "$WORK/authorized" ] && [ ! -s "$WORK/authorized" ] || fail "no empty authorized keys file at start"
TOKEN=
TOKEN=$(get_token)
ssh-keygen -q -t ed25519 -N '' -C a@test -f "$WORK/ka"
ssh-keygen -q -t ed25519 -N '' -C b@test -f "$WORK/kb"
for k in ka kb; do
  req POST /compute/v2.1/os-keypairs "{\"keypair\":{\"name\":\"$k\",\"public_key\":\"$(cat "$WORK/$k.pub")\"}}"
  expect_code 200 "keypair $k"
done
req POST /network/v2.0/networks '{"network":{"name":"n"}}'
N=$(body .network.id)
req POST /network/v2.0/subnets "{\"subnet\":{\"network_id\":\"$N\",\"cidr\":\"172.16.0.0/16\"}}"
declare -A srv
for s in s1:ka s2:ka s3:kb s4:; do
  name=${s%%:*} key=${s#*:}
  req POST /compute/v2.1/servers "{\"server\":{\"name\":\"$name\",\"flavorRef\":\"$FLAVOR\",\"imageRef\":\"$IMAGE\"${key:+,\"key_name\":\"$key\"}}}"
  expect_code 202 "server $name"
  srv[$name]=$(body .server.id)
done
authorized() { sort "$WORK/authorized" | tr '\n' '|'; }
expect_authorized() {
  local want; want=$(cat "$@" /dev/null | sort | tr '\n' '|')
  [ "$(authorized)" = "$want" ] || fail "authorized keys: '$(authorized)', expected '$want'"
}
expect_authorized "$WORK/ka.pub" "$WORK/kb.pub"
req DELETE /compute/v2.1/os-keypairs/ka
expect_code 202 "keypair delete"
expect_authorized "$WORK/ka.pub" "$WORK/kb.pub"
req DELETE "/compute/v2.1/servers/${srv[s1]}"
expect_code 204 "delete s1"
expect_authorized "$WORK/ka.pub" "$WORK/kb.pub"
req DELETE "/compute/v2.1/servers/${srv[s2]}"
expect_authorized "$WORK/kb.pub"
req DELETE "/compute/v2.1/servers/${srv[s3]}"
expect_authorized
URL=$main_url

# ---- clean shutdown
kill -TERM "$main_pid"
set +e; wait "$main_pid"; rc=$?; set -e
[ "$rc" -eq 0 ] || { cat "$WORK/a.log"; fail "localcloud exited $rc on SIGTERM"; }
echo ok

# --ssh-host-key takes OpenSSH public keys only, and says what is wrong.
echo "ssh-ed25519 not-base64!" > bad_host_key.pub
run "$LOCALCLOUD" --data "$WORK/badkey" --listen 127.0.0.1:0 --ssh 127.0.0.1:22 --ssh-host-key bad_host_key.pub
expect_rc 2
expect_err "localcloud: error: --ssh-host-key bad_host_key.pub: the key data is not valid base64"
