#!/usr/bin/env bash
# `make bench`: signed events stored per second through effectd at 32
# connections, next to pgbench running the same INSERT at the same
# concurrency, on one throwaway cluster with fsync on, in the same run.
# The machines are shared and noisy: read the ratios, not the absolutes.
# pgbench runs the bare INSERT; effectd also runs each event's handler (row
# lock and update, effects) in the same transaction, as in production.
set -euo pipefail
build=$(cd "${1:?usage: bench.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
connections=${BENCH_CONNECTIONS:-32}
seconds=${BENCH_SECONDS:-10}
cluster=$build/pg-bench
work=$build/bench-results
mkdir -p "$work"

cmake --build "$build" --target effectd_intake_load >/dev/null
"$here/pg.sh" destroy "$cluster"
trap '"$here/pg.sh" destroy "$cluster"' EXIT
url=$("$here/pg.sh" start "$cluster" --fsync on)
DATABASE_URL=$url "$build/effectd" migrate >/dev/null
secret="whsec_bench_$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

# Organizations with an owner each, so handlers do their real work: resolve,
# lock and update the row, enqueue the subscription_started email and analytics.
organizations=1000
psql "$url" -q -v ON_ERROR_STOP=1 <<SQL
INSERT INTO "Organization" ("id", "name", "slug", "createdAt")
  SELECT 'org_b' || g, 'Bench ' || g, 'bench-' || g, now() FROM generate_series(0, $organizations - 1) g;
INSERT INTO "User" ("id", "name", "email", "emailVerified", "createdAt", "updatedAt")
  SELECT 'user_b' || g, 'Owner ' || g, 'owner' || g || '@bench.example', true, now(), now()
  FROM generate_series(0, $organizations - 1) g;
INSERT INTO "Member" ("id", "organizationId", "userId", "role", "createdAt")
  SELECT 'member_b' || g, 'org_b' || g, 'user_b' || g, 'owner', now() FROM generate_series(0, $organizations - 1) g;
SQL

truncate_events() {
  psql "$url" -qc 'TRUNCATE "StripeWebhookEvent", "OutboundEffect", "Subscription"'
}

# One effectd run: prints the load generator's JSON line.
run_effectd() {
  local label=$1; shift
  truncate_events
  env "$@" EMAIL_FILE_DIR="$work/mail" DATABASE_URL="$url" STRIPE_WEBHOOK_SECRET="$secret" EFFECTD_LISTEN="127.0.0.1:$port" \
    EFFECTD_LOG_LEVEL=warn "$build/effectd" serve >"$work/effectd-$label.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
  "$build/bench/effectd_intake_load" --port "$port" --secret "$secret" --connections "$connections" \
    --seconds "$seconds" --organizations "$organizations" --payload-out "$work/payload.json" \
    | tee "$work/$label.json"
  kill -TERM "$pid"; wait "$pid"
  psql "$url" -tAc 'SELECT '"'"'  events: '"'"' || string_agg(status || '"'"'='"'"' || n, '"'"' '"'"') ||
    '"'"', effects: '"'"' || (SELECT count(*) FROM "OutboundEffect")
    FROM (SELECT status, count(*) n FROM "StripeWebhookEvent" GROUP BY 1) s'

}

echo "== effectd, group commit (default), $connections connections, ${seconds}s"
run_effectd group
echo "== effectd, one transaction per event (EFFECTD_INTAKE_MAX_BATCH=1)"
run_effectd single EFFECTD_INTAKE_MAX_BATCH=1

echo "== pgbench: the same INSERT, one transaction each, $connections clients, ${seconds}s"
truncate_events
cat >"$work/insert.sql" <<SQL
INSERT INTO "StripeWebhookEvent" ("id", "type", "livemode", "apiVersion", "account", "stripeCreatedAt", "payload", "status", "receivedAt") VALUES ('evt_pgbench_' || gen_random_uuid(), 'customer.subscription.updated', false, NULLIF('2025-03-31.basil', ''), NULLIF('', ''), to_timestamp(1700000000::bigint) AT TIME ZONE 'UTC', :payload::jsonb, 'received', now() AT TIME ZONE 'UTC') ON CONFLICT ("id") DO NOTHING RETURNING "id";
SQL
# The payload travels as a bind parameter, as effectd sends it.
"$PGBIN/pgbench" -n -M prepared -c "$connections" -j 2 -T "$seconds" -f "$work/insert.sql" \
  -D payload="$(cat "$work/payload.json")" "$url" \
  >"$work/pgbench.txt" 2>&1 || { cat "$work/pgbench.txt"; exit 1; }
pgbench_tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$work/pgbench.txt" | head -1)
echo "{\"pgbench_tps\": $pgbench_tps}"

python3 - "$work" "$pgbench_tps" <<'PY'
import json, sys
work, pg = sys.argv[1], float(sys.argv[2])
group = json.load(open(f"{work}/group.json"))["events_per_second"]
single = json.load(open(f"{work}/single.json"))["events_per_second"]
print()
print(f"effectd group commit : {group:9.0f} events/s  = {group/pg:5.2f} x pgbench")
print(f"effectd batch of 1   : {single:9.0f} events/s  = {single/pg:5.2f} x pgbench")
print(f"pgbench same INSERT  : {pg:9.0f} tx/s      = 1.00 x pgbench")
print(f"group commit gain    : {group/single:5.2f} x one transaction per event")
PY

# --- Draining: effects per second through the whole queue -----------------
# 5000 webhook effects to a local sink that answers 200 at once, at 8 and 64
# deliveries in flight; the reference is the same queue with the `log`
# analytics channel, which does no I/O: the queue machinery's own ceiling.
cmake --build "$build" --target effectd_http_sink >/dev/null
"$build/bench/effectd_http_sink" >"$work/sink.port" &
sink=$!
trap '"$here/pg.sh" destroy "$cluster"; kill $sink 2>/dev/null' EXIT
for _ in $(seq 50); do [[ -s $work/sink.port ]] && break; sleep 0.1; done
sink_port=$(cat "$work/sink.port")
sink_url="http://127.0.0.1:$sink_port/hook"
effects=${BENCH_EFFECTS:-5000}

drain() {
  local label=$1 kind=$2; shift 2
  psql "$url" -qc 'TRUNCATE "OutboundEffect"'
  if [[ $kind == webhook ]]; then
    psql "$url" -qc "INSERT INTO \"OutboundEffect\" (\"key\", \"kind\", \"payload\")
      SELECT 'bench:' || g, 'webhook', jsonb_build_object('url', '$sink_url', 'body', jsonb_build_object('n', g))
      FROM generate_series(1, $effects) g"
  else
    psql "$url" -qc "INSERT INTO \"OutboundEffect\" (\"key\", \"kind\", \"payload\")
      SELECT 'bench:' || g, 'analytics', jsonb_build_object('event', 'e', 'distinctId', 'org_' || g)
      FROM generate_series(1, $effects) g"
  fi
  local started
  started=$(date +%s.%N)
  env "$@" EMAIL_FILE_DIR="$work/mail" DATABASE_URL="$url" STRIPE_WEBHOOK_SECRET="$secret" EFFECTD_LISTEN="127.0.0.1:$port" \
    EFFECTD_LOG_LEVEL=warn WEBHOOK_ALLOW_HTTP_HOSTS="127.0.0.1:$sink_port" WEBHOOK_ALLOW_PRIVATE_ADDRESSES=127.0.0.1 \
    "$build/effectd" serve \
    >"$work/drain-$label.log" 2>&1 &
  local pid=$!
  until (( $(psql "$url" -tAc "SELECT count(*) FROM \"OutboundEffect\" WHERE status = 'sent' AND \"key\" LIKE 'bench:%'") >= effects )); do
    sleep 0.05
    if (( $(python3 -c "print(int($(date +%s.%N) - $started))") > 300 )); then
      echo "draining did not finish in 300 s; see $work/drain-$label.log" >&2
      kill -TERM "$pid"; exit 1
    fi
  done
  local rate
  rate=$(python3 -c "print($effects / ($(date +%s.%N) - $started))")
  kill -TERM "$pid"; wait "$pid"
  echo "$label $rate" >>"$work/drain.txt"
  printf '%-28s %8.0f effects/s\n' "$label" "$rate"
}

rm -f "$work/drain.txt"
echo
echo "== draining $effects effects (time from start to all sent, startup included)"
drain "log-channel-c64" analytics EFFECTD_DRAIN_CONCURRENCY=64 EFFECTD_DRAIN_BATCH=64
drain "webhook-c8" webhook EFFECTD_DRAIN_CONCURRENCY=8
drain "webhook-c64" webhook EFFECTD_DRAIN_CONCURRENCY=64 EFFECTD_DRAIN_BATCH=64
python3 - "$work/drain.txt" <<'PY'
import sys
rates = dict(line.split() for line in open(sys.argv[1]))
ref = float(rates["log-channel-c64"])
for label in ("webhook-c8", "webhook-c64"):
    print(f"{label:12s}: {float(rates[label]):7.0f} effects/s = {float(rates[label]) / ref:4.2f} x the queue without I/O")
PY
