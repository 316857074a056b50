# On a terminal, apply and destroy ask and do only what "yes" approves.
. "$ROOT/tests/e2e/lib.sh"
command -v script >/dev/null || fail "script (util-linux) is needed to give the test a terminal"
cat > stack.yaml <<'YAML'
apiVersion: sparkform/v1
kind: Stack
metadata: {name: approve}
resources:
  - {type: test_resource, name: a, with: {value: a}}
YAML
on_tty() { printf '%s\n' "$1" | script -qec "$2" /dev/null >"$WORK/.stdout" 2>&1; }

on_tty no "$SPARKFORM_TEST apply -f stack.yaml"
grep -qF "Do you want to perform these actions?" "$WORK/.stdout" || fail "no question: $(cat "$WORK/.stdout")"
grep -qF "cancelled" "$WORK/.stdout" || fail "not cancelled: $(cat "$WORK/.stdout")"
[ "$(count_store)" = 0 ] || fail "a refused apply created objects"

on_tty yes "$SPARKFORM_TEST apply -f stack.yaml"
grep -qF "Apply complete! Resources: 1 added" "$WORK/.stdout" || fail "approved apply: $(cat "$WORK/.stdout")"
[ "$(count_store)" = 1 ] || fail "approved apply created $(count_store) objects"

on_tty yes "$SPARKFORM_TEST destroy -f stack.yaml"
grep -qF "Do you want to destroy all these resources?" "$WORK/.stdout" || fail "destroy did not ask"
grep -qF "Destroy complete! Resources: 1 destroyed." "$WORK/.stdout" || fail "approved destroy: $(cat "$WORK/.stdout")"
[ "$(count_store)" = 0 ] || fail "destroy left objects"
