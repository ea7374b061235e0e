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
FAKE_PID=
cleanup() {
    if [ -n "$FAKE_PID" ]; then
        kill "$FAKE_PID" 2>/dev/null || true
        wait "$FAKE_PID" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

N=${BENCH_CONVERSATIONS:-300}
KEY=sk-bench-0123456789abcdef
python3 "$ROOT/tests/fakes/fake_openai.py" --script "$ROOT/bench/scenario_pricing.json" \
    --repeat --api-key "$KEY" --port-file "$TMP/port" --parent-pid $$ &
FAKE_PID=$!
i=0
while [ ! -s "$TMP/port" ]; do
    i=$((i + 1))
    [ $i -gt 100 ] && { echo "bench: the fake server did not start" >&2; exit 1; }
    sleep 0.1
done
export OPENAI_BASE_URL="http://127.0.0.1:$(cat "$TMP/port")/v1" OPENAI_API_KEY=$KEY
export HARDE_DATA_DIR="$TMP/data"

echo "# agent runtime: $N conversations (Triage -> Pricing -> quote -> answer, 3 model calls)"
"$BUILD/bench/bench_agent" "$N"
echo "# start-up: exec of harde ask to its first model request"
"$BUILD/bench/bench_startup" "$BUILD/harde" 30
if [ -x "$BUILD/bench/bench_intent" ]; then
    echo "# local intent classifier"
    "$BUILD/bench/bench_intent" "$ROOT/data/intents"
fi
for b in "$BUILD"/bench/bench_*; do
    case $(basename "$b") in
    bench_agent | bench_startup | bench_intent | *.d) ;;
    *) echo "# $(basename "$b")"; "$b" "$ROOT" ;;
    esac
done
