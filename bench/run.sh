#!/bin/sh
# bench/run.sh — runs every benchmark and prints its figures (`make bench`).
#
# Starts the fake OpenAI server (tests/fakes/fake_openai.py) on a free
# loopback port with the pricing scenario on repeat, runs the benchmark
# programs against it, and stops the fake by its PID. Figures are printed as
# `name value` lines; compare them within one run (the machines are shared).
set -eu
BUILD=${HARDE_BUILD:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/harde-bench.XXXXXX")
FAKE_PIDS=
cleanup() {
    for pid in $FAKE_PIDS; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

KEY=sk-bench-0123456789abcdef
# start_fake NAME SCRIPT — starts a fake OpenAI server with SCRIPT on repeat;
# sets URL to its base URL.
start_fake() {
    python3 "$ROOT/tests/fakes/fake_openai.py" --script "$ROOT/bench/$2" --repeat \
        --api-key "$KEY" --port-file "$TMP/$1.port" --parent-pid $$ &
    FAKE_PIDS="$FAKE_PIDS $!"
    i=0
    while [ ! -s "$TMP/$1.port" ]; do
        i=$((i + 1))
        [ $i -gt 100 ] && { echo "bench: the fake server did not start" >&2; exit 1; }
        sleep 0.1
    done
    URL="http://127.0.0.1:$(cat "$TMP/$1.port")/v1"
}

N=${BENCH_CONVERSATIONS:-300}
export HARDE_DATA_DIR="$TMP/data"
start_fake pricing scenario_pricing.json
echo "# agent runtime: $N conversations (Triage -> Pricing -> quote -> answer, 3 model calls)"
OPENAI_BASE_URL=$URL OPENAI_API_KEY=$KEY "$BUILD/bench/bench_agent" "$N"
echo "# start-up: exec of harde ask to its first model request"
"$BUILD/bench/bench_startup" "$BUILD/harde" 30

echo "# the two flows: time to first token for a sales question"
echo "# (fake server: every model reply delayed 20 ms; local: the embedded model)"
start_fake fast scenario_coach_fast.json
OPENAI_BASE_URL=$URL OPENAI_API_KEY=$KEY "$BUILD/bench/bench_flows" 50 fast
start_fake agent scenario_coach_agent.json
OPENAI_BASE_URL=$URL OPENAI_API_KEY=$KEY "$BUILD/bench/bench_flows" 50 agent
"$BUILD/bench/bench_flows" 200 fast 2>/dev/null
"$BUILD/bench/bench_flows" 200 agent 2>/dev/null
"$BUILD/bench/bench_flows" 100000 router 2>/dev/null

if [ -x "$BUILD/bench/bench_intent" ]; then
    echo "# local intent classifier"
    "$BUILD/bench/bench_intent" "$ROOT/data/intents"
fi
for b in "$BUILD"/bench/bench_*; do
    case $(basename "$b") in
    bench_agent | bench_startup | bench_intent | bench_flows | *.d) ;;
    *) echo "# $(basename "$b")"; "$b" "$ROOT" ;;
    esac
done
