#include "intake/intake_writer.hpp"

#include <gtest/gtest.h>

#include <future>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "sql/database_health.hpp"
#include "tests/support/database.hpp"

namespace effectd::intake {
namespace {

using testing::TestDatabase;

IncomingEvent makeEvent(const std::string& id, std::int64_t created = 1700000000) {
  IncomingEvent e;
  e.envelope = {.id = id,
                // A type effectd stores but does not handle: this file is about
                // storage; handlers_pgtest.cpp is about what handlers do.
                .type = "customer.updated",
                .livemode = true,
                .apiVersion = "2025-03-31.basil",
                .account = "",
                .created = created};
  e.payload = nlohmann::json{{"id", id}, {"object", "event"}, {"created", created}}.dump();
  return e;
}

TEST(IntakePgTest, StoresABatchWithTheRightColumns) {
  TestDatabase db;
  std::vector<IncomingEvent> events{makeEvent("evt_a", 1700000001), makeEvent("evt_b")};
  events[1].envelope.account = "acct_1";
  events[1].envelope.apiVersion = "";
  const auto outcomes = IntakeWriter::storeBatch(db.conn(), events);
  EXPECT_EQ(outcomes, (std::vector<StoreOutcome>{StoreOutcome::Stored, StoreOutcome::Stored}));

  pqxx::read_transaction tx(db.conn());
  const auto row = tx.exec(
      R"(SELECT "type", "livemode", "apiVersion", "account",
                to_char("stripeCreatedAt", 'YYYY-MM-DD HH24:MI:SS'), "payload"->>'id', "status",
                "attempts", "lastError" IS NULL, "receivedAt" > now() AT TIME ZONE 'UTC' - interval '1 minute'
         FROM "StripeWebhookEvent" WHERE "id" = 'evt_a')")[0];
  EXPECT_EQ(row[0].as<std::string>(), "customer.updated");
  EXPECT_TRUE(row[1].as<bool>());
  EXPECT_EQ(row[2].as<std::string>(), "2025-03-31.basil");
  EXPECT_TRUE(row[3].is_null());
  EXPECT_EQ(row[4].as<std::string>(), "2023-11-14 22:13:21");  // UTC of 1700000001
  EXPECT_EQ(row[5].as<std::string>(), "evt_a");
  EXPECT_EQ(row[6].as<std::string>(), "ignored");  // stored and handled in one transaction
  EXPECT_EQ(row[7].as<int>(), 1);
  EXPECT_TRUE(row[8].as<bool>());
  EXPECT_TRUE(row[9].as<bool>());
  const auto b = tx.exec(
      R"(SELECT "apiVersion" IS NULL, "account" FROM "StripeWebhookEvent" WHERE "id" = 'evt_b')")
                     [0];
  EXPECT_TRUE(b[0].as<bool>());
  EXPECT_EQ(b[1].as<std::string>(), "acct_1");
}

TEST(IntakePgTest, DuplicatesInsideAndAcrossBatchesAreStoredOnce) {
  TestDatabase db;
  IntakeWriter::storeBatch(db.conn(), std::vector{makeEvent("evt_old")});
  const auto outcomes = IntakeWriter::storeBatch(
      db.conn(), std::vector{makeEvent("evt_new"), makeEvent("evt_old"), makeEvent("evt_new")});
  EXPECT_EQ(outcomes, (std::vector<StoreOutcome>{StoreOutcome::Stored, StoreOutcome::Duplicate,
                                                 StoreOutcome::Duplicate}));
  EXPECT_EQ(db.scalar(R"(SELECT count(*) FROM "StripeWebhookEvent")"), "2");
}

// The writer threads: many concurrent submissions share transactions, and
// one event the database refuses does not take its batch-mates down with it.
// jsonb refuses \u0000: that event is stored too (a copy with U+FFFD, and
// the signed bytes beside it), in a batch of its own or not.
TEST(IntakePgTest, WriterStoresConcurrentSubmissionsAndAnEventJsonbRefusesAsItIs) {
  TestDatabase db;
  sql::DatabaseHealth health;
  IntakeWriter writer(
      {.databaseUrl = db.url(), .connections = 2, .maxBatch = 64, .health = &health});
  writer.start();
  constexpr int kEvents = 300;
  std::vector<std::promise<StoreOutcome>> results(kEvents + 1);
  for (int i = 0; i < kEvents; ++i) {
    writer.submit(makeEvent("evt_c" + std::to_string(i % 250)),
                  [&results, i](StoreOutcome o) { results[i].set_value(o); });
  }
  auto poisoned = makeEvent("evt_poison");
  poisoned.payload = R"({"id":"evt_poison","text":"nul \u0000 byte"})";  // JSONB refuses \u0000
  writer.submit(std::move(poisoned), [&results](StoreOutcome o) { results[kEvents].set_value(o); });

  int stored = 0;
  int duplicates = 0;
  for (int i = 0; i < kEvents; ++i) {
    const auto o = results[i].get_future().get();
    stored += o == StoreOutcome::Stored;
    duplicates += o == StoreOutcome::Duplicate;
  }
  EXPECT_EQ(stored, 250);
  EXPECT_EQ(duplicates, 50);
  EXPECT_EQ(results[kEvents].get_future().get(), StoreOutcome::Stored);
  EXPECT_EQ(db.scalar(R"(SELECT count(*) FROM "StripeWebhookEvent")"), "251");
  EXPECT_EQ(
      db.scalar(R"(SELECT "signedPayload" FROM "StripeWebhookEvent" WHERE "id" = 'evt_poison')"),
      R"({"id":"evt_poison","text":"nul \u0000 byte"})");
  EXPECT_TRUE(health.reachable());
}

TEST(IntakePgTest, AnUnreachableDatabaseAnswersUnavailableAtOnce) {
  sql::DatabaseHealth health;
  health.reportReachable();
  // Port 1 on loopback: connection refused, immediately.
  IntakeWriter writer({.databaseUrl = "postgresql://postgres@127.0.0.1:1/none",
                       .connections = 1,
                       .health = &health});
  writer.start();
  std::promise<StoreOutcome> result;
  writer.submit(makeEvent("evt_x"), [&result](StoreOutcome o) { result.set_value(o); });
  EXPECT_EQ(result.get_future().get(), StoreOutcome::Unavailable);
  EXPECT_FALSE(health.reachable());
}

TEST(IntakePgTest, AFullQueueAnswersOverloadedAndAStoppedWriterShuttingDown) {
  TestDatabase db;
  IntakeWriter writer({.databaseUrl = db.url(), .connections = 1, .maxQueue = 1});
  writer.start();
  std::vector<std::promise<StoreOutcome>> results(200);
  for (int i = 0; i < 200; ++i) {
    writer.submit(makeEvent("evt_q" + std::to_string(i)),
                  [&results, i](StoreOutcome o) { results[i].set_value(o); });
  }
  int overloaded = 0;
  for (auto& r : results) overloaded += r.get_future().get() == StoreOutcome::Overloaded;
  EXPECT_GT(overloaded, 0);
  writer.stop();
  std::promise<StoreOutcome> late;
  writer.submit(makeEvent("evt_late"), [&late](StoreOutcome o) { late.set_value(o); });
  EXPECT_EQ(late.get_future().get(), StoreOutcome::ShuttingDown);
}

// SIGTERM: the writers keep accepting while the HTTP server drains, store
// what they take before the shutdown deadline, and answer the rest 503.
TEST(IntakePgTest, PastItsDeadlineAWriterAnswersShuttingDownAndStoresNothing) {
  TestDatabase db;
  IntakeWriter writer({.databaseUrl = db.url(), .connections = 1});
  writer.start();
  std::promise<StoreOutcome> before;
  writer.submit(makeEvent("evt_before"), [&before](StoreOutcome o) { before.set_value(o); });
  EXPECT_EQ(before.get_future().get(), StoreOutcome::Stored);
  writer.beginStop(Service::Clock::now() - std::chrono::seconds(1));
  std::promise<StoreOutcome> after;
  writer.submit(makeEvent("evt_after"), [&after](StoreOutcome o) { after.set_value(o); });
  EXPECT_EQ(after.get_future().get(), StoreOutcome::ShuttingDown);
  EXPECT_EQ(db.scalar(R"(SELECT string_agg("id", ',') FROM "StripeWebhookEvent")"), "evt_before");
}

}  // namespace
}  // namespace effectd::intake
