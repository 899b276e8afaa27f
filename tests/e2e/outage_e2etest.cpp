// PostgreSQL stopped under a running daemon: intake answers 503 with
// Retry-After (never 200), /readyz says 503, and both recover by themselves.
#include <gtest/gtest.h>

#include <thread>

#include "tests/support/daemon.hpp"
#include "tests/support/database.hpp"
#include "tests/support/eventually.hpp"

namespace effectd::testing {
namespace {

const std::string kSecret = "whsec_outage";
const std::string kObject = R"({"id":"sub_9","object":"subscription","status":"active"})";

TEST(OutageE2eTest, IntakeAnswers503WhileTheDatabaseIsDownAndRecoversByItself) {
  TestCluster cluster;
  ASSERT_EQ(runCommand({effectdBinary(), "migrate"}, {{"DATABASE_URL", cluster.url()}}).exitCode,
            0);
  Daemon daemon({{"DATABASE_URL", cluster.url()}, {"STRIPE_WEBHOOK_SECRET", kSecret}});
  StripeSigner signer;
  auto post = [&](const std::string& id) {
    const auto body = eventJson(id, "customer.subscription.updated", kObject, unixNow());
    return daemon.postWebhook(body, signer.sign(body, kSecret));
  };

  ASSERT_TRUE(
      eventually([&] { return daemon.get("/readyz").status == 200; }, std::chrono::seconds(10)));
  ASSERT_EQ(post("evt_before").status, 200);

  cluster.stop();
  // Every event posted during the outage is refused with 503 and Retry-After:
  // Stripe will deliver it again.
  std::vector<std::string> refused;
  for (int i = 0; i < 5; ++i) {
    const auto id = "evt_during_" + std::to_string(i);
    const auto answer = post(id);
    EXPECT_EQ(answer.status, 503) << answer.body << answer.error;
    EXPECT_FALSE(answer.header("Retry-After").empty());
    refused.push_back(id);
  }
  EXPECT_TRUE(
      eventually([&] { return daemon.get("/readyz").status == 503; }, std::chrono::seconds(10)));
  EXPECT_EQ(daemon.get("/healthz").status, 200) << "liveness must not follow the database";

  cluster.start();
  EXPECT_TRUE(
      eventually([&] { return daemon.get("/readyz").status == 200; }, std::chrono::seconds(30)));
  // Stripe's retries of the refused events now land, once each.
  for (const auto& id : refused) {
    bool stored = eventually([&] { return post(id).status == 200; }, std::chrono::seconds(30));
    EXPECT_TRUE(stored) << id;
  }
  EXPECT_EQ(post("evt_after").status, 200);

  const auto count =
      runCommand({"psql", cluster.url(), "-tAc", R"(SELECT count(*) FROM "StripeWebhookEvent")"});
  EXPECT_EQ(count.output, "7\n");
  EXPECT_NE(daemon.log().find("database unreachable"), std::string::npos);
}

}  // namespace
}  // namespace effectd::testing
