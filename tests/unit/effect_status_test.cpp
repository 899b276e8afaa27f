#include "queue/effect_status.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace effectd::queue {
namespace {

using std::chrono::seconds;

const RetryPolicy kPolicy{.base = seconds(10), .max = seconds(3600)};

TEST(EffectStatusTest, EveryStatusHasTheTablesNameAndBack) {
  const auto names = effectStatusNames();
  EXPECT_EQ(names, (std::vector<std::string>{"pending", "running", "sent", "dead", "cancelled",
                                             "unknown"}));
  for (const auto& name : names) EXPECT_EQ(toString(*parseEffectStatus(name)), name);
  EXPECT_FALSE(parseEffectStatus("Pending"));
  EXPECT_FALSE(parseEffectStatus(""));
}

TEST(EffectStatusTest, BackoffDoublesFromTheBaseUpToTheCapAndJittersByAQuarter) {
  EXPECT_EQ(kPolicy.after(1), seconds(10));
  EXPECT_EQ(kPolicy.after(2), seconds(20));
  EXPECT_EQ(kPolicy.after(5), seconds(160));
  EXPECT_EQ(kPolicy.after(9), seconds(2560));
  EXPECT_EQ(kPolicy.after(10), seconds(3600));
  EXPECT_EQ(kPolicy.after(1000), seconds(3600));  // no overflow
  EXPECT_EQ(kPolicy.after(0), seconds(10));
  for (int i = 0; i < 1000; ++i) {
    const double j = kPolicy.jittered(2);
    EXPECT_GE(j, 15.0);
    EXPECT_LT(j, 25.0);
  }
}

TEST(EffectStatusTest, AnAttemptsOutcomeDecidesTheNextStatus) {
  EXPECT_EQ(afterAttempt(DeliveryResult::sent("m"), 1, 5, kPolicy).status, EffectStatus::Sent);
  EXPECT_EQ(afterAttempt(DeliveryResult::dead("400"), 1, 5, kPolicy).status, EffectStatus::Dead);
  EXPECT_EQ(afterAttempt(DeliveryResult::unknown("timeout"), 1, 5, kPolicy).status,
            EffectStatus::Unknown);

  const auto retry = afterAttempt(DeliveryResult::retry("503"), 3, 5, kPolicy);
  EXPECT_EQ(retry.status, EffectStatus::Pending);
  EXPECT_EQ(retry.delay, seconds(40));
  EXPECT_TRUE(retry.jitter);

  // The provider's Retry-After, exactly.
  const auto told = afterAttempt(DeliveryResult::retry("429", seconds(7)), 3, 5, kPolicy);
  EXPECT_EQ(told.status, EffectStatus::Pending);
  EXPECT_EQ(told.delay, seconds(7));
  EXPECT_FALSE(told.jitter);
}

TEST(EffectStatusTest, ATemporaryFailureOnTheLastAttemptIsFinal) {
  EXPECT_EQ(afterAttempt(DeliveryResult::retry("503"), 5, 5, kPolicy).status, EffectStatus::Dead);
  EXPECT_EQ(afterAttempt(DeliveryResult::retry("429", seconds(1)), 6, 5, kPolicy).status,
            EffectStatus::Dead);
  // Unknown stays unknown on the last attempt: an operator decides.
  EXPECT_EQ(afterAttempt(DeliveryResult::unknown("x"), 5, 5, kPolicy).status,
            EffectStatus::Unknown);
}

TEST(EffectStatusTest, NothingThatMayHaveBeenSentIsSentAgainWithoutDeduplication) {
  EXPECT_EQ(afterExpiredLease(true), EffectStatus::Pending);
  EXPECT_EQ(afterExpiredLease(false), EffectStatus::Unknown);
  EXPECT_EQ(atClaim(false), EffectStatus::Running);
  EXPECT_EQ(atClaim(true), EffectStatus::Unknown);
}

TEST(EffectStatusTest, OperatorsNeverTouchRunningOrSentEffects) {
  for (auto command : {OperatorCommand::Retry, OperatorCommand::Cancel}) {
    const auto from = appliesTo(command);
    EXPECT_EQ(std::count(from.begin(), from.end(), EffectStatus::Running), 0);
    EXPECT_EQ(std::count(from.begin(), from.end(), EffectStatus::Sent), 0);
    // A command never applies to the status it leads to.
    EXPECT_EQ(std::count(from.begin(), from.end(), afterCommand(command)), 0);
  }
  EXPECT_EQ(afterCommand(OperatorCommand::Retry), EffectStatus::Pending);
  EXPECT_EQ(afterCommand(OperatorCommand::Cancel), EffectStatus::Cancelled);
}

}  // namespace
}  // namespace effectd::queue
