#!/bin/sh
# test_offline.sh — Hard-E with no API key: the local model, the playbook, the
# two flows, multi-turn pricing, the router's held-out accuracy, and chat.
# No server is needed: everything runs on the embedded model.
. "$(dirname "$0")/lib.sh"

fresh() {
    HARDE_DATA_DIR=$E2E_TMP/data-$1
    mkdir -p "$HARDE_DATA_DIR"
    export HARDE_DATA_DIR
}

t_sales_question() {
    fresh coach
    run_harde coach ask "what do I say when they want to think about it?"
    check_status "sales question offline: exit 0" 0
    check_contains "sales question offline: answered from the playbook with sources" "$RUN_OUT" \
        "Sources: objection-think-about-it.md"
    run_harde coach_json ask --json "what do I say when they want to think about it?"
    py_check "sales question offline: the fast flow answered, as the Sales Coach" <<'PY'
d = load_json(E["RUN_OUT"])
assert d["flow"] == "fast", d["flow"]
assert d["path"] == ["Sales Coach"], d["path"]
assert d["backend"] == "local", d["backend"]
assert any(i.get("type") == "retrieval" for i in d["items"]), d["items"]
PY
}

t_price_complete() {
    fresh price
    run_harde price ask --json "price a 2400 sq ft hip roof, 7/12, architectural, one layer"
    check_status "pricing offline: exit 0" 0
    py_check "pricing offline: Triage → Pricing → quote with the PRICING.md figures" <<'PY'
d = load_json(E["RUN_OUT"])
assert d["flow"] == "agent", d["flow"]
assert d["path"] == ["Triage", "Pricing"], d["path"]
calls = [i for i in d["items"] if i["type"] == "tool_call" and i["name"] == "quote"]
assert len(calls) == 1, calls
args = json.loads(calls[0]["arguments"])
assert args["roof"] == {"area_sqft": 2400, "style": "hip", "pitch_rise": 7, "layers": 1,
                        "material": "architectural"}, args
res = [i for i in d["items"] if i["type"] == "tool_result" and i["name"] == "quote"][0]["result"]
lines = {l["id"]: l["amount"] for l in res["lines"]}
assert lines["roof"] == 17499.17 and lines["tearoff"] == 2075.0, lines
assert res["total"] == 21368.67, res["total"]
assert "21,368.67" in d["final"], d["final"]
PY
}

t_price_multi_turn() {
    fresh multi
    run_harde m1 ask --session roof1 --json "price a hip roof with architectural shingles, 7/12"
    py_check "missing area: one question that asks for it (and only it)" <<'PY'
d = load_json(E["RUN_OUT"])
assert d["status"] == 0, d
assert "roof area" in d["final"] and d["final"].rstrip().endswith("?"), d["final"]
assert "pitch" not in d["final"] and "material" not in d["final"], d["final"]
assert not [i for i in d["items"] if i["type"] == "tool_call" and i["name"] == "quote"], d["items"]
PY
    run_harde m2 ask --session roof1 --json "2400"
    py_check "the next turn completes the quote" <<'PY'
d = load_json(E["RUN_OUT"])
assert d["status"] == 0, d
res = [i for i in d["items"] if i["type"] == "tool_result" and i["name"] == "quote"]
assert res and res[0]["result"]["total"] == 21368.67, res
assert "21,368.67" in d["final"], d["final"]
PY
    run_harde m3 ask --session roof1 --json "actually make it designer"
    py_check "a correction in a later turn re-prices with the new material" <<'PY'
d = load_json(E["RUN_OUT"])
res = [i for i in d["items"] if i["type"] == "tool_result" and i["name"] == "quote"]
assert res, d["items"]
assert res[0]["result"]["request"]["roof"]["material"] == "designer", res[0]["result"]["request"]
assert res[0]["result"]["request"]["roof"]["area_sqft"] == 2400, res[0]["result"]["request"]
PY
}

t_small_talk() {
    fresh talk
    run_harde hi ask "hi"
    check_status "greeting: exit 0" 0
    check_match "greeting: says what Hard-E can help with" "$RUN_OUT" "help with"
    run_harde gib ask "asdkjh qwe zzkx"
    check_match "gibberish: a clarifying question, not a guess" "$RUN_OUT" "\?"
    run_harde pay ask "what's the monthly payment on 23k"
    check_contains "monthly payment on an amount: both plans" "$RUN_OUT" "1,916.67"
}

t_routing_eval() {
    fresh eval
    run_harde eval eval routing --min 0.90
    check_status "router held-out accuracy is at least 90 %" 0
    check_match "eval prints a confusion table" "$RUN_OUT" "confusion"
}

t_kb_cli() {
    fresh kb
    run_harde kbs kb stats
    check_match "kb stats: the shipped playbook is indexed" "$RUN_OUT" "passages from [0-9]+ files"
    run_harde kbq kb search "insurance deductible"
    check_contains "kb search: the right document first" "$RUN_OUT" "storm-damage-insurance.md"
    mkdir -p "$E2E_TMP/bad-kb"
    printf '# Bad\n\n\377\376 not utf-8\n' >"$E2E_TMP/bad-kb/bad.md"
    run_harde kbi kb import "$E2E_TMP/bad-kb"
    check_status "kb import of a non-UTF-8 file fails" nonzero
    check_contains "kb import names the bad file" "$RUN_ERR" "bad.md"
}

t_chat() {
    fresh chat
    out=$E2E_TMP/chat.out
    err=$E2E_TMP/chat.err
    printf 'hi\nhow much for a gable roof, 2000 sq ft, 5/12, 3-tab\n/quit\n' |
        timeout 60 "$HARDE" chat >"$out" 2>"$err"
    check_status "chat: exits 0 at /quit" 0 $?
    check_match "chat: greets" "$out" "help with"
    check_contains "chat: prices the roof (2000 sq ft gable 3-tab: 2,640 sq ft ... )" "$out" "Total"
    check_match "chat: names the local model and the session" "$err" "local model.*session"
}

e2e_test "offline: a sales question from the playbook (fast flow)" t_sales_question
e2e_test "offline: a complete pricing request" t_price_complete
e2e_test "offline: a pricing request over several turns" t_price_multi_turn
e2e_test "offline: greetings, gibberish and payments" t_small_talk
e2e_test "offline: router accuracy on the held-out file" t_routing_eval
e2e_test "offline: kb commands" t_kb_cli
e2e_test "offline: harde chat" t_chat
done_testing
