#!/usr/bin/env bash
# Start a throwaway PostgreSQL server for the service tests (Debian's `postgresql` package) and print the
# SQLAlchemy URL of its test database on stdout. Usage: url=$(.ci/postgres.sh start DIR) / .ci/postgres.sh stop DIR
set -euo pipefail
cmd=$1 dir=$2
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
if ! ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 && apt-get install -y -qq postgresql >&2
fi
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_pg() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
case "$cmd" in
  start)
    port=${IVIG_CDS_PG_PORT:-$(free_port)}
    mkdir -p "$dir" && { [ "$(id -u)" != 0 ] || chown postgres "$dir"; }
    as_pg "'$bin/initdb' -D '$dir/data' -A trust -U postgres -E UTF8 >'$dir/initdb.log' 2>&1"
    as_pg "'$bin/pg_ctl' -D '$dir/data' -l '$dir/server.log' -w -o \"-p $port -k '$dir' -c listen_addresses=127.0.0.1\" start" >&2
    as_pg "'$bin/createdb' -h 127.0.0.1 -p $port -U postgres ivig_cds_test"
    echo "postgresql+psycopg://postgres@127.0.0.1:$port/ivig_cds_test"
    ;;
  stop)
    as_pg "'$bin/pg_ctl' -D '$dir/data' -m fast -w stop" >&2 || true
    ;;
esac
