#include "base/periodic_thread.hpp"

namespace effectd {

PeriodicThread::PeriodicThread(std::chrono::milliseconds interval, Pass pass, FirstPass first)
    : interval_(interval), pass_(std::move(pass)), first_(first) {}

void PeriodicThread::start() {
  std::lock_guard join(joinMutex_);
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { run(first_); });
}

PeriodicThread::~PeriodicThread() {
  stop();
}

void PeriodicThread::beginStop(Clock::time_point /*deadline*/) {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
}

void PeriodicThread::stop() {
  beginStop(Clock::now());
  std::lock_guard join(joinMutex_);
  if (thread_.joinable()) thread_.join();
}

void PeriodicThread::run(FirstPass first) {
  std::unique_lock lock(mutex_);
  if (first == FirstPass::AfterInterval) {
    wake_.wait_for(lock, interval_, [this] { return stopping_; });
  }
  while (!stopping_) {
    lock.unlock();
    const bool more = pass_();
    lock.lock();
    if (!more) wake_.wait_for(lock, interval_, [this] { return stopping_; });
  }
}

}  // namespace effectd
