// Waits for a condition that the system under test makes true in its own time.
#pragma once

#include <chrono>
#include <thread>

namespace effectd::testing {

template <typename F>
bool eventually(F condition, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return condition();
}

}  // namespace effectd::testing
