// invoice.paid | invoice.payment_succeeded | invoice.payment_failed: the
// subscription's own events carry its state; invoices cause effects only.
#include "handlers/billing_effects.hpp"
#include "handlers/handler.hpp"
#include "handlers/organizations.hpp"

namespace effectd::handlers {

HandlerResult handleInvoiceEvent(HandlerContext& ctx, const InvoiceObject& invoice) {
  const auto org = resolveOrganization(ctx.state, invoice.metadataOrganizationId, invoice.customer);
  refuseTestModeOnLiveRow(ctx.state.row(org), ctx.event);
  enqueueInvoiceEffects(ctx, invoice, org);
  return HandlerResult::Processed;
}

}  // namespace effectd::handlers
