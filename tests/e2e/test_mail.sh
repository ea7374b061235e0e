#!/bin/sh
# tests/e2e/test_mail.sh — mail against real servers: a throw-away Dovecot
# (IMAP) and OpenSMTPD (SMTP) on 127.0.0.1, started by tests/servers/mail.sh.
#
# Owns its servers (under $E2E_TMP/mail, stopped at exit whatever happens)
# and a second short-lived pair that shows two instances can run at once.
#
# Design: the C side of the test is the unit binary test_mail_net, whose
# server tests run only when HARDE_TEST_IMAP_PORT and friends are set: it
# sends with net/smtp, finds the message with IMAP UID SEARCH, fetches and
# parses it with net/mime (a non-ASCII subject and body survive), checks the
# poll checkpoint across polls and restarts, a bad password, and the error
# paths. This script starts the servers, runs that binary with the ports,
# relays each of its TAP results as one of ours, and checks the kit itself:
# loopback-only listeners, delivery into the Maildirs, nothing of the
# system's touched, every process gone after stop.

. "$(dirname "$0")/lib.sh"

KIT=$E2E_ROOT/tests/servers/mail.sh
BIN=$HARDE_BUILD/tests/test_mail_net
MAIL_DIR=$E2E_TMP/mail
MAIL_DIR2=$E2E_TMP/mail2

mail_cleanup() {
    for d in "$MAIL_DIR" "$MAIL_DIR2"; do
        [ -d "$d" ] && sh "$KIT" stop "$d" >/dev/null 2>&1
    done
    e2e_cleanup
}
trap mail_cleanup EXIT

# Why the servers cannot run here, or "" when they can.
why_not() {
    [ "$(id -u)" -eq 0 ] || {
        echo "needs root (the servers switch users)"
        return
    }
    for tool in dovecot smtpd unshare python3; do
        command -v "$tool" >/dev/null 2>&1 || {
            echo "$tool is not installed (scripts/install-deps.sh)"
            return
        }
    done
    [ -x "$BIN" ] || {
        echo "$BIN is not built"
        return
    }
    unshare -m true 2>/dev/null || echo "unshare -m is not permitted here"
}

# Is 127.0.0.1:PORT a listening socket bound to loopback only?
listens_on_loopback() {
    hex=$(printf '%04X' "$1")
    awk -v want="0100007F:$hex" '$2 == want && $4 == "0A" { found = 1 } END { exit !found }' \
        /proc/net/tcp
}

# Is any socket listening on PORT on an address other than 127.0.0.1?
listens_elsewhere() {
    hex=$(printf '%04X' "$1")
    awk -v port=":$hex" -v lo="0100007F:" '
        $4 == "0A" && substr($2, length($2) - 4) == port && index($2, lo) != 1 { found = 1 }
        END { exit !found }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# Relays the TAP lines of the C test as our own results.
relay_tap() {
    prefix=$1
    file=$2
    pending_name=
    pending_diag=
    flush() {
        if [ -n "$pending_name" ]; then
            not_ok "$prefix: $pending_name" "$pending_diag"
            pending_name=
            pending_diag=
        fi
    }
    while IFS= read -r line; do
        case $line in
        "ok "*"# SKIP"* | "not ok "*"# SKIP"*)
            flush
            name=$(printf '%s' "$line" | sed 's/^\(not \)*ok [0-9]* *-* *//; s/ *# *SKIP.*//')
            not_ok "$prefix: $name" "skipped although the servers run (environment not passed?)"
            ;;
        "ok "*)
            flush
            ok "$prefix: $(printf '%s' "$line" | sed 's/^ok [0-9]* *-* *//')"
            ;;
        "not ok "*)
            flush
            pending_name=$(printf '%s' "$line" | sed 's/^not ok [0-9]* *-* *//')
            ;;
        "#"*)
            [ -n "$pending_name" ] && pending_diag="$pending_diag${pending_diag:+
}$line"
            ;;
        esac
    done <"$file"
    flush
}

reason=$(why_not)
if [ -n "$reason" ]; then
    skip "mail servers" "$reason"
    done_testing
fi

# ---- start ----------------------------------------------------------------
SPOOL_BEFORE=$(ls -d /var/spool/smtpd /run/smtpd.sock 2>/dev/null)
start=$(date +%s)
export MAIL_KIT_WATCH_PID=$$ # the servers stop by themselves if this script dies
if out=$(sh "$KIT" start "$MAIL_DIR" alice bob carol dave 2>"$E2E_TMP/start.err"); then
    ok "mail.sh start prints the ports ($(($(date +%s) - start)) s)"
else
    not_ok "mail.sh start" "$(cat "$E2E_TMP/start.err")"
    done_testing
fi
eval "$out"
check "IMAP port is a number" test "$MAIL_IMAP_PORT" -gt 0
check "SMTP port is a number" test "$MAIL_SMTP_PORT" -gt 0
check "IMAP listens on 127.0.0.1" listens_on_loopback "$MAIL_IMAP_PORT"
check "SMTP listens on 127.0.0.1" listens_on_loopback "$MAIL_SMTP_PORT"
check "IMAPS listens on 127.0.0.1" listens_on_loopback "${MAIL_IMAPS_PORT:-0}"
if listens_elsewhere "$MAIL_IMAP_PORT" || listens_elsewhere "$MAIL_SMTP_PORT" ||
    listens_elsewhere "${MAIL_IMAPS_PORT:-0}"; then
    not_ok "no listener beyond loopback"
else
    ok "no listener beyond loopback"
fi

# ---- the C clients against the servers --------------------------------------
HARDE_TEST_IMAP_PORT=$MAIL_IMAP_PORT HARDE_TEST_SMTP_PORT=$MAIL_SMTP_PORT \
    HARDE_TEST_MAIL_PASSWORD=$MAIL_PASSWORD HARDE_TEST_MAIL_DOMAIN=$MAIL_DOMAIN \
    HARDE_TEST_IMAPS_PORT=${MAIL_IMAPS_PORT:-} HARDE_TEST_MAIL_CA=${MAIL_CA_FILE:-} \
    CMOCKA_MESSAGE_OUTPUT=TAP timeout -k 5 240 "$BIN" >"$E2E_TMP/mail_net.tap" 2>&1 </dev/null
rc=$?
relay_tap "mail" "$E2E_TMP/mail_net.tap"
if [ "$rc" -eq 0 ] && grep -q '^ok ' "$E2E_TMP/mail_net.tap"; then
    ok "test_mail_net exits cleanly"
else
    not_ok "test_mail_net exits cleanly" "exit status $rc
$(tail -n 30 "$E2E_TMP/mail_net.tap")"
fi

delivered=$(find "$MAIL_ROOT/home/alice/Maildir" "$MAIL_ROOT/home/carol/Maildir" -type f \
    -path '*/cur/*' -o -type f -path '*/new/*' 2>/dev/null | wc -l)
check "SMTP delivered into the Maildirs Dovecot serves" test "$delivered" -ge 3

# ---- a second pair at the same time -----------------------------------------
if out2=$(sh "$KIT" start "$MAIL_DIR2" erin 2>"$E2E_TMP/start2.err"); then
    second_imap=$(printf '%s\n' "$out2" | sed -n 's/^MAIL_IMAP_PORT=//p')
    if [ "$second_imap" != "$MAIL_IMAP_PORT" ] && listens_on_loopback "$second_imap" &&
        listens_on_loopback "$MAIL_IMAP_PORT"; then
        ok "a second instance runs beside the first"
    else
        not_ok "a second instance runs beside the first" "$out2"
    fi
    check "the second instance stops" sh "$KIT" stop "$MAIL_DIR2"
else
    not_ok "a second instance runs beside the first" "$(cat "$E2E_TMP/start2.err")"
fi

# ---- stop -------------------------------------------------------------------
ns=$(cat "$MAIL_ROOT/ns" 2>/dev/null)
pids="$(cat "$MAIL_ROOT/dovecot.pid" "$MAIL_ROOT/smtpd.pid" "$MAIL_DIR/namespace.pid" 2>/dev/null)"
check "mail.sh stop" sh "$KIT" stop "$MAIL_DIR"
alive=
for pid in $pids; do
    [ "$(readlink "/proc/$pid/ns/mnt" 2>/dev/null)" = "$ns" ] && alive="$alive $pid"
done
for p in /proc/[0-9]*; do
    [ "$(readlink "$p/ns/mnt" 2>/dev/null)" = "$ns" ] && alive="$alive ${p#/proc/}"
done
check_eq "no server process is left" "$alive" ""
check_eq "the system's OpenSMTPD paths are untouched" \
    "$(ls -d /var/spool/smtpd /run/smtpd.sock 2>/dev/null)" "$SPOOL_BEFORE"
if listens_on_loopback "$MAIL_IMAP_PORT" || listens_on_loopback "$MAIL_SMTP_PORT"; then
    not_ok "the ports are free again"
else
    ok "the ports are free again"
fi
check "stop twice is harmless" sh "$KIT" stop "$MAIL_DIR"

done_testing
