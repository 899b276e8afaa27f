#include "queue/channels/throttled_channel.hpp"

#include <algorithm>
#include <thread>

namespace effectd::queue {

ThrottledChannel::ThrottledChannel(std::unique_ptr<Channel> inner, Limits limits)
    : inner_(std::move(inner)),
      limits_(limits),
      tokens_(std::max(1.0, limits.maxPerSecond)),
      refilled_(std::chrono::steady_clock::now()) {}

void ThrottledChannel::acquire() {
  std::unique_lock lock(mutex_);
  if (limits_.maxConcurrency > 0) {
    freed_.wait(lock, [this] { return running_ < limits_.maxConcurrency; });
  }
  ++running_;
  if (limits_.maxPerSecond <= 0) return;
  const double burst = std::max(1.0, limits_.maxPerSecond);
  for (;;) {
    const auto now = std::chrono::steady_clock::now();
    tokens_ = std::min(burst, tokens_ + std::chrono::duration<double>(now - refilled_).count() *
                                            limits_.maxPerSecond);
    refilled_ = now;
    if (tokens_ >= 1.0) {
      tokens_ -= 1.0;
      return;
    }
    const auto wait = std::chrono::duration<double>((1.0 - tokens_) / limits_.maxPerSecond);
    lock.unlock();
    std::this_thread::sleep_for(wait);
    lock.lock();
  }
}

void ThrottledChannel::release() {
  {
    std::lock_guard lock(mutex_);
    --running_;
  }
  freed_.notify_one();
}

DeliveryResult ThrottledChannel::deliver(const ClaimedEffect& effect) {
  acquire();
  struct Release {
    ThrottledChannel* self;
    ~Release() { self->release(); }
  } guard{this};
  return inner_->deliver(effect);
}

}  // namespace effectd::queue
