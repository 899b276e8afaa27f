#include "intake/event_retrier.hpp"

#include <pqxx/pqxx>

#include "base/log.hpp"
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

EventRetrier::EventRetrier(Options options) : options_(std::move(options)) {
  thread_ = std::thread([this] { run(); });
}

EventRetrier::~EventRetrier() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
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
  wakeLinkedCustomers(conn, applied.linkedCustomers);
  if (counts.total() > 0) {
    log::info(
        "retried events",
        {{"processed", counts.processed}, {"ignored", counts.ignored}, {"failed", counts.failed}});
  }
  return counts;
}

void EventRetrier::run() {
  sql::Connection connection(
      {.url = options_.databaseUrl, .callTimeout = options_.databaseTimeout});
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    bool more = false;
    if (auto* conn = connection.get()) {
      try {
        const auto deadline = connection.deadline();
        more = runOnce(*conn, options_.policy, options_.batchSize).total() == options_.batchSize;
      } catch (const std::exception& e) {
        connection.dropIfBroken();
        log::warn("event retry pass failed", {{"error", sql::errorText(e)}});
      }
    }
    lock.lock();
    if (!more) wake_.wait_for(lock, options_.interval, [this] { return stopping_; });
  }
}

}  // namespace effectd::intake
