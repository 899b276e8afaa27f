#include "sql/migrator.hpp"

#include <gtest/gtest.h>

#include <pqxx/pqxx>
#include <thread>

#include "tests/support/database.hpp"

namespace effectd::sql {
namespace {

using testing::TestDatabase;

TEST(MigratorPgTest, AppliesEverythingOnceAndIsIdempotent) {
  TestDatabase db(TestDatabase::Schema::Empty);
  const auto& migrations = embeddedMigrations();
  ASSERT_FALSE(migrations.empty());

  const auto first = migrate(db.conn(), migrations);
  EXPECT_EQ(first.applied.size(), migrations.size());
  const auto second = migrate(db.conn(), migrations);
  EXPECT_TRUE(second.applied.empty());

  for (const auto& status : migrationStatus(db.conn(), migrations)) {
    EXPECT_TRUE(status.applied) << status.name;
    EXPECT_FALSE(status.checksumMismatch) << status.name;
  }
  EXPECT_EQ(db.scalar(R"(SELECT count(*) FROM "_effectd_migrations")"),
            std::to_string(migrations.size()));
}

TEST(MigratorPgTest, StatusListsPendingOnAFreshDatabase) {
  TestDatabase db(TestDatabase::Schema::Empty);
  for (const auto& status : migrationStatus(db.conn(), embeddedMigrations())) {
    EXPECT_FALSE(status.applied) << status.name;
  }
}

TEST(MigratorPgTest, ConcurrentMigratorsApplyEachFileOnce) {
  TestDatabase db(TestDatabase::Schema::Empty);
  constexpr int kMigrators = 6;
  std::vector<std::thread> threads;
  std::vector<std::size_t> appliedCounts(kMigrators);
  std::vector<std::string> errors(kMigrators);
  for (int i = 0; i < kMigrators; ++i) {
    threads.emplace_back([&, i] {
      try {
        pqxx::connection conn(db.url());
        appliedCounts[i] = migrate(conn, embeddedMigrations()).applied.size();
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  std::size_t total = 0;
  for (int i = 0; i < kMigrators; ++i) {
    EXPECT_EQ(errors[i], "") << "migrator " << i;
    total += appliedCounts[i];
  }
  EXPECT_EQ(total, embeddedMigrations().size());
  EXPECT_EQ(db.scalar(R"(SELECT count(*) FROM "_effectd_migrations")"),
            std::to_string(embeddedMigrations().size()));
}

TEST(MigratorPgTest, DetectsAMigrationChangedAfterItWasApplied) {
  TestDatabase db;
  auto changed = embeddedMigrations();
  changed.front().sql += "\n-- edited";
  EXPECT_TRUE(migrationStatus(db.conn(), changed).front().checksumMismatch);
}

TEST(MigratorPgTest, LeavesTheAppsIdentityTablesAlone) {
  TestDatabase db(TestDatabase::Schema::Empty);
  // The app (Better Auth) created its tables first, with more columns.
  pqxx::nontransaction(db.conn()).exec(
      R"(CREATE TABLE "Organization" ("id" TEXT PRIMARY KEY, "name" TEXT NOT NULL,
               "slug" TEXT, "logo" TEXT, "createdAt" TIMESTAMP(3) NOT NULL, "metadata" TEXT);
               INSERT INTO "Organization" VALUES ('org_1', 'Acme', 'acme', 'logo.png', now(), NULL))");
  migrate(db.conn(), embeddedMigrations());
  EXPECT_EQ(db.scalar(R"(SELECT "logo" FROM "Organization" WHERE "id" = 'org_1')"), "logo.png");
}

// What `serve` refuses: a database behind this binary, ahead of it, or with
// an applied migration whose text changed.
TEST(MigratorPgTest, DriftNamesPendingUnknownAndChangedMigrations) {
  TestDatabase db;
  EXPECT_TRUE(migrationDrift(db.conn(), embeddedMigrations()).none());
  const auto& last = embeddedMigrations().back();
  db.scalar(R"(DELETE FROM "_effectd_migrations" WHERE "version" = ')" + last.version + "'");
  db.scalar(R"(INSERT INTO "_effectd_migrations" ("version", "name", "checksum")
               VALUES ('9999', '9999_from_a_newer_build', 'x'))");
  db.scalar(R"(UPDATE "_effectd_migrations" SET "checksum" = 'edited' WHERE "version" = '0001')");
  const auto drift = migrationDrift(db.conn(), embeddedMigrations());
  EXPECT_EQ(drift.pending, std::vector<std::string>{last.name});
  EXPECT_EQ(drift.unknown, std::vector<std::string>{"9999_from_a_newer_build"});
  EXPECT_EQ(drift.changed, std::vector<std::string>{"0001_initial"});
  EXPECT_NE(
      drift.describe().find("applied by a newer effectd than this one: 9999_from_a_newer_build"),
      std::string::npos)
      << drift.describe();
}

// The app holds a lock on a table the migration alters (any open
// transaction that read it). The migration gives up on the lock and tries
// again instead of waiting in the lock queue, where every later query of the
// app on that table would wait behind it.
TEST(MigratorPgTest, AMigrationNeverQueuesTheAppsQueriesBehindIt) {
  TestDatabase db;
  auto migrations = embeddedMigrations();
  migrations.push_back({"9001", "9001_test_alter",
                        R"(ALTER TABLE "OutboundEffect" ADD COLUMN "testColumn" INTEGER)"});
  pqxx::connection app(db.url());
  pqxx::work reading(app);
  reading.exec(R"(SELECT count(*) FROM "OutboundEffect")");  // holds ACCESS SHARE until commit

  std::exception_ptr failure;
  std::thread migrator([&] {
    try {
      pqxx::connection conn(db.url());
      migrate(conn, migrations,
              {.lockTimeout = std::chrono::milliseconds(200),
               .attempts = 5,
               .pause = std::chrono::milliseconds(200)});
    } catch (...) {
      failure = std::current_exception();
    }
  });
  // Meanwhile the app's other queries on the table go through: each would
  // wait behind the ALTER TABLE's lock request for as long as it waited.
  pqxx::connection other(db.url());
  for (int i = 0; i < 10; ++i) {
    pqxx::work tx(other);
    tx.exec("SET LOCAL statement_timeout = '3s'");
    EXPECT_NO_THROW(tx.exec(R"(SELECT count(*) FROM "OutboundEffect")"));
    tx.commit();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  migrator.join();
  ASSERT_TRUE(failure) << "the migration should have given up while the lock was held";
  try {
    std::rethrow_exception(failure);
  } catch (const pqxx::sql_error& e) {
    EXPECT_EQ(e.sqlstate(), "55P03") << e.what();
  }
  EXPECT_EQ(db.scalar(R"(SELECT count(*) FROM "_effectd_migrations" WHERE "version" = '9001')"),
            "0");
  reading.commit();
  const auto applied = migrate(db.conn(), migrations);
  EXPECT_EQ(applied.applied, std::vector<std::string>{"9001_test_alter"});
}

// Migration 0006's guards, whoever writes.
TEST(MigratorPgTest, EffectsAreNeverDeletedUnlessASessionSaysSo) {
  TestDatabase db;
  db.scalar(
      R"(INSERT INTO "OutboundEffect" ("key", "kind", "payload") VALUES ('k1', 'email', '{}'))");
  try {
    db.scalar(R"(DELETE FROM "OutboundEffect")");
    ADD_FAILURE() << "the delete went through";
  } catch (const pqxx::sql_error& e) {
    EXPECT_EQ(e.sqlstate(), "23001") << e.what();
    EXPECT_NE(std::string(e.what()).find("never deleted"), std::string::npos) << e.what();
  }
  EXPECT_EQ(db.scalar(R"(SELECT count(*) FROM "OutboundEffect")"), "1");
  pqxx::work tx(db.conn());
  tx.exec("SET LOCAL effectd.allow_effect_delete = 'on'");
  EXPECT_EQ(tx.exec(R"(DELETE FROM "OutboundEffect")").affected_rows(), 1u);
  tx.commit();
}

TEST(MigratorPgTest, AKeyWithALineBreakOrEmptyIsRefused) {
  TestDatabase db;
  for (const std::string& key :
       {std::string("email:x\r\nBcc: all@example.com"), std::string("a\tb"), std::string()}) {
    pqxx::work tx(db.conn());
    try {
      tx.exec_params(
          R"(INSERT INTO "OutboundEffect" ("key", "kind", "payload") VALUES ($1, 'email', '{}'))",
          key);
      ADD_FAILURE() << "accepted a key with " << key.size() << " characters";
    } catch (const pqxx::sql_error& e) {
      EXPECT_EQ(e.sqlstate(), "23514") << e.what();
    }
  }
  db.scalar(
      R"(INSERT INTO "OutboundEffect" ("key", "kind", "payload") VALUES ('email:ok:1', 'email', '{}'))");
}

// Defaults are UTC whatever the session's time zone: an effect the app
// inserts from a session in +09 is due now, not in nine hours.
TEST(MigratorPgTest, DefaultsAreUtcWhateverTheSessionsTimeZone) {
  TestDatabase db;
  pqxx::work tx(db.conn());
  tx.exec("SET LOCAL TIME ZONE 'Asia/Tokyo'");
  tx.exec(
      R"(INSERT INTO "OutboundEffect" ("key", "kind", "payload") VALUES ('k_tokyo', 'email', '{}'))");
  const auto skew = tx.exec1(
      R"(SELECT abs(extract(epoch FROM "runAt" - (now() AT TIME ZONE 'UTC'))),
                abs(extract(epoch FROM "createdAt" - (now() AT TIME ZONE 'UTC')))
         FROM "OutboundEffect" WHERE "key" = 'k_tokyo')");
  tx.commit();
  EXPECT_LT(skew[0].as<double>(), 60.0);
  EXPECT_LT(skew[1].as<double>(), 60.0);
}

}  // namespace
}  // namespace effectd::sql
