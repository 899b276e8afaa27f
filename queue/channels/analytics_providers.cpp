// PostHog and Segment: analytics events over their HTTP APIs.
#include <nlohmann/json.hpp>

#include "base/base64.hpp"
#include "queue/channels/http_outcome.hpp"
#include "queue/channels/providers.hpp"
#include "sql/ids.hpp"

namespace effectd::queue {
namespace {

using nlohmann::json;

struct AnalyticsEvent {
  std::string event, distinctId, timestamp;
  json properties = json::object();
  std::string error;
};

// PostHog deduplicates on uuid, event, distinct id and timestamp together; an
// event sent without a timestamp is stamped with each attempt's arrival, so a
// retry would count twice. The effect's own creation time is the fixed
// fallback, for Segment as well.
AnalyticsEvent readEvent(const ClaimedEffect& effect) {
  AnalyticsEvent e;
  const auto p = json::parse(effect.payload, nullptr, false);
  if (!p.is_object() || !p.contains("event") || !p["event"].is_string() ||
      !p.contains("distinctId") || !p["distinctId"].is_string()) {
    e.error = "analytics payload needs string 'event' and 'distinctId'";
    return e;
  }
  e.event = p["event"].get<std::string>();
  e.distinctId = p["distinctId"].get<std::string>();
  if (p.contains("timestamp") && p["timestamp"].is_string()) {
    e.timestamp = p["timestamp"].get<std::string>();
  }
  if (e.timestamp.empty()) e.timestamp = effect.createdAt;
  if (p.contains("properties") && p["properties"].is_object()) e.properties = p["properties"];
  return e;
}

}  // namespace

PostHogChannel::PostHogChannel(std::shared_ptr<const HttpClient> client, Url host,
                               std::string apiKey)
    : client_(std::move(client)), host_(std::move(host)), apiKey_(std::move(apiKey)) {}

DeliveryResult PostHogChannel::deliver(const ClaimedEffect& effect) {
  const auto e = readEvent(effect);
  if (!e.error.empty()) return DeliveryResult::dead(e.error);
  json item{{"event", e.event},
            {"distinct_id", e.distinctId},
            {"properties", e.properties},
            {"uuid", sql::uuidV5(effect.key)}};
  if (!e.timestamp.empty()) item["timestamp"] = e.timestamp;
  const json body{{"api_key", apiKey_}, {"batch", json::array({item})}};
  auto result = classifyHttp(client_->send({.method = "POST",
                                            .url = host_,
                                            .target = "/batch/",
                                            .headers = {{"Content-Type", "application/json"}},
                                            .body = body.dump(),
                                            .replayable = idempotent()}),
                             idempotent(), name());
  if (result.outcome == DeliveryResult::Outcome::Sent) result.providerMessageId = item["uuid"];
  return result;
}

SegmentChannel::SegmentChannel(std::shared_ptr<const HttpClient> client, Url base,
                               std::string writeKey)
    : client_(std::move(client)), base_(std::move(base)), writeKey_(std::move(writeKey)) {}

DeliveryResult SegmentChannel::deliver(const ClaimedEffect& effect) {
  const auto e = readEvent(effect);
  if (!e.error.empty()) return DeliveryResult::dead(e.error);
  json body{{"userId", e.distinctId},
            {"event", e.event},
            {"properties", e.properties},
            {"messageId", effect.key}};
  if (!e.timestamp.empty()) body["timestamp"] = e.timestamp;
  auto result = classifyHttp(
      client_->send({.method = "POST",
                     .url = base_,
                     .target = "/v1/track",
                     .headers = {{"Authorization", "Basic " + base64Encode(writeKey_ + ":")},
                                 {"Content-Type", "application/json"}},
                     .body = body.dump(),
                     .replayable = idempotent()}),
      idempotent(), name());
  if (result.outcome == DeliveryResult::Outcome::Sent) result.providerMessageId = effect.key;
  return result;
}

}  // namespace effectd::queue
