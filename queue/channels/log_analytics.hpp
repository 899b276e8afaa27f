// ANALYTICS_PROVIDER=log, the default: each analytics event becomes one log
// line, for development and for deployments without an analytics provider.
#pragma once

#include "queue/effect.hpp"

namespace effectd::queue {

class LogAnalyticsChannel : public Channel {
 public:
  DeliveryResult deliver(const ClaimedEffect& effect) override;
  bool idempotent() const override { return true; }
  std::string_view name() const override { return "log"; }
};

}  // namespace effectd::queue
