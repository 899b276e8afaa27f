#include "intake/stored_events.hpp"

#include <pqxx/pqxx>

#include "handlers/event_status.hpp"
#include "sql/prepared_statement.hpp"

namespace effectd::intake {

using handlers::EventEnvelope;

std::vector<StoredEvent> selectEvents(pqxx::transaction_base& tx, const EventFilter& f) {
  constexpr const char* iso = R"('YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')";
  std::string sql = std::string(R"(SELECT "id", "type", "livemode", COALESCE("apiVersion", ''),
        COALESCE("account", ''), extract(epoch FROM "stripeCreatedAt")::bigint, )") +
                    (f.withPayload ? R"("payload"::text)" : "''") +
                    R"(, "status", "attempts", COALESCE("lastError", ''),
        COALESCE(to_char("nextAttemptAt", )" +
                    iso + R"(), ''),
        to_char("receivedAt", )" +
                    iso + R"(),
        COALESCE(to_char("processedAt", )" +
                    iso + R"(), '')
      FROM "StripeWebhookEvent"
      WHERE ($1 = '' OR "id" = $1) AND ($2 = '' OR "status" = $2) AND ($3 = '' OR "type" = $3)
        AND ($4 = '' OR "receivedAt" >= $4::timestamptz AT TIME ZONE 'UTC'))";
  if (f.dueForRetry) {
    // `received` rows were stored but never handled (by a version of effectd
    // without handlers, say): they are due at once.
    static const auto kDue = handlers::eventSql(R"( AND ("status" = {{received}}
                    OR ("status" = {{failed}} AND "nextAttemptAt" <= (now() AT TIME ZONE 'UTC')::timestamp(3)))
               ORDER BY "nextAttemptAt" NULLS FIRST, "receivedAt")");
    sql += kDue;
  } else {
    sql += R"( ORDER BY "receivedAt", "id")";
  }
  sql += " LIMIT $5";
  if (f.lockSkipLocked) sql += " FOR UPDATE SKIP LOCKED";

  std::vector<StoredEvent> out;
  for (const auto& row : tx.exec_params(sql, f.id, f.status, f.type, f.since, f.limit)) {
    StoredEvent e;
    e.envelope.id = row[0].as<std::string>();
    e.envelope.type = row[1].as<std::string>();
    e.envelope.livemode = row[2].as<bool>();
    e.envelope.apiVersion = row[3].as<std::string>();
    e.envelope.account = row[4].as<std::string>();
    e.envelope.created = row[5].as<std::int64_t>();
    e.payload = row[6].as<std::string>();
    e.status = row[7].as<std::string>();
    e.attempts = row[8].as<int>();
    e.lastError = row[9].as<std::string>();
    e.nextAttemptAt = row[10].as<std::string>();
    e.receivedAt = row[11].as<std::string>();
    e.processedAt = row[12].as<std::string>();
    out.push_back(std::move(e));
  }
  return out;
}

int pruneFinishedEvents(pqxx::transaction_base& tx, double seconds, int limit) {
  static const auto kPrune = handlers::eventSql(R"(DELETE FROM "StripeWebhookEvent" WHERE "id" IN (
           SELECT "id" FROM "StripeWebhookEvent"
           WHERE "status" IN ({{processed}}, {{ignored}})
             AND "receivedAt" < now() AT TIME ZONE 'UTC' - make_interval(secs => $1)
           LIMIT $2))");
  return static_cast<int>(
      sql::execPrepared(tx, "events_prune", kPrune, seconds, limit).affected_rows());
}

}  // namespace effectd::intake
