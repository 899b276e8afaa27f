#include "queue/effect_admin.hpp"

#include <pqxx/pqxx>

#include "queue/effect_status.hpp"

namespace effectd::queue {
namespace {

constexpr const char* kColumns = R"("id", "key", "kind", "status", %PAYLOAD%,
    COALESCE("organizationId", ''), COALESCE("sourceEventId", ''), COALESCE("lockedBy", ''),
    COALESCE("lastError", ''), COALESCE("providerMessageId", ''),
    to_char("runAt", 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    COALESCE(to_char("lockedUntil", 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), ''),
    COALESCE(to_char("sentAt", 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), ''),
    to_char("createdAt", 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    to_char("updatedAt", 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), "attempts", "maxAttempts")";

std::string columns(bool withPayload) {
  std::string c = kColumns;
  c.replace(c.find("%PAYLOAD%"), 9, withPayload ? R"("payload"::text)" : "''");
  return c;
}

std::vector<EffectRow> rows(const pqxx::result& r) {
  std::vector<EffectRow> out;
  for (const auto& row : r) {
    EffectRow e;
    std::string* fields[] = {&e.id,
                             &e.key,
                             &e.kind,
                             &e.status,
                             &e.payload,
                             &e.organizationId,
                             &e.sourceEventId,
                             &e.lockedBy,
                             &e.lastError,
                             &e.providerMessageId,
                             &e.runAt,
                             &e.lockedUntil,
                             &e.sentAt,
                             &e.createdAt,
                             &e.updatedAt};
    for (std::size_t i = 0; i < std::size(fields); ++i)
      *fields[i] = row[static_cast<int>(i)].as<std::string>();
    e.attempts = row[15].as<int>();
    e.maxAttempts = row[16].as<int>();
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

std::vector<EffectRow> listEffects(pqxx::connection_base& conn, const EffectFilter& f) {
  pqxx::read_transaction tx(conn);
  return rows(tx.exec_params("SELECT " + columns(f.withPayload) + R"( FROM "OutboundEffect"
        WHERE ($1 = '' OR "status" = $1) AND ($2 = '' OR "kind" = $2)
          AND ($3 = '' OR starts_with("key", $3))
        ORDER BY "createdAt" DESC, "id" LIMIT $4)",
                             f.status, f.kind, f.keyPrefix, f.limit));
}

std::vector<EffectRow> findEffect(pqxx::connection_base& conn, const std::string& idOrKey) {
  pqxx::read_transaction tx(conn);
  return rows(tx.exec_params(
      "SELECT " + columns(true) + R"( FROM "OutboundEffect" WHERE "id" = $1 OR "key" = $1)",
      idOrKey));
}

namespace {

// A text[] literal of the statuses.
std::string statusArray(const std::vector<EffectStatus>& statuses) {
  std::string out = "{";
  for (const auto s : statuses) out += (out.size() > 1 ? "," : "") + std::string(toString(s));
  return out + "}";
}

}  // namespace

int retryEffect(pqxx::connection_base& conn, const std::string& idOrKey) {
  pqxx::work tx(conn);
  const auto r = tx.exec_params(
      R"(UPDATE "OutboundEffect" SET "status" = $2, "attempts" = 0,
             "runAt" = now() AT TIME ZONE 'UTC', "updatedAt" = now() AT TIME ZONE 'UTC',
             "lastError" = 'retried by an operator; before: ' || COALESCE("lastError", ''),
             -- The operator's decision: any provider may send it now.
             "lastProvider" = NULL
         WHERE ("id" = $1 OR "key" = $1) AND "status" = ANY($3::text[])
           -- A compacted row has no payload left to send.
           AND "payloadPrunedAt" IS NULL)",
      idOrKey, std::string(toString(afterCommand(OperatorCommand::Retry))),
      statusArray(appliesTo(OperatorCommand::Retry)));
  tx.commit();
  return static_cast<int>(r.affected_rows());
}

int cancelEffect(pqxx::connection_base& conn, const std::string& idOrKey) {
  pqxx::work tx(conn);
  const auto r = tx.exec_params(
      R"(UPDATE "OutboundEffect" SET "status" = $2, "updatedAt" = now() AT TIME ZONE 'UTC'
         WHERE ("id" = $1 OR "key" = $1) AND "status" = ANY($3::text[]))",
      idOrKey, std::string(toString(afterCommand(OperatorCommand::Cancel))),
      statusArray(appliesTo(OperatorCommand::Cancel)));
  tx.commit();
  return static_cast<int>(r.affected_rows());
}

std::vector<EffectStat> effectStats(pqxx::connection_base& conn) {
  pqxx::read_transaction tx(conn);
  std::vector<EffectStat> out;
  for (const auto& row : tx.exec(
           R"(SELECT "kind", "status", count(*),
                     COALESCE(extract(epoch FROM (now() AT TIME ZONE 'UTC') - min("updatedAt")), 0)
              FROM "OutboundEffect" GROUP BY 1, 2 ORDER BY 1, 2)")) {
    out.push_back({row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<long>(),
                   row[3].as<double>()});
  }
  return out;
}

QueueHealth queueHealth(pqxx::connection_base& conn) {
  pqxx::read_transaction tx(conn);
  // Each count reads an index: sent rows by (status, updatedAt), due ones by
  // the partial index of pending rows on runAt.
  const auto row = tx.exec1(
      R"(SELECT (SELECT count(*) FROM "OutboundEffect"
                  WHERE "status" = 'sent'
                    AND "updatedAt" > now() AT TIME ZONE 'UTC' - interval '1 minute'),
                due.n, due.oldest
         FROM (SELECT count(*) AS n,
                      COALESCE(extract(epoch FROM now() AT TIME ZONE 'UTC' - min("runAt")), 0)
                        AS oldest
               FROM "OutboundEffect"
               WHERE "status" = 'pending' AND "runAt" <= now() AT TIME ZONE 'UTC') due)");
  return {row[0].as<long>(), row[1].as<long>(), row[2].as<double>()};
}

}  // namespace effectd::queue
