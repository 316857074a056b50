# Helpers for the tests that configure servers over SSH: a real sshd on
# 127.0.0.1 that the test starts (as the user running the test; as root it
# needs /run/sshd for privilege separation), with a host key of its own
# and, as its AuthorizedKeysFile, the file localcloud keeps with the keys
# of the servers' key pairs (--ssh-authorized-keys). Stopped by PID when
# the test ends (lib.sh). Every command a client sends is appended to
# $WORK/sshd/commands.log (a ForceCommand that logs it, then runs it), so
# that a test can read what a remote `ps` would have shown.
declare -F fail >/dev/null || . "$ROOT/tests/e2e/lib.sh"

# free_port: a TCP port of 127.0.0.1 that nothing listens on now.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# sshd_start AUTHORIZED_KEYS_FILE: sshd on a free port (on SSHD_PORT again
# when it is set: a restart); sets SSHD_PORT, SSHD_HOST_KEY (the private
# host key; its public half is $SSHD_HOST_KEY.pub) and sshd_pid. The host
# key is made when there is none.
sshd_start() {
  local keys=$1 dir="$WORK/sshd"
  mkdir -p "$dir"
  SSHD_HOST_KEY="$dir/host_ed25519"
  [ -f "$SSHD_HOST_KEY" ] || ssh-keygen -q -t ed25519 -N '' -C sparkform-test-sshd -f "$SSHD_HOST_KEY"
  SSHD_PORT=${SSHD_PORT:-$(free_port)}
  printf '%s\n' '#!/bin/sh' \
    'printf "%s\n" "$SSH_ORIGINAL_COMMAND" >> "$(dirname "$0")/commands.log"' \
    'exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"' > "$dir/log-command"
  chmod 0755 "$dir/log-command"
  cat > "$dir/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $SSHD_PORT
HostKey "$SSHD_HOST_KEY"
PidFile "$dir/sshd.pid"
AuthorizedKeysFile "$keys"
AllowUsers $(id -un)
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
UsePAM no
Subsystem sftp /usr/lib/openssh/sftp-server
ForceCommand "$dir/log-command"
LogLevel VERBOSE
EOF
  [ "$(id -u)" -ne 0 ] || mkdir -p -m 0755 /run/sshd
  /usr/sbin/sshd -D -e -f "$dir/sshd_config" 2>>"$dir/sshd.log" &
  sshd_pid=$!
  pids+=("$sshd_pid")
  local i
  for i in $(seq 100); do
    # Accepting: it sends its version string first.
    if timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$SSHD_PORT && head -c 4 <&3" 2>/dev/null | grep -q '^SSH-'; then
      export SSHD_PORT SSHD_HOST_KEY
      return 0
    fi
    kill -0 "$sshd_pid" 2>/dev/null || { cat "$dir/sshd.log"; fail "sshd exited"; }
    sleep 0.05
  done
  cat "$dir/sshd.log"; fail "sshd does not accept connections on port $SSHD_PORT"
}

# sshd_stop: stops that sshd and waits until it is gone.
sshd_stop() {
  kill "$sshd_pid" 2>/dev/null || true
  local i
  for i in $(seq 100); do kill -0 "$sshd_pid" 2>/dev/null || return 0; sleep 0.05; done
  fail "sshd $sshd_pid does not stop"
}

# fingerprint PUBKEYFILE: "SHA256:..." as ssh-keygen -l prints it.
fingerprint() { ssh-keygen -lf "$1" | cut -d' ' -f2; }
