# Secrets of the cloud provider never reach the terminal: the OS password,
# the identity tokens, the S3 secret key and the kubeconfig (its bearer
# token) appear in no plan, apply, show, output, state listing or
# SF_LOG=debug line, nor in the error of a refused login. `output -raw`
# into a pipe is the one way to get a secret out, and it gives the real one.
. "$ROOT/tests/e2e/lib-cloud.sh"
cloud_start
write_stack
: >"$WORK/all.txt"
keep() { cat "$WORK/.stdout" "$WORK/.stderr" >>"$WORK/all.txt"; }

export SF_LOG=debug
sf plan -f stack.yaml
expect_rc 0
keep
sf apply -f stack.yaml -auto-approve
expect_rc 0
keep
grep -q "X-Auth-Token\|/auth/tokens" "$WORK/.stderr" || fail "SF_LOG=debug logged no request"
sf plan -f stack.yaml -detailed-exitcode
expect_rc 0
keep
unset SF_LOG
for cmd in "show" "show -json" "output" "output -json" "state list" \
           "state show cloud_s3_credentials.s3" "state show cloud_k8s_cluster.k8s"; do
  # shellcheck disable=SC2086
  sf $cmd
  expect_rc 0
  keep
done
# A wrong password: an unauthorized error naming the setting's user, never
# the password.
OS_PASSWORD=not-the-password-9f3c run "$SPARKFORM" plan -f stack.yaml
expect_rc 1
keep
expect_err "refused the login"
expect_no "not-the-password-9f3c"

# What the secrets are: from localcloud's inventory and its token files.
inv=$(curl -sf "$URL/_localcloud/inventory")
secret=$(jq -r '.identity.credentials[].secret' <<<"$inv")
kube_token=$(jq -r '.["container-infra"].clusters[].kube_token' <<<"$inv")
[ -n "$secret" ] && [ -n "$kube_token" ] || fail "no secret in the inventory to look for"
secrets=("$OS_PASSWORD" "$secret" "$kube_token")
for f in "$WORK"/lc/identity/_tokens/*.json; do secrets+=("$(basename "$f" .json)"); done
[ "${#secrets[@]}" -gt 3 ] || fail "no identity token to look for"
# The access key is no secret: that it shows proves the outputs were seen.
grep -qF -- "$(jq -r '.identity.credentials[].access' <<<"$inv")" "$WORK/all.txt" ||
  fail "the access key is not shown anywhere"
for s in "${secrets[@]}"; do
  ! grep -qF -- "$s" "$WORK/all.txt" || fail "a secret (${s:0:4}...) was shown"
done

# Into a pipe, -raw gives the real values.
[ "$("$SPARKFORM" output -raw secret_key | cat)" = "$secret" ] || fail "output -raw secret_key is not the secret"
"$SPARKFORM" output -raw kubeconfig | grep -qF "$kube_token" || fail "output -raw kubeconfig is not the kubeconfig"

sf destroy -f stack.yaml -auto-approve
expect_rc 0
expect_inventory "" "after destroy"
