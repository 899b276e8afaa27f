#include "sql/schema_check.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <pqxx/pqxx>

#include "tests/support/database.hpp"

namespace effectd::sql {
namespace {

using testing::TestDatabase;

bool contains(const std::vector<std::string>& lines, const std::string& text) {
  return std::any_of(lines.begin(), lines.end(),
                     [&](const std::string& l) { return l.find(text) != std::string::npos; });
}

TEST(SchemaCheckPgTest, AMigratedDatabaseIsComplete) {
  TestDatabase db;
  EXPECT_EQ(checkSchema(db.conn()), std::vector<std::string>{});
}

TEST(SchemaCheckPgTest, NamesADroppedColumnIndexAndTrigger) {
  TestDatabase db;
  pqxx::nontransaction(db.conn()).exec(
      R"(ALTER TABLE "Subscription" DROP COLUMN "cancelAtPeriodEnd";
               DROP INDEX "OutboundEffect_kind_runAt_pending_idx";
               ALTER TABLE "OutboundEffect" DISABLE TRIGGER "OutboundEffect_notify_pending_insert";
               ALTER TABLE "StripeWebhookEvent" ALTER COLUMN "attempts" TYPE BIGINT)");
  const auto problems = checkSchema(db.conn());
  EXPECT_EQ(problems.size(), 4u);
  EXPECT_TRUE(contains(problems, R"(missing column "Subscription"."cancelAtPeriodEnd")"));
  EXPECT_TRUE(contains(problems, R"(missing index "OutboundEffect_kind_runAt_pending_idx")"));
  EXPECT_TRUE(contains(problems, R"("OutboundEffect_notify_pending_insert")"));
  EXPECT_TRUE(contains(problems, R"("StripeWebhookEvent"."attempts" is bigint)"));
}

TEST(SchemaCheckPgTest, NamesAMissingTable) {
  TestDatabase db(TestDatabase::Schema::Empty);
  const auto problems = checkSchema(db.conn());
  EXPECT_TRUE(contains(problems, R"(missing table "StripeWebhookEvent")"));
  EXPECT_TRUE(contains(problems, R"(missing table "OutboundEffect")"));
}

// The other direction: everything the migrations create in effectd's own
// tables is something the check knows about, so the two cannot drift apart.
TEST(SchemaCheckPgTest, KnowsEveryColumnAndIndexTheMigrationsCreate) {
  TestDatabase db;
  pqxx::read_transaction tx(db.conn());
  for (const auto& table : expectedSchema()) {
    const std::string name = table.name;
    if (name == "Organization" || name == "User" || name == "Member") continue;
    for (const auto& row : tx.exec_params(
             "SELECT column_name FROM information_schema.columns WHERE table_name = $1", name)) {
      const auto column = row[0].as<std::string>();
      EXPECT_TRUE(std::any_of(table.columns.begin(), table.columns.end(),
                              [&](const ExpectedColumn& c) { return column == c.name; }))
          << name << "." << column;
    }
    for (const auto& row :
         tx.exec_params("SELECT indexname FROM pg_indexes WHERE tablename = $1", name)) {
      const auto index = row[0].as<std::string>();
      EXPECT_TRUE(std::any_of(table.indexes.begin(), table.indexes.end(),
                              [&](const char* i) { return index == i; }))
          << name << ": " << index;
    }
  }
}

}  // namespace
}  // namespace effectd::sql
