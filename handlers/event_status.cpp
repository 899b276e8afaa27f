#include "handlers/event_status.hpp"

#include <stdexcept>

#include "config/config.hpp"
#include "sql/status_literals.hpp"

namespace effectd::handlers {
namespace {

constexpr sql::StatusNames<EventStatus, 4> kStatuses{
    "event status", {"received", "processed", "ignored", "failed"}};

}  // namespace

std::string_view toString(EventStatus status) {
  return kStatuses.name(status);
}

std::optional<EventStatus> parseEventStatus(std::string_view text) {
  return kStatuses.parse(text);
}

std::vector<std::string_view> eventStatusNames() {
  return {kStatuses.names.begin(), kStatuses.names.end()};
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
  return kStatuses.sql(text);
}

}  // namespace effectd::handlers
