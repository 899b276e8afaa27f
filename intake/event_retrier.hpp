// Retries failed events when they fall due: claims a batch with FOR UPDATE
// SKIP LOCKED (several daemons share the work), re-runs each handler in its
// own savepoint, and records the outcome. Its own thread and connection.
#pragma once

#include <chrono>
#include <string>

#include "base/periodic_thread.hpp"

#include "handlers/event_processor.hpp"
#include "sql/connection.hpp"

namespace pqxx {
class connection_base;
}

namespace effectd::intake {

class EventRetrier final : public Service {
 public:
  struct Options {
    std::string databaseUrl;
    handlers::RetryPolicy policy;
    std::chrono::milliseconds interval{1000};  // how often to look for due events
    int batchSize = 32;                        // events per transaction
    std::chrono::milliseconds databaseTimeout{5000};
  };

  struct Counts {
    int processed = 0;
    int ignored = 0;
    int failed = 0;
    int total() const { return processed + ignored + failed; }
  };

  explicit EventRetrier(Options options);  // the thread starts with start()
  ~EventRetrier() override;

  void start() override { thread_.start(); }
  void beginStop(Clock::time_point deadline) override { thread_.beginStop(deadline); }
  void stop() override { thread_.stop(); }

  // One pass: the events due now, at most `batchSize`, in one transaction.
  static Counts runOnce(pqxx::connection_base& conn, const handlers::RetryPolicy& policy,
                        int batchSize);

 private:
  bool pass();  // true: a full batch, more may be due

  Options options_;
  sql::Connection connection_;
  PeriodicThread thread_;  // last: it runs passes on the members above
};

}  // namespace effectd::intake
