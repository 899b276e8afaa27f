// What every event handler gets and returns. Handlers run inside the
// transaction that stores (or retries) the event, in a savepoint of their own.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <stdexcept>
#include <string>

#include "handlers/stripe_event.hpp"

namespace pqxx {
class transaction_base;
}

namespace effectd::handlers {

struct HandlerContext {
  pqxx::transaction_base& tx;
  const EventEnvelope& event;
  const nlohmann::json& object;              // data.object
  const nlohmann::json& previousAttributes;  // data.previous_attributes, or null
};

// The event cannot be applied yet (its organization is not linked, say);
// it is stored as failed and retried with backoff.
class RetryLater : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class HandlerResult { Processed, Ignored };

HandlerResult handleSubscriptionEvent(HandlerContext& ctx);
HandlerResult handleCheckoutSessionCompleted(HandlerContext& ctx);
HandlerResult handleInvoiceEvent(HandlerContext& ctx);
HandlerResult handleCustomerDeleted(HandlerContext& ctx);

}  // namespace effectd::handlers
