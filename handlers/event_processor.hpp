// Runs a stored event's handler in a savepoint and records the outcome on its
// StripeWebhookEvent row: processed, ignored (a type effectd does not handle),
// or failed with lastError and nextAttemptAt. A failing handler never takes
// the event, or the other events of its transaction, down with it.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "handlers/stripe_event.hpp"

namespace pqxx {
class dbtransaction;
class transaction_base;
}  // namespace pqxx

namespace effectd::handlers {

// After the n-th failed run an event is due again in min(max, base * 2^(n-1)),
// jittered by ±25% so that a burst of failures does not retry in lockstep.
struct RetryPolicy {
  std::chrono::seconds base{10};   // first retry after about this long
  std::chrono::seconds max{3600};  // backoff cap
  int maxAttempts = 12;            // then the event stays failed for an operator
};

enum class EventStatus { Processed, Ignored, Failed };
std::string_view toString(EventStatus status);

struct ProcessOutcome {
  EventStatus status = EventStatus::Processed;
  std::string error;  // why it failed
};

bool isHandledType(std::string_view type);

struct EventOutcome {
  std::string eventId;
  ProcessOutcome outcome;
};

// Runs the event's handler in a savepoint; records nothing. `payload` is the
// event's JSON as stored.
ProcessOutcome runHandler(pqxx::dbtransaction& tx, const EventEnvelope& event,
                          std::string_view payload);

// Writes the outcomes of several events in one statement. The rows must exist.
void recordOutcomes(pqxx::transaction_base& tx, const std::vector<EventOutcome>& outcomes,
                    const RetryPolicy& policy);

// runHandler, then recordOutcomes of the one event.
ProcessOutcome processEvent(pqxx::dbtransaction& tx, const EventEnvelope& event,
                            std::string_view payload, const RetryPolicy& policy);

}  // namespace effectd::handlers
