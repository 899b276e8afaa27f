#include "handlers/subscription_ordering.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace effectd::handlers {
namespace {

SubscriptionState state(std::string sub, std::string status, std::int64_t at, std::string event,
                        std::int64_t created = 1) {
  SubscriptionState s;
  s.object.id = std::move(sub);
  s.object.status = std::move(status);
  s.object.created = created;
  s.eventAt = at;
  s.eventId = std::move(event);
  return s;
}

TEST(SubscriptionOrderingTest, LifecycleRanks) {
  EXPECT_LT(lifecycleRank("incomplete"), lifecycleRank("active"));
  for (auto live : {"trialing", "active", "past_due", "unpaid", "paused"}) {
    EXPECT_EQ(lifecycleRank(live), lifecycleRank("active")) << live;
  }
  EXPECT_LT(lifecycleRank("active"), lifecycleRank("canceled"));
  EXPECT_EQ(lifecycleRank("canceled"), lifecycleRank("incomplete_expired"));
}

TEST(SubscriptionOrderingTest, NewerWinsOlderIsStale) {
  const auto held = state("sub_1", "active", 100, "evt_b");
  EXPECT_EQ(decideOrdering(held, state("sub_1", "past_due", 101, "evt_c")),
            OrderingDecision::Apply);
  EXPECT_EQ(decideOrdering(held, state("sub_1", "past_due", 99, "evt_a")), OrderingDecision::Stale);
  EXPECT_EQ(decideOrdering(held, state("sub_1", "active", 100, "evt_b")),
            OrderingDecision::AlreadyApplied);
}

TEST(SubscriptionOrderingTest, TiesGoToTheLaterLifecycleState) {
  EXPECT_EQ(decideOrdering(state("sub_1", "incomplete", 100, "evt_z"),
                           state("sub_1", "active", 100, "evt_a")),
            OrderingDecision::Apply);
  EXPECT_EQ(decideOrdering(state("sub_1", "active", 100, "evt_a"),
                           state("sub_1", "incomplete", 100, "evt_z")),
            OrderingDecision::Stale);
}

TEST(SubscriptionOrderingTest, CanceledIsFinalAndAlwaysApplies) {
  EXPECT_EQ(decideOrdering(state("sub_1", "canceled", 100, "evt_a"),
                           state("sub_1", "active", 200, "evt_b")),
            OrderingDecision::CanceledIsFinal);
  EXPECT_EQ(decideOrdering(state("sub_1", "active", 200, "evt_b"),
                           state("sub_1", "canceled", 100, "evt_a")),
            OrderingDecision::Apply);
}

// Between subscriptions the events' times do not matter: a live one is
// shown before an ended one, then the one created later.
TEST(SubscriptionOrderingTest, BetweenSubscriptionsLiveThenCreatedLater) {
  const auto oldLive = state("sub_1", "active", 500, "evt_a", 10);
  const auto newLive = state("sub_2", "active", 100, "evt_b", 20);
  const auto newEnded = state("sub_2", "canceled", 900, "evt_c", 20);
  EXPECT_TRUE(showsBefore(newLive, oldLive));
  EXPECT_FALSE(showsBefore(oldLive, newLive));
  EXPECT_TRUE(showsBefore(oldLive, newEnded));
  const auto oldEnded = state("sub_1", "canceled", 100, "evt_d", 10);
  EXPECT_TRUE(showsBefore(newEnded, oldEnded));
  // A new subscription whose first payment has not gone through does not
  // hide the one that is paid; it is shown before ended ones.
  const auto newIncomplete = state("sub_3", "incomplete", 1000, "evt_e", 30);
  EXPECT_TRUE(showsBefore(oldLive, newIncomplete));
  EXPECT_TRUE(showsBefore(newIncomplete, newEnded));
  // A creation time not known (a row from before migration 0004) is newest.
  EXPECT_TRUE(showsBefore(state("sub_0", "active", 1, "evt_f", 0), newLive));
}

// The order the issue found: the old subscription's cancellation first, the
// new subscription's creation (an earlier event) second.
TEST(SubscriptionOrderingTest, APlanSwitchShowsTheNewSubscriptionInEitherOrder) {
  const auto created = state("sub_2", "active", 1000, "evt_new", 1000);
  const auto deleted = state("sub_1", "canceled", 1001, "evt_del", 10);
  for (const auto& order : {std::vector{deleted, created}, std::vector{created, deleted}}) {
    OrganizationSubscriptions org({state("sub_1", "active", 10, "evt_old", 10)});
    for (const auto& e : order) org.record(e);
    ASSERT_NE(org.shown(), nullptr);
    EXPECT_EQ(org.shown()->object.id, "sub_2");
    EXPECT_EQ(org.shown()->object.status, "active");
  }
}

// A stale live event of a subscription that has ended, while the row shows
// another ended one, does not bring it back: its end is remembered.
TEST(SubscriptionOrderingTest, AnEndedSubscriptionIsRememberedWhenAnotherIsShown) {
  OrganizationSubscriptions org;
  org.record(state("sub_1", "canceled", 200, "evt_1_end", 10));
  org.record(state("sub_2", "canceled", 400, "evt_2_end", 300));
  EXPECT_EQ(org.shown()->object.id, "sub_2");
  EXPECT_EQ(org.record(state("sub_1", "active", 100, "evt_1_late", 10)),
            OrderingDecision::CanceledIsFinal);
  EXPECT_EQ(org.shown()->object.id, "sub_2");
}

TEST(SubscriptionOrderingTest, KeepsAtMostTheLimitDroppingEndedOnesFirst) {
  OrganizationSubscriptions org;
  org.record(state("sub_live", "active", 1, "evt_live", 1));
  for (int i = 0; i < 30; ++i) {
    org.record(
        state("sub_" + std::to_string(i), "canceled", 10 + i, "evt_" + std::to_string(i), 100 + i));
  }
  EXPECT_EQ(org.states().size(), OrganizationSubscriptions::kMaxKept);
  EXPECT_EQ(org.shown()->object.id, "sub_live");
  // The newest ended ones are kept, the oldest forgotten.
  const auto kept = [&](const std::string& id) {
    return std::any_of(org.states().begin(), org.states().end(),
                       [&](const auto& s) { return s.object.id == id; });
  };
  EXPECT_TRUE(kept("sub_29"));
  EXPECT_FALSE(kept("sub_0"));
}

// For many subscriptions at once, duplicates included, the shown state does
// not depend on the order of arrival.
TEST(SubscriptionOrderingTest, TheShownStateIsTheSameInEveryOrder) {
  const std::vector<SubscriptionState> events{
      state("sub_1", "incomplete", 100, "evt_1", 100),
      state("sub_1", "active", 101, "evt_2", 100),
      state("sub_1", "past_due", 103, "evt_3", 100),
      state("sub_1", "active", 103, "evt_4", 100),
      state("sub_2", "trialing", 200, "evt_5", 200),
      state("sub_1", "canceled", 201, "evt_6", 100),
      state("sub_1", "active", 207, "evt_7", 100),  // a late, odd update after the deletion
      state("sub_2", "active", 300, "evt_8", 200),
      state("sub_3", "incomplete", 400, "evt_9", 400),
      state("sub_3", "incomplete_expired", 500, "evt_10", 400),
  };
  auto run = [](const std::vector<SubscriptionState>& order) {
    OrganizationSubscriptions org;
    for (const auto& e : order) org.record(e);
    return org.shown()->eventId;
  };
  const auto expected = run(events);
  EXPECT_EQ(expected, "evt_8");
  std::mt19937 rng(20261207);
  for (int i = 0; i < 5000; ++i) {
    auto order = events;
    std::uniform_int_distribution<std::size_t> pick(0, events.size() - 1);
    for (int d = 0; d < 3; ++d) order.push_back(events[pick(rng)]);
    std::shuffle(order.begin(), order.end(), rng);
    ASSERT_EQ(run(order), expected) << "permutation " << i;
  }
}

}  // namespace
}  // namespace effectd::handlers
