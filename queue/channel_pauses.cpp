#include "queue/channel_pauses.hpp"

#include "base/metrics.hpp"

namespace effectd::queue {

void ChannelPauses::declare(EffectKind kind, std::string provider) {
  std::lock_guard lock(mutex_);
  declared_[static_cast<std::size_t>(kind)] = std::move(provider);
}

void ChannelPauses::pause(ChannelPause pause) {
  std::lock_guard lock(mutex_);
  const auto i = static_cast<std::size_t>(pause.kind);
  if (paused_[i]) pause.since = paused_[i]->since;  // one pause, probed again
  paused_[i] = std::move(pause);
}

void ChannelPauses::resume(EffectKind kind) {
  std::lock_guard lock(mutex_);
  paused_[static_cast<std::size_t>(kind)].reset();
}

std::vector<ChannelPause> ChannelPauses::paused() const {
  std::lock_guard lock(mutex_);
  std::vector<ChannelPause> out;
  for (const auto& p : paused_) {
    if (p) out.push_back(*p);
  }
  return out;
}

void ChannelPauses::renderMetrics(std::string& out) const {
  std::lock_guard lock(mutex_);
  metrics::appendHeader(out, "effectd_channel_paused",
                        "1 while the kind's provider refuses the credentials (HTTP 401/403, SMTP "
                        "530/535): its effects wait, their attempts untouched, and one delivery "
                        "probes after each pause.",
                        "gauge");
  for (std::size_t i = 0; i < declared_.size(); ++i) {
    if (!declared_[i]) continue;
    const auto kind = toString(static_cast<EffectKind>(i));
    metrics::appendSample(out, "effectd_channel_paused",
                          {{"kind", kind}, {"provider", *declared_[i]}}, paused_[i] ? 1 : 0);
  }
}

}  // namespace effectd::queue
