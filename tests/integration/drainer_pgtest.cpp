// The OutboundEffect queue against a real PostgreSQL: claims are exclusive,
// outcomes land in the states DESIGN.md prescribes, expired leases are
// rescued according to the channel's idempotency, old rows are pruned.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <thread>

#include "base/metrics.hpp"
#include "queue/channels/file_email.hpp"
#include "queue/drainer.hpp"
#include "queue/effect_admin.hpp"
#include "queue/email_message.hpp"
#include "queue/enqueue.hpp"
#include "tests/support/database.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/process.hpp"

namespace effectd::queue {
namespace {

using effectd::testing::eventually;

using std::chrono::seconds;
using testing::TestDatabase;

// A provider stand-in in memory: counts deliveries per key and answers
// what the test scripted.
class ScriptedChannel : public Channel {
 public:
  explicit ScriptedChannel(bool idempotent = true) : idempotent_(idempotent) {}
  DeliveryResult deliver(const ClaimedEffect& effect) override {
    std::lock_guard lock(mutex_);
    ++deliveries[effect.key];
    if (auto it = script.find(effect.key); it != script.end()) return it->second;
    return DeliveryResult::sent("msg_" + effect.key);
  }
  bool idempotent() const override { return idempotent_; }
  std::string_view name() const override { return "scripted"; }

  std::map<std::string, DeliveryResult> script;
  std::map<std::string, int> deliveries;

 private:
  bool idempotent_;
  std::mutex mutex_;
};

class DrainerPgTest : public ::testing::Test {
 protected:
  DrainerPgTest() {
    auto channel = std::make_unique<ScriptedChannel>();
    email_ = channel.get();
    channels_.email = std::move(channel);
  }

  void enqueueEmails(int n, const std::string& prefix = "k") {
    pqxx::work tx(db_.conn());
    for (int i = 0; i < n; ++i) {
      enqueue(tx, {.key = prefix + std::to_string(i),
                   .kind = EffectKind::Email,
                   .payload = R"({"to":"a@example.com","subject":"s","text":"t"})"});
    }
    tx.commit();
  }

  Drainer::Counts drain(const std::string& worker = "w1", int batch = 100) {
    return Drainer::runOnce(db_.conn(), worker, channels_, batch, seconds(60), policy_);
  }

  // A claim of up to ten effects in its own transaction, as a daemon makes it.
  std::vector<ClaimedEffect> claim(const std::string& worker, seconds lease,
                                   const std::vector<EffectKind>& kinds,
                                   const std::vector<EffectKind>& idempotentKinds = {}) {
    pqxx::work tx(db_.conn());
    std::vector<KindRoute> routes;
    for (auto kind : kinds) {
      routes.push_back({.kind = kind,
                        .idempotent = std::find(idempotentKinds.begin(), idempotentKinds.end(),
                                                kind) != idempotentKinds.end()});
    }
    auto claimed = claimEffects(
        tx, {.worker = worker, .limit = 10, .lease = lease, .routes = eachUpTo(routes, 10)});
    tx.commit();
    return claimed;
  }

  std::string field(const std::string& key, const std::string& column) {
    return db_.scalar("SELECT \"" + column + "\"::text FROM \"OutboundEffect\" WHERE \"key\" = '" +
                      key + "'");
  }

  // By the database's clock, which is the one leases are judged by.
  bool leaseLive(const std::string& key) {
    return db_.scalar(R"(SELECT "lockedUntil" > now() AT TIME ZONE 'UTC'
                         FROM "OutboundEffect" WHERE "key" = ')" +
                      key + "'") == "t";
  }
  // Waits until no lease is live any more (a dead daemon's claims lapse).
  bool leasesLapse() {
    return eventually(
        [&] {
          return db_.scalar(R"(SELECT count(*) FROM "OutboundEffect"
                               WHERE "lockedUntil" > now() AT TIME ZONE 'UTC')") == "0";
        },
        seconds(10));
  }

  TestDatabase db_;
  Channels channels_;
  ScriptedChannel* email_ = nullptr;
  RetryPolicy policy_{.base = seconds(10), .max = seconds(3600)};
};

TEST_F(DrainerPgTest, ConcurrentDrainersDeliverEachKeyExactlyOnce) {
  enqueueEmails(600);
  std::vector<std::thread> threads;
  for (int w = 0; w < 4; ++w) {
    threads.emplace_back([&, w] {
      pqxx::connection conn(db_.url());
      while (Drainer::runOnce(conn, "w" + std::to_string(w), channels_, 16, seconds(60), policy_)
                 .claimed > 0) {
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(email_->deliveries.size(), 600u);
  for (const auto& [key, n] : email_->deliveries) ASSERT_EQ(n, 1) << key;
  EXPECT_EQ(db_.scalar(R"(SELECT count(*) FROM "OutboundEffect" WHERE "status" = 'sent'
                          AND "sentAt" IS NOT NULL AND "lockedBy" IS NULL)"),
            "600");
  EXPECT_EQ(field("k7", "providerMessageId"), "msg_k7");
}

TEST_F(DrainerPgTest, OutcomesEndInThePrescribedStates) {
  enqueueEmails(5);
  email_->script["k0"] = DeliveryResult::retry("HTTP 429", seconds(120));
  email_->script["k1"] = DeliveryResult::retry("HTTP 503");
  email_->script["k2"] = DeliveryResult::dead("HTTP 400: invalid to");
  email_->script["k3"] = DeliveryResult::unknown("timeout after sending");
  const auto counts = drain();
  EXPECT_EQ(counts.claimed, 5);
  EXPECT_EQ(counts.sent, 1);
  // Retry-After is respected exactly; otherwise exponential backoff with jitter.
  EXPECT_EQ(field("k0", "status"), "pending");
  EXPECT_EQ(db_.scalar(R"(SELECT round(extract(epoch FROM "runAt" - (now() AT TIME ZONE 'UTC')))
                          FROM "OutboundEffect" WHERE "key" = 'k0')"),
            "120");
  const auto delay = std::stod(db_.scalar(
      R"(SELECT extract(epoch FROM "runAt" - (now() AT TIME ZONE 'UTC')) FROM "OutboundEffect" WHERE "key" = 'k1')"));
  EXPECT_GT(delay, 7.0);
  EXPECT_LT(delay, 13.0);
  EXPECT_EQ(field("k1", "attempts"), "1");
  EXPECT_EQ(field("k1", "lastError"), "HTTP 503");
  EXPECT_EQ(field("k2", "status"), "dead");
  EXPECT_EQ(field("k2", "lastError"), "HTTP 400: invalid to");
  EXPECT_EQ(field("k3", "status"), "unknown");
  EXPECT_EQ(field("k4", "status"), "sent");
  // Nothing due now: the retries wait for their runAt.
  EXPECT_EQ(drain().claimed, 0);
}

TEST_F(DrainerPgTest, ATemporaryFailureOnTheLastAttemptIsDead) {
  pqxx::work tx(db_.conn());
  enqueue(tx, {.key = "last", .kind = EffectKind::Email, .payload = "{}", .maxAttempts = 1});
  tx.commit();
  email_->script["last"] = DeliveryResult::retry("HTTP 500");
  drain();
  EXPECT_EQ(field("last", "status"), "dead");
}

TEST_F(DrainerPgTest, KindsWithoutAChannelStayPending) {
  pqxx::work tx(db_.conn());
  enqueue(tx, {.key = "hook", .kind = EffectKind::Webhook, .payload = R"({"url":"https://x"})"});
  tx.commit();
  EXPECT_EQ(drain().claimed, 0);
  EXPECT_EQ(field("hook", "status"), "pending");
}

TEST_F(DrainerPgTest, ExpiredLeasesAreRequeuedOrMarkedUnknownByTheLeaseHoldersProvider) {
  enqueueEmails(2);
  pqxx::work tx(db_.conn());
  enqueue(tx, {.key = "a0", .kind = EffectKind::Analytics, .payload = "{}"});
  tx.commit();
  // A daemon claims and dies: nobody completes, the one-second lease runs out.
  // It sent email through a deduplicating provider (Resend), analytics not.
  const auto claimed = claim("dead-daemon", seconds(1), {EffectKind::Email, EffectKind::Analytics},
                             {EffectKind::Email});
  ASSERT_EQ(claimed.size(), 3u);
  EXPECT_EQ(field("k0", "lockedIdempotent"), "true");
  EXPECT_EQ(field("a0", "lockedIdempotent"), "false");
  EXPECT_EQ(rescueExpired(db_.conn(), 10).requeued, 0);  // not yet
  ASSERT_TRUE(leasesLapse());
  const auto rescued = rescueExpired(db_.conn(), 10);
  EXPECT_EQ(rescued.requeued, 2);
  EXPECT_EQ(rescued.unknown, 1);
  EXPECT_EQ(field("k0", "status"), "pending");
  EXPECT_EQ(field("a0", "status"), "unknown");
  EXPECT_NE(field("a0", "lastError").find("dead-daemon"), std::string::npos);
  // The drainer delivers what was requeued; the unknown one waits.
  EXPECT_EQ(drain().sent, 2);
  EXPECT_EQ(field("a0", "status"), "unknown");
}

// The lease holder was alive after all (a long pause, a partition) and knew
// the outcome: a sent settles the unknown (or requeued) effect as sent
// instead of being dropped; another outcome is counted and logged.
TEST_F(DrainerPgTest, TheLeaseHoldersLateOutcomeIsRecordedNotDropped) {
  enqueueEmails(2);
  pqxx::work tx(db_.conn());
  enqueue(tx, {.key = "a0", .kind = EffectKind::Analytics, .payload = "{}"});
  tx.commit();
  const auto claimed = claim("slow-daemon", seconds(1), {EffectKind::Email, EffectKind::Analytics},
                             {EffectKind::Email});
  ASSERT_EQ(claimed.size(), 3u);
  ASSERT_TRUE(leasesLapse());
  const auto rescued = rescueExpired(db_.conn(), 10, "another");
  ASSERT_EQ(rescued.unknown, 1);
  const auto idOf = [&](const std::string& key) {
    return std::find_if(claimed.begin(), claimed.end(), [&](auto& e) { return e.key == key; })->id;
  };
  auto& counter = metrics::registry().lateCompletions;
  const auto settledBefore = counter.value({"sent", "settled"});
  const auto droppedBefore = counter.value({"dead", "dropped"});
  pqxx::work late(db_.conn());
  EXPECT_EQ(completeEffects(late, "slow-daemon",
                            {{idOf("a0"), DeliveryResult::sent("msg_a0"), 1, 12},
                             {idOf("k0"), DeliveryResult::sent("msg_k0"), 1, 12},
                             {idOf("k1"), DeliveryResult::dead("HTTP 422"), 1, 12}},
                            policy_),
            2);
  late.commit();
  EXPECT_EQ(field("a0", "status"), "sent");
  EXPECT_EQ(field("a0", "providerMessageId"), "msg_a0");
  EXPECT_EQ(field("a0", "lastError"), "");
  EXPECT_EQ(field("k0", "status"), "sent");
  EXPECT_EQ(field("k1", "status"), "pending");  // requeued; the late dead is not applied
  EXPECT_EQ(counter.value({"sent", "settled"}), settledBefore + 2);
  EXPECT_EQ(counter.value({"dead", "dropped"}), droppedBefore + 1);
  // Written a second time (its commit's answer lost), it changes nothing
  // and counts nothing.
  pqxx::work again(db_.conn());
  EXPECT_EQ(completeEffects(again, "slow-daemon",
                            {{idOf("a0"), DeliveryResult::sent("msg_a0"), 1, 12}}, policy_),
            0);
  again.commit();
  EXPECT_EQ(counter.value({"sent", "settled"}), settledBefore + 2);
  EXPECT_EQ(counter.value({"sent", "dropped"}), 0u);
  EXPECT_EQ(drain().sent, 1);  // k1 only
}

// A database outage longer than the lease: the daemon that holds the claims
// is alive, and its own rescuer leaves them to it. It writes the outcome it
// has in hand, and nothing is sent twice or left unknown. Another daemon's
// rescuer still takes over what is left.
TEST_F(DrainerPgTest, ADaemonNeverRescuesItsOwnLeases) {
  enqueueEmails(2);
  const auto claimed = claim("alive", seconds(1), {EffectKind::Email}, {});
  ASSERT_EQ(claimed.size(), 2u);
  ASSERT_TRUE(leasesLapse());
  const auto own = rescueExpired(db_.conn(), 10, "alive");
  EXPECT_EQ(own.requeued + own.unknown, 0);
  EXPECT_EQ(field("k0", "status"), "running");
  const auto& k0 = claimed[0].key == "k0" ? claimed[0] : claimed[1];
  pqxx::work late(db_.conn());
  EXPECT_EQ(completeEffects(late, "alive", {{k0.id, DeliveryResult::sent(), 1, 12}}, policy_), 1);
  late.commit();
  EXPECT_EQ(field("k0", "status"), "sent");
  EXPECT_EQ(rescueExpired(db_.conn(), 10, "another").unknown, 1);
  EXPECT_EQ(field("k1", "status"), "unknown");
}

// Attempt 1 failed and its completion committed, but the answer was lost:
// the completer still holds it. The effect must not be claimed again while
// it is in hand, and once claimed again (attempt 2), the old completion
// written a second time must not land on attempt 2's claim.
TEST_F(DrainerPgTest, ACompletionWrittenAgainNeverLandsOnALaterAttempt) {
  enqueueEmails(1);
  const auto first = claim("w", seconds(60), {EffectKind::Email});
  ASSERT_EQ(first.size(), 1u);
  const Completion failedOnce{first[0].id, DeliveryResult::retry("503 from the provider"), 1, 12};
  {
    pqxx::work tx(db_.conn());
    EXPECT_EQ(completeEffects(tx, "w", {failedOnce}, policy_), 1);
    tx.commit();  // committed; the daemon never heard so
  }
  db_.scalar(R"(UPDATE "OutboundEffect" SET "runAt" = now() AT TIME ZONE 'UTC' - interval '1 s')");
  {
    pqxx::work tx(db_.conn());
    const auto inHand = claimEffects(tx, {.worker = "w",
                                          .limit = 10,
                                          .lease = seconds(60),
                                          .routes = {{.route = {.kind = EffectKind::Email}}},
                                          .exclude = {first[0].id}});
    EXPECT_TRUE(inHand.empty());
    tx.commit();
  }
  const auto second = claim("w", seconds(60), {EffectKind::Email});
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].attempts, 2);
  {
    pqxx::work tx(db_.conn());
    EXPECT_EQ(completeEffects(tx, "w", {failedOnce}, policy_), 0);
    tx.commit();
  }
  EXPECT_EQ(field("k0", "status"), "running");
  EXPECT_EQ(field("k0", "attempts"), "2");
  {
    pqxx::work tx(db_.conn());
    EXPECT_EQ(completeEffects(tx, "w", {{second[0].id, DeliveryResult::sent(), 2, 12}}, policy_),
              1);
    tx.commit();
  }
  EXPECT_EQ(field("k0", "status"), "sent");
}

TEST_F(DrainerPgTest, RescueFollowsTheProviderThatHeldTheLeaseNotTheRescuers) {
  // A fleet switching from SMTP to Resend: the SMTP daemon claimed the email
  // and died. The rescuer (this test's drainer) delivers email idempotently,
  // yet the effect may already be at the SMTP relay: it must become unknown.
  enqueueEmails(1);
  ASSERT_EQ(claim("smtp-daemon", seconds(1), {EffectKind::Email}, {}).size(), 1u);
  ASSERT_TRUE(channels_.email->idempotent());
  ASSERT_TRUE(leasesLapse());
  const auto rescued = rescueExpired(db_.conn(), 10);
  EXPECT_EQ(rescued.unknown, 1);
  EXPECT_EQ(field("k0", "status"), "unknown");
  EXPECT_EQ(field("k0", "lockedIdempotent"), "");
  EXPECT_EQ(drain().claimed, 0);
  EXPECT_EQ(email_->deliveries["k0"], 0);
}

TEST_F(DrainerPgTest, OnlyLeasesOfEffectsInHandAreRenewed) {
  enqueueEmails(2);
  // k1's claim committed but its daemon never learnt of it (a commit whose
  // answer was lost): only k0 is in hand, so only k0's lease is kept alive.
  const auto claimed = claim("slow", seconds(1), {EffectKind::Email}, {EffectKind::Email});
  ASSERT_EQ(claimed.size(), 2u);
  const auto& inHand = claimed[0].key == "k0" ? claimed[0] : claimed[1];
  const auto& lost = claimed[0].key == "k0" ? claimed[1] : claimed[0];
  pqxx::work renew(db_.conn());
  EXPECT_EQ(renewLeases(renew, "slow", {inHand.id}, seconds(5)), 1);
  renew.commit();
  ASSERT_TRUE(eventually([&] { return !leaseLive(lost.key); }, seconds(10)));
  EXPECT_TRUE(leaseLive(inHand.key));
  EXPECT_EQ(rescueExpired(db_.conn(), 10).requeued, 1);
  EXPECT_EQ(field("k0", "status"), "running");
  EXPECT_EQ(field("k1", "status"), "pending");
}

// A trigger that refuses to finish running effects (renewals, which keep
// them running, pass) with `errcode`, for keys LIKE `keys`.
void refuseOutcomes(TestDatabase& db, const std::string& errcode, const std::string& keys) {
  db.scalar(R"(CREATE FUNCTION refuse_outcomes() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF OLD."status" = 'running' AND NEW."status" <> 'running' AND OLD."key" LIKE ')" +
            keys + R"(' THEN
        RAISE EXCEPTION 'outcome refused by the test' USING ERRCODE = ')" +
            errcode + R"(';
      END IF;
      RETURN NEW;
    END $$)");
  db.scalar(R"(CREATE TRIGGER refuse_outcomes BEFORE UPDATE ON "OutboundEffect"
    FOR EACH ROW EXECUTE FUNCTION refuse_outcomes())");
}

class RunningDrainerPgTest : public DrainerPgTest {
 protected:
  RunningDrainerPgTest() {
    auto owned = std::make_unique<ScriptedChannel>(false);  // SMTP-like: no deduplication
    email = owned.get();
    channels->email = std::move(owned);
  }
  std::unique_ptr<Drainer> start() {
    auto drainer =
        std::make_unique<Drainer>(Drainer::Options{.databaseUrl = db_.url(),
                                                   .worker = "w1",
                                                   .concurrency = 2,
                                                   .lease = seconds(2),
                                                   .pollInterval = std::chrono::milliseconds(50),
                                                   .shutdownGrace = seconds(5)},
                                  channels);
    drainer->start();
    return drainer;
  }
  bool waitFor(const std::string& key, const std::string& status) {
    return eventually([&] { return field(key, "status") == status; }, seconds(10));
  }
  std::shared_ptr<Channels> channels = std::make_shared<Channels>();
  ScriptedChannel* email = nullptr;
};

TEST_F(RunningDrainerPgTest, LeasesAreRenewedWhileAnOutcomeCannotBeWrittenYet) {
  // A serialization failure on every completion: worth trying again, so the
  // outcome stays in hand, and its lease must not lapse meanwhile (another
  // daemon would rescue the effect and send it again).
  refuseOutcomes(db_, "40001", "%");
  enqueueEmails(1);
  {
    auto drainer = start();
    ASSERT_TRUE(waitFor("k0", "running"));
    // Three leases long: without renewals the lease would have run out twice.
    // The lease's end keeps moving: it is renewed, not just long.
    const auto firstEnd = field("k0", "lockedUntil");
    ASSERT_TRUE(eventually(
        [&] {
          return db_.scalar(R"(SELECT "lockedUntil" > ')" + firstEnd +
                            R"('::timestamp + interval '4 seconds' FROM "OutboundEffect"
                               WHERE "key" = 'k0')") == "t";
        },
        seconds(15)));
    EXPECT_EQ(field("k0", "status"), "running");
    EXPECT_TRUE(leaseLive("k0"));
    const auto rescued = rescueExpired(db_.conn(), 10, "w2");
    EXPECT_EQ(rescued.requeued + rescued.unknown, 0);
    db_.scalar(R"(DROP TRIGGER refuse_outcomes ON "OutboundEffect")");
    EXPECT_TRUE(waitFor("k0", "sent"));
  }
  EXPECT_EQ(field("k0", "attempts"), "1");
  EXPECT_EQ(email->deliveries["k0"], 1);
}

TEST_F(RunningDrainerPgTest, AnOutcomeTheDatabaseRefusesIsLetGoAndTheOthersAreWritten) {
  // A trigger's own exception (P0001) on k0 only: it will never be taken.
  refuseOutcomes(db_, "P0001", "k0");
  enqueueEmails(3);
  {
    auto drainer = start();
    EXPECT_TRUE(waitFor("k1", "sent"));
    EXPECT_TRUE(waitFor("k2", "sent"));
    // k0 is let go, not renewed: its lease lapses and the rescue decides,
    // as after a crash.
    EXPECT_TRUE(eventually([&] { return !leaseLive("k0"); }, seconds(10)));
    EXPECT_EQ(field("k0", "status"), "running");
    // The daemon goes on draining meanwhile.
    enqueueEmails(1, "later");
    EXPECT_TRUE(waitFor("later0", "sent"));
  }
  db_.scalar(R"(DROP TRIGGER refuse_outcomes ON "OutboundEffect")");
  // SMTP does not deduplicate: may have been sent, so unknown, not again.
  EXPECT_EQ(rescueExpired(db_.conn(), 10, "w2").unknown, 1);
  EXPECT_EQ(field("k0", "status"), "unknown");
  EXPECT_EQ(email->deliveries["k0"], 1);
}

TEST_F(DrainerPgTest, AnEffectTriedThroughOneProviderIsNeverSentThroughAnother) {
  // A Resend daemon's attempt timed out after sending (retry: Resend would
  // recognise the repeat). The effect is then due on an SMTP daemon, which
  // cannot know whether Resend delivered it: it marks it unknown, unsent.
  enqueueEmails(2);
  auto claimThrough = [&](const std::string& worker, const std::string& provider) {
    pqxx::work tx(db_.conn());
    auto claimed = claimEffects(tx, {.worker = worker,
                                     .limit = 10,
                                     .lease = seconds(60),
                                     .routes = {{.route = {EffectKind::Email, provider, true}}}});
    tx.commit();
    return claimed;
  };
  const auto first = claimThrough("resend-daemon", "resend");
  ASSERT_EQ(first.size(), 2u);
  pqxx::work done(db_.conn());
  completeEffects(done, "resend-daemon",
                  {{first[0].id, DeliveryResult::retry("resend: timed out"), 1, 12},
                   {first[1].id, DeliveryResult::retry("resend: timed out"), 1, 12}},
                  policy_);
  done.commit();
  pqxx::nontransaction(db_.conn())
      .exec(R"(UPDATE "OutboundEffect" SET "runAt" = now() - interval '1 s')");
  EXPECT_TRUE(claimThrough("smtp-daemon", "smtp").empty());
  for (const auto* key : {"k0", "k1"}) {
    EXPECT_EQ(field(key, "status"), "unknown") << key;
    EXPECT_NE(field(key, "lastError").find("went through resend"), std::string::npos)
        << field(key, "lastError");
    EXPECT_EQ(field(key, "attempts"), "1");
  }
  // The operator's retry lets any provider send it.
  EXPECT_EQ(steerEffects(db_.conn(), {.idOrKey = "k0"}, OperatorCommand::Retry), 1);
  const auto again = claimThrough("smtp-daemon", "smtp");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].key, "k0");
  EXPECT_EQ(field("k0", "lastProvider"), "smtp");
}

TEST_F(DrainerPgTest, RowsLeasedByAClaimWhoseAnswerWasLostAreGivenBack) {
  // An SMTP daemon claims two effects; the commit's answer is lost for one
  // of them as far as it knows (it holds only k0). The other was never handed
  // to a delivery: it goes back to pending as if never claimed, instead of
  // expiring into `unknown`. Another worker's lease is not touched.
  enqueueEmails(3);
  const auto mine = claim("smtp-daemon", seconds(60), {EffectKind::Email});
  ASSERT_EQ(mine.size(), 3u);
  pqxx::nontransaction(db_.conn())
      .exec(R"(UPDATE "OutboundEffect" SET "lockedBy" = 'other' WHERE "key" = 'k2')");
  const auto& held = mine[0].key == "k0" ? mine[0] : mine[1].key == "k0" ? mine[1] : mine[2];
  pqxx::work tx(db_.conn());
  EXPECT_EQ(releaseUnheld(tx, "smtp-daemon", {held.id}), 1);
  tx.commit();
  EXPECT_EQ(field("k0", "status"), "running");
  EXPECT_EQ(field("k1", "status") + " " + field("k1", "attempts"), "pending 0");
  EXPECT_EQ(field("k2", "status"), "running");
}

TEST_F(DrainerPgTest, ReleasedEffectsGoBackUntouched) {
  enqueueEmails(1);
  const auto claimed = claim("stopping", seconds(60), {EffectKind::Email});
  pqxx::work release(db_.conn());
  EXPECT_EQ(releaseEffects(release, "stopping", {claimed[0].id}), 1);
  release.commit();
  EXPECT_EQ(field("k0", "status") + " " + field("k0", "attempts"), "pending 0");
}

TEST_F(DrainerPgTest, RetentionCompactsOldFinishedEffectsAndTheirKeysStayUsed) {
  enqueueEmails(3);
  drain();
  enqueueEmails(1, "fresh");
  pqxx::nontransaction(db_.conn())
      .exec(R"(UPDATE "OutboundEffect" SET "updatedAt" = "updatedAt" - interval '40 days'
               WHERE "key" IN ('k0', 'k1', 'fresh0'))");
  const auto compact = [&] {
    pqxx::work tx(db_.conn());
    const auto compacted = compactOld(tx, 30.0 * 24 * 3600, 100);
    tx.commit();
    return compacted;
  };
  EXPECT_EQ(compact(), 2);
  // Every row is still there; the old sent ones lost their payload only.
  EXPECT_EQ(db_.scalar(R"(SELECT string_agg("key" || '=' || "status" || ':' || "payload"::text
                                            || ':' || ("payloadPrunedAt" IS NOT NULL)::text,
                                            ',' ORDER BY "key") FROM "OutboundEffect")"),
            R"(fresh0=pending:{"to": "a@example.com", "text": "t", "subject": "s"}:false,)"
            R"(k0=sent:{}:true,k1=sent:{}:true,)"
            R"(k2=sent:{"to": "a@example.com", "text": "t", "subject": "s"}:false)");
  EXPECT_EQ(field("k0", "providerMessageId"), "msg_k0");
  // Compacted rows are not compacted again.
  EXPECT_EQ(compact(), 0);
  // The key is still used: a later enqueue of it is a no-op, nothing is sent.
  pqxx::work again(db_.conn());
  EXPECT_FALSE(enqueue(again, {.key = "k0",
                               .kind = EffectKind::Email,
                               .payload = R"({"to":"a@example.com","subject":"s","text":"t"})"}));
  again.commit();
  drain();
  EXPECT_EQ(email_->deliveries["k0"], 1);
}

TEST_F(DrainerPgTest, FileEmailsRenderTemplatesAndAMissingTemplateIsDead) {
  const auto dir = testing::tempDirectory("effectd-mail-");
  channels_.email = std::make_unique<FileEmailChannel>(dir, "Billing <billing@x.example>");
  pqxx::work tx(db_.conn());
  enqueue(tx, {.key = "email:subscription_started:sub_1",
               .kind = EffectKind::Email,
               .payload = R"({"to":["o@x.example"],"template":"subscription_started",
                              "data":{"organizationName":"A & <B>","status":"active"}})"});
  enqueue(tx, {.key = "bad",
               .kind = EffectKind::Email,
               .payload = R"({"to":"o@x.example","template":"no_such_template"})"});
  tx.commit();
  drain();
  EXPECT_EQ(field("bad", "status"), "dead");
  EXPECT_EQ(field("bad", "lastError"), "no email template named 'no_such_template'");
  const auto id = field("email:subscription_started:sub_1", "id");
  const auto eml = testing::readFile(dir + "/" + id + ".eml");
  EXPECT_NE(eml.find("To: o@x.example\r\n"), std::string::npos) << eml;
  EXPECT_NE(eml.find("From: Billing <billing@x.example>\r\n"), std::string::npos);
  EXPECT_NE(eml.find("Subject: Welcome to your A & <B> subscription\r\n"), std::string::npos);
  EXPECT_NE(eml.find("<strong>A &amp; &lt;B&gt;</strong>"), std::string::npos) << eml;
  EXPECT_NE(eml.find("Message-ID: " + messageIdFor("email:subscription_started:sub_1")),
            std::string::npos);
  EXPECT_EQ(field("email:subscription_started:sub_1", "providerMessageId"),
            messageIdFor("email:subscription_started:sub_1"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace effectd::queue
