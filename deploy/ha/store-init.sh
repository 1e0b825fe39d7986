#!/bin/sh
# Creates this machine's store cluster member, once, before weft-store.service
# first starts (docs/ha.md). On the first member:
#   store-init.sh create tcp:198.19.1.1:6644
# on every other member, its own Raft address first, then any existing member's:
#   store-init.sh join tcp:198.19.1.2:6644 tcp:198.19.1.1:6644
# Environment: WEFT_STORE_DB (default /var/lib/weft-store/weft.db), WEFT_SCHEMA
# (default the schema of the installed weft), WEFT_STORE_USER (owner of the
# database when run as root; default weft-store).
set -eu

db=${WEFT_STORE_DB:-/var/lib/weft-store/weft.db}
schema=${WEFT_SCHEMA:-$(npm root -g 2>/dev/null)/weft/deploy/ovsdb/weft.ovsschema}
user=${WEFT_STORE_USER:-weft-store}

usage() {
  echo "usage: $0 create SELF_RAFT | join SELF_RAFT PEER_RAFT..." >&2
  echo "  a Raft address is tcp:IP:6644" >&2
  exit 2
}

[ $# -ge 2 ] || usage
if [ -e "$db" ]; then
  echo "$db exists: this machine is already a member (to start over, leave the cluster first: docs/ha.md)" >&2
  exit 1
fi
mkdir -p "$(dirname "$db")"
case $1 in
  create)
    [ $# -eq 2 ] || usage
    [ -r "$schema" ] || { echo "no schema at $schema: set WEFT_SCHEMA" >&2; exit 1; }
    ovsdb-tool create-cluster "$db" "$schema" "$2"
    ;;
  join)
    [ $# -ge 3 ] || usage
    self=$2
    shift 2
    ovsdb-tool join-cluster "$db" Weft "$self" "$@"
    ;;
  *) usage ;;
esac
if [ "$(id -u)" -eq 0 ] && id "$user" >/dev/null 2>&1; then
  chown "$user:$user" "$db"
fi
echo "$db: $(ovsdb-tool db-name "$db") $(ovsdb-tool db-sid "$db" 2>/dev/null || true); start weft-store.service"
