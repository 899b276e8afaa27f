#include "queue/delivery_abort.hpp"

#include <algorithm>
#include <boost/asio/io_context.hpp>

namespace effectd::queue {

void DeliveryAbort::abort() {
  std::lock_guard lock(mutex_);
  aborted_ = true;
  for (auto* ioc : running_) ioc->stop();  // thread-safe; run() returns soon after
}

bool DeliveryAbort::aborted() const {
  std::lock_guard lock(mutex_);
  return aborted_;
}

bool DeliveryAbort::run(boost::asio::io_context& ioc,
                        std::optional<std::chrono::steady_clock::duration> limit) {
  {
    // restart() clears a stop: it must not undo an abort() that came first.
    std::lock_guard lock(mutex_);
    if (aborted_) return false;
    ioc.restart();
    running_.push_back(&ioc);
  }
  if (limit) {
    ioc.run_for(*limit);
  } else {
    ioc.run();
  }
  std::lock_guard lock(mutex_);
  running_.erase(std::find(running_.begin(), running_.end(), &ioc));
  return !aborted_;
}

}  // namespace effectd::queue
