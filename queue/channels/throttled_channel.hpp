// Per-provider limits: at most N deliveries at once and at most R per second
// (a token bucket with a burst of one second's worth). Providers throttle
// (Resend's default is 2 requests per second) and answer 429 beyond it;
// staying under the limit costs less than retrying.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>

#include "queue/effect.hpp"

namespace effectd::queue {

class ThrottledChannel : public Channel {
 public:
  struct Limits {
    int maxConcurrency = 0;   // 0: no limit
    double maxPerSecond = 0;  // 0: no limit
  };
  ThrottledChannel(std::unique_ptr<Channel> inner, Limits limits);
  DeliveryResult deliver(const ClaimedEffect& effect) override;
  bool idempotent() const override { return inner_->idempotent(); }
  std::string_view name() const override { return inner_->name(); }

 private:
  void acquire();
  void release();

  std::unique_ptr<Channel> inner_;
  Limits limits_;
  std::mutex mutex_;
  std::condition_variable freed_;
  int running_ = 0;
  double tokens_ = 0;
  std::chrono::steady_clock::time_point refilled_;
};

}  // namespace effectd::queue
