#!/bin/sh
# tests/servers/mail.sh — a throw-away IMAP server (Dovecot) and SMTP server
# (OpenSMTPD) on 127.0.0.1 for tests, as root, without systemd.
#
#   sh tests/servers/mail.sh start DIR [USER...]   prints shell assignments:
#       MAIL_IMAP_PORT=…  MAIL_SMTP_PORT=…  MAIL_DOMAIN=example.test
#       MAIL_USERS='alice@example.test bob@example.test'  MAIL_PASSWORD=…
#       MAIL_ROOT=DIR/root (the servers' /run, seen from outside)
#       MAIL_IMAPS_PORT=…  MAIL_CA_FILE=DIR/root/cert.pem  (IMAP over TLS with a
#       throw-away self-signed certificate for 127.0.0.1; the plain port
#       offers STARTTLS too; both lines are absent when openssl is missing)
#   sh tests/servers/mail.sh stop DIR
#
# With MAIL_KIT_WATCH_PID=PID in the environment of `start`, the servers
# also stop by themselves within a second or two of PID's exit (a test
# killed before its `stop` leaves nothing running).
#
# Owns: everything under DIR (configs, logs, Maildirs, the SMTP queue) and
# the processes it starts. Users default to alice and bob in the domain
# example.test, all with the password $MAIL_PASSWORD; mail sent by SMTP to
# USER@example.test is delivered into USER's Maildir, which Dovecot serves
# over IMAP to the login USER@example.test.
#
# Design: OpenSMTPD has its queue (/var/spool/smtpd) and control socket
# (/run/smtpd.sock) compiled in, and the mail store must be reachable by the
# unprivileged mail user even when DIR sits under a 0700 temp directory. So
# both servers run inside one private mount namespace (`unshare -m`) in which
# DIR/root is bound over /run and DIR/spool over /var/spool: every path the
# servers see lies under /run, nothing of the system's is touched, and the
# mounts vanish with the last process. Dovecot runs with `-F` and OpenSMTPD
# with `-d`, both children of one shell that only waits. `start` picks free
# ports (the kernel's choice, retried if a server lost the race), waits until
# both servers greet, and records every PID with the namespace's identity;
# `stop` sends TERM to each recorded PID (KILL after a grace period), then
# stops any process still in the namespace, each by its own PID, so nothing
# keeps running. Stored mail is delivered as the system user `mail`.
set -u

MAIL_DOMAIN=example.test
MAIL_PASSWORD=harde-test-app-pass
MAIL_UID_NAME=mail
START_TIMEOUT_S=15

die() {
    echo "mail.sh: $*" >&2
    exit 2
}

usage() {
    die "usage: mail.sh start DIR [USER...] | stop DIR"
}

# The identity of PID's mount namespace ("mnt:[4026…]"), or "" when gone.
ns_of() {
    readlink "/proc/$1/ns/mnt" 2>/dev/null
}

# A port no one listens on now (the kernel's pick).
free_port() {
    python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Waits until 127.0.0.1:PORT greets with a line starting with PREFIX (or, for
# an empty PREFIX, accepts a connection), for at most SECONDS; returns 0 when
# it did.
wait_greeting() {
    python3 - "$1" "$2" "$3" <<'PYEOF'
import socket, sys, time
port, prefix, limit = int(sys.argv[1]), sys.argv[2].encode(), float(sys.argv[3])
deadline = time.monotonic() + limit
while time.monotonic() < deadline:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            if not prefix:  # a TLS port says nothing first: accepting is enough
                sys.exit(0)
            s.settimeout(2)
            if s.recv(512).startswith(prefix):
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.05)
sys.exit(1)
PYEOF
}

write_configs() {
    dir=$1
    imap_port=$2
    smtp_port=$3
    imaps_port=$4
    shift 4
    root=$dir/root
    uid=$(id -u "$MAIL_UID_NAME") || die "no system user '$MAIL_UID_NAME'"
    gid=$(id -g "$MAIL_UID_NAME")
    : >"$root/users"
    : >"$root/smtpd-users"
    for user in "$@"; do
        mkdir -p "$root/home/$user/Maildir/cur" "$root/home/$user/Maildir/new" \
            "$root/home/$user/Maildir/tmp"
        printf '%s@%s:{PLAIN}%s:%s:%s::/run/home/%s\n' "$user" "$MAIL_DOMAIN" "$MAIL_PASSWORD" \
            "$uid" "$gid" "$user" >>"$root/users"
        printf '%s %s:%s:/run/home/%s\n' "$user" "$uid" "$gid" "$user" >>"$root/smtpd-users"
    done
    chown -R "$uid:$gid" "$root/home"
    chmod 0644 "$root/users" "$root/smtpd-users"
    if [ "$imaps_port" -gt 0 ]; then
        ssl="yes
ssl_cert = </run/cert.pem
ssl_key = </run/key.pem"
    else
        ssl=no
    fi
    cat >"$root/dovecot.conf" <<EOF
# Throw-away Dovecot for tests (written by tests/servers/mail.sh).
base_dir = /run/dovecot
state_dir = /run/dovecot-state
log_path = /run/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = $ssl
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 1 secs
first_valid_uid = $uid
last_valid_uid = $uid
first_valid_gid = $gid
mail_location = maildir:~/Maildir
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u /run/users
}
userdb {
  driver = passwd-file
  args = username_format=%u /run/users
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $imap_port
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $imaps_port
    ssl = yes
  }
}
EOF
    cat >"$root/smtpd.conf" <<EOF
# Throw-away OpenSMTPD for tests (written by tests/servers/mail.sh).
table users file:/run/smtpd-users
listen on 127.0.0.1 port $smtp_port
action "deliver" maildir userbase <users>
match from any for domain "$MAIL_DOMAIN" action "deliver"
EOF
    # The shell that runs inside the namespace: bind the private trees, start
    # both servers, record their PIDs, wait for them.
    cat >"$dir/inner.sh" <<EOF
set -e
mount --bind "$root" /run
mount --bind "$dir/spool" /var/spool
readlink /proc/self/ns/mnt >/run/ns.tmp && mv /run/ns.tmp /run/ns
dovecot -F -c /run/dovecot.conf </dev/null >>/run/dovecot.out 2>&1 &
echo \$! >/run/dovecot.pid
smtpd -d -f /run/smtpd.conf </dev/null >>/run/smtpd.out 2>&1 &
echo \$! >/run/smtpd.pid
set +e
watch=${MAIL_KIT_WATCH_PID:-}
if [ -n "\$watch" ]; then
    d=\$(cat /run/dovecot.pid) s=\$(cat /run/smtpd.pid)
    while kill -0 "\$watch" && kill -0 "\$d" && kill -0 "\$s"; do
        sleep 1
    done 2>/dev/null
    kill -TERM "\$d" "\$s" 2>/dev/null
fi
wait
EOF
}

# Starts the namespace shell once; 0 when both servers greet in time.
start_once() {
    dir=$1
    shift
    root=$dir/root
    rm -rf "$root" "$dir/spool"
    mkdir -p "$root" "$dir/spool" || die "cannot create $dir"
    chmod 0755 "$root" "$dir/spool"
    imap_port=$(free_port) || die "python3 could not pick a port"
    smtp_port=$(free_port) || die "python3 could not pick a port"
    while [ "$smtp_port" = "$imap_port" ]; do
        smtp_port=$(free_port)
    done
    imaps_port=0
    if command -v openssl >/dev/null 2>&1; then
        imaps_port=$(free_port) || die "python3 could not pick a port"
        while [ "$imaps_port" = "$imap_port" ] || [ "$imaps_port" = "$smtp_port" ]; do
            imaps_port=$(free_port)
        done
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
            -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
            -keyout "$root/key.pem" -out "$root/cert.pem" >"$dir/openssl.out" 2>&1 ||
            die "openssl could not make a test certificate: $(cat "$dir/openssl.out")"
        chmod 0600 "$root/key.pem"
    fi
    write_configs "$dir" "$imap_port" "$smtp_port" "$imaps_port" "$@"
    unshare -m --propagation private sh "$dir/inner.sh" </dev/null >"$dir/namespace.out" 2>&1 &
    echo $! >"$dir/namespace.pid"
    # Wait for the namespace to record itself, then for both greetings.
    i=0
    while [ ! -s "$root/ns" ] || [ ! -s "$root/smtpd.pid" ]; do
        if ! kill -0 "$(cat "$dir/namespace.pid")" 2>/dev/null || [ "$i" -ge 100 ]; then
            echo "mail.sh: the namespace did not start:" >&2
            sed 's/^/  /' "$dir/namespace.out" >&2
            return 1
        fi
        sleep 0.05
        i=$((i + 1))
    done
    if ! wait_greeting "$imap_port" "* OK" "$START_TIMEOUT_S"; then
        echo "mail.sh: Dovecot did not answer on 127.0.0.1:$imap_port:" >&2
        tail -n 20 "$root/dovecot.log" "$root/dovecot.out" 2>/dev/null | sed 's/^/  /' >&2
        return 1
    fi
    if ! wait_greeting "$smtp_port" "220" "$START_TIMEOUT_S"; then
        echo "mail.sh: OpenSMTPD did not answer on 127.0.0.1:$smtp_port:" >&2
        tail -n 20 "$root/smtpd.out" 2>/dev/null | sed 's/^/  /' >&2
        return 1
    fi
    if [ "$imaps_port" -gt 0 ] && ! wait_greeting "$imaps_port" "" "$START_TIMEOUT_S"; then
        echo "mail.sh: Dovecot's TLS port 127.0.0.1:$imaps_port did not open" >&2
        return 1
    fi
    echo "$imap_port" >"$dir/imap.port"
    echo "$smtp_port" >"$dir/smtp.port"
    echo "$imaps_port" >"$dir/imaps.port"
    return 0
}

# Sends TERM to PID if it still lives in namespace NS, waits up to 5 s, then
# KILL. A PID that left the namespace was reused by someone else: untouched.
stop_pid() {
    pid=$1
    ns=$2
    [ -n "$pid" ] || return 0
    [ "$(ns_of "$pid")" = "$ns" ] || return 0
    kill -TERM "$pid" 2>/dev/null
    i=0
    while [ "$(ns_of "$pid")" = "$ns" ] && [ "$i" -lt 100 ]; do
        state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$pid/status" 2>/dev/null)
        [ "$state" = Z ] && return 0
        sleep 0.05
        i=$((i + 1))
    done
    [ "$(ns_of "$pid")" = "$ns" ] && kill -KILL "$pid" 2>/dev/null
    return 0
}

# PIDs of every process still in namespace NS.
pids_in_ns() {
    for p in /proc/[0-9]*; do
        [ "$(readlink "$p/ns/mnt" 2>/dev/null)" = "$1" ] && echo "${p#/proc/}"
    done
}

cmd_stop() {
    dir=$1
    root=$dir/root
    [ -s "$root/ns" ] || return 0
    ns=$(cat "$root/ns")
    # A namespace identity equal to ours would mean the recording went wrong:
    # never signal processes of the caller's own namespace.
    [ "$ns" != "$(ns_of $$)" ] || die "recorded namespace is the caller's own; refusing"
    for name in smtpd dovecot; do
        stop_pid "$(cat "$root/$name.pid" 2>/dev/null)" "$ns"
    done
    stop_pid "$(cat "$dir/namespace.pid" 2>/dev/null)" "$ns"
    # Workers the masters left behind (there should be none): each by PID.
    for round in 1 2 3; do
        left=$(pids_in_ns "$ns")
        [ -z "$left" ] && break
        for pid in $left; do
            if [ "$round" -lt 3 ]; then
                kill -TERM "$pid" 2>/dev/null
            else
                kill -KILL "$pid" 2>/dev/null
            fi
        done
        sleep 0.3
    done
    left=$(pids_in_ns "$ns")
    if [ -n "$left" ]; then
        echo "mail.sh: processes still running in the test namespace: $left" >&2
        return 1
    fi
    rm -f "$root/ns"
    return 0
}

cmd_start() {
    dir=$1
    shift
    [ "$(id -u)" -eq 0 ] || die "must run as root (the servers switch users)"
    for tool in dovecot smtpd unshare python3; do
        command -v "$tool" >/dev/null 2>&1 || die "'$tool' is not installed (see scripts/install-deps.sh)"
    done
    [ $# -gt 0 ] || set -- alice bob
    for user in "$@"; do
        case $user in
        *[!a-z0-9._-]* | "" | .*) die "bad user name '$user' (use [a-z0-9._-])" ;;
        esac
    done
    mkdir -p "$dir" || die "cannot create $dir"
    dir=$(cd "$dir" && pwd)
    case $dir in
    *[!A-Za-z0-9/._-]*) die "DIR must be a plain path ([A-Za-z0-9/._-]): $dir" ;;
    esac
    [ -s "$dir/root/ns" ] && die "servers already started in $dir (stop them first)"
    attempt=1
    while ! start_once "$dir" "$@"; do
        cmd_stop "$dir"
        attempt=$((attempt + 1))
        [ "$attempt" -le 3 ] || die "the mail servers did not start (logs in $dir)"
        echo "mail.sh: retrying with other ports" >&2
    done
    users=
    for user in "$@"; do
        users="$users${users:+ }$user@$MAIL_DOMAIN"
    done
    echo "MAIL_IMAP_PORT=$(cat "$dir/imap.port")"
    echo "MAIL_SMTP_PORT=$(cat "$dir/smtp.port")"
    echo "MAIL_DOMAIN=$MAIL_DOMAIN"
    echo "MAIL_USERS='$users'"
    echo "MAIL_PASSWORD=$MAIL_PASSWORD"
    echo "MAIL_ROOT=$dir/root"
    if [ "$(cat "$dir/imaps.port")" -gt 0 ]; then
        echo "MAIL_IMAPS_PORT=$(cat "$dir/imaps.port")"
        echo "MAIL_CA_FILE=$dir/root/cert.pem"
    fi
}

[ $# -ge 2 ] || usage
command=$1
shift
case $command in
start) cmd_start "$@" ;;
stop)
    [ $# -eq 1 ] || usage
    [ -d "$1" ] || die "no such directory: $1"
    cmd_stop "$(cd "$1" && pwd)"
    ;;
*) usage ;;
esac
