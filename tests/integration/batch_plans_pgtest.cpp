// The statements that write a batch of rows by id find each through the
// primary key. Joined naively against a JSON batch, PostgreSQL hashes the
// whole table instead (it guesses 100 rows for the batch), so every drainer
// pass and every intake batch would scan a production-sized table.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "handlers/billing_rows.hpp"
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
  const auto claimed = queue::claimEffects(tx, {.worker = "w",
                                                .limit = 10,
                                                .lease = seconds(60),
                                                .routes = {{.route = {queue::EffectKind::Email}}}});
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

// The reads before a batch's handlers probe each wanted row. At 1,000
// organizations (make bench's steady state), the plain `= ANY(json array)`
// forms scanned Subscription, Organization and Member whole.
TEST(BatchPlansPgTest, HandlerReadsProbeEachOrganizationAndSubscription) {
  TestDatabase db;
  pqxx::work tx(db.conn());
  tx.exec(R"(INSERT INTO "Organization" ("id", "name", "slug", "createdAt")
               SELECT 'org_' || g, 'Org ' || g, 'org-' || g, now() FROM generate_series(1, 1000) g;
             INSERT INTO "User" ("id", "name", "email", "emailVerified", "createdAt", "updatedAt")
               SELECT 'user_' || g, 'U', 'owner' || g || '@x.example', true, now(), now()
               FROM generate_series(1, 1000) g;
             INSERT INTO "Member" ("id", "organizationId", "userId", "role", "createdAt")
               SELECT 'm_' || g, 'org_' || g, 'user_' || g,
                      CASE WHEN g % 2 = 0 THEN 'owner' ELSE 'member' END, now()
               FROM generate_series(1, 1000) g;
             INSERT INTO "Subscription" ("id", "organizationId", "stripeCustomerId", "status",
                                         "livemode", "updatedAt")
               SELECT 'sub_row_' || g, 'org_' || g, 'cus_' || g, 'active', false, now()
               FROM generate_series(1, 1000) g;
             ANALYZE "Organization", "User", "Member", "Subscription")");
  const auto before = [&] {
    return std::vector<long>{sequentialScans(tx, "Subscription"),
                             sequentialScans(tx, "Organization"), sequentialScans(tx, "Member")};
  };
  const auto scansBefore = before();
  const auto rows = handlers::lockRows(tx, {"org_2", "org_7"}, {"cus_9", "cus_2", "cus_missing"});
  handlers::BillingState state;
  handlers::loadOrganizations(tx, {"org_2", "org_7", "org_missing"}, state);
  EXPECT_EQ(before(), scansBefore);

  std::vector<std::string> locked;
  for (const auto& r : rows) locked.push_back(r.organizationId);
  EXPECT_EQ(locked, (std::vector<std::string>{"org_2", "org_7", "org_9"}));
  EXPECT_TRUE(state.organizationExists("org_2"));
  EXPECT_TRUE(state.organizationExists("org_7"));
  EXPECT_FALSE(state.organizationExists("org_missing"));
  EXPECT_EQ(state.recipients("org_2", "fallback@x.example").emails,
            std::vector<std::string>{"owner2@x.example"});
  // A member who is neither owner nor admin receives nothing: the fallback.
  EXPECT_EQ(state.recipients("org_7", "fallback@x.example").emails,
            std::vector<std::string>{"fallback@x.example"});
}

}  // namespace
}  // namespace effectd::testing
