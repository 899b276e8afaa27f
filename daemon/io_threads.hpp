// The event loop's threads, as a service: start() runs them on the
// io_context; they end when it runs out of work (the listeners closed,
// their last session ended, the signal handled), which join() waits for.
// stop() ends it at once: for a start that failed, with the signal's wait
// still queued.
#pragma once

#include <thread>
#include <vector>

#include "base/service.hpp"

namespace boost::asio {
class io_context;
}

namespace effectd::daemon {

class IoThreads final : public Service {
 public:
  IoThreads(boost::asio::io_context& ioc, int count) : ioc_(ioc), count_(count) {}
  ~IoThreads() override { stop(); }
  IoThreads(const IoThreads&) = delete;
  IoThreads& operator=(const IoThreads&) = delete;

  void start() override;
  // The listeners' shutdown is what ends the loop's work.
  void beginStop(Clock::time_point /*deadline*/) override {}
  // Ends the loop now, if it still runs (a start that failed after it),
  // and joins. After join() it has nothing left to do.
  void stop() override;
  // Waits until every thread has run out of work. From one thread.
  void join();

 private:
  boost::asio::io_context& ioc_;
  int count_;
  std::vector<std::thread> threads_;
};

}  // namespace effectd::daemon
