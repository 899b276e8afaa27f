#include "sql/connection.hpp"

#include <algorithm>
#include <pqxx/pqxx>

#include "base/log.hpp"
#include "sql/error_text.hpp"

namespace effectd::sql {

struct Connection::Impl {
  explicit Impl(const std::string& url) : conn(url) {}
  pqxx::connection conn;
};

Connection::Connection(Options options) : options_(std::move(options)) {}
Connection::~Connection() = default;

pqxx::connection_base* Connection::get() {
  if (impl_ && impl_->conn.is_open()) return &impl_->conn;
  impl_.reset();
  const auto now = std::chrono::steady_clock::now();
  if (now < nextAttempt_) return nullptr;
  try {
    impl_ = std::make_unique<Impl>(options_.url);
    if (backoff_.count() > 0) log::info("database connection restored");
    backoff_ = std::chrono::milliseconds{0};
    lastError_.clear();
    return &impl_->conn;
  } catch (const std::exception& e) {
    lastError_ = errorText(e);
    backoff_ = std::clamp(backoff_ * 2, options_.minBackoff, options_.maxBackoff);
    nextAttempt_ = now + backoff_;
    log::warn("database connection failed",
              {{"error", lastError_}, {"retry_in_ms", static_cast<long>(backoff_.count())}});
    return nullptr;
  }
}

bool Connection::dropIfBroken() {
  if (impl_ && !impl_->conn.is_open()) {
    impl_.reset();
    return true;
  }
  return false;
}

void Connection::drop() {
  impl_.reset();
}

bool Connection::isOpen() const {
  return impl_ && impl_->conn.is_open();
}

CallDeadline Connection::deadline() {
  if (!impl_) return CallDeadline(std::chrono::milliseconds(0));
  return CallDeadline(impl_->conn, options_.callTimeout);
}

struct DirectConnection::Impl {
  explicit Impl(const std::string& url) : conn(url) {}
  pqxx::connection conn;
};

DirectConnection::DirectConnection(const std::string& url) : impl_(std::make_unique<Impl>(url)) {}
DirectConnection::~DirectConnection() = default;
pqxx::connection_base& DirectConnection::operator*() {
  return impl_->conn;
}

}  // namespace effectd::sql
