# The quick start, as `make quickstart` runs it, in a copy of the
# repository's scripts and example with the built binaries: it starts its
# own sshd and localcloud on free loopback ports, applies the example with
# the registry VM, writes the kubeconfig (0600), and the registry it
# reports asks for credentials and takes the generated password, which
# never reaches the terminal. A second run reuses both processes and
# changes nothing; an sshd that died is started again on its port; an sshd
# that cannot start is reported with its log. quickstart-down destroys the
# stack and leaves no process of the quick start running, and keeps the
# sshd's host key and the password for the next run. A failed apply says
# how to stop what runs.
. "$ROOT/tests/e2e/lib-localcloud.sh"
. "$ROOT/tests/e2e/lib-registry.sh"

Q="$WORK/repo"
QS="$Q/build/quickstart"
mkdir -p "$Q/scripts" "$Q/examples" "$Q/build"
cp "$ROOT"/scripts/quickstart "$ROOT"/scripts/quickstart-down "$ROOT"/scripts/quickstart-env "$Q/scripts/"
cp -r "$ROOT/examples/quickstart.yaml" "$ROOT/examples/jobs" "$Q/examples/"
ln -s "$SPARKFORM" "$Q/build/sparkform"
ln -s "$LOCALCLOUD" "$Q/build/localcloud"

# running: the PIDs of processes whose command line names this test's
# quick start directory (a fresh temporary one).
running() { pgrep -f -- "$QS/" | sort -n | tr '\n' ' ' || true; }
pw() { cat "$QS/registry-password"; }

# Whatever a failed check leaves running of this quick start (its sshd,
# localcloud, the registry) is stopped by PID.
stop_left() {
  local p
  for p in $(running); do kill "$p" 2>/dev/null || true; done
}
trap 'stop_left; cleanup' EXIT
# The cloud's waits are not what this test is about: 0.2 s instead of 2 s.
export QUICKSTART_DELAY_MS=200

qs_up() {
  run "$Q/scripts/quickstart"
  expect_rc 0
  [ -s "$QS/registry-password" ] || fail "no password file"
  expect_no "$(pw)"                 # the password is not printed
  expect_out "The registry at http://127.0.0.1:$(cat "$QS/registry-port") answers GET /v2/ with 401 without credentials and 200"
  expect_out "kubectl --kubeconfig $QS/kubeconfig get namespaces"
  expect_out "kube-system"          # the kubectl it ran
  expect_out "make quickstart-down"
}

# nothing_to_do: the apply and the plan after it both found nothing to change.
nothing_to_do() {
  [ "$(grep -cxF "No changes. Your infrastructure matches the description." "$WORK/.stdout")" = 2 ] ||
    { cat "$WORK/.stdout"; fail "the apply or the plan had changes"; }
}

# ---- the first run starts both processes and applies the whole stack
qs_up
expect_out "Starting the quick start's sshd on 127.0.0.1:"
expect_out "Started localcloud (pid "
expect_out "Apply complete! Resources: 52 added, 0 changed, 0 destroyed."
expect_out "No changes. Your infrastructure matches the description."
expect_out 'bucket = "spark-quickstart-service"'
expect_out "kubeconfig = (sensitive value)"
sshd_pid=$(cat "$QS/sshd/sshd.pid") lc_pid=$(cat "$QS/localcloud.pid")
port=$(cat "$QS/sshd/port")
grep -qx -- "--ssh" <(tr '\0' '\n' < "/proc/$lc_pid/cmdline") || fail "localcloud runs without --ssh"
grep -qx -- "127.0.0.1:$port" <(tr '\0' '\n' < "/proc/$lc_pid/cmdline") || fail "localcloud's --ssh is not the sshd's port"
[ "$(stat -c %a "$QS/kubeconfig")" = 600 ] || fail "kubeconfig mode $(stat -c %a "$QS/kubeconfig")"
[ "$(stat -c %a "$QS/registry-password")" = 600 ] || fail "password file mode $(stat -c %a "$QS/registry-password")"
[ "$(pw | tr -d '\n' | wc -c)" -ge 20 ] || fail "the password is short"
host_key=$(cat "$QS/sshd/host_ed25519.pub") password=$(pw)

# What it reported, checked from here: the registry on the "server" (this
# machine, through the sshd), the cluster through the kubeconfig, the
# server's SSH endpoint, the versioned bucket.
REG=$(jq -r '.resources["ssh_registry.registry"].attributes.url' "$QS/sparkform.state.json")
[ "$(v2 "$REG")" = 401 ] || fail "GET $REG/v2/ without credentials is not 401"
[ "$(v2 "$REG" "spark:$password")" = 200 ] || fail "GET $REG/v2/ with the password is not 200"
[ "$(v2 "$REG" "spark:wrong-password")" = 401 ] || fail "GET $REG/v2/ with a wrong password is not 401"
pgrep -xf -- "/usr/bin/docker-registry serve $QS/registry/config.yml" > /dev/null || fail "no docker-registry of the quick start runs"
[ "$(jq -r '.resources["cloud_server.registry"].attributes.ssh_port' "$QS/sparkform.state.json")" = "$port" ] ||
  fail "the server's SSH port is not the sshd's"
run kubectl --kubeconfig "$QS/kubeconfig" --cache-dir "$WORK/kube-cache" --request-timeout 20s get namespace default -o name
expect_rc 0
expect_out "namespace/default"
URL="http://$(cat "$QS/localcloud.ready")"
aws_env "$(jq -r '.resources["cloud_s3_credentials.service"].attributes.access_key' "$QS/sparkform.state.json")" \
        "$(jq -r '.resources["cloud_s3_credentials.service"].attributes.secret_key' "$QS/sparkform.state.json")"
s3_ok get-bucket-versioning --bucket spark-quickstart-service
[ "$(out .Status)" = Enabled ] || fail "the service bucket is not versioned"

# ---- a second run reuses both processes and changes nothing
before=$(running)
qs_up
expect_out "sshd is running already (pid $sshd_pid, 127.0.0.1:$port)"
expect_out "localcloud is running already (pid $lc_pid,"
expect_no_out "Starting"
nothing_to_do
[ "$(running)" = "$before" ] || fail "processes before: $before, after: $(running)"

# ---- an sshd that died is started again, on the port localcloud reports
kill "$sshd_pid"
for _ in $(seq 50); do kill -0 "$sshd_pid" 2>/dev/null || break; sleep 0.1; done
qs_up
expect_out "Started sshd (pid "
expect_out "127.0.0.1:$port"
[ "$(cat "$QS/sshd/port")" = "$port" ] || fail "the sshd moved to port $(cat "$QS/sshd/port")"
nothing_to_do

# ---- quickstart-down: destroyed, nothing of the quick start runs
run "$Q/scripts/quickstart-down"
expect_rc 0
expect_out "Destroy complete! Resources: 52 destroyed."
expect_out "Stopped localcloud (pid $lc_pid)."
expect_out "Stopped sshd (pid "
expect_no "$password"
[ -z "$(running)" ] || { ps -fp "$(running)" || true; fail "still running: $(running)"; }
[ "$(v2 "$REG")" = 000 ] || fail "the registry still answers"
[ ! -e "$QS/registry" ] && [ ! -e "$QS/sparkform.state.json" ] && [ ! -e "$QS/localcloud" ] ||
  fail "the stack's files are left: $(ls "$QS")"
[ "$(cat "$QS/sshd/host_ed25519.pub")" = "$host_key" ] || fail "the host key was not kept"
[ "$(pw)" = "$password" ] || fail "the password was not kept"
run "$Q/scripts/quickstart-down"
expect_rc 0
expect_out "localcloud is not running; nothing to destroy."

# ---- an sshd that cannot start: said, with its log; nothing left running
echo "NoSuchOption yes" >> "$QS/sshd/sshd_config"
run "$Q/scripts/quickstart"
expect_rc 1
expect_err "error: sshd did not come up on 127.0.0.1:"
expect_err "NoSuchOption"
[ -z "$(running)" ] || fail "still running after the failed start: $(running)"

# ---- the sshd's key and the password are those of the first run
sed -i '/^NoSuchOption/d' "$QS/sshd/sshd_config"
qs_up
expect_out "Starting the quick start's sshd"
[ "$(cat "$QS/sshd/host_ed25519.pub")" = "$host_key" ] || fail "the host key changed"
[ "$(pw)" = "$password" ] || fail "the password changed"
[ "$(jq -r '.resources["cloud_server.registry"].attributes.host_key_fingerprint' "$QS/sparkform.state.json")" = \
  "$(ssh-keygen -lf "$QS/sshd/host_ed25519.pub" | cut -d' ' -f2)" ] || fail "the server's host key is not the sshd's"
run "$Q/scripts/quickstart-down"
expect_rc 0
[ -z "$(running)" ] || fail "still running: $(running)"

# ---- a registry that cannot listen (its port taken) fails the apply: the
# script says what still runs and how to stop it, and quickstart-down does
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(600)' \
  > taken-port &
pids+=($!)
for _ in $(seq 50); do [ -s taken-port ] && break; sleep 0.1; done
cp taken-port "$QS/registry-port"
run "$Q/scripts/quickstart"
[ "$rc" -ne 0 ] || fail "the quick start succeeded with the registry's port taken"
expect_err "ssh_registry.registry"
expect_err "The quick start failed; what it started still runs: make quickstart-down stops it."
expect_no "$password"
run "$Q/scripts/quickstart-down"
expect_rc 0
expect_out "Stopped sshd (pid "
[ -z "$(running)" ] || fail "still running: $(running)"
