// A key once used stays used, however old: after retention has pruned a
// sent welcome email and its event, a Stripe resend of the event and the next
// month's renewal reach the provider with nothing, counted at the stand-in.
#include <gtest/gtest.h>

#include <signal.h>

#include <pqxx/pqxx>

#include "tests/support/billing_db.hpp"
#include "tests/support/daemon.hpp"
#include "tests/support/database.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/standin.hpp"
#include "tests/support/stripe_fixtures.hpp"

namespace effectd::testing {
namespace {

const std::string kSecret = "whsec_retention";

TEST(RetentionE2eTest, APrunedKeyIsNeverSentAgain) {
  TestDatabase db;
  seedOrganization(db.conn(), "org_r", "owner@r.example");
  ProviderStandIn standIn;
  const EnvOverrides env{{"DATABASE_URL", db.url()},           {"STRIPE_WEBHOOK_SECRET", kSecret},
                         {"EMAIL_PROVIDER", "resend"},         {"RESEND_API_URL", standIn.url()},
                         {"RESEND_API_KEY", "re_retention"},   {"EMAIL_MAX_PER_SECOND", "0"},
                         {"ANALYTICS_PROVIDER", "posthog"},    {"POSTHOG_HOST", standIn.url()},
                         {"POSTHOG_API_KEY", "phc_retention"}, {"EFFECTD_POLL_INTERVAL_MS", "200"}};
  StripeSigner signer;
  const SubscriptionSpec active{.id = "sub_r", .customer = "cus_r", .organizationId = "org_r"};
  const auto created = subscriptionEvent(ApiShape::Current, "evt_r_created",
                                         "customer.subscription.created", 1700000000, active);
  auto sentCount = [&] {
    return db.scalar(R"(SELECT count(*) FROM "OutboundEffect" WHERE "status" = 'sent')");
  };
  {
    Daemon daemon(env);
    ASSERT_EQ(daemon.postWebhook(created, signer.sign(created, kSecret)).status, 200);
    ASSERT_TRUE(eventually([&] { return sentCount() == "2"; }, std::chrono::seconds(15)))
        << daemon.log();
    ASSERT_EQ(daemon.process().stop(SIGTERM, std::chrono::seconds(10)), 0);
  }
  ASSERT_EQ(standIn.requests().size(), 2u);  // the welcome email and its analytics event

  // Forty days later (retention is thirty): the next daemon prunes at start.
  pqxx::nontransaction(db.conn()).exec(
      R"(UPDATE "OutboundEffect" SET "updatedAt" = "updatedAt" - interval '40 days',
                                            "createdAt" = "createdAt" - interval '40 days';
               UPDATE "StripeWebhookEvent" SET "receivedAt" = "receivedAt" - interval '40 days')");
  Daemon daemon(env);
  ASSERT_TRUE(eventually(
      [&] {
        return db.scalar(R"(SELECT count(*) FROM "OutboundEffect"
                            WHERE "payloadPrunedAt" IS NOT NULL AND "payload" = '{}')") == "2" &&
               db.scalar(R"(SELECT count(*) FROM "StripeWebhookEvent")") == "0";
      },
      std::chrono::seconds(15)))
      << daemon.log();

  // A dashboard resend of the old event, then the next renewal.
  ASSERT_EQ(daemon.postWebhook(created, signer.sign(created, kSecret)).status, 200);
  SubscriptionSpec renewed = active;
  renewed.periodStart = 1702592000;
  renewed.periodEnd = 1705270400;
  const auto renewal =
      subscriptionEvent(ApiShape::Current, "evt_r_renewal", "customer.subscription.updated",
                        1702592001, renewed, R"({"current_period_end":1702592000})");
  ASSERT_EQ(daemon.postWebhook(renewal, signer.sign(renewal, kSecret)).status, 200);
  ASSERT_TRUE(eventually(
      [&] {
        return db.scalar(R"(SELECT count(*) FROM "StripeWebhookEvent"
                            WHERE "status" = 'processed')") == "2";
      },
      std::chrono::seconds(10)))
      << daemon.log();
  // A later email reaches the provider: the drainer has claimed since, and
  // a wrongly reopened key, due earlier, would have gone first or with it.
  pqxx::nontransaction(db.conn()).exec(
      R"(INSERT INTO "OutboundEffect" ("key", "kind", "payload")
         VALUES ('email:marker', 'email', '{"to":"a@example.com","subject":"Marker","text":"x"}'))");
  ASSERT_TRUE(eventually([&] { return sentCount() == "3"; }, std::chrono::seconds(15)))
      << daemon.log();
  EXPECT_EQ(db.scalar(R"(SELECT count(*) FROM "OutboundEffect" WHERE "status" <> 'sent')"), "0");
  const auto requests = standIn.requests();
  ASSERT_EQ(requests.size(), 3u) << daemon.log();
  EXPECT_EQ(requests.back()["headers"]["idempotency-key"], "email:marker");
}

}  // namespace
}  // namespace effectd::testing
