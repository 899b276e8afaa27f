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
  // The Stripe customer the event concerns (data.object.customer, or the
  // customer itself); empty when none. Intake runs a batch's handlers in this
  // order, so concurrent batches lock Subscription rows in one global order
  // and never deadlock (a deadlock costs PostgreSQL's deadlock_timeout, 1 s).
  std::string customer;
};

struct ParsedEnvelope {
  EventEnvelope event;
  std::string error;  // empty on success; otherwise why the body is not an event
  bool ok() const { return error.empty(); }
};

ParsedEnvelope parseEnvelope(std::string_view body);

}  // namespace effectd::handlers
