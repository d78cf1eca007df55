#!/usr/bin/env bash
# run_golden.sh — golden-output tests: each case is an input file plus the
# expected output that netc produced for it when the case was last reviewed.
#
#   tests/run_golden.sh NETC KIND [--update]
#
# KIND picks a directory of tests/golden and what is compared:
#   diag  <name>.net -> <name>.err   stderr and exit status of `netc check`
#   ir    <name>.net -> <name>.ir    stdout of `netc dump`, which must also
#                                    round-trip: dump of the .ir equals itself
#   pim   <name>.sh  -> <name>.out   as cli: scripts printing `netc pim`
#                                    programs (.pim and --emit json)
#   cli   <name>.sh  -> <name>.err   stdout + stderr + exit status of a small
#                                    script run with $NETC and a scratch
#                                    directory $TMP (shown as $TMP in output):
#                                    errors of run/init/usage, bad files
# A .net case may begin with a line `# args: ...` giving extra netc options.
# --update rewrites the expected files from the current netc (review the diff
# with git before committing). Never edit expected files by hand.
set -u
netc=$(realpath "$1") kind=$2 update=${3:-}
[ -x "$netc" ] || { echo "run_golden: no netc at $1"; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
dir=$here/golden/$kind
cd "$here/golden" || exit 2   # paths in messages are relative: kind/name.net
pass=0 fail=0
ext=net
[ "$kind" = cli ] || [ "$kind" = pim ] && ext=sh
for src in "$kind"/*."$ext"; do
    name=${src%."$ext"}
    args=$(sed -n '1s/^# args: //p' "$src")
    case $kind in
    diag)
        expected=$name.err
        # shellcheck disable=SC2086
        actual=$("$netc" check $args "$src" 2>&1 >/dev/null; echo "exit status: $?")
        ;;
    ir)
        expected=$name.ir
        # shellcheck disable=SC2086
        actual=$("$netc" dump $args "$src" 2>/dev/null; echo "exit status: $?")
        ;;
    cli|pim)
        expected=$name.err
        [ "$kind" = pim ] && expected=$name.out
        scratch=$(mktemp -d)
        actual=$(NETC=$netc TMP=$scratch bash "$src" 2>&1; echo "exit status: $?")
        actual=${actual//$scratch/\$TMP}
        rm -rf "$scratch"
        ;;
    *) echo "unknown kind $kind"; exit 2 ;;
    esac
    case $actual in
    *"exit status: 126"|*"exit status: 127"|*"exit status: 13"[0-9])
        echo "ERROR $src: netc did not run or crashed (${actual##*exit status: }); nothing recorded"
        fail=$((fail + 1))
        continue ;;
    esac
    if [ "$update" = --update ]; then
        printf '%s\n' "$actual" > "$expected"
        echo "updated $expected"
        continue
    fi
    if [ "$kind" = ir ]; then
        # The dump must parse back to the same text.
        tmp=$(mktemp --suffix=.ir)
        "$netc" dump $args "$src" > "$tmp" 2>/dev/null
        again=$("$netc" dump "$tmp" 2>/dev/null; echo "exit status: $?")
        rm -f "$tmp"
        if [ "$again" != "$actual" ]; then
            echo "FAIL $src: dump does not round-trip"
            diff <(printf '%s\n' "$actual") <(printf '%s\n' "$again") | head -20
            fail=$((fail + 1))
            continue
        fi
    fi
    if [ -f "$expected" ] && diff -u "$expected" <(printf '%s\n' "$actual") > /tmp/golden.diff.$$; then
        pass=$((pass + 1))
    else
        echo "FAIL $src"
        [ -f "$expected" ] && head -40 /tmp/golden.diff.$$ || echo "  (no $expected; run with --update)"
        fail=$((fail + 1))
    fi
done
rm -f /tmp/golden.diff.$$
echo "golden $kind: $pass passed, $fail failed"
[ "$fail" -eq 0 ] && { [ "$pass" -gt 0 ] || [ "$update" = --update ]; }
