# Git sources over ssh, against an sshd of the test's own (lib-ssh.sh) that
# lets this user in with a key the test makes: a module at
# git::ssh://USER@127.0.0.1:PORT//ABS/repo.git//mod?ref=v1 is locked by
# init and planned and applied; the key from ~/.ssh/id_ed25519 or from
# SPARKFORM_GIT_SSH_KEY; the host key checked against known_hosts (plain
# [127.0.0.1]:PORT and hashed entries): a changed key is refused naming
# both fingerprints, an unknown one saying what to add, and neither writes
# the lock; a key the server refuses fails at once listing what was
# tried; the scp-like form; a description read with -f git::ssh://.
. "$ROOT/tests/e2e/lib.sh"
. "$ROOT/tests/e2e/lib-ssh.sh"
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.invalid GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.invalid
unset SSH_AUTH_SOCK SPARKFORM_GIT_SSH_KEY SPARKFORM_GIT_SSH_PASSPHRASE SPARKFORM_GIT_KNOWN_HOSTS
# Under the ASan run, the suppressions of libgit2 1.5's ssh leaks (see the file).
[ -z "${LSAN_OPTIONS:-}" ] || export LSAN_OPTIONS="suppressions=$ROOT/tests/e2e/git_ssh.lsan.supp"
cd "$WORK"
ME=$(id -un)

# The client's key, the only one the sshd accepts, and a stranger's.
mkdir -p keys
ssh-keygen -q -t ed25519 -N '' -C client -f keys/client
ssh-keygen -q -t ed25519 -N '' -C stranger -f keys/stranger
cp keys/client.pub authorized_keys
sshd_start "$WORK/authorized_keys"
HOSTKEY=$(cut -d' ' -f1-2 "$SSHD_HOST_KEY.pub")
HOST_FP=$(fingerprint "$SSHD_HOST_KEY.pub")

# The repository: a module at v1 and v2, and a description at v1.
mkdir -p src/mod src/envs
cat > src/mod/module.yaml <<'YAML'
apiVersion: sparkform/v1
kind: Module
inputs:
  greeting: {type: string}
resources:
  - {type: test_resource, name: r, with: {value: "${input.greeting} from v1"}}
outputs:
  value: "${test_resource.r.value}"
YAML
echo .sparkform/ > src/.gitignore
git -C src init -q -b main
git -C src add -A && git -C src commit -qm one && git -C src tag v1
sed -i 's/from v1/from v2/' src/mod/module.yaml
git -C src commit -qam two && git -C src tag v2
git clone -q --bare src repo.git
C1=$(git -C repo.git rev-parse 'v1^{commit}')

# HOME with the client key and the sshd's host key as ssh writes it.
export HOME="$WORK/home"
mkdir -p -m 0700 home/.ssh
cp keys/client home/.ssh/id_ed25519
cp keys/client.pub home/.ssh/id_ed25519.pub
echo "[127.0.0.1]:$SSHD_PORT $HOSTKEY" > home/.ssh/known_hosts

URL="ssh://$ME@127.0.0.1:$SSHD_PORT/$WORK/repo.git"
SRC="git::$URL//mod?ref=v1"
stack() {
  mkdir -p "$1"
  cat > "$1/stack.yaml" <<YAML
apiVersion: sparkform/v1
kind: Stack
metadata: {name: gitssh}
modules:
  - {name: m, source: "$2", inputs: {greeting: hello}}
YAML
}

# ~/.ssh/id_ed25519 and a plain known_hosts entry.
stack a "$SRC"
cd a
sft init -f stack.yaml
expect_rc 0
# Shown without the URL's user, as any userinfo is.
expect_out "- git::ssh://127.0.0.1:$SSHD_PORT/$WORK/repo.git//mod?ref=v1 at commit ${C1:0:12}"
[ "$(jq -r --arg s "$SRC" '.modules[$s].commit' sparkform.lock.json)" = "$C1" ] || fail "the lock lacks commit v1"
sft apply -f stack.yaml -auto-approve
expect_rc 0
[ "$(jq -r '.resources["module.m.test_resource.r"].attributes.value' sparkform.state.json)" = "hello from v1" ] ||
  fail "the module applied is not v1's"
sft plan -f stack.yaml -detailed-exitcode
expect_rc 0
cd ..
grep -q "git-upload-pack '/*$WORK/repo.git'" sshd/commands.log || fail "the fetch did not go through the sshd"

# SPARKFORM_GIT_SSH_KEY names a key elsewhere; HOME has none.
rm home/.ssh/id_ed25519 home/.ssh/id_ed25519.pub
stack b "git::$URL//mod?ref=v2"
cd b
sft init -f stack.yaml
expect_rc 1
expect_err "authentication failed: no ssh credentials to offer as $ME"
SPARKFORM_GIT_SSH_KEY="$WORK/keys/client" sft init -f stack.yaml
expect_rc 0
SPARKFORM_GIT_SSH_KEY="$WORK/keys/client" sft plan -f stack.yaml
expect_rc 0
expect_out '"hello from v2"'
cd ..
export SPARKFORM_GIT_SSH_KEY="$WORK/keys/client"

# A key the server does not accept: refused at once, listing what was tried.
stack c "$SRC"
cd c
start=$(date +%s%N)
SPARKFORM_GIT_SSH_KEY="$WORK/keys/stranger" sft init -f stack.yaml
took=$(( ($(date +%s%N) - start) / 1000000 ))
expect_rc 1
expect_err "authentication failed as $ME: the server accepted none of what was tried: the key $WORK/keys/stranger"
[ "$took" -lt 5000 ] || fail "a refused key took ${took} ms"
[ ! -e sparkform.lock.json ] || fail "a refused fetch wrote the lock"
[ -z "$(ls .sparkform/modules/repos 2>/dev/null)" ] || fail "a refused key left a clone in the cache"
expect_no "PRIVATE KEY"
cd ..

# The host presents another key than known_hosts holds: refused, naming both.
ssh-keygen -q -t ed25519 -N '' -f keys/otherhost
OTHER_FP=$(fingerprint keys/otherhost.pub)
echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1-2 keys/otherhost.pub)" > home/.ssh/known_hosts
stack d "$SRC"
cd d
sft init -f stack.yaml
expect_rc 1
expect_err "the host key of [127.0.0.1]:$SSHD_PORT has changed: $HOME/.ssh/known_hosts line 1 expects ssh-ed25519 $OTHER_FP, the server offers ssh-ed25519 $HOST_FP"
[ ! -e sparkform.lock.json ] || fail "a refused host wrote the lock"
[ -z "$(ls .sparkform/modules/repos 2>/dev/null)" ] || fail "a refused host left a clone in the cache"

# No entry at all: refused, saying which line to add (the one ssh writes).
: > "$HOME/.ssh/known_hosts"
sft init -f stack.yaml
expect_rc 1
expect_err "the host key of [127.0.0.1]:$SSHD_PORT is unknown: $HOME/.ssh/known_hosts has no entry for it; the server offers ssh-ed25519 $HOST_FP"
expect_err "[127.0.0.1]:$SSHD_PORT $HOSTKEY"
[ ! -e sparkform.lock.json ] || fail "an unknown host wrote the lock"
# An entry for another port of the same host is another host.
echo "127.0.0.1 $HOSTKEY" > "$HOME/.ssh/known_hosts"
sft init -f stack.yaml
expect_rc 1
expect_err "is unknown"

# SPARKFORM_GIT_KNOWN_HOSTS, hashed as ssh-keygen -H writes it, with a
# comment and an @cert-authority line that are not host keys.
{ echo "# the test's sshd"; echo "@cert-authority *.example.invalid $(cut -d' ' -f1-2 "$WORK/keys/otherhost.pub")";
  echo "[127.0.0.1]:$SSHD_PORT $HOSTKEY"; } > ../hashed_known_hosts
ssh-keygen -q -H -f ../hashed_known_hosts >/dev/null 2>&1
rm -f ../hashed_known_hosts.old
grep -q '^|1|' ../hashed_known_hosts || fail "ssh-keygen -H did not hash the entry"
! grep -q "127.0.0.1" ../hashed_known_hosts || fail "the hashed file still names the host"
SPARKFORM_GIT_KNOWN_HOSTS="$WORK/hashed_known_hosts" sft init -f stack.yaml
expect_rc 0
[ "$(jq -r --arg s "$SRC" '.modules[$s].commit' sparkform.lock.json)" = "$C1" ] || fail "the lock lacks commit v1"
cd ..
export SPARKFORM_GIT_KNOWN_HOSTS="$WORK/hashed_known_hosts"

# The scp-like form, [user@]host:path, has no port: it goes to port 22,
# where no server of this test listens. Its parsing is in the unit tests;
# here, that it is taken for ssh (a connection to the host), not a path.
stack e "git::$ME@127.0.0.1:$WORK/repo.git//mod?ref=v1"
cd e
sft init -f stack.yaml
expect_rc 1
expect_err "git: cannot clone $ME@127.0.0.1:$WORK/repo.git: failed to connect to 127.0.0.1"
cd ..

# A description read from git over ssh.
cp b/stack.yaml src/envs/dev.yaml
git -C src add -A && git -C src commit -qm three && git -C src push -q "$WORK/repo.git" main
mkdir f && cd f
sft plan -f "git::$URL//envs/dev.yaml?ref=main"
expect_rc 1
expect_err "is not in the sparkform.lock.json committed beside the description"
cd ..
(cd src/envs && "$SPARKFORM_TEST" init -f dev.yaml >/dev/null)
git -C src add -A && git -C src commit -qm lock && git -C src push -q "$WORK/repo.git" main
cd f
sft plan -f "git::$URL//envs/dev.yaml?ref=main"
expect_rc 0
expect_out "Description from ssh://127.0.0.1:$SSHD_PORT/$WORK/repo.git//envs/dev.yaml at main"
expect_out '"hello from v2"'
cd ..
