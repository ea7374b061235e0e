#!/bin/sh
# Installs the Debian packages Hard-E needs to build, run and test.
# A no-op when everything is already there; otherwise one apt-get call.
set -eu
# build: compiler, libraries (libcurl, jansson, SQLite, libmicrohttpd, libsodium,
#        OpenSSL, hiredis) and the test library
# run:   espeak-ng and ffmpeg (local voice and video)
# test:  python3 (protocol fakes), Dovecot and OpenSMTPD (real mail servers),
#        Redis, Chromium (browser tests)
PACKAGES="build-essential pkg-config libcurl4-openssl-dev libjansson-dev libsqlite3-dev
libcmocka-dev libmicrohttpd-dev libsodium-dev libssl-dev libhiredis-dev
espeak-ng ffmpeg python3 curl ca-certificates
dovecot-imapd opensmtpd redis-server chromium"
missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
# Node.js runs the browser tests (Playwright); use the machine's if it has one.
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
[ -z "$missing" ] && exit 0
echo "install-deps: installing:$missing" >&2
if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
