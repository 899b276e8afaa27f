// A cap on how many lines a second one kind of log line may take, for lines
// a client can cause at will (rejected requests): a flood of bad requests
// must not become a flood of log lines. Each status has a budget of its own,
// so garbage answered 400 does not crowd out Stripe's own 401s and 413s.
// What it holds back is counted and reported with the next line of that
// status it lets through; /metrics counts every request either way.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string_view>

namespace effectd::log {

class LogThrottle {
 public:
  explicit LogThrottle(int linesPerSecond) noexcept : linesPerSecond_(linesPerSecond) {}

  // nullopt: do not write the line. Otherwise write it; the value is how
  // many lines of this status were held back since the last one written.
  // `status` comes from effectd's own code (a bounded set), never a client.
  std::optional<std::uint64_t> admit(unsigned status, std::chrono::steady_clock::time_point now =
                                                          std::chrono::steady_clock::now());
  // admit(), and before a line it lets through after holding some back, a
  // warning `heldBackMessage` with the status and their count as "held_back".
  bool admitReporting(unsigned status, std::string_view heldBackMessage);

 private:
  struct Window {
    std::chrono::steady_clock::time_point start{};
    int written = 0;
    std::uint64_t heldBack = 0;
  };
  const int linesPerSecond_;
  std::mutex mutex_;
  std::map<unsigned, Window> windows_;
};

}  // namespace effectd::log
