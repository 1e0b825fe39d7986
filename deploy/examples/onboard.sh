#!/usr/bin/env bash
# Onboards tenants from manifests with the weft CLI, then hands each tenant a
# token of its own. Usage: onboard.sh MANIFEST...
#   WEFT_API   the daemon (default http://127.0.0.1:8080)
#   WEFT_TOKEN an admin token (default: ./var/admin.token, or $WEFT_DATA/admin.token)
#   WEFT       the weft command (default: weft on the PATH)
#   TOKENS     where to write each tenant's token as TENANT.token (default .)
set -euo pipefail

weft=${WEFT:-weft}
tokens=${TOKENS:-.}
if [ "$#" -eq 0 ]; then
  echo "usage: $0 MANIFEST..." >&2
  exit 2
fi

$weft status >/dev/null   # fails early, with the reason, when the daemon is not reachable

for manifest in "$@"; do
  echo "== $manifest: planned changes"
  $weft apply -f "$manifest" --dry-run
  $weft apply -f "$manifest"
done

for manifest in "$@"; do
  tenant=$(sed -n 's/^tenant: *\([a-z0-9-]*\).*/\1/p' "$manifest" | head -n 1)
  token=$($weft token create --tenant "$tenant" --name onboarding)
  umask 077
  printf '%s\n' "$token" > "$tokens/$tenant.token"
  echo "== $tenant: token written to $tokens/$tenant.token"
done

$weft tenant list
$weft network list
