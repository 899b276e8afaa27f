// Following OutboundEffect as it changes, for `effectd effects tail`: the
// transition trigger (migration 0002) announces each new effect and each
// change of status on one LISTEN channel; the latest rows give the history
// to start from, as `tail -f` prints the last lines first.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pqxx {
class connection_base;
}

namespace effectd::queue {

struct EffectTransition {
  std::string id, key, kind, status;
  std::string at;  // the row's updatedAt, ISO 8601 UTC with milliseconds
  std::string lockedBy, error;
  int attempts = 0;
  int maxAttempts = 0;
};

struct TransitionFilter {
  std::string kind;    // empty: any
  std::string status;  // empty: any
  bool matches(const EffectTransition& t) const;
};

// A NOTIFY payload from the trigger; nullopt when it is not one.
std::optional<EffectTransition> parseTransition(std::string_view payload);

// The `limit` rows changed last, optionally only since `since` (an `at`, inclusive),
// oldest first.
std::vector<EffectTransition> latestTransitions(pqxx::connection_base& conn,
                                                const TransitionFilter& filter, int limit,
                                                const std::string& since = {});

// LISTENs on `conn` and calls `onTransition` for each matching transition
// until `stop` is set (checked every 200 ms). `onListening` runs once the
// LISTEN is in place, before any transition is reported. Throws when the
// connection breaks.
void followTransitions(pqxx::connection_base& conn, const TransitionFilter& filter,
                       const std::function<void()>& onListening,
                       const std::function<void(const EffectTransition&)>& onTransition,
                       const std::atomic<bool>& stop);

}  // namespace effectd::queue
