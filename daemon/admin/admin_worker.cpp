#include "daemon/admin/admin_worker.hpp"

#include <pqxx/pqxx>

#include "base/log.hpp"
#include "sql/connection.hpp"
#include "sql/error_text.hpp"

namespace effectd::daemon {

AdminWorker::AdminWorker(Options options) : options_(std::move(options)) {}

void AdminWorker::start() {
  std::lock_guard lock(mutex_);
  if (!thread_.joinable() && !stopping_) thread_ = std::thread([this] { run(); });
}

AdminWorker::~AdminWorker() {
  stop();
}

bool AdminWorker::submit(Job job) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || jobs_.size() >= options_.maxQueue) return false;
    jobs_.push_back(std::move(job));
  }
  wake_.notify_one();
  return true;
}

void AdminWorker::beginStop(Clock::time_point /*each job has the database timeout*/) {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
}

void AdminWorker::stop() {
  beginStop(Clock::now());
  std::thread thread;
  {
    std::lock_guard lock(mutex_);
    thread.swap(thread_);
  }
  if (thread.joinable()) thread.join();
}

void AdminWorker::run() {
  sql::Connection connection(
      {.url = options_.databaseUrl, .callTimeout = options_.databaseTimeout});
  for (;;) {
    Job job;
    bool stopping = false;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
      stopping = stopping_;
    }
    // Every job is called exactly once, so that its caller always gets an
    // answer; once stopping, without a connection.
    auto* conn = stopping ? nullptr : connection.get();
    const std::string unreachable = stopping ? std::string("shutting down")
                                    : conn   ? std::string()
                                             : connection.lastError();
    try {
      if (!conn) {
        job(nullptr, unreachable);
        continue;
      }
      const auto deadline = connection.deadline();
      job(conn, {});
    } catch (const std::exception& e) {
      connection.dropIfBroken();
      log::warn("admin request failed", {{"error", sql::errorText(e)}});
    }
  }
}

}  // namespace effectd::daemon
