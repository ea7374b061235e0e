#!/bin/sh
# test_browser.sh — Hard-E's web page in a real browser: headless Debian
# Chromium driven by playwright-core (tests/browser/chat.test.mjs) against a
# freshly started server on 127.0.0.1.
#
# Owns: the server it starts and the node test process (both stopped by their
# own PIDs through lib.sh), $HARDE_BUILD/test-artifacts/browser/ (the
# screenshots: chat-desktop.png, chat-phone.png, ... and failure-*.png).
#
# Design: the browser deps are installed with `npm ci` only when missing or
# not the locked version (offline-safe once installed); without node or
# /usr/bin/chromium the whole test is reported as skipped. The server under
# test is `harde serve --host 127.0.0.1 --port 0 --port-file FILE` with a
# random admin password in HARDE_ADMIN_PASSWORD; only when `harde serve
# --help` fails (no such command yet) does it fall back to
# tests/browser/mock_server.py, and says so. Each top-level result of node's
# TAP output becomes one TAP line here.
. "$(dirname "$0")/lib.sh"

BROWSER_DIR=$E2E_ROOT/tests/browser
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
ARTIFACTS=$HARDE_BUILD/test-artifacts/browser
NODE_TIMEOUT=${BROWSER_TEST_TIMEOUT:-240}

# Prints the locked and the installed playwright-core versions, one a line.
deps_versions() {
    node -e '
        const fs = require("fs");
        const dir = process.argv[1];
        const read = (f) => { try { return JSON.parse(fs.readFileSync(f, "utf8")); } catch (e) { return {}; } };
        const lock = read(dir + "/package-lock.json");
        const want = ((lock.packages || {})["node_modules/playwright-core"] || {}).version || "?";
        const have = read(dir + "/node_modules/playwright-core/package.json").version || "none";
        console.log(want + "\n" + have);
    ' "$BROWSER_DIR"
}

install_deps() {
    # shellcheck disable=SC2046 # two words, split on purpose
    set -- $(deps_versions)
    [ "$1" = "$2" ] && return 0
    echo "# installing the browser test dependencies (npm ci: playwright-core $1)"
    if ! npm ci --prefix "$BROWSER_DIR" --no-audit --no-fund >"$E2E_TMP/npm.log" 2>&1; then
        not_ok "browser test dependencies install (npm ci)" "$(tail -n 20 "$E2E_TMP/npm.log")"
        return 1
    fi
    return 0
}

# Starts the server under test; sets SERVER_PID and BASE_URL.
start_server() {
    port_file=$E2E_TMP/server.port
    rm -f "$port_file"
    if [ -x "$HARDE" ] && "$HARDE" serve --help >/dev/null 2>&1 </dev/null; then
        HARDE_ADMIN_PASSWORD=$PASSWORD "$HARDE" serve --host 127.0.0.1 --port 0 \
            --port-file "$port_file" >"$E2E_TMP/server.log" 2>&1 </dev/null &
        SERVER_PID=$!
        server_name="harde serve"
    else
        echo "# using the mock server (tests/browser/mock_server.py): $HARDE serve --help failed"
        python3 "$BROWSER_DIR/mock_server.py" --host 127.0.0.1 --port 0 \
            --port-file "$port_file" --password "$PASSWORD" \
            --ui-dir "$E2E_ROOT/web/ui" >"$E2E_TMP/server.log" 2>&1 </dev/null &
        SERVER_PID=$!
        server_name="mock server"
    fi
    E2E_PIDS="$E2E_PIDS $SERVER_PID"
    i=0
    while :; do
        if [ -s "$port_file" ]; then
            port=$(tr -dc 0-9 <"$port_file")
            BASE_URL=http://127.0.0.1:$port
            if python3 -c 'import sys, urllib.request
urllib.request.urlopen(sys.argv[1] + "/healthz", timeout=2).read()' "$BASE_URL" 2>/dev/null; then
                ok "the $server_name is up on 127.0.0.1:$port"
                return 0
            fi
        fi
        if [ "$i" -ge 300 ] || ! kill -0 "$SERVER_PID" 2>/dev/null; then
            not_ok "the $server_name starts and answers /healthz" "$(e2e_show "$E2E_TMP/server.log")"
            return 1
        fi
        sleep 0.1
        i=$((i + 1))
    done
}

# Turns node's TAP (top-level results only) into our TAP lines.
report_node_tap() {
    tap=$1
    awk '
        /^(not )?ok [0-9]+ - / {
            line = $0
            failed = (line ~ /^not ok/)
            sub(/^(not )?ok [0-9]+ - /, "", line)
            printf "%s\t%s\n", failed ? "FAIL" : "PASS", line
            indiag = failed
            next
        }
        /^  \.\.\.$/ { indiag = 0; next }
        indiag && /^  / { printf "DIAG\t%s\n", $0 }
    ' "$tap" >"$E2E_TMP/node-results"
    seen=0
    name=
    diagtext=
    browser_flush() {
        [ -z "$name" ] && return
        if [ "$status" = PASS ]; then
            case $name in
            *"# SKIP"*) skip "browser: ${name%%# SKIP*}" "${name#*# SKIP}" ;;
            *) ok "browser: $name" ;;
            esac
        else
            not_ok "browser: $name" "$diagtext"
        fi
        name=
        diagtext=
    }
    while IFS="$(printf '\t')" read -r kind text; do
        case $kind in
        PASS | FAIL)
            browser_flush
            status=$kind
            name=$text
            seen=$((seen + 1))
            ;;
        DIAG) diagtext="$diagtext
$text" ;;
        esac
    done <"$E2E_TMP/node-results"
    browser_flush
    return $((seen == 0))
}

t_browser() {
    if ! command -v node >/dev/null 2>&1; then
        skip "browser test" "node not installed"
        return
    fi
    if [ ! -x "$CHROMIUM" ]; then
        skip "browser test" "chromium not installed"
        return
    fi
    node_major=$(node -p 'process.versions.node.split(".")[0]')
    if [ "$node_major" -lt 20 ]; then
        not_ok "node is new enough for playwright-core (>= 20)" "node $(node --version)"
        return
    fi
    install_deps || return
    PASSWORD=pw-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
    start_server || return
    mkdir -p "$ARTIFACTS"
    rm -f "$ARTIFACTS"/*.png
    HARDE_BASE_URL=$BASE_URL HARDE_TEST_USER=admin HARDE_TEST_PASSWORD=$PASSWORD \
        HARDE_ARTIFACTS=$ARTIFACTS CHROMIUM=$CHROMIUM \
        timeout -k 5 "$NODE_TIMEOUT" node --test --test-reporter=tap \
        "$BROWSER_DIR/chat.test.mjs" >"$E2E_TMP/node.tap" 2>&1 </dev/null &
    node_pid=$!
    E2E_PIDS="$E2E_PIDS $node_pid"
    wait "$node_pid"
    node_rc=$?
    e2e_stop_pid "$node_pid" # already ended: this only forgets it
    if ! report_node_tap "$E2E_TMP/node.tap"; then
        not_ok "browser test reported results" "exit status $node_rc
$(tail -n 30 "$E2E_TMP/node.tap")"
    elif [ "$node_rc" -ne 0 ] && ! grep -q '^not ok' "$E2E_TMP/node.tap"; then
        not_ok "browser test runner exits 0" "exit status $node_rc
$(tail -n 30 "$E2E_TMP/node.tap")"
    fi
    for shot in chat-desktop.png chat-phone.png; do
        if [ -s "$ARTIFACTS/$shot" ]; then
            ok "screenshot kept: $ARTIFACTS/$shot"
        else
            not_ok "screenshot kept: $ARTIFACTS/$shot"
        fi
    done
    e2e_stop_pid "$SERVER_PID"
}

t_browser
done_testing
