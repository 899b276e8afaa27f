#include "base/log_throttle.hpp"

#include <gtest/gtest.h>

namespace effectd::log {
namespace {

using namespace std::chrono_literals;

TEST(LogThrottleTest, LetsThroughItsRateAndReportsWhatItHeldBack) {
  LogThrottle throttle(2);
  const auto t = std::chrono::steady_clock::time_point{} + 100s;
  EXPECT_EQ(throttle.admit(400, t), 0u);
  EXPECT_EQ(throttle.admit(400, t + 1ms), 0u);
  EXPECT_EQ(throttle.admit(400, t + 2ms), std::nullopt);
  EXPECT_EQ(throttle.admit(400, t + 900ms), std::nullopt);
  // A new second: the next line written says two were held back.
  EXPECT_EQ(throttle.admit(400, t + 1s), 2u);
  EXPECT_EQ(throttle.admit(400, t + 1s + 1ms), 0u);
  EXPECT_EQ(throttle.admit(400, t + 1s + 2ms), std::nullopt);
  EXPECT_EQ(throttle.admit(400, t + 5s), 1u);
}

TEST(LogThrottleTest, EachStatusHasABudgetOfItsOwn) {
  LogThrottle throttle(1);
  const auto t = std::chrono::steady_clock::time_point{} + 100s;
  EXPECT_EQ(throttle.admit(400, t), 0u);
  EXPECT_EQ(throttle.admit(400, t), std::nullopt);  // a flood of garbage...
  EXPECT_EQ(throttle.admit(401, t), 0u);            // ...does not hide a bad signature
  EXPECT_EQ(throttle.admit(413, t), 0u);
}

}  // namespace
}  // namespace effectd::log
