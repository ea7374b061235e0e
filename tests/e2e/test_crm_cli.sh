#!/bin/sh
# test_crm_cli.sh — `harde crm search | customer | job | jobs | stages`, as
# tables and as --json, against the local CRM (seeded from data/crm_seed.json
# into a fresh data directory) and against the Leap CRM client talking to
# tests/fakes/fake_leap.py on 127.0.0.1 (which checks the Bearer token, the
# field names and that GETs carry no Content-Type). Also the failures a
# script relies on: exit 1 for a missing record, 2 for usage errors, a JSON
# error object with --json, and the Leap token never printed.
. "$(dirname "$0")/lib.sh"

unset LEAP_API_TOKEN
LEAP_TOKEN=leap-e2e-token-8d2f4b61c0
SEED=$E2E_ROOT/data/crm_seed.json

fresh() {
    HARDE_DATA_DIR=$E2E_TMP/data-$1
    mkdir -p "$HARDE_DATA_DIR"
    export HARDE_DATA_DIR
}

# start_leap [fake_leap.py args...] — starts the Leap fake with the sample
# book; exports LEAP_PORT, LEAP_PID, FAKE_LOG (its request log) and
# HARDE_LEAP_BASE_URL. Returns 1 if it did not start.
start_leap() {
    E2E_FAKES=$((E2E_FAKES + 1))
    LEAP_DIR=$E2E_TMP/leap$E2E_FAKES
    mkdir -p "$LEAP_DIR"
    python3 "$FAKES_DIR/fake_leap.py" --seed "$SEED" --port-file "$LEAP_DIR/port" \
        --log "$LEAP_DIR/requests.jsonl" --token "$LEAP_TOKEN" --parent-pid $$ "$@" \
        >"$LEAP_DIR/output" 2>&1 &
    LEAP_PID=$!
    E2E_PIDS="$E2E_PIDS $LEAP_PID"
    e2e_i=0
    while [ ! -s "$LEAP_DIR/port" ]; do
        if [ "$e2e_i" -ge 200 ] || ! kill -0 "$LEAP_PID" 2>/dev/null; then
            echo "# fake_leap did not start:"
            sed 's/^/#   /' "$LEAP_DIR/output"
            return 1
        fi
        sleep 0.05
        e2e_i=$((e2e_i + 1))
    done
    LEAP_PORT=$(cat "$LEAP_DIR/port")
    FAKE_LOG=$LEAP_DIR/requests.jsonl
    HARDE_LEAP_BASE_URL=http://127.0.0.1:$LEAP_PORT/api/v3
    export LEAP_PORT LEAP_PID FAKE_LOG HARDE_LEAP_BASE_URL
}

crm_registered() {
    run_harde probe crm --help
    ! grep -q 'unknown command' "$RUN_ERR"
}

# ---- the local CRM ---------------------------------------------------------------

t_local_search() {
    fresh local
    run_harde search crm search garcia
    check_status "search: exit 0" 0
    check_contains "search: finds Rosa Garcia" "$RUN_OUT" "Rosa Garcia"
    check_contains "search: shows the phone for people" "$RUN_OUT" "(614) 555-0142"
    check "search: the book was created in the data directory" test -s "$HARDE_DATA_DIR/crm.sqlite"

    run_harde search_json crm search garcia --json
    check_status "search --json: exit 0" 0
    py_check "search --json: Garcia first, matched by name, on the local backend" <<'PY'
d = load_json(E["RUN_OUT"])
assert d["backend"] == "local" and d["query"] == "garcia", d
assert d["count"] == len(d["results"]) >= 1, d
top = d["results"][0]
assert (top["id"], top["name"], top["matched"]) == (501, "Rosa Garcia", "name"), top
assert top["phone"] == "+16145550142" and top["address"]["zip"] == "43212", top
assert top["address_line"] == "2217 Elmwood Ave, Columbus, OH 43212", top
PY

    run_harde search_phone crm search --json "(614) 555-0142"
    py_check "search by phone: Garcia, matched by phone" <<'PY'
d = load_json(E["RUN_OUT"])
assert d["results"][0]["id"] == 501 and d["results"][0]["matched"] == "phone", d["results"][:1]
PY

    run_harde search_rank crm search --json smith
    py_check "search ranking: Smith before Smithers" <<'PY'
d = load_json(E["RUN_OUT"])
names = [r["last_name"] for r in d["results"]]
assert names[:2] == ["Smith", "Smithers"], names
assert d["results"][0]["score"] > d["results"][1]["score"], d["results"]
PY

    run_harde search_words crm search 2217 elmwood
    check_status "search: several words are one query" 0
    check_contains "search: by street" "$RUN_OUT" "Rosa Garcia"

    run_harde search_none crm search zzqx
    check_status "search with no match: exit 0" 0
    check_contains "search with no match: says so" "$RUN_OUT" 'no customer matches "zzqx"'
}

t_local_customer_and_job() {
    fresh local
    run_harde customer crm customer 501
    check_status "customer: exit 0" 0
    check_contains "customer: name and id" "$RUN_OUT" "Rosa Garcia (customer 501)"
    check_contains "customer: lists the job" "$RUN_OUT" "1042"

    run_harde customer_json crm customer 502 --json
    py_check "customer --json: Smith with both jobs" <<'PY'
d = load_json(E["RUN_OUT"])
assert d["id"] == 502 and d["name"] == "James Smith", d
assert [j["id"] for j in d["jobs"]] == [1017, 1077], d["jobs"]
assert d["jobs"][1]["stage"] == "lead" and d["jobs"][1]["trade"] == "gutters", d["jobs"][1]
PY

    run_harde job crm job 1042
    check_status "job: exit 0" 0
    check_contains "job: headline with trade and stage" "$RUN_OUT" "Job 1042 — Roofing — Appointment Set"
    check_contains "job: the rep" "$RUN_OUT" "Dave Kowalski"
    check_contains "job: the appointment" "$RUN_OUT" "2026-12-01 18:00"
    check_contains "job: the notes" "$RUN_OUT" "Miguel"

    run_harde job_json crm job --json 1042
    py_check "job --json: everything the Garcia job holds" <<'PY'
d = load_json(E["RUN_OUT"])
want = {"id": 1042, "customer_id": 501, "customer_name": "Rosa Garcia", "trade": "roofing",
        "stage": "appointment_set", "stage_label": "Appointment Set",
        "appointment": "2026-12-01T18:00", "rep": "Dave Kowalski"}
for k, v in want.items():
    assert d[k] == v, (k, d[k])
assert d["address_line"] == "2217 Elmwood Ave, Columbus, OH 43212", d["address_line"]
assert len(d["notes"]) == 2 and d["notes"][0]["author"] == "Office (Karen)", d["notes"]
assert d["stage_history"] == [{"from": None, "to": "appointment_set", "changed_at": d["stage_history"][0]["changed_at"],
                               "changed_by": "seed", "reason": None}], d["stage_history"]
PY
}

t_local_jobs() {
    fresh local
    run_harde jobs_all crm jobs --json
    check_status "jobs: exit 0" 0
    py_check "jobs --json: the whole book, every stage and trade, in pipeline order" <<'PY'
d = load_json(E["RUN_OUT"])
assert d["stage"] is None and d["total"] == 31 and d["count"] == 31, (d["count"], d["total"])
order = ["lead", "appointment_set", "primer_video_sent", "inspection", "presentation",
         "signed", "production", "complete", "review_request"]
stages = [j["stage"] for j in d["jobs"]]
assert set(stages) == set(order), set(stages)
assert stages == sorted(stages, key=order.index), stages
assert {j["trade"] for j in d["jobs"]} == {"roofing", "siding", "gutters", "windows", "other"}
PY

    run_harde jobs_stage crm jobs --stage "appointment set" --json
    py_check "jobs --stage: by label, four appointments" <<'PY'
d = load_json(E["RUN_OUT"])
assert d["stage"] == "appointment_set" and d["count"] == 4, d
assert all(j["stage"] == "appointment_set" and j["appointment"] for j in d["jobs"]), d["jobs"]
PY

    run_harde jobs_text crm jobs --stage=primer_video_sent
    check_status "jobs --stage=KEY: exit 0" 0
    check_contains "jobs: a table with a count" "$RUN_OUT" "3 jobs in Primer Video Sent"

    run_harde jobs_limit crm jobs --limit 5 --json
    py_check "jobs --limit: five of 31" <<'PY'
d = load_json(E["RUN_OUT"])
assert d["count"] == 5 and d["total"] == 31, d
PY

    run_harde stages crm stages --json
    py_check "stages --json: the nine stages of the playbook" <<'PY'
d = load_json(E["RUN_OUT"])
assert [s["label"] for s in d] == ["Lead", "Appointment Set", "Primer Video Sent", "Inspection",
    "Presentation", "Signed", "Production", "Complete", "Review Request"], d
PY
}

t_local_errors() {
    fresh local
    run_harde nojob crm job 9999
    check_status "a missing job: exit 1" 1
    check_contains "a missing job: says which" "$RUN_ERR" "no job 9999"

    run_harde nojob_json crm job 9999 --json
    check_status "a missing job with --json: exit 1" 1
    py_check "a missing job with --json: an error object on stdout" <<'PY'
d = load_json(E["RUN_OUT"])
assert d["error"]["code"] == "NOT_FOUND" and "9999" in d["error"]["message"], d
PY

    run_harde badid crm job abc
    check_status "a non-numeric id: exit 2" 2
    run_harde badstage crm jobs --stage pending
    check_status "an unknown stage: exit 2" 2
    check_contains "an unknown stage: lists the stages" "$RUN_ERR" "review_request"
    run_harde nosub crm
    check_status "no subcommand: exit 2" 2
    run_harde badsub crm delete 1042
    check_status "an unknown subcommand: exit 2" 2
    run_harde notext crm search
    check_status "search without text: exit 2" 2
    run_harde extra crm jobs 1042
    check_status "jobs with an argument: exit 2" 2
    run_harde badopt crm search garcia --frobnicate
    check_status "an unknown option: exit 2" 2
    run_harde help crm --help
    check_status "crm --help: exit 0" 0
}

t_local_config() {
    fresh config
    cat >"$E2E_TMP/crm-empty.ini" <<EOF
[crm]
backend = local
db = empty.sqlite
seed = none
EOF
    run_harde empty --config "$E2E_TMP/crm-empty.ini" crm jobs
    check_status "[crm] seed = none: exit 0" 0
    check_contains "[crm] seed = none: an empty book" "$RUN_OUT" "no jobs"
    check "[crm] db: relative to the data directory" test -s "$HARDE_DATA_DIR/empty.sqlite"

    HARDE_CRM_BACKEND=leap
    export HARDE_CRM_BACKEND
    run_harde noleap crm search garcia
    unset HARDE_CRM_BACKEND
    check_status "backend leap without a token: exit 1" 1
    check_contains "backend leap without a token: names LEAP_API_TOKEN" "$RUN_ERR" \
        "LEAP_API_TOKEN"
}

# ---- the Leap CRM through the fake ------------------------------------------------------

t_leap() {
    fresh leap
    if ! start_leap; then
        not_ok "fake_leap starts"
        return
    fi
    LEAP_API_TOKEN=$LEAP_TOKEN
    export LEAP_API_TOKEN

    run_harde leap_search crm search garcia --json
    check_status "leap search: exit 0" 0
    py_check "leap search: Garcia from Leap, as locally" <<'PY'
d = load_json(E["RUN_OUT"])
assert d["backend"] == "leap", d
top = d["results"][0]
assert (top["id"], top["name"], top["phone"]) == (501, "Rosa Garcia", "+16145550142"), top
PY

    run_harde leap_job crm job 1042 --json
    check_status "leap job: exit 0" 0
    py_check "leap job: stage, appointment, rep and notes mapped from Leap" <<'PY'
d = load_json(E["RUN_OUT"])
assert d["stage"] == "appointment_set" and d["trade"] == "roofing", d
assert d["appointment"] == "2026-12-01T18:00" and d["rep"] == "Dave Kowalski", d
assert d["customer_name"] == "Rosa Garcia" and len(d["notes"]) == 2, d
assert d["number"], d
PY

    run_harde leap_jobs crm jobs --stage appointment_set
    check_status "leap jobs --stage: exit 0" 0
    check_contains "leap jobs --stage: four appointments" "$RUN_OUT" "4 jobs in Appointment Set"

    run_harde leap_phone crm search --json 614-555-0142
    check_status "leap phone search: exit 1 (Leap cannot)" 1
    py_check "leap phone search: says plainly that Leap searches names and emails only" <<'PY'
d = load_json(E["RUN_OUT"])
assert d["error"]["code"] == "UNSUPPORTED", d
assert "names and email addresses only" in d["error"]["message"], d
PY

    py_check "leap requests: Bearer token, Accept JSON, no Content-Type on GETs, known fields" <<'PY'
reqs = requests()
assert reqs, "no requests reached the fake"
for r in reqs:
    assert header(r, "Authorization") == "Bearer <ok>", r
    assert r["method"] == "GET" and header(r, "Content-Type") is None, r
    assert header(r, "Accept") == "application/json", r
    assert r["status"] == 200, r
paths = {r["path"] for r in reqs}
assert {"/api/v3/customers", "/api/v3/jobs/1042", "/api/v3/jobs/1042/notes",
        "/api/v3/appointments", "/api/v3/workflow/stages", "/api/v3/jobs"} <= paths, paths
PY

    for f in "$E2E_TMP"/leap_*.stdout "$E2E_TMP"/leap_*.stderr; do
        check_not_contains "the token is never printed ($(basename "$f"))" "$f" "$LEAP_TOKEN"
    done

    LEAP_API_TOKEN=not-the-right-token-123
    run_harde leap_badtoken crm job 1042
    check_status "leap with a wrong token: exit 1" 1
    check_contains "leap with a wrong token: says to check LEAP_API_TOKEN" "$RUN_ERR" \
        "LEAP_API_TOKEN"
    check_not_contains "leap with a wrong token: the token is not printed" "$RUN_ERR" \
        "not-the-right-token-123"
    unset LEAP_API_TOKEN
    stop_fake "$LEAP_PID"
}

if have_harde && ! crm_registered; then
    skip "harde crm" "the crm command is not registered in src/cli/main.c yet"
    done_testing
fi
e2e_test "local search" t_local_search
e2e_test "local customer and job" t_local_customer_and_job
e2e_test "local jobs" t_local_jobs
e2e_test "local errors" t_local_errors
e2e_test "local config" t_local_config
e2e_test "leap" t_leap
done_testing
