#include "daemon/io_threads.hpp"

#include <boost/asio/io_context.hpp>

namespace effectd::daemon {

void IoThreads::start() {
  if (!threads_.empty()) return;
  try {
    for (int i = 0; i < count_; ++i) threads_.emplace_back([this] { ioc_.run(); });
  } catch (...) {
    stop();  // the ones that did start
    throw;
  }
}

void IoThreads::stop() {
  if (threads_.empty()) return;
  ioc_.stop();
  join();
}

void IoThreads::join() {
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

}  // namespace effectd::daemon
