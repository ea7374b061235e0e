#!/usr/bin/env python3
"""fake_leap — a fake of the Leap CRM (JobProgress) public API v3, for tests.

What it is for: Hard-E's tests cannot reach api.jobprogress.com, so they point
the Leap client's base URL at this server on 127.0.0.1. It was written from
the wire facts in the shared docs (EXTERNAL_APIS.md §4, "Leap CRM"), never
from the C client it tests, and it checks what the real service is reported
to check, strictly, so a client that passes here has a fair chance there:

  * every request carries `Authorization: Bearer <--token>` (401 otherwise);
  * at most --rate-limit requests per --rate-window seconds (default 60 per
    60 s, Leap's documented budget), then 429;
  * GET requests carry no Content-Type (an integrator saw 404s on v3 GET
    routes when one was sent; the fake answers 404 the same way);
  * writes are form-encoded (`application/x-www-form-urlencoded`), except
    adding a job note, which is `multipart/form-data`; JSON bodies get 415;
  * field names are exact: an unknown body field or query parameter gets 412
    (Leap's validation status) naming it, and so do missing required fields,
    bad phone numbers (8-12 digits, no '+'), unknown phone labels (home,
    cell, phone, office, fax, other), unknown trade ids and stage codes, and
    `limit` above 100;
  * there is no endpoint that moves a job to another stage (none is
    documented): such requests get 404, and a `stage`-like field on a job
    update gets 412.

Responses use the documented envelope `{"data": ..., "meta": ..., "status":
N}`, pagination `limit` (default 10, max 100) / `page` with
`meta.pagination.{total,count,per_page,current_page,total_pages}`, and
`includes[]=<relation>` embeds a relation wrapped as `{"data": ...}`.

Where the docs are silent the fake had to choose; each choice is marked
ASSUMED in the code below: the error body
(`{"status": N, "error": {"code": N, "message": "..."}}`), the response of
POST /prospects (the new customer with its job under `jobs.data`), the
`includes[]=jobs` relation on a customer, the appointment fields
(`start_date_time` "YYYY-MM-DD HH:MM:SS", seen in third-party code), the
customer's `address` object with `state` as `{id, name, code}`, and
`referred_by_type` / `referred_by_note` for the lead source (third-party).

What it owns: one listening socket, an in-memory book (loaded from --seed,
Hard-E's data/crm_seed.json, converted to Leap's shapes: the seed's ids are
kept, phones lose "+1"), the optional request log (one JSON line per
request, the Authorization value masked), and its port and PID files.

Faults for tests (--faults FILE, a JSON list): each entry
`{"method": "POST", "path": "/prospects", "times": 1, ...}` applies to the
next `times` matching requests (path: exact, or a prefix ending in "*")
after authentication. Keys: "status" (answer that status instead; with
"body" (object or text) and "content_type"), "commit" (first do the real
work, then answer with "status" or drop), "drop" (close the connection with
no answer), "delay_ms", "headers" (extra response headers).

Python 3 standard library only. SIGTERM, SIGINT and SIGHUP stop it (status 0).
"""

import argparse
import email.parser
import email.policy
import json
import os
import re
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

MAX_BODY_BYTES = 4 * 1024 * 1024
DEFAULT_LIMIT = 10
MAX_LIMIT = 100
PHONE_LABELS = {"home", "cell", "phone", "office", "fax", "other"}
PHONE_DIGITS = re.compile(r"^\d{8,12}$")

# The company's workflow, as Leap would hold it: the nine stages of the
# playbook's sales process (data/kb/sales-process.md). Codes are opaque
# numeric strings, like the ones seen in third-party code.
STAGES = [
    ("1691550000101", "Lead"),
    ("1691550000102", "Appointment Set"),
    ("1691550000103", "Primer Video Sent"),
    ("1691550000104", "Inspection"),
    ("1691550000105", "Presentation"),
    ("1691550000106", "Signed"),
    ("1691550000107", "Production"),
    ("1691550000108", "Complete"),
    ("1691550000109", "Review Request"),
]
TRADES = [(8, "Roofing"), (9, "Siding"), (10, "Gutters"), (11, "Windows"), (24, "Other")]
OHIO = {"id": 36, "name": "Ohio", "code": "OH"}

JOB_INCLUDES = {
    "address", "estimators", "reps", "customer", "sub_contractors", "projects", "work_types",
    "trades", "division", "deleted_by", "financial_details", "custom_fields", "flags",
    "insurance_details",
}
CUSTOMER_INCLUDES = {"jobs", "phones", "address", "rep", "referred_by", "custom_fields", "flags"}
APPOINTMENT_INCLUDES = {
    "user", "attendees", "jobs", "result_option", "reminders", "customer", "created_by",
    "attachments",
}
JOB_DATE_RANGE_TYPES = {
    "job_created_date", "job_stage_changed_date", "job_completion_date", "contract_signed_date",
    "job_awarded_date", "job_updated_date", "job_lost_date", "job_invoiced_date",
}
PAGING = {"limit", "page", "sort_by", "sort_order", "includes[]"}
QUERY_PARAMS = {
    "customers": PAGING | {"query"},
    "customer": {"includes[]"},
    "jobs": PAGING | {"job_ids[]", "stages[]", "date_range_type", "start_date", "end_date",
                      "referred_type", "referred_by", "awarded_jobs", "financial_status",
                      "flag_ids[]"},
    "job": {"includes[]"},
    "notes": {"limit", "page"},
    "appointments": PAGING | {"duration", "start_date", "end_date", "with_job", "date_range_type",
                              "job_ids[]", "division_ids[]", "trades[]", "work_types[]",
                              "category_ids[]", "is_completed", "result_option_id", "users[]",
                              "cities[]"},
    "plain": set(),
}

# Body fields of the form-encoded writes (EXTERNAL_APIS.md §4.3).
PROSPECT_FIXED = {
    "first_name", "last_name", "email", "address[address]", "address[city]", "address[state]",
    "address[zip]", "job[description]", "job[trades][]", "job[same_as_customer_address]",
}
PROSPECT_PHONE = re.compile(r"^phones\[(\d)\]\[(number|label)\]$")
CUSTOMER_FIXED = {"first_name", "last_name", "email", "note"}
CUSTOMER_PHONE = re.compile(r"^phone_(\d)_(number|label)$")
JOB_CREATE_FIELDS = {
    "customer_id", "description", "name", "same_as_customer_address", "address", "city",
    "state_id", "country_id", "zip", "trades[]",
}
JOB_UPDATE_FIELDS = {
    "customer_id", "description", "name", "same_as_customer_address", "address_street",
    "address_city", "address_state_id", "address_country_id", "address_zip", "trades[]",
}
JOB_TRADE_FIELD = re.compile(r"^trade_(\d)_id$")
STAGE_WORDS = re.compile(r"stage", re.I)


class ApiError(Exception):
    def __init__(self, status, message, headers=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def error_body(status, message):
    # ASSUMED: Leap's error body is not documented.
    return {"status": status, "error": {"code": status, "message": message}}


def validation(message):
    return ApiError(412, message)


def now_text():
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())


def wrap(value):
    return {"data": value}


def leap_time(text):
    """"2026-11-09T15:20:00Z" (the seed's form) as Leap's "2026-11-09 15:20:00"."""
    return text.replace("T", " ").rstrip("Z") if text else now_text()


def state_view(code):
    # ASSUMED: a state is an object; only Ohio's id and name are known here.
    if not code:
        return None
    return dict(OHIO) if code == "OH" else {"id": None, "name": "", "code": code}


# ---- the book ----------------------------------------------------------------


class Book:
    """The fake's data: customers, jobs, notes, appointments, users (thread-safe)."""

    def __init__(self):
        self.lock = threading.RLock()
        self.customers = {}
        self.jobs = {}
        self.notes = {}
        self.appointments = {}
        self.users = {}
        self.next_customer = 10001
        self.next_job = 20001
        self.next_note = 1
        self.next_appointment = 1

    def user_for(self, name):
        for user in self.users.values():
            if user["full_name"] == name:
                return user
        first, _, last = name.partition(" ")
        uid = 300 + len(self.users) + 1
        self.users[uid] = {"id": uid, "first_name": first, "last_name": last, "full_name": name,
                           "email": "%s.%s@example.com" % (first.lower(), last.lower())}
        return self.users[uid]

    def load_seed(self, path):
        with open(path, encoding="utf-8") as f:
            seed = json.load(f)
        for name in seed.get("reps", []):
            self.user_for(name)
        stage_by_key = {name.lower().replace(" ", "_"): code for code, name in STAGES}
        trade_by_key = {name.lower(): tid for tid, name in TRADES}
        for c in seed.get("customers", []):
            phone = re.sub(r"\D", "", c.get("phone", ""))
            if len(phone) == 11 and phone.startswith("1"):
                phone = phone[1:]
            self.customers[c["id"]] = {
                "id": c["id"], "first_name": c["first_name"], "last_name": c["last_name"],
                "email": c.get("email", ""), "note": "",
                "phones": [{"label": "cell", "number": phone}] if phone else [],
                "address": {"address": c.get("street", ""), "city": c.get("city", ""),
                            "state": c.get("state", ""), "zip": c.get("zip", "")},
                "lead_source": c.get("lead_source", ""),
                "created_at": leap_time(c.get("created_at")),
            }
            for j in c.get("jobs", []):
                job = {
                    "id": j["id"], "customer_id": c["id"],
                    "description": j.get("description", ""),
                    "trade_ids": [trade_by_key[j["trade"]]],
                    "stage_code": stage_by_key[j["stage"]],
                    "rep_ids": [self.user_for(j["rep"])["id"]] if j.get("rep") else [],
                    "created_at": leap_time(j.get("created_at")),
                    "stage_last_modified": leap_time(j.get("created_at")),
                }
                self.jobs[j["id"]] = job
                for n in j.get("notes", []):
                    self.add_note(j["id"], n["text"], n.get("created_at"))
                if j.get("appointment"):
                    start = j["appointment"].replace("T", " ")
                    if len(start) == 16:
                        start += ":00"
                    self.appointments[self.next_appointment] = {
                        "id": self.next_appointment, "job_id": j["id"], "customer_id": c["id"],
                        "title": "%s appointment - %s %s" % (j["trade"].title(), c["first_name"],
                                                             c["last_name"]),
                        "start_date_time": start, "user_id": job["rep_ids"][0]
                        if job["rep_ids"] else None,
                    }
                    self.next_appointment += 1
            self.next_customer = max(self.next_customer, c["id"] + 1)
        self.next_job = max([self.next_job] + [j + 1 for j in self.jobs])

    def add_note(self, job_id, text, created=None):
        nid = self.next_note
        self.next_note += 1
        stamp = leap_time(created)
        self.notes[nid] = {"id": nid, "job_id": job_id, "note": text, "created_at": stamp,
                           "updated_at": stamp}
        return self.notes[nid]

    # ---- Leap-shaped views ----

    def customer_view(self, cid, includes=()):
        c = self.customers[cid]
        source = c.get("lead_source", "")
        low = source.lower()
        referred = ("referral" if low.startswith("referral") else "google" if "google" in low
                    else "facebook" if "facebook" in low else "other")
        out = {
            "id": c["id"], "first_name": c["first_name"], "last_name": c["last_name"],
            "full_name": "%s %s" % (c["first_name"], c["last_name"]), "email": c["email"],
            "note": c["note"],
            "phones": [dict(p) for p in c["phones"]],
            # ASSUMED: address object with state as {id, name, code}.
            "address": {"address": c["address"]["address"], "city": c["address"]["city"],
                        "state": state_view(c["address"]["state"]),
                        "zip": c["address"]["zip"]},
            # third-party: referred_by_type / referred_by_note.
            "referred_by_type": referred, "referred_by_note": source,
            "created_at": c["created_at"],
        }
        if "jobs" in includes:  # ASSUMED relation name
            jobs = [j for j in sorted(self.jobs) if self.jobs[j]["customer_id"] == cid]
            out["jobs"] = wrap([self.job_view(j, ("trades", "reps")) for j in jobs])
        return out

    def job_view(self, jid, includes=()):
        j = self.jobs[jid]
        code = j["stage_code"]
        name = dict(STAGES)[code]
        c = self.customers[j["customer_id"]]
        out = {
            "id": j["id"], "number": "2611-%07d-01" % j["id"],
            "name": "%s %s" % (c["last_name"], dict(TRADES)[j["trade_ids"][0]]),
            "description": j["description"], "customer_id": j["customer_id"],
            "current_stage": {"code": code, "name": name},
            "stage_last_modified": j["stage_last_modified"], "created_at": j["created_at"],
            "same_as_customer_address": 1, "division_id": None,
        }
        for inc in includes:
            if inc == "customer":
                out["customer"] = wrap(self.customer_view(j["customer_id"]))
            elif inc == "address":
                a = c["address"]
                out["address"] = wrap({"address": a["address"], "city": a["city"],
                                       "state": state_view(a["state"]),
                                       "zip": a["zip"]})
            elif inc == "trades":
                out["trades"] = wrap([{"id": t, "name": dict(TRADES)[t]} for t in j["trade_ids"]])
            elif inc == "reps":
                out["reps"] = wrap([dict(self.users[u]) for u in j["rep_ids"]])
            elif inc in ("estimators", "sub_contractors", "projects", "work_types", "flags",
                         "custom_fields"):
                out[inc] = wrap([])
            else:
                out[inc] = wrap({})
        return out

    def appointment_view(self, aid, includes=()):
        a = self.appointments[aid]
        out = {"id": a["id"], "title": a["title"], "start_date_time": a["start_date_time"],
               "full_day": 0, "is_completed": 0, "customer_id": a["customer_id"],
               "result_option_ids": []}
        if "jobs" in includes:
            out["jobs"] = wrap([self.job_view(a["job_id"])])
        if "user" in includes and a.get("user_id"):
            out["user"] = wrap(dict(self.users[a["user_id"]]))
        if "customer" in includes:
            out["customer"] = wrap(self.customer_view(a["customer_id"]))
        return out


# ---- request parsing helpers -------------------------------------------------


def parse_multipart(content_type, body):
    """The fields of a multipart/form-data body as {name: [values]}."""
    head = b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n"
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not msg.is_multipart():
        raise validation("The multipart body could not be parsed.")
    fields = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name is None:
            raise validation("A multipart part has no name.")
        payload = part.get_payload(decode=True) or b""
        fields.setdefault(name, []).append(payload.decode("utf-8", errors="replace"))
    return fields


def one(fields, name, required=False):
    values = fields.get(name) or []
    if len(values) > 1:
        raise validation("The %s field was given more than once." % name)
    value = values[0].strip() if values else ""
    if required and not value:
        raise validation("The %s field is required." % name)
    return value


def int_param(query, name, default, low, high):
    raw = (query.get(name) or [None])[0]
    if raw is None or raw == "":
        return default
    if not re.fullmatch(r"\d+", raw):
        raise validation("The %s must be an integer." % name)
    value = int(raw)
    if value < low or value > high:
        raise validation("The %s must be between %d and %d." % (name, low, high))
    return value


def id_list(query, name):
    out = []
    for raw in query.get(name, []):
        if not re.fullmatch(r"\d+", raw):
            raise validation("The %s must be a list of ids." % name)
        out.append(int(raw))
    return out


def includes_of(query, allowed):
    incs = query.get("includes[]", [])
    for inc in incs:
        if inc not in allowed:
            raise validation("The selected includes (%s) is invalid." % inc)
    return incs


def paginate(rows, query):
    limit = int_param(query, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    page = int_param(query, "page", 1, 1, 1000000)
    total = len(rows)
    pages = max(1, (total + limit - 1) // limit)
    chunk = rows[(page - 1) * limit:page * limit]
    meta = {"pagination": {"total": total, "count": len(chunk), "per_page": limit,
                           "current_page": page, "total_pages": pages}}
    return chunk, meta


def sort_rows(rows, query, keys):
    sort_by = (query.get("sort_by") or [""])[0]
    order = (query.get("sort_order") or ["asc"])[0]
    if order not in ("asc", "desc"):
        raise validation("The sort_order must be asc or desc.")
    if sort_by and sort_by not in keys:
        raise validation("The selected sort_by (%s) is invalid." % sort_by)
    key = keys.get(sort_by or "id")
    return sorted(rows, key=key, reverse=(order == "desc"))


# ---- the API -------------------------------------------------------------------


class Api:
    """Route handlers: each takes (handler, match, query, fields) and returns
    (status, body). `fields` is the parsed write body ({} for GETs)."""

    def __init__(self, book):
        self.book = book
        self.routes = [
            ("GET", r"/customers", "customers", self.list_customers),
            ("POST", r"/customers", "plain", self.create_customer),
            ("GET", r"/customers/(\d+)", "customer", self.get_customer),
            ("PUT", r"/customers/(\d+)", "plain", self.update_customer),
            ("POST", r"/prospects", "plain", self.create_prospect),
            ("GET", r"/jobs", "jobs", self.list_jobs),
            ("POST", r"/jobs", "plain", self.create_job),
            ("GET", r"/jobs/(\d+)", "job", self.get_job),
            ("PUT", r"/jobs/(\d+)", "plain", self.update_job),
            ("GET", r"/jobs/(\d+)/notes", "notes", self.list_notes),
            ("POST", r"/jobs/(\d+)/notes", "plain", self.add_note),
            ("PUT", r"/jobs/notes/(\d+)", "plain", self.update_note),
            ("GET", r"/workflow/stages", "plain", self.stages),
            ("GET", r"/company/trades", "plain", self.trades),
            ("GET", r"/company/users", "plain", self.users),
            ("GET", r"/appointments", "appointments", self.list_appointments),
        ]

    def route(self, method, path):
        """(handler, match, query kind) or raises 404 / 405."""
        known_path = False
        for m, pattern, kind, fn in self.routes:
            match = re.fullmatch(pattern, path)
            if match:
                known_path = True
                if m == method:
                    return fn, match, kind
        if known_path:
            raise ApiError(405, "The %s method is not supported for this route." % method)
        raise ApiError(404, "Route not found: %s %s" % (method, path))

    # customers

    def list_customers(self, h, m, query, fields):
        text = (query.get("query") or [""])[0].strip().lower()
        with self.book.lock:
            rows = []
            for cid, c in self.book.customers.items():
                full = "%s %s" % (c["first_name"], c["last_name"])
                if text and text not in full.lower() and text not in c["email"].lower():
                    continue
                rows.append(self.book.customer_view(cid, includes_of(query, CUSTOMER_INCLUDES)))
        rows = sort_rows(rows, query, {"id": lambda r: r["id"],
                                       "first_name": lambda r: r["first_name"].lower(),
                                       "last_name": lambda r: r["last_name"].lower(),
                                       "created_at": lambda r: r["created_at"]})
        chunk, meta = paginate(rows, query)
        return 200, {"data": chunk, "meta": meta, "status": 200}

    def get_customer(self, h, m, query, fields):
        cid = int(m.group(1))
        incs = includes_of(query, CUSTOMER_INCLUDES)
        with self.book.lock:
            if cid not in self.book.customers:
                raise ApiError(404, "Customer not found.")
            return 200, {"data": self.book.customer_view(cid, incs), "status": 200}

    def check_fields(self, fields, fixed, *patterns):
        for name in fields:
            if name in fixed or any(p.match(name) for p in patterns):
                continue
            raise validation("Unknown field: %s." % name)

    def phones_from(self, fields, pattern, fmt):
        indexes = sorted({int(pattern.match(k).group(1)) for k in fields if pattern.match(k)})
        phones = []
        for i in indexes:
            number = one(fields, fmt % (i, "number"), True)
            label = one(fields, fmt % (i, "label"), True)
            if not PHONE_DIGITS.match(number):
                raise validation("The phones.%d.number must be between 8 and 12 digits." % i)
            if label not in PHONE_LABELS:
                raise validation("The selected phones.%d.label is invalid." % i)
            phones.append({"label": label, "number": number})
        return phones

    def create_customer(self, h, m, query, fields):
        self.check_fields(fields, CUSTOMER_FIXED, CUSTOMER_PHONE)
        first = one(fields, "first_name", True)
        last = one(fields, "last_name", True)
        phones = self.phones_from(fields, CUSTOMER_PHONE, "phone_%d_%s")
        if not phones:
            raise validation("The phone_0_number field is required.")
        with self.book.lock:
            cid = self.new_customer(first, last, one(fields, "email"), phones, {})
            self.book.customers[cid]["note"] = one(fields, "note")
            return 201, {"data": self.book.customer_view(cid), "status": 201}

    def update_customer(self, h, m, query, fields):
        self.check_fields(fields, CUSTOMER_FIXED, CUSTOMER_PHONE)
        cid = int(m.group(1))
        with self.book.lock:
            c = self.book.customers.get(cid)
            if not c:
                raise ApiError(404, "Customer not found.")
            c["first_name"] = one(fields, "first_name", True)
            c["last_name"] = one(fields, "last_name", True)
            phones = self.phones_from(fields, CUSTOMER_PHONE, "phone_%d_%s")
            if not phones:
                raise validation("The phone_0_number field is required.")
            c["phones"] = phones
            if "email" in fields:
                c["email"] = one(fields, "email")
            if "note" in fields:
                c["note"] = one(fields, "note")
            return 200, {"data": self.book.customer_view(cid), "status": 200}

    def new_customer(self, first, last, mail, phones, address):
        if mail and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", mail):
            raise validation("The email must be a valid email address.")
        cid = self.book.next_customer
        self.book.next_customer += 1
        self.book.customers[cid] = {
            "id": cid, "first_name": first, "last_name": last, "email": mail, "note": "",
            "phones": phones, "address": {"address": address.get("address", ""),
                                          "city": address.get("city", ""),
                                          "state": address.get("state", ""),
                                          "zip": address.get("zip", "")},
            "lead_source": "", "created_at": now_text(),
        }
        return cid

    def trade_ids(self, values):
        known = dict(TRADES)
        out = []
        for raw in values:
            if not re.fullmatch(r"\d+", raw or "") or int(raw) not in known:
                raise validation("The selected trades (%s) is invalid." % raw)
            out.append(int(raw))
        return out

    def new_job(self, cid, description, trades):
        jid = self.book.next_job
        self.book.next_job += 1
        self.book.jobs[jid] = {"id": jid, "customer_id": cid, "description": description,
                               "trade_ids": trades, "stage_code": STAGES[0][0], "rep_ids": [],
                               "created_at": now_text(), "stage_last_modified": now_text()}
        return jid

    def create_prospect(self, h, m, query, fields):
        self.check_fields(fields, PROSPECT_FIXED, PROSPECT_PHONE)
        first = one(fields, "first_name", True)
        last = one(fields, "last_name", True)
        phones = self.phones_from(fields, PROSPECT_PHONE, "phones[%d][%s]")
        if not phones:
            raise validation("The phones field is required.")
        address = {k: one(fields, "address[%s]" % k)
                   for k in ("address", "city", "state", "zip")}
        if address["state"] and not re.fullmatch(r"[A-Z]{2}", address["state"]):
            raise validation("The address.state must be a two-letter state code.")
        has_job = any(k.startswith("job[") for k in fields)
        with self.book.lock:
            trades = self.trade_ids(fields.get("job[trades][]", [])) if has_job else []
            if has_job:
                if not one(fields, "job[description]"):
                    raise validation("The job.description field is required.")
                if not trades:
                    raise validation("The job.trades field is required.")
                same = one(fields, "job[same_as_customer_address]")
                if same not in ("", "0", "1"):
                    raise validation("The job.same_as_customer_address must be 0 or 1.")
            cid = self.new_customer(first, last, one(fields, "email"), phones, address)
            view = self.book.customer_view(cid)
            if has_job:
                jid = self.new_job(cid, one(fields, "job[description]"), trades)
                # ASSUMED: the prospect comes back with its job under jobs.data.
                view["jobs"] = wrap([self.book.job_view(jid, ("trades",))])
            return 201, {"data": view, "status": 201}

    # jobs

    def list_jobs(self, h, m, query, fields):
        incs = includes_of(query, JOB_INCLUDES)
        ids = set(id_list(query, "job_ids[]"))
        codes = set(query.get("stages[]", []))
        for code in codes:
            if code not in dict(STAGES):
                raise validation("The selected stages (%s) is invalid." % code)
        drt = (query.get("date_range_type") or [""])[0]
        if drt and drt not in JOB_DATE_RANGE_TYPES:
            raise validation("The selected date_range_type is invalid.")
        with self.book.lock:
            rows = [self.book.job_view(jid, incs) for jid, j in self.book.jobs.items()
                    if (not ids or jid in ids) and (not codes or j["stage_code"] in codes)]
        rows = sort_rows(rows, query, {"id": lambda r: r["id"],
                                       "created_at": lambda r: r["created_at"],
                                       "stage_last_modified": lambda r: r["stage_last_modified"]})
        chunk, meta = paginate(rows, query)
        return 200, {"data": chunk, "meta": meta, "status": 200}

    def get_job(self, h, m, query, fields):
        jid = int(m.group(1))
        incs = includes_of(query, JOB_INCLUDES)
        with self.book.lock:
            if jid not in self.book.jobs:
                raise ApiError(404, "Job not found.")
            return 200, {"data": self.book.job_view(jid, incs), "status": 200}

    def job_trades(self, fields):
        values = list(fields.get("trades[]", []))
        for k in fields:
            if JOB_TRADE_FIELD.match(k):
                values.append(one(fields, k))
        return self.trade_ids(values)

    def check_job_fields(self, fields, allowed):
        for name in fields:
            if name in allowed or JOB_TRADE_FIELD.match(name):
                continue
            if STAGE_WORDS.search(name):
                raise validation("Unknown field: %s (a job's stage cannot be set through this "
                                 "endpoint)." % name)
            raise validation("Unknown field: %s." % name)

    def create_job(self, h, m, query, fields):
        self.check_job_fields(fields, JOB_CREATE_FIELDS)
        raw = one(fields, "customer_id", True)
        description = one(fields, "description", True)
        with self.book.lock:
            trades = self.job_trades(fields)
            if not trades:
                raise validation("The trades field is required.")
            if not raw.isdigit() or int(raw) not in self.book.customers:
                raise validation("The selected customer_id is invalid.")
            jid = self.new_job(int(raw), description, trades)
            return 201, {"data": self.book.job_view(jid, ("trades",)), "status": 201}

    def update_job(self, h, m, query, fields):
        self.check_job_fields(fields, JOB_UPDATE_FIELDS)
        jid = int(m.group(1))
        with self.book.lock:
            job = self.book.jobs.get(jid)
            if not job:
                raise ApiError(404, "Job not found.")
            one(fields, "customer_id", True)
            job["description"] = one(fields, "description", True)
            trades = self.job_trades(fields)
            if not trades:
                raise validation("The trades field is required.")
            job["trade_ids"] = trades
            return 200, {"data": self.book.job_view(jid, ("trades",)), "status": 200}

    # notes

    def list_notes(self, h, m, query, fields):
        jid = int(m.group(1))
        with self.book.lock:
            if jid not in self.book.jobs:
                raise ApiError(404, "Job not found.")
            rows = [dict(n) for n in self.book.notes.values() if n["job_id"] == jid]
        chunk, meta = paginate(rows, {"limit": query.get("limit", ["100"]),
                                      "page": query.get("page", ["1"])})
        return 200, {"data": chunk, "meta": meta, "status": 200}

    def add_note(self, h, m, query, fields):
        if not h.multipart:
            raise ApiError(415, "Adding a job note takes multipart/form-data.")
        self.check_fields(fields, {"note"})
        text = one(fields, "note", True)
        jid = int(m.group(1))
        with self.book.lock:
            if jid not in self.book.jobs:
                raise ApiError(404, "Job not found.")
            return 201, {"data": dict(self.book.add_note(jid, text)), "status": 201}

    def update_note(self, h, m, query, fields):
        self.check_fields(fields, {"note"})
        text = one(fields, "note", True)
        with self.book.lock:
            note = self.book.notes.get(int(m.group(1)))
            if not note:
                raise ApiError(404, "Note not found.")
            note["note"] = text
            note["updated_at"] = now_text()
            return 200, {"data": dict(note), "status": 200}

    # reference data

    def stages(self, h, m, query, fields):
        rows = [{"code": code, "name": name, "position": i + 1}
                for i, (code, name) in enumerate(STAGES)]
        return 200, {"data": rows, "status": 200}

    def trades(self, h, m, query, fields):
        return 200, {"data": [{"id": t, "name": n} for t, n in TRADES], "status": 200}

    def users(self, h, m, query, fields):
        with self.book.lock:
            rows = [dict(u) for u in self.book.users.values()]
        return 200, {"data": rows, "status": 200}

    def list_appointments(self, h, m, query, fields):
        incs = includes_of(query, APPOINTMENT_INCLUDES)
        ids = set(id_list(query, "job_ids[]"))
        duration = (query.get("duration") or [""])[0]
        if duration and duration not in ("date", "upcoming", "today"):
            raise validation("The selected duration is invalid.")
        with self.book.lock:
            rows = [self.book.appointment_view(aid, incs)
                    for aid, a in self.book.appointments.items()
                    if not ids or a["job_id"] in ids]
        if duration == "upcoming":
            rows = [r for r in rows if r["start_date_time"] >= now_text()]
        rows = sort_rows(rows, query, {"id": lambda r: r["id"],
                                       "start_date_time": lambda r: r["start_date_time"]})
        chunk, meta = paginate(rows, query)
        return 200, {"data": chunk, "meta": meta, "status": 200}


# ---- the server ------------------------------------------------------------------


class RateLimiter:
    """At most `limit` accepted requests in any `window` seconds (sliding)."""

    def __init__(self, limit, window):
        self.limit = limit
        self.window = window
        self.stamps = []
        self.lock = threading.Lock()

    def admit(self):
        if self.limit <= 0:
            return True
        with self.lock:
            now = time.monotonic()
            self.stamps = [t for t in self.stamps if now - t < self.window]
            if len(self.stamps) >= self.limit:
                return False
            self.stamps.append(now)
            return True


class Faults:
    def __init__(self, entries):
        self.entries = [dict(e, used=0) for e in entries]
        self.lock = threading.Lock()

    def take(self, method, path):
        with self.lock:
            for e in self.entries:
                if e.get("method", method) != method or e["used"] >= e.get("times", 1):
                    continue
                want = e.get("path", "*")
                if want.endswith("*") and path.startswith(want[:-1]) or want == path:
                    e["used"] += 1
                    return e
        return None


class RequestLog:
    def __init__(self, path):
        self.lock = threading.Lock()
        self.file = open(path, "a", encoding="utf-8") if path else None
        self.n = 0

    def next_number(self):
        with self.lock:
            self.n += 1
            return self.n

    def write(self, record):
        if not self.file:
            return
        with self.lock:
            self.file.write(json.dumps(record, ensure_ascii=False) + "\n")
            self.file.flush()


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address, options, book, faults):
        super().__init__(address, Handler)
        self.options = options
        self.api = Api(book)
        self.faults = faults
        self.limiter = RateLimiter(options.rate_limit, options.rate_window)
        self.request_log = RequestLog(options.log)
        self.stopping = threading.Event()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-leap/1"

    def log_message(self, fmt, *args):
        if self.server.options.verbose:
            sys.stderr.write("fake_leap: " + (fmt % args) + "\n")

    def do_GET(self):
        self.serve()

    def do_POST(self):
        self.serve()

    def do_PUT(self):
        self.serve()

    def do_PATCH(self):
        self.serve()

    def do_DELETE(self):
        self.serve()

    def read_body(self):
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            raise ApiError(411, "Chunked request bodies are not accepted by this fake.")
        if not length:
            return b""
        if not length.isdigit() or int(length) > MAX_BODY_BYTES:
            raise ApiError(413, "Request body too large.")
        return self.rfile.read(int(length))

    def auth_state(self):
        value = self.headers.get("Authorization")
        if value is None:
            return "missing"
        return "ok" if value == "Bearer " + self.server.options.token else "bad"

    def serve(self):
        srv = self.server
        split = urlsplit(self.path)
        prefix = srv.options.prefix.rstrip("/")
        path = split.path
        record = {"n": srv.request_log.next_number(), "ts": time.time(),
                  "method": self.command, "path": path, "query": None, "form": None,
                  "headers": {}}
        self.multipart = False
        status, body, extra, drop = 500, None, {}, False
        try:
            raw = self.read_body()
            query = parse_qs(split.query, keep_blank_values=True)
            record["query"] = query
            for name in ("Content-Type", "Accept", "User-Agent", "Expect"):
                if self.headers.get(name) is not None:
                    record["headers"][name] = self.headers.get(name)
            auth = self.auth_state()
            record["headers"]["Authorization"] = {"ok": "Bearer <ok>", "bad": "<bad>",
                                                  "missing": None}[auth]
            if not srv.limiter.admit():
                extra = {"Retry-After": str(srv.options.retry_after)} \
                    if srv.options.retry_after else {}
                raise ApiError(429, "Too Many Attempts. (rate limit exceeded: %d/%gs)"
                               % (srv.options.rate_limit, srv.options.rate_window), extra)
            if auth != "ok":
                raise ApiError(401, "Unauthenticated." if auth == "missing"
                               else "The access token is invalid.")
            if not path.startswith(prefix + "/"):
                raise ApiError(404, "Route not found: %s %s" % (self.command, path))
            path = path[len(prefix):]
            fault = srv.faults.take(self.command, path)
            if fault and fault.get("delay_ms"):
                time.sleep(fault["delay_ms"] / 1000.0)
            if fault and not fault.get("commit") and (fault.get("drop") or fault.get("status")):
                status, body, extra, drop = self.fault_answer(fault)
            else:
                status, body = self.dispatch(path, query, raw, record)
                if fault and (fault.get("drop") or fault.get("status")):
                    status, body, extra, drop = self.fault_answer(fault)
                elif fault:
                    extra = fault.get("headers", {})
        except ApiError as e:
            status, body = e.status, error_body(e.status, e.message)
            extra = e.headers
            record["error"] = e.message
        except Exception as e:  # a bug in the fake: say so loudly
            status, body = 500, error_body(500, "fake_leap internal error: %r" % (e,))
            record["error"] = body["error"]["message"]
        record["status"] = 0 if drop else status
        srv.request_log.write(record)
        if drop:
            self.close_connection = True
            return
        self.send(status, body, extra)

    def fault_answer(self, fault):
        if fault.get("drop"):
            return 0, None, {}, True
        status = fault["status"]
        body = fault.get("body", error_body(status, "Scripted failure (fake_leap)."))
        extra = dict(fault.get("headers", {}))
        if "content_type" in fault:
            extra["Content-Type"] = fault["content_type"]
        return status, body, extra, False

    def dispatch(self, path, query, raw, record):
        fn, match, kind = self.server.api.route(self.command, path)
        ctype = self.headers.get("Content-Type")
        fields = {}
        if self.command == "GET":
            if ctype is not None:
                # Seen by an integrator on v3 GET routes (EXTERNAL_APIS.md §4.1).
                raise ApiError(404, "Route not found: GET %s (a GET must not carry "
                               "Content-Type)" % path)
        else:
            base = (ctype or "").split(";")[0].strip().lower()
            if base == "multipart/form-data":
                self.multipart = True
                fields = parse_multipart(ctype, raw)
            elif base == "application/x-www-form-urlencoded":
                try:
                    fields = parse_qs(raw.decode("utf-8"), keep_blank_values=True,
                                      strict_parsing=bool(raw))
                except (UnicodeDecodeError, ValueError):
                    raise validation("The form body could not be parsed.")
            else:
                raise ApiError(415, "Writes take application/x-www-form-urlencoded "
                               "(or multipart/form-data for notes), not %r." % (ctype or ""))
            record["form"] = fields
        allowed = QUERY_PARAMS[kind]
        for name in query:
            if name not in allowed:
                raise validation("Unknown query parameter: %s." % name)
        return fn(self, match, query, fields)

    def send(self, status, body, extra):
        if isinstance(body, (dict, list)):
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            ctype = "application/json"
        else:
            data = (body or "").encode("utf-8")
            ctype = "text/html; charset=UTF-8"
        headers = {"Content-Type": ctype}
        headers.update(extra or {})
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def write_atomically(path, text):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.rename(tmp, path)


def watch_parent(server, parent_pid, max_seconds):
    deadline = time.monotonic() + max_seconds if max_seconds else None
    while not server.stopping.is_set():
        time.sleep(0.25)
        gone = False
        if parent_pid:
            try:
                os.kill(parent_pid, 0)
            except ProcessLookupError:
                gone = True
            except PermissionError:
                pass
        if gone or (deadline and time.monotonic() > deadline):
            stop(server)
            return


def stop(server):
    if not server.stopping.is_set():
        server.stopping.set()
        threading.Thread(target=server.shutdown, daemon=True).start()


def parse_args(argv):
    p = argparse.ArgumentParser(description="Fake of the Leap CRM (JobProgress) API v3.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 (default) picks a free port")
    p.add_argument("--port-file", help="write the chosen port here once listening")
    p.add_argument("--pid-file", help="write the process id here")
    p.add_argument("--prefix", default="/api/v3", help="path prefix of the API (default /api/v3)")
    p.add_argument("--token", default="leap-fake-token",
                   help="the only token accepted as 'Authorization: Bearer TOKEN'")
    p.add_argument("--seed", help="Hard-E's crm_seed.json to load as the book")
    p.add_argument("--faults", help="JSON list of scripted faults (see the module docstring)")
    p.add_argument("--rate-limit", type=int, default=60, help="requests per window (0: none)")
    p.add_argument("--rate-window", type=float, default=60.0, help="window in seconds")
    p.add_argument("--retry-after", type=int, default=0,
                   help="send Retry-After: N with 429 (default: no header; unknown for Leap)")
    p.add_argument("--log", help="append one JSON line per request to this file")
    p.add_argument("--parent-pid", type=int, default=0,
                   help="exit when this process no longer exists")
    p.add_argument("--max-seconds", type=float, default=0, help="exit after this many seconds")
    p.add_argument("--verbose", action="store_true")
    return p.parse_args(argv)


def main(argv):
    options = parse_args(argv)
    book = Book()
    if options.seed:
        book.load_seed(options.seed)
    faults = []
    if options.faults:
        with open(options.faults, encoding="utf-8") as f:
            faults = json.load(f)
    server = FakeServer((options.host, options.port), options, book, Faults(faults))
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop(server))
    if options.pid_file:
        write_atomically(options.pid_file, "%d\n" % os.getpid())
    if options.port_file:
        write_atomically(options.port_file, "%d\n" % server.server_address[1])
    if options.parent_pid or options.max_seconds:
        threading.Thread(target=watch_parent, args=(server, options.parent_pid,
                                                    options.max_seconds), daemon=True).start()
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.stopping.set()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
