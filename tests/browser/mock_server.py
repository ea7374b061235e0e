#!/usr/bin/env python3
"""mock_server.py — a stand-in for `harde serve`, for developing the web page.

What it is for: the page in web/ui/ and its browser test need docs/API.md's
endpoints before the real server exists. This Python stdlib server answers
them with canned data: a cookie login with a CSRF token, sessions kept in
memory, a chat turn streamed as Server-Sent Events (agent, handoff, tool
activity, text deltas with a set delay per word, final with the quote), the
error shape of docs/API.md, and the page itself as static files at `/`,
`/app.js` and `/style.css`. tests/e2e/test_browser.sh uses it only when the
real binary has no `serve` command, and says so.

What it owns: its listening socket, the files named by --port-file and
--pid-file, and nothing else (all state is in memory).

Design: ThreadingHTTPServer with one handler class; routes are a table of
(method, regex, function). Answers are decided from the message text: a
complete roof pricing request gives the quote of docs/PRICING.md's price book
(the same JSON `harde ask --json` produces for "price a 2400 sq ft hip roof,
7/12, architectural, one layer"), a pricing request without an area asks for
it, "new client" starts a workflow state with missing fields, anything else
gets a short coaching answer in Markdown. The admin password comes from
HARDE_ADMIN_PASSWORD (as with the real server) or --password.
"""

import argparse
import json
import os
import re
import secrets
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 64 * 1024
MAX_LOGIN_FAILURES = 10

# The quote JSON of the local model for the test question (docs/PRICING.md).
QUOTE = json.loads(r"""
{"currency":"USD","request":{"roof":{"area_sqft":2400,"style":"hip","pitch_rise":7,"layers":1,
"material":"architectural"},"items":[],"permit":true},
"lines":[{"id":"roof","label":"Architectural Shingles","qty":27.6667,"unit":"square",
"unit_price":632.5,"amount":17499.17},
{"id":"tearoff","label":"Tear-off (1 layer)","qty":27.6667,"unit":"square","unit_price":75.0,
"amount":2075.0},
{"id":"permit","label":"Permit","qty":1.0,"unit":"each","unit_price":350.0,"amount":350.0}],
"squares":27.6667,"bundles":83,"pitch_multiplier":1.15,"tax_rate":0.0725,"subtotal":19924.17,
"tax":1444.5,"total":21368.67,
"financing":[{"name":"12 months same as cash","apr":0.0,"months":12,"monthly":1780.72},
{"name":"10-year low payment","apr":0.0799,"months":120,"monthly":259.15}],
"options":[
{"tier":"good","material":"3-tab","label":"3-Tab Asphalt Shingles","selected":false,
"subtotal":16742.5,"tax":1213.83,"total":17956.33,
"financing":[{"name":"12 months same as cash","apr":0.0,"months":12,"monthly":1496.36},
{"name":"10-year low payment","apr":0.0799,"months":120,"monthly":217.76}]},
{"tier":"better","material":"architectural","label":"Architectural Shingles","selected":true,
"subtotal":19924.17,"tax":1444.5,"total":21368.67,
"financing":[{"name":"12 months same as cash","apr":0.0,"months":12,"monthly":1780.72},
{"name":"10-year low payment","apr":0.0799,"months":120,"monthly":259.15}]},
{"tier":"best","material":"designer","label":"Designer Shingles","selected":false,
"subtotal":26287.5,"tax":1905.84,"total":28193.34,
"financing":[{"name":"12 months same as cash","apr":0.0,"months":12,"monthly":2349.45},
{"name":"10-year low payment","apr":0.0799,"months":120,"monthly":341.91}]}]}
""")

QUOTE_TEXT = (
    "That job comes to **$21,368.67**, tax and permit included. Good / Better / Best: "
    "3-Tab Asphalt Shingles $17,956.33, Architectural Shingles $21,368.67 (as quoted), "
    "Designer Shingles $28,193.34. Financed: $1,780.72 a month over 12 months "
    "(12 months same as cash, 0% APR) or $259.15 a month over 120 months "
    "(10-year low payment, 7.99% APR).\n\n"
    "```\nQuote (USD)\n"
    "  Architectural Shingles             27.6667  square   632.50   17,499.17\n"
    "  Tear-off (1 layer)                 27.6667  square    75.00    2,075.00\n"
    "  Permit                                   1  each     350.00      350.00\n"
    "                                                     Subtotal   19,924.17\n"
    "                                                  Tax (7.25%)    1,444.50\n"
    "                                                        Total   21,368.67\n```"
)

COACH_TEXT = (
    "When they say *\"we need to think about it\"*, slow down and find the real concern:\n\n"
    "1. **Agree** — \"That makes sense, it's a big decision.\"\n"
    "2. **Ask** — \"What part do you want to think over: the price, the timing, or us?\"\n"
    "3. **Answer that one thing**, then ask for the decision again.\n\n"
    "Keep the `Good / Better / Best` sheet on the table. More in the "
    "[playbook](https://example.com/playbook).\n\n"
    "Sources: objection-think-about-it.md"
)

NEW_CLIENT_FIELDS = [
    ("name", "Customer name", True),
    ("phone", "Phone", True),
    ("email", "Email", False),
    ("address", "Address", True),
    ("trade", "Trade", True),
]

RUNS_NOT_FOUND = True  # /v1/runs answers 404 until issue 6, as the real one may


def now_ms():
    return int(time.time() * 1000)


class Store:
    """Users, login sessions and chat sessions, in memory, behind one lock."""

    def __init__(self, password):
        self.lock = threading.Lock()
        self.users = {"admin": {"password": password, "role": "admin", "team": "north"}}
        self.logins = {}  # cookie -> {"user", "csrf"}
        self.sessions = {}  # id -> session dict
        self.failures = 0


class Handler(BaseHTTPRequestHandler):
    server_version = "harde-mock/1"
    protocol_version = "HTTP/1.1"

    # ---- plumbing -----------------------------------------------------------

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("mock: " + (fmt % args) + "\n")

    def send_json(self, status, obj, headers=None):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def send_error_json(self, status, code, message, details=None, headers=None):
        err = {"code": code, "message": message}
        if details:
            err["details"] = details
        self.send_json(status, {"error": err}, headers)

    def read_body(self):
        """Reads the whole request body (so a kept-alive connection stays in
        step); False after sending a 413 and closing."""
        try:
            n = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            n = -1
        if n < 0 or n > MAX_BODY:
            self.close_connection = True
            self.send_error_json(413, "too_large", "request body over %d bytes" % MAX_BODY)
            return False
        self.body = self.rfile.read(n) if n else b""
        return True

    def read_json(self):
        """The request body as JSON; None after sending a 400 itself."""
        try:
            return json.loads(self.body or b"{}")
        except ValueError as err:
            self.send_error_json(400, "bad_request", "malformed JSON: %s" % err)
            return None

    def cookie(self):
        for part in (self.headers.get("Cookie") or "").split(";"):
            k, _, v = part.strip().partition("=")
            if k == "harde_session":
                return v
        return None

    def auth(self, changes_state):
        """The logged-in user's login record; None after sending 401/403."""
        st = self.server.store
        with st.lock:
            login = st.logins.get(self.cookie() or "")
        if not login:
            self.send_error_json(401, "unauthorized", "sign in first")
            return None
        if changes_state and self.headers.get("X-CSRF-Token") != login["csrf"]:
            self.send_error_json(403, "forbidden", "missing or wrong CSRF token")
            return None
        return login

    def user_json(self, name):
        u = self.server.store.users[name]
        return {"name": name, "role": u["role"], "team": u["team"]}

    # ---- dispatch -------------------------------------------------------------

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def dispatch(self, method):
        if not self.read_body():
            return
        path = self.path.split("?", 1)[0]
        allowed = []
        for m, pattern, fn in ROUTES:
            match = re.fullmatch(pattern, path)
            if not match:
                continue
            if m == method:
                return fn(self, *match.groups())
            allowed.append(m)
        if allowed:
            return self.send_error_json(405, "method_not_allowed",
                                        "%s not allowed on %s" % (method, path),
                                        headers={"Allow": ", ".join(allowed)})
        return self.send_error_json(404, "not_found", "no route %s" % path)

    # ---- static files ---------------------------------------------------------

    def static(self, name, ctype):
        try:
            with open(os.path.join(self.server.ui_dir, name), "rb") as f:
                body = f.read()
        except OSError:
            return self.send_error_json(404, "not_found", "no file %s" % name)
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy",
                         "default-src 'self'; img-src 'self' data:; object-src 'none'; "
                         "base-uri 'none'; frame-ancestors 'none'")
        self.end_headers()
        self.wfile.write(body)

    def r_index(self):
        self.static("index.html", "text/html; charset=utf-8")

    def r_js(self):
        self.static("app.js", "text/javascript; charset=utf-8")

    def r_css(self):
        self.static("style.css", "text/css; charset=utf-8")

    # ---- API ------------------------------------------------------------------

    def r_health(self):
        self.send_json(200, {"ok": True})

    def r_openapi(self):
        self.send_json(200, {"openapi": "3.0.3", "info": {"title": "Hard-E (mock)",
                                                           "version": "1"}, "paths": {}})

    def r_login(self):
        body = self.read_json()
        if body is None:
            return
        st = self.server.store
        name, password = body.get("name"), body.get("password")
        if not isinstance(name, str) or not isinstance(password, str):
            return self.send_error_json(400, "bad_request", "name and password are required",
                                        ["name: required", "password: required"])
        with st.lock:
            if st.failures >= MAX_LOGIN_FAILURES:
                return self.send_error_json(429, "rate_limited",
                                            "too many sign-in attempts; try again later",
                                            headers={"Retry-After": "60"})
            user = st.users.get(name)
            if not user or not secrets.compare_digest(user["password"], password):
                st.failures += 1
                return self.send_error_json(401, "unauthorized", "wrong name or password")
            cookie, csrf = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
            st.logins[cookie] = {"user": name, "csrf": csrf}
        self.send_json(200, {"user": self.user_json(name), "csrf_token": csrf}, {
            "Set-Cookie": "harde_session=%s; HttpOnly; SameSite=Strict; Path=/" % cookie})

    def r_logout(self):
        login = self.auth(True)
        if not login:
            return
        with self.server.store.lock:
            self.server.store.logins.pop(self.cookie(), None)
        self.send_json(200, {"ok": True}, {
            "Set-Cookie": "harde_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"})

    def r_me(self):
        login = self.auth(False)
        if login:
            self.send_json(200, self.user_json(login["user"]))

    def session_summary(self, s):
        return {k: s[k] for k in ("id", "title", "owner", "created_ms", "updated_ms")}

    def own_session(self, login, sid):
        with self.server.store.lock:
            s = self.server.store.sessions.get(sid)
        if not s or s["owner"] != login["user"]:
            self.send_error_json(404, "not_found", "no session \"%s\"" % sid)
            return None
        return s

    def r_sessions(self):
        login = self.auth(False)
        if not login:
            return
        with self.server.store.lock:
            mine = [self.session_summary(s) for s in self.server.store.sessions.values()
                    if s["owner"] == login["user"]]
        mine.sort(key=lambda s: s["updated_ms"], reverse=True)
        self.send_json(200, {"sessions": mine})

    def r_session_new(self):
        login = self.auth(True)
        if not login:
            return
        body = self.read_json()
        if body is None:
            return
        title = body.get("title") or "New chat"
        if not isinstance(title, str):
            return self.send_error_json(400, "bad_request", "invalid fields",
                                        ["title: must be a string"])
        t = now_ms()
        s = {"id": secrets.token_hex(8), "title": title[:120], "owner": login["user"],
             "created_ms": t, "updated_ms": t, "messages": [], "state": None}
        with self.server.store.lock:
            self.server.store.sessions[s["id"]] = s
        self.send_json(201, self.session_summary(s))

    def r_session_get(self, sid):
        login = self.auth(False)
        if not login:
            return
        s = self.own_session(login, sid)
        if s:
            out = self.session_summary(s)
            out["messages"] = s["messages"]
            out["state"] = s["state"]
            self.send_json(200, out)

    def r_message(self, sid):
        login = self.auth(True)
        if not login:
            return
        s = self.own_session(login, sid)
        if not s:
            return
        body = self.read_json()
        if body is None:
            return
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            return self.send_error_json(400, "bad_request", "invalid fields",
                                        ["text: required, a non-empty string"])
        turn = plan_turn(text, s)
        s["messages"].append({"role": "user", "content": text})
        if "text/event-stream" in (self.headers.get("Accept") or ""):
            self.stream_turn(turn)
        else:
            self.send_json(200, turn_result(turn))
        s["messages"].append({"role": "assistant", "agent": turn["agent"],
                              "content": turn["text"]})
        s["state"] = turn.get("state", s["state"])
        s["updated_ms"] = now_ms()
        if s["title"] == "New chat":
            s["title"] = text[:60]

    def stream_turn(self, turn):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        delay = self.server.token_delay
        try:
            for ev, data in turn["events"]:
                self.wfile.write(("event: %s\ndata: %s\n\n" % (ev, json.dumps(data))).encode())
                self.wfile.flush()
                if ev in ("delta", "tool_started"):
                    time.sleep(delay if ev == "delta" else delay * 10)
            final = turn_result(turn)
            self.wfile.write(("event: final\ndata: %s\n\n" % json.dumps(final)).encode())
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped the turn

    def r_quote(self):
        if not self.auth(True):
            return
        body = self.read_json()
        if body is None:
            return
        if body.get("roof") == QUOTE["request"]["roof"]:
            return self.send_json(200, QUOTE)
        self.send_error_json(400, "bad_request", "invalid quote request",
                             ["roof: the mock prices only the sample roof"])

    def r_crm(self):
        if not self.auth(False):
            return
        self.send_json(200, {"customers": [{
            "id": "c1", "name": "Dana Whitfield", "phone": "555-0142",
            "email": "dana@example.com", "address": "12 Oak Lane",
            "jobs": [{"id": "1042", "trade": "roofing", "stage": "appointment_set",
                      "stage_label": "Appointment set"}]}]})

    def r_runs(self):
        if not self.auth(False):
            return
        if RUNS_NOT_FOUND:
            return self.send_error_json(404, "not_found", "no route /v1/runs")
        self.send_json(200, {"runs": []})


def words(text):
    return re.findall(r"\S+\s*|\s+", text)


def plan_turn(text, session):
    """What the turn says and does: {"agent", "path", "flow", "text", "events", ...}."""
    low = text.lower()
    events = [("agent", {"agent": "Triage"})]
    turn = {"flow": "agent", "quote": None}
    if "roof" in low or "price" in low or re.fullmatch(r"\s*\d+\s*", low):
        events += [("handoff", {"from": "Triage", "to": "Pricing"}),
                   ("agent", {"agent": "Pricing"})]
        turn.update(agent="Pricing", path=["Triage", "Pricing"])
        if "2400" in low:
            args = json.dumps({"roof": QUOTE["request"]["roof"]})
            events += [("tool_started", {"tool": "quote", "activity": "pricing the job",
                                         "arguments": args}),
                       ("tool_finished", {"tool": "quote", "is_error": False,
                                          "result": QUOTE})]
            turn.update(text=QUOTE_TEXT, quote=QUOTE)
        else:
            turn.update(text="What's the roof area in square feet?")
    elif "client" in low or "customer" in low:
        events += [("handoff", {"from": "Triage", "to": "CRM"}), ("agent", {"agent": "CRM"})]
        m = re.search(r"named\s+([A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)", text)
        name = m.group(1) if m else None
        fields = []
        for key, label, required in NEW_CLIENT_FIELDS:
            f = {"name": key, "label": label, "required": required,
                 "filled": key == "name" and bool(name)}
            if f["filled"]:
                f["value"] = name
            fields.append(f)
        missing = [f["label"] for f in fields if f["required"] and not f["filled"]]
        turn.update(agent="CRM", path=["Triage", "CRM"],
                    text="Got it. What's their **phone number**?",
                    state={"kind": "new_client", "title": "New client", "fields": fields,
                           "missing": missing})
    else:
        events += [("handoff", {"from": "Triage", "to": "Sales Coach"}),
                   ("agent", {"agent": "Sales Coach"})]
        turn.update(agent="Sales Coach", path=["Sales Coach"], flow="fast", text=COACH_TEXT)
    events += [("delta", {"text": w}) for w in words(turn["text"])]
    turn["events"] = events
    return turn


def turn_result(turn):
    out = {"text": turn["text"], "final": turn["text"], "agent": turn["agent"],
           "path": turn["path"], "flow": turn["flow"], "items": [], "usage": []}
    if turn.get("quote"):
        out["quote"] = turn["quote"]
    if "state" in turn:
        out["state"] = turn["state"]
    return out


ROUTES = [
    ("GET", r"/", Handler.r_index),
    ("GET", r"/index\.html", Handler.r_index),
    ("GET", r"/app\.js", Handler.r_js),
    ("GET", r"/style\.css", Handler.r_css),
    ("GET", r"/healthz", Handler.r_health),
    ("GET", r"/readyz", Handler.r_health),
    ("GET", r"/openapi\.json", Handler.r_openapi),
    ("POST", r"/v1/login", Handler.r_login),
    ("POST", r"/v1/logout", Handler.r_logout),
    ("GET", r"/v1/me", Handler.r_me),
    ("GET", r"/v1/sessions", Handler.r_sessions),
    ("POST", r"/v1/sessions", Handler.r_session_new),
    ("GET", r"/v1/sessions/([A-Za-z0-9_-]+)", Handler.r_session_get),
    ("POST", r"/v1/sessions/([A-Za-z0-9_-]+)/messages", Handler.r_message),
    ("POST", r"/v1/quote", Handler.r_quote),
    ("GET", r"/v1/crm/search", Handler.r_crm),
    ("GET", r"/v1/runs", Handler.r_runs),
]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0: any free port")
    ap.add_argument("--port-file", help="write the chosen port here once listening")
    ap.add_argument("--pid-file")
    ap.add_argument("--ui-dir", default=os.path.join(here, "..", "..", "web", "ui"))
    ap.add_argument("--password", default=os.environ.get("HARDE_ADMIN_PASSWORD") or "admin")
    ap.add_argument("--token-delay", type=float, default=0.02,
                    help="seconds between streamed words")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()

    srv = ThreadingHTTPServer((args.host, args.port), Handler)
    srv.daemon_threads = True
    srv.store = Store(args.password)
    srv.ui_dir = args.ui_dir
    srv.token_delay = args.token_delay
    srv.verbose = args.verbose
    port = srv.server_address[1]
    if args.pid_file:
        with open(args.pid_file, "w") as f:
            f.write("%d\n" % os.getpid())
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)
    print("mock: listening on http://%s:%d/" % (args.host, port), flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


if __name__ == "__main__":
    main()
