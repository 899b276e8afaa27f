// Queue maintenance as a schedule: rescue every half lease, retention at
// start, every minute, and every second while a backlog lasts. What each
// task does to the rows is drainer_pgtest's; this is about when it runs.
#include "daemon/maintenance.hpp"

#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "tests/support/database.hpp"

namespace effectd::daemon {
namespace {

using namespace std::chrono_literals;
using testing::TestDatabase;

class MaintenancePgTest : public ::testing::Test {
 protected:
  // Effects leased to a daemon that died: their leases ran out a minute ago.
  void expiredLeases(const std::string& prefix, int n) {
    pqxx::nontransaction(db_.conn())
        .exec_params(R"(INSERT INTO "OutboundEffect" ("key", "kind", "payload", "status",
                                                     "lockedBy", "lockedUntil", "lockedIdempotent")
                        SELECT $1 || g, 'webhook', '{}', 'running', 'gone',
                               now() AT TIME ZONE 'UTC' - interval '1 minute', true
                        FROM generate_series(1, $2) g)",
                     prefix, n);
  }
  // Sent effects older than retention.
  void oldSentEffects(int n) {
    pqxx::nontransaction(db_.conn())
        .exec_params(R"(INSERT INTO "OutboundEffect" ("key", "kind", "payload", "status",
                                                     "updatedAt")
                        SELECT 'old' || g, 'webhook', '{"big":true}', 'sent',
                               now() AT TIME ZONE 'UTC' - interval '40 days'
                        FROM generate_series(1, $1) g)",
                     n);
  }

  TestDatabase db_;
  const Maintenance::Options options_{
      .lease = 60s, .retention = std::chrono::hours(24 * 30), .pruneBatch = 2, .pruneEvery = 60s};
};

TEST_F(MaintenancePgTest, EachTaskRunsAtStartThenOnItsOwnSchedule) {
  expiredLeases("a", 3);
  oldSentEffects(1);
  Maintenance::Schedule schedule;
  const auto t0 = Service::Clock::now();
  const auto first = Maintenance::runOnce(db_.conn(), options_, schedule, t0);
  EXPECT_EQ(first.rescued.requeued, 3);
  EXPECT_EQ(first.pruned.effectsCompacted, 1);
  EXPECT_FALSE(first.backlog);
  EXPECT_EQ(schedule.rescue, t0 + 30s);
  EXPECT_EQ(schedule.prune, t0 + 60s);

  // Not due yet: nothing runs, whatever is waiting.
  expiredLeases("b", 2);
  const auto early = Maintenance::runOnce(db_.conn(), options_, schedule, t0 + 29s);
  EXPECT_EQ(early.rescued.requeued, 0);
  EXPECT_EQ(db_.scalar(R"(SELECT count(*) FROM "OutboundEffect" WHERE "status" = 'running')"), "2");

  const auto later = Maintenance::runOnce(db_.conn(), options_, schedule, t0 + 30s);
  EXPECT_EQ(later.rescued.requeued, 2);
  EXPECT_EQ(later.pruned.total(), 0);  // retention's turn comes at a minute
}

TEST_F(MaintenancePgTest, RetentionComesBackEverySecondWhileABacklogLasts) {
  oldSentEffects(5);
  Maintenance::Schedule schedule;
  auto now = Service::Clock::now();
  std::vector<int> compacted;
  for (int pass = 0; pass < 4; ++pass) {
    const auto counts = Maintenance::runOnce(db_.conn(), options_, schedule, now);
    compacted.push_back(counts.pruned.effectsCompacted);
    EXPECT_EQ(schedule.prune, now + (counts.backlog ? 1s : 60s));
    now = schedule.prune;
  }
  EXPECT_EQ(compacted, (std::vector<int>{2, 2, 1, 0}));
}

}  // namespace
}  // namespace effectd::daemon
