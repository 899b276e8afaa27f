// customer.subscription.created|updated|deleted|paused|resumed|trial_will_end:
// mirror the subscription into its organization's row, guarded by the
// ordering rules, and enqueue the effects the event causes.
#include "base/log.hpp"
#include "handlers/billing_effects.hpp"
#include "handlers/handler.hpp"
#include "handlers/organizations.hpp"
#include "handlers/subscription_ordering.hpp"

namespace effectd::handlers {

HandlerResult handleSubscriptionEvent(HandlerContext& ctx, const SubscriptionObject& s) {
  // A row for metadata.organizationId proves the organization exists.
  std::string org = s.metadataOrganizationId;
  auto* row = org.empty() ? nullptr : ctx.state.row(org);
  if (!row) {
    org = resolveOrganization(ctx.state, s.metadataOrganizationId, s.customer);
    row = ctx.state.row(org);
  }
  // Nothing below fails.
  if (!row) row = &ctx.state.createRow(org, s.customer, s.livemode);
  const auto decision =
      decideOrdering(row->mirrored, {s.id, s.status, ctx.event.created, ctx.event.id});
  if (decision == OrderingDecision::Apply) {
    ctx.state.link(org, s.customer, s.livemode);
    row->mirrored = {s.id, s.status, ctx.event.created, ctx.event.id};
    row->applied = AppliedSubscription{s, ctx.event.created, ctx.event.id};
  } else {
    log::debug(
        "subscription row kept",
        {{"event_id", ctx.event.id}, {"organization_id", org}, {"reason", describe(decision)}});
  }
  enqueueSubscriptionEffects(ctx, s, org);
  return HandlerResult::Processed;
}

}  // namespace effectd::handlers
