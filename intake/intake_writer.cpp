#include "intake/intake_writer.hpp"

#include <algorithm>
#include <optional>
#include <pqxx/pqxx>
#include <unordered_set>

#include "base/log.hpp"
#include "base/metrics.hpp"
#include "intake/storable_payload.hpp"
#include "sql/connection.hpp"
#include "sql/database_health.hpp"
#include "sql/error_text.hpp"
#include "sql/prepared_statement.hpp"

namespace effectd::intake {

using handlers::AppliedEvents;
using handlers::applyEvents;
using handlers::applyEventsOrThrow;
using handlers::EventInput;
using handlers::ProcessOutcome;
using handlers::RetryPolicy;
using handlers::toString;
using handlers::wakeLinkedCustomers;
namespace {

constexpr std::size_t kColumns = 12;

// A writer's connection counts as in use while it stores a batch.
struct InUse {
  InUse() { metrics::registry().databasePoolInUse.add(1); }
  ~InUse() { metrics::registry().databasePoolInUse.add(-1); }
  InUse(const InUse&) = delete;
  InUse& operator=(const InUse&) = delete;
};

// INSERT of n events with their handlers' outcomes, prepared once per batch
// size and connection: each row is written once, already processed, ignored
// or failed (then due again after the first backoff, decided in C++).
std::string insertSql(std::size_t n) {
  std::string sql =
      R"(INSERT INTO "StripeWebhookEvent" ("id", "type", "livemode", "apiVersion", "account",)"
      R"( "stripeCreatedAt", "payload", "status", "lastError", "attempts", "processedAt",)"
      R"( "nextAttemptAt", "receivedAt", "signedPayload") VALUES )";
  const auto param = [](std::size_t i) { return "$" + std::to_string(i); };
  for (std::size_t row = 0; row < n; ++row) {
    const auto p = [&](std::size_t col) { return param(row * kColumns + col); };
    sql += row ? ",(" : "(";
    sql += p(1) + "," + p(2) + "," + p(3) + "::boolean,NULLIF(" + p(4) + ",''),NULLIF(" + p(5) +
           ",''),to_timestamp(" + p(6) + "::bigint) AT TIME ZONE 'UTC'," + p(7) + "::jsonb," +
           p(8) + ",NULLIF(" + p(9) + ",''),1,CASE WHEN " + p(12) +
           "::boolean THEN now() AT TIME ZONE 'UTC' END," +
           "now() AT TIME ZONE 'UTC' + make_interval(secs => NULLIF(" + p(10) +
           ",'')::float8),now() AT TIME ZONE 'UTC',NULLIF(" + p(11) + ",''))";
  }
  sql += R"( ON CONFLICT ("id") DO NOTHING RETURNING "id")";
  return sql;
}

// Inserts the events at `indices` with their outcomes; returns the ids
// inserted (those another writer had stored are not).
std::unordered_set<std::string> insertEvents(pqxx::transaction_base& tx,
                                             std::span<const IncomingEvent> events,
                                             std::span<const std::string_view> storable,
                                             std::span<const std::size_t> indices,
                                             std::span<const ProcessOutcome> outcomes,
                                             const RetryPolicy& retry) {
  // In id order: two batches holding the same event wait for each other in
  // one order, never in a cycle.
  std::vector<std::size_t> order(indices.size());
  for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return events[indices[a]].envelope.id < events[indices[b]].envelope.id;
  });
  std::vector<std::string> params;
  params.reserve(indices.size() * kColumns);
  for (auto k : order) {
    const auto& e = events[indices[k]].envelope;
    params.push_back(e.id);
    params.push_back(e.type);
    params.push_back(e.livemode ? "true" : "false");
    params.push_back(e.apiVersion);
    params.push_back(e.account);
    params.push_back(std::to_string(e.created));
    const auto& signedBody = events[indices[k]].payload;
    const auto stored = storable[indices[k]];
    params.emplace_back(stored);
    const auto after = handlers::afterRun(outcomes[k].status, outcomes[k].retry, 0, retry);
    params.push_back(std::string(toString(after.status)));
    params.push_back(outcomes[k].error);
    params.push_back(after.retryIn ? std::to_string(*after.retryIn) : std::string());
    // The exact bytes that were signed, only where the jsonb copy differs.
    params.push_back(stored.data() == signedBody.data() ? std::string() : signedBody);
    params.push_back(after.finished ? "true" : "false");
  }
  const auto name = "intake_insert_" + std::to_string(indices.size());
  std::unordered_set<std::string> inserted;
  for (const auto& row : sql::execPrepared(tx, name, insertSql(indices.size()),
                                           pqxx::prepare::make_dynamic_params(params))) {
    inserted.insert(row[0].as<std::string>());
  }
  return inserted;
}

}  // namespace

std::string_view describe(StoreOutcome outcome) {
  switch (outcome) {
    case StoreOutcome::Stored:
      return "stored";
    case StoreOutcome::Duplicate:
      return "duplicate";
    case StoreOutcome::Unavailable:
      return "database unavailable";
    case StoreOutcome::Overloaded:
      return "intake queue full";
    case StoreOutcome::ShuttingDown:
      return "shutting down";
    case StoreOutcome::Refused:
      return "refused by the database";
  }
  return "unknown";
}

std::vector<StoreOutcome> IntakeWriter::storeBatch(pqxx::connection_base& conn,
                                                   std::span<const IncomingEvent> events,
                                                   const RetryPolicy& retry) {
  // The same event can arrive twice in one batch (Stripe retries, concurrent
  // deliveries); only its first occurrence is stored.
  std::unordered_set<std::string_view> seen;
  std::vector<std::size_t> candidates;
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (seen.insert(events[i].envelope.id).second) candidates.push_back(i);
  }
  std::vector<StoreOutcome> outcomes(events.size(), StoreOutcome::Duplicate);
  // What jsonb can store, which the handlers read too: the same text the
  // retrier and a replay will read back.
  std::vector<std::optional<std::string>> rewritten(events.size());
  std::vector<std::string_view> storable(events.size());
  for (std::size_t i = 0; i < events.size(); ++i) {
    rewritten[i] = jsonbStorable(events[i].payload);
    storable[i] = rewritten[i] ? std::string_view(*rewritten[i]) : events[i].payload;
  }
  // Handlers first, then each event row written once with its outcome. An
  // event another writer stored first is a duplicate: the transaction starts
  // over without it, so that nothing its handler did here remains. A batch
  // the database refuses starts over too, with each event's handler in a
  // savepoint of its own, so that one bad event fails alone; the common path
  // pays for no savepoint.
  bool isolate = false;
  while (!candidates.empty()) {
    std::vector<EventInput> inputs;
    inputs.reserve(candidates.size());
    for (auto i : candidates) inputs.push_back({&events[i].envelope, storable[i]});
    pqxx::work tx(conn, "intake");
    AppliedEvents handled;
    if (isolate) {
      handled = applyEvents(tx, inputs);
    } else {
      try {
        handled = applyEventsOrThrow(tx, inputs);
      } catch (const std::exception& e) {
        if (sql::transactionLost(e)) throw;  // 503
        // The database refused the batch, or a handler threw what it should
        // not have: each event alone, in a savepoint, fails alone.
        log::warn("a batch of events failed; handling each alone",
                  {{"events", inputs.size()}, {"error", sql::errorText(e)}});
        tx.abort();
        isolate = true;
        continue;
      }
    }
    const auto inserted = insertEvents(tx, events, storable, candidates, handled.outcomes, retry);
    if (inserted.size() == candidates.size()) {
      tx.commit();
      auto& processed = metrics::registry().eventsProcessed;
      for (std::size_t k = 0; k < candidates.size(); ++k) {
        outcomes[candidates[k]] = StoreOutcome::Stored;
        processed.inc({events[candidates[k]].envelope.type, toString(handled.outcomes[k].status)});
      }
      wakeLinkedCustomers(conn, handled.linkedCustomers);
      break;
    }
    tx.abort();
    std::erase_if(candidates,
                  [&](std::size_t i) { return !inserted.count(events[i].envelope.id); });
  }
  return outcomes;
}

IntakeWriter::IntakeWriter(Options options) : options_(std::move(options)) {}

void IntakeWriter::start() {
  std::lock_guard lock(mutex_);
  if (!threads_.empty()) return;
  metrics::registry().databasePoolSize.set(options_.connections);
  threads_.reserve(static_cast<std::size_t>(options_.connections));
  for (int i = 0; i < options_.connections; ++i) {
    threads_.emplace_back([this, i] { run(i); });
  }
}

IntakeWriter::~IntakeWriter() {
  stop();
}

void IntakeWriter::submit(IncomingEvent event, StoreCallback done) {
  bool stopping = false;
  {
    std::lock_guard lock(mutex_);
    if (!stopping_ && queue_.size() < options_.maxQueue) {
      queue_.push_back({std::move(event), std::move(done)});
      metrics::registry().intakeQueueLength.set(static_cast<std::int64_t>(queue_.size()));
      wake_.notify_one();
      return;
    }
    stopping = stopping_;
  }
  done(stopping ? StoreOutcome::ShuttingDown : StoreOutcome::Overloaded);
}

void IntakeWriter::beginStop(Clock::time_point deadline) {
  {
    std::lock_guard lock(mutex_);
    deadline_ = std::min(deadline_, deadline);
  }
  wake_.notify_all();
}

void IntakeWriter::stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    if (deadline_ == Clock::time_point::max()) deadline_ = Clock::now();
    threads.swap(threads_);
  }
  wake_.notify_all();
  for (auto& t : threads) t.join();
}

void IntakeWriter::run(int index) {
  sql::Connection connection(
      {.url = options_.databaseUrl, .callTimeout = options_.databaseTimeout});
  std::vector<Pending> batch;
  std::vector<IncomingEvent> events;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued is done
      const bool late = Clock::now() >= deadline_;
      const auto n = late ? queue_.size() : std::min(queue_.size(), options_.maxBatch);
      batch.clear();
      for (std::size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      metrics::registry().intakeQueueLength.set(static_cast<std::int64_t>(queue_.size()));
      if (late) {
        lock.unlock();
        for (auto& p : batch) p.done(StoreOutcome::ShuttingDown);
        batch.clear();
        continue;
      }
    }

    // Moves the events out for the query and back into the outcome loop;
    // the payloads are never copied.
    events.clear();
    for (auto& p : batch) events.push_back(std::move(p.event));
    auto finish = [&](const std::vector<StoreOutcome>& outcomes) {
      for (std::size_t i = 0; i < batch.size(); ++i) batch[i].done(outcomes[i]);
      // The callbacks may hold resources of the caller (an executor's work
      // guard, a connection): release them now, not at the next batch.
      batch.clear();
    };

    auto* conn = connection.get();
    if (!conn) {
      if (options_.health) options_.health->reportUnreachable();
      finish(std::vector<StoreOutcome>(batch.size(), StoreOutcome::Unavailable));
      continue;
    }
    metrics::registry().intakeBatchSize.observe(static_cast<double>(batch.size()));
    const InUse inUse;
    std::optional<std::vector<StoreOutcome>> stored;
    try {
      const auto deadline = connection.deadline();
      stored = storeBatch(*conn, events, options_.retry);
    } catch (const std::exception& e) {
      const bool broken = connection.dropIfBroken() || sql::transactionLost(e);
      log::warn("storing webhook events failed", {{"writer", index},
                                                  {"events", batch.size()},
                                                  {"error", sql::errorText(e)},
                                                  {"connection_lost", broken}});
      if (broken) {
        connection.drop();
        if (options_.health) options_.health->reportUnreachable();
        finish(std::vector<StoreOutcome>(batch.size(), StoreOutcome::Unavailable));
        continue;
      }
    }
    // Outside the try: a callback that throws must not get its batch stored,
    // and answered, a second time.
    if (stored) {
      if (options_.health) options_.health->reportReachable();
      finish(*stored);
      continue;
    }
    // The database rejected the batch while the connection is fine: one event
    // may be at fault (say, a \u0000 that JSONB refuses). Store one at a time so
    // the others do not share its fate.
    std::vector<StoreOutcome> outcomes(events.size(), StoreOutcome::Unavailable);
    for (std::size_t i = 0; i < events.size(); ++i) {
      auto* single = connection.get();
      if (!single) break;
      try {
        const auto deadline = connection.deadline();
        outcomes[i] = storeBatch(*single, std::span(&events[i], 1), options_.retry).front();
      } catch (const std::exception& e) {
        if (connection.dropIfBroken() || sql::transactionLost(e) || !sql::refusesTheData(e)) {
          log::warn("storing webhook event failed",
                    {{"event_id", events[i].envelope.id}, {"error", sql::errorText(e)}});
          continue;
        }
        // Every retry of Stripe's would be refused the same way: not an
        // outage, and an operator must look at it.
        outcomes[i] = StoreOutcome::Refused;
        log::error("the database refuses this webhook event; it is not stored",
                   {{"event_id", events[i].envelope.id},
                    {"event_type", events[i].envelope.type},
                    {"error", sql::errorText(e)}});
      }
    }
    finish(outcomes);
  }
}

}  // namespace effectd::intake
