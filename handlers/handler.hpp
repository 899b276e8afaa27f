// What every event handler gets and returns. Handlers are pure: they decide
// against the batch's BillingState, already read and locked, and write their
// changes into it and their effects into `effects`; event_batch reads and
// writes the database around them. A handler checks everything that can
// fail before it changes anything, so a failing event leaves no trace.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "handlers/billing_state.hpp"
#include "handlers/stripe_event.hpp"
#include "queue/enqueue.hpp"

namespace effectd::handlers {

struct HandlerContext {
  BillingState& state;
  const EventEnvelope& event;
  const nlohmann::json& previousAttributes;  // data.previous_attributes, or null
  std::vector<queue::NewEffect>& effects;    // what this event enqueues
  // An operator's replay may move a link away from a customer whose
  // subscription is live (events replay --relink).
  bool allowRelink = false;
};

// The event cannot be applied yet (its organization is not linked, say);
// it is stored as failed and retried with backoff.
class RetryLater : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Retrying cannot change the outcome, and applying it is an operator's
// decision (a checkout that would take an organization from a live
// subscription): stored as failed with no next attempt, so nothing but an
// operator's `events replay` runs it again.
class NeedsOperator : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class HandlerResult { Processed, Ignored };

HandlerResult handleSubscriptionEvent(HandlerContext& ctx, const SubscriptionObject& subscription);
HandlerResult handleCheckoutSessionCompleted(HandlerContext& ctx,
                                             const CheckoutSessionObject& session);
HandlerResult handleInvoiceEvent(HandlerContext& ctx, const InvoiceObject& invoice);
HandlerResult handleCustomerDeleted(HandlerContext& ctx, const std::string& customer);

}  // namespace effectd::handlers
