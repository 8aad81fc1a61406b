#!/usr/bin/env bash
# Make the TimescaleDB extension (Apache-2.0 edition) available to the
# machine's PostgreSQL 15.
#
# Idempotent: if TimescaleDB is already installed (the loader timescaledb.so, the
# control file, and the versioned library and SQL script it names) it prints
# "timescaledb already installed" and exits 0 straight away.
#
# Otherwise it builds TimescaleDB from Debian's own source package
# `timescaledb` in the *trixie* suite (2.19.x+dfsg) against the PostgreSQL 15
# server headers, installs it into the system PostgreSQL 15, and checks it in a
# throwaway cluster (CREATE EXTENSION + create_hypertable).
#
# The system apt configuration is never modified: trixie sources are fetched
# through a private sources list / lists dir / cache inside the work dir. The
# mirror is read from the system apt config at run time.
#
# Environment:
#   TSDB_BUILD_DIR    work dir (default /var/tmp/ioc-timescaledb-build)
#   TSDB_SUITE        Debian suite to take the source from (default trixie)
#   TSDB_HEADERS      auto (default: apt-get install postgresql-server-dev-15,
#                     fall back to extracting the .deb) | extract (always
#                     extract the .deb into the work dir)
#   TSDB_SKIP_VERIFY  set to 1 to skip the throwaway-cluster check
#   TSDB_PG_BINDIR    the PostgreSQL bin folder (default /usr/lib/postgresql/15/bin)
#
# Usage: build_timescaledb.sh [--check]   (--check: exit 0 if installed, 1 if not; change nothing)
set -Eeuo pipefail
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

PG_MAJOR=15
PG_BINDIR=${TSDB_PG_BINDIR:-/usr/lib/postgresql/${PG_MAJOR}/bin}
SYS_PG_CONFIG=${PG_BINDIR}/pg_config
WORK=${TSDB_BUILD_DIR:-/var/tmp/ioc-timescaledb-build}
SUITE=${TSDB_SUITE:-trixie}
HEADERS_MODE=${TSDB_HEADERS:-auto}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
export DEBIAN_FRONTEND=noninteractive

log() { printf '[build_timescaledb] %s\n' "$*"; }
die() { printf '[build_timescaledb] ERROR: %s\n' "$*" >&2; exit 1; }

[[ -x $SYS_PG_CONFIG ]] || die "$SYS_PG_CONFIG not found (is postgresql-${PG_MAJOR} installed?)"
PKGLIBDIR=$("$SYS_PG_CONFIG" --pkglibdir)
SHAREDIR=$("$SYS_PG_CONFIG" --sharedir)

# ---------------------------------------------------------------- 1. fast path
# Installed means all of it: the loader, the control file, and the versioned library and install
# script the control file names (a half-finished install fails only at CREATE EXTENSION).
installed() {
    local control=$SHAREDIR/extension/timescaledb.control version
    [[ -f $PKGLIBDIR/timescaledb.so && -f $control ]] || return 1
    version=$(sed -n "s/^default_version *= *'\([^']*\)'.*/\1/p" "$control")
    [[ -n $version && -f $PKGLIBDIR/timescaledb-$version.so \
        && -f $SHAREDIR/extension/timescaledb--$version.sql ]]
}
if installed; then
    echo "timescaledb already installed"
    exit 0
fi
[[ ${1:-} == --check ]] && { echo "timescaledb not installed"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root (installs packages and files into the system PostgreSQL)"

START=$SECONDS
mkdir -p "$WORK"
# The _apt sandbox user must be able to traverse into the work dir.
chmod 755 "$WORK"
LOG=$WORK/build.log
: >"$LOG"

# Serialise concurrent runs sharing the work dir.
exec 9>"$WORK/.lock"
flock 9

# Quiet by default; show the end of the log if anything fails.
LAST_CMD=
on_err() {
    local rc=$? line=$1
    trap - ERR
    printf '[build_timescaledb] FAILED (exit %s) at line %s%s; last lines of %s:\n' \
        "$rc" "$line" "${LAST_CMD:+ (last logged command: $LAST_CMD)}" "$LOG" >&2
    tail -n 40 "$LOG" >&2 || true
    exit "$rc"
}
trap 'on_err $LINENO' ERR

run() { # run CMD... with output appended to the log
    LAST_CMD=$*
    printf '\n+ %s\n' "$*" >>"$LOG"
    "$@" >>"$LOG" 2>&1
}

# ---------------------------------------------------------- 2a. build tooling
pkg_installed() {
    [[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null || true) == ii* ]]
}

apt_install() { # install packages, refreshing the system lists only on failure
    if ! run apt-get install -y --no-install-recommends "$@"; then
        log "apt-get install $* failed; refreshing system package lists and retrying"
        run apt-get update
        run apt-get install -y --no-install-recommends "$@"
    fi
}

missing=()
for tool in cmake:cmake gcc:gcc make:make dpkg-source:dpkg-dev; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
done
pkg_installed libssl-dev || missing+=(libssl-dev)
if ((${#missing[@]})); then
    log "installing build tools: ${missing[*]}"
    apt_install "${missing[@]}"
fi

# ----------------------------------------------------- 2b. mirror + sources
# Mirror URI of the system's bookworm entry, read at run time.
# shellcheck source=scripts/debian_mirror.sh
source "$SCRIPT_DIR/debian_mirror.sh"
MIRROR=$(find_mirror | head -n 1)
MIRROR=${MIRROR%/}
[[ -n $MIRROR ]] || die "could not find a bookworm mirror URI in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list"

mkdir -p "$WORK/lists/partial" "$WORK/cache/archives/partial" "$WORK/src"
SRCLIST=$WORK/sources.list
APT_PRIV=(
    -o "Dir::Etc::sourcelist=$SRCLIST"
    -o "Dir::Etc::sourceparts=-"
    -o "Dir::State::Lists=$WORK/lists"
    -o "Dir::Cache=$WORK/cache"
    -o "APT::Get::List-Cleanup=0"
)

log "fetching timescaledb source from Debian $SUITE"
printf 'deb-src [signed-by=%s] %s %s main\n' "$KEYRING" "$MIRROR" "$SUITE" >"$SRCLIST"
if ! run apt-get "${APT_PRIV[@]}" update; then
    if grep -qiE 'NO_PUBKEY|EXPKEYSIG|not signed|signatures (couldn.t|were invalid)|GPG error' "$LOG"; then
        # Only if the installed keyring cannot verify the suite's Release file.
        log "WARNING: $SUITE Release signature not verifiable with $KEYRING; retrying with trusted=yes"
        printf 'deb-src [trusted=yes] %s %s main\n' "$MIRROR" "$SUITE" >"$SRCLIST"
        run apt-get "${APT_PRIV[@]}" update
    else
        false
    fi
fi

cd "$WORK/src"
run apt-get "${APT_PRIV[@]}" source --download-only timescaledb
dsc=$(printf '%s\n' timescaledb_*.dsc | sort -V | tail -n 1)
[[ -f $dsc ]] || die "no timescaledb .dsc downloaded"
srcdir=$WORK/src/tree
rm -rf "$srcdir"
run dpkg-source -x "$dsc" "$srcdir"
TSDB_VERSION=$(sed -n 's/^version[[:space:]]*=[[:space:]]*//p' "$srcdir/version.config" | head -n 1)
log "source: $dsc (upstream version ${TSDB_VERSION:-unknown})"

# ------------------------------------------------------- 2c. server headers
PG_VERSION=$(dpkg-query -W -f='${Version}' "postgresql-${PG_MAJOR}")
LIBPQ_VERSION=$(dpkg-query -W -f='${Version}' libpq5)
PG_CONFIG=$SYS_PG_CONFIG

extract_headers() {
    local pgdev=$WORK/pgdev debdir=$WORK/debs deb
    log "extracting postgresql-server-dev-${PG_MAJOR}=$PG_VERSION and libpq-dev=$LIBPQ_VERSION into $pgdev"
    rm -rf "$pgdev" "$debdir"
    mkdir -p "$pgdev" "$debdir"
    chmod 777 "$debdir" # apt-get download runs as the _apt sandbox user
    (cd "$debdir" && run apt-get download \
        "postgresql-server-dev-${PG_MAJOR}=$PG_VERSION" "libpq-dev=$LIBPQ_VERSION")
    for deb in "$debdir"/*.deb; do run dpkg -x "$deb" "$pgdev"; done
    [[ -f $pgdev/usr/include/postgresql/$PG_MAJOR/server/postgres.h ]] \
        || die "server headers missing from extracted postgresql-server-dev-${PG_MAJOR}"
    # The packaged pg_config reports the system paths. Use a wrapper that
    # keeps the system install dirs (pkglibdir, sharedir, ...) but points the
    # include dirs at the extracted tree.
    PG_CONFIG=$WORK/pg_config
    cat >"$PG_CONFIG" <<EOF
#!/bin/sh
"$SYS_PG_CONFIG" "\$@" | sed -e 's#^/usr/include/postgresql#$pgdev/usr/include/postgresql#' -e 's#-I/usr/include/postgresql#-I$pgdev/usr/include/postgresql#g'
EOF
    chmod 755 "$PG_CONFIG"
}

server_inc=$("$SYS_PG_CONFIG" --includedir-server)
if [[ -f $server_inc/postgres.h && $HEADERS_MODE != extract ]]; then
    log "using installed server headers in $server_inc"
elif [[ $HEADERS_MODE != extract ]] \
    && log "installing postgresql-server-dev-${PG_MAJOR}=$PG_VERSION" \
    && run apt-get install -y --no-install-recommends "postgresql-server-dev-${PG_MAJOR}=$PG_VERSION" \
    && [[ -f $server_inc/postgres.h ]]; then
    :
else
    extract_headers
fi

# ------------------------------------------------------------- 2d. build
log "building (log: $LOG)"
bld=$WORK/src/build
rm -rf "$bld"
run cmake -S "$srcdir" -B "$bld" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DPG_CONFIG="$PG_CONFIG" \
    -DAPACHE_ONLY=ON \
    -DUSE_TELEMETRY=OFF \
    -DREGRESS_CHECKS=OFF \
    -DTAP_CHECKS=OFF \
    -DWARNINGS_AS_ERRORS=OFF \
    -DENABLE_DEBUG_UTILS=OFF
run make -C "$bld" -j"$(nproc)"
run make -C "$bld" install
installed || die "make install did not put timescaledb.so, its versioned library, .control and .sql into $PKGLIBDIR / $SHAREDIR/extension"
log "installed timescaledb ${TSDB_VERSION:-?} into $PKGLIBDIR in $((SECONDS - START))s"

# ----------------------------------------------------------- 3. verification
if [[ ${TSDB_SKIP_VERIFY:-0} == 1 ]]; then
    log "skipping verification (TSDB_SKIP_VERIFY=1)"
    exit 0
fi

TMPC=$(mktemp -d /var/tmp/ioc-tsdb-verify.XXXXXX)
cleanup() {
    if [[ -f $TMPC/data/postmaster.pid ]]; then
        runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$TMPC/data" -m immediate -w stop >>"$LOG" 2>&1 || true
    fi
    rm -rf "$TMPC"
}
trap cleanup EXIT
chown postgres:postgres "$TMPC"
chmod 700 "$TMPC"

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PORT=
for _ in $(seq 1 20); do
    p=$((55432 + RANDOM % 1000))
    if port_free "$p"; then PORT=$p; break; fi
done
[[ -n $PORT ]] || die "no free port found for the verification cluster"

as_pg() { runuser -u postgres -- "$@"; }
log "verifying in a throwaway cluster (port $PORT)"
# trust is safe here only because nothing listens on TCP: the socket is in $TMPC (0700, postgres)
run as_pg "$PG_BINDIR/initdb" -D "$TMPC/data" -U postgres -A trust -E UTF8 --no-locale
run as_pg "$PG_BINDIR/pg_ctl" -D "$TMPC/data" -l "$TMPC/server.log" -w \
    -o "-c listen_addresses='' -p $PORT -k $TMPC -c shared_preload_libraries=timescaledb" start

ver=$(as_pg "$PG_BINDIR/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$TMPC" -p "$PORT" -U postgres -d postgres 2>>"$LOG" <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION timescaledb;
CREATE TABLE t(time timestamptz NOT NULL, v float);
SELECT create_hypertable('t', 'time') IS NOT NULL;
SELECT extversion FROM pg_extension WHERE extname = 'timescaledb';
SQL
) || { cat "$TMPC/server.log" >>"$LOG" 2>/dev/null || true; false; }
ver=$(tail -n 1 <<<"$ver")
[[ -n $ver ]] || die "timescaledb extension version not reported"

run as_pg "$PG_BINDIR/pg_ctl" -D "$TMPC/data" -m fast -w stop
log "OK: timescaledb $ver works (CREATE EXTENSION + create_hypertable); total $((SECONDS - START))s"
