# tests/e2e/lib.sh — shared helpers for the end-to-end test scripts (POSIX sh).
#
# Sourced by tests/e2e/test_*.sh (`. "$(dirname "$0")/lib.sh"`). Owns the
# script's scratch directory ($E2E_TMP), the TAP counters, and every
# background process started through it (the fakes), which the exit trap
# stops by their own PIDs — never by name.
#
# Design: a script prints TAP lines through ok / not_ok / skip and the check_*
# helpers and ends with done_testing, which prints the plan and sets the exit
# status; tests/run.sh counts the lines. Each script gets a fresh HOME and
# HARDE_DATA_DIR under $E2E_TMP and an environment without OpenAI settings, so
# it behaves the same under `make test` and when run by hand
# (`HARDE_BUILD=build sh tests/e2e/test_ask.sh`). Assertions on JSON (harde
# --json output, the fake's request log) are short Python snippets given to
# py_check on stdin, with a few helpers predefined (see E2E_PY_PRELUDE).

E2E_DIR=$(cd "$(dirname "$0")" && pwd)
E2E_ROOT=$(cd "$E2E_DIR/../.." && pwd)
HARDE_BUILD=${HARDE_BUILD:-build}
case $HARDE_BUILD in
/*) ;;
*) HARDE_BUILD=$E2E_ROOT/$HARDE_BUILD ;;
esac
export HARDE_BUILD
HARDE=$HARDE_BUILD/harde
FAKES_DIR=$E2E_ROOT/tests/fakes
# The key the fakes accept; tests export it as OPENAI_API_KEY when they want
# the binary to authenticate.
FAKE_API_KEY=sk-test-e2e-4f9c2a7d1b3e8f60a5c9d2e7
export FAKE_API_KEY
# How long one harde invocation may take before the test gives up on it.
E2E_CMD_TIMEOUT=${E2E_CMD_TIMEOUT:-60}

E2E_N=0
E2E_FAILED=0
E2E_PIDS=
E2E_FAKES=0
E2E_CHECKS=0
E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/harde-e2e.XXXXXX") || exit 2

# A clean environment: no OpenAI settings or HARDE_* knobs from the caller's
# shell, no proxies (they would swallow loopback requests), a fresh home.
for e2e_var in $(env | sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p'); do
    case $e2e_var in
    HARDE_BUILD) ;;
    HARDE_* | OPENAI_* | http_proxy | https_proxy | all_proxy | HTTP_PROXY | HTTPS_PROXY | ALL_PROXY)
        unset "$e2e_var" ;;
    esac
done
unset e2e_var
mkdir -p "$E2E_TMP/home" "$E2E_TMP/data"
HOME=$E2E_TMP/home
HARDE_DATA_DIR=$E2E_TMP/data
NO_PROXY=127.0.0.1,localhost
no_proxy=127.0.0.1,localhost
export HOME HARDE_DATA_DIR NO_PROXY no_proxy

# ---- processes ------------------------------------------------------------

# Stops one process we started (our child, so its PID cannot have been reused
# before we reap it): TERM, up to 5 s of grace, then KILL.
e2e_stop_pid() {
    e2e_pid=$1
    if kill -0 "$e2e_pid" 2>/dev/null; then
        kill -TERM "$e2e_pid" 2>/dev/null
        e2e_i=0
        while kill -0 "$e2e_pid" 2>/dev/null && [ "$e2e_i" -lt 100 ]; do
            # A zombie child still answers kill -0: reap it when it is one.
            if [ "$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$e2e_pid/status" \
                2>/dev/null)" = Z ]; then
                break
            fi
            sleep 0.05
            e2e_i=$((e2e_i + 1))
        done
        kill -KILL "$e2e_pid" 2>/dev/null
    fi
    wait "$e2e_pid" 2>/dev/null
    # shellcheck disable=SC2086
    E2E_PIDS=$(printf '%s\n' $E2E_PIDS | grep -vx "$e2e_pid" | tr '\n' ' ')
}

e2e_cleanup() {
    for e2e_pid in $E2E_PIDS; do
        e2e_stop_pid "$e2e_pid"
    done
    if [ "$E2E_FAILED" -eq 0 ]; then
        rm -rf "$E2E_TMP"
    else
        echo "# scratch files kept in $E2E_TMP"
    fi
}
trap e2e_cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# start_fake SCRIPT [extra fake_openai.py args...]
# Starts tests/fakes/fake_openai.py with SCRIPT (a JSON file; "" for none),
# waits (at most 10 s) until it listens, and exports FAKE_PORT, FAKE_PID,
# FAKE_LOG (its request log), FAKE_DIR and
# OPENAI_BASE_URL=http://127.0.0.1:$FAKE_PORT/v1. Returns 1 if it did not start.
start_fake() {
    E2E_FAKES=$((E2E_FAKES + 1))
    FAKE_DIR=$E2E_TMP/fake$E2E_FAKES
    mkdir -p "$FAKE_DIR"
    if [ -n "$1" ]; then
        e2e_script_args="--script $1"
    else
        e2e_script_args=
    fi
    shift
    # shellcheck disable=SC2086
    python3 "$FAKES_DIR/fake_openai.py" $e2e_script_args --port-file "$FAKE_DIR/port" \
        --pid-file "$FAKE_DIR/pid" --log "$FAKE_DIR/requests.jsonl" --api-key "$FAKE_API_KEY" \
        --parent-pid $$ "$@" >"$FAKE_DIR/output" 2>&1 &
    FAKE_PID=$!
    E2E_PIDS="$E2E_PIDS $FAKE_PID"
    e2e_i=0
    while [ ! -s "$FAKE_DIR/port" ]; do
        if [ "$e2e_i" -ge 200 ] || ! kill -0 "$FAKE_PID" 2>/dev/null; then
            echo "# fake_openai did not start:"
            sed 's/^/#   /' "$FAKE_DIR/output"
            return 1
        fi
        sleep 0.05
        e2e_i=$((e2e_i + 1))
    done
    FAKE_PORT=$(cat "$FAKE_DIR/port")
    FAKE_LOG=$FAKE_DIR/requests.jsonl
    OPENAI_BASE_URL=http://127.0.0.1:$FAKE_PORT/v1
    export FAKE_PORT FAKE_PID FAKE_LOG FAKE_DIR OPENAI_BASE_URL
    return 0
}

# Stops the most recently started fake (or the PID given).
stop_fake() {
    e2e_stop_pid "${1:-$FAKE_PID}"
}

# run_harde NAME ARGS... — runs "$HARDE ARGS..." with stdin from /dev/null under
# a timeout; stdout goes to $RUN_OUT, stderr to $RUN_ERR (files named after
# NAME in $E2E_TMP), the exit status to $RUN_RC. All three are exported for
# py_check. The environment is the caller's: set variables in a subshell or
# export them before.
run_harde() {
    RUN_NAME=$1
    shift
    RUN_OUT=$E2E_TMP/$RUN_NAME.stdout
    RUN_ERR=$E2E_TMP/$RUN_NAME.stderr
    timeout -k 5 "$E2E_CMD_TIMEOUT" "$HARDE" "$@" >"$RUN_OUT" 2>"$RUN_ERR" </dev/null
    RUN_RC=$?
    export RUN_OUT RUN_ERR RUN_RC
}

have_harde() {
    [ -x "$HARDE" ]
}

# e2e_test NAME FUNCTION — runs FUNCTION (which reports through ok/not_ok/
# check_*), or reports NAME as skipped when $HARDE_BUILD/harde is missing.
e2e_test() {
    if have_harde; then
        "$2"
    else
        skip "$1" "binary missing"
    fi
}

# ---- TAP -----------------------------------------------------------------

e2e_tap_name() {
    printf '%s' "$1" | tr '#\n' '_ '
}

# Prints DETAIL lines as TAP diagnostics (at most 40 lines).
diag() {
    printf '%s\n' "$*" | head -n 40 | sed 's/^/# /'
}

ok() {
    E2E_N=$((E2E_N + 1))
    printf 'ok %d - %s\n' "$E2E_N" "$(e2e_tap_name "$1")"
}

# not_ok NAME [DETAIL...]
not_ok() {
    E2E_N=$((E2E_N + 1))
    E2E_FAILED=$((E2E_FAILED + 1))
    printf 'not ok %d - %s\n' "$E2E_N" "$(e2e_tap_name "$1")"
    shift
    [ $# -gt 0 ] && diag "$*"
    return 0
}

# skip NAME REASON
skip() {
    E2E_N=$((E2E_N + 1))
    printf 'ok %d - %s # SKIP %s\n' "$E2E_N" "$(e2e_tap_name "$1")" "$2"
}

# check NAME COMMAND... — passes when COMMAND exits 0.
check() {
    e2e_name=$1
    shift
    if e2e_out=$("$@" 2>&1); then
        ok "$e2e_name"
    else
        not_ok "$e2e_name" "command failed (status $?): $*
$e2e_out"
    fi
}

# e2e_show FILE — the start of a file, for diagnostics.
e2e_show() {
    if [ -f "$1" ]; then
        printf -- '--- %s:\n%s' "$1" "$(head -c 2000 "$1")"
    else
        printf -- '--- %s: (missing)' "$1"
    fi
}

# check_contains NAME FILE TEXT — FILE contains TEXT (fixed string).
check_contains() {
    if grep -qF -- "$3" "$2" 2>/dev/null; then
        ok "$1"
    else
        not_ok "$1" "expected to find: $3
$(e2e_show "$2")"
    fi
}

# check_not_contains NAME FILE TEXT — FILE (if it exists) lacks TEXT.
check_not_contains() {
    if grep -qaF -- "$3" "$2" 2>/dev/null; then
        not_ok "$1" "must not contain: $3
$(grep -naF -- "$3" "$2" | head -n 5)"
    else
        ok "$1"
    fi
}

# check_match NAME FILE REGEX — FILE has a line matching the extended REGEX,
# ignoring case.
check_match() {
    if grep -qEi -- "$3" "$2" 2>/dev/null; then
        ok "$1"
    else
        not_ok "$1" "expected a line matching /$3/ (any case)
$(e2e_show "$2")"
    fi
}

# check_eq NAME GOT WANT
check_eq() {
    if [ "$2" = "$3" ]; then
        ok "$1"
    else
        not_ok "$1" "got:  $2
want: $3"
    fi
}

# check_status NAME WANT [GOT] — WANT is a number or "nonzero"; GOT defaults
# to $RUN_RC. On failure shows the last run's stderr.
check_status() {
    e2e_got=${3:-$RUN_RC}
    case $2 in
    nonzero) [ "$e2e_got" -ne 0 ] && [ "$e2e_got" -ne 124 ] && [ "$e2e_got" -lt 128 ] ;;
    *) [ "$e2e_got" -eq "$2" ] ;;
    esac
    if [ $? -eq 0 ]; then
        ok "$1"
    else
        e2e_why="exit status $e2e_got, wanted $2"
        [ "$e2e_got" -eq 124 ] && e2e_why="$e2e_why (timed out after ${E2E_CMD_TIMEOUT}s)"
        [ "$e2e_got" -gt 128 ] && e2e_why="$e2e_why (killed by signal $((e2e_got - 128)))"
        not_ok "$1" "$e2e_why
$(e2e_show "${RUN_ERR:-/dev/null}")"
    fi
}

# py_check NAME — runs the Python code on stdin after E2E_PY_PRELUDE; passes
# when it raises nothing. Use `assert COND, "message"`.
py_check() {
    E2E_CHECKS=$((E2E_CHECKS + 1))
    e2e_py=$E2E_TMP/check$E2E_CHECKS.py
    {
        printf '%s\n' "$E2E_PY_PRELUDE"
        cat
    } >"$e2e_py"
    if e2e_out=$(python3 "$e2e_py" 2>&1); then
        ok "$1"
    else
        not_ok "$1" "$e2e_out"
    fi
}

# done_testing — prints the plan; exits 0 when nothing failed.
done_testing() {
    printf '1..%d\n' "$E2E_N"
    [ "$E2E_FAILED" -eq 0 ] && exit 0
    exit 1
}

# Helpers for py_check snippets. Environment variables are in E; the request
# log of the last fake in FAKE_LOG.
E2E_PY_PRELUDE=$(
    cat <<'PYEOF'
import json, os, re, sys, traceback
E = os.environ
def _hook(kind, value, tb):
    frames = [f for f in traceback.extract_tb(tb) if f.filename == __file__]
    where = " (check line %d: %s)" % (frames[-1].lineno - _PRELUDE_END, frames[-1].line) \
        if frames else ""
    print("%s: %s%s" % (kind.__name__, value, where))
sys.excepthook = _hook
def read(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()
def load_json(path):
    text = read(path)
    try:
        return json.loads(text)
    except ValueError as err:
        raise AssertionError("%s is not one JSON value (%s): %r" % (path, err, text[:500]))
def requests(path=None):
    path = path or E["FAKE_LOG"]
    if not os.path.exists(path):
        return []
    return [json.loads(line) for line in read(path).splitlines() if line.strip()]
def chat_requests(path=None):
    return [r for r in requests(path) if r.get("method") == "POST"
            and r.get("path", "").split("?")[0].endswith("/chat/completions")]
def header(req, name):
    for key, value in (req.get("headers") or {}).items():
        if key.lower() == name.lower():
            return value
    return None
def tool_names(req):
    return [t.get("function", {}).get("name") for t in (req.get("body") or {}).get("tools") or []]
def messages(req):
    return (req.get("body") or {}).get("messages") or []
def _numbers_in_text(text):
    for m in re.finditer(r"-?\d[\d,]*(?:\.\d+)?", text):
        try:
            yield float(m.group(0).replace(",", ""))
        except ValueError:
            pass
def has_number(obj, value, tol=0.006):
    """True if value appears in obj: as a JSON number, inside a string that
    holds JSON, or written in text (commas allowed)."""
    if isinstance(obj, bool):
        return False
    if isinstance(obj, (int, float)):
        return abs(obj - value) < tol
    if isinstance(obj, str):
        try:
            inner = json.loads(obj)
            if not isinstance(inner, str) and has_number(inner, value, tol):
                return True
        except ValueError:
            pass
        return any(abs(n - value) < tol for n in _numbers_in_text(obj))
    if isinstance(obj, dict):
        return any(has_number(v, value, tol) for v in obj.values())
    if isinstance(obj, list):
        return any(has_number(v, value, tol) for v in obj)
    return False
def as_json(value):
    """value parsed if it is a string holding JSON, else value."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
def sse_events(path):
    """The data payloads of an SSE body, in order."""
    events, data = [], []
    for line in re.split(r"\r\n|\r|\n", read(path)):
        if line == "":
            if data:
                events.append("\n".join(data))
            data = []
        elif line.startswith("data:"):
            data.append(line[5:][1:] if line[5:6] == " " else line[5:])
    if data:
        events.append("\n".join(data))
    return events
_PRELUDE_END = sys._getframe().f_lineno
PYEOF
)
