#!/usr/bin/env python3
"""fake_gdrive — a fake of Google's OAuth token endpoint (service-account JWT
grant) and the Drive API v3 calls a delivery client makes, for tests.

What it is for: Hard-E's Google Drive delivery client cannot reach Google from
the test machines, so the key file's `token_uri` and the client's API base
are pointed at this server on 127.0.0.1. It was written from the public
protocol descriptions (EXTERNAL_APIS.md §6: Drive v3 discovery document,
"Using OAuth 2.0 for Server to Server Applications", the multipart and
resumable upload guides), never from the C client it tests, and it checks what
Google checks, strictly:

  * `POST /token`: form-encoded `grant_type=urn:ietf:params:oauth:grant-type:
    jwt-bearer&assertion=JWT`; the JWT's RS256 signature is verified against
    --public-key (the public half of a throw-away key pair the test made with
    `openssl genpkey`), in pure Python (RSASSA-PKCS1-v1_5, SHA-256); header
    `alg` RS256; claims `iss` (= --client-email), `scope` (must include the
    Drive scope), `aud` (= --audience, default this server's token URL), `iat`
    and `exp` (integers, exp - iat <= 3600, not expired, iat not in the
    future). Failures answer 400 with `{"error", "error_description"}` as
    Google does ("invalid_grant" / "Invalid JWT Signature." for a wrong key).
    Success: `{"access_token", "expires_in" (--token-lifetime), "token_type":
    "Bearer"}`.
  * Drive calls need `Authorization: Bearer <a token this fake issued, not
    expired>` (401 with Google's error JSON otherwise) granted a Drive scope.
  * `POST /upload/drive/v3/files?uploadType=multipart`: `Content-Type:
    multipart/related; boundary=...`, exactly two parts, the first
    `application/json` metadata with known field names only (`name`,
    `mimeType`, `parents`, `description`, ...), the second the media with a
    Content-Type. `uploadType=resumable`: JSON metadata, then `PUT` of the
    bytes to the session URI in `Location`, chunks a multiple of 256 KiB
    (except the last) with `Content-Range`, 308 + `Range` in between.
  * Files must go into a --folder, which lives in a shared drive: requests
    touching it without `supportsAllDrives=true` get 404 "File not found"; an
    upload with no parent, or into a --my-drive-folder, gets 403
    `storageQuotaExceeded` (service accounts have no storage quota).
  * `fields` selects what comes back (without it, a file is `kind`, `id`,
    `name`, `mimeType` — no `webViewLink`); unknown field names get 400.
  * `POST /drive/v3/files/ID/permissions`: JSON `{"type", "role"}` from the
    documented sets, no unknown fields; `GET` / `DELETE /drive/v3/files/ID`.

What it owns: issued tokens, files and upload sessions, in memory. The
`webViewLink` it returns (`http://HOST:PORT/file/d/ID/view?usp=drivesdk`)
serves the file's bytes once an `anyone` permission exists and 403 before,
so a test can follow the link. `GET /__fake/state` (no auth) returns JSON of
files, permissions, the number of tokens issued and of Drive calls refused
for a bad or expired token; --fail-uploads N answers
the first N upload requests with 503 backendError; `POST /__fake/control`
with JSON {"revoke_tokens": true, "fail_uploads": N, "fail_chunks": N,
"token_lifetime": S} changes that at run time ("fail_chunks": the next N
resumable chunks are stored but answered 503, as if the answer were lost, so
a client must ask the session where it stands); --log appends one JSON
line per request (Authorization reduced to "Bearer <ok>" / "<bad>", JWT claims
logged, never the assertion or a token).
"""

import argparse
import base64
import hashlib
import json
import os
import re
import secrets
import signal
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DRIVE_SCOPES = {"https://www.googleapis.com/auth/drive",
                "https://www.googleapis.com/auth/drive.file"}
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
MAX_BODY = 64 << 20
CHUNK_UNIT = 256 * 1024
CLOCK_SKEW_S = 300
FILE_FIELDS = {"kind", "id", "name", "mimeType", "parents", "webViewLink", "webContentLink",
               "size", "md5Checksum", "sha256Checksum", "createdTime", "description",
               "driveId", "trashed"}
WRITABLE_FIELDS = {"name", "mimeType", "parents", "description", "appProperties", "properties",
                   "starred", "writersCanShare", "copyRequiresWriterPermission",
                   "contentHints", "originalFilename", "folderColorRgb", "createdTime",
                   "modifiedTime", "viewedByMeTime", "id", "contentRestrictions",
                   "shortcutDetails", "inheritedPermissionsDisabled"}
PERMISSION_FIELDS = {"type", "role", "emailAddress", "domain", "allowFileDiscovery",
                     "expirationTime", "view", "pendingOwner", "inheritedPermissionsDisabled"}
PERMISSION_TYPES = {"user", "group", "domain", "anyone"}
PERMISSION_ROLES = {"owner", "organizer", "fileOrganizer", "writer", "commenter", "reader"}


# ---- RSA signature check (RSASSA-PKCS1-v1_5 with SHA-256) ----------------

def der_read(data, pos):
    """One DER element at pos: (tag, content bytes, next position)."""
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    return tag, data[pos:pos + length], pos + length


def der_children(content):
    out, pos = [], 0
    while pos < len(content):
        tag, value, pos = der_read(content, pos)
        out.append((tag, value))
    return out


def load_public_key(path):
    """(n, e) from a PEM "PUBLIC KEY" (SubjectPublicKeyInfo) or "RSA PUBLIC KEY"."""
    with open(path, encoding="ascii") as f:
        text = f.read()
    m = re.search(r"-----BEGIN (RSA )?PUBLIC KEY-----(.*?)-----END", text, re.S)
    if not m:
        raise SystemExit("fake_gdrive: %s holds no PEM public key" % path)
    der = base64.b64decode("".join(m.group(2).split()))
    _, seq, _ = der_read(der, 0)
    if not m.group(1):  # SubjectPublicKeyInfo: SEQUENCE { algorithm, BIT STRING }
        parts = der_children(seq)
        bits = parts[1][1]
        _, seq, _ = der_read(bits[1:], 0)  # skip the unused-bits byte
    n_tag, e_tag = der_children(seq)[:2]
    return int.from_bytes(n_tag[1], "big"), int.from_bytes(e_tag[1], "big")


SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


def rs256_valid(public, message, sig):
    n, e = public
    k = (n.bit_length() + 7) // 8
    if len(sig) != k:
        return False
    s = int.from_bytes(sig, "big")
    if s >= n:
        return False
    em = pow(s, e, n).to_bytes(k, "big")
    t = SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
    want = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
    return em == want


def b64url_decode(text):
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url without padding")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# ---- errors -------------------------------------------------------------

class ApiError(Exception):
    """A Drive API error: {"error": {"code", "message", "errors": [...]}}."""

    def __init__(self, status, message, reason, extra=None, headers=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason
        self.extra = extra or {}
        self.headers = headers or {}

    def body(self):
        item = {"message": self.message, "domain": self.extra.get("domain", "global"),
                "reason": self.reason}
        item.update({k: v for k, v in self.extra.items() if k != "domain"})
        return {"error": {"code": self.status, "message": self.message, "errors": [item]}}


class OAuthError(Exception):
    def __init__(self, status, error, description):
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


def not_found(file_id):
    return ApiError(404, "File not found: %s." % file_id, "notFound",
                    {"location": "fileId", "locationType": "parameter"})


def quota_error():
    return ApiError(403, "Service Accounts do not have storage quota. Leverage shared drives "
                    "(https://developers.google.com/workspace/drive/api/guides/about-shareddrives"
                    "), or use OAuth delegation (http://support.google.com/a/answer/7281227) "
                    "instead.", "storageQuotaExceeded", {"domain": "usageLimits"})


def bad_request(message, reason="badRequest"):
    return ApiError(400, message, reason)


# ---- the server ---------------------------------------------------------

class RequestLog:
    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()

    def write(self, record):
        if not self.path:
            return
        with self.lock, open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")


class FakeDrive(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, options):
        super().__init__(address, Handler)
        self.options = options
        self.public_key = load_public_key(options.public_key)
        self.base = "http://%s:%d" % (options.host, self.server_address[1])
        self.audience = options.audience or self.base + "/token"
        self.lock = threading.Lock()
        self.counter = 0
        self.tokens = {}  # token -> (expiry, scopes)
        self.tokens_issued = 0
        self.auth_failures = 0  # Drive calls refused for a missing/unknown/expired token
        self.files = {}
        self.sessions = {}
        self.uploads_to_fail = options.fail_uploads
        self.chunks_to_fail = 0
        self.log = RequestLog(options.log)
        self.stopping = threading.Event()

    def next_number(self):
        with self.lock:
            self.counter += 1
            return self.counter


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ESF"
    sys_version = ""

    def log_message(self, fmt, *args):
        if self.server.options.verbose:
            sys.stderr.write("fake_gdrive: " + (fmt % args) + "\n")

    def do_GET(self):
        self.handle_request("GET")

    def do_POST(self):
        self.handle_request("POST")

    def do_PUT(self):
        self.handle_request("PUT")

    def do_DELETE(self):
        self.handle_request("DELETE")

    def do_PATCH(self):
        self.handle_request("PATCH")

    # -- plumbing --

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = bytearray()
            while True:
                size = int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(data)
                if len(data) + size > MAX_BODY:
                    raise ApiError(413, "Request too large", "uploadTooLarge")
                data += self.rfile.read(size)
                self.rfile.readline(1024)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ApiError(413, "Request too large", "uploadTooLarge")
        return self.rfile.read(length) if length else b""

    def send(self, status, body, content_type="application/json; charset=UTF-8", extra=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body, indent=2).encode("utf-8")
        self.send_response(status)
        if body or status not in (204, 308):
            self.send_header("Content-Type", content_type)
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def logged_headers(self):
        out = {}
        for name, value in self.headers.items():
            if name.lower() == "authorization":
                token = value[7:] if value.startswith("Bearer ") else None
                with self.server.lock:
                    known = token in self.server.tokens
                value = "Bearer <ok>" if known else "<bad>"
            out[name] = value
        return out

    def handle_request(self, method):
        n = self.server.next_number()
        split = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
        record = {"n": n, "ts": time.time(), "method": method, "path": split.path,
                  "query": query, "headers": self.logged_headers()}
        try:
            body = self.read_body()
            record["body_len"] = len(body)
            status, out, ctype, extra = self.route(method, split.path, query, body, record)
            record["status"] = status
            self.send(status, out, ctype, extra)
        except ApiError as err:
            record["status"] = err.status
            record["error"] = err.reason
            self.send(err.status, err.body(), extra=err.headers)
        except OAuthError as err:
            record["status"] = err.status
            record["error"] = err.error
            record["error_description"] = err.description
            self.send(err.status, {"error": err.error, "error_description": err.description})
        finally:
            self.server.log.write(record)

    def route(self, method, path, query, body, record):
        j = "application/json; charset=UTF-8"
        if path == "/token" and method == "POST":
            return 200, self.token(body, record), j, None
        if path == "/__fake/state" and method == "GET":
            return 200, self.state(), j, None
        if path == "/__fake/control" and method == "POST":
            return 200, self.control(body), j, None
        m = re.fullmatch(r"/file/d/([^/]+)/view", path)
        if m and method == "GET":
            return self.view(m.group(1))
        if path == "/upload/drive/v3/files":
            if method == "PUT" and "upload_id" in query:
                return self.resumable_put(query, body)
            if method == "POST":
                self.authorize()
                return self.upload(query, body, record)
        m = re.fullmatch(r"/drive/v3/files/([^/]+)(/permissions)?", path)
        if m:
            self.authorize()
            if m.group(2) and method == "POST":
                return 200, self.permission(m.group(1), query, body, record), j, None
            if not m.group(2) and method == "GET":
                return self.get_file(m.group(1), query)
            if not m.group(2) and method == "DELETE":
                self.delete_file(m.group(1), query)
                return 204, b"", j, None
        raise ApiError(404, "Not Found (%s %s)" % (method, path), "notFound")

    # -- OAuth --

    def token(self, body, record):
        ctype = self.headers.get("Content-Type", "")
        if ctype.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
            raise OAuthError(400, "invalid_request", "Content-Type must be "
                             "application/x-www-form-urlencoded")
        form = dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace"),
                                           keep_blank_values=True))
        if form.get("grant_type") != JWT_GRANT:
            raise OAuthError(400, "unsupported_grant_type",
                             "Invalid grant_type: %s" % form.get("grant_type", ""))
        claims = self.check_jwt(form.get("assertion", ""), record)
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        lifetime = self.server.options.token_lifetime
        with self.server.lock:
            self.server.tokens[token] = (time.time() + lifetime, set(claims["scope"].split()))
            self.server.tokens_issued += 1
        return {"access_token": token, "expires_in": lifetime, "token_type": "Bearer"}

    def check_jwt(self, assertion, record):
        parts = assertion.split(".")
        if len(parts) != 3:
            raise OAuthError(400, "invalid_request", "Invalid JWT: expected three "
                             "base64url segments")
        try:
            header = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
            sig = b64url_decode(parts[2])
        except ValueError as err:
            raise OAuthError(400, "invalid_grant", "Invalid JWT: %s" % err)
        record["jwt_header"] = header
        record["jwt_claims"] = claims
        if not isinstance(header, dict) or header.get("alg") != "RS256" or \
                header.get("typ", "JWT") != "JWT":
            raise OAuthError(400, "invalid_grant", "Invalid JWT header: alg must be RS256")
        if not isinstance(claims, dict):
            raise OAuthError(400, "invalid_grant", "Invalid JWT: claims are not an object")
        signed = (parts[0] + "." + parts[1]).encode("ascii")
        if not rs256_valid(self.server.public_key, signed, sig):
            raise OAuthError(400, "invalid_grant", "Invalid JWT Signature.")
        if claims.get("iss") != self.server.options.client_email:
            raise OAuthError(400, "invalid_grant", "Invalid grant: account not found")
        if claims.get("aud") != self.server.audience:
            raise OAuthError(400, "invalid_grant", "Invalid JWT: Failed audience check. The "
                             "right audience is %s" % self.server.audience)
        iat, exp = claims.get("iat"), claims.get("exp")
        now = time.time()
        if not isinstance(iat, int) or not isinstance(exp, int) or isinstance(iat, bool) or \
                exp - iat > 3600 or exp <= iat or iat > now + CLOCK_SKEW_S or exp < now:
            raise OAuthError(400, "invalid_grant", "Invalid JWT: Token must be a short-lived "
                             "token (60 minutes) and in a reasonable timeframe. Check your iat "
                             "and exp values in the JWT claim.")
        scope = claims.get("scope")
        if not isinstance(scope, str) or not scope.split():
            raise OAuthError(400, "invalid_scope", "Invalid OAuth scope or ID token audience "
                             "provided.")
        extra = set(claims) - {"iss", "scope", "aud", "iat", "exp", "sub"}
        if extra:
            raise OAuthError(400, "invalid_grant", "Invalid JWT: unexpected claims %s"
                             % sorted(extra))
        return claims

    def authorize(self):
        auth = self.headers.get("Authorization")
        if not auth:
            raise ApiError(401, "Request is missing required authentication credential. "
                           "Expected OAuth 2 access token, login cookie or other valid "
                           "authentication credential.", "required",
                           {"location": "Authorization", "locationType": "header"},
                           {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'})
        token = auth[7:] if auth.startswith("Bearer ") else ""
        with self.server.lock:
            entry = self.server.tokens.get(token)
        if not entry or entry[0] < time.time():
            with self.server.lock:
                self.server.auth_failures += 1
            raise ApiError(401, "Request had invalid authentication credentials. Expected "
                           "OAuth 2 access token, login cookie or other valid authentication "
                           "credential.", "authError",
                           {"location": "Authorization", "locationType": "header"},
                           {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", '
                                                'error="invalid_token"'})
        if not entry[1] & DRIVE_SCOPES:
            raise ApiError(403, "Request had insufficient authentication scopes.",
                           "insufficientPermissions")

    # -- Drive --

    def select(self, f, query):
        fields = query.get("fields")
        if not fields:
            names = ["kind", "id", "name", "mimeType"]
        else:
            names = [x.strip() for x in fields.split(",") if x.strip()]
            for name in names:
                if name not in FILE_FIELDS:
                    raise bad_request("Invalid field selection %s" % name, "invalidParameter")
        full = {"kind": "drive#file", "id": f["id"], "name": f["name"],
                "mimeType": f["mimeType"], "parents": f["parents"],
                "webViewLink": "%s/file/d/%s/view?usp=drivesdk" % (self.server.base, f["id"]),
                "webContentLink": "%s/uc?id=%s&export=download" % (self.server.base, f["id"]),
                "size": str(len(f["data"])), "md5Checksum": hashlib.md5(f["data"]).hexdigest(),
                "sha256Checksum": hashlib.sha256(f["data"]).hexdigest(),
                "createdTime": f["created"], "description": f.get("description", ""),
                "driveId": "0AFakeSharedDrive", "trashed": False}
        return {k: full[k] for k in names}

    def check_parents(self, meta, query):
        parents = meta.get("parents")
        if parents is None:
            raise quota_error()  # the service account's own My Drive
        if not isinstance(parents, list) or not all(isinstance(p, str) for p in parents):
            raise bad_request("Invalid value for parents")
        if len(parents) != 1:
            raise ApiError(403, "A shared drive item must have exactly one parent.",
                           "teamDrivesParentLimit")
        parent = parents[0]
        if parent in self.server.options.my_drive_folder:
            raise quota_error()
        if parent not in self.server.options.folder or query.get("supportsAllDrives") != "true":
            raise not_found(parent)

    def check_metadata(self, raw):
        try:
            meta = json.loads(raw.decode("utf-8")) if raw.strip() else {}
        except ValueError as err:
            raise bad_request("Invalid JSON payload received. %s" % err, "parseError")
        if not isinstance(meta, dict):
            raise bad_request("Invalid JSON payload received. Expected an object.", "parseError")
        for key in meta:
            if key not in WRITABLE_FIELDS:
                raise bad_request("Invalid JSON payload received. Unknown name \"%s\": Cannot "
                                  "find field." % key, "invalid")
        for key in ("name", "mimeType", "description"):
            if key in meta and not isinstance(meta[key], str):
                raise bad_request("Invalid value for %s" % key, "invalid")
        return meta

    def fail_upload_maybe(self):
        with self.server.lock:
            if self.server.uploads_to_fail > 0:
                self.server.uploads_to_fail -= 1
                raise ApiError(503, "Backend Error", "backendError")

    def store_file(self, meta, data, media_type):
        file_id = "1" + secrets.token_urlsafe(24).replace("-", "x").replace("_", "y")
        f = {"id": file_id, "name": meta.get("name", "Untitled"),
             "mimeType": meta.get("mimeType") or media_type or "application/octet-stream",
             "parents": meta["parents"], "data": data, "permissions": [],
             "created": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())}
        if "description" in meta:
            f["description"] = meta["description"]
        with self.server.lock:
            self.server.files[file_id] = f
        return f

    def upload(self, query, body, record):
        kind = query.get("uploadType")
        if kind not in ("multipart", "resumable", "media"):
            raise bad_request("Invalid upload type %s" % kind, "invalidParameter")
        self.fail_upload_maybe()
        if kind == "media":
            raise quota_error()  # no metadata: no parent, the SA's own My Drive
        if kind == "resumable":
            return self.resumable_start(query, body, record)
        meta, data, media_type = self.parse_multipart(body, record)
        self.check_parents(meta, query)
        f = self.store_file(meta, data, media_type)
        return 200, self.select(f, query), "application/json; charset=UTF-8", None

    def parse_multipart(self, body, record):
        ctype = self.headers.get("Content-Type", "")
        m = re.match(r'^\s*multipart/related\s*;\s*boundary=("?)([^";]+)\1\s*$', ctype, re.I)
        if not m:
            raise bad_request("Invalid multipart request: Content-Type must be "
                              "multipart/related with a boundary", "badContent")
        delim = b"--" + m.group(2).encode("latin-1")
        pieces = body.split(b"\r\n" + delim)
        first = pieces[0]
        if first.startswith(delim):
            first = first[len(delim):]
        elif delim in first:
            first = first[first.index(delim) + len(delim):]
        else:
            raise bad_request("Invalid multipart request: no opening boundary", "badContent")
        pieces[0] = first
        if len(pieces) < 2 or not pieces[-1].startswith(b"--"):
            raise bad_request("Invalid multipart request: no closing boundary", "badContent")
        parts = []
        for piece in pieces[:-1]:
            if not piece.startswith(b"\r\n"):
                raise bad_request("Invalid multipart request: bad part framing", "badContent")
            head, sep, content = piece[2:].partition(b"\r\n\r\n")
            if not sep:
                raise bad_request("Invalid multipart request: a part has no header end",
                                  "badContent")
            headers = {}
            for line in head.split(b"\r\n"):
                if line:
                    name, _, value = line.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
            parts.append((headers, content))
        record["parts"] = [h for h, _ in parts]
        if len(parts) != 2:
            raise bad_request("Invalid multipart request with %d mime parts." % len(parts),
                              "badContent")
        (h1, metadata), (h2, media) = parts
        if h1.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            raise bad_request("Invalid multipart request: the first part must be "
                              "application/json metadata", "badContent")
        if not h2.get("content-type"):
            raise bad_request("Invalid multipart request: the media part has no Content-Type",
                              "badContent")
        meta = self.check_metadata(metadata)
        record["metadata"] = meta
        return meta, media, h2["content-type"]

    def resumable_start(self, query, body, record):
        ctype = self.headers.get("Content-Type", "")
        if body.strip() and ctype.split(";")[0].strip().lower() != "application/json":
            raise bad_request("Resumable metadata must be application/json", "badContent")
        meta = self.check_metadata(body)
        record["metadata"] = meta
        self.check_parents(meta, query)
        declared = self.headers.get("X-Upload-Content-Length")
        upload_id = "ADPyc" + secrets.token_urlsafe(18)
        with self.server.lock:
            self.server.sessions[upload_id] = {
                "meta": meta, "query": query, "data": bytearray(),
                "declared": int(declared) if declared and declared.isdigit() else None,
                "media_type": self.headers.get("X-Upload-Content-Type")}
        location = "%s/upload/drive/v3/files?%s" % (
            self.server.base, urllib.parse.urlencode(dict(query, upload_id=upload_id)))
        return 200, b"", "text/plain", {"Location": location, "X-GUploader-UploadID": upload_id}

    def resumable_put(self, query, body):
        with self.server.lock:
            session = self.server.sessions.get(query["upload_id"])
        if session is None:
            raise ApiError(404, "No such upload session", "notFound")
        crange = self.headers.get("Content-Range")
        data = session["data"]
        total = None
        if crange:
            m = re.fullmatch(r"bytes (\*|(\d+)-(\d+))/(\*|\d+)", crange.strip())
            if not m:
                raise bad_request("Invalid Content-Range %s" % crange)
            total = None if m.group(4) == "*" else int(m.group(4))
            if m.group(1) == "*":  # a status query
                if body:
                    raise bad_request("A status query has no body")
                return self.resumable_progress(session, total)
            start, end = int(m.group(2)), int(m.group(3))
            if start != len(data) or end - start + 1 != len(body):
                raise bad_request("Content-Range %s does not match the %d bytes received so "
                                  "far and the %d bytes sent" % (crange, len(data), len(body)))
        else:
            total = len(data) + len(body)
        if session["declared"] is not None and total is not None and total != session["declared"]:
            raise bad_request("Content-Range total %d differs from X-Upload-Content-Length %d"
                              % (total, session["declared"]))
        final = total is not None and len(data) + len(body) == total
        if not final and len(body) % CHUNK_UNIT:
            raise bad_request("Chunks must be a multiple of 262144 bytes except the last",
                              "badContent")
        data += body
        with self.server.lock:
            lose_answer = body and self.server.chunks_to_fail > 0
            if lose_answer:
                self.server.chunks_to_fail -= 1
        if lose_answer:  # the bytes arrived, the answer is "lost"
            raise ApiError(503, "Backend Error", "backendError")
        if not final:
            return self.resumable_progress(session, None)
        with self.server.lock:
            self.server.sessions.pop(query["upload_id"], None)
        f = self.store_file(session["meta"], bytes(data), session["media_type"])
        return 200, self.select(f, session["query"]), "application/json; charset=UTF-8", None

    @staticmethod
    def resumable_progress(session, total):
        n = len(session["data"])
        extra = {"Range": "bytes=0-%d" % (n - 1)} if n else {}
        return 308, b"", "text/plain", extra

    def lookup(self, file_id, query):
        with self.server.lock:
            f = self.server.files.get(file_id)
        if f is None or query.get("supportsAllDrives") != "true":
            raise not_found(file_id)
        return f

    def get_file(self, file_id, query):
        f = self.lookup(file_id, query)
        if query.get("alt") == "media":
            return 200, f["data"], f["mimeType"], None
        return 200, self.select(f, query), "application/json; charset=UTF-8", None

    def delete_file(self, file_id, query):
        self.lookup(file_id, query)
        with self.server.lock:
            self.server.files.pop(file_id, None)

    def permission(self, file_id, query, body, record):
        f = self.lookup(file_id, query)
        ctype = self.headers.get("Content-Type", "")
        if ctype.split(";")[0].strip().lower() != "application/json":
            raise bad_request("Permissions must be sent as application/json", "badContent")
        try:
            perm = json.loads(body.decode("utf-8"))
        except ValueError as err:
            raise bad_request("Invalid JSON payload received. %s" % err, "parseError")
        record["body"] = perm
        if not isinstance(perm, dict):
            raise bad_request("Invalid JSON payload received.", "parseError")
        for key in perm:
            if key not in PERMISSION_FIELDS:
                raise bad_request("Invalid JSON payload received. Unknown name \"%s\": Cannot "
                                  "find field." % key, "invalid")
        if "type" not in perm:
            raise ApiError(400, "The permission type field is required.", "required",
                           {"location": "permission.type", "locationType": "other"})
        if "role" not in perm:
            raise ApiError(400, "The permission role field is required.", "required",
                           {"location": "permission.role", "locationType": "other"})
        if perm["type"] not in PERMISSION_TYPES:
            raise bad_request("The permission type is invalid.", "invalid")
        if perm["role"] not in PERMISSION_ROLES:
            raise bad_request("The permission role is invalid.", "invalid")
        if perm["type"] in ("user", "group") and "emailAddress" not in perm:
            raise bad_request("The permission emailAddress field is required.", "required")
        if perm["type"] == "domain" and "domain" not in perm:
            raise bad_request("The permission domain field is required.", "required")
        out = {"kind": "drive#permission",
               "id": "anyoneWithLink" if perm["type"] == "anyone" else secrets.token_hex(8),
               "type": perm["type"], "role": perm["role"]}
        if perm["type"] in ("anyone", "domain"):
            out["allowFileDiscovery"] = bool(perm.get("allowFileDiscovery", False))
        with self.server.lock:
            f["permissions"].append(out)
        return out

    def view(self, file_id):
        with self.server.lock:
            f = self.server.files.get(file_id)
            public = f is not None and any(p["type"] == "anyone" for p in f["permissions"])
        if f is None:
            return 404, b"Sorry, the file you have requested does not exist.", "text/plain", None
        if not public:
            return 403, b"You need access", "text/plain", None
        return 200, f["data"], f["mimeType"], None

    def control(self, body):
        """Test hook: {"revoke_tokens": true, "fail_uploads": N, "fail_chunks": N,
        "token_lifetime": S}; answers the resulting settings."""
        try:
            req = json.loads(body.decode("utf-8") or "{}")
        except ValueError:
            raise bad_request("control: not JSON")
        srv = self.server
        with srv.lock:
            if req.get("revoke_tokens"):
                srv.tokens.clear()
            if "fail_uploads" in req:
                srv.uploads_to_fail = int(req["fail_uploads"])
            if "fail_chunks" in req:
                srv.chunks_to_fail = int(req["fail_chunks"])
            if "token_lifetime" in req:
                srv.options.token_lifetime = int(req["token_lifetime"])
            return {"fail_uploads": srv.uploads_to_fail, "fail_chunks": srv.chunks_to_fail,
                    "token_lifetime": srv.options.token_lifetime, "tokens": len(srv.tokens)}

    def state(self):
        with self.server.lock:
            return {"tokens_issued": self.server.tokens_issued,
                    "auth_failures": self.server.auth_failures,
                    "files": [{"id": f["id"], "name": f["name"], "mimeType": f["mimeType"],
                               "parents": f["parents"], "size": len(f["data"]),
                               "sha256": hashlib.sha256(f["data"]).hexdigest(),
                               "permissions": f["permissions"]}
                              for f in self.server.files.values()],
                    "open_sessions": len(self.server.sessions)}


# ---- process ------------------------------------------------------------

def write_atomically(path, text):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.rename(tmp, path)


def stop(server):
    if not server.stopping.is_set():
        server.stopping.set()
        threading.Thread(target=server.shutdown, daemon=True).start()


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


def parse_args(argv):
    p = argparse.ArgumentParser(description="Fake of Google OAuth (JWT grant) and Drive v3.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 (default) picks a free port")
    p.add_argument("--port-file", help="write the chosen port here once listening")
    p.add_argument("--pid-file", help="write the process id here")
    p.add_argument("--public-key", required=True,
                   help="PEM public key of the service account (verifies the JWT)")
    p.add_argument("--client-email", required=True, help="the service account's client_email")
    p.add_argument("--audience", help="the JWT aud required (default: this server's /token)")
    p.add_argument("--token-lifetime", type=int, default=3600, help="expires_in of tokens")
    p.add_argument("--folder", action="append", default=[],
                   help="a folder id in a shared drive the account may write to (repeatable)")
    p.add_argument("--my-drive-folder", action="append", default=[],
                   help="a folder in a personal My Drive (uploads get storageQuotaExceeded)")
    p.add_argument("--fail-uploads", type=int, default=0,
                   help="answer the first N upload requests with 503 backendError")
    p.add_argument("--log", help="append one JSON line per request to this file")
    p.add_argument("--parent-pid", type=int, default=0,
                   help="exit when this process no longer exists")
    p.add_argument("--max-seconds", type=float, default=0, help="exit after this many seconds")
    p.add_argument("--verbose", action="store_true")
    return p.parse_args(argv)


def main(argv):
    options = parse_args(argv)
    server = FakeDrive((options.host, options.port), options)
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
