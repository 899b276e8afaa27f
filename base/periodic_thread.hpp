// A background thread that runs a pass, waits an interval (or runs the next
// pass at once when the pass found more to do), and so on until stopped: the
// loop of the services that poll (the health monitor, the event retrier,
// queue maintenance). A pass in progress when the service is stopped runs
// to its end; passes bound their own time (database deadlines).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "base/service.hpp"

namespace effectd {

class PeriodicThread final : public Service {
 public:
  // Returns true when there is more to do right away.
  using Pass = std::function<bool()>;

  enum class FirstPass { AtOnce, AfterInterval };
  // The thread starts with start().
  PeriodicThread(std::chrono::milliseconds interval, Pass pass,
                 FirstPass first = FirstPass::AtOnce);
  ~PeriodicThread() override;
  PeriodicThread(const PeriodicThread&) = delete;
  PeriodicThread& operator=(const PeriodicThread&) = delete;

  void start() override;
  void beginStop(Clock::time_point deadline) override;
  void stop() override;

 private:
  void run(FirstPass first);

  std::chrono::milliseconds interval_;
  Pass pass_;
  FirstPass first_;
  std::mutex joinMutex_;  // two stop()s: the second waits for the first's join
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace effectd
