#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for development and tests.
#   pg.sh start DIR [--fsync on|off]   create (first time) and start; prints the URL
#   pg.sh stop DIR                     stop it (the data stays for the next start)
#   pg.sh destroy DIR                  stop it and delete the data
#   pg.sh url DIR                      print the URL of the running cluster
# PostgreSQL refuses to run as root, so as root the cluster belongs to the
# `postgres` user. Listens on 127.0.0.1 only, on a free port, with trust auth.
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
action=${1:?usage: pg.sh start|stop|destroy|url DIR}
dir=${2:?usage: pg.sh start|stop|destroy|url DIR}
fsync=on
[[ ${3:-} == --fsync ]] && fsync=${4:?--fsync needs on or off}

as_owner() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# The data directory, which may live in /tmp when the postgres user cannot
# reach the build folder (for example a clone under /root).
data_dir() {
  if [[ -L $dir/data ]]; then readlink "$dir/data"; else echo "$dir/data"; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

url() { echo "postgresql://postgres@127.0.0.1:$(cat "$dir/port")/effectd"; }

start() {
  mkdir -p "$dir"
  if [[ ! -e $dir/data ]]; then
    local data=$dir/data
    mkdir -p "$data"
    [[ $(id -u) -eq 0 ]] && chown postgres: "$data"
    if ! as_owner test -w "$data"; then
      rm -rf "$data"
      data=$(mktemp -d /tmp/effectd-pg.XXXXXX)
      chown postgres: "$data"
      ln -s "$data" "$dir/data"
    fi
    as_owner "$PGBIN/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 \
      --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
  fi
  local data
  data=$(data_dir)
  if as_owner "$PGBIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    url
    return
  fi
  # Keep the port across restarts: clients (and tests) reconnect to the same URL.
  [[ -s $dir/port ]] || free_port >"$dir/port"
  local log=$data/server.log
  as_owner "$PGBIN/pg_ctl" -D "$data" -l "$log" -w -t 60 start -o \
    "-c listen_addresses=127.0.0.1 -c port=$(cat "$dir/port") -c unix_socket_directories='' \
     -c fsync=$fsync -c max_connections=300 -c timezone=UTC" >/dev/null \
    || { cat "$log" >&2; exit 1; }
  "$PGBIN/psql" -q -h 127.0.0.1 -p "$(cat "$dir/port")" -U postgres -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'effectd'" | grep -q 1 \
    || "$PGBIN/createdb" -h 127.0.0.1 -p "$(cat "$dir/port")" -U postgres effectd
  url
}

stop() {
  [[ -e $dir/data ]] || return 0
  as_owner "$PGBIN/pg_ctl" -D "$(data_dir)" -m fast -w stop >/dev/null 2>&1 || true
}

case $action in
  start) start ;;
  stop) stop ;;
  destroy)
    stop
    if [[ -L $dir/data ]]; then rm -rf "$(readlink "$dir/data")"; fi
    rm -rf "$dir"
    ;;
  url) url ;;
  *) echo "pg.sh: unknown action $action" >&2; exit 2 ;;
esac
