// The one backoff of effectd, for failed events and failed deliveries alike:
// after the n-th failure, min(max, base * 2^(n-1)), jittered by ±25% so that
// a burst of failures does not come back in lockstep.
#pragma once

#include <chrono>

namespace effectd {

struct Backoff {
  std::chrono::seconds base{10};   // after the first failure
  std::chrono::seconds max{3600};  // the cap
  std::chrono::seconds after(int failures) const;
  // after(failures) times a random factor in [0.75, 1.25), in seconds.
  double jittered(int failures) const;
  // `delay` times that factor: for a delay decided elsewhere.
  static double jitter(std::chrono::seconds delay);
};

}  // namespace effectd
