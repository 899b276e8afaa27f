// The admin listener of the real binary: /metrics after known traffic, the
// token's guard, and the JSON API steering effects and events in the
// database. The live page is tested in a browser (tests/node/admin_page.test.mjs).
#include <gtest/gtest.h>

#include <signal.h>

#include <map>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <regex>
#include <sstream>
#include <thread>

#include "tests/support/daemon.hpp"
#include "tests/support/database.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/raw_connection.hpp"

namespace effectd::testing {
namespace {

using nlohmann::json;
const std::string kSecret = "whsec_admin_" + randomSuffix();
const std::string kToken = "admin-token-" + randomSuffix();
const std::string kSubscription =
    R"({"id":"sub_1","object":"subscription","customer":"cus_unlinked","status":"active"})";

// A scrape as Prometheus reads it: every sample by its name and labels.
// Fails the test on a line that is not the text format.
constexpr auto kAdminConnections = R"(effectd_http_connections{listener="admin"})";
constexpr auto kAdminIdleConnections = R"(effectd_http_idle_connections{listener="admin"})";

std::map<std::string, double> parseMetrics(const std::string& text) {
  static const std::regex sample(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})?) (\S+)$)");
  static const std::regex comment(R"(^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$)");
  std::map<std::string, double> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_match(line, comment)) continue;
    if (!std::regex_match(line, m, sample)) {
      ADD_FAILURE() << "not the Prometheus text format: " << line;
      continue;
    }
    const auto value = m[5].str();
    out[m[1].str()] = value == "+Inf" ? INFINITY : std::stod(value);
  }
  return out;
}

CommandResult effectd(const std::vector<std::string>& args, const EnvOverrides& env) {
  std::vector<std::string> argv{effectdBinary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return runCommand(argv, env);
}

class AdminE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { signer_ = new StripeSigner(); }
  static void TearDownTestSuite() {
    delete signer_;
    signer_ = nullptr;
  }

  void start(EnvOverrides extra = {}) {
    extra.emplace("DATABASE_URL", db_.url());
    extra.emplace("STRIPE_WEBHOOK_SECRET", kSecret);
    // A failed event is not retried during the test, so each is counted once.
    extra.emplace("EFFECTD_EVENT_RETRY_BASE", "3600");
    daemon_ = std::make_unique<Daemon>(extra);
    ASSERT_NE(daemon_->adminPort(), 0) << daemon_->log();
  }

  daemon::HttpAnswer post(const std::string& body, const std::string& secret = kSecret) {
    return daemon_->postWebhook(body, signer_->sign(body, secret));
  }

  std::map<std::string, double> scrape() {
    const auto answer = daemon_->admin("GET", "/metrics");
    EXPECT_EQ(answer.status, 200) << answer.error;
    EXPECT_EQ(answer.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
    return parseMetrics(answer.body);
  }

  daemon::HttpAnswer api(const std::string& method, const std::string& target,
                         const std::string& token = kToken) {
    std::vector<std::pair<std::string, std::string>> headers{{"Authorization", "Bearer " + token}};
    if (method == "POST") headers.emplace_back("Content-Type", "application/json");
    return daemon_->admin(method, target, headers, method == "POST" ? "{}" : "");
  }

  static StripeSigner* signer_;
  TestDatabase db_;
  std::unique_ptr<Daemon> daemon_;
};
StripeSigner* AdminE2eTest::signer_ = nullptr;

TEST_F(AdminE2eTest, MetricsCountExactlyTheTrafficThatWasSent) {
  start();
  const auto before = scrape();
  EXPECT_EQ(before.count(R"(effectd_webhook_requests_total{status="200",reason="stored"})"), 0u);

  // 3 ignored and 2 failed events (no organization is linked to the
  // customer), 1 resent, 2 with a bad signature, 1 GET.
  std::vector<std::string> ignored, failed;
  for (int i = 0; i < 3; ++i) {
    ignored.push_back(eventJson("evt_ign_" + std::to_string(i), "product.created",
                                R"({"id":"prod_1","object":"product"})", unixNow()));
    ASSERT_EQ(post(ignored.back()).status, 200);
  }
  for (int i = 0; i < 2; ++i) {
    failed.push_back(eventJson("evt_sub_" + std::to_string(i), "customer.subscription.created",
                               kSubscription, unixNow()));
    ASSERT_EQ(post(failed.back()).status, 200);
  }
  ASSERT_EQ(post(ignored.front()).status, 200);
  EXPECT_EQ(post(ignored.front(), "whsec_wrong").status, 400);
  EXPECT_EQ(daemon_->postWebhook(ignored.front(), "t=1,v1=00").status, 400);
  EXPECT_EQ(daemon_->get("/webhooks/stripe").status, 405);

  // 4 analytics events for the log channel, 1 email the file channel
  // cannot build (no subject) and 1 webhook no channel serves.
  const EnvOverrides env{{"DATABASE_URL", db_.url()}};
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(effectd({"effects", "enqueue", "--kind", "analytics", "--key",
                       "metrics:analytics:" + std::to_string(i), "--payload",
                       R"({"event":"signed_up","distinctId":"u1"})"},
                      env)
                  .exitCode,
              0);
  }
  ASSERT_EQ(effectd({"effects", "enqueue", "--kind", "email", "--key", "metrics:email:1",
                     "--payload", R"({"to":"a@example.com"})"},
                    env)
                .exitCode,
            0);
  ASSERT_EQ(effectd({"effects", "enqueue", "--kind", "webhook", "--key", "metrics:webhook:1",
                     "--payload", R"({"url":"https://example.com/hook","event":"x","data":{}})"},
                    env)
                .exitCode,
            0);
  ASSERT_TRUE(eventually(
      [&] {
        return db_.scalar(R"(SELECT count(*) FROM "OutboundEffect"
                             WHERE "status" IN ('sent', 'dead'))") == "5";
      },
      std::chrono::seconds(20)));

  std::map<std::string, double> m;
  // The queue's figures are read from the database at most every 5 s.
  ASSERT_TRUE(eventually(
      [&] {
        m = scrape();
        return m["effectd_effects_sent_last_minute"] == 4;
      },
      std::chrono::seconds(15)))
      << daemon_->log();
  EXPECT_EQ((m[R"(effectd_webhook_requests_total{status="200",reason="stored"})"]), 5);
  EXPECT_EQ((m[R"(effectd_webhook_requests_total{status="200",reason="duplicate"})"]), 1);
  double badSignatures = 0;
  for (const auto& [name, value] : m) {
    if (name.starts_with(R"(effectd_webhook_requests_total{status="400")")) badSignatures += value;
  }
  EXPECT_EQ(badSignatures, 2);
  EXPECT_EQ((m[R"(effectd_webhook_requests_total{status="405",reason="method not allowed"})"]), 1);
  EXPECT_EQ(m["effectd_webhook_duration_seconds_count"], 9);
  EXPECT_EQ((m[R"(effectd_webhook_duration_seconds_bucket{le="+Inf"})"]), 9);
  EXPECT_EQ((m[R"(effectd_events_processed_total{type="product.created",outcome="ignored"})"]), 3);
  EXPECT_EQ(
      (m[R"(effectd_events_processed_total{type="customer.subscription.created",outcome="failed"})"]),
      2);
  EXPECT_EQ((m[R"(effectd_delivery_attempts_total{provider="log",outcome="sent"})"]), 4);
  EXPECT_EQ((m[R"(effectd_delivery_attempts_total{provider="file",outcome="dead"})"]), 1);
  EXPECT_EQ(m["effectd_delivery_latency_seconds_count"], 4);
  EXPECT_EQ((m[R"(effectd_effects{kind="email",status="dead"})"]), 1);
  EXPECT_EQ((m[R"(effectd_effects{kind="webhook",status="pending"})"]), 1);
  EXPECT_EQ(m["effectd_queue_depth"], 1);
  EXPECT_GT(m["effectd_queue_oldest_pending_age_seconds"], 0);
  // Sent rows are not the queue: they show as the rate above, not a count.
  EXPECT_EQ(m.count(R"(effectd_effects{kind="analytics",status="sent"})"), 0u);
  EXPECT_EQ(m["effectd_database_up"], 1);
  EXPECT_EQ(m["effectd_intake_queue_length"], 0);
  EXPECT_EQ(m["effectd_db_pool_size"], 2);
  EXPECT_EQ(m["effectd_db_pool_in_use"], 0);
  EXPECT_GE(m["effectd_intake_batch_size_count"], 1);
  EXPECT_LE(m["effectd_intake_batch_size_count"], 6);
  EXPECT_GT(m["process_resident_memory_bytes"], 1e6);
  EXPECT_GT(m["process_cpu_seconds_total"], 0);
}

TEST_F(AdminE2eTest, MetricsStillAnswerWhileTheDatabaseIsGone) {
  TestCluster cluster;
  ASSERT_EQ(effectd({"migrate"}, {{"DATABASE_URL", cluster.url()}}).exitCode, 0);
  start({{"DATABASE_URL", cluster.url()}, {"EFFECTD_DB_TIMEOUT", "2"}});
  ASSERT_EQ(scrape()["effectd_database_up"], 1);
  cluster.stop();
  std::map<std::string, double> m;
  ASSERT_TRUE(eventually(
      [&] {
        m = scrape();
        return m["effectd_database_up"] == 0;
      },
      std::chrono::seconds(20)));
  EXPECT_GT(m["process_resident_memory_bytes"], 0);
  EXPECT_EQ(m["effectd_database_up"], 0);
}

// Each read of the queue's figures once freed a reference to the server
// (a GCC 12 coroutine bug with a lambda built in a co_await): the third
// read crashed the daemon.
TEST_F(AdminE2eTest, ScrapesKeepAnsweringAcrossManyReadsOfTheQueueFigures) {
  start({{"EFFECTD_ADMIN_TOKEN", kToken}});
  for (int i = 0; i < 4; ++i) {
    const auto before = std::chrono::steady_clock::now();
    EXPECT_EQ(scrape()["effectd_database_up"], 1) << daemon_->log();
    EXPECT_EQ(api("GET", "/admin/api/stats").status, 200);
    if (i < 3) std::this_thread::sleep_until(before + std::chrono::milliseconds(5100));
  }
  EXPECT_EQ(daemon_->process().stop(SIGTERM, std::chrono::seconds(20)), 0) << daemon_->log();
}

// 32 connections that never send a byte, or never a second request, cannot
// lock Prometheus out: at the limit the one idle longest gives way. A
// refused request ends its connection, so it cannot hold a slot either.
TEST_F(AdminE2eTest, IdleConnectionsGiveWayToAScrape) {
  start({{"EFFECTD_ADMIN_TOKEN", kToken}});
  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < 40; ++i)
    idle.push_back(std::make_unique<RawConnection>(daemon_->adminPort()));
  // The listener full of them (the scrape itself one of the 32).
  ASSERT_TRUE(
      eventually([&] { return scrape()[kAdminConnections] == 32; }, std::chrono::seconds(5)));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(scrape()["effectd_database_up"], 1) << daemon_->log();
  RawConnection refused(daemon_->adminPort());
  ASSERT_TRUE(refused.send("GET /admin/api/stats HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  EXPECT_NE(refused.readUntil("\r\n\r\n", std::chrono::seconds(5)).find("401"), std::string::npos);
  EXPECT_TRUE(refused.closedByPeer(std::chrono::seconds(5)));
}

// Nor can 40 that send half a header and stop: with no idle connection to
// close, the one reading a header the longest gives way to the scrape.
TEST_F(AdminE2eTest, SlowHeadersGiveWayToAScrape) {
  start({{"EFFECTD_ADMIN_TOKEN", kToken}});
  std::vector<std::unique_ptr<RawConnection>> slow;
  for (int i = 0; i < 40; ++i) {
    slow.push_back(std::make_unique<RawConnection>(daemon_->adminPort()));
    ASSERT_TRUE(slow.back()->send("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
  }
  // The listener full of them, every one reading its header (none idle,
  // which would give way first): otherwise the scrapes could pass for want
  // of a full listener. Each scrape that waits for it makes a reader give way.
  ASSERT_TRUE(eventually(
      [&] {
        auto figures = scrape();
        return figures[kAdminConnections] == 32 && figures[kAdminIdleConnections] == 0;
      },
      std::chrono::seconds(5)));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(scrape()["effectd_database_up"], 1) << daemon_->log();
}

// The admin listener refuses what is not HTTP as the public one does: a 400
// (not a silent close), and an oversized header a 431.
TEST_F(AdminE2eTest, MalformedAndOversizedRequestsGetAnAnswer) {
  start({{"EFFECTD_ADMIN_TOKEN", kToken}});
  RawConnection garbage(daemon_->adminPort());
  ASSERT_TRUE(garbage.send("GARBAGE\r\n\r\n"));
  EXPECT_EQ(garbage.readUntil("\r\n\r\n", std::chrono::seconds(5)).rfind("HTTP/1.1 400", 0), 0u);
  RawConnection huge(daemon_->adminPort());
  ASSERT_TRUE(huge.send("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " +
                        std::string(64 * 1024, 'h') + "\r\n\r\n"));
  EXPECT_EQ(huge.readUntil("\r\n\r\n", std::chrono::seconds(5)).rfind("HTTP/1.1 431", 0), 0u);
}

TEST_F(AdminE2eTest, WithoutATokenTheAdminApiIsNotThereAndMetricsAre) {
  start();
  EXPECT_EQ(daemon_->admin("GET", "/admin/api/stats").status, 404);
  EXPECT_EQ(api("GET", "/admin/api/stats").status, 404);
  EXPECT_EQ(daemon_->admin("GET", "/admin/").status, 404);
  EXPECT_EQ(daemon_->admin("GET", "/metrics").status, 200);
}

TEST_F(AdminE2eTest, TheTokenGuardsEveryAdminRequest) {
  start({{"EFFECTD_ADMIN_TOKEN", kToken}});
  EXPECT_EQ(daemon_->admin("GET", "/admin/api/stats").status, 401);
  EXPECT_EQ(api("GET", "/admin/api/stats", "wrong").status, 401);
  EXPECT_EQ(api("GET", "/admin/api/stats", kToken + "x").status, 401);
  EXPECT_EQ(api("POST", "/admin/api/effects/x/retry", "wrong").status, 401);
  const auto page = daemon_->admin("GET", "/admin/");
  EXPECT_EQ(page.status, 401);
  EXPECT_NE(page.header("WWW-Authenticate").find("Basic"), std::string::npos);
  const auto ok = api("GET", "/admin/api/stats");
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_TRUE(json::parse(ok.body).contains("effects"));
  const auto noPassword = daemon_->admin("GET", "/admin/", {{"Authorization", "Basic eDo="}});
  EXPECT_EQ(noPassword.status, 401);  // "x:" has no token
  // Each refusal is in the log with its status and reason, never the token.
  const auto log = daemon_->log();
  EXPECT_NE(log.find(R"("status":401)"), std::string::npos);
  EXPECT_NE(log.find(R"("reason":"unauthorized")"), std::string::npos);
  EXPECT_EQ(log.find(kToken), std::string::npos);
  EXPECT_EQ(log.find("wrong"), std::string::npos);
}

TEST_F(AdminE2eTest, TheApiSteersEffectsAndEventsAsTheCliDoes) {
  start({{"EFFECTD_ADMIN_TOKEN", kToken}});
  pqxx::nontransaction(db_.conn())
      .exec(
          R"(INSERT INTO "OutboundEffect" ("id", "key", "kind", "payload", "status", "attempts",
                                       "lastError", "runAt", "updatedAt")
         VALUES ('eff_dead', 'api:webhook:1', 'webhook',
                 '{"url":"https://example.com/hook","event":"x","data":{}}', 'dead', 12,
                 'HTTP 500', now(), now()),
                ('eff_pending', 'api:webhook:2', 'webhook',
                 '{"url":"https://example.com/hook","event":"x","data":{}}', 'pending', 0,
                 NULL, now(), now()))");

  const auto list = api("GET", "/admin/api/effects?status=dead&kind=webhook");
  ASSERT_EQ(list.status, 200) << list.body;
  const auto listed = json::parse(list.body);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["key"], "api:webhook:1");
  EXPECT_EQ(listed[0]["lastError"], "HTTP 500");
  EXPECT_EQ(json::parse(api("GET", "/admin/api/effects?key_prefix=api%3Awebhook").body).size(), 2u);

  const auto shown = api("GET", "/admin/api/effects/api%3Awebhook%3A1");
  ASSERT_EQ(shown.status, 200) << shown.body;
  EXPECT_EQ(json::parse(shown.body)["id"], "eff_dead");
  EXPECT_EQ(api("GET", "/admin/api/effects/nope").status, 404);

  // Retry: dead -> pending, attempts reset. (No channel serves webhooks in
  // this daemon, so it stays pending.)
  const auto retried = api("POST", "/admin/api/effects/eff_dead/retry");
  ASSERT_EQ(retried.status, 200) << retried.body;
  EXPECT_EQ(json::parse(retried.body)["status"], "pending");
  EXPECT_EQ(db_.scalar(R"(SELECT "status" || '/' || "attempts" FROM "OutboundEffect"
                         WHERE "id" = 'eff_dead')"),
            "pending/0");
  EXPECT_EQ(api("POST", "/admin/api/effects/eff_dead/retry").status, 409);  // pending already
  EXPECT_EQ(api("POST", "/admin/api/effects/nope/retry").status, 404);

  const auto cancelled = api("POST", "/admin/api/effects/api:webhook:2/cancel");
  ASSERT_EQ(cancelled.status, 200) << cancelled.body;
  EXPECT_EQ(db_.scalar(R"(SELECT "status" FROM "OutboundEffect" WHERE "id" = 'eff_pending')"),
            "cancelled");

  // Events: list, show and replay.
  const auto body = eventJson("evt_api_1", "product.created", R"({"id":"prod_1"})", unixNow());
  ASSERT_EQ(post(body).status, 200);
  const auto events = json::parse(api("GET", "/admin/api/events?type=product.created").body);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["status"], "ignored");
  const auto event = api("GET", "/admin/api/events/evt_api_1");
  ASSERT_EQ(event.status, 200);
  EXPECT_EQ(json::parse(event.body)["payload"], json::parse(body));
  const auto replayed = api("POST", "/admin/api/events/evt_api_1/replay");
  ASSERT_EQ(replayed.status, 200) << replayed.body;
  EXPECT_EQ(json::parse(replayed.body)["status"], "ignored");
  EXPECT_EQ(db_.scalar(R"(SELECT "attempts" FROM "StripeWebhookEvent" WHERE "id" = 'evt_api_1')"),
            "2");
  EXPECT_EQ(api("POST", "/admin/api/events/evt_none/replay").status, 404);

  // The page's figures come from the same cached read as /metrics (at most 5 s old).
  ASSERT_TRUE(eventually(
      [&] {
        const auto stats = json::parse(api("GET", "/admin/api/stats").body);
        return stats["due"] == 1 && stats["databaseUp"] == true;
      },
      std::chrono::seconds(10)));
}

}  // namespace
}  // namespace effectd::testing
