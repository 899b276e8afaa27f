// Every long-lived piece of `serve`, started in one order and stopped in the
// reverse one, by one deadline: what starts first (the database call
// deadlines, the health monitor, the intake writers) is what the later
// pieces (the drainer, the event loop, the listeners) rely on, and so stops
// last. A start that fails part way stops, in reverse, what did start.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "base/service.hpp"

namespace effectd::daemon {

class ServiceGroup {
 public:
  using Clock = Service::Clock;

  // In start order. The service must outlive the group's stop().
  void add(std::string name, Service& service);

  // Starts each in order. When one throws, beginStop(now) and stop() the
  // ones started, in reverse order, and rethrows.
  void start();
  // beginStop(deadline) on each started service, in reverse order, at once.
  // Thread-safe (a signal handler calls it); the first call counts.
  void beginStop(Clock::time_point deadline);
  // Whether beginStop has been called (a signal during the start, say).
  bool stopping();
  // beginStop(now) if nobody called it; then stop() on each, in reverse
  // order, naming the one whose stop ran past the deadline.
  void stop();

 private:
  struct Member {
    std::string name;
    Service* service;
  };
  std::vector<Member> members_;
  std::size_t started_ = 0;
  std::mutex mutex_;
  bool stopping_ = false;
  Clock::time_point deadline_{};
};

}  // namespace effectd::daemon
