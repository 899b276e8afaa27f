// Resend and Postmark: email over their HTTPS APIs.
#include <nlohmann/json.hpp>

#include "base/hex.hpp"
#include "queue/channels/http_outcome.hpp"
#include "queue/channels/providers.hpp"
#include "queue/email_message.hpp"

namespace effectd::queue {
namespace {

using nlohmann::json;

// Resend keeps idempotency keys of up to 256 characters. A longer key is
// replaced by its hash, never cut: two keys that share their first 256
// characters would be one email to Resend.
constexpr std::size_t kResendKeyLimit = 256;

std::string resendIdempotencyKey(const std::string& key) {
  if (key.size() <= kResendKeyLimit) return key;
  return "sha256:" + sha256Hex(key);
}

std::string joined(const std::vector<std::string>& to) {
  std::string out;
  for (const auto& r : to) out += (out.empty() ? "" : ", ") + r;
  return out;
}

}  // namespace

ResendChannel::ResendChannel(std::shared_ptr<const HttpClient> client, Url base, std::string apiKey,
                             std::string defaultFrom)
    : client_(std::move(client)),
      base_(std::move(base)),
      apiKey_(std::move(apiKey)),
      defaultFrom_(std::move(defaultFrom)) {}

DeliveryResult ResendChannel::deliver(const ClaimedEffect& effect) {
  auto composed = composeEmail(effect.payload, defaultFrom_);
  if (!composed.ok()) return DeliveryResult::dead(composed.error);
  const auto& m = composed.message;
  json body{{"from", m.from}, {"to", m.to}, {"subject", m.subject}};
  if (!m.html.empty()) body["html"] = m.html;
  if (!m.text.empty()) body["text"] = m.text;
  if (!m.replyTo.empty()) body["reply_to"] = m.replyTo;
  body["headers"] = {{"Message-ID", messageIdFor(effect.key)}};
  const auto response =
      client_->send({.method = "POST",
                     .url = base_,
                     .target = "/emails",
                     .headers = {{"Authorization", "Bearer " + apiKey_},
                                 {"Content-Type", "application/json"},
                                 {"Idempotency-Key", resendIdempotencyKey(effect.key)}},
                     .body = body.dump(),
                     .replayable = idempotent()});
  auto result = classifyHttp(response, idempotent(), name());
  // Resend answers 403 for this message alone too ("validation_error": a
  // domain not verified, a test key sending to someone else): final for
  // it, not a reason to pause the others (they would be, forever, by it).
  if (result.outcome == DeliveryResult::Outcome::Refused) {
    const auto answer = json::parse(response.body, nullptr, false);
    if (answer.is_object() && answer.value("name", "") == "validation_error") {
      result = DeliveryResult::dead(std::move(result.error));
    }
  }
  if (result.outcome == DeliveryResult::Outcome::Sent) {
    const auto answer = json::parse(response.body, nullptr, false);
    if (answer.is_object()) result.providerMessageId = answer.value("id", "");
  }
  return result;
}

PostmarkChannel::PostmarkChannel(std::shared_ptr<const HttpClient> client, Url base,
                                 std::string token, std::string defaultFrom)
    : client_(std::move(client)),
      base_(std::move(base)),
      token_(std::move(token)),
      defaultFrom_(std::move(defaultFrom)) {}

DeliveryResult PostmarkChannel::deliver(const ClaimedEffect& effect) {
  auto composed = composeEmail(effect.payload, defaultFrom_);
  if (!composed.ok()) return DeliveryResult::dead(composed.error);
  const auto& m = composed.message;
  json body{
      {"From", m.from},
      {"To", joined(m.to)},
      {"Subject", m.subject},
      {"MessageStream", "outbound"},
      {"Headers", json::array({{{"Name", "Message-ID"}, {"Value", messageIdFor(effect.key)}}})}};
  if (!m.html.empty()) body["HtmlBody"] = m.html;
  if (!m.text.empty()) body["TextBody"] = m.text;
  if (!m.replyTo.empty()) body["ReplyTo"] = m.replyTo;
  const auto response = client_->send({.method = "POST",
                                       .url = base_,
                                       .target = "/email",
                                       .headers = {{"X-Postmark-Server-Token", token_},
                                                   {"Accept", "application/json"},
                                                   {"Content-Type", "application/json"}},
                                       .body = body.dump(),
                                       .replayable = idempotent()});
  auto result = classifyHttp(response, idempotent(), name());
  if (result.outcome == DeliveryResult::Outcome::Sent) {
    const auto answer = json::parse(response.body, nullptr, false);
    if (answer.is_object()) result.providerMessageId = answer.value("MessageID", "");
  }
  return result;
}

}  // namespace effectd::queue
