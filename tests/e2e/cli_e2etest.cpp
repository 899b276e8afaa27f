// The operator's commands, run as the real binary.
#include <gtest/gtest.h>

#include <signal.h>

#include <map>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <sstream>

#include "tests/support/daemon.hpp"
#include "tests/support/database.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/standin.hpp"

namespace effectd::testing {
namespace {

CommandResult effectd(const std::vector<std::string>& args, const EnvOverrides& env) {
  std::vector<std::string> argv{effectdBinary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return runCommand(argv, env);
}

TEST(CliE2eTest, MigrateThenStatusThenIdempotent) {
  TestDatabase db(TestDatabase::Schema::Empty);
  const EnvOverrides env{{"DATABASE_URL", db.url()}};
  auto status = effectd({"migrate", "--status"}, env);
  EXPECT_EQ(status.exitCode, 1) << status.output;
  EXPECT_NE(status.output.find("pending  0001_initial"), std::string::npos) << status.output;

  auto first = effectd({"migrate"}, env);
  EXPECT_EQ(first.exitCode, 0) << first.output;
  EXPECT_NE(first.output.find("applied 0001_initial"), std::string::npos);
  auto second = effectd({"migrate"}, env);
  EXPECT_EQ(second.exitCode, 0);
  EXPECT_NE(second.output.find("up to date"), std::string::npos) << second.output;

  auto json = effectd({"migrate", "--status", "--json"}, env);
  EXPECT_EQ(json.exitCode, 0) << json.output;
  const auto listing = nlohmann::json::parse(json.output);
  EXPECT_EQ(listing[0]["applied"], true);
}

TEST(CliE2eTest, MigrateRefusesWhenAnAppliedMigrationChanged) {
  TestDatabase db(TestDatabase::Schema::Empty);
  const EnvOverrides env{{"DATABASE_URL", db.url()}};
  ASSERT_EQ(effectd({"migrate"}, env).exitCode, 0);
  // The database says 0001 had other text than this binary's, and the last
  // migration is pending again: nothing may be applied.
  pqxx::nontransaction(db.conn()).exec(
      R"(UPDATE "_effectd_migrations" SET "checksum" = 'edited' WHERE "version" = '0001';
               DELETE FROM "_effectd_migrations" WHERE "version" = '0003';
               DROP INDEX "OutboundEffect_retention_idx";
               ALTER TABLE "OutboundEffect" DROP COLUMN "payloadPrunedAt",
                                            DROP COLUMN "lockedIdempotent",
                                            DROP COLUMN "lastProvider")");
  const auto refused = effectd({"migrate"}, env);
  EXPECT_EQ(refused.exitCode, 1) << refused.output;
  EXPECT_NE(refused.output.find("migration 0001_initial was changed after it was applied"),
            std::string::npos)
      << refused.output;
  EXPECT_EQ(db.scalar(R"(SELECT count(*) FROM "_effectd_migrations" WHERE "version" = '0003')"),
            "0");
}

TEST(CliE2eTest, SchemaCheckNamesADroppedColumnAndFails) {
  TestDatabase db;
  const EnvOverrides env{{"DATABASE_URL", db.url()}};
  EXPECT_EQ(effectd({"schema", "check"}, env).exitCode, 0);
  pqxx::nontransaction(db.conn()).exec(
      R"(ALTER TABLE "OutboundEffect" DROP COLUMN "lockedUntil" CASCADE)");
  const auto check = effectd({"schema", "check"}, env);
  EXPECT_EQ(check.exitCode, 1);
  EXPECT_NE(check.output.find(R"(missing column "OutboundEffect"."lockedUntil")"),
            std::string::npos)
      << check.output;
}

TEST(CliE2eTest, ConfigCheckListsEveryProblemAndRedactsSecrets) {
  const auto bad = effectd({"config", "check"}, {{"DATABASE_URL", ""},
                                                 {"STRIPE_WEBHOOK_SECRET", ""},
                                                 {"STRIPE_LIVEMODE", "maybe"},
                                                 {"EFFECTD_LISTEN", "bogus"}});
  EXPECT_EQ(bad.exitCode, 2);
  EXPECT_NE(bad.output.find("6 problem(s)"), std::string::npos) << bad.output;
  EXPECT_NE(bad.output.find("EMAIL_PROVIDER is not set"), std::string::npos) << bad.output;

  const auto good =
      effectd({"config", "check"}, {{"DATABASE_URL", "postgresql://u:hunter2@db/x"},
                                    {"STRIPE_WEBHOOK_SECRET", "whsec_topsecret"},
                                    {"EMAIL_PROVIDER", "smtp"},
                                    {"ANALYTICS_PROVIDER", "log"},
                                    {"SMTP_URL", "smtp://mailer:smtp-pa55@smtp.example:587"}});
  EXPECT_EQ(good.exitCode, 0) << good.output;
  EXPECT_EQ(good.output.find("hunter2"), std::string::npos);
  EXPECT_EQ(good.output.find("smtp-pa55"), std::string::npos) << good.output;
  EXPECT_NE(good.output.find("SMTP_URL=smtp://mailer:***@smtp.example:587"), std::string::npos)
      << good.output;
  EXPECT_EQ(good.output.find("whsec_topsecret"), std::string::npos);
  EXPECT_NE(good.output.find("DATABASE_URL=postgresql://u:***@db/x"), std::string::npos);
  // A provider URL with credentials is refused, and the refusal does not
  // repeat the password either.
  const auto refused =
      effectd({"config", "check"}, {{"DATABASE_URL", "postgresql://u@db/x"},
                                    {"STRIPE_WEBHOOK_SECRET", "whsec_topsecret"},
                                    {"POSTHOG_HOST", "https://proxy:ph-pa55@ph.example"}});
  EXPECT_EQ(refused.exitCode, 2) << refused.output;
  EXPECT_NE(refused.output.find("POSTHOG_HOST"), std::string::npos) << refused.output;
  EXPECT_EQ(refused.output.find("ph-pa55"), std::string::npos) << refused.output;
}

TEST(CliE2eTest, DevTriggerStoresASampleEventInARunningDaemon) {
  TestDatabase db;
  const EnvOverrides env{{"DATABASE_URL", db.url()}, {"STRIPE_WEBHOOK_SECRET", "whsec_dev"}};
  Daemon daemon(env);
  auto triggerEnv = env;
  triggerEnv["EFFECTD_LISTEN"] = "127.0.0.1:" + std::to_string(daemon.port());
  for (const std::string type :
       {"customer.subscription.created", "checkout.session.completed", "invoice.payment_failed"}) {
    const auto result = effectd({"dev", "trigger", type}, triggerEnv);
    EXPECT_EQ(result.exitCode, 0) << result.output;
    EXPECT_NE(result.output.find("200"), std::string::npos) << result.output;
    EXPECT_EQ(
        db.scalar(R"(SELECT count(*) FROM "StripeWebhookEvent" WHERE "type" = ')" + type + "'"),
        "1");
  }
  // Against nothing listening, it says so and fails.
  triggerEnv["EFFECTD_LISTEN"] = "127.0.0.1:1";
  EXPECT_EQ(effectd({"dev", "trigger", "invoice.paid"}, triggerEnv).exitCode, 1);
}

TEST(CliE2eTest, MigrateReportsAnUnreachableDatabase) {
  const auto result =
      effectd({"migrate"}, {{"DATABASE_URL", "postgresql://postgres@127.0.0.1:1/x"}});
  EXPECT_EQ(result.exitCode, 1);
  EXPECT_NE(result.output.find("effectd migrate:"), std::string::npos) << result.output;
}

// A database out of reach at start cannot be compared: serve serves (503s)
// and compares once it answers; a difference then stops it, with 78 again.
TEST(CliE2eTest, ServeComparesTheMigrationsOnceTheDatabaseAnswers) {
  TestDatabase db;
  BlackHoleProxy proxy(portOf(db.url()));
  proxy.blackHole(true);
  Daemon daemon({{"DATABASE_URL", throughPort(db.url(), proxy.port())},
                 {"EFFECTD_DB_TIMEOUT", "1"},
                 {"EFFECTD_SHUTDOWN_TIMEOUT", "3"}});
  EXPECT_NE(daemon.log().find("comparing once it answers"), std::string::npos) << daemon.log();
  EXPECT_EQ(daemon.get("/readyz").status, 503);
  db.scalar(R"(INSERT INTO "_effectd_migrations" ("version", "name", "checksum")
               VALUES ('9999', '9999_from_a_newer_build', 'x'))");
  proxy.blackHole(false);
  ASSERT_TRUE(eventually([&] { return !daemon.process().running(); }, std::chrono::seconds(30)))
      << daemon.log();
  EXPECT_EQ(daemon.process().stop(SIGTERM, std::chrono::seconds(1)), 78) << daemon.log();
  EXPECT_NE(daemon.log().find("9999_from_a_newer_build"), std::string::npos) << daemon.log();
}

}  // namespace
}  // namespace effectd::testing

namespace effectd::testing {
namespace {

TEST(CliE2eTest, EffectsEnqueueListShowCancelRetryStats) {
  TestDatabase db;
  const EnvOverrides env{{"DATABASE_URL", db.url()}};
  const std::string payload = R"({"to":"a@example.com","subject":"Hi","text":"Hello"})";
  const auto first = effectd({"effects", "enqueue", "--kind", "email", "--key", "manual:1",
                              "--payload", payload, "--run-at", "2100-01-01T00:00:00Z"},
                             env);
  EXPECT_EQ(first.exitCode, 0) << first.output;
  EXPECT_NE(first.output.find("enqueued manual:1"), std::string::npos);
  const auto again = effectd({"effects", "enqueue", "--kind", "email", "--key", "manual:1",
                              "--payload", R"({"to":"other@example.com"})"},
                             env);
  EXPECT_NE(again.output.find("already enqueued"), std::string::npos) << again.output;
  EXPECT_EQ(effectd({"effects", "enqueue", "--kind", "sms", "--key", "x", "--payload", "{}"}, env)
                .exitCode,
            2);
  EXPECT_EQ(
      effectd({"effects", "enqueue", "--kind", "email", "--key", "x", "--payload", "[1]"}, env)
          .exitCode,
      2);

  const auto list = effectd({"effects", "list", "--json"}, env);
  ASSERT_EQ(list.exitCode, 0) << list.output;
  const auto rows = nlohmann::json::parse(list.output);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["key"], "manual:1");
  EXPECT_EQ(rows[0]["status"], "pending");
  EXPECT_EQ(rows[0]["runAt"], "2100-01-01T00:00:00.000Z");

  const auto show = effectd({"effects", "show", "manual:1", "--json"}, env);
  EXPECT_EQ(nlohmann::json::parse(show.output)["payload"]["to"], "a@example.com");

  EXPECT_EQ(effectd({"effects", "cancel", "manual:1"}, env).exitCode, 0);
  EXPECT_EQ(db.scalar(R"(SELECT "status" FROM "OutboundEffect")"), "cancelled");
  EXPECT_EQ(effectd({"effects", "cancel", "manual:1"}, env).exitCode, 1);
  EXPECT_EQ(effectd({"effects", "retry", "manual:1"}, env).exitCode, 0);
  EXPECT_EQ(db.scalar(R"(SELECT "status" || ' ' || "attempts" FROM "OutboundEffect")"),
            "pending 0");
  const auto stats = effectd({"effects", "stats", "--json"}, env);
  const auto figures = nlohmann::json::parse(stats.output);
  EXPECT_EQ(figures["effects"][0]["count"], 1);
  EXPECT_EQ(figures["due"], 1);
  EXPECT_EQ(figures["sentLastMinute"], 0);
  const auto text = effectd({"effects", "stats"}, env);
  EXPECT_NE(text.output.find("sent in the last minute: 0 (0.0/s)"), std::string::npos)
      << text.output;
  EXPECT_NE(text.output.find("due now: 1, the oldest waiting"), std::string::npos) << text.output;
}

TEST(CliE2eTest, RetryAndCancelOnAFilterCountConfirmAndChangeOnlyWhatMatches) {
  TestDatabase db;
  const EnvOverrides env{{"DATABASE_URL", db.url()}};
  pqxx::nontransaction(db.conn()).exec(
      R"(INSERT INTO "OutboundEffect" ("id", "key", "kind", "payload", "status", "attempts",
                                       "runAt", "createdAt", "updatedAt")
         SELECT 'e' || g, 'bulk:' || (CASE WHEN g <= 3 THEN 'hook' ELSE 'mail' END) || ':' || g,
                CASE WHEN g <= 3 THEN 'webhook' ELSE 'email' END, '{}',
                CASE WHEN g = 5 THEN 'sent' ELSE 'dead' END, 12, now(),
                CASE WHEN g = 1 THEN now() - interval '2 days' ELSE now() END, now()
         FROM generate_series(1, 5) g;
         INSERT INTO "OutboundEffect" ("id", "key", "kind", "payload", "status", "attempts",
                                       "runAt", "updatedAt")
         VALUES ('e6', 'bulk:hook:6', 'webhook', '{}', 'unknown', 1, now(), now()))");
  // Without a terminal, a filter needs --yes; nothing changes meanwhile.
  const auto refused = effectd({"effects", "retry", "--kind", "webhook"}, env);
  EXPECT_EQ(refused.exitCode, 2) << refused.output;
  EXPECT_NE(refused.output.find("3 effects match; add --yes"), std::string::npos) << refused.output;
  EXPECT_EQ(db.scalar(R"(SELECT count(*) FROM "OutboundEffect" WHERE "status" = 'dead')"), "4");
  EXPECT_EQ(effectd({"effects", "retry"}, env).exitCode, 2);  // neither a key nor a filter

  // --since leaves the old one; --kind the email ones.
  const auto retried = effectd(
      {"effects", "retry", "--kind", "webhook", "--since", "2000-01-01T00:00:00Z", "--yes"}, env);
  ASSERT_EQ(retried.exitCode, 0) << retried.output;
  EXPECT_NE(retried.output.find("retrying 3 effects"), std::string::npos) << retried.output;
  const auto recent = effectd({"effects", "cancel", "--key-prefix", "bulk:hook:", "--since",
                               "yesterday", "--status", "pending", "--yes"},
                              env);
  ASSERT_EQ(recent.exitCode, 0) << recent.output;
  EXPECT_NE(recent.output.find("cancelled 2 effects"), std::string::npos) << recent.output;
  EXPECT_EQ(db.scalar(R"(SELECT string_agg("id" || '=' || "status", ' ' ORDER BY "id")
                         FROM "OutboundEffect")"),
            "e1=pending e2=cancelled e3=cancelled e4=dead e5=sent e6=unknown");
  // An unknown one only when named: it may have reached its provider.
  const auto unknown =
      effectd({"effects", "retry", "--key-prefix", "bulk:", "--status", "unknown", "--yes"}, env);
  ASSERT_EQ(unknown.exitCode, 0) << unknown.output;
  EXPECT_EQ(db.scalar(R"(SELECT "status" FROM "OutboundEffect" WHERE "id" = 'e6')"), "pending");
  // A sent effect is never selected.
  EXPECT_EQ(effectd({"effects", "retry", "--status", "sent", "--yes"}, env).exitCode, 1);
}

// The statuses `effects tail --json` printed for each key, in order.
std::map<std::string, std::vector<std::string>> tailed(const std::string& output) {
  std::map<std::string, std::vector<std::string>> out;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object()) out[j["key"]].push_back(j["status"]);
  }
  return out;
}

TEST(CliE2eTest, EffectsTailShowsTheRecentChangesThenEveryTransitionLive) {
  TestDatabase db;
  const EnvOverrides env{{"DATABASE_URL", db.url()}};
  const std::string payload = R"({"to":"a@example.com","subject":"Hi","text":"Hello"})";
  ASSERT_EQ(effectd({"effects", "enqueue", "--kind", "email", "--key", "tail:before", "--payload",
                     payload},
                    env)
                .exitCode,
            0);
  ChildProcess tail({effectdBinary(), "effects", "tail", "--json", "-n", "5"}, env,
                    tempDirectory("effectd-tail-") + "/tail.log");
  // The history comes once the LISTEN is in place.
  ASSERT_TRUE(eventually([&] { return tailed(tail.log())["tail:before"].size() == 1; },
                         std::chrono::seconds(10)))
      << tail.log();

  Daemon daemon(env);  // delivers both to .eml files
  ASSERT_EQ(
      effectd({"effects", "enqueue", "--kind", "email", "--key", "tail:live", "--payload", payload},
              env)
          .exitCode,
      0);
  const std::vector<std::string> lifecycle{"pending", "running", "sent"};
  EXPECT_TRUE(eventually([&] { return tailed(tail.log())["tail:live"] == lifecycle; },
                         std::chrono::seconds(10)))
      << tail.log();
  EXPECT_TRUE(eventually([&] { return tailed(tail.log())["tail:before"] == lifecycle; },
                         std::chrono::seconds(10)))
      << tail.log();
  // An operator's cancel and retry are transitions too.
  ASSERT_EQ(effectd({"effects", "enqueue", "--kind", "email", "--key", "tail:later", "--payload",
                     payload, "--run-at", "2100-01-01T00:00:00Z"},
                    env)
                .exitCode,
            0);
  ASSERT_EQ(effectd({"effects", "cancel", "tail:later"}, env).exitCode, 0);
  EXPECT_TRUE(eventually(
      [&] {
        return tailed(tail.log())["tail:later"] == std::vector<std::string>{"pending", "cancelled"};
      },
      std::chrono::seconds(10)))
      << tail.log();
  // The connection drops (a failover, say): what changed meanwhile is printed
  // once tail is back.
  db.scalar(R"(SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
               WHERE datname = current_database() AND pid <> pg_backend_pid()
                 AND application_name = 'effectd effects tail')");
  ASSERT_EQ(effectd({"effects", "enqueue", "--kind", "email", "--key", "tail:offline", "--payload",
                     payload, "--run-at", "2100-01-01T00:00:00Z"},
                    env)
                .exitCode,
            0);
  EXPECT_TRUE(eventually(
      [&] { return tailed(tail.log())["tail:offline"] == std::vector<std::string>{"pending"}; },
      std::chrono::seconds(10)))
      << tail.log();
  EXPECT_NE(tail.log().find("reconnecting"), std::string::npos) << tail.log();
  EXPECT_EQ(tail.stop(SIGINT, std::chrono::seconds(5)), 0);
}

// serve refuses a database whose migrations are not its own, naming them,
// with the exit code the systemd unit does not restart (78).
TEST(CliE2eTest, ServeRefusesADatabaseBehindOrAheadOfTheBinary) {
  TestDatabase db;
  const EnvOverrides env{{"DATABASE_URL", db.url()},        {"STRIPE_WEBHOOK_SECRET", "whsec_cli"},
                         {"EMAIL_PROVIDER", "file"},        {"ANALYTICS_PROVIDER", "log"},
                         {"EFFECTD_LISTEN", "127.0.0.1:0"}, {"EFFECTD_ADMIN_LISTEN", "off"}};
  const auto serve = [&] { return runCommand({"timeout", "30", effectdBinary(), "serve"}, env); };
  db.scalar(R"(INSERT INTO "_effectd_migrations" ("version", "name", "checksum")
               VALUES ('9999', '9999_from_a_newer_build', 'x'))");
  const auto ahead = serve();
  EXPECT_EQ(ahead.exitCode, 78) << ahead.output;
  EXPECT_NE(ahead.output.find("9999_from_a_newer_build"), std::string::npos) << ahead.output;
  EXPECT_NE(ahead.output.find("not serving"), std::string::npos) << ahead.output;

  db.scalar(R"(DELETE FROM "_effectd_migrations")");
  const auto behind = serve();
  EXPECT_EQ(behind.exitCode, 78) << behind.output;
  EXPECT_NE(behind.output.find("not applied (run effectd migrate): 0001_initial"),
            std::string::npos)
      << behind.output;
}

}  // namespace
}  // namespace effectd::testing
