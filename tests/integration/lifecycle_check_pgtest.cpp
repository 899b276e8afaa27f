// The statuses and kinds the migrations' CHECK constraints allow are exactly
// the ones the code's lifecycles know: a status added on one side only fails
// here, not in production as a refused UPDATE or a row nothing handles.
#include <gtest/gtest.h>

#include <algorithm>
#include <pqxx/pqxx>
#include <regex>
#include <set>
#include <string>

#include "handlers/event_status.hpp"
#include "queue/effect_status.hpp"
#include "queue/enqueue.hpp"
#include "tests/support/database.hpp"

namespace effectd {
namespace {

using testing::TestDatabase;

// The quoted values of a CHECK (col IN (...)) as PostgreSQL prints it:
// CHECK ((status = ANY (ARRAY['received'::text, ...]))).
std::set<std::string> allowedBy(pqxx::connection_base& conn, const std::string& constraint) {
  pqxx::read_transaction tx(conn);
  const auto rows = tx.exec_params(
      "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = $1", constraint);
  if (rows.size() != 1) throw std::runtime_error("no constraint " + constraint);
  const auto definition = rows[0][0].as<std::string>();
  std::set<std::string> values;
  const std::regex quoted("'([a-z_]+)'::text");
  for (std::sregex_iterator it(definition.begin(), definition.end(), quoted), end; it != end;
       ++it) {
    values.insert((*it)[1]);
  }
  return values;
}

template <typename Names>
std::set<std::string> asSet(const Names& names) {
  return {names.begin(), names.end()};
}

TEST(LifecycleCheckPgTest, EventStatusesAreTheTablesCheck) {
  TestDatabase db;
  EXPECT_EQ(allowedBy(db.conn(), "StripeWebhookEvent_status_check"),
            asSet(handlers::eventStatusNames()));
}

TEST(LifecycleCheckPgTest, EffectStatusesAndKindsAreTheTablesChecks) {
  TestDatabase db;
  EXPECT_EQ(allowedBy(db.conn(), "OutboundEffect_status_check"), asSet(queue::effectStatusNames()));
  std::set<std::string> kinds;
  for (const auto kind :
       {queue::EffectKind::Email, queue::EffectKind::Analytics, queue::EffectKind::Webhook}) {
    kinds.emplace(queue::toString(kind));
  }
  EXPECT_EQ(allowedBy(db.conn(), "OutboundEffect_kind_check"), kinds);
}

// The partial indexes' predicates name statuses too: each is one the code
// knows, spelled as the statements spell it, or the planner would not use them.
TEST(LifecycleCheckPgTest, PartialIndexesNameKnownStatuses) {
  TestDatabase db;
  pqxx::read_transaction tx(db.conn());
  const auto known = asSet(queue::effectStatusNames());
  const std::regex quoted("'([a-z_]+)'::text");
  int predicates = 0;
  for (const auto& row : tx.exec(R"(SELECT indexdef FROM pg_indexes
        WHERE tablename = 'OutboundEffect' AND indexdef LIKE '%WHERE%status%')")) {
    const auto definition = row[0].as<std::string>();
    ++predicates;
    for (std::sregex_iterator it(definition.begin(), definition.end(), quoted), end; it != end;
         ++it) {
      EXPECT_TRUE(known.count((*it)[1])) << definition;
    }
  }
  EXPECT_GE(predicates, 2);
}

}  // namespace
}  // namespace effectd
