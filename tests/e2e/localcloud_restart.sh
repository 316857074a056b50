# localcloud keeps its world across kill -9: objects of every API, tokens,
# and every creation that was acknowledged while writes were under way.
. "$ROOT/tests/e2e/lib-localcloud.sh"

DATA="$WORK/data"
kill9() {
  kill -9 "$lc_pid"
  set +e; wait "$lc_pid" 2>/dev/null; set -e
}

lc_start data --delay-ms 0
req POST /identity/v3/auth/tokens '{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"name":"Default"},"password":"localcloud-admin"}}},"scope":{"project":{"name":"local"}}}}'
expect_code 201 "token"
TOKEN=$(tr -d '\r' <"$WORK/headers" | awk -F': ' 'tolower($1)=="x-subject-token"{print $2}')
USER_ID=$(body .token.user.id)

req POST "/identity/v3/users/$USER_ID/credentials/OS-EC2" '{"tenant_id":"local"}'
expect_code 201 "ec2"
ACCESS=$(body .credential.access) SECRET=$(body .credential.secret)
req POST /network/v2.0/networks '{"network":{"name":"keep"}}'
expect_code 201 "network"
NET=$(body .network.id)
req POST /network/v2.0/subnets "{\"subnet\":{\"network_id\":\"$NET\",\"cidr\":\"192.168.10.0/24\",\"ip_version\":4}}"
expect_code 201 "subnet"
ssh-keygen -q -t ed25519 -N '' -f "$WORK/key"
req POST /compute/v2.1/os-keypairs "{\"keypair\":{\"name\":\"deploy\",\"public_key\":\"$(cat "$WORK/key.pub")\"}}"
expect_code 200 "keypair"
req GET /compute/v2.1/flavors
FLAVOR=$(body '.flavors[] | select(.name=="STD3-4-8") | .id')
req GET /compute/v2.1/images
IMAGE=$(body '.images[] | select(.name=="debian-12") | .id')
req POST /compute/v2.1/servers "{\"server\":{\"name\":\"registry\",\"flavorRef\":\"$FLAVOR\",\"imageRef\":\"$IMAGE\",\"networks\":[{\"uuid\":\"$NET\"}],\"key_name\":\"deploy\",\"metadata\":{\"sparkform:address\":\"cloud_server.registry\"}}}"
expect_code 202 "server"
VM=$(body .server.id)
req POST "/compute/v2.1/servers/$VM/action" '{"os-stop":null}'
expect_code 202 "stop"

req GET /_localcloud/inventory
expect_code 200 "inventory before"
jq -S . "$WORK/body" >"$WORK/inv1"
[ "$(jq '[.[] | .[] | length] | add' "$WORK/inv1")" -eq 5 ] || { cat "$WORK/inv1"; fail "expected 5 objects before the restart"; }

# a second localcloud on the same data directory is refused while the first runs
run "$LOCALCLOUD" --listen 127.0.0.1:0 --data "$DATA"
expect_rc 1
expect_err "in use by another localcloud"

kill9
# a write a crash interrupted before its rename is not an object
echo '{"id":"half","object":{' >"$DATA/network/networks/half.json.tmp.999"
lc_start data --delay-ms 0
req GET /_localcloud/inventory
expect_code 200 "inventory after"
jq -S . "$WORK/body" >"$WORK/inv2"
diff -u "$WORK/inv1" "$WORK/inv2" || fail "the inventory changed across kill -9"
[ ! -e "$DATA/network/networks/half.json.tmp.999" ] || fail "the interrupted write was left behind"

# the old token still works; the objects answer as before
req GET "/compute/v2.1/servers/$VM"
expect_code 200 "server after restart"
[ "$(body .server.status)" = SHUTOFF ] || fail "server status $(body .server.status), expected SHUTOFF"
[ "$(body '.server.addresses.keep[0].addr')" = 192.168.10.2 ] || fail "server address lost"
req GET "/identity/v3/users/$USER_ID/credentials/OS-EC2/$ACCESS"
expect_code 200 "ec2 after restart"
[ "$(body .credential.secret)" = "$SECRET" ] || fail "ec2 secret changed"
# addresses in use stay in use
req POST /compute/v2.1/servers "{\"server\":{\"name\":\"second\",\"flavorRef\":\"$FLAVOR\",\"imageRef\":\"$IMAGE\",\"networks\":[{\"uuid\":\"$NET\"}]}}"
expect_code 202 "second server"
[ "$(body '.server.addresses.keep[0].addr')" = 192.168.10.3 ] || fail "address reused after restart"

# kill -9 in the middle of a stream of creations: whatever was acknowledged is there
(
  for i in $(seq 400); do
    out=$(curl -s -w '\n%{http_code}' -H "X-Auth-Token: $TOKEN" -H 'Content-Type: application/json' \
      --data-binary "{\"network\":{\"name\":\"burst$i\"}}" "$URL/network/v2.0/networks") || break
    [ "$(tail -n1 <<<"$out")" = 201 ] || break
    head -n1 <<<"$out" | jq -r .network.id >>"$WORK/acked"
  done
) &
writer=$!
for _ in $(seq 100); do
  [ -s "$WORK/acked" ] && [ "$(wc -l <"$WORK/acked")" -ge 20 ] && break
  sleep 0.05
done
kill9
wait "$writer" || true
acked=$(wc -l <"$WORK/acked")
[ "$acked" -ge 20 ] || fail "only $acked creations before the kill"
lc_start data --delay-ms 0
req GET /network/v2.0/networks
expect_code 200 "networks after the second kill"
body '.networks[].id' | sort >"$WORK/present"
missing=$(sort "$WORK/acked" | comm -23 - "$WORK/present" | wc -l)
[ "$missing" -eq 0 ] || fail "$missing acknowledged networks of $acked are gone after kill -9"
echo "ok ($acked acknowledged creations survived)"
