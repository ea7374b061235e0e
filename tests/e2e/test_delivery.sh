#!/bin/sh
# test_delivery.sh — the cloud delivery clients (Google Drive with a
# service-account JWT, S3 with SigV4) against their protocol fakes.
#
# Makes a throw-away RSA key pair (openssl genpkey) and a second, wrong one;
# starts tests/fakes/fake_gdrive.py (verifying the JWT with the first key's
# public half) and tests/fakes/fake_s3.py (verifying SigV4 with the secret),
# both on 127.0.0.1 at ports the kernel picks; first checks that the fakes
# themselves refuse what the real services refuse (so the client tests below
# can fail); then runs the C test binary test_delivery_cloud with the fakes'
# addresses in the environment, relaying each of its results (a skipped test
# is a failure here: the environment must reach it); and last reads the
# fakes' request logs for the wire details: the JWT's header and claims,
# supportsAllDrives, fields, the multipart and resumable shapes, and SigV4
# headers with the real payload hash.
. "$(dirname "$0")/lib.sh"

CLOUD_TEST=$HARDE_BUILD/tests/test_delivery_cloud
SA_EMAIL=harde-delivery@hard-e-test.iam.gserviceaccount.com
FOLDER=0AFakeSharedFolder01
MY_DRIVE_FOLDER=1FolderInSomeonesMyDrive
S3_ACCESS=AKIAHARDETEST0000001
S3_SECRET=hardeTestSecretKey/0123456789+abcdefghij
S3_BUCKET=primers-test
S3_REGION=us-west-2

# start_server NAME COMMAND... — starts a fake that writes $E2E_TMP/NAME.port,
# waits for it (10 s at most), records its PID for cleanup; sets SERVER_PORT.
start_server() {
    ss_name=$1
    shift
    "$@" --port-file "$E2E_TMP/$ss_name.port" --parent-pid $$ \
        >"$E2E_TMP/$ss_name.output" 2>&1 &
    ss_pid=$!
    E2E_PIDS="$E2E_PIDS $ss_pid"
    ss_i=0
    while [ ! -s "$E2E_TMP/$ss_name.port" ]; do
        if [ "$ss_i" -ge 200 ] || ! kill -0 "$ss_pid" 2>/dev/null; then
            echo "# $ss_name did not start:"
            sed 's/^/#   /' "$E2E_TMP/$ss_name.output"
            return 1
        fi
        sleep 0.05
        ss_i=$((ss_i + 1))
    done
    SERVER_PORT=$(cat "$E2E_TMP/$ss_name.port")
}

# ---- keys and fakes ---------------------------------------------------------------

if ! command -v openssl >/dev/null 2>&1; then
    skip "delivery against the fakes" "openssl is not installed"
    done_testing
fi
KEYS=$E2E_TMP/keys
mkdir -p "$KEYS"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$KEYS/sa.pem" 2>/dev/null &&
    openssl pkey -in "$KEYS/sa.pem" -pubout -out "$KEYS/sa.pub.pem" &&
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$KEYS/other.pem" \
        2>/dev/null
check_eq "throw-away RSA key pairs made with openssl genpkey" "$?" 0

check "fake_s3 reproduces AWS's published SigV4 examples" \
    python3 "$FAKES_DIR/fake_s3.py" --self-test

start_server gdrive python3 "$FAKES_DIR/fake_gdrive.py" --public-key "$KEYS/sa.pub.pem" \
    --client-email "$SA_EMAIL" --folder "$FOLDER" --my-drive-folder "$MY_DRIVE_FOLDER" \
    --log "$E2E_TMP/gdrive.jsonl" || {
    not_ok "fake_gdrive starts"
    done_testing
}
GDRIVE_URL=http://127.0.0.1:$SERVER_PORT
start_server s3 python3 "$FAKES_DIR/fake_s3.py" --credentials "$S3_ACCESS:$S3_SECRET" \
    --bucket "$S3_BUCKET" --region "$S3_REGION" --log "$E2E_TMP/s3.jsonl" || {
    not_ok "fake_s3 starts"
    done_testing
}
S3_URL=http://127.0.0.1:$SERVER_PORT
ok "both fakes listen on 127.0.0.1"

# Service-account key files as Google issues them, token_uri pointing at the fake.
write_key_file() {
    python3 - "$1" "$2" "$GDRIVE_URL/token" "$SA_EMAIL" <<'PY'
import json, sys
out, pem, token_uri, email = sys.argv[1:]
key = {"type": "service_account", "project_id": "hard-e-test",
       "private_key_id": "0123456789abcdef0123456789abcdef01234567",
       "private_key": open(pem).read(), "client_email": email,
       "client_id": "100000000000000000001",
       "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": token_uri,
       "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
       "universe_domain": "googleapis.com"}
json.dump(key, open(out, "w"), indent=2)
PY
}
write_key_file "$KEYS/sa.json" "$KEYS/sa.pem"
write_key_file "$KEYS/wrong.json" "$KEYS/other.pem"

# ---- the fakes refuse what the services refuse ------------------------------------

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

# jwt KEY CLAIMS_JSON — a compact RS256 JWT signed with openssl.
jwt() {
    j_head=$(printf '{"alg":"RS256","typ":"JWT"}' | b64url)
    j_body=$(printf '%s' "$2" | b64url)
    j_sig=$(printf '%s.%s' "$j_head" "$j_body" | openssl dgst -sha256 -sign "$1" | b64url)
    printf '%s.%s.%s' "$j_head" "$j_body" "$j_sig"
}

now=$(date +%s)
claims=$(printf '{"iss":"%s","scope":"https://www.googleapis.com/auth/drive","aud":"%s/token","iat":%d,"exp":%d}' \
    "$SA_EMAIL" "$GDRIVE_URL" "$now" $((now + 3600)))
grant="grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
curl -sS --max-time 10 -d "$grant&assertion=$(jwt "$KEYS/sa.pem" "$claims")" \
    "$GDRIVE_URL/token" >"$E2E_TMP/tok_good.json" 2>&1
curl -sS --max-time 10 -d "$grant&assertion=$(jwt "$KEYS/other.pem" "$claims")" \
    "$GDRIVE_URL/token" >"$E2E_TMP/tok_wrong.json" 2>&1
long=$(printf '{"iss":"%s","scope":"https://www.googleapis.com/auth/drive","aud":"%s/token","iat":%d,"exp":%d}' \
    "$SA_EMAIL" "$GDRIVE_URL" "$now" $((now + 7200)))
curl -sS --max-time 10 -d "$grant&assertion=$(jwt "$KEYS/sa.pem" "$long")" \
    "$GDRIVE_URL/token" >"$E2E_TMP/tok_long.json" 2>&1
aud=$(printf '{"iss":"%s","scope":"https://www.googleapis.com/auth/drive","aud":"https://oauth2.googleapis.com/token","iat":%d,"exp":%d}' \
    "$SA_EMAIL" "$now" $((now + 3600)))
curl -sS --max-time 10 -d "$grant&assertion=$(jwt "$KEYS/sa.pem" "$aud")" \
    "$GDRIVE_URL/token" >"$E2E_TMP/tok_aud.json" 2>&1
curl -sS --max-time 10 -o "$E2E_TMP/drive_noauth.json" -w '%{http_code}' \
    -X DELETE "$GDRIVE_URL/drive/v3/files/x?supportsAllDrives=true" >"$E2E_TMP/drive_noauth.code"
py_check "fake_gdrive: a JWT signed with the key is granted; a wrong key, a 2-hour exp, a wrong aud and no token are refused" <<PY
good = load_json("$E2E_TMP/tok_good.json")
assert good["access_token"].startswith("ya29.") and good["token_type"] == "Bearer", good
assert load_json("$E2E_TMP/tok_wrong.json") == {"error": "invalid_grant",
    "error_description": "Invalid JWT Signature."}
assert "short-lived" in load_json("$E2E_TMP/tok_long.json")["error_description"]
assert "audience" in load_json("$E2E_TMP/tok_aud.json")["error_description"]
assert read("$E2E_TMP/drive_noauth.code") == "401"
assert load_json("$E2E_TMP/drive_noauth.json")["error"]["code"] == 401
PY

curl -sS --max-time 10 -o "$E2E_TMP/s3_anon.xml" -w '%{http_code}' -X PUT --data-binary x \
    "$S3_URL/$S3_BUCKET/k" >"$E2E_TMP/s3_anon.code"
curl -sS --max-time 10 -o "$E2E_TMP/s3_forged.xml" -w '%{http_code}' -X PUT --data-binary x \
    -H "x-amz-date: $(date -u +%Y%m%dT%H%M%SZ)" \
    -H "x-amz-content-sha256: 2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881" \
    -H "Authorization: AWS4-HMAC-SHA256 Credential=$S3_ACCESS/$(date -u +%Y%m%d)/$S3_REGION/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=0000000000000000000000000000000000000000000000000000000000000000" \
    "$S3_URL/$S3_BUCKET/k" >"$E2E_TMP/s3_forged.code"
py_check "fake_s3: an unsigned PUT and a forged signature get S3's XML errors" <<PY
assert read("$E2E_TMP/s3_anon.code") == "403", read("$E2E_TMP/s3_anon.code")
assert "<Code>AccessDenied</Code>" in read("$E2E_TMP/s3_anon.xml")
assert read("$E2E_TMP/s3_forged.code") == "403"
xml = read("$E2E_TMP/s3_forged.xml")
assert "<Code>SignatureDoesNotMatch</Code>" in xml and "<CanonicalRequest>" in xml, xml
PY

# ---- the C clients ------------------------------------------------------------------

if [ ! -x "$CLOUD_TEST" ]; then
    not_ok "the cloud delivery tests run" "$CLOUD_TEST is missing (make $CLOUD_TEST)"
    done_testing
fi
(
    export FAKE_GDRIVE_URL="$GDRIVE_URL" FAKE_GDRIVE_KEY="$KEYS/sa.json" \
        FAKE_GDRIVE_BAD_KEY="$KEYS/wrong.json" FAKE_GDRIVE_FOLDER="$FOLDER" \
        FAKE_GDRIVE_MY_DRIVE_FOLDER="$MY_DRIVE_FOLDER" \
        FAKE_S3_URL="$S3_URL" FAKE_S3_ACCESS="$S3_ACCESS" FAKE_S3_SECRET="$S3_SECRET" \
        FAKE_S3_BUCKET="$S3_BUCKET" FAKE_S3_REGION="$S3_REGION" CMOCKA_MESSAGE_OUTPUT=TAP
    exec timeout -k 5 240 "$CLOUD_TEST"
) >"$E2E_TMP/cloud.tap" 2>"$E2E_TMP/cloud.err"
CLOUD_RC=$?
CLOUD_RESULTS=0
while IFS= read -r line; do
    case $line in
    "not ok "* | "ok "*)
        CLOUD_RESULTS=$((CLOUD_RESULTS + 1))
        name=$(printf '%s' "$line" | sed 's/^\(not \)\{0,1\}ok [0-9]* *-\{0,1\} *//')
        case $line in
        *"# SKIP"* | *"# skip"*) not_ok "cloud: $name" "skipped: the fakes' environment did not reach it" ;;
        "not ok "*) not_ok "cloud: $name" "$(cat "$E2E_TMP/cloud.tap" "$E2E_TMP/cloud.err" | tail -n 30)" ;;
        *) ok "cloud: $name" ;;
        esac
        ;;
    esac
done <"$E2E_TMP/cloud.tap"
if [ "$CLOUD_RC" -ne 0 ] || [ "$CLOUD_RESULTS" -lt 11 ]; then
    not_ok "test_delivery_cloud ran all its tests and exited 0" \
        "exit $CLOUD_RC, $CLOUD_RESULTS results
$(tail -n 30 "$E2E_TMP/cloud.tap") $(tail -n 30 "$E2E_TMP/cloud.err")"
else
    ok "test_delivery_cloud ran all its tests and exited 0"
fi
check_not_contains "no sanitizer report from the cloud tests (UBSan)" "$E2E_TMP/cloud.err" \
    "runtime error"
check_not_contains "no sanitizer report from the cloud tests (ASan)" "$E2E_TMP/cloud.err" \
    "Sanitizer"
check_contains "a wrong service-account key gives a clear ERR_AUTH sentence" \
    "$E2E_TMP/cloud.tap" "Google refused the service-account key of $SA_EMAIL (key file $KEYS/wrong.json): HTTP 400 invalid_grant: Invalid JWT Signature."

# ---- the wire, from the fakes' logs ------------------------------------------------------

export GDRIVE_LOG="$E2E_TMP/gdrive.jsonl" S3_LOG="$E2E_TMP/s3.jsonl" GDRIVE_URL SA_EMAIL FOLDER
py_check "gdrive: every JWT has the RS256 header and exactly iss/scope/aud/iat/exp, one hour" <<'PY'
grants = [r for r in requests(E["GDRIVE_LOG"]) if r["path"] == "/token" and "jwt_claims" in r
          and r["headers"].get("User-Agent") == "harde"]
assert len(grants) >= 4, len(grants)
for g in grants:
    assert g["jwt_header"] == {"alg": "RS256", "typ": "JWT"}, g["jwt_header"]
    c = g["jwt_claims"]
    assert set(c) == {"iss", "scope", "aud", "iat", "exp"}, c
    assert c["iss"] == E["SA_EMAIL"] and c["aud"] == E["GDRIVE_URL"] + "/token", c
    assert c["scope"] == "https://www.googleapis.com/auth/drive", c
    assert c["exp"] - c["iat"] == 3600, c
    assert header(g, "Content-Type") == "application/x-www-form-urlencoded", g["headers"]
PY
py_check "gdrive: Drive calls carry supportsAllDrives=true, uploads ask for id,webViewLink, the share is anyone/reader" <<'PY'
drive = [r for r in requests(E["GDRIVE_LOG"]) if r["path"].startswith(("/upload/", "/drive/"))]
assert drive, "no Drive requests"
for r in drive:
    assert r["query"].get("supportsAllDrives") == "true", r
uploads = [r for r in drive if r["method"] == "POST" and r["path"] == "/upload/drive/v3/files"]
assert {r["query"]["uploadType"] for r in uploads} == {"multipart", "resumable"}, uploads
for r in uploads:
    assert r["query"]["fields"] == "id,webViewLink", r["query"]
multipart = [r for r in uploads if r["query"]["uploadType"] == "multipart" and r["status"] == 200]
assert multipart
for r in multipart:
    assert [p["content-type"] for p in r["parts"]] == ["application/json; charset=UTF-8",
                                                       "video/mp4"], r["parts"]
    assert set(r["metadata"]) == {"name", "mimeType", "parents"}, r["metadata"]
perms = [r for r in drive if r["path"].endswith("/permissions")]
assert perms and all(r["body"] == {"type": "anyone", "role": "reader"} for r in perms), perms
PY
py_check "gdrive: resumable uploads PUT 256 KiB chunks with Content-Range and ask for status after a lost answer" <<'PY'
puts = [r for r in requests(E["GDRIVE_LOG"]) if r["method"] == "PUT"]
ranges = [header(r, "Content-Range") for r in puts]
assert "bytes 0-262143/536633" in ranges and "bytes 262144-524287/536633" in ranges, ranges
assert "bytes 524288-536632/536633" in ranges, ranges
assert "bytes */536633" in ranges, ranges  # the status query after the lost answer
assert all(r["body_len"] in (0, 262144, 12345) for r in puts), [r["body_len"] for r in puts]
inits = [r for r in requests(E["GDRIVE_LOG"]) if r["query"].get("uploadType") == "resumable"
         and r["method"] == "POST"]
assert all(header(r, "X-Upload-Content-Length") == "536633" for r in inits), inits
PY
py_check "s3: signed PUTs and DELETEs carry the real payload SHA-256 and sign it" <<'PY'
reqs = [r for r in requests(E["S3_LOG"]) if r["method"] in ("PUT", "DELETE")
        and header(r, "User-Agent") == "harde"]
assert len(reqs) >= 8, len(reqs)
for r in reqs:
    assert header(r, "Authorization") == "<sigv4>", r
    sha = header(r, "x-amz-content-sha256")
    assert sha and sha != "UNSIGNED-PAYLOAD", r
    if r["method"] == "DELETE":
        assert sha == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", r
ok_puts = [r for r in reqs if r["method"] == "PUT" and r["status"] == 200]
assert ok_puts and all(header(r, "Content-Type") == "video/mp4" for r in ok_puts)
assert any(r["body_len"] > 2 * 1024 * 1024 for r in ok_puts)
assert any(r.get("error") == "SlowDown" for r in reqs), "the SlowDown retry was not exercised"
PY
py_check "the fakes hold nothing at the end: every upload was removed" <<'PY'
import urllib.request
g = json.load(urllib.request.urlopen(E["GDRIVE_URL"] + "/__fake/state", timeout=10))
assert g["files"] == [] and g["open_sessions"] == 0, g
PY
check_not_contains "no secret or token reaches the C test's output" "$E2E_TMP/cloud.tap" \
    "$S3_SECRET"

done_testing
