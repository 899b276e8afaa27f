#include "queue/delivery_lanes.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace effectd::queue {
namespace {

constexpr int kUnlimited = std::numeric_limits<int>::max();

double burst(const LaneLimits& limits) {
  return std::max(1.0, limits.maxPerSecond);
}

}  // namespace

DeliveryLanes::DeliveryLanes(Options options, Clock::time_point now) : options_(options) {
  for (std::size_t i = 0; i < kKinds; ++i) {
    lanes_[i].limits = options_.byKind[i];
    lanes_[i].tokens = burst(lanes_[i].limits);
    lanes_[i].refilled = now;
  }
}

double DeliveryLanes::tokensAt(const Lane& lane, Clock::time_point now) const {
  if (lane.limits.maxPerSecond <= 0) return std::numeric_limits<double>::infinity();
  const double elapsed = std::chrono::duration<double>(now - lane.refilled).count();
  return std::min(burst(lane.limits),
                  lane.tokens + std::max(0.0, elapsed) * lane.limits.maxPerSecond);
}

DeliveryLanes::Clock::time_point DeliveryLanes::startsAt(const ClaimedEffect& effect,
                                                         Clock::time_point now) const {
  const auto& l = lane(effect.kind);
  constexpr auto whenOneFinishes = Clock::time_point::max();
  switch (l.state) {
    case CredentialState::Open:
      break;
    case CredentialState::Paused:
      // Once the pause is over, one delivery probes the credentials.
      if (now < l.pausedUntil) return l.pausedUntil;
      if (l.running > 0) return whenOneFinishes;
      break;
    case CredentialState::Probing:
      return whenOneFinishes;
  }
  if (l.limits.maxConcurrency > 0 && l.running >= l.limits.maxConcurrency) return whenOneFinishes;
  if (options_.maxPerOrigin > 0 && !effect.origin.empty()) {
    const auto it = byOrigin_.find(effect.origin);
    if (it != byOrigin_.end() && it->second >= options_.maxPerOrigin) return whenOneFinishes;
  }
  const double tokens = tokensAt(l, now);
  if (tokens >= 1.0) return now;
  return now + std::chrono::duration_cast<Clock::duration>(
                   std::chrono::duration<double>((1.0 - tokens) / l.limits.maxPerSecond));
}

void DeliveryLanes::start(const ClaimedEffect& effect, Clock::time_point now) {
  auto& l = lane(effect.kind);
  if (l.limits.maxPerSecond > 0) {
    l.tokens = tokensAt(l, now) - 1.0;
    l.refilled = now;
  }
  ++l.running;
  if (!effect.origin.empty()) ++byOrigin_[effect.origin];
  if (l.state == CredentialState::Paused) transition(l, CredentialEvent::ProbeStarted, now);
}

DeliveryLanes::Finished DeliveryLanes::finish(const ClaimedEffect& effect,
                                              const DeliveryResult& result, Clock::time_point now) {
  auto& l = lane(effect.kind);
  --l.running;
  if (!effect.origin.empty()) {
    const auto it = byOrigin_.find(effect.origin);
    if (it != byOrigin_.end() && --it->second <= 0) byOrigin_.erase(it);
  }
  switch (result.outcome) {
    case DeliveryResult::Outcome::Refused:
      return transition(l, CredentialEvent::Refused, now, result.error);
    case DeliveryResult::Outcome::Sent:
      return transition(l, CredentialEvent::Sent, now);
    default:
      return transition(l, CredentialEvent::Delivered, now);
  }
}

DeliveryLanes::Finished DeliveryLanes::transition(Lane& l, CredentialEvent event,
                                                  Clock::time_point now,
                                                  const std::string& reason) {
  Finished out;
  const auto pauseFor = [&](std::chrono::seconds length) {
    l.state = CredentialState::Paused;
    l.pause = length;
    l.pausedUntil = now + length;
    l.reason = reason;
    out.paused = true;
    out.pause = length;
  };
  switch (event) {
    case CredentialEvent::Refused:
      if (l.state == CredentialState::Open) {
        pauseFor(options_.firstPause);
      } else if (l.state == CredentialState::Probing) {
        pauseFor(std::min(l.pause * 2, options_.maxPause));
      } else {
        // Refused too, by a delivery that started before the pause: the
        // pause that is running says it already.
        out.pause = std::max(std::chrono::seconds(0),
                             std::chrono::duration_cast<std::chrono::seconds>(l.pausedUntil - now));
      }
      break;
    case CredentialEvent::ProbeStarted:
      if (l.state == CredentialState::Paused) l.state = CredentialState::Probing;
      break;
    case CredentialEvent::Sent:
    case CredentialEvent::Delivered:
      // The probe was not refused, or a delivery was accepted: the
      // credentials work again.
      if (l.state == CredentialState::Probing ||
          (l.state == CredentialState::Paused && event == CredentialEvent::Sent)) {
        l.state = CredentialState::Open;
        l.pause = std::chrono::seconds(0);
        l.reason.clear();
        out.resumed = true;
      }
      break;
  }
  return out;
}

int DeliveryLanes::claimRoom(EffectKind kind, int queued, bool ahead, Clock::time_point now) const {
  const auto& l = lane(kind);
  switch (l.state) {
    case CredentialState::Open:
      break;
    case CredentialState::Paused:
      // Nothing while the pause runs, then the one probe.
      if (now < l.pausedUntil) return 0;
      return l.running == 0 && queued == 0 ? 1 : 0;
    case CredentialState::Probing:
      return 0;
  }
  int room = kUnlimited;
  if (l.limits.maxConcurrency > 0) {
    // A deduplicating provider's effects wait in hand for a slot of their
    // own, as many again as may run; the others only for a running slot.
    const int inHand = ahead ? 2 * l.limits.maxConcurrency : l.limits.maxConcurrency;
    room = std::min(room, inHand - l.running - queued);
  }
  if (l.limits.maxPerSecond > 0) {
    // Waiting for tokens: at most what the rate lets start within a second
    // (two when the provider deduplicates), so a throttled kind never fills
    // the hand that the others need.
    const double horizon = ahead ? 2.0 : 1.0;
    const int waiting = std::max(1, static_cast<int>(std::ceil(l.limits.maxPerSecond * horizon)));
    room = std::min(room, waiting - queued);
  }
  return std::max(0, room);
}

}  // namespace effectd::queue
