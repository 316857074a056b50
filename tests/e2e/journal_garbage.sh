# A journal beside the state that sparkform did not write (or that is
# damaged other than by a torn last record) stops every command that reads
# the state, naming the file, and is left exactly as it was.
. "$ROOT/tests/e2e/lib.sh"
cat > stack.yaml <<'YAML'
apiVersion: sparkform/v1
kind: Stack
metadata: {name: garbage}
resources:
  - {type: test_resource, name: a, with: {value: a}}
YAML
sft apply -f stack.yaml -auto-approve
expect_rc 0
cp sparkform.state.json state.before

check_refused() { # what the journal holds, what the error must say
  for cmd in "plan -f stack.yaml" "apply -f stack.yaml -auto-approve" "state rm test_resource.a" "show"; do
    # shellcheck disable=SC2086
    sft $cmd
    expect_rc 1
    expect_err "sparkform.state.json.journal"
    expect_err "$1"
    expect_no_out "No changes"
    cmp -s sparkform.state.json.journal journal.before || fail "$cmd changed the journal"
    cmp -s sparkform.state.json state.before || fail "$cmd changed the state file"
  done
}

# Garbage from the first byte, one line without a newline.
printf 'this is not a journal' > sparkform.state.json.journal
cp sparkform.state.json.journal journal.before
check_refused "not a sparkform journal"

# The same with newlines.
printf 'PK\003\004 some archive\nmore\n' > sparkform.state.json.journal
cp sparkform.state.json.journal journal.before
check_refused "not a sparkform journal"

# A good header, then a record that is not one, then a good record.
lineage=$(jq -r .lineage sparkform.state.json)
serial=$(jq -r .serial sparkform.state.json)
{ printf '{"journal":1,"lineage":"%s","base_serial":%s}\n' "$lineage" "$serial"
  printf 'garbage in the middle\n'
  printf '{"op":"remove","address":"test_resource.a"}\n'; } > sparkform.state.json.journal
cp sparkform.state.json.journal journal.before
check_refused "sparkform.state.json.journal:2:"

# A torn last record is what a crash leaves: replayed up to it.
{ printf '{"journal":1,"lineage":"%s","base_serial":%s}\n' "$lineage" "$serial"
  printf '{"op":"remove","address":"test_resource.a"}\n'
  printf '{"op":"put","addr'; } > sparkform.state.json.journal
sft plan -f stack.yaml
expect_rc 0
expect_out "test_resource.a will be created"
