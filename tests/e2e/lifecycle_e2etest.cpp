// A subscription's whole lifecycle over HTTP, signed by Stripe's SDK: in
// order, then in 50 seeded random orders with duplicate deliveries on
// several connections, each on a fresh database. The final Subscription row
// and the set of effect keys must be the in-order ones every time.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <pqxx/pqxx>
#include <random>
#include <thread>

#include "tests/support/billing_db.hpp"
#include "tests/support/daemon.hpp"
#include "tests/support/database.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/stripe_fixtures.hpp"

namespace effectd::testing {
namespace {

const std::string kSecret = "whsec_lifecycle";
constexpr std::int64_t T = 1760000000;

struct Delivery {
  std::string id;
  std::string body;
};

// checkout completed, created (incomplete), updated (active), invoice paid,
// updated (past_due), invoice payment failed, updated (active), deleted.
// The subscription carries no organization: only the checkout links it.
std::vector<Delivery> lifecycle(ApiShape shape) {
  auto spec = [](const std::string& status) {
    SubscriptionSpec s;
    s.status = status;
    s.created = T;
    return s;
  };
  auto canceled = spec("canceled");
  canceled.canceledAt = T + 7;
  canceled.endedAt = T + 7;
  return {
      {"evt_co", checkoutCompletedEvent(shape, "evt_co", T, {.clientReferenceId = "org_1"})},
      {"evt_c", subscriptionEvent(shape, "evt_c", "customer.subscription.created", T + 1,
                                  spec("incomplete"))},
      {"evt_u1", subscriptionEvent(shape, "evt_u1", "customer.subscription.updated", T + 2,
                                   spec("active"), R"({"status":"incomplete"})")},
      {"evt_ip", invoiceEvent(shape, "evt_ip", "invoice.paid", T + 3, {})},
      {"evt_u2", subscriptionEvent(shape, "evt_u2", "customer.subscription.updated", T + 4,
                                   spec("past_due"), R"({"status":"active"})")},
      {"evt_pf", invoiceEvent(shape, "evt_pf", "invoice.payment_failed", T + 5,
                              {.id = "in_2", .paid = false})},
      {"evt_u3", subscriptionEvent(shape, "evt_u3", "customer.subscription.updated", T + 6,
                                   spec("active"), R"({"status":"past_due"})")},
      {"evt_d",
       subscriptionEvent(shape, "evt_d", "customer.subscription.deleted", T + 7, canceled)},
  };
}

struct Outcome {
  std::map<std::string, std::string> row;
  std::set<std::string> keys;
};

class LifecycleE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { signer_ = new StripeSigner(); }
  static void TearDownTestSuite() {
    delete signer_;
    signer_ = nullptr;
  }

  // Posts `order` on `connections` concurrent connections, on a fresh
  // database, and waits until every event is handled.
  Outcome run(const std::vector<Delivery>& order, int connections, std::size_t uniqueEvents,
              std::function<void(TestDatabase&)> after = nullptr) {
    TestDatabase db;
    seedOrganization(db.conn(), "org_1", "owner@org1.example");
    Daemon daemon({{"DATABASE_URL", db.url()},
                   {"STRIPE_WEBHOOK_SECRET", kSecret},
                   {"EFFECTD_LOG_LEVEL", "info"},
                   {"EFFECTD_EVENT_RETRY_BASE", "1"},
                   {"EFFECTD_EVENT_RETRY_POLL_MS", "50"}});
    std::vector<std::string> signatures;
    for (const auto& d : order) signatures.push_back(signer_->sign(d.body, kSecret));
    std::atomic<std::size_t> next{0};
    std::vector<std::thread> threads;
    std::atomic<int> non200{0};
    for (int c = 0; c < connections; ++c) {
      threads.emplace_back([&] {
        for (auto i = next++; i < order.size(); i = next++) {
          const auto answer = daemon.postWebhook(order[i].body, signatures[i]);
          if (answer.status != 200) ++non200;
        }
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(non200.load(), 0) << daemon.log();

    const auto want = std::to_string(uniqueEvents);
    const auto handled = [&] {
      return db.scalar(
          R"(SELECT count(*) FROM "StripeWebhookEvent" WHERE "status" IN ('processed', 'ignored'))");
    };
    EXPECT_TRUE(eventually([&] { return handled() == want; }, std::chrono::seconds(30)))
        << db.scalar(
               R"(SELECT string_agg("id" || ':' || "status" || ':' || COALESCE("lastError", ''), ', ')
           FROM "StripeWebhookEvent")");
    if (after) after(db);
    return {subscriptionRow(db.conn(), "org_1"), effectKeys(db.conn())};
  }

  static StripeSigner* signer_;
};
StripeSigner* LifecycleE2eTest::signer_ = nullptr;

TEST_F(LifecycleE2eTest, AnyOrderAnyDuplicatesSameRowSameEffects) {
  const auto inOrder = lifecycle(ApiShape::Legacy);
  const auto expected = run(inOrder, 1, inOrder.size());
  ASSERT_EQ(expected.row.at("status"), "canceled");
  ASSERT_EQ(expected.row.at("stripeEventId"), "evt_d");
  ASSERT_EQ(expected.keys, lifecycleEffectKeys());

  const char* seedText = std::getenv("EFFECTD_TEST_SEED");
  const unsigned seed = seedText ? static_cast<unsigned>(std::stoul(seedText)) : 20261126u;
  std::mt19937 rng(seed);
  for (int permutation = 0; permutation < 50; ++permutation) {
    const auto shape = permutation % 2 ? ApiShape::Current : ApiShape::Legacy;
    auto order = lifecycle(shape);
    const auto unique = order.size();
    std::bernoulli_distribution duplicate(0.4);
    for (std::size_t i = 0; i < unique; ++i) {
      if (duplicate(rng)) order.push_back(order[i]);
    }
    std::shuffle(order.begin(), order.end(), rng);
    std::string sequence;
    for (const auto& d : order) sequence += d.id + " ";
    const auto got = run(order, 4, unique);
    ASSERT_EQ(got.row, expected.row)
        << "seed " << seed << ", permutation " << permutation << ": " << sequence;
    ASSERT_EQ(got.keys, expected.keys)
        << "seed " << seed << ", permutation " << permutation << ": " << sequence;
  }
}

TEST_F(LifecycleE2eTest, ReplayingEveryEventWithTheCliChangesNothing) {
  const auto events = lifecycle(ApiShape::Current);
  run(events, 1, events.size(), [](TestDatabase& db) {
    // The drainer is sending the effects meanwhile: let it finish first.
    ASSERT_TRUE(eventually(
        [&] {
          return db.scalar(R"(SELECT count(*) FROM "OutboundEffect" WHERE "status" <> 'sent')") ==
                 "0";
        },
        std::chrono::seconds(10)));
    auto snapshot = [&] {
      return db.scalar(R"(SELECT string_agg(s::text, '|') FROM "Subscription" s)") + "#" +
             db.scalar(R"(SELECT string_agg(e::text, '|' ORDER BY "key") FROM "OutboundEffect" e)");
    };
    const auto before = snapshot();
    const auto replay = runCommand({effectdBinary(), "events", "replay", "--since", "2000-01-01"},
                                   {{"DATABASE_URL", db.url()}});
    EXPECT_EQ(replay.exitCode, 0) << replay.output;
    EXPECT_NE(replay.output.find("8 replayed, 0 failed"), std::string::npos) << replay.output;
    EXPECT_EQ(snapshot(), before);

    const auto list =
        runCommand({effectdBinary(), "events", "list", "--type", "invoice.paid", "--json"},
                   {{"DATABASE_URL", db.url()}});
    EXPECT_EQ(list.exitCode, 0) << list.output;
    EXPECT_NE(list.output.find(R"("id": "evt_ip")"), std::string::npos) << list.output;
    const auto show =
        runCommand({effectdBinary(), "events", "show", "evt_d"}, {{"DATABASE_URL", db.url()}});
    EXPECT_NE(show.output.find(R"("status": "processed")"), std::string::npos) << show.output;
    EXPECT_NE(show.output.find(R"("payload")"), std::string::npos);
  });
}

// The plan switch the issue found, through the binary: sub_2 created at
// T+10, sub_1 deleted at T+11, delivered newest first. The organization
// shows sub_2 active, not canceled.
TEST_F(LifecycleE2eTest, APlanSwitchDeliveredNewestFirstShowsTheNewSubscription) {
  const auto shape = ApiShape::Current;
  SubscriptionSpec one;
  one.created = T;
  auto ended = one;
  ended.status = "canceled";
  ended.canceledAt = T + 11;
  ended.endedAt = T + 11;
  SubscriptionSpec two;
  two.id = "sub_2";
  two.price = "price_team";
  two.created = T + 10;
  const std::vector<Delivery> order{
      {"evt_co", checkoutCompletedEvent(shape, "evt_co", T, {.clientReferenceId = "org_1"})},
      {"evt_1", subscriptionEvent(shape, "evt_1", "customer.subscription.created", T + 1, one)},
      {"evt_1_deleted",
       subscriptionEvent(shape, "evt_1_deleted", "customer.subscription.deleted", T + 11, ended)},
      {"evt_2", subscriptionEvent(shape, "evt_2", "customer.subscription.created", T + 10, two)},
  };
  const auto got = run(order, 1, order.size());
  EXPECT_EQ(got.row.at("stripeSubscriptionId"), "sub_2");
  EXPECT_EQ(got.row.at("status"), "active");
  EXPECT_EQ(got.row.at("stripePriceId"), "price_team");
}

// A buyer's Payment Link with ?client_reference_id=org_1 while org_1 pays
// through cus_1: the checkout is answered 200 and stored failed with its
// reason; org_1 keeps its row; the operator's replay --relink applies it.
TEST_F(LifecycleE2eTest, ABuyersCheckoutCannotTakeAnOrganizationWithALiveSubscription) {
  const auto shape = ApiShape::Legacy;
  SubscriptionSpec one;
  one.created = T;
  const std::vector<Delivery> order{
      {"evt_co", checkoutCompletedEvent(shape, "evt_co", T, {.clientReferenceId = "org_1"})},
      {"evt_1", subscriptionEvent(shape, "evt_1", "customer.subscription.created", T + 1, one)},
      {"evt_takeover",
       checkoutCompletedEvent(
           shape, "evt_takeover", T + 100,
           {.id = "cs_buyer", .customer = "cus_buyer", .clientReferenceId = "org_1"})},
  };
  run(order, 1, 2, [](TestDatabase& db) {
    const EnvOverrides env{{"DATABASE_URL", db.url()}};
    EXPECT_EQ(subscriptionRow(db.conn(), "org_1").at("stripeCustomerId"), "cus_1");
    const auto failed =
        runCommand({effectdBinary(), "events", "list", "--status", "failed", "--json"}, env);
    EXPECT_EQ(failed.exitCode, 0) << failed.output;
    EXPECT_NE(failed.output.find("evt_takeover"), std::string::npos) << failed.output;
    EXPECT_NE(failed.output.find("refused to move organization org_1 from customer cus_1"),
              std::string::npos)
        << failed.output;
    const auto plain = runCommand({effectdBinary(), "events", "replay", "evt_takeover"}, env);
    EXPECT_EQ(plain.exitCode, 1) << plain.output;
    EXPECT_EQ(subscriptionRow(db.conn(), "org_1").at("stripeCustomerId"), "cus_1");
    const auto decided =
        runCommand({effectdBinary(), "events", "replay", "evt_takeover", "--relink"}, env);
    EXPECT_EQ(decided.exitCode, 0) << decided.output;
    EXPECT_NE(decided.output.find("evt_takeover  checkout.session.completed  processed"),
              std::string::npos)
        << decided.output;
    EXPECT_EQ(subscriptionRow(db.conn(), "org_1").at("stripeCustomerId"), "cus_buyer");
  });
}

}  // namespace
}  // namespace effectd::testing
