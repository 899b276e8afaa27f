// The public listener's request handling, free of I/O: a request goes in, a
// reply (or an event to store, then a reply) comes out. Unit-testable.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <variant>

#include "config/config.hpp"
#include "intake/intake_writer.hpp"

namespace effectd::queue {
class ChannelPauses;
}

namespace effectd::sql {
class DatabaseHealth;
}

namespace effectd::daemon {

struct Reply {
  unsigned status = 200;
  std::string body;    // JSON
  std::string reason;  // for the log line; never a secret
  int retryAfterSeconds = 0;
  bool closeConnection = false;
};

struct StoreAction {
  intake::IncomingEvent event;
};

using Decision = std::variant<Reply, StoreAction>;

struct PublicRequest {
  std::string_view method;
  std::string_view target;
  std::string_view stripeSignature;  // empty when absent
  std::string body;
};

class PublicRoutes {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;
  struct Options {
    const config::Config* config = nullptr;
    const sql::DatabaseHealth* health = nullptr;
    const queue::ChannelPauses* pauses = nullptr;  // named by /readyz, when set
    Clock clock = [] { return std::chrono::system_clock::now(); };
  };

  explicit PublicRoutes(Options options) : options_(std::move(options)) {}

  Decision handle(PublicRequest request) const;

  // The reply once the intake writer has answered.
  static Reply afterStore(intake::StoreOutcome outcome);
  // For a body over the limit, answered before it is read.
  Reply bodyTooLarge() const;
  static Reply unavailable(std::string_view reason);

  void startDraining() { draining_ = true; }

 private:
  Decision webhook(PublicRequest& request) const;

  Options options_;
  std::atomic<bool> draining_{false};
};

}  // namespace effectd::daemon
