# The whole cycle on local resources: apply, no-op plan, one edit -> one
# update, a file deleted by hand -> recreated, destroy -> nothing left.
. "$ROOT/tests/e2e/lib.sh"
cat > stack.yaml <<'YAML'
apiVersion: sparkform/v1
kind: Stack
metadata: {name: e2e}
variables:
  greeting: {type: string, default: hello}
resources:
  - type: local_ssh_key
    name: deploy
    with: {private_key_path: keys/id_ed25519, public_key_path: keys/id_ed25519.pub, comment: e2e}
  - type: local_file
    name: motd
    with: {path: out/motd.txt, content: "${var.greeting}\n"}
  - type: local_file
    name: authorized
    with:
      path: out/authorized_keys
      mode: "0600"
      content: "${local_ssh_key.deploy.public_key_openssh}\n"
outputs:
  motd: "${local_file.motd.path}"
  key: {value: "${local_ssh_key.deploy.private_key_openssh}", sensitive: true}
YAML

sf plan -f stack.yaml -detailed-exitcode
expect_rc 2
expect_out "Plan: 3 to add, 0 to change, 0 to destroy."
expect_out "(known after apply)"
[ ! -e sparkform.state.json ] || fail "plan wrote a state file"

sf apply -f stack.yaml -auto-approve
expect_rc 0
expect_out "Apply complete! Resources: 3 added, 0 changed, 0 destroyed."
[ "$(cat out/motd.txt)" = hello ] || fail "motd content"
[ "$(stat -c %a out/authorized_keys)" = 600 ] || fail "mode of authorized_keys"
[ "$(stat -c %a keys/id_ed25519)" = 600 ] || fail "mode of the private key"
[ "$(stat -c %a sparkform.state.json)" = 600 ] || fail "mode of the state"
grep -q "$(cut -d' ' -f2 keys/id_ed25519.pub)" out/authorized_keys || fail "public key not rendered"
ssh-keygen -y -f keys/id_ed25519 >/dev/null || fail "ssh-keygen cannot read the key"
[ ! -e sparkform.state.json.journal ] || fail "journal left after apply"
# The private key is in the state (0600) but never on the terminal.
key_line=$(sed -n 2p keys/id_ed25519)
expect_no "$key_line"

sf plan -f stack.yaml -detailed-exitcode
expect_rc 0
expect_out "No changes."

sf output
expect_rc 0
expect_out 'key = (sensitive value)'
expect_out 'motd = "out/motd.txt"'
expect_no "$key_line"
sf output -raw key
expect_rc 0
grep -qF "$key_line" "$WORK/.stdout" || fail "-raw to a file must print the sensitive value"

# One attribute edited: exactly one update.
sf plan -f stack.yaml -var greeting=bonjour -detailed-exitcode
expect_rc 2
expect_out "Plan: 0 to add, 1 to change, 0 to destroy."
expect_out "# local_file.motd will be updated in place"
expect_out '"hello\n" -> "bonjour\n"'
sf apply -f stack.yaml -var greeting=bonjour -auto-approve
expect_rc 0
expect_out "Resources: 0 added, 1 changed, 0 destroyed."
[ "$(cat out/motd.txt)" = bonjour ] || fail "motd not updated"

# Deleted by hand: refresh notices, the plan recreates it.
rm out/motd.txt
sf plan -f stack.yaml -var greeting=bonjour -detailed-exitcode
expect_rc 2
expect_out "local_file.motd has been deleted"
expect_out "# local_file.motd will be created"
expect_out "Plan: 1 to add, 0 to change, 0 to destroy."
sf apply -f stack.yaml -var greeting=bonjour -auto-approve
expect_rc 0
[ -f out/motd.txt ] || fail "motd not recreated"

# Edited by hand: shown as a change made outside, and put back.
echo tampered > out/motd.txt
sf plan -f stack.yaml -var greeting=bonjour
expect_out "Objects have changed outside of sparkform"
expect_out "Plan: 0 to add, 1 to change, 0 to destroy."

sf state list
expect_rc 0
[ "$(cat "$WORK/.stdout")" = "$(printf 'local_file.authorized\nlocal_file.motd\nlocal_ssh_key.deploy')" ] || fail "state list: $(cat "$WORK/.stdout")"

sf destroy -f stack.yaml -var greeting=bonjour -auto-approve
expect_rc 0
expect_out "Destroy complete! Resources: 3 destroyed."
[ ! -e out/motd.txt ] && [ ! -e out/authorized_keys ] && [ ! -e keys/id_ed25519 ] || fail "files left after destroy"
sf state list
expect_rc 0
[ ! -s "$WORK/.stdout" ] || fail "state not empty after destroy"
[ "$(jq -c "[.resources, .outputs]" sparkform.state.json)" = "[{},{}]" ] || fail "state document not empty"
[ -f sparkform.state.json.backup ] || fail "no backup of the previous state"
