#!/bin/sh
# test_workflows.sh — conversations that remember (issue 4), offline: a new
# client over five turns with a correction and a confirmation, the same with
# the process killed between turns, an ambiguous answer that writes nothing,
# a stage move, and the script workflow (draft, revise, save).
. "$(dirname "$0")/lib.sh"

fresh() {
    HARDE_DATA_DIR=$E2E_TMP/data-$1
    mkdir -p "$HARDE_DATA_DIR"
    export HARDE_DATA_DIR
}

# turn NAME SESSION TEXT — one `harde ask --json` turn.
turn() {
    run_harde "$1" ask --json --session "$2" "$3"
}

new_client_conversation() {
    turn "$1-1" nc "new client Maria Lopez"
    turn "$1-2" nc "614-555-0123, 88 Oak St"
    turn "$1-3" nc "Columbus OH 43215, roofing"
    turn "$1-4" nc "actually her phone is 614-555-0199"
    turn "$1-5" nc "yes"
}

check_client_created() {
    run_harde "$1-search" crm search Lopez --json
    py_check "$1: the CRM holds exactly that client, with the corrected phone" <<'PY'
d = load_json(E["RUN_OUT"])
hits = d if isinstance(d, list) else d.get("results", d.get("customers", []))
people = [h.get("customer", h) for h in hits]
lopez = [p for p in people if p.get("last_name") == "Lopez" and p.get("first_name") == "Maria"]
assert len(lopez) == 1, people
assert lopez[0]["phone"] == "+16145550199", lopez[0]
PY
}

t_new_client() {
    fresh nc
    new_client_conversation nc
    check_status "new client: the last turn succeeds" 0
    check_contains "new client: the confirmation created the client" "$RUN_OUT" "is in the CRM"
    check_client_created "new client"
    run_harde nc-state state nc --json
    py_check "new client: finishing the workflow cleared the state" <<'PY'
d = load_json(E["RUN_OUT"])
assert d["state"] is None, d
PY
}

t_new_client_killed() {
    fresh killed
    # Each turn is a new process; in addition, a turn killed mid-way (SIGKILL
    # while the model works) must leave the session as after the previous turn.
    turn k-1 nc "new client Maria Lopez"
    turn k-2 nc "614-555-0123, 88 Oak St"
    (HARDE_LOG_LEVEL=debug "$HARDE" ask --session nc "Columbus OH 43215, roofing" \
        >/dev/null 2>&1 &
     pid=$!; kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null) || true
    turn k-3 nc "Columbus OH 43215, roofing"
    turn k-4 nc "actually her phone is 614-555-0199"
    turn k-5 nc "yes"
    check_status "killed between turns: the last turn succeeds" 0
    check_client_created "killed between turns"
    run_harde k-6 ask --json --session nc "yes"
    run_harde k-search2 crm search Lopez --json
    py_check "killed between turns: a repeated yes creates nothing twice" <<'PY'
d = load_json(E["RUN_OUT"])
hits = d if isinstance(d, list) else d.get("results", d.get("customers", []))
people = [h.get("customer", h) for h in hits]
assert len([p for p in people if p.get("last_name") == "Lopez"]) == 1, people
PY
}

t_ambiguous_writes_nothing() {
    fresh amb
    turn a-1 amb "new client Maria Lopez 614-555-0123 88 Oak St Columbus OH 43215 roofing"
    check_contains "all details at once: asks to confirm" "$RUN_OUT" "(yes/no)"
    turn a-2 amb "hmm maybe"
    check_contains "ambiguous answer: asks again" "$RUN_OUT" "clear yes or no"
    run_harde a-search crm search Lopez --json
    py_check "ambiguous answer: nothing was written" <<'PY'
d = load_json(E["RUN_OUT"])
hits = d if isinstance(d, list) else d.get("results", d.get("customers", []))
assert not [h for h in hits if h.get("customer", h).get("last_name") == "Lopez"], hits
PY
    turn a-3 amb "no"
    check_contains "no: nothing written, asks what to change" "$RUN_OUT" "nothing is written"
}

t_stage_move() {
    fresh stage
    turn s-1 st "what stage is the Garcia job in?"
    check_contains "look-up: names the stage" "$RUN_OUT" "Appointment Set"
    turn s-2 st "move job 1042 to inspection"
    check_contains "stage move: asks to confirm first" "$RUN_OUT" "(yes/no)"
    run_harde s-job crm job 1042 --json
    py_check "stage move: nothing moved before the yes" <<'PY'
d = load_json(E["RUN_OUT"])
job = d.get("job", d)
assert job["stage"] == "appointment_set", job["stage"]
PY
    turn s-3 st "yes"
    run_harde s-job2 crm job 1042 --json
    py_check "stage move: moved after the yes" <<'PY'
d = load_json(E["RUN_OUT"])
job = d.get("job", d)
assert job["stage"] == "inspection", job["stage"]
PY
}

t_script() {
    fresh script
    turn sc-1 sc "write a primer script for the Garcia job"
    py_check "script: a personalised primer of 60-120 s" <<'PY'
d = load_json(E["RUN_OUT"])
r = [i for i in d["items"] if i["type"] == "tool_result" and i["name"] == "script_start"][0]["result"]
assert 60 <= r["seconds"] <= 120, r["seconds"]
assert "Rosa" in r["draft"] and "roofing" in r["draft"], r["draft"]
PY
    turn sc-2 sc "make it shorter"
    py_check "script: revised shorter" <<'PY'
d = load_json(E["RUN_OUT"])
r = [i for i in d["items"] if i["type"] == "tool_result" and i["name"] == "script_revise"][0]["result"]
assert r["seconds"] <= 80, r["seconds"]
PY
    turn sc-3 sc "mention the insurance"
    check_contains "script: mentions what was asked" "$RUN_OUT" "adjuster"
    run_harde sc-state state sc
    check_contains "script: harde state shows the draft workflow" "$RUN_OUT" "Script draft"
    turn sc-4 sc "save it"
    check_contains "script: saved" "$RUN_OUT" "Saved the script on job 1042"
    run_harde sc-job crm job 1042 --json
    py_check "script: the CRM job has the final draft as a note" <<'PY'
d = load_json(E["RUN_OUT"])
job = d.get("job", d)
notes = [n["text"] for n in job.get("notes", [])]
assert any(n.startswith("Video script") and "adjuster" in n for n in notes), notes
PY
    run_harde sc-sessions sessions
    check_contains "sessions: lists the conversation" "$RUN_OUT" "sc"
}

t_primer_chat() {
    fresh primer
    turn p-1 pr "make the primer video for the Garcia job"
    check_contains "chat: starts the primer video for the job" "$RUN_OUT" "Started the primer video"
    turn p-2 pr "make the primer video for the Garcia job"
    check_contains "chat: a second request finds the same run" "$RUN_OUT" "is run"
    turn p-3 pr "did the primer go out for job 1042?"
    check_contains "chat: says where it stands" "$RUN_OUT" "pending"
    run_harde p-runs runs --json
    py_check "chat: exactly one run for the job" <<'PY'
runs = load_json(E["RUN_OUT"])
assert len(runs) == 1 and runs[0]["job_id"] == 1042, runs
PY
}

e2e_test "a new client over five turns with a correction and a confirmation" t_new_client
e2e_test "the same conversation with the process killed between turns" t_new_client_killed
e2e_test "an ambiguous answer writes nothing" t_ambiguous_writes_nothing
e2e_test "a stage move waits for the rep's yes" t_stage_move
e2e_test "the script workflow: draft, revise, save" t_script
e2e_test "the primer video started and checked from chat" t_primer_chat
done_testing
