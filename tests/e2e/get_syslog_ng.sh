#!/usr/bin/env bash
# tests/e2e/get_syslog_ng.sh DIR — fetch Debian's syslog-ng into DIR without installing it,
# for tests/e2e/serve.py.
#
# Debian's syslog-ng-core conflicts with rsyslog (both provide system-log-daemon), so the
# test cannot apt-get install it next to rsyslog. Instead: `apt-get download` the package and
# those of its dependencies that are not installed, `dpkg-deb -x` them into DIR/root, and check
# with ldd that the daemon and its modules find every library (LD_LIBRARY_PATH pointing into
# DIR/root). Nothing outside DIR is touched; a second run reuses what the first fetched.
#
# On success prints DIR/root and exits 0; run it as
#   LD_LIBRARY_PATH=$(get_syslog_ng.sh DIR --libpath) DIR/root/usr/sbin/syslog-ng \
#       --module-path DIR/root/usr/lib/syslog-ng/3.38 ...
# With --libpath, prints the LD_LIBRARY_PATH to use instead. Exits 1 (with the reason on
# stderr) when the packages cannot be fetched, e.g. without network access.
set -euo pipefail

dir=${1:?usage: get_syslog_ng.sh DIR [--libpath]}
mode=${2:-}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
root=$dir/root
debs=$dir/debs

libpath() {
    find "$root" -name '*.so*' -printf '%h\n' 2>/dev/null | sort -u | paste -sd: -
}

# Library names ldd cannot resolve, for the daemon and its modules.
missing_libs() {
    local lp
    lp=$(libpath)
    {
        LD_LIBRARY_PATH=$lp ldd "$root/usr/sbin/syslog-ng" 2>/dev/null || true
        for m in "$root"/usr/lib/syslog-ng/*/*.so; do
            [ -e "$m" ] && { LD_LIBRARY_PATH=$lp ldd "$m" 2>/dev/null || true; }
        done
    } | awk '/not found/ {print $1}' | sort -u
}

done_marker=$dir/.ready
if [ -f "$done_marker" ] && [ -x "$root/usr/sbin/syslog-ng" ] && [ -z "$(missing_libs)" ]; then
    if [ "$mode" = --libpath ]; then libpath; else echo "$root"; fi
    exit 0
fi

mkdir -p "$debs" "$root"
cd "$debs"

# apt-get download PKG, updating the package lists once if the first try fails.
updated=0
fetch() {
    if ls "$1"_*.deb >/dev/null 2>&1; then return 0; fi
    if apt-get download "$1" >/dev/null 2>"$dir/apt.err"; then return 0; fi
    if [ $updated = 0 ]; then
        updated=1
        apt-get update >/dev/null 2>>"$dir/apt.err" || true
        apt-get download "$1" >/dev/null 2>>"$dir/apt.err" && return 0
    fi
    echo "get_syslog_ng.sh: apt-get download $1 failed:" >&2
    cat "$dir/apt.err" >&2
    return 1
}

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# Direct dependencies of a package (first alternative of each), as apt knows them.
deps_of() {
    apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces \
        --no-enhances "$1" 2>/dev/null |
        awk '/^ *\|?Depends:/ {print $2}' | grep -v '^<' | sort -u
}

fetch syslog-ng-core
dpkg-deb -x syslog-ng-core_*.deb "$root"

# Dependencies that are not installed, level by level, until ldd is satisfied.
queue=(syslog-ng-core)
seen=" syslog-ng-core "
for level in 1 2 3; do
    [ -z "$(missing_libs)" ] && break
    next=()
    for p in "${queue[@]}"; do
        for d in $(deps_of "$p"); do
            case "$seen" in *" $d "*) continue ;; esac
            seen="$seen$d "
            installed "$d" && continue
            fetch "$d"
            dpkg-deb -x "$(ls "$d"_*.deb | head -1)" "$root"
            next+=("$d")
        done
    done
    queue=("${next[@]}")
    [ ${#queue[@]} -eq 0 ] && break
done

left=$(missing_libs)
if [ -n "$left" ]; then
    echo "get_syslog_ng.sh: libraries still missing after fetching the dependencies: $left" >&2
    exit 1
fi
touch "$done_marker"
if [ "$mode" = --libpath ]; then libpath; else echo "$root"; fi
