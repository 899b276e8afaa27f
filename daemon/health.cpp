#include "daemon/health.hpp"

#include <pqxx/pqxx>

#include "base/log.hpp"
#include "sql/connection.hpp"
#include "sql/database_health.hpp"
#include "sql/error_text.hpp"

namespace effectd::daemon {

struct HealthMonitor::State {
  explicit State(const std::string& url, std::chrono::milliseconds timeout)
      : connection(
            {.url = url, .minBackoff = std::chrono::milliseconds(0), .callTimeout = timeout}) {}
  sql::Connection connection;
  bool lastReachable = false;
  bool reported = false;
};

HealthMonitor::HealthMonitor(Options options, sql::DatabaseHealth& health)
    : options_(std::move(options)),
      health_(health),
      state_(std::make_unique<State>(options_.databaseUrl, options_.timeout)),
      thread_(
          options_.interval,
          [this] {
            runOnce();
            return false;
          },
          PeriodicThread::FirstPass::AfterInterval) {}

void HealthMonitor::start() {
  runOnce();
  thread_.start();
}

HealthMonitor::~HealthMonitor() {
  stop();
}

bool HealthMonitor::runOnce() {
  // The constructor's ping may still run when the thread's first one starts.
  std::lock_guard lock(pingMutex_);
  bool reachable = false;
  std::string error;
  if (auto* conn = state_->connection.get()) {
    try {
      const auto deadline = state_->connection.deadline();
      pqxx::nontransaction(*conn).exec("SELECT 1");
      reachable = true;
    } catch (const std::exception& e) {
      error = sql::errorText(e);
      state_->connection.drop();
    }
  } else {
    error = state_->connection.lastError();
  }
  if (reachable) {
    health_.reportReachable();
  } else {
    health_.reportUnreachable();
  }
  if (!state_->reported || reachable != state_->lastReachable) {
    if (reachable) {
      log::info("database reachable");
    } else {
      log::warn("database unreachable", {{"error", error}});
    }
  }
  state_->reported = true;
  state_->lastReachable = reachable;
  return reachable;
}

}  // namespace effectd::daemon
