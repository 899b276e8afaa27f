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

}  // namespace
}  // namespace effectd::sql
