#include "base/log_throttle.hpp"

#include <utility>

#include "base/log.hpp"

namespace effectd::log {

std::optional<std::uint64_t> LogThrottle::admit(unsigned status,
                                                std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto& w = windows_[status];
  if (now - w.start >= std::chrono::seconds(1)) {
    w.start = now;
    w.written = 0;
  }
  if (w.written >= linesPerSecond_) {
    ++w.heldBack;
    return std::nullopt;
  }
  ++w.written;
  return std::exchange(w.heldBack, 0);
}

bool LogThrottle::admitReporting(unsigned status, std::string_view heldBackMessage) {
  const auto heldBack = admit(status);
  if (!heldBack) return false;
  if (*heldBack > 0) warn(heldBackMessage, {{"status", status}, {"held_back", *heldBack}});
  return true;
}

}  // namespace effectd::log
