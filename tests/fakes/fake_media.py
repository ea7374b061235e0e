#!/usr/bin/env python3
"""fake_media — one local fake of the three media services Hard-E uses.

What it is for: the primer-video pipeline's cloud clients cannot reach
api.openai.com, api.elevenlabs.io or Cloudinary from the test machines, so
tests point them at this server on 127.0.0.1. It speaks each service's public
wire protocol as shared/docs/EXTERNAL_APIS.md describes it (§1.8 OpenAI TTS,
§2 ElevenLabs Speech-to-Speech, §5 Cloudinary) and checks what the real
service checks. It was written from those descriptions only, never from the
C clients it tests.

  POST /v1/audio/speech                      OpenAI TTS: Bearer key, JSON fields
                                             model / input / voice / response_format /
                                             speed / instructions / stream_format;
                                             answers audio bytes (a WAV made here,
                                             other formats through ffmpeg), chunked.
  POST /v1/speech-to-speech/{voice}[/stream] ElevenLabs: xi-api-key, multipart field
                                             names (audio, model_id, voice_settings as
                                             a JSON string, seed, remove_background_noise,
                                             file_format), output_format query;
                                             answers the input audio converted by ffmpeg.
  POST /v1_1/{cloud}/{type}/upload           Cloudinary signed upload: api_key, timestamp
                                             within one hour, signature recomputed from
                                             the params + api_secret (SHA-1, or SHA-256
                                             told apart by length); or HTTP Basic.
  POST /v1_1/{cloud}/{type}/destroy          Cloudinary signed destroy.
  GET  /{cloud}/{type}/upload/...            Cloudinary delivery: the original asset, or a
                                             video transformation (l_audio layers,
                                             e_volume, fl_layer_apply, du_/so_/eo_)
                                             rendered to MP4 with ffmpeg; errors in
                                             the X-Cld-Error header.
  POST /_fake/faults                         test control: {"fail_first", "fail_path",
                                             "fail_status", "processing"}
  GET  /_fake/assets                         test control: the stored Cloudinary assets

Failure injection: --fail-first N answers the first N requests whose path
contains --fail-path (default: every API request) with --fail-status (500)
before any check, so clients can be tested for retries; --processing N
answers 423 to the first N GETs of each derived (transformed) video.

What it owns: one listening socket; its store directory (uploaded assets and
rendered videos; a temporary one unless --store is given, removed at exit);
the optional request log (one JSON line per request, secrets never written);
its port and PID files.

Python 3 standard library only; ffmpeg/ffprobe are used when present for
formats other than WAV and for rendering.
"""

import argparse
import base64
import datetime
import hashlib
import io
import json
import math
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import wave
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY_BYTES = 64 * 1024 * 1024
TTS_MAX_INPUT = 4096
TTS_RATE = 24000

# §1.8: the voices, formats and models of POST /v1/audio/speech.
OPENAI_VOICES = {"alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage",
                 "shimmer", "verse", "marin", "cedar"}
OPENAI_FORMATS = {"mp3", "opus", "aac", "flac", "wav", "pcm"}
OPENAI_FIELDS = {"model", "input", "voice", "instructions", "response_format", "speed",
                 "stream_format"}

# §2: the form fields, models and output formats of speech-to-speech.
EL_FIELDS = {"audio", "model_id", "voice_settings", "seed", "remove_background_noise",
             "file_format"}
EL_STS_MODELS = {"eleven_english_sts_v2", "eleven_multilingual_sts_v2"}
EL_VOICE_SETTINGS = {"stability", "similarity_boost", "style", "use_speaker_boost", "speed"}
EL_OUTPUT_FORMATS = {
    "mp3_22050_32", "mp3_44100_32", "mp3_44100_64", "mp3_44100_96", "mp3_44100_128",
    "mp3_44100_192", "pcm_8000", "pcm_16000", "pcm_22050", "pcm_24000", "pcm_44100",
    "pcm_48000", "ulaw_8000", "alaw_8000", "opus_48000_32", "opus_48000_64",
    "opus_48000_96", "opus_48000_128", "opus_48000_192",
}
EL_QUERY = {"output_format", "enable_logging", "optimize_streaming_latency"}

# §5.2: parameters that are never signed.
CLD_UNSIGNED = {"file", "cloud_name", "resource_type", "api_key", "signature"}
CLD_RESOURCE_TYPES = {"image", "video", "raw", "auto"}
CLD_SIGNATURE_WINDOW = 3600
CLD_TRANSFORM_KEYS = {"l", "e", "fl", "du", "so", "eo", "ac", "af", "br", "q", "vc", "f",
                      "w", "h", "c"}


class ApiError(Exception):
    """An error answer: status, body object, extra headers."""

    def __init__(self, status, body, headers=None):
        super().__init__(str(body))
        self.status = status
        self.body = body
        self.headers = headers or {}


def openai_error(status, message, etype="invalid_request_error", param=None, code=None):
    return ApiError(status, {"error": {"message": message, "type": etype, "param": param,
                                       "code": code}})


def el_error(status, code, message):
    return ApiError(status, {"detail": {"status": code, "message": message}})


def el_validation(loc, msg, etype):
    return ApiError(422, {"detail": [{"loc": loc, "msg": msg, "type": etype}]})


def cld_error(status, message):
    return ApiError(status, {"error": {"message": message}})


def mask_key(key):
    if len(key) <= 8:
        return "***"
    return key[:3] + "*" * 8 + key[-4:]


# ---- audio and video helpers ----------------------------------------------

def make_wav(seconds, rate=TTS_RATE, freq=220.0):
    """A valid 16-bit mono WAV: a soft tone that pulses like syllables."""
    n = max(1, int(seconds * rate))
    frames = bytearray(2 * n)
    two_pi_f = 2.0 * math.pi * freq / rate
    for i in range(n):
        t = i / rate
        env = 0.5 - 0.5 * math.cos(2.0 * math.pi * 3.0 * t)
        v = int(9000 * env * math.sin(two_pi_f * i))
        struct.pack_into("<h", frames, 2 * i, v)
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))
    return out.getvalue()


def run_ffmpeg(args, data=None, timeout=120):
    """Runs ffmpeg with args (argv list, no shell); returns stdout bytes."""
    if not shutil.which("ffmpeg"):
        raise RuntimeError("ffmpeg is not installed")
    proc = subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y"] +
                          args, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError("ffmpeg failed: " + proc.stderr.decode("utf-8", "replace")[-400:])
    return proc.stdout


def probe(path):
    """(duration, has_video, has_audio, width, height, format) of a file, via ffprobe."""
    if not shutil.which("ffprobe"):
        return None
    proc = subprocess.run(["ffprobe", "-v", "error", "-show_entries",
                           "format=duration,format_name:stream=codec_type,width,height",
                           "-of", "json", path], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=60)
    if proc.returncode != 0:
        return None
    info = json.loads(proc.stdout or b"{}")
    streams = info.get("streams") or []
    fmt = info.get("format") or {}
    video = [s for s in streams if s.get("codec_type") == "video"]
    audio = [s for s in streams if s.get("codec_type") == "audio"]
    try:
        duration = float(fmt.get("duration"))
    except (TypeError, ValueError):
        duration = None
    return {
        "duration": duration,
        "video": bool(video),
        "audio": bool(audio),
        "width": video[0].get("width") if video else None,
        "height": video[0].get("height") if video else None,
        "format_name": fmt.get("format_name", ""),
    }


def convert_audio(data, fmt_args):
    """The audio bytes `data` (any format ffmpeg reads) re-encoded by fmt_args."""
    return run_ffmpeg(["-i", "pipe:0"] + fmt_args + ["pipe:1"], data=data)


OPENAI_FFMPEG = {
    "mp3": ["-f", "mp3", "-b:a", "64k"],
    "opus": ["-c:a", "libopus", "-f", "ogg"],
    "aac": ["-c:a", "aac", "-f", "adts"],
    "flac": ["-f", "flac"],
}


def el_output(data, output_format):
    kind, _, rest = output_format.partition("_")
    if kind == "mp3":
        rate, _, kbps = rest.partition("_")
        return convert_audio(data, ["-ac", "1", "-ar", rate, "-b:a", kbps + "k", "-f", "mp3"]), \
            "audio/mpeg"
    if kind == "pcm":
        return convert_audio(data, ["-ac", "1", "-ar", rest, "-f", "s16le"]), "audio/pcm"
    if kind in ("ulaw", "alaw"):
        return convert_audio(data, ["-ac", "1", "-ar", rest, "-f",
                                    "mulaw" if kind == "ulaw" else "alaw"]), "audio/basic"
    rate, _, kbps = rest.partition("_")
    return convert_audio(data, ["-ac", "1", "-ar", rate, "-c:a", "libopus", "-b:a",
                                kbps + "k", "-f", "ogg"]), "audio/ogg"


# ---- multipart and form bodies ---------------------------------------------

class Part:
    def __init__(self, name, filename, content_type, data):
        self.name = name
        self.filename = filename
        self.content_type = content_type
        self.data = data


def header_params(value):
    """'form-data; name="a"; filename="b"' -> ('form-data', {'name': 'a', ...})."""
    items = value.split(";")
    params = {}
    for item in items[1:]:
        key, eq, val = item.strip().partition("=")
        if not eq:
            continue
        val = val.strip()
        if len(val) >= 2 and val[0] == '"' and val[-1] == '"':
            val = val[1:-1].replace('\\"', '"')
        params[key.strip().lower()] = val
    return items[0].strip().lower(), params


def parse_multipart(body, content_type):
    """Strict RFC 7578 parsing: CRLF framing, a Content-Disposition per part."""
    kind, params = header_params(content_type)
    if kind != "multipart/form-data":
        raise ValueError("Content-Type is %r, not multipart/form-data" % kind)
    boundary = params.get("boundary")
    if not boundary or len(boundary) > 70:
        raise ValueError("multipart/form-data without a valid boundary")
    delim = b"--" + boundary.encode("latin-1")
    if not body.startswith(delim):
        raise ValueError("the body does not start with the boundary")
    parts = []
    pos = len(delim)
    while True:
        if body[pos:pos + 2] == b"--":
            return parts
        if body[pos:pos + 2] != b"\r\n":
            raise ValueError("boundary not followed by CRLF")
        pos += 2
        head_end = body.find(b"\r\n\r\n", pos)
        if head_end < 0:
            raise ValueError("part headers not terminated by a blank line")
        headers = {}
        for line in body[pos:head_end].split(b"\r\n"):
            name, colon, value = line.decode("utf-8", "replace").partition(":")
            if not colon:
                raise ValueError("malformed part header %r" % line[:80])
            headers[name.strip().lower()] = value.strip()
        end = body.find(b"\r\n" + delim, head_end + 4)
        if end < 0:
            raise ValueError("part not terminated by the boundary")
        disposition, dparams = header_params(headers.get("content-disposition", ""))
        if disposition != "form-data" or "name" not in dparams:
            raise ValueError("part without Content-Disposition: form-data; name=...")
        parts.append(Part(dparams["name"], dparams.get("filename"),
                          headers.get("content-type"), body[head_end + 4:end]))
        pos = end + 2 + len(delim)


def form_fields(body, content_type):
    """{name: Part} of a multipart or urlencoded body (repeated names: last wins,
    'key[]' names collected into a list of strings)."""
    ctype = (content_type or "").split(";")[0].strip().lower()
    fields = {}
    if ctype == "multipart/form-data":
        parts = parse_multipart(body, content_type)
    elif ctype == "application/x-www-form-urlencoded":
        parts = [Part(k, None, None, v.encode("utf-8")) for k, v in
                 urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True)]
    else:
        raise ValueError("unsupported Content-Type %r" % ctype)
    for part in parts:
        if part.name.endswith("[]"):
            key = part.name[:-2]
            prev = fields.get(key)
            values = prev.data if prev is not None and isinstance(prev.data, list) else []
            fields[key] = Part(key, None, None, values + [part.data.decode("utf-8")])
        else:
            fields[part.name] = part
    return fields


def text_of(part):
    if part is None:
        return None
    if isinstance(part.data, list):
        return ",".join(part.data)
    return part.data.decode("utf-8", "replace")


# ---- Cloudinary signatures and transformations ------------------------------

def cloudinary_string_to_sign(params):
    """§5.2 steps 1-3: the sorted name=value pairs, excluded and empty ones dropped,
    '&' inside a value written %26 (signature version 2)."""
    pairs = []
    for name in sorted(params):
        value = params[name]
        if name in CLD_UNSIGNED or value is None or value == "":
            continue
        pairs.append("%s=%s" % (name, str(value).replace("&", "%26")))
    return "&".join(pairs)


def cloudinary_sign(params, secret, algorithm):
    text = cloudinary_string_to_sign(params) + secret
    return hashlib.new(algorithm, text.encode("utf-8")).hexdigest()


class Layer:
    def __init__(self, public_id):
        self.public_id = public_id
        self.volume = None
        self.start = 0.0


def parse_volume(value):
    """e_volume:<percent change>|<n>db|mute -> a gain factor."""
    if value == "mute":
        return 0.0
    if value.endswith("db"):
        return 10 ** (float(value[:-2]) / 20.0)
    pct = float(value)
    if pct < -100 or pct > 400:
        raise ValueError("volume %s out of range" % value)
    return 1.0 + pct / 100.0


def parse_transformation(components):
    """Components of a video delivery URL -> {base: {...}, layers: [Layer]}."""
    base = {"volume": None, "duration": None, "start": None, "end": None}
    layers = []
    current = None
    for comp in components:
        params = comp.split(",")
        for param in params:
            key, sep, value = param.partition("_")
            if not sep or key not in CLD_TRANSFORM_KEYS:
                raise ValueError("Invalid transformation component - %s" % param)
            if key == "l":
                if current is not None:
                    raise ValueError("Invalid transformation - layer %s opened before the "
                                     "previous one was applied" % value)
                if not value.startswith("audio:"):
                    raise ValueError("Invalid transformation - only audio layers are "
                                     "supported by the fake (%s)" % value)
                current = Layer(value[len("audio:"):].replace(":", "/"))
            elif key == "fl" and value == "layer_apply":
                if current is None:
                    raise ValueError("Invalid transformation - fl_layer_apply without a layer")
                layers.append(current)
                current = None
            elif key == "e":
                effect, _, arg = value.partition(":")
                if effect != "volume":
                    raise ValueError("Invalid transformation - effect %s is not supported by "
                                     "the fake" % effect)
                target = current.__dict__ if current is not None else base
                target["volume"] = parse_volume(arg)
            elif key == "so" and current is not None:
                current.start = float(value)
            elif key in ("du", "so", "eo"):
                base[{"du": "duration", "so": "start", "eo": "end"}[key]] = float(value)
            # other known keys (q_, f_, ...) are accepted and ignored
    if current is not None:
        raise ValueError("Invalid transformation - layer %s never applied" % current.public_id)
    return base, layers


# ---- the server -------------------------------------------------------------

class RequestLog:
    def __init__(self, path):
        self.lock = threading.Lock()
        self.file = open(path, "a", encoding="utf-8") if path else None

    def write(self, record):
        if self.file:
            with self.lock:
                self.file.write(json.dumps(record, ensure_ascii=False) + "\n")
                self.file.flush()


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address, options, store, request_log):
        super().__init__(address, Handler)
        self.options = options
        self.store = store
        self.request_log = request_log
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.counter = 0
        self.fail_first = options.fail_first
        self.fail_path = options.fail_path
        self.fail_status = options.fail_status
        self.processing = options.processing
        self.processing_seen = {}
        self.assets = {}  # (resource_type, public_id) -> record
        self.render_lock = threading.Lock()

    def next_number(self):
        with self.lock:
            self.counter += 1
            return self.counter

    def take_failure(self, path):
        with self.lock:
            if self.fail_first > 0 and self.fail_path in path and not path.startswith("/_fake"):
                self.fail_first -= 1
                return True
        return False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-media/1.0"
    sys_version = ""

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):
        if self.server.options.verbose:
            sys.stderr.write("fake_media: %s\n" % (fmt % args))

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")

    # ---- plumbing -----------------------------------------------------

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = bytearray()
            while True:
                size = int(self.rfile.readline(1024).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(data)
                data += self.rfile.read(size)
                self.rfile.readline(1024)
                if len(data) > MAX_BODY_BYTES:
                    self.close_connection = True
                    raise ApiError(413, {"error": {"message": "Request body too large"}})
        n = int(self.headers.get("Content-Length") or 0)
        if n < 0 or n > MAX_BODY_BYTES:
            self.close_connection = True
            raise ApiError(413, {"error": {"message": "Request body too large"}})
        return self.rfile.read(n) if n else b""

    def send_bytes(self, status, body, content_type, headers=None, chunked=False):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, str(value))
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(body), 16384):
                piece = body[i:i + 16384]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        self.wfile.flush()

    def send_json(self, status, obj, headers=None):
        self.send_bytes(status, json.dumps(obj).encode("utf-8"), "application/json", headers)

    def logged_headers(self):
        out = {}
        for name, value in self.headers.items():
            low = name.lower()
            if low == "authorization":
                value = value.split(" ")[0] + " <%s>" % ("ok" if self.auth_state else "bad")
            elif low == "xi-api-key":
                value = "<ok>" if self.auth_state else "<bad>"
            out[name] = value
        return out

    def dispatch(self, method):
        self.auth_state = False
        record = {"n": self.server.next_number(), "ts": time.time(), "method": method,
                  "path": self.path}
        status = 500
        try:
            raw = self.read_body() if method in ("POST", "PUT") else b""
            record["body_bytes"] = len(raw)
            if self.server.take_failure(self.path):
                record["injected"] = True
                raise ApiError(self.server.fail_status,
                               {"error": {"message": "injected failure", "type": "server_error",
                                          "param": None, "code": None}})
            status = self.route(method, raw, record)
        except ApiError as err:
            status = err.status
            record["error"] = err.body
            self.send_json(err.status, err.body, err.headers)
        except (BrokenPipeError, ConnectionResetError):
            status = 0
            self.close_connection = True
        except Exception as err:  # a bug in the fake: report it loudly
            status = 500
            record["error"] = "fake_media bug: %r" % err
            self.send_json(500, {"error": {"message": "fake_media internal error: %r" % err}})
        record["status"] = status
        record["headers"] = self.logged_headers()
        self.server.request_log.write(record)

    def route(self, method, raw, record):
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        if path == "/_fake/faults" and method == "POST":
            return self.control_faults(raw)
        if path == "/_fake/assets" and method == "GET":
            assets = [{"resource_type": k[0], "public_id": k[1]}
                      for k in sorted(self.server.assets)]
            self.send_json(200, {"assets": assets})
            return 200
        if path == "/v1/audio/speech":
            self.require_method(method, "POST")
            return self.openai_speech(raw, record)
        m = re.fullmatch(r"/v1/speech-to-speech/([^/]+)(/stream)?", path)
        if m:
            self.require_method(method, "POST")
            return self.el_speech_to_speech(urllib.parse.unquote(m.group(1)), query, raw, record,
                                            bool(m.group(2)))
        m = re.fullmatch(r"/v1_1/([^/]+)/([^/]+)/(upload|destroy)", path)
        if m:
            self.require_method(method, "POST")
            return self.cld_api(m.group(1), m.group(2), m.group(3), raw, record)
        m = re.fullmatch(r"/([^/]+)/(image|video|raw)/upload/(.+)", path)
        if m and method == "GET":
            return self.cld_deliver(m.group(1), m.group(2), urllib.parse.unquote(m.group(3)),
                                    record)
        raise ApiError(404, {"error": {"message": "Invalid URL (%s %s)" % (method, path)}})

    def require_method(self, method, want):
        if method != want:
            raise ApiError(405, {"error": {"message": "Method %s not allowed" % method}})

    def control_faults(self, raw):
        conf = json.loads(raw or b"{}")
        with self.server.lock:
            self.server.fail_first = int(conf.get("fail_first", 0))
            self.server.fail_path = conf.get("fail_path", "")
            self.server.fail_status = int(conf.get("fail_status", 500))
            self.server.processing = int(conf.get("processing", 0))
            self.server.processing_seen = {}
        self.send_json(200, {"ok": True})
        return 200

    # ---- OpenAI TTS (§1.8) --------------------------------------------

    def openai_speech(self, raw, record):
        value = self.headers.get("Authorization", "")
        scheme, _, key = value.partition(" ")
        if not value:
            raise openai_error(401, "You didn't provide an API key. You need to provide your "
                               "API key in an Authorization header using Bearer auth.")
        if scheme.lower() != "bearer" or key.strip() != self.server.options.openai_key:
            raise openai_error(401, "Incorrect API key provided: %s. You can find your API key "
                               "at https://platform.openai.com/account/api-keys."
                               % mask_key(key.strip()), code="invalid_api_key")
        self.auth_state = True
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise openai_error(400, "Invalid Content-Type header (%s), expected "
                               "application/json." % ctype)
        try:
            body = json.loads(raw)
        except ValueError:
            raise openai_error(400, "We could not parse the JSON body of your request.")
        if not isinstance(body, dict):
            raise openai_error(400, "The request body must be a JSON object.")
        record["body"] = body
        for name in body:
            if name not in OPENAI_FIELDS:
                raise openai_error(400, "Unrecognized request argument supplied: %s" % name)
        for name in ("model", "input", "voice"):
            if name not in body:
                raise openai_error(400, "Missing required parameter: '%s'." % name, param=name)
        model, text, voice = body["model"], body["input"], body["voice"]
        if not isinstance(model, str) or not model:
            raise openai_error(400, "Invalid type for 'model': expected a string.", param="model")
        if not isinstance(text, str):
            raise openai_error(400, "Invalid type for 'input': expected a string.", param="input")
        if not text.strip():
            raise openai_error(400, "'input' must not be empty.", param="input")
        if len(text) > TTS_MAX_INPUT:
            raise openai_error(400, "'input' is too long: %d characters, the maximum is %d."
                               % (len(text), TTS_MAX_INPUT), param="input",
                               code="string_above_max_length")
        if isinstance(voice, dict):
            if set(voice) != {"id"} or not str(voice["id"]).startswith("voice_"):
                raise openai_error(400, "Invalid 'voice': a custom voice is {\"id\": "
                                   "\"voice_...\"}.", param="voice")
        elif voice not in OPENAI_VOICES:
            raise openai_error(400, "Invalid value for 'voice': %r." % (voice,), param="voice")
        fmt = body.get("response_format", "mp3")
        if fmt not in OPENAI_FORMATS:
            raise openai_error(400, "Invalid value for 'response_format': %r." % (fmt,),
                               param="response_format")
        speed = body.get("speed", 1.0)
        if isinstance(speed, bool) or not isinstance(speed, (int, float)) or \
                not 0.25 <= speed <= 4.0:
            raise openai_error(400, "'speed' must be a number from 0.25 to 4.0.", param="speed")
        if "instructions" in body:
            if model.startswith("tts-1"):
                raise openai_error(400, "'instructions' is not supported with model %s." % model,
                                   param="instructions")
            if not isinstance(body["instructions"], str) or len(body["instructions"]) > 4096:
                raise openai_error(400, "Invalid 'instructions'.", param="instructions")
        if body.get("stream_format", "audio") not in ("audio", "sse"):
            raise openai_error(400, "Invalid value for 'stream_format'.", param="stream_format")
        if body.get("stream_format") == "sse":
            raise openai_error(400, "The fake serves stream_format=audio only.",
                               param="stream_format")
        seconds = min(300.0, max(0.5, len(text) * 0.065 / float(speed)))
        wav = make_wav(seconds)
        if fmt == "wav":
            audio = wav
        elif fmt == "pcm":
            audio = wav[44:]
        else:
            audio = convert_audio(wav, OPENAI_FFMPEG[fmt])
        record["audio_seconds"] = seconds
        self.send_bytes(200, audio, "application/octet-stream",
                        {"x-request-id": "req_" + os.urandom(12).hex(),
                         "openai-processing-ms": "42"}, chunked=True)
        return 200

    # ---- ElevenLabs speech-to-speech (§2) ------------------------------

    def el_speech_to_speech(self, voice_id, query, raw, record, stream):
        key = self.headers.get("xi-api-key")
        if key is None:
            raise el_error(401, "invalid_api_key", "Missing xi-api-key header.")
        if key != self.server.options.elevenlabs_key:
            raise el_error(401, "invalid_api_key", "Invalid API key: %s" % mask_key(key))
        self.auth_state = True
        for name in query:
            if name not in EL_QUERY:
                raise el_validation(["query", name], "extra query parameter not permitted",
                                    "value_error.extra")
        output_format = query.get("output_format", ["mp3_44100_128"])[-1]
        if output_format not in EL_OUTPUT_FORMATS:
            raise el_validation(["query", "output_format"],
                                "value is not a valid enumeration member", "type_error.enum")
        voices = self.server.options.elevenlabs_voices
        if voices and voice_id not in voices.split(","):
            raise el_error(404, "voice_not_found",
                           "A voice with the voice_id %s was not found." % voice_id)
        try:
            fields = form_fields(raw, self.headers.get("Content-Type", ""))
        except ValueError as err:
            raise el_validation(["body"], "could not parse multipart form: %s" % err,
                                "value_error")
        record["fields"] = {n: ({"filename": p.filename, "content_type": p.content_type,
                                 "bytes": len(p.data)} if p.filename is not None else text_of(p))
                            for n, p in fields.items()}
        for name in fields:
            if name not in EL_FIELDS:
                raise el_validation(["body", name], "extra fields not permitted",
                                    "value_error.extra")
        audio = fields.get("audio")
        if audio is None:
            raise el_validation(["body", "audio"], "field required", "value_error.missing")
        if audio.filename is None:
            raise el_validation(["body", "audio"], "Expected UploadFile, received: <class 'str'>",
                                "value_error")
        if not audio.data:
            raise el_error(400, "invalid_audio", "The uploaded audio file is empty.")
        model = text_of(fields.get("model_id")) or "eleven_english_sts_v2"
        if model not in EL_STS_MODELS:
            raise el_error(400, "model_can_not_do_voice_conversion",
                           "Model %s can not do voice conversion." % model)
        settings = text_of(fields.get("voice_settings"))
        if settings is not None:
            try:
                parsed = json.loads(settings)
            except ValueError:
                raise el_validation(["body", "voice_settings"],
                                    "voice_settings must be a JSON encoded string",
                                    "value_error.json")
            if not isinstance(parsed, dict) or set(parsed) - EL_VOICE_SETTINGS:
                raise el_validation(["body", "voice_settings"], "invalid voice settings",
                                    "value_error")
        for name in ("remove_background_noise",):
            value = text_of(fields.get(name))
            if value is not None and value not in ("true", "false"):
                raise el_validation(["body", name], "value could not be parsed to a boolean",
                                    "type_error.bool")
        file_format = text_of(fields.get("file_format"))
        if file_format is not None and file_format not in ("other", "pcm_s16le_16"):
            raise el_validation(["body", "file_format"], "value is not a valid enumeration "
                                "member", "type_error.enum")
        data = audio.data
        if file_format == "pcm_s16le_16":
            data = wav_from_pcm(data, 16000)
        try:
            out, ctype = el_output(data, output_format)
        except RuntimeError as err:
            raise el_error(400, "invalid_audio", "Could not decode the audio: %s" % err)
        self.send_bytes(200, out, ctype, {"request-id": os.urandom(10).hex(),
                                          "current-concurrent-requests": "1",
                                          "maximum-concurrent-requests": "5"}, chunked=stream)
        return 200

    # ---- Cloudinary upload / destroy (§5.1-5.4) ----------------------------

    def cld_api(self, cloud, resource_type, action, raw, record):
        opts = self.server.options
        if cloud != opts.cloud_name:
            raise cld_error(401, "Invalid cloud_name %s" % cloud)
        if resource_type not in CLD_RESOURCE_TYPES:
            raise cld_error(400, "Invalid resource type %s" % resource_type)
        try:
            fields = form_fields(raw, self.headers.get("Content-Type", ""))
        except ValueError as err:
            raise cld_error(400, "Could not parse the request body: %s" % err)
        params = {n: text_of(p) for n, p in fields.items() if n != "file"}
        record["fields"] = dict(params)
        record["fields"].pop("signature", None)
        if "file" in fields:
            f = fields["file"]
            record["fields"]["file"] = {"filename": f.filename, "content_type": f.content_type,
                                        "bytes": len(f.data)}
        self.cld_authenticate(params, record)
        if action == "upload":
            return self.cld_upload(cloud, resource_type, fields, params, record)
        return self.cld_destroy(resource_type, params, record)

    def cld_authenticate(self, params, record):
        opts = self.server.options
        basic = self.headers.get("Authorization", "")
        if basic.lower().startswith("basic "):
            try:
                user, _, password = base64.b64decode(basic[6:]).decode("utf-8").partition(":")
            except ValueError:
                raise cld_error(401, "Invalid Basic authorization header")
            if user != opts.cloudinary_key or password != opts.cloudinary_secret:
                raise cld_error(401, "Invalid credentials")
            self.auth_state = True
            record["auth"] = "basic"
            return
        api_key = params.get("api_key")
        if not api_key:
            raise cld_error(401, "Must supply api_key")
        if api_key != opts.cloudinary_key:
            raise cld_error(401, "Unknown API key %s" % api_key)
        timestamp = params.get("timestamp")
        if not timestamp:
            raise cld_error(400, "Missing required parameter - timestamp")
        try:
            ts = int(timestamp)
        except ValueError:
            raise cld_error(400, "Invalid timestamp %s" % timestamp)
        now = time.time()
        if ts < now - CLD_SIGNATURE_WINDOW or ts > now + CLD_SIGNATURE_WINDOW:
            reported = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc)
            raise cld_error(400, "Stale request - reported time is %s which is out of the "
                            "allowed range of 3600 seconds" % reported.strftime("%Y-%m-%d %H:%M:%S %z"))
        signature = params.get("signature")
        if not signature:
            raise cld_error(400, "Missing required parameter - signature")
        algorithm = {40: "sha1", 64: "sha256"}.get(len(signature))
        to_sign = cloudinary_string_to_sign(params)
        if algorithm is None or cloudinary_sign(params, opts.cloudinary_secret,
                                                algorithm) != signature.lower():
            raise cld_error(401, "Invalid Signature %s. String to sign - '%s'."
                            % (signature, to_sign))
        self.auth_state = True
        record["auth"] = "signature-" + algorithm
        record["string_to_sign"] = to_sign

    def asset_path(self, resource_type, public_id, ext):
        safe = public_id.replace("/", "__")
        return os.path.join(self.server.store, resource_type, safe + ("." + ext if ext else ""))

    def cld_upload(self, cloud, resource_type, fields, params, record):
        part = fields.get("file")
        if part is None:
            raise cld_error(400, "Missing required parameter - file")
        data = part.data
        if part.filename is None:
            text = data.decode("utf-8", "replace")
            m = re.match(r"data:[\w/+.-]*(;[\w-]+=[\w-]+)*;base64,(.*)$", text, re.S)
            if not m:
                raise cld_error(400, "The fake accepts file bytes or a base64 data URI only")
            data = base64.b64decode(m.group(2))
        if not data:
            raise cld_error(400, "Empty file")
        public_id = params.get("public_id") or os.urandom(10).hex()
        folder = params.get("folder")
        if folder:
            public_id = folder.strip("/") + "/" + public_id
        if not re.fullmatch(r"[A-Za-z0-9_./-]+", public_id) or ".." in public_id:
            raise cld_error(400, "Invalid public_id %s" % public_id)
        overwrite = params.get("overwrite", "true") != "false"
        key = (resource_type if resource_type != "auto" else "video", public_id)
        with self.server.lock:
            existing = self.server.assets.get(key)
        if existing and not overwrite:
            result = dict(existing)
            result["existing"] = True
            self.send_json(200, result)
            return 200
        os.makedirs(os.path.join(self.server.store, key[0]), exist_ok=True)
        tmp = self.asset_path(key[0], public_id, "upload%d" % threading.get_ident())
        with open(tmp, "wb") as f:
            f.write(data)
        info = probe(tmp) if key[0] == "video" else None
        if key[0] == "video" and info is None:
            os.unlink(tmp)
            raise cld_error(400, "Unsupported video format or file")
        fmt = guess_format(part.filename, info)
        path = self.asset_path(key[0], public_id, fmt)
        os.replace(tmp, path)
        version = int(time.time())
        result = {
            "asset_id": hashlib.md5(("%s/%s" % key).encode()).hexdigest(),
            "public_id": public_id,
            "version": version,
            "version_id": os.urandom(16).hex(),
            "signature": hashlib.sha1(("public_id=%s&version=%d%s" % (
                public_id, version, self.server.options.cloudinary_secret)).encode()).hexdigest(),
            "format": fmt,
            "resource_type": key[0],
            "created_at": datetime.datetime.now(datetime.timezone.utc).strftime(
                "%Y-%m-%dT%H:%M:%SZ"),
            "tags": [],
            "bytes": len(data),
            "type": "upload",
            "etag": hashlib.md5(data).hexdigest(),
            "placeholder": False,
            "url": "%s/%s/%s/upload/v%d/%s.%s" % (self.base_url(), cloud, key[0], version,
                                                   public_id, fmt),
            "original_filename": os.path.splitext(part.filename or "file")[0],
        }
        result["secure_url"] = result["url"]
        if info is not None:
            result["duration"] = info["duration"]
            result["is_audio"] = not info["video"]
            if info["video"]:
                result["width"], result["height"] = info["width"], info["height"]
            result["playback_url"] = result["url"].rsplit(".", 1)[0] + ".m3u8"
        with self.server.lock:
            self.server.assets[key] = dict(result, path=path)
        result_out = {k: v for k, v in result.items()}
        record["public_id"] = public_id
        self.send_json(200, result_out)
        return 200

    def cld_destroy(self, resource_type, params, record):
        public_id = params.get("public_id")
        if not public_id:
            raise cld_error(400, "Missing required parameter - public_id")
        key = (resource_type, public_id)
        with self.server.lock:
            asset = self.server.assets.pop(key, None)
        if asset:
            try:
                os.unlink(asset["path"])
            except OSError:
                pass
        record["public_id"] = public_id
        self.send_json(200, {"result": "ok" if asset else "not found"})
        return 200

    # ---- Cloudinary delivery (§5.5) ----------------------------------------

    def base_url(self):
        return "http://%s:%d" % self.server.server_address[:2]

    def cld_find(self, resource_type, public_id):
        with self.server.lock:
            return self.server.assets.get((resource_type, public_id))

    def cld_deliver(self, cloud, resource_type, rest, record):
        if cloud != self.server.options.cloud_name:
            raise ApiError(404, {"error": {"message": "Resource not found"}},
                           {"X-Cld-Error": "Resource not found - cloud %s" % cloud})
        components = rest.split("/")
        i = 0
        transformation = []
        while i < len(components) - 1:
            comp = components[i]
            if re.fullmatch(r"v\d+", comp):
                i += 1
                break
            if not re.fullmatch(r"[a-z]{1,3}_[^/]*", comp):
                break
            transformation.append(comp)
            i += 1
        source = "/".join(components[i:])
        public_id, dot, ext = source.rpartition(".")
        if not dot:
            public_id, ext = source, ""
        record["transformation"] = transformation
        record["public_id"] = public_id
        asset = self.cld_find(resource_type, public_id)
        if asset is None:
            raise ApiError(404, {"error": {"message": "Resource not found"}},
                           {"X-Cld-Error": "Resource not found - %s" % public_id})
        if not transformation and ext in ("", asset["format"]):
            with open(asset["path"], "rb") as f:
                data = f.read()
            self.send_bytes(200, data, mime_of(asset["format"]))
            return 200
        if resource_type != "video" or ext != "mp4":
            raise ApiError(400, {"error": {"message": "Invalid transformation"}},
                           {"X-Cld-Error": "The fake renders video/upload/.../*.mp4 only"})
        try:
            base, layers = parse_transformation(transformation)
        except ValueError as err:
            raise ApiError(400, {"error": {"message": str(err)}}, {"X-Cld-Error": str(err)})
        inputs = []
        for layer in layers:
            found = self.cld_find("video", layer.public_id)
            if found is None:
                msg = "Resource not found - l_audio:%s" % layer.public_id.replace("/", ":")
                raise ApiError(404, {"error": {"message": msg}}, {"X-Cld-Error": msg})
            inputs.append((layer, found["path"]))
        url_key = hashlib.sha1(self.path.split("?")[0].encode()).hexdigest()
        with self.server.lock:
            seen = self.server.processing_seen.get(url_key, 0)
            if seen < self.server.processing:
                self.server.processing_seen[url_key] = seen + 1
                busy = True
            else:
                busy = False
        if busy:
            raise ApiError(423, {"error": {"message": "Processing"}},
                           {"X-Cld-Error": "Video is being processed, please retry later"})
        out = os.path.join(self.server.store, "derived", url_key + ".mp4")
        with self.server.render_lock:
            if not os.path.exists(out):
                os.makedirs(os.path.dirname(out), exist_ok=True)
                try:
                    render(asset["path"], base, inputs, out)
                except (RuntimeError, subprocess.TimeoutExpired) as err:
                    msg = "Video transformation failed: %s" % str(err)[-300:]
                    raise ApiError(400, {"error": {"message": msg}},
                                   {"X-Cld-Error": msg.replace("\n", " ")})
        with open(out, "rb") as f:
            data = f.read()
        self.send_bytes(200, data, "video/mp4")
        return 200


def render(base_path, base, layers, out):
    """Renders the base video with its audio layers mixed in, as Cloudinary would."""
    info = probe(base_path) or {}
    args = []
    if base["start"]:
        args += ["-ss", "%.3f" % base["start"]]
    args += ["-i", base_path]
    for layer, path in layers:
        if layer.start:
            args += ["-itsoffset", "%.3f" % layer.start]
        args += ["-i", path]
    chains, labels = [], []
    if info.get("audio") and base["volume"] != 0.0:
        chains.append("[0:a]volume=%.4f[b]" % (base["volume"] if base["volume"] else 1.0))
        labels.append("[b]")
    for i, (layer, _) in enumerate(layers):
        gain = 1.0 if layer.volume is None else layer.volume
        chains.append("[%d:a]aresample=48000,volume=%.4f[l%d]" % (i + 1, gain, i))
        labels.append("[l%d]" % i)
    duration = info.get("duration") or 0
    if base["end"] is not None:
        duration = min(duration, base["end"] - (base["start"] or 0))
    if base["duration"] is not None:
        duration = min(duration, base["duration"]) if duration else base["duration"]
    if labels:
        chains.append("%samix=inputs=%d:duration=longest:normalize=0[aout]"
                      % ("".join(labels), len(labels)))
        args += ["-filter_complex", ";".join(chains), "-map", "0:v:0", "-map", "[aout]"]
    else:
        args += ["-map", "0:v:0"]
    if duration:
        args += ["-t", "%.3f" % duration]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
             "-movflags", "+faststart", "-f", "mp4", out + ".tmp"]
    run_ffmpeg(args, timeout=600)
    os.replace(out + ".tmp", out)


def wav_from_pcm(pcm, rate):
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return out.getvalue()


def guess_format(filename, info):
    ext = os.path.splitext(filename or "")[1].lstrip(".").lower()
    if ext:
        return ext
    names = (info or {}).get("format_name", "")
    for candidate in ("mp4", "wav", "mp3", "ogg", "flac", "webm"):
        if candidate in names:
            return candidate
    return "bin"


def mime_of(fmt):
    return {"mp4": "video/mp4", "mov": "video/quicktime", "wav": "audio/wav",
            "mp3": "audio/mpeg", "m4a": "audio/mp4", "ogg": "audio/ogg"}.get(
        fmt, "application/octet-stream")


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
    p = argparse.ArgumentParser(description="Fake OpenAI TTS, ElevenLabs STS and Cloudinary.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 (default) picks a free port")
    p.add_argument("--port-file", help="write the chosen port here once listening")
    p.add_argument("--pid-file", help="write the process id here")
    p.add_argument("--log", help="append one JSON line per request to this file")
    p.add_argument("--store", help="directory for assets (default: a temporary one)")
    p.add_argument("--openai-key", default="sk-fake-media-key")
    p.add_argument("--elevenlabs-key", default="xi-fake-media-key")
    p.add_argument("--elevenlabs-voices", default="",
                   help="comma-separated voice ids that exist (default: any)")
    p.add_argument("--cloud-name", default="demo")
    p.add_argument("--cloudinary-key", default="123456789012345")
    p.add_argument("--cloudinary-secret", default="fake-cloudinary-secret")
    p.add_argument("--fail-first", type=int, default=0,
                   help="answer the first N matching requests with --fail-status")
    p.add_argument("--fail-path", default="", help="only requests whose path contains this")
    p.add_argument("--fail-status", type=int, default=500)
    p.add_argument("--processing", type=int, default=0,
                   help="answer 423 to the first N GETs of each derived video")
    p.add_argument("--parent-pid", type=int, default=0,
                   help="exit when this process no longer exists")
    p.add_argument("--max-seconds", type=float, default=0)
    p.add_argument("--verbose", action="store_true")
    return p.parse_args(argv)


def main(argv):
    options = parse_args(argv)
    own_store = not options.store
    store = options.store or tempfile.mkdtemp(prefix="fake-media-")
    os.makedirs(store, exist_ok=True)
    server = FakeServer((options.host, options.port), options, store, RequestLog(options.log))
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
        if own_store:
            shutil.rmtree(store, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
