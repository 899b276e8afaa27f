// effectd behind a real PgBouncer in transaction mode, as Supabase's and
// Neon's pooled connection strings are: DATABASE_URL at the pooler (with
// Prisma's pgbouncer=true, so `auto` must recognise it) and
// DATABASE_LISTEN_URL direct. The pool has two server connections, fewer than
// the daemon's own, so its transactions really share them: a statement that
// left anything on a server connection (a named prepared statement) fails.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <thread>

#include "tests/support/billing_db.hpp"
#include "tests/support/daemon.hpp"
#include "tests/support/database.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/pgbouncer.hpp"
#include "tests/support/stripe_fixtures.hpp"

namespace effectd::testing {
namespace {

const std::string kSecret = "whsec_pooler";
constexpr int kOrganizations = 40;

// Rows of PgBouncer's SHOW CLIENTS / SHOW SERVERS for one database.
int rowsFor(const std::string& table, const std::string& database) {
  int n = 0;
  std::size_t at = 0;
  while ((at = table.find("|" + database + "|", at)) != std::string::npos) {
    ++n;
    ++at;
  }
  return n;
}

std::size_t filesIn(const std::string& dir) {
  if (!std::filesystem::exists(dir)) return 0;
  return static_cast<std::size_t>(std::distance(std::filesystem::directory_iterator(dir), {}));
}

class PoolerE2eTest : public ::testing::Test {
 protected:
  TestDatabase db_;
  PgBouncer bouncer_{db_.url(), 2};
  std::string pooled_ = bouncer_.through(db_.url()) + "?pgbouncer=true";
};

TEST_F(PoolerE2eTest, IntakeHandlersDrainingCliAndAdminApiWorkThroughTheTransactionPooler) {
  for (int i = 0; i < kOrganizations; ++i) {
    seedOrganization(db_.conn(), "org_" + std::to_string(i),
                     "owner" + std::to_string(i) + "@example.com");
  }
  // The migrator's check, through the pooler as an operator would run it.
  const auto status =
      runCommand({effectdBinary(), "migrate", "--status"}, {{"DATABASE_URL", pooled_}});
  ASSERT_EQ(status.exitCode, 0) << status.output;

  Daemon daemon({{"DATABASE_URL", pooled_},
                 {"DATABASE_LISTEN_URL", db_.url()},
                 {"STRIPE_WEBHOOK_SECRET", kSecret},
                 {"EFFECTD_DB_POOL_SIZE", "4"},
                 {"EFFECTD_DRAIN_CONCURRENCY", "8"},
                 {"EFFECTD_ADMIN_TOKEN", "pooler-admin-token-0123456789"}});
  EXPECT_NE(daemon.log().find("pgbouncer=true"), std::string::npos) << daemon.log();

  // Each organization's subscription starts (an email and an analytics
  // event) and its first invoice is paid (analytics), posted on 8
  // connections at once.
  std::vector<std::pair<std::string, std::string>> events;
  for (int i = 0; i < kOrganizations; ++i) {
    const auto n = std::to_string(i);
    SubscriptionSpec s{.id = "sub_" + n, .customer = "cus_" + n, .organizationId = "org_" + n};
    events.emplace_back("evt_c" + n,
                        subscriptionEvent(ApiShape::Current, "evt_c" + n,
                                          "customer.subscription.created", unixNow(), s));
    events.emplace_back(
        "evt_p" + n,
        invoiceEvent(ApiShape::Current, "evt_p" + n, "invoice.paid", unixNow(),
                     {.id = "in_" + n, .customer = "cus_" + n, .subscription = "sub_" + n}));
  }
  StripeSigner signer;
  std::vector<std::string> signatures;
  for (const auto& [id, body] : events) signatures.push_back(signer.sign(body, kSecret));
  std::atomic<std::size_t> next{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> senders;
  for (int t = 0; t < 8; ++t) {
    senders.emplace_back([&] {
      for (std::size_t i; (i = next++) < events.size();) {
        const auto answer = daemon.postWebhook(events[i].second, signatures[i]);
        if (answer.status != 200) {
          ++refused;
          ADD_FAILURE() << events[i].first << ": " << answer.status << " " << answer.body;
        }
      }
    });
  }
  // While the senders run: the daemon holds more connections to the pooler
  // than the pooler has to PostgreSQL.
  int clients = 0;
  int servers = 0;
  for (int i = 0; i < 20 && next < events.size(); ++i) {
    clients = std::max(clients, rowsFor(bouncer_.admin("SHOW CLIENTS"), db_.name()));
    servers = std::max(servers, rowsFor(bouncer_.admin("SHOW SERVERS"), db_.name()));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  for (auto& t : senders) t.join();
  // The daemon's connections to the pooler stay open after the load.
  clients = std::max(clients, rowsFor(bouncer_.admin("SHOW CLIENTS"), db_.name()));
  ASSERT_EQ(refused, 0) << daemon.log();
  EXPECT_GT(clients, 2) << "the daemon should hold more pooler connections than the pool has";
  EXPECT_LE(servers, 2);

  // Every event handled, every row right, every effect sent once.
  const auto processed = [&] {
    return db_.scalar(R"(SELECT count(*) FROM "StripeWebhookEvent" WHERE "status" = 'processed')");
  };
  ASSERT_TRUE(eventually([&] { return processed() == std::to_string(2 * kOrganizations); },
                         std::chrono::seconds(30)))
      << processed() << "\n"
      << daemon.log();
  EXPECT_EQ(db_.scalar(R"(SELECT count(*) FROM "Subscription" WHERE "status" = 'active')"),
            std::to_string(kOrganizations));
  const auto sent = [&] {
    return db_.scalar(R"(SELECT count(*) FROM "OutboundEffect" WHERE "status" = 'sent')");
  };
  ASSERT_TRUE(eventually([&] { return sent() == std::to_string(3 * kOrganizations); },
                         std::chrono::seconds(30)))
      << sent() << "\n"
      << db_.scalar(R"(SELECT string_agg("status" || ' ' || coalesce("lastError", ''), E'\n')
                       FROM "OutboundEffect" WHERE "status" <> 'sent')")
      << "\n"
      << daemon.log();
  EXPECT_EQ(db_.scalar(R"(SELECT count(*) FROM "OutboundEffect" WHERE "kind" = 'email')"),
            std::to_string(kOrganizations));
  EXPECT_EQ(filesIn(daemon.mailDirectory()), static_cast<std::size_t>(kOrganizations));
  EXPECT_EQ(db_.scalar(R"(SELECT count(*) FROM "OutboundEffect" WHERE "attempts" <> 1)"), "0")
      << "each effect delivered on its first attempt, none twice";

  // The operator's tools through the same pooler.
  const auto list = runCommand({effectdBinary(), "effects", "list", "--status", "sent",
                                "--key-prefix", "email:", "--limit", "500", "--json"},
                               {{"DATABASE_URL", pooled_}});
  ASSERT_EQ(list.exitCode, 0) << list.output;
  EXPECT_NE(list.output.find("email:subscription_started:sub_7"), std::string::npos);
  const auto events_ =
      runCommand({effectdBinary(), "events", "list", "--json"}, {{"DATABASE_URL", pooled_}});
  ASSERT_EQ(events_.exitCode, 0) << events_.output;
  EXPECT_NE(events_.output.find("evt_p39"), std::string::npos);
  const auto api = daemon.admin("GET", "/admin/api/effects?status=sent&limit=500",
                                {{"Authorization", "Bearer pooler-admin-token-0123456789"}});
  EXPECT_EQ(api.status, 200) << api.body;
  EXPECT_NE(api.body.find("analytics:invoice_paid:in_3"), std::string::npos);

  const auto log = daemon.log();
  EXPECT_EQ(log.find("prepared statement"), std::string::npos) << log;
}

TEST_F(PoolerE2eTest, WithoutADirectListenUrlTheDaemonPollsAndTailSaysWhatItNeeds) {
  Daemon daemon({{"DATABASE_URL", pooled_},
                 {"STRIPE_WEBHOOK_SECRET", kSecret},
                 {"EFFECTD_POLL_INTERVAL_MS", "200"}});
  EXPECT_NE(daemon.log().find("effects are found by polling"), std::string::npos) << daemon.log();
  {
    pqxx::work tx(db_.conn());
    tx.exec(R"(INSERT INTO "OutboundEffect" ("key", "kind", "payload")
               VALUES ('app:poll:1', 'email', '{"to":"a@example.com","subject":"Hi","text":"x"}'))");
    tx.commit();
  }
  EXPECT_TRUE(eventually(
      [&] {
        return db_.scalar(R"(SELECT "status" FROM "OutboundEffect" WHERE "key" = 'app:poll:1')") ==
               "sent";
      },
      std::chrono::seconds(10)))
      << daemon.log();

  const auto tail = runCommand({effectdBinary(), "effects", "tail"}, {{"DATABASE_URL", pooled_}});
  EXPECT_EQ(tail.exitCode, 2);
  EXPECT_NE(tail.output.find("needs DATABASE_LISTEN_URL"), std::string::npos) << tail.output;

  const auto check =
      runCommand({effectdBinary(), "config", "check"}, {{"DATABASE_URL", pooled_},
                                                        {"STRIPE_WEBHOOK_SECRET", kSecret},
                                                        {"EMAIL_PROVIDER", "file"},
                                                        {"ANALYTICS_PROVIDER", "log"}});
  EXPECT_NE(check.output.find("note: statements keep nothing on the server"), std::string::npos)
      << check.output;
}

// RDS Proxy, or a PgBouncer under a name `auto` does not know: nothing in
// the URL says pooler. Its first prepared-statement error says it, and the
// daemon goes unnamed from then on. Webhooks answered 503 meanwhile are
// retried, as Stripe retries them; none is lost and no email goes twice.
TEST_F(PoolerE2eTest, AnUnrecognisedPoolerIsFoundOutByItsFirstPreparedStatementError) {
  const auto unmarked = bouncer_.through(db_.url());
  constexpr int kOrgs = 12;
  for (int i = 0; i < kOrgs; ++i) {
    seedOrganization(db_.conn(), "org_" + std::to_string(i),
                     "owner" + std::to_string(i) + "@example.com");
  }
  Daemon daemon({{"DATABASE_URL", unmarked},
                 {"DATABASE_LISTEN_URL", db_.url()},
                 {"STRIPE_WEBHOOK_SECRET", kSecret},
                 {"EFFECTD_DB_POOL_SIZE", "4"},
                 {"EFFECTD_DRAIN_CONCURRENCY", "4"}});
  EXPECT_NE(daemon.log().find(R"("statements":"named")"), std::string::npos) << daemon.log();
  std::vector<std::string> bodies;
  std::vector<std::string> signatures;
  StripeSigner signer;
  for (int i = 0; i < kOrgs; ++i) {
    const auto n = std::to_string(i);
    SubscriptionSpec s{.id = "sub_" + n, .customer = "cus_" + n, .organizationId = "org_" + n};
    bodies.push_back(subscriptionEvent(ApiShape::Current, "evt_u" + n,
                                       "customer.subscription.created", unixNow(), s));
    signatures.push_back(signer.sign(bodies.back(), kSecret));
  }
  std::atomic<int> next{0};
  std::vector<std::thread> senders;
  for (int t = 0; t < 4; ++t) {
    senders.emplace_back([&] {
      for (int i; (i = next++) < kOrgs;) {
        int status = 0;
        for (int attempt = 0; attempt < 20 && status != 200; ++attempt) {
          const auto answer = daemon.postWebhook(bodies[i], signatures[i]);
          status = answer.status;
          if (status != 200) {
            EXPECT_EQ(status, 503) << answer.body;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
          }
        }
        EXPECT_EQ(status, 200) << "evt_u" << i;
      }
    });
  }
  for (auto& t : senders) t.join();
  const auto sentEmails = [&] {
    return db_.scalar(
        R"(SELECT count(*) FROM "OutboundEffect" WHERE "status" = 'sent' AND "kind" = 'email')");
  };
  ASSERT_TRUE(
      eventually([&] { return sentEmails() == std::to_string(kOrgs); }, std::chrono::seconds(30)))
      << sentEmails() << "\n"
      << daemon.log();
  EXPECT_EQ(filesIn(daemon.mailDirectory()), static_cast<std::size_t>(kOrgs));
  const auto log = daemon.log();
  const auto switched = log.find(R"("statements":"unnamed")");
  ASSERT_NE(switched, std::string::npos) << log;
  EXPECT_EQ(log.find(R"("statements":"unnamed")", switched + 1), std::string::npos)
      << "said once:\n"
      << log;
  EXPECT_NE(log.find("DATABASE_POOLER=transaction", switched), std::string::npos) << log;
}

}  // namespace
}  // namespace effectd::testing
