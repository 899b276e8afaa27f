// A cap on how many lines a second one kind of log line may take, for lines
// a client can cause at will (rejected requests): a flood of bad requests
// must not become a flood of log lines. What it holds back is counted and
// reported with the next line it lets through.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string_view>

namespace effectd::log {

class LogThrottle {
 public:
  explicit LogThrottle(int linesPerSecond) : linesPerSecond_(linesPerSecond) {}

  // nullopt: do not write the line. Otherwise write it; the value is how
  // many lines were held back since the last one written.
  std::optional<std::uint64_t> admit(std::chrono::steady_clock::time_point now =
                                         std::chrono::steady_clock::now());
  // admit(), and before a line it lets through after holding some back, a
  // warning `heldBackMessage` with their count as "held_back".
  bool admitReporting(std::string_view heldBackMessage);

 private:
  const int linesPerSecond_;
  std::mutex mutex_;
  std::chrono::steady_clock::time_point windowStart_{};
  int written_ = 0;
  std::uint64_t heldBack_ = 0;
};

}  // namespace effectd::log
