#include "handlers/subscription_ordering.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace effectd::handlers {
namespace {

MirroredState row(std::string sub, std::string status, std::int64_t at, std::string id) {
  return {std::move(sub), std::move(status), at, std::move(id)};
}

TEST(SubscriptionOrderingTest, LifecycleRanks) {
  EXPECT_LT(lifecycleRank("incomplete"), lifecycleRank("active"));
  for (auto live : {"trialing", "active", "past_due", "unpaid", "paused"}) {
    EXPECT_EQ(lifecycleRank(live), lifecycleRank("active")) << live;
  }
  EXPECT_LT(lifecycleRank("active"), lifecycleRank("canceled"));
  EXPECT_EQ(lifecycleRank("canceled"), lifecycleRank("incomplete_expired"));
}

TEST(SubscriptionOrderingTest, ALinkedRowWithoutSubscriptionTakesAnything) {
  EXPECT_EQ(decideOrdering({}, {"sub_1", "incomplete", 5, "evt_1"}), OrderingDecision::Apply);
}

TEST(SubscriptionOrderingTest, NewerWinsOlderIsStale) {
  const auto r = row("sub_1", "active", 100, "evt_b");
  EXPECT_EQ(decideOrdering(r, {"sub_1", "past_due", 101, "evt_c"}), OrderingDecision::Apply);
  EXPECT_EQ(decideOrdering(r, {"sub_1", "past_due", 99, "evt_a"}), OrderingDecision::Stale);
  EXPECT_EQ(decideOrdering(r, {"sub_1", "active", 100, "evt_b"}), OrderingDecision::AlreadyApplied);
}

TEST(SubscriptionOrderingTest, TiesGoToTheLaterLifecycleState) {
  EXPECT_EQ(
      decideOrdering(row("sub_1", "incomplete", 100, "evt_z"), {"sub_1", "active", 100, "evt_a"}),
      OrderingDecision::Apply);
  EXPECT_EQ(
      decideOrdering(row("sub_1", "active", 100, "evt_a"), {"sub_1", "incomplete", 100, "evt_z"}),
      OrderingDecision::Stale);
}

TEST(SubscriptionOrderingTest, CanceledIsFinalAndAlwaysApplies) {
  EXPECT_EQ(
      decideOrdering(row("sub_1", "canceled", 100, "evt_a"), {"sub_1", "active", 200, "evt_b"}),
      OrderingDecision::CanceledIsFinal);
  EXPECT_EQ(
      decideOrdering(row("sub_1", "active", 200, "evt_b"), {"sub_1", "canceled", 100, "evt_a"}),
      OrderingDecision::Apply);
}

TEST(SubscriptionOrderingTest, AnotherSubscriptionReplacesOnlyWithANewerEvent) {
  const auto canceled = row("sub_1", "canceled", 100, "evt_a");
  EXPECT_EQ(decideOrdering(canceled, {"sub_2", "active", 101, "evt_b"}), OrderingDecision::Apply);
  EXPECT_EQ(decideOrdering(canceled, {"sub_0", "active", 99, "evt_old"}),
            OrderingDecision::OtherSubscription);
  const auto live = row("sub_2", "active", 101, "evt_b");
  EXPECT_EQ(decideOrdering(live, {"sub_1", "canceled", 300, "evt_c"}),
            OrderingDecision::OtherSubscription);
  EXPECT_EQ(decideOrdering(live, {"sub_1", "active", 50, "evt_d"}),
            OrderingDecision::OtherSubscription);
}

// The property the handlers rely on: for one subscription, the row's final
// state does not depend on the order the events arrive in, duplicates included.
TEST(SubscriptionOrderingTest, FinalStateIsTheSameInEveryOrder) {
  const std::vector<IncomingState> events{
      {"sub_1", "incomplete", 100, "evt_1"}, {"sub_1", "active", 101, "evt_2"},
      {"sub_1", "past_due", 103, "evt_3"},   {"sub_1", "active", 103, "evt_4"},
      {"sub_1", "active", 105, "evt_5"},     {"sub_1", "canceled", 106, "evt_6"},
      {"sub_1", "active", 107, "evt_7"},  // a late, odd update after the deletion
  };
  auto run = [](std::vector<IncomingState> order) {
    MirroredState state;
    for (const auto& e : order) {
      if (decideOrdering(state, e) == OrderingDecision::Apply) {
        state = {e.subscriptionId, e.status, e.eventAt, e.eventId};
      }
    }
    return state.eventId;
  };
  const auto expected = run(events);
  EXPECT_EQ(expected, "evt_6");
  std::mt19937 rng(20261126);
  for (int i = 0; i < 2000; ++i) {
    auto order = events;
    std::uniform_int_distribution<std::size_t> pick(0, events.size() - 1);
    for (int d = 0; d < 3; ++d) order.push_back(events[pick(rng)]);
    std::shuffle(order.begin(), order.end(), rng);
    ASSERT_EQ(run(order), expected) << "permutation " << i;
  }
}

}  // namespace
}  // namespace effectd::handlers
