// checkout.session.completed: links the organization (client_reference_id or
// metadata.organizationId) to the Stripe customer, and wakes the events that
// were waiting for that link.
#include "handlers/handler.hpp"

namespace effectd::handlers {

HandlerResult handleCheckoutSessionCompleted(HandlerContext& ctx,
                                             const CheckoutSessionObject& session) {
  if (session.mode != "subscription" || session.customer.empty()) return HandlerResult::Ignored;
  if (session.organizationId.empty()) {
    // Nothing will ever link it: retrying cannot help, but failing makes it
    // visible to an operator, who can replay it once the app is fixed.
    throw RetryLater("checkout session " + session.id +
                     " has no client_reference_id or metadata.organizationId");
  }
  if (!ctx.state.organizationExists(session.organizationId)) {
    throw RetryLater("organization " + session.organizationId + " does not exist");
  }
  // Creates the link, or moves it to this customer. A replay changes nothing.
  ctx.state.link(session.organizationId, session.customer, session.livemode);
  ctx.state.wake(session.customer);
  return HandlerResult::Processed;
}

}  // namespace effectd::handlers
