# Helpers for the end-to-end tests: each test is a bash script run in a
# fresh directory ($WORK) with set -e; a failed check prints why and exits.
set -euo pipefail
export NO_COLOR=1
export SPARKFORM_TEST_STORE="$WORK/store"
mkdir -p "$SPARKFORM_TEST_STORE"

fail() { echo "FAILED: $*" >&2; exit 1; }

# run CMD...: runs it, keeps stdout in $WORK/out, stderr in $WORK/err and
# the exit status in $rc; never fails by itself.
run() {
  set +e
  "$@" >"$WORK/.stdout" 2>"$WORK/.stderr" </dev/null
  rc=$?
  set -e
  return 0
}

sf() { run "$SPARKFORM" "$@"; }
sft() { run "$SPARKFORM_TEST" "$@"; }

expect_rc() {
  [ "$rc" -eq "$1" ] || { echo "--- stdout"; cat "$WORK/.stdout"; echo "--- stderr"; cat "$WORK/.stderr"; fail "exit status $rc, expected $1"; }
}
expect_out() { grep -qF -- "$1" "$WORK/.stdout" || { cat "$WORK/.stdout"; cat "$WORK/.stderr"; fail "stdout lacks: $1"; }; }
expect_err() { grep -qF -- "$1" "$WORK/.stderr" || { cat "$WORK/.stderr"; fail "stderr lacks: $1"; }; }
expect_no_out() { ! grep -qF -- "$1" "$WORK/.stdout" || { cat "$WORK/.stdout"; fail "stdout has: $1"; }; }
expect_no() { ! grep -rqF -- "$1" "$WORK/.stdout" "$WORK/.stderr" || { cat "$WORK/.stdout" "$WORK/.stderr"; fail "output has: $1"; }; }
count_store() { find "$SPARKFORM_TEST_STORE" -name '*.json' | wc -l; }

# Background processes a test starts are killed by PID when it ends.
pids=()
cleanup() { for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
