#!/bin/sh
# test_workflows_cloud.sh — the CRM workflow with a cloud model (the fake
# OpenAI server plays the model): the model proposes, the code decides. The
# model calls new_client with the details, then `confirm` — and the client is
# created only when the rep's own words said yes; when the rep hedged, the same
# confirm call writes nothing.
. "$(dirname "$0")/lib.sh"

ARGS='{"first_name":"Maria","last_name":"Lopez","phone":"614-555-0123","street":"88 Oak St","city":"Columbus","state":"OH","zip":"43215","trade":"roofing"}'

write_script() {
    cat >"$E2E_TMP/$1.json" <<JSON
[
  {"tool_calls": [{"name": "transfer_to_crm", "arguments": {}}]},
  {"tool_calls": [{"name": "new_client", "arguments": $ARGS}]},
  {"content": "Here is the new client: Maria Lopez, +16145550123, 88 Oak St, Columbus OH 43215, roofing. Shall I create her in the CRM? (yes/no)"},
  {"tool_calls": [{"name": "transfer_to_crm", "arguments": {}}]},
  {"tool_calls": [{"name": "confirm", "arguments": {}}]},
  {"content": "Done."}
]
JSON
}

lopez_count() {
    "$HARDE" crm search Lopez --json 2>/dev/null |
        python3 -c 'import json,sys; d=json.load(sys.stdin); print(sum(1 for h in d.get("results", []) if (h.get("customer", h)).get("last_name") == "Lopez"))'
}

run_conversation() { # NAME ANSWER
    HARDE_DATA_DIR=$E2E_TMP/data-$1
    mkdir -p "$HARDE_DATA_DIR"
    export HARDE_DATA_DIR
    write_script "$1"
    start_fake "$E2E_TMP/$1.json" || return 1
    OPENAI_API_KEY=$FAKE_API_KEY run_harde "$1-1" ask --json --session s \
        "new client Maria Lopez 614-555-0123 88 Oak St Columbus OH 43215 roofing"
    OPENAI_API_KEY=$FAKE_API_KEY run_harde "$1-2" ask --json --session s "$2"
    stop_fake
}

t_yes() {
    run_conversation yes "yes, create her"
    check_status "cloud model, rep says yes: the turn succeeds" 0
    check_eq "cloud model, rep says yes: the CRM holds exactly that client" "$(lopez_count)" 1
    py_check "the confirm tool's result says it was created" <<'PY'
d = load_json(E["RUN_OUT"])
res = [i for i in d["items"] if i["type"] == "tool_result" and i["name"] == "confirm"]
assert res and "customer_id" in res[0]["result"], res
PY
}

t_hedge() {
    run_conversation hedge "hmm, maybe"
    check_status "cloud model, rep hedges: the turn succeeds" 0
    check_eq "cloud model, rep hedges: the model's confirm call wrote nothing" "$(lopez_count)" 0
    py_check "the confirm tool asked for a clear yes or no" <<'PY'
d = load_json(E["RUN_OUT"])
res = [i for i in d["items"] if i["type"] == "tool_result" and i["name"] == "confirm"]
assert res and "clear yes or no" in json.dumps(res[0]["result"]), res
PY
}

e2e_test "a cloud model's new client is created after the rep's yes" t_yes
e2e_test "a cloud model cannot write on an ambiguous answer" t_hedge
done_testing
