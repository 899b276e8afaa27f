// An OutboundEffect as the drainer handles it, and what a delivery attempt
// can end in. The status names are the table's.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "queue/enqueue.hpp"

namespace effectd::queue {

struct ClaimedEffect {
  std::string id;
  std::string key;
  EffectKind kind = EffectKind::Email;
  std::string payload;  // JSON
  int attempts = 0;     // including this one
  int maxAttempts = 1;
  std::string organizationId;
  // When it was enqueued (ISO 8601, UTC, milliseconds): a fixed time for
  // analytics events whose payload has none, the same on every attempt.
  std::string createdAt;
  // Where the delivery goes when a kind has many destinations (a webhook's
  // scheme://host:port): deliveries at once are limited per origin. Empty:
  // the kind's provider is the only one.
  std::string origin;
};

struct DeliveryResult {
  enum class Outcome {
    Sent,     // the provider accepted it
    Retry,    // temporary: 408, 409, 425, 429, 5xx, or known not to have been sent
    Dead,     // permanent: other 4xx, a bad payload, a missing template
    Unknown,  // a non-idempotent provider may have it: never resent automatically
    // The provider refused our credentials (HTTP 401/403, SMTP 530/535):
    // nothing was delivered and the attempt does not count; the kind pauses.
    Refused,
  };
  Outcome outcome = Outcome::Sent;
  std::string error;                               // why, for lastError; never a secret
  std::string providerMessageId;                   // when sent
  std::optional<std::chrono::seconds> retryAfter;  // the provider's Retry-After

  static DeliveryResult sent(std::string messageId = {}) {
    return {Outcome::Sent, {}, std::move(messageId), std::nullopt};
  }
  static DeliveryResult retry(std::string error,
                              std::optional<std::chrono::seconds> after = std::nullopt) {
    return {Outcome::Retry, std::move(error), {}, after};
  }
  static DeliveryResult dead(std::string error) {
    return {Outcome::Dead, std::move(error), {}, std::nullopt};
  }
  static DeliveryResult unknown(std::string error) {
    return {Outcome::Unknown, std::move(error), {}, std::nullopt};
  }
  static DeliveryResult refused(std::string error) {
    return {Outcome::Refused, std::move(error), {}, std::nullopt};
  }
};

// One way of delivering one kind of effect (email by SMTP, analytics to
// PostHog, ...). Implementations are called from delivery threads, several
// at once, and may block on the network.
class Channel {
 public:
  virtual ~Channel() = default;
  virtual DeliveryResult deliver(const ClaimedEffect& effect) = 0;
  // Whether the provider deduplicates on our idempotency handle, so that an
  // effect whose outcome is unknown may safely be sent again.
  virtual bool idempotent() const = 0;
  virtual std::string_view name() const = 0;
  // The effect's origin (ClaimedEffect::origin), for a kind with many
  // destinations; empty for one provider.
  virtual std::string origin(const ClaimedEffect&) const { return {}; }
};

}  // namespace effectd::queue
