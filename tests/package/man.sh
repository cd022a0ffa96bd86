#!/bin/sh
# Checks the man pages the build made: each renders with groff and with
# man -l, without a warning, and every option and verb that
# `meshq-agent --help`, `meshq --help` and `meshq VERB --help` list is in
# its page; and the sample configuration shows every setting.
# Usage: man.sh BUILD_DIR
set -eu
build=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0

for page in meshq-agent.8 meshq.1 meshq.conf.5; do
    file="$build/man/$page"
    if [ ! -s "$file" ]; then
        echo "$page: not made (is scdoc installed? it is in the Makefile's PACKAGES)"
        exit 1
    fi
    # Warnings of every kind (-ww); -z: no output, only the diagnostics.
    groff -man -Tascii -ww -z "$file" >"$work/warnings" 2>&1
    if [ -s "$work/warnings" ]; then
        echo "$page: groff warns:"; cat "$work/warnings"; fail=1
    fi
    LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$file" >"$work/rendered" 2>"$work/warnings"
    if [ -s "$work/warnings" ] || [ ! -s "$work/rendered" ]; then
        echo "$page: man -l fails or warns:"; cat "$work/warnings"; fail=1
    fi
    grep -q "^NAME" "$work/rendered" || { echo "$page: no NAME"; fail=1; }
    # Options stay whole: no word is hyphenated at a line's end.
    if LC_ALL=C.UTF-8 grep -q "$(printf '\342\200\220')" "$work/rendered"; then
        echo "$page: hyphenates words:"
        LC_ALL=C.UTF-8 grep "$(printf '\342\200\220')" "$work/rendered"; fail=1
    fi
    # One long line per paragraph, no hyphenation: options stay whole.
    groff -man -Tascii -rLL=1000n -P-cbou "$file" >"$work/$page.txt" 2>/dev/null
done

# Every word the program's help names must be in the page.
check () {
    page=$1; shift
    for word in "$@"; do
        if ! grep -qF -- "$word" "$work/$page.txt"; then
            echo "$page: does not mention $word, which --help lists"
            fail=1
        fi
    done
}

agent_help=$("$build/agents/meshq-agent" --help)
# shellcheck disable=SC2046
check meshq-agent.8 $(echo "$agent_help" | grep -oE -- '--[a-z][a-z-]*' | sort -u)

tool_help=$("$build/tools/meshq" --help)
# shellcheck disable=SC2046
check meshq.1 $(echo "$tool_help" | grep -oE -- '(^| |\[)-(-[a-z][a-z-]*|p)\b' \
    | tr -d ' [' | sort -u)
# The verbs: the first word of each line under "verbs:".
# shellcheck disable=SC2046
check meshq.1 $(echo "$tool_help" | sed -n '/^verbs:/,/^$/p' \
    | sed -n 's/^  \([a-z_]*\) .*/\1/p')

# Every option of every verb (`meshq VERB --help`).
for verb in $(echo "$tool_help" | sed -n '/^verbs:/,/^$/p' \
              | sed -n 's/^  \([a-z_]*\) .*/\1/p'); do
    # shellcheck disable=SC2046
    check meshq.1 $("$build/tools/meshq" "$verb" --help 2>&1 \
        | grep -oE -- '--[a-z][a-z-]*' | sort -u)
done

# Every setting of the configuration file, as agent/NAME, is in
# meshq.conf(5): the flags' names with '-' written '_'.
# shellcheck disable=SC2046
check meshq.conf.5 $(echo "$agent_help" | grep -oE -- '--[a-z][a-z-]*' \
    | sed 's/^--//' | grep -vxE 'config|help|version' | tr - _ | sort -u)

# The sample configuration shows every setting too, by its name.
sample="$(dirname "$0")/../../contrib/meshq.conf"
for name in $(echo "$agent_help" | grep -oE -- '--[a-z][a-z-]*' \
        | sed 's/^--//' | grep -vxE 'config|help|version' | tr - _ | sort -u); do
    grep -qE "^    (# )?$name = " "$sample" \
        || { echo "contrib/meshq.conf: no '$name = ' line"; fail=1; }
done

[ "$fail" -eq 0 ] && echo "man pages: ok"
exit "$fail"
