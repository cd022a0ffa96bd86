#!/bin/sh
# scdoc.sh SCDOC SOURCE OUTPUT - makes a man page with scdoc, with no
# hyphenation (HY 0: the man macros' own register, which they read at
# every paragraph) and every '-' of the text written '\-': groff breaks
# lines inside words and after a plain hyphen ("--dead-" /
# "letter-exchange"), never at \-, so that options stay whole.
set -eu
"$1" <"$2" >"$3.tmp"
{
    echo '.nr HY 0'
    sed "/^[.']/!s/\\\\\\{0,1\\}-/\\\\-/g" "$3.tmp"
} >"$3"
rm -f "$3.tmp"
