#include "handlers/intake.hpp"

#include <algorithm>
#include <pqxx/pqxx>
#include <unordered_map>

#include "daemon/log.hpp"
#include "sql/connection.hpp"
#include "sql/database_health.hpp"
#include "sql/error_text.hpp"

namespace effectd::handlers {
namespace {

constexpr std::size_t kColumns = 7;

// INSERT of n events, prepared once per batch size and connection.
std::string insertSql(std::size_t n) {
  std::string sql =
      R"(INSERT INTO "StripeWebhookEvent" ("id", "type", "livemode", "apiVersion", "account",)"
      R"( "stripeCreatedAt", "payload", "status", "receivedAt") VALUES )";
  for (std::size_t row = 0; row < n; ++row) {
    const auto p = [&](std::size_t col) { return "$" + std::to_string(row * kColumns + col); };
    sql += row ? ",(" : "(";
    sql += p(1) + "," + p(2) + "," + p(3) + "::boolean,NULLIF(" + p(4) + ",''),NULLIF(" + p(5) +
           ",''),to_timestamp(" + p(6) + "::bigint) AT TIME ZONE 'UTC'," + p(7) +
           "::jsonb,'received',now() AT TIME ZONE 'UTC')";
  }
  sql += R"( ON CONFLICT ("id") DO NOTHING RETURNING "id")";
  return sql;
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
  }
  return "unknown";
}

std::vector<StoreOutcome> IntakeWriter::storeBatch(pqxx::connection_base& conn,
                                                   std::span<const IncomingEvent> events,
                                                   const RetryPolicy& retry) {
  // The same event can arrive twice in one batch (Stripe retries, concurrent
  // deliveries); only its first occurrence is inserted.
  std::unordered_map<std::string_view, std::size_t> first;
  std::vector<std::size_t> unique;
  first.reserve(events.size());
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (first.emplace(events[i].envelope.id, i).second) unique.push_back(i);
  }

  // Inserted in id order: two batches holding the same event wait for each
  // other in one order, never in a cycle.
  auto byId = unique;
  std::sort(byId.begin(), byId.end(), [&events](std::size_t a, std::size_t b) {
    return events[a].envelope.id < events[b].envelope.id;
  });
  std::vector<std::string> params;
  params.reserve(unique.size() * kColumns);
  for (auto i : byId) {
    const auto& e = events[i].envelope;
    params.push_back(e.id);
    params.push_back(e.type);
    params.push_back(e.livemode ? "true" : "false");
    params.push_back(e.apiVersion);
    params.push_back(e.account);
    params.push_back(std::to_string(e.created));
    params.push_back(events[i].payload);
  }

  const auto name = "intake_insert_" + std::to_string(unique.size());
  conn.prepare(name, insertSql(unique.size()));
  pqxx::work tx(conn, "intake");
  const auto inserted = tx.exec_prepared(name, pqxx::prepare::make_dynamic_params(params));
  std::unordered_map<std::string, bool> stored;
  for (const auto& row : inserted) stored.emplace(row[0].as<std::string>(), true);

  std::vector<StoreOutcome> outcomes(events.size(), StoreOutcome::Duplicate);
  std::vector<EventInput> toApply;
  toApply.reserve(stored.size());
  for (auto i : unique) {
    if (!stored.count(events[i].envelope.id)) continue;
    toApply.push_back({&events[i].envelope, events[i].payload});
    outcomes[i] = StoreOutcome::Stored;
  }
  const auto applied = applyEvents(tx, toApply);
  std::vector<EventOutcome> handled;
  handled.reserve(applied.size());
  for (std::size_t i = 0; i < applied.size(); ++i) {
    handled.push_back({toApply[i].envelope->id, applied[i]});
  }
  recordOutcomes(tx, handled, retry);  // one statement for the whole batch
  tx.commit();
  return outcomes;
}

IntakeWriter::IntakeWriter(Options options) : options_(std::move(options)) {
  threads_.reserve(static_cast<std::size_t>(options_.connections));
  for (int i = 0; i < options_.connections; ++i) {
    threads_.emplace_back([this, i] { run(i); });
  }
}

IntakeWriter::~IntakeWriter() {
  stop();
}

void IntakeWriter::submit(IncomingEvent event, StoreCallback done) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_ && queue_.size() < options_.maxQueue) {
      queue_.push_back({std::move(event), std::move(done)});
      wake_.notify_one();
      return;
    }
  }
  done(stopping_ ? StoreOutcome::ShuttingDown : StoreOutcome::Overloaded);
}

void IntakeWriter::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
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
      const auto n = std::min(queue_.size(), options_.maxBatch);
      batch.clear();
      for (std::size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
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
    try {
      const auto deadline = connection.deadline();
      finish(storeBatch(*conn, events, options_.retry));
      if (options_.health) options_.health->reportReachable();
      continue;
    } catch (const std::exception& e) {
      const bool broken = connection.dropIfBroken() ||
                          dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr ||
                          dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr;
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
        connection.dropIfBroken();
        log::warn("storing webhook event failed",
                  {{"event_id", events[i].envelope.id}, {"error", sql::errorText(e)}});
      }
    }
    finish(outcomes);
  }
}

}  // namespace effectd::handlers
