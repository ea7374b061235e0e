#!/usr/bin/env python3
"""fake_s3 — a fake of the Amazon S3 object API (path-style), for tests.

What it is for: Hard-E's S3 delivery client cannot reach AWS from the test
machines, so its endpoint is pointed at this server on 127.0.0.1. It was
written from AWS's public description of Signature Version 4 ("Signing AWS API
requests", "Authenticating Requests: Using Query Parameters") and the S3
error format (EXTERNAL_APIS.md §8), never from the C client it tests. It
checks what S3 checks, strictly:

  * every request is signed: an `Authorization: AWS4-HMAC-SHA256 ...` header,
    or presigned query parameters (`X-Amz-Algorithm`, `X-Amz-Credential`,
    `X-Amz-Date`, `X-Amz-Expires`, `X-Amz-SignedHeaders`, `X-Amz-Signature`);
    only GET of an object may be anonymous, and only with --public-read;
  * the signature is recomputed here from the canonical request with the
    secret key (Python's hmac/hashlib) and a mismatch gets S3's 403
    SignatureDoesNotMatch, with the StringToSign and CanonicalRequest the
    fake computed, as S3 sends them;
  * the access key must exist (InvalidAccessKeyId), the credential scope's
    region, service and date must match (AuthorizationHeaderMalformed), the
    request time must be within 15 minutes (RequestTimeTooSkewed), a
    presigned URL must not have expired (AccessDenied "Request has expired");
  * header-signed requests carry `x-amz-content-sha256` (InvalidRequest) and,
    unless it is UNSIGNED-PAYLOAD, it must be the SHA-256 of the body received
    (XAmzContentSHA256Mismatch); `host`, `x-amz-date` and every `x-amz-*`
    header sent must be among the SignedHeaders (AccessDenied);
  * with --session-token, `x-amz-security-token` (or the query parameter
    X-Amz-Security-Token) must match (InvalidToken).

What it owns: objects in memory, keyed (bucket, key), for the life of the
process. Buckets exist only when named with --bucket. Object operations:
PUT (stores, ETag = quoted MD5), GET / HEAD (404 NoSuchKey), DELETE (204,
also for a missing key, as S3 answers). Anything else answers 501
NotImplemented. Errors are S3's XML body `<Error><Code/><Message/>
<RequestId/>...</Error>` with `x-amz-request-id`.

Test hooks: `GET /__fake/state` returns JSON of the stored objects (no auth;
`__fake` can never be a bucket name), --fail-puts N answers the first N
well-signed PUTs with 503 SlowDown, `POST /__fake/control` with JSON
{"fail_puts": N, "session_token": "..." or null} changes both at run time,
and --log appends one JSON line per
request (headers with Authorization reduced to "<sigv4>" / "<none>").

Run `python3 fake_s3.py --self-test` to check the signer against AWS's
published example vectors.
"""

import argparse
import datetime
import hashlib
import hmac
import json
import os
import re
import signal
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
MAX_SKEW_S = 15 * 60
MAX_PRESIGN_S = 7 * 24 * 3600
MAX_BODY = 256 << 20
UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"


# ---- SigV4, from AWS's description --------------------------------------

def uri_encode(text, keep_slash):
    out = []
    for byte in text.encode("utf-8"):
        ch = chr(byte)
        if ch in UNRESERVED or (keep_slash and ch == "/"):
            out.append(ch)
        else:
            out.append("%%%02X" % byte)
    return "".join(out)


def canonical_uri(raw_path):
    """S3: the decoded path, each segment URI-encoded once ('/' kept)."""
    return uri_encode(urllib.parse.unquote(raw_path), keep_slash=True) or "/"


def canonical_query(pairs):
    encoded = [(uri_encode(k, False), uri_encode(v, False)) for k, v in pairs]
    encoded.sort()
    return "&".join("%s=%s" % kv for kv in encoded)


def canonical_header_value(value):
    return re.sub(r"\s+", " ", value.strip())


def canonical_request(method, raw_path, query_pairs, headers, signed, payload_hash):
    """headers: dict of lower-case name -> value."""
    lines = [method, canonical_uri(raw_path), canonical_query(query_pairs)]
    lines.append("".join("%s:%s\n" % (h, canonical_header_value(headers.get(h, "")))
                         for h in signed))
    lines.append(";".join(signed))
    lines.append(payload_hash)
    return "\n".join(lines)


def signing_key(secret, date, region, service):
    key = ("AWS4" + secret).encode("utf-8")
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


def string_to_sign(amz_date, scope, creq):
    return "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                      hashlib.sha256(creq.encode("utf-8")).hexdigest()])


def signature(secret, date, region, service, sts):
    key = signing_key(secret, date, region, service)
    return hmac.new(key, sts.encode("utf-8"), hashlib.sha256).hexdigest()


def self_test():
    """AWS's published examples (S3 SigV4 docs: GET Object with a Range
    header; the presigned GET of examplebucket/test.txt)."""
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    headers = {"host": "examplebucket.s3.amazonaws.com", "range": "bytes=0-9",
               "x-amz-content-sha256": EMPTY_SHA256, "x-amz-date": "20130524T000000Z"}
    signed = sorted(headers)
    creq = canonical_request("GET", "/test.txt", [], headers, signed, EMPTY_SHA256)
    sts = string_to_sign("20130524T000000Z", "20130524/us-east-1/s3/aws4_request", creq)
    got = signature(secret, "20130524", "us-east-1", "s3", sts)
    want = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    assert got == want, "header example: %s != %s" % (got, want)
    query = [("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
             ("X-Amz-Credential", "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"),
             ("X-Amz-Date", "20130524T000000Z"), ("X-Amz-Expires", "86400"),
             ("X-Amz-SignedHeaders", "host")]
    creq = canonical_request("GET", "/test.txt", query,
                             {"host": "examplebucket.s3.amazonaws.com"}, ["host"],
                             "UNSIGNED-PAYLOAD")
    sts = string_to_sign("20130524T000000Z", "20130524/us-east-1/s3/aws4_request", creq)
    want_sts_hash = "3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04"
    assert sts.endswith(want_sts_hash), sts
    got = signature(secret, "20130524", "us-east-1", "s3", sts)
    want = "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    assert got == want, "presign example: %s != %s" % (got, want)
    print("fake_s3 self-test: ok")


# ---- errors -------------------------------------------------------------

class S3Error(Exception):
    def __init__(self, status, code, message, extra=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra or {}


def xml_escape(text):
    return (str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def error_xml(err, request_id):
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<Error>',
             "<Code>%s</Code>" % xml_escape(err.code),
             "<Message>%s</Message>" % xml_escape(err.message)]
    for name, value in err.extra.items():
        parts.append("<%s>%s</%s>" % (name, xml_escape(value), name))
    parts.append("<RequestId>%s</RequestId><HostId>fake-s3</HostId></Error>" % request_id)
    return "".join(parts).encode("utf-8")


def parse_amz_date(text):
    try:
        return datetime.datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()
    except (TypeError, ValueError):
        return None


# ---- the verifier -------------------------------------------------------

class Verifier:
    def __init__(self, options):
        self.keys = {}
        for pair in options.credentials:
            access, _, secret = pair.partition(":")
            self.keys[access] = secret
        self.region = options.region
        self.session_token = options.session_token

    def check_scope(self, credential, amz_date):
        parts = credential.split("/")
        if len(parts) != 5:
            raise S3Error(400, "AuthorizationHeaderMalformed",
                          "The authorization header is malformed; the Credential is mal-formed; "
                          "expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".")
        access, date, region, service, term = parts
        if access not in self.keys:
            raise S3Error(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does "
                          "not exist in our records.", {"AWSAccessKeyId": access})
        if region != self.region:
            raise S3Error(400, "AuthorizationHeaderMalformed",
                          "The authorization header is malformed; the region '%s' is wrong; "
                          "expecting '%s'" % (region, self.region), {"Region": self.region})
        if service != "s3" or term != "aws4_request":
            raise S3Error(400, "AuthorizationHeaderMalformed",
                          "The authorization header is malformed; incorrect service \"%s\". "
                          "This endpoint belongs to \"s3\"." % service)
        if not amz_date or parse_amz_date(amz_date) is None:
            raise S3Error(403, "AccessDenied", "AWS authentication requires a valid Date or "
                          "x-amz-date header")
        if amz_date[:8] != date:
            raise S3Error(403, "SignatureDoesNotMatch", "The request signature we calculated "
                          "does not match the signature you provided. Check your key and "
                          "signing method. (credential date %s, request date %s)"
                          % (date, amz_date[:8]))
        return access, date

    def check_session_token(self, given):
        if self.session_token and given != self.session_token:
            raise S3Error(403, "InvalidToken", "The provided token is malformed or otherwise "
                          "invalid.")

    def compare(self, access, date, amz_date, creq, given_sig):
        scope = "%s/%s/s3/aws4_request" % (date, self.region)
        sts = string_to_sign(amz_date, scope, creq)
        want = signature(self.keys[access], date, self.region, "s3", sts)
        if not hmac.compare_digest(want, given_sig or ""):
            raise S3Error(403, "SignatureDoesNotMatch", "The request signature we calculated "
                          "does not match the signature you provided. Check your key and "
                          "signing method.",
                          {"AWSAccessKeyId": access, "StringToSign": sts,
                           "SignatureProvided": given_sig, "CanonicalRequest": creq})

    def verify_header(self, method, raw_path, query_pairs, headers, auth, now):
        m = re.match(r"^AWS4-HMAC-SHA256\s+(.*)$", auth)
        if not m:
            raise S3Error(400, "InvalidArgument", "Unsupported Authorization Type")
        fields = {}
        for item in m.group(1).split(","):
            name, _, value = item.strip().partition("=")
            fields[name] = value
        for need in ("Credential", "SignedHeaders", "Signature"):
            if need not in fields:
                raise S3Error(400, "AuthorizationHeaderMalformed",
                              "The authorization header is malformed; missing %s." % need)
        amz_date = headers.get("x-amz-date")
        access, date = self.check_scope(fields["Credential"], amz_date)
        stamp = parse_amz_date(amz_date)
        if abs(now - stamp) > MAX_SKEW_S:
            raise S3Error(403, "RequestTimeTooSkewed", "The difference between the request "
                          "time and the current time is too large.",
                          {"RequestTime": amz_date, "MaxAllowedSkewMilliseconds": "900000"})
        signed = fields["SignedHeaders"].split(";")
        if signed != sorted(signed) or "host" not in signed:
            raise S3Error(403, "AccessDenied", "SignedHeaders must be sorted and include host")
        for name in headers:
            if name.startswith("x-amz-") and name not in signed:
                raise S3Error(403, "AccessDenied", "There were headers present in the request "
                              "which were not signed", {"HeadersNotSigned": name})
        payload = headers.get("x-amz-content-sha256")
        if payload is None:
            raise S3Error(400, "InvalidRequest", "Missing required header for this request: "
                          "x-amz-content-sha256")
        if payload != "UNSIGNED-PAYLOAD" and not re.fullmatch(r"[0-9a-f]{64}", payload):
            raise S3Error(400, "InvalidArgument", "x-amz-content-sha256 must be "
                          "UNSIGNED-PAYLOAD, or a valid sha256 value.")
        self.check_session_token(headers.get("x-amz-security-token"))
        creq = canonical_request(method, raw_path, query_pairs, headers, signed, payload)
        self.compare(access, date, amz_date, creq, fields["Signature"])
        return access, payload

    def verify_query(self, method, raw_path, query_pairs, headers, now):
        q = dict(query_pairs)
        if q.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256":
            raise S3Error(400, "AuthorizationQueryParametersError", "X-Amz-Algorithm only "
                          "supports \"AWS4-HMAC-SHA256\"")
        for need in ("X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders",
                     "X-Amz-Signature"):
            if need not in q:
                raise S3Error(400, "AuthorizationQueryParametersError",
                              "Query-string authentication version 4 requires the "
                              "X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, "
                              "X-Amz-SignedHeaders, and X-Amz-Expires parameters.")
        amz_date = q["X-Amz-Date"]
        access, date = self.check_scope(q["X-Amz-Credential"], amz_date)
        try:
            expires = int(q["X-Amz-Expires"])
        except ValueError:
            expires = -1
        if expires < 1 or expires > MAX_PRESIGN_S:
            raise S3Error(400, "AuthorizationQueryParametersError",
                          "X-Amz-Expires must be between 1 and 604800 seconds")
        stamp = parse_amz_date(amz_date)
        if stamp - now > MAX_SKEW_S:
            raise S3Error(403, "AccessDenied", "Request is not valid yet")
        if now > stamp + expires:
            raise S3Error(403, "AccessDenied", "Request has expired",
                          {"X-Amz-Expires": str(expires), "Expires": amz_date})
        signed = q["X-Amz-SignedHeaders"].split(";")
        if "host" not in signed:
            raise S3Error(403, "AccessDenied", "SignedHeaders must include host")
        self.check_session_token(q.get("X-Amz-Security-Token"))
        rest = [(k, v) for k, v in query_pairs if k != "X-Amz-Signature"]
        creq = canonical_request(method, raw_path, rest, headers, signed, "UNSIGNED-PAYLOAD")
        self.compare(access, date, amz_date, creq, q["X-Amz-Signature"])
        return access


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


class FakeS3(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, options):
        super().__init__(address, Handler)
        self.options = options
        self.verifier = Verifier(options)
        self.buckets = set(options.bucket)
        self.objects = {}
        self.lock = threading.Lock()
        self.counter = 0
        self.puts_to_fail = options.fail_puts
        self.log = RequestLog(options.log)
        self.stopping = threading.Event()

    def next_number(self):
        with self.lock:
            self.counter += 1
            return self.counter


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "AmazonS3"
    sys_version = ""

    def log_message(self, fmt, *args):
        if self.server.options.verbose:
            sys.stderr.write("fake_s3: " + (fmt % args) + "\n")

    def do_GET(self):
        self.handle_request("GET")

    def do_HEAD(self):
        self.handle_request("HEAD")

    def do_PUT(self):
        self.handle_request("PUT")

    def do_DELETE(self):
        self.handle_request("DELETE")

    def do_POST(self):
        self.handle_request("POST")

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = bytearray()
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(data)
                if len(data) + size > MAX_BODY:
                    raise S3Error(400, "EntityTooLarge", "Your proposed upload exceeds the "
                                  "maximum allowed size")
                data += self.rfile.read(size)
                self.rfile.readline(1024)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise S3Error(400, "EntityTooLarge", "Your proposed upload exceeds the maximum "
                          "allowed size")
        return self.rfile.read(length) if length else b""

    def send(self, status, body, content_type, extra=None, request_id=""):
        self.send_response(status)
        self.send_header("x-amz-request-id", request_id)
        self.send_header("Content-Type", content_type)
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        if status not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and status not in (204, 304):
            self.wfile.write(body)

    def handle_request(self, method):
        n = self.server.next_number()
        request_id = "FAKE%012d" % n
        split = urllib.parse.urlsplit(self.path)
        raw_path = split.path
        query_pairs = urllib.parse.parse_qsl(split.query, keep_blank_values=True)
        headers = {}
        for name, value in self.headers.items():
            lower = name.lower()
            headers[lower] = value if lower not in headers else headers[lower] + "," + value
        record = {"n": n, "ts": time.time(), "method": method, "path": raw_path,
                  "query": [k for k, _ in query_pairs], "headers": self.logged_headers()}
        try:
            body = self.read_body()
            record["body_len"] = len(body)
            if raw_path == "/__fake/state" and method == "GET":
                self.send(200, json.dumps(self.state()).encode(), "application/json")
                record["status"] = 200
                return
            if raw_path == "/__fake/control" and method == "POST":
                self.send(200, json.dumps(self.control(body)).encode(), "application/json")
                record["status"] = 200
                return
            status, out, ctype, extra = self.route(method, raw_path, query_pairs, headers, body,
                                                   record)
            record["status"] = status
            self.send(status, out, ctype, extra, request_id)
        except S3Error as err:
            record["status"] = err.status
            record["error"] = err.code
            self.close_connection = self.close_connection or err.status >= 500
            self.send(err.status, error_xml(err, request_id), "application/xml", None,
                      request_id)
        finally:
            self.server.log.write(record)

    def logged_headers(self):
        out = {}
        for name, value in self.headers.items():
            if name.lower() == "authorization":
                value = "<sigv4>" if value.startswith("AWS4-HMAC-SHA256") else "<other>"
            out[name] = value
        return out

    def control(self, body):
        """Test hook: {"fail_puts": N, "session_token": "..." | null}."""
        req = json.loads(body.decode("utf-8") or "{}")
        with self.server.lock:
            if "fail_puts" in req:
                self.server.puts_to_fail = int(req["fail_puts"])
            if "session_token" in req:
                self.server.verifier.session_token = req["session_token"]
            return {"fail_puts": self.server.puts_to_fail,
                    "session_token": bool(self.server.verifier.session_token)}

    def state(self):
        with self.server.lock:
            return {"objects": [{"bucket": b, "key": k, "size": len(o["data"]),
                                 "sha256": hashlib.sha256(o["data"]).hexdigest(),
                                 "content_type": o["content_type"]}
                                for (b, k), o in sorted(self.server.objects.items())]}

    def authenticate(self, method, raw_path, query_pairs, headers, body):
        """Returns "header", "query" or "anonymous"; raises S3Error."""
        now = time.time()
        v = self.server.verifier
        if "authorization" in headers:
            _, payload = v.verify_header(method, raw_path, query_pairs, headers,
                                         headers["authorization"], now)
            if payload != "UNSIGNED-PAYLOAD" and hashlib.sha256(body).hexdigest() != payload:
                raise S3Error(400, "XAmzContentSHA256Mismatch", "The provided "
                              "'x-amz-content-sha256' header does not match what was computed.",
                              {"ClientComputedContentSHA256": payload,
                               "S3ComputedContentSHA256": hashlib.sha256(body).hexdigest()})
            return "header"
        if any(k == "X-Amz-Signature" or k == "X-Amz-Algorithm" for k, _ in query_pairs):
            v.verify_query(method, raw_path, query_pairs, headers, now)
            return "query"
        return "anonymous"

    def route(self, method, raw_path, query_pairs, headers, body, record):
        auth = self.authenticate(method, raw_path, query_pairs, headers, body)
        record["auth"] = auth
        path = urllib.parse.unquote(raw_path)
        bucket, _, key = path.lstrip("/").partition("/")
        if auth == "anonymous" and not (self.server.options.public_read and
                                        method in ("GET", "HEAD") and key):
            raise S3Error(403, "AccessDenied", "Access Denied")
        if not bucket:
            raise S3Error(501, "NotImplemented", "A header you provided implies functionality "
                          "that is not implemented")
        if bucket not in self.server.buckets:
            raise S3Error(404, "NoSuchBucket", "The specified bucket does not exist",
                          {"BucketName": bucket})
        if not key or method == "POST" or any(k in ("uploads", "uploadId", "acl", "tagging")
                                               for k, _ in query_pairs
                                               if not k.startswith("X-Amz-")):
            raise S3Error(501, "NotImplemented", "A header you provided implies functionality "
                          "that is not implemented")
        with self.server.lock:
            if method == "PUT":
                if self.server.puts_to_fail > 0:
                    self.server.puts_to_fail -= 1
                    raise S3Error(503, "SlowDown", "Please reduce your request rate.")
                etag = '"%s"' % hashlib.md5(body).hexdigest()
                self.server.objects[(bucket, key)] = {
                    "data": body, "etag": etag,
                    "content_type": headers.get("content-type", "binary/octet-stream")}
                return 200, b"", "application/xml", {"ETag": etag}
            if method == "DELETE":
                self.server.objects.pop((bucket, key), None)
                return 204, b"", "application/xml", None
            obj = self.server.objects.get((bucket, key))
        if obj is None:
            raise S3Error(404, "NoSuchKey", "The specified key does not exist.", {"Key": key})
        return 200, obj["data"], obj["content_type"], {"ETag": obj["etag"]}


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
    p = argparse.ArgumentParser(description="Fake of the S3 object API with SigV4 checks.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 (default) picks a free port")
    p.add_argument("--port-file", help="write the chosen port here once listening")
    p.add_argument("--pid-file", help="write the process id here")
    p.add_argument("--credentials", action="append", default=[],
                   help="ACCESS_KEY:SECRET accepted (repeatable)")
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--bucket", action="append", default=[], help="a bucket that exists")
    p.add_argument("--session-token", help="require this x-amz-security-token")
    p.add_argument("--public-read", action="store_true",
                   help="allow anonymous GET of objects (a public bucket)")
    p.add_argument("--fail-puts", type=int, default=0,
                   help="answer the first N signed PUTs with 503 SlowDown")
    p.add_argument("--log", help="append one JSON line per request to this file")
    p.add_argument("--parent-pid", type=int, default=0,
                   help="exit when this process no longer exists")
    p.add_argument("--max-seconds", type=float, default=0, help="exit after this many seconds")
    p.add_argument("--verbose", action="store_true")
    p.add_argument("--self-test", action="store_true",
                   help="check the signer against AWS's published vectors and exit")
    return p.parse_args(argv)


def main(argv):
    options = parse_args(argv)
    if options.self_test:
        self_test()
        return 0
    if not options.credentials:
        raise SystemExit("fake_s3: give at least one --credentials ACCESS:SECRET")
    server = FakeS3((options.host, options.port), options)
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
