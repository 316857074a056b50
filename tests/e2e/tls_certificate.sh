# tls_certificate: a CA and a webhook certificate it signs, written to
# files that openssl verifies; no changes on a second plan; a renew_before
# longer than the time left plans the replacement with its reason (text,
# JSON, a saved plan) and the update of every file built from it; apply
# renews it (a new serial, still verified). The private keys never show in
# plan, apply, show or output, SF_LOG=debug included.
. "$ROOT/tests/e2e/lib.sh"
cat > stack.yaml <<'YAML'
apiVersion: sparkform/v1
kind: Stack
metadata: {name: tls}
variables:
  renew_before: {type: string, default: 720h}
resources:
  - type: tls_certificate
    name: ca
    with: {common_name: "spark-operator CA", organization: e2e, is_ca: true}
  - type: tls_certificate
    name: webhook
    with:
      common_name: spark-operator-webhook
      dns_names: [spark-operator-webhook.spark-operator.svc, localhost]
      ip_addresses: [127.0.0.1]
      validity: 2160h
      renew_before: "${var.renew_before}"
      ca_cert_pem: "${tls_certificate.ca.cert_pem}"
      ca_key_pem: "${tls_certificate.ca.key_pem}"
  - type: local_file
    name: cert
    with: {path: out/tls.crt, content: "${tls_certificate.webhook.cert_pem}"}
  - type: local_file
    name: key
    with: {path: out/tls.key, mode: "0600", sensitive_content: "${tls_certificate.webhook.key_pem}"}
  - type: local_file
    name: ca
    with: {path: out/ca.crt, content: "${tls_certificate.webhook.ca_pem}"}
  - type: local_file
    name: bundle
    with: {path: out/ca-bundle.b64, content: "${tls_certificate.webhook.ca_bundle_base64}"}
outputs:
  not_after: "${tls_certificate.webhook.not_after}"
  serial: "${tls_certificate.webhook.serial}"
  key: {value: "${tls_certificate.webhook.key_pem}", sensitive: true}
YAML

# Every command's output is kept, to look for the keys at the end.
: > all-output
sfk() { SF_LOG=debug sf "$@"; cat "$WORK/.stdout" "$WORK/.stderr" >> all-output; }

sfk plan -f stack.yaml -detailed-exitcode
expect_rc 2
expect_out "Plan: 6 to add, 0 to change, 0 to destroy."
expect_out 'key_pem          = (sensitive value)'

sfk apply -f stack.yaml -auto-approve
expect_rc 0
expect_out "Apply complete! Resources: 6 added, 0 changed, 0 destroyed."
[ "$(stat -c %a out/tls.key)" = 600 ] || fail "mode of the key file"

# What a TLS client of the webhook would check.
openssl verify -purpose sslserver -CAfile out/ca.crt out/tls.crt > verify.out 2>&1 || { cat verify.out; fail "openssl verify"; }
grep -qx "out/tls.crt: OK" verify.out || fail "openssl verify says: $(cat verify.out)"
openssl x509 -in out/tls.crt -noout -ext subjectAltName > san.out
grep -q "DNS:spark-operator-webhook.spark-operator.svc" san.out || fail "SAN: $(cat san.out)"
grep -q "IP Address:127.0.0.1" san.out || fail "IP SAN: $(cat san.out)"
openssl x509 -in out/tls.crt -noout -checkend $((89 * 86400)) >/dev/null || fail "valid less than 89 days"
! openssl x509 -in out/tls.crt -noout -checkend $((91 * 86400)) >/dev/null || fail "valid more than 90 days"
[ "$(openssl x509 -in out/tls.crt -noout -pubkey)" = "$(openssl pkey -in out/tls.key -pubout)" ] ||
  fail "the key file does not belong to the certificate"
[ "$(base64 -d out/ca-bundle.b64)" = "$(cat out/ca.crt)" ] || fail "ca_bundle_base64 is not ca_pem"
serial1=$(openssl x509 -in out/tls.crt -noout -serial | cut -d= -f2)
key1_line=$(sed -n 2p out/tls.key)
sfk output -raw serial
[ "$(cat "$WORK/.stdout")" = "$serial1" ] || fail "serial output $(cat "$WORK/.stdout") != $serial1"
sfk output -raw not_after
not_after=$(cat "$WORK/.stdout")
[ "$(date -u -d "$not_after" +%s)" = "$(date -u -d "$(openssl x509 -in out/tls.crt -noout -enddate | cut -d= -f2)" +%s)" ] ||
  fail "not_after $not_after is not the certificate's"

sfk plan -f stack.yaml -detailed-exitcode
expect_rc 0
expect_out "No changes."

# 2200h of renew_before > the 2160h the certificate has left: due now.
sfk plan -f stack.yaml -var renew_before=2200h -detailed-exitcode
expect_rc 2
expect_out "# tls_certificate.webhook must be replaced"
expect_out "# (because the certificate expires $not_after, within renew_before 2200h)"
expect_out "# local_file.cert will be updated in place"
expect_out "# local_file.key will be updated in place"
expect_out "Plan: 1 to add, 4 to change, 1 to destroy."
expect_no_out "tls_certificate.ca must be replaced"
sfk plan -f stack.yaml -var renew_before=2200h -json
expect_rc 0
jq -e --arg na "$not_after" '.resource_changes[] | select(.address == "tls_certificate.webhook") |
  .action_reason == "replace_because_renewal_due" and
  .action_reason_detail == "the certificate expires \($na), within renew_before 2200h" and
  .change.actions == ["delete", "create"]' "$WORK/.stdout" >/dev/null || fail "JSON plan lacks the renewal"
jq -e '.resource_changes[] | select(.address == "local_file.cert") | .change.actions == ["update"]' \
  "$WORK/.stdout" >/dev/null || fail "JSON plan lacks the file update"

# A saved plan keeps the reason; applying it renews the certificate.
sfk plan -f stack.yaml -var renew_before=2200h -out renew.plan
expect_rc 0
sfk show renew.plan
expect_rc 0
expect_out "# (because the certificate expires $not_after, within renew_before 2200h)"
sfk apply renew.plan
expect_rc 0
expect_out "Apply complete! Resources: 1 added, 4 changed, 1 destroyed."
serial2=$(openssl x509 -in out/tls.crt -noout -serial | cut -d= -f2)
[ "$serial2" != "$serial1" ] || fail "the certificate was not renewed (serial $serial1)"
openssl verify -purpose sslserver -CAfile out/ca.crt out/tls.crt >/dev/null 2>&1 || fail "renewed certificate does not verify"
[ "$(openssl x509 -in out/tls.crt -noout -pubkey)" = "$(openssl pkey -in out/tls.key -pubout)" ] ||
  fail "the renewed key file does not belong to the renewed certificate"
sfk output -raw serial
[ "$(cat "$WORK/.stdout")" = "$serial2" ] || fail "serial output not updated"

# renew_before still longer than any certificate of 2160h lives: every
# plan renews it. Back to 720h is an update in place that keeps it.
sfk plan -f stack.yaml -var renew_before=2200h -detailed-exitcode
expect_rc 2
expect_out "# tls_certificate.webhook must be replaced"
sfk plan -f stack.yaml -detailed-exitcode
expect_rc 2
expect_out "# tls_certificate.webhook will be updated in place"
expect_out "Plan: 0 to add, 1 to change, 0 to destroy."
sfk apply -f stack.yaml -auto-approve
expect_rc 0
expect_out "Apply complete! Resources: 0 added, 1 changed, 0 destroyed."
[ "$(openssl x509 -in out/tls.crt -noout -serial | cut -d= -f2)" = "$serial2" ] || fail "an update in place renewed"
sfk plan -f stack.yaml -detailed-exitcode
expect_rc 0
expect_out "No changes."

sfk show
expect_rc 0
expect_out "(sensitive value)"
sfk show -json
expect_rc 0
sfk output
expect_rc 0
expect_out "key = (sensitive value)"

# Neither key (the webhook's, both generations, and the CA's) ever showed.
jq -r '.resources["tls_certificate.ca"].attributes.key_pem' sparkform.state.json > ca.key
grep -q "BEGIN PRIVATE KEY" ca.key || fail "no CA key in the state to look for"
for line in "$(sed -n 2p ca.key)" "$(sed -n 2p out/tls.key)" "$key1_line"; do
  [ -n "$line" ] || continue
  ! grep -qF -- "$line" all-output || fail "a private key reached the output"
done
! grep -q "PRIVATE KEY" all-output || fail "a private key reached the output"
grep -q "tls_certificate.webhook" all-output || fail "no output collected"
