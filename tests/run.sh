#!/bin/sh
# tests/run.sh — the test runner behind `make test`: runs every unit test binary
# ($HARDE_BUILD/tests/test_*) and every end-to-end script (tests/e2e/*.sh) and
# sums up.
#
# Owns: $HARDE_BUILD/test-logs/ (one log per program, plus the temp files of a
# failed program kept in NAME.files/ for inspection).
#
# Design: every program speaks TAP on stdout — cmocka binaries because we set
# CMOCKA_MESSAGE_OUTPUT=TAP, e2e scripts through tests/e2e/lib.sh. Each
# "ok N" line is one passed test and each "not ok N" line one failure
# (cmocka 1.1.5 prints skipped tests as "not ok N # SKIP name": counted as
# skipped, which counts as passed). A program that exits non-zero, crashes or
# times out without reporting a failure, reports nothing, or reports fewer
# tests than its "1..N" plan counts as one failure named after the program.
# Programs run one at a time, under `timeout`, with stdin from /dev/null, a
# fresh temporary HOME, HARDE_DATA_DIR and TMPDIR, and an environment cleaned
# of API keys, HARDE_* settings and proxies, so a developer's shell cannot
# change the outcome. The last line is exactly "N passed, N failed"; the exit
# status is 0 only when nothing failed and at least one test ran.
#
# Usage: HARDE_BUILD=build sh tests/run.sh [NAME_PATTERN...]
#   NAME_PATTERN is a shell glob matched against names such as test_base or
#   test_ask (no pattern: run everything). HARDE_TEST_TIMEOUT sets the
#   per-program limit in seconds (default 300).

set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
HARDE_BUILD=${HARDE_BUILD:-build}
case $HARDE_BUILD in
/*) ;;
*) HARDE_BUILD=$ROOT/$HARDE_BUILD ;;
esac
TIMEOUT=${HARDE_TEST_TIMEOUT:-300}
LOGDIR=$HARDE_BUILD/test-logs
TAIL_LINES=25
mkdir -p "$LOGDIR" || exit 2

# ---- a clean environment -------------------------------------------------
for var in $(env | sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p'); do
    case $var in
    HARDE_BUILD | HARDE_TEST_TIMEOUT) ;;
    HARDE_* | OPENAI_* | *_API_KEY | *_API_TOKEN | *_ACCESS_TOKEN | XDG_*_HOME | XDG_RUNTIME_DIR)
        unset "$var" ;;
    http_proxy | https_proxy | ftp_proxy | all_proxy | HTTP_PROXY | HTTPS_PROXY | FTP_PROXY | ALL_PROXY)
        unset "$var" ;;
    esac
done
export HARDE_BUILD
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
export LC_ALL=C.UTF-8
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
export CMOCKA_MESSAGE_OUTPUT=TAP

TOTAL_PASS=0
TOTAL_FAIL=0
TOTAL_SKIP=0
PROGRAMS=0
FAILURES=$LOGDIR/.failures
: >"$FAILURES"

selected() {
    [ $# -eq 1 ] && return 0
    name=$1
    shift
    for pattern in "$@"; do
        # shellcheck disable=SC2254
        case $name in
        $pattern) return 0 ;;
        esac
    done
    return 1
}

# Counts the TAP lines of LOG. Prints "PASS FAIL SKIP PLAN" and appends each
# failed test's name and diagnostics to FAILURES.
tap_count() {
    awk -v prog="$2" -v failures="$FAILURES" '
        function flush_diag() { if (indiag) { indiag = 0 } }
        /^ok [0-9]+/ {
            flush_diag(); pass++
            if ($0 ~ /# *[Ss][Kk][Ii][Pp]/) skip++
            next
        }
        /^not ok [0-9]+/ {
            flush_diag()
            if ($0 ~ /# *[Ss][Kk][Ii][Pp]/) { pass++; skip++; next }
            if ($0 ~ /# *TODO/) { pass++; next }
            fail++
            name = $0
            sub(/^not ok [0-9]+ *-? */, "", name)
            printf "  %s: %s\n", prog, name >> failures
            indiag = 1; ndiag = 0
            next
        }
        /^1\.\.[0-9]+/ { flush_diag(); n = $0; sub(/^1\.\./, "", n); plan += n + 0; next }
        /^# (not )?ok - / { next }
        /^#/ { if (indiag && ndiag < 15) { printf "      %s\n", $0 >> failures; ndiag++ } next }
        { flush_diag() }
        END { printf "%d %d %d %d\n", pass, fail, skip, plan }
    ' "$1"
}

# Runs one program: KIND (unit|e2e), NAME, then the command.
run_program() {
    kind=$1
    name=$2
    shift 2
    label=$kind/$name
    log=$LOGDIR/$kind-$name.log
    kept=$LOGDIR/$kind-$name.files
    rm -rf "$kept"
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/harde-test.XXXXXX") || exit 2
    mkdir -p "$tmp/home" "$tmp/data" "$tmp/tmp"
    start=$(date +%s)
    # The outer group also catches the shell's own "Aborted"/"Segmentation
    # fault" notice for a program killed by a signal.
    {
        (
            export HOME="$tmp/home" HARDE_DATA_DIR="$tmp/data" TMPDIR="$tmp/tmp"
            exec timeout -k 10 "$TIMEOUT" "$@"
        )
        rc=$?
    } >"$log" 2>&1 </dev/null
    secs=$(($(date +%s) - start))
    # shellcheck disable=SC2046 # three numbers, split on purpose
    set -- $(tap_count "$log" "$label")
    pass=$1 fail=$2 skip=$3 plan=$4
    problem=
    if [ "$fail" -eq 0 ]; then
        if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
            problem="timed out after ${TIMEOUT}s"
        elif [ "$rc" -gt 128 ]; then
            problem="killed by signal $((rc - 128))"
        elif [ "$rc" -ne 0 ]; then
            problem="exited with status $rc"
        elif [ $((pass + fail)) -eq 0 ]; then
            problem="reported no test results"
        elif [ "$plan" -gt $((pass + fail)) ]; then
            problem="planned $plan tests but reported $((pass + fail))"
        fi
    fi
    if [ -n "$problem" ]; then
        fail=$((fail + 1))
        printf '  %s (%s)\n' "$label" "$problem" >>"$FAILURES"
    fi
    TOTAL_PASS=$((TOTAL_PASS + pass))
    TOTAL_FAIL=$((TOTAL_FAIL + fail))
    TOTAL_SKIP=$((TOTAL_SKIP + skip))
    PROGRAMS=$((PROGRAMS + 1))
    extra=
    [ "$skip" -gt 0 ] && extra=", $skip skipped"
    if [ "$fail" -eq 0 ]; then
        printf 'PASS %-28s %4d passed%s (%ss)\n' "$label" "$pass" "$extra" "$secs"
        rm -rf "$tmp"
    else
        printf 'FAIL %-28s %4d passed, %d failed%s (%ss)\n' "$label" "$pass" "$fail" "$extra" \
            "$secs"
        mv "$tmp" "$kept" 2>/dev/null || rm -rf "$tmp"
        {
            printf '    --- last %d lines of %s ---\n' "$TAIL_LINES" "$log"
            tail -n "$TAIL_LINES" "$log" | sed 's/^/    | /'
            [ -d "$kept" ] && printf '    (temporary files kept in %s)\n' "$kept"
        } >>"$FAILURES"
    fi
}

for bin in "$HARDE_BUILD"/tests/test_*; do
    [ -f "$bin" ] && [ -x "$bin" ] || continue
    name=${bin##*/}
    case $name in
    *.*) continue ;;
    esac
    selected "$name" "$@" || continue
    run_program unit "$name" "$bin"
done

for script in "$ROOT"/tests/e2e/*.sh; do
    [ -f "$script" ] || continue
    name=${script##*/}
    name=${name%.sh}
    case $name in
    lib) continue ;;
    esac
    selected "$name" "$@" || continue
    run_program e2e "$name" sh "$script"
done

if [ -s "$FAILURES" ]; then
    echo
    echo "Failed:"
    cat "$FAILURES"
fi
rm -f "$FAILURES"
echo
echo "Logs: $LOGDIR ($PROGRAMS programs)"
[ "$TOTAL_SKIP" -gt 0 ] && echo "$TOTAL_SKIP skipped (counted as passed)"
echo "$TOTAL_PASS passed, $TOTAL_FAIL failed"
[ "$TOTAL_FAIL" -eq 0 ] && [ $((TOTAL_PASS + TOTAL_FAIL)) -gt 0 ]
