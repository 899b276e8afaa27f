// customer.deleted: Stripe cancels the customer's subscriptions and sends
// customer.subscription.deleted for each, which is what changes the row.
// The organization keeps its row (its history) and its link, so that late
// events of the customer still resolve; nothing is sent for this event.
#include "base/log.hpp"
#include "handlers/handler.hpp"

namespace effectd::handlers {

HandlerResult handleCustomerDeleted(HandlerContext& ctx, const std::string& customer) {
  log::info("stripe customer deleted",
            {{"customer", customer},
             {"organization_id", ctx.state.organizationOf(customer).value_or("")}});
  return HandlerResult::Processed;
}

}  // namespace effectd::handlers
