#!/bin/sh
# netns.sh TEST [ARGS...] - runs the network namespace system test TEST
# inside its fixture: MESHQ_NETNS_NODES namespaces (TAG-n1..nN, 3 by
# default, at most 9), each with a veth "mq0" on 10.X.Y.N/24, joined by
# a bridge in one more namespace (TAG-br, the other end of n's veth is
# pN there), so that nothing touches the host's own network. n1 also
# has a second interface, dm0, on another subnet. The namespaces, and
# with them any nft table, qdisc or link state a test left in them, are
# removed when this script exits, however it exits; leftovers of runs
# that were killed outright (SIGKILL) are removed first.
#
# Without root (or without ip) it runs TEST as is, and TEST skips,
# saying why.
set -eu

if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null 2>&1; then
    exec "$@"
fi

tag="mqt$$"
nodes="${MESHQ_NETNS_NODES:-3}"
case "$nodes" in
    [2-9]) ;;
    *) echo "netns.sh: MESHQ_NETNS_NODES must be 2..9" >&2; exit 64 ;;
esac
# A /24 picked from the pid; inside namespaces of our own it cannot
# clash with the host's addresses anyway.
net="10.$((100 + $$ % 100)).$(( ($$ / 100) % 250 ))"
other="10.$((100 + $$ % 100)).$(( ($$ / 100 + 1) % 250 ))"

cleanup () {
    for i in $(seq 1 "$nodes"); do
        ip netns del "$tag-n$i" 2>/dev/null || true
    done
    ip netns del "$tag-br" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# Namespaces of earlier runs whose script is gone (killed by a timeout).
for ns in $(ip netns list | sed -n 's/^\(mqt[0-9]*-[a-z0-9]*\).*/\1/p'); do
    pid=${ns#mqt}
    pid=${pid%%-*}
    kill -0 "$pid" 2>/dev/null || ip netns del "$ns" 2>/dev/null || true
done

ip netns add "$tag-br"
ip -n "$tag-br" link add br0 type bridge
ip -n "$tag-br" link set br0 up
for i in $(seq 1 "$nodes"); do
    ns="$tag-n$i"
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip link add mq0 netns "$ns" type veth peer name "p$i" netns "$tag-br"
    # No duplicate address detection: link-local IPv6 is usable at once.
    ip netns exec "$ns" sysctl -q -w net.ipv6.conf.mq0.accept_dad=0
    ip -n "$ns" addr add "$net.$i/24" dev mq0
    ip -n "$ns" link set mq0 up
    ip -n "$tag-br" link set "p$i" master br0
    ip -n "$tag-br" link set "p$i" up
done
# A second interface for n1 (a veth pair of its own: this kernel may
# have no dummy driver).
ip -n "$tag-n1" link add dm0 type veth peer name dm1
ip -n "$tag-n1" addr add "$other.1/24" dev dm0
ip -n "$tag-n1" link set dm0 up
ip -n "$tag-n1" link set dm1 up

MESHQ_NETNS="$tag" MESHQ_NETNS_NET="$net" MESHQ_NETNS_NODES="$nodes" "$@"
