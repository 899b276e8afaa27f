// POST /webhooks/stripe, every row of DESIGN.md's table, against the real
// binary and a real PostgreSQL, with events signed by Stripe's own SDK.
#include <gtest/gtest.h>

#include <barrier>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <thread>

#include "tests/support/daemon.hpp"
#include "tests/support/database.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/raw_connection.hpp"

namespace effectd::testing {
namespace {

using nlohmann::json;
const std::string kSecret = "whsec_e2e_" + randomSuffix();
const std::string kSubscription =
    R"({"id":"sub_1","object":"subscription","customer":"cus_1","status":"active",)"
    R"("metadata":{"organizationId":"org_1"}})";

class WebhookE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { signer_ = new StripeSigner(); }
  static void TearDownTestSuite() {
    delete signer_;
    signer_ = nullptr;
  }

  explicit WebhookE2eTest(EnvOverrides extra = {}) {
    extra.emplace("DATABASE_URL", db_.url());
    extra.emplace("STRIPE_WEBHOOK_SECRET", kSecret);
    daemon_ = std::make_unique<Daemon>(extra);
  }

  std::string newEvent(const std::string& type = "customer.subscription.created",
                       bool livemode = false) {
    return eventJson("evt_" + randomSuffix(), type, kSubscription, unixNow(), livemode);
  }

  daemon::HttpAnswer post(const std::string& body, const std::string& secret = kSecret) {
    return daemon_->postWebhook(body, signer_->sign(body, secret));
  }

  std::string rows() { return db_.scalar(R"(SELECT count(*) FROM "StripeWebhookEvent")"); }

  // The public listener's open (or only its idle) connections, from /metrics.
  int publicConnections(bool idleOnly) {
    const auto value =
        daemon_->metric(idleOnly ? R"(effectd_http_idle_connections{listener="public"})"
                                 : R"(effectd_http_connections{listener="public"})");
    return value ? static_cast<int>(*value) : -1;
  }

  static StripeSigner* signer_;
  TestDatabase db_;
  std::unique_ptr<Daemon> daemon_;
};
StripeSigner* WebhookE2eTest::signer_ = nullptr;

TEST_F(WebhookE2eTest, StoresAnEventSignedByStripesSdkWithTheRightColumns) {
  const auto created = unixNow() - 5;
  const auto body = eventJson("evt_sdk_1", "customer.subscription.created", kSubscription, created);
  const auto answer = post(body);
  ASSERT_EQ(answer.status, 200) << answer.body << answer.error;
  EXPECT_EQ(json::parse(answer.body)["received"], true);
  EXPECT_FALSE(json::parse(answer.body).contains("duplicate"));

  pqxx::read_transaction tx(db_.conn());
  const auto row = tx.exec(
      R"(SELECT "type", "livemode", "apiVersion", "account", extract(epoch FROM "stripeCreatedAt")::bigint,
                "payload"::text, "status", "attempts", "nextAttemptAt" IS NULL, "processedAt" IS NULL
         FROM "StripeWebhookEvent" WHERE "id" = 'evt_sdk_1')");
  ASSERT_EQ(row.size(), 1u);
  EXPECT_EQ(row[0][0].as<std::string>(), "customer.subscription.created");
  EXPECT_FALSE(row[0][1].as<bool>());
  EXPECT_EQ(row[0][2].as<std::string>(), "2025-03-31.basil");
  EXPECT_TRUE(row[0][3].is_null());
  EXPECT_EQ(row[0][4].as<std::int64_t>(), created);
  EXPECT_EQ(json::parse(row[0][5].as<std::string>()), json::parse(body));
  // Its handler ran in the same transaction; no organization is linked to
  // cus_1, so the event waits as failed for a retry, and Stripe still got 200.
  EXPECT_EQ(row[0][6].as<std::string>(), "failed");
  EXPECT_EQ(row[0][7].as<int>(), 1);
  EXPECT_FALSE(row[0][8].as<bool>());
  EXPECT_TRUE(row[0][9].as<bool>());
}

TEST_F(WebhookE2eTest, ADuplicateIdAnswers200DuplicateWithoutASecondRow) {
  const auto body = newEvent();
  ASSERT_EQ(post(body).status, 200);
  const auto again = post(body);
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(json::parse(again.body)["duplicate"], true);
  EXPECT_EQ(rows(), "1");
}

TEST_F(WebhookE2eTest, BadSignaturesAre400WithAReasonLoggedAndNothingStored) {
  const auto body = newEvent();
  const auto now = unixNow();
  struct Case {
    std::string signature;
    std::string reason;
  };
  const std::vector<Case> cases{
      {"", "missing Stripe-Signature header"},
      {"garbage", "malformed Stripe-Signature header"},
      {"v1=" + std::string(64, 'a'), "no valid timestamp"},
      {"t=" + std::to_string(now) + ",v0=" + std::string(64, 'a'), "no v1 signature"},
      {signer_->sign(body, "whsec_wrong"), "no signature matches"},
      {signer_->sign(body, kSecret, now - 301), "too old"},
      // Beyond the edge by more than a loaded machine's delay between signing and
      // checking (the exact edges are unit-tested).
      {signer_->sign(body, kSecret, now + 330), "in the future"},
  };
  for (const auto& c : cases) {
    const auto answer = daemon_->postWebhook(body, c.signature);
    EXPECT_EQ(answer.status, 400) << c.reason;
    EXPECT_NE(json::parse(answer.body)["error"].get<std::string>().find(c.reason),
              std::string::npos)
        << answer.body;
  }
  // The daemon logs a request after answering it.
  EXPECT_TRUE(
      eventually([&] { return daemon_->log().find(cases.back().reason) != std::string::npos; },
                 std::chrono::seconds(5)));
  const auto log = daemon_->log();
  for (const auto& c : cases) EXPECT_NE(log.find(c.reason), std::string::npos) << c.reason;
  EXPECT_EQ(log.find(kSecret), std::string::npos) << "a secret reached the log";
  EXPECT_EQ(rows(), "0");
}

TEST_F(WebhookE2eTest, SignedButNotAnEventIs400) {
  for (const std::string body :
       {R"({"hello":"world"})", R"({"id":"evt_1","type":"x"})", R"(not json at all)", R"([])"}) {
    const auto answer = post(body);
    EXPECT_EQ(answer.status, 400) << body;
  }
  EXPECT_EQ(rows(), "0");
}

TEST_F(WebhookE2eTest, OtherMethodsAndPaths) {
  EXPECT_EQ(daemon_->get("/webhooks/stripe").status, 405);
  EXPECT_EQ(daemon_->get("/webhooks/stripe/other").status, 404);
  EXPECT_EQ(daemon_->get("/").status, 404);
  EXPECT_EQ(daemon_->get("/healthz").status, 200);
  EXPECT_EQ(daemon_->get("/readyz").status, 200);
}

TEST_F(WebhookE2eTest, TheSameEventOnEightConnectionsAtOnceYieldsOneRow) {
  for (int round = 0; round < 5; ++round) {
    const auto body = newEvent();
    const auto signature = signer_->sign(body, kSecret);
    constexpr int kConnections = 8;
    std::barrier start(kConnections);
    std::vector<daemon::HttpAnswer> answers(kConnections);
    std::vector<std::thread> threads;
    for (int i = 0; i < kConnections; ++i) {
      threads.emplace_back([&, i] {
        start.arrive_and_wait();
        answers[i] = daemon_->postWebhook(body, signature);
      });
    }
    for (auto& t : threads) t.join();
    int fresh = 0;
    for (const auto& a : answers) {
      ASSERT_EQ(a.status, 200) << a.body << a.error;
      fresh += json::parse(a.body).contains("duplicate") ? 0 : 1;
    }
    EXPECT_EQ(fresh, 1) << "round " << round;
  }
  EXPECT_EQ(rows(), "5");
}

TEST_F(WebhookE2eTest, AnOversizedBodyIsRefusedWithoutReadingItWhole) {
  // Announces 64 MiB, sends 64 KiB: the 413 arrives before the rest is sent.
  RawConnection conn(daemon_->port());
  ASSERT_TRUE(
      conn.send("POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                "Stripe-Signature: t=1,v1=00\r\nContent-Length: 67108864\r\n\r\n" +
                std::string(64 * 1024, 'x')));
  const auto response = conn.readUntil("\r\n\r\n", std::chrono::seconds(5));
  EXPECT_EQ(response.rfind("HTTP/1.1 413", 0), 0u) << response;
  EXPECT_TRUE(conn.closedByPeer(std::chrono::seconds(5)));

  // Chunked, with no length announced: refused once it passes the limit.
  RawConnection chunked(daemon_->port());
  std::string request =
      "POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string chunk(64 * 1024, 'y');
  bool refused = false;
  std::string answer;
  chunked.send(request);
  for (int i = 0; i < 64 && !refused; ++i) {  // up to 4 MiB
    std::ostringstream hex;
    hex << std::hex << chunk.size();
    refused = !chunked.send(hex.str() + "\r\n" + chunk + "\r\n");
    answer += chunked.readUntil("\r\n\r\n", std::chrono::milliseconds(i < 15 ? 1 : 50));
    refused = refused || answer.find("\r\n\r\n") != std::string::npos;
  }
  answer += chunked.readUntil("\r\n\r\n", std::chrono::seconds(2));
  EXPECT_EQ(answer.rfind("HTTP/1.1 413", 0), 0u) << answer.substr(0, 200);
  EXPECT_EQ(rows(), "0");
}

TEST_F(WebhookE2eTest, OversizedHeadersAre431) {
  RawConnection conn(daemon_->port());
  conn.send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(64 * 1024, 'h') +
            "\r\n\r\n");
  const auto response = conn.readUntil("\r\n\r\n", std::chrono::seconds(5));
  EXPECT_EQ(response.rfind("HTTP/1.1 431", 0), 0u) << response.substr(0, 200);
}

TEST_F(WebhookE2eTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  RawConnection conn(daemon_->port());
  const std::string request = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  conn.send(request + request + request);
  auto count = [](const std::string& text) {
    std::size_t n = 0;
    for (auto pos = text.find("HTTP/1.1 200"); pos != std::string::npos;
         pos = text.find("HTTP/1.1 200", pos + 1)) {
      ++n;
    }
    return n;
  };
  std::string all;
  for (int i = 0; i < 3 && count(all) < 3; ++i) {
    all += conn.readUntil(R"("ok"})", std::chrono::seconds(5));
  }
  EXPECT_EQ(count(all), 3u) << all;
}

TEST_F(WebhookE2eTest, SigtermExitsZeroAfterFinishingRequests) {
  ASSERT_EQ(post(newEvent()).status, 200);
  RawConnection idle(daemon_->port());  // an idle keep-alive connection must not hold it up
  ASSERT_TRUE(idle.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_NE(idle.readUntil(R"("ok"})", std::chrono::seconds(5)).find("200"), std::string::npos);
  EXPECT_EQ(daemon_->process().stop(SIGTERM, std::chrono::seconds(10)), 0);
  EXPECT_NE(daemon_->log().find(R"("msg":"stopped")"), std::string::npos);
  EXPECT_EQ(rows(), "1");
}

class RotationE2eTest : public WebhookE2eTest {
 protected:
  RotationE2eTest() : WebhookE2eTest({{"STRIPE_WEBHOOK_SECRET", "whsec_new_one, " + kSecret}}) {}
};

TEST_F(RotationE2eTest, EventsSignedWithEitherSecretAreAccepted) {
  EXPECT_EQ(post(newEvent(), kSecret).status, 200);
  EXPECT_EQ(post(newEvent(), "whsec_new_one").status, 200);
  EXPECT_EQ(post(newEvent(), "whsec_retired").status, 400);
  EXPECT_EQ(rows(), "2");
}

class TestModeE2eTest : public WebhookE2eTest {
 protected:
  TestModeE2eTest() : WebhookE2eTest({{"STRIPE_LIVEMODE", "test"}}) {}
};

TEST_F(TestModeE2eTest, ALiveEventIsRefusedByATestModeDaemon) {
  const auto live = post(newEvent("invoice.paid", true));
  EXPECT_EQ(live.status, 400);
  EXPECT_NE(live.body.find("live event"), std::string::npos);
  EXPECT_EQ(post(newEvent("invoice.paid", false)).status, 200);
  EXPECT_EQ(rows(), "1");
}

class SmallLimitsE2eTest : public WebhookE2eTest {
 protected:
  SmallLimitsE2eTest()
      : WebhookE2eTest({{"EFFECTD_MAX_CONNECTIONS", "2"}, {"EFFECTD_LOG_LEVEL", "debug"}}) {}
};

TEST_F(SmallLimitsE2eTest, ConnectionsBeyondTheLimitGet503WhenNoneIsIdle) {
  // Both connections are in the middle of a request: neither may be closed.
  RawConnection a(daemon_->port());
  RawConnection b(daemon_->port());
  ASSERT_TRUE(a.send("POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\n"));
  ASSERT_TRUE(b.send("POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\n"));
  // Both accepted, and both reading their header (not idle, so not given way).
  ASSERT_TRUE(
      eventually([&] { return publicConnections(false) == 2 && publicConnections(true) == 0; },
                 std::chrono::seconds(5)));
  RawConnection c(daemon_->port());
  const auto response = c.readUntil("\r\n\r\n", std::chrono::seconds(5));
  EXPECT_EQ(response.rfind("HTTP/1.1 503", 0), 0u) << response;
}

TEST_F(SmallLimitsE2eTest, AtTheLimitAnIdleKeptAliveConnectionGivesWay) {
  RawConnection a(daemon_->port());
  RawConnection b(daemon_->port());
  ASSERT_TRUE(a.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_NE(a.readUntil(R"("ok"})", std::chrono::seconds(5)).find("200"), std::string::npos);
  // a has been idle longer than b (the daemon marks a connection idle once
  // it has finished with its answer, a moment after the client has read it).
  ASSERT_TRUE(eventually([&] { return publicConnections(true) == 2; }, std::chrono::seconds(5)));
  ASSERT_TRUE(b.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_NE(b.readUntil(R"("ok"})", std::chrono::seconds(5)).find("200"), std::string::npos);
  // Both idle once the daemon has looped back to wait for their next
  // request; a third connection is then served, and the oldest idle one closed.
  ASSERT_TRUE(eventually([&] { return publicConnections(true) == 2; }, std::chrono::seconds(5)));
  RawConnection c(daemon_->port());
  ASSERT_TRUE(c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  const auto response = c.readUntil(R"("ok"})", std::chrono::seconds(5));
  EXPECT_EQ(response.rfind("HTTP/1.1 200", 0), 0u) << response;
  EXPECT_TRUE(a.closedByPeer(std::chrono::seconds(3))) << daemon_->log();
}

TEST_F(SmallLimitsE2eTest, SilentConnectionsGiveWayToOnesThatSpeak) {
  // Connections that never send a byte hold every slot; a webhook still gets
  // in, and the one that has been silent longest is closed for it.
  RawConnection a(daemon_->port());
  ASSERT_TRUE(eventually([&] { return publicConnections(false) == 1; }, std::chrono::seconds(5)));
  RawConnection b(daemon_->port());
  ASSERT_TRUE(eventually([&] { return publicConnections(true) == 2; }, std::chrono::seconds(5)));
  RawConnection c(daemon_->port());
  ASSERT_TRUE(c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  const auto response = c.readUntil(R"("ok"})", std::chrono::seconds(5));
  EXPECT_EQ(response.rfind("HTTP/1.1 200", 0), 0u) << response;
  EXPECT_TRUE(a.closedByPeer(std::chrono::seconds(3))) << daemon_->log();
}

TEST_F(WebhookE2eTest, AnEndlessChunkExtensionOrTrailerIsRefusedNotBuffered) {
  const std::string head =
      "POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  RawConnection extension(daemon_->port());
  ASSERT_TRUE(extension.send(head + "1;" + std::string(64 * 1024, 'a')));
  auto response = extension.readUntil("\r\n\r\n", std::chrono::seconds(5));
  EXPECT_EQ(response.rfind("HTTP/1.1 400", 0), 0u) << response.substr(0, 200);

  RawConnection trailers(daemon_->port());
  std::string flood = head + "2\r\n{}\r\n0\r\n";
  for (int i = 0; i < 850; ++i)
    flood += "X-Trailer-" + std::to_string(i) + ": " + std::string(60, 't') + "\r\n";
  trailers.send(flood);
  response = trailers.readUntil("\r\n\r\n", std::chrono::seconds(5));
  EXPECT_TRUE(response.rfind("HTTP/1.1 400", 0) == 0u || response.rfind("HTTP/1.1 431", 0) == 0u)
      << response.substr(0, 200);
  EXPECT_TRUE(eventually(
      [&] {
        return daemon_->log().find("chunk framing or trailers too long") != std::string::npos;
      },
      std::chrono::seconds(5)))
      << daemon_->log();
  EXPECT_EQ(rows(), "0");
}

// Many small chunk extensions, each within any line limit, add up: past
// 1 KiB of them (or 16,384 chunks) the request is refused.
TEST_F(WebhookE2eTest, ManyChunkExtensionsAreRefused) {
  RawConnection conn(daemon_->port());
  std::string flood =
      "POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 40; ++i) flood += "1;ext=" + std::string(100, 'e') + "\r\nx\r\n";
  conn.send(flood);
  const auto response = conn.readUntil("\r\n\r\n", std::chrono::seconds(5));
  EXPECT_EQ(response.rfind("HTTP/1.1 400", 0), 0u) << response.substr(0, 200);
  EXPECT_TRUE(conn.closedByPeer(std::chrono::seconds(3)));
  EXPECT_EQ(rows(), "0");
}

// What is not HTTP gets a 400 and a reason in the log, not a silent close;
// a flood of them costs at most 20 log lines a second, and says so.
TEST_F(WebhookE2eTest, MalformedRequestsAre400sWithAThrottledLog) {
  for (const std::string bad :
       {"GARBAGE\r\n\r\n", "POST /webhooks/stripe HTTP/9.9\r\nHost: x\r\n\r\n",
        "POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        "POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "POST /webhooks/stripe HTTP/1.1\r\n Folded: header\r\n\r\n",
        "POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: "
        "6\r\n\r\nhello"}) {
    RawConnection conn(daemon_->port());
    conn.send(bad);
    const auto response = conn.readUntil("\r\n\r\n", std::chrono::seconds(5));
    EXPECT_EQ(response.rfind("HTTP/1.1 400", 0), 0u) << bad << " -> " << response.substr(0, 200);
  }
  EXPECT_TRUE(eventually(
      [&] { return daemon_->log().find("malformed request: bad version") != std::string::npos; },
      std::chrono::seconds(5)))
      << daemon_->log();
  const auto floodStart = std::chrono::steady_clock::now();
  for (int i = 0; i < 100; ++i) {
    RawConnection conn(daemon_->port());
    conn.send("GARBAGE\r\n\r\n");
    conn.readUntil("\r\n\r\n", std::chrono::seconds(5));
  }
  const auto floodSeconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - floodStart).count();
  // The next second's first line counts what was held back.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  RawConnection last(daemon_->port());
  last.send("GARBAGE\r\n\r\n");
  last.readUntil("\r\n\r\n", std::chrono::seconds(5));
  EXPECT_TRUE(eventually(
      [&] {
        return daemon_->log().find("rejected requests not logged one by one") != std::string::npos;
      },
      std::chrono::seconds(5)))
      << daemon_->log();
  std::size_t lines = 0;
  for (auto at = daemon_->log().find("\"request rejected\""); at != std::string::npos;
       at = daemon_->log().find("\"request rejected\"", at + 1)) {
    ++lines;
  }
  // 20 lines in each second the flood touched, the five before it and the last.
  EXPECT_LE(lines, 20 * (static_cast<std::size_t>(floodSeconds) + 2) + 6) << floodSeconds;
  EXPECT_LT(lines, 106u);
  EXPECT_EQ(rows(), "0");
}

}  // namespace
}  // namespace effectd::testing

namespace effectd::testing {
namespace {

class TimeoutsE2eTest : public WebhookE2eTest {
 protected:
  TimeoutsE2eTest()
      : WebhookE2eTest({{"EFFECTD_READ_TIMEOUT", "1"}, {"EFFECTD_IDLE_TIMEOUT", "1"}}) {}
};

TEST_F(TimeoutsE2eTest, ASlowClientIsDisconnectedAfterTheReadTimeout) {
  // Half a header, then silence (slowloris).
  RawConnection slowHeader(daemon_->port());
  ASSERT_TRUE(slowHeader.send("POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\n"));
  // A complete header, then half the announced body.
  RawConnection slowBody(daemon_->port());
  ASSERT_TRUE(slowBody.send(
      "POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"id\":"));
  EXPECT_TRUE(slowHeader.closedByPeer(std::chrono::seconds(4)));
  EXPECT_TRUE(slowBody.closedByPeer(std::chrono::seconds(4)));
  // The log line may follow the close by a moment.
  EXPECT_TRUE(eventually(
      [&] { return daemon_->log().find("request body not received") != std::string::npos; },
      std::chrono::seconds(5)))
      << daemon_->log();
  EXPECT_EQ(rows(), "0");
}

class SlowKeptAliveE2eTest : public WebhookE2eTest {
 protected:
  SlowKeptAliveE2eTest()
      : WebhookE2eTest({{"EFFECTD_READ_TIMEOUT", "1"}, {"EFFECTD_IDLE_TIMEOUT", "30"}}) {}
};

TEST_F(SlowKeptAliveE2eTest, TheNextRequestOnAKeptAliveConnectionHasTheReadTimeout) {
  RawConnection conn(daemon_->port());
  ASSERT_TRUE(conn.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_NE(conn.readUntil(R"("ok"})", std::chrono::seconds(5)).find("200"), std::string::npos);
  // The next request starts, then trickles a byte every 300 ms: it may idle
  // 30 s before its first byte, but not take more than 1 s once it started.
  ASSERT_TRUE(conn.send("POST /webhooks/stripe HTTP/1.1\r\n"));
  bool closed = false;
  const auto started = std::chrono::steady_clock::now();
  while (!closed && std::chrono::steady_clock::now() - started < std::chrono::seconds(6)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    closed = !conn.send("X");
  }
  EXPECT_TRUE(closed || conn.closedByPeer(std::chrono::milliseconds(100)));
}

TEST_F(TimeoutsE2eTest, AnIdleKeptAliveConnectionIsClosed) {
  RawConnection conn(daemon_->port());
  ASSERT_TRUE(conn.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_NE(conn.readUntil(R"("ok"})", std::chrono::seconds(5)).find("200"), std::string::npos);
  EXPECT_TRUE(conn.closedByPeer(std::chrono::seconds(4)));
}

// jsonb refuses \u0000; the event is answered 200 and stored, not refused
// with a 503 on every one of Stripe's retries for three days.
TEST_F(WebhookE2eTest, AnEventWithANulEscapeIsStoredAndAnswered200) {
  const auto body =
      eventJson("evt_nul", "customer.subscription.created",
                R"({"id":"sub_1","object":"subscription","customer":"cus_1","status":"active",)"
                R"("metadata":{"organizationId":"org_1","note":"a\u0000b"}})",
                unixNow());
  const auto answer = post(body);
  EXPECT_EQ(answer.status, 200) << answer.body << daemon_->log();
  EXPECT_EQ(
      db_.scalar(R"(SELECT "signedPayload" FROM "StripeWebhookEvent" WHERE "id" = 'evt_nul')"),
      body);
  // An unpaired surrogate is valid JSON that simdjson and jsonb both refuse.
  auto lone = eventJson("evt_surrogate", "customer.created",
                        R"({"id":"cus_1","object":"customer","name":"LONE"})", unixNow());
  lone.replace(lone.find("LONE"), 4, "\\ud800");  // nlohmann would not build it
  const auto second = post(lone);
  EXPECT_EQ(second.status, 200) << second.body << daemon_->log();
  EXPECT_EQ(db_.scalar(R"(SELECT "payload" #>> '{data,object,name}' FROM "StripeWebhookEvent"
                          WHERE "id" = 'evt_surrogate')"),
            "\xef\xbf\xbd");
}

// A refusal by the database that every retry would meet again is a 422
// with a reason and an error line in the log, never "database unavailable".
TEST_F(WebhookE2eTest, AnEventTheDatabaseRefusesIsA422NotA503) {
  db_.scalar(R"(ALTER TABLE "StripeWebhookEvent" ADD CONSTRAINT "test_refuses"
              CHECK ("type" <> 'test.refused'))");
  const auto refused = post(newEvent("test.refused"));
  EXPECT_EQ(refused.status, 422) << refused.body;
  EXPECT_NE(refused.body.find("refuses"), std::string::npos) << refused.body;
  EXPECT_EQ(rows(), "0");
  const auto fine = post(newEvent("customer.created"));
  EXPECT_EQ(fine.status, 200) << fine.body;
  EXPECT_EQ(rows(), "1");
  const auto log = daemon_->log();
  EXPECT_NE(log.find(R"("level":"error","msg":"the database refuses this webhook event)"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("23514"), std::string::npos) << log;
}

}  // namespace
}  // namespace effectd::testing
