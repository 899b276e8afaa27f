// The one owner of a StripeWebhookEvent's lifecycle: its statuses, the
// decision of what a run of its handlers makes of it, and the SQL literals
// of every statement that reads or writes them (eventSql).
//
//   (stored) --handlers run in the same transaction--> processed | ignored | failed
//   (stored by someone else, handlers not run) --> received
//   received, failed (due) --retrier runs it--> processed | ignored | failed
//   any --operator replay--> processed | ignored | failed
//   processed, ignored: finished (processedAt set), pruned by retention
//   failed: due again at nextAttemptAt, or, after the last attempt, waits
//     for an operator (nextAttemptAt NULL)
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/backoff.hpp"

namespace effectd::config {
struct Config;
}

namespace effectd::handlers {

enum class EventStatus { Received, Processed, Ignored, Failed };

// Throws std::logic_error for a value outside the enum.
std::string_view toString(EventStatus status);
std::optional<EventStatus> parseEventStatus(std::string_view text);
std::vector<std::string_view> eventStatusNames();  // every status, in lifecycle order

// A failed event is due again after the backoff of its failures; after
// maxAttempts runs it stays failed for an operator (events replay).
struct RetryPolicy {
  Backoff backoff;
  int maxAttempts = 12;
  // Seconds until a run that failed, after `runsBefore` earlier ones, is
  // due again; none when that was the last attempt.
  std::optional<double> retryIn(int runsBefore) const;
};

// The policy EFFECTD_EVENT_RETRY_BASE, _MAX and EFFECTD_EVENT_MAX_ATTEMPTS describe.
RetryPolicy eventRetryPolicy(const config::Config& config);

// What a run of the handlers makes of the event's row.
struct AfterRun {
  EventStatus status = EventStatus::Processed;
  bool finished = true;           // processedAt is set; retention may prune it
  std::optional<double> retryIn;  // failed: due again in this many seconds
};

// `verdict` is the handlers' (processed, ignored or failed; received is not
// an outcome and throws); `retry` false: a failure waits for an operator.
// `runsBefore` counts the row's earlier runs.
AfterRun afterRun(EventStatus verdict, bool retry, int runsBefore, const RetryPolicy& policy);

// Statement text with {{received}}, {{processed}}, {{ignored}}, {{failed}}
// as quoted literals (sql/status_literals.hpp).
std::string eventSql(std::string_view text);

}  // namespace effectd::handlers
