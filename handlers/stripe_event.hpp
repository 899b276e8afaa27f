// The envelope of a Stripe event: the fields effectd stores in their own
// columns. The body itself is stored as received.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace effectd::handlers {

struct EventEnvelope {
  std::string id;    // evt_...
  std::string type;  // e.g. customer.subscription.updated
  bool livemode = false;
  std::string apiVersion;  // empty when null
  std::string account;     // Connect account, empty when absent
  std::int64_t created = 0;
};

struct ParsedEnvelope {
  EventEnvelope event;
  std::string error;  // empty on success; otherwise why the body is not an event
  bool ok() const { return error.empty(); }
};

ParsedEnvelope parseEnvelope(std::string_view body);

}  // namespace effectd::handlers
