#!/bin/sh
# test_runs_api.sh — the primer runs over HTTP (/v1/runs) and the CRM webhook:
# start, list, show, cancel (cleanup then CANCELLED), one run per job, 404s,
# the webhook's shared secret and stage filter. The worker is not started, so
# runs stay pending and nothing is produced; test_primer.sh covers production.
. "$(dirname "$0")/lib.sh"

SECRET=hook-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
export HARDE_ADMIN_PASSWORD=pw-runs-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')

t_runs() {
    HARDE_WEBHOOK_SECRET=$SECRET "$HARDE" serve --host 127.0.0.1 --port 0 \
        --port-file "$E2E_TMP/port" >"$E2E_TMP/serve.out" 2>"$E2E_TMP/serve.err" </dev/null &
    pid=$!
    E2E_PIDS="$E2E_PIDS $pid"
    i=0
    while [ ! -s "$E2E_TMP/port" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
    if [ ! -s "$E2E_TMP/port" ]; then
        not_ok "harde serve starts" "$(e2e_show "$E2E_TMP/serve.err")"
        return
    fi
    run_harde token token create admin
    TOKEN=$(tail -n 1 "$RUN_OUT" | tr -d ' \n')
    PORT=$(tr -dc 0-9 <"$E2E_TMP/port")
    export TOKEN PORT SECRET
    py_check "runs API: start, dedupe, list, show, cancel, errors" <<'PY'
import urllib.request, urllib.error
base = "http://127.0.0.1:%s" % E["PORT"]
def call(method, path, body=None, token=E["TOKEN"], headers=None):
    h = {"Content-Type": "application/json"}
    if token:
        h["Authorization"] = "Bearer " + token
    h.update(headers or {})
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")
st, run = call("POST", "/v1/runs", {"job_id": 1042})
assert st == 201 and run["status"] == "pending" and run["job_id"] == 1042, (st, run)
st, again = call("POST", "/v1/runs", {"job_id": 1042})
assert st == 200 and again["id"] == run["id"], (st, again)
st, _ = call("POST", "/v1/runs", {"job_id": 999999})
assert st == 404, st
st, err = call("POST", "/v1/runs", {"job": "x"})
assert st == 400 and err["error"]["code"] == "bad_request", (st, err)
st, lst = call("GET", "/v1/runs")
assert st == 200 and [r["id"] for r in lst["runs"]] == [run["id"]], lst
st, one = call("GET", "/v1/runs/" + run["id"])
assert st == 200 and one["id"] == run["id"], one
st, _ = call("GET", "/v1/runs/nosuchrun12345")
assert st == 404, st
st, _ = call("GET", "/v1/runs", token=None)
assert st == 401, st
st, c = call("POST", "/v1/runs/%s/cancel" % run["id"])
assert st == 200, (st, c)
# the webhook: wrong secret, then a stage change into Appointment Set (job 1068)
hook = [{"action": "jobs", "operation": "stage_change", "id": 1068,
         "stage_moved_to": {"code": "appointment_set"}},
        {"action": "jobs", "operation": "stage_change", "id": 1072,
         "stage_moved_to": {"code": "signed"}}]
st, _ = call("POST", "/v1/webhooks/crm", hook, token=None,
             headers={"X-Harde-Webhook-Secret": "wrong"})
assert st == 401, st
st, res = call("POST", "/v1/webhooks/crm", hook, token=None,
               headers={"X-Harde-Webhook-Secret": E["SECRET"]})
assert st == 200 and [s["job_id"] for s in res["started"]] == [1068], res
st, lst = call("GET", "/v1/runs")
assert len(lst["runs"]) == 2, lst
# from the web chat: the Primer Video agent's tools reach the run store
st, sess = call("POST", "/v1/sessions", {"title": "primer"})
assert st == 201, (st, sess)
st, turn = call("POST", "/v1/sessions/%s/messages" % sess["id"],
                {"text": "make the primer video for job 1072"})
assert st == 200 and "Started the primer video" in turn["final"], (st, turn)
st, turn = call("POST", "/v1/sessions/%s/messages" % sess["id"],
                {"text": "did the primer go out for job 1072?"})
assert st == 200 and "pending" in turn["final"], (st, turn)
st, lst = call("GET", "/v1/runs")
assert sorted(r["job_id"] for r in lst["runs"]) == [1042, 1068, 1072], lst
PY
    e2e_stop_pid "$pid"
}

e2e_test "runs over HTTP and the CRM webhook" t_runs
done_testing
