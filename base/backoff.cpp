#include "base/backoff.hpp"

#include <algorithm>
#include <cstdint>
#include <random>

namespace effectd {

std::chrono::seconds Backoff::after(int failures) const {
  const int doublings = std::clamp(failures - 1, 0, 20);
  return std::min(base * (std::int64_t{1} << doublings), max);
}

double Backoff::jittered(int failures) const {
  return jitter(after(failures));
}

double Backoff::jitter(std::chrono::seconds delay) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_real_distribution<double> factor(0.75, 1.25);
  return static_cast<double>(delay.count()) * factor(rng);
}

}  // namespace effectd
