#include "daemon/public_routes.hpp"

#include <gtest/gtest.h>

#include "handlers/signature.hpp"
#include "sql/database_health.hpp"

namespace effectd::daemon {
namespace {

using std::chrono::seconds;
using std::chrono::system_clock;
constexpr std::int64_t kNow = 1700000000;

class PublicRoutesTest : public ::testing::Test {
 protected:
  PublicRoutesTest() {
    config_.stripeWebhookSecrets = {"whsec_unit"};
    health_.reportReachable();
  }

  PublicRoutes routes() {
    return PublicRoutes({.config = &config_, .health = &health_, .clock = [] {
                           return system_clock::time_point(seconds(kNow));
                         }});
  }

  static std::string event(bool livemode = false) {
    return std::string(R"({"id":"evt_u1","object":"event","type":"invoice.paid","created":)") +
           std::to_string(kNow) + R"(,"livemode":)" + (livemode ? "true" : "false") + "}";
  }

  Decision post(PublicRoutes& r, std::string body) {
    const auto signature = handlers::signPayload("whsec_unit", kNow, body);
    return r.handle({.method = "POST",
                     .target = "/webhooks/stripe",
                     .stripeSignature = signature,
                     .body = std::move(body)});
  }

  static unsigned status(const Decision& d) {
    return std::holds_alternative<Reply>(d) ? std::get<Reply>(d).status : 0;
  }

  config::Config config_;
  sql::DatabaseHealth health_;
};

TEST_F(PublicRoutesTest, ASignedEventIsToBeStored) {
  auto r = routes();
  auto decision = post(r, event());
  ASSERT_TRUE(std::holds_alternative<StoreAction>(decision));
  const auto& stored = std::get<StoreAction>(decision).event;
  EXPECT_EQ(stored.envelope.id, "evt_u1");
  EXPECT_EQ(stored.payload, event());
}

TEST_F(PublicRoutesTest, UnsignedOrUnparseableIs400) {
  auto r = routes();
  auto unsignedReply = r.handle({.method = "POST", .target = "/webhooks/stripe", .body = event()});
  EXPECT_EQ(status(unsignedReply), 400u);
  EXPECT_EQ(std::get<Reply>(unsignedReply).reason, "missing Stripe-Signature header");
  EXPECT_EQ(status(post(r, R"({"hello":"world"})")), 400u);
}

TEST_F(PublicRoutesTest, LivemodePolicyIsEnforced) {
  config_.livemode = config::LivemodePolicy::Test;
  auto r = routes();
  EXPECT_EQ(status(post(r, event(true))), 400u);
  EXPECT_TRUE(std::holds_alternative<StoreAction>(post(r, event(false))));
  config_.livemode = config::LivemodePolicy::Live;
  EXPECT_EQ(status(post(r, event(false))), 400u);
  EXPECT_TRUE(std::holds_alternative<StoreAction>(post(r, event(true))));
}

TEST_F(PublicRoutesTest, MethodsAndPaths) {
  auto r = routes();
  EXPECT_EQ(status(r.handle({.method = "GET", .target = "/webhooks/stripe"})), 405u);
  EXPECT_EQ(status(r.handle({.method = "PUT", .target = "/webhooks/stripe?x=1"})), 405u);
  EXPECT_EQ(status(r.handle({.method = "GET", .target = "/nope"})), 404u);
  EXPECT_EQ(status(r.handle({.method = "POST", .target = "/healthz"})), 405u);
  EXPECT_EQ(status(r.handle({.method = "GET", .target = "/healthz"})), 200u);
}

TEST_F(PublicRoutesTest, ReadinessFollowsTheDatabaseAndDraining) {
  auto r = routes();
  EXPECT_EQ(status(r.handle({.method = "GET", .target = "/readyz"})), 200u);
  health_.reportUnreachable();
  const auto down = r.handle({.method = "GET", .target = "/readyz"});
  EXPECT_EQ(status(down), 503u);
  EXPECT_GT(std::get<Reply>(down).retryAfterSeconds, 0);
  health_.reportReachable();
  r.startDraining();
  EXPECT_EQ(status(r.handle({.method = "GET", .target = "/readyz"})), 503u);
  EXPECT_EQ(status(post(r, event())), 503u);
}

TEST_F(PublicRoutesTest, StoreOutcomesMapToWhatStripeShouldSee) {
  using intake::StoreOutcome;
  EXPECT_EQ(PublicRoutes::afterStore(StoreOutcome::Stored).status, 200u);
  const auto dup = PublicRoutes::afterStore(StoreOutcome::Duplicate);
  EXPECT_EQ(dup.status, 200u);
  EXPECT_NE(dup.body.find(R"("duplicate":true)"), std::string::npos);
  for (auto failed :
       {StoreOutcome::Unavailable, StoreOutcome::Overloaded, StoreOutcome::ShuttingDown}) {
    const auto reply = PublicRoutes::afterStore(failed);
    EXPECT_EQ(reply.status, 503u);
    EXPECT_GT(reply.retryAfterSeconds, 0);
  }
}

}  // namespace
}  // namespace effectd::daemon
