#include "queue/enqueue.hpp"

#include <pqxx/pqxx>

#include "sql/ids.hpp"
#include "sql/prepared_statement.hpp"

namespace effectd::queue {

std::string_view toString(EffectKind kind) {
  switch (kind) {
    case EffectKind::Email:
      return "email";
    case EffectKind::Analytics:
      return "analytics";
    case EffectKind::Webhook:
      return "webhook";
  }
  return "email";
}

std::optional<EffectKind> parseEffectKind(std::string_view text) {
  if (text == "email") return EffectKind::Email;
  if (text == "analytics") return EffectKind::Analytics;
  if (text == "webhook") return EffectKind::Webhook;
  return std::nullopt;
}

bool enqueue(pqxx::transaction_base& tx, const NewEffect& effect) {
  const auto result = sql::execPrepared(
      tx, "effect_enqueue",
      R"(INSERT INTO "OutboundEffect" ("id", "key", "kind", "payload", "organizationId",
             "sourceEventId", "status", "maxAttempts", "runAt", "createdAt", "updatedAt")
         VALUES ($1, $2, $3, $4::jsonb, NULLIF($5, ''), NULLIF($6, ''), 'pending',
             COALESCE(NULLIF($7, 0), 12),
             COALESCE(NULLIF($8, '')::timestamptz AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'),
             now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC')
         ON CONFLICT ("key") DO NOTHING)",
      sql::newUuidV7(), effect.key, std::string(toString(effect.kind)), effect.payload,
      effect.organizationId, effect.sourceEventId, effect.maxAttempts, effect.runAt);
  return result.affected_rows() == 1;
}

bool exists(pqxx::transaction_base& tx, const std::string& key) {
  return !sql::execPrepared(tx, "effect_exists",
                            R"(SELECT 1 FROM "OutboundEffect" WHERE "key" = $1)", key)
              .empty();
}

}  // namespace effectd::queue
