#!/bin/sh
# test_media.sh — the primer video's media pipeline end to end, with real
# programs and protocol fakes:
#   1. local: espeak-ng → ffmpeg enhancement → render over the generated
#      template and music → ffprobe shows video + audio lasting as long as
#      the voice (±0.5 s), and the work directory holds no temporary files;
#   2. the fake itself (tests/fakes/fake_media.py) rejects what the real
#      services reject (bad keys, bad signatures, stale timestamps, missing
#      fields) — checked with curl, independently of our clients;
#   3. the cloud clients against the fake: OpenAI TTS, ElevenLabs
#      speech-to-speech and Cloudinary (signed upload, overlay render,
#      destroy), each retrying through injected 500s, each failing clearly
#      on a wrong key or secret, no secret in any message.
# The services are driven by build/tests/test_media --drive (see that file).

. "$(dirname "$0")/lib.sh"

DRIVER=$HARDE_BUILD/tests/test_media
W=$E2E_TMP/work
mkdir -p "$W"

if [ ! -x "$DRIVER" ]; then
    skip "media pipeline" "$DRIVER missing (make build/tests/test_media)"
    done_testing
fi
HAVE_FFMPEG=1
command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 || HAVE_FFMPEG=
HAVE_ESPEAK=1
command -v espeak-ng >/dev/null 2>&1 || HAVE_ESPEAK=

# drive NAME ARGS... — runs the driver; stdout/stderr in $E2E_TMP/NAME.out/.err,
# status in DRIVE_RC.
drive() {
    d_name=$1
    shift
    timeout -k 5 120 "$DRIVER" --drive "$@" >"$E2E_TMP/$d_name.out" 2>"$E2E_TMP/$d_name.err" \
        </dev/null
    DRIVE_RC=$?
    DRIVE_OUT=$E2E_TMP/$d_name.out
    DRIVE_ERR=$E2E_TMP/$d_name.err
    export DRIVE_OUT DRIVE_ERR
}

check_drive_ok() {
    if [ "$DRIVE_RC" -eq 0 ]; then
        ok "$1"
    else
        not_ok "$1" "driver exit $DRIVE_RC
$(e2e_show "$DRIVE_ERR")"
    fi
}

# probe_json FILE OUT — ffprobe's own view of FILE, as JSON in OUT.
probe_json() {
    ffprobe -v error -show_entries format=duration:stream=codec_type,codec_name,sample_rate \
        -of json "$1" >"$2" 2>&1
}

SCRIPT_TEXT="Hi Maria, this is Dan from Summit Roofing. Thanks for letting us look at your \
roof on Maple Street. Tomorrow at ten in the morning I will walk the roof with you, show you \
what we found around the chimney flashing, and go through three options for your budget. \
There is nothing to prepare. If you have questions before then, just reply to this email. \
See you tomorrow!"
printf '%s\n' "$SCRIPT_TEXT" >"$W/script.txt"

# ---- 1. the local pipeline ----------------------------------------------------

VOICE=
TEMPLATE=
MUSIC=
if [ -n "$HAVE_ESPEAK" ] && [ -n "$HAVE_FFMPEG" ]; then
    drive synth synth "$W/script.txt" "$W"
    check_drive_ok "espeak-ng speaks the script"
    check_contains "the local TTS is espeak-ng, writing tts.wav" "$DRIVE_OUT" "espeak $W/tts.wav"

    drive enhance enhance "$W/tts.wav" "$W"
    check_drive_ok "ffmpeg enhances the voice"
    VOICE=$W/enhanced.wav
    probe_json "$W/tts.wav" "$E2E_TMP/tts.json"
    probe_json "$VOICE" "$E2E_TMP/enhanced.json"
    py_check "the enhanced voice is 48 kHz and as long as the raw one" <<EOF
raw = load_json("$E2E_TMP/tts.json"); enh = load_json("$E2E_TMP/enhanced.json")
r, e = float(raw["format"]["duration"]), float(enh["format"]["duration"])
assert 8 < r < 60, r
assert abs(r - e) < 0.1, (r, e)
assert enh["streams"][0]["sample_rate"] == "48000", enh
EOF
    if command -v ffmpeg >/dev/null 2>&1; then
        LUFS=$(ffmpeg -hide_banner -nostats -i "$VOICE" -af ebur128 -f null - 2>&1 |
            sed -n 's/^ *I: *\(-*[0-9.]*\) LUFS.*/\1/p' | tail -n 1)
        py_check "the enhanced voice is normalised to about -16 LUFS (got $LUFS)" <<EOF
assert abs(float("$LUFS") - (-16.0)) <= 1.5, "$LUFS"
EOF
    fi

    drive defaults defaults "$E2E_TMP/data/media" "Summit Roofing & Siding: \"Best\" 100%"
    check_drive_ok "the default template and music are generated"
    TEMPLATE=$(sed -n 1p "$DRIVE_OUT")
    MUSIC=$(sed -n 2p "$DRIVE_OUT")
    probe_json "$TEMPLATE" "$E2E_TMP/template.json"
    py_check "the template is H.264 video without audio" <<EOF
t = load_json("$E2E_TMP/template.json")
assert [s["codec_type"] for s in t["streams"]] == ["video"], t
assert t["streams"][0]["codec_name"] == "h264", t
EOF

    drive render render "$VOICE" "$TEMPLATE" "$MUSIC" "$W/primer.mp4" "$W" run-1
    check_drive_ok "ffmpeg renders the primer video"
    probe_json "$W/primer.mp4" "$E2E_TMP/primer.json"
    py_check "ffprobe: the MP4 has video + audio and lasts as long as the voice (±0.5 s)" <<EOF
p = load_json("$E2E_TMP/primer.json"); e = load_json("$E2E_TMP/enhanced.json")
kinds = sorted(s["codec_type"] for s in p["streams"])
assert kinds == ["audio", "video"], p
codecs = {s["codec_type"]: s["codec_name"] for s in p["streams"]}
assert codecs == {"video": "h264", "audio": "aac"}, codecs
v, d = float(e["format"]["duration"]), float(p["format"]["duration"])
assert abs(v - d) <= 0.5, (v, d)
EOF
    # faststart: the moov atom comes before mdat.
    py_check "the MP4 is faststart (moov before mdat)" <<EOF
data = open("$W/primer.mp4", "rb").read(1 << 20)
assert data.find(b"moov") != -1 and (data.find(b"mdat") == -1 or data.find(b"moov") < data.find(b"mdat")), "moov after mdat"
EOF
    LEFT=$(ls -A "$W" | LC_ALL=C sort | tr '\n' ' ')
    check_eq "no temporary files are left in the work directory" "$LEFT" \
        "enhanced.wav primer.mp4 script.txt tts.wav "
else
    skip "local pipeline" "espeak-ng or ffmpeg not installed"
fi

# ---- 2. the fake ------------------------------------------------------------------

FAKE_DIR=$E2E_TMP/fake
mkdir -p "$FAKE_DIR"
OA_KEY=sk-media-e2e-7f3a91c2d4
EL_KEY=xi-media-e2e-5b8e0d6a
CLD_KEY=987654321012345
CLD_SECRET=cld-e2e-secret-2c9d4e
CLD_KEY_E=$CLD_KEY
export CLD_KEY_E
python3 "$FAKES_DIR/fake_media.py" --port-file "$FAKE_DIR/port" --log "$FAKE_DIR/log.jsonl" \
    --store "$FAKE_DIR/store" --openai-key "$OA_KEY" --elevenlabs-key "$EL_KEY" \
    --cloud-name demo --cloudinary-key "$CLD_KEY" --cloudinary-secret "$CLD_SECRET" \
    --elevenlabs-voices voice123 --parent-pid $$ >"$FAKE_DIR/output" 2>&1 &
FAKE_PID=$!
E2E_PIDS="$E2E_PIDS $FAKE_PID"
i=0
while [ ! -s "$FAKE_DIR/port" ] && [ $i -lt 200 ] && kill -0 "$FAKE_PID" 2>/dev/null; do
    sleep 0.05
    i=$((i + 1))
done
if [ ! -s "$FAKE_DIR/port" ]; then
    not_ok "fake_media starts" "$(e2e_show "$FAKE_DIR/output")"
    done_testing
fi
ok "fake_media starts"
PORT=$(cat "$FAKE_DIR/port")
BASE=http://127.0.0.1:$PORT
FAKE_LOG=$FAKE_DIR/log.jsonl
export FAKE_LOG

faults() {
    curl -sS --max-time 10 -o /dev/null -H 'Content-Type: application/json' \
        -d "$1" "$BASE/_fake/faults"
}

# curl_code NAME ARGS... — HTTP status of a curl call; body in $E2E_TMP/NAME.body
curl_code() {
    c_name=$1
    shift
    curl -sS --max-time 30 -o "$E2E_TMP/$c_name.body" -w '%{http_code}' "$@" 2>/dev/null
}

code=$(curl_code oa_nokey -H 'Content-Type: application/json' \
    -d '{"model":"tts-1","input":"hi","voice":"alloy"}' "$BASE/v1/audio/speech")
check_eq "fake: OpenAI TTS without a key is 401" "$code" 401
code=$(curl_code oa_missing -H "Authorization: Bearer $OA_KEY" -H 'Content-Type: application/json' \
    -d '{"model":"tts-1","input":"hi"}' "$BASE/v1/audio/speech")
check_eq "fake: OpenAI TTS without a voice is 400" "$code" 400
check_contains "fake: ... naming the missing parameter" "$E2E_TMP/oa_missing.body" "'voice'"
code=$(curl_code oa_extra -H "Authorization: Bearer $OA_KEY" -H 'Content-Type: application/json' \
    -d '{"model":"tts-1","input":"hi","voice":"alloy","format":"wav"}' "$BASE/v1/audio/speech")
check_eq "fake: an unknown OpenAI field is 400" "$code" 400
printf 'RIFF' >"$E2E_TMP/a.wav"
code=$(curl_code el_badkey -H 'xi-api-key: nope' -F "audio=@$E2E_TMP/a.wav" \
    "$BASE/v1/speech-to-speech/voice123")
check_eq "fake: ElevenLabs with a wrong key is 401" "$code" 401
code=$(curl_code el_field -H "xi-api-key: $EL_KEY" -F "file=@$E2E_TMP/a.wav" \
    "$BASE/v1/speech-to-speech/voice123")
check_eq "fake: ElevenLabs without the audio field is 422" "$code" 422
code=$(curl_code el_voice -H "xi-api-key: $EL_KEY" -F "audio=@$E2E_TMP/a.wav" \
    "$BASE/v1/speech-to-speech/nobody")
check_eq "fake: ElevenLabs with an unknown voice is 404" "$code" 404
TS=$(date +%s)
SIG=$(printf 'public_id=x&timestamp=%s%s' "$TS" "$CLD_SECRET" | sha1sum | cut -c1-40)
code=$(curl_code cld_ok -F "file=@$E2E_TMP/a.wav;filename=a.bin" -F "api_key=$CLD_KEY" \
    -F "timestamp=$TS" -F public_id=x -F "signature=$SIG" "$BASE/v1_1/demo/raw/upload")
check_eq "fake: a correctly signed upload (signed with sha1sum here) is accepted" "$code" 200
code=$(curl_code cld_badsig -F "file=@$E2E_TMP/a.wav" -F "api_key=$CLD_KEY" -F "timestamp=$TS" \
    -F public_id=y -F "signature=$SIG" "$BASE/v1_1/demo/raw/upload")
check_eq "fake: a signature over other params is 401" "$code" 401
check_contains "fake: ... saying what it signed" "$E2E_TMP/cld_badsig.body" \
    "String to sign - 'public_id=y&timestamp=$TS'"
OLD=$((TS - 7200))
SIG=$(printf 'public_id=x&timestamp=%s%s' "$OLD" "$CLD_SECRET" | sha1sum | cut -c1-40)
code=$(curl_code cld_stale -F "file=@$E2E_TMP/a.wav" -F "api_key=$CLD_KEY" -F "timestamp=$OLD" \
    -F public_id=x -F "signature=$SIG" "$BASE/v1_1/demo/raw/upload")
check_eq "fake: a two-hour-old signature is refused" "$code" 400
check_contains "fake: ... as a stale request" "$E2E_TMP/cld_stale.body" "Stale request"
SIG=$(printf 'public_id=x&timestamp=%s%s' "$TS" "$CLD_SECRET" | sha1sum | cut -c1-40)
code=$(curl_code cld_destroy -F "api_key=$CLD_KEY" -F "timestamp=$TS" -F public_id=x \
    -F "signature=$SIG" "$BASE/v1_1/demo/raw/destroy")
check_eq "fake: signed destroy works" "$code:$(cat "$E2E_TMP/cld_destroy.body")" \
    '200:{"result": "ok"}'

# ---- 3. the cloud clients against the fake -----------------------------------------

CLOUD=$E2E_TMP/cloud
mkdir -p "$CLOUD"
SECRETS="$OA_KEY $EL_KEY $CLD_SECRET"

# mark — remembers how many requests the fake has logged; py_check snippets
# read the ones after it with since_mark().
mark() {
    LOG_MARK=$(wc -l <"$FAKE_LOG" 2>/dev/null || echo 0)
    export LOG_MARK
}
E2E_PY_PRELUDE="$E2E_PY_PRELUDE
def since_mark():
    return requests()[int(E.get('LOG_MARK', '0')):]"

# no_secrets NAME FILE — FILE mentions none of the keys.
no_secrets() {
    for s in $SECRETS; do
        if grep -qF -- "$s" "$2"; then
            not_ok "$1" "a secret appears in $2"
            return
        fi
    done
    ok "$1"
}

# OpenAI TTS: two injected 500s, then audio.
faults '{"fail_first": 2, "fail_path": "/v1/audio/speech"}'
mark
(
    export OPENAI_API_KEY=$OA_KEY OPENAI_BASE_URL=$BASE/v1 HARDE_SPEECH_TTS=openai
    export HARDE_SPEECH_RETRY_BASE_MS=50 HARDE_SPEECH_OPENAI_VOICE=nova
    drive oa synth "$W/script.txt" "$CLOUD"
    echo "$DRIVE_RC" >"$E2E_TMP/oa.rc"
)
DRIVE_RC=$(cat "$E2E_TMP/oa.rc") DRIVE_OUT=$E2E_TMP/oa.out DRIVE_ERR=$E2E_TMP/oa.err
check_drive_ok "OpenAI TTS succeeds after two 500s"
check_contains "... and writes tts.wav" "$DRIVE_OUT" "openai $CLOUD/tts.wav"
py_check "OpenAI TTS: 3 attempts, Bearer key, JSON fields model/input/voice/response_format" <<'EOF'
reqs = [r for r in since_mark() if r["path"] == "/v1/audio/speech"]
assert len(reqs) == 3, [(r.get("status"), r.get("injected")) for r in reqs]
assert [r["status"] for r in reqs] == [500, 500, 200], reqs
assert reqs[0].get("injected") and reqs[1].get("injected"), reqs
ok = reqs[2]
assert header(ok, "Authorization") == "Bearer <ok>", ok["headers"]
body = ok["body"]
assert set(body) == {"model", "input", "voice", "response_format"}, body
assert body["voice"] == "nova" and body["response_format"] == "wav", body
assert body["input"].startswith("Hi Maria, this is Dan"), body
EOF
if [ -n "$HAVE_FFMPEG" ]; then
    probe_json "$CLOUD/tts.wav" "$E2E_TMP/oa.json"
    py_check "the OpenAI audio is a WAV ffprobe reads" <<EOF
p = load_json("$E2E_TMP/oa.json")
assert p["streams"][0]["codec_name"] == "pcm_s16le", p
assert float(p["format"]["duration"]) > 5, p
EOF
fi
(
    export OPENAI_API_KEY=sk-wrong-key-0000 OPENAI_BASE_URL=$BASE/v1 HARDE_SPEECH_TTS=openai
    drive oa401 synth "$W/script.txt" "$CLOUD"
    echo "$DRIVE_RC" >"$E2E_TMP/oa401.rc"
)
check_eq "OpenAI TTS with a wrong key fails" "$(cat "$E2E_TMP/oa401.rc")" 1
check_contains "... clearly: AUTH, HTTP 401, the service's words" "$E2E_TMP/oa401.err" \
    "error: synthesize: AUTH: OpenAI TTS rejected the API key (HTTP 401): Incorrect API key"
check_not_contains "... without printing the key" "$E2E_TMP/oa401.err" "sk-wrong-key-0000"

# ElevenLabs: one injected 503, then mp3.
if [ -n "$HAVE_FFMPEG" ]; then
    EL_IN=$CLOUD/tts.wav
    faults '{"fail_first": 1, "fail_path": "/speech-to-speech/", "fail_status": 503}'
    mark
    (
        export ELEVENLABS_API_KEY=$EL_KEY ELEVENLABS_BASE_URL=$BASE HARDE_SPEECH_ENHANCE=elevenlabs
        export HARDE_SPEECH_ELEVENLABS_VOICE_ID=voice123 HARDE_SPEECH_RETRY_BASE_MS=50
        export HARDE_SPEECH_ELEVENLABS_VOICE_SETTINGS='{"stability":0.5,"similarity_boost":0.8}'
        drive el enhance "$EL_IN" "$CLOUD"
        echo "$DRIVE_RC" >"$E2E_TMP/el.rc"
    )
    DRIVE_RC=$(cat "$E2E_TMP/el.rc") DRIVE_OUT=$E2E_TMP/el.out DRIVE_ERR=$E2E_TMP/el.err
    check_drive_ok "ElevenLabs speech-to-speech succeeds after a 503"
    check_contains "... and writes enhanced.mp3" "$DRIVE_OUT" "elevenlabs $CLOUD/enhanced.mp3"
    py_check "ElevenLabs: xi-api-key, multipart fields audio/model_id/voice_settings, query" <<'EOF'
reqs = [r for r in since_mark() if "/speech-to-speech/" in r["path"]]
assert [r["status"] for r in reqs] == [503, 200], [r["status"] for r in reqs]
ok = reqs[1]
assert ok["path"] == "/v1/speech-to-speech/voice123?output_format=mp3_44100_128", ok["path"]
assert header(ok, "xi-api-key") == "<ok>", ok["headers"]
f = ok["fields"]
assert set(f) == {"audio", "model_id", "voice_settings"}, f
assert f["audio"]["filename"] == "tts.wav" and f["audio"]["content_type"] == "audio/wav", f
assert f["model_id"] == "eleven_multilingual_sts_v2", f
assert json.loads(f["voice_settings"]) == {"stability": 0.5, "similarity_boost": 0.8}, f
EOF
    probe_json "$CLOUD/enhanced.mp3" "$E2E_TMP/el.json"
    py_check "the ElevenLabs audio is an MP3 ffprobe reads" <<EOF
p = load_json("$E2E_TMP/el.json")
assert p["streams"][0]["codec_name"] == "mp3", p
EOF
fi
(
    export ELEVENLABS_API_KEY=xi-wrong-0000 ELEVENLABS_BASE_URL=$BASE HARDE_SPEECH_ENHANCE=elevenlabs
    export HARDE_SPEECH_ELEVENLABS_VOICE_ID=voice123
    drive el401 enhance "$W/script.txt" "$CLOUD"
    echo "$DRIVE_RC" >"$E2E_TMP/el401.rc"
)
check_eq "ElevenLabs with a wrong key fails" "$(cat "$E2E_TMP/el401.rc")" 1
check_contains "... clearly" "$E2E_TMP/el401.err" \
    "AUTH: ElevenLabs speech-to-speech rejected the API key (HTTP 401): Invalid API key"

# Cloudinary: signed uploads through two injected 500s, the overlay render, destroy.
if [ -n "$HAVE_FFMPEG" ]; then
    if [ -z "$VOICE" ]; then
        VOICE=$CLOUD/voice.wav
        ffmpeg -loglevel error -y -f lavfi -i sine=f=220:d=14.2 "$VOICE"
        drive defaults2 defaults "$E2E_TMP/data/media" "Acme"
        TEMPLATE=$(sed -n 1p "$DRIVE_OUT")
        MUSIC=$(sed -n 2p "$DRIVE_OUT")
    fi
    CLD_URL="cloudinary://$CLD_KEY:$CLD_SECRET@demo?upload_prefix=$BASE"
    faults '{"fail_first": 2, "fail_path": "/upload"}'
    mark
    (
        export CLOUDINARY_URL=$CLD_URL HARDE_RENDER_CLOUDINARY_DELIVERY_BASE=$BASE
        export HARDE_RENDER_RETRY_BASE_MS=50 HARDE_RENDER_CLOUDINARY_PROCESSING_WAIT_MS=100
        drive cld render "$VOICE" "$TEMPLATE" "$MUSIC" "$CLOUD/primer.mp4" "$CLOUD" run-7
        echo "$DRIVE_RC" >"$E2E_TMP/cld.rc"
    )
    DRIVE_RC=$(cat "$E2E_TMP/cld.rc") DRIVE_OUT=$E2E_TMP/cld.out DRIVE_ERR=$E2E_TMP/cld.err
    check_drive_ok "Cloudinary renders after two 500s on upload"
    check_eq "... listing the three uploaded assets" "$(sed -n '2,$p' "$DRIVE_OUT" | tr '\n' ' ')" \
        "cloudinary:video:harde/run-7-voice cloudinary:video:harde/run-7-template cloudinary:video:harde/run-7-music "
    probe_json "$CLOUD/primer.mp4" "$E2E_TMP/cld.json"
    probe_json "$VOICE" "$E2E_TMP/cldvoice.json"
    py_check "ffprobe: the Cloudinary MP4 has video + audio as long as the voice (±0.5 s)" <<EOF
p = load_json("$E2E_TMP/cld.json"); v = load_json("$E2E_TMP/cldvoice.json")
assert sorted(s["codec_type"] for s in p["streams"]) == ["audio", "video"], p
a, b = float(p["format"]["duration"]), float(v["format"]["duration"])
assert abs(a - b) <= 0.5, (a, b)
EOF
    py_check "Cloudinary: every upload signed (SHA-1) with a fresh timestamp, the overlay URL" <<'EOF'
reqs = since_mark()
ups = [r for r in reqs if r["path"].endswith("/video/upload") and not r.get("injected")]
assert [r["status"] for r in ups] == [200, 200, 200], [(r["status"], r.get("error")) for r in ups]
for r in ups:
    assert r["auth"] == "signature-sha1", r
    assert r["string_to_sign"].startswith("invalidate=true&overwrite=true&public_id=harde/run-7-"), r
    assert r["fields"]["api_key"] == E["CLD_KEY_E"], r["fields"]
    assert abs(int(r["fields"]["timestamp"]) - r["ts"]) < 60, r["fields"]
    assert r["fields"]["file"]["bytes"] > 1000, r["fields"]
inj = [r for r in reqs if r.get("injected") and "upload" in r["path"]]
assert len(inj) == 2, inj
gets = [r for r in reqs if r["method"] == "GET" and "/demo/video/upload/" in r["path"]]
assert len(gets) == 1 and gets[0]["status"] == 200, gets
t = gets[0]["transformation"]
assert t[0].startswith("du_") and t[1:] == ["l_audio:harde:run-7-voice", "fl_layer_apply",
    "l_audio:harde:run-7-music", "e_volume:-70", "fl_layer_apply"], t
assert gets[0]["public_id"] == "harde/run-7-template", gets[0]
EOF
    curl -sS --max-time 10 "$BASE/_fake/assets" >"$E2E_TMP/assets1.json"
    (
        export CLOUDINARY_URL=$CLD_URL
        # shellcheck disable=SC2046
        drive clean cleanup $(sed -n '2,$p' "$E2E_TMP/cld.out")
        echo "$DRIVE_RC" >"$E2E_TMP/clean.rc"
        drive clean2 cleanup cloudinary:video:harde/run-7-voice
        echo "$DRIVE_RC" >"$E2E_TMP/clean2.rc"
    )
    check_eq "cleanup destroys the three assets" "$(cat "$E2E_TMP/clean.rc")" 0
    curl -sS --max-time 10 "$BASE/_fake/assets" >"$E2E_TMP/assets2.json"
    py_check "... which were on the fake before, and are gone after" <<EOF
before = {a["public_id"] for a in load_json("$E2E_TMP/assets1.json")["assets"]}
after = {a["public_id"] for a in load_json("$E2E_TMP/assets2.json")["assets"]}
assert {"harde/run-7-voice", "harde/run-7-template", "harde/run-7-music"} <= before, before
assert not any(p.startswith("harde/run-7") for p in after), after
EOF
    check_eq "destroying an asset already gone still counts as done" \
        "$(cat "$E2E_TMP/clean2.rc")" 0

    # 423 while the video is processing, then the video.
    faults '{"processing": 1}'
    (
        export CLOUDINARY_URL=$CLD_URL HARDE_RENDER_CLOUDINARY_DELIVERY_BASE=$BASE
        export HARDE_RENDER_CLOUDINARY_PROCESSING_WAIT_MS=100
        drive cld423 render "$VOICE" "$TEMPLATE" - "$CLOUD/p2.mp4" "$CLOUD" run-8
        echo "$DRIVE_RC" >"$E2E_TMP/cld423.rc"
    )
    check_eq "a 423 (still processing) is waited out" "$(cat "$E2E_TMP/cld423.rc")" 0
    py_check "... the video URL answered 423, then 200" <<'EOF'
gets = [r for r in requests() if r["method"] == "GET" and "run-8-template" in r["path"]]
assert [r["status"] for r in gets] == [423, 200], [r["status"] for r in gets]
EOF

    # A configured template that does not exist on Cloudinary.
    faults '{}'
    (
        export CLOUDINARY_URL=$CLD_URL HARDE_RENDER_CLOUDINARY_DELIVERY_BASE=$BASE
        export HARDE_RENDER_CLOUDINARY_TEMPLATE=brand/base
        drive cld404 render "$VOICE" - - "$CLOUD/p3.mp4" "$CLOUD" run-10
        echo "$DRIVE_RC" >"$E2E_TMP/cld404.rc"
    )
    check_eq "a missing template fails the render" "$(cat "$E2E_TMP/cld404.rc")" 1
    check_contains "... with Cloudinary's X-Cld-Error reason" "$E2E_TMP/cld404.err" \
        "Cloudinary video render failed (HTTP 404 after 1 attempt): Resource not found - brand/base"
    check_contains "... still listing the uploaded voice for cleanup" "$E2E_TMP/cld404.out" \
        "cloudinary:video:harde/run-10-voice"
fi

(
    export CLOUDINARY_URL="cloudinary://$CLD_KEY:wrong-secret-0000@demo?upload_prefix=$BASE"
    export HARDE_RENDER_CLOUDINARY_DELIVERY_BASE=$BASE
    printf 'RIFF-not-much' >"$CLOUD/tiny.wav"
    drive cld401 render "$CLOUD/tiny.wav" "$CLOUD/tiny.wav" - "$CLOUD/x.mp4" "$CLOUD" run-9
    echo "$DRIVE_RC" >"$E2E_TMP/cld401.rc"
)
check_eq "Cloudinary with a wrong secret fails" "$(cat "$E2E_TMP/cld401.rc")" 1
check_contains "... clearly: the fake says the signature is invalid" "$E2E_TMP/cld401.err" \
    "AUTH: Cloudinary rejected the credentials for upload of harde/run-9-voice (HTTP 401): Invalid Signature"
for f in "$E2E_TMP"/*.err "$E2E_TMP"/*.out; do
    cat "$f"
done >"$E2E_TMP/all-output.txt"
no_secrets "no key or secret appears in any client output" "$E2E_TMP/all-output.txt"
cp "$FAKE_LOG" "$E2E_TMP/fake-log.txt"
no_secrets "the fake never logged a key or secret" "$E2E_TMP/fake-log.txt"

done_testing
