// Runs stored events' handlers and records each outcome on its
// StripeWebhookEvent row: processed, ignored (a type effectd does not handle),
// or failed with lastError and nextAttemptAt. A failing handler never takes
// the event, or the other events of its transaction, down with it.
#pragma once

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "handlers/event_status.hpp"
#include "handlers/stripe_event.hpp"

namespace pqxx {
class connection_base;
class transaction_base;
}  // namespace pqxx

namespace effectd::handlers {

struct ProcessOutcome {
  EventStatus status = EventStatus::Processed;
  std::string error;  // why it failed
  bool retry = true;  // failed: due again after the backoff; false: waits for an operator
};

bool isHandledType(std::string_view type);

struct EventOutcome {
  std::string eventId;
  ProcessOutcome outcome;
  int runsBefore = 0;  // the row's attempts before this run
};

// A stored event, as the handlers read it.
struct EventInput {
  const EventEnvelope* envelope = nullptr;
  std::string_view payload;  // the event's JSON as stored
  // An operator's decision (events replay --relink): a checkout may move its
  // organization away from a customer whose subscription is live.
  bool allowRelink = false;
};

// What a batch's handlers decided.
struct AppliedEvents {
  std::vector<ProcessOutcome> outcomes;  // one per event, in order
  // Customers these events linked to an organization: their events that
  // failed waiting for the link may go now. The caller wakes them
  // (wakeLinkedCustomers) after its commit, in a transaction of its own: the
  // retrier locks a due event before its Subscription rows, a batch its rows
  // before the events it wakes, and doing both in one transaction deadlocked.
  std::vector<std::string> linkedCustomers;
};

// Runs the handlers of these events in the caller's transaction; records
// nothing. A fixed number of statements for the whole batch: one read and
// lock of every row it touches, one write per table. When the database
// refuses the batch, each event runs again alone in a savepoint of its own,
// so a failing event fails alone. Throws when the transaction as a whole is
// lost.
AppliedEvents applyEvents(pqxx::transaction_base& tx, std::span<const EventInput> events);

// applyEvents without the savepoint: throws when the database refuses the
// batch, and the caller's transaction is then lost. For a caller that would
// rather start its transaction over (intake) than pay for a savepoint on
// every batch.
AppliedEvents applyEventsOrThrow(pqxx::transaction_base& tx, std::span<const EventInput> events);

// Makes the failed events of these customers due now, in a transaction of
// its own. A hint: when it fails (logged), they wait for their backoff.
void wakeLinkedCustomers(pqxx::connection_base& conn, const std::vector<std::string>& customers);

// Writes the outcomes of several events in one statement. The rows must exist.
void recordOutcomes(pqxx::transaction_base& tx, const std::vector<EventOutcome>& outcomes,
                    const RetryPolicy& policy);

// An operator's replay of one stored event, in a transaction of its own:
// applyEvents, recordOutcomes, commit, then the wake-up.
ProcessOutcome replayEvent(pqxx::connection_base& conn, const EventInput& event,
                           const RetryPolicy& policy);

}  // namespace effectd::handlers
