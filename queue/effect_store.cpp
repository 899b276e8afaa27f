#include "queue/effect_store.hpp"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <set>

#include "base/log.hpp"
#include "base/metrics.hpp"
#include "queue/effect_status.hpp"
#include "sql/prepared_statement.hpp"

namespace effectd::queue {
namespace {

// Provider text is anything: bytes cut mid-character, Latin-1, NUL. The batch
// must still be written, or the drainer would stall on it: NUL (which jsonb
// refuses) becomes a space here, invalid UTF-8 becomes U+FFFD in dump().
std::string withoutNul(std::string text) {
  std::replace(text.begin(), text.end(), '\0', ' ');
  return text;
}

// A text[] literal of the kinds.
std::string kindArray(const std::vector<EffectKind>& kinds) {
  std::string out = "{";
  for (std::size_t i = 0; i < kinds.size(); ++i) {
    out += (i ? "," : "") + std::string(toString(kinds[i]));
  }
  return out + "}";
}

}  // namespace

std::vector<RouteClaim> eachUpTo(const std::vector<KindRoute>& routes, int limit) {
  std::vector<RouteClaim> out;
  out.reserve(routes.size());
  for (const auto& route : routes) out.push_back({route, limit});
  return out;
}

std::vector<ClaimedEffect> claimEffects(pqxx::transaction_base& tx, const ClaimRequest& request) {
  std::vector<EffectKind> idempotentKinds;
  nlohmann::json providers = nlohmann::json::object();
  nlohmann::json limits = nlohmann::json::array();
  for (const auto& [route, limit] : request.routes) {
    if (limit <= 0) continue;
    limits.push_back({{"kind", toString(route.kind)}, {"limit", limit}});
    if (route.idempotent) idempotentKinds.push_back(route.kind);
    if (!route.provider.empty()) providers[std::string(toString(route.kind))] = route.provider;
  }
  if (limits.empty() || request.limit <= 0) return {};
  static const auto kEffectsClaim = effectSql(R"(WITH due AS (
           SELECT d."id", d."lastProvider" IS NOT NULL
                          AND d."lastProvider" IS DISTINCT FROM ($6::jsonb ->> d."kind") AS elsewhere
           FROM jsonb_to_recordset($4::jsonb) AS k("kind" text, "limit" integer),
           LATERAL (
             SELECT "id", "kind", "lastProvider", "runAt" FROM "OutboundEffect"
             WHERE "status" = {{pending}} AND "kind" = k."kind"
               AND "runAt" <= (now() AT TIME ZONE 'UTC')::timestamp(3)
               AND NOT ("id" = ANY(ARRAY(SELECT jsonb_array_elements_text($9::jsonb))))
               AND ($10 = '[]' OR k."kind" <> 'webhook' OR NOT (
                     lower(substring("payload" ->> 'url' FROM '^[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)'))
                     = ANY(ARRAY(SELECT jsonb_array_elements_text($10::jsonb)))))
             ORDER BY "runAt" LIMIT k."limit" FOR UPDATE SKIP LOCKED) d
           ORDER BY d."runAt" LIMIT $1)
         UPDATE "OutboundEffect" e
         SET "status" = CASE WHEN due.elsewhere THEN $7 ELSE $8 END,
             "lockedBy" = CASE WHEN due.elsewhere THEN NULL ELSE $2 END,
             "attempts" = e."attempts" + CASE WHEN due.elsewhere THEN 0 ELSE 1 END,
             "lockedUntil" = CASE WHEN due.elsewhere THEN NULL
                             ELSE now() AT TIME ZONE 'UTC' + make_interval(secs => $3) END,
             "lockedIdempotent" = CASE WHEN due.elsewhere THEN NULL
                                  ELSE e."kind" = ANY($5::text[]) END,
             "lastProvider" = CASE WHEN due.elsewhere THEN e."lastProvider"
                              ELSE $6::jsonb ->> e."kind" END,
             "lastError" = CASE WHEN due.elsewhere
                           THEN 'an earlier attempt went through ' || e."lastProvider"
                                || ', which may have delivered it; this daemon delivers through '
                                || COALESCE($6::jsonb ->> e."kind", '?')
                                || ': resolve with effects retry or cancel'
                           ELSE e."lastError" END,
             "updatedAt" = now() AT TIME ZONE 'UTC'
         FROM due WHERE e."id" = due."id"
         RETURNING e."id", e."key", e."kind", e."payload"::text, e."attempts", e."maxAttempts",
                   COALESCE(e."organizationId", ''),
                   to_char(e."createdAt", 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), due.elsewhere)");
  const auto rows = sql::execPrepared(
      tx, "effects_claim",  // Each kind from its own index, up to its own limit (a throttled kind
                            // takes only what it can start soon), then the earliest of them all.
                            // TIMESTAMP(3) rounds: an effect enqueued this very millisecond may
                            // carry a runAt just past now(); "now" is rounded the same way.
      kEffectsClaim, request.limit, request.worker, static_cast<double>(request.lease.count()),
      limits.dump(), kindArray(idempotentKinds), providers.dump(),
      std::string(toString(atClaim(true))), std::string(toString(atClaim(false))),
      nlohmann::json(request.exclude).dump(), nlohmann::json(request.skipAuthorities).dump());
  std::vector<ClaimedEffect> out;
  out.reserve(rows.size());
  for (const auto& r : rows) {
    if (r[8].as<bool>()) continue;  // marked unknown, not claimed
    const auto kind = parseEffectKind(r[2].as<std::string>());
    // The table's CHECK allows only the kinds effectd knows; another here is
    // a schema this build does not match, never a guess.
    if (!kind)
      throw std::runtime_error("claimed an effect of unknown kind " + r[2].as<std::string>());
    out.push_back({r[0].as<std::string>(), r[1].as<std::string>(), *kind, r[3].as<std::string>(),
                   r[4].as<int>(), r[5].as<int>(), r[6].as<std::string>(), r[7].as<std::string>()});
  }
  return out;
}

namespace {

// Completions that matched no running claim of theirs: the lease was rescued
// by another daemon (to unknown, or back to pending for an idempotent
// provider), or the completion is written a second time after its commit's
// answer was lost. A `sent` among them settles an effect nobody has claimed
// since (the same attempt, no lease) as sent: the lease holder knows it was
// delivered. The others are counted and logged, never silently dropped.
int settleLateCompletions(pqxx::transaction_base& tx, const std::string& worker,
                          const std::vector<const Completion*>& late,
                          const std::vector<AfterAttempt>& targets) {
  nlohmann::json sent = nlohmann::json::array();
  nlohmann::json all = nlohmann::json::array();
  for (const auto* c : late) {
    all.push_back(c->id);
    if (c->result.outcome == DeliveryResult::Outcome::Sent) {
      sent.push_back({{"id", c->id},
                      {"attempts", c->attempts},
                      {"message", withoutNul(c->result.providerMessageId)}});
    }
  }
  std::set<std::string> settled;
  if (!sent.empty()) {
    static const auto kEffectsCompleteLate = effectSql(R"(UPDATE "OutboundEffect" e SET
             "status" = {{sent}}, "lastError" = NULL,
             "providerMessageId" = COALESCE(NULLIF(v."message", ''), e."providerMessageId"),
             "sentAt" = now() AT TIME ZONE 'UTC', "updatedAt" = now() AT TIME ZONE 'UTC'
           FROM jsonb_to_recordset($1::jsonb) AS v("id" text, "attempts" integer, "message" text)
           WHERE e."id" = v."id" AND e."attempts" = v."attempts"
             AND e."status" IN ({{unknown}}, {{pending}}) AND e."lockedBy" IS NULL
             AND e."id" = ANY(ARRAY(SELECT r->>'id' FROM jsonb_array_elements($1::jsonb) r))
           RETURNING e."id")");
    for (const auto& r :
         sql::execPrepared(tx, "effects_complete_late", kEffectsCompleteLate,
                           sent.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace))) {
      settled.insert(r[0].as<std::string>());
    }
  }
  std::map<std::string, std::pair<std::string, int>> now;  // id: status, attempts
  for (const auto& r : sql::execPrepared(tx, "effects_late_state",
                                         R"(SELECT "id", "status", "attempts" FROM "OutboundEffect"
           WHERE "id" = ANY(ARRAY(SELECT jsonb_array_elements_text($1::jsonb))))",
                                         all.dump())) {
    now[r[0].as<std::string>()] = {r[1].as<std::string>(), r[2].as<int>()};
  }
  auto& counter = metrics::registry().lateCompletions;
  for (std::size_t i = 0; i < late.size(); ++i) {
    const auto& c = *late[i];
    const auto outcome = std::string(toString(targets[i].status));  // what it would have written
    if (settled.count(c.id)) {
      counter.inc({outcome, "settled"});
      log::info("a late completion settled its effect as sent",
                {{"effect_id", c.id}, {"worker", worker}, {"attempt", c.attempts}});
      continue;
    }
    const auto it = now.find(c.id);
    const int wouldHave = c.attempts - (targets[i].countsAttempt ? 0 : 1);
    if (it != now.end() && it->second.first == toString(targets[i].status) &&
        it->second.second == wouldHave) {
      continue;  // written already: a commit whose answer was lost
    }
    counter.inc({outcome, "dropped"});
    log::warn("a completion matched no claim and was dropped",
              {{"effect_id", c.id},
               {"worker", worker},
               {"attempt", c.attempts},
               {"outcome", outcome},
               {"status_now", it == now.end() ? std::string("deleted") : it->second.first},
               {"attempts_now", it == now.end() ? 0 : it->second.second}});
  }
  return static_cast<int>(settled.size());
}

}  // namespace

int completeEffects(pqxx::transaction_base& tx, const std::string& worker,
                    const std::vector<Completion>& completions, const RetryPolicy& policy) {
  if (completions.empty()) return 0;
  nlohmann::json rows = nlohmann::json::array();
  std::vector<AfterAttempt> targets;
  targets.reserve(completions.size());
  for (const auto& c : completions) {
    const auto next = afterAttempt(c.result, c.attempts, c.maxAttempts, policy);
    targets.push_back(next);
    rows.push_back({{"id", c.id},
                    {"attempts", c.attempts},
                    {"status", toString(next.status)},
                    {"error", withoutNul(c.result.error)},
                    {"message", withoutNul(c.result.providerMessageId)},
                    {"delay", next.jitter ? Backoff::jitter(next.delay)
                                          : static_cast<double>(next.delay.count())},
                    {"uncount", next.countsAttempt ? 0 : 1}});
  }
  const auto batch = rows.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  static const auto kEffectsComplete = effectSql(R"(UPDATE "OutboundEffect" e SET
           "status" = v."status",
           "lastError" = NULLIF(v."error", ''),
           "providerMessageId" = COALESCE(NULLIF(v."message", ''), e."providerMessageId"),
           "sentAt" = CASE WHEN v."status" = $3 THEN now() AT TIME ZONE 'UTC' END,
           "runAt" = CASE WHEN v."status" = $4 THEN now() AT TIME ZONE 'UTC'
                       + make_interval(secs => v."delay")
                     ELSE e."runAt" END,
           -- Refused credentials: not an attempt; an effect never attempted
           -- after all is at no provider.
           "attempts" = e."attempts" - v."uncount",
           "lastProvider" = CASE WHEN e."attempts" - v."uncount" = 0 THEN NULL
                            ELSE e."lastProvider" END,
           "lockedBy" = NULL, "lockedUntil" = NULL, "lockedIdempotent" = NULL,
           "updatedAt" = now() AT TIME ZONE 'UTC'
         FROM jsonb_to_recordset($2::jsonb)
              AS v("id" text, "attempts" integer, "status" text, "error" text, "message" text,
                   "delay" float8, "uncount" integer)
         -- The attempt too: a completion written again after its commit's
         -- answer was lost must not land on a later attempt's claim.
         WHERE e."id" = v."id" AND e."status" = {{running}} AND e."lockedBy" = $1
           AND e."attempts" = v."attempts"
           -- Spelled out so the planner probes the primary key instead of
           -- hashing the whole table against the batch.
           AND e."id" = ANY(ARRAY(SELECT r->>'id' FROM jsonb_array_elements($2::jsonb) r))
         RETURNING e."id")");
  const auto r = sql::execPrepared(tx, "effects_complete", kEffectsComplete, worker, batch,
                                   std::string(toString(EffectStatus::Sent)),
                                   std::string(toString(EffectStatus::Pending)));
  if (r.size() == completions.size()) return static_cast<int>(r.size());
  std::set<std::string> written;
  for (const auto& row : r) written.insert(row[0].as<std::string>());
  std::vector<const Completion*> late;
  std::vector<AfterAttempt> lateTargets;
  for (std::size_t i = 0; i < completions.size(); ++i) {
    if (written.count(completions[i].id)) continue;
    late.push_back(&completions[i]);
    lateTargets.push_back(targets[i]);
  }
  return static_cast<int>(r.size()) + settleLateCompletions(tx, worker, late, lateTargets);
}

// Back to pending as if never claimed: a release undoes the claim's attempt,
// and an effect never attempted after all is at no provider.
constexpr std::string_view kGiveBack =
    R"(UPDATE "OutboundEffect" SET "status" = $3, "attempts" = GREATEST("attempts" - 1, 0),
         "lastProvider" = CASE WHEN "attempts" <= 1 THEN NULL ELSE "lastProvider" END,
         "lockedBy" = NULL, "lockedUntil" = NULL, "lockedIdempotent" = NULL,
         "updatedAt" = now() AT TIME ZONE 'UTC' )";

int releaseEffects(pqxx::transaction_base& tx, const std::string& worker,
                   const std::vector<std::string>& ids) {
  if (ids.empty()) return 0;
  static const auto sql =
      effectSql(std::string(kGiveBack) +
                R"(WHERE "id" = ANY(ARRAY(SELECT jsonb_array_elements_text($2::jsonb)))
           AND "status" = {{running}} AND "lockedBy" = $1)");
  const auto r =
      sql::execPrepared(tx, "effects_release", sql.c_str(), worker, nlohmann::json(ids).dump(),
                        std::string(toString(afterRelease())));
  return static_cast<int>(r.affected_rows());
}

int releaseUnheld(pqxx::transaction_base& tx, const std::string& worker,
                  const std::vector<std::string>& held) {
  static const auto sql = effectSql(std::string(kGiveBack) +
                                    R"(WHERE "status" = {{running}} AND "lockedBy" = $1
           AND NOT ("id" = ANY(ARRAY(SELECT jsonb_array_elements_text($2::jsonb)))))");
  const auto r =
      sql::execPrepared(tx, "effects_release_unheld", sql.c_str(), worker,
                        nlohmann::json(held).dump(), std::string(toString(afterRelease())));
  return static_cast<int>(r.affected_rows());
}

int renewLeases(pqxx::transaction_base& tx, const std::string& worker,
                const std::vector<std::string>& ids, std::chrono::seconds lease) {
  if (ids.empty()) return 0;
  static const auto kEffectsRenew = effectSql(R"(UPDATE "OutboundEffect"
         SET "lockedUntil" = now() AT TIME ZONE 'UTC' + make_interval(secs => $3)
         WHERE "id" = ANY(ARRAY(SELECT jsonb_array_elements_text($2::jsonb)))
           AND "status" = {{running}} AND "lockedBy" = $1)");
  const auto r = sql::execPrepared(tx, "effects_renew", kEffectsRenew, worker,
                                   nlohmann::json(ids).dump(), static_cast<double>(lease.count()));
  return static_cast<int>(r.affected_rows());
}

RescueCounts rescueExpired(pqxx::connection_base& conn, int limit, const std::string& ownWorker) {
  pqxx::work tx(conn, "rescue");
  // Decided from the provider that held the lease, as recorded at claim
  // time; whatever this daemon delivers through today does not matter.
  static const auto kEffectsRescue = effectSql(R"(WITH expired AS (
           SELECT "id", COALESCE("lockedIdempotent", false) AS safe FROM "OutboundEffect"
           WHERE "status" = {{running}} AND "lockedUntil" < now() AT TIME ZONE 'UTC'
             AND ($4 = '' OR "lockedBy" IS DISTINCT FROM $4)
           ORDER BY "lockedUntil" LIMIT $1 FOR UPDATE SKIP LOCKED)
         UPDATE "OutboundEffect" e SET
           "status" = CASE WHEN expired.safe THEN $2 ELSE $3 END,
           "lastError" = CASE WHEN expired.safe
                         THEN 'lease expired during delivery (' || COALESCE(e."lockedBy", '?') || '); retrying'
                         ELSE 'lease expired during delivery (' || COALESCE(e."lockedBy", '?')
                              || ') through a provider that does not deduplicate; it may have it: '
                              || 'resolve with effects retry or cancel' END,
           "lockedBy" = NULL, "lockedUntil" = NULL, "lockedIdempotent" = NULL,
           "updatedAt" = now() AT TIME ZONE 'UTC'
         FROM expired WHERE e."id" = expired."id"
         RETURNING expired.safe)");
  const auto rows = sql::execPrepared(tx, "effects_rescue", kEffectsRescue, limit,
                                      std::string(toString(afterExpiredLease(true))),
                                      std::string(toString(afterExpiredLease(false))), ownWorker);
  tx.commit();
  RescueCounts counts;
  for (const auto& r : rows) (r[0].as<bool>() ? counts.requeued : counts.unknown)++;
  return counts;
}

int compactOld(pqxx::transaction_base& tx, double seconds, int limit) {
  // Never DELETE an effect: its row is the only record that its key was
  // used, and the unique index on "key" is what makes a later enqueue of the
  // same key a no-op. What goes is what makes the row large.
  static const auto kCompact = effectSql(R"(UPDATE "OutboundEffect"
         SET "payload" = '{}'::jsonb, "lastError" = NULL,
             "payloadPrunedAt" = now() AT TIME ZONE 'UTC'
         WHERE "id" = ANY(ARRAY(
           SELECT "id" FROM "OutboundEffect"
           WHERE "status" IN ({{sent}}, {{cancelled}}) AND "payloadPrunedAt" IS NULL
             AND "updatedAt" < now() AT TIME ZONE 'UTC' - make_interval(secs => $1)
           LIMIT $2))
           AND "status" IN ({{sent}}, {{cancelled}}) AND "payloadPrunedAt" IS NULL)");
  return static_cast<int>(
      sql::execPrepared(tx, "effects_compact", kCompact, seconds, limit).affected_rows());
}

}  // namespace effectd::queue
