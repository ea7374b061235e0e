#!/bin/sh
# test_primer.sh — the autonomous primer video end to end, with real parts.
#
# Every section is a real run of build/harde on local backends (espeak-ng,
# ffmpeg, the delivery folder, the SQLite CRM and store) in its own data
# directory, against real servers on 127.0.0.1 at ports picked at run time:
#
#  cli      `harde primer JOB --wait --json` prints where the video and the
#           email went; `harde runs`, `harde run show`; an unknown job is
#           refused; `primer --wait` killed and started again resumes at once.
#  real     Dovecot + OpenSMTPD (tests/servers/mail.sh): a trigger mail from
#           the CRM's address reaches Hard-E's mailbox by SMTP; `harde worker`
#           polls it over IMAP, runs the nine steps and sends the homeowner's
#           email by SMTP; the homeowner's mailbox (read over IMAP) holds
#           exactly one email whose link serves an MP4 that ffprobe reads as
#           video + audio of the voice's length; the CRM has the note; no
#           temporary file is left; the trigger is flagged handled and later
#           polls (and a repeated trigger) start nothing. Forged, malformed,
#           id-less and unknown-job triggers in the same mailbox are ignored
#           and logged.
#  faults   OpenAI TTS (tests/fakes/fake_media.py) failing twice, then
#           working: the audio step is retried; failing for good: the run
#           fails with the reason, cleanup runs, a CRM note says so, and
#           `harde run retry` finishes it once the fake recovers; S3 uploads
#           (tests/fakes/fake_s3.py) failing twice, then working; bad
#           triggers in the local inbox folder; `harde run cancel` (cleanup
#           runs, nothing is sent).
#  crash    the worker SIGKILLs itself (HARDE_TEST_CRASH_AT, a test hook of
#           cmd_primer.c) once at every crash point of the workflow engine at
#           every step, and is started again each time; then another run is
#           killed from outside in the middle of the audio step, the render
#           (while their espeak-ng/ffmpeg children run) and the durable wait.
#           Each run finishes once, with exactly one email, one CRM note, one
#           delivered video and no temporary file; no child process is left.
#
# Sections can be picked: PRIMER_SECTIONS="crash faults" sh test_primer.sh
# (default: all). The mail servers need root, dovecot and smtpd; without them
# the "real" section is skipped, not failed. Processes are stopped by their own
# PIDs (lib.sh's trap, tests/servers/mail.sh stop); children a killed worker
# leaves behind are found under its PID before the kill and killed by PID.
. "$(dirname "$0")/lib.sh"

TOOLS=$E2E_ROOT/tests/tools
MAIL_KIT=$E2E_ROOT/tests/servers/mail.sh
MAIL_DIR=$E2E_TMP/mail
SECTIONS=${PRIMER_SECTIONS:-cli real faults crash}
CRM_SENDER=crm@summitridge.example
TRIGGER_1042="Please produce Primer Video – Job #1042"
STEPS="context script audio render upload note wait deliver cleanup"
WAIT_LIMIT=120 # seconds any one wait for a run may take

# The sample CRM with the customers' addresses moved to the test mail domain.
SEED=$E2E_TMP/crm_seed.json
python3 - "$E2E_ROOT/data/crm_seed.json" "$SEED" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
for c in d["customers"]:
    c["email"] = c["email"].replace("@example.com", "@example.test")
json.dump(d, open(sys.argv[2], "w"))
PYEOF
export HARDE_CRM_SEED=$SEED HARDE_MODEL_BACKEND=local HARDE_PRIMER_WAIT_SECONDS=1
export HARDE_LOG_LEVEL=info LC_ALL=C.UTF-8

MAIL_STARTED=0
primer_cleanup() {
    [ "$MAIL_STARTED" -eq 1 ] && sh "$MAIL_KIT" stop "$MAIL_DIR" >/dev/null 2>&1
    MAIL_STARTED=0
    e2e_cleanup
}
trap primer_cleanup EXIT

wanted() {
    case " $SECTIONS " in
    *" $1 "*) return 0 ;;
    esac
    return 1
}

# use_data NAME — a fresh data directory for one section.
use_data() {
    HARDE_DATA_DIR=$E2E_TMP/data-$1
    mkdir -p "$HARDE_DATA_DIR"
    export HARDE_DATA_DIR
}

# ---- runs ----------------------------------------------------------------------

# harde_json NAME ARGS... — runs harde, leaves its stdout in $E2E_TMP/NAME.json.
harde_json() {
    hj_name=$1
    shift
    timeout -k 5 "$E2E_CMD_TIMEOUT" "$HARDE" "$@" >"$E2E_TMP/$hj_name.json" \
        2>"$E2E_TMP/$hj_name.stderr" </dev/null
}

# run_field ID FIELD — one top-level field of `harde run show ID --json`.
run_field() {
    harde_json run-field run show "$1" --json
    python3 -c 'import json,sys; v=json.load(open(sys.argv[1])).get(sys.argv[2]); print("" if v is None else v)' \
        "$E2E_TMP/run-field.json" "$2" 2>/dev/null
}

# run_of_job JOB — the id of the newest run for JOB ("" when none).
run_of_job() {
    harde_json runs-of-job runs --json
    python3 -c 'import json,sys
for r in json.load(open(sys.argv[1])):
    if r.get("job_id") == int(sys.argv[2]):
        print(r["id"]); break' "$E2E_TMP/runs-of-job.json" "$1" 2>/dev/null
}

is_final() {
    case $1 in
    succeeded | failed | cancelled) return 0 ;;
    esac
    return 1
}

# wait_until SECONDS COMMAND... — polls COMMAND every 0.2 s; 0 when it passed.
wait_until() {
    wu_end=$(($(date +%s) + $1))
    shift
    while ! "$@"; do
        [ "$(date +%s)" -ge "$wu_end" ] && return 1
        sleep 0.2
    done
    return 0
}

run_is_final() {
    is_final "$(run_field "$1" status)"
}

# drive_run ID LOG — `harde worker --once` again and again until run ID is
# final (a worker that carries a run on after cancel or retry).
drive_run() {
    dr_end=$(($(date +%s) + WAIT_LIMIT))
    while ! run_is_final "$1"; do
        [ "$(date +%s)" -ge "$dr_end" ] && return 1
        timeout -k 5 "$E2E_CMD_TIMEOUT" "$HARDE" worker --once >>"$2" 2>&1 </dev/null
        sleep 0.2
    done
}

# ---- processes -----------------------------------------------------------------

# start_worker LOG — `harde worker` in the background; WORKER_PID.
start_worker() {
    "$HARDE" worker --poll-ms 200 >>"$1" 2>&1 </dev/null &
    WORKER_PID=$!
    E2E_PIDS="$E2E_PIDS $WORKER_PID"
}

# descendants PID — every process below PID (by /proc's parent links).
descendants() {
    python3 - "$1" <<'PYEOF'
import os, sys
parent = {}
for name in os.listdir("/proc"):
    if name.isdigit():
        try:
            stat = open("/proc/%s/stat" % name).read()
        except OSError:
            continue
        parent[int(name)] = int(stat[stat.rindex(")") + 2:].split()[1])
found, todo = [], [int(sys.argv[1])]
while todo:
    p = todo.pop()
    for child, par in parent.items():
        if par == p:
            found.append(child)
            todo.append(child)
print(" ".join(map(str, found)))
PYEOF
}

# kill_worker PID — SIGKILL as a crash would, but first freeze it and note its
# children; afterwards every child still alive is killed by its PID. Sets
# KILLED_CHILDREN (what it had) and STRAY_CHILDREN (those that outlived it).
kill_worker() {
    kill -STOP "$1" 2>/dev/null
    KILLED_CHILDREN=$(descendants "$1")
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
    # shellcheck disable=SC2086
    E2E_PIDS=$(printf '%s\n' $E2E_PIDS | grep -vx "$1" | tr '\n' ' ')
    STRAY_CHILDREN=
    sleep 0.2
    for kw_child in $KILLED_CHILDREN; do
        if kill -0 "$kw_child" 2>/dev/null; then
            STRAY_CHILDREN="$STRAY_CHILDREN $kw_child"
            kill -KILL "$kw_child" 2>/dev/null
        fi
    done
}

# has_child PID NAME... — PID has a child process whose name is one of NAMES.
has_child() {
    hc_pid=$1
    shift
    for hc_child in $(descendants "$hc_pid"); do
        hc_comm=$(cat "/proc/$hc_child/comm" 2>/dev/null)
        for hc_name in "$@"; do
            [ "$hc_comm" = "$hc_name" ] && return 0
        done
    done
    return 1
}

# ---- what a finished run left ------------------------------------------------------

# check_run_outcome LABEL ID JOB — one succeeded run for JOB: one email in the
# outbox (or the mailbox, checked by the caller), one "Primer video ready" note
# carrying the run's reference, one delivered video of the voice's length, and
# an empty work directory.
check_run_outcome() {
    harde_json "outcome-run" run show "$2" --json
    harde_json "outcome-crm" crm job "$3" --json
    LABEL=$1 RUN_ID=$2 JOB=$3 py_check "$1: the run finished once with one email, one note, one video, no temporary file" <<'PYEOF'
import glob, subprocess
run = load_json(E["E2E_TMP"] + "/outcome-run.json")
assert run["status"] == "succeeded", "status %s: %s" % (run["status"], run.get("error"))
assert run["finished_ms"] > 0
steps = run["steps"]
names = [s["name"] for s in steps]
# A retried run shows the cleanup of each generation ("cleanup", "cleanup.2").
main = [n for n in names if not n.startswith("cleanup")]
assert main == E["STEPS"].split()[:-1] and names[-1].startswith("cleanup"), "steps: %s" % names
bad = [s for s in steps if s["status"] != "succeeded"]
assert not bad, "steps not succeeded: %s" % bad
data = E["HARDE_DATA_DIR"]
seed = json.load(open(E["HARDE_CRM_SEED"]))
rcpt = [c["email"] for c in seed["customers"] for j in c["jobs"] if j["id"] == int(E["JOB"])][0]
if run["email"] and run["email"].startswith(data + "/outbox/"):
    import email, email.policy
    to_them = []
    for f in sorted(glob.glob(data + "/outbox/*.eml")):
        m = email.message_from_bytes(open(f, "rb").read(), policy=email.policy.default)
        if m["To"] == rcpt:
            to_them.append(f)
    assert to_them == [run["email"]], "emails to %s in the outbox: %s" % (rcpt, to_them)
notes = [n for n in load_json(E["E2E_TMP"] + "/outcome-crm.json")["notes"]
         if "Primer video ready" in n["text"]]
mine = [n for n in notes if "[ref %s.note]" % E["RUN_ID"] in n["text"]]
assert len(mine) == 1, "notes for this run: %s" % notes
assert run["video_url"] in mine[0]["text"]
videos = glob.glob(data + "/delivery/*/primer-%s.mp4" % E["JOB"])
if run["video_url"].split("/d/")[0] != run["video_url"]:
    assert len(videos) == 1, "delivered videos: %s" % videos
work = data + "/work"
left = [] if not os.path.isdir(work) else os.listdir(work)
assert not left, "left in %s: %s" % (work, left)
PYEOF
}

# check_video NAME FILE VOICE_SECONDS — ffprobe reads FILE as H.264 video + AAC
# audio whose length is the voice's (±0.5 s).
check_video() {
    VIDEO=$2 VOICE_S=$3 py_check "$1" <<'PYEOF'
import subprocess
out = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json",
                      E["VIDEO"]], capture_output=True, text=True, timeout=30)
assert out.returncode == 0, "ffprobe: %s" % out.stderr
info = json.loads(out.stdout)
kinds = sorted(s["codec_type"] for s in info["streams"])
assert kinds == ["audio", "video"], "streams: %s" % kinds
voice = float(E["VOICE_S"])
assert voice > 20, "voice of %.1f s: not a primer" % voice
length = float(info["format"]["duration"])
assert abs(length - voice) <= 0.5, "video %.2f s, voice %.2f s" % (length, voice)
for s in info["streams"]:
    d = float(s.get("duration", length))
    assert abs(d - voice) <= 0.5, "%s stream %.2f s, voice %.2f s" % (s["codec_type"], d, voice)
PYEOF
}

# fetch_link URL OUT — the delivered file behind a /d/ link: over HTTP when
# `harde serve` serves it (SERVE_PORT set), else resolved to the delivery folder.
fetch_link() {
    case $1 in
    */d/*) ;;
    *) return 1 ;;
    esac
    if [ -n "${SERVE_PORT:-}" ]; then
        curl -fsS --max-time 30 -o "$2" "$1"
    else
        cp "$HARDE_DATA_DIR/delivery/${1#*/d/}" "$2"
    fi
}

# try_serve — starts `harde serve` (the web engineer's) when it exists, on a
# port the kernel picks, and points [primer] public_url at it; sets SERVE_PORT.
try_serve() {
    SERVE_PORT=
    "$HARDE" serve --help >"$E2E_TMP/serve-help.txt" 2>&1 </dev/null || return 0
    grep -q -- "--port-file" "$E2E_TMP/serve-help.txt" || return 0
    rm -f "$E2E_TMP/serve.port"
    HARDE_ADMIN_PASSWORD=primer-test-admin-pass "$HARDE" serve --host 127.0.0.1 --port 0 \
        --port-file "$E2E_TMP/serve.port" >"$E2E_TMP/serve.log" 2>&1 </dev/null &
    SERVE_PID=$!
    E2E_PIDS="$E2E_PIDS $SERVE_PID"
    if wait_until 15 test -s "$E2E_TMP/serve.port"; then
        SERVE_PORT=$(cat "$E2E_TMP/serve.port")
        HARDE_PRIMER_PUBLIC_URL=http://127.0.0.1:$SERVE_PORT
        export HARDE_PRIMER_PUBLIC_URL
    else
        diag "harde serve did not start: $(tail -n 5 "$E2E_TMP/serve.log")"
        e2e_stop_pid "$SERVE_PID"
    fi
}

stop_serve() {
    [ -n "${SERVE_PORT:-}" ] && e2e_stop_pid "$SERVE_PID"
    SERVE_PORT=
    unset HARDE_PRIMER_PUBLIC_URL
}

# write_trigger FILE FROM SUBJECT [BODY_CTE BODY] — an .eml as the CRM sends it.
write_trigger() {
    {
        printf 'From: Leap CRM <%s>\r\nTo: hard-e@example.test\r\n' "$2"
        printf 'Subject: =?UTF-8?Q?%s?=\r\n' "$(printf '%s' "$3" | python3 -c 'import sys
print("".join(chr(b) if chr(b).isascii() and chr(b).isalnum() else "=%02X" % b
              for b in sys.stdin.buffer.read()), end="")')"
        printf 'Date: Tue, 24 Nov 2026 09:00:00 +0000\r\nMessage-ID: <%s@crm.test>\r\n' "$(basename "$1")"
        printf 'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n'
        printf 'Content-Transfer-Encoding: %s\r\n\r\n%s\r\n' "${4:-8bit}" "${5:-Job for the primer video.}"
    } >"$1"
}

# ---- cli ---------------------------------------------------------------------------

section_cli() {
    use_data cli
    run_harde cli-primer primer 1042 --wait 90 --json
    check_status "primer 1042 --wait 90 --json finishes" 0
    cp "$RUN_OUT" "$E2E_TMP/cli.json"
    py_check "primer --json says where the video and the email went" <<'PYEOF'
o = load_json(E["E2E_TMP"] + "/cli.json")
assert o["status"] == "succeeded", o
assert o["job_id"] == 1042
assert re.match(r"^http://127\.0\.0\.1:8080/d/[0-9a-f]{32}/primer-1042\.mp4$", o["video_url"]), o["video_url"]
assert o["email"].startswith(E["HARDE_DATA_DIR"] + "/outbox/") and os.path.isfile(o["email"]), o["email"]
import email, email.policy
m = email.message_from_bytes(open(o["email"], "rb").read(), policy=email.policy.default)
assert m["To"] == "rosa.garcia@example.test", m["To"]
assert "Rosa" in m["Subject"]
text = m.get_body(("plain",)).get_content()
html = m.get_body(("html",)).get_content()
assert o["video_url"] in text and o["video_url"] in html
assert "Dave Kowalski" in text
PYEOF
    CLI_RUN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$E2E_TMP/cli.json")
    CLI_URL=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["video_url"])' "$E2E_TMP/cli.json")
    CLI_VOICE=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["voice_seconds"])' "$E2E_TMP/cli.json")
    check_run_outcome "cli" "$CLI_RUN" 1042
    fetch_link "$CLI_URL" "$E2E_TMP/cli.mp4"
    check_video "the delivered MP4 is video + audio of the voice's length" "$E2E_TMP/cli.mp4" "$CLI_VOICE"

    run_harde cli-runs runs
    check_status "harde runs" 0
    check_match "harde runs lists the run as succeeded" "$RUN_OUT" "^$CLI_RUN +primer_video +succeeded"
    run_harde cli-show run show "$CLI_RUN"
    check_status "harde run show ID" 0
    check_match "run show lists the nine steps" "$RUN_OUT" "^  cleanup +succeeded"
    check_contains "run show gives the video link" "$RUN_OUT" "video: $CLI_URL"
    run_harde cli-show-missing run show nosuchrun0000000
    check_status "run show of an unknown run fails" 1

    run_harde cli-unknown primer 9999 --wait 5
    check_status "primer for an unknown job is refused (exit 2)" 2
    check_match "... saying the job is unknown" "$RUN_ERR" "9999|not found|no job"
    run_harde cli-runs-after runs --json
    py_check "... and starts no run" <<'PYEOF'
runs = load_json(E["RUN_OUT"])
assert [r["job_id"] for r in runs] == [1042], runs
PYEOF
    run_harde cli-again primer 1042 --wait 30 --json
    check_status "primer 1042 again finds the same run" 0
    py_check "... and sends nothing more" <<'PYEOF'
o = load_json(E["RUN_OUT"])
first = load_json(E["E2E_TMP"] + "/cli.json")
assert o["id"] == first["id"], (o["id"], first["id"])
import glob
assert len(glob.glob(E["HARDE_DATA_DIR"] + "/outbox/*.eml")) == 1
PYEOF

    # `primer --wait` killed after the email went out, then started again: it
    # takes the run over at once (its dead owner is recognised) and does not
    # send a second email.
    HARDE_TEST_CRASH_AT=step.returned:deliver timeout -k 5 60 "$HARDE" primer 1068 --wait 60 \
        >"$E2E_TMP/cli-crash.out" 2>"$E2E_TMP/cli-crash.err" </dev/null
    check_eq "primer --wait dies where the test hook says (SIGKILL)" "$?" 137
    check_contains "... after the deliver step ran" "$E2E_TMP/cli-crash.err" \
        "test hook: SIGKILL at step.returned:deliver"
    t0=$(date +%s)
    run_harde cli-resume primer 1068 --wait 20 --json
    check_status "primer 1068 --wait again finishes the run" 0
    check_eq "... without waiting for the dead process's lease (< 10 s)" \
        "$([ $(($(date +%s) - t0)) -lt 10 ] && echo fast || echo slow)" fast
    check_run_outcome "cli after a crash" "$(run_of_job 1068)" 1068
    TEMPLATE=$(ls "$HARDE_DATA_DIR"/media/template-*.mp4 2>/dev/null | head -n 1)
    MUSIC=$(ls "$HARDE_DATA_DIR"/media/music-*.wav 2>/dev/null | head -n 1)
    if [ -f "$TEMPLATE" ] && [ -f "$MUSIC" ]; then
        # Later sections reuse the template and music made here.
        HARDE_PRIMER_TEMPLATE=$TEMPLATE HARDE_PRIMER_MUSIC=$MUSIC
        export HARDE_PRIMER_TEMPLATE HARDE_PRIMER_MUSIC
    fi
}

# ---- real mail servers -----------------------------------------------------------------

mailbox_dump() {
    python3 "$TOOLS/mailbox.py" dump --port "$MAIL_IMAP_PORT" --user "$1" \
        --password "$MAIL_PASSWORD" >"$2" 2>"$2.err"
}

mailbox_count_is() {
    mailbox_dump "$1" "$E2E_TMP/count.json" &&
        [ "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' \
            "$E2E_TMP/count.json")" -ge "$2" ]
}

send_mail() {
    python3 "$TOOLS/mailbox.py" send --port "$MAIL_SMTP_PORT" --to hard-e@example.test "$@"
}

run_1042_final() {
    rf_id=$(run_of_job 1042)
    [ -n "$rf_id" ] && run_is_final "$rf_id"
}

section_real() {
    if [ "$(id -u)" -ne 0 ] || ! command -v dovecot >/dev/null 2>&1 ||
        ! command -v smtpd >/dev/null 2>&1; then
        skip "primer over real IMAP and SMTP" "needs root, dovecot and smtpd"
        return
    fi
    if ! sh "$MAIL_KIT" start "$MAIL_DIR" hard-e rosa.garcia >"$E2E_TMP/mail.env" \
        2>"$E2E_TMP/mail.err"; then
        not_ok "Dovecot and OpenSMTPD start on loopback" "$(cat "$E2E_TMP/mail.err")"
        return
    fi
    MAIL_STARTED=1
    . "$E2E_TMP/mail.env"
    ok "Dovecot (IMAP $MAIL_IMAP_PORT) and OpenSMTPD (SMTP $MAIL_SMTP_PORT) on 127.0.0.1"
    use_data real
    HARDE_INBOX_IMAP_URL=imap://127.0.0.1:$MAIL_IMAP_PORT
    HARDE_INBOX_IMAP_USER=hard-e@example.test
    IMAP_PASSWORD=$MAIL_PASSWORD
    HARDE_MAIL_SMTP_URL=smtp://127.0.0.1:$MAIL_SMTP_PORT
    HARDE_MAIL_FROM=hard-e@example.test
    HARDE_PRIMER_WAIT_SECONDS=3
    export HARDE_INBOX_IMAP_URL HARDE_INBOX_IMAP_USER IMAP_PASSWORD HARDE_MAIL_SMTP_URL \
        HARDE_MAIL_FROM HARDE_PRIMER_WAIT_SECONDS
    try_serve

    # What arrives in Hard-E's mailbox: four triggers to refuse, then the real one.
    write_trigger "$E2E_TMP/malformed.eml" "$CRM_SENDER" \
        "Please produce Primer Video – Job #1072" base64 "@@@ this is not base64 !!!"
    sent=0
    send_mail --from "Mallory <mallory@evil.example>" \
        --subject "Please produce Primer Video – Job #1068" --body "Job #1068, urgent." &&
        sent=$((sent + 1))
    send_mail --from "Leap CRM <$CRM_SENDER>" --raw "$E2E_TMP/malformed.eml" && sent=$((sent + 1))
    send_mail --from "Leap CRM <$CRM_SENDER>" --subject "Please produce Primer Video" \
        --body "For the Garcia roof, thanks." && sent=$((sent + 1))
    send_mail --from "Leap CRM <$CRM_SENDER>" \
        --subject "Please produce Primer Video – Job #9999" --body "Job #9999." &&
        sent=$((sent + 1))
    send_mail --from "Leap CRM <$CRM_SENDER>" --subject "$TRIGGER_1042" \
        --body "Customer: Rosa Garcia. Appointment Tue Dec 1, 6 pm." && sent=$((sent + 1))
    check_eq "five mails accepted by OpenSMTPD" "$sent" 5
    if ! wait_until 20 mailbox_count_is hard-e@example.test 5; then
        not_ok "the mails reach Hard-E's mailbox" "$(cat "$E2E_TMP/count.json.err" 2>/dev/null)"
        return
    fi
    ok "the mails reach Hard-E's IMAP mailbox"

    LOG=$E2E_TMP/real-worker.log
    start_worker "$LOG"
    wait_until "$WAIT_LIMIT" run_1042_final
    wait_until 20 mailbox_count_is rosa.garcia@example.test 1
    sleep 1 # a second email, if one were coming, would come now
    e2e_stop_pid "$WORKER_PID"
    check_contains "the worker watched the IMAP folder" "$LOG" \
        "watching imap imap://127.0.0.1:$MAIL_IMAP_PORT (hard-e@example.test, folder INBOX)"
    check_contains "the worker stops on SIGTERM" "$LOG" ": stopped"
    REAL_RUN=$(run_of_job 1042)
    check_eq "the trigger started the run for job 1042, and it succeeded" \
        "$(run_field "$REAL_RUN" status)" succeeded
    mailbox_dump rosa.garcia@example.test "$E2E_TMP/rosa.json"
    harde_json real-run run show "$REAL_RUN" --json
    py_check "the homeowner's mailbox holds exactly one email, from Hard-E, with the link" <<'PYEOF'
box = load_json(E["E2E_TMP"] + "/rosa.json")
assert len(box) == 1, "%d emails: %s" % (len(box), [m["subject"] for m in box])
m = box[0]
run = load_json(E["E2E_TMP"] + "/real-run.json")
assert "hard-e@example.test" in m["from"], m["from"]
assert m["to"] == "rosa.garcia@example.test", m["to"]
assert m["subject"] == "Rosa, a quick video before your appointment", m["subject"]
assert m["message_id"] == "<%s.deliver@hard-e.local>" % run["id"], m["message_id"]
assert m["links"] == [run["video_url"]], (m["links"], run["video_url"])
assert run["email"].startswith("smtp://127.0.0.1:"), run["email"]
open(E["E2E_TMP"] + "/rosa.link", "w").write(m["links"][0])
PYEOF
    REAL_URL=$(cat "$E2E_TMP/rosa.link" 2>/dev/null)
    REAL_VOICE=$(run_field "$REAL_RUN" voice_seconds)
    if fetch_link "$REAL_URL" "$E2E_TMP/real.mp4"; then
        ok "the link serves the video${SERVE_PORT:+ over HTTP (harde serve)}"
    else
        not_ok "the link serves the video" "$REAL_URL"
    fi
    [ -n "${SERVE_PORT:-}" ] || diag "harde serve is not there yet: the /d/ link was resolved to DATA_DIR/delivery"
    check_video "ffprobe: the emailed video is video + audio of the voice's length" \
        "$E2E_TMP/real.mp4" "$REAL_VOICE"
    check_run_outcome "real servers" "$REAL_RUN" 1042

    mailbox_dump hard-e@example.test "$E2E_TMP/hard-e.json"
    py_check "every mail in Hard-E's mailbox is flagged handled" <<'PYEOF'
box = load_json(E["E2E_TMP"] + "/hard-e.json")
assert len(box) == 5, len(box)
for m in box:
    assert "$HardeHandled" in m["flags"] and "\\Seen" in m["flags"], (m["subject"], m["flags"])
PYEOF
    check_match "a forged trigger is logged and ignored" "$LOG" \
        "ignored: trigger from a sender not allowed: mallory@evil.example"
    check_match "a malformed trigger is logged and ignored" "$LOG" "ignored: malformed message"
    check_match "a trigger without a job id is logged and ignored" "$LOG" \
        "ignored: trigger without a job id"
    check_match "a trigger for an unknown job is logged and refused" "$LOG" \
        "trigger for job 9999 from $CRM_SENDER: not started"
    harde_json real-runs runs --json
    harde_json real-crm-1068 crm job 1068 --json
    harde_json real-crm-1072 crm job 1072 --json
    py_check "... and none of them produced anything" <<'PYEOF'
runs = load_json(E["E2E_TMP"] + "/real-runs.json")
assert [r["job_id"] for r in runs] == [1042], [(r["job_id"], r["status"]) for r in runs]
for job in ("1068", "1072"):
    notes = load_json(E["E2E_TMP"] + "/real-crm-%s.json" % job)["notes"]
    assert not [n for n in notes if "Hard-E" in n["author"]], notes
assert os.listdir(E["HARDE_DATA_DIR"] + "/delivery") and len(os.listdir(E["HARDE_DATA_DIR"] + "/delivery")) == 1
PYEOF

    # Checkpoint: another poll starts nothing; the same trigger sent again is
    # recognised as the job's existing run.
    run_harde real-poll worker --once
    check_status "a second worker poll" 0
    check_not_contains "... starts nothing" "$RUN_ERR" "new primer run"
    check_not_contains "... and handles no mail again" "$RUN_ERR" "imap uid"
    send_mail --from "Leap CRM <$CRM_SENDER>" --subject "$TRIGGER_1042" --body "Again, please."
    wait_until 20 mailbox_count_is hard-e@example.test 6
    run_harde real-dup worker --once
    check_match "the same trigger again finds the existing run" "$RUN_ERR" \
        "imap uid 6: trigger for job 1042 .*run $REAL_RUN already exists"
    sleep 1
    mailbox_dump rosa.garcia@example.test "$E2E_TMP/rosa2.json"
    harde_json real-runs2 runs --json
    py_check "... and the homeowner still has exactly one email" <<'PYEOF'
assert len(load_json(E["E2E_TMP"] + "/rosa2.json")) == 1
assert len(load_json(E["E2E_TMP"] + "/real-runs2.json")) == 1
PYEOF

    stop_serve
    sh "$MAIL_KIT" stop "$MAIL_DIR" >"$E2E_TMP/mail-stop.out" 2>&1
    check_eq "the mail servers stop (each by its PID)" "$?" 0
    MAIL_STARTED=0
    unset HARDE_INBOX_IMAP_URL HARDE_INBOX_IMAP_USER IMAP_PASSWORD HARDE_MAIL_SMTP_URL \
        HARDE_MAIL_FROM
    HARDE_PRIMER_WAIT_SECONDS=1
}

# ---- faults -----------------------------------------------------------------------------

# start_fake_server NAME COMMAND... — a fake writing $E2E_TMP/NAME.port; SERVER_PORT.
start_fake_server() {
    sf_name=$1
    shift
    "$@" --port-file "$E2E_TMP/$sf_name.port" --parent-pid $$ --log "$E2E_TMP/$sf_name.jsonl" \
        >"$E2E_TMP/$sf_name.output" 2>&1 &
    sf_pid=$!
    E2E_PIDS="$E2E_PIDS $sf_pid"
    if ! wait_until 10 test -s "$E2E_TMP/$sf_name.port"; then
        diag "$sf_name did not start: $(cat "$E2E_TMP/$sf_name.output")"
        return 1
    fi
    SERVER_PORT=$(cat "$E2E_TMP/$sf_name.port")
}

fake_faults() {
    curl -fsS --max-time 5 -H 'Content-Type: application/json' -d "$2" \
        "http://127.0.0.1:$1/_fake/faults" >/dev/null
}

section_crm_down() {
    use_data faults-crm
    printf '[{"method": "GET", "path": "/jobs/*", "times": 4, "status": 503}]\n' \
        >"$E2E_TMP/leap-faults.json"
    if ! start_fake_server leap python3 "$FAKES_DIR/fake_leap.py" --token leap-test-token \
        --seed "$SEED" --faults "$E2E_TMP/leap-faults.json"; then
        not_ok "fake_leap starts"
        return
    fi
    LEAP_API_TOKEN=leap-test-token HARDE_LEAP_BASE_URL=http://127.0.0.1:$SERVER_PORT/api/v3
    export LEAP_API_TOKEN HARDE_LEAP_BASE_URL
    mkdir -p "$HARDE_DATA_DIR/inbox/new"
    write_trigger "$HARDE_DATA_DIR/inbox/new/trigger.eml" "$CRM_SENDER" "$TRIGGER_1042"
    run_harde crm-down worker --once
    check_match "CRM down: the trigger is kept for later" "$RUN_ERR" \
        "trigger.eml: trigger for job 1042 .*cannot start the run now .*HTTP 503.*will try again"
    check "... in new/" test -f "$HARDE_DATA_DIR/inbox/new/trigger.eml"
    check_eq "... and no run started" "$(run_of_job 1042)" ""
    LOG=$E2E_TMP/crm-down-worker.log
    run_harde crm-up worker --once
    check_match "CRM back: the next poll starts the run" "$RUN_ERR" \
        "trigger.eml: trigger for job 1042 .*run [a-z0-9]+ started"
    check "... and files the trigger in cur/" test ! -e "$HARDE_DATA_DIR/inbox/new/trigger.eml"
    LEAP_RUN=$(run_of_job 1042)
    drive_run "$LEAP_RUN" "$LOG"
    check_eq "the run against the Leap CRM succeeds" "$(run_field "$LEAP_RUN" status)" succeeded
    py_check "... with one note posted to Leap" <<'PYEOF'
posts = [r for r in requests(E["E2E_TMP"] + "/leap.jsonl")
         if r.get("method") == "POST" and r.get("path", "").endswith("/jobs/1042/notes")]
assert len(posts) == 1, "note POSTs: %d" % len(posts)
PYEOF
    unset LEAP_API_TOKEN HARDE_LEAP_BASE_URL
}

section_faults() {
    use_data faults
    # Bad triggers in the local inbox folder: nothing starts, each is logged
    # and moved out of new/.
    INBOX=$HARDE_DATA_DIR/inbox
    mkdir -p "$INBOX/new" "$INBOX/cur" "$INBOX/tmp"
    write_trigger "$INBOX/new/1-forged.eml" mallory@evil.example \
        "Please produce Primer Video – Job #1068"
    write_trigger "$INBOX/new/2-malformed.eml" "$CRM_SENDER" \
        "Please produce Primer Video – Job #1072" base64 "@@@ this is not base64 !!!"
    write_trigger "$INBOX/new/3-unknown.eml" "$CRM_SENDER" "Please produce Primer Video – Job #9999"
    write_trigger "$INBOX/new/4-noid.eml" "$CRM_SENDER" "Please produce Primer Video"
    printf 'this is not a mail at all\r\n\r\n' >"$INBOX/new/5-garbage.eml"
    run_harde faults-inbox worker --once
    check_status "worker --once on a folder of bad triggers" 0
    check_match "forged trigger logged" "$RUN_ERR" "1-forged.eml: ignored: trigger from a sender not allowed"
    check_match "malformed trigger logged" "$RUN_ERR" "2-malformed.eml: ignored: malformed message"
    check_match "unknown job logged" "$RUN_ERR" "3-unknown.eml: .*not started"
    check_match "trigger without job id logged" "$RUN_ERR" "4-noid.eml: ignored: trigger without a job id"
    check_match "garbage logged" "$RUN_ERR" "5-garbage.eml: ignored"
    harde_json faults-runs runs --json
    py_check "bad triggers start nothing and are moved to cur/" <<'PYEOF'
assert load_json(E["E2E_TMP"] + "/faults-runs.json") == []
d = E["HARDE_DATA_DIR"] + "/inbox"
assert os.listdir(d + "/new") == [], os.listdir(d + "/new")
assert len(os.listdir(d + "/cur")) == 5
assert not os.path.exists(E["HARDE_DATA_DIR"] + "/outbox") or os.listdir(E["HARDE_DATA_DIR"] + "/outbox") == []
PYEOF

    # A trigger that comes while the CRM (Leap, tests/fakes/fake_leap.py) does
    # not answer is not lost: it stays in new/ and the next poll starts it.
    section_crm_down
    use_data faults

    # OpenAI TTS failing twice, then working. HTTP-level retries are off so
    # the workflow's own retry policy is what recovers.
    if ! start_fake_server media python3 "$FAKES_DIR/fake_media.py" --openai-key "$FAKE_API_KEY" \
        --fail-first 2 --fail-path /v1/audio/speech --fail-status 500; then
        not_ok "fake_media starts"
        return
    fi
    MEDIA_PORT=$SERVER_PORT
    HARDE_SPEECH_TTS=openai OPENAI_API_KEY=$FAKE_API_KEY
    OPENAI_BASE_URL=http://127.0.0.1:$MEDIA_PORT/v1 HARDE_SPEECH_MAX_RETRIES=0
    export HARDE_SPEECH_TTS OPENAI_API_KEY OPENAI_BASE_URL HARDE_SPEECH_MAX_RETRIES
    # The first failure also kills the process right after it is recorded
    # (the engine's step.failed point): the next start goes on from there.
    HARDE_TEST_CRASH_AT=step.failed:audio timeout -k 5 90 "$HARDE" primer 1042 --wait 90 \
        >"$E2E_TMP/faults-tts-crash.out" 2>"$E2E_TMP/faults-tts-crash.err" </dev/null
    check_eq "TTS failing: the process dies after the failure is recorded (test hook)" "$?" 137
    run_harde faults-tts primer 1042 --wait 90 --json
    check_status "TTS failing twice, then working: the run succeeds" 0
    cp "$RUN_OUT" "$E2E_TMP/faults-tts.json"
    py_check "... after three attempts of the audio step, three TTS requests" <<'PYEOF'
o = load_json(E["E2E_TMP"] + "/faults-tts.json")
audio = [s for s in o["steps"] if s["name"] == "audio"][0]
assert audio["attempts"] == 3, audio
reqs = [r for r in requests(E["E2E_TMP"] + "/media.jsonl") if "/audio/speech" in r.get("path", "")]
assert len(reqs) == 3, "TTS requests: %d" % len(reqs)
PYEOF
    check_run_outcome "TTS retried" "$(run_of_job 1042)" 1042

    # Failing for good: the run fails with the reason, cleanup runs, a CRM
    # note says so, nothing is sent; `harde run retry` finishes it later.
    fake_faults "$MEDIA_PORT" '{"fail_first": 1000, "fail_path": "/v1/audio/speech", "fail_status": 500}'
    run_harde faults-dead primer 1068 --wait 90 --json
    check_status "TTS failing for good: primer exits non-zero" 1
    FAIL_RUN=$(run_of_job 1068)
    harde_json faults-dead-run run show "$FAIL_RUN" --json
    harde_json faults-dead-crm crm job 1068 --json
    py_check "... the run failed with the reason, cleanup ran, a CRM note says so, no email" <<'PYEOF'
run = load_json(E["E2E_TMP"] + "/faults-dead-run.json")
assert run["status"] == "failed", run["status"]
assert "audio" in run["error"] and "3 attempts" in run["error"], run["error"]
steps = {s["name"]: s for s in run["steps"]}
assert steps["audio"]["status"] == "failed" and steps["audio"]["attempts"] == 3, steps["audio"]
assert steps["cleanup"]["status"] == "succeeded", steps.get("cleanup")
assert "render" not in steps and "deliver" not in steps, list(steps)
notes = load_json(E["E2E_TMP"] + "/faults-dead-crm.json")["notes"]
bad = [n for n in notes if "could not be produced" in n["text"]]
assert len(bad) == 1 and "audio" in bad[0]["text"], notes
import glob
assert not [f for f in glob.glob(E["HARDE_DATA_DIR"] + "/outbox/*.eml") if run["id"] in f]
work = E["HARDE_DATA_DIR"] + "/work"
assert not os.path.isdir(work) or os.listdir(work) == [], os.listdir(work)
PYEOF
    fake_faults "$MEDIA_PORT" '{"fail_first": 0}'
    run_harde faults-retry run retry "$FAIL_RUN"
    check_status "harde run retry ID after the failure" 0
    drive_run "$FAIL_RUN" "$E2E_TMP/faults-retry-worker.log"
    check_eq "the retried run succeeds (carried on by the worker)" \
        "$(run_field "$FAIL_RUN" status)" succeeded
    check_run_outcome "retried after failing for good" "$FAIL_RUN" 1068
    unset HARDE_SPEECH_TTS OPENAI_API_KEY OPENAI_BASE_URL HARDE_SPEECH_MAX_RETRIES

    # S3 uploads failing twice, then working.
    S3_ACCESS=AKIAHARDEPRIMER00001
    S3_SECRET=hardePrimerSecret/0123456789+abcdefghij
    if start_fake_server s3 python3 "$FAKES_DIR/fake_s3.py" --credentials "$S3_ACCESS:$S3_SECRET" \
        --bucket primers --region us-east-2 --fail-puts 2; then
        HARDE_DELIVERY_BACKEND=s3 HARDE_DELIVERY_S3_BUCKET=primers
        HARDE_DELIVERY_S3_REGION=us-east-2 HARDE_DELIVERY_S3_ENDPOINT=http://127.0.0.1:$SERVER_PORT
        AWS_ACCESS_KEY_ID=$S3_ACCESS AWS_SECRET_ACCESS_KEY=$S3_SECRET
        export HARDE_DELIVERY_BACKEND HARDE_DELIVERY_S3_BUCKET HARDE_DELIVERY_S3_REGION \
            HARDE_DELIVERY_S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
        run_harde faults-s3 primer 1072 --wait 120 --json
        check_status "S3 upload failing twice, then working: the run succeeds" 0
        cp "$RUN_OUT" "$E2E_TMP/faults-s3.json"
        py_check "... the upload was tried three times and the link is the S3 object's" <<'PYEOF'
o = load_json(E["E2E_TMP"] + "/faults-s3.json")
puts = [r for r in requests(E["E2E_TMP"] + "/s3.jsonl") if r.get("method") == "PUT"]
assert len(puts) == 3, "PUTs: %d" % len(puts)
assert o["video_url"].startswith("http://127.0.0.1:"), o["video_url"]
assert "/primers/" in o["video_url"] or "primers." in o["video_url"], o["video_url"]
upload = [s for s in o["steps"] if s["name"] == "upload"][0]
print("upload step attempts: %d" % upload["attempts"])
PYEOF
        S3_URL=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["video_url"])' "$E2E_TMP/faults-s3.json")
        S3_VOICE=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["voice_seconds"])' "$E2E_TMP/faults-s3.json")
        if curl -fsS --max-time 30 -o "$E2E_TMP/s3.mp4" "$S3_URL"; then
            ok "the S3 link serves the video"
        else
            not_ok "the S3 link serves the video" "$S3_URL"
        fi
        check_video "... an MP4 of the voice's length" "$E2E_TMP/s3.mp4" "$S3_VOICE"
        unset HARDE_DELIVERY_BACKEND HARDE_DELIVERY_S3_BUCKET HARDE_DELIVERY_S3_REGION \
            HARDE_DELIVERY_S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
    else
        not_ok "fake_s3 starts"
    fi

    # Cancel: a run parked in its wait is cancelled; cleanup runs; nothing is sent.
    run_harde faults-cancel-start primer 1074
    CANCEL_RUN=$(run_of_job 1074)
    HARDE_PRIMER_WAIT_SECONDS=600 timeout -k 5 120 "$HARDE" worker --once \
        >"$E2E_TMP/cancel-worker.log" 2>&1 </dev/null
    check_eq "a run waits in its durable timer" "$(run_field "$CANCEL_RUN" status)" waiting
    run_harde faults-cancel run cancel "$CANCEL_RUN"
    check_status "harde run cancel ID" 0
    drive_run "$CANCEL_RUN" "$E2E_TMP/cancel-worker.log"
    harde_json faults-cancel-run run show "$CANCEL_RUN" --json
    py_check "the cancelled run ran its cleanup and sent nothing" <<'PYEOF'
run = load_json(E["E2E_TMP"] + "/faults-cancel-run.json")
assert run["status"] == "cancelled", run["status"]
steps = {s["name"]: s for s in run["steps"]}
assert steps["cleanup"]["status"] == "succeeded", steps
assert "deliver" not in steps, list(steps)
assert run["email"] is None
import glob
assert not [f for f in glob.glob(E["HARDE_DATA_DIR"] + "/outbox/*.eml") if run["id"] in f]
work = E["HARDE_DATA_DIR"] + "/work"
assert not os.path.isdir(work) or os.listdir(work) == [], os.listdir(work)
PYEOF
    run_harde faults-cancel-show run show "$CANCEL_RUN"
    check_status "run show of a cancelled run exits 1" 1
    check_contains "... and says it was cancelled" "$RUN_OUT" "cancelled by the rep"
}

# ---- crash ---------------------------------------------------------------------------

section_crash() {
    use_data crash
    # 1. Every crash point at every step: the worker kills itself once at each
    # POINT:STEP it reaches and is started again until the run is final.
    mkdir -p "$HARDE_DATA_DIR/inbox/new" "$E2E_TMP/crash-once"
    write_trigger "$HARDE_DATA_DIR/inbox/new/trigger.eml" "$CRM_SENDER" "$TRIGGER_1042"
    LOG=$E2E_TMP/crash-worker.log
    crashes=0 others=0 i=0 run_id=
    while [ "$i" -lt 200 ]; do
        i=$((i + 1))
        HARDE_TEST_CRASH_AT='*' HARDE_TEST_CRASH_ONCE_DIR=$E2E_TMP/crash-once \
            timeout -k 5 120 "$HARDE" worker --once >>"$LOG" 2>&1 </dev/null
        rc=$?
        if [ "$rc" -eq 137 ]; then
            crashes=$((crashes + 1))
            continue
        fi
        [ "$rc" -ne 0 ] && others=$((others + 1))
        [ -n "$run_id" ] || run_id=$(run_of_job 1042)
        [ -n "$run_id" ] && run_is_final "$run_id" && break
        sleep 0.2
    done
    check_eq "no worker exited otherwise than by the hook's SIGKILL or normally" "$others" 0
    diag "$crashes crashes, $i worker starts"
    CRASH_POINTS=$(ls "$E2E_TMP/crash-once" | tr '\n' ' ')
    CRASHES=$crashes STEPS=$STEPS CRASH_POINTS=$CRASH_POINTS py_check "the worker was killed once at every point of every step" <<'PYEOF'
seen = set(E["CRASH_POINTS"].split())
want = set()
for step in E["STEPS"].split():
    for point in ("step.starting", "step.started", "step.returned", "step.recorded"):
        want.add("%s:%s" % (point, step))
want |= {"claimed:context", "run.waiting:deliver", "end.recorded:cleanup",
         "run.finishing:", "run.finished:"}
missing = sorted(want - seen)
assert not missing, "never killed at: %s" % missing
assert int(E["CRASHES"]) == len(seen), (E["CRASHES"], len(seen))
PYEOF
    check_run_outcome "crash at every point" "$run_id" 1042
    check_eq "the run finished exactly once" "$(grep -c "finished: succeeded" "$LOG")" 1
    check_eq "the inbox handled the trigger once" "$(grep -c "new primer run" "$LOG")" 1

    # 2. Killed from outside in the middle of steps: during the audio step and
    # the render (while espeak-ng / ffmpeg run) and during the durable wait.
    use_data crash-mid
    HARDE_PRIMER_WAIT_SECONDS=3
    mkdir -p "$HARDE_DATA_DIR/inbox/new"
    write_trigger "$HARDE_DATA_DIR/inbox/new/trigger.eml" "$CRM_SENDER" "$TRIGGER_1042"
    LOG=$E2E_TMP/mid-worker.log
    stray=
    for stage in audio render; do
        : >"$LOG.$stage"
        start_worker "$LOG.$stage"
        if wait_until 60 has_child "$WORKER_PID" espeak-ng ffmpeg &&
            grep -q " $stage…" "$LOG.$stage"; then
            kill_worker "$WORKER_PID"
            ok "worker killed in the middle of $stage (children: ${KILLED_CHILDREN:-none})"
            [ -n "$STRAY_CHILDREN" ] && stray="$stray $STRAY_CHILDREN"
        else
            # The previous step may still be running: wait for this one.
            if wait_until 60 grep -q " $stage…" "$LOG.$stage" &&
                wait_until 30 has_child "$WORKER_PID" espeak-ng ffmpeg; then
                kill_worker "$WORKER_PID"
                ok "worker killed in the middle of $stage (children: ${KILLED_CHILDREN:-none})"
                [ -n "$STRAY_CHILDREN" ] && stray="$stray $STRAY_CHILDREN"
            else
                not_ok "worker killed in the middle of $stage" "$(tail -n 5 "$LOG.$stage")"
                kill_worker "$WORKER_PID"
            fi
        fi
        cat "$LOG.$stage" >>"$LOG"
    done
    start_worker "$LOG.wait"
    if wait_until 60 grep -q "waiting until" "$LOG.wait"; then
        kill_worker "$WORKER_PID"
        ok "worker killed during the durable wait"
    else
        not_ok "worker killed during the durable wait" "$(tail -n 5 "$LOG.wait")"
        kill_worker "$WORKER_PID"
    fi
    cat "$LOG.wait" >>"$LOG"
    [ -n "$stray" ] && diag "children that outlived the killed worker (killed by PID):$stray"
    left=
    for pid in $stray; do
        kill -0 "$pid" 2>/dev/null && left="$left $pid"
    done
    check_eq "no espeak-ng/ffmpeg child is left running" "$left" ""
    start_worker "$LOG.end"
    run_id=$(run_of_job 1042)
    wait_until "$WAIT_LIMIT" run_is_final "$run_id"
    e2e_stop_pid "$WORKER_PID"
    cat "$LOG.end" >>"$LOG"
    check_contains "the worker restarted after the audio kill resumed the run at once" \
        "$LOG.render" "is gone; resuming it now (running, step audio)"
    check_contains "the worker restarted after the render kill resumed the run at once" \
        "$LOG.wait" "is gone; resuming it now (running, step render)"
    harde_json mid-run run show "$run_id" --json
    py_check "the audio and render steps ran again after their kills" <<'PYEOF'
run = load_json(E["E2E_TMP"] + "/mid-run.json")
steps = {s["name"]: s for s in run["steps"]}
assert steps["audio"]["attempts"] == 2, steps["audio"]
assert steps["render"]["attempts"] == 2, steps["render"]
PYEOF
    check_run_outcome "killed mid-step" "$run_id" 1042
    check_eq "... finished exactly once" "$(grep -c "finished: succeeded" "$LOG")" 1
    HARDE_PRIMER_WAIT_SECONDS=1
}

export E2E_TMP STEPS

if ! have_harde; then
    skip "primer video end to end" "binary missing"
    done_testing
fi
for tool in ffmpeg ffprobe espeak-ng curl; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        skip "primer video end to end" "$tool is not installed"
        done_testing
    fi
done
for section in cli real faults crash; do
    if wanted "$section"; then
        s0=$(date +%s)
        "section_$section"
        diag "section $section: $(($(date +%s) - s0)) s"
    fi
done
done_testing
