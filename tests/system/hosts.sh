#!/bin/sh
# hosts.sh TEST [ARGS...] - runs TEST in a mount and a network namespace
# of its own: /etc/hosts there is a private file, which TEST may rewrite
# (MESHQ_HOSTS names it), and loopback has the addresses 127.0.0.2 to
# 127.0.0.5 too. Nothing of the host's own files or network changes;
# both namespaces and the file go when the script ends.
#
# Without root (or without unshare and ip) it runs TEST as is, and TEST
# skips, saying why.
set -eu

if [ "$(id -u)" -ne 0 ] || ! command -v unshare >/dev/null 2>&1 ||
   ! command -v ip >/dev/null 2>&1; then
    exec "$@"
fi

MESHQ_HOSTS=$(mktemp /tmp/meshq-hosts-XXXXXX)
export MESHQ_HOSTS
trap 'rm -f "$MESHQ_HOSTS"' EXIT
chmod 644 "$MESHQ_HOSTS"
echo "127.0.0.1 localhost" >"$MESHQ_HOSTS"

# unshare -m makes the new mount namespace's mounts private: the bind
# mount is seen inside it only.
rc=0
unshare -m -n sh -c '
    set -e
    ip link set lo up
    for n in 2 3 4 5; do ip addr add 127.0.0.$n/8 dev lo; done
    mount --bind "$MESHQ_HOSTS" /etc/hosts
    exec "$@"' sh "$@" || rc=$?
exit "$rc"
