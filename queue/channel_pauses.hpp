// Which kinds' channels are paused because their provider refused our
// credentials, and why: written by the drainer, read by /readyz and
// /metrics. Thread-safe.
#pragma once

#include <array>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "queue/enqueue.hpp"

namespace effectd::queue {

struct ChannelPause {
  EffectKind kind = EffectKind::Email;
  std::string provider;
  std::chrono::system_clock::time_point since;
  std::chrono::system_clock::time_point retryAt;  // the next probe
};

class ChannelPauses {
 public:
  // A routed kind: its series reads 0 until it pauses.
  void declare(EffectKind kind, std::string provider);
  void pause(ChannelPause pause);
  void resume(EffectKind kind);
  std::vector<ChannelPause> paused() const;
  // effectd_channel_paused{kind,provider} 1 or 0, one series per routed kind.
  void renderMetrics(std::string& out) const;

 private:
  mutable std::mutex mutex_;
  std::array<std::optional<std::string>, 3> declared_;  // provider by kind
  std::array<std::optional<ChannelPause>, 3> paused_;
};

}  // namespace effectd::queue
