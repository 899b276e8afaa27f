// One PostgreSQL connection owned by one thread: opened lazily, dropped when
// broken, and reopened with exponential backoff so that a database outage
// costs a failed attempt now and then, not a connection storm.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "sql/call_deadline.hpp"

namespace pqxx {
class connection_base;
}

namespace effectd::sql {

class Connection {
 public:
  struct Options {
    std::string url;
    std::chrono::milliseconds minBackoff{100};
    std::chrono::milliseconds maxBackoff{2000};
    // Longest a call (a transaction's statements and its commit) may take
    // before the connection is cut (EFFECTD_DB_TIMEOUT); 0: no limit.
    std::chrono::milliseconds callTimeout{5000};
  };

  explicit Connection(Options options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // The open connection, or nullptr while the database cannot be reached
  // (then `lastError()` says why). Never blocks longer than one connect attempt.
  pqxx::connection_base* get();

  // Call after an error: drops the connection if libpq reports it broken.
  // Returns true when it was dropped.
  bool dropIfBroken();
  void drop();
  bool isOpen() const;

  // Arms the call deadline on the open connection (get() first) for as long
  // as the result lives.
  [[nodiscard]] CallDeadline deadline();

  const std::string& lastError() const { return lastError_; }

 private:
  struct Impl;
  Options options_;
  std::unique_ptr<Impl> impl_;
  std::string lastError_;
  std::chrono::steady_clock::time_point nextAttempt_{};
  std::chrono::milliseconds backoff_{0};
};

// Opens a connection now, throwing pqxx's exception on failure. For commands
// (migrate, schema check) that run once and report the error to the operator.
class DirectConnection {
 public:
  explicit DirectConnection(const std::string& url);
  ~DirectConnection();
  pqxx::connection_base& operator*();
  pqxx::connection_base* operator->() { return &**this; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace effectd::sql
