# A private git repository over http on 127.0.0.1 (git http-backend behind
# a small server of the test's that wants Basic auth, x-access-token and a
# token): refused without credentials, saying what to set; fetched with
# SPARKFORM_GIT_TOKEN, or with the token in the URL; a wrong token in the
# URL gives way to SPARKFORM_GIT_TOKEN; a wrong SPARKFORM_GIT_TOKEN is
# refused after one try. No message holds the token (init's progress
# lines show the source without it).
. "$ROOT/tests/e2e/lib.sh"
. "$ROOT/tests/e2e/lib-ssh.sh"
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.invalid GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.invalid
unset SPARKFORM_GIT_TOKEN
cd "$WORK"
TOKEN=tok-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')

mkdir -p src/mod srv
cat > src/mod/module.yaml <<'YAML'
apiVersion: sparkform/v1
kind: Module
inputs:
  greeting: {type: string}
resources:
  - {type: test_resource, name: r, with: {value: "${input.greeting} from the private repository"}}
YAML
git -C src init -q -b main
git -C src add -A && git -C src commit -qm one && git -C src tag v1
git clone -q --bare src srv/repo.git

# The server: each request's verdict goes to requests.log.
cat > server.py <<'PY'
import base64, http.server, os, subprocess, sys

root, token, port, log = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
want = "Basic " + base64.b64encode(("x-access-token:" + token).encode()).decode()

class Git(http.server.BaseHTTPRequestHandler):
    def serve(self):
        ok = self.headers.get("Authorization") == want
        with open(log, "a") as f:
            f.write("%s %s %s\n" % ("ok" if ok else "refused", self.command, self.path))
        if not ok:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path, _, query = self.path.partition("?")
        env = dict(os.environ, GIT_PROJECT_ROOT=root, GIT_HTTP_EXPORT_ALL="1", PATH_INFO=path,
                   QUERY_STRING=query, REQUEST_METHOD=self.command, REMOTE_USER="x-access-token",
                   CONTENT_TYPE=self.headers.get("Content-Type", ""), CONTENT_LENGTH=str(len(body)))
        out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True).stdout
        sep = b"\r\n\r\n" if b"\r\n\r\n" in out else b"\n\n"
        head, _, rest = out.partition(sep)
        status, headers = 200, []
        for line in head.decode().splitlines():
            k, _, v = line.partition(":")
            if k.lower() == "status":
                status = int(v.split()[0])
            elif k:
                headers.append((k, v.strip()))
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(rest)))
        self.end_headers()
        self.wfile.write(rest)

    do_GET = do_POST = serve

    def log_message(self, *args):
        pass

http.server.ThreadingHTTPServer(("127.0.0.1", port), Git).serve_forever()
PY
PORT=$(free_port)
python3 server.py "$WORK/srv" "$TOKEN" "$PORT" "$WORK/requests.log" 2>server.err &
pids+=("$!")
for i in $(seq 100); do
  curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break
  sleep 0.05
done
: > requests.log
refused() { grep -c '^refused' "$WORK/requests.log" || true; }

stack() {
  mkdir -p "$1"
  cat > "$1/stack.yaml" <<YAML
apiVersion: sparkform/v1
kind: Stack
metadata: {name: gittoken}
modules:
  - {name: m, source: "$2", inputs: {greeting: hello}}
YAML
}

URL="http://127.0.0.1:$PORT/repo.git"
SRC="git::$URL//mod?ref=v1"

# No credentials at all.
stack a "$SRC"
cd a
sft init -f stack.yaml
expect_rc 1
expect_err "git: cannot clone $URL: authentication failed: the server asks for credentials"
expect_err "Set SPARKFORM_GIT_TOKEN"
[ ! -e sparkform.lock.json ] || fail "a refused fetch wrote the lock"

# SPARKFORM_GIT_TOKEN, sent as x-access-token's password.
SPARKFORM_GIT_TOKEN=$TOKEN sft init -f stack.yaml
expect_rc 0
expect_no "$TOKEN"
sft plan -f stack.yaml
expect_rc 0
expect_out '"hello from the private repository"'
cd ..

# A wrong SPARKFORM_GIT_TOKEN: one try, then a clear refusal.
stack b "$SRC"
cd b
: > ../requests.log
SPARKFORM_GIT_TOKEN=wrong-$TOKEN sft init -f stack.yaml
expect_rc 1
expect_err "authentication failed: the server refused SPARKFORM_GIT_TOKEN as the password of x-access-token"
expect_no "$TOKEN"
[ "$(refused)" -le 2 ] || fail "a wrong token was sent $(refused) times"
cd ..

# The token in the URL: used, and never shown.
stack c "git::http://x-access-token:$TOKEN@127.0.0.1:$PORT/repo.git//mod?ref=v1"
cd c
sft init -f stack.yaml
expect_rc 0
expect_no "$TOKEN"
# A wrong one in the URL: SPARKFORM_GIT_TOKEN is tried after it.
stack . "git::http://x-access-token:wrong@127.0.0.1:$PORT/repo.git//mod?ref=v1"
sft init -f stack.yaml
expect_rc 1
expect_err "authentication failed: the server refused the URL's credentials"
expect_no "wrong@"
SPARKFORM_GIT_TOKEN=$TOKEN sft init -f stack.yaml
expect_rc 0
cd ..
[ "$(grep -c '^ok' requests.log)" -gt 0 ] || fail "no request got through"
