// The start/stop contract of every long-lived piece of `serve` (the
// listeners, the event-loop threads, the intake writers, the event retrier,
// the health monitor, the drainer, maintenance, the admin worker, the live
// feed, the database call deadlines), which daemon/service_group runs:
//   - construction starts nothing (no thread, no connection), so that a
//     start that fails part way has only what did start to undo;
//   - start() starts it, once; it throws when it cannot;
//   - beginStop(deadline) makes it take no new work and returns at once;
//     what it holds is finished, or cut short, by the deadline;
//   - stop() waits for that and joins its threads (after beginStop(now) if
//     nobody called beginStop); it does nothing for a service never started;
//   - beginStop and stop are safe to call twice, in any order; the
//     destructor calls stop().
#pragma once

#include <chrono>

namespace effectd {

class Service {
 public:
  using Clock = std::chrono::steady_clock;
  virtual ~Service() = default;
  virtual void start() = 0;
  virtual void beginStop(Clock::time_point deadline) = 0;
  virtual void stop() = 0;
};

}  // namespace effectd
