# kubernetes_secret and kubernetes_config_map against a localcloud cluster
# (its kubeconfig as KUBECONFIG, the provider's file): a generic Secret, a
# dockerconfigjson one and a ConfigMap from two files (one a .py job). The
# real kubectl reads the decoded values; a second plan is empty; a changed
# file plans one update; a changed secret value plans one update that
# shows no value, nor does SF_LOG=debug; kubectl edit of a managed key is
# drift, a key added by another manager is not; import of each plans
# nothing; destroy removes them.
. "$ROOT/tests/e2e/lib-cloud.sh"
. "$ROOT/tests/e2e/lib-k8s.sh"
command -v kubectl >/dev/null || fail "kubectl is not installed"
LC_DELAY_MS=50 cloud_start
k8s_cluster objs
export KUBECONFIG="$WORK/objs.kubeconfig"

PW="pw-$$-Xq7-never-shown"
AUTH=$(printf 'robot:%s' "reg-$$-tok-never-shown" | base64 -w0)
DOCKER="{\"auths\":{\"registry.local\":{\"auth\":\"$AUTH\"}}}"
mkdir code
printf 'import sys\nprint("job", sys.argv)\n' > code/job.py
printf 'spark.executor.instances=2\n' > code/spark.conf

write_objs() {
  cat > stack.yaml <<Y
apiVersion: sparkform/v1
kind: Stack
metadata: {name: k8sobjs}
resources:
  - type: kubernetes_secret
    name: db
    with:
      name: db
      labels: {app: web}
      data: {username: admin, password: "$PW"}
  - type: kubernetes_secret
    name: pull
    with:
      name: pull
      namespace: default
      type: kubernetes.io/dockerconfigjson
      data: {.dockerconfigjson: '$DOCKER'}
  - type: kubernetes_config_map
    name: code
    with:
      name: job-code
      data: {mode: fast}
      files: {job.py: code/job.py, spark.conf: code/spark.conf}
Y
}
write_objs

# secrets: no output of any command may hold them
secrets_absent() {
  expect_no "$PW"
  expect_no "$AUTH"
  expect_no "$(printf %s "$PW" | base64 -w0)"
}

sf plan -f stack.yaml
expect_rc 0
[ "$(plan_counts)" = "3 0 0" ] || { cat "$WORK/.stdout"; fail "plan $(plan_counts)"; }
expect_out "(sensitive value)"
expect_out 'print("job", sys.argv)'
secrets_absent

SF_LOG=debug sf apply -f stack.yaml -auto-approve
expect_rc 0
secrets_absent

# kubectl sees the decoded values
secret_value() { kubectl get secret "$1" -o json | jq -j ".data[\"$2\"]" | base64 -d; }
[ "$(secret_value db password)" = "$PW" ] || fail "db.password is not the text given"
[ "$(secret_value db username)" = admin ] || fail "db.username"
[ "$(kubectl get secret db -o jsonpath='{.metadata.labels.app}')" = web ] || fail "db's label"
[ "$(kubectl get secret pull -o jsonpath='{.type}')" = kubernetes.io/dockerconfigjson ] ||
  fail "pull's type"
[ "$(secret_value pull .dockerconfigjson)" = "$DOCKER" ] || fail "pull's .dockerconfigjson"
kubectl get cm job-code -o json | jq -j '.data["job.py"]' > got.py
cmp -s got.py code/job.py || fail "job.py in the config map differs from the file"
[ "$(kubectl get cm job-code -o json | jq -j '.data["spark.conf"]')" = "spark.executor.instances=2" ] ||
  fail "spark.conf"
[ "$(kubectl get cm job-code -o jsonpath='{.data.mode}')" = fast ] || fail "mode"

sf plan -f stack.yaml -detailed-exitcode
[ "$rc" -eq 0 ] || { cat "$WORK/.stdout" "$WORK/.stderr"; fail "the plan after apply is not empty"; }

# ---- a changed file: one update, applied
printf 'import sys\nprint("job v2", sys.argv)\n' > code/job.py
sf plan -f stack.yaml -detailed-exitcode
expect_rc 2
[ "$(plan_counts)" = "0 1 0" ] || { cat "$WORK/.stdout"; fail "file: plan $(plan_counts)"; }
expect_out "kubernetes_config_map.code will be updated in place"
expect_out 'job v2'
sf apply -f stack.yaml -auto-approve
expect_rc 0
kubectl get cm job-code -o json | jq -j '.data["job.py"]' > got.py
cmp -s got.py code/job.py || fail "the changed job.py was not applied"

# ---- a changed secret value: one update that shows no value
OLD=$PW
PW="pw2-$$-Zr9-never-shown"
write_objs
SF_LOG=debug sf plan -f stack.yaml -detailed-exitcode
expect_rc 2
[ "$(plan_counts)" = "0 1 0" ] || { cat "$WORK/.stdout"; fail "secret: plan $(plan_counts)"; }
expect_out "kubernetes_secret.db will be updated in place"
expect_out "data"
expect_out "(sensitive value)"
secrets_absent
expect_no "$OLD"
SF_LOG=debug sf apply -f stack.yaml -auto-approve
expect_rc 0
secrets_absent
expect_no "$OLD"
[ "$(secret_value db password)" = "$PW" ] || fail "the new password was not applied"
sf show
expect_rc 0
secrets_absent

# ---- drift: a key added by another manager is none, a managed key is
KUBE_EDITOR="sed -i -e 's/^data:\$/data:\\n  extra: theirs/'" kubectl edit cm job-code >/dev/null 2>&1 ||
  fail "kubectl edit (add a key)"
[ "$(kubectl get cm job-code -o jsonpath='{.data.extra}')" = theirs ] || fail "the edit did not land"
sf plan -f stack.yaml -detailed-exitcode
[ "$rc" -eq 0 ] || { cat "$WORK/.stdout" "$WORK/.stderr"; fail "an unmanaged key is drift"; }
KUBE_EDITOR="sed -i -e 's/^  mode: fast\$/  mode: slow/'" kubectl edit cm job-code >/dev/null 2>&1 ||
  fail "kubectl edit (a managed key)"
[ "$(kubectl get cm job-code -o jsonpath='{.data.mode}')" = slow ] || fail "the edit did not land"
DRIFT="drift-$$-Yp3"
kubectl patch secret db --type merge -p "{\"data\":{\"password\":\"$(printf %s "$DRIFT" | base64 -w0)\"}}" >/dev/null ||
  fail "kubectl patch secret"
sf plan -f stack.yaml -detailed-exitcode
expect_rc 2
[ "$(plan_counts)" = "0 2 0" ] || { cat "$WORK/.stdout"; fail "drift: plan $(plan_counts)"; }
expect_out "kubernetes_config_map.code will be updated in place"
expect_out '"slow"'
expect_no_out theirs
expect_out "kubernetes_secret.db will be updated in place"
expect_no "$DRIFT"
secrets_absent
sf apply -f stack.yaml -auto-approve
expect_rc 0
[ "$(kubectl get cm job-code -o jsonpath='{.data.mode}/{.data.extra}')" = fast/theirs ] ||
  fail "apply after drift: $(kubectl get cm job-code -o jsonpath='{.data}')"
[ "$(secret_value db password)" = "$PW" ] || fail "the password was not set back"
sf plan -f stack.yaml -detailed-exitcode
[ "$rc" -eq 0 ] || { cat "$WORK/.stdout" "$WORK/.stderr"; fail "the plan after the drift's apply is not empty"; }

# ---- import of each plans nothing
for a in kubernetes_secret.db:default/db kubernetes_secret.pull:default/pull \
         kubernetes_config_map.code:default/job-code; do
  sf state rm "${a%%:*}"
  expect_rc 0
  sf import -f stack.yaml "${a%%:*}" default/db/x
  expect_rc 1
  expect_err "namespace/name"
  sf import -f stack.yaml "${a%%:*}" "${a#*:}"
  expect_rc 0
  secrets_absent
done
sf plan -f stack.yaml -detailed-exitcode
[ "$rc" -eq 0 ] || { cat "$WORK/.stdout" "$WORK/.stderr"; fail "the plan after import is not empty"; }

# ---- destroy
sf destroy -f stack.yaml -auto-approve
expect_rc 0
for o in secret/db secret/pull cm/job-code; do
  kc get "$o"
  [ "$rc" -ne 0 ] || fail "$o is still there after destroy"
  expect_err NotFound
done
