// The row an organization ends with does not depend on the order Stripe
// delivers its events in: every order, with a duplicate, of the billing flows
// that switch plans by a new subscription, run through the real handlers
// against an in-memory BillingState, in both API shapes. (The same handlers
// against PostgreSQL: pg.HandlersPgTest.*PlanSwitch*.)
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "handlers/handler.hpp"
#include "tests/support/stripe_fixtures.hpp"

namespace effectd::handlers {
namespace {

using namespace effectd::testing;
constexpr std::int64_t T = 1760000000;

struct Event {
  EventEnvelope envelope;
  nlohmann::json object;
};

struct FinalRow {
  std::string customer, subscription, status, eventId;
  std::set<std::string> effectKeys;
  bool operator==(const FinalRow&) const = default;
};

std::ostream& operator<<(std::ostream& out, const FinalRow& r) {
  return out << r.customer << " " << r.subscription << " " << r.status << " " << r.eventId << " ("
             << r.effectKeys.size() << " effects)";
}

Event read(const std::string& body) {
  const auto parsed = parseEnvelope(body);
  EXPECT_TRUE(parsed.ok()) << parsed.error;
  return {parsed.event, nlohmann::json::parse(body)["data"]["object"]};
}

FinalRow run(const std::vector<const Event*>& order) {
  BillingState state;
  state.addOrganization("org_1", {"org_1 Inc.", {"owner@org1.example"}});
  SubscriptionRow linked;
  linked.organizationId = "org_1";
  linked.customer = "cus_1";
  linked.linkedAt = T - 5000;
  state.addRow(std::move(linked));
  std::vector<queue::NewEffect> effects;
  const nlohmann::json none;
  for (const auto* e : order) {
    HandlerContext ctx{state, e->envelope, none, effects};
    if (e->envelope.type.starts_with("invoice.")) {
      handleInvoiceEvent(ctx, readInvoice(e->object));
    } else {
      handleSubscriptionEvent(ctx, readSubscription(e->object));
    }
  }
  FinalRow out;
  const auto* row = state.row("org_1");
  out.customer = row->customer;
  if (const auto* shown = row->subscriptions.shown()) {
    out.subscription = shown->object.id;
    out.status = shown->object.status;
    out.eventId = shown->eventId;
  }
  for (const auto& effect : effects) out.effectKeys.insert(effect.key);
  return out;
}

// Every order of the events, each with one of them delivered twice (at
// every place): all give the same final row and the same effects.
void expectOneFinalRow(const std::vector<Event>& events, const FinalRow& expected) {
  std::vector<std::size_t> order(events.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  int runs = 0;
  do {
    for (std::size_t dup = 0; dup < events.size(); ++dup) {
      for (std::size_t at = 0; at <= events.size(); ++at) {
        std::vector<const Event*> sequence;
        for (auto i : order) sequence.push_back(&events[i]);
        sequence.insert(sequence.begin() + static_cast<std::ptrdiff_t>(at), &events[dup]);
        const auto got = run(sequence);
        ++runs;
        if (got == expected) continue;
        std::string ids;
        for (const auto* e : sequence) ids += e->envelope.id + " ";
        FAIL() << "order " << ids << "gave " << got << ", expected " << expected;
      }
    }
  } while (std::next_permutation(order.begin(), order.end()));
  EXPECT_GT(runs, 0);
}

class BillingOrderTest : public ::testing::TestWithParam<ApiShape> {
 protected:
  SubscriptionSpec subscription(const std::string& id, const std::string& status,
                                std::int64_t created) {
    SubscriptionSpec s;
    s.id = id;
    s.status = status;
    s.created = created;
    s.price = "price_" + id;
    return s;
  }
  Event sub(const std::string& eventId, const std::string& type, std::int64_t at,
            const SubscriptionSpec& s) {
    return read(subscriptionEvent(GetParam(), eventId, type, at, s));
  }
  Event ended(const std::string& eventId, std::int64_t at, SubscriptionSpec s) {
    s.status = "canceled";
    s.canceledAt = at;
    s.endedAt = at;
    return sub(eventId, "customer.subscription.deleted", at, s);
  }
  std::set<std::string> keysOf(const std::vector<Event>& events) {
    std::vector<const Event*> inOrder;
    for (const auto& e : events) inOrder.push_back(&e);
    return run(inOrder).effectKeys;
  }
};

INSTANTIATE_TEST_SUITE_P(BothApiShapes, BillingOrderTest,
                         ::testing::Values(ApiShape::Legacy, ApiShape::Current),
                         [](const auto& info) {
                           return info.param == ApiShape::Legacy ? "Legacy" : "Current";
                         });

// sub_2 created at T, sub_1 cancelled at T+1: in the order "sub_1 deleted,
// then sub_2 created" the row used to keep sub_1 canceled.
TEST_P(BillingOrderTest, APlanSwitchByANewSubscription) {
  const auto one = subscription("sub_1", "active", T - 1000);
  const auto two = subscription("sub_2", "active", T);
  const std::vector<Event> events{
      sub("evt_1_created", "customer.subscription.created", T - 1000, one),
      sub("evt_2_created", "customer.subscription.created", T, two),
      ended("evt_1_deleted", T + 1, one),
  };
  const auto keys = keysOf(events);
  EXPECT_TRUE(keys.count("email:subscription_started:sub_2"));
  expectOneFinalRow(events, {"cus_1", "sub_2", "active", "evt_2_created", keys});
}

TEST_P(BillingOrderTest, TwoSwitchesInARow) {
  const auto one = subscription("sub_1", "active", T - 1000);
  const auto two = subscription("sub_2", "active", T);
  const auto three = subscription("sub_3", "active", T + 100);
  const std::vector<Event> events{
      sub("evt_1_created", "customer.subscription.created", T - 1000, one),
      sub("evt_2_created", "customer.subscription.created", T, two),
      ended("evt_1_deleted", T + 1, one),
      sub("evt_3_created", "customer.subscription.created", T + 100, three),
      ended("evt_2_deleted", T + 101, two),
  };
  expectOneFinalRow(events, {"cus_1", "sub_3", "active", "evt_3_created", keysOf(events)});
}

TEST_P(BillingOrderTest, ASwitchWithAnInvoiceAndATrialEnd) {
  auto one = subscription("sub_1", "trialing", T - 1000);
  one.trialStart = T - 1000;
  one.trialEnd = T + 5000;
  const auto two = subscription("sub_2", "active", T);
  const std::vector<Event> events{
      sub("evt_1_created", "customer.subscription.created", T - 1000, one),
      sub("evt_1_trial", "customer.subscription.trial_will_end", T - 10, one),
      sub("evt_2_created", "customer.subscription.created", T, two),
      read(invoiceEvent(GetParam(), "evt_2_paid", "invoice.paid", T,
                        {.id = "in_2", .subscription = "sub_2"})),
      ended("evt_1_deleted", T + 1, one),
  };
  const auto keys = keysOf(events);
  EXPECT_TRUE(keys.count("analytics:invoice_paid:in_2"));
  EXPECT_TRUE(keys.count("email:trial_will_end:sub_1:" + std::to_string(T + 5000)));
  expectOneFinalRow(events, {"cus_1", "sub_2", "active", "evt_2_created", keys});
}

// The new subscription fails its first payment and expires while the old
// one goes on: the live one is shown, whichever arrived last.
TEST_P(BillingOrderTest, ANewSubscriptionThatNeverStartedLeavesTheOldOneShown) {
  const auto one = subscription("sub_1", "active", T - 1000);
  const auto two = subscription("sub_2", "incomplete", T);
  auto expired = two;
  expired.status = "incomplete_expired";
  const std::vector<Event> events{
      sub("evt_1_created", "customer.subscription.created", T - 1000, one),
      sub("evt_2_created", "customer.subscription.created", T, two),
      sub("evt_2_expired", "customer.subscription.updated", T + 86400, expired),
      sub("evt_1_renewed", "customer.subscription.updated", T + 10, one),
  };
  expectOneFinalRow(events, {"cus_1", "sub_1", "active", "evt_1_renewed", keysOf(events)});
}

}  // namespace
}  // namespace effectd::handlers
