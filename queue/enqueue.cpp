#include "queue/enqueue.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <vector>

#include "queue/effect_status.hpp"
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

int enqueueAll(pqxx::transaction_base& tx, std::span<const NewEffect> effects) {
  if (effects.empty()) return 0;
  std::vector<const NewEffect*> order;
  order.reserve(effects.size());
  for (const auto& e : effects) order.push_back(&e);
  std::stable_sort(order.begin(), order.end(),
                   [](const NewEffect* a, const NewEffect* b) { return a->key < b->key; });
  // The payloads are JSON already: spliced in as they are, not parsed again.
  std::string rows = "[";
  const NewEffect* previous = nullptr;
  for (const auto* e : order) {
    if (previous && previous->key == e->key) continue;  // the first one wins
    previous = e;
    if (rows.size() > 1) rows += ',';
    rows += nlohmann::json{{"id", sql::newUuidV7()},    {"key", e->key},
                           {"kind", toString(e->kind)}, {"org", e->organizationId},
                           {"event", e->sourceEventId}, {"maxAttempts", e->maxAttempts},
                           {"runAt", e->runAt}}
                .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    rows.pop_back();  // the closing brace: the payload joins the object
    rows += R"(,"payload":)" + e->payload + "}";
  }
  rows += "]";
  static const auto kEffectsEnqueue =
      effectSql(R"(INSERT INTO "OutboundEffect" ("id", "key", "kind", "payload", "organizationId",
             "sourceEventId", "status", "maxAttempts", "runAt", "createdAt", "updatedAt")
         SELECT v."id", v."key", v."kind", v."payload", NULLIF(v."org", ''),
             NULLIF(v."event", ''), {{pending}}, COALESCE(NULLIF(v."maxAttempts", 0), 12),
             COALESCE(NULLIF(v."runAt", '')::timestamptz AT TIME ZONE 'UTC',
                      now() AT TIME ZONE 'UTC'),
             now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'
         FROM jsonb_to_recordset($1::jsonb)
              AS v("id" text, "key" text, "kind" text, "org" text, "event" text,
                   "maxAttempts" integer, "runAt" text, "payload" jsonb)
         ON CONFLICT ("key") DO NOTHING)");
  const auto result = sql::execPrepared(tx, "effects_enqueue", kEffectsEnqueue, rows);
  return static_cast<int>(result.affected_rows());
}

bool enqueue(pqxx::transaction_base& tx, const NewEffect& effect) {
  return enqueueAll(tx, std::span(&effect, 1)) == 1;
}

}  // namespace effectd::queue
