// checkout.session.completed: links the organization to the Stripe customer,
// and wakes the events that were waiting for that link.
//
// A checkout is a buyer's doing, and a buyer may choose client_reference_id
// (a Payment Link's ?client_reference_id=, the pricing table): a checkout
// never takes an organization away from another customer whose subscription
// is live, and an older checkout never moves a newer link.
#include "base/log.hpp"
#include "handlers/handler.hpp"
#include "handlers/organizations.hpp"

namespace effectd::handlers {
namespace {

// Why this checkout must not move the organization's link, if it must not.
std::string relinkRefusal(const SubscriptionRow& row, const CheckoutSessionObject& session,
                          const EventEnvelope& event) {
  const auto* shown = row.subscriptions.shown();
  if (!shown || isTerminal(shown->object.status) || shown->object.customer != row.customer) {
    return {};
  }
  return "refused to move organization " + row.organizationId + " from customer " + row.customer +
         " (subscription " + shown->object.id + " is " + shown->object.status + ") to customer " +
         session.customer + " of checkout session " + session.id +
         "; if the move is right, run: effectd events replay " + event.id + " --relink";
}

}  // namespace

HandlerResult handleCheckoutSessionCompleted(HandlerContext& ctx,
                                             const CheckoutSessionObject& session) {
  if (session.mode != "subscription" || session.customer.empty()) return HandlerResult::Ignored;
  if (session.organizationId.empty()) {
    // Nothing will ever link it: retrying cannot help, but failing makes it
    // visible to an operator, who can replay it once the app is fixed.
    throw RetryLater("checkout session " + session.id +
                     " has no client_reference_id or metadata.organizationId");
  }
  if (!session.clientReferenceId.empty() && !session.metadataOrganizationId.empty() &&
      session.clientReferenceId != session.metadataOrganizationId) {
    throw NeedsOperator("checkout session " + session.id + " names organization " +
                        session.metadataOrganizationId + " in metadata.organizationId but " +
                        session.clientReferenceId + " in client_reference_id");
  }
  if (!ctx.state.organizationExists(session.organizationId)) {
    throw RetryLater("organization " + session.organizationId + " does not exist");
  }
  refuseTestModeOnLiveRow(ctx.state.row(session.organizationId), ctx.event);
  if (const auto* row = ctx.state.row(session.organizationId);
      row && row->customer != session.customer && row->livemode == ctx.event.livemode) {
    if (row->linkedAt && ctx.event.created < *row->linkedAt) {
      log::info("checkout older than the organization's link; link kept",
                {{"event_id", ctx.event.id},
                 {"organization_id", row->organizationId},
                 {"customer", session.customer}});
      return HandlerResult::Processed;
    }
    // metadata.organizationId is the app server's word: it moves the link.
    // client_reference_id may be a buyer's: not away from a live subscription.
    if (auto refusal = relinkRefusal(*row, session, ctx.event);
        session.metadataOrganizationId.empty() && !refusal.empty() && !ctx.allowRelink) {
      throw NeedsOperator(std::move(refusal));
    }
  }
  // Creates the link, or moves it to this customer. A replay changes nothing.
  ctx.state.link(session.organizationId, session.customer, session.livemode, ctx.event.created);
  // What the row knew of the previous customer's subscriptions is not this
  // customer's: forgotten, so that none of them is shown again.
  auto* linked = ctx.state.row(session.organizationId);
  if (linked->subscriptions.keepOnlyCustomer(session.customer)) linked->subscriptionsChanged = true;
  ctx.state.wake(session.customer);
  return HandlerResult::Processed;
}

}  // namespace effectd::handlers
