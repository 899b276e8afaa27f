// The drainer's admission decisions, on a clock the test moves.
#include "queue/delivery_lanes.hpp"

#include <gtest/gtest.h>

namespace effectd::queue {
namespace {

using namespace std::chrono_literals;
using Clock = DeliveryLanes::Clock;

ClaimedEffect effectOf(EffectKind kind, std::string origin = {}) {
  ClaimedEffect e;
  e.kind = kind;
  e.origin = std::move(origin);
  return e;
}

DeliveryLanes::Options limitsFor(EffectKind kind, LaneLimits limits) {
  DeliveryLanes::Options o;
  o.byKind[static_cast<std::size_t>(kind)] = limits;
  return o;
}

const Clock::time_point t0 = Clock::time_point{} + 1000h;
constexpr auto kWhenOneFinishes = Clock::time_point::max();

TEST(DeliveryLanesTest, ARateLimitLetsABurstGoThenOneAtItsPace) {
  DeliveryLanes lanes(limitsFor(EffectKind::Email, {.maxPerSecond = 2}), t0);
  const auto email = effectOf(EffectKind::Email);
  for (int i = 0; i < 2; ++i) {
    ASSERT_LE(lanes.startsAt(email, t0), t0);
    lanes.start(email, t0);
  }
  // The burst is spent: the next token comes after half a second.
  EXPECT_EQ(lanes.startsAt(email, t0), t0 + 500ms);
  EXPECT_LE(lanes.startsAt(email, t0 + 500ms), t0 + 500ms);
  // Another kind is not held back by it.
  EXPECT_LE(lanes.startsAt(effectOf(EffectKind::Analytics), t0), t0);
}

TEST(DeliveryLanesTest, AThrottledKindClaimsOnlyWhatItCanStartSoon) {
  DeliveryLanes lanes(limitsFor(EffectKind::Email, {.maxPerSecond = 2}), t0);
  // A second's worth for a provider that does not deduplicate, two seconds'
  // for one that does; what is queued already counts.
  EXPECT_EQ(lanes.claimRoom(EffectKind::Email, 0, false, t0), 2);
  EXPECT_EQ(lanes.claimRoom(EffectKind::Email, 1, false, t0), 1);
  EXPECT_EQ(lanes.claimRoom(EffectKind::Email, 4, true, t0), 0);
  EXPECT_EQ(lanes.claimRoom(EffectKind::Email, 0, true, t0), 4);
  EXPECT_GT(lanes.claimRoom(EffectKind::Analytics, 1000, true, t0), 1000);
}

TEST(DeliveryLanesTest, AConcurrencyLimitHoldsTheNextUntilOneFinishes) {
  DeliveryLanes lanes(limitsFor(EffectKind::Analytics, {.maxConcurrency = 2}), t0);
  const auto event = effectOf(EffectKind::Analytics);
  lanes.start(event, t0);
  lanes.start(event, t0);
  EXPECT_EQ(lanes.startsAt(event, t0 + 1h), kWhenOneFinishes);
  EXPECT_EQ(lanes.claimRoom(EffectKind::Analytics, 0, false, t0), 0);
  EXPECT_EQ(lanes.claimRoom(EffectKind::Analytics, 0, true, t0), 2);
  lanes.finish(event, DeliveryResult::sent(), t0);
  EXPECT_LE(lanes.startsAt(event, t0), t0);
}

TEST(DeliveryLanesTest, OneSlowOriginNeverTakesMoreThanItsShare) {
  DeliveryLanes::Options o;
  o.maxPerOrigin = 2;
  DeliveryLanes lanes(o, t0);
  const auto slow = effectOf(EffectKind::Webhook, "https://slow.example:443");
  lanes.start(slow, t0);
  lanes.start(slow, t0);
  EXPECT_EQ(lanes.startsAt(slow, t0), kWhenOneFinishes);
  EXPECT_LE(lanes.startsAt(effectOf(EffectKind::Webhook, "https://fast.example:443"), t0), t0);
  lanes.finish(slow, DeliveryResult::retry("timeout"), t0);
  EXPECT_LE(lanes.startsAt(slow, t0), t0);
}

TEST(DeliveryLanesTest, RefusedCredentialsPauseTheKindThenOneProbeReopensIt) {
  DeliveryLanes::Options o;
  o.firstPause = 30s;
  o.maxPause = 100s;
  DeliveryLanes lanes(o, t0);
  const auto email = effectOf(EffectKind::Email);
  for (int i = 0; i < 3; ++i) lanes.start(email, t0);

  auto f = lanes.finish(email, DeliveryResult::refused("resend: HTTP 401"), t0);
  EXPECT_TRUE(f.paused);
  EXPECT_EQ(f.pause, 30s);
  EXPECT_EQ(lanes.credentials(EffectKind::Email), CredentialState::Paused);
  EXPECT_EQ(lanes.pauseReason(EffectKind::Email), "resend: HTTP 401");
  // Those that were in flight and refused too do not lengthen the pause.
  f = lanes.finish(email, DeliveryResult::refused("resend: HTTP 401"), t0 + 1s);
  EXPECT_FALSE(f.paused);
  EXPECT_EQ(f.pause, 29s);
  lanes.finish(email, DeliveryResult::refused("resend: HTTP 401"), t0 + 1s);

  // Nothing starts or is claimed while the pause runs; other kinds go on.
  EXPECT_TRUE(lanes.holdsBack(EffectKind::Email, t0 + 29s));
  EXPECT_EQ(lanes.startsAt(email, t0 + 10s), t0 + 30s);
  EXPECT_EQ(lanes.claimRoom(EffectKind::Email, 0, true, t0 + 10s), 0);
  EXPECT_LE(lanes.startsAt(effectOf(EffectKind::Analytics), t0 + 10s), t0 + 10s);

  // Then one probe, and only one.
  EXPECT_EQ(lanes.claimRoom(EffectKind::Email, 0, true, t0 + 30s), 1);
  EXPECT_EQ(lanes.claimRoom(EffectKind::Email, 1, true, t0 + 30s), 0);
  lanes.start(email, t0 + 30s);
  EXPECT_EQ(lanes.credentials(EffectKind::Email), CredentialState::Probing);
  EXPECT_EQ(lanes.startsAt(email, t0 + 31s), kWhenOneFinishes);

  // Refused again: twice as long, up to the most.
  f = lanes.finish(email, DeliveryResult::refused("resend: HTTP 401"), t0 + 31s);
  EXPECT_TRUE(f.paused);
  EXPECT_EQ(f.pause, 60s);
  lanes.start(email, t0 + 91s);
  f = lanes.finish(email, DeliveryResult::refused("resend: HTTP 401"), t0 + 92s);
  EXPECT_EQ(f.pause, 100s);

  // A probe that is not refused (here a 503) reopens the kind.
  lanes.start(email, t0 + 192s);
  f = lanes.finish(email, DeliveryResult::retry("resend: HTTP 503"), t0 + 193s);
  EXPECT_TRUE(f.resumed);
  EXPECT_EQ(lanes.credentials(EffectKind::Email), CredentialState::Open);
  EXPECT_LE(lanes.startsAt(email, t0 + 193s), t0 + 193s);
  // And the next refusal starts again from the first pause.
  lanes.start(email, t0 + 200s);
  EXPECT_EQ(lanes.finish(email, DeliveryResult::refused("x"), t0 + 200s).pause, 30s);
}

TEST(DeliveryLanesTest, ADeliveryAcceptedDuringAPauseReopensTheKind) {
  DeliveryLanes lanes({}, t0);
  const auto email = effectOf(EffectKind::Email);
  lanes.start(email, t0);
  lanes.start(email, t0);
  lanes.finish(email, DeliveryResult::refused("smtp: 535"), t0);
  // The operator fixed the password while this one was in flight.
  EXPECT_TRUE(lanes.finish(email, DeliveryResult::sent(), t0 + 1s).resumed);
  EXPECT_FALSE(lanes.holdsBack(EffectKind::Email, t0 + 1s));
}

}  // namespace
}  // namespace effectd::queue
