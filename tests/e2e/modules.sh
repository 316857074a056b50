# Modules end to end with local files: a module called twice (one call
# with for_each), a resource with for_each over a list keyed by a field, a
# resource switched by when, outputs through module.NAME.OUTPUT, ordering
# after what a module's inputs come from; each change plans exactly what
# it should; state mv moves a module's resource; input errors name the
# caller's line with the module they are about.
. "$ROOT/tests/e2e/lib.sh"
cd "$WORK"
mkdir -p groups out
cat > groups/module.yaml <<'YAML'
apiVersion: sparkform/v1
kind: Module
inputs:
  prefix: {type: string, pattern: "^[a-z0-9-]+$"}
  groups:
    type: list
    key: name
    items:
      type: object
      fields:
        name: {type: string, required: true, format: dns_label}
        size: {type: number, default: 1, min: 0}
        autoscaling:
          type: object
          default: null
          fields:
            min: {type: number, default: 0}
            max: {type: number, required: true}
          validate:
            - condition: "${le(self.min, self.max)}"
              message: "min (${self.min}) is greater than max (${self.max})"
  role: {type: string, default: viewer, allowed: [viewer, submitter, admin]}
resources:
  - type: local_file
    name: group
    for_each: {list: "${input.groups}", key: name}
    with:
      path: "out/${input.prefix}-${each.key}.txt"
      content: "size=${each.value.size} max=${lookup(default(each.value.autoscaling, {}), \"max\", \"none\")} role=${input.role}"
  - type: local_file
    name: index
    when: "${gt(length(input.groups), 1)}"
    with:
      path: "out/${input.prefix}-index.txt"
      content: "${join(\",\", keys(local_file.group))}"
outputs:
  names: "${keys(local_file.group)}"
  index: "${local_file.index.path}"
YAML
cat > stack.yaml <<'YAML'
apiVersion: sparkform/v1
kind: Stack
metadata: {name: mods}
variables:
  extra: {type: list, default: []}
  teams: {type: list, default: [x, y]}
resources:
  - type: local_file
    name: top
    with: {path: out/top.txt, content: "top"}
modules:
  - name: main
    source: ./groups
    inputs:
      prefix: "${local_file.top.content}"
      groups: '${concat([{name: "a", size: 2}, {name: "b", autoscaling: {min: 1, max: 3}}], var.extra)}'
  - name: team
    source: ./groups
    for_each: "${var.teams}"
    inputs:
      prefix: "t-${each.key}"
      groups: [{name: only}]
outputs:
  index: "${module.main.index}"
  names: "${module.main.names}"
  x: "${module.team[\"x\"].names}"
YAML

sf plan -f stack.yaml
expect_rc 0
for a in local_file.top 'module.main.local_file.group[a]' 'module.main.local_file.group[b]' \
         module.main.local_file.index 'module.team[x].local_file.group[only]' \
         'module.team[y].local_file.group[only]'; do
  expect_out "# $a will be created"
done
expect_out 'resource "local_file" "group"'
expect_out "Plan: 6 to add, 0 to change, 0 to destroy."
# One team has one group: no index there (when: false).
expect_no_out "module.team[x].local_file.index"

sf apply -auto-approve -f stack.yaml
expect_rc 0
[ "$(cat out/top-a.txt)" = "size=2 max=none role=viewer" ] || fail "group a: $(cat out/top-a.txt)"
[ "$(cat out/top-b.txt)" = "size=1 max=3 role=viewer" ] || fail "group b: $(cat out/top-b.txt)"
[ "$(cat out/top-index.txt)" = "a,b" ] || fail "index: $(cat out/top-index.txt)"
[ -f out/t-x-only.txt ] && [ -f out/t-y-only.txt ] || fail "the teams' files are missing"
# The module's files wait for the file their prefix comes from.
grep -n "Creation complete" "$WORK/.stdout" | head -1 | grep -q "local_file.top\|module.team" ||
  fail "something inside module.main was made before local_file.top"
sf output -json
expect_out '"a"'
expect_out '"out/top-index.txt"'

sf plan -f stack.yaml -detailed-exitcode
expect_rc 0

# A third group: one create, and the index that lists the groups changes.
sf plan -f stack.yaml -var 'extra=[{name: c}]' -detailed-exitcode
expect_rc 2
expect_out "# module.main.local_file.group[c] will be created"
expect_out "Plan: 1 to add, 1 to change, 0 to destroy."
# One team fewer: exactly its file goes.
sf plan -f stack.yaml -var 'teams=[x]'
expect_rc 0
expect_out "# module.team[y].local_file.group[only] will be destroyed"
expect_out "Plan: 0 to add, 0 to change, 1 to destroy."

# state mv moves an instance inside a module; the plan then wants it back.
sf state mv 'module.team[y].local_file.group[only]' 'module.team[z].local_file.group[only]'
expect_rc 0
sf state list
expect_out 'module.team[z].local_file.group[only]'
sf state mv 'module.team[z].local_file.group[only]' 'module.team[y].local_file.group[only]'
expect_rc 0
sf plan -f stack.yaml -detailed-exitcode
expect_rc 0

# Wrong inputs: each error at the caller's line and column, naming the module.
cat > bad.yaml <<'YAML'
apiVersion: sparkform/v1
kind: Stack
metadata: {name: mods}
modules:
  - name: main
    source: ./groups
    inputs:
      prefix: p
      role: viwer
      groups:
        - {name: a, autoscaling: {min: 5, max: 2}}
        - {name: a, sise: 3}
  - name: other
    source: ./groups
    inputs: {prefx: p, groups: []}
  - name: gone
    source: ./nowhere
YAML
sf validate -f bad.yaml
expect_rc 1
expect_err 'bad.yaml:11:34: error: groups[a].autoscaling: min (5) is greater than max (2)'
expect_err '  in module.main (groups/module.yaml), called at bad.yaml:5:5'
expect_err 'bad.yaml:12:21: error: groups[a]: unknown field "sise"; did you mean "size"?'
expect_err 'bad.yaml:12:11: error: groups[a]: "a" is used by an earlier item; name must be unique'
expect_err 'bad.yaml:9:13: error: role: "viwer" is not one of viewer, submitter, admin; did you mean "viewer"?'
expect_err 'bad.yaml:15:14: error: module.other has no input "prefx"; did you mean "prefix"?'
expect_err 'bad.yaml:15:13: error: module.other: missing input "prefix"'
expect_err 'bad.yaml:17:13: error: module source "./nowhere": cannot read'
# for_each that depends on a resource cannot be expanded before apply.
cat > late.yaml <<'YAML'
apiVersion: sparkform/v1
kind: Stack
metadata: {name: mods}
resources:
  - type: local_file
    name: seed
    with: {path: out/seed.txt, content: x}
  - type: local_file
    name: many
    for_each: "${split(\",\", local_file.seed.id)}"
    with: {path: "out/${each.key}", content: x}
YAML
sf validate -f late.yaml
expect_rc 1
expect_err 'late.yaml:10:15: error: for_each must be known before anything is applied'

sf destroy -auto-approve -f stack.yaml
expect_rc 0
expect_out "Destroy complete! Resources: 6 destroyed."
[ -z "$(ls out)" ] || fail "files left: $(ls out)"
