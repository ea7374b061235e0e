#!/usr/bin/env python3
"""fake_openai — a scripted fake of OpenAI's Chat Completions API, for tests.

What it is for: Hard-E's tests cannot reach api.openai.com, so they point
OPENAI_BASE_URL at this server on 127.0.0.1. It speaks the public wire
protocol (JSON and Server-Sent Events over HTTP/1.1 with keep-alive and
chunked transfer encoding) and checks what the real service checks: the
Bearer key, the Content-Type, the request's schema (required and unknown
fields, message roles, tool shapes and names), known model names, and the
rule that every assistant tool call is answered by a following tool message.
It was written from the public protocol description only, never from the C
client it tests.

What it owns: one listening socket, the optional request log (one JSON line
per request, Authorization value masked), and its port and PID files.

Design: a test hands it a script, a JSON list of responses served in order
to successive POST /v1/chat/completions requests that pass validation
(requests rejected by validation do not consume an entry). An entry is a
normal reply (text and/or tool calls, rendered as JSON or as an SSE stream
depending on the request's "stream" flag) or a fault (an HTTP error, garbage,
a truncated stream, invalid tool-call JSON, a mid-stream error, delays, a
stream split into N-byte pieces, a hang). See tests/fakes/README.md for the
format. Python 3 standard library only.
"""

import argparse
import hashlib
import json
import os
import random
import re
import select
import signal
import socket
import string
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY_BYTES = 32 * 1024 * 1024
TOOL_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]+$")
TOOL_NAME_MAX = 64
DEFAULT_CHUNK_CHARS = 4
DEFAULT_ARG_CHUNK_CHARS = 8
FINGERPRINT = "fp_fake0001"

# Top-level request fields the real endpoint accepts (OpenAPI
# CreateChatCompletionRequest); anything else is "Unrecognized request argument".
REQUEST_FIELDS = {
    "model", "messages", "store", "reasoning_effort", "metadata", "frequency_penalty",
    "logit_bias", "logprobs", "top_logprobs", "max_tokens", "max_completion_tokens", "n",
    "modalities", "prediction", "audio", "presence_penalty", "response_format", "seed",
    "service_tier", "stop", "stream", "stream_options", "temperature", "top_p", "tools",
    "tool_choice", "parallel_tool_calls", "user", "function_call", "functions",
    "web_search_options", "verbosity", "prompt_cache_key", "safety_identifier",
    "prompt_cache_retention",
}

# Fields each message role may carry (OpenAPI ChatCompletionRequest*Message).
MESSAGE_FIELDS = {
    "system": {"role", "content", "name"},
    "developer": {"role", "content", "name"},
    "user": {"role", "content", "name"},
    "assistant": {"role", "content", "name", "tool_calls", "refusal", "audio", "function_call"},
    "tool": {"role", "content", "tool_call_id"},
    "function": {"role", "content", "name"},
}

# Default error bodies for scripted {"status": N} faults: (message, type, code).
DEFAULT_ERRORS = {
    400: ("Bad request (scripted by fake_openai).", "invalid_request_error", None),
    401: ("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"),
    403: ("Country, region, or territory not supported", "request_forbidden",
          "unsupported_country_region_territory"),
    404: ("The model does not exist or you do not have access to it.",
          "invalid_request_error", "model_not_found"),
    408: ("Request timed out.", "timeout", None),
    409: ("Conflict (scripted by fake_openai).", "invalid_request_error", None),
    429: ("Rate limit reached for requests. Please try again later.", "requests",
          "rate_limit_exceeded"),
    500: ("The server had an error while processing your request. Sorry about that!",
          "server_error", None),
    502: ("Bad gateway.", "server_error", None),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None),
}


class ApiError(Exception):
    """An error answered with OpenAI's error JSON."""

    def __init__(self, status, message, etype="invalid_request_error", param=None, code=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.etype = etype
        self.param = param
        self.code = code

    def body(self):
        return error_body(self.message, self.etype, self.param, self.code)


def error_body(message, etype, param=None, code=None):
    return {"error": {"message": message, "type": etype, "param": param, "code": code}}


def dumps(obj):
    """Compact JSON as UTF-8 bytes, non-ASCII left raw as the real service sends it."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def split_text(text, size):
    return [text[i:i + size] for i in range(0, len(text), size)] if text else []


def missing(param):
    return ApiError(400, "Missing required parameter: '%s'." % param, param=param,
                    code="missing_required_parameter")


def invalid_type(param, expected, value):
    return ApiError(400, "Invalid type for '%s': expected %s, but got %s instead."
                    % (param, expected, type_name(value)), param=param, code="invalid_type")


def type_name(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def extra_fields(obj, allowed, where):
    for key in obj:
        if key not in allowed:
            return ApiError(400, "Additional properties are not allowed ('%s' was unexpected) - "
                            "'%s'" % (key, where), param=where, code=None)
    return None


def mask_key(key):
    if len(key) <= 8:
        return "***"
    return key[:3] + "*" * 8 + key[-4:]


class Script:
    """The scripted responses, handed out in order (thread-safe)."""

    def __init__(self, entries, repeat):
        self.entries = entries
        self.repeat = repeat
        self.next = 0
        self.lock = threading.Lock()

    def take(self):
        """Returns (entry, index) or (None, None) when exhausted."""
        with self.lock:
            if self.next >= len(self.entries):
                if not (self.repeat and self.entries):
                    return None, None
                self.next = 0
            index = self.next
            self.next += 1
            return self.entries[index], index


class RequestLog:
    """Appends one JSON line per request to a file (thread-safe)."""

    def __init__(self, path):
        self.lock = threading.Lock()
        self.file = open(path, "a", encoding="utf-8") if path else None

    def write(self, record):
        if not self.file:
            return
        line = json.dumps(record, ensure_ascii=False)
        with self.lock:
            self.file.write(line + "\n")
            self.file.flush()


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address, options, script, request_log):
        super().__init__(address, Handler)
        self.options = options
        self.script = script
        self.request_log = request_log
        self.models = [m.strip() for m in options.models.split(",") if m.strip()]
        self.stopping = threading.Event()
        self.counter_lock = threading.Lock()
        self.counter = 0

    def next_number(self):
        with self.counter_lock:
            self.counter += 1
            return self.counter


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-openai/1.0"
    sys_version = ""
    disable_nagle_algorithm = True

    # ---- plumbing -------------------------------------------------------

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):
        if self.server.options.verbose:
            sys.stderr.write("fake_openai: %s\n" % (fmt % args))

    def do_GET(self):
        self.handle_api("GET")

    def do_POST(self):
        self.handle_api("POST")

    def do_DELETE(self):
        self.handle_api("DELETE")

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self.read_chunked_body()
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        try:
            n = int(length)
        except ValueError:
            raise ApiError(400, "Invalid Content-Length header.")
        if n < 0 or n > MAX_BODY_BYTES:
            self.close_connection = True
            raise ApiError(413, "Request body too large (max %d bytes)." % MAX_BODY_BYTES)
        return self.rfile.read(n)

    def read_chunked_body(self):
        data = bytearray()
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                self.close_connection = True
                raise ApiError(400, "Malformed chunked request body.")
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(data)
            data += self.rfile.read(size)
            self.rfile.readline(1024)
            if len(data) > MAX_BODY_BYTES:
                self.close_connection = True
                raise ApiError(413, "Request body too large (max %d bytes)." % MAX_BODY_BYTES)

    def logged_headers(self):
        """The request headers with the Authorization value replaced."""
        out = {}
        for name, value in self.headers.items():
            if name.lower() == "authorization":
                value = "Bearer <ok>" if self.auth_ok() else "<bad>"
            out[name] = out[name] + ", " + value if name in out else value
        return out

    def auth_ok(self):
        value = self.headers.get("Authorization", "")
        scheme, _, key = value.partition(" ")
        return scheme.lower() == "bearer" and key.strip() == self.server.options.api_key

    def common_headers(self, extra=None):
        headers = {
            "x-request-id": "req_" + hashlib.sha1(os.urandom(16)).hexdigest()[:32],
            "openai-organization": "user-fake",
            "openai-processing-ms": "12",
            "openai-version": "2020-10-01",
            "x-ratelimit-limit-requests": "10000",
            "x-ratelimit-limit-tokens": "30000000",
            "x-ratelimit-remaining-requests": "9999",
            "x-ratelimit-remaining-tokens": "29999000",
            "x-ratelimit-reset-requests": "6ms",
            "x-ratelimit-reset-tokens": "0s",
        }
        for name, value in (extra or {}).items():
            headers[name] = str(value)
        return headers

    def send_bytes(self, status, body, content_type, extra_headers=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in self.common_headers(extra_headers).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def send_json(self, status, obj, extra_headers=None):
        self.send_bytes(status, dumps(obj), "application/json", extra_headers)

    def start_chunked(self, status, content_type, extra_headers=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, must-revalidate")
        for name, value in self.common_headers(extra_headers).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.flush()

    def write_chunk(self, data):
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

    def end_chunked(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def abort_connection(self):
        """Drops the connection mid-response, as a broken network would."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # ---- dispatch -------------------------------------------------------

    def handle_api(self, method):
        self.number = self.server.next_number()
        record = {
            "n": self.number,
            "ts": time.time(),
            "method": method,
            "path": self.path,
            "headers": self.logged_headers(),
            "body": None,
        }
        try:
            raw = self.read_body()
            self.record_body(record, raw)
            action = self.route(method, raw, record)
        except ApiError as err:
            record["status"] = err.status
            record["error"] = err.message
            self.server.request_log.write(record)
            self.send_json(err.status, err.body())
            return
        self.server.request_log.write(record)
        try:
            action()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    @staticmethod
    def record_body(record, raw):
        if not raw:
            return
        try:
            record["body"] = json.loads(raw)
        except ValueError:
            record["raw_body"] = raw[:4096].decode("utf-8", "replace")

    def route(self, method, raw, record):
        path = self.path.split("?", 1)[0].rstrip("/")
        if not path.startswith("/v1/"):
            raise ApiError(404, "Invalid URL (%s %s)" % (method, path))
        if not self.headers.get("Authorization"):
            raise ApiError(401, "You didn't provide an API key. You need to provide your API key "
                           "in an Authorization header using Bearer auth (i.e. Authorization: "
                           "Bearer YOUR_KEY), or as the password field (with blank username) if "
                           "you're accessing the API from your browser and are prompted for a "
                           "username and password. You can obtain an API key from "
                           "https://platform.openai.com/account/api-keys.")
        if not self.auth_ok():
            sent = self.headers.get("Authorization", "").partition(" ")[2].strip()
            raise ApiError(401, "Incorrect API key provided: %s. You can find your API key at "
                           "https://platform.openai.com/account/api-keys." % mask_key(sent),
                           code="invalid_api_key")
        if method == "GET" and path == "/v1/models":
            record["status"] = 200
            return lambda: self.send_json(200, {"object": "list",
                                                "data": [self.model_object(m)
                                                         for m in self.server.models]})
        if method == "GET" and path.startswith("/v1/models/"):
            name = path[len("/v1/models/"):]
            if name not in self.server.models:
                raise ApiError(404, "The model '%s' does not exist" % name, param="model",
                               code="model_not_found")
            record["status"] = 200
            return lambda: self.send_json(200, self.model_object(name))
        if method == "POST" and path == "/v1/chat/completions":
            return self.chat(raw, record)
        raise ApiError(404, "Invalid URL (%s %s)" % (method, path))

    @staticmethod
    def model_object(name):
        return {"id": name, "object": "model", "created": 1744316542, "owned_by": "system"}

    # ---- chat completions: validation ----------------------------------

    def chat(self, raw, record):
        ctype = self.headers.get("Content-Type", "")
        if ctype.split(";", 1)[0].strip().lower() != "application/json":
            raise ApiError(400, "Unsupported content type: '%s'. This API method only accepts "
                           "'application/json' requests, but you specified the header "
                           "'Content-Type: %s'. Please try again with a supported content type."
                           % (ctype, ctype))
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ApiError(400, "We could not parse the JSON body of your request. (HINT: This "
                           "likely means you aren't using your HTTP library correctly. The OpenAI "
                           "API expects a JSON payload, but what was sent was not valid JSON. If "
                           "you have trouble figuring out how to fix this, please contact us "
                           "through our help center at help.openai.com.)")
        self.validate_request(body)
        if body["model"] not in self.server.models:
            raise ApiError(404, "The model `%s` does not exist or you do not have access to it."
                           % body["model"], code="model_not_found")
        entry, index = self.server.script.take()
        record["script_index"] = index
        stream = body.get("stream") is True
        record["stream"] = stream
        if entry is None:
            raise ApiError(400, "fake_openai: script exhausted: no response scripted for this "
                           "request (%d entries)" % len(self.server.script.entries),
                           etype="fake_script_exhausted")
        if not isinstance(entry, dict):
            raise ApiError(500, "fake_openai: script entry %d is not an object" % index,
                           etype="fake_script_error")
        record["status"] = entry.get("status", 200)
        return lambda: self.serve_entry(entry, body, stream)

    def validate_request(self, body):
        strict = not self.server.options.allow_extra_fields
        if strict:
            for key in body:
                if key not in REQUEST_FIELDS:
                    raise ApiError(400, "Unrecognized request argument supplied: %s" % key)
        if "model" not in body:
            raise ApiError(400, "you must provide a model parameter", param="model",
                           code="missing_required_parameter")
        if not isinstance(body["model"], str):
            raise invalid_type("model", "a string", body["model"])
        if "messages" not in body:
            raise missing("messages")
        messages = body["messages"]
        if not isinstance(messages, list):
            raise invalid_type("messages", "an array", messages)
        if not messages:
            raise ApiError(400, "Invalid 'messages': empty array. Expected an array with minimum "
                           "length 1, but got an empty array instead.", param="messages",
                           code="empty_array")
        for i, msg in enumerate(messages):
            self.validate_message(i, msg, strict)
        self.validate_tool_pairing(messages)
        tools = body.get("tools")
        if "tools" in body:
            self.validate_tools(tools, strict)
        self.validate_options(body, tools)

    @staticmethod
    def validate_message(i, msg, strict):
        where = "messages[%d]" % i
        if not isinstance(msg, dict):
            raise invalid_type(where, "an object", msg)
        role = msg.get("role")
        if role is None:
            raise missing(where + ".role")
        if role not in MESSAGE_FIELDS:
            raise ApiError(400, "Invalid value: '%s'. Supported values are: 'system', "
                           "'assistant', 'user', 'tool', 'function', and 'developer'." % role,
                           param=where + ".role", code="invalid_value")
        if strict:
            err = extra_fields(msg, MESSAGE_FIELDS[role], "messages.%d" % i)
            if err:
                raise err
        content = msg.get("content")
        if content is not None and not isinstance(content, (str, list)):
            raise invalid_type(where + ".content", "one of a string or array", content)
        if role == "assistant":
            calls = msg.get("tool_calls")
            if calls is None:
                if content is None and msg.get("refusal") is None:
                    raise missing(where + ".content")
                return
            if not isinstance(calls, list):
                raise invalid_type(where + ".tool_calls", "an array", calls)
            if not calls:
                raise ApiError(400, "Invalid '%s.tool_calls': empty array. Expected an array "
                               "with minimum length 1, but got an empty array instead." % where,
                               param=where + ".tool_calls", code="empty_array")
            for j, call in enumerate(calls):
                Handler.validate_call("%s.tool_calls[%d]" % (where, j), call)
            return
        if "content" not in msg or content is None:
            raise missing(where + ".content")
        if role == "tool":
            if "tool_call_id" not in msg:
                raise missing(where + ".tool_call_id")
            if not isinstance(msg["tool_call_id"], str):
                raise invalid_type(where + ".tool_call_id", "a string", msg["tool_call_id"])

    @staticmethod
    def validate_call(where, call):
        if not isinstance(call, dict):
            raise invalid_type(where, "an object", call)
        for key in ("id", "type", "function"):
            if key not in call:
                raise missing("%s.%s" % (where, key))
        if not isinstance(call["id"], str):
            raise invalid_type(where + ".id", "a string", call["id"])
        if call["type"] != "function":
            raise ApiError(400, "Invalid value: '%s'. Supported values are: 'function'."
                           % call["type"], param=where + ".type", code="invalid_value")
        fn = call["function"]
        if not isinstance(fn, dict):
            raise invalid_type(where + ".function", "an object", fn)
        for key in ("name", "arguments"):
            if key not in fn:
                raise missing("%s.function.%s" % (where, key))
            if not isinstance(fn[key], str):
                raise invalid_type("%s.function.%s" % (where, key), "a string", fn[key])

    @staticmethod
    def validate_tool_pairing(messages):
        """Every assistant tool call must be answered by one of the tool
        messages that immediately follow it; a tool message must answer one."""
        pending = None  # the unanswered call ids of the last assistant turn
        for i, msg in enumerate(messages):
            role = msg["role"]
            if role == "tool":
                if pending is None or msg["tool_call_id"] not in pending:
                    raise ApiError(400, "Invalid parameter: messages with role 'tool' must be a "
                                   "response to a preceeding message with 'tool_calls'.",
                                   param="messages.[%d].role" % i)
                pending.remove(msg["tool_call_id"])
                continue
            if pending:
                raise Handler.unanswered(pending, i)
            pending = None
            if role == "assistant" and msg.get("tool_calls"):
                pending = [call["id"] for call in msg["tool_calls"]]
        if pending:
            raise Handler.unanswered(pending, len(messages))

    @staticmethod
    def unanswered(pending, i):
        return ApiError(400, "An assistant message with 'tool_calls' must be followed by tool "
                        "messages responding to each 'tool_call_id'. The following "
                        "tool_call_ids did not have response messages: %s" % ", ".join(pending),
                        param="messages.[%d].role" % i)

    @staticmethod
    def validate_tools(tools, strict):
        if not isinstance(tools, list):
            raise invalid_type("tools", "an array", tools)
        if not tools:
            raise ApiError(400, "Invalid 'tools': empty array. Expected an array with minimum "
                           "length 1, but got an empty array instead.", param="tools",
                           code="empty_array")
        for i, tool in enumerate(tools):
            where = "tools[%d]" % i
            if not isinstance(tool, dict):
                raise invalid_type(where, "an object", tool)
            if "type" not in tool:
                raise missing(where + ".type")
            if tool["type"] != "function":
                raise ApiError(400, "Invalid value: '%s'. Supported values are: 'function' and "
                               "'custom'." % tool["type"], param=where + ".type",
                               code="invalid_value")
            if "function" not in tool:
                raise missing(where + ".function")
            fn = tool["function"]
            if not isinstance(fn, dict):
                raise invalid_type(where + ".function", "an object", fn)
            if strict:
                err = extra_fields(tool, {"type", "function"}, "tools.%d" % i) or extra_fields(
                    fn, {"name", "description", "parameters", "strict"}, "tools.%d.function" % i)
                if err:
                    raise err
            Handler.validate_tool_function(where + ".function", fn)

    @staticmethod
    def validate_tool_function(where, fn):
        if "name" not in fn:
            raise missing(where + ".name")
        name = fn["name"]
        if not isinstance(name, str):
            raise invalid_type(where + ".name", "a string", name)
        if not TOOL_NAME_RE.match(name):
            raise ApiError(400, "Invalid '%s.name': string does not match pattern. Expected a "
                           "string that matches the pattern '^[a-zA-Z0-9_-]+$'." % where,
                           param=where + ".name", code="invalid_value")
        if len(name) > TOOL_NAME_MAX:
            raise ApiError(400, "Invalid '%s.name': string too long. Expected a string with "
                           "maximum length %d, but got a string with length %d instead."
                           % (where, TOOL_NAME_MAX, len(name)), param=where + ".name",
                           code="string_above_max_length")
        if "description" in fn and not isinstance(fn["description"], str):
            raise invalid_type(where + ".description", "a string", fn["description"])
        if "parameters" in fn and not isinstance(fn["parameters"], dict):
            raise invalid_type(where + ".parameters", "an object", fn["parameters"])

    @staticmethod
    def validate_options(body, tools):
        names = [t["function"]["name"] for t in tools or []]
        if "tool_choice" in body:
            choice = body["tool_choice"]
            if not tools:
                raise ApiError(400, "Invalid value for 'tool_choice': 'tool_choice' is only "
                               "allowed when 'tools' are specified.", param="tool_choice")
            if isinstance(choice, str):
                if choice not in ("none", "auto", "required"):
                    raise ApiError(400, "Invalid value: '%s'. Supported values are: 'none', "
                                   "'auto', and 'required'." % choice, param="tool_choice",
                                   code="invalid_value")
            elif isinstance(choice, dict):
                fn = choice.get("function")
                if choice.get("type") != "function" or not isinstance(fn, dict):
                    raise ApiError(400, "Invalid value for 'tool_choice'.", param="tool_choice")
                if fn.get("name") not in names:
                    raise ApiError(400, "Invalid value for 'tool_choice': tool '%s' is not in "
                                   "'tools'." % fn.get("name"), param="tool_choice")
            else:
                raise invalid_type("tool_choice", "one of a string or object", choice)
        if "parallel_tool_calls" in body and not tools:
            raise ApiError(400, "Invalid value for 'parallel_tool_calls': 'parallel_tool_calls' "
                           "is only allowed when 'tools' are specified.",
                           param="parallel_tool_calls")
        if "stream" in body and not isinstance(body["stream"], bool):
            raise invalid_type("stream", "a boolean", body["stream"])
        if body.get("stream_options") is not None:
            if body.get("stream") is not True:
                raise ApiError(400, "The 'stream_options' parameter is only allowed when "
                               "'stream' is enabled.", param="stream_options")
            if not isinstance(body["stream_options"], dict):
                raise invalid_type("stream_options", "an object", body["stream_options"])
        temp = body.get("temperature")
        if temp is not None and (isinstance(temp, bool) or not isinstance(temp, (int, float))
                                 or not 0 <= temp <= 2):
            raise ApiError(400, "Invalid 'temperature': expected a number between 0 and 2.",
                           param="temperature", code="invalid_value")
        for key in ("max_tokens", "max_completion_tokens"):
            value = body.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 1):
                raise ApiError(400, "Invalid '%s': expected an integer of at least 1." % key,
                               param=key, code="invalid_value")

    # ---- chat completions: scripted answers -----------------------------

    def serve_entry(self, entry, body, stream):
        if entry.get("delay_ms"):
            time.sleep(entry["delay_ms"] / 1000.0)
        if entry.get("hang"):
            self.hang()
            return
        if ("status" in entry and entry["status"] != 200) or "body" in entry:
            self.serve_status(entry)
            return
        if "garbage" in entry:
            self.serve_garbage(entry, stream)
            return
        reply = Reply(entry, body, self.number)
        if stream:
            self.serve_stream(entry, body, reply)
        else:
            self.serve_json(entry, reply)

    def hang(self):
        """Never answers; returns once the client goes away or the server stops."""
        self.close_connection = True
        while not self.server.stopping.is_set():
            readable, _, _ = select.select([self.connection], [], [], 0.2)
            if not readable:
                continue
            try:
                if not self.connection.recv(1, socket.MSG_PEEK):
                    return
            except OSError:
                return
            time.sleep(0.2)

    def serve_status(self, entry):
        status = entry.get("status", 200)
        headers = entry.get("headers") or {}
        body = entry.get("body")
        if body is None:
            message, etype, code = DEFAULT_ERRORS.get(
                status, ("Scripted error %d." % status,
                         "server_error" if status >= 500 else "invalid_request_error", None))
            body = error_body(message, etype, None, code)
        if isinstance(body, str):
            data = body.encode("utf-8")
            ctype = entry.get("content_type", "text/plain; charset=utf-8")
        else:
            data = dumps(body)
            ctype = entry.get("content_type", "application/json")
        self.send_bytes(status, data, ctype, headers)

    def serve_garbage(self, entry, stream):
        text = str(entry["garbage"]).encode("utf-8")
        headers = entry.get("headers") or {}
        if not stream:
            self.send_bytes(200, text, entry.get("content_type", "application/json"), headers)
            return
        self.start_chunked(200, entry.get("content_type", "text/event-stream; charset=utf-8"),
                           headers)
        self.write_chunk(text if entry.get("garbage_raw") else b"data: " + text + b"\n\n")
        self.end_chunked()

    def serve_json(self, entry, reply):
        if entry.get("sse_error"):
            self.send_json(500, error_body(entry["sse_error"], "server_error"),
                           entry.get("headers"))
            return
        data = dumps(reply.completion())
        if entry.get("truncate_after_chunks") is not None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in self.common_headers(entry.get("headers")).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data[:len(data) // 2])
            self.abort_connection()
            return
        self.send_bytes(200, data, "application/json", entry.get("headers"))

    def serve_stream(self, entry, body, reply):
        options = body.get("stream_options") or {}
        events = reply.stream_events(bool(options.get("include_usage")),
                                     options.get("include_obfuscation", True) is not False)
        truncate = entry.get("truncate_after_chunks")
        if entry.get("sse_error"):
            error_at = entry.get("sse_error_after", max(1, (len(events) - 1) // 2))
            events = events[:error_at]
            err = dumps(error_body(entry["sse_error"], "server_error"))
            prefix = b"event: error\n" if entry.get("sse_error_event") else b""
            events.append(prefix + b"data: " + err + b"\n\n")
        elif truncate is not None:
            events = events[:truncate]
        else:
            events.append(b"data: [DONE]\n\n")
        self.start_chunked(200, "text/event-stream; charset=utf-8", entry.get("headers"))
        self.write_events(events, entry.get("split_bytes"), entry.get("token_delay_ms", 0),
                          entry.get("split_delay_ms", 0))
        if truncate is not None and not entry.get("sse_error") and \
                entry.get("truncate_mode", "close") == "close":
            self.abort_connection()
            return
        self.end_chunked()

    def write_events(self, events, split, token_delay_ms, split_delay_ms):
        pending = b""
        for i, event in enumerate(events):
            if i and token_delay_ms:
                time.sleep(token_delay_ms / 1000.0)
            if not split:
                self.write_chunk(event)
                continue
            pending += event
            while len(pending) >= split:
                self.write_chunk(pending[:split])
                pending = pending[split:]
                if split_delay_ms:
                    time.sleep(split_delay_ms / 1000.0)
        self.write_chunk(pending)


class Reply:
    """A normal scripted reply rendered as a completion or as stream chunks."""

    def __init__(self, entry, request, seed):
        self.entry = entry
        self.request = request
        self.model = entry.get("model", request["model"])
        self.id = entry.get("id", "chatcmpl-" + hashlib.sha1(b"%d" % seed).hexdigest()[:29])
        self.created = int(time.time())
        self.content = entry.get("content")
        self.calls = self.make_calls(entry, request, seed)
        if self.content is None and not self.calls:
            self.content = ""
        default_finish = "tool_calls" if self.calls else "stop"
        self.finish = entry.get("finish_reason", default_finish)
        self.usage = self.make_usage(entry.get("usage"))

    @staticmethod
    def make_calls(entry, request, seed):
        specs = entry.get("tool_calls") or []
        bad = entry.get("invalid_tool_json")
        if bad and not specs:
            tools = request.get("tools") or []
            name = tools[0]["function"]["name"] if tools else "unknown_tool"
            specs = [{"name": name, "arguments": {"roof": {"area_sqft": 2400}}}]
        calls = []
        for i, spec in enumerate(specs):
            args = spec.get("arguments", {})
            text = args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)
            if bad:
                text = bad if isinstance(bad, str) else text[:max(1, len(text) // 2)]
            call_id = spec.get("id") or "call_" + hashlib.sha1(
                b"%d:%d" % (seed, i)).hexdigest()[:24]
            calls.append({"id": call_id, "type": "function",
                          "function": {"name": spec["name"], "arguments": text}})
        return calls

    def make_usage(self, given):
        if given is None:
            prompt = max(1, len(json.dumps(self.request.get("messages"))) // 4)
            produced = len(self.content or "") + sum(
                len(c["function"]["arguments"]) + len(c["function"]["name"]) for c in self.calls)
            given = {"prompt_tokens": prompt, "completion_tokens": max(1, produced // 4)}
        usage = dict(given)
        usage.setdefault("prompt_tokens", 0)
        usage.setdefault("completion_tokens", 0)
        usage.setdefault("total_tokens", usage["prompt_tokens"] + usage["completion_tokens"])
        usage.setdefault("prompt_tokens_details", {"cached_tokens": 0, "audio_tokens": 0})
        usage.setdefault("completion_tokens_details", {
            "reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0})
        return usage

    def completion(self):
        message = {"role": "assistant", "content": self.content, "refusal": None,
                   "annotations": []}
        if self.calls:
            message["tool_calls"] = self.calls
        return {
            "id": self.id, "object": "chat.completion", "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "message": message, "logprobs": None,
                         "finish_reason": self.finish}],
            "usage": self.usage, "service_tier": "default", "system_fingerprint": FINGERPRINT,
        }

    def chunk(self, delta, finish, include_usage, obfuscate):
        obj = {"id": self.id, "object": "chat.completion.chunk", "created": self.created,
               "model": self.model, "service_tier": "default",
               "system_fingerprint": FINGERPRINT,
               "choices": [{"index": 0, "delta": delta, "logprobs": None,
                            "finish_reason": finish}]}
        if include_usage:
            obj["usage"] = None
        if obfuscate:
            obj["obfuscation"] = "".join(random.choice(string.ascii_letters)
                                         for _ in range(random.randint(1, 12)))
        return b"data: " + dumps(obj) + b"\n\n"

    def stream_events(self, include_usage, obfuscate):
        """The SSE events of the answer, without the [DONE] terminator."""
        events = []
        chars = self.entry.get("chunk_chars", DEFAULT_CHUNK_CHARS)
        arg_chars = self.entry.get("arg_chunk_chars", DEFAULT_ARG_CHUNK_CHARS)
        first = {"role": "assistant", "content": "", "refusal": None}
        pieces = split_text(self.content, chars)
        if not pieces and self.calls:
            first["content"] = None
        else:
            events.append(self.chunk(first, None, include_usage, obfuscate))
            first = None
        for piece in pieces:
            events.append(self.chunk({"content": piece}, None, include_usage, obfuscate))
        for index, call in enumerate(self.calls):
            head = {"index": index, "id": call["id"], "type": "function",
                    "function": {"name": call["function"]["name"], "arguments": ""}}
            delta = dict(first or {}, tool_calls=[head])
            first = None
            events.append(self.chunk(delta, None, include_usage, obfuscate))
            for frag in split_text(call["function"]["arguments"], arg_chars):
                events.append(self.chunk({"tool_calls": [{"index": index,
                                                          "function": {"arguments": frag}}]},
                                         None, include_usage, obfuscate))
        events.append(self.chunk({}, self.finish, include_usage, obfuscate))
        if include_usage:
            obj = {"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                   "model": self.model, "service_tier": "default",
                   "system_fingerprint": FINGERPRINT, "choices": [], "usage": self.usage}
            if obfuscate:
                obj["obfuscation"] = "x"
            events.append(b"data: " + dumps(obj) + b"\n\n")
        return events


def load_script(path):
    if not path:
        return []
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if isinstance(data, dict):
        data = data.get("responses", [])
    if not isinstance(data, list):
        raise SystemExit("fake_openai: %s: the script must be a JSON list" % path)
    return data


def write_atomically(path, text):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.rename(tmp, path)


def watch_parent(server, parent_pid, max_seconds):
    """Stops the server when the test that started it is gone or time is up."""
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
    p = argparse.ArgumentParser(description="Scripted fake of OpenAI Chat Completions.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 (default) picks a free port")
    p.add_argument("--port-file", help="write the chosen port here once listening")
    p.add_argument("--pid-file", help="write the process id here")
    p.add_argument("--script", help="JSON list of responses, served in order")
    p.add_argument("--repeat", action="store_true", help="cycle the script forever")
    p.add_argument("--api-key", default="sk-fake-test-key",
                   help="the only key accepted as 'Authorization: Bearer KEY'")
    p.add_argument("--models", default="gpt-4.1,gpt-4.1-mini",
                   help="comma-separated model names that exist")
    p.add_argument("--log", help="append one JSON line per request to this file")
    p.add_argument("--allow-extra-fields", action="store_true",
                   help="do not reject unknown request and message fields")
    p.add_argument("--parent-pid", type=int, default=0,
                   help="exit when this process no longer exists")
    p.add_argument("--max-seconds", type=float, default=0,
                   help="exit after this many seconds (0 = never)")
    p.add_argument("--verbose", action="store_true", help="log each request to stderr")
    return p.parse_args(argv)


def main(argv):
    options = parse_args(argv)
    script = Script(load_script(options.script), options.repeat)
    server = FakeServer((options.host, options.port), options, script, RequestLog(options.log))
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
