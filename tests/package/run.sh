#!/bin/sh
# Installs meshq from BUILD into a temporary prefix and builds consumer.c
# against it with find_package (meshq), then with pkg-config, and runs
# each program. Usage: run.sh BUILD_DIR PACKAGE_SOURCE_DIR CC
# CFLAGS and LDFLAGS from the environment apply to both builds (a
# sanitizer build of meshq needs its runtime in the program too).
set -eu
CFLAGS=${CFLAGS:-}
LDFLAGS=${LDFLAGS:-}
build=$1
source=$2
cc=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/prefix" >/dev/null
libdir=$(ls -d "$work"/prefix/lib*/ | head -n 1)

echo "== find_package (meshq)"
cmake -S "$source" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$work/prefix" \
      -DCMAKE_C_COMPILER="$cc" >/dev/null
cmake --build "$work/cmake" >/dev/null
LD_LIBRARY_PATH="$libdir" "$work/cmake/consumer"
"$work/cmake/consumer_static"

echo "== pkg-config meshq"
export PKG_CONFIG_PATH="${libdir}pkgconfig"
# shellcheck disable=SC2046
"$cc" $CFLAGS -o "$work/consumer_pc" "$source/consumer.c" \
      $(pkg-config --cflags --libs meshq) $LDFLAGS
LD_LIBRARY_PATH="$libdir" "$work/consumer_pc"
# shellcheck disable=SC2046
"$cc" $CFLAGS -o "$work/consumer_pc_static" "$source/consumer.c" \
      $(pkg-config --static --cflags meshq) "${libdir}libmeshq.a" \
      $(pkg-config --static --libs-only-l meshq | sed 's/-lmeshq//') $LDFLAGS
"$work/consumer_pc_static"
