// Lets a stopping daemon cut provider calls short once its shutdown grace is
// over. Blocking channels run every network step through run(); abort()
// stops each io_context running one and makes later steps fail at once, so
// a hung provider cannot hold the process past EFFECTD_SHUTDOWN_TIMEOUT.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace effectd::queue {

class DeliveryAbort {
 public:
  void abort();
  bool aborted() const;
  // Runs `ioc` until it is out of work, `limit` has passed, or abort() is
  // called. Returns false when aborted, before or during the run.
  bool run(boost::asio::io_context& ioc,
           std::optional<std::chrono::steady_clock::duration> limit = std::nullopt);

 private:
  mutable std::mutex mutex_;
  bool aborted_ = false;
  std::vector<boost::asio::io_context*> running_;
};

}  // namespace effectd::queue
