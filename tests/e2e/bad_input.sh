# Every bad description in tests/bad: the exact message, exit status 1, and
# the state untouched (no write, no journal, no backup, no lock left).
. "$ROOT/tests/e2e/lib.sh"
cat > good.yaml <<'YAML'
apiVersion: sparkform/v1
kind: Stack
metadata: {name: good}
resources:
  - {type: test_resource, name: keep, with: {value: keep}}
YAML
sft apply -f good.yaml -auto-approve
expect_rc 0
cp sparkform.state.json state.before
n=0
cd "$ROOT"
for f in tests/bad/*.yaml; do
  n=$((n + 1))
  for cmd in validate plan apply; do
    args=(-f "$f" -state "$WORK/sparkform.state.json")
    [ "$cmd" = validate ] && args=(-f "$f")
    [ "$cmd" = apply ] && args+=(-auto-approve)
    set +e
    "$SPARKFORM_TEST" "$cmd" "${args[@]}" >"$WORK/.stdout" 2>"$WORK/.stderr" </dev/null
    rc=$?
    set -e
    [ "$rc" -eq 1 ] || fail "$cmd $f: exit status $rc, expected 1"
    if ! diff -u "${f%.yaml}.err" "$WORK/.stderr"; then fail "$cmd $f: wrong message"; fi
    cmp -s "$WORK/state.before" "$WORK/sparkform.state.json" || fail "$cmd $f changed the state"
    for x in journal lock backup; do
      [ ! -e "$WORK/sparkform.state.json.$x" ] || fail "$cmd $f left sparkform.state.json.$x"
    done
  done
done
[ "$n" -ge 30 ] || fail "only $n bad descriptions in the corpus"
echo "$n bad descriptions checked"
