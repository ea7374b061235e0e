#!/bin/sh
# test_serve.sh — `harde serve` end to end: the real binary on 127.0.0.1 at a
# port the kernel picks, a fresh data directory, no API key (the local model).
#
# Covers: the first start creating admin with a one-time password; users and
# tokens from the CLI (`harde user`, `harde token`); login, logout, /v1/me,
# the cookie's flags, CSRF required and checked, bearer tokens; the error
# shape for malformed JSON (400), unknown routes (404), wrong methods (405),
# bodies over the limit (413); a streamed turn (agent, deltas, final with the
# quote 21,368.67) and a JSON turn; sessions; /v1/quote good and bad;
# /v1/crm/search; /healthz, /readyz, /metrics, /openapi.json, the page and
# its CSP; /d/ serving a delivered file and refusing traversal and symlinks;
# the login rate limits (per name, per address) and the per-user request
# limit; an AUTHORIZATION MATRIX of every endpoint x {anonymous, rep A, rep B,
# manager of A's team, manager of another team, admin}; and a client that
# disconnects mid-stream cancelling its turn (seen in /metrics and the log),
# with the fake OpenAI server streaming slowly as the model.
#
# Owns: up to three `harde serve` processes and one fake, each stopped by its
# own PID (lib.sh), and files under $E2E_TMP. The HTTP checks are one Python
# program (written below to $E2E_TMP/serve_checks.py) run once per phase; it
# prints "PASS<TAB>name" / "FAIL<TAB>name<TAB>detail" lines that become TAP.
. "$(dirname "$0")/lib.sh"

PW=pw-e2e-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
CHECKS=$E2E_TMP/serve_checks.py

# start_serve NAME [VAR=VALUE...] — starts `harde serve` with extra
# environment; sets SERVE_PORT, SERVE_PID, SERVE_OUT (stdout) and SERVE_ERR.
start_serve() {
    ss_name=$1
    shift
    SERVE_OUT=$E2E_TMP/$ss_name.out
    SERVE_ERR=$E2E_TMP/$ss_name.err
    rm -f "$E2E_TMP/$ss_name.port"
    env "$@" "$HARDE" serve --host 127.0.0.1 --port 0 --port-file "$E2E_TMP/$ss_name.port" \
        >"$SERVE_OUT" 2>"$SERVE_ERR" </dev/null &
    SERVE_PID=$!
    E2E_PIDS="$E2E_PIDS $SERVE_PID"
    ss_i=0
    while [ ! -s "$E2E_TMP/$ss_name.port" ]; do
        if [ "$ss_i" -ge 300 ] || ! kill -0 "$SERVE_PID" 2>/dev/null; then
            not_ok "$ss_name: harde serve starts" "$(e2e_show "$SERVE_ERR")"
            return 1
        fi
        sleep 0.05
        ss_i=$((ss_i + 1))
    done
    SERVE_PORT=$(tr -dc 0-9 <"$E2E_TMP/$ss_name.port")
    return 0
}

# stop_serve NAME — stops the last server started (SIGTERM) and checks it
# stopped cleanly: exit status 0, no sanitizer report on its stderr.
stop_serve() {
    kill -TERM "$SERVE_PID" 2>/dev/null
    st_i=0
    while [ "$st_i" -lt 200 ] && kill -0 "$SERVE_PID" 2>/dev/null &&
        [ "$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$SERVE_PID/status" \
            2>/dev/null)" != Z ]; do
        sleep 0.05
        st_i=$((st_i + 1))
    done
    if [ "$st_i" -ge 200 ]; then
        e2e_stop_pid "$SERVE_PID"
        not_ok "$1: the server stops within 10 s of SIGTERM"
        return
    fi
    wait "$SERVE_PID"
    st_rc=$?
    e2e_stop_pid "$SERVE_PID"
    if [ "$st_rc" -eq 0 ] && ! grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$SERVE_ERR"; then
        ok "$1: the server stops cleanly on SIGTERM (exit 0, no sanitizer report)"
    else
        not_ok "$1: the server stops cleanly on SIGTERM (exit 0, no sanitizer report)" \
            "exit status $st_rc
$(grep -E -A30 "Sanitizer|runtime error" "$SERVE_ERR" | head -n 60)"
    fi
}

# add_user NAME ROLE TEAM — `harde user add`, the password on stdin.
add_user() {
    printf '%s\n' "$PW" | timeout 60 "$HARDE" user add "$1" --role "$2" --team "$3" \
        >"$E2E_TMP/user-$1.out" 2>&1
}

# new_token NAME — prints a new bearer token for NAME.
new_token() {
    timeout 60 "$HARDE" token create "$1" --label e2e 2>>"$E2E_TMP/tokens.err" </dev/null
}

# checks PHASE — runs one phase of the Python checks and relays its results.
checks() {
    python3 "$CHECKS" "$1" >"$E2E_TMP/phase-$1.out" 2>&1
    py_rc=$?
    seen=0
    tab=$(printf '\t')
    while IFS="$tab" read -r kind name detail; do
        case $kind in
        PASS) ok "$name" ;;
        FAIL) not_ok "$name" "$(printf '%b' "$detail")" ;;
        *) continue ;;
        esac
        seen=$((seen + 1))
    done <"$E2E_TMP/phase-$1.out"
    if [ "$py_rc" -ne 0 ] || [ "$seen" -eq 0 ]; then
        not_ok "phase $1 ran to its end" "$(tail -n 30 "$E2E_TMP/phase-$1.out")"
    fi
}

write_checks() {
    cat >"$CHECKS" <<'PYEOF'
import http.client, json, os, re, select, socket, sys, time

E = os.environ
PHASE = sys.argv[1]
PORT = int(E.get("SERVE_PORT", "0"))
QUESTION = "price a 2400 sq ft hip roof, 7/12, architectural, one layer"
ROOF = {"roof": {"area_sqft": 2400, "style": "hip", "pitch_rise": 7, "layers": 1,
                 "material": "architectural"}}

def report(ok, name, detail=""):
    if ok:
        print("PASS\t%s" % name)
    else:
        d = str(detail).replace("\\", "\\\\").replace("\t", " ").replace("\n", "\\n")[:3000]
        print("FAIL\t%s\t%s" % (name, d))
    sys.stdout.flush()
    return ok

class Resp:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body
    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None
    def all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]
    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except ValueError:
            return None
    def __repr__(self):
        return "HTTP %d %s" % (self.status, self.body[:600].decode("utf-8", "replace"))

def req(method, path, body=None, token=None, cookie=None, csrf=None, headers=None, port=None,
        raw=None):
    h = dict(headers or {})
    if token:
        h["Authorization"] = "Bearer " + token
    if cookie:
        h["Cookie"] = "harde_session=" + cookie
    if csrf:
        h["X-CSRF-Token"] = csrf
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        h.setdefault("Content-Type", "application/json")
    c = http.client.HTTPConnection("127.0.0.1", port or PORT, timeout=60)
    c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    out = Resp(r.status, r.getheaders(), r.read())
    c.close()
    return out

def is_error_shape(r):
    j = r.json()
    return isinstance(j, dict) and isinstance(j.get("error"), dict) and \
        isinstance(j["error"].get("code"), str) and isinstance(j["error"].get("message"), str)

def expect(name, r, status, code=None):
    ok = r.status == status
    if ok and status >= 400:
        ok = is_error_shape(r) and (code is None or r.json()["error"]["code"] == code)
    return report(ok, name, "want %d%s, got %r" % (status, " " + code if code else "", r))

def login(name, password, port=None):
    r = req("POST", "/v1/login", {"name": name, "password": password}, port=port)
    cookie = None
    for v in r.all("Set-Cookie"):
        m = re.match(r"harde_session=([^;]*)", v)
        if m:
            cookie = m.group(1)
    j = r.json() or {}
    return r, cookie, j.get("csrf_token")

def sse(path, body, token=None, cookie=None, csrf=None):
    """POSTs and reads a whole SSE answer: (status, content type, [(event, data)])."""
    r = req("POST", path, body, token=token, cookie=cookie, csrf=csrf,
            headers={"Accept": "text/event-stream"})
    events, name, data = [], "message", []
    for line in re.split(r"\r\n|\r|\n", r.body.decode("utf-8")):
        if line == "":
            if data:
                events.append((name, "\n".join(data)))
            name, data = "message", []
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip(" "))
    return r, events

TOK = {k: E.get("TOKEN_" + k) for k in ("repA", "repB", "mgrA", "mgrB", "admin")}

def new_session(token, title="t"):
    r = req("POST", "/v1/sessions", {"title": title}, token=token)
    assert r.status == 201, r
    return r.json()["id"]

# ---- phases ---------------------------------------------------------------------

def phase_basics():
    r = req("GET", "/healthz")
    report(r.status == 200 and r.json() == {"ok": True}, "/healthz answers {ok: true}", r)
    r = req("GET", "/readyz")
    report(r.status == 200 and r.json().get("ok") is True and r.json().get("model") == "local",
           "/readyz is ready with the local model", r)
    r = req("GET", "/openapi.json")
    doc = r.json() or {}
    paths = doc.get("paths", {})
    want = ["/v1/login", "/v1/logout", "/v1/me", "/v1/sessions", "/v1/sessions/{id}",
            "/v1/sessions/{id}/messages", "/v1/quote", "/v1/crm/search", "/healthz",
            "/readyz", "/metrics", "/openapi.json", "/d/{token}/{name}"]
    report(r.status == 200 and str(doc.get("openapi", "")).startswith("3.") and
           all(p in paths for p in want) and "application/json" in (r.header("Content-Type") or ""),
           "/openapi.json is OpenAPI 3 and describes every route",
           [p for p in want if p not in paths])
    r = req("GET", "/")
    csp = r.header("Content-Security-Policy") or ""
    report(r.status == 200 and b"<html" in r.body and "default-src 'self'" in csp and
           "text/html" in (r.header("Content-Type") or ""),
           "the page is served with a strict CSP", r.headers)
    r = req("GET", "/app.js")
    etag = r.header("ETag")
    report(r.status == 200 and etag and r.header("Cache-Control") and
           "javascript" in (r.header("Content-Type") or ""), "app.js has an ETag and cache headers",
           r.headers)
    r2 = req("GET", "/app.js", headers={"If-None-Match": etag or "x"})
    report(r2.status == 304 and not r2.body, "app.js revalidates with 304", r2)
    r = req("GET", "/style.css")
    report(r.status == 200 and "text/css" in (r.header("Content-Type") or ""), "style.css served", r)
    r = req("GET", "/metrics")
    text = r.body.decode()
    report(r.status == 200 and "harde_http_requests_total{" in text and
           "harde_http_request_duration_seconds_bucket" in text and
           "harde_http_active_streams" in text and "text/plain" in (r.header("Content-Type") or ""),
           "/metrics is Prometheus text with requests, latencies and streams", text[:800])
    expect("an unknown route is 404 in the error shape", req("GET", "/v1/nope"), 404, "not_found")
    r = req("DELETE", "/v1/me")
    report(r.status == 405 and is_error_shape(r) and "GET" in (r.header("Allow") or ""),
           "a wrong method is 405 with Allow", r)
    # The server may answer 413 as soon as it sees Content-Length and close
    # while the body is still being sent: send what it takes, then read.
    s = socket.create_connection(("127.0.0.1", PORT), timeout=20)
    head = ("POST /v1/quote HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
            % (TOK["repA"], 2 << 20)).encode()
    raw = b""
    s.sendall(head)
    if not select.select([s], [], [], 2)[0]:  # no early answer: send the body
        try:
            for _ in range(32):
                s.sendall(b"x" * (64 << 10))
        except OSError:
            pass
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            raw += chunk
    except OSError:
        pass
    s.close()
    body = raw.split(b"\r\n\r\n", 1)[-1]
    report(raw.startswith(b"HTTP/1.1 413") and b'"error"' in body,
           "a body over the limit is 413", raw[:300])
    r = req("POST", "/v1/quote", raw=b'{"roof": {"area_sqft": 2400,', token=TOK["repA"])
    report(r.status == 400 and is_error_shape(r) and r.json()["error"]["code"] == "bad_request"
           and "malformed JSON" in r.json()["error"]["message"]
           and "line" in r.json()["error"]["message"],
           "malformed JSON is 400 with the reason", r)
    r = req("POST", "/v1/quote", raw=b"[1, 2]", token=TOK["repA"])
    expect("a JSON body that is not an object is 400", r, 400, "bad_request")

def phase_auth():
    pw = E["PW"]
    r, cookie, csrf = login("repA", pw + "-wrong")
    expect("a wrong password is 401", r, 401, "unauthorized")
    report(not r.all("Set-Cookie"), "a failed login sets no cookie", r.headers)
    r = req("POST", "/v1/login", raw=("name=repA&password=" + pw).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"})
    report(r.status == 400 and not r.all("Set-Cookie"),
           "a login that is not application/json (a cross-site form) is refused", r)
    r = req("POST", "/v1/login", {"name": "repA"})
    report(r.status == 400 and "details" in (r.json() or {}).get("error", {}),
           "a login without a password is 400 with details", r)
    r, cookie, csrf = login("repA", pw)
    sc = " ".join(r.all("Set-Cookie"))
    report(r.status == 200 and cookie and csrf and r.json()["user"] ==
           {"name": "repA", "role": "rep", "team": "north"}, "login answers the user and a CSRF token", r)
    report("HttpOnly" in sc and "SameSite=Strict" in sc and "Path=/" in sc and "Secure" not in sc,
           "the cookie is HttpOnly, SameSite=Strict, Path=/ (no Secure without secure_cookies)", sc)
    report(len(cookie or "") >= 64 and cookie != csrf, "the cookie is a long random token", cookie)
    me = req("GET", "/v1/me", cookie=cookie)
    report(me.status == 200 and me.json().get("name") == "repA" and
           me.json().get("csrf_token") == csrf, "/v1/me with the cookie returns the CSRF token", me)
    r = req("POST", "/v1/sessions", {"title": "x"}, cookie=cookie)
    expect("a cookie POST without X-CSRF-Token is 403", r, 403, "forbidden")
    r = req("POST", "/v1/sessions", {"title": "x"}, cookie=cookie, csrf="0" * 64)
    expect("a cookie POST with a wrong X-CSRF-Token is 403", r, 403, "forbidden")
    r = req("POST", "/v1/sessions", {"title": "with csrf"}, cookie=cookie, csrf=csrf)
    report(r.status == 201 and r.json().get("owner") == "repA",
           "a cookie POST with the right X-CSRF-Token works", r)
    r = req("GET", "/v1/sessions", cookie=cookie)
    report(r.status == 200, "a cookie GET needs no CSRF token", r)
    r = req("POST", "/v1/sessions", {"title": "bearer"}, token=TOK["repA"])
    report(r.status == 201, "a bearer POST needs no CSRF token", r)
    me = req("GET", "/v1/me", token=TOK["repA"])
    report(me.status == 200 and me.json() == {"name": "repA", "role": "rep", "team": "north"},
           "/v1/me with a bearer token (no CSRF token)", me)
    expect("an unknown bearer token is 401", req("GET", "/v1/me", token="hde_" + "0" * 64), 401)
    expect("no credentials is 401", req("GET", "/v1/me"), 401, "unauthorized")
    expect("a made-up cookie is 401", req("GET", "/v1/me", cookie="f" * 64), 401)
    r = req("POST", "/v1/logout", {}, cookie=cookie)
    sc = " ".join(r.all("Set-Cookie"))
    report(r.status == 403, "logout with the cookie needs the CSRF token too", r)
    r = req("POST", "/v1/logout", {}, cookie=cookie, csrf=csrf)
    sc = " ".join(r.all("Set-Cookie"))
    report(r.status == 200 and "Max-Age=0" in sc and "harde_session=;" in sc,
           "logout answers ok and clears the cookie", (r, sc))
    expect("the cookie is dead after logout", req("GET", "/v1/me", cookie=cookie), 401)
    # The one-time admin password printed at the first start works.
    r, c2, _ = login("admin", E["ADMIN_PW"])
    report(r.status == 200 and r.json()["user"]["role"] == "admin",
           "admin signs in with the one-time password printed at first start", r)

def phase_turns():
    tok = TOK["repA"]
    sid = new_session(tok, "pricing")
    r, events = sse("/v1/sessions/%s/messages" % sid, {"text": QUESTION}, token=tok)
    names = [e for e, _ in events]
    report(r.status == 200 and "text/event-stream" in (r.header("Content-Type") or ""),
           "a streamed turn answers text/event-stream", r)
    report(names and names[0] == "agent" and names[-1] == "final" and names.count("final") == 1,
           "SSE events start with agent and end with one final", names)
    deltas = [i for i, n in enumerate(names) if n == "delta"]
    report(len(deltas) >= 2 and deltas[-1] < len(names) - 1, "deltas stream before final", names)
    report("tool_started" in names and "tool_finished" in names and
           names.index("tool_started") < names.index("tool_finished") < deltas[0],
           "tool activity comes before the answer", names)
    datas = [json.loads(d) for _, d in events]
    final = datas[-1]
    text = "".join(d["text"] for (n, _), d in zip(events, datas) if n == "delta")
    q = final.get("quote") or {}
    report(abs(q.get("total", 0) - 21368.67) < 0.001 and q.get("subtotal") == 19924.17 and
           len(q.get("options", [])) == 3, "final carries the quote: total 21368.67", final)
    report(final.get("agent") == "Pricing" and final.get("flow") == "agent" and
           "21,368.67" in final.get("text", "") and final.get("text") == text and
           final.get("path") == ["Triage", "Pricing"] and "state" in final,
           "final has the text (= the deltas), agent, path, flow and state", final)
    ev = dict((n, d) for (n, _), d in zip(events, datas))
    report(ev.get("tool_started", {}).get("tool") == "quote" and
           "pric" in ev.get("tool_started", {}).get("activity", ""),
           "tool_started names the tool and its activity", ev.get("tool_started"))
    # A JSON turn in the same session (the conversation continues).
    r = req("POST", "/v1/sessions/%s/messages" % sid, {"text": QUESTION}, token=tok)
    j = r.json() or {}
    report(r.status == 200 and abs((j.get("quote") or {}).get("total", 0) - 21368.67) < 0.001 and
           isinstance(j.get("items"), list) and isinstance(j.get("usage"), list) and
           j.get("flow") in ("agent", "fast") and "21,368.67" in j.get("final", ""),
           "a JSON turn answers final, items, usage and the quote", r)
    r = req("GET", "/v1/sessions/" + sid, token=tok)
    s = r.json() or {}
    msgs = s.get("messages", [])
    report(r.status == 200 and s.get("title") == "pricing" and len(msgs) == 4 and
           msgs[0] == {"role": "user", "content": QUESTION} and msgs[1]["role"] == "assistant" and
           msgs[1].get("agent") == "Pricing" and "state" in s,
           "the session keeps both turns (tool traffic left out)", r)
    r = req("GET", "/v1/sessions", token=tok)
    ids = [x["id"] for x in (r.json() or {}).get("sessions", [])]
    report(r.status == 200 and ids and ids[0] == sid, "the session list is newest first", r)
    expect("a message without text is 400", req("POST", "/v1/sessions/%s/messages" % sid,
                                                {"text": ""}, token=tok), 400, "bad_request")
    expect("a message to an unknown session is 404",
           req("POST", "/v1/sessions/nope/messages", {"text": "hi"}, token=tok), 404)
    # A new-client workflow leaves a state with filled and missing fields.
    sid2 = new_session(tok, "client")
    r = req("POST", "/v1/sessions/%s/messages" % sid2, {"text": "new client Maria Lopez"}, token=tok)
    st = (r.json() or {}).get("state") or {}
    report(r.status == 200 and st.get("kind") == "new_client" and st.get("missing") and
           any(f.get("filled") for f in st.get("fields", [])),
           "a workflow state comes back with filled and missing fields", r)
    # The quote endpoint.
    r = req("POST", "/v1/quote", ROOF, token=tok)
    report(r.status == 200 and r.json().get("total") == 21368.67 and b"21368.67" in r.body,
           "/v1/quote prices the roof to the cent", r)
    r = req("POST", "/v1/quote", {"roof": {"area_sqft": -5, "pitch_rise": 99, "material": "gold"}},
            token=tok)
    det = ((r.json() or {}).get("error") or {}).get("details") or []
    report(r.status == 400 and is_error_shape(r) and len(det) >= 2 and
           all(isinstance(x, str) for x in det), "/v1/quote refuses a bad request with every problem",
           r)
    # The CRM.
    r = req("GET", "/v1/crm/search?q=garcia", token=tok)
    cs = (r.json() or {}).get("customers", [])
    report(r.status == 200 and cs and cs[0].get("name") == "Rosa Garcia" and cs[0].get("jobs") and
           set(cs[0]["jobs"][0]) >= {"id", "trade", "stage", "stage_label"} and cs[0].get("phone"),
           "/v1/crm/search finds the customer with their jobs", r)
    expect("/v1/crm/search without q is 400", req("GET", "/v1/crm/search", token=tok), 400)
    # Delivered files.
    r = req("GET", "/d/%s/primer.mp4" % E["DELIVERY_TOKEN"])
    report(r.status == 200 and r.body == b"fake mp4 bytes\n" and
           r.header("Content-Type") == "video/mp4", "/d/ serves a delivered file with its type", r)
    for path in ("/d/%s/..%%2F..%%2Fharde.sqlite" % E["DELIVERY_TOKEN"],
                 "/d/..%2F..%2F/harde.sqlite", "/d/%s/passwd" % E["DELIVERY_TOKEN"],
                 "/d/%s/.type" % E["DELIVERY_TOKEN"], "/d/%s/primer.mp4" % ("0" * 32)):
        r = req("GET", path)
        report(r.status in (400, 404) and b"root:" not in r.body and b"SQLite" not in r.body,
               "/d/ refuses %s" % path, r)
    s = socket.create_connection(("127.0.0.1", PORT), timeout=10)
    s.sendall(b"GET /d/../../harde.sqlite HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    raw = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        raw += chunk
    s.close()
    report(raw.split(b" ")[1] in (b"400", b"404") and b"SQLite" not in raw,
           "/d/ refuses a literal ../ path", raw[:200])

def phase_login_limit():
    pw = E["PW"]
    statuses = [login("victim", pw + "-wrong")[0].status for _ in range(5)]
    report(statuses == [401] * 5, "five wrong passwords are 401", statuses)
    r = login("victim", pw + "-wrong")[0]
    ra = r.header("Retry-After")
    report(r.status == 429 and is_error_shape(r) and ra and int(ra) > 0,
           "the sixth attempt for that name is 429 with Retry-After", r)
    r = login("victim", pw)[0]
    expect("...even with the right password (per-name limit)", r, 429, "rate_limited")
    r = login("repB", pw)[0]
    report(r.status == 200, "other names are not affected", r)
    m = req("GET", "/metrics").body.decode()
    report('harde_logins_total{outcome="limited"}' in m and
           'harde_logins_total{outcome="failed"}' in m, "logins are counted in /metrics", "")

def phase_limits():
    # The second server: HARDE_WEB_RATE_BURST=5, HARDE_WEB_LOGIN_ATTEMPTS=4.
    got = [req("GET", "/v1/me", token=TOK["repB"]).status for _ in range(6)]
    report(got[:5] == [200] * 5, "five requests within the burst pass", got)
    r = req("GET", "/v1/me", token=TOK["repB"])
    report(r.status == 429 and int(r.header("Retry-After") or 0) >= 1 and is_error_shape(r),
           "the per-user limit answers 429 with Retry-After", r)
    report(req("GET", "/v1/me", token=TOK["repA"]).status == 200,
           "the per-user limit is per user", "")
    got = [login("nobody%d" % i, "x" * 10)[0].status for i in range(4)]
    report(got == [401] * 4, "four failed logins from one address are 401", got)
    r = login("repA", E["PW"])[0]
    report(r.status == 429 and r.header("Retry-After"),
           "then the address is limited (429), whatever the name", r)

def phase_cancel():
    tok = TOK["repA"]
    sid = new_session(tok, "cancel")
    body = json.dumps({"text": "what do I say when they want to think about it?"}).encode()
    s = socket.create_connection(("127.0.0.1", PORT), timeout=20)
    s.sendall(b"POST /v1/sessions/" + sid.encode() + b"/messages HTTP/1.1\r\nHost: x\r\n"
              b"Authorization: Bearer " + tok.encode() + b"\r\nAccept: text/event-stream\r\n"
              b"Content-Type: application/json\r\nContent-Length: " + str(len(body)).encode() +
              b"\r\n\r\n" + body)
    got, t0 = b"", time.time()
    while b"event: delta" not in got and time.time() - t0 < 20:
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    report(b"event: delta" in got, "the slow answer starts streaming", got[:400])
    s.close()
    t1 = time.time()
    canceled = False
    while time.time() - t1 < 10 and not canceled:
        m = req("GET", "/metrics").body.decode()
        canceled = re.search(r'harde_turns_total\{flow="\w+",outcome="canceled"\} [1-9]', m)
        if not canceled:
            time.sleep(0.1)
    report(canceled and time.time() - t1 < 5,
           "closing the connection cancels the turn (metric) within seconds", m[-1500:])
    r = req("GET", "/v1/sessions/" + sid, token=tok)
    report(r.status == 200 and r.json()["messages"] == [],
           "the cancelled turn left the session as it was", r)

def phase_matrix():
    """Every endpoint x every identity, by bearer token (cookies: spot checks)."""
    ids = ["anon", "repA", "repB", "mgrA", "mgrB", "admin"]
    sA = E["SESSION_A"]
    def row(name, want, call):
        got = {}
        for who in ids:
            try:
                got[who] = call(TOK.get(who), who).status
            except Exception as e:  # noqa
                got[who] = repr(e)
        ok = all(got[w] == want[i] for i, w in enumerate(ids))
        report(ok, "matrix: %s" % name,
               "want %s\ngot  %s" % (dict(zip(ids, want)), got))
    A = lambda code: [401] + [code] * 5
    row("POST /v1/logout", A(200), lambda t, w: req("POST", "/v1/logout", {}, token=t))
    row("GET /v1/me", A(200), lambda t, w: req("GET", "/v1/me", token=t))
    row("GET /v1/sessions", A(200), lambda t, w: req("GET", "/v1/sessions", token=t))
    row("GET /v1/sessions?owner=repA", [401, 200, 403, 200, 403, 200],
        lambda t, w: req("GET", "/v1/sessions?owner=repA", token=t))
    row("GET /v1/sessions?owner=*", A(200), lambda t, w: req("GET", "/v1/sessions?owner=*", token=t))
    row("POST /v1/sessions", [401, 201, 201, 201, 201, 201],
        lambda t, w: req("POST", "/v1/sessions", {"title": "m"}, token=t))
    row("GET /v1/sessions/{A's}", [401, 200, 404, 200, 404, 200],
        lambda t, w: req("GET", "/v1/sessions/" + sA, token=t))
    row("POST /v1/sessions/{A's}/messages", [401, 200, 404, 403, 404, 403],
        lambda t, w: req("POST", "/v1/sessions/%s/messages" % sA, {"text": "hello"}, token=t))
    row("POST /v1/quote", A(200), lambda t, w: req("POST", "/v1/quote", ROOF, token=t))
    row("GET /v1/crm/search", A(200), lambda t, w: req("GET", "/v1/crm/search?q=garcia", token=t))
    row("GET /v1/users", [401, 403, 403, 403, 403, 200], lambda t, w: req("GET", "/v1/users", token=t))
    row("POST /v1/users", [401, 403, 403, 403, 403, 201],
        lambda t, w: req("POST", "/v1/users", {"name": "made-by-" + w, "role": "rep",
                                               "password": "long-enough-pw"}, token=t))
    row("DELETE /v1/users/{name}", [401, 403, 403, 403, 403, 200],
        lambda t, w: req("DELETE", "/v1/users/doomed", token=t))
    row("POST /v1/login (public; wrong password)", [401] * 6,
        lambda t, w: req("POST", "/v1/login", {"name": "nobody-" + w, "password": "wrong-pw"},
                         token=t))
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/", "/app.js",
                 "/d/%s/primer.mp4" % E["DELIVERY_TOKEN"]):
        row("GET %s (public)" % path, [200] * 6, lambda t, w, p=path: req("GET", p, token=t))
    # The same decisions through cookies.
    pw = E["PW"]
    for who, want in (("repA", 200), ("repB", 404), ("mgrA", 200), ("mgrB", 404)):
        _, cookie, csrf = login(who, pw)
        r = req("GET", "/v1/sessions/" + sA, cookie=cookie)
        report(r.status == want, "matrix (cookie): %s reads A's session: %d" % (who, want), r)
    _, cookie, csrf = login("mgrA", pw)
    r = req("POST", "/v1/sessions/%s/messages" % sA, {"text": "hi"}, cookie=cookie, csrf=csrf)
    expect("matrix (cookie): a manager cannot write to a rep's session", r, 403, "forbidden")
    r = req("DELETE", "/v1/users/admin", token=TOK["admin"])
    expect("an admin cannot delete their own account", r, 409, "conflict")
    expect("a deleted user's token is dead", req("GET", "/v1/me", token=TOK["doomed"]), 401)
    r, cookie, _ = login("doomed", pw)
    report(r.status == 401 and cookie is None, "a deleted user cannot sign in", r)

TOK["doomed"] = E.get("TOKEN_doomed")
PHASES = {"basics": phase_basics, "auth": phase_auth, "turns": phase_turns,
          "matrix": phase_matrix, "login_limit": phase_login_limit, "limits": phase_limits,
          "cancel": phase_cancel}
PHASES[PHASE]()
PYEOF
}

t_cli() {
    run_harde serve-help serve --help
    check_status "harde serve --help" 0
    check_contains "serve --help names --port-file" "$RUN_OUT" "--port-file"
    for u in "repA rep north" "repB rep south" "mgrA manager north" "mgrB manager south" \
        "victim rep north" "doomed rep south"; do
        # shellcheck disable=SC2086
        set -- $u
        if add_user "$1" "$2" "$3"; then ok "harde user add $1 --role $2"; else
            not_ok "harde user add $1" "$(cat "$E2E_TMP/user-$1.out")"
        fi
    done
    printf 'short\n' | timeout 60 "$HARDE" user add shorty --role rep >"$E2E_TMP/short.out" 2>&1
    check_status "a too short password is refused" nonzero $?
    printf '%s\n' "$PW" | timeout 60 "$HARDE" user add repA --role rep >"$E2E_TMP/dup.out" 2>&1
    check_status "adding an existing user fails" nonzero $?
    printf '%s\n' "$PW" | timeout 60 "$HARDE" user add bad --role king >"$E2E_TMP/role.out" 2>&1
    check_status "an unknown role is a usage error" 2 $?
    run_harde user-list user list --json
    py_check "harde user list shows every user with role and team" <<'PY'
users = {u["name"]: u for u in load_json(E["RUN_OUT"])}
assert users["mgrA"]["role"] == "manager" and users["mgrA"]["team"] == "north", users
assert users["admin"]["role"] == "admin", users
assert "password_hash" not in users["repA"] and "hash" not in str(users), users
PY
    for u in repA repB mgrA mgrB admin doomed; do
        t=$(new_token "$u")
        eval "TOKEN_$u=\$t"
        export "TOKEN_$u"
    done
    case $TOKEN_repA in
    hde_????????????????????????????????????????????????????????????????) ok "harde token create prints an hde_ token" ;;
    *) not_ok "harde token create prints an hde_ token" "got: $TOKEN_repA $(cat "$E2E_TMP/tokens.err")" ;;
    esac
    run_harde token-list token list repA
    check_not_contains "harde token list never shows the token" "$RUN_OUT" "$TOKEN_repA"
    cat "$HARDE_DATA_DIR"/harde.sqlite* >"$E2E_TMP/store.bytes" 2>/dev/null
    check_not_contains "the store holds no raw token" "$E2E_TMP/store.bytes" "$TOKEN_repA"
    check_not_contains "the store holds no password" "$E2E_TMP/store.bytes" "$PW"
}

t_first_start() {
    start_serve first || return 1
    ADMIN_PW=$(sed -n 's/.*admin, password \([^ ]*\).*/\1/p' "$SERVE_OUT")
    export ADMIN_PW
    if [ -n "$ADMIN_PW" ]; then ok "the first start creates admin and prints a password once"; else
        not_ok "the first start creates admin and prints a password once" "$(e2e_show "$SERVE_OUT")"
    fi
    check_match "it prints the address to open" "$SERVE_OUT" "http://127\.0\.0\.1:$SERVE_PORT/"
    stop_serve first
    start_serve second || return 1
    check_not_contains "a second start creates no admin" "$SERVE_OUT" "password"
    stop_serve second
}

t_delivery_files() {
    DELIVERY_TOKEN=0123456789abcdef0123456789abcdef
    export DELIVERY_TOKEN
    dir=$HARDE_DATA_DIR/delivery/$DELIVERY_TOKEN
    mkdir -p "$dir"
    printf 'fake mp4 bytes\n' >"$dir/primer.mp4"
    printf 'video/mp4' >"$dir/.type"
    ln -s /etc/passwd "$dir/passwd"
}

t_main() {
    start_serve main HARDE_WEB_LOGIN_ATTEMPTS=200 HARDE_LOG_LEVEL=info || return 1
    export SERVE_PORT PW
    checks basics
    checks auth
    checks turns
    # Rep A's session for the matrix.
    SESSION_A=$(python3 -c '
import http.client, json, sys, os
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
c.request("POST", "/v1/sessions", json.dumps({"title": "A"}),
          {"Authorization": "Bearer " + os.environ["TOKEN_repA"]})
print(json.loads(c.getresponse().read())["id"])' "$SERVE_PORT")
    export SESSION_A
    checks matrix
    checks login_limit
    stop_serve main
}

t_limits() {
    start_serve limits HARDE_WEB_RATE_BURST=5 HARDE_WEB_RATE_PER_MINUTE=6 \
        HARDE_WEB_LOGIN_ATTEMPTS=4 || return 1
    export SERVE_PORT
    checks limits
    stop_serve limits
}

t_cancel() {
    cat >"$E2E_TMP/slow.json" <<'EOF'
[{"content": "Slow it down and ask what part they want to think about: the price, the options, or us. Whatever they say next is the real objection, and you answer that one thing before you ask again.", "token_delay_ms": 300, "chunk_chars": 4}]
EOF
    start_fake "$E2E_TMP/slow.json" --repeat || {
        not_ok "the fake OpenAI server starts"
        return
    }
    start_serve cancel OPENAI_API_KEY="$FAKE_API_KEY" OPENAI_BASE_URL="$OPENAI_BASE_URL" \
        HARDE_LOG_LEVEL=info || return 1
    export SERVE_PORT
    checks cancel
    check_contains "the log says the turn was cancelled" "$SERVE_ERR" "turn canceled"
    stop_serve cancel
    stop_fake
}

write_checks
e2e_test "first start" t_first_start
e2e_test "users and tokens" t_cli
t_delivery_files
e2e_test "the API" t_main
e2e_test "rate limits" t_limits
e2e_test "cancel on disconnect" t_cancel
done_testing
