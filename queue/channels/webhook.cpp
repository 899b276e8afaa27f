// Outgoing webhooks, signed the Standard Webhooks way, to allowed hosts only.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <nlohmann/json.hpp>

#include "base/base64.hpp"
#include "queue/channels/http_outcome.hpp"
#include "queue/channels/providers.hpp"

namespace effectd::queue {
namespace {

bool reservedHeader(std::string_view name) {
  for (std::string_view reserved :
       {"host", "content-length", "transfer-encoding", "connection", "content-type", "webhook-id",
        "webhook-timestamp", "webhook-signature"}) {
    if (name.size() == reserved.size() &&
        std::equal(name.begin(), name.end(), reserved.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == b;
        })) {
      return true;
    }
  }
  return false;
}

}  // namespace

WebhookChannel::WebhookChannel(std::shared_ptr<const HttpClient> client, WebhookTargets targets,
                               std::string signingSecret)
    : client_(std::move(client)),
      targets_(std::move(targets)),
      signingSecret_(std::move(signingSecret)) {}

std::optional<std::string> WebhookChannel::refusal(const Url& url) const {
  const auto destination = url.authority();
  if (url.tls && !targets_.https.contains(destination)) {
    return "webhook destination " + destination.toString() +
           " is not in WEBHOOK_ALLOWED_HOSTS (a host without a port allows 443 only)";
  }
  if (!url.tls && !targets_.http.contains(destination)) {
    return "webhook url is plain http: " + destination.toString() +
           " is not in WEBHOOK_ALLOW_HTTP_HOSTS (webhooks go over https otherwise)";
  }
  return std::nullopt;
}

std::string WebhookChannel::sign(const std::string& secret, const std::string& id,
                                 std::int64_t timestamp, const std::string& body) {
  // Standard Webhooks secrets are "whsec_" + base64 of the key bytes.
  std::string key = secret;
  if (key.rfind("whsec_", 0) == 0) key = base64Decode(key.substr(6)).value_or(key.substr(6));
  const auto message = id + "." + std::to_string(timestamp) + "." + body;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &len);
  return "v1," + base64Encode(std::string_view(reinterpret_cast<const char*>(digest), len));
}

std::string WebhookChannel::origin(const ClaimedEffect& effect) const {
  const auto p = nlohmann::json::parse(effect.payload, nullptr, false);
  if (!p.is_object() || !p.contains("url") || !p["url"].is_string()) return {};
  const auto url = Url::parse(p["url"].get<std::string>());
  if (!url) return {};
  return (url->tls ? "https://" : "http://") + url->authority().toString();
}

DeliveryResult WebhookChannel::deliver(const ClaimedEffect& effect) {
  const auto p = nlohmann::json::parse(effect.payload, nullptr, false);
  if (!p.is_object() || !p.contains("url") || !p["url"].is_string() || !p.contains("body")) {
    return DeliveryResult::dead("webhook payload needs string 'url' and 'body'");
  }
  const auto url = Url::parse(p["url"].get<std::string>());
  if (!url) return DeliveryResult::dead("webhook url is not a valid http(s) URL");
  if (const auto why = refusal(*url)) return DeliveryResult::dead(*why);
  const auto body = p["body"].is_string() ? p["body"].get<std::string>() : p["body"].dump();
  const auto timestamp = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  HttpRequest request{.method = "POST",
                      .url = *url,
                      .target = "",
                      .headers = {},
                      .body = body,
                      .replayable = idempotent(),
                      .addressPolicy = &targets_.addresses};
  if (const auto h = p.find("headers"); h != p.end() && h->is_object()) {
    for (const auto& [k, v] : h->items()) {
      if (!v.is_string()) continue;
      const auto value = v.get<std::string>();
      // No header splitting, and no overriding what effectd itself sets.
      const auto bad = [](const std::string& t) {
        return t.find_first_of(std::string("\r\n\0", 3)) != std::string::npos;
      };
      if (k.empty() || bad(k) || bad(value) || k.find(':') != std::string::npos) {
        return DeliveryResult::dead("webhook header " + nlohmann::json(k).dump() + " is not valid");
      }
      if (reservedHeader(k)) {
        return DeliveryResult::dead("webhook header " + k + " is set by effectd, not the payload");
      }
      request.headers.emplace_back(k, value);
    }
  }
  request.headers.emplace_back("Content-Type", "application/json");
  request.headers.emplace_back("webhook-id", effect.key);
  request.headers.emplace_back("webhook-timestamp", std::to_string(timestamp));
  if (!signingSecret_.empty()) {
    request.headers.emplace_back("webhook-signature",
                                 sign(signingSecret_, effect.key, timestamp, body));
  }
  const auto response = client_->send(request);
  // A URL leading to an internal address is the payload's or the
  // configuration's problem: a retry would only knock on the same door.
  if (response.addressRefused) {
    return DeliveryResult::dead("webhook " + url->host + ": " + response.error +
                                "; WEBHOOK_ALLOW_PRIVATE_ADDRESSES can allow it");
  }
  auto result = classifyHttp(response, idempotent(), name());
  // A receiver's 401 or 403 is about our signature or its own rules, for its
  // endpoint only: final for this effect, no reason to pause the others.
  if (result.outcome == DeliveryResult::Outcome::Refused) {
    result = DeliveryResult::dead(std::move(result.error));
  }
  return result;
}

}  // namespace effectd::queue
