#!/usr/bin/env bash
# tools/deps.sh — install the Debian packages colog needs to build and test, if
# any is missing. Sourced by quickstart.sh and test.sh; safe to run again.
set -euo pipefail

COLOG_PACKAGES=(build-essential cmake pkg-config clang clang-format liblz4-dev libxxhash-dev
    liburing-dev libcriterion-dev libroaring-dev libzstd-dev libsodium-dev libjansson-dev
    libarchive-dev libmicrohttpd-dev sqlite3 python3 tzdata
    rsyslog curl bsdutils valgrind)

colog_install_deps() {
    local missing=()
    for p in "${COLOG_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "colog: installing missing packages: ${missing[*]}" >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
