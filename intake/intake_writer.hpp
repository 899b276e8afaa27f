// Durable intake of Stripe events with group commit: requests queue here,
// and each writer thread stores everything queued in one transaction, so
// throughput is not capped at one fsync per event. The new events' handlers
// run in that same transaction, set-wise (handlers/event_processor.hpp), and
// each event row is written once, with its outcome.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "base/service.hpp"
#include "handlers/event_processor.hpp"
#include "handlers/stripe_event.hpp"

namespace pqxx {
class connection_base;
}

namespace effectd::sql {
class DatabaseHealth;
}

namespace effectd::intake {

struct IncomingEvent {
  handlers::EventEnvelope envelope;
  std::string payload;  // the raw body, as signed; stored as JSONB (intake/storable_payload.hpp)
};

enum class StoreOutcome {
  Stored,        // committed now
  Duplicate,     // an event with this id was already committed
  Unavailable,   // the database could not be reached or the commit failed
  Overloaded,    // the queue is full
  ShuttingDown,  // the writer no longer accepts work
  Refused,       // the database refuses this event's data: every retry would fail alike
};

std::string_view describe(StoreOutcome outcome);

// Runs on a writer thread: hand the result back to your own executor.
using StoreCallback = std::function<void(StoreOutcome)>;

class IntakeWriter final : public Service {
 public:
  struct Options {
    std::string databaseUrl;
    int connections = 2;          // writer threads, one connection each
    std::size_t maxBatch = 128;   // events per transaction
    std::size_t maxQueue = 8192;  // queued events beyond which submit answers Overloaded
    std::chrono::milliseconds databaseTimeout{5000};  // per transaction, then 503
    sql::DatabaseHealth* health = nullptr;
    handlers::RetryPolicy retry;  // for events whose handler fails
  };

  explicit IntakeWriter(Options options);  // the threads start with start()
  ~IntakeWriter() override;                // stop()
  IntakeWriter(const IntakeWriter&) = delete;
  IntakeWriter& operator=(const IntakeWriter&) = delete;

  void submit(IncomingEvent event, StoreCallback done);

  void start() override;
  // Events are still accepted, but only batches begun before `deadline` are
  // stored; later ones are answered ShuttingDown. For SIGTERM: the listeners
  // (stopped before the writer) still drain their requests, and the writers
  // must be done by the end of the one shutdown budget.
  void beginStop(Clock::time_point deadline) override;
  // New events are refused (ShuttingDown) from now on; those queued are
  // stored as beginStop's deadline says, then the threads are joined.
  // Without beginStop before, the deadline is now: what is still queued is
  // answered ShuttingDown.
  void stop() override;

  // One transaction for a batch, on the caller's connection: the unit the
  // writer threads repeat. Runs the new events' handlers and stores the
  // events with their outcomes.
  // Throws pqxx's exceptions when the transaction as a whole fails.
  static std::vector<StoreOutcome> storeBatch(pqxx::connection_base& conn,
                                              std::span<const IncomingEvent> events,
                                              const handlers::RetryPolicy& retry = {});

 private:
  struct Pending {
    IncomingEvent event;
    StoreCallback done;
  };
  void run(int index);

  Options options_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Pending> queue_;
  bool stopping_ = false;                                  // refusing new events
  Clock::time_point deadline_ = Clock::time_point::max();  // max: no beginStop yet
  std::vector<std::thread> threads_;
};

}  // namespace effectd::intake
