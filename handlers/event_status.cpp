#include "handlers/event_status.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>

#include "config/config.hpp"
#include "sql/status_literals.hpp"

namespace effectd::handlers {
namespace {

// In the enum's order.
constexpr std::array<std::string_view, 4> kNames{"received", "processed", "ignored", "failed"};

}  // namespace

std::string_view toString(EventStatus status) {
  const auto index = static_cast<std::size_t>(status);
  if (index >= kNames.size()) throw std::logic_error("event status " + std::to_string(index));
  return kNames[index];
}

std::optional<EventStatus> parseEventStatus(std::string_view text) {
  const auto* found = std::find(kNames.begin(), kNames.end(), text);
  if (found == kNames.end()) return std::nullopt;
  return static_cast<EventStatus>(found - kNames.begin());
}

std::vector<std::string_view> eventStatusNames() {
  return {kNames.begin(), kNames.end()};
}

std::optional<double> RetryPolicy::retryIn(int runsBefore) const {
  if (runsBefore + 1 >= maxAttempts) return std::nullopt;
  return backoff.jittered(runsBefore + 1);
}

RetryPolicy eventRetryPolicy(const config::Config& c) {
  return {.backoff = {.base = c.eventRetryBase, .max = c.eventRetryMax},
          .maxAttempts = c.eventMaxAttempts};
}

AfterRun afterRun(EventStatus verdict, bool retry, int runsBefore, const RetryPolicy& policy) {
  switch (verdict) {
    case EventStatus::Processed:
    case EventStatus::Ignored:
      return {.status = verdict, .finished = true, .retryIn = std::nullopt};
    case EventStatus::Failed:
      return {.status = verdict,
              .finished = false,
              .retryIn = retry ? policy.retryIn(runsBefore) : std::nullopt};
    case EventStatus::Received:
      break;
  }
  throw std::logic_error("a run of the handlers cannot end in " +
                         std::to_string(static_cast<int>(verdict)));
}

std::string eventSql(std::string_view text) {
  return sql::withStatusLiterals(text, kNames);
}

}  // namespace effectd::handlers
