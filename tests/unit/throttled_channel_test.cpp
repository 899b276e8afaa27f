#include "queue/channels/throttled_channel.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace effectd::queue {
namespace {

class SlowChannel : public Channel {
 public:
  DeliveryResult deliver(const ClaimedEffect&) override {
    const int now = ++running;
    int seen = peak.load();
    while (now > seen && !peak.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    --running;
    ++delivered;
    return DeliveryResult::sent();
  }
  bool idempotent() const override { return true; }
  std::string_view name() const override { return "slow"; }
  std::atomic<int> running{0}, peak{0}, delivered{0};
};

TEST(ThrottledChannelTest, NeverMoreThanTheConcurrencyLimitAtOnce) {
  auto inner = std::make_unique<SlowChannel>();
  auto* slow = inner.get();
  ThrottledChannel channel(std::move(inner), {.maxConcurrency = 2});
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) threads.emplace_back([&] { channel.deliver({}); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(slow->delivered, 8);
  EXPECT_EQ(slow->peak, 2);
}

TEST(ThrottledChannelTest, KeepsToTheRateAfterTheBurst) {
  auto inner = std::make_unique<SlowChannel>();
  ThrottledChannel channel(std::move(inner), {.maxPerSecond = 20});
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 30; ++i) channel.deliver({});
  // 20 may go at once (one second's burst); the other 10 need half a second.
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(450));
}

}  // namespace
}  // namespace effectd::queue
