#include "queue/channels/log_analytics.hpp"

#include <nlohmann/json.hpp>

#include "base/log.hpp"

namespace effectd::queue {

DeliveryResult LogAnalyticsChannel::deliver(const ClaimedEffect& effect) {
  const auto p = nlohmann::json::parse(effect.payload, nullptr, false);
  if (!p.is_object() || !p.contains("event") || !p["event"].is_string() ||
      !p.contains("distinctId") || !p["distinctId"].is_string()) {
    return DeliveryResult::dead("analytics payload needs string 'event' and 'distinctId'");
  }
  log::info("analytics event", {{"event", p["event"].get<std::string>()},
                                {"distinct_id", p["distinctId"].get<std::string>()},
                                {"key", effect.key}});
  return DeliveryResult::sent();
}

}  // namespace effectd::queue
