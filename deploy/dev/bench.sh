#!/usr/bin/env bash
# `make bench`: effectd against PostgreSQL's own figure for the same work, on
# one throwaway cluster (fsync and synchronous_commit on), in one run. The
# machines are shared and noisy: read the ratios, not the absolutes.
#   1. intake: signed customer.subscription.updated events over 1,000
#      organizations at 1, 16 and 64 keep-alive connections; every 200 is
#      then checked to be a committed, processed row;
#   1b. the same at 16 connections with unnamed statements (DATABASE_POOLER=
#      transaction), directly and through a real PgBouncer in transaction mode;
#   2. the reference: pgbench -M prepared running effectd's whole per-event
#      transaction (bench/per_event_transaction.sql) at 1, 16 and 64 clients;
#   3. draining BENCH_EFFECTS (50,000) webhook effects to a local keep-alive
#      sink that counts distinct webhook-ids, and as many through the `log`
#      channel (no I/O: the queue's own figure), directly and through PgBouncer;
#   4. end to end at a steady BENCH_E2E_RATE (500) events/s: invoice.paid
#      posted -> its analytics effect arrives at a PostHog stand-in (the sink);
#   5. effectd's peak RSS and CPU seconds per 1,000 events.
# Events are padded to BENCH_BYTES (3,500) bytes: Stripe's are 4-6 KB.
# Prints one table and writes bench/results/latest.json.
set -euo pipefail
# Only the intake daemon has an admin listener: phase 1 measures it.
export EFFECTD_ADMIN_LISTEN=off
build=$(cd "${1:?usage: bench.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
seconds=${BENCH_SECONDS:-10}
effects=${BENCH_EFFECTS:-50000}
e2e_rate=${BENCH_E2E_RATE:-500}
bytes=${BENCH_BYTES:-3500}
cluster=$build/pg-bench
bouncer=$build/pgbouncer-bench
work=$build/bench-results
mkdir -p "$work" "$root/bench/results"

cmake --build "$build" --target effectd_intake_load effectd_http_sink >/dev/null
"$here/pg.sh" destroy "$cluster"
sink=
cleanup() {
  [[ -n $sink ]] && kill "$sink" 2>/dev/null
  "$here/pgbouncer.sh" stop "$bouncer"
  "$here/pg.sh" destroy "$cluster"
}
trap cleanup EXIT
url=$("$here/pg.sh" start "$cluster" --fsync on)
DATABASE_URL=$url "$build/effectd" migrate >/dev/null
secret="whsec_bench_$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The steady state both sides run in: 1,000 organizations with an owner, a
# Subscription row, and welcome effects already sent, so each event locks and
# updates its row and finds its effect keys used, as almost every real one does.
organizations=1000
psql "$url" -q -v ON_ERROR_STOP=1 <<SQL
INSERT INTO "Organization" ("id", "name", "slug", "createdAt")
  SELECT 'org_b' || g, 'Bench ' || g, 'bench-' || g, now() FROM generate_series(0, $organizations - 1) g;
INSERT INTO "User" ("id", "name", "email", "emailVerified", "createdAt", "updatedAt")
  SELECT 'user_b' || g, 'Owner ' || g, 'owner' || g || '@bench.example', true, now(), now()
  FROM generate_series(0, $organizations - 1) g;
INSERT INTO "Member" ("id", "organizationId", "userId", "role", "createdAt")
  SELECT 'member_b' || g, 'org_b' || g, 'user_b' || g, 'owner', now() FROM generate_series(0, $organizations - 1) g;
INSERT INTO "Subscription" ("id", "organizationId", "stripeCustomerId", "stripeSubscriptionId",
                            "status", "livemode", "updatedAt")
  SELECT gen_random_uuid()::text, 'org_b' || g, 'cus_dev_org_b' || g, 'sub_dev_org_b' || g,
         'active', false, now() FROM generate_series(0, $organizations - 1) g;
INSERT INTO "OutboundEffect" ("key", "kind", "payload", "status")
  SELECT k || 'sub_dev_org_b' || g, split_part(k, ':', 1), '{}', 'sent'
  FROM generate_series(0, $organizations - 1) g,
       unnest(ARRAY['email:subscription_started:', 'analytics:subscription_started:']) k;
SQL

# Each phase starts from a vacuumed, checkpointed database, so that no phase
# pays for the dead rows and dirty pages of the one before it.
settle() { psql "$url" -qc 'VACUUM (ANALYZE)' -qc 'CHECKPOINT'; }

# The resources a finished effectd process used: peak RSS in MiB, CPU seconds.
resources() {
  local pid=$1
  local rss ticks
  rss=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")
  ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  python3 -c "print(f'{$rss / 1024:.1f} {$ticks / $(getconf CLK_TCK):.2f}')"
}

# --- 1. Intake ---------------------------------------------------------------
port=$(free_port)
admin_port=$(free_port)
admin_token=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
# serve_intake LOG [VAR=VALUE...]: an intake daemon on $port; sets $pid.
serve_intake() {
  local log=$1
  shift
  env EMAIL_PROVIDER=file ANALYTICS_PROVIDER=log EMAIL_FILE_DIR="$work/mail" DATABASE_URL="$url" STRIPE_WEBHOOK_SECRET="$secret" \
    EFFECTD_LISTEN="127.0.0.1:$port" EFFECTD_LOG_LEVEL=warn \
    EFFECTD_ADMIN_LISTEN="127.0.0.1:$admin_port" EFFECTD_ADMIN_TOKEN="$admin_token" \
    "$@" "$build/effectd" serve >"$work/$log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
}
serve_intake effectd-intake.log
# intake LABEL CONNECTIONS: one run of the load generator, then the check
# that every 200 is a committed row whose handler ran.
intake() {
  local label=$1 c=$2
  psql "$url" -qc 'TRUNCATE "StripeWebhookEvent"'
  "$build/bench/effectd_intake_load" --port "$port" --secret "$secret" --connections "$c" \
    --seconds "$seconds" --organizations "$organizations" --payload-out "$work/payload.json" \
    --bytes "$bytes" \
    >"$work/intake-$label.json"
  local stored processed
  stored=$(python3 -c "import json; print(json.load(open('$work/intake-$label.json'))['stored'])")
  processed=$(psql "$url" -tAc "SELECT count(*) FROM \"StripeWebhookEvent\" WHERE status = 'processed'")
  if [[ $stored != "$processed" ]]; then
    echo "intake ($label): $stored answered 200, $processed processed rows" >&2
    exit 1
  fi
}
admin_client() {
  "$root/bench/admin_client.py" --port "$admin_port" --token "$admin_token" "$@"
}
admin_client --seconds 5 --no-page >"$work/metrics-idle.json"
for c in 1 16 64; do intake "c$c" "$c"; done
# The admin listener under load: 16 connections again with the live page
# open and /metrics scraped every 200 ms, between two runs without them.
admin_client --seconds "$((seconds + 1))" >"$work/admin-open.json" &
admin=$!
intake c16-page-open 16
wait "$admin"
intake c16-page-closed 16
read -r intake_rss intake_cpu < <(resources "$pid")
kill -TERM "$pid"; wait "$pid"

# --- 1b. The same 16 connections behind a transaction pooler ------------------
# Unnamed statements on the direct connection (what DATABASE_POOLER=transaction
# alone costs), then through a real PgBouncer in transaction mode with a pool
# of 8 (the hop as well), both next to the direct run above.
serve_intake effectd-unnamed.log DATABASE_POOLER=transaction DATABASE_LISTEN_URL="$url"
intake c16-unnamed 16
kill -TERM "$pid"; wait "$pid"
bouncer_port=$("$here/pgbouncer.sh" start "$bouncer" "$(cat "$cluster/port")" 8)
pooled_url="postgresql://postgres@127.0.0.1:$bouncer_port/effectd"
serve_intake effectd-pooler.log DATABASE_URL="$pooled_url" DATABASE_POOLER=transaction \
  DATABASE_LISTEN_URL="$url"
intake c16-pooler 16
kill -TERM "$pid"; wait "$pid"

settle
# --- 2. The reference: pgbench, effectd's per-event transaction ---------------
for c in 1 16 64; do
  psql "$url" -qc 'TRUNCATE "StripeWebhookEvent"'
  "$PGBIN/pgbench" -n -M prepared -c "$c" -j 2 -T "$seconds" -f "$root/bench/per_event_transaction.sql" \
    -D payload="$(cat "$work/payload.json")" "$url" >"$work/pgbench-c$c.txt" 2>&1 ||
    { cat "$work/pgbench-c$c.txt"; exit 1; }
done

# --- 3. Draining ---------------------------------------------------------------
rm -f "$work/sink.arrivals"
"$build/bench/effectd_http_sink" "$work/sink.counts" "$work/sink.arrivals" >"$work/sink.port" &
sink=$!
for _ in $(seq 50); do [[ -s $work/sink.port ]] && break; sleep 0.1; done
sink_port=$(cat "$work/sink.port")

# drain LABEL KIND: the time from starting a daemon to every effect sent.
drain() {
  local label=$1 kind=$2
  shift 2
  # The table refuses deletes (migration 0006) unless the session says so.
  psql "$url" -qc "SET effectd.allow_effect_delete = 'on'" \
    -c "DELETE FROM \"OutboundEffect\" WHERE \"key\" LIKE 'bench:%'"
  if [[ $kind == webhook ]]; then
    psql "$url" -qc "INSERT INTO \"OutboundEffect\" (\"key\", \"kind\", \"payload\")
      SELECT 'bench:' || g, 'webhook', jsonb_build_object('url', 'http://127.0.0.1:$sink_port/hook', 'body', jsonb_build_object('n', g))
      FROM generate_series(1, $effects) g"
  else
    psql "$url" -qc "INSERT INTO \"OutboundEffect\" (\"key\", \"kind\", \"payload\")
      SELECT 'bench:' || g, 'analytics', jsonb_build_object('event', 'e', 'distinctId', 'org_' || g)
      FROM generate_series(1, $effects) g"
  fi
  settle
  local started
  started=$(date +%s.%N)
  env EMAIL_PROVIDER=file ANALYTICS_PROVIDER=log EMAIL_FILE_DIR="$work/mail" DATABASE_URL="$url" STRIPE_WEBHOOK_SECRET="$secret" \
    EFFECTD_LISTEN="127.0.0.1:$(free_port)" EFFECTD_LOG_LEVEL=warn \
    EFFECTD_DRAIN_CONCURRENCY=64 EFFECTD_DRAIN_BATCH=256 \
    WEBHOOK_ALLOW_HTTP_HOSTS="127.0.0.1:$sink_port" WEBHOOK_ALLOW_PRIVATE_ADDRESSES=127.0.0.1 \
    "$@" "$build/effectd" serve >"$work/drain-$label.log" 2>&1 &
  local pid=$!
  until (( $(psql "$url" -tAc "SELECT count(*) FROM \"OutboundEffect\" WHERE status = 'sent' AND \"key\" LIKE 'bench:%'") >= effects )); do
    sleep 0.2
    if (( $(python3 -c "print(int($(date +%s.%N) - $started))") > 300 )); then
      echo "draining did not finish in 300 s; see $work/drain-$label.log" >&2
      kill -TERM "$pid"; exit 1
    fi
  done
  python3 -c "print($effects / ($(date +%s.%N) - $started))" >"$work/drain-$label.rate"
  resources "$pid" >"$work/drain-$label.resources"
  kill -TERM "$pid"; wait "$pid"
}
drain log analytics
drain log-pooler analytics DATABASE_URL="$pooled_url" DATABASE_POOLER=transaction \
  DATABASE_LISTEN_URL="$url"
drain webhook webhook
sleep 0.3  # the sink writes its counts every 100 ms
read -r sink_requests sink_distinct <"$work/sink.counts"

# --- 4. End to end: webhook posted -> the provider has the effect --------------
settle
port=$(free_port)
env EMAIL_PROVIDER=file ANALYTICS_PROVIDER=log EMAIL_FILE_DIR="$work/mail" DATABASE_URL="$url" STRIPE_WEBHOOK_SECRET="$secret" \
  EFFECTD_LISTEN="127.0.0.1:$port" EFFECTD_LOG_LEVEL=warn \
  ANALYTICS_PROVIDER=posthog POSTHOG_HOST="http://127.0.0.1:$sink_port" POSTHOG_API_KEY=phc_bench \
  "$build/effectd" serve >"$work/effectd-e2e.log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
"$build/bench/effectd_intake_load" --port "$port" --secret "$secret" --connections 16 \
  --seconds "$seconds" --organizations "$organizations" --type invoice.paid --bytes "$bytes" \
  --rate "$e2e_rate" --sent-out "$work/e2e.sent" >"$work/e2e-intake.json"
e2e_sent=$(wc -l <"$work/e2e.sent")
for _ in $(seq 300); do
  (( $(wc -l <"$work/sink.arrivals") >= e2e_sent )) && break
  sleep 0.1
done
read -r e2e_rss e2e_cpu < <(resources "$pid")
kill -TERM "$pid"; wait "$pid"

# --- The table and bench/results/latest.json -----------------------------------
python3 - "$work" "$root/bench/results/latest.json" "$seconds" "$effects" \
  "$intake_rss" "$intake_cpu" "$sink_requests" "$sink_distinct" "$e2e_rate" "$e2e_rss" <<'PY'
import json, re, sys
work, out, seconds, effects = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
intake_rss, intake_cpu = float(sys.argv[5]), float(sys.argv[6])
requests, distinct = int(sys.argv[7]), int(sys.argv[8])
e2e_rate, e2e_rss = float(sys.argv[9]), float(sys.argv[10])

def pgbench_tps(c):
    text = open(f"{work}/pgbench-c{c}.txt").read()
    return float(re.search(r"^tps = ([0-9.]+)", text, re.M).group(1))

result, rows = {}, []
intake_events = 0
for c in (1, 16, 64):
    run = json.load(open(f"{work}/intake-c{c}.json"))
    ref = pgbench_tps(c)
    intake_events += run["stored"]
    for key, value in (("per_s", run["events_per_second"]), ("p50_ms", run["p50_ms"]),
                       ("p99_ms", run["p99_ms"]), ("reference_tps", ref),
                       ("ratio", run["events_per_second"] / ref)):
        result[f"intake.c{c}.{key}"] = value
    rows.append((f"intake, {c} connection(s)", f"{run['events_per_second']:.0f} events/s",
                 f"{run['events_per_second'] / ref:.2f} x pgbench ({ref:.0f} tx/s)",
                 f"p50 {run['p50_ms']:.1f} ms, p99 {run['p99_ms']:.1f} ms"))
direct16 = json.load(open(f"{work}/intake-c16.json"))
for label, what in (("unnamed", "unnamed statements, direct"),
                    ("pooler", "through PgBouncer (transaction mode, pool 8)")):
    run = json.load(open(f"{work}/intake-c16-{label}.json"))
    result[f"intake.c16_{label}.per_s"] = run["events_per_second"]
    result[f"intake.c16_{label}.p99_ms"] = run["p99_ms"]
    result[f"intake.c16_{label}.ratio_to_direct"] = run["events_per_second"] / direct16["events_per_second"]
    rows.append((f"intake, 16 connections, {what}", f"{run['events_per_second']:.0f} events/s",
                 f"{run['events_per_second'] / direct16['events_per_second']:.2f} x named statements, direct",
                 f"p50 {run['p50_ms']:.1f} ms, p99 {run['p99_ms']:.1f} ms"))
page_open = json.load(open(f"{work}/intake-c16-page-open.json"))["events_per_second"]
page_closed = (json.load(open(f"{work}/intake-c16.json"))["events_per_second"] +
               json.load(open(f"{work}/intake-c16-page-closed.json"))["events_per_second"]) / 2
admin, idle = json.load(open(f"{work}/admin-open.json")), json.load(open(f"{work}/metrics-idle.json"))
for label in ("c16-page-open", "c16-page-closed"):
    intake_events += json.load(open(f"{work}/intake-{label}.json"))["stored"]
result["admin.c16_page_open.per_s"] = page_open
result["admin.c16_page_open.ratio"] = page_open / page_closed
result["admin.metrics_under_load.p50_ms"] = admin["p50_ms"]
result["admin.metrics_under_load.p99_ms"] = admin["p99_ms"]
result["admin.metrics_idle.p50_ms"] = idle["p50_ms"]
result["admin.metrics_idle.p99_ms"] = idle["p99_ms"]
rows.append(("intake, 16 connections, admin page open", f"{page_open:.0f} events/s",
             f"{page_open / page_closed:.2f} x the runs without ({page_closed:.0f}/s)",
             f"{admin['stream_events']} live transitions streamed"))
rows.append(("/metrics during that load", f"p50 {admin['p50_ms']:.1f} ms, p99 {admin['p99_ms']:.1f} ms",
             f"idle: p50 {idle['p50_ms']:.1f} ms, p99 {idle['p99_ms']:.1f} ms",
             f"{admin['scrapes']} scrapes"))
drain = {}
for label in ("log", "webhook"):
    rate = float(open(f"{work}/drain-{label}.rate").read())
    rss, cpu = map(float, open(f"{work}/drain-{label}.resources").read().split())
    drain[label] = {"per_s": rate, "rss_mib": rss, "cpu_s": cpu}
result["drain.log.per_s"] = drain["log"]["per_s"]
result["drain.webhook.per_s"] = drain["webhook"]["per_s"]
rows.append((f"drain, log channel, {effects} effects", f"{drain['log']['per_s']:.0f} effects/s",
             "the queue without I/O", "64 in flight, claims of 256"))
pooled_drain = float(open(f"{work}/drain-log-pooler.rate").read())
result["drain.log_pooler.per_s"] = pooled_drain
result["drain.log_pooler.ratio_to_direct"] = pooled_drain / drain["log"]["per_s"]
rows.append(("drain, log channel, through PgBouncer", f"{pooled_drain:.0f} effects/s",
             f"{pooled_drain / drain['log']['per_s']:.2f} x direct", "unnamed statements, pool 8"))
rows.append((f"drain, webhooks to a local sink", f"{drain['webhook']['per_s']:.0f} effects/s",
             f"{drain['webhook']['per_s'] / drain['log']['per_s']:.2f} x the log channel",
             f"{requests} requests, {distinct} distinct webhook-ids"))
result["duplicates"] = requests - distinct
sent = dict(line.split() for line in open(f"{work}/e2e.sent"))
arrived = {}
for line in open(f"{work}/sink.arrivals"):
    invoice, at = line.split()
    arrived.setdefault(invoice[len("in_"):], int(at))  # the first arrival
e2e = sorted((arrived[i] - int(t)) / 1000 for i, t in sent.items() if i in arrived)
missing = len(sent) - len(e2e)
pct = lambda p: e2e[int(p * (len(e2e) - 1))] if e2e else None
result["e2e.rate_per_s"] = e2e_rate
result["e2e.events"] = len(sent)
result["e2e.missing"] = missing
result["e2e.p50_ms"] = pct(0.5)
result["e2e.p99_ms"] = pct(0.99)
result["rss_peak_mib"] = max(intake_rss, drain["log"]["rss_mib"], drain["webhook"]["rss_mib"], e2e_rss)
result["cpu_s_per_1000_events"] = intake_cpu / intake_events * 1000 if intake_events else None
rows.append(("effectd's peak RSS", f"{result['rss_peak_mib']:.1f} MiB",
             f"intake {intake_rss:.1f}, drain {drain['log']['rss_mib']:.1f}/{drain['webhook']['rss_mib']:.1f}, e2e {e2e_rss:.1f}", ""))
rows.append(("intake CPU", f"{result['cpu_s_per_1000_events']:.2f} s per 1,000 events", "", ""))
rows.append(("duplicates at the sink", str(result["duplicates"]), "", ""))
rows.append((f"webhook -> provider, {e2e_rate:.0f} events/s",
             f"p50 {result['e2e.p50_ms']:.1f} ms, p99 {result['e2e.p99_ms']:.1f} ms" if e2e else "nothing arrived",
             f"{len(sent)} events, {missing} never arrived", ""))
width = [max(len(r[i]) for r in rows) for i in range(4)]
print()
for r in rows:
    print("  ".join(cell.ljust(w) for cell, w in zip(r, width)).rstrip())
json.dump(result, open(out, "w"), indent=2)
print(f"\nwritten to {out}")
PY
