#!/bin/sh
# test_ask.sh — end-to-end tests of `harde ask` against the scripted OpenAI fake.
#
# Runs the real binary ($HARDE_BUILD/harde) with OPENAI_BASE_URL pointing at
# tests/fakes/fake_openai.py and checks what a rep sees (stdout, stderr, exit
# status, --json output) and what the binary sent (the fake's request log):
# the Triage → Pricing → quote flow, retries, error reporting, invalid tool
# JSON, byte-split streams, and that the API key never leaks. Written to the
# CLI contract (see the report that introduced it); every test is reported as
# skipped when the binary does not exist yet.

. "$(dirname "$0")/lib.sh"

export HARDE_HTTP_RETRY_BASE_MS=10

ASK='Price a 2400 sq ft hip roof, 7/12 pitch, architectural shingles, 1 layer to tear off, plus 160 ft of seamless gutters.'
QUOTE_ARGS='{"roof":{"area_sqft":2400,"style":"hip","pitch_rise":7,"layers":1,"material":"architectural"},"items":[{"id":"gutters","qty":160}],"permit":true}'
FINAL='Your quote is $23,513.67 with tax — architectural shingles on a 2,400 sq ft hip roof plus 160 ft of gutters.'
TOTAL=23513.67

# Script entries for the happy path: Triage hands off, Pricing quotes, Pricing answers.
T='{"tool_calls":[{"id":"call_transfer_1","name":"transfer_to_pricing","arguments":{}}],"usage":{"prompt_tokens":100,"completion_tokens":10}}'
Q='{"tool_calls":[{"id":"call_quote_1","name":"quote","arguments":'$QUOTE_ARGS'}],"usage":{"prompt_tokens":200,"completion_tokens":20}}'
F='{"content":"'$FINAL'","usage":{"prompt_tokens":300,"completion_tokens":30}}'
export ASK FINAL TOTAL

# write_script NAME ENTRY... — writes a JSON list of the entries to
# $E2E_TMP/NAME.json and sets SCRIPT to its path.
write_script() {
    SCRIPT=$E2E_TMP/$1.json
    shift
    ws_sep=
    {
        printf '['
        for ws_entry in "$@"; do
            printf '%s%s\n' "$ws_sep" "$ws_entry"
            ws_sep=,
        done
        printf ']\n'
    } >"$SCRIPT"
}

# with KEY_VALUE ENTRY — ENTRY with '"key":value' added, e.g. with '"split_bytes":1' "$F".
with() {
    printf '{%s,%s' "$1" "${2#\{}"
}

# start SCRIPT [args] — start_fake, reporting a failure to start as a failed test.
start() {
    start_fake "$@" || {
        not_ok "fake_openai starts"
        return 1
    }
}

# Each test gets its own data directory and a clean model environment.
fresh() {
    HARDE_DATA_DIR=$E2E_TMP/data-$1
    mkdir -p "$HARDE_DATA_DIR"
    export HARDE_DATA_DIR
    unset HARDE_MODEL_TRIAGE HARDE_MODEL_SPECIALIST HARDE_LOG_FILE HARDE_LOG_LEVEL OPENAI_API_KEY \
        OPENAI_BASE_URL HARDE_OPENAI_MAX_RETRIES
}

# ask NAME ARGS... — `harde ask ARGS...` with the fake's key.
ask() {
    ask_name=$1
    shift
    OPENAI_API_KEY=$FAKE_API_KEY
    export OPENAI_API_KEY
    run_harde "$ask_name" ask "$@"
}

# The stderr of a failed run must be a message, not a crash.
check_clean_error() {
    if [ ! -s "$RUN_ERR" ]; then
        not_ok "$1" "stderr is empty"
    elif grep -qE 'Sanitizer|runtime error:|Segmentation fault|Aborted|core dumped' "$RUN_ERR"; then
        not_ok "$1" "$(e2e_show "$RUN_ERR")"
    else
        ok "$1"
    fi
}

# ---- the happy path ---------------------------------------------------------

t_pricing_streamed() {
    fresh streamed
    write_script flow "$T" "$Q" "$F"
    start "$SCRIPT" || return
    ask streamed "$ASK"
    check_status "ask (streamed): Triage → transfer_to_pricing → quote → answer exits 0" 0
    check_contains "ask (streamed): the final answer is on stdout" "$RUN_OUT" "$FINAL"
    py_check "ask (streamed): the final answer is printed once" <<'EOF'
n = read(E["RUN_OUT"]).count(E["FINAL"])
assert n == 1, "printed %d times" % n
EOF
    py_check "ask (streamed): three requests, each with the Bearer key" <<'EOF'
reqs = chat_requests()
assert len(reqs) == 3, "%d requests: %s" % (len(reqs), [r.get("error") for r in reqs])
assert all(header(r, "Authorization") == "Bearer <ok>" for r in reqs), [header(r, "Authorization") for r in reqs]
assert all(r["status"] == 200 for r in reqs), [r.get("error") for r in reqs]
EOF
    py_check "ask (streamed): gpt-4.1-mini for Triage, gpt-4.1 for Pricing" <<'EOF'
models = [r["body"]["model"] for r in chat_requests()]
assert models == ["gpt-4.1-mini", "gpt-4.1", "gpt-4.1"], models
EOF
    py_check "ask (streamed): Triage offers the transfers, Pricing offers quote" <<'EOF'
r1, r2, r3 = chat_requests()
assert {"transfer_to_sales_coach", "transfer_to_pricing"} <= set(tool_names(r1)), tool_names(r1)
assert "quote" in tool_names(r2) and "quote" in tool_names(r3), (tool_names(r2), tool_names(r3))
users = [m for m in messages(r1) if m["role"] == "user"]
assert users and "2400 sq ft" in str(users[-1]["content"]), messages(r1)
EOF
    py_check "ask (streamed): the quote result answers call_quote_1 with total 23513.67" <<'EOF'
msgs = messages(chat_requests()[2])
calls = [c for m in msgs if m["role"] == "assistant" for c in m.get("tool_calls") or []]
assert any(c["id"] == "call_quote_1" and c["function"]["name"] == "quote" for c in calls), calls
results = [m for m in msgs if m["role"] == "tool" and m["tool_call_id"] == "call_quote_1"]
assert len(results) == 1, msgs
assert has_number(results[0]["content"], float(E["TOTAL"])), results[0]
assert any(m["role"] == "tool" and m["tool_call_id"] == "call_transfer_1" for m in msgs), msgs
EOF
    py_check "ask (streamed): requests are streamed by default" <<'EOF'
assert any(r["body"].get("stream") is True for r in chat_requests()), [r["body"].get("stream") for r in chat_requests()]
EOF
    stop_fake
}

t_pricing_json() {
    fresh json
    write_script flow "$T" "$Q" "$F"
    start "$SCRIPT" || return
    ask json --json "$ASK"
    check_status "ask --json: exits 0" 0
    cp "$RUN_OUT" "$E2E_TMP/json-reference.stdout"
    py_check "ask --json: stdout is one JSON object with final, path, items, usage, spans, flow" <<'EOF'
out = load_json(E["RUN_OUT"])
assert isinstance(out, dict), out
missing = [k for k in ("final", "path", "items", "usage", "spans", "flow") if k not in out]
assert not missing, "missing %s in %s" % (missing, sorted(out))
assert out["final"].strip() == E["FINAL"], out["final"]
assert out["path"] == ["Triage", "Pricing"], out["path"]
EOF
    py_check "ask --json: items hold the quote call and its result with total 23513.67" <<'EOF'
items = load_json(E["RUN_OUT"])["items"]
calls = [i for i in items if i.get("type") == "tool_call" and i.get("name") == "quote"]
assert len(calls) == 1, items
args = as_json(calls[0]["arguments"])
assert args["roof"]["area_sqft"] == 2400 and args["items"] == [{"id": "gutters", "qty": 160}], args
results = [i for i in items if i.get("type") == "tool_result" and i.get("name") == "quote"]
assert len(results) == 1 and "result" in results[0], results
result = as_json(results[0]["result"])
assert abs(float(result["total"]) - float(E["TOTAL"])) < 0.006, result
EOF
    py_check "ask --json: usage per model adds up the scripted usage" <<'EOF'
usage = {u["model"]: u for u in load_json(E["RUN_OUT"])["usage"]}
assert sorted(usage) == ["gpt-4.1", "gpt-4.1-mini"], usage
mini, big = usage["gpt-4.1-mini"], usage["gpt-4.1"]
got = [(u["prompt_tokens"], u["completion_tokens"], u["total_tokens"], u["requests"]) for u in (mini, big)]
assert got == [(100, 10, 110, 1), (500, 50, 550, 2)], got
EOF
    stop_fake
}

t_model_overrides() {
    fresh models
    write_script flow "$T" "$Q" "$F"
    start "$SCRIPT" --models gpt-4.1-nano,gpt-4o || return
    HARDE_MODEL_TRIAGE=gpt-4.1-nano HARDE_MODEL_SPECIALIST=gpt-4o
    export HARDE_MODEL_TRIAGE HARDE_MODEL_SPECIALIST
    ask models "$ASK"
    check_status "HARDE_MODEL_TRIAGE / HARDE_MODEL_SPECIALIST: exits 0" 0
    py_check "HARDE_MODEL_TRIAGE / HARDE_MODEL_SPECIALIST choose the models sent" <<'EOF'
models = [r["body"]["model"] for r in chat_requests()]
assert models == ["gpt-4.1-nano", "gpt-4o", "gpt-4o"], models
EOF
    stop_fake
}

t_session() {
    fresh session
    write_script session1 "$T" "$Q" "$F"
    start "$SCRIPT" || return
    ask session1 --session e2e-s1 "$ASK"
    check_status "ask --session: first turn exits 0" 0
    stop_fake
    write_script session2 '{"content":"Designer shingles would add about $5,500."}'
    start "$SCRIPT" || return
    ask session2 --session e2e-s1 "And with designer shingles?"
    check_status "ask --session: second turn exits 0" 0
    py_check "ask --session: the second turn sends the first turn's conversation" <<'EOF'
msgs = messages(chat_requests()[0])
text = json.dumps(msgs)
assert "2400 sq ft" in text, "first question missing: %s" % text[:800]
assert "designer shingles?" in text, "new question missing"
assert any(m["role"] == "assistant" and E["FINAL"] in str(m.get("content")) for m in msgs), \
    "first answer missing: %s" % text[:800]
EOF
    stop_fake
}

# ---- retries ------------------------------------------------------------------

t_retry_after() {
    fresh retry429
    write_script retry429 '{"status":429,"headers":{"Retry-After":"1"}}' "$T" "$Q" "$F"
    start "$SCRIPT" || return
    ask retry429 "$ASK"
    check_status "429 with Retry-After, then success: exits 0" 0
    check_contains "429 with Retry-After, then success: the answer is printed" "$RUN_OUT" "$FINAL"
    py_check "429 with Retry-After: the same request is retried after >= 1 s" <<'EOF'
reqs = chat_requests()
assert len(reqs) == 4, len(reqs)
assert reqs[0]["status"] == 429 and reqs[1]["status"] == 200
assert reqs[0]["body"] == reqs[1]["body"], "the retry sent a different body"
gap = reqs[1]["ts"] - reqs[0]["ts"]
assert gap >= 0.95, "retried after %.3f s, Retry-After said 1 s" % gap
EOF
    stop_fake
}

# [openai] max_retries (HARDE_OPENAI_MAX_RETRIES) is 2 by default, as in
# OpenAI's SDK; these two tests set it to 3.
t_retry_500_recovers() {
    fresh retry500
    HARDE_OPENAI_MAX_RETRIES=3
    export HARDE_OPENAI_MAX_RETRIES
    write_script retry500 '{"status":500}' '{"status":500}' '{"status":500}' "$T" "$Q" "$F"
    start "$SCRIPT" || return
    ask retry500 "$ASK"
    check_status "500 three times, then success (HARDE_OPENAI_MAX_RETRIES=3): exits 0" 0
    check_contains "500 three times, then success: the answer is printed" "$RUN_OUT" "$FINAL"
    py_check "500 three times, then success: 6 requests in all" <<'EOF'
assert [r["status"] for r in chat_requests()] == [500, 500, 500, 200, 200, 200], [r["status"] for r in chat_requests()]
EOF
    stop_fake
}

t_retry_500_gives_up() {
    fresh giveup
    HARDE_OPENAI_MAX_RETRIES=3
    export HARDE_OPENAI_MAX_RETRIES
    set --
    i=0
    while [ $i -lt 20 ]; do
        set -- "$@" '{"status":500}'
        i=$((i + 1))
    done
    write_script giveup "$@"
    start "$SCRIPT" || return
    ask giveup "$ASK"
    check_status "500 more times than the retries: exits non-zero" nonzero
    check_clean_error "500 more times than the retries: a clear message, no crash"
    check_match "500 more times than the retries: the message names the server error" "$RUN_ERR" \
        '500|server'
    check_not_contains "500 more times than the retries: no answer on stdout" "$RUN_OUT" "$FINAL"
    py_check "500 more times than the retries: 1 + HARDE_OPENAI_MAX_RETRIES attempts" <<'EOF'
n = len(chat_requests())
assert n == 4, "%d requests" % n
EOF
    stop_fake
}

# ---- errors -------------------------------------------------------------------

t_auth() {
    fresh auth
    write_script auth "$T" "$Q" "$F"
    start "$SCRIPT" || return
    OPENAI_API_KEY=sk-test-rejected-9d8c7b6a5f4e3d2c1b0a
    export OPENAI_API_KEY
    run_harde auth ask "$ASK"
    check_status "401: exits non-zero" nonzero
    check_clean_error "401: a clear message, no crash"
    check_match "401: the message mentions the API key" "$RUN_ERR" 'API key|OPENAI_API_KEY'
    check_not_contains "401: the rejected key is not printed" "$RUN_ERR" "$OPENAI_API_KEY"
    py_check "401: not retried" <<'EOF'
reqs = chat_requests()
assert len(reqs) == 1 and reqs[0]["status"] == 401, [r["status"] for r in reqs]
EOF
    stop_fake
}

t_unknown_model() {
    fresh badmodel
    write_script badmodel "$T" "$Q" "$F"
    start "$SCRIPT" || return
    HARDE_MODEL_TRIAGE=gpt-4.1-nonexistent
    export HARDE_MODEL_TRIAGE
    ask badmodel "$ASK"
    check_status "unknown model: exits non-zero" nonzero
    check_clean_error "unknown model: a clear message, no crash"
    check_contains "unknown model: the message names the model" "$RUN_ERR" gpt-4.1-nonexistent
    py_check "unknown model: not retried" <<'EOF'
assert [r["status"] for r in chat_requests()] == [404], [r["status"] for r in chat_requests()]
EOF
    stop_fake
}

t_garbage() {
    fresh garbage
    write_script garbage '{"garbage":"not json"}' '{"garbage":"not json"}' '{"garbage":"not json"}'
    start "$SCRIPT" || return
    ask garbage "$ASK"
    check_status "garbage response: exits non-zero" nonzero
    check_clean_error "garbage response: a clear message, no crash"
    stop_fake
}

t_timeout() {
    fresh timeout
    write_script timeout '{"hang":true}'
    start "$SCRIPT" || return
    started=$(date +%s)
    HARDE_OPENAI_TIMEOUT_S=1 HARDE_OPENAI_MAX_RETRIES=0 ask timeout "$ASK"
    took=$(($(date +%s) - started))
    check_status "hung server: exits non-zero" nonzero
    check_match "hung server: says the model did not answer in time" "$RUN_ERR" \
        "did not answer within 1 s"
    if [ "$took" -le 10 ]; then ok "hung server: gives up after the timeout (${took}s)"; else
        not_ok "hung server: gives up after the timeout" "took ${took}s"; fi
    stop_fake
}

t_truncated() {
    fresh truncated
    write_script truncated "$T" "$Q" "$(with '"truncate_after_chunks":4' "$F")"
    start "$SCRIPT" || return
    ask truncated "$ASK"
    check_status "truncated stream: exits non-zero" nonzero
    check_clean_error "truncated stream: a clear message, no crash"
    check_match "truncated stream: the message says the answer was cut off" "$RUN_ERR" \
        'cut|short|incomplete|truncat|interrupt|closed|ended|partial|stream|connection|response'
    stop_fake
}

t_invalid_tool_json() {
    fresh badargs
    write_script badargs "$T" \
        '{"tool_calls":[{"id":"call_bad_1","name":"quote","arguments":{"roof":{"area_sqft":2400}}}],"invalid_tool_json":true}' \
        "$(printf '%s' "$Q" | sed 's/call_quote_1/call_quote_2/')" "$F"
    start "$SCRIPT" || return
    ask badargs "$ASK"
    check_status "invalid tool JSON: the run recovers and exits 0" 0
    check_contains "invalid tool JSON: the final answer is printed" "$RUN_OUT" "$FINAL"
    py_check "invalid tool JSON: a tool error goes back to the model for call_bad_1" <<'EOF'
reqs = chat_requests()
assert len(reqs) == 4, [r.get("error") for r in reqs]
msgs = messages(reqs[2])
errs = [m for m in msgs if m["role"] == "tool" and m["tool_call_id"] == "call_bad_1"]
assert len(errs) == 1, msgs
content = str(errs[0]["content"])
assert re.search(r"(?i)json|invalid|error|parse", content), content
assert not has_number(content, float(E["TOTAL"])), "a quote was computed from bad arguments"
EOF
    py_check "invalid tool JSON: the corrected call is answered with the quote" <<'EOF'
msgs = messages(chat_requests()[3])
ok = [m for m in msgs if m["role"] == "tool" and m["tool_call_id"] == "call_quote_2"]
assert len(ok) == 1 and has_number(ok[0]["content"], float(E["TOTAL"])), msgs
EOF
    stop_fake
}

t_split_stream() {
    fresh split
    S='"split_bytes":1'
    write_script split "$(with "$S" "$T")" "$(with "$S" "$Q")" "$(with "$S" "$F")"
    start "$SCRIPT" || return
    ask split_json --json "$ASK"
    check_status "stream split into 1-byte pieces (--json): exits 0" 0
    py_check "stream split into 1-byte pieces: the identical final text" <<EOF
got = load_json(E["RUN_OUT"])["final"]
assert got.strip() == E["FINAL"], repr(got)
ref = "$E2E_TMP/json-reference.stdout"
if os.path.exists(ref):
    assert got == load_json(ref)["final"], "differs from the unsplit run"
EOF
    stop_fake
    start "$SCRIPT" || return
    ask split_stream "$ASK"
    check_status "stream split into 1-byte pieces (streamed): exits 0" 0
    check_contains "stream split into 1-byte pieces (streamed): the final text on stdout" \
        "$RUN_OUT" "$FINAL"
    stop_fake
}

# ---- secrets ------------------------------------------------------------------

t_key_not_leaked() {
    fresh secret
    write_script secret "$T" "$Q" "$F"
    start "$SCRIPT" || return
    HARDE_LOG_LEVEL=debug HARDE_LOG_FILE=$E2E_TMP/debug.log
    export HARDE_LOG_LEVEL HARDE_LOG_FILE
    ask secret "$ASK"
    check_status "debug logging run: exits 0" 0
    check "debug logging run: the log file was written" test -s "$HARDE_LOG_FILE"
    check_not_contains "the API key is not on stdout" "$RUN_OUT" "$FAKE_API_KEY"
    check_not_contains "the API key is not on stderr" "$RUN_ERR" "$FAKE_API_KEY"
    check_not_contains "the API key is not in the debug log" "$HARDE_LOG_FILE" "$FAKE_API_KEY"
    if grep -rqaF -- "$FAKE_API_KEY" "$HARDE_DATA_DIR" 2>/dev/null; then
        not_ok "the API key is not stored in the data directory" \
            "$(grep -rlaF -- "$FAKE_API_KEY" "$HARDE_DATA_DIR")"
    else
        ok "the API key is not stored in the data directory"
    fi
    stop_fake

    write_script secret401 "$T"
    start "$SCRIPT" || return
    HARDE_LOG_FILE=$E2E_TMP/debug401.log
    BAD_KEY=sk-test-leakcheck-0f1e2d3c4b5a69788796
    OPENAI_API_KEY=$BAD_KEY
    export HARDE_LOG_FILE OPENAI_API_KEY
    run_harde secret401 ask "$ASK"
    check_status "rejected key at debug level: exits non-zero" nonzero
    check_not_contains "a rejected key is not on stdout" "$RUN_OUT" "$BAD_KEY"
    check_not_contains "a rejected key is not on stderr" "$RUN_ERR" "$BAD_KEY"
    check_not_contains "a rejected key is not in the debug log" "$HARDE_LOG_FILE" "$BAD_KEY"
    stop_fake
}

# ---- no model at all (this expectation may change when the local model lands) ---

t_no_model_configured() {
    fresh nomodel
    run_harde nomodel ask "$ASK"
    check_status "no OPENAI_API_KEY: the local model answers, exit 0" 0
    check_match "no OPENAI_API_KEY: says the local model is used and how to use OpenAI" \
        "$RUN_ERR" 'local model.*OPENAI_API_KEY'
    run_harde nomodel ask "$ASK"
    check_status "no OPENAI_API_KEY, second run: exit 0" 0
    if grep -q 'OPENAI_API_KEY' "$RUN_ERR"; then
        not_ok "no OPENAI_API_KEY: the notice is given only once" "$(cat "$RUN_ERR")"
    else
        ok "no OPENAI_API_KEY: the notice is given only once"
    fi
}

e2e_test "ask: Triage → Pricing → quote, streamed" t_pricing_streamed
e2e_test "ask --json: Triage → Pricing → quote" t_pricing_json
e2e_test "ask: model overrides" t_model_overrides
e2e_test "ask --session keeps the conversation" t_session
e2e_test "ask: 429 with Retry-After is retried" t_retry_after
e2e_test "ask: 500 three times then success" t_retry_500_recovers
e2e_test "ask: 500 more times than the retries" t_retry_500_gives_up
e2e_test "ask: 401 names the API key" t_auth
e2e_test "ask: unknown model is named" t_unknown_model
e2e_test "ask: garbage response is a clear error" t_garbage
e2e_test "ask: truncated stream is a clear error" t_truncated
e2e_test "ask: a hung server times out with a clear error" t_timeout
e2e_test "ask: invalid tool JSON goes back to the model" t_invalid_tool_json
e2e_test "ask: 1-byte split stream gives the same text" t_split_stream
e2e_test "ask: the API key never leaks" t_key_not_leaked
e2e_test "ask without OPENAI_API_KEY uses the local model and says so once" t_no_model_configured

done_testing
