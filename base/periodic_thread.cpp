#include "base/periodic_thread.hpp"

namespace effectd {

PeriodicThread::PeriodicThread(std::chrono::milliseconds interval, Pass pass)
    : interval_(interval), pass_(std::move(pass)), thread_([this] { run(); }) {}

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
  if (thread_.joinable()) thread_.join();
}

void PeriodicThread::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    const bool more = pass_();
    lock.lock();
    if (!more) wake_.wait_for(lock, interval_, [this] { return stopping_; });
  }
}

}  // namespace effectd
