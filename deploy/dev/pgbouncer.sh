#!/usr/bin/env bash
# A throwaway PgBouncer (Debian's package) in transaction mode in front of a
# throwaway cluster, for tests and the soak: what Supabase's, Neon's and most
# self-hosted pooled connection strings are.
#   pgbouncer.sh start DIR UPSTREAM_PORT [POOL_SIZE]   start it; prints its port
#   pgbouncer.sh stop DIR                              stop it at once (SIGTERM, 1.18's
#                                                      immediate shutdown: transactions cut);
#                                                      start again with the same DIR and port
#   pgbouncer.sh admin DIR COMMAND                     PAUSE, RESUME, SHOW POOLS...
# Every database of the upstream cluster is reachable under its own name, with
# POOL_SIZE (default 2) server connections per database and user, so that
# clients really share server connections. As root it runs as `postgres`,
# since PgBouncer refuses root, like PostgreSQL.
set -euo pipefail

action=${1:?usage: pgbouncer.sh start|stop|admin DIR ...}
dir=${2:?usage: pgbouncer.sh start|stop|admin DIR ...}

as_owner() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start() {
  local upstream=${1:?usage: pgbouncer.sh start DIR UPSTREAM_PORT [POOL_SIZE]}
  local pool=${2:-2}
  command -v pgbouncer >/dev/null || { echo "pgbouncer.sh: pgbouncer is not installed" >&2; exit 1; }
  mkdir -p "$dir"
  # The postgres user must be able to read the configuration and write the
  # log: where it cannot reach DIR (a clone under /root), a /tmp folder.
  local run=$dir
  if [[ $(id -u) -eq 0 ]] && ! runuser -u postgres -- test -w "$dir" 2>/dev/null; then
    chown postgres: "$dir" 2>/dev/null || true
    if ! runuser -u postgres -- test -w "$dir" 2>/dev/null; then
      stop  # a folder of an earlier start goes first
      run=$(mktemp -d /tmp/effectd-pgbouncer.XXXXXX)
      chown postgres: "$run"
      echo "$run" >"$dir/run-dir"
    fi
  fi
  [[ -s $dir/port ]] || free_port >"$dir/port"
  cat >"$run/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=$upstream

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $(cat "$dir/port")
unix_socket_dir =
auth_type = trust
auth_file = $run/users.txt
admin_users = postgres
pool_mode = transaction
default_pool_size = $pool
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = 2000
max_db_connections = 0
server_reset_query =
server_check_delay = 1
logfile = $run/pgbouncer.log
pidfile = $run/pgbouncer.pid
INI
  echo '"postgres" ""' >"$run/users.txt"
  [[ $(id -u) -eq 0 ]] && chown postgres: "$run/pgbouncer.ini" "$run/users.txt"
  as_owner pgbouncer -d -q "$run/pgbouncer.ini"
  local port
  port=$(cat "$dir/port")
  for _ in $(seq 1 100); do
    if psql -q -h 127.0.0.1 -p "$port" -U postgres -d pgbouncer -tAc 'SHOW VERSION' >/dev/null 2>&1; then
      echo "$port"
      return
    fi
    sleep 0.1
  done
  echo "pgbouncer.sh: PgBouncer did not start" >&2
  cat "$run/pgbouncer.log" >&2 || true
  stop
  exit 1
}

run_dir() { if [[ -s $dir/run-dir ]]; then cat "$dir/run-dir"; else echo "$dir"; fi; }

stop() {
  local run pidfile pid
  run=$(run_dir)
  pidfile=$run/pgbouncer.pid
  if [[ -s $pidfile ]]; then
    pid=$(cat "$pidfile")
    # A pid file left by a crash or a reboot may name another process now.
    if [[ $(cat "/proc/$pid/comm" 2>/dev/null) == pgbouncer ]]; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
      done
      if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
    fi
    rm -f "$pidfile"
  fi
  # A /tmp folder of start's goes with it (start writes a new one).
  if [[ $run == /tmp/effectd-pgbouncer.* ]]; then rm -rf -- "$run"; rm -f "$dir/run-dir"; fi
}

case $action in
  start) start "${@:3}" ;;
  stop) stop ;;
  admin) psql -q -h 127.0.0.1 -p "$(cat "$dir/port")" -U postgres -d pgbouncer -tAc "${3:?command}" ;;
  *) echo "pgbouncer.sh: unknown action $action" >&2; exit 2 ;;
esac
