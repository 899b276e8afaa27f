// How far ahead of its delivery slots a running drainer claims: a batch ahead
// for providers that deduplicate, never beyond the free slots for the others
// (after a crash each of their claimed effects would become `unknown`).
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <pqxx/pqxx>
#include <thread>

#include "queue/drainer.hpp"
#include "queue/enqueue.hpp"
#include "tests/support/database.hpp"
#include "tests/support/eventually.hpp"

namespace effectd::queue {
namespace {

using effectd::testing::eventually;

using namespace std::chrono_literals;
using testing::TestDatabase;

// Holds every delivery until the test opens the gate.
class GatedChannel : public Channel {
 public:
  explicit GatedChannel(bool idempotent) : idempotent_(idempotent) {}
  DeliveryResult deliver(const ClaimedEffect&) override {
    std::unique_lock lock(mutex_);
    ++inDelivery_;
    opened_.wait(lock, [this] { return open_; });
    return DeliveryResult::sent();
  }
  bool idempotent() const override { return idempotent_; }
  std::string_view name() const override { return idempotent_ ? "gated-dedup" : "gated"; }
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    opened_.notify_all();
  }
  int inDelivery() {
    std::lock_guard lock(mutex_);
    return inDelivery_;
  }

 private:
  bool idempotent_;
  std::mutex mutex_;
  std::condition_variable opened_;
  bool open_ = false;
  int inDelivery_ = 0;
};

class DrainerClaimAheadPgTest : public ::testing::Test {
 protected:
  void enqueue(EffectKind kind, int n) {
    pqxx::work tx(db_.conn());
    for (int i = 0; i < n; ++i) {
      queue::enqueue(tx, {.key = std::string(toString(kind)) + ":" + std::to_string(i),
                          .kind = kind,
                          .payload = R"({"to":"a@example.com","subject":"s","text":"t"})"});
    }
    tx.commit();
  }
  int count(const std::string& status) {
    return std::stoi(
        db_.scalar("SELECT count(*) FROM \"OutboundEffect\" WHERE \"status\" = '" + status + "'"));
  }
  // Waits until `status` holds `n` rows and the claimer has since looked
  // again with the room it had (so it had its chance to claim more), or
  // gives up after five seconds; returns the count then.
  int settle(const Drainer& drainer, const std::string& status, int n) {
    eventually([&] { return count(status) == n; }, 5s);
    const auto seen = drainer.claimLooks();
    eventually([&] { return drainer.claimLooks() >= seen + 2; }, 5s);
    return count(status);
  }
  Drainer::Options options() {
    return {.databaseUrl = db_.url(),
            .listenUrl = db_.url(),
            .worker = "w1",
            .concurrency = 2,
            .batchSize = 5,
            .pollInterval = 50ms,
            .shutdownGrace = 5s};
  }

  // Installs a gated channel for email (SMTP-like: does not deduplicate) or
  // analytics (deduplicates) and returns its gate.
  GatedChannel* gate(EffectKind kind) {
    auto channel = std::make_unique<GatedChannel>(kind != EffectKind::Email);
    auto* gate = channel.get();
    (kind == EffectKind::Email ? channels_->email : channels_->analytics) = std::move(channel);
    return gate;
  }
  int runningEmails() {
    return std::stoi(db_.scalar(
        R"(SELECT count(*) FROM "OutboundEffect" WHERE "status" = 'running' AND "kind" = 'email')"));
  }

  TestDatabase db_;
  std::shared_ptr<Channels> channels_ = std::make_shared<Channels>();
};

TEST_F(DrainerClaimAheadPgTest, AProviderThatDeduplicatesIsClaimedOneBatchAhead) {
  enqueue(EffectKind::Analytics, 20);
  auto* analytics = gate(EffectKind::Analytics);
  Drainer drainer(options(), channels_);
  drainer.start();
  // Two in delivery, five more leased and waiting for a slot.
  EXPECT_EQ(settle(drainer, "running", 7), 7);
  EXPECT_TRUE(eventually([&] { return analytics->inDelivery() == 2; }, 5s));
  analytics->open();
  EXPECT_EQ(settle(drainer, "sent", 20), 20);
}

TEST_F(DrainerClaimAheadPgTest, AProviderThatDoesNotDeduplicateIsNeverClaimedBeyondFreeSlots) {
  enqueue(EffectKind::Email, 20);
  auto* email = gate(EffectKind::Email);
  Drainer drainer(options(), channels_);
  drainer.start();
  EXPECT_EQ(settle(drainer, "running", 2), 2);
  EXPECT_TRUE(eventually([&] { return email->inDelivery() == 2; }, 5s));
  email->open();
  EXPECT_EQ(settle(drainer, "sent", 20), 20);
}

TEST_F(DrainerClaimAheadPgTest, BothKindsTogetherKeepTheStrictOnesWithinTheSlots) {
  enqueue(EffectKind::Email, 10);
  enqueue(EffectKind::Analytics, 10);
  auto* email = gate(EffectKind::Email);
  auto* analytics = gate(EffectKind::Analytics);
  Drainer drainer(options(), channels_);
  drainer.start();
  settle(drainer, "running", 7);
  // Every running email is in a delivery: none waits leased in the line.
  EXPECT_TRUE(eventually([&] { return runningEmails() == email->inDelivery(); }, 5s));
  EXPECT_LE(count("running"), 7);
  email->open();
  analytics->open();
  EXPECT_EQ(settle(drainer, "sent", 20), 20);
}

// A backlog of webhooks never takes every slot: one is kept for email
// through SMTP, which is claimed only for a slot that is free.
TEST_F(DrainerClaimAheadPgTest, ABacklogOfDeduplicatedEffectsLeavesAFreeSlotForTheOthers) {
  enqueue(EffectKind::Analytics, 20);
  auto* email = gate(EffectKind::Email);
  auto* analytics = gate(EffectKind::Analytics);
  auto opts = options();
  opts.concurrency = 4;
  Drainer drainer(opts, channels_);
  drainer.start();
  settle(drainer, "running", 9);  // three delivering, a batch waiting, one slot kept free
  EXPECT_TRUE(eventually([&] { return analytics->inDelivery() == 3; }, 5s));
  enqueue(EffectKind::Email, 5);
  EXPECT_TRUE(eventually([&] { return email->inDelivery() == 1; }, 5s));
  const auto seen = drainer.claimLooks();
  EXPECT_TRUE(eventually([&] { return drainer.claimLooks() >= seen + 2; }, 5s));
  EXPECT_EQ(email->inDelivery(), 1);
  EXPECT_EQ(runningEmails(), 1);  // the one in delivery, none waiting leased
  email->open();
  analytics->open();
  EXPECT_EQ(settle(drainer, "sent", 25), 25);
}

}  // namespace
}  // namespace effectd::queue
