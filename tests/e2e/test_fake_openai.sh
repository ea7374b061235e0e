#!/bin/sh
# test_fake_openai.sh — tests of tests/fakes/fake_openai.py itself, with curl:
# the fake must check what the real service checks (auth, content type,
# schema, model names, tool-call pairing) and serve each scripted reply or
# fault in the documented shape, or the tests built on it prove nothing.

. "$(dirname "$0")/lib.sh"

URL=
AUTH="Bearer $FAKE_API_KEY"
CTYPE=application/json

# post NAME JSON [curl args...] — POSTs JSON to the chat endpoint with $AUTH
# and $CTYPE. Sets HTTP_CODE and CURL_RC; the body is in $E2E_TMP/NAME.body,
# headers in NAME.hdr, curl's stderr in NAME.err.
post() {
    p_name=$1
    printf '%s' "$2" >"$E2E_TMP/$p_name.req"
    shift 2
    if [ -n "$AUTH" ]; then
        set -- -H "Authorization: $AUTH" "$@"
    fi
    HTTP_CODE=$(curl -sS --max-time 20 -o "$E2E_TMP/$p_name.body" -D "$E2E_TMP/$p_name.hdr" \
        -w '%{http_code}' -H "Content-Type: $CTYPE" --data-binary @"$E2E_TMP/$p_name.req" \
        "$@" "$URL/chat/completions" 2>"$E2E_TMP/$p_name.err")
    CURL_RC=$?
    export P_BODY="$E2E_TMP/$p_name.body" P_HDR="$E2E_TMP/$p_name.hdr"
}

# error_is NAME STATUS TYPE_OR_CODE TEXT — the last post got STATUS and an
# OpenAI error body whose type or code is TYPE_OR_CODE and whose message
# contains TEXT.
error_is() {
    export E_WANT_STATUS="$2" E_WANT_KIND="$3" E_WANT_TEXT="$4" E_GOT_STATUS="$HTTP_CODE"
    py_check "$1" <<'EOF'
assert E["E_GOT_STATUS"] == E["E_WANT_STATUS"], "HTTP %s, wanted %s" % (E["E_GOT_STATUS"], E["E_WANT_STATUS"])
err = load_json(E["P_BODY"])["error"]
assert set(err) == {"message", "type", "param", "code"}, err
assert E["E_WANT_KIND"] in (err["type"], err["code"]), err
assert E["E_WANT_TEXT"] in err["message"], err
EOF
}

USER_MSG='[{"role":"user","content":"hi"}]'

# ---- startup, models, auth ------------------------------------------------

cat >"$E2E_TMP/script1.json" <<'EOF'
[
  {"content": "Hello — roofing is our trade. Ask me anything!",
   "usage": {"prompt_tokens": 11, "completion_tokens": 7}},
  {"content": "Streamed answer with ünïcödé and more words.",
   "usage": {"prompt_tokens": 20, "completion_tokens": 9}},
  {"content": "No usage asked."},
  {"tool_calls": [{"name": "quote", "arguments": {"roof": {"area_sqft": 2400, "style": "hip"}}},
                  {"name": "lookup", "arguments": "{\"q\": \"gutters\"}"}]},
  {"tool_calls": [{"name": "quote", "arguments": {"roof": {"area_sqft": 1800}}}]},
  {"content": "After tools."}
]
EOF
if start_fake "$E2E_TMP/script1.json"; then
    ok "fake starts and writes its port file"
else
    not_ok "fake starts and writes its port file"
    done_testing
fi
URL=$OPENAI_BASE_URL
check_eq "pid file holds the PID we started" "$(cat "$FAKE_DIR/pid")" "$FAKE_PID"

curl -sS --max-time 10 -H "Authorization: $AUTH" "$URL/models" >"$E2E_TMP/models.json" 2>&1
py_check "GET /v1/models lists the default models" <<EOF
d = load_json("$E2E_TMP/models.json")
assert d["object"] == "list", d
assert sorted(m["id"] for m in d["data"]) == ["gpt-4.1", "gpt-4.1-mini"], d
assert all(m["object"] == "model" for m in d["data"]), d
EOF

AUTH=
post noauth "{\"model\":\"gpt-4.1\",\"messages\":$USER_MSG}"
error_is "missing Authorization is rejected with 401" 401 invalid_request_error "API key"

AUTH="Bearer sk-wrong-key-000000000000"
post badauth "{\"model\":\"gpt-4.1\",\"messages\":$USER_MSG}"
error_is "a wrong key is rejected with 401 invalid_api_key" 401 invalid_api_key "Incorrect API key"
check_not_contains "the 401 message does not echo the whole key" "$P_BODY" "sk-wrong-key-000000000000"
AUTH="Bearer $FAKE_API_KEY"

py_check "log masks the Authorization value and records rejected requests" <<'EOF'
reqs = requests()
bad = [r for r in reqs if r.get("status") == 401]
assert len(bad) == 2, reqs
assert header(bad[0], "Authorization") is None, bad[0]
assert header(bad[1], "Authorization") == "<bad>", bad[1]
log = read(E["FAKE_LOG"])
assert E["FAKE_API_KEY"] not in log and "sk-wrong-key-000000000000" not in log, "a key reached the log"
EOF

# ---- request validation ---------------------------------------------------

post unknown_model "{\"model\":\"gpt-9-turbo\",\"messages\":$USER_MSG}"
error_is "an unknown model gets 404 model_not_found naming it" 404 model_not_found "gpt-9-turbo"

post no_messages '{"model":"gpt-4.1"}'
error_is "missing messages gets 400 naming the field" 400 invalid_request_error "'messages'"

post no_model "{\"messages\":$USER_MSG}"
error_is "missing model gets 400 naming the field" 400 invalid_request_error "model"

post empty_messages '{"model":"gpt-4.1","messages":[]}'
error_is "an empty messages array gets 400" 400 empty_array "messages"

CTYPE=text/plain
post bad_ctype "{\"model\":\"gpt-4.1\",\"messages\":$USER_MSG}"
error_is "a non-JSON Content-Type gets 400" 400 invalid_request_error "application/json"
CTYPE=application/json

post bad_json '{"model":"gpt-4.1",'
error_is "a body that is not JSON gets 400" 400 invalid_request_error "could not parse the JSON"

post unknown_field "{\"model\":\"gpt-4.1\",\"messages\":$USER_MSG,\"agent\":\"Triage\"}"
error_is "an unrecognized request field gets 400" 400 invalid_request_error \
    "Unrecognized request argument supplied: agent"

post extra_msg_field '{"model":"gpt-4.1","messages":[{"role":"user","content":"hi","agent":"Triage"}]}'
error_is "an extra message field gets 400" 400 invalid_request_error "('agent' was unexpected)"

post bad_role '{"model":"gpt-4.1","messages":[{"role":"robot","content":"hi"}]}'
error_is "an unknown role gets 400" 400 invalid_value "robot"

post bad_tool_name "{\"model\":\"gpt-4.1\",\"messages\":$USER_MSG,\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get weather\"}}]}"
error_is "a tool name with a space gets 400" 400 invalid_value "tools[0].function.name"

post long_tool_name "{\"model\":\"gpt-4.1\",\"messages\":$USER_MSG,\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"$(printf 'x%.0s' $(seq 1 65))\"}}]}"
error_is "a tool name over 64 characters gets 400" 400 string_above_max_length "maximum length 64"

post flat_tool "{\"model\":\"gpt-4.1\",\"messages\":$USER_MSG,\"tools\":[{\"type\":\"function\",\"name\":\"quote\"}]}"
error_is "a tool without the function wrapper gets 400" 400 invalid_request_error "tools[0]"

post empty_tools "{\"model\":\"gpt-4.1\",\"messages\":$USER_MSG,\"tools\":[]}"
error_is "an empty tools array gets 400" 400 empty_array "tools"

post choice_no_tools "{\"model\":\"gpt-4.1\",\"messages\":$USER_MSG,\"tool_choice\":\"auto\"}"
error_is "tool_choice without tools gets 400" 400 invalid_request_error "tool_choice"

post opts_no_stream "{\"model\":\"gpt-4.1\",\"messages\":$USER_MSG,\"stream_options\":{\"include_usage\":true}}"
error_is "stream_options without stream gets 400" 400 invalid_request_error "stream_options"

ASSISTANT_CALL='{"role":"assistant","content":null,"tool_calls":[{"id":"call_A1","type":"function","function":{"name":"quote","arguments":"{}"}}]}'
TOOLS='[{"type":"function","function":{"name":"quote","parameters":{"type":"object","properties":{}}}}]'
post unanswered "{\"model\":\"gpt-4.1\",\"tools\":$TOOLS,\"messages\":[{\"role\":\"user\",\"content\":\"q\"},$ASSISTANT_CALL,{\"role\":\"user\",\"content\":\"again\"}]}"
error_is "an unanswered tool call gets 400 naming its id" 400 invalid_request_error \
    "did not have response messages: call_A1"

post unanswered_end "{\"model\":\"gpt-4.1\",\"tools\":$TOOLS,\"messages\":[{\"role\":\"user\",\"content\":\"q\"},$ASSISTANT_CALL]}"
error_is "a tool call left unanswered at the end gets 400" 400 invalid_request_error "call_A1"

post orphan_tool "{\"model\":\"gpt-4.1\",\"messages\":[{\"role\":\"user\",\"content\":\"q\"},{\"role\":\"tool\",\"tool_call_id\":\"call_A1\",\"content\":\"{}\"}]}"
error_is "a tool message without a preceding call gets 400" 400 invalid_request_error \
    "must be a response to a preceeding message with 'tool_calls'"

post wrong_id "{\"model\":\"gpt-4.1\",\"tools\":$TOOLS,\"messages\":[{\"role\":\"user\",\"content\":\"q\"},$ASSISTANT_CALL,{\"role\":\"tool\",\"tool_call_id\":\"call_ZZ\",\"content\":\"{}\"}]}"
error_is "a tool message answering another id gets 400" 400 invalid_request_error \
    "must be a response to a preceeding message"

py_check "rejected requests do not consume script entries" <<'EOF'
reqs = chat_requests()
assert reqs and all(r.get("script_index") is None for r in reqs), [r.get("script_index") for r in reqs]
assert all(r["status"] >= 400 for r in reqs), [r["status"] for r in reqs]
EOF

# ---- normal replies -------------------------------------------------------

post json_reply "{\"model\":\"gpt-4.1-mini\",\"messages\":$USER_MSG,\"temperature\":0.2}"
py_check "a non-streaming reply has the chat.completion shape" <<'EOF'
assert E["P_BODY"]
d = load_json(E["P_BODY"])
assert d["object"] == "chat.completion" and d["id"].startswith("chatcmpl-"), d
assert d["model"] == "gpt-4.1-mini", d
c = d["choices"][0]
assert c["message"]["role"] == "assistant", c
assert c["message"]["content"] == "Hello — roofing is our trade. Ask me anything!", c
assert "tool_calls" not in c["message"] and c["finish_reason"] == "stop", c
u = d["usage"]
assert (u["prompt_tokens"], u["completion_tokens"], u["total_tokens"]) == (11, 7, 18), u
hdr = read(E["P_HDR"]).lower()
assert "content-type: application/json" in hdr and "x-request-id: req_" in hdr, hdr
EOF

post stream_usage "{\"model\":\"gpt-4.1\",\"messages\":$USER_MSG,\"stream\":true,\"stream_options\":{\"include_usage\":true}}"
py_check "a streamed reply: chunks, usage chunk, then data: [DONE]" <<'EOF'
hdr = read(E["P_HDR"]).lower()
assert "content-type: text/event-stream" in hdr and "transfer-encoding: chunked" in hdr, hdr
events = sse_events(E["P_BODY"])
assert events[-1] == "[DONE]", events[-3:]
chunks = [json.loads(e) for e in events[:-1]]
assert len({c["id"] for c in chunks}) == 1, "ids differ"
assert all(c["object"] == "chat.completion.chunk" for c in chunks)
assert chunks[0]["choices"][0]["delta"].get("role") == "assistant", chunks[0]
text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
assert text == "Streamed answer with ünïcödé and more words.", text
assert len(chunks) > 5, "content should arrive in several deltas"
finish = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
assert finish[-1] == "stop" and all(f is None for f in finish[:-1]), finish
assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 29, chunks[-1]
assert all(c["usage"] is None for c in chunks[:-1]), "earlier chunks must carry usage: null"
EOF

post stream_plain "{\"model\":\"gpt-4.1\",\"messages\":$USER_MSG,\"stream\":true}"
py_check "without include_usage the stream has no usage chunk" <<'EOF'
events = sse_events(E["P_BODY"])
assert events[-1] == "[DONE]", events
chunks = [json.loads(e) for e in events[:-1]]
assert all(c["choices"] for c in chunks) and all("usage" not in c for c in chunks), chunks[-1]
EOF

post stream_tools "{\"model\":\"gpt-4.1\",\"tools\":$TOOLS,\"messages\":$USER_MSG,\"stream\":true,\"stream_options\":{\"include_usage\":true}}"
py_check "streamed tool calls: id and name first, then argument fragments by index" <<'EOF'
events = sse_events(E["P_BODY"])
assert events[-1] == "[DONE]", events[-2:]
calls = {}
for e in events[:-1]:
    c = json.loads(e)
    for ch in c["choices"]:
        for tc in ch["delta"].get("tool_calls") or []:
            i = tc["index"]
            if i not in calls:
                assert tc.get("id", "").startswith("call_") and tc["function"].get("name"), tc
                calls[i] = {"id": tc["id"], "name": tc["function"]["name"], "args": ""}
            else:
                assert "id" not in tc and "name" not in tc["function"], tc
            calls[i]["args"] += tc["function"].get("arguments") or ""
assert [calls[i]["name"] for i in sorted(calls)] == ["quote", "lookup"], calls
assert json.loads(calls[0]["args"]) == {"roof": {"area_sqft": 2400, "style": "hip"}}, calls[0]
assert calls[1]["args"] == '{"q": "gutters"}', calls[1]
assert calls[0]["id"] != calls[1]["id"]
finish = [json.loads(e)["choices"][0]["finish_reason"] for e in events[:-1] if json.loads(e)["choices"]]
assert finish[-1] == "tool_calls", finish
EOF

post json_tools "{\"model\":\"gpt-4.1\",\"tools\":$TOOLS,\"messages\":$USER_MSG}"
py_check "non-streamed tool calls carry id, type and string arguments" <<'EOF'
d = load_json(E["P_BODY"])
m = d["choices"][0]["message"]
assert m["content"] is None and d["choices"][0]["finish_reason"] == "tool_calls", d
(tc,) = m["tool_calls"]
assert tc["type"] == "function" and tc["id"].startswith("call_"), tc
assert isinstance(tc["function"]["arguments"], str), tc
assert json.loads(tc["function"]["arguments"]) == {"roof": {"area_sqft": 1800}}, tc
EOF

post paired "{\"model\":\"gpt-4.1\",\"tools\":$TOOLS,\"messages\":[{\"role\":\"user\",\"content\":\"q\"},$ASSISTANT_CALL,{\"role\":\"tool\",\"tool_call_id\":\"call_A1\",\"content\":\"{\\\"total\\\": 1}\"}]}"
check_eq "a tool call answered by a matching tool message is accepted" "$HTTP_CODE" 200

post exhausted "{\"model\":\"gpt-4.1\",\"messages\":$USER_MSG}"
error_is "past the end of the script the fake says so" 400 fake_script_exhausted "script exhausted"

py_check "the log has one line per request with time, masked auth and the parsed body" <<'EOF'
reqs = requests()
assert len(reqs) == 29, len(reqs)
assert [r["n"] for r in reqs] == list(range(1, 30))
ts = [r["ts"] for r in reqs]
assert ts == sorted(ts) and all(isinstance(t, float) for t in ts), ts
ok = [r for r in chat_requests() if r.get("script_index") is not None]
assert [r["script_index"] for r in ok] == [0, 1, 2, 3, 4, 5], [r["script_index"] for r in ok]
assert all(header(r, "Authorization") == "Bearer <ok>" for r in ok)
assert ok[0]["body"]["model"] == "gpt-4.1-mini" and ok[0]["body"]["temperature"] == 0.2, ok[0]
assert ok[1]["stream"] is True and ok[0]["stream"] is False
assert header(ok[0], "Content-Type") == "application/json"
EOF

# Keep-alive: curl reuses the connection for a second URL on the command line.
curl -sS -v --max-time 10 -H "Authorization: $AUTH" "$URL/models" "$URL/models" \
    >/dev/null 2>"$E2E_TMP/keepalive.err"
check_contains "connections are kept alive (HTTP/1.1)" "$E2E_TMP/keepalive.err" \
    "Re-using existing connection"
stop_fake

# ---- faults ----------------------------------------------------------------

cat >"$E2E_TMP/script2.json" <<'EOF'
[
  {"status": 429, "headers": {"Retry-After": "1"}},
  {"status": 500},
  {"status": 503, "body": {"error": {"message": "custom", "type": "server_error", "param": null, "code": null}}},
  {"garbage": "not json"},
  {"garbage": "not json either"},
  {"content": "One two three four five six seven eight nine ten.", "truncate_after_chunks": 3},
  {"tool_calls": [{"name": "quote", "arguments": {"roof": {"area_sqft": 2400}}}], "invalid_tool_json": true},
  {"content": "Something went wrong halfway through this answer.", "sse_error": "The server had an error"},
  {"content": "Split into single bytes — ok ✓", "split_bytes": 1},
  {"content": "Split into single bytes — ok ✓"},
  {"content": "late", "delay_ms": 400},
  {"content": "slow tokens", "token_delay_ms": 100, "chunk_chars": 4},
  {"hang": true},
  {"content": "after the hang"}
]
EOF
start_fake "$E2E_TMP/script2.json" || not_ok "second fake starts"
URL=$OPENAI_BASE_URL
BODY="{\"model\":\"gpt-4.1\",\"messages\":$USER_MSG}"
SBODY="{\"model\":\"gpt-4.1\",\"messages\":$USER_MSG,\"stream\":true}"

post f429 "$BODY"
error_is "a scripted 429 has OpenAI's rate-limit body" 429 rate_limit_exceeded "Rate limit"
check_match "the 429 carries Retry-After" "$P_HDR" '^Retry-After: 1'

post f500 "$BODY"
error_is "a scripted 500 has a server_error body" 500 server_error "server had an error"

post f503 "$BODY"
error_is "a scripted body is served as given" 503 server_error "custom"

post garbage "$BODY"
check_eq "garbage: status 200" "$HTTP_CODE" 200
check_eq "garbage: the body is the garbage" "$(cat "$P_BODY")" "not json"

post garbage_stream "$SBODY"
py_check "garbage in a stream is an unparseable event and no [DONE]" <<'EOF'
events = sse_events(E["P_BODY"])
assert events == ["not json either"], events
EOF

post truncated "$SBODY"
check_eq "a truncated stream is an incomplete transfer for curl (18)" "$CURL_RC" 18
py_check "a truncated stream stops after N events without [DONE]" <<'EOF'
events = sse_events(E["P_BODY"])
assert len(events) == 3 and "[DONE]" not in events, events
EOF

post badjson_tool "{\"model\":\"gpt-4.1\",\"tools\":$TOOLS,\"messages\":$USER_MSG,\"stream\":true}"
py_check "invalid_tool_json streams arguments that are not JSON" <<'EOF'
events = sse_events(E["P_BODY"])
assert events[-1] == "[DONE]"
args = "".join(tc["function"].get("arguments") or "" for e in events[:-1]
               for ch in json.loads(e)["choices"] for tc in ch["delta"].get("tool_calls") or [])
assert args, events
try:
    json.loads(args)
except ValueError:
    pass
else:
    raise AssertionError("arguments parsed: %r" % args)
EOF

post sse_error "$SBODY"
py_check "sse_error sends an error object mid-stream and no [DONE]" <<'EOF'
events = sse_events(E["P_BODY"])
assert "[DONE]" not in events, events
last = json.loads(events[-1])
assert last["error"]["message"] == "The server had an error", last
assert len(events) >= 2 and "choices" in json.loads(events[0]), events
EOF

curl -sS --raw --max-time 10 -H "Authorization: $AUTH" -H "Content-Type: application/json" \
    --data-binary "$SBODY" "$URL/chat/completions" >"$E2E_TMP/split.raw" 2>&1
post unsplit "$SBODY"
py_check "split_bytes 1 sends one byte per HTTP chunk, same events" <<EOF
raw = open("$E2E_TMP/split.raw", "rb").read()
pos, sizes, body = 0, [], b""
while True:
    end = raw.index(b"\r\n", pos)
    size = int(raw[pos:end], 16)
    sizes.append(size)
    if size == 0:
        break
    body += raw[end + 2:end + 2 + size]
    pos = end + 2 + size + 2
assert set(sizes[:-1]) == {1}, sorted(set(sizes))
def norm(events):
    out = []
    for e in events:
        if e == "[DONE]":
            out.append(e)
            continue
        c = json.loads(e)
        c.pop("obfuscation", None); c.pop("id"); c.pop("created")
        out.append(c)
    return out
open("$E2E_TMP/split.body", "wb").write(body)
assert norm(sse_events("$E2E_TMP/split.body")) == norm(sse_events(E["P_BODY"]))
EOF

t0=$(date +%s%N)
post delayed "$BODY"
t1=$(date +%s%N)
check "delay_ms delays the answer" [ $(((t1 - t0) / 1000000)) -ge 380 ]

t0=$(date +%s%N)
post token_delay "$SBODY"
t1=$(date +%s%N)
check "token_delay_ms spaces the events (5 events, >= 400 ms)" [ $(((t1 - t0) / 1000000)) -ge 380 ]

post hang "$BODY" --max-time 1
check_eq "hang never answers (curl times out: 28)" "$CURL_RC" 28
post after_hang "$BODY"
check_contains "the fake still answers after a hung request" "$P_BODY" "after the hang"

py_check "fault requests are logged with their script index and status" <<'EOF'
reqs = chat_requests()
assert [r["script_index"] for r in reqs] == list(range(14)), [r["script_index"] for r in reqs]
assert [r["status"] for r in reqs[:3]] == [429, 500, 503], reqs[:3]
EOF

kill -TERM "$FAKE_PID"
i=0
while kill -0 "$FAKE_PID" 2>/dev/null && [ "$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' \
    "/proc/$FAKE_PID/status" 2>/dev/null)" != Z ] && [ $i -lt 40 ]; do
    sleep 0.05
    i=$((i + 1))
done
check "SIGTERM stops the fake within 2 s" [ $i -lt 40 ]
wait "$FAKE_PID"
check_eq "the fake exits 0 on SIGTERM" "$?" 0
stop_fake

# ---- --repeat, --models, --parent-pid -------------------------------------

printf '[{"content":"A"},{"content":"B"}]' >"$E2E_TMP/script3.json"
start_fake "$E2E_TMP/script3.json" --repeat --models gpt-4.1,local-test-model ||
    not_ok "third fake starts"
URL=$OPENAI_BASE_URL
got=
for n in 1 2 3 4 5; do
    post "repeat$n" "{\"model\":\"local-test-model\",\"messages\":$USER_MSG}"
    got="$got$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["choices"][0]["message"]["content"], end="")' "$P_BODY" 2>&1)"
done
check_eq "--repeat cycles the script; --models sets the model list" "$got" ABABA
stop_fake

sleep 60 &
PARENT=$!
E2E_PIDS="$E2E_PIDS $PARENT"
python3 "$FAKES_DIR/fake_openai.py" --parent-pid "$PARENT" --port-file "$E2E_TMP/orphan.port" \
    >/dev/null 2>&1 &
ORPHAN=$!
E2E_PIDS="$E2E_PIDS $ORPHAN"
i=0
while [ ! -s "$E2E_TMP/orphan.port" ] && [ $i -lt 200 ]; do
    sleep 0.05
    i=$((i + 1))
done
e2e_stop_pid "$PARENT"
i=0
while kill -0 "$ORPHAN" 2>/dev/null && [ "$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' \
    "/proc/$ORPHAN/status" 2>/dev/null)" != Z ] && [ $i -lt 60 ]; do
    sleep 0.05
    i=$((i + 1))
done
check "--parent-pid: the fake exits when that process is gone" [ $i -lt 60 ]
e2e_stop_pid "$ORPHAN"

done_testing
