// Pings the database on its own connection so /readyz tells the truth even
// when no webhook arrives, and recovery is noticed without traffic.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace effectd::sql {
class DatabaseHealth;
}

namespace effectd::daemon {

class HealthMonitor {
 public:
  struct Options {
    std::string databaseUrl;
    std::chrono::milliseconds interval{1000};
    std::chrono::milliseconds timeout{5000};  // a ping slower than this is a failure
  };
  HealthMonitor(Options options, sql::DatabaseHealth& health);
  ~HealthMonitor();  // stops and joins
  HealthMonitor(const HealthMonitor&) = delete;
  HealthMonitor& operator=(const HealthMonitor&) = delete;

  // One ping: true when the database answered.
  bool runOnce();

 private:
  void run();

  Options options_;
  sql::DatabaseHealth& health_;
  struct State;
  std::unique_ptr<State> state_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace effectd::daemon
