// The start/stop contract of every background service (the intake writers,
// the event retrier, the health monitor, the drainer, queue maintenance), so
// that `serve` stops them all within one shutdown budget:
//   - a service runs from its construction;
//   - beginStop(deadline) makes it take no new work and returns at once;
//     what it holds is finished, or cut short, by the deadline;
//   - stop() waits for that and joins its threads (after beginStop(now) if
//     nobody called beginStop);
//   - both are safe to call twice, in any order; the destructor calls stop().
#pragma once

#include <chrono>

namespace effectd {

class Service {
 public:
  using Clock = std::chrono::steady_clock;
  virtual ~Service() = default;
  virtual void beginStop(Clock::time_point deadline) = 0;
  virtual void stop() = 0;
};

}  // namespace effectd
