# Every description in examples/ is valid as shipped (with placeholder
# values for the secrets it reads from the environment), and its files
# (job code, modules) are found; the CI example's script is valid bash.
. "$ROOT/tests/e2e/lib.sh"
export REGISTRY_PASSWORD=placeholder-1 DB_PASSWORD=placeholder-2 QUICKSTART_REGISTRY_PASSWORD=placeholder-3
n=0
for f in "$ROOT"/examples/*.yaml; do
  sf validate -f "$f"
  [ "$rc" -eq 0 ] || { cat "$WORK/.stderr"; fail "$(basename "$f") is not valid"; }
  expect_out "The description is valid."
  expect_no placeholder-
  n=$((n + 1))
done
[ "$n" -ge 6 ] || fail "only $n examples found"
bash -n "$ROOT/examples/ci/sparkform-ci.sh" || fail "examples/ci/sparkform-ci.sh does not parse"
echo "examples passed: $n descriptions"
