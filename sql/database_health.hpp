// Whether the database answered lately. Written by whoever talks to it, read
// by /readyz without blocking.
#pragma once

#include <atomic>
#include <string_view>

namespace effectd::sql {

class DatabaseHealth {
 public:
  bool reachable() const { return reachable_.load(std::memory_order_relaxed); }
  void reportReachable() { reachable_.store(true, std::memory_order_relaxed); }
  void reportUnreachable() { reachable_.store(false, std::memory_order_relaxed); }

 private:
  std::atomic<bool> reachable_{false};
};

}  // namespace effectd::sql
