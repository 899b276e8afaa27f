// The admin listener's database work, on a thread and connection of its
// own: the event loop never blocks on PostgreSQL, and an operator's slow
// query never takes a connection from intake or delivery. Jobs run one at a
// time, in order; past `maxQueue` waiting jobs, submit() refuses.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "base/service.hpp"

namespace pqxx {
class connection_base;
}

namespace effectd::daemon {

class AdminWorker final : public Service {
 public:
  struct Options {
    std::string databaseUrl;
    std::chrono::milliseconds databaseTimeout{5000};
    std::size_t maxQueue = 64;
  };
  // Called exactly once, on the worker's thread, with the open connection,
  // or with null and the reason (database unreachable, shutting down). A
  // job must answer its caller itself, exceptions included: one that
  // escapes is logged and goes no further.
  using Job = std::function<void(pqxx::connection_base* conn, const std::string& unreachable)>;

  explicit AdminWorker(Options options);  // the thread starts with start()
  ~AdminWorker() override;
  AdminWorker(const AdminWorker&) = delete;
  AdminWorker& operator=(const AdminWorker&) = delete;

  // False when the queue is full or the worker is stopping: the job will
  // not run.
  bool submit(Job job);

  void start() override;
  // Jobs still queued run without a connection ("shutting down").
  void beginStop(Clock::time_point deadline) override;
  void stop() override;

 private:
  void run();

  Options options_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> jobs_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace effectd::daemon
