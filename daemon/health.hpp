// Pings the database on its own connection so /readyz tells the truth even
// when no webhook arrives, and recovery is noticed without traffic.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "base/periodic_thread.hpp"

namespace effectd::sql {
class DatabaseHealth;
}

namespace effectd::daemon {

class HealthMonitor final : public Service {
 public:
  struct Options {
    std::string databaseUrl;
    std::chrono::milliseconds interval{1000};
    std::chrono::milliseconds timeout{5000};  // a ping slower than this is a failure
  };
  HealthMonitor(Options options, sql::DatabaseHealth& health);
  ~HealthMonitor() override;

  // Pings once before it returns, so readiness is known before listening.
  void start() override;
  void beginStop(Clock::time_point deadline) override { thread_.beginStop(deadline); }
  void stop() override { thread_.stop(); }

  // One ping: true when the database answered.
  bool runOnce();

 private:
  Options options_;
  sql::DatabaseHealth& health_;
  struct State;
  std::unique_ptr<State> state_;
  std::mutex pingMutex_;
  PeriodicThread thread_;  // last: it runs passes on the members above
};

}  // namespace effectd::daemon
