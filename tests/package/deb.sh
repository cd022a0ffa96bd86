#!/bin/sh
# Checks what an installed meshq holds, twice: `cmake --install` into a
# temporary prefix, and the Debian package `cpack -G DEB` builds,
# unpacked with `dpkg-deb -x` into a scratch directory (never installed
# on this host): the binaries, the library, its headers and pkg-config
# file, the man pages, the systemd unit and the sample configuration.
# Usage: deb.sh BUILD_DIR
set -eu
build=$(cd "$1" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0

expect () {
    root=$1; shift
    for path in "$@"; do
        # shellcheck disable=SC2086
        if ! ls -d $root/$path >/dev/null 2>&1; then
            echo "missing: $path (under $root)"; fail=1
        fi
    done
}

# The unit must run the installed agent on the installed configuration.
check_unit () {
    unit=$1 bin=$2 conf=$3
    grep -qx "ExecStart=$bin/meshq-agent --config $conf" "$unit" || {
        echo "$unit: ExecStart is not $bin/meshq-agent --config $conf:"
        grep ExecStart "$unit"; fail=1; }
    for line in Type=notify User=meshq StateDirectory=meshq \
                NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes \
                PrivateTmp=yes PrivateDevices=yes \
                "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK"; do
        grep -qx "$line" "$unit" || { echo "$unit: no $line"; fail=1; }
    done
    if command -v systemd-analyze >/dev/null 2>&1; then
        # Unknown or misspelt settings; the binary need not exist here.
        systemd-analyze verify --man=no "$unit" 2>&1 | grep -v "is not executable\|No such file" \
            | grep -i "unknown\|invalid\|failed to parse" && { echo "$unit: bad"; fail=1; }
    fi
    return 0
}

echo "== cmake --install"
prefix="$work/prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null
expect "$prefix" bin/meshq-agent bin/meshq 'lib*/libmeshq.so*' \
    'lib*/libmeshq.a' include/meshq.h include/meshq_agent.h \
    'lib*/pkgconfig/meshq.pc' share/man/man8/meshq-agent.8 \
    share/man/man1/meshq.1 share/man/man5/meshq.conf.5 \
    lib/systemd/system/meshq-agent.service lib/sysusers.d/meshq.conf \
    etc/meshq/meshq.conf share/doc/meshq/examples/meshq.conf
check_unit "$prefix/lib/systemd/system/meshq-agent.service" "$prefix/bin" \
    "$prefix/etc/meshq/meshq.conf"

echo "== cpack -G DEB"
if ! cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/cpack" \
        >"$work/cpack.log" 2>&1; then
    cat "$work/cpack.log"; exit 1
fi
deb=$(ls "$work"/cpack/*.deb)
echo "$deb" | sed 's|.*/||'
dpkg-deb -x "$deb" "$work/root"
dpkg-deb -e "$deb" "$work/control"
expect "$work/root" usr/bin/meshq-agent usr/bin/meshq 'usr/lib*/libmeshq.so*' \
    usr/include/meshq.h 'usr/lib*/pkgconfig/meshq.pc' \
    'usr/lib*/cmake/meshq/meshqConfig.cmake' \
    usr/share/man/man8/meshq-agent.8 usr/share/man/man1/meshq.1 \
    usr/share/man/man5/meshq.conf.5 \
    usr/lib/systemd/system/meshq-agent.service usr/lib/sysusers.d/meshq.conf \
    etc/meshq/meshq.conf usr/share/doc/meshq/examples/meshq.conf \
    usr/share/doc/meshq/examples/grafana/meshq-dashboard.json
check_unit "$work/root/usr/lib/systemd/system/meshq-agent.service" /usr/bin \
    /etc/meshq/meshq.conf
# The agent in the package runs, with the package's library.
LD_LIBRARY_PATH=$(ls -d "$work"/root/usr/lib*/ | tr '\n' ':') \
    "$work/root/usr/bin/meshq-agent" --version | grep -q "^meshq-agent " \
    || { echo "the packaged meshq-agent does not run"; fail=1; }
grep -qx /etc/meshq/meshq.conf "$work/control/conffiles" \
    || { echo "meshq.conf is not a conffile"; fail=1; }
grep -q "^Depends:.*libczmq" "$work/control/control" \
    || { echo "no Depends on libczmq:"; cat "$work/control/control"; fail=1; }
# Loaded at run time, so named by the build, not by dpkg-shlibdeps.
grep -q "^Depends:.*libmicrohttpd" "$work/control/control" \
    || { echo "no Depends on libmicrohttpd:"; cat "$work/control/control"; fail=1; }
grep -q "meshq" "$work/control/postinst" || { echo "no postinst"; fail=1; }
# No text file of the package names this build (debug info may).
if grep -rlI "$build" "$work/root" >/dev/null 2>&1; then
    echo "the package names the build directory:"; grep -rlI "$build" "$work/root"
    fail=1
fi
[ "$fail" -eq 0 ] && echo "package: ok"
exit "$fail"
