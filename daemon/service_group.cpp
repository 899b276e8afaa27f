#include "daemon/service_group.hpp"

#include <exception>
#include <utility>

#include "base/log.hpp"

namespace effectd::daemon {

void ServiceGroup::add(std::string name, Service& service) {
  members_.push_back({std::move(name), &service});
}

void ServiceGroup::start() {
  for (;;) {
    Member* next = nullptr;
    {
      std::lock_guard lock(mutex_);
      // A signal during the start: what is left never starts.
      if (stopping_ || started_ == members_.size()) return;
      next = &members_[started_];
    }
    try {
      next->service->start();
    } catch (const std::exception& e) {
      log::error("cannot start", {{"service", next->name}, {"error", e.what()}});
      stop();
      throw;
    }
    std::lock_guard lock(mutex_);
    ++started_;
    // The stop began while this one started: it missed beginStop.
    if (stopping_) next->service->beginStop(deadline_);
  }
}

void ServiceGroup::beginStop(Clock::time_point deadline) {
  std::lock_guard lock(mutex_);
  if (std::exchange(stopping_, true)) return;
  deadline_ = deadline;
  for (auto i = started_; i-- > 0;) members_[i].service->beginStop(deadline);
}

bool ServiceGroup::stopping() {
  std::lock_guard lock(mutex_);
  return stopping_;
}

void ServiceGroup::stop() {
  beginStop(Clock::now());
  Clock::time_point deadline;
  std::size_t started = 0;
  {
    std::lock_guard lock(mutex_);
    deadline = deadline_;
    started = std::exchange(started_, 0);
  }
  // The one whose stop crossed the deadline is named, not every later one.
  const auto late = deadline + std::chrono::seconds(1);
  for (auto i = started; i-- > 0;) {
    const bool inTime = Clock::now() <= late;
    members_[i].service->stop();
    if (inTime && Clock::now() > late) {
      log::warn("stopped past the shutdown deadline", {{"service", members_[i].name}});
    }
  }
}

}  // namespace effectd::daemon
