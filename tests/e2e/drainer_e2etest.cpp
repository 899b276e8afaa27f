// The real daemon draining OutboundEffect: effects the app inserts wake it
// through the NOTIFY trigger, polling covers a missing LISTEN connection, and
// several daemons share one queue without delivering a key twice.
#include <gtest/gtest.h>

#include <filesystem>
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "tests/support/daemon.hpp"
#include "tests/support/database.hpp"
#include "tests/support/eventually.hpp"

namespace effectd::testing {
namespace {

// As the app would, with plain SQL (no id, no timestamps: database defaults).
void insertAsTheApp(TestDatabase& db, const std::string& key) {
  pqxx::work tx(db.conn());
  tx.exec_params(
      R"(INSERT INTO "OutboundEffect" ("key", "kind", "payload")
         VALUES ($1, 'email', '{"to":"a@example.com","subject":"Hi","text":"Hello"}'))",
      key);
  tx.commit();
}

std::string statusOf(TestDatabase& db, const std::string& key) {
  return db.scalar(R"(SELECT "status" FROM "OutboundEffect" WHERE "key" = ')" + key + "'");
}

TEST(DrainerE2eTest, AnEffectInsertedByTheAppWakesTheDaemonThroughNotify) {
  TestDatabase db;
  // Polling once a minute: only NOTIFY can explain a prompt delivery.
  Daemon daemon({{"DATABASE_URL", db.url()}, {"EFFECTD_POLL_INTERVAL_MS", "60000"}});
  // The LISTEN connection may come up just after the daemon listens on HTTP.
  ASSERT_TRUE(eventually(
      [&] {
        return db.scalar(R"(SELECT count(*) FROM pg_stat_activity
                            WHERE "datname" = current_database()
                              AND "query" LIKE 'LISTEN "effectd_outbound_effect"%')") == "1";
      },
      std::chrono::seconds(10)));
  insertAsTheApp(db, "app:welcome:1");
  EXPECT_TRUE(
      eventually([&] { return statusOf(db, "app:welcome:1") == "sent"; }, std::chrono::seconds(10)))
      << statusOf(db, "app:welcome:1") << "\n"
      << daemon.log();
  const auto id = db.scalar(R"(SELECT "id" FROM "OutboundEffect" WHERE "key" = 'app:welcome:1')");
  const auto eml = readFile(daemon.mailDirectory() + "/" + id + ".eml");
  EXPECT_NE(eml.find("Subject: Hi\r\n"), std::string::npos) << eml;
}

TEST(DrainerE2eTest, WithoutListenThePollPicksEffectsUp) {
  TestDatabase db;
  Daemon daemon({{"DATABASE_URL", db.url()},
                 {"DATABASE_LISTEN_URL", "postgresql://postgres@127.0.0.1:1/none"},
                 {"EFFECTD_POLL_INTERVAL_MS", "200"}});
  insertAsTheApp(db, "app:welcome:2");
  EXPECT_TRUE(
      eventually([&] { return statusOf(db, "app:welcome:2") == "sent"; }, std::chrono::seconds(10)))
      << daemon.log();
}

TEST(DrainerE2eTest, ThreeDaemonsDrainTenThousandEffectsEachKeyOnce) {
  TestDatabase db;
  constexpr int kEffects = 10000;
  // All three run before the effects arrive (a daemon that started seconds
  // after the others, under a sanitizer, found nothing left), and each hears
  // of them through NOTIFY.
  std::vector<std::unique_ptr<Daemon>> daemons;
  for (int i = 0; i < 3; ++i) {
    daemons.push_back(std::make_unique<Daemon>(EnvOverrides{{"DATABASE_URL", db.url()},
                                                            {"EFFECTD_DRAIN_CONCURRENCY", "8"},
                                                            {"EFFECTD_DRAIN_BATCH", "50"}}));
  }
  {
    pqxx::work tx(db.conn());
    tx.exec_params(
        R"(INSERT INTO "OutboundEffect" ("key", "kind", "payload")
           SELECT 'bulk:' || g, 'email',
                  jsonb_build_object('to', 'u' || g || '@example.com', 'subject', 'n' || g, 'text', 'x')
           FROM generate_series(1, $1) g)",
        kEffects);
    tx.commit();
  }
  EXPECT_TRUE(eventually(
      [&] {
        return db.scalar(R"(SELECT count(*) FROM "OutboundEffect" WHERE "status" = 'sent')") ==
               std::to_string(kEffects);
      },
      std::chrono::seconds(120)));
  // Count at the receiver: the .eml files the three daemons wrote.
  std::multiset<std::string> delivered;
  std::vector<std::size_t> perDaemon;
  for (const auto& d : daemons) {
    std::size_t n = 0;
    if (!std::filesystem::exists(d->mailDirectory())) {  // delivered nothing
      perDaemon.push_back(0);
      continue;
    }
    for (const auto& entry : std::filesystem::directory_iterator(d->mailDirectory())) {
      const auto text = readFile(entry.path());
      const auto at = text.find("Subject: ");
      delivered.insert(text.substr(at + 9, text.find("\r\n", at) - at - 9));
      ++n;
    }
    perDaemon.push_back(n);
  }
  EXPECT_EQ(delivered.size(), static_cast<std::size_t>(kEffects));
  EXPECT_EQ(std::set<std::string>(delivered.begin(), delivered.end()).size(),
            static_cast<std::size_t>(kEffects));
  for (auto n : perDaemon) EXPECT_GT(n, 0u) << "each daemon took a share";
}

}  // namespace
}  // namespace effectd::testing
