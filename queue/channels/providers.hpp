// The HTTP providers: Resend and Postmark (email), PostHog and Segment
// (analytics), and outgoing webhooks. All share one HttpClient and one
// outcome policy (http_outcome); each says whether the provider deduplicates
// on the handle effectd passes (the effect's key, or a UUID derived from it).
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>

#include "queue/effect.hpp"
#include "queue/http_client.hpp"

namespace effectd::queue {

// POST {base}/emails with `Idempotency-Key: <key>`: Resend deduplicates.
class ResendChannel : public Channel {
 public:
  ResendChannel(std::shared_ptr<const HttpClient> client, Url base, std::string apiKey,
                std::string defaultFrom);
  DeliveryResult deliver(const ClaimedEffect& effect) override;
  bool idempotent() const override { return true; }
  std::string_view name() const override { return "resend"; }

 private:
  std::shared_ptr<const HttpClient> client_;
  Url base_;
  std::string apiKey_, defaultFrom_;
};

// POST {base}/email: Postmark has no idempotency handle, so an attempt whose
// outcome is unknown is never repeated automatically.
class PostmarkChannel : public Channel {
 public:
  PostmarkChannel(std::shared_ptr<const HttpClient> client, Url base, std::string token,
                  std::string defaultFrom);
  DeliveryResult deliver(const ClaimedEffect& effect) override;
  bool idempotent() const override { return false; }
  std::string_view name() const override { return "postmark"; }

 private:
  std::shared_ptr<const HttpClient> client_;
  Url base_;
  std::string token_, defaultFrom_;
};

// POST {host}/batch/ with `uuid` = UUIDv5(key) and the effect's fixed
// timestamp: PostHog deduplicates on the pair.
class PostHogChannel : public Channel {
 public:
  PostHogChannel(std::shared_ptr<const HttpClient> client, Url host, std::string apiKey);
  DeliveryResult deliver(const ClaimedEffect& effect) override;
  bool idempotent() const override { return true; }
  std::string_view name() const override { return "posthog"; }

 private:
  std::shared_ptr<const HttpClient> client_;
  Url host_;
  std::string apiKey_;
};

// POST {base}/v1/track with `messageId` = key: Segment deduplicates.
class SegmentChannel : public Channel {
 public:
  SegmentChannel(std::shared_ptr<const HttpClient> client, Url base, std::string writeKey);
  DeliveryResult deliver(const ClaimedEffect& effect) override;
  bool idempotent() const override { return true; }
  std::string_view name() const override { return "segment"; }

 private:
  std::shared_ptr<const HttpClient> client_;
  Url base_;
  std::string writeKey_;
};

// Where outgoing webhooks may go. A payload names the URL, so the operator
// lists the destinations: https to `https` (WEBHOOK_ALLOWED_HOSTS), plain
// http to `http` (WEBHOOK_ALLOW_HTTP_HOSTS), each a host and a port, and the
// addresses connected to must be public unless `addresses` allows them
// (WEBHOOK_ALLOW_PRIVATE_ADDRESSES).
struct WebhookTargets {
  std::set<Authority> https;
  std::set<Authority> http;
  AddressPolicy addresses;
};

// POST to the payload's URL, if its destination is allowed, signed the
// Standard Webhooks way; `webhook-id` = key lets receivers deduplicate.
class WebhookChannel : public Channel {
 public:
  WebhookChannel(std::shared_ptr<const HttpClient> client, WebhookTargets targets,
                 std::string signingSecret);
  DeliveryResult deliver(const ClaimedEffect& effect) override;
  bool idempotent() const override { return true; }
  std::string_view name() const override { return "webhook"; }
  // https://host:port of the payload's url: a slow receiver holds at most
  // WEBHOOK_MAX_CONCURRENCY_PER_ORIGIN delivery slots.
  std::string origin(const ClaimedEffect& effect) const override;

  // `v1,<base64 HMAC-SHA256(secret, "<id>.<timestamp>.<body>")>`
  static std::string sign(const std::string& secret, const std::string& id, std::int64_t timestamp,
                          const std::string& body);

 private:
  // Why the URL may not be requested at all, or nothing.
  std::optional<std::string> refusal(const Url& url) const;

  std::shared_ptr<const HttpClient> client_;
  WebhookTargets targets_;
  std::string signingSecret_;
};

}  // namespace effectd::queue
