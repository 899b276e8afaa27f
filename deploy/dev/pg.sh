#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for development and tests.
#   pg.sh start DIR [--fsync on|off] [--tls PREFIX] [--port PORT] [--set NAME=VALUE]...
#                                      create (first time) and start; prints the URL.
#                                      --tls: ssl=on with PREFIX.pem and PREFIX.key
#                                      --port: on that port (default: a free one, kept)
#                                      --set: any other setting (repeatable; a plain
#                                      VALUE: it goes on postgres's command line)
#   pg.sh replica DIR PRIMARY_DIR NAME [options]
#                                      a streaming replica of PRIMARY_DIR's running
#                                      cluster (pg_basebackup), known to it as NAME
#                                      (for synchronous_standby_names), started
#   pg.sh promote DIR                  the replica becomes a primary
#   pg.sh crash DIR                    stop at once, as a power cut would (no checkpoint)
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
tls=
port=
settings=()
shift 2
if [[ $action == replica ]]; then
  primary=${1:?usage: pg.sh replica DIR PRIMARY_DIR NAME}
  name=${2:?usage: pg.sh replica DIR PRIMARY_DIR NAME}
  shift 2
fi
while (($# > 0)); do
  case $1 in
    --fsync) fsync=${2:?--fsync needs on or off} ;;
    --tls) tls=${2:?--tls needs the PREFIX of PREFIX.pem and PREFIX.key} ;;
    --port) port=${2:?--port needs a number} ;;
    --set)
      # It goes through pg_ctl's shell: a plain name and value only.
      [[ ${2:?--set needs NAME=VALUE} =~ ^[A-Za-z_.]+=[A-Za-z0-9_.:/%+-]+$ ]] ||
        { echo "pg.sh: --set $2: NAME=VALUE of letters, digits and _.:/%+- only" >&2; exit 2; }
      settings+=("-c $2")
      ;;
    *) echo "pg.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done

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

# Makes the (empty) data directory and prints its path.
new_data_dir() {
  mkdir -p "$dir"
  local data=$dir/data
  mkdir -p "$data"
  [[ $(id -u) -eq 0 ]] && chown postgres: "$data"
  if ! as_owner test -w "$data"; then
    rm -rf "$data"
    data=$(mktemp -d /tmp/effectd-pg.XXXXXX)
    chown postgres: "$data"
    ln -s "$data" "$dir/data"
  fi
  chmod 0700 "$data"
  echo "$data"
}

replica() {
  local primary_port
  primary_port=$(cat "$primary/port")
  local data
  data=$(new_data_dir)
  as_owner "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$primary_port" -U postgres -D "$data" \
    -X stream -R -c fast >"$dir/basebackup.log" 2>&1 || { cat "$dir/basebackup.log" >&2; exit 1; }
  echo "primary_conninfo = 'host=127.0.0.1 port=$primary_port user=postgres application_name=$name'" |
    as_owner tee -a "$data/postgresql.auto.conf" >/dev/null
  start
}

start() {
  mkdir -p "$dir"
  if [[ ! -e $dir/data ]]; then
    local data
    data=$(new_data_dir)
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
  [[ -n $port ]] && echo "$port" >"$dir/port"
  [[ -s $dir/port ]] || free_port >"$dir/port"
  if [[ -n $tls ]]; then
    # PostgreSQL reads the key only when its owner alone may read it.
    install -m 0644 "$tls.pem" "$data/server.crt"
    install -m 0600 "$tls.key" "$data/server.key"
    [[ $(id -u) -eq 0 ]] && chown postgres: "$data/server.crt" "$data/server.key"
    settings+=("-c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key")
  fi
  local log=$data/server.log
  as_owner "$PGBIN/pg_ctl" -D "$data" -l "$log" -w -t 60 start -o \
    "-c listen_addresses=127.0.0.1 -c port=$(cat "$dir/port") -c unix_socket_directories='' \
     -c fsync=$fsync -c max_connections=300 -c timezone=UTC ${settings[*]}" >/dev/null \
    || { cat "$log" >&2; exit 1; }
  PGSSLMODE=prefer "$PGBIN/psql" -q -h 127.0.0.1 -p "$(cat "$dir/port")" -U postgres -d postgres -tAc \
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
  replica) replica ;;
  promote) as_owner "$PGBIN/pg_ctl" -D "$(data_dir)" -w promote >/dev/null ;;
  crash) as_owner "$PGBIN/pg_ctl" -D "$(data_dir)" -m immediate -w stop >/dev/null ;;
  stop) stop ;;
  destroy)
    stop
    if [[ -L $dir/data ]]; then rm -rf "$(readlink "$dir/data")"; fi
    rm -rf "$dir"
    ;;
  url) url ;;
  *) echo "pg.sh: unknown action $action" >&2; exit 2 ;;
esac
