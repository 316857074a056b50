# ssh_registry against a real sshd and the real docker-registry: localcloud
# maps its servers' SSH endpoint to an sshd this test starts, whose
# AuthorizedKeysFile is the file localcloud keeps with the servers' key
# pairs. A stack of a network, a subnet, a generated key, a key pair, a
# server and the registry on it (base_dir with a space, on a free port):
# apply; nothing to plan after; an image pushed with curl (201 with the
# credentials, 401 without); a password change is one update after which
# the old password is refused and the new one accepted; hostile values
# (quotes, $(...), a user with a space) configure correctly and run nothing;
# a user htpasswd cannot hold is refused at plan; a registry stopped
# outside is started again; a port change restarts it there, and a port
# it cannot listen on fails the apply at once with the registry's words; a
# changed host key fails the next apply naming both fingerprints and
# changes nothing, until the description (a known_hosts file) knows the new
# key; destroy leaves no registry process and no base_dir. No secret
# reaches any output, debug log, or remote command line.
. "$ROOT/tests/e2e/lib-cloud.sh"
. "$ROOT/tests/e2e/lib-ssh.sh"
. "$ROOT/tests/e2e/lib-registry.sh"

AUTH="$WORK/authorized_keys"
sshd_start "$AUTH"
OLD_FP=$(fingerprint "$SSHD_HOST_KEY.pub")
cloud_start --ssh "127.0.0.1:$SSHD_PORT" --ssh-host-key "$SSHD_HOST_KEY.pub" --ssh-authorized-keys "$AUTH"

BASE="$WORK/reg dir/registry"
REG_PORT=$(free_port)
export REG_PW=first-Secret-1 REG_PW_CI=unused-ci-Secret
PW2=second-Secret-2
HOSTILE="a'b\"c\$(touch $WORK/pwned);d"
PW3="ci's \`touch $WORK/p2\` \$HOME"
# bcrypt reads 72 bytes of a password: $WORK must leave room for the rest.
[ ${#HOSTILE} -le 72 ] && [ ${#PW3} -le 72 ] || fail "\$WORK ($WORK) is too long for the passwords of this test"
USERS='{alice: "${var.pw}"}'
HOST_KEY_BY_SERVER='host_key_fingerprint: "${cloud_server.vm.host_key_fingerprint}"'
HOST_KEY=$HOST_KEY_BY_SERVER

trap 'stop_registry; cleanup' EXIT

write_stack() {
  cat > stack.yaml <<YAML
apiVersion: sparkform/v1
kind: Stack
metadata: {name: sshreg}
variables:
  pw: {env: REG_PW, sensitive: true}
  pw_ci: {env: REG_PW_CI, sensitive: true}
resources:
  - {type: local_ssh_key, name: k, with: {comment: sshreg}}
  - type: cloud_keypair
    name: kp
    with: {name: sshreg-key, public_key: "\${local_ssh_key.k.public_key_openssh}"}
  - {type: cloud_network, name: net, with: {name: sshreg-net}}
  - type: cloud_subnet
    name: sub
    with: {name: sshreg-sub, network_id: "\${cloud_network.net.id}", cidr: 10.30.0.0/24}
  - type: cloud_server
    name: vm
    depends_on: [cloud_subnet.sub]
    with:
      name: sshreg-vm
      flavor: STD2-2-4
      image: ubuntu-22.04
      network_id: "\${cloud_network.net.id}"
      keypair: "\${cloud_keypair.kp.name}"
  - type: ssh_registry
    name: reg
    with:
      host: "\${cloud_server.vm.ssh_host}"
      ssh_port: "\${cloud_server.vm.ssh_port}"
      ssh_user: "$(id -un)"
      $HOST_KEY
      private_key: "\${local_ssh_key.k.private_key_openssh}"
      base_dir: "$BASE"
      listen_address: 127.0.0.1
      port: $REG_PORT
      users: $USERS
outputs:
  url: "\${ssh_registry.reg.url}"
  dockerconfig: {value: "\${ssh_registry.reg.docker_config_json}", sensitive: true}
YAML
}

# Every output of sparkform is kept, to look for secrets at the end.
sfl() { sf "$@"; cat "$WORK/.stdout" "$WORK/.stderr" >> "$WORK/all-output"; }

# v2s [CREDENTIALS] [PORT]: the status GET /v2/ answers (lib-registry.sh).
v2s() { v2 "http://127.0.0.1:${2:-$REG_PORT}" "${1:-}"; }
expect_v2() { # EXPECTED WHAT [CREDENTIALS] [PORT]
  local got; got=$(v2s "${3:-}" "${4:-}")
  [ "$got" = "$1" ] || fail "$2: GET /v2/ answered $got, expected $1"
}
registry_pid() { cat "$BASE/registry.pid"; }

# ---- apply
write_stack
sfl apply -f stack.yaml -auto-approve
expect_rc 0
state_attr() { jq -r ".resources[\"$1\"].attributes.$2" sparkform.state.json; }
# The server's key pair is what sshd accepts (cloud-init's part), and the
# fingerprint the server exported is the sshd's.
[ "$(cut -d' ' -f1,2 "$AUTH")" = "$(state_attr local_ssh_key.k public_key_openssh | cut -d' ' -f1,2)" ] ||
  fail "the authorized keys are not the key pair's: $(cat "$AUTH")"
[ "$(state_attr cloud_server.vm host_key_fingerprint)" = "$OLD_FP" ] || fail "the server does not export the sshd's key"
[ "$(state_attr ssh_registry.reg url)" = "http://127.0.0.1:$REG_PORT" ] || fail "url: $(state_attr ssh_registry.reg url)"
# A line of the private key, to look for in outputs at the end.
key_line=$(state_attr local_ssh_key.k private_key_openssh | sed -n 2p)
[ ${#key_line} -gt 40 ] || fail "no private key to look for"
for f in config.yml htpasswd; do
  [ "$(stat -c %a "$BASE/$f")" = 600 ] || fail "$f has mode $(stat -c %a "$BASE/$f")"
done
grep -qF "path: \"$BASE/htpasswd\"" "$BASE/config.yml" || { cat "$BASE/config.yml"; fail "config.yml does not point at base_dir/htpasswd"; }
htpasswd -vb "$BASE/htpasswd" alice "$REG_PW" 2>/dev/null || fail "htpasswd does not verify alice's password"
expect_v2 401 "without credentials"
expect_v2 200 "alice" "alice:$REG_PW"
kill -0 "$(registry_pid)" || fail "no registry process behind the pid file"
# The pull secret's auth is the first user's.
"$SPARKFORM" output -raw dockerconfig > dockerconfig.json
[ "$(jq -r ".auths[\"127.0.0.1:$REG_PORT\"].auth" dockerconfig.json | base64 -d)" = "alice:$REG_PW" ] ||
  fail "docker_config_json: $(jq -c 'del(.auths[].auth)' dockerconfig.json)"
sfl plan -f stack.yaml -detailed-exitcode
expect_rc 0
expect_no_out "has changed"

# ---- an image: pushed with the credentials, refused without
push "http://127.0.0.1:$REG_PORT" "alice:$REG_PW" demo/app v1
[ "$code" = 201 ] || fail "manifest PUT with credentials: HTTP $code"
push "http://127.0.0.1:$REG_PORT" "" demo/app v2
[ "$code" = 401 ] || fail "blob upload without credentials: HTTP $code"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/vnd.docker.distribution.manifest.v2+json' \
      --data-binary @manifest.json "http://127.0.0.1:$REG_PORT/v2/demo/app/manifests/v3")" = 401 ] ||
  fail "manifest PUT without credentials is not refused"
[ "$(curl -s -o /dev/null -w '%{http_code}' -u "alice:$REG_PW" -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
      "http://127.0.0.1:$REG_PORT/v2/demo/app/manifests/v1")" = 200 ] || fail "the pushed manifest cannot be read"

# ---- a password change: one update, the old password refused after it.
# distribution 2.8.2 reads htpasswd again when it changes: no restart.
pid_before=$(registry_pid)
OLD_PW=$REG_PW
export REG_PW=$PW2
sfl plan -f stack.yaml -detailed-exitcode
expect_rc 2
[ "$(plan_counts)" = "0 1 0" ] || { cat "$WORK/.stdout"; fail "password change: plan $(plan_counts), expected one update"; }
expect_out "# ssh_registry.reg will be updated in place"
SF_LOG=debug sfl apply -f stack.yaml -auto-approve
expect_rc 0
expect_v2 401 "the old password" "alice:$OLD_PW"
expect_v2 200 "the new password" "alice:$PW2"
[ "$(registry_pid)" = "$pid_before" ] || fail "the registry was restarted for a password change"
sfl plan -f stack.yaml -detailed-exitcode
expect_rc 0

# ---- hostile values: a password with quotes and $(...), a user with a space.
USERS='{alice: "${var.pw}", "ci user": "${var.pw_ci}"}'
export REG_PW=$HOSTILE REG_PW_CI=$PW3
write_stack
sfl plan -f stack.yaml -detailed-exitcode
expect_rc 2
[ "$(plan_counts)" = "0 1 0" ] || { cat "$WORK/.stdout"; fail "hostile users: plan $(plan_counts), expected one update"; }
sfl apply -f stack.yaml -auto-approve
expect_rc 0
expect_v2 200 "alice with the hostile password" "alice:$HOSTILE"
expect_v2 200 "the user with a space" "ci user:$PW3"
expect_v2 401 "the user with a space and another's password" "ci user:$HOSTILE"
htpasswd -vb "$BASE/htpasswd" "ci user" "$PW3" 2>/dev/null || fail "htpasswd does not verify the user with a space"
htpasswd -vb "$BASE/htpasswd" alice "$HOSTILE" 2>/dev/null || fail "htpasswd does not verify the hostile password"
[ ! -e "$WORK/pwned" ] && [ ! -e "$WORK/p2" ] || fail "a password ran a command"
[ "$(curl -s -o /dev/null -w '%{http_code}' -u "ci user:$PW3" "http://127.0.0.1:$REG_PORT/v2/demo/app/manifests/v1" \
      -H 'Accept: application/vnd.docker.distribution.manifest.v2+json')" = 200 ] || fail "the user with a space cannot pull"
sfl plan -f stack.yaml -detailed-exitcode
expect_rc 0

# ---- a user htpasswd cannot hold is refused before anything is done
USERS_OK=$USERS
USERS='{"ci:user": "${var.pw}"}'
write_stack
sfl plan -f stack.yaml
expect_rc 1
expect_err 'users: "ci:user": a user name cannot contain '"':'"
USERS=$USERS_OK
write_stack

# ---- stopped outside: the plan starts it again
pid_before=$(registry_pid)
kill "$pid_before"
for _ in $(seq 100); do kill -0 "$pid_before" 2>/dev/null || break; sleep 0.05; done
sfl plan -f stack.yaml -detailed-exitcode
expect_rc 2
expect_out "running"
sfl apply -f stack.yaml -auto-approve
expect_rc 0
[ "$(registry_pid)" != "$pid_before" ] && kill -0 "$(registry_pid)" || fail "the registry was not started again"
expect_v2 200 "after the start" "alice:$HOSTILE"

# ---- another port: the registry restarts there
OLD_PORT=$REG_PORT
REG_PORT=$(free_port)
write_stack
sfl plan -f stack.yaml -detailed-exitcode
expect_rc 2
[ "$(plan_counts)" = "0 1 0" ] || { cat "$WORK/.stdout"; fail "port change: plan $(plan_counts), expected one update"; }
sfl apply -f stack.yaml -auto-approve
expect_rc 0
expect_v2 000 "the old port" "" "$OLD_PORT"
expect_v2 401 "the new port without credentials"
expect_v2 200 "the new port" "ci user:$PW3"
[ "$(state_attr ssh_registry.reg url)" = "http://127.0.0.1:$REG_PORT" ] || fail "url not updated"
sfl plan -f stack.yaml -detailed-exitcode
expect_rc 0

# ---- a port the registry cannot listen on (sshd's): the apply fails at
# once with the registry's own words; the right port again repairs it.
GOOD_PORT=$REG_PORT
REG_PORT=$SSHD_PORT
write_stack
started=$(date +%s)
sfl apply -f stack.yaml -auto-approve
expect_rc 1
expect_err "the registry is not running on the server"
expect_err "address already in use"
[ $(( $(date +%s) - started )) -lt 20 ] || fail "a registry that cannot start took $(( $(date +%s) - started ))s to fail"
REG_PORT=$GOOD_PORT
write_stack
sfl apply -f stack.yaml -auto-approve
expect_rc 0
expect_v2 200 "after the repair" "ci user:$PW3"
sfl plan -f stack.yaml -detailed-exitcode
expect_rc 0

# ---- the server's host key changes: the next apply fails, naming both
# fingerprints, and changes nothing.
mkdir -p saved && cp "$SSHD_HOST_KEY" "$SSHD_HOST_KEY.pub" saved/
sshd_stop
rm -f "$SSHD_HOST_KEY" "$SSHD_HOST_KEY.pub"
sshd_start "$AUTH"
NEW_FP=$(fingerprint "$SSHD_HOST_KEY.pub")
[ "$NEW_FP" != "$OLD_FP" ] || fail "the new host key is the old one"
state_sum=$(sha256sum < sparkform.state.json)
config_sum=$(sha256sum < "$BASE/config.yml")
ht_sum=$(sha256sum < "$BASE/htpasswd")
pid_before=$(registry_pid)
commands_before=$(wc -l < "$WORK/sshd/commands.log")
REG_PW=changed-after-the-key-Secret sfl apply -f stack.yaml -auto-approve
expect_rc 1
expect_err "$OLD_FP"
expect_err "$NEW_FP"
[ "$(sha256sum < sparkform.state.json)" = "$state_sum" ] || fail "the state changed"
[ "$(sha256sum < "$BASE/config.yml")" = "$config_sum" ] && [ "$(sha256sum < "$BASE/htpasswd")" = "$ht_sum" ] ||
  fail "the registry's files changed"
[ "$(registry_pid)" = "$pid_before" ] && kill -0 "$pid_before" || fail "the registry was touched"
[ "$(wc -l < "$WORK/sshd/commands.log")" = "$commands_before" ] || fail "a command reached the server with the wrong key"
expect_v2 200 "after the refused apply" "alice:$HOSTILE"
# Told the new key (a known_hosts file now, relative to the description),
# an apply without refresh records it, and reads go through again.
known() { printf '[127.0.0.1]:%s %s\n' "$SSHD_PORT" "$(cut -d' ' -f1,2 "$1")" > known_hosts; }
known "$SSHD_HOST_KEY.pub"
HOST_KEY='known_hosts_path: known_hosts'
write_stack
sfl apply -f stack.yaml -auto-approve -refresh=false
expect_rc 0
sfl plan -f stack.yaml -detailed-exitcode
expect_rc 0
# A known_hosts that knows another key for the host fails the same way.
known saved/host_ed25519.pub
sfl plan -f stack.yaml
expect_rc 1
expect_err "has changed: known_hosts"
expect_err "expects $OLD_FP, the server offers $NEW_FP"
# The old key back, and the server's fingerprint again.
sshd_stop
cp saved/* "$WORK/sshd/"
sshd_start "$AUTH"
sfl plan -f stack.yaml -detailed-exitcode
expect_rc 0
HOST_KEY=$HOST_KEY_BY_SERVER
write_stack
sfl apply -f stack.yaml -auto-approve -refresh=false
expect_rc 0
sfl plan -f stack.yaml -detailed-exitcode
expect_rc 0

# ---- destroy: no registry process, no base_dir
pid_before=$(registry_pid)
sfl destroy -f stack.yaml -auto-approve
expect_rc 0
for _ in $(seq 40); do kill -0 "$pid_before" 2>/dev/null || break; sleep 0.05; done
! kill -0 "$pid_before" 2>/dev/null || fail "the registry still runs"
! pgrep -f -- "$BASE/config.yml" >/dev/null || fail "a registry of base_dir still runs: $(pgrep -af -- "$BASE/config.yml")"
[ ! -e "$BASE" ] || fail "base_dir is still there: $(ls -la "$BASE")"
[ ! -s "$AUTH" ] || fail "the key is still authorized after the server went: $(cat "$AUTH")"
expect_inventory "" "after destroy"
expect_v2 000 "after destroy"
# Deleting what is gone succeeds: nothing is recorded any more.
sfl destroy -f stack.yaml -auto-approve
expect_rc 0

# ---- no secret in any output, debug log, or remote command line
for secret in first-Secret-1 "$PW2" "$HOSTILE" "$PW3" changed-after-the-key-Secret "$key_line"; do
  ! grep -qF -- "$secret" "$WORK/all-output" || fail "a secret is in the output: ${secret:0:6}..."
  ! grep -qF -- "$secret" "$WORK/sshd/commands.log" || fail "a secret is on a remote command line: ${secret:0:6}..."
done
grep -q '^ssh: .*: connect -> SHA256:' "$WORK/all-output" || fail "SF_LOG=debug logs no SSH steps"
