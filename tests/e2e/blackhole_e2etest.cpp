// PostgreSQL unreachable without a reset (a proxy that stops forwarding and
// closes nothing): every database call has a deadline, so webhooks answer 503
// within seconds instead of waiting for TCP's own timeouts, /readyz turns
// 503, the daemon recovers by itself, and SIGTERM is not held up.
#include <gtest/gtest.h>

#include <signal.h>

#include <thread>

#include "tests/support/daemon.hpp"
#include "tests/support/database.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/standin.hpp"

namespace effectd::testing {
namespace {

const std::string kSecret = "whsec_blackhole";
const std::string kObject = R"({"id":"sub_bh","object":"subscription","status":"active"})";

TEST(BlackHoleE2eTest, ADatabaseThatStopsAnsweringCosts503sWithinSecondsNotMinutes) {
  TestDatabase db;
  BlackHoleProxy proxy(portOf(db.url()));
  ASSERT_NE(proxy.port(), 0);
  Daemon daemon({{"DATABASE_URL", throughPort(db.url(), proxy.port())},
                 {"STRIPE_WEBHOOK_SECRET", kSecret},
                 {"EFFECTD_DB_TIMEOUT", "2"},
                 {"EFFECTD_SHUTDOWN_TIMEOUT", "3"}});
  StripeSigner signer;
  auto post = [&](const std::string& id) {
    const auto body = eventJson(id, "customer.subscription.updated", kObject, unixNow());
    return daemon.postWebhook(body, signer.sign(body, kSecret));
  };
  ASSERT_TRUE(
      eventually([&] { return daemon.get("/readyz").status == 200; }, std::chrono::seconds(10)));
  ASSERT_EQ(post("evt_bh_before").status, 200);

  proxy.blackHole(true);
  // Without deadlines this request waits for TCP (minutes): the test client
  // gives up after its own 10 s and sees no answer at all.
  const auto during = post("evt_bh_during");
  EXPECT_EQ(during.status, 503) << during.error << daemon.log();
  EXPECT_FALSE(during.header("Retry-After").empty());
  EXPECT_TRUE(
      eventually([&] { return daemon.get("/readyz").status == 503; }, std::chrono::seconds(10)))
      << daemon.log();

  proxy.blackHole(false);
  EXPECT_TRUE(
      eventually([&] { return daemon.get("/readyz").status == 200; }, std::chrono::seconds(20)))
      << daemon.log();
  // Stripe's retry of the refused event lands.
  EXPECT_TRUE(
      eventually([&] { return post("evt_bh_during").status == 200; }, std::chrono::seconds(20)));
  EXPECT_EQ(db.scalar(R"(SELECT count(*) FROM "StripeWebhookEvent")"), "2");

  // SIGTERM while the database is a black hole again: the stop is bounded.
  proxy.blackHole(true);
  // Its health check has run into the hole.
  EXPECT_TRUE(
      eventually([&] { return daemon.get("/readyz").status == 503; }, std::chrono::seconds(20)))
      << daemon.log();
  EXPECT_EQ(daemon.process().stop(SIGTERM, std::chrono::seconds(15)), 0) << daemon.log();
  proxy.blackHole(false);
}

}  // namespace
}  // namespace effectd::testing
