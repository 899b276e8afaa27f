// Which claimed effect may start now: each kind's provider limits (at most N
// deliveries at once, at most R a second), at most M deliveries at once to
// one origin (a webhook receiver), and a pause while the provider refuses our
// credentials. The drainer asks before a delivery thread takes an effect and
// before it claims more of a kind, so an effect held back by its limits
// never holds a delivery slot, and a throttled or paused kind never fills the
// claimer's hand: a backlog of emails throttled at 2/s leaves every other
// slot to analytics and webhooks.
//
// A kind's credentials, by its provider's answers:
//
//   open --refused (401/403, SMTP 530/535)--> paused (firstPause)
//   paused --the pause is over, one delivery starts--> probing
//   probing --that delivery is not refused--> open
//   probing --refused again--> paused (twice as long, up to maxPause)
//   paused --any delivery is sent--> open
//
// Not thread-safe: the drainer calls it under its own mutex. Time is passed
// in, so that tests need no clock.
#pragma once

#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <unordered_map>

#include "queue/effect.hpp"

namespace effectd::queue {

struct LaneLimits {
  int maxConcurrency = 0;   // 0: no limit
  double maxPerSecond = 0;  // 0: no limit; a burst of one second's worth
};

enum class CredentialState { Open, Paused, Probing };

class DeliveryLanes {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::size_t kKinds = 3;  // EffectKind's values

  struct Options {
    std::array<LaneLimits, kKinds> byKind{};  // by EffectKind
    int maxPerOrigin = 0;                     // 0: no limit
    std::chrono::seconds firstPause{30};
    std::chrono::seconds maxPause{600};
  };

  explicit DeliveryLanes(Options options, Clock::time_point now = Clock::now());

  // When `effect` may start: `now` or earlier means now; Clock::time_point::max()
  // means once a delivery of its kind or origin finishes.
  Clock::time_point startsAt(const ClaimedEffect& effect, Clock::time_point now) const;
  // Takes its slot and its token; the effect must be startable now.
  void start(const ClaimedEffect& effect, Clock::time_point now);

  // What a finished delivery changed.
  struct Finished {
    bool paused = false;            // this refusal paused the kind (it was open or probing)
    bool resumed = false;           // this outcome reopened it
    std::chrono::seconds pause{0};  // how long the kind is paused now, when it is
  };
  Finished finish(const ClaimedEffect& effect, const DeliveryResult& result, Clock::time_point now);

  // How many more effects of `kind` the claimer may take into hand, with
  // `queued` of them claimed and not started. `ahead`: its provider
  // deduplicates, so a little more is claimed ahead of the limits.
  int claimRoom(EffectKind kind, int queued, bool ahead, Clock::time_point now) const;

  CredentialState credentials(EffectKind kind) const { return lane(kind).state; }
  // Paused, the pause not over yet: effects of `kind` are given back.
  bool holdsBack(EffectKind kind, Clock::time_point now) const {
    return lane(kind).state == CredentialState::Paused && now < lane(kind).pausedUntil;
  }
  // Whether `kind` has limits of its own, so that a start makes claim room.
  bool limited(EffectKind kind) const {
    return lane(kind).limits.maxConcurrency > 0 || lane(kind).limits.maxPerSecond > 0;
  }
  // The refusal that paused `kind` (the provider's answer, for the log).
  const std::string& pauseReason(EffectKind kind) const { return lane(kind).reason; }

 private:
  struct Lane {
    LaneLimits limits;
    int running = 0;
    double tokens = 0;
    Clock::time_point refilled{};
    CredentialState state = CredentialState::Open;
    Clock::time_point pausedUntil{};
    std::chrono::seconds pause{0};
    std::string reason;
  };
  enum class CredentialEvent { Refused, Delivered, Sent, ProbeStarted };
  // The one transition function of a lane's credential state.
  Finished transition(Lane& lane, CredentialEvent event, Clock::time_point now,
                      const std::string& reason = {});

  Lane& lane(EffectKind kind) { return lanes_[static_cast<std::size_t>(kind)]; }
  const Lane& lane(EffectKind kind) const { return lanes_[static_cast<std::size_t>(kind)]; }
  double tokensAt(const Lane& lane, Clock::time_point now) const;

  Options options_;
  std::array<Lane, kKinds> lanes_;
  // Deliveries running per origin; an origin is erased at zero, so the map
  // never holds more than the delivery slots.
  std::unordered_map<std::string, int> byOrigin_;
};

}  // namespace effectd::queue
