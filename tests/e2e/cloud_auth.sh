# The cloud provider's session: a missing setting names the setting and its
# environment variable; a wrong password is an unauthorized error; a token
# that expires during a run (here after 1 s, while the cluster takes 1.5 s
# to come up) is renewed and the request repeated, so the run succeeds;
# settings in the providers: block win over the environment.
. "$ROOT/tests/e2e/lib-cloud.sh"
LC_DELAY_MS=1500 cloud_start --token-ttl 1
write_stack

# (apply: its plan logs in to check the flavors and images of what it creates.)
for v in OS_AUTH_URL OS_USERNAME OS_PASSWORD; do
  ( unset "$v"; run "$SPARKFORM" apply -f stack.yaml -auto-approve
    expect_rc 1
    expect_err "the cloud provider needs"
    expect_err "$v" )
done
( unset OS_PROJECT_ID; run "$SPARKFORM" apply -f stack.yaml -auto-approve; expect_rc 1; expect_err "OS_PROJECT_ID" )

OS_USERNAME=nobody sf apply -f stack.yaml -auto-approve
expect_rc 1
expect_err "refused the login of user \"nobody\""

expect_inventory "" "after the refused runs"

logins() { grep -c "POST /identity/v3/auth/tokens -> 201" "$WORK/lc.log" || true; }
before=$(logins)
SPARKFORM_PROGRESS_INTERVAL=1 sf apply -f stack.yaml -auto-approve
[ "$rc" -eq 0 ] || { cat "$WORK/.stdout" "$WORK/.stderr"; fail "apply with expiring tokens failed"; }
# A long wait says what it waits for.
expect_out "cloud_k8s_cluster.k8s: Still creating... [1s elapsed] (waiting for RUNNING, PROVISIONING now)"
expect_inventory "$FULL_INVENTORY" "after apply with expiring tokens"
after=$(logins)
[ $((after - before)) -ge 2 ] || fail "the expired token was not renewed ($((after - before)) logins)"
grep -q " -> 401" "$WORK/lc.log" || fail "no request ever met an expired token"

# The block overrides the environment: a project by name, the user's
# domain and the region spelled out.
sed -i "s|^resources:|providers:\n  cloud: {auth_url: \"$URL/identity/v3/\", project_name: local, user_domain_name: users, region: RegionOne}\nresources:|" stack.yaml
OS_AUTH_URL=http://127.0.0.1:1/nowhere OS_PROJECT_ID= sf plan -f stack.yaml -detailed-exitcode
[ "$rc" -eq 0 ] || { cat "$WORK/.stdout" "$WORK/.stderr"; fail "settings from the providers: block not used"; }
sed -i 's/region: RegionOne/region: Elsewhere/' stack.yaml
sf plan -f stack.yaml
expect_rc 1
expect_err "endpoint of interface public in region \"Elsewhere\""

sed -i 's/region: Elsewhere/region: RegionOne/' stack.yaml
sf destroy -f stack.yaml -auto-approve
expect_rc 0
expect_inventory "" "after destroy"
