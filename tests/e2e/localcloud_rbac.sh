# localcloud's Kubernetes API enforcing service-account tokens and RBAC,
# driven by the real kubectl: the token controller filling token Secrets,
# `kubectl auth can-i` and real requests agreeing for a viewer and a
# submitter of SparkApplications, 403 with Kubernetes' message, the
# discovery every user may read, TokenReview and SubjectAccessReview as an
# authorizing proxy (kube-rbac-proxy) sends them, and revocation by
# deleting the token Secret or the service account.
. "$ROOT/tests/e2e/lib-k8s.sh"
command -v kubectl >/dev/null || fail "kubectl is not installed"

lc_start lc
k8s_cluster c1
ADMIN="$WORK/c1.kubeconfig"
export KUBECONFIG="$ADMIN"
M="$ROOT/tests/e2e/rbac-manifests"
jqo() { jq -r "$1" "$WORK/.stdout"; }

kc apply -f "$M/00-crd.yaml"
expect_rc 0
kc wait --for condition=Established crd/sparkapplications.sparkoperator.k8s.io --timeout 20s
expect_rc 0
kc apply -f "$M/10-access.yaml" -f "$M/20-proxy.yaml"
expect_rc 0

# token_of NAME: the token of secret NAME in jobs, once the controller has
# filled it (kept in a file, never printed)
token_of() {
  for _ in $(seq 100); do
    kc get secret -n jobs "$1" -o json
    expect_rc 0
    [ "$(jqo '.data.token // empty')" != "" ] && break
    sleep 0.1
  done
  [ "$(jqo '.data.token // empty')" != "" ] || fail "secret $1 never got its token"
  [ "$(jqo '.data.namespace | @base64d')" = jobs ] || fail "secret $1: data.namespace"
  [ "$(jqo '.data["ca.crt"] | @base64d' | head -1)" = "-----BEGIN CERTIFICATE-----" ] \
    || fail "secret $1: data.ca.crt"
  [ "$(jqo '.metadata.annotations["kubernetes.io/service-account.uid"]')" \
    = "$(kubectl --cache-dir "$WORK/kube-cache" get sa -n jobs "${1%-token}" -o jsonpath='{.metadata.uid}')" ] \
    || fail "secret $1: the account's uid"
  jqo '.data.token | @base64d' >"$WORK/$1"
}
# kubeconfig_for NAME: the admin's kubeconfig with the token of NAME
kubeconfig_for() {
  token_of "$1-token"
  jq --rawfile t "$WORK/$1-token" '.users[0].user.token = ($t | rtrimstr("\n"))' "$ADMIN" >"$WORK/$1.kubeconfig"
}
kubeconfig_for viewer
kubeconfig_for submitter
kubeconfig_for auth-proxy
cmp -s "$WORK/viewer-token" "$WORK/submitter-token" && fail "two accounts got the same token"

# as NAME ARGS...: kubectl with NAME's kubeconfig
as() { local who=$1; shift; KUBECONFIG="$WORK/$who.kubeconfig" kc "$@"; }

# can WHO VERB RESOURCE ANSWER: `kubectl auth can-i` in jobs
can() {
  as "$1" auth can-i "$2" "$3" -n jobs
  [ "$(cat "$WORK/.stdout")" = "$4" ] || { cat "$WORK/.stdout" "$WORK/.stderr"; fail "$1 can-i $2 $3: expected $4"; }
}
can viewer list sparkapplications.sparkoperator.k8s.io yes
can viewer get pods/log yes
can viewer watch configmaps yes
can viewer create sparkapplications.sparkoperator.k8s.io no
can viewer delete sparkapplications.sparkoperator.k8s.io no
can viewer get secrets no
can submitter create sparkapplications.sparkoperator.k8s.io yes
can submitter delete sparkapplications.sparkoperator.k8s.io yes
can submitter update sparkapplications.sparkoperator.k8s.io no
can submitter list secrets no
can submitter create pods no
# another namespace: nothing is bound there
as viewer auth can-i list pods -n default
[ "$(cat "$WORK/.stdout")" = no ] || fail "viewer may list pods in default"
# --list: the rules of the namespace (SelfSubjectRulesReview)
as viewer auth can-i --list -n jobs
expect_rc 0
grep -Eq '^sparkapplications\.sparkoperator\.k8s\.io +\[\] +\[\] +\[get list watch\]' "$WORK/.stdout" \
  || { cat "$WORK/.stdout"; fail "can-i --list lacks the viewer's rule"; }
grep -Eq '^pods/log ' "$WORK/.stdout" || { cat "$WORK/.stdout"; fail "can-i --list lacks pods/log"; }
grep -q secrets "$WORK/.stdout" && fail "can-i --list shows secrets to the viewer"
# the admin may do everything
kc auth can-i '*' '*' -A
expect_rc 0
expect_out yes

# ---- real requests agree
as viewer get sparkapplications -n jobs
expect_rc 0
expect_err "No resources found in jobs namespace."
as viewer get configmap job-code -n jobs -o jsonpath='{.data.main\.py}'
expect_rc 0
expect_out 'print("hello")'
as viewer create -f "$M/app.yaml"
expect_rc 1
expect_err 'sparkapplications.sparkoperator.k8s.io is forbidden: User "system:serviceaccount:jobs:viewer" cannot create resource "sparkapplications" in API group "sparkoperator.k8s.io" in the namespace "jobs"'
as submitter create -f "$M/app.yaml"
expect_rc 0
expect_out "sparkapplication.sparkoperator.k8s.io/pi created"
as viewer get sparkapplication pi -n jobs -o jsonpath='{.spec.type}'
expect_rc 0
expect_out Python
for who in viewer submitter; do
  as "$who" get secrets -n jobs
  expect_rc 1
  expect_err "secrets is forbidden: User \"system:serviceaccount:jobs:$who\" cannot list resource \"secrets\" in API group \"\" in the namespace \"jobs\""
  as "$who" get secret app-credentials -n jobs
  expect_rc 1
  expect_err "secrets \"app-credentials\" is forbidden: User \"system:serviceaccount:jobs:$who\" cannot get resource \"secrets\" in API group \"\" in the namespace \"jobs\""
done
as viewer get namespaces
expect_rc 1
expect_err 'namespaces is forbidden: User "system:serviceaccount:jobs:viewer" cannot list resource "namespaces" in API group "" at the cluster scope'
as viewer get pods -n default
expect_rc 1
expect_err 'in the namespace "default"'
as submitter delete sparkapplication pi -n jobs
expect_rc 0

# the raw answer is Kubernetes' Status
jq -r '.clusters[0].cluster["certificate-authority-data"] | @base64d' "$ADMIN" >"$WORK/ca.pem"
SERVER=$(jq -r '.clusters[0].cluster.server' "$ADMIN")
# api WHO METHOD PATH [BODY]: a request with WHO's token (file $WORK/WHO-token)
api() {
  local who=$1 m=$2 p=$3; shift 3
  local args=(-s -o "$WORK/body" -w '%{http_code}' --cacert "$WORK/ca.pem" -X "$m"
    -H "Authorization: Bearer $(cat "$WORK/$who-token")")
  [ $# -gt 0 ] && args+=(-H 'Content-Type: application/json' --data-binary "$1")
  code=$(curl "${args[@]}" "$SERVER$p") || code=000
}
api viewer GET /api/v1/namespaces/jobs/secrets
expect_code 403 "viewer lists secrets"
expect_body .kind Status
expect_body .reason Forbidden
expect_body .code 403
expect_body .details.kind secrets
# discovery and the version: every authenticated user
for p in /api /apis /version /api/v1 /apis/sparkoperator.k8s.io/v1beta2 /openapi/v3; do
  api viewer GET "$p"
  expect_code 200 "viewer GET $p"
done
api viewer GET /apis/authorization.k8s.io/v1
expect_code 200 "authorization.k8s.io discovery"
expect_body '[.resources[].name] | sort | join(",")' \
  selfsubjectaccessreviews,selfsubjectrulesreviews,subjectaccessreviews
expect_body '.resources[0].verbs | join(",")' create
api viewer GET /apis/authentication.k8s.io/v1
expect_code 200 "authentication.k8s.io discovery"
expect_body '.resources[0].name' tokenreviews
echo nope >"$WORK/bad-token"
api bad GET /api
expect_code 401 "an unknown token"
expect_body .reason Unauthorized

# ---- the reviews, as an authorizing proxy sends them
tr_body() { jq -cn --rawfile t "$WORK/$1-token" '{apiVersion:"authentication.k8s.io/v1",kind:"TokenReview",spec:{token:($t|rtrimstr("\n"))}}'; }
api auth-proxy POST /apis/authentication.k8s.io/v1/tokenreviews "$(tr_body viewer)"
expect_code 201 "TokenReview of viewer"
expect_body .kind TokenReview
expect_body .status.authenticated true
expect_body .status.user.username system:serviceaccount:jobs:viewer
expect_body '.status.user.groups | join(",")' system:serviceaccounts,system:serviceaccounts:jobs,system:authenticated
VIEWER_UID=$(body .status.user.uid)
[ -n "$VIEWER_UID" ] || fail "TokenReview: no uid"
jq -c .status "$WORK/body" | grep -qF "$(cat "$WORK/viewer-token")" && fail "TokenReview puts the token in its status"
api auth-proxy POST /apis/authentication.k8s.io/v1/tokenreviews "$(tr_body submitter)"
expect_code 201 "TokenReview of submitter"
expect_body .status.user.username system:serviceaccount:jobs:submitter
api auth-proxy POST /apis/authentication.k8s.io/v1/tokenreviews "$(tr_body bad)"
expect_code 201 "TokenReview of a bad token"
expect_body .status.authenticated false
# the admin may review too; a viewer may not
jq -r '.users[0].user.token' "$ADMIN" >"$WORK/admin-token"
api admin POST /apis/authentication.k8s.io/v1/tokenreviews "$(tr_body viewer)"
expect_code 201 "TokenReview by the admin"
expect_body .status.authenticated true
api viewer POST /apis/authentication.k8s.io/v1/tokenreviews "$(tr_body submitter)"
expect_code 403 "TokenReview by the viewer"
expect_body .message 'tokenreviews.authentication.k8s.io is forbidden: User "system:serviceaccount:jobs:viewer" cannot create resource "tokenreviews" in API group "authentication.k8s.io" at the cluster scope'
expect_body .details.group authentication.k8s.io

# sar USER VERB RESOURCE: a SubjectAccessReview as kube-rbac-proxy builds it
# from the TokenReview's user
sar() {
  jq -cn --arg u "$1" --arg v "$2" --arg r "$3" --arg uid "$VIEWER_UID" '{apiVersion:"authorization.k8s.io/v1",kind:"SubjectAccessReview",
    spec:{user:$u,uid:$uid,groups:["system:serviceaccounts","system:serviceaccounts:jobs","system:authenticated"],
      resourceAttributes:{namespace:"jobs",verb:$v,group:"sparkoperator.k8s.io",resource:$r}}}'
}
api auth-proxy POST /apis/authorization.k8s.io/v1/subjectaccessreviews "$(sar system:serviceaccount:jobs:viewer get sparkapplications)"
expect_code 201 "SubjectAccessReview"
expect_body .kind SubjectAccessReview
expect_body .status.allowed true
api auth-proxy POST /apis/authorization.k8s.io/v1/subjectaccessreviews "$(sar system:serviceaccount:jobs:viewer create sparkapplications)"
expect_code 201 "SubjectAccessReview (create)"
expect_body .status.allowed false
api auth-proxy POST /apis/authorization.k8s.io/v1/subjectaccessreviews "$(sar system:serviceaccount:jobs:submitter create sparkapplications)"
expect_body .status.allowed true
api auth-proxy POST /apis/authorization.k8s.io/v1/subjectaccessreviews \
  '{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"system:serviceaccount:jobs:viewer","nonResourceAttributes":{"path":"/metrics","verb":"get"}}}'
expect_code 201 "SubjectAccessReview (non-resource)"
expect_body .status.allowed false
api viewer POST /apis/authorization.k8s.io/v1/subjectaccessreviews "$(sar system:serviceaccount:jobs:viewer get sparkapplications)"
expect_code 403 "SubjectAccessReview by the viewer"
# nothing of the reviews is stored
api admin GET /apis/authorization.k8s.io/v1/subjectaccessreviews
[ "$code" != 200 ] || fail "reviews can be listed"

# ---- revocation: deleting the token Secret
kc delete secret -n jobs viewer-token
expect_rc 0
as viewer get sparkapplications -n jobs
expect_rc 1
expect_err "Unauthorized"
api viewer GET /api
expect_code 401 "the deleted secret's token"
api auth-proxy POST /apis/authentication.k8s.io/v1/tokenreviews "$(tr_body viewer)"
expect_body .status.authenticated false
# a new secret gives a new token
kc apply -f "$M/10-access.yaml"
expect_rc 0
cp "$WORK/viewer-token" "$WORK/viewer-old"
kubeconfig_for viewer
cmp -s "$WORK/viewer-token" "$WORK/viewer-old" && fail "the new secret has the old token"
as viewer get sparkapplications -n jobs
expect_rc 0
# ... or deleting the service account (a new one of that name does not revive it)
kc delete sa -n jobs submitter
expect_rc 0
as submitter get sparkapplications -n jobs
expect_rc 1
expect_err "Unauthorized"
kc create sa -n jobs submitter
expect_rc 0
api submitter GET /api
expect_code 401 "the token of a deleted account, after it is recreated"
