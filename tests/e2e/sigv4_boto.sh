# Our SigV4 verifier (lib/sigv4.c) against an independent signer:
# botocore signs requests (query strings with spaces and unicode, PUT with a
# body, ListObjectsV2 with a continuation token, presigned URLs, what its S3
# client really builds, and the AWS documentation's examples); each must be
# accepted, and refused once any signed byte changes. The checker is a small
# test program compiled here from tests/sigv4check, outside the Makefile.
. "$ROOT/tests/e2e/lib.sh"

# Debian's python3 with python3-botocore (scripts/install-deps), not
# whatever python comes first on the PATH.
py=/usr/bin/python3
[ -x "$py" ] || fail "$py not found (scripts/install-deps installs python3-botocore)"
"$py" -c 'import botocore' 2>/dev/null ||
  fail "python3-botocore is not installed (scripts/install-deps installs it)"

cc=${CC:-cc}
san=()
# Under sanitizers when the compiler has them: the checker runs one process
# for thousands of requests, so this costs little.
if echo 'int main(void){return 0;}' |
   "$cc" -x c -fsanitize=address,undefined -o "$WORK/san-probe" - 2>/dev/null &&
   "$WORK/san-probe" 2>/dev/null; then
  san=(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
fi
# shellcheck disable=SC2046
run "$cc" -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
  -pthread -O1 -g "${san[@]}" -I"$ROOT/lib" \
  "$ROOT/tests/sigv4check/main.c" "$ROOT/lib/sigv4.c" "$ROOT/lib/util.c" \
  $(pkg-config --cflags --libs libcrypto) -o "$WORK/sigv4check"
expect_rc 0

# The checker itself: unsigned and malformed requests.
printf '10:1369353600,3:GET,4:/b/k,1:-,1:-,1:1,4:Host,9:localhost,' >"$WORK/anon"
# (run reads /dev/null, so the input goes through a shell)
checker_on() { run bash -c '"$0" --key AK SK <"$1"' "$WORK/sigv4check" "$1"; }
checker_on "$WORK/anon"
expect_rc 0
expect_out "AccessDenied the request is not signed"
printf '3:GET,' >"$WORK/cut"
checker_on "$WORK/cut"
expect_rc 2
expect_err "malformed input"

run "$py" "$ROOT/tests/e2e/sigv4_boto.py" "$WORK/sigv4check"
expect_rc 0
expect_out "accepted: client presigned GetObject"
expect_out "accepted: AWS presigned GET"
expect_out "one-byte changes refused"
cat "$WORK/.stdout"
