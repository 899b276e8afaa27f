// The statements that write a batch of rows by id find each through the
// primary key. Joined naively against a JSON batch, PostgreSQL hashes the
// whole table instead (it guesses 100 rows for the batch), so every drainer
// pass and every intake batch would scan a production-sized table.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "handlers/event_processor.hpp"
#include "queue/effect_store.hpp"
#include "tests/support/database.hpp"

namespace effectd::testing {
namespace {

using std::chrono::seconds;

long sequentialScans(pqxx::transaction_base& tx, const std::string& table) {
  // Counts of the current transaction: no wait for the statistics collector.
  return tx
      .exec_params1("SELECT seq_scan FROM pg_stat_xact_user_tables WHERE relname = $1", table)[0]
      .as<long>();
}

TEST(BatchPlansPgTest, DrainerBatchesTouchOutboundEffectByPrimaryKey) {
  TestDatabase db;
  pqxx::work tx(db.conn());
  tx.exec(R"(INSERT INTO "OutboundEffect" ("key", "kind", "payload")
             SELECT 'bulk:' || g, 'email', '{}' FROM generate_series(1, 20000) g)");
  tx.exec(R"(ANALYZE "OutboundEffect")");
  const auto claimed = queue::claimEffects(
      tx,
      {.worker = "w", .limit = 10, .lease = seconds(60), .routes = {{queue::EffectKind::Email}}});
  ASSERT_EQ(claimed.size(), 10u);
  std::vector<std::string> ids;
  std::vector<queue::Completion> completions;
  for (const auto& e : claimed) {
    ids.push_back(e.id);
    if (ids.size() <= 8) completions.push_back({e.id, queue::DeliveryResult::sent(), 1, 12});
  }

  const auto before = sequentialScans(tx, "OutboundEffect");
  EXPECT_EQ(queue::renewLeases(tx, "w", ids, seconds(60)), 10);
  EXPECT_EQ(queue::completeEffects(tx, "w", completions, {}), 8);
  EXPECT_EQ(queue::releaseEffects(tx, "w", {ids[8], ids[9]}), 2);
  EXPECT_EQ(sequentialScans(tx, "OutboundEffect"), before);
}

TEST(BatchPlansPgTest, IntakeOutcomesTouchStripeWebhookEventByPrimaryKey) {
  TestDatabase db;
  pqxx::work tx(db.conn());
  tx.exec(R"(INSERT INTO "StripeWebhookEvent" ("id", "type", "livemode", "stripeCreatedAt",
                                               "payload", "status", "receivedAt")
             SELECT 'evt_bulk_' || g, 'invoice.paid', false, now(), '{}', 'received', now()
             FROM generate_series(1, 20000) g)");
  tx.exec(R"(ANALYZE "StripeWebhookEvent")");
  const auto before = sequentialScans(tx, "StripeWebhookEvent");
  handlers::recordOutcomes(tx,
                           {{"evt_bulk_1", {handlers::EventStatus::Processed, ""}},
                            {"evt_bulk_2", {handlers::EventStatus::Failed, "no organization"}}},
                           {});
  EXPECT_EQ(sequentialScans(tx, "StripeWebhookEvent"), before);
  EXPECT_EQ(tx.exec1(R"(SELECT string_agg("status", ',' ORDER BY "id") FROM "StripeWebhookEvent"
                        WHERE "id" IN ('evt_bulk_1', 'evt_bulk_2'))")[0]
                .as<std::string>(),
            "processed,failed");
}

}  // namespace
}  // namespace effectd::testing
