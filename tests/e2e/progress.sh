# Long operations report progress while they run.
# e2e: alone
. "$ROOT/tests/e2e/lib.sh"
cat > stack.yaml <<'YAML'
apiVersion: sparkform/v1
kind: Stack
metadata: {name: progress}
resources:
  - {type: test_resource, name: slow, with: {value: s, latency_ms: 2600}}
YAML
export SPARKFORM_PROGRESS_INTERVAL=1
sft apply -f stack.yaml -auto-approve
expect_rc 0
expect_out "test_resource.slow: Creating..."
expect_out "test_resource.slow: Still creating... [1s elapsed]"
expect_out "test_resource.slow: Still creating... [2s elapsed]"
expect_out "test_resource.slow: Creation complete after 3s [id="
sft destroy -f stack.yaml -auto-approve
expect_out "test_resource.slow: Still destroying... [2s elapsed]"
