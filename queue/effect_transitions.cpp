#include "queue/effect_transitions.hpp"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

namespace effectd::queue {
namespace {

constexpr const char* kChannel = "effectd_effect_transition";

}  // namespace

bool TransitionFilter::matches(const EffectTransition& t) const {
  return (kind.empty() || t.kind == kind) && (status.empty() || t.status == status);
}

std::optional<EffectTransition> parseTransition(std::string_view payload) {
  const auto j = nlohmann::json::parse(payload, nullptr, false);
  if (!j.is_object() || !j.contains("id") || !j.contains("status")) return std::nullopt;
  auto text = [&](const char* name) {
    const auto it = j.find(name);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  auto number = [&](const char* name) {
    const auto it = j.find(name);
    return it != j.end() && it->is_number_integer() ? it->get<int>() : 0;
  };
  return EffectTransition{.id = text("id"),
                          .key = text("key"),
                          .kind = text("kind"),
                          .status = text("status"),
                          .at = text("at"),
                          .lockedBy = text("lockedBy"),
                          .error = text("error"),
                          .attempts = number("attempts"),
                          .maxAttempts = number("maxAttempts")};
}

std::vector<EffectTransition> latestTransitions(pqxx::connection_base& conn,
                                                const TransitionFilter& filter, int limit,
                                                const std::string& since) {
  pqxx::read_transaction tx(conn);
  // The same text as the trigger's payload, so history and live lines match.
  const auto rows = tx.exec_params(
      R"(SELECT * FROM (
           SELECT "id", left("key", 300), "kind", "status",
                  to_char("updatedAt", 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at,
                  COALESCE(left("lockedBy", 200), ''), COALESCE(left("lastError", 300), ''),
                  "attempts", "maxAttempts", "updatedAt"
           FROM "OutboundEffect"
           WHERE ($1 = '' OR "kind" = $1) AND ($2 = '' OR "status" = $2)
             AND ($3 = '' OR "updatedAt" >= $3::timestamp)
           ORDER BY "updatedAt" DESC, "id" DESC LIMIT $4) latest
         ORDER BY "updatedAt", "id")",
      filter.kind, filter.status, since.empty() ? since : since.substr(0, since.size() - 1), limit);
  std::vector<EffectTransition> out;
  out.reserve(rows.size());
  for (const auto& r : rows) {
    out.push_back({.id = r[0].as<std::string>(),
                   .key = r[1].as<std::string>(),
                   .kind = r[2].as<std::string>(),
                   .status = r[3].as<std::string>(),
                   .at = r[4].as<std::string>(),
                   .lockedBy = r[5].as<std::string>(),
                   .error = r[6].as<std::string>(),
                   .attempts = r[7].as<int>(),
                   .maxAttempts = r[8].as<int>()});
  }
  return out;
}

void followTransitions(pqxx::connection_base& conn, const TransitionFilter& filter,
                       const std::function<void()>& onListening,
                       const std::function<void(const EffectTransition&)>& onTransition,
                       const std::atomic<bool>& stop) {
  struct Receiver : pqxx::notification_receiver {
    Receiver(pqxx::connection_base& c, const TransitionFilter& f,
             const std::function<void(const EffectTransition&)>& cb)
        : pqxx::notification_receiver(c, kChannel), filter(f), callback(cb) {}
    void operator()(const std::string& payload, int) override {
      if (auto t = parseTransition(payload); t && filter.matches(*t)) callback(*t);
    }
    const TransitionFilter& filter;
    const std::function<void(const EffectTransition&)>& callback;
  } receiver(conn, filter, onTransition);
  conn.get_notifs();  // makes the LISTEN take effect now
  onListening();
  while (!stop.load()) conn.await_notification(0, 200000);
}

}  // namespace effectd::queue
