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

namespace {

// The selection, as parameters $1-$5, and the command's from-statuses as $6.
// A retry needs the payload, which a compacted row no longer has.
std::string selected(OperatorCommand command) {
  std::string where = R"(($1 = '' OR "id" = $1 OR "key" = $1)
           AND ($2 = '' OR "status" = $2) AND ($3 = '' OR "kind" = $3)
           AND ($4 = '' OR starts_with("key", $4))
           AND ($5 = '' OR "createdAt" >= $5::timestamptz AT TIME ZONE 'UTC')
           AND "status" = ANY($6::text[]))";
  if (command == OperatorCommand::Retry) where += R"( AND "payloadPrunedAt" IS NULL)";
  return where;
}

pqxx::result execSelected(pqxx::transaction_base& tx, const std::string& sql,
                          const EffectSelection& s, OperatorCommand command,
                          const std::string& extra = {}) {
  if (extra.empty()) {
    return tx.exec_params(sql, s.idOrKey, s.status, s.kind, s.keyPrefix, s.since,
                          statusArray(appliesTo(command)));
  }
  return tx.exec_params(sql, s.idOrKey, s.status, s.kind, s.keyPrefix, s.since,
                        statusArray(appliesTo(command)), extra);
}

}  // namespace

long countSteerable(pqxx::connection_base& conn, const EffectSelection& selection,
                    OperatorCommand command) {
  pqxx::read_transaction tx(conn);
  tx.exec("SET LOCAL TIME ZONE 'UTC'");  // --since without an offset means UTC
  return execSelected(tx, R"(SELECT count(*) FROM "OutboundEffect" WHERE )" + selected(command),
                      selection, command)[0][0]
      .as<long>();
}

int steerEffects(pqxx::connection_base& conn, const EffectSelection& selection,
                 OperatorCommand command, std::optional<long> expected) {
  pqxx::work tx(conn);
  tx.exec("SET LOCAL TIME ZONE 'UTC'");
  const auto next = std::string(toString(afterCommand(command)));
  const auto sql =
      command == OperatorCommand::Retry
          ? R"(UPDATE "OutboundEffect" SET "status" = $7, "attempts" = 0,
             "runAt" = now() AT TIME ZONE 'UTC', "updatedAt" = now() AT TIME ZONE 'UTC',
             "lastError" = 'retried by an operator; before: ' || COALESCE("lastError", ''),
             -- The operator's decision: any provider may send it now.
             "lastProvider" = NULL
           WHERE )" +
                selected(command)
          : R"(UPDATE "OutboundEffect" SET "status" = $7, "updatedAt" = now() AT TIME ZONE 'UTC'
           WHERE )" +
                selected(command);
  const auto r = execSelected(tx, sql, selection, command, next);
  if (expected && static_cast<long>(r.affected_rows()) != *expected) return -1;  // rolled back
  tx.commit();
  return static_cast<int>(r.affected_rows());
}

namespace {

// Counts by kind and status, with the age of the oldest change, of the rows
// `where` selects (a constant condition, or nothing).
std::vector<EffectStat> countsWhere(pqxx::connection_base& conn, const std::string& where) {
  pqxx::read_transaction tx(conn);
  std::vector<EffectStat> out;
  for (const auto& row : tx.exec(
           R"(SELECT "kind", "status", count(*),
                     COALESCE(extract(epoch FROM (now() AT TIME ZONE 'UTC') - min("updatedAt")), 0)
              FROM "OutboundEffect" )" +
           where + " GROUP BY 1, 2 ORDER BY 1, 2")) {
    out.push_back({row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<long>(),
                   row[3].as<double>()});
  }
  return out;
}

}  // namespace

std::vector<EffectStat> effectStats(pqxx::connection_base& conn) {
  return countsWhere(conn, "");
}

std::vector<EffectStat> queueCounts(pqxx::connection_base& conn) {
  static const auto kUnfinished =
      effectSql(R"(WHERE "status" IN ({{pending}}, {{running}}, {{dead}}, {{unknown}}))");
  return countsWhere(conn, kUnfinished);
}

QueueHealth queueHealth(pqxx::connection_base& conn) {
  pqxx::read_transaction tx(conn);
  // Each count reads an index: sent rows by (status, updatedAt), due ones by
  // the partial index of pending rows on (kind, runAt), every pending row's
  // entry (few, unless a backlog waits).
  static const auto kHealth = effectSql(
      R"(SELECT (SELECT count(*) FROM "OutboundEffect"
                  WHERE "status" = {{sent}}
                    AND "updatedAt" > now() AT TIME ZONE 'UTC' - interval '1 minute'),
                due.n, due.oldest
         FROM (SELECT count(*) AS n,
                      COALESCE(extract(epoch FROM now() AT TIME ZONE 'UTC' - min("runAt")), 0)
                        AS oldest
               FROM "OutboundEffect"
               WHERE "status" = {{pending}} AND "runAt" <= now() AT TIME ZONE 'UTC') due)");
  const auto row = tx.exec1(kHealth);
  return {row[0].as<long>(), row[1].as<long>(), row[2].as<double>()};
}

}  // namespace effectd::queue
