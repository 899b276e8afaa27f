#include "daemon/io_threads.hpp"

#include <boost/asio/io_context.hpp>

namespace effectd::daemon {

void IoThreads::start() {
  if (!threads_.empty()) return;
  for (int i = 0; i < count_; ++i) threads_.emplace_back([this] { ioc_.run(); });
}

void IoThreads::join() {
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

}  // namespace effectd::daemon
