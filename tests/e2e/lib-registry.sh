# Helpers for the tests that talk to a Docker Registry (the real
# docker-registry that ssh_registry configures): GET /v2/ with or without
# credentials, and a push of a small image made with curl (two blobs and a
# schema2 manifest), as `docker push` would send it.
declare -F fail >/dev/null || . "$ROOT/tests/e2e/lib.sh"

# v2 BASE_URL [CREDENTIALS]: the status GET BASE_URL/v2/ answers.
v2() {
  local args=(-s -o /dev/null -w '%{http_code}')
  [ -n "${2:-}" ] && args+=(-u "$2")
  curl "${args[@]}" "$1/v2/" || true
}

# push BASE_URL CREDENTIALS REPO TAG: a layer and a config blob (POST, then
# PUT with the digest) and a schema2 manifest; the manifest PUT's status in
# $code (a blob upload refused stops there with its status). Leaves
# layer.gz, config.json and manifest.json in the current directory.
push() {
  local base=$1 cred=$2 url="$1/v2/$3" auth=()
  [ -n "$cred" ] && auth=(-u "$cred")
  printf 'the only layer of %s\n' "$3" | gzip -n > layer.gz
  printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$(gunzip -c layer.gz | sha256sum | cut -d' ' -f1)" > config.json
  local blob loc sep
  for blob in layer.gz config.json; do
    code=$(curl -s -D headers -o /dev/null -w '%{http_code}' "${auth[@]}" -X POST "$url/blobs/uploads/")
    [ "$code" = 202 ] || return 0
    loc=$(tr -d '\r' < headers | awk 'tolower($1) == "location:" {print $2}')
    case $loc in http*) ;; *) loc="$base$loc" ;; esac
    case $loc in *\?*) sep='&' ;; *) sep='?' ;; esac
    code=$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" -X PUT -H 'Content-Type: application/octet-stream' \
      --data-binary "@$blob" "$loc${sep}digest=sha256:$(sha256sum < "$blob" | cut -d' ' -f1)")
    [ "$code" = 201 ] || fail "PUT of $blob: HTTP $code"
  done
  jq -n --arg cd "sha256:$(sha256sum < config.json | cut -d' ' -f1)" --argjson cs "$(stat -c %s config.json)" \
        --arg ld "sha256:$(sha256sum < layer.gz | cut -d' ' -f1)" --argjson ls "$(stat -c %s layer.gz)" \
    '{schemaVersion: 2, mediaType: "application/vnd.docker.distribution.manifest.v2+json",
      config: {mediaType: "application/vnd.docker.container.image.v1+json", size: $cs, digest: $cd},
      layers: [{mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip", size: $ls, digest: $ld}]}' > manifest.json
  code=$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" -X PUT \
    -H 'Content-Type: application/vnd.docker.distribution.manifest.v2+json' --data-binary @manifest.json "$url/manifests/$4")
}

# stop_registry: a registry a failed test leaves running (base_dir $BASE)
# is stopped by the PID in its pid file, when that PID is still the
# registry of this base_dir. Tests call it from their EXIT trap.
stop_registry() {
  local p
  p=$(cat "$BASE/registry.pid" 2>/dev/null) || return 0
  tr '\0' '\n' < "/proc/$p/cmdline" 2>/dev/null | grep -qxF "$BASE/config.yml" && kill "$p" 2>/dev/null
  return 0
}
