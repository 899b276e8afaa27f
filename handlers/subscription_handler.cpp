// customer.subscription.created|updated|deleted|paused|resumed|trial_will_end:
// record the subscription's state in its organization's row, which shows the
// subscription the ordering rules rank first, and enqueue the effects the
// event causes.
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
  refuseTestModeOnLiveRow(row, ctx.event);
  // Nothing below fails.
  if (!row) row = &ctx.state.createRow(org, s.customer, s.livemode, ctx.event.created);
  if (ctx.event.livemode && !row->livemode) {
    // Going live: what test mode left in the row is not the organization's.
    row->subscriptions = {};
    row->livemode = true;
  }
  const auto* before = row->subscriptions.shown();
  const std::string shownBefore = before ? before->object.id : std::string();
  const auto decision = row->subscriptions.record({s, ctx.event.created, ctx.event.id});
  if (decision == OrderingDecision::Apply) {
    row->subscriptionsChanged = true;
    const auto& shown = *row->subscriptions.shown();
    if (shown.object.id != shownBefore) {
      // The row follows another subscription it now shows to that
      // subscription's customer (metadata.organizationId, the server's word).
      ctx.state.link(org, shown.object.customer, shown.object.livemode, ctx.event.created);
    }
  } else {
    log::debug(
        "subscription state kept",
        {{"event_id", ctx.event.id}, {"organization_id", org}, {"reason", describe(decision)}});
  }
  enqueueSubscriptionEffects(ctx, s, org);
  return HandlerResult::Processed;
}

}  // namespace effectd::handlers
