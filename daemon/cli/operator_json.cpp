#include "daemon/cli/operator_json.hpp"

#include <nlohmann/json.hpp>

namespace effectd::daemon {
namespace {

using nlohmann::json;

json orNull(const std::string& s) {
  return s.empty() ? json() : json(s);
}

}  // namespace

json toJson(const queue::EffectRow& e) {
  json out{{"id", e.id},
           {"key", e.key},
           {"kind", e.kind},
           {"status", e.status},
           {"attempts", e.attempts},
           {"maxAttempts", e.maxAttempts},
           {"organizationId", orNull(e.organizationId)},
           {"sourceEventId", orNull(e.sourceEventId)},
           {"lockedBy", orNull(e.lockedBy)},
           {"lockedUntil", orNull(e.lockedUntil)},
           {"lastError", orNull(e.lastError)},
           {"providerMessageId", orNull(e.providerMessageId)},
           {"runAt", e.runAt},
           {"sentAt", orNull(e.sentAt)},
           {"createdAt", e.createdAt},
           {"updatedAt", e.updatedAt}};
  if (!e.payload.empty()) out["payload"] = json::parse(e.payload, nullptr, false);
  return out;
}

json toJson(const intake::StoredEvent& e) {
  json out{{"id", e.envelope.id},
           {"type", e.envelope.type},
           {"livemode", e.envelope.livemode},
           {"apiVersion", orNull(e.envelope.apiVersion)},
           {"account", orNull(e.envelope.account)},
           {"stripeCreated", e.envelope.created},
           {"status", e.status},
           {"attempts", e.attempts},
           {"lastError", orNull(e.lastError)},
           {"nextAttemptAt", orNull(e.nextAttemptAt)},
           {"receivedAt", e.receivedAt},
           {"processedAt", orNull(e.processedAt)}};
  if (!e.payload.empty()) out["payload"] = json::parse(e.payload, nullptr, false);
  return out;
}

json toJson(const queue::EffectTransition& t) {
  return json{{"at", t.at},
              {"id", t.id},
              {"key", t.key},
              {"kind", t.kind},
              {"status", t.status},
              {"attempts", t.attempts},
              {"maxAttempts", t.maxAttempts},
              {"lockedBy", orNull(t.lockedBy)},
              {"error", orNull(t.error)}};
}

json toJson(const queue::EffectStat& s) {
  return json{{"kind", s.kind},
              {"status", s.status},
              {"count", s.count},
              {"oldestSeconds", s.oldestSeconds}};
}

}  // namespace effectd::daemon
