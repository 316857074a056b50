# The registry VM and the service's buckets as one stack, against
# localcloud, a real sshd and the real docker-registry: a network, a
# server with its key pair, S3 credentials, two buckets (one versioned with
# lifecycle and CORS rules, one holding the registry's layers through the
# registry's S3 storage driver), an object, and the ssh_registry on the
# server. Apply; nothing to plan after; an image pushed with curl is
# accepted with the credentials and refused without, and its layers land
# in the bucket; Debian's awscli sees the buckets, versioning, lifecycle,
# CORS and the object; a changed password, lifecycle rule and object each
# plan exactly one update; destroy leaves localcloud empty and no registry
# or sshd of this test running.
. "$ROOT/tests/e2e/lib-cloud.sh"
. "$ROOT/tests/e2e/lib-ssh.sh"
. "$ROOT/tests/e2e/lib-registry.sh"

AUTH="$WORK/authorized_keys"
sshd_start "$AUTH"
cloud_start --ssh "127.0.0.1:$SSHD_PORT" --ssh-host-key "$SSHD_HOST_KEY.pub" --ssh-authorized-keys "$AUTH"
# The s3 provider takes its endpoint from the catalog and its keys from
# the stack; nothing of this machine's own AWS settings.
unset AWS_ENDPOINT_URL_S3 AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION AWS_CA_BUNDLE AWS_PROFILE

BASE="$WORK/registry"
REG_PORT=$(free_port)
REG="http://127.0.0.1:$REG_PORT"
export REG_PW=first-Secret-1
printf 'print("etl v1")\n' > job.py

trap 'stop_registry; cleanup' EXIT

write_stack() {
  cat > stack.yaml <<YAML
apiVersion: sparkform/v1
kind: Stack
metadata: {name: regstack}
variables:
  pw: {env: REG_PW, sensitive: true}
resources:
  - {type: local_ssh_key, name: k, with: {comment: regstack}}
  - type: cloud_keypair
    name: kp
    with: {name: regstack-key, public_key: "\${local_ssh_key.k.public_key_openssh}"}
  - {type: cloud_network, name: net, with: {name: regstack-net}}
  - type: cloud_subnet
    name: sub
    with: {name: regstack-sub, network_id: "\${cloud_network.net.id}", cidr: 10.40.0.0/24}
  - type: cloud_server
    name: registry
    depends_on: [cloud_subnet.sub]
    with:
      name: regstack-registry
      flavor: STD2-2-4
      image: ubuntu-22.04
      network_id: "\${cloud_network.net.id}"
      keypair: "\${cloud_keypair.kp.name}"
  - {type: cloud_s3_credentials, name: s3, with: {}}
  - type: s3_bucket
    name: service
    with:
      name: regstack-service
      versioning: true
      lifecycle:
        - {id: events, prefix: spark-events/, expiration_days: ${EVENTS_DAYS:-30}}
        - {id: old-versions, noncurrent_expiration_days: 7}
      cors: [{allowed_origins: ["https://history.example"], allowed_methods: [GET, HEAD], max_age_seconds: 600}]
      force_destroy: true
      access_key: "\${cloud_s3_credentials.s3.access_key}"
      secret_key: "\${cloud_s3_credentials.s3.secret_key}"
  - type: s3_bucket
    name: images
    with:
      name: regstack-images
      force_destroy: true
      access_key: "\${cloud_s3_credentials.s3.access_key}"
      secret_key: "\${cloud_s3_credentials.s3.secret_key}"
  - type: s3_object
    name: job
    with:
      bucket: "\${s3_bucket.service.name}"
      key: jobs/etl.py
      source: job.py
      access_key: "\${cloud_s3_credentials.s3.access_key}"
      secret_key: "\${cloud_s3_credentials.s3.secret_key}"
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
      storage: s3
      s3_bucket: "\${s3_bucket.images.name}"
      s3_endpoint: "$URL/s3"
      s3_region: "\${s3_bucket.images.region}"
      s3_access_key: "\${cloud_s3_credentials.s3.access_key}"
      s3_secret_key: "\${cloud_s3_credentials.s3.secret_key}"
outputs:
  registry: "\${ssh_registry.reg.url}"
YAML
}

# awscli with the stack's keys: Debian's (another aws may come first on PATH).
s3api() {
  AWS_ACCESS_KEY_ID=$(jq -r '.resources["cloud_s3_credentials.s3"].attributes.access_key' sparkform.state.json) \
  AWS_SECRET_ACCESS_KEY=$(jq -r '.resources["cloud_s3_credentials.s3"].attributes.secret_key' sparkform.state.json) \
  AWS_DEFAULT_REGION=ru-msk AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE="$WORK/aws-config" \
    /usr/bin/aws --endpoint-url "$URL/s3" "$@"
}
printf '[default]\ns3 =\n    addressing_style = path\n' > aws-config

# one_update ADDR: the plan changes exactly that resource in place; apply it.
one_update() {
  sf plan -f stack.yaml -detailed-exitcode
  expect_rc 2
  [ "$(plan_counts)" = "0 1 0" ] || { cat "$WORK/.stdout"; fail "plan $(plan_counts), expected one update of $1"; }
  expect_out "# $1 will be updated in place"
  sf apply -f stack.yaml -auto-approve
  expect_rc 0
  sf plan -f stack.yaml -detailed-exitcode
  expect_rc 0
}

# ---- apply, then nothing to plan
write_stack
sf apply -f stack.yaml -auto-approve
expect_rc 0
sf plan -f stack.yaml -detailed-exitcode
expect_rc 0

# ---- the registry: a push with the credentials, refused without; the
# layers are in the images bucket
[ "$(v2 "$REG")" = 401 ] || fail "GET /v2/ without credentials is not 401"
[ "$(v2 "$REG" "builder:$REG_PW")" = 200 ] || fail "GET /v2/ with the credentials is not 200"
push "$REG" "builder:$REG_PW" spark/base v1
[ "$code" = 201 ] || fail "manifest PUT with credentials: HTTP $code"
push "$REG" "" spark/base v2
[ "$code" = 401 ] || fail "blob upload without credentials: HTTP $code"
layer="sha256:$(sha256sum < layer.gz | cut -d' ' -f1)"
s3api s3 ls --recursive s3://regstack-images/ > images.txt
grep -q "docker/registry/v2/blobs/sha256/.*/${layer#sha256:}/data" images.txt ||
  { cat images.txt; fail "the layer is not in the images bucket"; }
grep -q "docker/registry/v2/repositories/spark/base/_manifests/tags/v1/" images.txt ||
  { cat images.txt; fail "the tag is not in the images bucket"; }
[ "$(curl -sL -u "builder:$REG_PW" "$REG/v2/spark/base/blobs/$layer" | sha256sum | cut -d' ' -f1)" = "${layer#sha256:}" ] ||
  fail "the layer read back differs (the registry redirects a blob GET to S3: followed)"

# ---- what awscli sees of the buckets and the object
s3api s3api list-buckets --query 'Buckets[].Name' --output text | tr '\t' '\n' | sort > buckets.txt
[ "$(tr '\n' ' ' < buckets.txt)" = "regstack-images regstack-service " ] || fail "buckets: $(cat buckets.txt)"
[ "$(s3api s3api get-bucket-versioning --bucket regstack-service --query Status --output text)" = Enabled ] ||
  fail "the service bucket is not versioned"
s3api s3api get-bucket-lifecycle-configuration --bucket regstack-service > lifecycle.json
[ "$(jq -r '.Rules[] | select(.ID == "events") | .Expiration.Days' lifecycle.json)" = 30 ] ||
  { cat lifecycle.json; fail "lifecycle rule events"; }
[ "$(jq -r '.Rules[] | select(.ID == "old-versions") | .NoncurrentVersionExpiration.NoncurrentDays' lifecycle.json)" = 7 ] ||
  { cat lifecycle.json; fail "lifecycle rule old-versions"; }
[ "$(s3api s3api get-bucket-cors --bucket regstack-service --query 'CORSRules[0].AllowedOrigins[0]' --output text)" = https://history.example ] ||
  fail "CORS rule"
s3api s3 cp s3://regstack-service/jobs/etl.py got.py > /dev/null
cmp -s got.py job.py || fail "the object's bytes differ from job.py"

# ---- one change, one update: the password, a lifecycle rule, the object
export REG_PW=second-Secret-2
one_update ssh_registry.reg
[ "$(v2 "$REG" "builder:first-Secret-1")" = 401 ] || fail "the old password still works"
[ "$(v2 "$REG" "builder:$REG_PW")" = 200 ] || fail "the new password does not work"

EVENTS_DAYS=14 write_stack
one_update s3_bucket.service
[ "$(s3api s3api get-bucket-lifecycle-configuration --bucket regstack-service \
      --query 'Rules[?ID==`events`].Expiration.Days' --output text)" = 14 ] || fail "the lifecycle change did not land"

printf 'print("etl v2")\n' > job.py
one_update s3_object.job
s3api s3 cp s3://regstack-service/jobs/etl.py got.py > /dev/null
cmp -s got.py job.py || fail "the object was not uploaded again"

# ---- destroy: localcloud empty, no registry, and the sshd stops by PID
sf destroy -f stack.yaml -auto-approve
expect_rc 0
got=$(curl -sf "$URL/_localcloud/inventory" | jq -c '[to_entries[] | select(.key != "kubernetes") | .value | to_entries[] | select(.value | length > 0) | .key]')
[ "$got" = "[]" ] || fail "after destroy localcloud still holds: $got"
[ ! -e "$BASE" ] || fail "base_dir is left after destroy"
! pgrep -f -- "$BASE/config.yml" > /dev/null || fail "a registry of this test still runs"
[ "$(v2 "$REG")" = 000 ] || fail "the registry still answers after destroy"
sshd_stop
! kill -0 "$sshd_pid" 2>/dev/null || fail "the sshd of this test still runs"
