#include "base/log_throttle.hpp"

#include <utility>

#include "base/log.hpp"

namespace effectd::log {

std::optional<std::uint64_t> LogThrottle::admit(std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (now - windowStart_ >= std::chrono::seconds(1)) {
    windowStart_ = now;
    written_ = 0;
  }
  if (written_ >= linesPerSecond_) {
    ++heldBack_;
    return std::nullopt;
  }
  ++written_;
  return std::exchange(heldBack_, 0);
}

bool LogThrottle::admitReporting(std::string_view heldBackMessage) {
  const auto heldBack = admit();
  if (!heldBack) return false;
  if (*heldBack > 0) warn(heldBackMessage, {{"held_back", *heldBack}});
  return true;
}

}  // namespace effectd::log
