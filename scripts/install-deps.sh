#!/bin/sh
# Installs the Debian packages Hard-E needs to build, run and test.
# A no-op when everything is already there; otherwise one apt-get call.
set -eu
PACKAGES="build-essential pkg-config libcurl4-openssl-dev libjansson-dev libsqlite3-dev
libcmocka-dev libmicrohttpd-dev python3 curl ca-certificates"
missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
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
