#!/usr/bin/env bash
# Install (if missing) and start a PostgreSQL 15 server on 127.0.0.1 for the storage and API
# tests, then print its SQLAlchemy URL on stdout (everything else goes to stderr).
#
#   url=$(.ci/postgres.sh)            # start (idempotent: reuses a running server)
#   OFFTAKE_TEST_POSTGRES_URL=$url python -m pytest -m postgres
#   .ci/postgres.sh stop              # stop it
#
# Must run as root (initdb and postgres themselves run as the postgres user via runuser).
# Settings: OFFTAKE_PG_DIR (default /var/tmp/offtake-pg), OFFTAKE_PG_PORT (default 55432),
# OFFTAKE_PG_DB (default offtake_test).
set -euo pipefail

PG_BIN=/usr/lib/postgresql/15/bin
PG_DIR=${OFFTAKE_PG_DIR:-/var/tmp/offtake-pg}
PG_PORT=${OFFTAKE_PG_PORT:-55432}
PG_DB=${OFFTAKE_PG_DB:-offtake_test}
DATA=$PG_DIR/data
SOCK=$PG_DIR/run

log() { echo "postgres.sh: $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
    log "run me as root"
    exit 1
fi

if [ "${1:-start}" = "stop" ]; then
    if [ -f "$DATA/postmaster.pid" ]; then
        runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$DATA" -m fast -w stop >&2
    else
        log "not running"
    fi
    exit 0
fi

if [ ! -x "$PG_BIN/initdb" ]; then
    log "installing postgresql-15"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql-15 >&2
fi
id postgres >/dev/null 2>&1 || { log "no postgres user after install"; exit 1; }

mkdir -p "$PG_DIR" "$SOCK"
chmod 755 "$PG_DIR"
chown postgres:postgres "$SOCK"
if [ ! -f "$DATA/PG_VERSION" ]; then
    mkdir -p "$DATA"
    chown postgres:postgres "$DATA"
    chmod 700 "$DATA"
    log "initdb in $DATA"
    runuser -u postgres -- "$PG_BIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 >&2
fi

if ! runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    log "starting on 127.0.0.1:$PG_PORT"
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$DATA" -l "$SOCK/postgres.log" \
        -o "-p $PG_PORT -k $SOCK -c listen_addresses=127.0.0.1 -c fsync=on" -w -t 60 start >&2
fi

for _ in $(seq 1 60); do
    if "$PG_BIN/pg_isready" -h 127.0.0.1 -p "$PG_PORT" -q; then break; fi
    sleep 0.5
done
"$PG_BIN/pg_isready" -h 127.0.0.1 -p "$PG_PORT" >&2

exists=$(runuser -u postgres -- "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc \
    "select 1 from pg_database where datname = '$PG_DB'" 2>/dev/null || true)
if [ "$exists" != "1" ]; then
    runuser -u postgres -- "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -q \
        -c "create database $PG_DB" >&2
fi

echo "postgresql+psycopg://postgres@127.0.0.1:$PG_PORT/$PG_DB"
