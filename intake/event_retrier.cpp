#include "intake/event_retrier.hpp"

#include <pqxx/pqxx>

#include "base/log.hpp"
#include "base/metrics.hpp"
#include "intake/stored_events.hpp"
#include "sql/connection.hpp"
#include "sql/error_text.hpp"

namespace effectd::intake {

using handlers::applyEvents;
using handlers::EventInput;
using handlers::EventOutcome;
using handlers::EventStatus;
using handlers::recordOutcomes;
using handlers::RetryPolicy;
using handlers::wakeLinkedCustomers;

EventRetrier::EventRetrier(Options options)
    : options_(std::move(options)),
      connection_({.url = options_.databaseUrl, .callTimeout = options_.databaseTimeout}),
      thread_(options_.interval, [this] { return pass(); }) {}

EventRetrier::~EventRetrier() {
  stop();
}

EventRetrier::Counts EventRetrier::runOnce(pqxx::connection_base& conn, const RetryPolicy& policy,
                                           int batchSize) {
  Counts counts;
  pqxx::work tx(conn, "retry");
  const auto due = selectEvents(
      tx, {.limit = batchSize, .withPayload = true, .dueForRetry = true, .lockSkipLocked = true});
  std::vector<EventInput> inputs;
  inputs.reserve(due.size());
  for (const auto& event : due) inputs.push_back({&event.envelope, event.payload});
  const auto applied = applyEvents(tx, inputs);
  const auto& outcomes = applied.outcomes;
  std::vector<EventOutcome> recorded;
  recorded.reserve(outcomes.size());
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    recorded.push_back({due[i].envelope.id, outcomes[i], due[i].attempts});
    counts.processed += outcomes[i].status == EventStatus::Processed;
    counts.ignored += outcomes[i].status == EventStatus::Ignored;
    counts.failed += outcomes[i].status == EventStatus::Failed;
  }
  recordOutcomes(tx, recorded, policy);
  tx.commit();
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    metrics::registry().eventsProcessed.inc(
        {due[i].envelope.type, handlers::toString(outcomes[i].status)});
  }
  wakeLinkedCustomers(conn, applied.linkedCustomers);
  if (counts.total() > 0) {
    log::info(
        "retried events",
        {{"processed", counts.processed}, {"ignored", counts.ignored}, {"failed", counts.failed}});
  }
  return counts;
}

bool EventRetrier::pass() {
  auto* conn = connection_.get();
  if (!conn) return false;
  try {
    const auto deadline = connection_.deadline();
    return runOnce(*conn, options_.policy, options_.batchSize).total() == options_.batchSize;
  } catch (const std::exception& e) {
    connection_.dropIfBroken();
    log::warn("event retry pass failed", {{"error", sql::errorText(e)}});
    return false;
  }
}

}  // namespace effectd::intake
