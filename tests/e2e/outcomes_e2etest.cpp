// What each provider answer does to the OutboundEffect row, through the real
// daemon and a stand-in speaking the provider's API: the row an operator
// reads with `effects show` after every kind of answer, and silence.
#include <gtest/gtest.h>

#include <map>
#include <pqxx/pqxx>

#include "tests/support/daemon.hpp"
#include "tests/support/database.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/standin.hpp"

namespace effectd::testing {
namespace {

using nlohmann::json;

// Effects claimed in key order, one at a time, so each meets its planned answer.
void enqueueInOrder(TestDatabase& db, const std::vector<std::string>& keys, int maxAttempts = 12) {
  pqxx::work tx(db.conn());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    tx.exec_params(
        R"(INSERT INTO "OutboundEffect" ("key", "kind", "payload", "runAt", "maxAttempts")
                      VALUES ($1, 'email', '{"to":"a@example.com","subject":"Hi","text":"Hello"}',
                              now() AT TIME ZONE 'UTC' - make_interval(secs => $2), $3))",
        keys[i], static_cast<double>(keys.size() - i), maxAttempts);
  }
  tx.commit();
}

struct Row {
  std::string status;
  int attempts = 0;
  std::string lastError;
  double dueInSeconds = 0;  // runAt - updatedAt: the backoff chosen
};

Row row(TestDatabase& db, const std::string& key) {
  pqxx::work tx(db.conn());
  const auto r = tx.exec_params1(
      R"(SELECT "status", "attempts", COALESCE("lastError", ''),
                EXTRACT(EPOCH FROM "runAt" - "updatedAt")::float8
         FROM "OutboundEffect" WHERE "key" = $1)",
      key);
  return {r[0].as<std::string>(), r[1].as<int>(), r[2].as<std::string>(), r[3].as<double>()};
}

bool allAttempted(TestDatabase& db) {
  return db.scalar(R"(SELECT count(*) FROM "OutboundEffect"
                      WHERE "status" = 'running' OR "attempts" = 0)") == "0";
}

EnvOverrides oneAtATime(TestDatabase& db, const std::string& provider, const std::string& url) {
  return {{"DATABASE_URL", db.url()},       {"EMAIL_PROVIDER", provider},
          {"RESEND_API_URL", url},          {"RESEND_API_KEY", "re_outcomes"},
          {"POSTMARK_API_URL", url},        {"POSTMARK_SERVER_TOKEN", "pm_outcomes"},
          {"EMAIL_MAX_PER_SECOND", "0"},    {"EFFECTD_DRAIN_CONCURRENCY", "1"},
          {"EFFECTD_PROVIDER_TIMEOUT", "1"}};
}

TEST(OutcomesE2eTest, EveryResendAnswerLeavesThePrescribedRow) {
  TestDatabase db;
  ProviderStandIn standIn;
  auto plan = failingAnswers();
  const json success{{"status", 200}, {"body", {{"id", "re_ok"}}}};
  plan.insert(plan.begin(), success);
  standIn.plan(plan);
  enqueueInOrder(db, {"a200", "b400", "d409", "e429", "f500", "g-hang", "h-drop"});
  Daemon daemon(oneAtATime(db, "resend", standIn.url()));
  ASSERT_TRUE(eventually([&] { return allAttempted(db); }, std::chrono::seconds(20)))
      << daemon.log();

  EXPECT_EQ(row(db, "a200").status, "sent");
  EXPECT_EQ(db.scalar(R"(SELECT "providerMessageId" FROM "OutboundEffect" WHERE "key" = 'a200')"),
            "re_ok");
  const auto bad = row(db, "b400");
  EXPECT_EQ(bad.status, "dead");
  EXPECT_NE(bad.lastError.find("invalid to"), std::string::npos) << bad.lastError;
  // Temporary answers wait: the base backoff (10 s) with ±25% jitter, or
  // exactly what Retry-After says.
  for (const auto* key : {"d409", "f500", "g-hang", "h-drop"}) {
    const auto r = row(db, key);
    EXPECT_EQ(r.status, "pending") << key;
    EXPECT_EQ(r.attempts, 1) << key;
    EXPECT_GE(r.dueInSeconds, 7.5) << key;
    EXPECT_LE(r.dueInSeconds, 12.5) << key;
  }
  const auto limited = row(db, "e429");
  EXPECT_EQ(limited.status, "pending");
  EXPECT_NEAR(limited.dueInSeconds, 7.0, 0.01);
  EXPECT_NE(limited.lastError.find("HTTP 429"), std::string::npos) << limited.lastError;
  EXPECT_NE(row(db, "g-hang").lastError.find("timeout"), std::string::npos)
      << row(db, "g-hang").lastError;
  // Resend saw each key once; none was retried before its time.
  EXPECT_EQ(standIn.requests().size(), 7u);
}

// A refused API key (rotated, or mistyped in the unit's environment) pauses
// the emails instead of burning the backlog's attempts into dead; /readyz
// and /metrics say so; once the key is accepted again, each is sent once.
TEST(OutcomesE2eTest, RefusedCredentialsPauseTheEmailsAndKeepTheirAttempts) {
  TestDatabase db;
  ProviderStandIn standIn;
  auto refusals = json::array();
  for (int i = 0; i < 60; ++i) {
    refusals.push_back({{"status", 401}, {"body", {{"message", "API key is invalid"}}}});
  }
  standIn.plan(refusals);
  const std::vector<std::string> keys{"k1", "k2", "k3", "k4", "k5"};
  enqueueInOrder(db, keys, /*maxAttempts=*/2);
  auto env = oneAtATime(db, "resend", standIn.url());
  env["EFFECTD_DRAIN_CONCURRENCY"] = "4";
  env["EFFECTD_REFUSED_CREDENTIALS_PAUSE"] = "1";
  Daemon daemon(env);

  const std::string pausedSeries = R"(effectd_channel_paused{kind="email",provider="resend"} )";
  ASSERT_TRUE(eventually(
      [&] {
        return daemon.admin("GET", "/metrics").body.find(pausedSeries + "1") != std::string::npos;
      },
      std::chrono::seconds(20)))
      << daemon.log();
  // Still ready: Stripe's webhooks are stored whatever the email provider
  // says. Named without the provider's words: the listener is public.
  const auto ready = daemon.get("/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_NE(ready.body.find(R"("kind":"email","provider":"resend","reason":"credentials refused")"),
            std::string::npos)
      << ready.body;
  EXPECT_EQ(ready.body.find("API key is invalid"), std::string::npos) << ready.body;

  // Probes, one at a time and each refused: nothing dead, no attempt counted.
  ASSERT_TRUE(eventually([&] { return standIn.requests().size() >= 7; }, std::chrono::seconds(30)))
      << daemon.log();
  EXPECT_EQ(db.scalar(R"(SELECT count(*) FROM "OutboundEffect"
                         WHERE "status" NOT IN ('pending', 'running')
                            OR ("status" = 'pending' AND "attempts" > 0))"),
            "0");
  EXPECT_NE(daemon.log().find("the provider refused the credentials"), std::string::npos);
  EXPECT_EQ(daemon.log().find("re_outcomes"), std::string::npos) << "the key reached the log";

  standIn.plan(json::array());  // the key is fixed: 200 from now on
  ASSERT_TRUE(eventually(
      [&] {
        return db.scalar(R"(SELECT count(*) FROM "OutboundEffect" WHERE "status" = 'sent')") == "5";
      },
      std::chrono::seconds(60)))
      << daemon.log();
  // Each once, on its first counted attempt, although some were refused twice.
  for (const auto& key : keys) EXPECT_EQ(row(db, key).attempts, 1) << key;
  std::map<std::string, int> accepted;
  for (const auto& r : standIn.requests()) {
    if (r["status"] == 200) ++accepted[r["headers"]["idempotency-key"].get<std::string>()];
  }
  EXPECT_EQ(accepted.size(), 5u);
  for (const auto& [key, n] : accepted) EXPECT_EQ(n, 1) << key;
  EXPECT_NE(daemon.admin("GET", "/metrics").body.find(pausedSeries + "0"), std::string::npos);
  EXPECT_EQ(daemon.get("/readyz").body, R"({"status":"ready"})");
}

// Provider text is anything: a message cut mid-character, a NUL byte. The
// outcome is still written (jsonb refuses NUL), and the drainer goes on.
TEST(OutcomesE2eTest, AnAnswerThatIsNotCleanTextIsStillRecorded) {
  TestDatabase db;
  ProviderStandIn standIn;
  standIn.plan(json::array({{{"status", 500}, {"body", std::string(299, 'x') + "\u00e9"}},
                            {{"status", 400}, {"body", std::string("bad\0byte", 8)}},
                            {{"status", 200}}}));
  enqueueInOrder(db, {"a-cut", "b-nul", "c-ok"});
  Daemon daemon(oneAtATime(db, "resend", standIn.url()));
  ASSERT_TRUE(eventually([&] { return allAttempted(db); }, std::chrono::seconds(20)))
      << daemon.log();
  const auto cut = row(db, "a-cut");
  EXPECT_EQ(cut.status, "pending");
  EXPECT_NE(cut.lastError.find("HTTP 500: xxx"), std::string::npos) << cut.lastError;
  const auto nul = row(db, "b-nul");
  EXPECT_EQ(nul.status, "dead");
  EXPECT_NE(nul.lastError.find("bad byte"), std::string::npos) << nul.lastError;
  EXPECT_EQ(row(db, "c-ok").status, "sent");
}

TEST(OutcomesE2eTest, PostmarkSilenceIsUnknownAndTheLastAttemptIsDead) {
  TestDatabase db;
  ProviderStandIn standIn;
  standIn.plan(json::array({{{"hang", 3}},
                            {{"drop", true}},
                            {{"status", 502}, {"body", "Bad Gateway"}},
                            {{"status", 504}, {"body", "Gateway Timeout"}},
                            {{"status", 500}, {"body", "Internal Server Error"}},
                            {{"status", 520}, {"body", "Web server returned an unknown error"}},
                            {{"status", 524}, {"body", "A timeout occurred"}},
                            {{"status", 522}, {"body", "Connection timed out"}},
                            {{"status", 503}}}));
  enqueueInOrder(db,
                 {"a-hang", "b-drop", "b2-502", "b3-504", "b4-500", "b5-520", "b6-524", "b7-522"});
  enqueueInOrder(db, {"c-last"}, /*maxAttempts=*/1);
  Daemon daemon(oneAtATime(db, "postmark", standIn.url()));
  ASSERT_TRUE(eventually([&] { return allAttempted(db); }, std::chrono::seconds(20)))
      << daemon.log();
  // Postmark's own 500, a gateway's or a CDN's error may come after Postmark
  // accepted the message: never sent again automatically.
  for (const auto* key : {"a-hang", "b-drop", "b2-502", "b3-504", "b4-500", "b5-520", "b6-524"}) {
    const auto r = row(db, key);
    EXPECT_EQ(r.status, "unknown") << key;
    EXPECT_NE(r.lastError.find("may have been delivered"), std::string::npos) << r.lastError;
  }
  // A CDN that never reached Postmark (522): retried.
  EXPECT_EQ(row(db, "b7-522").status, "pending");
  const auto last = row(db, "c-last");
  EXPECT_EQ(last.status, "dead");
  EXPECT_NE(last.lastError.find("HTTP 503"), std::string::npos) << last.lastError;
  EXPECT_EQ(standIn.requests().size(), 9u);
}

TEST(OutcomesE2eTest, AnalyticsWithoutATimestampCarryTheEffectsOwnTimeOnEveryAttempt) {
  // PostHog deduplicates on uuid, event, distinct id and timestamp together:
  // a retry must repeat all four, or a timeout that PostHog did record
  // counts twice.
  TestDatabase db;
  ProviderStandIn standIn;
  standIn.plan(json::array({{{"status", 500}, {"body", "try again"}}}));
  {
    pqxx::work tx(db.conn());
    tx.exec(R"(INSERT INTO "OutboundEffect" ("key", "kind", "payload", "createdAt")
               VALUES ('analytics:no_time', 'analytics',
                       '{"event":"seat_added","distinctId":"org_1"}',
                       '2026-03-04 05:06:07.089'))");
    tx.commit();
  }
  Daemon daemon({{"DATABASE_URL", db.url()},
                 {"ANALYTICS_PROVIDER", "posthog"},
                 {"POSTHOG_HOST", standIn.url()},
                 {"POSTHOG_API_KEY", "phc_test"},
                 {"EFFECTD_EFFECT_RETRY_BASE", "1"}});
  ASSERT_TRUE(eventually([&] { return row(db, "analytics:no_time").status == "sent"; },
                         std::chrono::seconds(20)))
      << daemon.log();
  const auto requests = standIn.requests();
  ASSERT_EQ(requests.size(), 2u);
  std::vector<json> items;
  for (const auto& r : requests) {
    items.push_back(json::parse(r["body"].get<std::string>())["batch"][0]);
  }
  EXPECT_EQ(items[0]["timestamp"], "2026-03-04T05:06:07.089Z");
  EXPECT_EQ(items[1]["timestamp"], items[0]["timestamp"]);
  EXPECT_EQ(items[1]["uuid"], items[0]["uuid"]);
  EXPECT_EQ(items[1]["event"], "seat_added");
}

}  // namespace
}  // namespace effectd::testing
