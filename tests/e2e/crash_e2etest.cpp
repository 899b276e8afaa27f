// kill -9 while a provider holds the response open: after a restart, an
// idempotent provider gets the retry with the same idempotency handle, and a
// non-idempotent one is never sent the effect again (it becomes `unknown`).
#include <gtest/gtest.h>

#include <signal.h>

#include <pqxx/pqxx>
#include <thread>

#include "tests/support/daemon.hpp"
#include "tests/support/database.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/raw_connection.hpp"
#include "tests/support/standin.hpp"

namespace effectd::testing {
namespace {

void enqueueEmail(TestDatabase& db, const std::string& key, const std::string& subject = "Hi") {
  pqxx::work tx(db.conn());
  tx.exec_params(R"(INSERT INTO "OutboundEffect" ("key", "kind", "payload")
                    VALUES ($1, 'email', json_build_object('to', 'a@example.com',
                                                           'subject', $2::text,
                                                           'text', 'Hello')))",
                 key, subject);
  tx.commit();
}

std::string status(TestDatabase& db, const std::string& key) {
  return db.scalar(R"(SELECT "status" FROM "OutboundEffect" WHERE "key" = ')" + key + "'");
}

EnvOverrides providerEnv(TestDatabase& db, const std::string& provider, const std::string& url) {
  return {{"DATABASE_URL", db.url()},   {"EMAIL_PROVIDER", provider},
          {"RESEND_API_URL", url},      {"RESEND_API_KEY", "re_crash"},
          {"POSTMARK_API_URL", url},    {"POSTMARK_SERVER_TOKEN", "pm_crash"},
          {"EFFECTD_EFFECT_LEASE", "5"}};
}

TEST(CrashE2eTest, AnIdempotentProviderGetsTheRetryWithTheSameKey) {
  TestDatabase db;
  ProviderStandIn standIn;
  standIn.plan(nlohmann::json::array({{{"hang", 60}}}));
  {
    Daemon first(providerEnv(db, "resend", standIn.url()));
    enqueueEmail(db, "email:crash:1");
    ASSERT_TRUE(
        eventually([&] { return standIn.requests().size() == 1; }, std::chrono::seconds(10)));
    first.process().stop(SIGKILL, std::chrono::seconds(5));
  }
  EXPECT_EQ(status(db, "email:crash:1"), "running");
  Daemon second(providerEnv(db, "resend", standIn.url()));
  // The lease (5 s) runs out, the rescuer puts it back, and it is sent again.
  ASSERT_TRUE(
      eventually([&] { return status(db, "email:crash:1") == "sent"; }, std::chrono::seconds(30)))
      << status(db, "email:crash:1") << "\n"
      << second.log();
  const auto requests = standIn.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0]["headers"]["idempotency-key"], "email:crash:1");
  EXPECT_EQ(requests[1]["headers"]["idempotency-key"], "email:crash:1");
  EXPECT_EQ(requests[0]["body"], requests[1]["body"]);
}

TEST(CrashE2eTest, ANonIdempotentProviderIsNeverSentTheEffectAgain) {
  TestDatabase db;
  ProviderStandIn standIn;
  standIn.plan(nlohmann::json::array({{{"hang", 60}}}));
  {
    Daemon first(providerEnv(db, "postmark", standIn.url()));
    enqueueEmail(db, "email:crash:2");
    ASSERT_TRUE(
        eventually([&] { return standIn.requests().size() == 1; }, std::chrono::seconds(10)));
    first.process().stop(SIGKILL, std::chrono::seconds(5));
  }
  Daemon second(providerEnv(db, "postmark", standIn.url()));
  ASSERT_TRUE(eventually([&] { return status(db, "email:crash:2") == "unknown"; },
                         std::chrono::seconds(30)))
      << second.log();
  // A later email reaches the provider next: the drainer has claimed since,
  // and the unknown one was not among what it sent.
  enqueueEmail(db, "email:crash:after", "Marker");
  ASSERT_TRUE(eventually([&] { return standIn.requests().size() >= 2; }, std::chrono::seconds(10)));
  const auto requests = standIn.requests();
  EXPECT_EQ(requests.size(), 2u);
  EXPECT_NE(requests[1]["body"].get<std::string>().find("Marker"), std::string::npos);
  EXPECT_NE(db.scalar(R"(SELECT "lastError" FROM "OutboundEffect" WHERE "key" = 'email:crash:2')")
                .find("may have it"),
            std::string::npos);
  // Retrying an unknown effect warns, and without a terminal asks for --yes.
  const auto unconfirmed = runCommand({effectdBinary(), "effects", "retry", "email:crash:2"},
                                      {{"DATABASE_URL", db.url()}});
  EXPECT_EQ(unconfirmed.exitCode, 2) << unconfirmed.output;
  EXPECT_NE(unconfirmed.output.find("may deliver it twice"), std::string::npos)
      << unconfirmed.output;
  EXPECT_EQ(status(db, "email:crash:2"), "unknown");
  // The operator decides: here, that it was not sent after all.
  ASSERT_EQ(runCommand({effectdBinary(), "effects", "retry", "email:crash:2", "--yes"},
                       {{"DATABASE_URL", db.url()}})
                .exitCode,
            0);
  EXPECT_TRUE(
      eventually([&] { return status(db, "email:crash:2") == "sent"; }, std::chrono::seconds(10)));
  EXPECT_EQ(standIn.requests().size(), 3u);
}

// The same over SMTP, which has no idempotency handle at all: the server
// has the whole message when the daemon dies waiting for its "250".
TEST(CrashE2eTest, AnSmtpEffectBecomesUnknownAndIsNotSentAgain) {
  TestDatabase db;
  TestCertificates certs;
  SmtpServer smtp(certs.dir, {"--hang-after-data"});
  const EnvOverrides env{
      {"DATABASE_URL", db.url()},
      {"EMAIL_PROVIDER", "smtp"},
      {"SMTP_URL", "smtp://mailer:s3cret@localhost:" + std::to_string(smtp.port())},
      {"EFFECTD_CA_FILE", certs.dir + "/ca.pem"},
      {"EFFECTD_EFFECT_LEASE", "5"}};
  {
    Daemon first(env);
    enqueueEmail(db, "email:crash:smtp");
    ASSERT_TRUE(eventually([&] { return smtp.messages().size() == 1; }, std::chrono::seconds(10)))
        << first.log();
    first.process().stop(SIGKILL, std::chrono::seconds(5));
  }
  EXPECT_EQ(status(db, "email:crash:smtp"), "running");
  Daemon second(env);
  ASSERT_TRUE(eventually([&] { return status(db, "email:crash:smtp") == "unknown"; },
                         std::chrono::seconds(30)))
      << second.log();
  // A later email reaches the server next (counted there): the drainer has
  // claimed since, and the unknown one was not among what it sent.
  enqueueEmail(db, "email:crash:after", "Marker");
  ASSERT_TRUE(eventually([&] { return smtp.messages().size() >= 2; }, std::chrono::seconds(10)));
  const auto messages = smtp.messages();
  EXPECT_EQ(messages.size(), 2u);
  EXPECT_NE(messages[1]["content"].get<std::string>().find("Marker"), std::string::npos);
  EXPECT_NE(
      db.scalar(R"(SELECT "lastError" FROM "OutboundEffect" WHERE "key" = 'email:crash:smtp')")
          .find("may have it"),
      std::string::npos);
}

// SIGTERM while providers hold their answers: the daemon waits out its
// shutdown grace, cuts the calls short, records what became of each effect,
// and exits 0 (well before the 30 s provider timeout).
TEST(CrashE2eTest, SigtermWhileProvidersHangEndsEachEffectAndExitsZero) {
  TestDatabase db;
  ProviderStandIn standIn;
  standIn.plan(nlohmann::json::array({{{"hang", 60}}, {{"hang", 60}}}));
  auto env = providerEnv(db, "postmark", standIn.url());
  env["EFFECTD_SHUTDOWN_TIMEOUT"] = "1";
  env["EFFECTD_PROVIDER_TIMEOUT"] = "30";
  // The stand-in is plain http on loopback: both allowed explicitly.
  env["WEBHOOK_ALLOW_HTTP_HOSTS"] = "127.0.0.1:" + std::to_string(standIn.port());
  env["WEBHOOK_ALLOW_PRIVATE_ADDRESSES"] = "127.0.0.1";
  env["EFFECTD_EFFECT_LEASE"] = "60";
  Daemon daemon(env);
  enqueueEmail(db, "email:term:1");
  pqxx::work tx(db.conn());
  tx.exec_params(R"(INSERT INTO "OutboundEffect" ("key", "kind", "payload")
                    VALUES ('webhook:term:1', 'webhook', $1::jsonb))",
                 nlohmann::json{{"url", standIn.url() + "/hook"}, {"body", {{"n", 1}}}}.dump());
  tx.commit();
  ASSERT_TRUE(eventually([&] { return standIn.requests().size() == 2; }, std::chrono::seconds(10)))
      << daemon.log();

  EXPECT_EQ(daemon.process().stop(SIGTERM, std::chrono::seconds(15)), 0) << daemon.log();
  EXPECT_NE(daemon.log().find("cutting deliveries short"), std::string::npos) << daemon.log();
  // Postmark cannot deduplicate: the email may have arrived, so it waits for
  // an operator. The webhook's receiver deduplicates on webhook-id: it is
  // simply due again. Neither is left running for a lease to expire.
  EXPECT_EQ(status(db, "email:term:1"), "unknown");
  EXPECT_EQ(status(db, "webhook:term:1"), "pending");
  EXPECT_NE(db.scalar(R"(SELECT "lastError" FROM "OutboundEffect" WHERE "key" = 'webhook:term:1')")
                .find("cut short by shutdown"),
            std::string::npos);
}

// SIGTERM stops claiming at once, while the HTTP server is still draining a
// slow request: an effect that becomes due during the drain is left for the
// next daemon, and the whole stop fits in EFFECTD_SHUTDOWN_TIMEOUT.
TEST(CrashE2eTest, SigtermStopsClaimingWhileTheHttpServerDrains) {
  TestDatabase db;
  Daemon daemon({{"DATABASE_URL", db.url()},
                 {"EFFECTD_SHUTDOWN_TIMEOUT", "3"},
                 {"EFFECTD_READ_TIMEOUT", "30"},
                 {"EFFECTD_POLL_INTERVAL_MS", "100"}});
  enqueueEmail(db, "email:before-term");
  ASSERT_TRUE(eventually([&] { return status(db, "email:before-term") == "sent"; },
                         std::chrono::seconds(10)))
      << daemon.log();
  // A webhook whose body is still arriving holds the HTTP server's drain.
  RawConnection slow(daemon.port());
  ASSERT_TRUE(slow.send(
      "POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"id\":"));
  // Accepted and past its header (not idle): the drain must wait for it.
  ASSERT_TRUE(eventually(
      [&] {
        return daemon.metric(R"(effectd_http_connections{listener="public"})") == 1.0 &&
               daemon.metric(R"(effectd_http_idle_connections{listener="public"})") == 0.0;
      },
      std::chrono::seconds(5)));
  ASSERT_EQ(::kill(daemon.process().pid(), SIGTERM), 0);
  ASSERT_TRUE(eventually([&] { return daemon.log().find("shutting down") != std::string::npos; },
                         std::chrono::seconds(5)));
  enqueueEmail(db, "email:after-term");
  EXPECT_EQ(daemon.process().stop(SIGTERM, std::chrono::seconds(8)), 0) << daemon.log();
  EXPECT_EQ(status(db, "email:after-term"), "pending") << daemon.log();
}

}  // namespace
}  // namespace effectd::testing
