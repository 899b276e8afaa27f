// Limits are applied before a delivery slot is taken: a throttled kind, a
// paused one or a slow receiver never holds the slots the others need. A
// running drainer on a real database; the channels stand in for providers
// and record when each delivery reached them.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <thread>

#include "queue/drainer.hpp"
#include "queue/enqueue.hpp"
#include "queue/http_client.hpp"
#include "tests/support/database.hpp"
#include "tests/support/eventually.hpp"

namespace effectd::queue {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::TestDatabase;

// Accepts every delivery at once, or holds those to the origin "slow" until
// the test opens it; counts what it accepted.
class RecordingChannel : public Channel {
 public:
  RecordingChannel(bool idempotent, std::string name)
      : idempotent_(idempotent), name_(std::move(name)) {}
  DeliveryResult deliver(const ClaimedEffect& effect) override {
    std::unique_lock lock(mutex_);
    if (effect.origin.find("slow") != std::string::npos) {
      ++slowWaiting_;
      opened_.wait(lock, [this] { return open_; });
    }
    ++accepted_;
    return DeliveryResult::sent();
  }
  bool idempotent() const override { return idempotent_; }
  std::string_view name() const override { return name_; }
  // As WebhookChannel spells it, from the payload's url.
  std::string origin(const ClaimedEffect& effect) const override {
    const auto url = Url::parse(nlohmann::json::parse(effect.payload).value("url", ""));
    return url ? (url->tls ? "https://" : "http://") + url->authority().toString() : "";
  }
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    opened_.notify_all();
  }
  int accepted() {
    std::lock_guard lock(mutex_);
    return accepted_;
  }
  int slowWaiting() {
    std::lock_guard lock(mutex_);
    return slowWaiting_;
  }

 private:
  bool idempotent_;
  std::string name_;
  std::mutex mutex_;
  std::condition_variable opened_;
  bool open_ = false;
  int accepted_ = 0;
  int slowWaiting_ = 0;
};

class DrainerLanesPgTest : public ::testing::Test {
 protected:
  // `n` effects of `kind`, due `age` ago (a backlog is older than what follows).
  void enqueue(EffectKind kind, int n, std::chrono::seconds age,
               const std::string& payload = R"({"to":"a@example.com","subject":"s","text":"t"})") {
    const auto runAt =
        db_.scalar("SELECT to_char(now() AT TIME ZONE 'UTC' - interval '" +
                   std::to_string(age.count()) + " seconds', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')");
    pqxx::work tx(db_.conn());
    for (int i = 0; i < n; ++i) {
      queue::enqueue(tx, {.key = std::string(toString(kind)) + ":" + std::to_string(next_++),
                          .kind = kind,
                          .payload = payload,
                          .runAt = runAt});
    }
    tx.commit();
  }
  int sent(EffectKind kind) {
    return std::stoi(db_.scalar(R"(SELECT count(*) FROM "OutboundEffect"
                                   WHERE "status" = 'sent' AND "kind" = ')" +
                                std::string(toString(kind)) + "'"));
  }
  Drainer::Options options() {
    return {.databaseUrl = db_.url(),
            .listenUrl = db_.url(),
            .worker = "w1",
            .concurrency = 4,
            .batchSize = 32,
            .pollInterval = 50ms,
            .shutdownGrace = 5s};
  }
  RecordingChannel* install(EffectKind kind, bool idempotent) {
    auto channel = std::make_unique<RecordingChannel>(idempotent, std::string(toString(kind)));
    auto* raw = channel.get();
    switch (kind) {
      case EffectKind::Email:
        channels_->email = std::move(channel);
        break;
      case EffectKind::Analytics:
        channels_->analytics = std::move(channel);
        break;
      case EffectKind::Webhook:
        channels_->webhook = std::move(channel);
        break;
    }
    return raw;
  }

  // The issue's measurement: 200 emails throttled at 2/s, due before 40
  // analytics events. Returns the emails sent by the time the last
  // analytics event was, and prints how long that took.
  int emailsSentWhenAnalyticsAreDone(bool emailDeduplicates) {
    enqueue(EffectKind::Email, 200, 60s);
    enqueue(EffectKind::Analytics, 40, 30s);
    install(EffectKind::Email, emailDeduplicates);
    install(EffectKind::Analytics, true);
    channels_->lanes.byKind[static_cast<std::size_t>(EffectKind::Email)] = {.maxPerSecond = 2};
    const auto started = std::chrono::steady_clock::now();
    Drainer drainer(options(), channels_);
    drainer.start();
    EXPECT_TRUE(eventually([&] { return sent(EffectKind::Analytics) == 40; }, 60s));
    const auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started);
    const int emails = sent(EffectKind::Email);
    std::printf(
        "[ measure ] 40 analytics behind 200 emails at 2/s (%s): all sent in %.2f s, "
        "%d emails sent meanwhile (unthrottled they would wait for ~100 s of emails)\n",
        emailDeduplicates ? "emails deduplicate" : "emails do not deduplicate", took.count(),
        emails);
    return emails;
  }

  TestDatabase db_;
  std::shared_ptr<Channels> channels_ = std::make_shared<Channels>();
  int next_ = 0;
};

// Before, every slot took an email and slept in the throttle, and the claims
// filled the hand with the older emails: analytics waited for the backlog.
TEST_F(DrainerLanesPgTest, AnEmailBacklogThrottledAt2PerSecondDoesNotDelayAnalytics) {
  // At 2/s with a burst of 2, twenty emails take ten seconds: the analytics
  // events must all have gone well before that.
  EXPECT_LT(emailsSentWhenAnalyticsAreDone(true), 20);
}

TEST_F(DrainerLanesPgTest, AThrottledProviderThatDoesNotDeduplicateDoesNotDelayAnalyticsEither) {
  EXPECT_LT(emailsSentWhenAnalyticsAreDone(false), 20);
  // And what it holds is what it can start soon: no email waits leased.
  EXPECT_LE(std::stoi(db_.scalar(R"(SELECT count(*) FROM "OutboundEffect"
                                     WHERE "status" = 'running' AND "kind" = 'email')")),
            2);
}

// A backlog of a slow receiver, older than everything else and larger than
// the drainer's hand: it holds its two slots and twice that in hand, no more.
TEST_F(DrainerLanesPgTest, ASlowReceiverHoldsOnlyItsShareOfTheSlots) {
  enqueue(EffectKind::Webhook, 100, 60s, R"({"url":"https://Slow.example/hook","body":"{}"})");
  enqueue(EffectKind::Webhook, 10, 30s, R"({"url":"https://fast.example:443/hook","body":"{}"})");
  enqueue(EffectKind::Analytics, 10, 30s);
  auto* webhooks = install(EffectKind::Webhook, true);
  install(EffectKind::Analytics, true);
  channels_->lanes.maxPerOrigin = 2;
  auto opts = options();
  opts.batchSize = 5;  // a hand of 4 + 2 * 5: smaller than the slow backlog
  Drainer drainer(opts, channels_);
  drainer.start();
  ASSERT_TRUE(eventually(
      [&] { return sent(EffectKind::Webhook) == 10 && sent(EffectKind::Analytics) == 10; }, 20s));
  EXPECT_EQ(webhooks->slowWaiting(), 2);
  EXPECT_LE(std::stoi(db_.scalar(R"(SELECT count(*) FROM "OutboundEffect"
                                     WHERE "status" = 'running' AND "kind" = 'webhook')")),
            4);
  webhooks->open();
  ASSERT_TRUE(eventually([&] { return sent(EffectKind::Webhook) == 110; }, 30s));
}

}  // namespace
}  // namespace effectd::queue
