// A deadline on a blocking database call. libpq's synchronous calls wait for
// the server as long as TCP lets them; a database that stops answering
// without a reset (a dropped route, a hung proxy, a full PgBouncer) would hold
// a writer thread, the health check, lease renewal and shutdown for minutes.
// While a CallDeadline is alive, its connection's socket is shut down when the
// deadline passes: the call in progress fails at once as a lost connection,
// which every caller already handles (503, outcomes kept in memory, the
// connection reopened with backoff). Works through PgBouncer, whose
// statement_timeout a client cannot rely on, and covers a stuck COMMIT too.
#pragma once

#include <chrono>
#include <cstdint>

#include "base/service.hpp"

namespace pqxx {
class connection_base;
}

namespace effectd::sql {

class CallDeadline {
 public:
  // A zero or negative `limit` arms nothing.
  CallDeadline(pqxx::connection_base& conn, std::chrono::milliseconds limit);
  explicit CallDeadline(std::chrono::milliseconds) {}  // armed on nothing
  ~CallDeadline();
  CallDeadline(const CallDeadline&) = delete;
  CallDeadline& operator=(const CallDeadline&) = delete;

  // Whether the deadline passed and the connection was cut.
  bool expired() const;

 private:
  std::uint64_t id_ = 0;
};

// The process's one watcher thread, as a service of serve's group: started
// first and stopped last, after every service that calls the database,
// rather than at static destruction. Without it (the CLI's commands) the
// thread starts with the first deadline armed.
class CallDeadlineWatcher final : public Service {
 public:
  void start() override;
  void beginStop(Clock::time_point /*each deadline is a call in progress*/) override {}
  void stop() override;
};

}  // namespace effectd::sql
